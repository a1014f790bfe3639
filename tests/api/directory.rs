use serde_json::json;

use crate::helpers::{Reply, TestApp};
use crate::on_both_backends;

on_both_backends!(client_invited_by_hand_is_a_draft_in_its_team);

async fn client_invited_by_hand_is_a_draft_in_its_team(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com", "client_teams": [team] }),
        )
        .await
        .expect(201);
    assert_eq!(client["status"], "draft");
    assert_eq!(client["status_label"], "Pending (Draft)");
    assert_eq!(client["title"], "Client");

    let again = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "J", "last_name": "S", "email": "JANE@example.com", "client_teams": [team] }),
        )
        .await
        .problem(409);
    assert_eq!(Reply::fields(&again), ["email"]);
}
