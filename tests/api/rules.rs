//! The directory's rules, through HTTP: coverage, confidentiality, who may use which group,
//! who sees whom, uniqueness, the client state machine, roles, tokens, paging and settings.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Tenancy, TestApp};
use crate::on_both_backends;

on_both_backends!(
    inviting_into_client_teams_without_an_active_staff_user_is_refused_naming_the_field,
    inviting_with_a_new_contact_group_nobody_covers_is_refused_and_creates_no_group,
    removing_the_last_active_staff_user_from_a_clients_only_group_is_refused,
    deactivating_the_only_staff_user_covering_a_client_is_refused_and_they_stay_active,
    deleting_a_clients_only_team_is_refused_but_a_second_team_may_go,
    a_contact_group_holding_a_client_takes_another_only_with_a_confidentiality_override,
    client_teams_hold_many_clients_without_an_override,
    plain_staff_may_invite_only_into_contact_groups_they_belong_to,
    plain_staff_see_only_their_own_contact_groups_and_join_those_they_create,
    plain_staff_may_not_manage_client_teams_or_add_to_contact_groups_they_are_not_in,
    contact_group_members_all_see_each_other_clients_included,
    client_team_clients_never_see_other_clients_but_staff_see_every_member,
    plain_staff_see_only_their_clients_and_address_books,
    a_deactivated_staff_user_disappears_from_address_books_and_their_token_stops_working_for_good,
    one_client_per_tenancy_per_email_whatever_the_case_but_other_tenancies_are_separate,
    revoking_a_draft_makes_it_revoked_and_revoking_again_is_an_illegal_transition,
    plain_staff_cannot_manage_users_tokens_clients_or_the_tenancy,
    users_administrator_cannot_change_the_tenancy_or_appoint_system_administrators,
    users_administrator_cannot_issue_a_token_acting_as_a_system_administrator,
    a_revoked_token_is_refused_with_401_and_other_tokens_keep_working,
    operator_tokens_are_managed_by_operators_only,
    pagination_walks_every_item_once_with_next_cursor,
    search_finds_names_and_emails_and_takes_wildcards_literally,
    team_account_contact_number_equal_to_its_mobile_is_refused,
    firm_side_mobiles_and_emails_are_unique_in_a_tenancy,
    mobile_policy_mandatory_requires_a_mobile_and_hidden_refuses_one,
    a_tenancy_answers_only_for_the_group_kind_of_its_model,
);

// ---- small helpers, local to these tests ----

fn at(t: &Tenancy, rest: &str) -> String {
    format!("/api/v1/tenancies/{}{rest}", t.id)
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The `key` of every item of a page.
fn keys(page: &Value, key: &str) -> HashSet<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i[key].as_str().expect("key").to_string())
        .collect()
}

fn set(ids: &[&String]) -> HashSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn count(app: &TestApp, path: &str, token: &str) -> usize {
    app.get(path, token).await.expect(200)["items"]
        .as_array()
        .expect("items")
        .len()
}

async fn contacts(app: &TestApp, t: &Tenancy, user: &str) -> HashSet<String> {
    let page = app
        .get(&at(t, &format!("/users/{user}/contacts")), &t.admin_token)
        .await
        .expect(200);
    keys(&page, "id")
}

async fn member_ids(app: &TestApp, t: &Tenancy, kind: &str, group: &str) -> HashSet<String> {
    let page = app
        .get(&at(t, &format!("/{kind}/{group}/members")), &t.admin_token)
        .await
        .expect(200);
    keys(&page, "user_id")
}

/// A client invited by `token` into `groups` of the tenancy's model (`field`).
async fn invite(
    app: &TestApp,
    t: &Tenancy,
    token: &str,
    first: &str,
    field: &str,
    groups: &[&str],
    extra: Value,
) -> Reply {
    let mut body = json!({ "first_name": first, "last_name": "Client",
                           "email": format!("{}@clients.example", first.to_lowercase()),
                           (field): groups });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.post(&at(t, "/clients"), token, body).await
}

async fn invited(
    app: &TestApp,
    t: &Tenancy,
    first: &str,
    field: &str,
    groups: &[&str],
    extra: Value,
) -> String {
    id_of(
        &invite(app, t, &t.admin_token, first, field, groups, extra)
            .await
            .expect(201),
    )
}

async fn team_account(
    app: &TestApp,
    t: &Tenancy,
    name: &str,
    mobile: &str,
    contact: &str,
) -> String {
    let body = app
        .post(
            &at(t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": name, "email": format!("{}@firm.example", name.to_lowercase()),
                    "mobile": mobile, "contact_number": contact }),
        )
        .await
        .expect(201);
    id_of(&body)
}

#[track_caller]
fn conflict(reply: Reply, code: &str, fields: &[&str]) -> Value {
    let body = reply.problem(409);
    assert_eq!(body["code"], code, "{body:#}");
    assert_eq!(Reply::fields(&body), fields, "{body:#}");
    body
}

#[track_caller]
fn invalid(reply: Reply, fields: &[&str]) -> Value {
    let body = reply.problem(422);
    assert_eq!(body["code"], "invalid-fields", "{body:#}");
    assert_eq!(Reply::fields(&body), fields, "{body:#}");
    body
}

#[track_caller]
fn forbidden(reply: Reply) {
    let body = reply.problem(403);
    assert_eq!(body["code"], "forbidden", "{body:#}");
}

// ---- coverage ----

async fn inviting_into_client_teams_without_an_active_staff_user_is_refused_naming_the_field(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    // A team account is a queue, not a person: it does not cover anyone.
    let queue_only = app
        .group(&t, "client-teams", "Queue Only", &[&support])
        .await;
    let (gone, _) = app.staff(&t, "Gone", "Away", "staff").await;
    let deactivated_only = app
        .group(&t, "client-teams", "Deactivated Only", &[&gone])
        .await;
    app.patch(
        &at(&t, &format!("/staff/{gone}")),
        &t.admin_token,
        json!({ "active": false }),
    )
    .await
    .expect(200);
    let empty = app.group(&t, "client-teams", "Empty", &[]).await;

    for teams in [
        vec![queue_only.as_str()],
        vec![deactivated_only.as_str()],
        vec![empty.as_str()],
        vec![queue_only.as_str(), &deactivated_only, &empty],
    ] {
        let refused = invite(
            &app,
            &t,
            &t.admin_token,
            "Jane",
            "client_teams",
            &teams,
            json!({}),
        )
        .await;
        conflict(refused, "client-not-covered", &["client_teams"]);
    }
    assert_eq!(count(&app, &at(&t, "/clients"), &t.admin_token).await, 0);

    // One covering team among them is enough.
    let covered = app
        .group(&t, "client-teams", "Covered", &[&t.admin_id])
        .await;
    invited(
        &app,
        &t,
        "Jane",
        "client_teams",
        &[&queue_only, &covered],
        json!({}),
    )
    .await;
    let team = app
        .get(
            &at(&t, &format!("/client-teams/{queue_only}")),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(team["clients"], 1);
    assert_eq!(team["active_staff"], 0);
    assert_eq!(team["team_accounts"], 1);
}

async fn inviting_with_a_new_contact_group_nobody_covers_is_refused_and_creates_no_group(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    // An administrator is not added to the groups they create for others.
    let refused = app
        .post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "new_contact_group": { "name": "Smith Relationship", "members": [support] } }),
        )
        .await;
    conflict(
        refused,
        "client-not-covered",
        &["new_contact_group.members"],
    );
    assert_eq!(
        count(&app, &at(&t, "/contact-groups"), &t.admin_token).await,
        0
    );
    assert_eq!(count(&app, &at(&t, "/clients"), &t.admin_token).await, 0);

    let created = app
        .post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "new_contact_group": { "name": "Smith Relationship", "members": [support, t.admin_id] } }),
        )
        .await
        .expect(201);
    let groups = app
        .get(&at(&t, "/contact-groups"), &t.admin_token)
        .await
        .expect(200);
    let group = &groups["items"][0];
    assert_eq!(group["name"], "Smith Relationship");
    assert_eq!(
        member_ids(&app, &t, "contact-groups", group["id"].as_str().unwrap()).await,
        set(&[&support, &t.admin_id, &id_of(&created)])
    );
}

async fn removing_the_last_active_staff_user_from_a_clients_only_group_is_refused(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s1, _) = app.staff(&t, "Sam", "One", "staff").await;
    let (s2, _) = app.staff(&t, "Sue", "Two", "staff").await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    let g = app
        .group(&t, "contact-groups", "Smith Relationship", &[&s1, &support])
        .await;
    let client = invited(&app, &t, "Jane", "contact_groups", &[&g], json!({})).await;
    let before = member_ids(&app, &t, "contact-groups", &g).await;

    let refused = app
        .delete(
            &at(&t, &format!("/contact-groups/{g}/members/{s1}")),
            &t.admin_token,
        )
        .await;
    let body = conflict(refused, "client-not-covered", &[]);
    assert!(body["detail"].as_str().unwrap().contains("Jane Client"));
    assert_eq!(member_ids(&app, &t, "contact-groups", &g).await, before);

    // The team account and the client themselves cannot be removed to leave them bare either.
    app.delete(
        &at(&t, &format!("/contact-groups/{g}/members/{support}")),
        &t.admin_token,
    )
    .await
    .expect(204);
    let refused = app
        .delete(
            &at(&t, &format!("/contact-groups/{g}/members/{client}")),
            &t.admin_token,
        )
        .await;
    conflict(refused, "client-not-covered", &[]);

    // With a second active staff user in the group, the first may go.
    app.put(
        &at(&t, &format!("/contact-groups/{g}/members/{s2}")),
        &t.admin_token,
        None,
    )
    .await
    .expect(200);
    app.delete(
        &at(&t, &format!("/contact-groups/{g}/members/{s1}")),
        &t.admin_token,
    )
    .await
    .expect(204);
    assert_eq!(
        member_ids(&app, &t, "contact-groups", &g).await,
        set(&[&s2, &client])
    );
    app.delete(
        &at(&t, &format!("/contact-groups/{g}/members/{s1}")),
        &t.admin_token,
    )
    .await
    .problem(404);
}

async fn deactivating_the_only_staff_user_covering_a_client_is_refused_and_they_stay_active(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (s1, s1_token) = app.staff(&t, "Sam", "One", "staff").await;
    let team = app.group(&t, "client-teams", "Private", &[&s1]).await;
    let client = invited(&app, &t, "Jane", "client_teams", &[&team], json!({})).await;

    let refused = app
        .patch(
            &at(&t, &format!("/staff/{s1}")),
            &t.admin_token,
            json!({ "active": false, "title": "Partner" }),
        )
        .await;
    conflict(refused, "client-not-covered", &[]);
    let staff = app
        .get(&at(&t, &format!("/staff/{s1}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(staff["active"], true);
    assert_eq!(staff["title"], Value::Null, "the whole change was refused");
    app.get(&at(&t, ""), &s1_token).await.expect(200);

    // A revoked client needs no cover, so then the staff user may be deactivated.
    app.request(
        Method::POST,
        &at(&t, &format!("/clients/{client}/revoke")),
        Some(&t.admin_token),
        None,
    )
    .await
    .expect(200);
    let staff = app
        .patch(
            &at(&t, &format!("/staff/{s1}")),
            &t.admin_token,
            json!({ "active": false }),
        )
        .await
        .expect(200);
    assert_eq!(staff["active"], false);
}

async fn deleting_a_clients_only_team_is_refused_but_a_second_team_may_go(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let one = app.group(&t, "client-teams", "One", &[&t.admin_id]).await;
    let two = app.group(&t, "client-teams", "Two", &[&t.admin_id]).await;
    invited(&app, &t, "Jane", "client_teams", &[&one], json!({})).await;
    invited(&app, &t, "John", "client_teams", &[&one, &two], json!({})).await;

    let refused = app
        .delete(&at(&t, &format!("/client-teams/{one}")), &t.admin_token)
        .await;
    let body = conflict(refused, "client-not-covered", &[]);
    assert!(body["detail"].as_str().unwrap().contains("Jane Client"));
    let still = app
        .get(&at(&t, &format!("/client-teams/{one}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(still["clients"], 2);

    app.delete(&at(&t, &format!("/client-teams/{two}")), &t.admin_token)
        .await
        .expect(204);
    app.get(&at(&t, &format!("/client-teams/{two}")), &t.admin_token)
        .await
        .problem(404);
    assert_eq!(
        count(&app, &at(&t, "/client-teams"), &t.admin_token).await,
        1
    );
}

// ---- confidentiality ----

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

// ---- plain staff and contact groups ----

async fn plain_staff_may_invite_only_into_contact_groups_they_belong_to(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s, s_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let theirs = app
        .group(&t, "contact-groups", "Not Sams", &[&t.admin_id])
        .await;
    let mine = app.group(&t, "contact-groups", "Sams", &[&s]).await;

    let refused = invite(
        &app,
        &t,
        &s_token,
        "Jane",
        "contact_groups",
        &[&theirs],
        json!({}),
    )
    .await;
    let hidden = invalid(refused, &["contact_groups[0]"]);
    let unknown = invite(
        &app,
        &t,
        &s_token,
        "Jane",
        "contact_groups",
        &[&uuid::Uuid::now_v7().to_string()],
        json!({}),
    )
    .await;
    assert_eq!(
        invalid(unknown, &["contact_groups[0]"]),
        hidden,
        "no hint that the group exists"
    );
    let refused = invite(
        &app,
        &t,
        &s_token,
        "Jane",
        "contact_groups",
        &[&mine, &theirs],
        json!({}),
    )
    .await;
    invalid(refused, &["contact_groups[1]"]);
    assert_eq!(count(&app, &at(&t, "/clients"), &t.admin_token).await, 0);

    let jane = invite(
        &app,
        &t,
        &s_token,
        "Jane",
        "contact_groups",
        &[&mine],
        json!({}),
    )
    .await
    .expect(201);
    let events = app
        .get(
            &at(&t, &format!("/clients/{}/events", id_of(&jane))),
            &s_token,
        )
        .await
        .expect(200);
    assert_eq!(events["items"][0]["actor"], format!("staff:{s}"));

    // A new contact group made by plain staff has them in it, so it covers the client.
    let john = app
        .post(
            &at(&t, "/clients"),
            &s_token,
            json!({ "first_name": "John", "last_name": "Jones", "email": "john@example.com",
                    "new_contact_group": { "name": "Jones Relationship" } }),
        )
        .await
        .expect(201);
    let groups = app
        .get(&at(&t, "/contact-groups?q=jones"), &s_token)
        .await
        .expect(200);
    let jones = groups["items"][0]["id"].as_str().expect("id").to_string();
    assert_eq!(
        member_ids(&app, &t, "contact-groups", &jones).await,
        set(&[&s, &id_of(&john)])
    );
}

async fn plain_staff_see_only_their_own_contact_groups_and_join_those_they_create(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s, s_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let theirs = app
        .group(&t, "contact-groups", "Admins Only", &[&t.admin_id])
        .await;
    let created = app
        .post(
            &at(&t, "/contact-groups"),
            &s_token,
            json!({ "name": "Sams Own" }),
        )
        .await
        .expect(201);
    assert_eq!(created["active_staff"], 1);
    let mine = id_of(&created);
    assert_eq!(
        member_ids(&app, &t, "contact-groups", &mine).await,
        set(&[&s])
    );

    let listed = app
        .get(&at(&t, "/contact-groups"), &s_token)
        .await
        .expect(200);
    assert_eq!(keys(&listed, "id"), set(&[&mine]));
    let listed = app
        .get(&at(&t, "/contact-groups?q=admins"), &s_token)
        .await
        .expect(200);
    assert_eq!(keys(&listed, "id"), HashSet::new());
    let all = app
        .get(&at(&t, "/contact-groups"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&all, "id"), set(&[&mine, &theirs]));

    app.get(&at(&t, &format!("/contact-groups/{theirs}")), &s_token)
        .await
        .problem(404);
    app.get(
        &at(&t, &format!("/contact-groups/{theirs}/members")),
        &s_token,
    )
    .await
    .problem(404);
    app.get(&at(&t, &format!("/contact-groups/{mine}")), &s_token)
        .await
        .expect(200);
}

async fn plain_staff_may_not_manage_client_teams_or_add_to_contact_groups_they_are_not_in(
    app: TestApp,
) {
    let teams = app.tenancy("Teams Firm", "client_teams").await;
    let (ts, ts_token) = app.staff(&teams, "Sam", "Staff", "staff").await;
    let team = app
        .group(&teams, "client-teams", "Private", &[&teams.admin_id])
        .await;
    forbidden(
        app.post(
            &at(&teams, "/client-teams"),
            &ts_token,
            json!({ "name": "Mine" }),
        )
        .await,
    );
    forbidden(
        app.put(
            &at(&teams, &format!("/client-teams/{team}/members/{ts}")),
            &ts_token,
            None,
        )
        .await,
    );
    // Client teams are open to all staff to see, and to invite into.
    let listed = app
        .get(&at(&teams, "/client-teams"), &ts_token)
        .await
        .expect(200);
    assert_eq!(keys(&listed, "id"), set(&[&team]));
    invite(
        &app,
        &teams,
        &ts_token,
        "Jane",
        "client_teams",
        &[&team],
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(
        member_ids(&app, &teams, "client-teams", &team).await.len(),
        2
    );

    let groups = app.tenancy("Groups Firm", "contact_groups").await;
    let (gs, gs_token) = app.staff(&groups, "Sam", "Staff", "staff").await;
    let (other, _) = app.staff(&groups, "Oli", "Other", "staff").await;
    let theirs = app
        .group(&groups, "contact-groups", "Not Sams", &[&groups.admin_id])
        .await;
    let mine = app.group(&groups, "contact-groups", "Sams", &[&gs]).await;
    // A contact group they are not in is, to them, as if it did not exist.
    let hidden = app
        .put(
            &at(&groups, &format!("/contact-groups/{theirs}/members/{gs}")),
            &gs_token,
            None,
        )
        .await
        .problem(404);
    let unknown = app
        .put(
            &at(
                &groups,
                &format!("/contact-groups/{}/members/{gs}", uuid::Uuid::now_v7()),
            ),
            &gs_token,
            None,
        )
        .await
        .problem(404);
    assert_eq!(hidden, unknown);
    assert_eq!(
        member_ids(&app, &groups, "contact-groups", &theirs).await,
        set(&[&groups.admin_id])
    );
    app.put(
        &at(&groups, &format!("/contact-groups/{mine}/members/{other}")),
        &gs_token,
        None,
    )
    .await
    .expect(200);
    // Removing, renaming and deleting are for administrators.
    forbidden(
        app.delete(
            &at(&groups, &format!("/contact-groups/{mine}/members/{other}")),
            &gs_token,
        )
        .await,
    );
    forbidden(
        app.patch(
            &at(&groups, &format!("/contact-groups/{mine}")),
            &gs_token,
            json!({ "name": "Renamed" }),
        )
        .await,
    );
    forbidden(
        app.delete(&at(&groups, &format!("/contact-groups/{mine}")), &gs_token)
            .await,
    );
    assert_eq!(
        member_ids(&app, &groups, "contact-groups", &mine).await,
        set(&[&gs, &other])
    );
}

// ---- visibility ----

async fn contact_group_members_all_see_each_other_clients_included(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s1, _) = app.staff(&t, "Sam", "One", "staff").await;
    let (s2, _) = app.staff(&t, "Sue", "Two", "staff").await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    let smith = app
        .group(&t, "contact-groups", "Smith Relationship", &[&s1, &support])
        .await;
    let jones = app
        .group(&t, "contact-groups", "Jones Relationship", &[&s2])
        .await;
    let jane = invited(&app, &t, "Jane", "contact_groups", &[&smith], json!({})).await;
    let john = invited(
        &app,
        &t,
        "John",
        "contact_groups",
        &[&smith],
        json!({ "confidentiality_override": true }),
    )
    .await;
    let ann = invited(&app, &t, "Ann", "contact_groups", &[&jones], json!({})).await;

    assert_eq!(
        contacts(&app, &t, &jane).await,
        set(&[&s1, &support, &john])
    );
    assert_eq!(
        contacts(&app, &t, &john).await,
        set(&[&s1, &support, &jane])
    );
    assert_eq!(
        contacts(&app, &t, &s1).await,
        set(&[&support, &jane, &john])
    );
    assert_eq!(
        contacts(&app, &t, &support).await,
        set(&[&s1, &jane, &john])
    );
    assert_eq!(contacts(&app, &t, &ann).await, set(&[&s2]));
    assert_eq!(contacts(&app, &t, &s2).await, set(&[&ann]));
    // The administrator is in no group: an empty address book.
    assert_eq!(contacts(&app, &t, &t.admin_id).await, HashSet::new());

    // Clients see a team account's displayed number, never its secure mobile.
    let page = app
        .get(&at(&t, &format!("/users/{jane}/contacts")), &t.admin_token)
        .await
        .expect(200);
    let entry = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == support.as_str())
        .expect("team account listed")
        .clone();
    assert_eq!(entry["kind"], "team_account");
    assert_eq!(entry["name"], "Support");
    assert_eq!(entry["contact_number"], "+442070000001");
    assert!(!page.to_string().contains("+447700900001"), "{page:#}");
    let john_entry = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == john.as_str())
        .expect("fellow client listed")
        .clone();
    assert_eq!(john_entry["status"], "draft");
    assert_eq!(john_entry["name"], "John Client");
}

async fn client_team_clients_never_see_other_clients_but_staff_see_every_member(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (s1, _) = app.staff(&t, "Sam", "One", "staff").await;
    let (s2, _) = app.staff(&t, "Sue", "Two", "staff").await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    let private = app
        .group(&t, "client-teams", "Private", &[&s1, &support])
        .await;
    let business = app.group(&t, "client-teams", "Business", &[&s2]).await;
    let jane = invited(&app, &t, "Jane", "client_teams", &[&private], json!({})).await;
    let john = invited(&app, &t, "John", "client_teams", &[&private], json!({})).await;
    let ann = invited(
        &app,
        &t,
        "Ann",
        "client_teams",
        &[&private, &business],
        json!({}),
    )
    .await;

    assert_eq!(contacts(&app, &t, &jane).await, set(&[&s1, &support]));
    assert_eq!(contacts(&app, &t, &john).await, set(&[&s1, &support]));
    assert_eq!(contacts(&app, &t, &ann).await, set(&[&s1, &support, &s2]));
    assert_eq!(
        contacts(&app, &t, &s1).await,
        set(&[&support, &jane, &john, &ann])
    );
    assert_eq!(
        contacts(&app, &t, &support).await,
        set(&[&s1, &jane, &john, &ann])
    );
    assert_eq!(contacts(&app, &t, &s2).await, set(&[&ann]));

    // A revoked client leaves the address books.
    app.request(
        Method::POST,
        &at(&t, &format!("/clients/{john}/revoke")),
        Some(&t.admin_token),
        None,
    )
    .await
    .expect(200);
    assert_eq!(contacts(&app, &t, &s1).await, set(&[&support, &jane, &ann]));
}

async fn plain_staff_see_only_their_clients_and_address_books(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s1, s1_token) = app.staff(&t, "Sam", "One", "staff").await;
    let (s2, s2_token) = app.staff(&t, "Sue", "Two", "staff").await;
    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    app.put(
        &at(&t, &format!("/team-accounts/{support}/delegates/{s1}")),
        &t.admin_token,
        None,
    )
    .await
    .expect(200);
    let delegates = app
        .get(
            &at(&t, &format!("/team-accounts/{support}/delegates")),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(keys(&delegates, "id"), set(&[&s1]));
    let smith = app
        .group(&t, "contact-groups", "Smith", &[&s1, &support])
        .await;
    let jones = app.group(&t, "contact-groups", "Jones", &[&s2]).await;
    let jane = invited(&app, &t, "Jane", "contact_groups", &[&smith], json!({})).await;
    let ann = invited(&app, &t, "Ann", "contact_groups", &[&jones], json!({})).await;

    let listed = app.get(&at(&t, "/clients"), &s1_token).await.expect(200);
    assert_eq!(keys(&listed, "id"), set(&[&jane]));
    app.get(&at(&t, &format!("/clients/{jane}")), &s1_token)
        .await
        .expect(200);
    app.get(&at(&t, &format!("/clients/{ann}")), &s1_token)
        .await
        .problem(404);
    app.get(&at(&t, &format!("/clients/{ann}/events")), &s1_token)
        .await
        .problem(404);
    let all = app
        .get(&at(&t, "/clients"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&all, "id"), set(&[&jane, &ann]));

    // Own address book, and that of a team account one is a delegate of.
    app.get(&at(&t, &format!("/users/{s1}/contacts")), &s1_token)
        .await
        .expect(200);
    let queue = app
        .get(&at(&t, &format!("/users/{support}/contacts")), &s1_token)
        .await
        .expect(200);
    assert_eq!(keys(&queue, "id"), set(&[&s1, &jane]));
    forbidden(
        app.get(&at(&t, &format!("/users/{support}/contacts")), &s2_token)
            .await,
    );
    forbidden(
        app.get(&at(&t, &format!("/users/{s2}/contacts")), &s1_token)
            .await,
    );
    forbidden(
        app.get(&at(&t, &format!("/users/{jane}/contacts")), &s1_token)
            .await,
    );

    // No longer a delegate: no longer their address book.
    app.delete(
        &at(&t, &format!("/team-accounts/{support}/delegates/{s1}")),
        &t.admin_token,
    )
    .await
    .expect(204);
    forbidden(
        app.get(&at(&t, &format!("/users/{support}/contacts")), &s1_token)
            .await,
    );
    app.delete(
        &at(&t, &format!("/team-accounts/{support}/delegates/{s1}")),
        &t.admin_token,
    )
    .await
    .problem(404);
}

async fn a_deactivated_staff_user_disappears_from_address_books_and_their_token_stops_working_for_good(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let (s1, _) = app.staff(&t, "Sam", "One", "staff").await;
    let (s2, s2_token) = app.staff(&t, "Sue", "Two", "staff").await;
    let g = app.group(&t, "contact-groups", "Smith", &[&s1, &s2]).await;
    let jane = invited(&app, &t, "Jane", "contact_groups", &[&g], json!({})).await;
    assert_eq!(contacts(&app, &t, &jane).await, set(&[&s1, &s2]));
    app.get(&at(&t, ""), &s2_token).await.expect(200);

    let off = app
        .patch(
            &at(&t, &format!("/staff/{s2}")),
            &t.admin_token,
            json!({ "active": false }),
        )
        .await
        .expect(200);
    assert_eq!(off["active"], false);
    assert_eq!(contacts(&app, &t, &jane).await, set(&[&s1]));
    assert_eq!(contacts(&app, &t, &s1).await, set(&[&jane]));
    let group = app
        .get(&at(&t, &format!("/contact-groups/{g}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(group["active_staff"], 1);
    let members = app
        .get(
            &at(&t, &format!("/contact-groups/{g}/members")),
            &t.admin_token,
        )
        .await
        .expect(200);
    let s2_member = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == s2.as_str())
        .expect("still a member")
        .clone();
    assert_eq!(s2_member["active"], false);

    let refused = app.get(&at(&t, ""), &s2_token).await.problem(401);
    assert_eq!(refused["code"], "unauthorized");
    // No new token for a deactivated user either.
    invalid(
        app.post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": s2, "name": "Again" }),
        )
        .await,
        &["staff_id"],
    );
    // Brought back, they need a new token: the one they held before was revoked, not paused.
    app.patch(
        &at(&t, &format!("/staff/{s2}")),
        &t.admin_token,
        json!({ "active": true }),
    )
    .await
    .expect(200);
    app.get(&at(&t, ""), &s2_token).await.problem(401);
    let fresh = app
        .post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": s2, "name": "Back" }),
        )
        .await
        .expect(201);
    app.get(&at(&t, ""), fresh["token"].as_str().unwrap())
        .await
        .expect(200);
}

// ---- uniqueness ----

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

// ---- the client state machine ----

async fn revoking_a_draft_makes_it_revoked_and_revoking_again_is_an_illegal_transition(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    let jane = invited(&app, &t, "Jane", "client_teams", &[&team], json!({})).await;
    let revoke = at(&t, &format!("/clients/{jane}/revoke"));

    app.clock.advance(time::Duration::minutes(5));
    let revoked = app
        .request(Method::POST, &revoke, Some(&t.admin_token), None)
        .await
        .expect(200);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["status_label"], "Revoked");

    let again = app
        .request(Method::POST, &revoke, Some(&t.admin_token), None)
        .await;
    let body = conflict(again, "illegal-transition", &["status"]);
    assert!(body["detail"].as_str().unwrap().contains("revoked"));

    let events = app
        .get(&at(&t, &format!("/clients/{jane}/events")), &t.admin_token)
        .await
        .expect(200);
    let items = events["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{events:#}");
    let actor = format!("staff:{}", t.admin_id);
    assert_eq!(items[0]["from_status"], Value::Null);
    assert_eq!(items[0]["to_status"], "draft");
    assert_eq!(items[0]["actor"], actor);
    assert_eq!(items[0]["at"], "2026-03-02T09:00:00Z");
    assert_eq!(items[1]["from_status"], "draft");
    assert_eq!(items[1]["to_status"], "revoked");
    assert_eq!(items[1]["actor"], actor);
    assert_eq!(items[1]["at"], "2026-03-02T09:05:00Z");

    let by_status = app
        .get(&at(&t, "/clients?status=revoked"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&by_status, "id"), set(&[&jane]));
    assert_eq!(
        count(&app, &at(&t, "/clients?status=draft"), &t.admin_token).await,
        0
    );

    // An operator's changes are recorded as the operator's.
    let john = app
        .post(
            &at(&t, "/clients"),
            &app.operator,
            json!({ "first_name": "John", "last_name": "Doe", "email": "john@example.com", "client_teams": [team] }),
        )
        .await
        .expect(201);
    let events = app
        .get(
            &at(&t, &format!("/clients/{}/events", id_of(&john))),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert!(
        events["items"][0]["actor"]
            .as_str()
            .unwrap()
            .starts_with("operator:"),
        "{events:#}"
    );
}

// ---- roles ----

async fn plain_staff_cannot_manage_users_tokens_clients_or_the_tenancy(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (s, s_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let team = app.group(&t, "client-teams", "Private", &[&s]).await;
    let jane = invite(
        &app,
        &t,
        &s_token,
        "Jane",
        "client_teams",
        &[&team],
        json!({}),
    )
    .await
    .expect(201);
    let jane = id_of(&jane);
    let tenancy_before = app.get(&at(&t, ""), &t.admin_token).await.expect(200);
    let staff_before = count(&app, &at(&t, "/staff"), &t.admin_token).await;

    forbidden(
        app.post(
            &at(&t, "/staff"),
            &s_token,
            json!({ "first_name": "New", "last_name": "Hire", "email": "new@firm.example" }),
        )
        .await,
    );
    forbidden(
        app.patch(
            &at(&t, &format!("/staff/{s}")),
            &s_token,
            json!({ "role": "system_administrator" }),
        )
        .await,
    );
    forbidden(
        app.post(
            &at(&t, "/team-accounts"),
            &s_token,
            json!({ "name": "Support", "email": "support@firm.example", "mobile": "+447700900001" }),
        )
        .await,
    );
    forbidden(app.get(&at(&t, "/tokens"), &s_token).await);
    forbidden(
        app.post(
            &at(&t, "/tokens"),
            &s_token,
            json!({ "staff_id": t.admin_id, "name": "Escalate" }),
        )
        .await,
    );
    forbidden(
        app.patch(
            &at(&t, &format!("/clients/{jane}")),
            &s_token,
            json!({ "first_name": "Janet" }),
        )
        .await,
    );
    forbidden(
        app.request(
            Method::POST,
            &at(&t, &format!("/clients/{jane}/revoke")),
            Some(&s_token),
            None,
        )
        .await,
    );
    forbidden(
        app.patch(&at(&t, ""), &s_token, json!({ "name": "Mine Now" }))
            .await,
    );

    assert_eq!(
        app.get(&at(&t, ""), &t.admin_token).await.expect(200),
        tenancy_before
    );
    assert_eq!(
        count(&app, &at(&t, "/staff"), &t.admin_token).await,
        staff_before
    );
    let me = app
        .get(&at(&t, &format!("/staff/{s}")), &s_token)
        .await
        .expect(200);
    assert_eq!(me["role"], "staff");
    let jane = app
        .get(&at(&t, &format!("/clients/{jane}")), &s_token)
        .await
        .expect(200);
    assert_eq!(jane["first_name"], "Jane");
    assert_eq!(jane["status"], "draft");
}

async fn users_administrator_cannot_change_the_tenancy_or_appoint_system_administrators(
    app: TestApp,
) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (u, u_token) = app
        .staff(&t, "Uma", "Useradmin", "users_administrator")
        .await;
    let (s, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    let tenancy_before = app.get(&at(&t, ""), &t.admin_token).await.expect(200);

    forbidden(
        app.patch(&at(&t, ""), &u_token, json!({ "name": "Renamed" }))
            .await,
    );
    forbidden(
        app.patch(&at(&t, ""), &u_token, json!({ "mobile_policy": "hidden" }))
            .await,
    );
    assert_eq!(
        app.get(&at(&t, ""), &u_token).await.expect(200),
        tenancy_before
    );

    let staff_before = count(&app, &at(&t, "/staff"), &t.admin_token).await;
    forbidden(
        app.post(
            &at(&t, "/staff"),
            &u_token,
            json!({ "first_name": "New", "last_name": "Boss", "email": "boss@firm.example",
                    "role": "system_administrator" }),
        )
        .await,
    );
    for who in [&s, &u] {
        forbidden(
            app.patch(
                &at(&t, &format!("/staff/{who}")),
                &u_token,
                json!({ "role": "system_administrator" }),
            )
            .await,
        );
    }
    assert_eq!(
        count(&app, &at(&t, "/staff"), &t.admin_token).await,
        staff_before
    );
    let sam = app
        .get(&at(&t, &format!("/staff/{s}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(sam["role"], "staff");

    // What a users administrator may do.
    let hired = app
        .post(
            &at(&t, "/staff"),
            &u_token,
            json!({ "first_name": "New", "last_name": "Hire", "email": "hire@firm.example" }),
        )
        .await
        .expect(201);
    assert_eq!(hired["role"], "staff");
    let promoted = app
        .patch(
            &at(&t, &format!("/staff/{s}")),
            &u_token,
            json!({ "role": "users_administrator" }),
        )
        .await
        .expect(200);
    assert_eq!(promoted["role"], "users_administrator");

    // A system administrator (or an operator) may appoint and change the tenancy.
    let boss = app
        .post(
            &at(&t, "/staff"),
            &t.admin_token,
            json!({ "first_name": "New", "last_name": "Boss", "email": "boss@firm.example",
                    "role": "system_administrator" }),
        )
        .await
        .expect(201);
    assert_eq!(boss["role"], "system_administrator");
    let renamed = app
        .patch(
            &at(&t, ""),
            &t.admin_token,
            json!({ "name": "Acme Private" }),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Acme Private");
    assert_eq!(renamed["group_model"], "client_teams");
    let renamed = app
        .patch(&at(&t, ""), &app.operator, json!({ "name": "Acme Wealth" }))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Acme Wealth");
}

async fn users_administrator_cannot_issue_a_token_acting_as_a_system_administrator(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (_, u_token) = app
        .staff(&t, "Uma", "Useradmin", "users_administrator")
        .await;
    let (s, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    let tokens_before = count(&app, &at(&t, "/tokens"), &t.admin_token).await;

    // Otherwise the token would carry the system administrator's rights to its maker.
    forbidden(
        app.post(
            &at(&t, "/tokens"),
            &u_token,
            json!({ "staff_id": t.admin_id, "name": "Escalate" }),
        )
        .await,
    );
    assert_eq!(
        count(&app, &at(&t, "/tokens"), &t.admin_token).await,
        tokens_before
    );

    let issued = app
        .post(
            &at(&t, "/tokens"),
            &u_token,
            json!({ "staff_id": s, "name": "Sam's laptop" }),
        )
        .await
        .expect(201);
    assert_eq!(issued["staff_id"], s.as_str());
    let issued = app
        .post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": t.admin_id, "name": "Admin's laptop" }),
        )
        .await
        .expect(201);
    assert!(issued["token"].as_str().unwrap().starts_with("lsn_"));
}

// ---- tokens ----

async fn a_revoked_token_is_refused_with_401_and_other_tokens_keep_working(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (s, s_token) = app.staff(&t, "Sam", "Staff", "staff").await;
    let created = app
        .post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": s, "name": "Salesforce integration" }),
        )
        .await
        .expect(201);
    let token = created["token"].as_str().expect("token").to_string();
    let token_id = id_of(&created);
    assert_eq!(created["tenancy_id"], t.id.as_str());
    assert_eq!(created["name"], "Salesforce integration");
    assert_eq!(created["revoked_at"], Value::Null);
    app.get(&at(&t, "/clients"), &token).await.expect(200);

    app.clock.advance(time::Duration::hours(1));
    let revoked = app
        .delete(&at(&t, &format!("/tokens/{token_id}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(revoked["revoked_at"], "2026-03-02T10:00:00Z");
    let refused = app.get(&at(&t, "/clients"), &token).await.problem(401);
    assert_eq!(refused["code"], "unauthorized");
    app.get("/api/v1/tenancies", &token).await.problem(401);

    // Revoking twice is harmless and keeps the first time.
    app.clock.advance(time::Duration::hours(1));
    let again = app
        .delete(&at(&t, &format!("/tokens/{token_id}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(again["revoked_at"], "2026-03-02T10:00:00Z");
    let listed = app
        .get(&at(&t, "/tokens"), &t.admin_token)
        .await
        .expect(200);
    let entry = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == token_id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(entry["revoked_at"], "2026-03-02T10:00:00Z");
    assert!(entry.get("token").is_none(), "the secret is never listed");
    assert!(!listed.to_string().contains(&token));

    // The same staff user's other token, and the admin's, still work.
    app.get(&at(&t, "/clients"), &s_token).await.expect(200);
    app.get(&at(&t, "/clients"), &t.admin_token)
        .await
        .expect(200);
    app.delete(
        &at(&t, &format!("/tokens/{}", uuid::Uuid::new_v4())),
        &t.admin_token,
    )
    .await
    .problem(404);
}

async fn operator_tokens_are_managed_by_operators_only(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let created = app
        .post(
            "/api/v1/operator/tokens",
            &app.operator,
            json!({ "name": "Second operator" }),
        )
        .await
        .expect(201);
    let second = created["token"].as_str().unwrap().to_string();
    assert_eq!(created["tenancy_id"], Value::Null);
    assert_eq!(created["staff_id"], Value::Null);
    app.get(&at(&t, "/staff"), &second).await.expect(200);

    let listed = app
        .get("/api/v1/operator/tokens", &app.operator)
        .await
        .expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    // Tenancy tokens are not operator tokens, and the other way round.
    let tenancy_tokens = app.get(&at(&t, "/tokens"), &app.operator).await.expect(200);
    let tenancy_token = tenancy_tokens["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.delete(
        &format!("/api/v1/operator/tokens/{tenancy_token}"),
        &app.operator,
    )
    .await
    .problem(404);
    app.delete(
        &at(&t, &format!("/tokens/{}", id_of(&created))),
        &app.operator,
    )
    .await
    .problem(404);
    app.get(&at(&t, ""), &t.admin_token).await.expect(200);

    forbidden(
        app.delete(
            &format!("/api/v1/operator/tokens/{}", id_of(&created)),
            &t.admin_token,
        )
        .await,
    );
    app.delete(
        &format!("/api/v1/operator/tokens/{}", id_of(&created)),
        &app.operator,
    )
    .await
    .expect(200);
    app.get(&at(&t, "/staff"), &second).await.problem(401);
    app.get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
}

// ---- pagination and search ----

/// Walks a list `limit` at a time; returns the `key` of every item in order and the number of
/// pages.
async fn walk(
    app: &TestApp,
    path: &str,
    token: &str,
    limit: u32,
    key: &str,
) -> (Vec<String>, usize) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut after: Option<String> = None;
    loop {
        let url = match &after {
            Some(cursor) => format!("{path}{sep}limit={limit}&after={cursor}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = app.get(&url, token).await.expect(200);
        pages += 1;
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit as usize);
        seen.extend(items.iter().map(|i| i[key].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(
                    items.len(),
                    limit as usize,
                    "only a full page has a next one"
                );
                assert_eq!(cursor, seen.last().unwrap());
                after = Some(cursor.to_string());
            }
            None => break,
        }
        assert!(pages < 50, "pagination does not end");
    }
    (seen, pages)
}

async fn pagination_walks_every_item_once_with_next_cursor(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    for i in 0..6 {
        app.staff(&t, &format!("Sam{i}"), "Staff", "staff").await;
    }
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    for first in ["Ann", "Bob", "Cat", "Dan", "Eve"] {
        invited(&app, &t, first, "client_teams", &[&team], json!({})).await;
    }
    let all_staff = app
        .get(&at(&t, "/staff?limit=200"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(all_staff["next_cursor"], Value::Null);
    let all_staff: Vec<String> = all_staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    assert_eq!(all_staff.len(), 7);

    for (limit, pages) in [(1, 7), (3, 3), (7, 1), (50, 1)] {
        let (seen, n) = walk(&app, &at(&t, "/staff"), &t.admin_token, limit, "id").await;
        assert_eq!(seen, all_staff, "limit {limit}");
        assert_eq!(n, pages, "limit {limit}");
    }
    let (clients, pages) = walk(&app, &at(&t, "/clients"), &t.admin_token, 2, "id").await;
    assert_eq!(clients.len(), 5);
    assert_eq!(pages, 3);
    assert_eq!(clients.iter().collect::<HashSet<_>>().len(), 5);
    let (drafts, _) = walk(
        &app,
        &at(&t, "/clients?status=draft"),
        &t.admin_token,
        2,
        "id",
    )
    .await;
    assert_eq!(drafts, clients);
    let (members, pages) = walk(
        &app,
        &at(&t, &format!("/client-teams/{team}/members")),
        &t.admin_token,
        4,
        "user_id",
    )
    .await;
    assert_eq!(members.len(), 6);
    assert_eq!(members.iter().collect::<HashSet<_>>().len(), 6);
    assert_eq!(pages, 2);
    let (contacts, _) = walk(
        &app,
        &at(&t, &format!("/users/{}/contacts", t.admin_id)),
        &t.admin_token,
        2,
        "id",
    )
    .await;
    assert_eq!(contacts.len(), 5);
    assert_eq!(contacts.iter().collect::<HashSet<_>>().len(), 5);
    let (tokens, _) = walk(&app, &at(&t, "/tokens"), &t.admin_token, 3, "id").await;
    assert_eq!(tokens.len(), 7);
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 7);
}

async fn search_finds_names_and_emails_and_takes_wildcards_literally(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let (sam, _) = app.staff(&t, "Sam", "Smithers", "staff").await;
    let (sue, _) = app.staff(&t, "Sue", "Jones", "staff").await;
    let private = app
        .group(&t, "client-teams", "Private Clients", &[&sam])
        .await;
    app.group(&t, "client-teams", "Business", &[&sue]).await;

    let found = app
        .get(&at(&t, "/staff?q=SMITH"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&sam]));
    let found = app
        .get(&at(&t, "/staff?q=sue.jones%40firm"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&sue]));
    let found = app
        .get(&at(&t, "/staff?q=sam%20smithers"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&sam]));
    for wildcard in ["%25", "_", "%5C"] {
        let found = app
            .get(&at(&t, &format!("/staff?q={wildcard}")), &t.admin_token)
            .await
            .expect(200);
        assert_eq!(keys(&found, "id"), HashSet::new(), "q={wildcard}");
    }
    let found = app
        .get(&at(&t, "/client-teams?q=private"), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(keys(&found, "id"), set(&[&private]));
}

// ---- team accounts and mobiles ----

async fn team_account_contact_number_equal_to_its_mobile_is_refused(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    invalid(
        app.post(
            &at(&t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": "Support", "email": "support@firm.example",
                    "mobile": "+447700900001", "contact_number": "+447700900001" }),
        )
        .await,
        &["contact_number"],
    );
    assert_eq!(
        count(&app, &at(&t, "/team-accounts"), &t.admin_token).await,
        0
    );

    let support = team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;
    let before = app
        .get(
            &at(&t, &format!("/team-accounts/{support}")),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(before["mobile"], "+447700900001");
    for change in [
        json!({ "contact_number": "+447700900001" }),
        json!({ "mobile": "+442070000001" }),
        json!({ "mobile": "+447700900002", "contact_number": "+447700900002", "name": "Renamed" }),
    ] {
        invalid(
            app.patch(
                &at(&t, &format!("/team-accounts/{support}")),
                &t.admin_token,
                change,
            )
            .await,
            &["contact_number"],
        );
    }
    assert_eq!(
        app.get(
            &at(&t, &format!("/team-accounts/{support}")),
            &t.admin_token
        )
        .await
        .expect(200),
        before
    );
    let changed = app
        .patch(
            &at(&t, &format!("/team-accounts/{support}")),
            &t.admin_token,
            json!({ "contact_number": "+442070000009", "title": "Mon–Fri 9–5" }),
        )
        .await
        .expect(200);
    assert_eq!(changed["contact_number"], "+442070000009");
    assert_eq!(changed["title"], "Mon–Fri 9–5");
}

async fn firm_side_mobiles_and_emails_are_unique_in_a_tenancy(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let other = app.tenancy("Other Firm", "client_teams").await;
    team_account(&app, &t, "Support", "+447700900001", "+442070000001").await;

    conflict(
        app.post(
            &at(&t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": "Help", "email": "help@firm.example", "mobile": "+447700900001" }),
        )
        .await,
        "duplicate-mobile",
        &["mobile"],
    );
    conflict(
        app.post(
            &at(&t, "/staff"),
            &t.admin_token,
            json!({ "first_name": "Sam", "last_name": "Staff", "email": "sam@firm.example",
                    "mobile": "+447700900001" }),
        )
        .await,
        "duplicate-mobile",
        &["mobile"],
    );
    conflict(
        app.post(
            &at(&t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": "Help", "email": "SUPPORT@firm.example", "mobile": "+447700900002" }),
        )
        .await,
        "duplicate-email",
        &["email"],
    );
    assert_eq!(
        count(&app, &at(&t, "/team-accounts"), &t.admin_token).await,
        1
    );
    assert_eq!(count(&app, &at(&t, "/staff"), &t.admin_token).await, 1);

    // A staff user changing to a taken mobile is refused; their own mobile is fine.
    let (sam, _) = app.staff(&t, "Sam", "Staff", "staff").await;
    app.patch(
        &at(&t, &format!("/staff/{sam}")),
        &t.admin_token,
        json!({ "mobile": "+447700900003" }),
    )
    .await
    .expect(200);
    conflict(
        app.patch(
            &at(&t, &format!("/staff/{sam}")),
            &t.admin_token,
            json!({ "mobile": "+447700900001" }),
        )
        .await,
        "duplicate-mobile",
        &["mobile"],
    );
    let again = app
        .patch(
            &at(&t, &format!("/staff/{sam}")),
            &t.admin_token,
            json!({ "mobile": "+447700900003" }),
        )
        .await
        .expect(200);
    assert_eq!(again["mobile"], "+447700900003");

    // Clients may share a mobile with the firm side, and other tenancies are separate.
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    invited(
        &app,
        &t,
        "Jane",
        "client_teams",
        &[&team],
        json!({ "mobile": "+447700900001" }),
    )
    .await;
    team_account(&app, &other, "Support", "+447700900001", "+442070000001").await;
}

async fn mobile_policy_mandatory_requires_a_mobile_and_hidden_refuses_one(app: TestApp) {
    let created = app
        .post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "name": "Strict Firm", "group_model": "client_teams", "mobile_policy": "mandatory" }),
        )
        .await
        .expect(201);
    assert_eq!(created["mobile_policy"], "mandatory");
    assert_eq!(created["group_name_convention"], "{last_name} Relationship");

    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let defaults = app.get(&at(&t, ""), &t.admin_token).await.expect(200);
    assert_eq!(defaults["mobile_policy"], "optional");
    let team = app
        .group(&t, "client-teams", "Private", &[&t.admin_id])
        .await;
    let mandatory = app
        .patch(
            &at(&t, ""),
            &t.admin_token,
            json!({ "mobile_policy": "mandatory" }),
        )
        .await
        .expect(200);
    assert_eq!(mandatory["mobile_policy"], "mandatory");
    for extra in [
        json!({}),
        json!({ "mobile": "" }),
        json!({ "mobile": "   " }),
    ] {
        invalid(
            invite(
                &app,
                &t,
                &t.admin_token,
                "Jane",
                "client_teams",
                &[&team],
                extra,
            )
            .await,
            &["mobile"],
        );
    }
    assert_eq!(count(&app, &at(&t, "/clients"), &t.admin_token).await, 0);
    let jane = invite(
        &app,
        &t,
        &t.admin_token,
        "Jane",
        "client_teams",
        &[&team],
        json!({ "mobile": "+447768887464" }),
    )
    .await
    .expect(201);
    assert_eq!(jane["mobile"], "+447768887464");

    app.patch(
        &at(&t, ""),
        &t.admin_token,
        json!({ "mobile_policy": "hidden" }),
    )
    .await
    .expect(200);
    invalid(
        invite(
            &app,
            &t,
            &t.admin_token,
            "John",
            "client_teams",
            &[&team],
            json!({ "mobile": "+447768887465" }),
        )
        .await,
        &["mobile"],
    );
    invalid(
        app.patch(
            &at(&t, &format!("/clients/{}", id_of(&jane))),
            &t.admin_token,
            json!({ "mobile": "+447768887466" }),
        )
        .await,
        &["mobile"],
    );
    assert_eq!(count(&app, &at(&t, "/clients"), &t.admin_token).await, 1);
    let john = invite(
        &app,
        &t,
        &t.admin_token,
        "John",
        "client_teams",
        &[&team],
        json!({}),
    )
    .await
    .expect(201);
    assert_eq!(john["mobile"], Value::Null);
}

async fn a_tenancy_answers_only_for_the_group_kind_of_its_model(app: TestApp) {
    let teams = app.tenancy("Teams Firm", "client_teams").await;
    let groups = app.tenancy("Groups Firm", "contact_groups").await;
    let team = app
        .group(&teams, "client-teams", "Private", &[&teams.admin_id])
        .await;
    let group = app
        .group(&groups, "contact-groups", "Smith", &[&groups.admin_id])
        .await;

    for (t, wrong, own_group) in [
        (&teams, "contact-groups", &team),
        (&groups, "client-teams", &group),
    ] {
        conflict(
            app.post(
                &at(t, &format!("/{wrong}")),
                &t.admin_token,
                json!({ "name": "X" }),
            )
            .await,
            "wrong-group-model",
            &[],
        );
        conflict(
            app.get(&at(t, &format!("/{wrong}")), &t.admin_token).await,
            "wrong-group-model",
            &[],
        );
        conflict(
            app.put(
                &at(t, &format!("/{wrong}/{own_group}/members/{}", t.admin_id)),
                &t.admin_token,
                None,
            )
            .await,
            "wrong-group-model",
            &[],
        );
        // A group is found only under its own kind.
        app.get(&at(t, &format!("/{wrong}/{own_group}")), &t.admin_token)
            .await
            .problem(404);
    }
    let kinds = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        kinds(
            app.get(&at(&teams, "/client-teams"), &teams.admin_token)
                .await
                .expect(200)
        ),
        ["client_team"]
    );
    assert_eq!(
        kinds(
            app.get(&at(&groups, "/contact-groups"), &groups.admin_token)
                .await
                .expect(200)
        ),
        ["contact_group"]
    );

    // Inviting names the other model's field as wrong.
    invalid(
        app.post(
            &at(&teams, "/clients"),
            &teams.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "contact_groups": [team], "client_teams": [team] }),
        )
        .await,
        &["contact_groups"],
    );
    invalid(
        app.post(
            &at(&groups, "/clients"),
            &groups.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "client_teams": [group], "contact_groups": [group] }),
        )
        .await,
        &["client_teams"],
    );
    // Client teams must not share a name; contact groups may.
    conflict(
        app.post(
            &at(&teams, "/client-teams"),
            &teams.admin_token,
            json!({ "name": "PRIVATE" }),
        )
        .await,
        "duplicate-name",
        &["name"],
    );
    app.group(&groups, "contact-groups", "Smith", &[&groups.admin_id])
        .await;
}
