//! One client per e-mail in a tenancy, whatever its case; other tenancies are separate.

use serde_json::json;

use crate::helpers::{TestApp, at, conflict, count, id_of};
use crate::on_both_backends;

on_both_backends!(
    one_client_per_tenancy_per_email_whatever_the_case_but_other_tenancies_are_separate,
);

async fn one_client_per_tenancy_per_email_whatever_the_case_but_other_tenancies_are_separate(
    app: TestApp,
) {
    let a = app.tenancy("Alpha Wealth", "client_teams").await;
    let b = app.tenancy("Beta Partners", "contact_groups").await;
    let a_team = app
        .group(&a, "client-teams", "Private", &[&a.admin_id])
        .await;
    let b_group = app
        .group(&b, "contact-groups", "Smith", &[&b.admin_id])
        .await;
    let body = |email: &str, field: &str, group: &str| json!({ "first_name": "Jane", "last_name": "Smith", "email": email, (field): [group] });
    app.post(
        &at(&a, "/clients"),
        &a.admin_token,
        body("jane.smith@example.com", "client_teams", &a_team),
    )
    .await
    .expect(201);
    for email in [
        "jane.smith@example.com",
        "JANE.SMITH@EXAMPLE.COM",
        "  Jane.Smith@Example.com ",
    ] {
        let refused = app
            .post(
                &at(&a, "/clients"),
                &a.admin_token,
                body(email, "client_teams", &a_team),
            )
            .await;
        conflict(refused, "duplicate-email", &["email"]);
    }
    assert_eq!(count(&app, &at(&a, "/clients"), &a.admin_token).await, 1);
    // The e-mail space is shared with staff.
    let refused = app
        .post(
            &at(&a, "/staff"),
            &a.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "Jane.Smith@example.com" }),
        )
        .await;
    conflict(refused, "duplicate-email", &["email"]);

    let other = app
        .post(
            &at(&b, "/clients"),
            &b.admin_token,
            body("JANE.smith@example.com", "contact_groups", &b_group),
        )
        .await
        .expect(201);
    assert_eq!(other["email"], "JANE.smith@example.com");

    // Correcting a client's e-mail to one already used is refused too.
    let john = app
        .post(
            &at(&a, "/clients"),
            &a.admin_token,
            body("john@example.com", "client_teams", &a_team),
        )
        .await
        .expect(201);
    let refused = app
        .patch(
            &at(&a, &format!("/clients/{}", id_of(&john))),
            &a.admin_token,
            json!({ "email": "Jane.Smith@Example.com" }),
        )
        .await;
    conflict(refused, "duplicate-email", &["email"]);
    let john = app
        .get(
            &at(&a, &format!("/clients/{}", id_of(&john))),
            &a.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(john["email"], "john@example.com");
}
