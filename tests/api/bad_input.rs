//! Malformed and hostile input: every refusal is a problem body with the right status that
//! names the field at fault, nothing is written, and nothing is ever a 500.

use liaison::store::PageRequest;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Reply, Tenancy, TestApp};
use crate::on_both_backends;

on_both_backends!(
    malformed_json_is_a_400_naming_the_body_and_writes_nothing,
    a_body_that_is_not_declared_as_json_is_415,
    an_unknown_field_is_a_422_naming_it_even_deep_in_the_body,
    a_wrong_type_deep_in_the_body_is_a_422_naming_its_path,
    a_missing_field_is_a_422_naming_it,
    over_long_names_are_refused_and_the_longest_allowed_are_kept,
    a_blank_or_control_character_name_is_refused,
    invalid_emails_are_refused,
    phone_numbers_not_in_e164_are_refused,
    every_bad_field_of_an_invitation_is_reported_at_once,
    a_body_over_64_kib_is_413,
    limit_out_of_range_or_not_a_number_is_a_400_naming_limit,
    a_cursor_or_filter_that_is_not_valid_is_a_400_naming_it,
    a_path_id_that_is_not_a_uuid_is_404,
    an_unknown_route_is_a_404_problem_and_a_wrong_method_a_405,
    a_missing_or_garbage_token_is_401_with_www_authenticate_bearer,
);

fn at(t: &Tenancy, rest: &str) -> String {
    format!("/api/v1/tenancies/{}{rest}", t.id)
}

/// How many items each list of the tenancy holds, to show a refused write changed nothing.
async fn counts(app: &TestApp, t: &Tenancy) -> Vec<usize> {
    let tenancy = app.get(&at(t, ""), &t.admin_token).await.expect(200);
    let groups = match tenancy["group_model"].as_str() {
        Some("contact_groups") => "/contact-groups",
        _ => "/client-teams",
    };
    let mut out = Vec::new();
    for list in ["/staff", "/team-accounts", groups, "/clients", "/tokens"] {
        let page = app
            .get(&at(t, &format!("{list}?limit=200")), &t.admin_token)
            .await
            .expect(200);
        out.push(page["items"].as_array().expect("items").len());
    }
    // The database agrees with the API: no half-written row hides behind a refusal.
    let stored = app
        .store
        .list_staff(
            t.id.parse().expect("uuid"),
            None,
            &PageRequest {
                limit: 200,
                after: None,
            },
        )
        .await
        .expect("store");
    assert_eq!(stored.items.len(), out[0]);
    out
}

/// A contact-groups tenancy with one group, covered by its administrator.
async fn tenancy_with_group(app: &TestApp) -> (Tenancy, String) {
    let t = app.tenancy("Acme Wealth", "contact_groups").await;
    let g = app
        .group(&t, "contact-groups", "Smith Relationship", &[&t.admin_id])
        .await;
    (t, g)
}

#[track_caller]
fn refused(reply: Reply, status: u16, fields: &[&str]) -> Value {
    let body = reply.problem(status);
    assert_eq!(Reply::fields(&body), fields, "{body:#}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

fn staff_body() -> Value {
    json!({ "first_name": "Sam", "last_name": "Staff", "email": "sam@firm.example" })
}

fn with(mut body: Value, changes: Value) -> Value {
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    body
}

async fn malformed_json_is_a_400_naming_the_body_and_writes_nothing(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    for raw in [
        &br#"{"first_name": "Sam", "last_name": "#[..],
        br#"{"first_name": "Sam",}"#,
        b"not json at all",
        b"",
        br#"{"first_name": "Sam", "last_name": "Staff", "email": "sam@firm.example"} trailing"#,
        b"\xff\xfe",
    ] {
        let reply = app
            .raw(
                Method::POST,
                &at(&t, "/staff"),
                &t.admin_token,
                "application/json",
                raw.to_vec(),
            )
            .await;
        let body = refused(reply, 400, &["body"]);
        assert_eq!(body["code"], "bad-request");
    }
    // The optional body of adding a member is parsed too, when there is one.
    let reply = app
        .raw(
            Method::PUT,
            &at(&t, &format!("/contact-groups/{g}/members/{}", t.admin_id)),
            &t.admin_token,
            "application/json",
            b"{".to_vec(),
        )
        .await;
    refused(reply, 400, &["body"]);
    assert_eq!(counts(&app, &t).await, before);
}

async fn a_body_that_is_not_declared_as_json_is_415(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let before = counts(&app, &t).await;
    let valid = staff_body().to_string().into_bytes();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "json",
    ] {
        let reply = app
            .raw(
                Method::POST,
                &at(&t, "/staff"),
                &t.admin_token,
                content_type,
                valid.clone(),
            )
            .await;
        let body = refused(reply, 415, &[]);
        assert_eq!(body["code"], "unsupported-media-type");
    }
    // No content type at all.
    let response = app
        .http
        .post(format!("{}{}", app.address, at(&t, "/staff")))
        .bearer_auth(&t.admin_token)
        .body(valid.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(counts(&app, &t).await, before);

    // A JSON media type with parameters, or a +json type, is JSON.
    app.raw(
        Method::POST,
        &at(&t, "/staff"),
        &t.admin_token,
        "application/json; charset=utf-8",
        valid,
    )
    .await
    .expect(201);
    app.raw(
        Method::POST,
        &at(&t, "/staff"),
        &t.admin_token,
        "application/merge-patch+json",
        with(
            staff_body(),
            json!({ "email": "sam2@firm.example", "first_name": "Samuel" }),
        )
        .to_string()
        .into_bytes(),
    )
    .await
    .expect(201);
}

async fn an_unknown_field_is_a_422_naming_it_even_deep_in_the_body(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    let body = refused(
        app.post(
            &at(&t, "/staff"),
            &t.admin_token,
            with(staff_body(), json!({ "nickname": "Sammy" })),
        )
        .await,
        422,
        &["nickname"],
    );
    assert_eq!(body["code"], "invalid-fields");
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "new_contact_group": { "name": "Smith", "members": [], "colour": "blue" } }),
        )
        .await,
        422,
        &["new_contact_group.colour"],
    );
    // A field of another route is unknown here: no sneaking a status or a role in.
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "contact_groups": [g], "status": "active" }),
        )
        .await,
        422,
        &["status"],
    );
    refused(
        app.patch(
            &at(&t, ""),
            &t.admin_token,
            json!({ "group_model": "client_teams" }),
        )
        .await,
        422,
        &["group_model"],
    );
    refused(
        app.put(
            &at(&t, &format!("/contact-groups/{g}/members/{}", t.admin_id)),
            &t.admin_token,
            Some(json!({ "override": true })),
        )
        .await,
        422,
        &["override"],
    );
    assert_eq!(counts(&app, &t).await, before);
    let tenancy = app.get(&at(&t, ""), &t.admin_token).await.expect(200);
    assert_eq!(tenancy["group_model"], "contact_groups");
}

async fn a_wrong_type_deep_in_the_body_is_a_422_naming_its_path(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    let invite = |extra: Value| {
        with(
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com" }),
            extra,
        )
    };
    for (body, field) in [
        (
            invite(
                json!({ "new_contact_group": { "name": "Smith", "members": [t.admin_id, "not-a-uuid"] } }),
            ),
            "new_contact_group.members[1]",
        ),
        (
            invite(json!({ "new_contact_group": { "name": 42 } })),
            "new_contact_group.name",
        ),
        (
            invite(json!({ "contact_groups": [g, 7] })),
            "contact_groups[1]",
        ),
        (invite(json!({ "contact_groups": g })), "contact_groups"),
        (
            invite(json!({ "contact_groups": [g], "confidentiality_override": "yes" })),
            "confidentiality_override",
        ),
        (invite(json!({ "first_name": ["Jane"] })), "first_name"),
        (invite(json!({ "mobile": 447768887464_u64 })), "mobile"),
    ] {
        let reply = app.post(&at(&t, "/clients"), &t.admin_token, body).await;
        refused(reply, 422, &[field]);
    }
    refused(
        app.post(
            &at(&t, "/staff"),
            &t.admin_token,
            with(staff_body(), json!({ "role": "king" })),
        )
        .await,
        422,
        &["role"],
    );
    refused(
        app.patch(
            &at(&t, &format!("/staff/{}", t.admin_id)),
            &t.admin_token,
            json!({ "active": "no" }),
        )
        .await,
        422,
        &["active"],
    );
    refused(
        app.post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "name": "Gamma", "group_model": "teams" }),
        )
        .await,
        422,
        &["group_model"],
    );
    refused(
        app.post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "staff_id": "admin", "name": "Laptop" }),
        )
        .await,
        422,
        &["staff_id"],
    );
    // A body that is JSON but not an object.
    for body in [json!([]), json!("staff"), json!(null), json!(1)] {
        refused(
            app.post(&at(&t, "/staff"), &t.admin_token, body).await,
            422,
            &["body"],
        );
    }
    assert_eq!(counts(&app, &t).await, before);
    let tenancies = app
        .get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
    assert_eq!(tenancies["items"].as_array().unwrap().len(), 1);
    let admin = app
        .get(&at(&t, &format!("/staff/{}", t.admin_id)), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(admin["active"], true);
}

async fn a_missing_field_is_a_422_naming_it(app: TestApp) {
    let (t, _) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    for field in ["first_name", "last_name", "email"] {
        refused(
            app.post(
                &at(&t, "/staff"),
                &t.admin_token,
                with(staff_body(), json!({ (field): null })),
            )
            .await,
            422,
            &[field],
        );
    }
    refused(
        app.post(
            &at(&t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": "Support", "email": "support@firm.example" }),
        )
        .await,
        422,
        &["mobile"],
    );
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "new_contact_group": { "members": [] } }),
        )
        .await,
        422,
        &["new_contact_group.name"],
    );
    refused(
        app.post(&at(&t, "/contact-groups"), &t.admin_token, json!({}))
            .await,
        422,
        &["name"],
    );
    refused(
        app.post(
            &at(&t, "/tokens"),
            &t.admin_token,
            json!({ "name": "Laptop" }),
        )
        .await,
        422,
        &["staff_id"],
    );
    refused(
        app.post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "group_model": "client_teams" }),
        )
        .await,
        422,
        &["name"],
    );
    // Neither an existing nor a new contact group: the invitation says where to choose one.
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com" }),
        )
        .await,
        422,
        &["contact_groups"],
    );
    assert_eq!(counts(&app, &t).await, before);
}

async fn over_long_names_are_refused_and_the_longest_allowed_are_kept(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    let (n100, n101) = ("é".repeat(100), "é".repeat(101));
    let (n120, n121) = ("x".repeat(120), "x".repeat(121));

    for field in ["first_name", "last_name"] {
        refused(
            app.post(
                &at(&t, "/staff"),
                &t.admin_token,
                with(staff_body(), json!({ (field): n101 })),
            )
            .await,
            422,
            &[field],
        );
        refused(
            app.post(
                &at(&t, "/clients"),
                &t.admin_token,
                json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                        "contact_groups": [g], (field): n101 }),
            )
            .await,
            422,
            &[field],
        );
    }
    refused(
        app.post(
            &at(&t, "/contact-groups"),
            &t.admin_token,
            json!({ "name": n121 }),
        )
        .await,
        422,
        &["name"],
    );
    refused(
        app.post(
            &at(&t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": n121, "email": "support@firm.example", "mobile": "+447700900001" }),
        )
        .await,
        422,
        &["name"],
    );
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "new_contact_group": { "name": n121, "members": [t.admin_id] } }),
        )
        .await,
        422,
        &["new_contact_group.name"],
    );
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "contact_groups": [g], "message": "m".repeat(2001) }),
        )
        .await,
        422,
        &["message"],
    );
    refused(
        app.post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "name": n121, "group_model": "client_teams" }),
        )
        .await,
        422,
        &["name"],
    );
    refused(
        app.patch(
            &at(&t, &format!("/staff/{}", t.admin_id)),
            &t.admin_token,
            json!({ "last_name": n101 }),
        )
        .await,
        422,
        &["last_name"],
    );
    refused(
        app.patch(
            &at(&t, &format!("/contact-groups/{g}")),
            &t.admin_token,
            json!({ "name": n121 }),
        )
        .await,
        422,
        &["name"],
    );
    assert_eq!(counts(&app, &t).await, before);
    let admin = app
        .get(&at(&t, &format!("/staff/{}", t.admin_id)), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(admin["last_name"], "Admin");

    // The limits are in characters, and the longest allowed values are kept whole.
    let staff = app
        .post(
            &at(&t, "/staff"),
            &t.admin_token,
            with(
                staff_body(),
                json!({ "first_name": n100, "last_name": n100 }),
            ),
        )
        .await
        .expect(201);
    assert_eq!(staff["first_name"], n100.as_str());
    let group = app
        .post(
            &at(&t, "/contact-groups"),
            &t.admin_token,
            json!({ "name": n120 }),
        )
        .await
        .expect(201);
    assert_eq!(group["name"], n120.as_str());
}

async fn a_blank_or_control_character_name_is_refused(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    for name in ["", "   ", "\t\n", "Bad\u{0007}Name"] {
        refused(
            app.post(
                &at(&t, "/contact-groups"),
                &t.admin_token,
                json!({ "name": name }),
            )
            .await,
            422,
            &["name"],
        );
        refused(
            app.patch(
                &at(&t, &format!("/contact-groups/{g}")),
                &t.admin_token,
                json!({ "name": name }),
            )
            .await,
            422,
            &["name"],
        );
        refused(
            app.post(
                &at(&t, "/clients"),
                &t.admin_token,
                json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                        "new_contact_group": { "name": name, "members": [t.admin_id] } }),
            )
            .await,
            422,
            &["new_contact_group.name"],
        );
        refused(
            app.post(
                &at(&t, "/staff"),
                &t.admin_token,
                with(staff_body(), json!({ "first_name": name })),
            )
            .await,
            422,
            &["first_name"],
        );
    }
    assert_eq!(counts(&app, &t).await, before);
    let group = app
        .get(&at(&t, &format!("/contact-groups/{g}")), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(group["name"], "Smith Relationship");
    // Surrounding blanks are trimmed, not refused.
    let renamed = app
        .patch(
            &at(&t, &format!("/contact-groups/{g}")),
            &t.admin_token,
            json!({ "name": "  Smith Family  " }),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Smith Family");
}

async fn invalid_emails_are_refused(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    let long = format!("{}@example.com", "a".repeat(250));
    for email in [
        "",
        "not-an-email",
        "jane@",
        "@example.com",
        "jane@localhost",
        "a b@example.com",
        "Jane <jane@example.com>",
        long.as_str(),
    ] {
        refused(
            app.post(
                &at(&t, "/staff"),
                &t.admin_token,
                with(staff_body(), json!({ "email": email })),
            )
            .await,
            422,
            &["email"],
        );
        refused(
            app.post(
                &at(&t, "/clients"),
                &t.admin_token,
                json!({ "first_name": "Jane", "last_name": "Smith", "email": email, "contact_groups": [g] }),
            )
            .await,
            422,
            &["email"],
        );
        refused(
            app.post(
                &at(&t, "/team-accounts"),
                &t.admin_token,
                json!({ "name": "Support", "email": email, "mobile": "+447700900001" }),
            )
            .await,
            422,
            &["email"],
        );
    }
    assert_eq!(counts(&app, &t).await, before);
}

async fn phone_numbers_not_in_e164_are_refused(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let support = app
        .post(
            &at(&t, "/team-accounts"),
            &t.admin_token,
            json!({ "name": "Support", "email": "support@firm.example",
                    "mobile": "+447700900001", "contact_number": "+442070000001" }),
        )
        .await
        .expect(201);
    let support_id = support["id"].as_str().unwrap().to_string();
    let before = counts(&app, &t).await;
    for phone in [
        "07768 887464",
        "447768887464",
        "+44 7768 887464",
        "+44-7768-887464",
        "+0123456789",
        "+1234",
        "+1234567890123456",
        "+",
    ] {
        refused(
            app.post(
                &at(&t, "/staff"),
                &t.admin_token,
                with(staff_body(), json!({ "mobile": phone })),
            )
            .await,
            422,
            &["mobile"],
        );
        refused(
            app.post(
                &at(&t, "/team-accounts"),
                &t.admin_token,
                json!({ "name": "Help", "email": "help@firm.example", "mobile": phone }),
            )
            .await,
            422,
            &["mobile"],
        );
        refused(
            app.post(
                &at(&t, "/team-accounts"),
                &t.admin_token,
                json!({ "name": "Help", "email": "help@firm.example",
                        "mobile": "+447700900002", "contact_number": phone }),
            )
            .await,
            422,
            &["contact_number"],
        );
        refused(
            app.post(
                &at(&t, "/clients"),
                &t.admin_token,
                json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                        "contact_groups": [g], "mobile": phone }),
            )
            .await,
            422,
            &["mobile"],
        );
        refused(
            app.patch(
                &at(&t, &format!("/team-accounts/{support_id}")),
                &t.admin_token,
                json!({ "mobile": phone }),
            )
            .await,
            422,
            &["mobile"],
        );
        refused(
            app.patch(
                &at(&t, &format!("/staff/{}", t.admin_id)),
                &t.admin_token,
                json!({ "mobile": phone }),
            )
            .await,
            422,
            &["mobile"],
        );
    }
    assert_eq!(counts(&app, &t).await, before);
    let unchanged = app
        .get(
            &at(&t, &format!("/team-accounts/{support_id}")),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(unchanged, support);
}

async fn every_bad_field_of_an_invitation_is_reported_at_once(app: TestApp) {
    let (t, _) = tenancy_with_group(&app).await;
    let body = refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": " ", "last_name": "Smith", "email": "nope",
                    "mobile": "07768 887464", "client_teams": [t.admin_id],
                    "new_contact_group": { "name": "Smith", "members": [t.admin_id] } }),
        )
        .await,
        422,
        &["first_name", "email", "mobile", "client_teams"],
    );
    let detail = body["detail"].as_str().unwrap();
    for field in ["first_name", "email", "mobile", "client_teams"] {
        assert!(detail.contains(field), "{detail}");
    }
    let reasons: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.iter().all(|r| !r.is_empty()), "{body:#}");
    assert_eq!(counts(&app, &t).await[3], 0);
}

async fn a_body_over_64_kib_is_413(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    let huge = "x".repeat(65 * 1024);
    let body = refused(
        app.post(
            &at(&t, "/staff"),
            &t.admin_token,
            with(staff_body(), json!({ "title": huge })),
        )
        .await,
        413,
        &[],
    );
    assert_eq!(body["code"], "payload-too-large");
    refused(
        app.post(
            &at(&t, "/clients"),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com",
                    "contact_groups": [g], "message": huge }),
        )
        .await,
        413,
        &[],
    );
    let many: Vec<String> = (0..2000)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    refused(
        app.post(
            &at(&t, "/contact-groups"),
            &t.admin_token,
            json!({ "name": "Big", "members": many }),
        )
        .await,
        413,
        &[],
    );
    assert_eq!(counts(&app, &t).await, before);
    // Just under the limit, the body is read and its fields judged.
    refused(
        app.post(
            &at(&t, "/staff"),
            &t.admin_token,
            with(staff_body(), json!({ "title": "x".repeat(60 * 1024) })),
        )
        .await,
        422,
        &["title"],
    );
}

async fn limit_out_of_range_or_not_a_number_is_a_400_naming_limit(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let lists = [
        "/api/v1/tenancies".to_string(),
        at(&t, "/staff"),
        at(&t, "/team-accounts"),
        at(&t, "/contact-groups"),
        at(&t, &format!("/contact-groups/{g}/members")),
        at(&t, "/clients"),
        at(&t, "/tokens"),
        at(&t, &format!("/users/{}/contacts", t.admin_id)),
    ];
    for list in &lists {
        for limit in ["0", "201", "500", "-1", "abc", "1.5", "99999999999"] {
            let reply = app
                .get(&format!("{list}?limit={limit}"), &t.admin_token)
                .await;
            let body = refused(reply, 400, &["limit"]);
            assert_eq!(body["code"], "bad-request", "{list}?limit={limit}");
        }
        for limit in ["1", "200"] {
            app.get(&format!("{list}?limit={limit}"), &t.admin_token)
                .await
                .expect(200);
        }
    }
}

async fn a_cursor_or_filter_that_is_not_valid_is_a_400_naming_it(app: TestApp) {
    let (t, _) = tenancy_with_group(&app).await;
    for list in [
        at(&t, "/staff"),
        at(&t, "/clients"),
        at(&t, "/contact-groups"),
    ] {
        for after in ["not-a-uuid", "", "1234"] {
            let reply = app
                .get(&format!("{list}?after={after}"), &t.admin_token)
                .await;
            refused(reply, 400, &["after"]);
        }
        let long_q = "q".repeat(101);
        refused(
            app.get(&format!("{list}?q={long_q}"), &t.admin_token).await,
            400,
            &["q"],
        );
    }
    refused(
        app.get(&at(&t, "/clients?status=lost"), &t.admin_token)
            .await,
        400,
        &["status"],
    );
    app.get(&at(&t, "/clients?status=draft&q="), &t.admin_token)
        .await
        .expect(200);
    // Unknown parameters are ignored.
    app.get(&at(&t, "/staff?colour=blue"), &t.admin_token)
        .await
        .expect(200);
}

async fn a_path_id_that_is_not_a_uuid_is_404(app: TestApp) {
    let (t, g) = tenancy_with_group(&app).await;
    let before = counts(&app, &t).await;
    let a = &t.admin_id;
    for (method, path) in [
        (Method::GET, "/api/v1/tenancies/acme".to_string()),
        (Method::GET, "/api/v1/tenancies/1/staff".to_string()),
        (Method::GET, at(&t, "/staff/1")),
        (Method::GET, at(&t, "/team-accounts/support")),
        (Method::GET, at(&t, "/clients/jane")),
        (Method::POST, at(&t, "/clients/jane/revoke")),
        (Method::GET, at(&t, "/contact-groups/smith")),
        (Method::DELETE, at(&t, "/contact-groups/smith")),
        (
            Method::PUT,
            at(&t, &format!("/contact-groups/{g}/members/me")),
        ),
        (
            Method::DELETE,
            at(&t, &format!("/contact-groups/{g}/members/me")),
        ),
        (Method::GET, at(&t, "/users/me/contacts")),
        (Method::DELETE, at(&t, "/tokens/latest")),
        (Method::DELETE, "/api/v1/operator/tokens/latest".to_string()),
        // A group kind that does not exist is not a route either.
        (Method::GET, at(&t, "/groups")),
        (Method::GET, at(&t, &format!("/contact_groups/{g}"))),
        (Method::GET, at(&t, &format!("/users/{a}x/contacts"))),
    ] {
        let reply = app
            .request(method.clone(), &path, Some(&t.admin_token), None)
            .await;
        let body = reply.problem(404);
        assert_eq!(body["code"], "not-found", "{method} {path}");
    }
    assert_eq!(counts(&app, &t).await, before);
}

async fn an_unknown_route_is_a_404_problem_and_a_wrong_method_a_405(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    for path in ["/api/v1/nothing", "/api/v2/tenancies", "/api", "/admin"] {
        for token in [Some(t.admin_token.as_str()), None] {
            let body = app
                .request(Method::GET, path, token, None)
                .await
                .problem(404);
            assert_eq!(body["code"], "not-found", "{path}");
        }
    }
    app.get(&at(&t, "/staff/extra/segments/here"), &t.admin_token)
        .await
        .problem(404);

    let staff = app.get(&at(&t, "/staff"), &t.admin_token).await.expect(200);
    let s = staff["items"][0]["id"].as_str().unwrap().to_string();
    for (method, path) in [
        (Method::DELETE, "/api/v1/tenancies".to_string()),
        (Method::PUT, "/api/v1/tenancies".to_string()),
        (Method::DELETE, at(&t, "")),
        (Method::POST, at(&t, "")),
        (Method::DELETE, at(&t, &format!("/staff/{s}"))),
        (Method::PUT, at(&t, "/staff")),
        (Method::GET, at(&t, &format!("/clients/{s}/revoke"))),
        (Method::PATCH, "/api/v1/operator/tokens".to_string()),
    ] {
        let reply = app
            .request(method.clone(), &path, Some(&t.admin_token), None)
            .await;
        let body = reply.problem(405);
        assert_eq!(body["code"], "method-not-allowed", "{method} {path}");
    }
    let tenancy = app.get(&at(&t, ""), &t.admin_token).await.expect(200);
    assert_eq!(tenancy["name"], "Acme Wealth");
}

async fn a_missing_or_garbage_token_is_401_with_www_authenticate_bearer(app: TestApp) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let before = counts(&app, &t).await;
    let url = |rest: &str| format!("{}{}", app.address, at(&t, rest));
    let garbage = [
        None,
        Some("Bearer".to_string()),
        Some("Bearer ".to_string()),
        Some("Bearer garbage".to_string()),
        Some("Bearer lsn_garbage".to_string()),
        Some(format!("Bearer lsn_{}", "A".repeat(200))),
        Some(format!("Bearer {}x", t.admin_token)),
        Some(format!("Basic {}", t.admin_token)),
        Some(t.admin_token.clone()),
        Some(format!("Token {}", t.admin_token)),
    ];
    for auth in &garbage {
        for (method, path, body) in [
            (Method::GET, url(""), None),
            (Method::GET, url("/staff"), None),
            (Method::POST, url("/staff"), Some(staff_body())),
            (
                Method::PATCH,
                url(&format!("/staff/{}", t.admin_id)),
                Some(json!({ "role": "staff" })),
            ),
            (
                Method::GET,
                format!("{}/api/v1/tenancies", app.address),
                None,
            ),
            (
                Method::POST,
                format!("{}/api/v1/tenancies", app.address),
                Some(json!({ "name": "Gamma" })),
            ),
        ] {
            let mut request = app.http.request(method.clone(), &path);
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("sent");
            assert_eq!(response.status().as_u16(), 401, "{method} {path} {auth:?}");
            assert_eq!(
                response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "{method} {path} {auth:?}"
            );
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("application/problem+json")
            );
            let body: Value = response.json().await.expect("problem body");
            assert_eq!(body["status"], 401);
            assert_eq!(body["code"], "unauthorized");
        }
    }
    // Without a valid token, bad input is not even looked at: 401 before 404, 415 or 422.
    let response = app
        .http
        .post(url("/clients"))
        .header("content-type", "text/plain")
        .body("{")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);
    let response = app
        .http
        .get(format!("{}/api/v1/tenancies/not-a-uuid", app.address))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 401);

    assert_eq!(counts(&app, &t).await, before);
    let admin = app
        .get(&at(&t, &format!("/staff/{}", t.admin_id)), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(admin["role"], "system_administrator");
    // The scheme's name is case-insensitive (RFC 9110); a lower-case one is accepted too.
    let response = app
        .http
        .get(url(""))
        .header("authorization", format!("bearer {}", t.admin_token))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
}
