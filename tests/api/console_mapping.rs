//! The field-mapping editor in the admin console: the org's fields offered by label and API
//! name, a save checked against them with each problem beside its field, a dry run on a record
//! found by name or pasted, undoing the last change from the audit trail, and the same
//! refusals as the API's; and the editor walked in headless Chromium.

use fantoccini::Locator;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::TestApp;
use crate::helpers::canvas::{RECORD, record_answers};
use crate::helpers::console::{Page, Visitor, admin, operator, operator_browser, with_mail};
use crate::helpers::salesforce::fixture;
use crate::mapping::{calls, connected, describes};
use crate::on_both_backends;

on_both_backends!(
    the_editor_offers_the_orgs_fields_saves_a_fitting_mapping_and_undoes_it,
    a_save_that_does_not_fit_the_org_shows_each_problem_beside_its_field,
    a_dry_run_finds_a_record_by_name_and_shows_what_it_would_do,
    an_editor_post_without_the_sessions_csrf_token_changes_nothing,
    the_mapping_is_walked_in_a_browser_with_a_dry_run_and_saved,
);

on_both_backends!(with super::with_mail(); the_editor_refuses_whom_the_api_refuses);

/// The editor's form for the default mapping, with `changes` made and `action` pressed.
pub(crate) fn posted(csrf: &str, action: &str, changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form: Vec<(String, String)> = [
        ("csrf", csrf),
        ("action", action),
        ("contact_first_name", "FirstName"),
        ("contact_last_name", "LastName"),
        ("contact_email", "Email"),
        ("contact_mobile", "MobilePhone"),
        ("contact_title", "Title"),
        ("person_account_first_name", "FirstName"),
        ("person_account_last_name", "LastName"),
        ("person_account_email", "PersonEmail"),
        ("person_account_mobile", "PersonMobilePhone"),
        ("person_account_title", "PersonTitle"),
        ("write_back_status", "Liaison_Status__c"),
        ("write_back_client_id", "Liaison_Client_Id__c"),
        ("write_back_invited_at", "Liaison_Invited_At__c"),
        ("write_back_tenancy", "Liaison_Tenancy__c"),
        ("phone_region", ""),
        ("record_kind", "contact"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (key, value) in changes {
        match form.iter_mut().find(|(k, _)| k == key) {
            Some(field) => field.1 = value.to_string(),
            None => form.push((key.to_string(), value.to_string())),
        }
    }
    form
}

pub(crate) async fn post(visitor: &Visitor, path: &str, form: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    visitor.post(path, &pairs).await
}

async fn saved_mapping(app: &TestApp, link: &str) -> Value {
    app.get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200)["field_mapping"]
        .clone()
}

async fn the_editor_offers_the_orgs_fields_saves_a_fitting_mapping_and_undoes_it(app: TestApp) {
    let (t, link) = connected(&app).await;
    describes(&app).await;
    let visitor = operator(&app).await;
    let editor = format!("/console/org-links/{link}/mapping");
    let page = visitor.get(&editor).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for offered in [
        "<option value=\"Email\" selected>Email (Email · email)</option>",
        "Secondary Email (Secondary_Email__c · email)",
        "Mobile (PersonMobilePhone · phone)",
        "Liaison Status (Liaison_Status__c · picklist)",
    ] {
        assert!(page.body.contains(offered), "{offered}");
    }
    assert!(
        visitor
            .get(&format!("/console/org-links/{link}"))
            .await
            .body
            .contains(&editor)
    );

    let form = posted(
        &page.csrf(),
        "save",
        &[
            ("contact_email", "Secondary_Email__c"),
            ("read_only", "email"),
        ],
    );
    let saved = post(&visitor, &editor, &form).await;
    assert_eq!(
        (saved.status, saved.location.as_deref()),
        (303, Some(format!("{editor}?done=saved").as_str()))
    );
    let mapping = saved_mapping(&app, &link).await;
    assert_eq!(mapping["contact"]["email"], "Secondary_Email__c");
    assert_eq!(mapping["read_only"], json!(["email"]));
    let shown = visitor.get(&format!("{editor}?done=saved")).await.body;
    assert!(shown.contains("The mapping is saved"));
    assert!(
        shown.contains("contact.email: Email → Secondary_Email__c"),
        "{shown}"
    );

    // Undo asks first, then puts the mapping back, itself a change in the trail.
    let asked = visitor.get(&format!("{editor}/undo")).await;
    assert_eq!(asked.status, 200);
    assert!(
        asked
            .body
            .contains("contact.email: Secondary_Email__c → Email")
    );
    let undone = visitor
        .post(&format!("{editor}/undo"), &[("csrf", &asked.csrf())])
        .await;
    assert_eq!(
        undone.location.as_deref(),
        Some(format!("{editor}?done=restored").as_str())
    );
    let mapping = saved_mapping(&app, &link).await;
    assert_eq!(mapping["contact"]["email"], "Email");
    assert_eq!(mapping["read_only"], json!([]));
    let trail = app
        .get(
            &format!(
                "/api/v1/tenancies/{}/audit?action=org_link.mapping_changed",
                t.id
            ),
            &app.operator,
        )
        .await
        .expect(200);
    let changes: Vec<(Value, Value)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let c = &e["change"]["field_mapping"];
            (
                c["before"]["contact"]["email"].clone(),
                c["after"]["contact"]["email"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (json!("Email"), json!("Secondary_Email__c")),
            (json!("Secondary_Email__c"), json!("Email"))
        ]
    );
}

async fn a_save_that_does_not_fit_the_org_shows_each_problem_beside_its_field(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    let visitor = operator(&app).await;
    let editor = format!("/console/org-links/{link}/mapping");
    let csrf = visitor.get(&editor).await.csrf();
    let form = posted(
        &csrf,
        "save",
        &[
            ("contact_email", "MobilePhone"),
            ("write_back_status", "Liaison_Client_Id__c"),
            ("phone_region", "XX"),
        ],
    );
    let refused = post(&visitor, &editor, &form).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    for (id, reason) in [
        (
            "contact_email-error",
            "&quot;MobilePhone&quot; is of type phone; this needs an email field",
        ),
        (
            "write_back_status-error",
            "&quot;Liaison_Client_Id__c&quot; on Contact is of type string; the status needs a picklist",
        ),
        ("phone_region-error", ""),
    ] {
        let beside = refused
            .body
            .split(&format!("id=\"{id}\">"))
            .nth(1)
            .unwrap_or_else(|| panic!("{id}"));
        assert!(beside.starts_with(reason), "{id}: {beside}");
    }
    // The form keeps what was chosen, and nothing was saved.
    assert!(
        refused
            .body
            .contains("<option value=\"MobilePhone\" selected>")
    );
    assert_eq!(
        saved_mapping(&app, &link).await["contact"]["email"],
        "Email"
    );
}

async fn a_dry_run_finds_a_record_by_name_and_shows_what_it_would_do(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    Mock::given(method("GET"))
        .and(path_regex("^/services/data/v[0-9.]+/query$"))
        .and(query_param(
            "q",
            "SELECT Id, Name FROM Contact WHERE Name LIKE '%Smith%' ORDER BY Name LIMIT 10",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 1, "done": true,
            "records": [{ "attributes": { "type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/{RECORD}") },
                          "Id": RECORD, "Name": "Jane Smith" }]
        })))
        .mount(&app.salesforce)
        .await;
    let visitor = operator(&app).await;
    let editor = format!("/console/org-links/{link}/mapping");
    let csrf = visitor.get(&editor).await.csrf();
    let found = post(
        &visitor,
        &editor,
        &posted(&csrf, "search", &[("q", "Smith")]),
    )
    .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(
        found.body.contains(&format!("value=\"{RECORD}\" checked")),
        "{}",
        found.body
    );
    assert!(found.body.contains("Jane Smith"));

    let form = posted(
        &csrf,
        "dry_run",
        &[("picked", RECORD), ("contact_title", "")],
    );
    let ran = post(&visitor, &editor, &form).await;
    assert_eq!(ran.status, 200);
    let result = ran
        .body
        .split("id=\"dry-run-result\"")
        .nth(1)
        .expect("a result");
    for shown in [
        "jane.smith@example.com",
        "07768 887464",
        "&quot;Liaison_Status__c&quot;: &quot;invited&quot;",
        "No problems",
    ] {
        assert!(result.contains(shown), "{shown}: {result}");
    }
    // A record id that is not one is said so; nothing is ever written.
    let bad = post(
        &visitor,
        &editor,
        &posted(&csrf, "dry_run", &[("record_id", "nope")]),
    )
    .await;
    assert!(
        bad.body.contains("The dry run could not run: record_id:"),
        "{}",
        bad.body
    );
    assert_eq!(calls(&app, "PATCH", "").await, 0);
    assert_eq!(
        saved_mapping(&app, &link).await["contact"]["title"],
        "Title"
    );
}

async fn an_editor_post_without_the_sessions_csrf_token_changes_nothing(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    let visitor = operator(&app).await;
    let editor = format!("/console/org-links/{link}/mapping");
    let form = posted("forged", "save", &[("contact_email", "Secondary_Email__c")]);
    assert_eq!(post(&visitor, &editor, &form).await.status, 403);
    assert_eq!(
        visitor.post(&format!("{editor}/undo"), &[]).await.status,
        403
    );
    assert_eq!(
        saved_mapping(&app, &link).await["contact"]["email"],
        "Email"
    );
}

async fn the_editor_refuses_whom_the_api_refuses(app: TestApp) {
    let (t, link) = connected(&app).await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let other = app.tenancy("Bravo Trust", "client_teams").await;
    let (_, uma_token) = app.staff(&t, "Uma", "Users", "users_administrator").await;
    let editor = format!("/console/org-links/{link}/mapping");
    let body = json!({ "field_mapping": saved_mapping(&app, &link).await, "record_id": RECORD });
    let mut statuses = Vec::new();
    for (visitor, token) in [
        (
            admin(&app, "admin@bravo-trust.example").await,
            &other.admin_token,
        ),
        (admin(&app, "uma.users@firm.example").await, &uma_token),
        (
            admin(&app, "admin@acme-wealth.example").await,
            &t.admin_token,
        ),
    ] {
        let dry_run = format!("/api/v1/org-links/{link}/mapping/dry-run");
        let api = app
            .post(&dry_run, token, body.clone())
            .await
            .status
            .as_u16();
        let page = visitor.get(&editor).await;
        assert_eq!(page.status, api, "{}", page.body);
        let csrf = visitor.get("/console").await.csrf();
        let form = posted(&csrf, "save", &[("contact_email", "Secondary_Email__c")]);
        let saved = post(&visitor, &editor, &form).await;
        let undo = visitor
            .post(&format!("{editor}/undo"), &[("csrf", &csrf)])
            .await;
        statuses.push((page.status, saved.status, undo.status));
    }
    // Another tenancy's administrator: not found; a users administrator: not allowed; the
    // tenancy's own administrator saves, then undoes.
    assert_eq!(
        statuses,
        [(404, 404, 404), (403, 403, 403), (200, 303, 303)]
    );
    assert_eq!(
        saved_mapping(&app, &link).await["contact"]["email"],
        "Email"
    );
}

async fn the_mapping_is_walked_in_a_browser_with_a_dry_run_and_saved(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let browser = operator_browser(&app).await;
    browser
        .client
        .goto(&format!("{}/console/org-links/{link}", app.address))
        .await
        .unwrap();
    browser.click("#mapping").await;
    browser.heading("Field mapping").await;
    browser.snapshot("console-mapping").await;
    let select = |id: &'static str| browser.client.find(Locator::Id(id));
    select("contact_email")
        .await
        .unwrap()
        .select_by_value("Secondary_Email__c")
        .await
        .unwrap();
    select("record_id")
        .await
        .unwrap()
        .send_keys(RECORD)
        .await
        .unwrap();
    browser.click("#run").await;
    browser
        .wait_for(Locator::Id("prefill"), "the dry run's pre-fill")
        .await;
    assert!(
        browser
            .text("#write-back")
            .await
            .contains("\"Liaison_Status__c\": \"invited\"")
    );
    // The record has no Secondary_Email__c: the dry run says so, and the choice stands.
    assert!(browser.text("#problems").await.contains("prefill.email"));
    assert_eq!(browser.value("#contact_email").await, "Secondary_Email__c");
    browser
        .snapshot_at("console-mapping-dry-run", Some("dry-run"))
        .await;
    browser.click("#save").await;
    browser
        .wait_for(Locator::Id("notice"), "the saved notice")
        .await;
    assert!(
        browser
            .text("#history")
            .await
            .contains("contact.email: Email → Secondary_Email__c")
    );
    browser.click("#undo").await;
    browser
        .wait_for(Locator::Id("confirm-undo"), "the undo question")
        .await;
    browser.snapshot("console-mapping-undo").await;
    browser.click("#confirm-undo").await;
    browser
        .wait_for(Locator::Id("notice"), "the restored notice")
        .await;
    assert_eq!(browser.value("#contact_email").await, "Email");
    browser.stop().await;
}
