//! Liaison: onboards a firm's clients from Salesforce into a secure client-messaging platform.
//!
//! `run` builds the application on a store and serves it on a listener the caller bound, so
//! tests can bind port 0 and learn the address before the server starts.

#![forbid(unsafe_code)]

pub mod app;
pub mod clock;
pub mod config;
pub mod crm;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod markup;
pub mod secrets;
pub mod store;
pub mod telemetry;

pub use http::{AppState, router};

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

/// Builds the application state on an open store, with the API's default settings.
pub fn app_state(
    store: store::Store,
    crm: config::CrmConfig,
) -> Result<AppState, config::ConfigError> {
    app_state_with(store, crm, &config::ApiConfig::default())
}

/// Builds the application state on an open store.
pub fn app_state_with(
    store: store::Store,
    crm: config::CrmConfig,
    api: &config::ApiConfig,
) -> Result<AppState, config::ConfigError> {
    app_state_with_lookup(store, crm, api, Arc::new(crm::hosts::SystemLookup))
}

/// As `app_state_with`, resolving Salesforce's host names with `lookup` (tests feed a table).
pub fn app_state_with_lookup(
    store: store::Store,
    crm: config::CrmConfig,
    api: &config::ApiConfig,
    lookup: Arc<dyn crm::hosts::Lookup>,
) -> Result<AppState, config::ConfigError> {
    crm::hosts::HostPolicy::new(&crm.allowed_hosts, crm.allow_http_login_hosts).map_err(
        |reason| config::ConfigError::Invalid {
            key: "crm.allowed_hosts",
            reason,
        },
    )?;
    let proxies = api
        .proxies()
        .map_err(|reason| config::ConfigError::Invalid {
            key: "api.trusted_proxies",
            reason,
        })?;
    let sealer = crm
        .encryption_key
        .as_ref()
        .map(|key| secrets::Sealer::from_base64_key(key.expose()))
        .transpose()
        .map_err(|e| config::ConfigError::Invalid {
            key: "crm.encryption_key",
            reason: e.to_string(),
        })?;
    let crm = Arc::new(crm::Crm::with_lookup(store.clone(), sealer, crm, lookup));
    Ok(AppState {
        store,
        crm,
        metrics: Arc::new(telemetry::Metrics::default()),
        wake_workers: Arc::new(tokio::sync::Notify::new()),
        page_limiter: http::pages::limiter(60),
        trusted_proxies: Arc::new(http::client_ip::TrustedProxies::new(proxies)),
        token_expiry: api.token_expiry(),
        console: Arc::new(http::console::Console::new(
            config::ConsoleConfig::default(),
            None,
        )),
        ops: config::OpsConfig::default().thresholds(),
    })
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    body_limit: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address feeds the invitation pages' rate limit.
    axum::serve(
        listener,
        router(state, body_limit).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
