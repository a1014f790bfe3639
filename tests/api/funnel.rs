//! A tenancy's invitation funnel: counted from its clients' status moves over a period, as JSON
//! and as CSV, for its system administrators and operators only.

use serde_json::json;

use crate::helpers::console::operator;
use crate::helpers::{TestApp, at};
use crate::on_both_backends;

on_both_backends!(
    the_funnel_counts_a_periods_moves_and_downloads_as_csv,
    the_funnel_refuses_a_bad_period_and_whom_the_audit_trail_refuses,
    the_consoles_funnel_page_shows_the_apis_numbers_and_its_csv,
);

async fn the_funnel_counts_a_periods_moves_and_downloads_as_csv(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    let mut clients = Vec::new();
    for name in ["jane", "john", "joan"] {
        let client = app
            .post(
                &at(&t, "/clients"),
                &t.admin_token,
                json!({ "first_name": name, "last_name": "Smith", "email": format!("{name}@example.com"),
                        "client_teams": [team] }),
            )
            .await
            .expect(201);
        clients.push(client["id"].as_str().unwrap().to_string());
    }
    for client in &clients[..2] {
        app.post(
            &at(&t, &format!("/clients/{client}/send")),
            &t.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    }
    app.post(
        &at(&t, &format!("/clients/{}/revoke", clients[1])),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);

    let funnel = app
        .get(&at(&t, "/funnel"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(funnel["statuses"]["drafts"], 3, "{funnel:#}");
    assert_eq!(funnel["statuses"]["invited"], 2);
    assert_eq!(funnel["statuses"]["revoked"], 1);
    assert_eq!(funnel["statuses"]["accepted"], 0);
    assert_eq!(funnel["first_invited"], 2);
    assert_eq!(funnel["acceptance_rate"], 0.0);
    assert!(funnel["median_seconds_to_accept"].is_null());
    let today = app.store.clock().now().date();
    assert_eq!(funnel["to"], today.to_string());

    // A period that ended before anything happened counts nothing.
    let before = app
        .get(
            &at(&t, "/funnel?from=2020-01-01&to=2020-01-31"),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(before["statuses"]["drafts"], 0);
    assert!(before["acceptance_rate"].is_null());

    let csv = app
        .http
        .get(format!("{}{}", app.address, at(&t, "/funnel?format=csv")))
        .bearer_auth(&t.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let kind = csv.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/csv"), "{kind}");
    let body = csv.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert!(
        lines.contains(&"drafts,3") && lines.contains(&"revoked,1"),
        "{lines:?}"
    );
    assert!(lines.contains(&"first_invited,2"));
}

async fn the_funnel_refuses_a_bad_period_and_whom_the_audit_trail_refuses(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let other = app.tenancy("Bravo", "contact_groups").await;
    let bad = app
        .get(
            &at(&t, "/funnel?from=yesterday&to=2026-02-30"),
            &t.admin_token,
        )
        .await
        .problem(400);
    let fields: Vec<_> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["from", "to"]);
    // A period whose first day is after its last holds no day: it counts nothing.
    let backwards = app
        .get(
            &at(&t, "/funnel?from=2026-02-01&to=2026-01-01"),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(backwards["statuses"]["drafts"], 0);
    app.get(&at(&t, "/funnel?format=xml"), &t.admin_token)
        .await
        .problem(400);
    // Another tenancy's administrator finds nothing; a users administrator is refused.
    app.get(&at(&t, "/funnel"), &other.admin_token)
        .await
        .problem(404);
    let (_, users_admin) = app.staff(&t, "Uma", "Users", "users_administrator").await;
    app.get(&at(&t, "/funnel"), &users_admin).await.problem(403);
    // An operator reads any tenancy's, and an unknown tenancy is not found.
    app.get(&at(&other, "/funnel"), &app.operator)
        .await
        .expect(200);
    app.get(
        "/api/v1/tenancies/00000000-0000-0000-0000-000000000000/funnel",
        &app.operator,
    )
    .await
    .problem(404);
}

async fn the_consoles_funnel_page_shows_the_apis_numbers_and_its_csv(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    app.post(
        &at(&t, "/clients"),
        &t.admin_token,
        json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                "client_teams": [team] }),
    )
    .await
    .expect(201);
    let visitor = operator(&app).await;
    let tenancy = visitor.get(&format!("/console/tenancies/{}", t.id)).await;
    assert!(tenancy.body.contains("id=\"funnel-link\""));
    let page = visitor
        .get(&format!("/console/tenancies/{}/funnel", t.id))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("<tr><th scope=\"row\">Drafts created</th><td class=\"slds-text-align_right\">1</td></tr>"),
        "{}",
        page.body
    );
    let csv = visitor
        .get(&format!("/console/tenancies/{}/funnel.csv?from=&to=", t.id))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.lines().any(|l| l == "drafts,1"), "{}", csv.body);
    let refused = visitor
        .get(&format!("/console/tenancies/{}/funnel?from=soon", t.id))
        .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("id=\"from-error\">must be a day in the form YYYY-MM-DD<")
    );
}
