//! API tokens: revoked ones are refused, and operator tokens are the operators' own.

use serde_json::{Value, json};

use crate::helpers::{TestApp, at, forbidden, id_of};
use crate::on_both_backends;

on_both_backends!(
    a_revoked_token_is_refused_with_401_and_other_tokens_keep_working,
    operator_tokens_are_managed_by_operators_only,
);

async fn a_revoked_token_is_refused_with_401_and_other_tokens_keep_working(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (s, s_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let created = app
        .post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": s, "name": "Salesforce integration" }),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().expect("token").to_string();
    let token_id = id_of(&created);
    assert_eq!(created["tenancy_id"], t.id.as_str());
    assert_eq!(created["name"], "Salesforce integration");
    assert_eq!(created["revoked_at"], Value::Null);
    app.get(&at(&t, "/clients"), &token).await.expect(200);

    app.clock.advance(time::Duration::hours(1));
    let revoked = app
        .delete(&at(&t, &format!("/tokens/{token_id}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(revoked["revoked_at"], "2026-03-02T10:00:00Z");
    let refused = app.get(&at(&t, "/clients"), &token).await.problem(401);
    assert_eq!(refused["code"], "unauthorized");
    app.get("/api/v1/tenancies", &token).await.problem(401);

    // Revoking twice is harmless and keeps the first time.
    app.clock.advance(time::Duration::hours(1));
    let again = app
        .delete(&at(&t, &format!("/tokens/{token_id}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(again["revoked_at"], "2026-03-02T10:00:00Z");
    let listed = app
        .get(&at(&t, "/tokens"), &t.admin_token)
        .await
        .expect(200);
    let entry = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == token_id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(entry["revoked_at"], "2026-03-02T10:00:00Z");
    assert!(entry.get("token").is_none(), "the secret is never listed");
    assert!(!listed.to_string().contains(&token));

    // The same staff user's other token, and the admin's, still work.
    app.get(&at(&t, "/clients"), &s_token).await.expect(200);
    app.get(&at(&t, "/clients"), &t.admin_token)
        .await
        .expect(200);
    app.delete(
        &at(&t, &format!("/tokens/{}", uuid::Uuid::new_v4())),
        &t.admin_token,
    )
    .await
    .problem(404);
}

async fn operator_tokens_are_managed_by_operators_only(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let created = app
        .post(
            "/api/v1/operator/tokens",
            &app.operator,
            json!({ "name": "Second operator" }),
        )
        .await
        .expect(201);
    let second = created["token"].as_str().unwrap().to_string();
    assert_eq!(created["tenancy_id"], Value::Null);
    assert_eq!(created["staff_id"], Value::Null);
    app.get(&at(&t, "/staff"), &second).await.expect(200);

    let listed = app
        .get("/api/v1/operator/tokens", &app.operator)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    // Tenancy tokens are not operator tokens, and the other way round.
    let tenancy_tokens = app.get(&at(&t, "/tokens"), &app.operator).await.expect(200);
    let tenancy_token = tenancy_tokens["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(
        &format!("/api/v1/operator/tokens/{tenancy_token}"),
        &app.operator,
    )
    .await
    .problem(404);
    app.delete(
        &at(&t, &format!("/tokens/{}", id_of(&created))),
        &app.operator,
    )
    .await
    .problem(404);
    app.get(&at(&t, ""), &t.admin_token).await.expect(200);

    forbidden(
        app.delete(
            &format!("/api/v1/operator/tokens/{}", id_of(&created)),
            &t.admin_token,
        )
        .await,
    );
    app.delete(
        &format!("/api/v1/operator/tokens/{}", id_of(&created)),
        &app.operator,
    )
    .await
    .expect(200);
    app.get(&at(&t, "/staff"), &second).await.problem(401);
    app.get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
}
