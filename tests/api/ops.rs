use serde_json::Value;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(health_readiness_and_metrics_answer);

async fn health_readiness_and_metrics_answer(app: TestApp) {
    let health = app
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(health.expect(200), Value::String("ok".into()));
    let ready = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(ready.expect(200), Value::String("ready".into()));

    app.get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    let metrics = app
        .request(reqwest::Method::GET, "/metrics", None, None)
        .await
        .expect(200);
    let text = metrics.as_str().unwrap_or_default();
    assert!(
        text.contains(
            r#"liaison_http_requests_total{method="GET",route="/api/v1/tenancies",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("liaison_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[test]
fn committed_openapi_matches_the_routes() {
    let generated = liaison::http::openapi_json();
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))
        .unwrap_or_default();
    assert!(
        generated == committed,
        "openapi.json differs from the routes; regenerate it with `cargo run -- openapi > openapi.json`"
    );
}
