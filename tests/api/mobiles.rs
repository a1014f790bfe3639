//! Team accounts' numbers, firm-side mobiles and e-mails unique in a tenancy, the tenancy's
//! mobile policy, and the group kind of its model.

use serde_json::{Value, json};

use crate::helpers::{TestApp, at, conflict, count, id_of, invalid, invite, invited, team_account};
use crate::on_both_backends;

on_both_backends!(
    team_account_contact_number_equal_to_its_mobile_is_refused,
    firm_side_mobiles_and_emails_are_unique_in_a_tenancy,
    mobile_policy_mandatory_requires_a_mobile_and_hidden_refuses_one,
    a_tenancy_answers_only_for_the_group_kind_of_its_model,
);

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
