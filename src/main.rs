//! The `liaison` command: serve (the default), migrate, manage tokens, print the OpenAPI, print
//! an operator's sign-in link to the admin console.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use uuid::Uuid;

use liaison::config::{Config, redact_url};
use liaison::store::Store;

#[derive(Parser)]
#[command(
    name = "liaison",
    version,
    about = "Onboards a firm's clients from Salesforce into a secure messenger"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default).
    Serve,
    /// Run the database migrations and exit.
    Migrate,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the OpenAPI document of /api/v1.
    Openapi,
    /// Print a one-time link that signs in to the admin console (valid `console.link_minutes`).
    ConsoleLink {
        /// Sign in as the installation's operator (the only kind the command makes).
        #[arg(long, required = true)]
        operator: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it once. `--operator` for the whole installation, or
    /// `--tenancy` and `--staff` for a staff user of one tenancy.
    Create {
        #[arg(long, conflicts_with_all = ["tenancy", "staff"])]
        operator: bool,
        #[arg(long, requires = "staff")]
        tenancy: Option<Uuid>,
        #[arg(long, requires = "tenancy")]
        staff: Option<Uuid>,
        /// What the token is for.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Days until the token stops working (default: `api.token_expiry_days`).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650), conflicts_with = "no_expiry")]
        expires_in_days: Option<u32>,
        /// Make a token that does not expire.
        #[arg(long)]
        no_expiry: bool,
    },
    /// Revoke a token by id (`--tenancy` for a tenancy's token).
    Revoke {
        id: Uuid,
        #[arg(long)]
        tenancy: Option<Uuid>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", liaison::http::openapi_json());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("liaison: {error}");
            return ExitCode::from(2);
        }
    };
    liaison::telemetry::init_logging(config.log_format);
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "liaison stopped");
            eprintln!("liaison: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url.expose();
    if config.test_clock_start.is_some() {
        tracing::warn!("test_clock_start is set: this process runs on a test-double clock");
    }
    Store::open(url, &config.database, config.clock()?)
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(url)))
}

async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            let store = open_store(&config).await?;
            let addr = config.listen_addr()?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(
                listen = %listener.local_addr()?,
                database = %redact_url(config.database_url.expose()),
                backend = store.backend().name(),
                "liaison is serving"
            );
            if config.crm.encryption_key.is_none() && store.count_org_links().await? > 0 {
                anyhow::bail!(
                    "configuration key `crm.encryption_key` is missing, but Salesforce org links exist whose \
                     secrets need it (set LIAISON__CRM__ENCRYPTION_KEY)"
                );
            }
            let mut state =
                liaison::app_state_with(store.clone(), config.crm.clone(), &config.api)?;
            let mailer: Arc<dyn liaison::mail::Mailer> =
                Arc::new(liaison::mail::SmtpMailer::new(&config.mail).map_err(anyhow::Error::msg)?);
            state.console = Arc::new(liaison::http::console::Console::new(
                config.console.clone(),
                Some(mailer.clone()),
            ));
            state.ops = config.ops.thresholds();
            let (stop_workers, stopped) = tokio::sync::watch::channel(false);
            let workers = config.workers.then(|| {
                tokio::spawn(liaison::jobs::run(
                    liaison::jobs::Workers {
                        store: store.clone(),
                        crm: state.crm.clone(),
                        mailer,
                        writeback: config.writeback.clone(),
                        invitations: config.invitations.clone(),
                        inbox: config.inbox.clone(),
                        link_base_url: config.mail.link_base_url.clone(),
                        wake: state.wake_workers.clone(),
                    },
                    stopped,
                ))
            });
            liaison::serve(
                listener,
                state,
                config.body_limit_bytes,
                liaison::shutdown_signal(),
            )
            .await?;
            // The workers finish the pass in progress, so nothing is left half-sent.
            let _ = stop_workers.send(true);
            if let Some(workers) = workers {
                let _ = workers.await;
            }
            store.close().await;
            Ok(())
        }
        Command::Migrate => {
            open_store(&config).await?;
            println!("migrations are up to date");
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            operator,
            tenancy,
            staff,
            name,
            expires_in_days,
            no_expiry,
        }) => {
            let store = open_store(&config).await?;
            let asked = if no_expiry {
                Some(None)
            } else {
                expires_in_days.map(Some)
            };
            let lifetime = liaison::domain::token::lifetime(asked, config.api.token_expiry())
                .map_err(|reason| anyhow::anyhow!("--expires-in-days {reason}"))?;
            let created = match (operator, tenancy, staff) {
                (true, _, _) => store.create_operator_token(&name, lifetime).await?,
                (false, Some(tenancy), Some(staff)) => {
                    store
                        .create_staff_token(tenancy, staff, &name, lifetime)
                        .await?
                }
                _ => anyhow::bail!("say --operator, or --tenancy and --staff"),
            };
            match created.info.expires_at {
                Some(at) => eprintln!(
                    "token {} created, expires {at}; it is shown only now:",
                    created.info.id
                ),
                None => eprintln!(
                    "token {} created, does not expire; it is shown only now:",
                    created.info.id
                ),
            }
            println!("{}", created.token);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { id, tenancy }) => {
            let store = open_store(&config).await?;
            store.revoke_token(tenancy, id).await?;
            println!("token {id} revoked");
            Ok(())
        }
        Command::ConsoleLink { operator: _ } => {
            let store = open_store(&config).await?;
            let token =
                liaison::app::console::operator_link(&store, config.console.link_lifetime())
                    .await?;
            eprintln!(
                "open this link within {} minutes; it signs in once, as the operator:",
                config.console.link_minutes
            );
            println!(
                "{}{}",
                config.crm.public_url.trim_end_matches('/'),
                liaison::http::console::sign_in_path(&token)
            );
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
}
