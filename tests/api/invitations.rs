//! The invitation lifecycle over a real SMTP server: the 30-day cycle, resend and revoke.

use liaison::config::InvitationConfig;
use liaison::jobs::invitations::pass;
use liaison::mail::SmtpMailer;
use serde_json::{Value, json};

use crate::fixtures::sent_invitations;
use crate::helpers::{Tenancy, TestApp};
use crate::on_both_backends;
use crate::smtp::SmtpServer;

async fn draft(app: &TestApp) -> (Tenancy, String) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com", "client_teams": [team],
                    "message": "Looking forward to <talking> with you" }),
        )
        .await
        .expect(201);
    (t, client["id"].as_str().unwrap().to_string())
}

fn config() -> InvitationConfig {
    InvitationConfig {
        retry_min_seconds: 60,
        retry_max_seconds: 600,
        ..Default::default()
    }
}

pub(crate) async fn run(
    app: &TestApp,
    smtp: &SmtpServer,
) -> liaison::jobs::invitations::InvitationPass {
    let mailer = SmtpMailer::new(&smtp.mail_config(&app.address)).unwrap();
    pass(&app.store, &mailer, &config(), &app.address)
        .await
        .unwrap()
}

async fn status(app: &TestApp, t: &Tenancy, client: &str) -> Value {
    app.get(
        &format!("/api/v1/tenancies/{}/clients/{client}", t.id),
        &t.admin_token,
    )
    .await
    .expect(200)["status"]
        .clone()
}

on_both_backends!(
    a_draft_gets_no_email_until_sent_then_one_a_day_for_thirty_days_then_expires,
    resend_starts_a_new_cycle_and_voids_every_older_link,
    revoke_ends_the_cycle_and_no_more_email_goes,
    an_email_the_server_cannot_take_now_is_retried_without_losing_the_schedule,
);

async fn a_draft_gets_no_email_until_sent_then_one_a_day_for_thirty_days_then_expires(
    app: TestApp,
) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    assert_eq!(run(&app, &smtp).await.due, 0);
    assert!(smtp.received().is_empty(), "a draft gets no e-mail");

    let sent = app
        .post(
            &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
            &t.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(sent.expect(200)["status"], "invited");
    assert_eq!(run(&app, &smtp).await.sent, 1);
    let first = &smtp.received()[0];
    assert_eq!(first.to, ["jane@example.com"]);
    assert!(
        first
            .header("Subject")
            .unwrap()
            .contains("Acme Wealth invites you"),
        "{}",
        first.raw
    );
    assert!(
        first
            .header("From")
            .unwrap()
            .contains("invitations@liaison.test")
    );
    assert!(first.raw.contains("multipart/alternative"));
    assert!(first.raw.contains("text/plain") && first.raw.contains("text/html"));
    assert!(
        first
            .raw
            .contains("Looking forward to &lt;talking&gt; with you"),
        "escaped in HTML"
    );
    let links = first.links();
    assert_eq!(links.len(), 1, "{links:?}");
    assert!(links[0].starts_with(&format!("{}/invitations/", app.address)));

    // Nothing more the same day; then one e-mail a day, each with its own link.
    app.clock.advance(time::Duration::hours(23));
    assert_eq!(run(&app, &smtp).await.due, 0);
    for day in 1..30 {
        app.clock
            .advance(time::Duration::hours(if day == 1 { 1 } else { 24 }));
        let report = run(&app, &smtp).await;
        assert_eq!((report.sent, report.expired), (1, 0), "day {day}");
    }
    let received = smtp.received();
    assert_eq!(received.len(), 30);
    let mut all_links: Vec<String> = received.iter().flat_map(|m| m.links()).collect();
    all_links.sort();
    all_links.dedup();
    assert_eq!(all_links.len(), 30, "a new link every day");
    assert_eq!(status(&app, &t, &client).await, "invited");

    // Thirty days after the first e-mail: expired, and no e-mail after.
    app.clock.advance(time::Duration::hours(24));
    let report = run(&app, &smtp).await;
    assert_eq!((report.sent, report.expired), (0, 1));
    assert_eq!(status(&app, &t, &client).await, "expired");
    app.clock.advance(time::Duration::days(1));
    assert_eq!(run(&app, &smtp).await.due, 0);
    assert_eq!(smtp.received().len(), 30);

    let history = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{client}/invitation", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    let cycle = &history[0];
    assert_eq!(cycle["emails_sent"], 30);
    assert_eq!(cycle["end_reason"], "expired");
    let links = cycle["links"].as_array().unwrap();
    assert_eq!(links.len(), 30);
    assert!(
        links
            .iter()
            .all(|l| l["void_reason"] == "expired" || l["voided_at"].is_null())
    );
    // Each link works 48 hours; the last one until the cycle's end.
    assert_eq!(links[0]["expires_at"], "2026-03-04T09:00:00Z");
    assert_eq!(links[29]["expires_at"], cycle["ends_at"]);
    let events = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{client}/events", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    let moves: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to_status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(moves, ["draft", "invited", "expired"]);
    assert_eq!(events["items"][2]["actor"], "system");
}

async fn resend_starts_a_new_cycle_and_voids_every_older_link(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    run(&app, &smtp).await;
    app.clock.advance(time::Duration::hours(24));
    run(&app, &smtp).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/resend", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    assert_eq!(
        run(&app, &smtp).await.sent,
        1,
        "the new cycle's first e-mail goes at once"
    );
    let history = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{client}/invitation", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[1]["end_reason"], "replaced");
    assert!(
        history[1]["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["void_reason"] == "replaced")
    );
    assert!(history[0]["links"][0]["voided_at"].is_null());
    assert_eq!(smtp.received().len(), 3);
}

async fn revoke_ends_the_cycle_and_no_more_email_goes(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    run(&app, &smtp).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/revoke", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    app.clock.advance(time::Duration::days(2));
    assert_eq!(run(&app, &smtp).await.due, 0);
    assert_eq!(smtp.received().len(), 1);
    let history = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{client}/invitation", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(history[0]["end_reason"], "revoked");
    assert_eq!(history[0]["links"][0]["void_reason"], "revoked");
    // Sending again is not a thing for a revoked client; resend of an active one neither.
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .problem(409);
}

async fn an_email_the_server_cannot_take_now_is_retried_without_losing_the_schedule(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    smtp.refuse_for_now();
    let report = run(&app, &smtp).await;
    assert_eq!((report.sent, report.retried), (0, 1));
    let history = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{client}/invitation", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert!(
        history[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("could not take")
    );
    assert_eq!(
        history[0]["links"][0]["void_reason"], "undelivered",
        "a link that never left is dead"
    );

    smtp.accept();
    assert_eq!(run(&app, &smtp).await.due, 0, "waits for its backoff");
    app.clock.advance(time::Duration::minutes(3));
    assert_eq!(run(&app, &smtp).await.sent, 1);
    assert_eq!(smtp.received().len(), 1);

    // Refused for good: kept as a failed delivery, and the next day's e-mail still comes.
    app.clock.advance(time::Duration::hours(24));
    smtp.refuse_for_good();
    assert_eq!(run(&app, &smtp).await.failed, 1);
    let failed = app
        .get(
            &format!("/api/v1/tenancies/{}/email-deliveries?failed=true", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(failed[0]["recipient"], "jane@example.com");
    assert_eq!(failed[0]["state"], "failed");
    smtp.accept();
    app.clock.advance(time::Duration::hours(24));
    assert_eq!(run(&app, &smtp).await.sent, 1);
    assert_eq!(status(&app, &t, &client).await, "invited");
}

/// A browser: keeps cookies, does not follow redirects.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Opens a link and returns the page and the CSRF token of its form.
pub(crate) async fn open(browser: &reqwest::Client, link: &str) -> (u16, String, String) {
    let response = browser.get(link).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (status, body, csrf)
}

pub(crate) async fn post_form(browser: &reqwest::Client, url: &str, csrf: &str) -> (u16, String) {
    let response = browser
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn sent_link(app: &TestApp, smtp: &SmtpServer, t: &Tenancy, client: &str) -> String {
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    run(app, smtp).await;
    smtp.received().last().unwrap().links()[0].clone()
}

on_both_backends!(
    the_link_opens_a_page_and_accepting_is_a_post_with_its_csrf_token,
    declining_ends_the_invitation_and_accept_after_decline_changes_nothing,
    dead_links_say_why_and_guessed_links_say_nothing,
    the_link_opened_in_two_tabs_accepts_from_either,
);

async fn the_link_opened_in_two_tabs_accepts_from_either(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    let link = sent_link(&app, &smtp, &t, &client).await;
    let browser = browser();
    let (_, _, first_tab) = open(&browser, &link).await;
    let (_, _, second_tab) = open(&browser, &link).await;
    assert!(!first_tab.is_empty() && !second_tab.is_empty());
    // Another browser gets a value of its own, which is worth nothing in this one.
    let (_, _, elsewhere) = open(&self::browser(), &link).await;
    assert_ne!(elsewhere, first_tab);
    let (refused, _) = post_form(&browser, &format!("{link}/accept"), &elsewhere).await;
    assert_eq!(refused, 403);
    // The first tab, answered after the second was opened, is still good.
    let (accepted, body) = post_form(&browser, &format!("{link}/accept"), &first_tab).await;
    assert_eq!(accepted, 200, "{body}");
    assert!(body.contains("Your invitation is accepted"));
    assert_eq!(status(&app, &t, &client).await, "active");
}

async fn the_link_opens_a_page_and_accepting_is_a_post_with_its_csrf_token(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    let link = sent_link(&app, &smtp, &t, &client).await;
    let browser = browser();
    let (status_code, page, csrf) = open(&browser, &link).await;
    assert_eq!(status_code, 200);
    assert!(page.contains("Your invitation from Acme Wealth") && page.contains("Dear Jane"));
    assert!(!csrf.is_empty());
    assert_eq!(
        status(&app, &t, &client).await,
        "invited",
        "opening the link changes nothing"
    );

    // A POST without the page's cookie (another site, a scanner) changes nothing.
    let (refused, body) =
        post_form(&reqwest::Client::new(), &format!("{link}/accept"), &csrf).await;
    assert_eq!(refused, 403);
    assert!(body.contains("Nothing was changed"));
    let (forged, _) = post_form(&browser, &format!("{link}/accept"), "forged").await;
    assert_eq!(forged, 403);
    assert_eq!(status(&app, &t, &client).await, "invited");

    let (accepted, body) = post_form(&browser, &format!("{link}/accept"), &csrf).await;
    assert_eq!(accepted, 200, "{body}");
    assert!(body.contains("Your invitation is accepted"));
    assert_eq!(status(&app, &t, &client).await, "active");

    let (again, body, _) = open(&browser, &link).await;
    assert_eq!(again, 410);
    assert!(body.contains("already answered"));
    let (replayed, _) = post_form(&browser, &format!("{link}/accept"), &csrf).await;
    assert_eq!(replayed, 410);
    let history = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{client}/invitation", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(history[0]["end_reason"], "accepted");
    assert!(!history[0]["links"][0]["used_at"].is_null());
    // The staff who cover her are told.
    let report = run(&app, &smtp).await;
    assert_eq!(report.notified, 1);
    let note = smtp.received().last().unwrap().clone();
    assert_eq!(note.to, ["admin@acme-wealth.example"]);
    assert!(
        note.header("Subject")
            .unwrap()
            .contains("Jane Smith accepted your invitation")
    );
    app.clock.advance(time::Duration::days(1));
    assert_eq!(run(&app, &smtp).await.due, 0, "no e-mail after the answer");
}

async fn declining_ends_the_invitation_and_accept_after_decline_changes_nothing(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    let link = sent_link(&app, &smtp, &t, &client).await;
    let browser = browser();
    let (_, _, csrf) = open(&browser, &link).await;
    let (declined, body) = post_form(&browser, &format!("{link}/decline"), &csrf).await;
    assert_eq!(declined, 200);
    assert!(body.contains("You declined"));
    assert_eq!(status(&app, &t, &client).await, "declined");
    let (late, _) = post_form(&browser, &format!("{link}/accept"), &csrf).await;
    assert_eq!(late, 410);
    assert_eq!(status(&app, &t, &client).await, "declined");
    assert_eq!(
        run(&app, &smtp).await.notified,
        0,
        "staff hear only of acceptances"
    );
}

async fn dead_links_say_why_and_guessed_links_say_nothing(app: TestApp) {
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    let first = sent_link(&app, &smtp, &t, &client).await;
    let browser = browser();

    // 48 hours on (two newer e-mails since), the first link has expired.
    for _ in 0..2 {
        app.clock.advance(time::Duration::hours(24));
        run(&app, &smtp).await;
    }
    let (code, body, _) = open(&browser, &first).await;
    assert_eq!(code, 410);
    assert!(body.contains("expired") && body.contains("newer invitation e-mail"));
    for secret in ["Jane", "Smith", "jane@example.com", "Acme"] {
        assert!(!body.contains(secret), "a dead link shows {secret}");
    }
    let yesterday = smtp.received()[1].links()[0].clone();
    assert_eq!(
        open(&browser, &yesterday).await.0,
        200,
        "yesterday's link still works"
    );

    // An admin's resend replaces every older link.
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/resend", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    run(&app, &smtp).await;
    let (code, body, _) = open(&browser, &yesterday).await;
    assert_eq!(code, 410);
    assert!(body.contains("replaced"));

    // Revoked.
    let current = smtp.received().last().unwrap().links()[0].clone();
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/revoke", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    let (code, body, _) = open(&browser, &current).await;
    assert_eq!(code, 410);
    assert!(body.contains("withdrawn"));

    // Guessed or malformed: the same page, with nothing about anyone.
    let guessed = format!("{}/invitations/{}", app.address, "A".repeat(43));
    let (code, body, _) = open(&browser, &guessed).await;
    assert_eq!(code, 404);
    assert!(!body.contains("Acme") && !body.contains("Jane"));
    assert_eq!(
        open(
            &browser,
            &format!("{}/invitations/%3Cscript%3E", app.address)
        )
        .await
        .0,
        404
    );
}

on_both_backends!(two_workers_at_once_send_each_due_email_once);

async fn two_workers_at_once_send_each_due_email_once(app: TestApp) {
    let smtp = SmtpServer::start();
    sent_invitations(&app, 40).await;
    let small = InvitationConfig {
        batch_size: 5,
        concurrency: 2,
        ..config()
    };
    let (one, two) = (
        SmtpMailer::new(&smtp.mail_config(&app.address)).unwrap(),
        SmtpMailer::new(&smtp.mail_config(&app.address)).unwrap(),
    );
    let (a, b) = tokio::join!(
        pass(&app.store, &one, &small, &app.address),
        pass(&app.store, &two, &small, &app.address)
    );
    assert_eq!(a.unwrap().sent + b.unwrap().sent, 40);
    let mut recipients: Vec<String> = smtp.received().into_iter().flat_map(|m| m.to).collect();
    assert_eq!(recipients.len(), 40);
    recipients.sort();
    recipients.dedup();
    assert_eq!(
        recipients.len(),
        40,
        "nobody got the same day's e-mail twice"
    );
}

on_both_backends!(the_invitation_pages_are_rate_limited_per_address);

async fn the_invitation_pages_are_rate_limited_per_address(app: TestApp) {
    let browser = browser();
    let guessed = format!("{}/invitations/{}", app.address, "B".repeat(43));
    for _ in 0..60 {
        assert_eq!(open(&browser, &guessed).await.0, 404);
    }
    let response = browser.get(&guessed).send().await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "60");
    // The JSON API is not behind this limit.
    app.get("/api/v1/tenancies", &app.operator)
        .await
        .expect(200);
}

on_both_backends!(a_crash_between_sending_and_recording_repeats_at_most_that_one_email);

async fn a_crash_between_sending_and_recording_repeats_at_most_that_one_email(app: TestApp) {
    use liaison::clock::Clock;
    use liaison::mail::Mailer;
    let smtp = SmtpServer::start();
    let (t, client) = draft(&app).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);

    // A worker claims the cycle, records the link and sends, then dies before recording it.
    let now = liaison::clock::to_millis(app.clock.now());
    let claimed = app.store.claim_due_cycles(now, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let cycle = &claimed[0];
    app.store
        .record_links(&[(
            cycle,
            "crashed-link-hash".into(),
            now,
            now + 3_600_000,
            now + 30 * 86_400_000,
        )])
        .await
        .unwrap();
    let mailer = SmtpMailer::new(&smtp.mail_config(&app.address)).unwrap();
    let email = liaison::mail::templates::invitation(&liaison::mail::templates::Invitation {
        tenancy_name: &cycle.tenancy_name,
        first_name: &cycle.first_name,
        last_name: &cycle.last_name,
        email: &cycle.email,
        link: "http://example.invalid/invitations/crashed",
        message: None,
        valid_until: "soon",
    });
    mailer.send(&email).await.unwrap();

    // While its lease holds, nobody sends again; after it, the e-mail is repeated once.
    assert_eq!(run(&app, &smtp).await.due, 0);
    app.clock.advance(time::Duration::minutes(3));
    assert_eq!(run(&app, &smtp).await.sent, 1);
    assert_eq!(run(&app, &smtp).await.due, 0);
    assert_eq!(
        smtp.received().len(),
        2,
        "the one e-mail in flight, repeated once, and no more"
    );
    app.clock.advance(time::Duration::hours(24));
    assert_eq!(run(&app, &smtp).await.sent, 1, "the schedule goes on");
}
