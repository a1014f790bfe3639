//! Org links and the Salesforce connection, against wiremock answering with the fixtures in
//! `wiremock-fixtures/` (shaped as Salesforce documents them). Each test asserts what crossed
//! the wire.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use liaison::crm::client::Session;
use liaison::crm::error::CrmError;
use liaison::secrets::Sealer;
use liaison::store::LinkState;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::salesforce::{
    callback, connect, crm, fixture, form_value, jwt_link, open_ticket, query_value,
    web_server_link,
};
use crate::helpers::{Reply, TEST_ENCRYPTION_KEY, TestApp};
use crate::on_both_backends;

on_both_backends!(
    web_server_flow_connects_with_pkce_and_a_single_use_state,
    callback_with_a_used_state_or_from_another_browser_changes_nothing,
    secrets_are_sealed_at_rest_and_never_returned,
    jwt_bearer_link_connects_with_a_signed_assertion_valid_three_minutes,
    expired_session_is_renewed_once_for_many_concurrent_calls,
    a_rotated_refresh_token_is_always_stored,
    invalid_grant_marks_the_link_unauthorized_and_stops_calls,
    disconnect_revokes_the_token_at_salesforce,
    an_administrator_manages_only_links_of_their_own_tenancy,
    transient_failures_are_retried_honouring_retry_after,
    collections_update_sends_all_or_none_false_and_reads_each_result,
    bad_org_link_input_is_refused_naming_the_field,
);

async fn web_server_flow_connects_with_pkce_and_a_single_use_state(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = web_server_link(&app, &t).await;
    assert_eq!(link["state"], "not_connected");
    let id = link["id"].as_str().unwrap();

    let connect = app
        .post(
            &format!("/api/v1/org-links/{id}/connect"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    let (location, cookie) = open_ticket(&app, connect["connect_url"].as_str().unwrap()).await;
    assert!(
        location.contains("/services/oauth2/authorize?response_type=code&client_id=3MVG9consumer")
    );
    assert_eq!(query_value(&location, "code_challenge_method"), "S256");
    assert_eq!(
        query_value(&location, "redirect_uri"),
        format!("{}/salesforce/oauth/callback", app.address)
    );
    let challenge = query_value(&location, "code_challenge");
    let state = query_value(&location, "state");

    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(fixture(&app, "oauth/token-web-server.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let (status, page) = callback(
        &app,
        &format!("code=aPrx.code&state={state}"),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Salesforce connected"));

    let requests = app.salesforce.received_requests().await.unwrap();
    let token = requests
        .iter()
        .find(|r| r.url.path() == "/services/oauth2/token")
        .unwrap();
    assert_eq!(
        token.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        form_value(token, "grant_type").as_deref(),
        Some("authorization_code")
    );
    assert_eq!(form_value(token, "code").as_deref(), Some("aPrx.code"));
    assert_eq!(
        form_value(token, "client_secret").as_deref(),
        Some("s3cret-consumer")
    );
    let verifier = form_value(token, "code_verifier").unwrap();
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge,
        "verifier matches challenge"
    );

    let after = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(after["state"], "connected");
    assert_eq!(after["instance_url"], app.salesforce.uri());
}

async fn callback_with_a_used_state_or_from_another_browser_changes_nothing(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = web_server_link(&app, &t).await;
    let id = link["id"].as_str().unwrap();
    let connect = app
        .post(
            &format!("/api/v1/org-links/{id}/connect"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    let url = connect["connect_url"].as_str().unwrap();
    let (location, cookie) = open_ticket(&app, url).await;
    let state = query_value(&location, "state");

    // The ticket is single-use.
    let reused = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(reused.get(url).send().await.unwrap().status(), 404);

    // No cookie (another browser), a wrong cookie, an unknown state: refused, nothing asked of Salesforce.
    assert_eq!(
        callback(&app, &format!("code=c&state={state}"), None)
            .await
            .0,
        400
    );
    assert_eq!(
        callback(
            &app,
            &format!("code=c&state={state}"),
            Some("liaison_oauth=forged")
        )
        .await
        .0,
        400
    );
    assert_eq!(
        callback(&app, "code=c&state=guessed", Some(&cookie))
            .await
            .0,
        400
    );
    assert!(app.salesforce.received_requests().await.unwrap().is_empty());
    let denied = callback(
        &app,
        "error=access_denied&error_description=end-user+denied+authorization",
        Some(&cookie),
    )
    .await;
    assert_eq!(denied.0, 400);
    assert!(denied.1.contains("Nothing was changed"));

    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(fixture(&app, "oauth/token-web-server.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    assert_eq!(
        callback(&app, &format!("code=c&state={state}"), Some(&cookie))
            .await
            .0,
        200
    );
    // Replayed: refused, and Salesforce is not asked again.
    assert_eq!(
        callback(&app, &format!("code=c&state={state}"), Some(&cookie))
            .await
            .0,
        400
    );
}

async fn secrets_are_sealed_at_rest_and_never_returned(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = web_server_link(&app, &t).await;
    let text = link.to_string();
    assert!(!text.contains("s3cret-consumer"));
    assert_eq!(link["has_consumer_secret"], true);
    let id = connect(&app, &link).await;

    let secrets = app.store.link_secrets(id).await.unwrap();
    for sealed in [
        &secrets.consumer_secret,
        &secrets.access_token,
        &secrets.refresh_token,
    ] {
        let sealed = sealed.as_deref().expect("stored");
        assert!(sealed.starts_with("v1:"));
        for plain in ["s3cret-consumer", "web.access", "web.refresh"] {
            assert!(!sealed.contains(plain));
        }
    }
    let listed = app
        .get("/api/v1/org-links", &app.operator)
        .await
        .expect(200)
        .to_string();
    for plain in ["s3cret-consumer", "web.access", "web.refresh", "v1:"] {
        assert!(!listed.contains(plain), "{plain} leaked");
    }
}

async fn jwt_bearer_link_connects_with_a_signed_assertion_valid_three_minutes(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = jwt_link(&app, &t).await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
        ))
        .respond_with(fixture(&app, "oauth/token-jwt-bearer.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let id = link["id"].as_str().unwrap();
    let connected = app
        .post(
            &format!("/api/v1/org-links/{id}/connect"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(connected["org_link"]["state"], "connected");
    assert!(connected["connect_url"].is_null());

    let requests = app.salesforce.received_requests().await.unwrap();
    let assertion = form_value(&requests[0], "assertion").unwrap();
    let public = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wiremock-fixtures/oauth/test-only-jwt-key.pub.pem"
    ))
    .unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[app.salesforce.uri()]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(&assertion, &key, &validation)
        .expect("signed with the link's key")
        .claims;
    assert_eq!(claims["iss"], "3MVG9consumer");
    assert_eq!(claims["sub"], "integration@acme.example");
    let now = app.clock.now_unix();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 180, "exp {exp} now {now}");
    assert!(
        app.store
            .link_secrets(Uuid::parse_str(id).unwrap())
            .await
            .unwrap()
            .refresh_token
            .is_none()
    );
}

async fn expired_session_is_renewed_once_for_many_concurrent_calls(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = web_server_link(&app, &t).await;
    let id = connect(&app, &link).await;
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB",
        ))
        .and(header(
            "authorization",
            "Bearer 00D5g000004ZKTD!AQ0AQ.web.access",
        ))
        .respond_with(fixture(&app, "rest/invalid-session.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB",
        ))
        .and(header(
            "authorization",
            "Bearer 00D5g000004ZKTD!AQ0AQ.refreshed.access",
        ))
        .respond_with(fixture(&app, "rest/contact.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(fixture(&app, "oauth/token-refresh.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;

    let crm = Arc::new(crm(&app));
    let link = app.store.org_link(id, None).await.unwrap();
    let calls = (0..8).map(|_| {
        let (crm, link) = (crm.clone(), link.clone());
        tokio::spawn(async move {
            crm.with_session(&link, |session: Session| {
                let crm = crm.clone();
                async move {
                    crm.salesforce()
                        .get_record(
                            &session,
                            "Contact",
                            "0035g00000XyZabAAB",
                            &["FirstName".into(), "Email".into()],
                        )
                        .await
                }
            })
            .await
        })
    });
    for call in futures::future::join_all(calls).await {
        let record = call.unwrap().expect("read after one renewal");
        assert_eq!(record.value["Email"], "jane.smith@example.com");
        assert_eq!(record.limit.map(|l| l.used), Some(10018));
    }
    let refreshes: Vec<_> = app
        .salesforce
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.url.path() == "/services/oauth2/token"
                && form_value(r, "grant_type").as_deref() == Some("refresh_token")
        })
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        form_value(&refreshes[0], "refresh_token").as_deref(),
        Some("5Aep861web.refresh.token")
    );
    assert_eq!(
        form_value(&refreshes[0], "client_id").as_deref(),
        Some("3MVG9consumer")
    );
}

async fn a_rotated_refresh_token_is_always_stored(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(fixture(&app, "oauth/token-refresh-rotated.json"))
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let link = app.store.org_link(id, None).await.unwrap();
    let version = app.store.link_secrets(id).await.unwrap().token_version;
    crm.renew(&link, version).await.expect("renewed");
    let sealed = app
        .store
        .link_secrets(id)
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let sealer = Sealer::from_base64_key(TEST_ENCRYPTION_KEY).unwrap();
    assert_eq!(
        sealer
            .open(&sealed, &format!("org_link:{id}:refresh_token"))
            .unwrap(),
        "5Aep861rotated.refresh.token"
    );
}

async fn invalid_grant_marks_the_link_unauthorized_and_stops_calls(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB",
        ))
        .respond_with(fixture(&app, "rest/invalid-session.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let read = |link| {
        let crm = &crm;
        async move {
            crm.with_session(&link, |session: Session| async move {
                crm.salesforce()
                    .get_record(&session, "Contact", "0035g00000XyZabAAB", &["Email".into()])
                    .await
            })
            .await
        }
    };
    let error = read(app.store.org_link(id, None).await.unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            liaison::crm::LinkError::Crm(CrmError::Unauthorized { .. })
        ),
        "{error:?}"
    );

    let link = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(link["state"], "unauthorized");
    assert!(link["state_reason"].as_str().unwrap().contains("reconnect"));
    assert!(
        app.store
            .link_secrets(id)
            .await
            .unwrap()
            .refresh_token
            .is_none()
    );
    // Later calls stop before Salesforce (the mocks above expect exactly one call each).
    let stopped = app.store.org_link(id, None).await.unwrap();
    assert_eq!(stopped.state, LinkState::Unauthorized);
    assert!(read(stopped).await.is_err());
}

async fn disconnect_revokes_the_token_at_salesforce(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let link = app
        .post(
            &format!("/api/v1/org-links/{id}/disconnect"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(link["state"], "not_connected");
    let revoke = app
        .salesforce
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/services/oauth2/revoke")
        .unwrap();
    assert_eq!(
        form_value(&revoke, "token").as_deref(),
        Some("5Aep861web.refresh.token")
    );
    let secrets = app.store.link_secrets(id).await.unwrap();
    assert!(secrets.access_token.is_none() && secrets.refresh_token.is_none());
}

async fn an_administrator_manages_only_links_of_their_own_tenancy(app: TestApp) {
    let a = app.tenancy("Acme", "client_teams").await;
    let b = app.tenancy("Bravo", "client_teams").await;
    let link = web_server_link(&app, &a).await;
    let id = link["id"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/org-links", &a.admin_token)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        app.get("/api/v1/org-links", &b.admin_token)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.get(&format!("/api/v1/org-links/{id}"), &b.admin_token)
        .await
        .problem(404);
    app.patch(
        &format!("/api/v1/org-links/{id}"),
        &b.admin_token,
        json!({ "name": "Mine" }),
    )
    .await
    .problem(404);
    app.delete(&format!("/api/v1/org-links/{id}"), &b.admin_token)
        .await
        .problem(404);
    app.post(
        &format!("/api/v1/org-links/{id}/connect"),
        &b.admin_token,
        json!({}),
    )
    .await
    .problem(404);
    let moved = app
        .patch(
            &format!("/api/v1/org-links/{id}"),
            &a.admin_token,
            json!({ "tenancies": [a.id, b.id] }),
        )
        .await
        .problem(422);
    assert_eq!(Reply::fields(&moved), ["tenancies"]);
    let (_, staff) = app.staff(&a, "Sam", "Staff", "staff").await;
    app.get("/api/v1/org-links", &staff).await.problem(403);
    assert_eq!(
        app.get(&format!("/api/v1/org-links/{id}"), &a.admin_token)
            .await
            .expect(200)["name"],
        "Acme production"
    );
}

async fn transient_failures_are_retried_honouring_retry_after(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    let record = "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB";
    Mock::given(method("GET"))
        .and(path(record))
        .respond_with(fixture(&app, "rest/server-unavailable.json"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(record))
        .respond_with(fixture(&app, "rest/contact.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let link = app.store.org_link(id, None).await.unwrap();
    let (session, _) = crm.session(&link).await.unwrap();
    let read = crm
        .salesforce()
        .get_record(&session, "Contact", "0035g00000XyZabAAB", &["Email".into()])
        .await;
    assert_eq!(read.unwrap().value["FirstName"], "Jane");

    // A Retry-After longer than the client waits in a call goes back to the caller to schedule.
    app.salesforce.reset().await;
    Mock::given(method("GET"))
        .and(path(record))
        .respond_with(fixture(&app, "rest/server-unavailable-retry-after.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let error = crm
        .salesforce()
        .get_record(&session, "Contact", "0035g00000XyZabAAB", &[])
        .await
        .unwrap_err();
    assert_eq!(error.retry_after(), Some(std::time::Duration::from_secs(1)));

    app.salesforce.reset().await;
    Mock::given(method("GET"))
        .and(path(record))
        .respond_with(fixture(&app, "rest/request-limit-exceeded.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let error = crm
        .salesforce()
        .get_record(&session, "Contact", "0035g00000XyZabAAB", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, CrmError::LimitExceeded),
        "not retried: {error:?}"
    );
}

async fn collections_update_sends_all_or_none_false_and_reads_each_result(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("PATCH"))
        .and(path("/services/data/v62.0/composite/sobjects"))
        .respond_with(fixture(&app, "rest/collections-mixed.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let (session, _) = crm
        .session(&app.store.org_link(id, None).await.unwrap())
        .await
        .unwrap();
    let records: Vec<Value> = ["0035g00000XyZabAAB", "0035g00000DeLetAAB", "0035g00000LockdAAB", "0035g00000ValidAAB"]
        .iter()
        .map(|id| json!({ "attributes": { "type": "Contact" }, "id": id, "Liaison_Status__c": "invited" }))
        .collect();
    let reply = crm
        .salesforce()
        .update_records(&session, &records)
        .await
        .unwrap();
    let codes: Vec<_> = reply
        .value
        .iter()
        .map(|r| {
            r.errors
                .first()
                .map(|e| e.code.clone())
                .unwrap_or_else(|| "OK".into())
        })
        .collect();
    assert_eq!(
        codes,
        [
            "OK",
            "ENTITY_IS_DELETED",
            "UNABLE_TO_LOCK_ROW",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        ]
    );
    let requests = app.salesforce.received_requests().await.unwrap();
    let sent = requests
        .iter()
        .find(|r| r.method.as_str() == "PATCH")
        .unwrap();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["allOrNone"], false);
    assert_eq!(body["records"].as_array().unwrap().len(), 4);
    assert_eq!(body["records"][0]["attributes"]["type"], "Contact");

    let too_many: Vec<Value> = (0..201).map(|_| records[0].clone()).collect();
    assert!(matches!(
        crm.salesforce().update_records(&session, &too_many).await,
        Err(CrmError::Config(_))
    ));
}

async fn bad_org_link_input_is_refused_naming_the_field(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let bad = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": " ", "org_id": "001000000000001", "login_host": "ftp://x", "auth_kind": "jwt_bearer",
                    "consumer_key": "k", "private_key": "not a key", "api_budget_percent": 0,
                    "field_mapping": { "contact": { "first_name": "FirstName", "last_name": "LastName", "email": "Email;--" },
                                       "person_account": { "first_name": "FirstName", "last_name": "LastName", "email": "PersonEmail" },
                                       "write_back": { "status": "Status" } },
                    "tenancies": [] }),
        )
        .await
        .problem(422);
    let mut fields = Reply::fields(&bad);
    fields.sort();
    assert_eq!(
        fields,
        [
            "api_budget_percent",
            "field_mapping.contact.email",
            "field_mapping.write_back.status",
            "integration_username",
            "login_host",
            "name",
            "org_id",
            "private_key",
            "tenancies"
        ]
    );
    assert!(
        app.get("/api/v1/org-links", &app.operator)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    web_server_link(&app, &t).await;
    let twice = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Again", "org_id": "00D5g000004ZKTD", "login_host": "production", "auth_kind": "web_server",
                    "consumer_key": "k", "consumer_secret": "s", "tenancies": [t.id] }),
        )
        .await
        .problem(409);
    assert_eq!(Reply::fields(&twice), ["org_id"]);
}

on_both_backends!(contact_and_person_account_records_prefill_through_the_mapping);

async fn contact_and_person_account_records_prefill_through_the_mapping(app: TestApp) {
    use liaison::crm::record::RecordKind;
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB",
        ))
        .respond_with(fixture(&app, "rest/contact.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Account/0015g00000PaAbcAAB",
        ))
        .respond_with(fixture(&app, "rest/person-account.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Contact/0035g00000GoNe0AAB",
        ))
        .respond_with(fixture(&app, "rest/not-found.json"))
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let link = app.store.org_link(id, None).await.unwrap();

    let contact = crm
        .read_prefill(&link, RecordKind::Contact, "0035g00000XyZabAAB")
        .await
        .unwrap();
    assert_eq!(contact.email.as_deref(), Some("jane.smith@example.com"));
    assert_eq!(contact.mobile.as_deref(), Some("07768 887464"));
    assert_eq!(contact.title, None);
    let person = crm
        .read_prefill(&link, RecordKind::PersonAccount, "0015g00000PaAbcAAB")
        .await
        .unwrap();
    assert_eq!(person.email.as_deref(), Some("omar@example.com"));
    assert_eq!(person.mobile.as_deref(), Some("+447700900123"));
    assert_eq!(person.title.as_deref(), Some("Director"));
    let missing = crm
        .read_prefill(&link, RecordKind::Contact, "0035g00000GoNe0AAB")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, liaison::crm::LinkError::Crm(CrmError::NotFound)),
        "{missing:?}"
    );

    let requests = app.salesforce.received_requests().await.unwrap();
    let read = requests
        .iter()
        .find(|r| r.url.path().ends_with("/Account/0015g00000PaAbcAAB"))
        .unwrap();
    assert_eq!(
        read.url.query(),
        Some(
            "fields=FirstName%2CLastName%2CPersonEmail%2CPersonMobilePhone%2CPersonTitle%2CIsPersonAccount"
        )
    );
    let usage = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(usage["api_usage"]["used"], 10018);
    assert_eq!(usage["api_usage"]["max"], 100000);
}

on_both_backends!(
    a_paused_or_capped_link_makes_no_call_from_the_invite_form,
    a_daily_limit_refusal_on_a_read_caps_the_link_with_the_usage_it_reported,
    a_429_burst_on_reads_is_retried_and_leaves_the_link_uncapped,
    many_callers_meeting_invalid_grant_keep_its_reason,
);

const CONTACT: &str = "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB";

async fn a_paused_or_capped_link_makes_no_call_from_the_invite_form(app: TestApp) {
    use liaison::crm::LinkError;
    use liaison::crm::record::RecordKind;
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("GET"))
        .and(path(CONTACT))
        .respond_with(fixture(&app, "rest/contact.json"))
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    app.patch(
        &format!("/api/v1/org-links/{id}"),
        &app.operator,
        json!({ "paused": true, "pause_reason": "Org maintenance" }),
    )
    .await
    .expect(200);
    let paused = app.store.org_link(id, None).await.unwrap();
    let error = crm
        .read_prefill(&paused, RecordKind::Contact, "0035g00000XyZabAAB")
        .await
        .unwrap_err();
    assert!(matches!(error, LinkError::Paused), "{error:?}");

    app.patch(
        &format!("/api/v1/org-links/{id}"),
        &app.operator,
        json!({ "paused": false }),
    )
    .await
    .expect(200);
    app.store
        .set_budget_capped(
            id,
            true,
            Some("the org has used 14900 of its 15000 daily API requests"),
        )
        .await
        .unwrap();
    let capped = app.store.org_link(id, None).await.unwrap();
    let error = crm
        .read_prefill(&capped, RecordKind::Contact, "0035g00000XyZabAAB")
        .await
        .unwrap_err();
    match &error {
        LinkError::Capped(reason) => assert!(reason.contains("14900"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let reads = app
        .salesforce
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == CONTACT)
        .count();
    assert_eq!(reads, 0, "neither reached Salesforce");
}

async fn a_daily_limit_refusal_on_a_read_caps_the_link_with_the_usage_it_reported(app: TestApp) {
    use liaison::crm::LinkError;
    use liaison::crm::record::RecordKind;
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("GET"))
        .and(path(CONTACT))
        .respond_with(fixture(&app, "rest/request-limit-exceeded.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let link = app.store.org_link(id, None).await.unwrap();
    let error = crm
        .read_prefill(&link, RecordKind::Contact, "0035g00000XyZabAAB")
        .await
        .unwrap_err();
    assert!(
        matches!(error, LinkError::Crm(CrmError::LimitExceeded)),
        "{error:?}"
    );
    crm.flush_api_usage().await.unwrap();
    let after = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(after["state"], "budget_capped");
    assert_eq!(after["api_usage"]["used"], 100000);
    assert_eq!(
        app.store.api_calls_last_day(id).await.unwrap(),
        1,
        "the refused call counts"
    );
    // The next read stops before Salesforce (the mock expects one call).
    let capped = app.store.org_link(id, None).await.unwrap();
    let error = crm
        .read_prefill(&capped, RecordKind::Contact, "0035g00000XyZabAAB")
        .await
        .unwrap_err();
    assert!(matches!(error, LinkError::Capped(_)), "{error:?}");
}

async fn a_429_burst_on_reads_is_retried_and_leaves_the_link_uncapped(app: TestApp) {
    use liaison::crm::record::RecordKind;
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("GET"))
        .and(path(CONTACT))
        .respond_with(fixture(&app, "rest/rate-limited-429.json").insert_header("Retry-After", "0"))
        .up_to_n_times(2)
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(CONTACT))
        .respond_with(fixture(&app, "rest/contact.json"))
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let link = app.store.org_link(id, None).await.unwrap();
    let read = crm
        .read_prefill(&link, RecordKind::Contact, "0035g00000XyZabAAB")
        .await
        .expect("read after the burst");
    assert_eq!(read.email.as_deref(), Some("jane.smith@example.com"));
    crm.flush_api_usage().await.unwrap();
    assert_eq!(
        app.store.org_link(id, None).await.unwrap().state,
        LinkState::Connected
    );
    assert_eq!(app.store.api_calls_last_day(id).await.unwrap(), 3);
}

async fn many_callers_meeting_invalid_grant_keep_its_reason(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(&app, &web_server_link(&app, &t).await).await;
    Mock::given(method("GET"))
        .and(path(CONTACT))
        .respond_with(fixture(&app, "rest/invalid-session.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .mount(&app.salesforce)
        .await;
    let crm = Arc::new(crm(&app));
    let link = app.store.org_link(id, None).await.unwrap();
    let calls = (0..8).map(|_| {
        let (crm, link) = (crm.clone(), link.clone());
        tokio::spawn(async move {
            crm.with_session(&link, |session: Session| {
                let crm = crm.clone();
                async move {
                    crm.salesforce()
                        .get_record(&session, "Contact", "0035g00000XyZabAAB", &["Email".into()])
                        .await
                }
            })
            .await
        })
    });
    for call in futures::future::join_all(calls).await {
        let error = call.unwrap().unwrap_err();
        assert!(
            matches!(
                error,
                liaison::crm::LinkError::Crm(CrmError::Unauthorized { .. })
            ),
            "{error:?}"
        );
    }
    let after = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(after["state"], "unauthorized");
    let reason = after["state_reason"].as_str().unwrap();
    assert!(reason.contains("invalid_grant"), "{reason}");
}

on_both_backends!(a_new_link_has_its_intake_secrets_from_the_start);

async fn a_new_link_has_its_intake_secrets_from_the_start(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let created = web_server_link(&app, &t).await;
    let id = created["id"].as_str().unwrap();
    let secrets = &created["intake_secrets"];
    let outbound = secrets["outbound_message_url"].as_str().unwrap();
    assert!(
        outbound.contains(&format!("/salesforce/outbound/{id}/")),
        "{outbound}"
    );
    assert!(
        secrets["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(
        (
            &created["has_outbound_token"],
            &created["has_webhook_secret"]
        ),
        (&json!(true), &json!(true))
    );
    let read = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(
        (&read["has_outbound_token"], &read["has_webhook_secret"]),
        (&json!(true), &json!(true))
    );
    // A refused link (the org is linked already) leaves nothing behind.
    app.post(
        "/api/v1/org-links",
        &app.operator,
        json!({ "name": "Acme again", "org_id": created["org_id"], "login_host": app.salesforce.uri(),
                "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret-consumer",
                "tenancies": [t.id] }),
    )
    .await
    .expect(409);
    let links = app
        .get("/api/v1/org-links", &app.operator)
        .await
        .expect(200);
    assert_eq!(links["items"].as_array().map(Vec::len), Some(1));
}
