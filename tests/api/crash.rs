//! The `liaison` process killed with SIGKILL (not a graceful stop) in the middle of a re-send
//! pass, a write-back pass and an inbox pass, ten times each, and started again: nothing is
//! lost, nothing is skipped, and a kill repeats at most the one e-mail that was in flight.
//!
//! Each start runs the real binary on the test's database with its workers on, its clock
//! starting five simulated minutes after the last one's (`test_clock_start`), so the leases a
//! killed process held have run out, as they would in real time.

use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use liaison::clock::Clock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request};

use crate::fixtures::{
    AllSucceed, COLLECTIONS, ORG_ID, connected, contact, contact_id, envelope, intake,
    linked_client, linked_draft, post_xml, sent_bodies, sent_invitations,
};
use crate::helpers::{TEST_ENCRYPTION_KEY, TestApp};
use crate::on_both_backends;
use crate::smtp::SmtpServer;

const KILLS: usize = 10;

/// The `liaison serve` process under test, started on the app's database.
struct Liaison {
    child: Child,
    log: std::path::PathBuf,
}

impl Liaison {
    fn start(
        app: &TestApp,
        dir: &std::path::Path,
        at: OffsetDateTime,
        env: &[(&str, String)],
    ) -> Self {
        let log = dir.join(format!("liaison-{}.log", at.unix_timestamp()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_liaison"));
        command
            .current_dir(dir)
            .arg("serve")
            .env_remove("LIAISON_CONFIG_FILE")
            .env("LIAISON_DATABASE_URL", &app.database_url)
            .env("LIAISON_LISTEN", "127.0.0.1:0")
            .env("LIAISON__WORKERS", "true")
            .env("LIAISON__TEST_CLOCK_START", at.format(&Rfc3339).unwrap())
            .env("LIAISON__CRM__ENCRYPTION_KEY", TEST_ENCRYPTION_KEY)
            .env("LIAISON__CRM__ALLOW_HTTP_LOGIN_HOSTS", "true")
            .env("LIAISON__CRM__PUBLIC_URL", &app.address)
            .env("LIAISON__CRM__RETRY_MIN_DELAY_MS", "1")
            .env("LIAISON__CRM__RETRY_MAX_DELAY_MS", "20")
            .env("LIAISON__MAIL__LINK_BASE_URL", &app.address)
            .env("LIAISON__WRITEBACK__LINGER_MS", "0")
            .env("LIAISON__WRITEBACK__POLL_INTERVAL_MS", "20")
            .env("LIAISON__INVITATIONS__POLL_INTERVAL_MS", "20")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for (key, value) in env {
            command.env(key, value);
        }
        Self {
            child: command.spawn().expect("liaison starts"),
            log,
        }
    }

    /// SIGKILL: the process gets no chance to finish anything.
    fn kill(mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "liaison exited on its own ({status}):\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Waits (polling, at most a minute) until `done` holds.
async fn until<F, Fut>(liaison: &Liaison, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while !done().await {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; liaison's log:\n{}",
            liaison.log()
        );
        tokio::time::sleep(StdDuration::from_millis(2)).await;
    }
}

/// A count from the app's database, read as an ops dashboard would.
async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

async fn pool(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&app.database_url)
        .await
        .expect("connect")
}

on_both_backends!(
    a_resend_pass_killed_ten_times_loses_nothing_and_repeats_at_most_one_email_per_kill,
    a_writeback_pass_killed_ten_times_leaves_every_record_at_its_newest_status,
    an_inbox_pass_killed_ten_times_applies_every_change_once_newest_last,
);

async fn a_resend_pass_killed_ten_times_loses_nothing_and_repeats_at_most_one_email_per_kill(
    app: TestApp,
) {
    const CLIENTS: usize = 40;
    let smtp = SmtpServer::start();
    sent_invitations(&app, CLIENTS).await;
    let dir = tempfile::tempdir().unwrap();
    let db = pool(&app).await;
    let env = [
        ("LIAISON__MAIL__SMTP_HOST", "127.0.0.1".to_string()),
        ("LIAISON__MAIL__SMTP_PORT", smtp.port.to_string()),
        // At most one e-mail sent and unrecorded: the most a kill may then repeat is that one.
        ("LIAISON__INVITATIONS__MAX_UNRECORDED", "1".to_string()),
    ];
    let start = app.clock.now();
    let due_now =
        "SELECT COUNT(*) FROM invitation_cycles WHERE next_due_at IS NOT NULL AND next_due_at <= ";
    let due_sql = format!(
        "{due_now}{}",
        liaison::clock::to_millis(start + Duration::hours(1))
    );
    let mut rng = StdRng::seed_from_u64(11);
    let mut at = start;
    for kill in 0..KILLS {
        let before = smtp.received().len();
        let wanted = before + rng.random_range(1..=3);
        let liaison = Liaison::start(&app, dir.path(), at, &env);
        until(&liaison, "e-mails to go out", || async {
            smtp.received().len() >= wanted
        })
        .await;
        liaison.kill();
        assert!(
            count(&db, &due_sql).await > 0,
            "kill {kill} came after the pass's work was done"
        );
        at += Duration::minutes(5);
    }
    let liaison = Liaison::start(&app, dir.path(), at, &env);
    until(&liaison, "every due e-mail to be recorded", || async {
        count(&db, &due_sql).await == 0
    })
    .await;
    liaison.kill();

    let mut recipients: Vec<String> = smtp.received().into_iter().flat_map(|m| m.to).collect();
    let sent = recipients.len();
    recipients.sort();
    recipients.dedup();
    assert_eq!(
        recipients.len(),
        CLIENTS,
        "every client got the day's e-mail"
    );
    assert!(
        sent <= CLIENTS + KILLS,
        "{sent} e-mails for {CLIENTS} clients and {KILLS} kills: a kill repeated more than one"
    );
    // Nothing was skipped either: the next day, each cycle sends once more.
    app.clock.set(at + Duration::hours(25));
    assert_eq!(
        crate::invitations::run(&app, &smtp).await.sent,
        CLIENTS,
        "each cycle goes on to its next day"
    );
}

async fn collections_calls(app: &TestApp) -> usize {
    app.salesforce
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH" && r.url.path() == COLLECTIONS)
        .count()
}

/// Collections calls answered after a moment, so a kill can land while one is in flight.
struct SlowSuccess;

impl wiremock::Respond for SlowSuccess {
    fn respond(&self, request: &Request) -> wiremock::ResponseTemplate {
        AllSucceed
            .respond(request)
            .set_delay(StdDuration::from_millis(30))
    }
}

async fn a_writeback_pass_killed_ten_times_leaves_every_record_at_its_newest_status(app: TestApp) {
    const CLIENTS: usize = 300;
    let (t, link, team) = connected(&app).await;
    let mut clients = Vec::new();
    for n in 1..=CLIENTS {
        clients.push(linked_draft(&app, &t, &team, link, n).await);
    }
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(SlowSuccess)
        .mount(&app.salesforce)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let db = pool(&app).await;
    let env = [("LIAISON__WRITEBACK__BATCH_SIZE", "20".to_string())];
    let pending = "SELECT COUNT(*) FROM crm_writebacks WHERE state = 'pending'";
    let mut rng = StdRng::seed_from_u64(12);
    let mut at = app.clock.now();
    for kill in 0..KILLS {
        // Statuses keep changing between the kills: each change must reach its record too.
        for client in clients.iter().skip(kill * 7).take(7) {
            app.post(
                &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
                &t.admin_token,
                json!({}),
            )
            .await
            .expect(200);
        }
        let wanted = collections_calls(&app).await + rng.random_range(1..=2);
        let liaison = Liaison::start(&app, dir.path(), at, &env);
        until(&liaison, "Collections calls", || async {
            collections_calls(&app).await >= wanted
        })
        .await;
        liaison.kill();
        assert!(
            count(&db, pending).await > 0,
            "kill {kill} came after the pass's work was done"
        );
        at += Duration::minutes(5);
    }
    let liaison = Liaison::start(&app, dir.path(), at, &env);
    until(&liaison, "every write-back to settle", || async {
        count(&db, pending).await == 0
    })
    .await;
    liaison.kill();
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM crm_writebacks WHERE state <> 'written'"
        )
        .await,
        0,
        "no write-back failed or was left behind"
    );

    // The last status each record was sent is the client's status now.
    let mut last: std::collections::HashMap<String, String> = Default::default();
    for body in sent_bodies(&app).await {
        for record in body["records"].as_array().unwrap() {
            last.insert(
                record["id"].as_str().unwrap().to_string(),
                record["Liaison_Status__c"].as_str().unwrap().to_string(),
            );
        }
    }
    for (n, client) in clients.iter().enumerate() {
        let status = app
            .get(
                &format!("/api/v1/tenancies/{}/clients/{client}", t.id),
                &t.admin_token,
            )
            .await
            .expect(200)["status"]
            .clone();
        assert_eq!(
            last.get(&contact_id(n + 1))
                .map(|s| Value::String(s.clone())),
            Some(status),
            "record {n}"
        );
    }
}

async fn an_inbox_pass_killed_ten_times_applies_every_change_once_newest_last(app: TestApp) {
    const LINKED: usize = 40;
    const VERSIONS: usize = 25;
    const UNLINKED: usize = 2_500;
    let i = intake(&app).await;
    let mut clients = Vec::new();
    for record in 0..LINKED {
        clients
            .push(linked_client(&app, &i, record, &format!("c{record}@example.com"), false).await);
    }
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    // Each linked record changes its first name VERSIONS times; unlinked records change too.
    // The notifications arrive shuffled, as Salesforce may deliver them.
    let mut notifications = Vec::new();
    let mut nid = 0;
    for version in 0..VERSIONS {
        for record in 0..LINKED {
            nid += 1;
            let when = format!("2026-03-02T08:{:02}:{:02}.000Z", version / 60, version % 60);
            notifications.push(contact(
                nid,
                record,
                &when,
                &[("FirstName", Some(format!("V{version}").as_str()))],
            ));
        }
    }
    for record in 0..UNLINKED {
        nid += 1;
        notifications.push(contact(
            nid,
            10_000 + record,
            "2026-03-02T08:00:00.000Z",
            &[("FirstName", Some("Someone"))],
        ));
    }
    let mut rng = StdRng::seed_from_u64(13);
    rand::seq::SliceRandom::shuffle(notifications.as_mut_slice(), &mut rng);
    for message in notifications.chunks(100) {
        let answer = post_xml(&app, &i.outbound_url, envelope(ORG_ID, message)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let total = notifications.len() as i64;
    let dir = tempfile::tempdir().unwrap();
    let db = pool(&app).await;
    let pending = "SELECT COUNT(*) FROM crm_inbox WHERE state = 'pending'";
    assert_eq!(count(&db, pending).await, total);
    let mut at = app.clock.now();
    for kill in 0..KILLS {
        let before = count(&db, pending).await;
        let liaison = Liaison::start(&app, dir.path(), at, &[]);
        until(&liaison, "inbox items to settle", || async {
            count(&db, pending).await < before
        })
        .await;
        liaison.kill();
        assert!(
            count(&db, pending).await > 0,
            "kill {kill} came after the pass's work was done"
        );
        at += Duration::minutes(5);
    }
    let liaison = Liaison::start(&app, dir.path(), at, &[]);
    until(&liaison, "every inbox item to settle", || async {
        count(&db, pending).await == 0
    })
    .await;
    liaison.kill();
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM crm_inbox WHERE state = 'failed'").await,
        0,
        "nothing failed"
    );
    for (record, client) in clients.iter().enumerate() {
        let read = app
            .get(
                &format!("/api/v1/tenancies/{}/clients/{client}", i.t.id),
                &i.t.admin_token,
            )
            .await
            .expect(200);
        assert_eq!(
            read["first_name"],
            format!("V{}", VERSIONS - 1),
            "record {record} ends at its newest change"
        );
    }
}
