//! The invite flow inside Salesforce, over HTTP as a browser speaks it: the canvas signed
//! request, the session cookie, the pages and their errors.

use liaison::crm::canvas::sign;
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path_regex};

use crate::helpers::canvas::{
    RECORD, SECRET, USER_ID, browser, clients, csrf, envelope, get, hidden, link_key, open, opened,
    org, post, record_answers,
};
use crate::helpers::salesforce::fixture;
use crate::helpers::{Tenancy, TestApp};
use crate::on_both_backends;

on_both_backends!(
    a_forged_altered_or_unknown_org_request_gets_a_401_page_and_opens_nothing,
    pick_a_tenancy_then_the_form_is_prefilled_and_sending_creates_one_client,
    errors_are_shown_next_to_their_field_and_nothing_is_created,
    salesforce_trouble_gets_a_clear_page_and_nothing_is_created,
    a_user_who_is_staff_nowhere_is_told_why,
    the_same_email_from_another_record_is_refused_and_named,
    a_long_list_is_searched_on_the_server_and_a_search_creates_nothing,
    a_browser_that_refuses_the_cookie_carries_the_session_in_the_page,
);

async fn a_forged_altered_or_unknown_org_request_gets_a_401_page_and_opens_nothing(app: TestApp) {
    org(&app).await;
    let good = sign(SECRET, &envelope("jo.bloggs@firm.example", RECORD));
    let (signature, payload) = good.split_once('.').unwrap();
    let mut other_org = envelope("jo.bloggs@firm.example", RECORD);
    other_org["context"]["organization"]["organizationId"] = json!("00D5g000004ZKTEEA4");
    let mut altered = envelope("jo.bloggs@firm.example", RECORD);
    altered["context"]["user"]["email"] = json!("admin@acme-wealth.example");
    let altered_payload = sign("whatever", &altered);
    for bad in [
        sign(
            "not-the-secret",
            &envelope("jo.bloggs@firm.example", RECORD),
        ),
        format!("{signature}.{}", altered_payload.split_once('.').unwrap().1),
        sign(SECRET, &other_org),
        format!("{signature}x.{payload}"),
        "garbage".to_string(),
    ] {
        let page = browser();
        let (status, body) = open(&app, &page, &bad).await;
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("This page cannot be opened"));
        assert!(!body.contains(SECRET));
        // No session was opened.
        let (status, _) = get(&page, &format!("{}/salesforce/invite", app.address)).await;
        assert_eq!(status, 401);
    }
}

async fn pick_a_tenancy_then_the_form_is_prefilled_and_sending_creates_one_client(app: TestApp) {
    let (a, _, _) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let page = browser();
    let (status, body) = open(
        &app,
        &page,
        &sign(SECRET, &envelope("Jo.Bloggs@firm.example", RECORD)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("choose the one to invite into") && body.contains("Beta Trust"));

    let (status, form) = get(
        &page,
        &format!("{}/salesforce/invite?tenancy={}", app.address, a.id),
    )
    .await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("Invite to Acme Wealth"));
    assert!(form.contains("value=\"Jane\"") && form.contains("value=\"jane.smith@example.com\""));
    assert!(
        form.contains("value=\"Client\""),
        "the title defaults to Client"
    );
    // The record's mobile is offered in E.164, not applied.
    assert!(form.contains("value=\"07768 887464\"") && form.contains("Use +447768887464"));
    let team = app
        .get(
            &format!("/api/v1/tenancies/{}/client-teams", a.id),
            &a.admin_token,
        )
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = csrf(&form);
    let fields = [
        ("csrf", token.as_str()),
        ("tenancy", a.id.as_str()),
        ("first_name", "Jane"),
        ("last_name", "Smith"),
        ("email", "jane.smith@example.com"),
        ("mobile", "+447768887464"),
        ("title", "Client"),
        ("groups", team.as_str()),
        ("action", "send"),
    ];
    let url = format!("{}/salesforce/invite", app.address);
    let (status, done) = post(&page, &url, &fields).await;
    assert_eq!(status, 201, "{done}");
    assert!(done.contains("Invitation sent") && done.contains("Pending (Invited)"));
    // A double click, or the same form from a second tab: still one client.
    let (status, again) = post(&page, &url, &fields).await;
    assert_eq!(status, 200, "{again}");
    assert!(again.contains("already exists"));
    let made = clients(&app, &a).await;
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["status"], "invited");
    assert_eq!(made[0]["mobile"], "+447768887464");

    // Opened again on the record, the page shows the client's state and the actions that fit.
    let (page, status, state) = opened(&app, RECORD, &a.id).await;
    assert_eq!(status, 200);
    assert!(state.contains("Pending (Invited)") && state.contains("Resend the invitation"));
    assert!(!state.contains("Send invitation"));
    let (status, revoked) = post(
        &page,
        &format!("{}/salesforce/invite/action", app.address),
        &[
            ("csrf", &csrf(&state)),
            ("tenancy", &a.id),
            ("action", "revoke"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked.contains("Invitation revoked") && revoked.contains("Revoked"));
    // Without the session's CSRF token nothing changes.
    let (status, _) = post(
        &page,
        &format!("{}/salesforce/invite/action", app.address),
        &[("csrf", "forged"), ("tenancy", &a.id), ("action", "resend")],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(clients(&app, &a).await[0]["status"], "revoked");
}

async fn errors_are_shown_next_to_their_field_and_nothing_is_created(app: TestApp) {
    let (a, _, _) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let (page, _, form) = opened(&app, RECORD, &a.id).await;
    let (status, body) = post(
        &page,
        &format!("{}/salesforce/invite", app.address),
        &[
            ("csrf", &csrf(&form)),
            ("tenancy", &a.id),
            ("first_name", "Jane"),
            ("last_name", "Smith"),
            ("email", "not-an-email"),
            ("mobile", "07768 887464"),
            ("action", "send"),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Nothing was created"));
    assert!(body.contains("id=\"email-error\""), "{body}");
    assert!(body.contains("id=\"mobile-error\""));
    assert!(
        body.contains("id=\"client_teams-error\""),
        "no team chosen: {body}"
    );
    assert!(
        body.contains("value=\"not-an-email\""),
        "what the user typed is kept"
    );
    assert!(clients(&app, &a).await.is_empty());
}

async fn salesforce_trouble_gets_a_clear_page_and_nothing_is_created(app: TestApp) {
    let (a, _, link) = org(&app).await;
    let deleted = "0035g00000XyZacAAF";
    let down = "0035g00000XyZadAAF";
    record_answers(&app, deleted, fixture(&app, "rest/not-found.json")).await;
    record_answers(&app, down, fixture(&app, "rest/server-unavailable.json")).await;
    for (record, status, says) in [
        (deleted, 404, "The Salesforce record was not found"),
        (down, 503, "Salesforce is not answering"),
    ] {
        let (_, got, body) = opened(&app, record, &a.id).await;
        assert_eq!(got, status, "{body}");
        assert!(
            body.contains(says) && body.contains("Nothing was created"),
            "{body}"
        );
    }
    // A link whose authorisation was withdrawn names who must reconnect it.
    Mock::given(method("GET"))
        .and(path_regex(
            "/services/data/.*/sobjects/Contact/0035g00000XyZaeAAF",
        ))
        .respond_with(fixture(&app, "rest/invalid-session.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/services/oauth2/token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .with_priority(1)
        .mount(&app.salesforce)
        .await;
    let page = browser();
    open(
        &app,
        &page,
        &sign(
            SECRET,
            &envelope("jo.bloggs@firm.example", "0035g00000XyZaeAAF"),
        ),
    )
    .await;
    let (got, body) = get(
        &page,
        &format!("{}/salesforce/invite?tenancy={}", app.address, a.id),
    )
    .await;
    assert_eq!(got, 409, "{body}");
    assert!(
        body.contains("A CRM administrator must reconnect it"),
        "{body}"
    );
    // The page links the link's console page, where its administrators reconnect it.
    assert!(
        body.contains(&format!(
            "href=\"/console/org-links/{link}\" target=\"_blank\""
        )),
        "{body}"
    );
    assert!(clients(&app, &a).await.is_empty());
    let state = app
        .get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(state["state"], "unauthorized");
}

async fn a_user_who_is_staff_nowhere_is_told_why(app: TestApp) {
    org(&app).await;
    let page = browser();
    let (status, body) = open(
        &app,
        &page,
        &sign(SECRET, &envelope("stranger@elsewhere.example", RECORD)),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("stranger@elsewhere.example") && body.contains("not an active staff user")
    );
}

async fn the_same_email_from_another_record_is_refused_and_named(app: TestApp) {
    let (a, _, _) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let other = "0035g00000XyZafAAF";
    record_answers(&app, other, fixture(&app, "rest/contact.json")).await;
    let team = app
        .get(
            &format!("/api/v1/tenancies/{}/client-teams", a.id),
            &a.admin_token,
        )
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut pages = vec![];
    for record in [RECORD, other] {
        let (page, _, form) = opened(&app, record, &a.id).await;
        pages.push((page, csrf(&form)));
    }
    let mut outcomes = vec![];
    for (page, token) in &pages {
        outcomes.push(
            post(
                page,
                &format!("{}/salesforce/invite", app.address),
                &[
                    ("csrf", token),
                    ("tenancy", &a.id),
                    ("first_name", "Jane"),
                    ("last_name", "Smith"),
                    ("email", "jane.smith@example.com"),
                    ("groups", &team),
                    ("action", "draft"),
                ],
            )
            .await,
        );
    }
    assert_eq!(outcomes[0].0, 201);
    assert!(outcomes[0].1.contains("Saved as a draft"));
    assert_eq!(outcomes[1].0, 422);
    assert!(
        outcomes[1]
            .1
            .contains("a client with this e-mail already exists")
    );
    assert_eq!(clients(&app, &a).await.len(), 1);
}

on_both_backends!(
    the_json_flow_acts_for_a_salesforce_user_with_the_link_key,
    the_json_flow_refuses_a_missing_key_an_unknown_user_and_a_deleted_record,
    a_national_mobile_is_offered_in_the_tenancys_region_unless_the_mapping_names_one,
);

/// The record's `07768 887464` is offered as E.164 in the tenancy's region (GB unless set)
/// when the mapping names none, and not at all in a region where it is no number.
async fn a_national_mobile_is_offered_in_the_tenancys_region_unless_the_mapping_names_one(
    app: TestApp,
) {
    let (_, b, link) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let key = link_key(&app, &link).await;
    let mut mapping =
        serde_json::to_value(liaison::domain::org_link::FieldMapping::default()).unwrap();
    let set_mapping = |mapping: Value| {
        let (app, link) = (&app, &link);
        async move {
            app.patch(
                &format!("/api/v1/org-links/{link}"),
                &app.operator,
                json!({ "field_mapping": mapping }),
            )
            .await
            .expect(200);
        }
    };
    let suggested = || async {
        app.post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": user(), "record": { "sobject": "Contact", "id": RECORD }, "tenancy_id": b.id }),
        )
        .await
        .expect(200)["suggested_mobile"]
            .clone()
    };
    set_mapping(mapping.clone()).await;
    assert_eq!(suggested().await, "+447768887464", "the tenancy's GB");
    app.patch(
        &format!("/api/v1/tenancies/{}", b.id),
        &app.operator,
        json!({ "phone_region": "US" }),
    )
    .await
    .expect(200);
    assert_eq!(suggested().await, Value::Null, "no US number");
    mapping["phone_region"] = json!("GB");
    set_mapping(mapping).await;
    assert_eq!(suggested().await, "+447768887464", "the mapping's GB");
}

fn user() -> Value {
    json!({ "user_id": USER_ID, "username": "jo@acme.example.sf", "email": "jo.bloggs@firm.example" })
}

async fn the_json_flow_acts_for_a_salesforce_user_with_the_link_key(app: TestApp) {
    let (a, b, link) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let key = link_key(&app, &link).await;
    let record = json!({ "sobject": "Contact", "id": RECORD });
    let context = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": user(), "record": record }),
        )
        .await
        .expect(200);
    assert_eq!(context["tenancies"].as_array().unwrap().len(), 2);
    assert!(context["prefill"].is_null(), "no tenancy chosen yet");
    let context = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": user(), "record": record, "tenancy_id": b.id }),
        )
        .await
        .expect(200);
    assert_eq!(context["prefill"]["email"], "jane.smith@example.com");
    assert_eq!(context["suggested_mobile"], "+447768887464");
    assert_eq!(context["new_group_name"], "Smith Relationship");
    assert_eq!(context["group_model"], "contact_groups");
    // Who a new contact group may hold, searchable.
    assert!(
        context["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "Jo Bloggs" && m["kind"] == "staff"),
        "{context:#}"
    );
    let none = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": user(), "record": record, "tenancy_id": b.id, "members_query": "nobody like it" }),
        )
        .await
        .expect(200);
    assert_eq!(none["members"], json!([]));
    assert_eq!(none["more_members"], false);
    for (query, found) in [("PRIVATE", 1), ("nothing like it", 0)] {
        let context = app
            .post(
                "/api/v1/salesforce/invite-context",
                &key,
                json!({ "user": user(), "record": record, "tenancy_id": a.id, "groups_query": query }),
            )
            .await
            .expect(200);
        assert_eq!(
            context["groups"].as_array().unwrap().len(),
            found,
            "{query}"
        );
        assert_eq!(context["more_groups"], false);
    }

    let team = app
        .get(
            &format!("/api/v1/tenancies/{}/client-teams", a.id),
            &a.admin_token,
        )
        .await
        .expect(200)["items"][0]["id"]
        .clone();
    let invite = json!({ "user": user(), "record": record, "tenancy_id": a.id, "send": true,
                         "first_name": "Jane", "last_name": "Smith", "email": "jane.smith@example.com",
                         "client_teams": [team] });
    let created = app
        .post("/api/v1/salesforce/invites", &key, invite.clone())
        .await
        .expect(201);
    assert_eq!(created["status"], "invited");
    // A retry after a timeout: the same client, not a second one.
    let again = app
        .post("/api/v1/salesforce/invites", &key, invite)
        .await
        .expect(200);
    assert_eq!(again["id"], created["id"]);
    assert_eq!(clients(&app, &a).await.len(), 1);
    // The status goes back to the record through the write-back.
    let writebacks = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(writebacks["items"][0]["record_id"], RECORD);
    assert_eq!(writebacks["items"][0]["status"], "invited");
    // The context now shows the client instead of a form.
    let context = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": user(), "record": record, "tenancy_id": a.id }),
        )
        .await
        .expect(200);
    assert_eq!(context["tenancies"][0]["client"]["status"], "invited");
    assert!(context["prefill"].is_null());
    // A new key replaces the old.
    let newer = link_key(&app, &link).await;
    app.post(
        "/api/v1/salesforce/invite-context",
        &key,
        json!({ "user": user(), "record": record }),
    )
    .await
    .problem(401);
    app.post(
        "/api/v1/salesforce/invite-context",
        &newer,
        json!({ "user": user(), "record": record }),
    )
    .await
    .expect(200);
}

async fn the_json_flow_refuses_a_missing_key_an_unknown_user_and_a_deleted_record(app: TestApp) {
    let (a, _, link) = org(&app).await;
    let key = link_key(&app, &link).await;
    let deleted = "0035g00000XyZacAAF";
    record_answers(&app, deleted, fixture(&app, "rest/not-found.json")).await;
    let record = json!({ "sobject": "Contact", "id": deleted });
    // A staff token is not a link key.
    app.post(
        "/api/v1/salesforce/invite-context",
        &a.admin_token,
        json!({ "user": user(), "record": record }),
    )
    .await
    .problem(401);
    let stranger = json!({ "user_id": USER_ID, "email": "stranger@elsewhere.example" });
    let refused = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": stranger, "record": record }),
        )
        .await
        .problem(403);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("not an active staff user")
    );
    let bad = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": { "user_id": "nope" }, "record": { "sobject": "Contact", "id": "bad" } }),
        )
        .await
        .problem(422);
    assert_eq!(
        crate::helpers::Reply::fields(&bad),
        ["user.user_id", "record.id"]
    );
    app.post(
        "/api/v1/salesforce/invite-context",
        &key,
        json!({ "user": user(), "record": record, "tenancy_id": a.id }),
    )
    .await
    .problem(404);
    let invalid = app
        .post(
            "/api/v1/salesforce/invites",
            &key,
            json!({ "user": user(), "record": record, "tenancy_id": a.id,
                    "first_name": "", "last_name": "Smith", "email": "not-an-email" }),
        )
        .await
        .problem(422);
    let fields = crate::helpers::Reply::fields(&invalid);
    assert!(fields.contains(&"first_name".to_string()) && fields.contains(&"email".to_string()));
    assert!(clients(&app, &a).await.is_empty());
}

on_both_backends!(a_link_that_matches_staff_by_salesforce_user_id_finds_them_by_it);

async fn a_link_that_matches_staff_by_salesforce_user_id_finds_them_by_it(app: TestApp) {
    let (a, _, link) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "staff_match": "user_id" }),
    )
    .await
    .expect(200);
    // By e-mail Jo would be found; by user id nobody is, until the admin says who Jo is.
    let page = browser();
    let (status, _) = open(
        &app,
        &page,
        &sign(SECRET, &envelope("jo.bloggs@firm.example", RECORD)),
    )
    .await;
    assert_eq!(status, 403);
    let staff = app
        .get(
            &format!("/api/v1/tenancies/{}/staff?q=bloggs", a.id),
            &a.admin_token,
        )
        .await
        .expect(200)["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("/api/v1/tenancies/{}/staff/{staff}/salesforce-user", a.id);
    let bad = app
        .put(
            &url,
            &a.admin_token,
            Some(json!({ "user_id": "0035g00000XyZabAAF", "username": "nope" })),
        )
        .await
        .problem(422);
    assert_eq!(crate::helpers::Reply::fields(&bad), ["user_id", "username"]);
    let set = app
        .put(
            &url,
            &a.admin_token,
            Some(json!({ "user_id": &USER_ID[..15], "username": "Jo@Acme.example.sf" })),
        )
        .await
        .expect(200);
    assert_eq!(set["salesforce_user_id"], USER_ID);
    // One Salesforce user acts as one staff user of a tenancy.
    let admin_url = format!(
        "/api/v1/tenancies/{}/staff/{}/salesforce-user",
        a.id, a.admin_id
    );
    app.put(
        &admin_url,
        &a.admin_token,
        Some(json!({ "user_id": USER_ID })),
    )
    .await
    .problem(409);
    let page = browser();
    let (status, body) = open(
        &app,
        &page,
        &sign(SECRET, &envelope("someone-else@firm.example", RECORD)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Invite to Acme Wealth"),
        "staff in one tenancy only: no pick"
    );
}

/// A tenancy with more teams than the form lists: the page says so, the search runs on the
/// server with everything typed kept, a ticked team survives a search that does not find it,
/// and neither a search nor Enter in a field (whose default button is a search) creates anyone.
async fn a_long_list_is_searched_on_the_server_and_a_search_creates_nothing(app: TestApp) {
    let (a, _, _) = org(&app).await;
    for n in 0..200 {
        app.group(&a, "client-teams", &format!("Team {n:03}"), &[])
            .await;
    }
    let zebra = app
        .group(&a, "client-teams", "Zebra Holdings", &[&a.admin_id])
        .await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let (page, _, form) = opened(&app, RECORD, &a.id).await;
    assert!(form.contains("Showing the first 200; search to find the others."));
    assert!(form.contains("Private Clients") && !form.contains("Zebra Holdings"));
    let csrf = csrf(&form);
    let url = format!("{}/salesforce/invite", app.address);
    let typed = [
        ("csrf", csrf.as_str()),
        ("tenancy", a.id.as_str()),
        ("first_name", "Jane"),
        ("last_name", "Smith"),
        ("email", "jane.smith@example.com"),
        ("mobile", "+447768887464"),
    ];

    let mut search = typed.to_vec();
    search.extend([("q_groups", "zebra"), ("action", "search")]);
    let (status, found) = post(&page, &url, &search).await;
    assert_eq!(status, 200, "{found}");
    assert!(found.contains("Zebra Holdings") && !found.contains("Team 001"));
    assert!(!found.contains("Showing the first"));
    assert!(found.contains("value=\"Jane\"") && found.contains("value=\"zebra\""));

    // Zebra ticked, then a search that does not find it, submitted with Enter (no button).
    let mut enter = typed.to_vec();
    enter.extend([("groups", zebra.as_str()), ("q_groups", "Team 00")]);
    let (status, kept) = post(&page, &url, &enter).await;
    assert_eq!(status, 200, "{kept}");
    assert!(
        kept.contains(&format!("value=\"{zebra}\" checked")),
        "{kept}"
    );
    assert!(kept.contains("Team 009") && !kept.contains("Team 010"));
    assert!(
        clients(&app, &a).await.is_empty(),
        "a search created a client"
    );

    let mut send = typed.to_vec();
    send.extend([("groups", zebra.as_str()), ("action", "send")]);
    let (status, done) = post(&page, &url, &send).await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(clients(&app, &a).await.len(), 1);
}

/// Safari keeps no third-party cookie in Salesforce's iframe: the pages' forms carry the
/// session, so the whole flow works without it; a made-up session opens nothing.
async fn a_browser_that_refuses_the_cookie_carries_the_session_in_the_page(app: TestApp) {
    let (a, _, _) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let no_cookies = reqwest::Client::new();
    let (status, pick) = open(
        &app,
        &no_cookies,
        &sign(SECRET, &envelope("jo.bloggs@firm.example", RECORD)),
    )
    .await;
    assert_eq!(status, 200, "{pick}");
    assert!(pick.contains("choose the one to invite into"));
    let url = format!("{}/salesforce/invite", app.address);
    let (session, csrf) = (hidden(&pick, "session"), hidden(&pick, "csrf"));
    assert!(!session.is_empty() && !csrf.is_empty());
    let keys = [("session", session.as_str()), ("csrf", csrf.as_str())];

    // Without the cookie, a plain navigation has no session; the forms do.
    let (status, _) = get(&no_cookies, &format!("{url}?tenancy={}", a.id)).await;
    assert_eq!(status, 401);
    let mut pick_a = keys.to_vec();
    pick_a.extend([("tenancy", a.id.as_str()), ("action", "open")]);
    let (status, form) = post(&no_cookies, &url, &pick_a).await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains("Invite to Acme Wealth") && form.contains("value=\"Jane\""));
    assert_eq!(hidden(&form, "session"), session);

    let mut choose = keys.to_vec();
    choose.extend([("tenancy", a.id.as_str()), ("action", "choose")]);
    let (status, again) = post(&no_cookies, &url, &choose).await;
    assert_eq!(status, 200);
    assert!(again.contains("choose the one to invite into"));

    let team = form
        .split("id=\"groups-")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let mut send = keys.to_vec();
    send.extend([
        ("tenancy", a.id.as_str()),
        ("first_name", "Jane"),
        ("last_name", "Smith"),
        ("email", "jane.smith@example.com"),
        ("groups", team.as_str()),
        ("action", "send"),
    ]);
    let mut forged = send.clone();
    forged[0] = ("session", "made-up");
    let (status, refused) = post(&no_cookies, &url, &forged).await;
    assert_eq!(status, 401);
    assert!(refused.contains("Your session has ended"));
    assert!(clients(&app, &a).await.is_empty());

    let (status, done) = post(&no_cookies, &url, &send).await;
    assert_eq!(status, 201, "{done}");
    assert!(done.contains("Pending (Invited)"));
    assert_eq!(clients(&app, &a).await.len(), 1);
}

on_both_backends!(
    a_record_deleted_while_the_form_is_open_invites_no_one,
    the_json_flow_refuses_a_record_deleted_since_its_context_was_read,
);

/// From now on Salesforce answers reads of `record` as it answers a deleted record.
async fn deleted_in_salesforce(app: &TestApp, record: &str) {
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "/services/data/v[0-9.]+/sobjects/Contact/{record}"
        )))
        .respond_with(fixture(app, "rest/entity-is-deleted.json"))
        .with_priority(1)
        .mount(&app.salesforce)
        .await;
}

async fn first_team(app: &TestApp, t: &Tenancy) -> String {
    app.get(
        &format!("/api/v1/tenancies/{}/client-teams", t.id),
        &t.admin_token,
    )
    .await
    .expect(200)["items"][0]["id"]
        .as_str()
        .expect("team id")
        .to_string()
}

async fn a_record_deleted_while_the_form_is_open_invites_no_one(app: TestApp) {
    let (a, _, _) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let (page, status, form) = opened(&app, RECORD, &a.id).await;
    assert_eq!(status, 200, "{form}");
    let team = first_team(&app, &a).await;
    deleted_in_salesforce(&app, RECORD).await;
    for action in ["send", "draft"] {
        let (status, body) = post(
            &page,
            &format!("{}/salesforce/invite", app.address),
            &[
                ("csrf", &csrf(&form)),
                ("tenancy", &a.id),
                ("first_name", "Jane"),
                ("last_name", "Smith"),
                ("email", "jane.smith@example.com"),
                ("title", "Client"),
                ("groups", &team),
                ("action", action),
            ],
        )
        .await;
        assert_eq!(status, 404, "{action}: {body}");
        assert!(
            body.contains("This Salesforce record was deleted")
                && body.contains("Nothing was created"),
            "{action}: {body}"
        );
    }
    assert!(clients(&app, &a).await.is_empty(), "no client, no e-mail");
    // Opened again, the page says the record is gone, not that the mapping is wrong.
    let (_, status, body) = opened(&app, RECORD, &a.id).await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("This Salesforce record was deleted"),
        "{body}"
    );
    assert!(!body.contains("field mapping"), "{body}");
}

async fn the_json_flow_refuses_a_record_deleted_since_its_context_was_read(app: TestApp) {
    let (a, _, link) = org(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let key = link_key(&app, &link).await;
    let record = json!({ "sobject": "Contact", "id": RECORD });
    app.post(
        "/api/v1/salesforce/invite-context",
        &key,
        json!({ "user": user(), "record": record, "tenancy_id": a.id }),
    )
    .await
    .expect(200);
    deleted_in_salesforce(&app, RECORD).await;
    let team = first_team(&app, &a).await;
    let refused = app
        .post(
            "/api/v1/salesforce/invites",
            &key,
            json!({ "user": user(), "record": record, "tenancy_id": a.id, "send": true,
                    "first_name": "Jane", "last_name": "Smith", "email": "jane.smith@example.com",
                    "client_teams": [team] }),
        )
        .await
        .problem(404);
    assert_eq!(refused["code"], "record-deleted", "{refused:#}");
    assert!(clients(&app, &a).await.is_empty());
    let context = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": user(), "record": record, "tenancy_id": a.id }),
        )
        .await
        .problem(404);
    assert_eq!(context["code"], "record-deleted");
}
