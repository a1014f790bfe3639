//! Three instances of Liaison on one database, each with its own pool and its workers on,
//! through a simulated month of re-sends, revocations, resends and expiries: each due e-mail
//! goes out exactly once a day, and each status reaches its record exactly once per change.

use std::collections::HashMap;
use std::sync::Arc;

use liaison::clock::Clock;
use liaison::config::DatabaseConfig;
use liaison::config::{InvitationConfig, WritebackConfig};
use liaison::crm::Crm;
use liaison::jobs::Workers;
use liaison::mail::SmtpMailer;
use liaison::secrets::Sealer;
use liaison::store::Store;
use serde_json::json;
use time::Duration;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::helpers::fixtures::{
    AllSucceed, COLLECTIONS, connected, contact_id, linked_draft, sent_bodies,
};
use crate::helpers::smtp::SmtpServer;
use crate::helpers::{TEST_ENCRYPTION_KEY, TestApp, crm_config};
use crate::on_both_backends;

/// One instance: its own store (its own connection pool), Salesforce client and mailer.
async fn instance(app: &TestApp, smtp: &SmtpServer) -> Workers {
    let store = Store::open(
        &app.database_url,
        &DatabaseConfig {
            max_connections: 3,
            acquire_timeout_seconds: 10,
        },
        Arc::new(app.clock.clone()),
    )
    .await
    .expect("open store");
    let crm = Crm::new(
        store.clone(),
        Some(Sealer::from_base64_key(TEST_ENCRYPTION_KEY).expect("key")),
        crm_config(&app.address),
    );
    Workers {
        store,
        crm: Arc::new(crm),
        mailer: Arc::new(SmtpMailer::new(&smtp.mail_config(&app.address)).expect("mailer")),
        writeback: WritebackConfig {
            linger_ms: 0,
            ..Default::default()
        },
        invitations: InvitationConfig::default(),
        inbox: Default::default(),
        link_base_url: app.address.clone(),
        wake: Default::default(),
    }
}

on_both_backends!(three_instances_through_a_month_send_each_email_once_a_day_and_each_status_once);

async fn three_instances_through_a_month_send_each_email_once_a_day_and_each_status_once(
    app: TestApp,
) {
    // Clients 1–4 stay invited until they expire; client 4 + r is revoked on day r and resent
    // the day after.
    const UNTOUCHED: usize = 4;
    const REVOKED: usize = 4;
    let smtp = SmtpServer::start();
    let (t, link, team) = connected(&app).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let instances = [
        instance(&app, &smtp).await,
        instance(&app, &smtp).await,
        instance(&app, &smtp).await,
    ];
    let round = || async {
        futures::future::join_all(instances.iter().map(liaison::jobs::round)).await;
    };
    let mut clients = Vec::new();
    for n in 1..=UNTOUCHED + REVOKED {
        clients.push(linked_draft(&app, &t, &team, link, n).await);
    }
    round().await;
    let act = |client: &str, action: &str| {
        let (url, token) = (
            format!("/api/v1/tenancies/{}/clients/{client}/{action}", t.id),
            t.admin_token.clone(),
        );
        let app = &app;
        async move {
            app.post(&url, &token, json!({})).await.expect(200);
        }
    };
    for client in &clients {
        act(client, "send").await;
    }

    let start = app.clock.now();
    let mut emails: HashMap<(String, i64), usize> = HashMap::new();
    let mut seen = 0;
    let step = Duration::hours(2);
    let days = (REVOKED as i64) + 1 + 30 + 1;
    while app.clock.now() < start + Duration::days(days) {
        let now = app.clock.now();
        let day = (now - start).whole_days();
        if (now - start) - Duration::days(day) == Duration::hours(2) {
            // Mid-morning: revoke one client, and resend the one revoked the day before.
            if (1..=REVOKED as i64).contains(&day) {
                act(&clients[UNTOUCHED + day as usize - 1], "revoke").await;
            }
            if (2..=REVOKED as i64 + 1).contains(&day) {
                act(&clients[UNTOUCHED + day as usize - 2], "resend").await;
            }
        }
        round().await;
        let received = smtp.received();
        for message in &received[seen..] {
            for to in &message.to {
                *emails.entry((to.clone(), day)).or_default() += 1;
            }
        }
        seen = received.len();
        app.clock.advance(step);
    }

    let twice: Vec<_> = emails.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "e-mails sent twice on one day: {twice:?}");
    let mut per_client: HashMap<String, usize> = HashMap::new();
    for ((to, _), n) in &emails {
        *per_client.entry(to.clone()).or_default() += n;
    }
    for n in 1..=UNTOUCHED + REVOKED {
        let expected = if n <= UNTOUCHED {
            30
        } else {
            // Days 0 to r of the first cycle, then thirty days of the resent one.
            (n - UNTOUCHED) + 1 + 30
        };
        assert_eq!(
            per_client.get(&format!("client{n}@example.com")).copied(),
            Some(expected),
            "client {n}"
        );
    }

    let mut written: HashMap<String, Vec<String>> = HashMap::new();
    for body in sent_bodies(&app).await {
        for record in body["records"].as_array().unwrap() {
            written
                .entry(record["id"].as_str().unwrap().to_string())
                .or_default()
                .push(record["Liaison_Status__c"].as_str().unwrap().to_string());
        }
    }
    for n in 1..=UNTOUCHED + REVOKED {
        let expected: &[&str] = if n <= UNTOUCHED {
            &["draft", "invited", "expired"]
        } else {
            &["draft", "invited", "revoked", "invited", "expired"]
        };
        assert_eq!(
            written.get(&contact_id(n)).cloned().unwrap_or_default(),
            expected,
            "the statuses record {n} was sent, each once per change"
        );
    }
}
