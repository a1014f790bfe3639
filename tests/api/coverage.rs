//! Coverage through HTTP: every client keeps at least one active staff user in one of their
//! groups or teams, whether they are invited, members leave, staff are deactivated or teams deleted.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, at, conflict, count, id_of, invite, invited, member_ids, set, team_account,
};
use crate::on_both_backends;

on_both_backends!(
    inviting_into_client_teams_without_an_active_staff_user_is_refused_naming_the_field,
    inviting_with_a_new_contact_group_nobody_covers_is_refused_and_creates_no_group,
    removing_the_last_active_staff_user_from_a_clients_only_group_is_refused,
    deactivating_the_only_staff_user_covering_a_client_is_refused_and_they_stay_active,
    deleting_a_clients_only_team_is_refused_but_a_second_team_may_go,
);

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
