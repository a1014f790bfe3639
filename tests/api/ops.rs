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

on_both_backends!(a_database_that_drops_its_connections_costs_a_retry_not_a_500);

/// Pooled connections are not pinged while in steady use, so one the server has ended is found
/// dead by the next query. That request is refused as unavailable, with a hint to retry; the
/// dead connection leaves the pool and the next requests are served.
async fn a_database_that_drops_its_connections_costs_a_retry_not_a_500(app: TestApp) {
    app.get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    if !app.cut_database_sessions().await {
        return;
    }
    let mut refused = 0;
    let mut served = 0;
    for _ in 0..10 {
        let reply = app
            .http
            .get(format!("{}/api/v1/tenancies", app.address))
            .bearer_auth(&app.operator)
            .send()
            .await
            .expect("request sent");
        match reply.status().as_u16() {
            200 => served += 1,
            503 => {
                assert_eq!(reply.headers()["retry-after"], "5");
                let body: Value = reply.json().await.expect("problem body");
                assert_eq!(body["code"], "unavailable");
                refused += 1;
            }
            other => panic!("a cut connection answered {other}"),
        }
    }
    assert!(refused <= 5, "each dead connection fails once at most");
    assert!(served >= 5);
    app.tenancy("After the cut", "client_teams").await;
}
