//! Text that cannot be stored alike on both databases (a NUL, other control characters), names
//! that display as something they are not, and bodies that are not objects: each is refused at
//! the edge with a 422 naming the field, and nothing is written.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::canvas::{
    RECORD, USER_ID, clients, csrf, link_key, opened, org, post, record_answers,
};
use crate::helpers::salesforce::fixture;
use crate::helpers::{Reply, Tenancy, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_nul_in_a_list_search_is_a_422_naming_q,
    a_nul_in_a_salesforce_username_is_a_422_and_changes_nothing,
    a_nul_in_an_org_links_consumer_key_or_integration_username_is_a_422_and_stores_nothing,
    a_positional_array_body_is_a_422_naming_body,
    a_nested_positional_array_is_a_422_naming_its_path,
    bidi_overrides_and_zero_width_characters_in_names_are_refused,
    a_name_given_decomposed_is_stored_composed,
    the_invite_form_shows_a_control_character_error_beside_its_field,
    a_control_character_read_from_a_salesforce_record_is_refused_by_field,
);

fn at(t: &Tenancy, rest: &str) -> String {
    format!("/api/v1/tenancies/{}{rest}", t.id)
}

#[track_caller]
fn refused(reply: Reply, fields: &[&str]) -> Value {
    let body = reply.problem(422);
    assert_eq!(Reply::fields(&body), fields, "{body:#}");
    body
}

async fn a_nul_in_a_list_search_is_a_422_naming_q(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    for list in ["/staff", "/clients", "/team-accounts", "/contact-groups"] {
        for q in ["a%00b", "%00", "x%1Bq", "line%0Abreak"] {
            let body = refused(
                app.get(&at(&t, &format!("{list}?q={q}")), &t.admin_token)
                    .await,
                &["q"],
            );
            assert!(
                body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("control characters")),
                "{body:#}"
            );
        }
    }
    refused(
        app.get("/api/v1/tenancies?limit=5&q=%00", &app.operator)
            .await,
        &["q"],
    );
    // Searching still works for ordinary text, accents included.
    let found = app
        .get(&at(&t, "/staff?q=Ad%C3%A1"), &t.admin_token)
        .await
        .expect(200);
    assert!(found["items"].is_array());
}

async fn a_nul_in_a_salesforce_username_is_a_422_and_changes_nothing(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let url = at(&t, &format!("/staff/{}/salesforce-user", t.admin_id));
    let staff = at(&t, &format!("/staff/{}", t.admin_id));
    let before = app.get(&staff, &t.admin_token).await.expect(200);
    for username in [
        "ada\u{0}@acme.example",
        "ada\t@acme.example",
        "ada\u{85}@acme.example",
    ] {
        refused(
            app.put(&url, &t.admin_token, Some(json!({ "username": username })))
                .await,
            &["username"],
        );
    }
    assert_eq!(app.get(&staff, &t.admin_token).await.expect(200), before);
    let set = app
        .put(
            &url,
            &t.admin_token,
            Some(json!({ "username": "ada@acme.example" })),
        )
        .await
        .expect(200);
    assert_eq!(set["salesforce_username"], "ada@acme.example");
}

fn link_body(t: &Tenancy, app: &TestApp, changes: Value) -> Value {
    let mut body = json!({ "name": "Acme production", "org_id": "00D5g000004ZKTDEA4",
        "login_host": app.salesforce.uri(), "auth_kind": "web_server",
        "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret-consumer",
        "integration_username": "integration@acme.example", "tenancies": [t.id] });
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            body.insert(k.clone(), v.clone());
        }
    }
    body
}

async fn a_nul_in_an_org_links_consumer_key_or_integration_username_is_a_422_and_stores_nothing(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let none = app
        .get("/api/v1/org-links", &app.operator)
        .await
        .expect(200);
    for (field, value) in [
        ("consumer_key", "3MVG9\u{0}consumer"),
        ("integration_username", "integration\u{0}@acme.example"),
        ("consumer_key", "3MVG9\nconsumer"),
        ("integration_username", "integration\u{7f}@acme.example"),
    ] {
        refused(
            app.post(
                "/api/v1/org-links",
                &app.operator,
                link_body(&t, &app, json!({ field: value })),
            )
            .await,
            &[field],
        );
    }
    assert_eq!(
        app.get("/api/v1/org-links", &app.operator)
            .await
            .expect(200),
        none
    );

    let created = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            link_body(&t, &app, json!({})),
        )
        .await
        .expect(201);
    let url = format!("/api/v1/org-links/{}", created["id"].as_str().unwrap());
    let before = app.get(&url, &app.operator).await.expect(200);
    for (field, value) in [
        ("consumer_key", "3MVG9\u{0}other"),
        ("integration_username", "other\u{0}@acme.example"),
        ("name", "Acme\u{0}"),
    ] {
        refused(
            app.patch(&url, &app.operator, json!({ field: value }))
                .await,
            &[field],
        );
    }
    assert_eq!(app.get(&url, &app.operator).await.expect(200), before);
}

async fn a_positional_array_body_is_a_422_naming_body(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let clients = app
        .get(&at(&t, "/clients"), &t.admin_token)
        .await
        .expect(200);
    let tenancies = app
        .get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    let links = app
        .get("/api/v1/org-links", &app.operator)
        .await
        .expect(200);
    let cases: [(String, &str, Value); 3] = [
        (
            at(&t, "/clients"),
            t.admin_token.as_str(),
            json!([
                "Arr",
                "Ay",
                "arr@example.com",
                null,
                null,
                null,
                [],
                null,
                []
            ]),
        ),
        (
            "/api/v1/tenancies".to_string(),
            app.operator.as_str(),
            json!(["Array Wealth", "client_teams"]),
        ),
        (
            "/api/v1/org-links".to_string(),
            app.operator.as_str(),
            json!([
                "Acme",
                "00D5g000004ZKTDEA4",
                app.salesforce.uri(),
                "web_server",
                "k"
            ]),
        ),
    ];
    for (path, token, body) in cases {
        for body in [body, json!("a string"), json!(42), json!(null)] {
            let problem = refused(app.post(&path, token, body).await, &["body"]);
            assert_eq!(problem["errors"][0]["reason"], "must be a JSON object");
        }
    }
    // The same refusal for a raw body, whitespace before it included.
    let problem = refused(
        app.raw(
            Method::POST,
            "/api/v1/tenancies",
            &app.operator,
            "application/json",
            b"  [\"Array Wealth\", \"client_teams\"]".to_vec(),
        )
        .await,
        &["body"],
    );
    assert_eq!(problem["errors"][0]["reason"], "must be a JSON object");
    assert_eq!(
        app.get(&at(&t, "/clients"), &t.admin_token)
            .await
            .expect(200),
        clients
    );
    assert_eq!(
        app.get("/api/v1/tenancies", &app.operator)
            .await
            .expect(200),
        tenancies
    );
    assert_eq!(
        app.get("/api/v1/org-links", &app.operator)
            .await
            .expect(200),
        links
    );
}

async fn a_nested_positional_array_is_a_422_naming_its_path(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let problem = refused(
        app.post(
            "/api/v1/org-links",
            &app.operator,
            link_body(&t, &app, json!({ "field_mapping": [{}, {}, [], [], null] })),
        )
        .await,
        &["field_mapping"],
    );
    assert_eq!(problem["errors"][0]["reason"], "must be a JSON object");
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "new_contact_group": ["Smith Relationship", [t.admin_id]] }),
        )
        .await,
        &["new_contact_group"],
    );
    let links = app
        .get("/api/v1/org-links", &app.operator)
        .await
        .expect(200);
    assert_eq!(links["items"], json!([]));
    let clients = app
        .get(&at(&t, "/clients"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(clients["items"], json!([]));
}

async fn bidi_overrides_and_zero_width_characters_in_names_are_refused(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let g = app
        .group(&t, "contact-groups", "Smith Relationship", &[&t.admin_id])
        .await;
    let staff_before = app.get(&at(&t, "/staff"), &t.admin_token).await.expect(200);
    let groups_before = app
        .get(&at(&t, "/contact-groups"), &t.admin_token)
        .await
        .expect(200);
    for name in [
        "Ada\u{202e}nimda",
        "A\u{200b}da",
        "\u{2066}Ada\u{2069}",
        "Ada\u{feff}",
    ] {
        let problem = refused(
            app.post(
                &at(&t, "/staff"),
                &t.admin_token,
                json!({ "first_name": name, "last_name": "Staff", "email": "sam@firm.example" }),
            )
            .await,
            &["first_name"],
        );
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("bidirectional")),
            "{problem:#}"
        );
        refused(
            app.post(
                &at(&t, "/contact-groups"),
                &t.admin_token,
                json!({ "name": name, "members": [t.admin_id] }),
            )
            .await,
            &["name"],
        );
        refused(
            app.patch(
                &at(&t, &format!("/contact-groups/{g}")),
                &t.admin_token,
                json!({ "name": name }),
            )
            .await,
            &["name"],
        );
    }
    assert_eq!(
        app.get(&at(&t, "/staff"), &t.admin_token).await.expect(200),
        staff_before
    );
    assert_eq!(
        app.get(&at(&t, "/contact-groups"), &t.admin_token)
            .await
            .expect(200),
        groups_before
    );
}

async fn a_name_given_decomposed_is_stored_composed(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let decomposed = "Zoe\u{308}";
    let composed = "Zoë";
    let staff = app
        .post(
            &at(&t, "/staff"),
            &t.admin_token,
            json!({ "first_name": decomposed, "last_name": "Ange\u{301}lique",
                    "email": "zoe@firm.example" }),
        )
        .await
        .expect(201);
    assert_eq!(staff["first_name"], composed);
    assert_eq!(staff["last_name"], "Angélique");
    let id = staff["id"].as_str().unwrap();
    let read = app
        .get(&at(&t, &format!("/staff/{id}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(read["first_name"], composed);
    // Stored composed, it is found by a search typed composed.
    let found = app
        .get(&at(&t, "/staff?q=Zo%C3%AB"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1));
    let group = app
        .post(
            &at(&t, "/contact-groups"),
            &t.admin_token,
            json!({ "name": "Mu\u{308}ller Relationship", "members": [t.admin_id] }),
        )
        .await
        .expect(201);
    assert_eq!(group["name"], "Müller Relationship");
}

async fn the_invite_form_shows_a_control_character_error_beside_its_field(app: TestApp) {
    let (a, _, _) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let (page, _, form) = opened(&app, RECORD, &a.id).await;
    let url = format!("{}/salesforce/invite", app.address);
    let csrf = csrf(&form);
    let typed = [
        ("csrf", csrf.as_str()),
        ("tenancy", a.id.as_str()),
        ("first_name", "Ja\u{0}ne"),
        ("last_name", "Smith"),
        ("email", "jane.smith@example.com"),
        ("mobile", "+447768887464"),
        ("message", "Dear Jane,\r\nwelcome\u{1b}[31m"),
    ];
    let mut send = typed.to_vec();
    send.push(("action", "send"));
    let (status, body) = post(&page, &url, &send).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Nothing was created"), "{body}");
    assert!(body.contains("id=\"first_name-error\""), "{body}");
    assert!(body.contains("id=\"message-error\""), "{body}");
    assert!(body.contains("must not contain control characters"));
    assert!(!body.contains('\u{0}'), "the refused value is not echoed");

    // A search for a NUL reaches no database: it is refused beside the search field.
    let search = [
        ("csrf", csrf.as_str()),
        ("tenancy", a.id.as_str()),
        ("first_name", "Jane"),
        ("q_groups", "Pri\u{0}vate"),
        ("action", "search"),
    ];
    let (status, body) = post(&page, &url, &search).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("id=\"q_groups-error\""), "{body}");
    assert!(body.contains("value=\"Jane\""), "what was typed is kept");
    assert!(clients(&app, &a).await.is_empty());
}

/// A read-only value comes from the record, never from the caller: one holding a NUL is
/// refused naming the field, as a typed one would be, and no client is made.
async fn a_control_character_read_from_a_salesforce_record_is_refused_by_field(app: TestApp) {
    let (a, _, link) = org(&app).await;
    let url = format!("/api/v1/org-links/{link}");
    let mut mapping = app.get(&url, &app.operator).await.expect(200)["field_mapping"].clone();
    mapping["read_only"] = json!(["first_name"]);
    app.patch(&url, &app.operator, json!({ "field_mapping": mapping }))
        .await
        .expect(200);
    record_answers(
        &app,
        RECORD,
        wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "attributes": { "type": "Contact" }, "Id": RECORD,
            "FirstName": "Ja\u{0}ne", "LastName": "Smith", "Email": "jane.smith@example.com",
            "MobilePhone": null, "Title": null })),
    )
    .await;
    let key = link_key(&app, &link).await;
    let team = app
        .get(&at(&a, "/client-teams"), &a.admin_token)
        .await
        .expect(200)["items"][0]["id"]
        .clone();
    let invite = json!({
        "user": { "user_id": USER_ID, "username": "jo@acme.example.sf", "email": "jo.bloggs@firm.example" },
        "record": { "sobject": "Contact", "id": RECORD }, "tenancy_id": a.id, "send": true,
        "first_name": "Jane", "last_name": "Smith", "email": "jane.smith@example.com",
        "client_teams": [team] });
    let problem = refused(
        app.post("/api/v1/salesforce/invites", &key, invite).await,
        &["first_name"],
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("control characters")),
        "{problem:#}"
    );
    assert!(clients(&app, &a).await.is_empty());
}
