//! The admin console's directory: tenancies, staff, API tokens and the audit trail. Each page
//! reads and changes through the API's own functions with the session as the caller, so it
//! refuses exactly where the API does and shows the API's reasons beside the fields.

use fantoccini::Locator;
use liaison::clock::Clock;
use serde_json::{Value, json};

use crate::helpers::console::{Page, admin, operator, operator_browser, with_mail};
use crate::helpers::{TestApp, at, invite};
use crate::on_both_backends;

on_both_backends!(with super::with_mail();
    an_operator_creates_a_tenancy_and_its_administrator_with_the_apis_reasons_beside_the_fields,
    directory_pages_refuse_exactly_where_the_api_does,
    an_administrator_changes_staff_roles_as_the_api_allows_and_sees_its_reasons,
    deactivating_asks_first_and_is_refused_while_a_client_would_be_left_uncovered,
    a_session_left_unused_while_its_user_was_deactivated_does_not_come_back,
    a_token_is_shown_once_and_revoked_after_a_confirmation,
    the_audit_page_shows_sign_ins_and_changes_filtered_and_paged,
    a_post_without_the_sessions_csrf_token_changes_nothing_in_the_directory,
    clients_are_listed_by_status_and_sent_resent_and_revoked_after_a_confirmation,
    group_members_are_added_and_removed_with_the_apis_coverage_and_confidentiality_refusals,
    team_account_delegates_are_added_and_removed_as_the_api_allows,
);

on_both_backends!(an_operator_walks_the_directory_in_a_browser);

/// The text as the pages print it (escaped).
pub(crate) fn html(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// The reason the API gives for a field of its problem.
pub(crate) fn reason(problem: &Value, field: &str) -> String {
    problem["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_else(|| panic!("no reason for {field}: {problem:#}"))
        .to_string()
}

/// Asserts the page shows `reason` beside the field `field`.
#[track_caller]
pub(crate) fn beside(page: &Page, field: &str, reason: &str) {
    let help = format!("id=\"{field}-error\">{}</div>", html(reason));
    assert!(page.body.contains(&help), "{help} in {}", page.body);
}

/// How many tokens the installation's trail says were issued.
async fn issued(app: &TestApp) -> usize {
    let trail = app
        .get("/api/v1/audit?action=token.created", &app.operator)
        .await;
    trail.expect(200)["items"].as_array().unwrap().len()
}

/// An entry's action as the audit page shows it.
fn badge(action: &str) -> String {
    format!("<span class=\"slds-badge\">{action}</span>")
}

/// Where a redirect leads, without its query.
fn path_of(page: &Page) -> String {
    let location = page.location.clone().unwrap_or_default();
    location.split('?').next().unwrap_or_default().to_string()
}

async fn an_operator_creates_a_tenancy_and_its_administrator_with_the_apis_reasons_beside_the_fields(
    app: TestApp,
) {
    let visitor = operator(&app).await;
    let form = visitor.get("/console/tenancies/new").await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();

    // The API's own refusal of the same fields, word for word.
    let api = app
        .post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "name": "  ", "phone_region": "XX", "group_model": "client_teams" }),
        )
        .await
        .problem(422);
    let refused = visitor
        .post(
            "/console/tenancies",
            &[
                ("csrf", &csrf),
                ("name", "  "),
                ("group_model", "client_teams"),
                ("mobile_policy", "optional"),
                ("group_name_convention", "{last_name} Relationship"),
                ("phone_region", "XX"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    beside(&refused, "name", &reason(&api, "name"));
    beside(&refused, "phone_region", &reason(&api, "phone_region"));
    assert_eq!(
        app.get("/api/v1/tenancies", &app.operator)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "nothing was created"
    );

    let created = visitor
        .post(
            "/console/tenancies",
            &[
                ("csrf", &csrf),
                ("name", "Acme Wealth"),
                ("group_model", "contact_groups"),
                ("mobile_policy", "mandatory"),
                ("group_name_convention", "{last_name} Family"),
                ("phone_region", "IE"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let tenancy_page = path_of(&created);
    let id = tenancy_page.rsplit('/').next().unwrap().to_string();
    let tenancy = app
        .get(&format!("/api/v1/tenancies/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(tenancy["group_model"], "contact_groups");
    assert_eq!(tenancy["mobile_policy"], "mandatory");
    assert_eq!(tenancy["phone_region"], "IE");
    assert!(
        visitor
            .get(&tenancy_page)
            .await
            .body
            .contains("Acme Wealth")
    );

    // Its settings change through the same form; a refused one keeps what was typed.
    let saved = visitor
        .post(
            &tenancy_page,
            &[
                ("csrf", &csrf),
                ("name", "Acme Wealth Ltd"),
                ("mobile_policy", "optional"),
                ("group_name_convention", "{last_name} Family"),
                ("phone_region", "GB"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    assert!(
        visitor
            .get(&saved.location.unwrap())
            .await
            .body
            .contains("The settings were saved.")
    );
    let refused = visitor
        .post(
            &tenancy_page,
            &[
                ("csrf", &csrf),
                ("name", "Acme Wealth Ltd"),
                ("mobile_policy", "optional"),
                ("group_name_convention", "{last_name} Family"),
                ("phone_region", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("value=\"1\""));

    // Its first administrator, who then signs in by e-mail.
    let staff = format!("{tenancy_page}/staff");
    let bad = visitor
        .post(
            &staff,
            &[
                ("csrf", &csrf),
                ("first_name", "Ada"),
                ("last_name", "Admin"),
                ("email", "not an address"),
                ("role", "system_administrator"),
            ],
        )
        .await;
    let api = app
        .post(
            &format!("/api/v1/tenancies/{id}/staff"),
            &app.operator,
            json!({ "first_name": "Ada", "last_name": "Admin", "email": "not an address" }),
        )
        .await
        .problem(422);
    assert_eq!(bad.status, 422);
    beside(&bad, "email", &reason(&api, "email"));
    let added = visitor
        .post(
            &staff,
            &[
                ("csrf", &csrf),
                ("first_name", "Ada"),
                ("last_name", "Admin"),
                ("email", "ada@acme.example"),
                ("role", "system_administrator"),
                ("mobile", ""),
                ("title", ""),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let list = visitor.get(&staff).await;
    assert!(list.body.contains("ada@acme.example") && list.body.contains("System administrator"));
    let ada = admin(&app, "ada@acme.example").await;
    let home = ada.get("/console").await;
    assert!(home.body.contains("Welcome, Ada Admin"), "{}", home.body);
    // A second address is refused as the API refuses it, beside the field it names.
    let twice = visitor
        .post(
            &staff,
            &[
                ("csrf", &csrf),
                ("first_name", "Ada"),
                ("last_name", "Again"),
                ("email", "ada@acme.example"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(twice.status, 409, "{}", twice.body);
    assert!(twice.body.contains("slds-has-error") || twice.body.contains("form-problems"));
}

async fn directory_pages_refuse_exactly_where_the_api_does(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let (uma, uma_token) = app
        .staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let users = [
        (operator(&app).await, app.operator.clone()),
        (
            admin(&app, "admin@acme-wealth.example").await,
            acme.admin_token.clone(),
        ),
        (admin(&app, "uma.users@firm.example").await, uma_token),
        (
            admin(&app, "admin@bravo-trust.example").await,
            bravo.admin_token.clone(),
        ),
    ];
    let pairs = [
        (
            format!("/console/tenancies/{}", acme.id),
            format!("/api/v1/tenancies/{}", acme.id),
        ),
        (
            format!("/console/tenancies/{}/staff", acme.id),
            format!("/api/v1/tenancies/{}/staff", acme.id),
        ),
        (
            format!("/console/tenancies/{}/staff/{uma}", acme.id),
            format!("/api/v1/tenancies/{}/staff/{uma}", acme.id),
        ),
        (
            format!("/console/tenancies/{}/tokens", acme.id),
            format!("/api/v1/tenancies/{}/tokens", acme.id),
        ),
        (
            format!("/console/tenancies/{}/audit", acme.id),
            format!("/api/v1/tenancies/{}/audit", acme.id),
        ),
    ];
    let mut refused = Vec::new();
    for (index, (visitor, token)) in users.iter().enumerate() {
        for (page, api) in &pairs {
            let api = app.get(api, token).await.status.as_u16();
            let shown = visitor.get(page).await;
            assert_eq!(shown.status, api, "{index} {page}: {}", shown.body);
            if api != 200 {
                refused.push((index, page.clone(), api));
            }
        }
        // What the API lets only operators do, the console does too.
        let operator_only = app.get("/api/v1/audit", token).await.status.as_u16();
        let page = visitor.get("/console/audit").await;
        if operator_only == 200 {
            assert_eq!(page.status, 200);
        } else {
            assert_eq!(
                page.status, 303,
                "an administrator is sent to their tenancy's trail"
            );
        }
        let new_tenancy = visitor.get("/console/tenancies/new").await.status;
        assert_eq!(new_tenancy, if index == 0 { 200 } else { 403 });
        // The navigation offers the audit trail only to those who may read it.
        let home = visitor.get("/console").await.body;
        let own_trail = if index == 0 {
            "/api/v1/audit".to_string()
        } else {
            format!(
                "/api/v1/tenancies/{}/audit",
                if index == 3 { &bravo.id } else { &acme.id }
            )
        };
        let may_read = app.get(&own_trail, token).await.status == 200;
        assert_eq!(
            home.contains("href=\"/console/audit\""),
            may_read,
            "{index}"
        );
    }
    // Uma may not read the trail (403); Bravo's administrator finds nothing of Acme's (404).
    assert_eq!(refused.len(), 6, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|(who, _, status)| *who == 2 && *status == 403)
    );
    assert!(
        refused
            .iter()
            .filter(|(who, _, _)| *who == 3)
            .all(|(_, _, status)| *status == 404)
    );
}

async fn an_administrator_changes_staff_roles_as_the_api_allows_and_sees_its_reasons(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&acme, "Sam", "Staff", "staff").await;
    let (_, uma_token) = app
        .staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let uma = admin(&app, "uma.users@firm.example").await;
    let page = format!("/console/tenancies/{}/staff/{sam}", acme.id);
    let shown = uma.get(&page).await;
    assert_eq!(shown.status, 200);
    let csrf = shown.csrf();
    let fields = |role: &'static str, mobile: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("first_name", "Sam"),
            ("last_name", "Staff"),
            ("mobile", mobile),
            ("title", ""),
            ("role", role),
        ]
    };

    // A users administrator may not appoint a system administrator: the API's 403, its words.
    let api = app
        .patch(
            &at(&acme, &format!("/staff/{sam}")),
            &uma_token,
            json!({ "role": "system_administrator" }),
        )
        .await
        .problem(403);
    let form = fields("system_administrator", "");
    let refused = uma.post(&page, &form).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains(&html(api["detail"].as_str().unwrap())),
        "{}",
        refused.body
    );

    // A mobile the API refuses is shown beside the field, with what was typed.
    let api = app
        .patch(
            &at(&acme, &format!("/staff/{sam}")),
            &uma_token,
            json!({ "mobile": "07700" }),
        )
        .await
        .problem(422);
    let form = fields("staff", "07700");
    let refused = uma.post(&page, &form).await;
    assert_eq!(refused.status, 422);
    beside(&refused, "mobile", &reason(&api, "mobile"));
    assert!(refused.body.contains("value=\"07700\""));

    // Made a users administrator, as the API records it.
    let form = fields("users_administrator", "+447700900123");
    let saved = uma.post(&page, &form).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let sam_now = app
        .get(&at(&acme, &format!("/staff/{sam}")), &acme.admin_token)
        .await
        .expect(200);
    assert_eq!(sam_now["role"], "users_administrator");
    assert_eq!(sam_now["mobile"], "+447700900123");
    let trail = app
        .get(
            &at(
                &acme,
                &format!("/audit?target={sam}&action=staff.role_changed"),
            ),
            &acme.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(trail["items"].as_array().unwrap().len(), 1);

    // Editing a system administrator's details keeps their role, which a users administrator
    // could not give.
    let ada = format!("/console/tenancies/{}/staff/{}", acme.id, acme.admin_id);
    let kept = uma
        .post(
            &ada,
            &[
                ("csrf", &csrf),
                ("first_name", "Ada"),
                ("last_name", "Admin"),
                ("mobile", ""),
                ("title", "Partner"),
                ("role", "system_administrator"),
            ],
        )
        .await;
    assert_eq!(kept.status, 303, "{}", kept.body);
}

async fn deactivating_asks_first_and_is_refused_while_a_client_would_be_left_uncovered(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&acme, "Sam", "Staff", "staff").await;
    let team = app
        .group(&acme, "client-teams", "Sam's team", &[&sam])
        .await;
    invite(
        &app,
        &acme,
        &acme.admin_token,
        "Jane",
        "client_teams",
        &[&team],
        json!({}),
    )
    .await
    .expect(201);
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let page = format!("/console/tenancies/{}/staff/{sam}", acme.id);
    let confirm = visitor.get(&format!("{page}/deactivate")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("confirm-deactivate"));

    let api = app
        .patch(
            &at(&acme, &format!("/staff/{sam}")),
            &acme.admin_token,
            json!({ "active": false }),
        )
        .await
        .problem(409);
    let refused = visitor
        .post(&format!("{page}/deactivate"), &[("csrf", &confirm.csrf())])
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        refused
            .body
            .contains(&html(api["detail"].as_str().unwrap())),
        "{}",
        refused.body
    );

    // Another covering member, and the deactivation goes through; reactivating brings them back.
    let added = app
        .put(
            &at(
                &acme,
                &format!("/client-teams/{team}/members/{}", acme.admin_id),
            ),
            &acme.admin_token,
            None,
        )
        .await;
    assert!(added.status.is_success(), "{:#}", added.body);
    let done = visitor
        .post(&format!("{page}/deactivate"), &[("csrf", &confirm.csrf())])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let shown = visitor.get(&done.location.unwrap()).await;
    assert!(shown.body.contains("Deactivated") && shown.body.contains("reactivate"));
    let back = visitor
        .post(&format!("{page}/reactivate"), &[("csrf", &confirm.csrf())])
        .await;
    assert_eq!(back.status, 303);
    let sam_now = app
        .get(&at(&acme, &format!("/staff/{sam}")), &acme.admin_token)
        .await
        .expect(200);
    assert_eq!(sam_now["active"], true);
}

async fn a_session_left_unused_while_its_user_was_deactivated_does_not_come_back(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (uma, _) = app
        .staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let visitor = admin(&app, "uma.users@firm.example").await;
    assert_eq!(visitor.get("/console").await.status, 200);
    // Deactivated and reactivated without the session being used in between.
    let staff = at(&acme, &format!("/staff/{uma}"));
    app.patch(&staff, &acme.admin_token, json!({ "active": false }))
        .await
        .expect(200);
    app.patch(&staff, &acme.admin_token, json!({ "active": true }))
        .await
        .expect(200);
    assert!(visitor.get("/console").await.to_sign_in());
    // A session of someone else is untouched.
    let ada = admin(&app, "admin@acme-wealth.example").await;
    app.patch(&staff, &acme.admin_token, json!({ "active": false }))
        .await
        .expect(200);
    assert_eq!(ada.get("/console").await.status, 200);
}

async fn a_token_is_shown_once_and_revoked_after_a_confirmation(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (uma, _) = app
        .staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let visitor = admin(&app, "uma.users@firm.example").await;
    let own = visitor.get("/console/tokens").await;
    assert_eq!(
        own.location.as_deref(),
        Some(format!("/console/tenancies/{}/tokens", acme.id).as_str())
    );
    let tokens = format!("/console/tenancies/{}/tokens", acme.id);
    let list = visitor.get(&tokens).await;
    assert_eq!(list.status, 200);
    let csrf = list.csrf();

    // The API's reasons beside the fields.
    let blank = visitor
        .post(
            &tokens,
            &[
                ("csrf", &csrf),
                ("name", " "),
                ("staff_id", &uma),
                ("expires_in_days", ""),
            ],
        )
        .await;
    assert_eq!(blank.status, 422);
    let api = app
        .post(
            &at(&acme, "/tokens"),
            &acme.admin_token,
            json!({ "staff_id": uma, "name": " " }),
        )
        .await
        .problem(422);
    beside(&blank, "name", &reason(&api, "name"));
    // A users administrator may not issue a token acting as a system administrator.
    let above = visitor
        .post(
            &tokens,
            &[
                ("csrf", &csrf),
                ("name", "Ops"),
                ("staff_id", &acme.admin_id),
                ("expires_in_days", "30"),
            ],
        )
        .await;
    assert_eq!(above.status, 403);
    assert!(
        above
            .body
            .contains("only system administrators may issue tokens")
    );

    let created = visitor
        .post(
            &tokens,
            &[
                ("csrf", &csrf),
                ("name", "Nightly import"),
                ("staff_id", &uma),
                ("expires_in_days", "90"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let token = created
        .body
        .split("id=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(token.starts_with("lsn_"), "{token}");
    assert!(created.body.contains("data-copy=\"token\""));
    app.get(&format!("/api/v1/tenancies/{}/staff", acme.id), &token)
        .await
        .expect(200);
    // Listed by name, never again the token.
    let list = visitor.get(&tokens).await;
    assert!(list.body.contains("Nightly import") && !list.body.contains(&token));
    let info = app
        .get(&at(&acme, "/tokens"), &acme.admin_token)
        .await
        .expect(200);
    let id = info["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Nightly import")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let confirm = visitor.get(&format!("{tokens}/{id}/revoke")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("confirm-revoke"));
    let revoked = visitor
        .post(&format!("{tokens}/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(revoked.status, 303);
    app.get(&format!("/api/v1/tenancies/{}/staff", acme.id), &token)
        .await
        .expect(401);
    let trail = app
        .get(
            &at(&acme, &format!("/audit?target={id}")),
            &acme.admin_token,
        )
        .await
        .expect(200);
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token.created", "token.revoked"]);

    // The operator's own tokens: theirs alone to see.
    let operator = operator(&app).await;
    let page = operator.get("/console/tokens").await;
    assert_eq!(page.status, 200);
    let issued = operator
        .post(
            "/console/tokens",
            &[
                ("csrf", &page.csrf()),
                ("name", "Automation"),
                ("expires_in_days", "never"),
            ],
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert!(issued.body.contains("lsn_"));
    assert_eq!(
        visitor
            .get("/console/tokens/0191c1d2-0000-7000-8000-000000000000/revoke")
            .await
            .status,
        403
    );
}

async fn the_audit_page_shows_sign_ins_and_changes_filtered_and_paged(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&acme, "Sam", "Staff", "staff").await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    // The sign-in is in the tenancy's trail, by its administrator, in the API too.
    let signed_in = app
        .get(
            &at(&acme, "/audit?action=console.signed_in"),
            &acme.admin_token,
        )
        .await
        .expect(200);
    let entries = signed_in["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{signed_in:#}");
    assert_eq!(entries[0]["actor"]["id"], acme.admin_id.as_str());
    assert_eq!(entries[0]["target"]["kind"], "console_session");
    // The operator's, in the installation's trail.
    operator(&app).await;
    let installation = app
        .get("/api/v1/audit?action=console.signed_in", &app.operator)
        .await
        .expect(200);
    assert_eq!(installation["items"].as_array().unwrap().len(), 2);

    app.patch(
        &at(&acme, &format!("/staff/{sam}")),
        &acme.admin_token,
        json!({ "role": "users_administrator", "title": "Adviser" }),
    )
    .await
    .expect(200);
    let trail = format!("/console/tenancies/{}/audit", acme.id);
    let all = visitor.get(&trail).await;
    assert_eq!(all.status, 200);
    for action in ["console.signed_in", "staff.role_changed", "staff.updated"] {
        assert!(all.body.contains(&badge(action)), "{action}");
    }
    assert!(
        all.body
            .contains(&html("Ada Admin (admin@acme-wealth.example)"))
    );
    let filtered = visitor
        .get(&format!("{trail}?action=staff.role_changed&target={sam}"))
        .await;
    assert_eq!(filtered.status, 200);
    assert!(filtered.body.contains("users_administrator") && !filtered.body.contains("Adviser"));
    assert!(!filtered.body.contains(&badge("console.signed_in")));
    // Today's entries are there, tomorrow's are none.
    let today = app.clock.now().date();
    let from_today = visitor
        .get(&format!("{trail}?from={today}&until={today}"))
        .await;
    assert!(from_today.body.contains(&badge("staff.role_changed")));
    let tomorrow = today.next_day().unwrap();
    let none = visitor.get(&format!("{trail}?from={tomorrow}")).await;
    assert!(none.body.contains("No entries match"));
    // A filter the API cannot read is refused beside its field.
    let bad = visitor.get(&format!("{trail}?actor=nobody")).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("actor-error"));

    // Paged: fifty entries a page, the next page's link keeping the filter.
    for n in 0..50 {
        app.patch(
            &at(&acme, &format!("/staff/{sam}")),
            &acme.admin_token,
            json!({ "title": format!("Title {n}") }),
        )
        .await
        .expect(200);
    }
    let first = visitor.get(&format!("{trail}?action=staff.updated")).await;
    let next = first
        .body
        .split("id=\"next-page\"")
        .next()
        .and_then(|before| before.rsplit("href=\"").next())
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        next.contains("action=staff.updated") && next.contains("after="),
        "{next}"
    );
    let second = visitor.get(&next).await;
    assert_eq!(second.status, 200);
    assert!(second.body.contains("Title 49") && !second.body.contains("Title 0<"));
}

async fn a_post_without_the_sessions_csrf_token_changes_nothing_in_the_directory(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&acme, "Sam", "Staff", "staff").await;
    let visitor = operator(&app).await;
    let tokens_before = issued(&app).await;
    let t = format!("/console/tenancies/{}", acme.id);
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/console/tenancies".into(), vec![("name", "Forged")]),
        (t.clone(), vec![("name", "Forged"), ("phone_region", "GB")]),
        (
            format!("{t}/staff"),
            vec![
                ("first_name", "F"),
                ("last_name", "G"),
                ("email", "f@g.example"),
            ],
        ),
        (
            format!("{t}/staff/{sam}"),
            vec![
                ("first_name", "Forged"),
                ("last_name", "Staff"),
                ("role", "staff"),
            ],
        ),
        (format!("{t}/staff/{sam}/deactivate"), vec![]),
        (
            format!("{t}/tokens"),
            vec![("name", "Forged"), ("staff_id", sam.as_str())],
        ),
        ("/console/tokens".into(), vec![("name", "Forged")]),
    ];
    for (path, fields) in &posts {
        for csrf in [None, Some("forged")] {
            let mut form = fields.clone();
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let refused = visitor.post(path, &form).await;
            assert_eq!(refused.status, 403, "{path}");
            assert!(refused.body.contains("Nothing was changed"), "{path}");
        }
    }
    let sam_now = app
        .get(&at(&acme, &format!("/staff/{sam}")), &acme.admin_token)
        .await
        .expect(200);
    assert_eq!(
        (sam_now["first_name"].as_str(), sam_now["active"].as_bool()),
        (Some("Sam"), Some(true))
    );
    let tenancies = app
        .get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    assert_eq!(tenancies["items"].as_array().unwrap().len(), 1);
    let staff = app
        .get(&at(&acme, "/staff"), &acme.admin_token)
        .await
        .expect(200);
    assert_eq!(staff["items"].as_array().unwrap().len(), 2);
    assert_eq!(issued(&app).await, tokens_before);
}

async fn clients_are_listed_by_status_and_sent_resent_and_revoked_after_a_confirmation(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&acme, "client-teams", "Advisers", &[&acme.admin_id])
        .await;
    let jane = invite(
        &app,
        &acme,
        &acme.admin_token,
        "Jane",
        "client_teams",
        &[&team],
        json!({}),
    )
    .await
    .expect(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let own = visitor.get("/console/clients").await;
    let clients = format!("/console/tenancies/{}/clients", acme.id);
    assert_eq!(own.location.as_deref(), Some(clients.as_str()));
    assert!(
        visitor
            .get(&clients)
            .await
            .body
            .contains("jane@clients.example")
    );
    assert!(
        visitor
            .get(&format!("{clients}?q=JANE"))
            .await
            .body
            .contains("jane@clients.example")
    );
    assert!(
        !visitor
            .get(&format!("{clients}?status=invited"))
            .await
            .body
            .contains("jane@clients.example")
    );

    let page = format!("{clients}/{jane}");
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Pending (Draft)") && shown.body.contains("id=\"send\""));
    assert!(!shown.body.contains("id=\"resend\""));
    let csrf = shown.csrf();
    let client = at(&acme, &format!("/clients/{jane}"));
    for (action, status) in [("send", "invited"), ("resend", "invited")] {
        let done = visitor
            .post(&format!("{page}/{action}"), &[("csrf", &csrf)])
            .await;
        assert_eq!(done.status, 303, "{action}: {}", done.body);
        assert_eq!(
            app.get(&client, &acme.admin_token).await.expect(200)["status"],
            status
        );
    }
    let history = visitor.get(&page).await;
    assert!(history.body.contains("Pending (Invited)") && history.body.contains(&acme.admin_id));
    let confirm = visitor.get(&format!("{page}/revoke")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("confirm-revoke"));
    let revoked = visitor
        .post(&format!("{page}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(revoked.status, 303);
    assert_eq!(
        app.get(&client, &acme.admin_token).await.expect(200)["status"],
        "revoked"
    );
    // Again: the API's refusal, in its words, on the client's page.
    let api = app
        .post(&format!("{client}/revoke"), &acme.admin_token, json!({}))
        .await
        .problem(409);
    let again = visitor
        .post(&format!("{page}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(again.status, 409);
    assert!(
        again.body.contains(&html(api["detail"].as_str().unwrap())),
        "{}",
        again.body
    );
}

async fn group_members_are_added_and_removed_with_the_apis_coverage_and_confidentiality_refusals(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "contact_groups").await;
    let bravo = app.tenancy("Bravo Trust", "contact_groups").await;
    let smith = app
        .group(
            &acme,
            "contact-groups",
            "Smith Relationship",
            &[&acme.admin_id],
        )
        .await;
    let jones = app
        .group(
            &acme,
            "contact-groups",
            "Jones Relationship",
            &[&acme.admin_id],
        )
        .await;
    for (first, group) in [("Jane", &smith), ("Bob", &jones)] {
        invite(
            &app,
            &acme,
            &acme.admin_token,
            first,
            "contact_groups",
            &[group],
            json!({}),
        )
        .await
        .expect(201);
    }
    let clients = app
        .get(&at(&acme, "/clients?q=bob"), &acme.admin_token)
        .await
        .expect(200);
    let bob = clients["items"][0]["id"].as_str().unwrap().to_string();
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let groups = format!("/console/tenancies/{}/groups", acme.id);
    let list = visitor.get(&groups).await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Smith Relationship") && list.body.contains("Jones Relationship"));
    let page = format!("{groups}/{smith}");
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("jane@clients.example") && shown.body.contains("Ada Admin"));
    let csrf = shown.csrf();

    // Bob is of another relationship: the API's confidentiality refusal, beside the checkbox.
    let member = at(&acme, &format!("/contact-groups/{smith}/members/{bob}"));
    let api = app.put(&member, &acme.admin_token, None).await.problem(409);
    let refused = visitor
        .post(
            &format!("{page}/members"),
            &[("csrf", &csrf), ("user_id", &bob)],
        )
        .await;
    assert_eq!(refused.status, 409);
    beside(
        &refused,
        "confidentiality_override",
        &reason(&api, "confidentiality_override"),
    );
    let added = visitor
        .post(
            &format!("{page}/members"),
            &[
                ("csrf", &csrf),
                ("user_id", &bob),
                ("confidentiality_override", "yes"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let members = app
        .get(
            &at(&acme, &format!("/contact-groups/{smith}/members")),
            &acme.admin_token,
        )
        .await
        .expect(200);
    assert!(
        members["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["user_id"] == bob.as_str())
    );

    // Ada is Jane's only cover: the API's coverage refusal, and she stays.
    let ada = at(
        &acme,
        &format!("/contact-groups/{smith}/members/{}", acme.admin_id),
    );
    let api = app.delete(&ada, &acme.admin_token).await.problem(409);
    let remove = format!("{page}/members/{}/remove", acme.admin_id);
    let refused = visitor.post(&remove, &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, 409);
    assert!(
        refused
            .body
            .contains(&html(api["detail"].as_str().unwrap())),
        "{}",
        refused.body
    );
    // Bob leaves again.
    let removed = visitor
        .post(&format!("{page}/members/{bob}/remove"), &[("csrf", &csrf)])
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let trail = app
        .get(
            &at(&acme, &format!("/audit?target={smith}")),
            &acme.admin_token,
        )
        .await
        .expect(200);
    let actions: Vec<&str> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.ends_with(&["group.member_added", "group.member_removed"]),
        "{actions:?}"
    );

    // Another tenancy's administrator finds nothing, as in the API.
    let other = admin(&app, "admin@bravo-trust.example").await;
    let api = app
        .get(
            &at(&acme, &format!("/contact-groups/{smith}")),
            &bravo.admin_token,
        )
        .await;
    assert_eq!(other.get(&page).await.status, api.status.as_u16());
    assert_eq!(other.get(&groups).await.status, 404);
}

async fn team_account_delegates_are_added_and_removed_as_the_api_allows(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let support =
        crate::helpers::team_account(&app, &acme, "Support", "+447700900001", "+442070000001")
            .await;
    let (sam, _) = app.staff(&acme, "Sam", "Staff", "staff").await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let accounts = format!("/console/tenancies/{}/team-accounts", acme.id);
    assert!(
        visitor
            .get(&accounts)
            .await
            .body
            .contains("support@firm.example")
    );
    let page = format!("{accounts}/{support}");
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("No one acts as this team account yet."));
    let csrf = shown.csrf();
    let added = visitor
        .post(
            &format!("{page}/delegates"),
            &[("csrf", &csrf), ("staff_id", &sam)],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let delegates = at(&acme, &format!("/team-accounts/{support}/delegates"));
    let listed = app.get(&delegates, &acme.admin_token).await.expect(200);
    assert_eq!(listed["items"][0]["id"], sam.as_str());
    // A team account is no delegate: the API's reason, on the page.
    let api = app
        .put(
            &at(
                &acme,
                &format!("/team-accounts/{support}/delegates/{support}"),
            ),
            &acme.admin_token,
            None,
        )
        .await;
    let refused = visitor
        .post(
            &format!("{page}/delegates"),
            &[("csrf", &csrf), ("staff_id", &support)],
        )
        .await;
    assert_eq!(refused.status, api.status.as_u16(), "{}", refused.body);
    let removed = visitor
        .post(
            &format!("{page}/delegates/{sam}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(removed.status, 303);
    let listed = app.get(&delegates, &acme.admin_token).await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    // Another tenancy's administrator finds nothing, as in the API.
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let other = admin(&app, "admin@bravo-trust.example").await;
    assert_eq!(other.get(&page).await.status, 404);
    let api = app
        .get(
            &at(&acme, &format!("/team-accounts/{support}")),
            &bravo.admin_token,
        )
        .await;
    assert_eq!(api.status.as_u16(), 404);
}

async fn an_operator_walks_the_directory_in_a_browser(app: TestApp) {
    let browser = operator_browser(&app).await;
    browser
        .click("a[href='/console/tenancies'].slds-context-bar__label-action")
        .await;
    browser.heading("Tenancies").await;
    browser.click("#new-tenancy").await;
    browser.heading("New tenancy").await;
    browser.click("#create-tenancy").await;
    browser
        .wait_for(Locator::Css("#name-error"), "the name's error")
        .await;
    browser.snapshot("console-directory-tenancy-refused").await;
    browser
        .client
        .find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Acme Wealth")
        .await
        .unwrap();
    browser.click("#create-tenancy").await;
    browser.heading("Acme Wealth").await;
    browser.snapshot("console-directory-tenancy").await;
    browser.click("#tenancy-pages a").await;
    browser.heading("Staff of Acme Wealth").await;
    browser.click("#add-staff").await;
    browser.heading("Add a staff user").await;
    for (field, value) in [
        ("#first_name", "Ada"),
        ("#last_name", "Admin"),
        ("#email", "ada@acme.example"),
    ] {
        browser
            .client
            .find(Locator::Css(field))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    browser
        .client
        .find(Locator::Css("#role option[value='system_administrator']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("#create-staff").await;
    browser.heading("Ada Admin").await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("The staff user was added.")
    );
    browser.snapshot("console-directory-staff-user").await;
    browser.click("a.slds-button[href$='/staff']").await;
    browser
        .wait_for(Locator::Css("#staff"), "the staff list")
        .await;
    assert!(browser.text("#staff").await.contains("ada@acme.example"));
    browser.snapshot("console-directory-staff").await;

    browser
        .click("a[href='/console/tokens'].slds-context-bar__label-action")
        .await;
    browser.heading("Operator tokens").await;
    browser
        .client
        .find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Deploy pipeline")
        .await
        .unwrap();
    browser.click("#issue-token").await;
    browser.heading("Your new API token").await;
    assert!(browser.value("#token").await.starts_with("lsn_"));
    browser.snapshot("console-directory-token-created").await;

    browser
        .click("a[href='/console/audit'].slds-context-bar__label-action")
        .await;
    browser.heading("audit trail").await;
    let trail = browser.text("#audit").await;
    for shown in ["console.signed_in", "staff.created", "token.created"] {
        assert!(trail.contains(shown), "{shown}: {trail}");
    }
    browser.snapshot("console-directory-audit").await;
    browser.stop().await;
}
