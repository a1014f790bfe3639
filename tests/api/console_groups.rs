//! The console's contact groups, client teams and team accounts, created, changed and deleted:
//! each through the API's own functions with the session as the caller, so a page refuses
//! exactly where the API does, with the API's reasons beside the fields.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::browser::Browser;
use crate::helpers::console::{self, Page, Visitor, beside, reason};
use crate::helpers::{Tenancy, TestApp, at, count, invited, team_account};
use crate::on_both_backends;

on_both_backends!(with super::console::with_mail();
    a_contact_group_is_created_renamed_and_deleted_with_the_apis_reasons_beside_the_name,
    a_client_team_keeps_its_name_its_own_and_is_not_deleted_while_it_alone_covers_a_client,
    team_accounts_are_created_and_changed_with_the_apis_reasons_beside_each_field,
    another_tenancys_administrator_changes_nothing_and_is_answered_as_by_the_api,
    users_and_system_administrators_manage_groups_and_team_accounts_as_the_api_lets_them,
    a_post_without_the_sessions_csrf_token_changes_no_group_or_team_account,
);

on_both_backends!(an_operator_creates_a_group_and_a_team_account_in_a_browser);

/// Where a redirect leads, without its query.
#[track_caller]
fn path_of(page: &Page) -> String {
    assert_eq!(page.status, 303, "{}", page.body);
    let location = page.location.clone().unwrap_or_default();
    location.split('?').next().unwrap_or_default().to_string()
}

/// The id a page's path ends with.
fn last(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_string()
}

/// A change asked of the API (`method` at `api`, as `token`) and of the console (the same
/// fields posted to `page` with the session's `csrf`).
struct Both<'a> {
    method: Method,
    api: &'a str,
    token: &'a str,
    page: &'a str,
    csrf: &'a str,
}

/// Posts `body`'s fields as the console's form (a list as repeated fields).
async fn post_body(visitor: &Visitor, page: &str, csrf: &str, body: &Value) -> Page {
    let mut fields = vec![("csrf".to_string(), csrf.to_string())];
    for (name, value) in body.as_object().expect("an object") {
        let values = value
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![value.clone()]);
        for value in values {
            fields.push((name.clone(), value.as_str().unwrap_or_default().to_string()));
        }
    }
    let form: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    visitor.post(page, &form).await
}

/// Asks both for `body`: each refuses with `status`, and the page shows beside each of
/// `fields` the API's reason for it (for a rule's refusal, the API's detail).
async fn refused_alike(
    app: &TestApp,
    visitor: &Visitor,
    both: &Both<'_>,
    body: Value,
    (status, fields): (u16, &[&str]),
) -> Page {
    let api = app
        .request(
            both.method.clone(),
            both.api,
            Some(both.token),
            Some(body.clone()),
        )
        .await
        .problem(status);
    let page = post_body(visitor, both.page, both.csrf, &body).await;
    assert_eq!(page.status, status, "{}", page.body);
    for field in fields {
        let why = match api["detail"].as_str() {
            Some(detail) if status == 409 => detail.to_string(),
            _ => reason(&api, field),
        };
        beside(&page, field, &why);
    }
    page
}

/// The console's pages of the tenancy's groups and of its team accounts.
fn pages(t: &Tenancy) -> (String, String) {
    let tenancy = format!("/console/tenancies/{}", t.id);
    (
        format!("{tenancy}/groups"),
        format!("{tenancy}/team-accounts"),
    )
}

async fn a_contact_group_is_created_renamed_and_deleted_with_the_apis_reasons_beside_the_name(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "contact_groups").await;
    let support = team_account(&app, &acme, "Support", "+447700900001", "+442070000001").await;
    let visitor = console::admin(&app, "admin@acme-wealth.example").await;
    let (groups, _) = pages(&acme);
    let list = visitor.get(&groups).await;
    assert_eq!(list.status, 200);
    assert!(
        list.body.contains("id=\"new-group\">New contact group</a>"),
        "{}",
        list.body
    );
    let form = visitor.get(&format!("{groups}/new")).await;
    assert_eq!(form.status, 200);
    for member in [&acme.admin_id, &support] {
        assert!(
            form.body.contains(&format!("value=\"{member}\"")),
            "{member}"
        );
    }
    let csrf = form.csrf();

    // A blank name: the API's reason, word for word; the ticks stay, and nothing is created.
    let groups_api = at(&acme, "/contact-groups");
    let create = Both {
        method: Method::POST,
        api: &groups_api,
        token: &acme.admin_token,
        page: &groups,
        csrf: &csrf,
    };
    let body = json!({ "name": "  ", "members": [acme.admin_id] });
    let refused = refused_alike(&app, &visitor, &create, body, (422, &["name"])).await;
    assert!(
        refused
            .body
            .contains(&format!("value=\"{}\" checked", acme.admin_id))
    );
    assert_eq!(count(&app, &groups_api, &acme.admin_token).await, 0);

    let body = json!({ "name": "Smith Relationship", "members": [acme.admin_id, support] });
    let created = post_body(&visitor, &groups, &csrf, &body).await;
    let page = path_of(&created);
    let group_api = at(&acme, &format!("/contact-groups/{}", last(&page)));
    let group = app.get(&group_api, &acme.admin_token).await.expect(200);
    assert_eq!(
        (
            group["name"].as_str(),
            group["active_staff"].as_i64(),
            group["team_accounts"].as_i64()
        ),
        (Some("Smith Relationship"), Some(1), Some(1))
    );
    let shown = visitor.get(created.location.as_deref().unwrap()).await;
    assert!(shown.body.contains("It was created"), "{}", shown.body);

    // Renamed: a blank name refused with the API's reason, then a good one saved.
    let rename = Both {
        method: Method::PATCH,
        api: &group_api,
        page: &page,
        ..create
    };
    refused_alike(
        &app,
        &visitor,
        &rename,
        json!({ "name": "" }),
        (422, &["name"]),
    )
    .await;
    let renamed = visitor
        .post(&page, &[("csrf", &csrf), ("name", "Smith Family")])
        .await;
    assert_eq!(path_of(&renamed), page);
    let group = app.get(&group_api, &acme.admin_token).await.expect(200);
    assert_eq!(group["name"], "Smith Family");

    // Deleting asks first and says what it does; the question changes nothing.
    let confirm = visitor.get(&format!("{page}/delete")).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Delete Smith Family?"));
    assert!(
        confirm
            .body
            .contains("removes it and every membership in it")
    );
    app.get(&group_api, &acme.admin_token).await.expect(200);
    let deleted = visitor
        .post(&format!("{page}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        deleted.location.as_deref(),
        Some(format!("{groups}?done=deleted").as_str())
    );
    app.get(&group_api, &acme.admin_token).await.problem(404);
    let list = visitor.get(deleted.location.as_deref().unwrap()).await;
    assert!(list.body.contains("It was deleted; its clients stay."));
    assert!(!list.body.contains("Smith Family"));
}

async fn a_client_team_keeps_its_name_its_own_and_is_not_deleted_while_it_alone_covers_a_client(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let visitor = console::admin(&app, "admin@acme-wealth.example").await;
    let (groups, _) = pages(&acme);
    let list = visitor.get(&groups).await;
    assert!(list.body.contains("id=\"new-group\">New client team</a>"));
    let form = visitor.get(&format!("{groups}/new")).await;
    assert!(form.body.contains("New client team"));
    let csrf = form.csrf();
    let body = json!({ "name": "Private Office", "members": [acme.admin_id] });
    let private = post_body(&visitor, &groups, &csrf, &body).await;
    let private = path_of(&private);
    let family = visitor
        .post(&groups, &[("csrf", &csrf), ("name", "Family Office")])
        .await;
    let family = path_of(&family);
    let teams = at(&acme, "/client-teams");
    assert_eq!(count(&app, &teams, &acme.admin_token).await, 2);

    // Another team's name: the API's refusal beside the name, and the name stays.
    let family_api = format!("{teams}/{}", last(&family));
    let rename = Both {
        method: Method::PATCH,
        api: &family_api,
        token: &acme.admin_token,
        page: &family,
        csrf: &csrf,
    };
    let body = json!({ "name": "private office" });
    refused_alike(&app, &visitor, &rename, body, (409, &["name"])).await;
    let team = app.get(&family_api, &acme.admin_token).await.expect(200);
    assert_eq!(team["name"], "Family Office");

    // Jane's only team: deleting it is refused with the API's reason, on the confirmation.
    let private_id = last(&private);
    let jane = [private_id.as_str()];
    invited(&app, &acme, "Jane", "client_teams", &jane, json!({})).await;
    let private_api = format!("{teams}/{private_id}");
    let api = app
        .delete(&private_api, &acme.admin_token)
        .await
        .problem(409);
    let refused = visitor
        .post(&format!("{private}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("Delete Private Office?"));
    assert!(
        refused
            .body
            .contains(&console::html(api["detail"].as_str().unwrap())),
        "{}",
        refused.body
    );
    app.get(&private_api, &acme.admin_token).await.expect(200);
    // The empty one goes.
    let deleted = visitor
        .post(&format!("{family}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(path_of(&deleted), groups);
    app.get(&family_api, &acme.admin_token).await.problem(404);
}

async fn team_accounts_are_created_and_changed_with_the_apis_reasons_beside_each_field(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let visitor = console::admin(&app, "admin@acme-wealth.example").await;
    let (_, accounts) = pages(&acme);
    let list = visitor.get(&accounts).await;
    assert!(list.body.contains("id=\"new-team-account\""));
    let form = visitor.get(&format!("{accounts}/new")).await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    let accounts_api = at(&acme, "/team-accounts");
    let create = Both {
        method: Method::POST,
        api: &accounts_api,
        token: &acme.admin_token,
        page: &accounts,
        csrf: &csrf,
    };

    // Every field's reason at once, as the API words them.
    let body =
        json!({ "name": " ", "email": "support", "mobile": "07700900001", "contact_number": "12" });
    let fields: &[&str] = &["name", "email", "mobile", "contact_number"];
    refused_alike(&app, &visitor, &create, body, (422, fields)).await;
    // Clients never see the secure number.
    let body = json!({ "name": "Support", "email": "support@firm.example",
                       "mobile": "+447700900001", "contact_number": "+447700900001" });
    refused_alike(&app, &visitor, &create, body, (422, &["contact_number"])).await;
    assert_eq!(count(&app, &accounts_api, &acme.admin_token).await, 0);

    let body = json!({ "name": "Support", "email": "support@firm.example", "mobile": "+447700900001",
                       "contact_number": "+442070000001", "title": "Weekdays 9 to 5" });
    let created = post_body(&visitor, &accounts, &csrf, &body).await;
    let page = path_of(&created);
    let account_api = format!("{accounts_api}/{}", last(&page));
    let account = app.get(&account_api, &acme.admin_token).await.expect(200);
    for field in ["name", "email", "mobile", "contact_number", "title"] {
        assert_eq!(account[field], body[field], "{field}");
    }
    let shown = visitor.get(created.location.as_deref().unwrap()).await;
    assert!(shown.body.contains("The team account was created"));

    // Its e-mail is its own: the API's refusal beside the e-mail.
    let body =
        json!({ "name": "Help", "email": "support@firm.example", "mobile": "+447700900002" });
    refused_alike(&app, &visitor, &create, body, (409, &["email"])).await;

    // Changed: the secure mobile may not become the number clients see.
    let change = Both {
        method: Method::PATCH,
        api: &account_api,
        page: &page,
        ..create
    };
    let body = json!({ "name": "Support Desk", "mobile": "+442070000001",
                       "contact_number": "+442070000001", "title": "Weekdays" });
    refused_alike(&app, &visitor, &change, body, (422, &["contact_number"])).await;
    let account = app.get(&account_api, &acme.admin_token).await.expect(200);
    assert_eq!(account["name"], "Support");
    let body = json!({ "name": "Support Desk", "mobile": "+447700900009",
                       "contact_number": "+442070000001", "title": "Weekdays", "status": "deactivated" });
    let saved = post_body(&visitor, &page, &csrf, &body).await;
    assert_eq!(path_of(&saved), page);
    let account = app.get(&account_api, &acme.admin_token).await.expect(200);
    for field in ["name", "mobile", "contact_number", "title"] {
        assert_eq!(account[field], body[field], "{field}");
    }
    assert_eq!(account["active"], false);
    let shown = visitor.get(saved.location.as_deref().unwrap()).await;
    assert!(shown.body.contains("The changes were saved."));
}

async fn another_tenancys_administrator_changes_nothing_and_is_answered_as_by_the_api(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let team = app
        .group(&acme, "client-teams", "Private Office", &[&acme.admin_id])
        .await;
    let support = team_account(&app, &acme, "Support", "+447700900001", "+442070000001").await;
    let other = console::admin(&app, "admin@bravo-trust.example").await;
    let (bravo_groups, _) = pages(&bravo);
    let csrf = other.get(&bravo_groups).await.csrf();
    let (groups, accounts) = pages(&acme);
    let team_api = at(&acme, &format!("/client-teams/{team}"));
    let account_api = at(&acme, &format!("/team-accounts/{support}"));
    let token = &bravo.admin_token;
    let name = json!({ "name": "Taken" });
    let new_account =
        json!({ "name": "Taken", "email": "taken@firm.example", "mobile": "+447700900005" });
    let api = [
        app.post(&at(&acme, "/client-teams"), token, name.clone())
            .await,
        app.patch(&team_api, token, name.clone()).await,
        app.delete(&team_api, token).await,
        app.post(&at(&acme, "/team-accounts"), token, new_account)
            .await,
        app.patch(&account_api, token, name).await,
    ];
    let posted = [("csrf", csrf.as_str()), ("name", "Taken")];
    let console = [
        other.post(&groups, &posted).await,
        other.post(&format!("{groups}/{team}"), &posted).await,
        other
            .post(&format!("{groups}/{team}/delete"), &posted)
            .await,
        other.post(&accounts, &posted).await,
        other.post(&format!("{accounts}/{support}"), &posted).await,
    ];
    for (api, page) in api.into_iter().zip(&console) {
        api.problem(404);
        assert_eq!(page.status, 404, "{}", page.body);
    }
    for form in [
        format!("{groups}/new"),
        format!("{groups}/{team}/delete"),
        format!("{accounts}/new"),
    ] {
        assert_eq!(other.get(&form).await.status, 404, "{form}");
    }
    let team = app.get(&team_api, &acme.admin_token).await.expect(200);
    assert_eq!(team["name"], "Private Office");
    let account = app.get(&account_api, &acme.admin_token).await.expect(200);
    assert_eq!(account["name"], "Support");
    let teams = at(&acme, "/client-teams");
    assert_eq!(count(&app, &teams, &acme.admin_token).await, 1);
    let all = at(&acme, "/team-accounts");
    assert_eq!(count(&app, &all, &acme.admin_token).await, 1);
}

async fn users_and_system_administrators_manage_groups_and_team_accounts_as_the_api_lets_them(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (_, uma_token) = app
        .staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let (_, sam_token) = app.staff(&acme, "Sam", "Staff", "staff").await;
    // The API's answers: plain staff may not create client teams or team accounts; users
    // and system administrators may.
    let teams = at(&acme, "/client-teams");
    let accounts = at(&acme, "/team-accounts");
    crate::helpers::forbidden(
        app.post(&teams, &sam_token, json!({ "name": "Sam's" }))
            .await,
    );
    crate::helpers::forbidden(
        app.post(
            &accounts,
            &sam_token,
            json!({ "name": "Sam's", "email": "sams@firm.example", "mobile": "+447700900008" }),
        )
        .await,
    );
    let by_api = app
        .post(&teams, &uma_token, json!({ "name": "By the API" }))
        .await
        .expect(201);
    let by_api = by_api["id"].as_str().unwrap().to_string();
    let (groups, team_accounts) = pages(&acme);
    let people = [
        ("uma.users@firm.example", "Uma", "+447700900011"),
        ("admin@acme-wealth.example", "Ada", "+447700900012"),
    ];
    for (email, who, mobile) in people {
        let visitor = console::admin(&app, email).await;
        let list = visitor.get(&groups).await;
        assert!(list.body.contains("id=\"new-group\""), "{who}");
        let csrf = list.csrf();
        let team_name = format!("{who}'s team");
        let created = visitor
            .post(&groups, &[("csrf", &csrf), ("name", &team_name)])
            .await;
        let page = path_of(&created);
        let renamed = format!("{who}'s office");
        let answer = visitor
            .post(&page, &[("csrf", &csrf), ("name", &renamed)])
            .await;
        assert_eq!(path_of(&answer), page, "{who}");
        let shown = visitor.get(&page).await;
        assert!(shown.body.contains("id=\"delete-group\""), "{who}");
        let deleted = visitor
            .post(&format!("{page}/delete"), &[("csrf", &csrf)])
            .await;
        assert_eq!(path_of(&deleted), groups, "{who}");
        let list = visitor.get(&team_accounts).await;
        assert!(list.body.contains("id=\"new-team-account\""), "{who}");
        let account_email = format!("{}@firm.example", who.to_lowercase());
        let body = json!({ "name": who, "email": account_email, "mobile": mobile });
        let created = post_body(&visitor, &team_accounts, &csrf, &body).await;
        let page = path_of(&created);
        let shown = visitor.get(&page).await;
        assert!(shown.body.contains("id=\"save-account\""), "{who}");
        let body = json!({ "name": format!("{who} desk"), "mobile": mobile, "status": "active" });
        let renamed = post_body(&visitor, &page, &csrf, &body).await;
        assert_eq!(path_of(&renamed), page, "{who}");
    }
    let names: Vec<String> = app.get(&teams, &acme.admin_token).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, [by_api], "each console team was deleted");
    let desks: Vec<String> = app.get(&accounts, &acme.admin_token).await.expect(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(desks.len(), 2);
    assert!(desks.contains(&"Uma desk".to_string()) && desks.contains(&"Ada desk".to_string()));
}

async fn a_post_without_the_sessions_csrf_token_changes_no_group_or_team_account(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&acme, "client-teams", "Private Office", &[&acme.admin_id])
        .await;
    let support = team_account(&app, &acme, "Support", "+447700900001", "+442070000001").await;
    let visitor = console::admin(&app, "admin@acme-wealth.example").await;
    let (groups, accounts) = pages(&acme);
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (groups.clone(), vec![("name", "Forged")]),
        (format!("{groups}/{team}"), vec![("name", "Forged")]),
        (format!("{groups}/{team}/delete"), vec![]),
        (
            accounts.clone(),
            vec![
                ("name", "Forged"),
                ("email", "forged@firm.example"),
                ("mobile", "+447700900003"),
            ],
        ),
        (
            format!("{accounts}/{support}"),
            vec![
                ("name", "Forged"),
                ("mobile", "+447700900004"),
                ("status", "deactivated"),
            ],
        ),
    ];
    console::refused_without_csrf(&visitor, &posts).await;
    let team_api = at(&acme, &format!("/client-teams/{team}"));
    let team = app.get(&team_api, &acme.admin_token).await.expect(200);
    assert_eq!(team["name"], "Private Office");
    let teams = at(&acme, "/client-teams");
    assert_eq!(count(&app, &teams, &acme.admin_token).await, 1);
    let account_api = at(&acme, &format!("/team-accounts/{support}"));
    let account = app.get(&account_api, &acme.admin_token).await.expect(200);
    assert_eq!(
        (
            account["name"].as_str(),
            account["mobile"].as_str(),
            account["active"].as_bool()
        ),
        (Some("Support"), Some("+447700900001"), Some(true))
    );
    let all = at(&acme, "/team-accounts");
    assert_eq!(count(&app, &all, &acme.admin_token).await, 1);
}

/// Asserts the page is no wider than the window at a desktop's width and a phone's.
async fn fits(browser: &Browser, what: &str) {
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
        assert_eq!(fits, json!(true), "{what} is wider than {width} px");
    }
    browser.client.set_window_size(1280, 1100).await.unwrap();
}

async fn an_operator_creates_a_group_and_a_team_account_in_a_browser(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "contact_groups").await;
    let browser = console::operator_browser(&app).await;
    let (groups, accounts) = pages(&acme);
    browser
        .client
        .goto(&format!("{}{groups}", app.address))
        .await
        .unwrap();
    browser.heading("Contact groups of Acme Wealth").await;
    browser.click("#new-group").await;
    browser.heading("New contact group").await;
    browser.fill(&[("#name", "Smith Relationship")]).await;
    browser.click("label[for='member-1']").await;
    fits(&browser, "the new contact group's form").await;
    browser.snapshot("console-groups-new").await;
    browser.click("#create-group").await;
    browser.heading("Smith Relationship").await;
    assert!(browser.text("#notice").await.contains("It was created"));
    assert!(browser.text("#members").await.contains("Ada Admin"));
    fits(&browser, "the new contact group's page").await;
    browser.snapshot("console-groups-new-created").await;

    browser
        .client
        .goto(&format!("{}{accounts}", app.address))
        .await
        .unwrap();
    browser.heading("Team accounts of Acme Wealth").await;
    browser.click("#new-team-account").await;
    browser.heading("New team account").await;
    browser
        .fill(&[
            ("#name", "Support"),
            ("#email", "support@firm.example"),
            ("#mobile", "+447700900001"),
            ("#contact_number", "+442070000001"),
            ("#title", "Weekdays 9 to 5"),
        ])
        .await;
    fits(&browser, "the new team account's form").await;
    browser.snapshot("console-team-account-new").await;
    browser.click("#create-team-account").await;
    browser.heading("Support").await;
    let notice = browser.text("#notice").await;
    assert!(notice.contains("The team account was created"), "{notice}");
    assert_eq!(browser.value("#contact_number").await, "+442070000001");
    fits(&browser, "the team account's page").await;
    browser.snapshot("console-team-account").await;
    browser.stop().await;
}
