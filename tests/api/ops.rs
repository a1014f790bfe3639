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

/// Every `$ref` in `doc` that does not resolve to a value inside `doc`.
fn dangling_refs(doc: &Value) -> Vec<String> {
    fn walk(doc: &Value, node: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => {
                            let resolves = target
                                .strip_prefix('#')
                                .is_some_and(|pointer| doc.pointer(pointer).is_some());
                            if !resolves {
                                out.push(target.clone());
                            }
                        }
                        _ => walk(doc, value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(doc, item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, doc, &mut out);
    out
}

#[test]
fn a_dangling_ref_is_found() {
    let doc = serde_json::json!({
        "components": {"schemas": {"A": {"type": "string"}}},
        "paths": {"/x": {"get": {"parameters": [
            {"schema": {"$ref": "#/components/schemas/A"}},
            {"schema": {"$ref": "#/components/schemas/Missing"}}
        ]}}}
    });
    assert_eq!(dangling_refs(&doc), ["#/components/schemas/Missing"]);
}

/// Client generators and API testers read the document: each reference must resolve and the
/// document must be valid OpenAPI 3.1 by the OpenAPI Initiative's own schema.
#[test]
fn the_openapi_document_is_valid_openapi_3_1() {
    let doc: Value =
        serde_json::from_str(&liaison::http::openapi_json()).expect("document is JSON");
    assert_eq!(dangling_refs(&doc), Vec::<String>::new(), "unresolved $ref");

    let schema: Value = serde_json::from_str(include_str!("../data/oas-3.1-schema.json"))
        .expect("OAS 3.1 schema is JSON");
    let validator = jsonschema::draft202012::new(&schema).expect("OAS 3.1 schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not valid OpenAPI 3.1:\n{}",
        errors.join("\n")
    );
    // The validator does refuse an invalid document, so a pass above means something.
    let mut broken = doc.clone();
    broken["paths"]["/api/v1/tenancies"]["get"]["responses"] = Value::String("none".into());
    assert!(!validator.is_valid(&broken));
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
