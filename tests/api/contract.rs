//! Requests that the OpenAPI document calls valid are accepted (found by fuzzing the API
//! against its own document).

use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(adding_a_member_with_a_null_body_takes_the_defaults);

/// The document allows `null` as the optional body of adding a member: it means no body.
async fn adding_a_member_with_a_null_body_takes_the_defaults(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let group = app
        .post(
            &format!("/api/v1/tenancies/{}/contact-groups", t.id),
            &t.admin_token,
            json!({ "name": "Smith Relationship" }),
        )
        .await
        .expect(201);
    let g = group["id"].as_str().expect("id");
    let member = app
        .raw(
            Method::PUT,
            &format!(
                "/api/v1/tenancies/{}/contact-groups/{g}/members/{}",
                t.id, t.admin_id
            ),
            &t.admin_token,
            "application/json",
            b"null".to_vec(),
        )
        .await
        .expect(200);
    assert_eq!(member["user_id"], t.admin_id.as_str());
}

on_both_backends!(a_search_with_a_control_character_is_a_422_naming_q);

/// PostgreSQL refuses a NUL in any text: a search holding one was a 500 there. No name or
/// e-mail holds a control character, so such a search is refused on every backend.
async fn a_search_with_a_control_character_is_a_422_naming_q(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    for list in ["clients", "team-accounts", "staff", "client-teams"] {
        for q in ["%00", "a%01b"] {
            let body = app
                .get(
                    &format!("/api/v1/tenancies/{}/{list}?q={q}", t.id),
                    &t.admin_token,
                )
                .await
                .expect(422);
            assert_eq!(body["errors"][0]["field"], "q", "{list} {q}: {body}");
        }
        app.get(
            &format!("/api/v1/tenancies/{}/{list}?q=Smith", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    }
}
