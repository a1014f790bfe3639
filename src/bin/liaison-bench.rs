//! Liaison's benchmarks. Each subcommand uses `LIAISON_DATABASE_URL` as the service does
//! (default: a throw-away SQLite file), prints what it measures, and ends with one line of
//! JSON holding its figures.
//!
//! `cargo run --release --features bench --bin liaison-bench -- writeback [--faults]`

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use liaison::app::{clients, invites};
use liaison::clock::SystemClock;
use liaison::config::{CrmConfig, DatabaseConfig, Secret};
use liaison::config::{InboxConfig, WritebackConfig};
use liaison::crm::Crm;
use liaison::domain::audit::Actor;
use liaison::domain::client_status::ClientStatus;
use liaison::domain::invite::{Invite, InviteInput, Inviter};
use liaison::domain::tenancy::{GroupKind, GroupModel, MobilePolicy};
use liaison::domain::user::StaffRole;
use liaison::domain::values::{DisplayName, Email, PersonName, SalesforceId};
use liaison::jobs::inbox::{PassReport as InboxReport, pass as inbox_pass};
use liaison::jobs::writeback::pass;
use liaison::secrets::Sealer;
use liaison::store::{
    AuthKind, NewGroupRequest, NewOrgLink, NewStaff, NewTenancy, StaffMatch, Store,
};

#[derive(Parser)]
#[command(name = "liaison-bench")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// One re-send worker pass over many invitations, some due, against a local SMTP sink.
    Resend {
        #[arg(long, default_value_t = 1_000_000)]
        invitations: usize,
        #[arg(long, default_value_t = 50_000)]
        due: usize,
    },
    /// The invite flow from Salesforce: state, pre-fill read (wiremock at zero latency), create
    /// and send, write-back enqueued; from several staff at once.
    Invite {
        #[arg(long, default_value_t = 5_000)]
        invites: usize,
        /// Clients the tenancy holds before the run (the firm's existing book).
        #[arg(long, default_value_t = 20_000)]
        existing: usize,
        /// Invites in flight at once: staff inviting back to back.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Status changes written back to Salesforce (wiremock at zero latency) under steady load.
    Writeback {
        /// Status changes to make.
        #[arg(long, default_value_t = 10_000)]
        changes: usize,
        /// Changes per second, spread evenly.
        #[arg(long, default_value_t = 2_000)]
        rate: usize,
        /// Salesforce misbehaves: a seeded share of calls answered 503 (half of them with
        /// `Retry-After: 2`) and of records `UNABLE_TO_LOCK_ROW`.
        #[arg(long)]
        faults: bool,
        /// Share of Collections calls answered 503 with `--faults`.
        #[arg(long, default_value_t = 0.20)]
        unavailable: f64,
        /// Share of records answered `UNABLE_TO_LOCK_ROW` with `--faults`.
        #[arg(long, default_value_t = 0.05)]
        locked: f64,
        /// Seed of the faults, so runs can be compared.
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// Outbound Messages of 100 notifications posted over HTTP by concurrent senders, each
    /// stored durably before its Ack; then the same rows inserted directly, for comparison.
    Intake {
        /// Messages to post (each of 100 notifications).
        #[arg(long, default_value_t = 600)]
        messages: usize,
        /// Senders posting at once.
        #[arg(long, default_value_t = 8)]
        senders: usize,
        /// After the Acks, also time the inbox worker settling every item: first the posted
        /// changes of unlinked records, then changes of `linked` linked records whose mapped
        /// fields changed.
        #[arg(long)]
        apply: bool,
        /// Linked records (each with a client) for the second phase of `--apply`.
        #[arg(long, default_value_t = 5_000)]
        linked: usize,
    },
}

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    liaison::telemetry::init_logging(liaison::config::LogFormat::Text);
    let scratch = tempfile_dir()?;
    let url = std::env::var("LIAISON_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", scratch.display()));
    let store = Store::open(
        &url,
        &DatabaseConfig {
            max_connections: 10,
            acquire_timeout_seconds: 30,
        },
        Arc::new(SystemClock),
    )
    .await?;
    println!("backend: {}", store.backend().name());
    let result = match cli.bench {
        Bench::Writeback {
            changes,
            rate,
            faults,
            unavailable,
            locked,
            seed,
        } => {
            let faults = faults.then_some(Faults {
                unavailable,
                locked,
                seed,
            });
            writeback(&store, changes, rate, faults).await
        }
        Bench::Resend { invitations, due } => resend(&store, &url, invitations, due).await,
        Bench::Invite {
            invites,
            existing,
            concurrency,
        } => invite(&store, &url, invites, existing, concurrency).await,
        Bench::Intake {
            messages,
            senders,
            apply,
            linked,
        } => intake(&store, messages, senders, apply.then_some(linked)).await,
    };
    store.close().await;
    let _ = std::fs::remove_dir_all(scratch);
    let figures = result?;
    println!("{figures}");
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("liaison-bench-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// How a misbehaving Salesforce answers.
#[derive(Debug, Clone, Copy)]
struct Faults {
    unavailable: f64,
    locked: f64,
    seed: u64,
}

/// Answers each Collections call, counts the calls, and keeps the status each record was
/// last written with; with faults, a seeded share of calls is answered 503 and of records
/// `UNABLE_TO_LOCK_ROW`.
struct Collections {
    calls: Arc<AtomicUsize>,
    failed_calls: Arc<AtomicUsize>,
    written: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
    faults: Option<std::sync::Mutex<FaultDraws>>,
}

/// What a call meets, in blocks of `BLOCK` calls.
#[derive(Debug, Clone, Copy, PartialEq)]
enum CallFault {
    None,
    Unavailable,
    UnavailableRetryAfter,
}

/// The seeded faults. Calls are drawn in shuffled blocks that hold exactly the asked share of
/// 503s, half of them with `Retry-After`, so a run meets the share it names (independent draws
/// over some seventy calls landed anywhere from 15 to 30 %); records are drawn one by one from
/// a stream of their own, so how many records a call carries does not move the calls' draws.
struct FaultDraws {
    faults: Faults,
    calls: rand::rngs::StdRng,
    block: Vec<CallFault>,
    records: rand::rngs::StdRng,
}

impl FaultDraws {
    const BLOCK: usize = 20;

    fn new(faults: Faults) -> Self {
        use rand::SeedableRng;
        Self {
            faults,
            calls: rand::rngs::StdRng::seed_from_u64(faults.seed),
            block: Vec::new(),
            records: rand::rngs::StdRng::seed_from_u64(faults.seed.wrapping_add(1)),
        }
    }

    fn call(&mut self) -> CallFault {
        if self.block.is_empty() {
            let failing = (self.faults.unavailable * Self::BLOCK as f64).round() as usize;
            let failing = failing.min(Self::BLOCK);
            let with_retry_after = failing / 2;
            self.block = (0..Self::BLOCK)
                .map(|n| match n {
                    n if n < with_retry_after => CallFault::UnavailableRetryAfter,
                    n if n < failing => CallFault::Unavailable,
                    _ => CallFault::None,
                })
                .collect();
            self.block.shuffle(&mut self.calls);
        }
        self.block.pop().unwrap_or(CallFault::None)
    }

    fn record_locked(&mut self) -> bool {
        use rand::Rng;
        self.records.random_bool(self.faults.locked)
    }
}

impl Respond for Collections {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut faults = self
            .faults
            .as_ref()
            .map(|f| f.lock().unwrap_or_else(|e| e.into_inner()));
        let fault = faults.as_mut().map_or(CallFault::None, |f| f.call());
        if fault != CallFault::None {
            self.failed_calls.fetch_add(1, Ordering::Relaxed);
            let answer = ResponseTemplate::new(503)
                .insert_header("Sforce-Limit-Info", "api-usage=1000/5000000")
                .set_body_json(
                    json!([{ "message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE" }]),
                );
            return if fault == CallFault::UnavailableRetryAfter {
                answer.insert_header("Retry-After", "2")
            } else {
                answer
            };
        }
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let results: Vec<Value> = body["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| {
                        if faults.as_mut().is_some_and(|f| f.record_locked()) {
                            return json!({ "id": r["id"], "success": false, "errors": [{
                                "statusCode": "UNABLE_TO_LOCK_ROW",
                                "message": "unable to obtain exclusive access to this record",
                                "fields": []
                            }] });
                        }
                        if let (Some(id), Some(status)) =
                            (r["id"].as_str(), r["Liaison_Status__c"].as_str())
                        {
                            written.insert(id.to_string(), status.to_string());
                        }
                        json!({ "id": r["id"], "success": true, "errors": [] })
                    })
                    .collect()
            })
            .unwrap_or_default();
        ResponseTemplate::new(200)
            .insert_header("Sforce-Limit-Info", "api-usage=1000/5000000")
            .set_body_json(results)
    }
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A tenancy, a client team with one active staff user (ada@bench.example), and an org link
/// connected to the mock Salesforce.
struct Org {
    tenancy: Uuid,
    team: Uuid,
    link: Uuid,
    crm: Crm,
}

/// Ada, a system administrator of `tenancy`, and the client team "Everyone" she is in.
async fn admin_and_team(store: &Store, tenancy: Uuid) -> anyhow::Result<Uuid> {
    let staff = store
        .create_staff(
            tenancy,
            NewStaff {
                first_name: PersonName::parse("Ada").map_err(anyhow::Error::msg)?,
                last_name: PersonName::parse("Admin").map_err(anyhow::Error::msg)?,
                email: Email::parse("ada@bench.example").map_err(anyhow::Error::msg)?,
                mobile: None,
                title: None,
                role: StaffRole::SystemAdministrator,
            },
        )
        .await?
        .id;
    Ok(store
        .create_group(
            tenancy,
            GroupKind::ClientTeam,
            NewGroupRequest {
                name: DisplayName::parse("Everyone").map_err(anyhow::Error::msg)?,
                members: vec![staff],
            },
            None,
        )
        .await?
        .id)
}

/// Client number `n`, invited by hand into `team` and linked to Contact `003…n`.
async fn linked_client(
    store: &Store,
    tenancy: Uuid,
    team: Uuid,
    link: Uuid,
    n: usize,
) -> anyhow::Result<(Uuid, SalesforceId)> {
    let input = InviteInput {
        first_name: "Client".into(),
        last_name: format!("N{n}"),
        email: format!("client{n}@bench.example"),
        client_teams: vec![team],
        ..Default::default()
    };
    let invite = Invite::parse(input, GroupModel::ClientTeams, MobilePolicy::Optional)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let inviter = Inviter {
        staff: None,
        administers_users: true,
    };
    let client = invites::invite(
        store,
        tenancy,
        &invite,
        inviter,
        "bench",
        &Default::default(),
    )
    .await?
    .client
    .id;
    let record = SalesforceId::parse(&format!("003{n:012}")).map_err(anyhow::Error::msg)?;
    let linked = clients::RecordInput {
        org_link: link,
        sobject: "Contact".into(),
        record_id: record.as_str().into(),
    };
    clients::link_record(store, tenancy, client, &linked, &Actor::from_label("bench")).await?;
    Ok((client, record))
}

async fn connected_org(store: &Store, salesforce: &MockServer) -> anyhow::Result<Org> {
    let tenancy = store
        .create_tenancy(NewTenancy {
            name: DisplayName::parse("Bench Wealth").map_err(anyhow::Error::msg)?,
            group_model: GroupModel::ClientTeams,
            mobile_policy: MobilePolicy::Optional,
            group_name_convention: "{last_name} Relationship".into(),
            phone_region: Default::default(),
        })
        .await?
        .id;
    let team = admin_and_team(store, tenancy).await?;
    let sealer = Sealer::from_base64_key(KEY)?;
    let link = Uuid::now_v7();
    store
        .create_org_link(
            link,
            NewOrgLink {
                name: "Bench org".into(),
                org_id: SalesforceId::parse("00D5g000004ZKTD")
                    .map_err(anyhow::Error::msg)?
                    .as_str()
                    .into(),
                login_host: salesforce.uri(),
                auth_kind: AuthKind::WebServer,
                consumer_key: "bench".into(),
                integration_username: None,
                api_version: "62.0".into(),
                field_mapping: Default::default(),
                staff_match: StaffMatch::Email,
                api_budget_percent: 20,
                tenancies: vec![tenancy],
                integration_user_id: None,
                auto_invite: None,
            },
            None,
            None,
        )
        .await?;
    let access = sealer.seal(
        "bench-access-token",
        &format!("org_link:{link}:access_token"),
    );
    store
        .store_tokens(link, 0, &salesforce.uri(), &access, None, None)
        .await?;
    let crm = Crm::new(
        store.clone(),
        Some(sealer),
        CrmConfig {
            encryption_key: Some(Secret::new(KEY)),
            allow_http_login_hosts: true,
            ..Default::default()
        },
    );

    Ok(Org {
        tenancy,
        team,
        link,
        crm,
    })
}

async fn writeback(
    store: &Store,
    changes: usize,
    rate: usize,
    faults: Option<Faults>,
) -> anyhow::Result<Value> {
    let salesforce = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let failed_calls = Arc::new(AtomicUsize::new(0));
    let written = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    // Linking writes each record's first status: set-up, not measured, and made without
    // faults.
    Mock::given(method("PATCH"))
        .and(path("/services/data/v62.0/composite/sobjects"))
        .respond_with(Collections {
            calls: Arc::new(AtomicUsize::new(0)),
            failed_calls: Arc::new(AtomicUsize::new(0)),
            written: written.clone(),
            faults: None,
        })
        .mount(&salesforce)
        .await;

    let Org {
        tenancy,
        team,
        link,
        crm,
        ..
    } = connected_org(store, &salesforce).await?;

    // Clients linked to their records: about one in three changes twice (sent, then accepted).
    let clients_needed = (changes as f64 / 1.3).ceil() as usize;
    println!("creating {clients_needed} linked clients…");
    let mut clients = Vec::with_capacity(clients_needed);
    for n in 0..clients_needed {
        let (client, record) = linked_client(store, tenancy, team, link, n).await?;
        clients.push((client, record.as_str().to_string()));
    }
    let config = WritebackConfig::default();
    while pass(&crm, store, &config).await?.calls > 0 {}
    salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path("/services/data/v62.0/composite/sobjects"))
        .respond_with(Collections {
            calls: calls.clone(),
            failed_calls: failed_calls.clone(),
            written: written.clone(),
            faults: faults.map(|f| std::sync::Mutex::new(FaultDraws::new(f))),
        })
        .mount(&salesforce)
        .await;
    calls.store(0, Ordering::Relaxed);
    let clients_only: Vec<Uuid> = clients.iter().map(|(c, _)| *c).collect();

    type Move = liaison::domain::client_status::Transition;
    let mut plan: Vec<(Uuid, Move)> = clients_only
        .iter()
        .map(|c| (*c, ClientStatus::send as fn(_) -> _))
        .collect();
    plan.shuffle(&mut rand::rng());
    let mut accepts: Vec<_> = clients_only
        .iter()
        .take(changes.saturating_sub(clients.len()))
        .map(|c| (*c, ClientStatus::accept as fn(_) -> _))
        .collect();
    accepts.shuffle(&mut rand::rng());
    plan.extend(accepts);
    plan.truncate(changes);
    let made = plan.len();
    println!(
        "making {made} status changes at {rate}/s while the worker runs (poll every {} ms)…",
        config.poll_interval_ms
    );

    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let (store, done, config) = (store.clone(), done.clone(), config.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut gave_up = 0;
            loop {
                let finished = done.load(Ordering::Relaxed);
                let report = pass(&crm, &store, &config).await?;
                latencies.extend(report.latencies_ms);
                gave_up += report.failed;
                // Done when the load is over and nothing waits, not even a retry.
                if report.calls == 0 && finished && !pending_writebacks(&store, link).await? {
                    break;
                }
                if report.full_batches == 0 {
                    tokio::time::sleep(Duration::from_millis(config.poll_interval_ms)).await;
                }
            }
            anyhow::Ok((latencies, gave_up))
        })
    };
    // Several writers share the schedule, as requests from many users would; a client's changes
    // stay with one writer, so they happen in order.
    const WRITERS: usize = 8;
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
    let plan = Arc::new(plan);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, plan) = (store.clone(), plan.clone());
            tokio::spawn(async move {
                let mut service = Vec::new();
                for (i, &(client, transition)) in plan.iter().enumerate() {
                    if (client.as_u128() % WRITERS as u128) as usize != w {
                        continue;
                    }
                    let due = started + interval * u32::try_from(i).unwrap_or(u32::MAX);
                    tokio::time::sleep_until(due.into()).await;
                    let t = Instant::now();
                    store
                        .transition_client(tenancy, client, transition, "bench")
                        .await?;
                    service.push(t.elapsed().as_micros() as i64);
                }
                anyhow::Ok(service)
            })
        })
        .collect();
    let mut service = Vec::with_capacity(made);
    for writer in writers {
        service.extend(writer.await??);
    }
    let load_seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let (mut latencies, gave_up) = worker.await??;
    latencies.sort_unstable();
    service.sort_unstable();
    let total_calls = calls.load(Ordering::Relaxed);
    // Salesforce must end where Liaison is: each record holds its client's status.
    let mut differing = 0;
    {
        let written = written.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (client, record) in &clients {
            let status = store.client(tenancy, *client, None).await?.status;
            if written.get(record).map(String::as_str) != Some(status.as_str()) {
                differing += 1;
            }
        }
    }
    println!(
        "faults: {}; records differing from Liaison at the end: {differing}",
        faults.map_or("none".to_string(), |f| format!(
            "{:.0} % of calls 503 (half with Retry-After: 2), {:.0} % of records UNABLE_TO_LOCK_ROW, seed {}",
            f.unavailable * 100.0,
            f.locked * 100.0,
            f.seed
        ))
    );
    Ok(json!({
        "bench": "writeback",
        "backend": store.backend().name(),
        "changes": made,
        "clients": clients.len(),
        "records_written": latencies.len(),
        "faults": faults.is_some(),
        "collections_calls": total_calls,
        "calls_answered_503": failed_calls.load(Ordering::Relaxed),
        "records_given_up": gave_up,
        "records_differing_from_liaison": differing,
        "calls_per_1000_changes": (total_calls as f64 * 1000.0 / made as f64 * 100.0).round() / 100.0,
        "p50_change_to_crm_ms": percentile(&latencies, 50.0),
        "p95_change_to_crm_ms": percentile(&latencies, 95.0),
        "max_change_to_crm_ms": latencies.last().copied().unwrap_or(0),
        "change_rate_per_second": (made as f64 / load_seconds).round(),
        "p99_status_change_ms": percentile(&service, 99.0) as f64 / 1000.0,
        "poll_interval_ms": config.poll_interval_ms,
        "linger_ms": config.linger_ms,
        "concurrent_calls": config.concurrent_calls,
    }))
}

/// Whether any write-back of the link still waits (a retry not yet due counts).
async fn pending_writebacks(store: &Store, link: Uuid) -> anyhow::Result<bool> {
    let page = store
        .list_writebacks(
            link,
            None,
            Some(liaison::store::WritebackState::Pending),
            &liaison::store::PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await?;
    Ok(!page.items.is_empty())
}

/// An SMTP server on loopback that accepts everything and counts it.
#[derive(Clone)]
struct SmtpSink(Arc<AtomicUsize>);

impl mailin_embedded::Handler for SmtpSink {
    fn data_end(&mut self) -> mailin_embedded::Response {
        self.0.fetch_add(1, Ordering::Relaxed);
        mailin_embedded::response::OK
    }
}

fn smtp_sink() -> anyhow::Result<(u16, Arc<AtomicUsize>)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let received = Arc::new(AtomicUsize::new(0));
    let mut server = mailin_embedded::Server::new(SmtpSink(received.clone()));
    server
        .with_name("localhost")
        .with_ssl(mailin_embedded::SslConfig::None)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .with_num_threads(32)
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    Ok((port, received))
}

/// The claim's search, explained by the database: it must read due rows only.
const DUE_SEARCH: &str = "SELECT id FROM invitation_cycles WHERE next_due_at IS NOT NULL AND next_due_at <= $1 \
    AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_due_at LIMIT $2";

async fn resend(store: &Store, url: &str, invitations: usize, due: usize) -> anyhow::Result<Value> {
    use liaison::clock::to_millis;
    use sqlx::Row;

    let tenancy = store
        .create_tenancy(NewTenancy {
            name: DisplayName::parse("Bench Wealth").map_err(anyhow::Error::msg)?,
            group_model: GroupModel::ClientTeams,
            mobile_policy: MobilePolicy::Optional,
            group_name_convention: "{last_name} Relationship".into(),
            phone_region: Default::default(),
        })
        .await?
        .id;
    sqlx::any::install_default_drivers();
    let raw = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await?;
    let now = to_millis(time::OffsetDateTime::now_utc());
    println!("seeding {invitations} running invitations, {due} of them due…");
    let seeded = Instant::now();
    const ROWS: usize = 500;
    for chunk in (0..invitations).collect::<Vec<_>>().chunks(ROWS) {
        let mut users = Vec::with_capacity(ROWS);
        let mut cycles = Vec::with_capacity(ROWS);
        for &n in chunk {
            let (client, cycle) = (Uuid::now_v7(), Uuid::now_v7());
            let started = now - 86_400_000 * (1 + (n as i64 % 20));
            // The first `due` are due now; the others later today.
            let next = if n < due {
                now - 1_000
            } else {
                now + 60_000 + (n as i64 % 86_000_000)
            };
            users.push(format!(
                "('{client}', '{tenancy}', 'client', 'Client', 'N{n}', 'c{n}@bench.example', 'c{n}@bench.example', \
                 'Client', 'invited', {now}, {now})"
            ));
            cycles.push(format!(
                "('{cycle}', '{tenancy}', '{client}', {started}, {ends}, {next}, 1, 0)",
                ends = started + 30 * 86_400_000
            ));
        }
        let mut tx = raw.begin().await?;
        insert_values(&mut tx, "users (id, tenancy_id, kind, first_name, last_name, email, email_key, title, status, created_at, updated_at)", &users).await?;
        insert_values(&mut tx, "invitation_cycles (id, tenancy_id, client_id, started_at, ends_at, next_due_at, emails_sent, failed_attempts)", &cycles).await?;
        tx.commit().await?;
    }
    let analyze = match store.backend() {
        liaison::store::Backend::Postgres => "ANALYZE invitation_cycles",
        liaison::store::Backend::Sqlite => "ANALYZE",
    };
    sqlx::query(analyze).execute(&raw).await?;
    println!("seeded in {:.1} s", seeded.elapsed().as_secs_f64());

    // What the claim reads, by the database's own account.
    let (plan, not_due_examined) = match store.backend() {
        liaison::store::Backend::Sqlite => {
            let rows = sqlx::query(&format!("EXPLAIN QUERY PLAN {DUE_SEARCH}"))
                .bind(now)
                .bind(due as i64)
                .fetch_all(&raw)
                .await?;
            let plan: Vec<String> = rows
                .iter()
                .filter_map(|r| r.try_get::<String, _>("detail").ok())
                .collect();
            // A range search on the due index stops at the first row not yet due.
            let ranged = plan.iter().any(|p| {
                p.contains("USING INDEX invitation_cycles_due") && p.contains("next_due_at<")
            });
            (plan, if ranged { 0 } else { invitations - due })
        }
        liaison::store::Backend::Postgres => {
            let rows = sqlx::query(&format!("EXPLAIN (ANALYZE, COSTS OFF) {DUE_SEARCH}"))
                .bind(now)
                .bind(due as i64)
                .fetch_all(&raw)
                .await?;
            let plan: Vec<String> = rows
                .iter()
                .filter_map(|r| r.try_get::<String, _>(0).ok())
                .collect();
            let removed: usize = plan
                .iter()
                .filter_map(|line| line.trim().strip_prefix("Rows Removed by Filter: "))
                .filter_map(|n| n.trim().parse::<usize>().ok())
                .sum();
            (plan, removed)
        }
    };
    for line in &plan {
        println!("plan: {line}");
    }

    let (port, received) = smtp_sink()?;
    let mail = liaison::config::MailConfig {
        smtp_port: port,
        from: "Bench <invitations@bench.example>".into(),
        pool_size: 16,
        ..Default::default()
    };
    let mailer = liaison::mail::SmtpMailer::new(&mail).map_err(anyhow::Error::msg)?;
    let config = liaison::config::InvitationConfig::default();
    println!(
        "one re-send pass (batch {}, {} e-mails in flight)…",
        config.batch_size, config.concurrency
    );
    let started = Instant::now();
    let report =
        liaison::jobs::invitations::pass(store, &mailer, &config, "http://127.0.0.1:8080").await?;
    let pass_seconds = started.elapsed().as_secs_f64();
    Ok(json!({
        "bench": "resend",
        "backend": store.backend().name(),
        "invitations": invitations,
        "due": report.due,
        "sent": report.sent,
        "smtp_received": received.load(Ordering::Relaxed),
        "failed": report.failed + report.retried,
        "pass_seconds": (pass_seconds * 100.0).round() / 100.0,
        "emails_per_second": (report.sent as f64 / pass_seconds).round(),
        "not_due_rows_examined": not_due_examined,
    }))
}

/// Inserts rows already written as SQL tuples into `table (columns)`, in one statement.
async fn insert_values(
    conn: &mut sqlx::AnyConnection,
    into: &str,
    rows: &[String],
) -> anyhow::Result<()> {
    sqlx::query(&format!("INSERT INTO {into} VALUES {}", rows.join(", ")))
        .execute(conn)
        .await?;
    Ok(())
}

/// Answers a Contact read with a person made from the record's id.
struct ContactRecord;

impl Respond for ContactRecord {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request.url.path().rsplit('/').next().unwrap_or_default();
        ResponseTemplate::new(200)
            .insert_header("Sforce-Limit-Info", "api-usage=1000/5000000")
            .set_body_json(json!({
                "attributes": { "type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/{id}") },
                "Id": id, "FirstName": "Client", "LastName": format!("N{}", &id[8..15]),
                "Email": format!("{}@bench.example", id.to_lowercase()), "MobilePhone": null, "Title": null
            }))
    }
}

async fn invite(
    store: &Store,
    url: &str,
    invites: usize,
    existing: usize,
    concurrency: usize,
) -> anyhow::Result<Value> {
    use futures::StreamExt;
    use liaison::app::invites::{FromRecord, actor, from_record as invite_from_record};
    use liaison::crm::record::RecordKind;
    use liaison::store::SalesforceUser;

    let salesforce = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "/services/data/v62.0/sobjects/Contact/.*",
        ))
        .respond_with(ContactRecord)
        .mount(&salesforce)
        .await;
    let org = connected_org(store, &salesforce).await?;
    let link = store.org_link(org.link, None).await?;
    // The firm's existing clients, in its team and linked to their records, and the statistics
    // the database plans with.
    println!("seeding {existing} existing clients…");
    sqlx::any::install_default_drivers();
    let raw = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?;
    let now = liaison::clock::to_millis(time::OffsetDateTime::now_utc());
    for chunk in (0..existing).collect::<Vec<_>>().chunks(500) {
        let mut users = Vec::with_capacity(chunk.len());
        let mut members = Vec::with_capacity(chunk.len());
        let mut records = Vec::with_capacity(chunk.len());
        for &n in chunk {
            let client = Uuid::now_v7();
            records.push(format!(
                "('{client}', '{t}', '{link}', 'Contact', '003X{n:011}AAA', {now})",
                t = org.tenancy,
                link = org.link
            ));
            users.push(format!(
                "('{client}', '{t}', 'client', 'Existing', 'E{n}', 'e{n}@book.example', 'e{n}@book.example', \
                 'Client', 'active', {now}, {now})",
                t = org.tenancy
            ));
            members.push(format!(
                "('{t}', '{team}', '{client}', {now}, 'client', 1)",
                t = org.tenancy,
                team = org.team
            ));
        }
        let mut tx = raw.begin().await?;
        insert_values(&mut tx, "users (id, tenancy_id, kind, first_name, last_name, email, email_key, title, status, created_at, updated_at)", &users).await?;
        insert_values(
            &mut tx,
            "group_members (tenancy_id, group_id, user_id, added_at, member_kind, member_active)",
            &members,
        )
        .await?;
        insert_values(
            &mut tx,
            "crm_records (client_id, tenancy_id, org_link_id, sobject, record_id, linked_at)",
            &records,
        )
        .await?;
        tx.commit().await?;
    }
    sqlx::query("ANALYZE").execute(&raw).await?;
    raw.close().await;
    let user = SalesforceUser {
        user_id: SalesforceId::parse("0055g00000AbCdE").map_err(anyhow::Error::msg)?,
        username: Some("ada@bench.example.sf".into()),
        email: Some("ada@bench.example".into()),
        name: "Ada Admin".into(),
    };
    println!("{invites} invites, {concurrency} at a time…");
    let started = Instant::now();
    let results: Vec<anyhow::Result<(i64, [i64; 3], bool)>> = futures::stream::iter(0..invites)
        .map(|n| {
            let (org, link, user) = (&org, &link, &user);
            async move {
                let record =
                    SalesforceId::parse(&format!("003{n:012}")).map_err(anyhow::Error::msg)?;
                let t = Instant::now();
                // What the form does: who the user is, whether the record has a client, the
                // pre-fill, then create and send.
                let acting = store
                    .acting_staff(link.id, link.staff_match, user)
                    .await?
                    .into_iter()
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("no acting staff"))?;
                if store
                    .client_of_record(acting.tenancy, link.id, &record)
                    .await?
                    .is_some()
                {
                    anyhow::bail!("record {n} already has a client");
                }
                let state_us = t.elapsed().as_micros() as i64;
                let prefill = org
                    .crm
                    .read_prefill(link, RecordKind::Contact, record.as_str())
                    .await?;
                let read_us = t.elapsed().as_micros() as i64 - state_us;
                let input = InviteInput {
                    first_name: prefill.first_name.unwrap_or_default(),
                    last_name: prefill.last_name.unwrap_or_default(),
                    email: prefill.email.unwrap_or_default(),
                    client_teams: vec![org.team],
                    ..Default::default()
                };
                let from = FromRecord {
                    org_link: link.id,
                    kind: RecordKind::Contact,
                    record,
                };
                let invited = invite_from_record(
                    store,
                    &acting,
                    &actor(&acting, &user.user_id),
                    &from,
                    input,
                    true,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let total = t.elapsed().as_micros() as i64;
                Ok((
                    total,
                    [state_us, read_us, total - state_us - read_us],
                    invited.created,
                ))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut service = Vec::with_capacity(invites);
    let mut phases: [Vec<i64>; 3] = Default::default();
    for result in results {
        let (micros, parts, created) = result?;
        anyhow::ensure!(created, "an invite found a client already made");
        service.push(micros);
        for (phase, part) in phases.iter_mut().zip(parts) {
            phase.push(part);
        }
    }
    service.sort_unstable();
    for phase in &mut phases {
        phase.sort_unstable();
    }
    // Every invite left its status for the record in the write-back outbox.
    let mut queued = 0;
    let mut after = None;
    loop {
        let page = store
            .list_writebacks(
                org.link,
                None,
                None,
                &liaison::store::PageRequest { limit: 200, after },
            )
            .await?;
        queued += page.items.len();
        match page.next_cursor {
            Some(next) => after = Some(Uuid::parse_str(&next)?),
            None => break,
        }
    }
    Ok(json!({
        "bench": "invite",
        "backend": store.backend().name(),
        "invites": service.len(),
        "existing_clients": existing,
        "concurrency": concurrency,
        "invites_per_second": (service.len() as f64 / seconds).round(),
        "p50_service_ms": percentile(&service, 50.0) as f64 / 1000.0,
        "p99_service_ms": percentile(&service, 99.0) as f64 / 1000.0,
        "p50_state_ms": percentile(&phases[0], 50.0) as f64 / 1000.0,
        "p50_prefill_read_ms": percentile(&phases[1], 50.0) as f64 / 1000.0,
        "p50_create_ms": percentile(&phases[2], 50.0) as f64 / 1000.0,
        "writebacks_enqueued": queued,
    }))
}

/// An Outbound Message of 100 Contact notifications, shaped as `wiremock-fixtures/outbound/`.
fn outbound_envelope(message: usize) -> String {
    let mut body = String::with_capacity(70_000);
    body.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>\
         <notifications xmlns=\"http://soap.sforce.com/2005/09/outbound\"><OrganizationId>00D5g000004ZKTDEA4</OrganizationId>\
         <ActionId>04k5g000000CaXbAAK</ActionId><SessionId xsi:nil=\"true\"/>\
         <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004ZKTD</EnterpriseUrl>\
         <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004ZKTD</PartnerUrl>",
    );
    for n in 0..100 {
        let k = message * 100 + n;
        body.push_str(&format!(
            "<Notification><Id>04l{k:015}</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\
             <sf:Id>003{:012}</sf:Id><sf:Email>client{k}@example.com</sf:Email><sf:FirstName>Client</sf:FirstName>\
             <sf:LastModifiedById>0055g00000Lk3Rt</sf:LastModifiedById><sf:LastModifiedDate>2026-03-02T08:59:{:02}.000Z</sf:LastModifiedDate>\
             <sf:LastName>Number {k}</sf:LastName><sf:MobilePhone>+447768887464</sf:MobilePhone>\
             <sf:SystemModstamp>2026-03-02T08:59:{:02}.000Z</sf:SystemModstamp><sf:Title xsi:nil=\"true\"/></sObject></Notification>",
            k % 50_000,
            k % 60,
            k % 60
        ));
    }
    body.push_str("</notifications></soapenv:Body></soapenv:Envelope>");
    body
}

/// A fresh org id, so the bench can run again on the same database.
fn bench_org_id() -> String {
    format!("00D{}", &Uuid::new_v4().simple().to_string()[..12])
}

async fn intake_link(store: &Store, org: &str) -> anyhow::Result<(Uuid, String)> {
    let (link, token, _) = intake_link_in(store, org).await?;
    Ok((link, token))
}

/// An org link with intake secrets, and the tenancy it serves.
async fn intake_link_in(store: &Store, org: &str) -> anyhow::Result<(Uuid, String, Uuid)> {
    let tenancy = store
        .create_tenancy(NewTenancy {
            name: DisplayName::parse(&format!("Bench {}", Uuid::now_v7().simple()))
                .map_err(anyhow::Error::msg)?,
            group_model: GroupModel::ClientTeams,
            mobile_policy: MobilePolicy::Optional,
            group_name_convention: "{last_name} Relationship".into(),
            phone_region: Default::default(),
        })
        .await?
        .id;
    let link = Uuid::now_v7();
    store
        .create_org_link(
            link,
            NewOrgLink {
                name: "Bench org".into(),
                org_id: SalesforceId::parse(org)
                    .map_err(anyhow::Error::msg)?
                    .as_str()
                    .into(),
                login_host: "https://login.salesforce.com".into(),
                auth_kind: AuthKind::WebServer,
                consumer_key: "bench".into(),
                integration_username: None,
                api_version: "62.0".into(),
                field_mapping: Default::default(),
                staff_match: StaffMatch::Email,
                api_budget_percent: 20,
                tenancies: vec![tenancy],
                integration_user_id: None,
                auto_invite: None,
            },
            None,
            None,
        )
        .await?;
    let token = format!("bench-token-{}", Uuid::now_v7().simple());
    let sealed = Sealer::from_base64_key(KEY)?.seal(
        "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        &format!("org_link:{link}:webhook_secret"),
    );
    store
        .set_intake_secrets(link, &liaison::secrets::digest(&token), &sealed)
        .await?;
    Ok((link, token, tenancy))
}

/// Runs inbox passes until none claims anything; returns the seconds taken and the report.
async fn settle_inbox(store: &Store) -> anyhow::Result<(f64, InboxReport)> {
    let config = InboxConfig::default();
    let started = Instant::now();
    let mut total = InboxReport::default();
    loop {
        let report = inbox_pass(store, &config).await?;
        if report.claimed == 0 {
            break;
        }
        total.claimed += report.claimed;
        total.applied += report.applied;
        total.skipped += report.skipped;
        total.failed += report.failed;
        total.retried += report.retried;
    }
    Ok((started.elapsed().as_secs_f64(), total))
}

/// Fails unless every item of `link` is settled (none pending).
async fn ensure_settled(store: &Store, link: Uuid) -> anyhow::Result<()> {
    let pending = store
        .list_changes(
            link,
            None,
            Some(liaison::store::InboxState::Pending),
            &liaison::store::PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await?;
    anyhow::ensure!(pending.items.is_empty(), "items were left pending");
    Ok(())
}

/// Phase two of `--apply`: `count` clients linked to Contacts, then one change of each record
/// that renames the client and sets a title, stored as the intake stores them; returns the
/// figures of the worker applying them.
async fn apply_linked(store: &Store, count: usize) -> anyhow::Result<Value> {
    let (link, _, tenancy) = intake_link_in(store, &bench_org_id()).await?;
    let team = admin_and_team(store, tenancy).await?;
    println!("creating {count} linked clients…");
    for n in 0..count {
        linked_client(store, tenancy, team, link, n).await?;
    }
    let changes: Vec<liaison::store::RecordChange> = (0..count)
        .map(|n| {
            let record = SalesforceId::parse(&format!("003{n:012}")).map_err(anyhow::Error::msg)?;
            let mut fields = serde_json::Map::new();
            for (name, value) in [
                ("Id", record.as_str().to_string()),
                ("FirstName", format!("Renamed{n}")),
                ("LastName", format!("N{n}")),
                ("Email", format!("client{n}@bench.example")),
                ("Title", "Director".to_string()),
                ("LastModifiedDate", "2026-03-02T09:00:00.000Z".to_string()),
            ] {
                fields.insert(name.into(), Value::String(value));
            }
            Ok(liaison::store::RecordChange {
                delivery_id: format!("04l{n:015}"),
                sobject: "Contact".into(),
                record_id: record.as_str().to_string(),
                modstamp: 1_772_442_000_000,
                deleted: false,
                master_record_id: None,
                fields,
                changed_fields: None,
                changed_by: None,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    for batch in changes.chunks(100) {
        store
            .receive_changes(link, liaison::store::ChangeSource::OutboundMessage, batch)
            .await?;
    }
    println!("applying {count} changes of linked records…");
    let (seconds, report) = settle_inbox(store).await?;
    ensure_settled(store, link).await?;
    anyhow::ensure!(
        report.applied == count,
        "{} of {count} changes applied ({} skipped, {} failed)",
        report.applied,
        report.skipped,
        report.failed
    );
    Ok(json!({
        "changes": count,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "applied_per_second": (count as f64 / seconds).round(),
    }))
}

async fn intake(
    store: &Store,
    messages: usize,
    senders: usize,
    apply: Option<usize>,
) -> anyhow::Result<Value> {
    let org = bench_org_id();
    let (link, token) = intake_link(store, &org).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let state = liaison::app_state(
        store.clone(),
        CrmConfig {
            encryption_key: Some(Secret::new(KEY)),
            public_url: address.clone(),
            ..Default::default()
        },
    )?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(liaison::serve(listener, state, 64 * 1024, async {
        let _ = stopped.await;
    }));
    let url = format!("{address}/salesforce/outbound/{link}/{token}");
    let org18 = SalesforceId::parse(&org).map_err(anyhow::Error::msg)?;
    let bodies: Vec<String> = (0..messages)
        .map(|m| outbound_envelope(m).replace("00D5g000004ZKTDEA4", org18.as_str()))
        .collect();
    let bytes = bodies.iter().map(String::len).sum::<usize>();
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(senders)
        .build()?;
    println!(
        "posting {messages} messages of 100 notifications ({} MB) from {senders} senders",
        bytes / 1_000_000
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..senders.max(1) {
        let (http, url, bodies, next) = (http.clone(), url.clone(), bodies.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .header("content-type", "text/xml; charset=utf-8")
                    .header("SOAPAction", "\"\"")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                let text = response.text().await?;
                anyhow::ensure!(
                    status.is_success() && text == liaison::crm::outbound::ACK,
                    "message {i} was not acknowledged: {status} {text}"
                );
                latencies.push(sent.elapsed().as_micros() as i64);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(messages);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let stored = store
        .list_changes(
            link,
            None,
            None,
            &liaison::store::PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await?;
    anyhow::ensure!(!stored.items.is_empty(), "nothing was stored");
    let _ = stop.send(());
    let _ = server.await;

    // The posted changes are of records no client is linked to: each is only skipped.
    let applied = match apply {
        Some(linked) => {
            let notifications = messages * 100;
            println!("applying {notifications} changes of unlinked records…");
            let (unlinked_seconds, report) = settle_inbox(store).await?;
            ensure_settled(store, link).await?;
            anyhow::ensure!(
                report.skipped == notifications,
                "{} of {notifications} changes skipped",
                report.skipped
            );
            let linked = apply_linked(store, linked).await?;
            json!({
                "unlinked": {
                    "changes": notifications,
                    "seconds": (unlinked_seconds * 1000.0).round() / 1000.0,
                    "applied_per_second": (notifications as f64 / unlinked_seconds).round(),
                },
                "linked": linked,
            })
        }
        None => Value::Null,
    };

    // The same rows, parsed once up front, inserted directly by as many writers.
    let (raw_link, _) = intake_link(store, &bench_org_id()).await?;
    let changes: Vec<Vec<liaison::store::RecordChange>> = bodies
        .iter()
        .map(|body| {
            let message = liaison::crm::outbound::parse(body.as_bytes())?;
            message
                .notifications
                .iter()
                .map(|n| liaison::crm::inbox::from_notification(n).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .collect::<anyhow::Result<_>>()?;
    let changes = Arc::new(changes);
    let next = Arc::new(AtomicUsize::new(0));
    let raw_started = Instant::now();
    let mut writers = Vec::new();
    for _ in 0..senders.max(1) {
        let (store, changes, next) = (store.clone(), changes.clone(), next.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(batch) = changes.get(i) else { break };
                store
                    .receive_changes(
                        raw_link,
                        liaison::store::ChangeSource::OutboundMessage,
                        batch,
                    )
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let raw_seconds = raw_started.elapsed().as_secs_f64();
    let notifications = messages * 100;
    Ok(json!({
        "bench": "intake",
        "backend": store.backend().name(),
        "messages": messages,
        "notifications": notifications,
        "senders": senders,
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "notifications_per_second": (notifications as f64 / seconds).round(),
        "p50_ack_ms": percentile(&latencies, 50.0) as f64 / 1000.0,
        "p99_ack_ms": percentile(&latencies, 99.0) as f64 / 1000.0,
        "max_ack_ms": latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
        "raw_insert_per_second": (notifications as f64 / raw_seconds).round(),
        "apply": applied,
    }))
}
