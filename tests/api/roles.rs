//! What each role may do: plain staff, users administrators and system administrators.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, at, count, forbidden, id_of, invite};
use crate::on_both_backends;

on_both_backends!(
    plain_staff_cannot_manage_users_tokens_clients_or_the_tenancy,
    users_administrator_cannot_change_the_tenancy_or_appoint_system_administrators,
    users_administrator_cannot_issue_a_token_acting_as_a_system_administrator,
);

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
