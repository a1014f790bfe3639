//! The audit trail: every administrator's and operator's change is an entry with its actor,
//! target and change, written with the change itself; a refused change leaves none; a
//! tenancy's trail is read only by its system administrators and operators; no entry ever
//! holds a secret.

use liaison::clock::Clock;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::console;
use crate::helpers::salesforce::{connect, fixture, jwt_link, web_server_link};
use crate::helpers::{
    Tenancy, TestApp, at, conflict, forbidden, id_of, invalid, invited, team_account,
};
use crate::on_both_backends;

on_both_backends!(
    every_admin_change_is_an_entry_with_its_actor_target_and_change,
    no_entry_holds_a_secret_of_a_link_its_keys_or_tokens,
    a_refused_or_failed_change_leaves_no_entry,
    a_tenancys_trail_is_for_its_system_administrators_and_operators,
    the_trail_filters_by_action_actor_target_and_time_and_pages,
    a_tenancy_a_link_begins_or_stops_serving_finds_it_in_its_own_trail,
    groups_and_team_accounts_made_and_changed_are_entries_in_their_tenancys_trail_alone,
    a_refused_group_or_team_account_change_leaves_no_entry,
);

on_both_backends!(with super::console::with_mail();
    a_group_renamed_in_the_console_is_on_its_tenancys_audit_page_and_no_others,
);

/// The tenancy's whole trail, as its administrator reads it.
async fn trail(app: &TestApp, t: &Tenancy) -> Vec<Value> {
    let page = app.get(&at(t, "/audit?limit=200"), &t.admin_token).await;
    page.expect(200)["items"].as_array().expect("items").clone()
}

/// The installation's whole trail, as an operator reads it.
async fn installation(app: &TestApp) -> Vec<Value> {
    let page = app.get("/api/v1/audit?limit=200", &app.operator).await;
    page.expect(200)["items"].as_array().expect("items").clone()
}

/// The entries of `action` about `target`.
fn entries<'a>(trail: &'a [Value], action: &str, target: &str) -> Vec<&'a Value> {
    trail
        .iter()
        .filter(|e| e["action"] == action && e["target"]["id"] == target)
        .collect()
}

/// The one entry of `action` about `target`.
#[track_caller]
fn entry<'a>(trail: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found = entries(trail, action, target);
    assert_eq!(found.len(), 1, "{action} on {target}: {trail:#?}");
    found[0]
}

#[track_caller]
fn by(entry: &Value, kind: &str, id: &str) {
    assert_eq!(entry["actor"]["kind"], kind, "{entry:#}");
    assert_eq!(entry["actor"]["id"], id, "{entry:#}");
    assert_eq!(entry["actor"]["label"], format!("{kind}:{id}"), "{entry:#}");
}

/// The id of the token that acts as `staff`, from the tenancy's token list.
async fn token_of(app: &TestApp, t: &Tenancy, staff: &str) -> String {
    let page = app.get(&at(t, "/tokens"), &t.admin_token).await.expect(200);
    let items = page["items"].as_array().expect("items");
    let found = items
        .iter()
        .find(|i| i["staff_id"] == staff)
        .expect("token");
    id_of(found)
}

/// The operator's token id: the actor id of the entries the operator made.
async fn operator_id(app: &TestApp) -> String {
    let made = app
        .post(
            "/api/v1/operator/tokens",
            &app.operator,
            json!({ "name": "probe" }),
        )
        .await
        .expect(201);
    let all = installation(app).await;
    entry(&all, "token.created", &id_of(&made))["actor"]["id"]
        .as_str()
        .expect("operator id")
        .to_string()
}

async fn revocation_answered(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&app.salesforce)
        .await;
}

async fn every_admin_change_is_an_entry_with_its_actor_target_and_change(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let operator = operator_id(&app).await;
    let admin = t.admin_id.clone();
    let link = web_server_link(&app, &t).await;
    let l = id_of(&link);
    let url = format!("/api/v1/org-links/{l}");
    let mut mapping = link["field_mapping"].clone();
    mapping["read_only"] = json!(["email"]);
    app.patch(
        &url,
        &t.admin_token,
        json!({ "name": "Acme live", "consumer_secret": "n3w-consumer", "field_mapping": mapping }),
    )
    .await
    .expect(200);
    app.post(&format!("{url}/intake-secrets"), &t.admin_token, json!({}))
        .await
        .expect(200);
    app.post(&format!("{url}/api-key"), &t.admin_token, json!({}))
        .await
        .expect(201);
    connect(&app, &link).await;
    revocation_answered(&app).await;
    app.post(&format!("{url}/disconnect"), &t.admin_token, json!({}))
        .await
        .expect(200);

    let (sam, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    let sam_token = token_of(&app, &t, &sam).await;
    for _ in 0..2 {
        app.delete(&at(&t, &format!("/tokens/{sam_token}")), &t.admin_token)
            .await
            .expect(200);
    }
    let staff_url = at(&t, &format!("/staff/{sam}"));
    for change in [
        json!({ "role": "users_administrator" }),
        json!({ "active": false }),
        json!({ "active": true }),
        json!({ "title": "Partner" }),
    ] {
        app.patch(&staff_url, &t.admin_token, change)
            .await
            .expect(200);
    }
    let team = app.group(&t, "client-teams", "Private Office", &[]).await;
    let member = at(&t, &format!("/client-teams/{team}/members/{sam}"));
    app.put(&member, &t.admin_token, None).await.expect(200);
    app.delete(&member, &t.admin_token).await.expect(204);
    app.delete(&url, &t.admin_token).await.expect(204);

    let all = trail(&app, &t).await;
    assert!(all.iter().all(|e| e["tenancy_id"] == t.id.as_str()));
    let created = entry(&all, "org_link.created", &l);
    by(created, "operator", &operator);
    assert_eq!(created["target"]["kind"], "org_link");
    assert_eq!(created["change"]["name"]["after"], "Acme production");
    assert_eq!(created["change"]["consumer_secret"], "changed");
    let updated = entry(&all, "org_link.updated", &l);
    by(updated, "staff", &admin);
    assert_eq!(
        updated["change"],
        json!({ "name": { "before": "Acme production", "after": "Acme live" },
                "consumer_secret": "changed" })
    );
    let remapped = entry(&all, "org_link.mapping_changed", &l);
    assert_eq!(
        remapped["change"]["field_mapping"]["before"],
        link["field_mapping"]
    );
    assert_eq!(remapped["change"]["field_mapping"]["after"], mapping);
    by(entry(&all, "intake_secrets.rotated", &l), "staff", &admin);
    by(entry(&all, "org_link.api_key_issued", &l), "staff", &admin);
    let connected = entry(&all, "org_link.connected", &l);
    // The callback has no bearer token: whoever started the flow connected the link.
    by(connected, "operator", &operator);
    assert_eq!(connected["change"]["state"]["after"], "connected");
    let disconnected = entry(&all, "org_link.disconnected", &l);
    by(disconnected, "staff", &admin);
    assert_eq!(disconnected["change"]["state"]["after"], "not_connected");
    let deleted = entry(&all, "org_link.deleted", &l);
    assert_eq!(deleted["change"]["name"]["before"], "Acme live");

    let added = entry(&all, "staff.created", &sam);
    by(added, "staff", &admin);
    assert_eq!(added["change"]["role"]["after"], "staff");
    let promoted = entry(&all, "staff.role_changed", &sam);
    assert_eq!(
        promoted["change"],
        json!({ "role": { "before": "staff", "after": "users_administrator" } })
    );
    let off = entry(&all, "staff.deactivated", &sam);
    assert_eq!(
        off["change"]["active"],
        json!({ "before": true, "after": false })
    );
    let on = entry(&all, "staff.reactivated", &sam);
    assert_eq!(
        on["change"]["active"],
        json!({ "before": false, "after": true })
    );
    let titled = entry(&all, "staff.updated", &sam);
    assert_eq!(
        titled["change"]["title"],
        json!({ "before": null, "after": "Partner" })
    );

    let joined = entry(&all, "group.member_added", &team);
    assert_eq!(joined["target"]["kind"], "client_team");
    assert_eq!(joined["change"]["user_id"]["after"], sam.as_str());
    let left = entry(&all, "group.member_removed", &team);
    assert_eq!(left["change"]["user_id"]["before"], sam.as_str());

    let issued = entry(&all, "token.created", &sam_token);
    by(issued, "operator", &operator);
    assert_eq!(issued["change"]["staff_id"]["after"], sam.as_str());
    // Revoking twice changes it once.
    let revoked = entry(&all, "token.revoked", &sam_token);
    by(revoked, "staff", &admin);
    assert!(revoked["change"]["revoked_at"]["after"].is_string());
}

/// Every secret a link, its keys and the API's tokens were given or made.
async fn no_entry_holds_a_secret_of_a_link_its_keys_or_tokens(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let web = web_server_link(&app, &t).await;
    let mut secrets = vec![
        "s3cret-consumer".to_string(),
        "n3w-consumer-secret".to_string(),
    ];
    secrets.extend(intake_secrets(&web["intake_secrets"]));
    let url = format!("/api/v1/org-links/{}", id_of(&web));
    app.patch(
        &url,
        &app.operator,
        json!({ "consumer_secret": "n3w-consumer-secret" }),
    )
    .await
    .expect(200);
    let rotated = app
        .post(&format!("{url}/intake-secrets"), &app.operator, json!({}))
        .await
        .expect(200);
    secrets.extend(intake_secrets(&rotated));
    let key = app
        .post(&format!("{url}/api-key"), &app.operator, json!({}))
        .await
        .expect(201);
    secrets.push(key["api_key"].as_str().expect("key").to_string());
    connect(&app, &web).await;
    secrets.extend(
        [
            "00D5g000004ZKTD!AQ0AQ.web.access",
            "5Aep861web.refresh.token",
        ]
        .map(String::from),
    );
    // One link per org: the JWT bearer link of the same org comes after this one goes.
    revocation_answered(&app).await;
    app.delete(&url, &app.operator).await.expect(204);

    let jwt = jwt_link(&app, &t).await;
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wiremock-fixtures/oauth/test-only-jwt-key.pem"
    ))
    .expect("key");
    secrets.extend(pem.lines().filter(|l| l.len() > 40).map(String::from));
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("jwt-bearer"))
        .respond_with(fixture(&app, "oauth/token-jwt-bearer.json"))
        .mount(&app.salesforce)
        .await;
    app.post(
        &format!("/api/v1/org-links/{}/connect", id_of(&jwt)),
        &app.operator,
        json!({}),
    )
    .await
    .expect(200);
    secrets.push("00D5g000004ZKTD!AQ0AQ.jwt.access".into());
    let token = app
        .post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": t.admin_id, "name": "CI" }),
        )
        .await
        .expect(201);
    secrets.push(token["token"].as_str().expect("token").to_string());
    secrets.push(t.admin_token.clone());
    secrets.push(app.operator.clone());

    let stored = stored_rows(&app).await;
    assert!(stored.contains("consumer_secret") && stored.contains("\"changed\""));
    for secret in &secrets {
        assert!(
            !stored.contains(secret.as_str()),
            "{secret} is in the trail"
        );
    }
}

/// What a link's intake secrets answer shows once: the webhook secret and the Outbound
/// Message URL's token.
fn intake_secrets(shown: &Value) -> Vec<String> {
    let url = shown["outbound_message_url"].as_str().expect("url");
    vec![
        shown["webhook_secret"]
            .as_str()
            .expect("webhook secret")
            .to_string(),
        url.rsplit('/').next().expect("token").to_string(),
    ]
}

/// Every column of every stored entry, read from the database itself.
async fn stored_rows(app: &TestApp) -> String {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app.database_url)
        .await
        .expect("pool");
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT actor_label, action, target_kind, target_id, changes FROM audit_events ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("rows");
    assert!(rows.len() >= 8, "{rows:?}");
    pool.close().await;
    rows.into_iter()
        .map(|(actor, action, kind, id, changes)| [actor, action, kind, id, changes].join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn a_refused_or_failed_change_leaves_no_entry(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, sam_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let team = app
        .group(&t, "client-teams", "Private Office", &[&sam])
        .await;
    invited(&app, &t, "Jane", "client_teams", &[&team], json!({})).await;
    let other = app.tenancy("Beta Partners", "client_teams").await;
    let shared = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Shared", "org_id": "00D5g0000000777", "login_host": "production",
                    "auth_kind": "web_server", "consumer_key": "3MVG9consumer",
                    "consumer_secret": "s3cret-consumer", "tenancies": [t.id, other.id] }),
        )
        .await
        .expect(201);
    let own = web_server_link(&app, &other).await;
    let before = installation(&app).await;

    // Refused by a rule under the store's locks, after the transaction began.
    conflict(
        app.patch(
            &at(&t, &format!("/staff/{sam}")),
            &t.admin_token,
            json!({ "active": false }),
        )
        .await,
        "client-not-covered",
        &[],
    );
    conflict(
        app.delete(
            &at(&t, &format!("/client-teams/{team}/members/{sam}")),
            &t.admin_token,
        )
        .await,
        "client-not-covered",
        &[],
    );
    // Refused: a link several tenancies share is the operators'.
    forbidden(
        app.patch(
            &format!("/api/v1/org-links/{}", id_of(&shared)),
            &t.admin_token,
            json!({ "name": "Mine now" }),
        )
        .await,
    );
    // Failed in the store halfway: the link's new name was written, then a tenancy was not
    // found, and the whole transaction rolled back.
    app.patch(
        &format!("/api/v1/org-links/{}", id_of(&own)),
        &app.operator,
        json!({ "name": "Renamed", "tenancies": [other.id, uuid::Uuid::now_v7()] }),
    )
    .await
    .expect(422);
    // Refused before anything is written.
    forbidden(
        app.post(
            &at(&t, "/staff"),
            &sam_token,
            json!({ "first_name": "Eve", "last_name": "Spy", "email": "eve@acme.example" }),
        )
        .await,
    );
    app.delete(
        &at(&t, &format!("/tokens/{}", uuid::Uuid::now_v7())),
        &t.admin_token,
    )
    .await
    .expect(404);

    assert_eq!(installation(&app).await, before);
    let link = app
        .get(&format!("/api/v1/org-links/{}", id_of(&own)), &app.operator)
        .await
        .expect(200);
    assert_eq!(link["name"], "Acme production");
}

async fn a_tenancys_trail_is_for_its_system_administrators_and_operators(app: TestApp) {
    let a = app.tenancy("Alpha Wealth", "client_teams").await;
    let b = app.tenancy("Beta Partners", "client_teams").await;
    let (_, users_admin) = app
        .staff(&a, "Uma", "Useradmin", "users_administrator")
        .await;
    let (_, plain) = app.staff(&a, "Pia", "Plain", "staff").await;
    web_server_link(&app, &a).await;
    operator_id(&app).await;

    let foreign = app
        .get(&at(&a, "/audit"), &b.admin_token)
        .await
        .problem(404);
    assert_eq!(foreign["code"], "not-found");
    let unknown = app
        .get(
            &format!("/api/v1/tenancies/{}/audit", uuid::Uuid::now_v7()),
            &b.admin_token,
        )
        .await
        .problem(404);
    assert_eq!(unknown, foreign);
    for token in [&users_admin, &plain] {
        forbidden(app.get(&at(&a, "/audit"), token).await);
    }
    for token in [&a.admin_token, &b.admin_token, &plain] {
        forbidden(app.get("/api/v1/audit", token).await);
    }
    let own = trail(&app, &a).await;
    assert!(!own.is_empty());
    assert!(
        own.iter().all(|e| e["tenancy_id"] == a.id.as_str()),
        "{own:#?}"
    );
    assert!(
        trail(&app, &b)
            .await
            .iter()
            .all(|e| e["tenancy_id"] == b.id.as_str())
    );
    let operator = app.get(&at(&a, "/audit?limit=200"), &app.operator).await;
    assert_eq!(
        operator.expect(200)["items"].as_array().expect("items"),
        &own
    );
    // The installation's trail holds every tenancy's entries and its own.
    let all = installation(&app).await;
    assert!(all.iter().any(|e| e["tenancy_id"] == b.id.as_str()));
    assert!(all.iter().any(|e| e["tenancy_id"].is_null()));
}

async fn the_trail_filters_by_action_actor_target_and_time_and_pages(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    app.clock.advance(time::Duration::hours(1));
    let noon = app
        .clock
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let (pia, _) = app.staff(&t, "Pia", "Plain", "staff").await;
    let query = |q: String| {
        let (app, t) = (&app, &t);
        async move {
            let page = app
                .get(&at(t, &format!("/audit?{q}")), &t.admin_token)
                .await;
            page.expect(200)["items"].as_array().expect("items").clone()
        }
    };
    let created = query("action=staff.created".into()).await;
    let ids: Vec<&Value> = created.iter().map(|e| &e["target"]["id"]).collect();
    assert_eq!(ids, [&json!(t.admin_id), &json!(sam), &json!(pia)]);
    let by_admin = query(format!("actor={}", t.admin_id)).await;
    assert!(!by_admin.is_empty());
    assert!(
        by_admin
            .iter()
            .all(|e| e["actor"]["id"] == t.admin_id.as_str())
    );
    let about_sam = query(format!("target={sam}")).await;
    assert_eq!(about_sam.len(), 1);
    assert_eq!(about_sam[0]["action"], "staff.created");
    let since = query(format!("from={}", urlencode(&noon))).await;
    assert_eq!(since.len(), 2, "Pia and her token: {since:#?}");
    assert_eq!(since[0]["target"]["id"], pia.as_str());
    let before = query(format!("until={}", urlencode(&noon))).await;
    assert_eq!(
        before.len() + since.len(),
        query("limit=200".into()).await.len()
    );

    let first = app
        .get(&at(&t, "/audit?limit=1"), &t.admin_token)
        .await
        .expect(200);
    let cursor = first["next_cursor"].as_str().expect("cursor");
    let second = query(format!("limit=1&after={cursor}")).await;
    assert_ne!(second[0]["id"], first["items"][0]["id"]);

    let bad = app
        .get(&at(&t, "/audit?action=org_link.exploded"), &t.admin_token)
        .await
        .problem(400);
    assert_eq!(bad["errors"][0]["field"], "action", "{bad:#}");
    let bad = app
        .get(&at(&t, "/audit?from=yesterday"), &t.admin_token)
        .await
        .problem(400);
    assert_eq!(bad["errors"][0]["field"], "from", "{bad:#}");
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A link's change of tenancies is an entry in each tenancy it added or removed, naming only
/// that tenancy; a change of a link that serves several is the installation's.
async fn a_tenancy_a_link_begins_or_stops_serving_finds_it_in_its_own_trail(app: TestApp) {
    let a = app.tenancy("Alpha Wealth", "client_teams").await;
    let b = app.tenancy("Beta Partners", "client_teams").await;
    let link = id_of(&web_server_link(&app, &a).await);
    let url = format!("/api/v1/org-links/{link}");
    for tenancies in [json!([a.id, b.id]), json!([b.id])] {
        app.patch(&url, &app.operator, json!({ "tenancies": tenancies }))
            .await
            .expect(200);
    }
    let added = entry(&trail(&app, &b).await, "org_link.tenancy_added", &link).clone();
    assert_eq!(added["change"], json!({ "tenancy_id": { "after": b.id } }));
    let removed = entry(&trail(&app, &a).await, "org_link.tenancy_removed", &link).clone();
    assert_eq!(
        removed["change"],
        json!({ "tenancy_id": { "before": a.id } })
    );
    assert!(entries(&trail(&app, &b).await, "org_link.created", &link).is_empty());
}

async fn groups_and_team_accounts_made_and_changed_are_entries_in_their_tenancys_trail_alone(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let operator = operator_id(&app).await;
    let admin = t.admin_id.clone();
    let (sam, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    let team = app
        .group(&t, "client-teams", "Private Office", &[&sam, &admin])
        .await;
    let team_url = at(&t, &format!("/client-teams/{team}"));
    // The second rename asks for the name it already has: no change.
    for name in ["Family Office", "Family Office"] {
        app.patch(&team_url, &t.admin_token, json!({ "name": name }))
            .await
            .expect(200);
    }
    app.delete(&team_url, &app.operator).await.expect(204);

    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    let account_url = at(&t, &format!("/team-accounts/{support}"));
    for (token, change) in [
        (
            &t.admin_token,
            json!({ "name": "Client Support", "title": "Weekdays 9 to 5",
                    "contact_number": "+442070000002", "mobile": "+447700900001" }),
        ),
        (&app.operator, json!({ "active": false })),
        (
            &t.admin_token,
            json!({ "active": false, "title": "Weekdays 9 to 5" }),
        ),
    ] {
        app.patch(&account_url, token, change).await.expect(200);
    }

    // Plain staff create contact groups, and join the ones they create.
    let b = app.tenancy("Beta Partners", "contact_groups").await;
    let (pia, pia_token) = app.staff(&b, "Pia", "Plain", "staff").await;
    let smith = app
        .post(
            &at(&b, "/contact-groups"),
            &pia_token,
            json!({ "name": "Smith Relationship", "members": [b.admin_id] }),
        )
        .await
        .expect(201);
    let smith = id_of(&smith);

    let all = trail(&app, &t).await;
    let created = entry(&all, "group.created", &team);
    by(created, "staff", &admin);
    assert_eq!(created["target"]["kind"], "client_team");
    assert_eq!(
        created["change"],
        json!({ "name": { "after": "Private Office" }, "members": { "after": [sam, admin] } })
    );
    let renamed = entry(&all, "group.renamed", &team);
    by(renamed, "staff", &admin);
    assert_eq!(
        renamed["change"],
        json!({ "name": { "before": "Private Office", "after": "Family Office" } })
    );
    let deleted = entry(&all, "group.deleted", &team);
    by(deleted, "operator", &operator);
    assert_eq!(deleted["target"]["kind"], "client_team");
    assert_eq!(
        deleted["change"],
        json!({ "name": { "before": "Family Office" } })
    );

    let opened = entry(&all, "team_account.created", &support);
    by(opened, "staff", &admin);
    assert_eq!(opened["target"]["kind"], "team_account");
    assert_eq!(
        opened["change"],
        json!({ "name": { "after": "Support" }, "email": { "after": "support@firm.example" },
                "mobile": { "after": "+447700900001" },
                "contact_number": { "after": "+442070000001" }, "title": { "after": null } })
    );
    // Only what changed: the mobile given again as it was is not in it, and a change that
    // changes nothing is no entry.
    let changed = entries(&all, "team_account.updated", &support);
    assert_eq!(changed.len(), 2, "{changed:#?}");
    by(changed[0], "staff", &admin);
    assert_eq!(
        changed[0]["change"],
        json!({ "name": { "before": "Support", "after": "Client Support" },
                "title": { "before": null, "after": "Weekdays 9 to 5" },
                "contact_number": { "before": "+442070000001", "after": "+442070000002" } })
    );
    by(changed[1], "operator", &operator);
    assert_eq!(
        changed[1]["change"],
        json!({ "active": { "before": true, "after": false } })
    );

    let theirs = trail(&app, &b).await;
    let made = entry(&theirs, "group.created", &smith);
    by(made, "staff", &pia);
    assert_eq!(made["target"]["kind"], "contact_group");
    assert_eq!(made["change"]["members"]["after"], json!([b.admin_id, pia]));
    // Each tenancy's trail holds its own groups and team accounts, none of the other's.
    assert!(all.iter().all(|e| e["target"]["id"] != smith.as_str()));
    assert!(theirs.iter().all(|e| {
        e["tenancy_id"] == b.id.as_str()
            && e["target"]["id"] != team.as_str()
            && e["target"]["id"] != support.as_str()
    }));
}

async fn a_refused_group_or_team_account_change_leaves_no_entry(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, sam_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let private = app
        .group(&t, "client-teams", "Private Office", &[&sam])
        .await;
    let family = app
        .group(&t, "client-teams", "Family Office", &[&sam])
        .await;
    invited(&app, &t, "Jane", "client_teams", &[&private], json!({})).await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    let other = app.tenancy("Beta Partners", "client_teams").await;
    let before = installation(&app).await;

    // Refused by the store under the tenancy's lock, after the transaction began.
    let teams = at(&t, "/client-teams");
    conflict(
        app.post(&teams, &t.admin_token, json!({ "name": "private office" }))
            .await,
        "duplicate-name",
        &["name"],
    );
    conflict(
        app.patch(
            &format!("{teams}/{family}"),
            &t.admin_token,
            json!({ "name": "PRIVATE OFFICE" }),
        )
        .await,
        "duplicate-name",
        &["name"],
    );
    conflict(
        app.delete(&format!("{teams}/{private}"), &t.admin_token)
            .await,
        "client-not-covered",
        &[],
    );
    // Failed halfway: the team was written, then a member was found to be another tenancy's.
    invalid(
        app.post(
            &teams,
            &t.admin_token,
            json!({ "name": "Trust Office", "members": [sam, other.admin_id] }),
        )
        .await,
        &["members[1]"],
    );
    let accounts = at(&t, "/team-accounts");
    conflict(
        app.post(
            &accounts,
            &t.admin_token,
            json!({ "name": "Desk", "email": "sam.staff@firm.example", "mobile": "+447700900009" }),
        )
        .await,
        "duplicate-email",
        &["email"],
    );
    conflict(
        app.post(
            &accounts,
            &t.admin_token,
            json!({ "name": "Desk", "email": "desk@firm.example", "mobile": "+447700900001" }),
        )
        .await,
        "duplicate-mobile",
        &["mobile"],
    );
    let account = format!("{accounts}/{support}");
    invalid(
        app.patch(
            &account,
            &t.admin_token,
            json!({ "name": "Helpdesk", "contact_number": "+447700900001" }),
        )
        .await,
        &["contact_number"],
    );
    // Refused before anything is written: plain staff, another tenancy's administrator.
    forbidden(
        app.patch(
            &format!("{teams}/{family}"),
            &sam_token,
            json!({ "name": "Mine" }),
        )
        .await,
    );
    forbidden(
        app.patch(&account, &sam_token, json!({ "active": false }))
            .await,
    );
    app.delete(&format!("{teams}/{family}"), &other.admin_token)
        .await
        .problem(404);
    app.patch(&account, &other.admin_token, json!({ "name": "Theirs" }))
        .await
        .problem(404);

    assert_eq!(installation(&app).await, before);
    let kept = app.get(&account, &t.admin_token).await.expect(200);
    assert_eq!(kept["name"], "Support");
}

async fn a_group_renamed_in_the_console_is_on_its_tenancys_audit_page_and_no_others(app: TestApp) {
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
    let visitor = console::admin(&app, "admin@acme-wealth.example").await;
    let page = format!("/console/tenancies/{}/groups/{smith}", acme.id);
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    let renamed = visitor
        .post(&page, &[("csrf", &shown.csrf()), ("name", "Smith Family")])
        .await;
    assert_eq!(renamed.status, 303, "{}", renamed.body);

    // In the API's trail, by the administrator whose session it was.
    let renames = trail(&app, &acme).await;
    let change = entry(&renames, "group.renamed", &smith);
    by(change, "staff", &acme.admin_id);
    assert_eq!(
        change["change"],
        json!({ "name": { "before": "Smith Relationship", "after": "Smith Family" } })
    );
    // And on the tenancy's audit page, with the name before and after.
    let audit = format!("/console/tenancies/{}/audit", acme.id);
    let listed = visitor.get(&format!("{audit}?target={smith}")).await;
    assert_eq!(listed.status, 200);
    for shown in [
        badge("group.created"),
        badge("group.renamed"),
        "Smith Relationship</span> → Smith Family".into(),
    ] {
        assert!(listed.body.contains(&shown), "{shown}: {}", listed.body);
    }

    // Another tenancy's administrator finds it neither in their trail nor in Acme's.
    let other = console::admin(&app, "admin@bravo-trust.example").await;
    let own = other
        .get(&format!("/console/tenancies/{}/audit", bravo.id))
        .await;
    assert_eq!(own.status, 200);
    assert!(!own.body.contains(&badge("group.renamed")) && !own.body.contains(&smith));
    assert_eq!(other.get(&audit).await.status, 404);
}

/// An entry's action as the console's audit page shows it.
fn badge(action: &str) -> String {
    format!("<span class=\"slds-badge\">{action}</span>")
}
