//! The audit trail of a tenancy's directory beyond staff and groups: a client's details
//! corrected, a client linked by hand to their Salesforce record, and a staff user mapped to
//! their Salesforce user are each one entry with its actor, target and each field before and
//! after, through the API and the console alike; a refused change writes none, and another
//! tenancy's trail never shows them. And the two reads of a client the console already had:
//! the Salesforce record they are linked to and the groups they are in.

use liaison::domain::values::SalesforceId;
use serde_json::{Value, json};

use crate::helpers::console::{admin, html, with_mail};
use crate::helpers::salesforce::web_server_link;
use crate::helpers::{Reply, Tenancy, TestApp, at, conflict, forbidden, id_of, invalid, invited};
use crate::on_both_backends;

on_both_backends!(
    each_directory_change_is_one_entry_with_its_actor_target_and_before_and_after,
    a_refused_directory_change_writes_no_entry,
    another_tenancys_trail_does_not_show_them_and_its_administrator_is_refused,
    a_clients_record_and_groups_are_read_as_the_console_reads_them,
);

on_both_backends!(with super::with_mail();
    a_client_corrected_in_the_console_is_on_the_tenancys_audit_page,
);

const DIRECTORY_ACTIONS: [&str; 3] = [
    "client.updated",
    "client.record_linked",
    "staff.salesforce_user_mapped",
];

/// A Salesforce user's id, with its checksum.
const SALESFORCE_USER: &str = "0055g00000AbCdEAAV";

/// Contact `n`'s id as Liaison keeps it (18 characters).
fn contact(n: usize) -> String {
    SalesforceId::parse(&format!("0035g0000{n:06}"))
        .expect("contact id")
        .as_str()
        .to_string()
}

/// A client-teams tenancy with a team its administrator covers, and Jane, a draft in it.
async fn with_jane(app: &TestApp, name: &str) -> (Tenancy, String, String) {
    let t = app.tenancy(name, "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Advisers", &[&t.admin_id])
        .await;
    let jane = invited(app, &t, "Jane", "client_teams", &[&team], json!({})).await;
    (t, team, jane)
}

/// The tenancy's trail as its administrator reads it, narrowed by the API's filters in
/// `query` (`&name=value…`).
async fn trail(app: &TestApp, t: &Tenancy, query: &str) -> Vec<Value> {
    let path = at(t, &format!("/audit?limit=200{query}"));
    app.get(&path, &t.admin_token).await.expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

/// The entries of `action` about `target`, oldest first, as the trail's filters find them.
async fn entries(app: &TestApp, t: &Tenancy, action: &str, target: &str) -> Vec<Value> {
    trail(app, t, &format!("&action={action}&target={target}")).await
}

/// The trail's entries of the directory's actions.
fn directory_entries(trail: &[Value]) -> Vec<&Value> {
    trail
        .iter()
        .filter(|e| DIRECTORY_ACTIONS.iter().any(|a| e["action"] == *a))
        .collect()
}

#[track_caller]
fn by_staff(entry: &Value, t: &Tenancy, staff: &str, kind: &str) {
    assert_eq!(entry["tenancy_id"], t.id.as_str(), "{entry:#}");
    assert_eq!(entry["actor"]["kind"], "staff", "{entry:#}");
    assert_eq!(entry["actor"]["id"], staff, "{entry:#}");
    assert_eq!(
        entry["actor"]["label"],
        format!("staff:{staff}"),
        "{entry:#}"
    );
    assert_eq!(entry["target"]["kind"], kind, "{entry:#}");
}

/// The change of the one `client.updated` entry about `client`, which the tenancy's first
/// administrator made.
async fn corrected_by_admin(app: &TestApp, t: &Tenancy, client: &str) -> Value {
    let updated = entries(app, t, "client.updated", client).await;
    assert_eq!(updated.len(), 1, "{updated:#?}");
    by_staff(&updated[0], t, &t.admin_id, "client");
    updated[0]["change"].clone()
}

/// Links `client` to the record `body` names, as the holder of `token`.
async fn link_record(app: &TestApp, t: &Tenancy, client: &str, token: &str, body: Value) -> Reply {
    let path = at(t, &format!("/clients/{client}/crm-record"));
    app.put(&path, token, Some(body)).await
}

/// Maps `staff` to the Salesforce user `body` names, as the holder of `token`.
async fn map_user(app: &TestApp, t: &Tenancy, staff: &str, token: &str, body: Value) -> Reply {
    let path = at(t, &format!("/staff/{staff}/salesforce-user"));
    app.put(&path, token, Some(body)).await
}

async fn each_directory_change_is_one_entry_with_its_actor_target_and_before_and_after(
    app: TestApp,
) {
    let (t, _, jane) = with_jane(&app, "Acme Wealth").await;
    let (uma, uma_token) = app
        .staff(&t, "Uma", "Useradmin", "users_administrator")
        .await;
    let (sam, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    let link = id_of(&web_server_link(&app, &t).await);
    let client_path = at(&t, &format!("/clients/{jane}"));

    // Her details: only the fields that changed are in the change; the same again is none.
    let correction =
        json!({ "first_name": "Janet", "last_name": "Client", "mobile": "+447700900123" });
    for _ in 0..2 {
        app.patch(&client_path, &t.admin_token, correction.clone())
            .await
            .expect(200);
    }
    // Her record: linked, linked again to the same one (its status written back again, nothing
    // changed), then to another by a users administrator.
    let first = json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact(1) });
    for _ in 0..2 {
        link_record(&app, &t, &jane, &t.admin_token, first.clone())
            .await
            .expect(204);
    }
    let second = json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact(2) });
    link_record(&app, &t, &jane, &uma_token, second)
        .await
        .expect(204);
    // Sam's Salesforce user: mapped, mapped the same again, then cleared.
    let mapping = json!({ "user_id": SALESFORCE_USER, "username": "Sam@Acme.example" });
    for _ in 0..2 {
        map_user(&app, &t, &sam, &t.admin_token, mapping.clone())
            .await
            .expect(200);
    }
    let cleared = map_user(&app, &t, &sam, &app.operator, json!({}))
        .await
        .expect(200);
    assert!(cleared["salesforce_user_id"].is_null(), "{cleared:#}");

    let all = trail(&app, &t, "").await;
    assert_eq!(
        corrected_by_admin(&app, &t, &jane).await,
        json!({ "first_name": { "before": "Jane", "after": "Janet" },
                "mobile": { "before": null, "after": "+447700900123" } })
    );

    let linked = entries(&app, &t, "client.record_linked", &jane).await;
    assert_eq!(linked.len(), 2, "{all:#?}");
    by_staff(&linked[0], &t, &t.admin_id, "client");
    assert_eq!(
        linked[0]["change"],
        json!({ "org_link_id": { "after": link }, "sobject": { "after": "Contact" },
                "record_id": { "after": contact(1) } })
    );
    by_staff(&linked[1], &t, &uma, "client");
    assert_eq!(
        linked[1]["change"],
        json!({ "record_id": { "before": contact(1), "after": contact(2) } })
    );

    let mapped = entries(&app, &t, "staff.salesforce_user_mapped", &sam).await;
    assert_eq!(mapped.len(), 2, "{all:#?}");
    by_staff(&mapped[0], &t, &t.admin_id, "staff");
    assert_eq!(
        mapped[0]["change"],
        json!({ "salesforce_user_id": { "before": null, "after": SALESFORCE_USER },
                "salesforce_username": { "before": null, "after": "sam@acme.example" } })
    );
    // Cleared by the operator, in the tenancy's trail too.
    assert_eq!(mapped[1]["actor"]["kind"], "operator", "{:#}", mapped[1]);
    assert_eq!(mapped[1]["tenancy_id"], t.id.as_str());
    assert_eq!(
        mapped[1]["change"],
        json!({ "salesforce_user_id": { "before": SALESFORCE_USER, "after": null },
                "salesforce_username": { "before": "sam@acme.example", "after": null } })
    );
    assert_eq!(directory_entries(&all).len(), 5, "{all:#?}");

    // Everything about Jane, in the order it happened.
    let about_jane = trail(&app, &t, &format!("&target={jane}")).await;
    let actions: Vec<&Value> = about_jane.iter().map(|e| &e["action"]).collect();
    assert_eq!(
        actions,
        [
            &json!("client.updated"),
            &json!("client.record_linked"),
            &json!("client.record_linked")
        ]
    );
}

async fn a_refused_directory_change_writes_no_entry(app: TestApp) {
    let (t, team, jane) = with_jane(&app, "Acme Wealth").await;
    let bob = invited(&app, &t, "Bob", "client_teams", &[&team], json!({})).await;
    let (sam, sam_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let (pia, _) = app.staff(&t, "Pia", "Plain", "staff").await;
    let link = id_of(&web_server_link(&app, &t).await);
    let other = app.tenancy("Beta Partners", "client_teams").await;
    let beta_org = json!({ "name": "Beta production", "org_id": "00D5g0000000777",
                           "login_host": "production", "auth_kind": "web_server",
                           "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret-consumer",
                           "tenancies": [other.id] });
    let beta_link = app.post("/api/v1/org-links", &app.operator, beta_org);
    let others_link = beta_link.await.expect(201);
    let record = |link: &str, n: usize| json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact(n) });
    link_record(&app, &t, &bob, &t.admin_token, record(&link, 1))
        .await
        .expect(204);
    let users = |n: &str| json!({ "user_id": n });
    map_user(&app, &t, &pia, &t.admin_token, users(SALESFORCE_USER))
        .await
        .expect(200);
    let before = trail(&app, &t, "").await;

    let jane_path = at(&t, &format!("/clients/{jane}"));
    // Refused by their fields, by the tenancy's mobile policy, by Bob's address.
    invalid(
        app.patch(
            &jane_path,
            &t.admin_token,
            json!({ "email": "jane at home" }),
        )
        .await,
        &["email"],
    );
    invalid(
        app.patch(
            &jane_path,
            &t.admin_token,
            json!({ "first_name": "Janet", "mobile": "12" }),
        )
        .await,
        &["mobile"],
    );
    app.patch(
        &jane_path,
        &t.admin_token,
        json!({ "first_name": "Janet", "email": "bob@clients.example" }),
    )
    .await
    .problem(409);
    forbidden(
        app.patch(&jane_path, &sam_token, json!({ "first_name": "Janet" }))
            .await,
    );
    // A record of the wrong kind, a link of another tenancy, Bob's record.
    let account = json!({ "org_link_id": link, "sobject": "Account", "record_id": contact(2) });
    let elsewhere = record(&id_of(&others_link), 2);
    for (body, field) in [(account, "record_id"), (elsewhere, "org_link_id")] {
        let reply = link_record(&app, &t, &jane, &t.admin_token, body).await;
        invalid(reply, &[field]);
    }
    conflict(
        link_record(&app, &t, &jane, &t.admin_token, record(&link, 1)).await,
        "record-linked",
        &["record_id"],
    );
    forbidden(link_record(&app, &t, &jane, &sam_token, record(&link, 2)).await);
    // Pia's Salesforce user is Pia's; an id that is no user's; a plain staff member.
    conflict(
        map_user(&app, &t, &sam, &t.admin_token, users(SALESFORCE_USER)).await,
        "salesforce-user-taken",
        &["user_id"],
    );
    invalid(
        map_user(&app, &t, &sam, &t.admin_token, users(&contact(3))).await,
        &["user_id"],
    );
    forbidden(map_user(&app, &t, &sam, &sam_token, users(SALESFORCE_USER)).await);

    assert_eq!(trail(&app, &t, "").await, before);
    let jane_now = app.get(&jane_path, &t.admin_token).await.expect(200);
    assert_eq!(jane_now["first_name"], "Jane");
    assert_eq!(jane_now["email"], "jane@clients.example");
    let unlinked = app
        .get(
            &at(&t, &format!("/clients/{jane}/crm-record")),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert!(unlinked.is_null(), "{unlinked:#}");
}

async fn another_tenancys_trail_does_not_show_them_and_its_administrator_is_refused(app: TestApp) {
    let (a, _, jane) = with_jane(&app, "Alpha Wealth").await;
    let (b, _, _) = with_jane(&app, "Beta Partners").await;
    let (sam, _) = app.staff(&a, "Sam", "Staff", "staff").await;
    let link = id_of(&web_server_link(&app, &a).await);
    let record = json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact(1) });
    let b_before = trail(&app, &b, "").await;

    // B's administrator is told A's client and staff user do not exist, and changes nothing.
    let jane_path = at(&a, &format!("/clients/{jane}"));
    let mapping = json!({ "user_id": SALESFORCE_USER });
    let refused = [
        app.patch(&jane_path, &b.admin_token, json!({ "first_name": "Janet" }))
            .await,
        link_record(&app, &a, &jane, &b.admin_token, record.clone()).await,
        map_user(&app, &a, &sam, &b.admin_token, mapping.clone()).await,
    ];
    for reply in refused {
        assert_eq!(reply.problem(404)["code"], "not-found");
    }
    assert!(directory_entries(&trail(&app, &a, "").await).is_empty());

    // A's own administrator makes each change: in A's trail, never in B's.
    app.patch(&jane_path, &a.admin_token, json!({ "first_name": "Janet" }))
        .await
        .expect(200);
    link_record(&app, &a, &jane, &a.admin_token, record)
        .await
        .expect(204);
    map_user(&app, &a, &sam, &a.admin_token, mapping)
        .await
        .expect(200);
    assert_eq!(directory_entries(&trail(&app, &a, "").await).len(), 3);
    let b_after = trail(&app, &b, "").await;
    assert_eq!(b_after, b_before);
    let b_text = serde_json::to_string(&b_after).expect("json");
    for id in [&jane, &sam, &link] {
        assert!(!b_text.contains(id.as_str()), "{id} in B's trail");
    }
    // Nor does B's administrator find them by asking for them.
    for query in [
        format!("/audit?target={jane}"),
        "/audit?action=client.updated".to_string(),
    ] {
        let found = app.get(&at(&b, &query), &b.admin_token).await.expect(200);
        assert_eq!(found["items"], json!([]), "{query}");
    }
    app.get(&at(&a, "/audit"), &b.admin_token)
        .await
        .problem(404);
}

async fn a_clients_record_and_groups_are_read_as_the_console_reads_them(app: TestApp) {
    let (t, advisers, jane) = with_jane(&app, "Acme Wealth").await;
    let tax = app.group(&t, "client-teams", "Tax", &[&t.admin_id]).await;
    let (pia, pia_token) = app.staff(&t, "Pia", "Plain", "staff").await;
    let join_tax = |member: &str| {
        let path = at(&t, &format!("/client-teams/{tax}/members/{member}"));
        let token = t.admin_token.clone();
        let app = &app;
        async move { app.put(&path, &token, None).await.expect(200) }
    };
    join_tax(&jane).await;
    let record_path = at(&t, &format!("/clients/{jane}/crm-record"));
    let groups_path = at(&t, &format!("/clients/{jane}/groups"));

    // Not linked yet: no record.
    let none = app.get(&record_path, &t.admin_token).await.expect(200);
    assert!(none.is_null(), "{none:#}");
    let link = id_of(&web_server_link(&app, &t).await);
    let linked = json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact(7) });
    link_record(&app, &t, &jane, &t.admin_token, linked.clone())
        .await
        .expect(204);
    // What the read answers is what linking takes.
    for token in [&t.admin_token, &app.operator] {
        assert_eq!(app.get(&record_path, token).await.expect(200), linked);
    }
    let groups = app.get(&groups_path, &t.admin_token).await.expect(200);
    let names: Vec<&Value> = groups
        .as_array()
        .expect("a list")
        .iter()
        .map(|g| &g["name"])
        .collect();
    assert_eq!(names, [&json!("Advisers"), &json!("Tax")], "{groups:#}");
    assert_eq!(groups[0]["id"], advisers.as_str());
    assert_eq!(groups[0]["kind"], "client_team");
    assert_eq!(groups[1]["id"], tax.as_str());

    // Plain staff who share no team with her are told she does not exist; once in one of her
    // teams, they read both.
    for path in [&record_path, &groups_path] {
        assert_eq!(
            app.get(path, &pia_token).await.problem(404)["code"],
            "not-found"
        );
    }
    join_tax(&pia).await;
    assert_eq!(app.get(&record_path, &pia_token).await.expect(200), linked);
    assert_eq!(
        app.get(&groups_path, &pia_token).await.expect(200),
        app.get(&groups_path, &t.admin_token).await.expect(200)
    );

    // Another tenancy's administrator gets what an unknown client gets: 404.
    let other = app.tenancy("Beta Partners", "client_teams").await;
    let nobody = uuid::Uuid::now_v7().to_string();
    for rest in ["crm-record", "groups"] {
        let asks = [
            (&t, &jane, &other.admin_token),
            (&t, &nobody, &t.admin_token),
            (&other, &jane, &other.admin_token),
        ];
        for (tenancy, client, token) in asks {
            let path = at(tenancy, &format!("/clients/{client}/{rest}"));
            let refused = app.get(&path, token).await.problem(404);
            assert_eq!(refused["code"], "not-found", "{path}");
        }
    }
}

async fn a_client_corrected_in_the_console_is_on_the_tenancys_audit_page(app: TestApp) {
    let (t, _, jane) = with_jane(&app, "Acme Wealth").await;
    let visitor = admin(&app, "admin@acme-wealth.example").await;
    let page = format!("/console/tenancies/{}/clients/{jane}", t.id);
    let csrf = visitor.get(&page).await.csrf();
    let saved = visitor
        .post(
            &page,
            &[
                ("csrf", &csrf),
                ("first_name", "Janet"),
                ("last_name", "Client"),
                ("email", "janet@clients.example"),
                ("title", "Client"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    assert_eq!(
        corrected_by_admin(&app, &t, &jane).await,
        json!({ "first_name": { "before": "Jane", "after": "Janet" },
                "email": { "before": "jane@clients.example", "after": "janet@clients.example" } })
    );

    let audit = format!("/console/tenancies/{}/audit?action=client.updated", t.id);
    let shown = visitor.get(&audit).await;
    assert_eq!(shown.status, 200);
    assert!(
        shown
            .body
            .contains("<span class=\"slds-badge\">client.updated</span>"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains(&format!("client {jane}")), "the target");
    assert!(
        shown
            .body
            .contains(&html("Ada Admin (admin@acme-wealth.example)")),
        "who"
    );
    for value in ["Janet", "jane@clients.example", "janet@clients.example"] {
        assert!(shown.body.contains(value), "{value}");
    }
}
