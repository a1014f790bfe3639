//! Confidentiality through HTTP: a contact group holds one relationship, unless an override says
//! otherwise; client teams hold many clients.

use serde_json::json;

use crate::helpers::{TestApp, at, conflict, count, invite, invited, member_ids, set};
use crate::on_both_backends;

on_both_backends!(
    a_contact_group_holding_a_client_takes_another_only_with_a_confidentiality_override,
    client_teams_hold_many_clients_without_an_override,
);

async fn a_contact_group_holding_a_client_takes_another_only_with_a_confidentiality_override(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    let (s2, _) = app.staff(&t, "Sue", "Staff", "staff").await;
    let smith = app
        .group(&t, "contact-groups", "Smith Relationship", &[&s])
        .await;
    let jones = app
        .group(&t, "contact-groups", "Jones Relationship", &[&s])
        .await;
    let jane = invited(&app, &t, "Jane", "contact_groups", &[&smith], json!({})).await;

    let refused = invite(
        &app,
        &t,
        &t.admin_token,
        "John",
        "contact_groups",
        &[&smith],
        json!({}),
    )
    .await;
    let body = conflict(
        refused,
        "confidentiality-override-required",
        &["confidentiality_override"],
    );
    assert_eq!(
        body["type"],
        "urn:liaison:problem:confidentiality-override-required"
    );
    // Also when the mixed group is only one of those chosen.
    let refused = invite(
        &app,
        &t,
        &t.admin_token,
        "John",
        "contact_groups",
        &[&jones, &smith],
        json!({ "confidentiality_override": false }),
    )
    .await;
    conflict(
        refused,
        "confidentiality-override-required",
        &["confidentiality_override"],
    );
    assert_eq!(count(&app, &at(&t, "/clients"), &t.admin_token).await, 1);

    let john = invited(
        &app,
        &t,
        "John",
        "contact_groups",
        &[&smith],
        json!({ "confidentiality_override": true }),
    )
    .await;
    assert_eq!(
        member_ids(&app, &t, "contact-groups", &smith).await,
        set(&[&s, &jane, &john])
    );

    // Adding an existing client to the group follows the same rule.
    let ann = invited(&app, &t, "Ann", "contact_groups", &[&jones], json!({})).await;
    for body in [
        None,
        Some(json!({})),
        Some(json!({ "confidentiality_override": false })),
    ] {
        let refused = app
            .put(
                &at(&t, &format!("/contact-groups/{smith}/members/{ann}")),
                &t.admin_token,
                body,
            )
            .await;
        conflict(
            refused,
            "confidentiality-override-required",
            &["confidentiality_override"],
        );
    }
    assert_eq!(
        member_ids(&app, &t, "contact-groups", &smith).await,
        set(&[&s, &jane, &john])
    );
    let added = app
        .put(
            &at(&t, &format!("/contact-groups/{smith}/members/{ann}")),
            &t.admin_token,
            Some(json!({ "confidentiality_override": true })),
        )
        .await
        .expect(200);
    assert_eq!(added["user_id"], ann.as_str());
    assert_eq!(added["kind"], "client");
    assert_eq!(added["status"], "draft");
    // Staff need no override; adding twice is harmless.
    for _ in 0..2 {
        let staff = app
            .put(
                &at(&t, &format!("/contact-groups/{smith}/members/{s2}")),
                &t.admin_token,
                None,
            )
            .await
            .expect(200);
        assert_eq!(staff["kind"], "staff");
    }
    let group = app
        .get(&at(&t, &format!("/contact-groups/{smith}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(group["clients"], 3);
    assert_eq!(group["active_staff"], 2);
}

async fn client_teams_hold_many_clients_without_an_override(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    let other = app.group(&t, "client-teams", "Other", &[&t.admin_id]).await;
    for first in ["Ann", "Bob", "Cat"] {
        invited(&app, &t, first, "client_teams", &[&team], json!({})).await;
    }
    let dan = invited(&app, &t, "Dan", "client_teams", &[&other], json!({})).await;
    app.put(
        &at(&t, &format!("/client-teams/{team}/members/{dan}")),
        &t.admin_token,
        None,
    )
    .await
    .expect(200);
    let group = app
        .get(&at(&t, &format!("/client-teams/{team}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(group["clients"], 4);
}
