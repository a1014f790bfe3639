//! Who gets in and how often: API tokens that expire, and rate limits that key on the client
//! behind a trusted reverse proxy (and only a trusted one).

use liaison::config::ApiConfig;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp, TestBackend, TestOptions};
use crate::on_both_backends;

on_both_backends!(
    a_token_past_its_expiry_is_refused_exactly_like_an_unknown_one,
    new_tokens_take_the_configured_lifetime_unless_told_otherwise,
    a_token_lifetime_out_of_bounds_is_refused_by_field_and_issues_nothing,
);

/// The path of a page that is rate-limited: a made-up invitation link.
const PAGE: &str = "/invitations/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn a_token_past_its_expiry_is_refused_exactly_like_an_unknown_one(app: TestApp) {
    let t = app.tenancy("Expiry", "contact_groups").await;
    let created = app
        .post(
            &format!("/api/v1/tenancies/{}/tokens", t.id),
            &t.admin_token,
            json!({ "staff_id": t.admin_id, "name": "short-lived", "expires_in_days": 1 }),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().expect("token").to_string();
    let staff_path = format!("/api/v1/tenancies/{}/staff", t.id);
    app.get(&staff_path, &token).await.expect(200);

    app.clock.advance(time::Duration::hours(23));
    app.get(&staff_path, &token).await.expect(200);

    app.clock.advance(time::Duration::hours(1));
    let expired = app.get(&staff_path, &token).await;
    let unknown = app.get(&staff_path, "lsn_not-a-token-at-all").await;
    assert_eq!(expired.status, 401, "{:#}", expired.body);
    assert_eq!(
        expired.body, unknown.body,
        "an expired token tells nothing more"
    );

    // The token list shows when it expired.
    let list = app
        .get(
            &format!("/api/v1/tenancies/{}/tokens", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    let listed = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == created["id"])
        .expect("listed");
    assert_eq!(listed["expires_at"], created["expires_at"]);
    assert_eq!(listed["expires_at"], "2026-03-03T09:00:00Z");
}

async fn new_tokens_take_the_configured_lifetime_unless_told_otherwise(app: TestApp) {
    // TestApp runs with the default configuration: 90 days.
    let by_default = app
        .post(
            "/api/v1/operator/tokens",
            &app.operator,
            json!({ "name": "default" }),
        )
        .await
        .expect(201);
    assert_eq!(by_default["expires_at"], "2026-05-31T09:00:00Z");
    let forever = app
        .post(
            "/api/v1/operator/tokens",
            &app.operator,
            json!({ "name": "forever", "expires_in_days": null }),
        )
        .await
        .expect(201);
    assert_eq!(forever["expires_at"], Value::Null);
    // JSON Schema counts 2.0 as the integer 2, and so does the API.
    let whole = app
        .post(
            "/api/v1/operator/tokens",
            &app.operator,
            json!({ "name": "two days", "expires_in_days": 2.0 }),
        )
        .await
        .expect(201);
    assert_eq!(whole["expires_at"], "2026-03-04T09:00:00Z");

    app.clock.advance(time::Duration::days(90));
    let default_token = by_default["token"].as_str().expect("token");
    let forever_token = forever["token"].as_str().expect("token");
    app.get("/api/v1/tenancies", default_token)
        .await
        .problem(401);
    app.get("/api/v1/tenancies", forever_token)
        .await
        .expect(200);
}

async fn a_token_lifetime_out_of_bounds_is_refused_by_field_and_issues_nothing(app: TestApp) {
    let before = app
        .get("/api/v1/operator/tokens", &app.operator)
        .await
        .expect(200);
    for days in [json!(0), json!(3651), json!(-1), json!(1.5), json!("ten")] {
        let refused = app
            .post(
                "/api/v1/operator/tokens",
                &app.operator,
                json!({ "name": "bad", "expires_in_days": days }),
            )
            .await
            .problem(422);
        assert_eq!(Reply::fields(&refused), ["expires_in_days"], "{days}");
    }
    let after = app
        .get("/api/v1/operator/tokens", &app.operator)
        .await
        .expect(200);
    assert_eq!(before, after);
}

async fn statuses(app: &TestApp, forwarded_for: &str, count: usize) -> Vec<u16> {
    let mut seen = Vec::with_capacity(count);
    for _ in 0..count {
        let reply = app
            .http
            .get(format!("{}{PAGE}", app.address))
            .header("x-forwarded-for", forwarded_for)
            .send()
            .await
            .expect("sent");
        seen.push(reply.status().as_u16());
    }
    seen
}

/// Behind a trusted proxy each client has its own allowance.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_limited_on_its_own() {
    let app = TestApp::spawn_with(
        TestBackend::Sqlite,
        TestOptions {
            api: ApiConfig {
                trusted_proxies: vec!["127.0.0.0/8".into()],
                ..ApiConfig::default()
            },
            ..TestOptions::default()
        },
    )
    .await;
    let first = statuses(&app, "198.51.100.1", 61).await;
    assert!(first[..60].iter().all(|s| *s == 404), "{first:?}");
    assert_eq!(first[60], 429, "the 61st request of a minute is refused");
    let other = statuses(&app, "198.51.100.2", 1).await;
    assert_eq!(
        other,
        [404],
        "another client behind the proxy is not limited"
    );
    // A client that writes its own header in front of the proxy's entry gains nothing.
    let forged = statuses(&app, "203.0.113.99, 198.51.100.1", 1).await;
    assert_eq!(forged, [429]);
}

/// Without a trusted proxy the header is anyone's to write, so it is ignored.
#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::spawn(TestBackend::Sqlite).await;
    let mut seen = Vec::new();
    for n in 0..61 {
        seen.extend(statuses(&app, &format!("198.51.100.{n}"), 1).await);
    }
    assert!(seen[..60].iter().all(|s| *s == 404), "{seen:?}");
    assert_eq!(
        seen[60], 429,
        "a new header each time does not escape the limit"
    );
}
