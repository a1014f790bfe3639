//! Liaison's benchmarks. Each subcommand uses `LIAISON_DATABASE_URL` as the service does
//! (default: a throw-away SQLite file), prints what it measures, and ends with one line of
//! JSON holding its figures.
//!
//! `cargo run --release --features bench --bin liaison-bench -- writeback`

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

use liaison::clock::SystemClock;
use liaison::config::{CrmConfig, DatabaseConfig, Secret};
use liaison::crm::Crm;
use liaison::crm::crypto::Sealer;
use liaison::domain::client_status::ClientStatus;
use liaison::domain::invite::{Invite, InviteInput};
use liaison::domain::tenancy::{GroupKind, GroupModel, MobilePolicy};
use liaison::domain::user::StaffRole;
use liaison::domain::values::{DisplayName, Email, PersonName, SalesforceId};
use liaison::jobs::writeback::{WritebackConfig, pass};
use liaison::store::{
    AuthKind, Inviter, NewGroupRequest, NewOrgLink, NewStaff, NewTenancy, StaffMatch, Store,
};

#[derive(Parser)]
#[command(name = "liaison-bench")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Status changes written back to Salesforce (wiremock at zero latency) under steady load.
    Writeback {
        /// Status changes to make.
        #[arg(long, default_value_t = 10_000)]
        changes: usize,
        /// Changes per second, spread evenly.
        #[arg(long, default_value_t = 2_000)]
        rate: usize,
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
        Bench::Writeback { changes, rate } => writeback(&store, changes, rate).await,
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

/// Answers each Collections call with success for every record, and counts the calls.
struct Collections(Arc<AtomicUsize>);

impl Respond for Collections {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, Ordering::Relaxed);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let results: Vec<Value> = body["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| json!({ "id": r["id"], "success": true, "errors": [] }))
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

async fn writeback(store: &Store, changes: usize, rate: usize) -> anyhow::Result<Value> {
    let salesforce = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("PATCH"))
        .and(path("/services/data/v62.0/composite/sobjects"))
        .respond_with(Collections(calls.clone()))
        .mount(&salesforce)
        .await;

    // A tenancy, a team with one active staff user, a connected org link.
    let tenancy = store
        .create_tenancy(NewTenancy {
            name: DisplayName::parse("Bench Wealth").map_err(anyhow::Error::msg)?,
            group_model: GroupModel::ClientTeams,
            mobile_policy: MobilePolicy::Optional,
            group_name_convention: "{last_name} Relationship".into(),
        })
        .await?
        .id;
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
    let team = store
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
        .id;
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
        .store_tokens(link, 0, &salesforce.uri(), &access, None)
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

    // Clients linked to their records: about one in three changes twice (sent, then accepted).
    let clients_needed = (changes as f64 / 1.3).ceil() as usize;
    println!("creating {clients_needed} linked clients…");
    let mut clients = Vec::with_capacity(clients_needed);
    for n in 0..clients_needed {
        let input = InviteInput {
            first_name: "Client".into(),
            last_name: format!("N{n}"),
            email: format!("client{n}@bench.example"),
            client_teams: vec![team],
            ..Default::default()
        };
        let invite = Invite::parse(input, GroupModel::ClientTeams, MobilePolicy::Optional)
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let client = store
            .invite_client(
                tenancy,
                invite,
                Inviter {
                    staff: None,
                    administers_users: true,
                },
                "bench",
            )
            .await?
            .id;
        let record = SalesforceId::parse(&format!("003{n:012}")).map_err(anyhow::Error::msg)?;
        store
            .link_crm_record(tenancy, client, link, "Contact", record.as_str())
            .await?;
        clients.push(client);
    }
    let config = WritebackConfig::default();
    // Linking wrote each record's first status; that is set-up, not measured.
    while pass(&crm, store, &config).await?.calls > 0 {}
    calls.store(0, Ordering::Relaxed);

    type Move =
        fn(ClientStatus) -> Result<ClientStatus, liaison::domain::client_status::IllegalTransition>;
    let mut plan: Vec<(Uuid, Move)> = clients
        .iter()
        .map(|c| (*c, ClientStatus::send as fn(_) -> _))
        .collect();
    plan.shuffle(&mut rand::rng());
    let mut accepts: Vec<_> = clients
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
            loop {
                let finished = done.load(Ordering::Relaxed);
                let report = pass(&crm, &store, &config).await?;
                latencies.extend(report.latencies_ms);
                if report.calls == 0 && finished {
                    break;
                }
                if report.full_batches == 0 {
                    tokio::time::sleep(Duration::from_millis(config.poll_interval_ms)).await;
                }
            }
            anyhow::Ok(latencies)
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
    let mut latencies = worker.await??;
    latencies.sort_unstable();
    service.sort_unstable();
    let total_calls = calls.load(Ordering::Relaxed);
    Ok(json!({
        "bench": "writeback",
        "backend": store.backend().name(),
        "changes": made,
        "clients": clients.len(),
        "records_written": latencies.len(),
        "collections_calls": total_calls,
        "calls_per_1000_changes": (total_calls as f64 * 1000.0 / made as f64 * 100.0).round() / 100.0,
        "p50_change_to_crm_ms": percentile(&latencies, 50.0),
        "p95_change_to_crm_ms": percentile(&latencies, 95.0),
        "max_change_to_crm_ms": latencies.last().copied().unwrap_or(0),
        "change_rate_per_second": (made as f64 / load_seconds).round(),
        "p99_status_change_ms": percentile(&service, 99.0) as f64 / 1000.0,
        "poll_interval_ms": config.poll_interval_ms,
        "linger_ms": config.linger_ms,
    }))
}
