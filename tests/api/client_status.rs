//! The client state machine through HTTP: what a transition does and which are illegal.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, at, conflict, count, id_of, invited, keys, set};
use crate::on_both_backends;

on_both_backends!(revoking_a_draft_makes_it_revoked_and_revoking_again_is_an_illegal_transition,);

async fn revoking_a_draft_makes_it_revoked_and_revoking_again_is_an_illegal_transition(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    let jane = invited(&app, &t, "Jane", "client_teams", &[&team], json!({})).await;
    let revoke = at(&t, &format!("/clients/{jane}/revoke"));

    app.clock.advance(time::Duration::minutes(5));
    let revoked = app
        .request(Method::POST, &revoke, Some(&t.admin_token), None)
        .await
        .expect(200);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["status_label"], "Revoked");

    let again = app
        .request(Method::POST, &revoke, Some(&t.admin_token), None)
        .await;
    let body = conflict(again, "illegal-transition", &["status"]);
    assert!(body["detail"].as_str().unwrap().contains("revoked"));

    let events = app
        .get(&at(&t, &format!("/clients/{jane}/events")), &t.admin_token)
        .await
        .expect(200);
    let items = events["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{events:#}");
    let actor = format!("staff:{}", t.admin_id);
    assert_eq!(items[0]["from_status"], Value::Null);
    assert_eq!(items[0]["to_status"], "draft");
    assert_eq!(items[0]["actor"], actor);
    assert_eq!(items[0]["at"], "2026-03-02T09:00:00Z");
    assert_eq!(items[1]["from_status"], "draft");
    assert_eq!(items[1]["to_status"], "revoked");
    assert_eq!(items[1]["actor"], actor);
    assert_eq!(items[1]["at"], "2026-03-02T09:05:00Z");

    let by_status = app
        .get(&at(&t, "/clients?status=revoked"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&by_status, "id"), set(&[&jane]));
    assert_eq!(
        count(&app, &at(&t, "/clients?status=draft"), &t.admin_token).await,
        0
    );

    // An operator's changes are recorded as the operator's.
    let john = app
        .post(
            &at(&t, "/clients"),
            &app.operator,
            json!({ "first_name": "John", "last_name": "Doe", "email": "john@example.com", "client_teams": [team] }),
        )
        .await
        .expect(201);
    let events = app
        .get(
            &at(&t, &format!("/clients/{}/events", id_of(&john))),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert!(
        events["items"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("operator:"),
        "{events:#}"
    );
}
