//! The console's clients and staff beyond their status: a client added as a draft with the
//! group choice the API takes, their details corrected, the groups they are in and the
//! Salesforce record they are linked to, and a staff user mapped to their Salesforce user. Each
//! form calls the API's own function with the session as the caller, so it refuses where the
//! API does and shows the API's reasons, word for word, beside the fields. And the intake
//! page's copy buttons.

use fantoccini::Locator;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::console::{
    Page, Visitor, admin, beside, html, operator_browser, reason, with_mail,
};
use crate::helpers::{Reply, Tenancy, TestApp, at, id_of, invited};
use crate::on_both_backends;

on_both_backends!(with super::with_mail();
    a_client_is_added_as_a_draft_with_the_apis_reasons_beside_the_fields,
    a_client_is_added_to_a_new_contact_group_made_with_the_form,
    a_clients_details_are_corrected_with_the_apis_reasons_and_conflicts,
    the_clients_page_lists_their_groups_and_links_their_salesforce_record,
    a_staff_user_is_mapped_to_a_salesforce_user_with_the_apis_reasons,
    another_tenancys_administrator_is_refused_as_by_the_api,
    a_post_without_the_sessions_csrf_token_changes_nothing,
);

on_both_backends!(
    a_client_is_edited_and_a_staff_user_mapped_in_a_browser_at_both_widths,
    the_intake_pages_values_have_copy_buttons_that_work,
);

/// A Contact's id and a Salesforce user's, with their checksums.
const CONTACT: &str = "0035g00000XyZacAAF";
const SALESFORCE_USER: &str = "0055g00000AbCdEAAV";

/// A client-teams tenancy with one team covered by its administrator, and Jane, a draft in it.
async fn acme_with_jane(app: &TestApp) -> (Tenancy, String, String) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&acme, "client-teams", "Advisers", &[&acme.admin_id])
        .await;
    let jane = invited(app, &acme, "Jane", "client_teams", &[&team], json!({})).await;
    (acme, team, jane)
}

async fn staff(app: &TestApp, t: &Tenancy, id: &str) -> Value {
    app.get(&at(t, &format!("/staff/{id}")), &t.admin_token)
        .await
        .expect(200)
}

/// The Salesforce record the client is linked to, as the store keeps it (the API has no read
/// of it).
async fn record_of(app: &TestApp, t: &Tenancy, client: &str) -> Option<liaison::store::RecordRef> {
    let tenancy = Uuid::parse_str(&t.id).unwrap();
    let client = Uuid::parse_str(client).unwrap();
    app.store.client_record(tenancy, client).await.unwrap()
}

fn client_page(t: &Tenancy, client: &str) -> String {
    format!("/console/tenancies/{}/clients/{client}", t.id)
}

async fn client(app: &TestApp, t: &Tenancy, id: &str) -> Value {
    app.get(&at(t, &format!("/clients/{id}")), &t.admin_token)
        .await
        .expect(200)
}

async fn clients_of(app: &TestApp, t: &Tenancy) -> usize {
    app.get(&at(t, "/clients"), &t.admin_token)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn a_client_is_added_as_a_draft_with_the_apis_reasons_beside_the_fields(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&acme, "client-teams", "Advisers", &[&acme.admin_id])
        .await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let list = visitor
        .get(&format!("/console/tenancies/{}/clients", acme.id))
        .await;
    assert!(list.body.contains("id=\"add-client\""));
    let new = format!("/console/tenancies/{}/clients/new", acme.id);
    let form = visitor.get(&new).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Advisers") && form.body.contains(&team));
    let csrf = form.csrf();

    let api = app
        .post(
            &at(&acme, "/clients"),
            &acme.admin_token,
            json!({ "first_name": " ", "last_name": "Client", "email": "not an address",
                    "mobile": "07700", "client_teams": [] }),
        )
        .await
        .problem(422);
    let create = format!("/console/tenancies/{}/clients", acme.id);
    let refused = visitor
        .post(
            &create,
            &[
                ("csrf", &csrf),
                ("first_name", " "),
                ("last_name", "Client"),
                ("email", "not an address"),
                ("mobile", "07700"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    for field in ["first_name", "email", "mobile", "client_teams"] {
        beside(&refused, field, &reason(&api, field));
    }
    assert!(refused.body.contains("value=\"not an address\""), "kept");
    assert_eq!(clients_of(&app, &acme).await, 0, "nothing was added");

    let added = visitor
        .post(
            &create,
            &[
                ("csrf", &csrf),
                ("first_name", "Jane"),
                ("last_name", "Doe"),
                ("email", "jane@clients.example"),
                ("title", "Trustee"),
                ("message", "Welcome aboard"),
                ("groups", &team),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let location = added.location.clone().unwrap();
    let id = location
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let jane = client(&app, &acme, &id).await;
    assert_eq!(jane["status"], "draft");
    assert_eq!(jane["title"], "Trustee");
    assert_eq!(jane["message"], "Welcome aboard");
    let shown = visitor.get(&location).await;
    assert!(shown.body.contains("added as a draft"), "{}", shown.body);
    assert!(shown.body.contains("Advisers"), "the team it is in");

    // The same address again: the API's conflict, in its words.
    let api = app
        .post(
            &at(&acme, "/clients"),
            &acme.admin_token,
            json!({ "first_name": "Jane", "last_name": "Doe", "email": "jane@clients.example",
                    "client_teams": [team] }),
        )
        .await;
    let status = api.status.as_u16();
    let api = api.body;
    let again = visitor
        .post(
            &create,
            &[
                ("csrf", &csrf),
                ("first_name", "Jane"),
                ("last_name", "Doe"),
                ("email", "jane@clients.example"),
                ("groups", &team),
            ],
        )
        .await;
    assert_eq!(again.status, status, "{}", again.body);
    assert!(
        again.body.contains(&html(api["detail"].as_str().unwrap())),
        "{api:#} in {}",
        again.body
    );
    assert_eq!(clients_of(&app, &acme).await, 1, "still one Jane");
}

async fn a_client_is_added_to_a_new_contact_group_made_with_the_form(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "contact_groups").await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let new = format!("/console/tenancies/{}/clients/new", acme.id);
    let form = visitor.get(&new).await;
    assert!(form.body.contains("id=\"new_group_name\""));
    assert!(form.body.contains(&format!("value=\"{}\"", acme.admin_id)));
    let csrf = form.csrf();
    let create = format!("/console/tenancies/{}/clients", acme.id);

    // A new group with members but no name: the API's reason beside the name.
    let api = app
        .post(
            &at(&acme, "/clients"),
            &acme.admin_token,
            json!({ "first_name": "Sam", "last_name": "Smith", "email": "sam@clients.example",
                    "new_contact_group": { "name": "", "members": [acme.admin_id] } }),
        )
        .await
        .problem(422);
    let refused = visitor
        .post(
            &create,
            &[
                ("csrf", &csrf),
                ("first_name", "Sam"),
                ("last_name", "Smith"),
                ("email", "sam@clients.example"),
                ("new_group_members", &acme.admin_id),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    beside(
        &refused,
        "new_group_name",
        &reason(&api, "new_contact_group.name"),
    );
    assert!(
        refused
            .body
            .contains(&format!("value=\"{}\" checked", acme.admin_id)),
        "the member stays ticked"
    );
    assert_eq!(clients_of(&app, &acme).await, 0);

    let added = visitor
        .post(
            &create,
            &[
                ("csrf", &csrf),
                ("first_name", "Sam"),
                ("last_name", "Smith"),
                ("email", "sam@clients.example"),
                ("new_group_name", "Smith Relationship"),
                ("new_group_members", &acme.admin_id),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let groups = app
        .get(&at(&acme, "/contact-groups"), &acme.admin_token)
        .await
        .expect(200);
    let group = &groups["items"][0];
    assert_eq!(group["name"], "Smith Relationship");
    let shown = visitor.get(&added.location.unwrap()).await;
    let link = format!(
        "href=\"/console/tenancies/{}/groups/{}\">Smith Relationship</a>",
        acme.id,
        id_of(group)
    );
    assert!(shown.body.contains(&link), "{link} in {}", shown.body);
}

async fn a_clients_details_are_corrected_with_the_apis_reasons_and_conflicts(app: TestApp) {
    let (acme, team, jane) = acme_with_jane(&app).await;
    invited(&app, &acme, "Bob", "client_teams", &[&team], json!({})).await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let page = client_page(&acme, &jane);
    let shown = visitor.get(&page).await;
    assert!(shown.body.contains("id=\"client-form\""));
    assert!(shown.body.contains("value=\"jane@clients.example\""));
    assert!(
        shown.body.contains("id=\"no-links\""),
        "no org link serves the tenancy, so no record can be linked yet"
    );
    let csrf = shown.csrf();

    let edit = |details| edit(&visitor, &page, &csrf, details);
    let api_edit = |details| api_edit(&app, &acme, &jane, details);

    let refusing = ["  ", "Client", "jane at home", "12", "Client"];
    let api = api_edit(refusing).await.problem(422);
    let refused = edit(refusing).await;
    assert_eq!(refused.status, 422);
    for field in ["first_name", "email"] {
        beside(&refused, field, &reason(&api, field));
    }
    assert!(refused.body.contains("value=\"jane at home\""), "kept");
    assert_eq!(
        client(&app, &acme, &jane).await["email"],
        "jane@clients.example"
    );

    // A mobile the tenancy's policy refuses is the store's 422, word for word too.
    let bad_mobile = ["Jane", "Client", "jane@clients.example", "12", "Client"];
    let api = api_edit(bad_mobile).await.problem(422);
    let refused = edit(bad_mobile).await;
    assert_eq!(refused.status, 422);
    beside(&refused, "mobile", &reason(&api, "mobile"));

    let saved = edit([
        "Janet",
        "Doe",
        "janet@clients.example",
        "+447700900123",
        "Trustee",
    ])
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let after = client(&app, &acme, &jane).await;
    let fields = ["first_name", "last_name", "email", "mobile", "title"];
    assert_eq!(
        fields.map(|f| after[f].as_str().unwrap_or_default().to_string()),
        [
            "Janet",
            "Doe",
            "janet@clients.example",
            "+447700900123",
            "Trustee"
        ]
    );
    assert!(
        visitor
            .get(&saved.location.unwrap())
            .await
            .body
            .contains("The changes were saved.")
    );

    // Bob's address is Bob's: the API's conflict, as the page's message.
    let bobs = ["Janet", "Doe", "bob@clients.example", "", "Trustee"];
    let api = api_edit(bobs).await.problem(409);
    let taken = edit(bobs).await;
    assert_eq!(taken.status, 409);
    assert!(
        taken.body.contains(&html(api["detail"].as_str().unwrap())),
        "{api:#} in {}",
        taken.body
    );
    assert_eq!(
        client(&app, &acme, &jane).await["email"],
        "janet@clients.example"
    );
}

/// A client's details: first and last name, e-mail, mobile (empty: left out) and title.
type Details<'a> = [&'a str; 5];

/// The details posted on the client's page.
async fn edit(visitor: &Visitor, page: &str, csrf: &str, d: Details<'_>) -> Page {
    let mut form = vec![
        ("csrf", csrf),
        ("first_name", d[0]),
        ("last_name", d[1]),
        ("email", d[2]),
        ("title", d[4]),
    ];
    if !d[3].is_empty() {
        form.push(("mobile", d[3]));
    }
    visitor.post(page, &form).await
}

/// The same details sent to the API as the tenancy's administrator.
async fn api_edit(app: &TestApp, t: &Tenancy, client: &str, d: Details<'_>) -> Reply {
    let mut body = json!({ "first_name": d[0], "last_name": d[1], "email": d[2], "title": d[4] });
    if !d[3].is_empty() {
        body["mobile"] = json!(d[3]);
    }
    app.patch(&at(t, &format!("/clients/{client}")), &t.admin_token, body)
        .await
}

async fn the_clients_page_lists_their_groups_and_links_their_salesforce_record(app: TestApp) {
    let (acme, advisers, jane) = acme_with_jane(&app).await;
    let tax = app
        .group(&acme, "client-teams", "Tax", &[&acme.admin_id])
        .await;
    let other = app
        .group(&acme, "client-teams", "Pensions", &[&acme.admin_id])
        .await;
    app.put(
        &at(&acme, &format!("/client-teams/{tax}/members/{jane}")),
        &acme.admin_token,
        None,
    )
    .await
    .expect(200);
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let link_id = id_of(&link);
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let page = client_page(&acme, &jane);
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    for (group, name) in [(&advisers, "Advisers"), (&tax, "Tax")] {
        let href = format!(
            "href=\"/console/tenancies/{}/groups/{group}\">{name}</a>",
            acme.id
        );
        assert!(shown.body.contains(&href), "{href} in {}", shown.body);
    }
    assert!(!shown.body.contains(&other), "not in Pensions");
    assert!(shown.body.contains("Not linked to a Salesforce record"));
    assert!(
        shown
            .body
            .contains(&format!("<option value=\"{link_id}\">Acme production")),
        "the link that serves the tenancy, to choose: {}",
        shown.body
    );
    let csrf = shown.csrf();
    let record = format!("{page}/crm-record");

    // An Account id for a Contact: the API's reason beside the record's id.
    let api = app
        .put(
            &at(&acme, &format!("/clients/{jane}/crm-record")),
            &acme.admin_token,
            Some(json!({ "org_link_id": link_id, "sobject": "Contact", "record_id": "001000000000001" })),
        )
        .await
        .problem(422);
    let refused = visitor
        .post(
            &record,
            &[
                ("csrf", &csrf),
                ("org_link_id", &link_id),
                ("sobject", "Contact"),
                ("record_id", "001000000000001"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    beside(&refused, "record_id", &reason(&api, "record_id"));
    // A link that is not one: the API's words for a link that does not serve the tenancy.
    let api = app
        .put(
            &at(&acme, &format!("/clients/{jane}/crm-record")),
            &acme.admin_token,
            Some(json!({ "org_link_id": Uuid::nil(), "sobject": "Contact", "record_id": CONTACT })),
        )
        .await
        .problem(422);
    let refused = visitor
        .post(
            &record,
            &[
                ("csrf", &csrf),
                ("org_link_id", "not-a-link"),
                ("sobject", "Contact"),
                ("record_id", CONTACT),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    beside(&refused, "org_link_id", &reason(&api, "org_link_id"));
    assert!(record_of(&app, &acme, &jane).await.is_none(), "not linked");

    let linked = visitor
        .post(
            &record,
            &[
                ("csrf", &csrf),
                ("org_link_id", &link_id),
                ("sobject", "Contact"),
                ("record_id", CONTACT),
            ],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let stored = record_of(&app, &acme, &jane).await.expect("linked");
    assert_eq!(stored.record_id.as_str(), CONTACT);
    assert_eq!(stored.org_link.to_string(), link_id);
    let shown = visitor.get(&linked.location.unwrap()).await;
    assert!(shown.body.contains("their status is written back"));
    let card = shown.body.split("id=\"client-record\"").nth(1).unwrap();
    assert!(card.contains(CONTACT) && card.contains("Acme production"));
}

async fn a_staff_user_is_mapped_to_a_salesforce_user_with_the_apis_reasons(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (bob, _) = app.staff(&acme, "Bob", "Adviser", "staff").await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let page = format!("/console/tenancies/{}/staff/{bob}", acme.id);
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("id=\"salesforce-form\""));
    assert!(
        shown.body.contains("Sign in with Salesforce"),
        "the help says what uses it"
    );
    let csrf = shown.csrf();
    let map = format!("{page}/salesforce-user");
    let api_url = at(&acme, &format!("/staff/{bob}/salesforce-user"));

    let api = app
        .put(
            &api_url,
            &acme.admin_token,
            Some(json!({ "user_id": CONTACT, "username": "nope" })),
        )
        .await
        .problem(422);
    let refused = visitor
        .post(
            &map,
            &[("csrf", &csrf), ("user_id", CONTACT), ("username", "nope")],
        )
        .await;
    assert_eq!(refused.status, 422);
    beside(&refused, "user_id", &reason(&api, "user_id"));
    beside(&refused, "username", &reason(&api, "username"));
    assert_eq!(
        staff(&app, &acme, &bob).await["salesforce_user_id"],
        Value::Null
    );

    let mapped = visitor
        .post(
            &map,
            &[
                ("csrf", &csrf),
                ("user_id", &SALESFORCE_USER[..15]),
                ("username", "bob@acme.example.sf"),
            ],
        )
        .await;
    assert_eq!(mapped.status, 303, "{}", mapped.body);
    let after = staff(&app, &acme, &bob).await;
    assert_eq!(after["salesforce_user_id"], SALESFORCE_USER);
    assert_eq!(after["salesforce_username"], "bob@acme.example.sf");
    let shown = visitor.get(&mapped.location.unwrap()).await;
    assert!(
        shown
            .body
            .contains("The Salesforce user they act as was saved.")
    );
    assert!(shown.body.contains(&format!("value=\"{SALESFORCE_USER}\"")));

    // One Salesforce user acts as one staff user: the API's conflict for the administrator.
    let admin_page = format!("/console/tenancies/{}/staff/{}", acme.id, acme.admin_id);
    let api = app
        .put(
            &at(&acme, &format!("/staff/{}/salesforce-user", acme.admin_id)),
            &acme.admin_token,
            Some(json!({ "user_id": SALESFORCE_USER })),
        )
        .await
        .problem(409);
    let taken = visitor
        .post(
            &format!("{admin_page}/salesforce-user"),
            &[("csrf", &csrf), ("user_id", SALESFORCE_USER)],
        )
        .await;
    assert_eq!(taken.status, 409);
    assert!(
        taken.body.contains(&html(api["detail"].as_str().unwrap())),
        "{api:#} in {}",
        taken.body
    );

    let cleared = visitor
        .post(&map, &[("csrf", &csrf), ("user_id", ""), ("username", "")])
        .await;
    assert_eq!(cleared.status, 303);
    let after = staff(&app, &acme, &bob).await;
    assert_eq!(after["salesforce_user_id"], Value::Null);
    assert_eq!(after["salesforce_username"], Value::Null);
}

/// A POST's and the API's answer agree for another tenancy's administrator.
async fn another_tenancys_administrator_is_refused_as_by_the_api(app: TestApp) {
    let (acme, team, jane) = acme_with_jane(&app).await;
    let bolt = app.tenancy("Bolt Capital", "client_teams").await;
    let visitor = admin(&app, "admin@bolt-capital.example").await;
    let csrf = visitor.get("/console").await.csrf();
    let page = client_page(&acme, &jane);
    let token = &bolt.admin_token;

    let api = app
        .get(&at(&acme, &format!("/clients/{jane}")), token)
        .await;
    let status = api.status.as_u16();
    assert!(status == 403 || status == 404, "{status}");
    assert_eq!(visitor.get(&page).await.status, status);
    let api = app
        .patch(
            &at(&acme, &format!("/clients/{jane}")),
            token,
            json!({ "first_name": "Mallory" }),
        )
        .await;
    let edited = visitor
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("first_name", "Mallory"),
                ("last_name", "Client"),
                ("email", "jane@clients.example"),
                ("title", "Client"),
            ],
        )
        .await;
    assert_eq!(edited.status, api.status.as_u16());
    let api = app
        .put(
            &at(&acme, &format!("/clients/{jane}/crm-record")),
            token,
            Some(json!({ "org_link_id": Uuid::nil(), "sobject": "Contact", "record_id": CONTACT })),
        )
        .await;
    let linked = visitor
        .post(
            &format!("{page}/crm-record"),
            &[
                ("csrf", &csrf),
                ("org_link_id", ""),
                ("sobject", "Contact"),
                ("record_id", CONTACT),
            ],
        )
        .await;
    assert_eq!(linked.status, api.status.as_u16());
    let api = app
        .post(
            &at(&acme, "/clients"),
            token,
            json!({ "first_name": "Eve", "last_name": "Client", "email": "eve@clients.example",
                    "client_teams": [team] }),
        )
        .await;
    let new = format!("/console/tenancies/{}/clients/new", acme.id);
    assert_eq!(visitor.get(&new).await.status, api.status.as_u16());
    let added = visitor
        .post(
            &format!("/console/tenancies/{}/clients", acme.id),
            &[
                ("csrf", &csrf),
                ("first_name", "Eve"),
                ("last_name", "Client"),
                ("email", "eve@clients.example"),
                ("groups", &team),
            ],
        )
        .await;
    assert_eq!(added.status, api.status.as_u16());
    let api = app
        .put(
            &at(&acme, &format!("/staff/{}/salesforce-user", acme.admin_id)),
            token,
            Some(json!({ "user_id": SALESFORCE_USER })),
        )
        .await;
    let mapped = visitor
        .post(
            &format!(
                "/console/tenancies/{}/staff/{}/salesforce-user",
                acme.id, acme.admin_id
            ),
            &[("csrf", &csrf), ("user_id", SALESFORCE_USER)],
        )
        .await;
    assert_eq!(mapped.status, api.status.as_u16());

    unchanged(&app, &acme, &jane).await;
}

async fn a_post_without_the_sessions_csrf_token_changes_nothing(app: TestApp) {
    let (acme, team, jane) = acme_with_jane(&app).await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let page = client_page(&acme, &jane);
    let staff = format!(
        "/console/tenancies/{}/staff/{}/salesforce-user",
        acme.id, acme.admin_id
    );
    let link_id = id_of(&link);
    let posts: [(String, Vec<(&str, &str)>); 4] = [
        (
            page.clone(),
            vec![
                ("first_name", "Mallory"),
                ("last_name", "Client"),
                ("email", "jane@clients.example"),
            ],
        ),
        (
            format!("{page}/crm-record"),
            vec![
                ("org_link_id", &link_id),
                ("sobject", "Contact"),
                ("record_id", CONTACT),
            ],
        ),
        (
            format!("/console/tenancies/{}/clients", acme.id),
            vec![
                ("first_name", "Eve"),
                ("last_name", "Client"),
                ("email", "eve@clients.example"),
                ("groups", &team),
            ],
        ),
        (staff, vec![("user_id", SALESFORCE_USER)]),
    ];
    for (path, fields) in &posts {
        for csrf in [None, Some("forged")] {
            let mut form = fields.clone();
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let refused = visitor.post(path, &form).await;
            assert_eq!(refused.status, 403, "{path} with {csrf:?}");
            assert!(refused.body.contains("Nothing was changed."));
        }
    }
    unchanged(&app, &acme, &jane).await;
}

/// Nothing of Acme's changed: Jane's name and record, the one client, the administrator's
/// Salesforce user.
async fn unchanged(app: &TestApp, acme: &Tenancy, jane: &str) {
    assert_eq!(client(app, acme, jane).await["first_name"], "Jane");
    assert_eq!(clients_of(app, acme).await, 1);
    assert!(record_of(app, acme, jane).await.is_none(), "not linked");
    let admin = staff(app, acme, &acme.admin_id).await;
    assert_eq!(admin["salesforce_user_id"], Value::Null);
}

/// Asserts the page is no wider than the window at both widths (no horizontal scrolling).
async fn fits(browser: &crate::helpers::browser::Browser, what: &str) {
    for width in [1280, 420] {
        browser.client.set_window_size(width, 1100).await.unwrap();
        let fits = browser
            .client
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(fits, json!(true), "{what} overflows at {width} px");
    }
    browser.client.set_window_size(1280, 1100).await.unwrap();
}

async fn type_into(browser: &crate::helpers::browser::Browser, css: &str, text: &str) {
    let field = browser.client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn a_client_is_edited_and_a_staff_user_mapped_in_a_browser_at_both_widths(app: TestApp) {
    let (acme, _, jane) = acme_with_jane(&app).await;
    let browser = operator_browser(&app).await;
    browser
        .client
        .goto(&format!("{}{}", app.address, client_page(&acme, &jane)))
        .await
        .unwrap();
    browser.heading("Jane Client").await;
    type_into(&browser, "#first_name", "Janet").await;
    type_into(&browser, "#email", "not an address").await;
    browser.click("#save-client").await;
    browser
        .wait_for(Locator::Css("#email-error"), "the e-mail's error")
        .await;
    fits(&browser, "the refused client form").await;
    type_into(&browser, "#email", "janet@clients.example").await;
    type_into(&browser, "#title", "Trustee").await;
    browser.click("#save-client").await;
    browser.heading("Janet Client").await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("The changes were saved.")
    );
    assert!(browser.text("#client-groups").await.contains("Advisers"));
    fits(&browser, "the client's page").await;
    browser
        .snapshot_at("console-client-edit", Some("client-details"))
        .await;
    assert_eq!(client(&app, &acme, &jane).await["title"], "Trustee");

    browser
        .client
        .goto(&format!(
            "{}/console/tenancies/{}/staff/{}",
            app.address, acme.id, acme.admin_id
        ))
        .await
        .unwrap();
    browser.heading("Ada Admin").await;
    type_into(&browser, "#user_id", SALESFORCE_USER).await;
    type_into(&browser, "#username", "ada@acme.example.sf").await;
    browser.click("#save-salesforce").await;
    browser
        .wait_for(Locator::Css("#notice"), "the notice")
        .await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("The Salesforce user they act as was saved.")
    );
    assert_eq!(browser.value("#user_id").await, SALESFORCE_USER);
    fits(&browser, "the staff user's page").await;
    browser
        .snapshot_at("console-staff-salesforce", Some("staff-salesforce"))
        .await;
    browser.stop().await;
}

async fn the_intake_pages_values_have_copy_buttons_that_work(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let id = id_of(&link);
    let browser = operator_browser(&app).await;
    browser
        .client
        .goto(&format!(
            "{}/console/org-links/{id}/intake/rotate",
            app.address
        ))
        .await
        .unwrap();
    browser.click("#confirm").await;
    browser.heading("Intake setup").await;
    for button in [
        "#copy-outbound-message-url",
        "#copy-webhook-secret",
        "#copy-webhook-url",
    ] {
        let shown = browser
            .client
            .find(Locator::Css(button))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap();
        assert!(shown, "{button} is offered");
    }
    browser.click("#copy-webhook-url").await;
    browser
        .wait_for(
            Locator::XPath("//button[@id='copy-webhook-url' and normalize-space()='Copied']"),
            "the button saying it copied",
        )
        .await;
    fits(&browser, "the intake page").await;
    browser.stop().await;
}
