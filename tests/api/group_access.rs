//! Who may use which group: plain staff invite into, see and join only the contact groups they
//! belong to, and manage no client teams.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{
    TestApp, at, count, forbidden, id_of, invalid, invite, keys, member_ids, set,
};
use crate::on_both_backends;

on_both_backends!(
    plain_staff_may_invite_only_into_contact_groups_they_belong_to,
    plain_staff_see_only_their_own_contact_groups_and_join_those_they_create,
    plain_staff_may_not_manage_client_teams_or_add_to_contact_groups_they_are_not_in,
);

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
