//! The admin console: signing in (the operator's printed link, administrators' e-mailed links),
//! sessions and their ends, CSRF, and pages that show exactly what the API shows each user.

use fantoccini::Locator;
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::browser::Browser;
use crate::helpers::console::{
    Visitor, admin, links_to, mails_to, operator, operator_link, with_mail,
};
use crate::helpers::{Tenancy, TestApp, TestOptions};
use crate::on_both_backends;

on_both_backends!(
    an_operator_link_signs_in_once_and_not_after_fifteen_minutes,
    pages_send_whoever_is_not_signed_in_to_sign_in,
    a_post_without_the_sessions_csrf_token_changes_nothing,
    sessions_end_when_idle_and_at_their_absolute_time,
    the_design_system_is_served_by_liaison_with_its_licence,
);

on_both_backends!(with super::with_mail();
    sign_in_links_are_emailed_to_administrators_only_and_the_page_says_the_same_to_all,
    an_emailed_link_signs_in_once,
    an_address_is_sent_only_so_many_links_an_hour,
    signing_out_everywhere_ends_every_session_of_that_user_only,
    a_deactivated_users_sessions_end_at_once,
    a_page_refuses_exactly_where_the_api_does,
    each_administrator_sees_only_the_org_links_serving_their_tenancy,
);

on_both_backends!(with super::limited(); sign_in_requests_are_limited_per_client_address);

/// An app whose sign-in pages take five requests a minute from one address.
fn limited() -> TestOptions {
    TestOptions {
        console: liaison::config::ConsoleConfig {
            requests_per_client_per_minute: 5,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn an_operator_link_signs_in_once_and_not_after_fifteen_minutes(app: TestApp) {
    let link = operator_link(&app).await;
    let visitor = Visitor::new(&app);
    // Opening the link only shows a button: mail scanners and previews use nothing.
    assert_eq!(visitor.get(&link).await.status, 200);
    visitor.sign_in(&link).await;
    let home = visitor.get("/console").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Welcome, Operator"), "{}", home.body);

    // Used once, it is dead, in another browser too.
    let again = Visitor::new(&app);
    assert_eq!(again.use_link(&link).await.status, 404);
    assert!(again.get("/console").await.to_sign_in());

    // A new link left for fifteen minutes is dead too; so is a made-up one.
    let late = operator_link(&app).await;
    app.clock.advance(Duration::minutes(15));
    let page = again.get(&late).await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("This sign-in link does not work"));
    assert_eq!(
        again.post(&late, &[("csrf", "anything")]).await.status,
        403,
        "a post without the form's cookie is refused before the link is looked at"
    );
    assert_eq!(
        again
            .use_link("/console/sign-in/not-a-real-token")
            .await
            .status,
        404
    );
    assert!(again.get("/console").await.to_sign_in());
}

async fn pages_send_whoever_is_not_signed_in_to_sign_in(app: TestApp) {
    let visitor = Visitor::new(&app);
    for path in [
        "/console",
        "/console/org-links",
        "/console/org-links/0191c1d2-0000-7000-8000-000000000000",
    ] {
        assert!(visitor.get(path).await.to_sign_in(), "{path}");
    }
    assert!(
        visitor
            .post("/console/sign-out-everywhere", &[("csrf", "x")])
            .await
            .to_sign_in()
    );
    let sign_in = visitor.get("/console/sign-in").await;
    assert_eq!(sign_in.status, 200);
    assert!(sign_in.body.contains("liaison console-link --operator"));
    let policy = sign_in.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"));
    // Forms post to the console, whose answer may only send the browser on to Salesforce.
    assert!(
        policy.contains("form-action 'self' https://*.salesforce.com https://*.force.com"),
        "{policy}"
    );
    assert_eq!(sign_in.headers["cache-control"], "no-store");
    let unknown = visitor.get("/console/nothing-here").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("There is no such page"));
}

async fn a_post_without_the_sessions_csrf_token_changes_nothing(app: TestApp) {
    let visitor = operator(&app).await;
    let home = visitor.get("/console").await;
    let csrf = home.csrf();
    assert!(!csrf.is_empty());
    for sent in ["", "forged", &csrf[..csrf.len() - 1]] {
        let refused = visitor.post("/console/sign-out", &[("csrf", sent)]).await;
        assert_eq!(refused.status, 403, "{sent:?}");
        assert!(refused.body.contains("Nothing was changed"));
    }
    assert_eq!(visitor.get("/console").await.status, 200, "still signed in");

    // The sign-in form checks the browser's own token, which another site cannot send.
    let stranger = Visitor::new(&app);
    let refused = stranger
        .post(
            "/console/sign-in",
            &[("csrf", "guess"), ("email", "admin@acme.example")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let signed_out = visitor.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(signed_out.status, 303);
    assert_eq!(
        signed_out.location.as_deref(),
        Some("/console/sign-in?signed_out=1")
    );
    assert!(visitor.get("/console").await.to_sign_in());
}

async fn sessions_end_when_idle_and_at_their_absolute_time(app: TestApp) {
    // Idle: 29 minutes between requests keep it; 30 end it.
    let visitor = operator(&app).await;
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(29));
        assert_eq!(visitor.get("/console").await.status, 200);
    }
    app.clock.advance(Duration::minutes(30));
    let ended = visitor.get("/console").await;
    assert!(ended.to_sign_in());
    assert!(
        ended
            .set_cookie
            .iter()
            .any(|c| c.starts_with("liaison_console=;") || c.contains("Max-Age=0")),
        "the ended session's cookie is removed: {:?}",
        ended.set_cookie
    );

    // Absolute: a session used every 25 minutes still ends 12 hours after sign-in.
    let busy = operator(&app).await;
    for _ in 0..28 {
        app.clock.advance(Duration::minutes(25));
        assert_eq!(busy.get("/console").await.status, 200);
    }
    app.clock.advance(Duration::minutes(25));
    assert!(
        busy.get("/console").await.to_sign_in(),
        "12 h 5 min after sign-in"
    );
}

async fn the_design_system_is_served_by_liaison_with_its_licence(app: TestApp) {
    let visitor = Visitor::new(&app);
    let page = visitor.get("/console/sign-in").await;
    let css = page
        .body
        .split("href=\"")
        .map(|rest| rest.split('"').next().unwrap())
        .find(|href| href.ends_with("salesforce-lightning-design-system.min.css"))
        .expect("the page links the design system's CSS")
        .to_string();
    let served = visitor.get(&css).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        served.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(served.body.contains(".slds-global-header"));
    // The footer links the licences, which are served too.
    for licence in ["slds/README.md", "slds/License-for-icons.txt"] {
        let href = page
            .body
            .split("href=\"")
            .map(|rest| rest.split('"').next().unwrap())
            .find(|href| href.ends_with(licence))
            .expect("the footer links the licence");
        let text = visitor.get(href).await;
        assert_eq!(text.status, 200, "{href}");
        assert!(text.body.contains("License") || text.body.contains("Licenses"));
    }
    assert!(
        page.body
            .contains(liaison::http::console::SLDS_VERSION.trim())
    );
    // Another version's path, or a file not embedded, is not found.
    let other = css.replacen("/console/assets/", "/console/assets/0", 1);
    assert_eq!(visitor.get(&other).await.status, 404);
    let missing = css.replace("salesforce-lightning-design-system.min.css", "other.css");
    assert_eq!(visitor.get(&missing).await.status, 404);
}

async fn sign_in_links_are_emailed_to_administrators_only_and_the_page_says_the_same_to_all(
    app: TestApp,
) {
    let smtp = app.smtp.as_ref().unwrap();
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    app.staff(&acme, "Sam", "Staff", "staff").await;
    app.staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    // Jo administers both tenancies: one e-mail, a link for each.
    app.staff(&acme, "Jo", "Both", "system_administrator").await;
    app.staff(&bravo, "Jo", "Both", "users_administrator").await;
    let visitor = Visitor::new(&app);

    let mut answers = Vec::new();
    for email in [
        "nobody@nowhere.example",
        "sam.staff@firm.example",
        "uma.users@firm.example",
        "jo.both@firm.example",
    ] {
        let page = visitor.ask(email).await;
        assert_eq!(page.status, 200);
        answers.push(page.body.replace(email, "ADDRESS"));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert!(answers[0].contains("Check your e-mail"));

    let uma = mails_to(smtp, "uma.users@firm.example", 1).await;
    let jo = mails_to(smtp, "jo.both@firm.example", 1).await;
    assert_eq!((uma.len(), uma[0].len()), (1, 1));
    assert_eq!(
        (jo.len(), jo[0].len()),
        (1, 2),
        "one e-mail, a link per tenancy"
    );
    let mail = smtp
        .received()
        .into_iter()
        .find(|m| m.to.iter().any(|t| t == "jo.both@firm.example"))
        .unwrap();
    assert!(mail.raw.contains("Acme Wealth") && mail.raw.contains("Bravo Trust"));
    assert!(mail.raw.contains("15 minutes"));
    assert!(links_to(smtp, "sam.staff@firm.example").is_empty());
    assert!(links_to(smtp, "nobody@nowhere.example").is_empty());
    assert_eq!(smtp.received().len(), 2);

    // Each of Jo's links signs in to its own tenancy.
    for link in &jo[0] {
        let browser = Visitor::new(&app);
        browser.sign_in(link).await;
        let home = browser.get("/console").await.body;
        assert!(home.contains("Jo Both"));
        assert!(
            home.contains("Acme Wealth") != home.contains("Bravo Trust"),
            "{home}"
        );
    }

    // A malformed address is answered next to the field, and nothing is sent.
    let bad = visitor.ask("not an address").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("email-error"));
}

async fn an_emailed_link_signs_in_once(app: TestApp) {
    let smtp = app.smtp.as_ref().unwrap();
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let visitor = Visitor::new(&app);
    visitor.ask("admin@acme-wealth.example").await;
    let link = mails_to(smtp, "admin@acme-wealth.example", 1).await[0][0].clone();
    visitor.sign_in(&link).await;
    let home = visitor.get("/console").await;
    assert!(home.body.contains("Ada Admin") && home.body.contains("Acme Wealth"));
    assert!(home.body.contains("System administrator"));
    let again = Visitor::new(&app);
    assert_eq!(again.use_link(&link).await.status, 404);

    // The session's cookie: only for the console, not for scripts, not sent cross-site.
    let fresh = Visitor::new(&app);
    fresh.ask("admin@acme-wealth.example").await;
    let second = mails_to(smtp, "admin@acme-wealth.example", 2).await[1][0].clone();
    let shown = fresh.get(&second).await;
    let opened = fresh.post(&second, &[("csrf", &shown.csrf())]).await;
    let cookie = opened
        .set_cookie
        .iter()
        .find(|c| c.starts_with("liaison_console="))
        .expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/console"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains(&acme.id));
}

async fn an_address_is_sent_only_so_many_links_an_hour(app: TestApp) {
    let smtp = app.smtp.as_ref().unwrap();
    app.tenancy("Acme Wealth", "client_teams").await;
    let visitor = Visitor::new(&app);
    let mut pages = Vec::new();
    for _ in 0..7 {
        pages.push(visitor.ask("admin@acme-wealth.example").await);
    }
    assert!(
        pages
            .iter()
            .all(|p| p.status == 200 && p.body == pages[0].body)
    );
    mails_to(smtp, "admin@acme-wealth.example", 5).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(links_to(smtp, "admin@acme-wealth.example").len(), 5);
}

async fn sign_in_requests_are_limited_per_client_address(app: TestApp) {
    let visitor = Visitor::new(&app);
    for _ in 0..5 {
        assert_eq!(visitor.get("/console/sign-in").await.status, 200);
    }
    let refused = visitor.get("/console/sign-in").await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.headers["retry-after"], "60");
    let refused = visitor.use_link(&operator_link(&app).await).await;
    assert_eq!(refused.status, 429, "sign-in links are limited too");
}

async fn signing_out_everywhere_ends_every_session_of_that_user_only(app: TestApp) {
    app.tenancy("Acme Wealth", "client_teams").await;
    let acme = "admin@acme-wealth.example";
    let (laptop, phone) = (admin(&app, acme).await, admin(&app, acme).await);
    let operator = operator(&app).await;
    // Signing out ends this session alone.
    let spare = admin(&app, acme).await;
    let csrf = spare.get("/console").await.csrf();
    spare.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert!(spare.get("/console").await.to_sign_in());
    assert_eq!(phone.get("/console").await.status, 200);

    let home = laptop.get("/console").await;
    assert!(home.body.contains("Sign out everywhere"));
    let out = laptop
        .post("/console/sign-out-everywhere", &[("csrf", &home.csrf())])
        .await;
    assert_eq!(out.status, 303);
    assert!(laptop.get("/console").await.to_sign_in());
    assert!(phone.get("/console").await.to_sign_in());
    assert_eq!(operator.get("/console").await.status, 200, "another user's");
}

async fn a_deactivated_users_sessions_end_at_once(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let (uma, _) = app
        .staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let visitor = admin(&app, "uma.users@firm.example").await;
    assert_eq!(visitor.get("/console").await.status, 200);
    let staff = format!("/api/v1/tenancies/{}/staff/{uma}", acme.id);
    app.patch(&staff, &acme.admin_token, json!({ "active": false }))
        .await
        .expect(200);
    assert!(visitor.get("/console").await.to_sign_in());
    // Reactivated, they sign in again; the old session stays ended.
    app.patch(&staff, &acme.admin_token, json!({ "active": true }))
        .await
        .expect(200);
    assert!(visitor.get("/console").await.to_sign_in());
    // Demoted to plain staff, they may not use the console at all.
    let again = admin(&app, "uma.users@firm.example").await;
    app.patch(&staff, &acme.admin_token, json!({ "role": "staff" }))
        .await
        .expect(200);
    assert!(again.get("/console").await.to_sign_in());
}

/// Tenancies Acme and Bravo; links serving Acme alone, both, and Bravo alone.
struct Links {
    acme: Tenancy,
    bravo: Tenancy,
    /// `(id, name)` of each link.
    all: Vec<(String, String)>,
}

async fn links(app: &TestApp) -> Links {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let mut all = Vec::new();
    for (name, org, host, tenancies) in [
        (
            "Acme production",
            "00D5g000004ZKT1",
            "production",
            vec![&acme.id],
        ),
        (
            "Group sandbox",
            "00D5g000004ZKT2",
            "sandbox",
            vec![&acme.id, &bravo.id],
        ),
        (
            "Bravo org",
            "00D5g000004ZKT3",
            "https://bravo.my.salesforce.com",
            vec![&bravo.id],
        ),
    ] {
        let created = app
            .post(
                "/api/v1/org-links",
                &app.operator,
                json!({ "name": name, "org_id": org, "login_host": host, "auth_kind": "web_server",
                        "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret", "tenancies": tenancies }),
            )
            .await
            .expect(201);
        all.push((
            created["id"].as_str().unwrap().to_string(),
            name.to_string(),
        ));
    }
    Links { acme, bravo, all }
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_string())
        .collect()
}

async fn a_page_refuses_exactly_where_the_api_does(app: TestApp) {
    let l = links(&app).await;
    let (_, uma_token) = app
        .staff(&l.acme, "Uma", "Users", "users_administrator")
        .await;
    let users = [
        (operator(&app).await, app.operator.clone()),
        (
            admin(&app, "admin@acme-wealth.example").await,
            l.acme.admin_token.clone(),
        ),
        (admin(&app, "uma.users@firm.example").await, uma_token),
        (
            admin(&app, "admin@bravo-trust.example").await,
            l.bravo.admin_token.clone(),
        ),
    ];
    let mut paths = vec![String::new()];
    paths.extend(l.all.iter().map(|(id, _)| format!("/{id}")));
    let mut refused = 0;
    for (visitor, token) in &users {
        for rest in &paths {
            let api = app.get(&format!("/api/v1/org-links{rest}"), token).await;
            let page = visitor.get(&format!("/console/org-links{rest}")).await;
            assert_eq!(page.status, api.status.as_u16(), "{rest}: {}", page.body);
            refused += usize::from(page.status != 200);
            // What the API does not show, the page does not either.
            let shown: Vec<String> = if rest.is_empty() && api.status == 200 {
                names(&api.body)
            } else if api.status == 200 {
                vec![api.body["name"].as_str().unwrap().to_string()]
            } else {
                vec![]
            };
            for (_, name) in &l.all {
                assert_eq!(
                    page.body.contains(name.as_str()),
                    shown.contains(name),
                    "{rest} {name}"
                );
            }
        }
        // The navigation offers the org links only to those who may read them.
        let home = visitor.get("/console").await.body;
        let allowed = app.get("/api/v1/org-links", token).await.status == 200;
        assert_eq!(home.contains("href=\"/console/org-links\""), allowed);
    }
    // Uma: 403 on all four; each admin: 404 on the other tenancy's link.
    assert_eq!(refused, 6);
}

async fn each_administrator_sees_only_the_org_links_serving_their_tenancy(app: TestApp) {
    let l = links(&app).await;
    let everything = operator(&app).await.get("/console/org-links").await;
    assert_eq!(everything.status, 200);
    for (_, name) in &l.all {
        assert!(everything.body.contains(name.as_str()));
    }
    for kind in [
        "Production",
        "Sandbox",
        "My Domain",
        "Not connected",
        "OAuth web-server flow",
    ] {
        assert!(everything.body.contains(kind), "{kind}");
    }
    let acme = admin(&app, "admin@acme-wealth.example").await;
    let list = acme.get("/console/org-links").await.body;
    assert!(list.contains("Acme production") && list.contains("Group sandbox"));
    assert!(
        !list.contains("Bravo org") && !list.contains("Bravo Trust"),
        "{list}"
    );
    // The shared link names Acme alone to Acme's administrator, the operator both.
    let shared = &l.all[1].0;
    let detail = acme.get(&format!("/console/org-links/{shared}")).await;
    assert_eq!(detail.status, 200);
    assert!(detail.body.contains("Acme Wealth") && !detail.body.contains("Bravo Trust"));
    assert!(detail.body.contains("00D5g000004ZKT2"));
    let full = operator(&app)
        .await
        .get(&format!("/console/org-links/{shared}"))
        .await
        .body;
    assert!(full.contains("Acme Wealth") && full.contains("Bravo Trust"));
    let bravo_only = &l.all[2].0;
    assert_eq!(
        acme.get(&format!("/console/org-links/{bravo_only}"))
            .await
            .status,
        404
    );
    assert_eq!(acme.get("/console/org-links/not-an-id").await.status, 404);
}

on_both_backends!(an_operator_signs_in_with_the_printed_link_and_reads_the_org_links_in_a_browser);

/// `liaison console-link --operator` run on the app's database, at the app's time: the link it
/// prints on standard output, alone.
fn printed_operator_link(app: &TestApp) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liaison"))
        .current_dir(dir.path())
        .args(["console-link", "--operator"])
        .env("LIAISON_DATABASE_URL", &app.database_url)
        .env("LIAISON__CRM__PUBLIC_URL", &app.address)
        .env("LIAISON__TEST_CLOCK_START", "2026-03-02T09:00:00Z")
        .output()
        .expect("liaison runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("15 minutes"));
    stdout.trim().to_string()
}

async fn an_operator_signs_in_with_the_printed_link_and_reads_the_org_links_in_a_browser(
    app: TestApp,
) {
    let (_, beta, _) = crate::helpers::canvas::org(&app).await;
    app.post(
        "/api/v1/org-links",
        &app.operator,
        json!({ "name": "Beta sandbox", "org_id": "00D5g000004ZKT9", "login_host": "sandbox",
                "auth_kind": "web_server", "consumer_key": "3MVG9sandbox", "consumer_secret": "s3cret",
                "tenancies": [beta.id] }),
    )
    .await
    .expect(201);
    let link = printed_operator_link(&app);
    assert!(
        link.starts_with(&format!("{}/console/sign-in/", app.address)),
        "{link}"
    );

    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/console/sign-in", app.address))
        .await
        .unwrap();
    browser.heading("Sign in to the Liaison console").await;
    browser.snapshot("console-sign-in").await;
    browser.client.goto(&link).await.unwrap();
    browser.heading("Sign in to the Liaison console").await;
    browser.click("#sign-in").await;
    browser.heading("Welcome, Operator").await;
    browser.snapshot("console-home").await;
    browser
        .click("a[href='/console/org-links'].slds-context-bar__label-action")
        .await;
    browser
        .wait_for(Locator::Css("#org-links"), "the org links")
        .await;
    let table = browser.text("#org-links").await;
    for shown in [
        "Acme production",
        "Beta sandbox",
        "Connected",
        "Not connected",
        "Sandbox",
    ] {
        assert!(table.contains(shown), "{shown}: {table}");
    }
    browser.snapshot("console-org-links").await;
    browser.click("#org-links a").await;
    browser.heading("Acme production").await;
    let tenancies = browser.text("#tenancies").await;
    assert!(tenancies.contains("Acme Wealth") && tenancies.contains("Beta Trust"));
    browser.snapshot("console-org-link").await;
    // The link was used: opened again, it does not sign anyone in.
    browser.client.goto(&link).await.unwrap();
    browser.heading("This sign-in link does not work").await;
    browser.stop().await;
}
