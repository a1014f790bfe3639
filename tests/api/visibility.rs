//! Who sees whom, through the address books: per the tenancy's model, and never a deactivated
//! staff user.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, at, contacts, forbidden, invalid, invited, keys, set, team_account};
use crate::on_both_backends;

on_both_backends!(
    contact_group_members_all_see_each_other_clients_included,
    client_team_clients_never_see_other_clients_but_staff_see_every_member,
    plain_staff_see_only_their_clients_and_address_books,
    a_deactivated_staff_user_disappears_from_address_books_and_their_token_stops_working_for_good,
);

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
