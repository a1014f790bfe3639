//! Logs (`tracing`, JSON on request) and Prometheus metrics.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::store::metrics::SettledTotals;

/// Installs the global log subscriber. `RUST_LOG` filters (default `info`). Logs go to
/// standard error, so that standard output carries only what a command prints (a token, the
/// OpenAPI document) and can be captured whole.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The route template (`/api/v1/tenancies/{tenancy_id}`), never the raw path, so ids do
    /// not explode the number of series.
    pub route: String,
    pub status: u16,
}

/// The application's metrics, in a registry of its own (one per app, so tests do not share).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
    /// What scrapes keep between them; one scrape reads the database at a time.
    scrapes: tokio::sync::Mutex<Scrapes>,
}

#[derive(Default)]
struct Scrapes {
    /// The last exposition and when its reading finished, shared by scrapes that arrived
    /// while it was read.
    last: Option<(Instant, Arc<String>)>,
    /// The event tables' counts below a boundary, so a scrape counts only recent rows.
    settled: SettledTotals,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("liaison");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(
            (|| Histogram::new(exponential_buckets(0.0005, 2.0, 16))) as fn() -> Histogram,
        );
        registry.register("http_requests", "HTTP requests served", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to serve an HTTP request",
            latency.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            scrapes: Default::default(),
        }
    }
}

impl Metrics {
    pub fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// The Prometheus text exposition of the HTTP metrics.
    pub fn render(&self) -> String {
        self.render_with(None)
    }

    /// The OpenMetrics text of the HTTP metrics and, after them, `state`'s families.
    pub fn render_with(&self, state: Option<&Registry>) -> String {
        use prometheus_client::encoding::text::{encode_eof, encode_registry};
        let mut out = String::new();
        let encoded = encode_registry(&mut out, &self.registry)
            .and_then(|()| state.map_or(Ok(()), |state| encode_registry(&mut out, state)))
            .and_then(|()| encode_eof(&mut out));
        if encoded.is_err() {
            out.clear();
        }
        out
    }

    /// The exposition with the state `read` gives (which carries the settled event counts
    /// from one scrape to the next). A scrape that arrives while another reads waits for it
    /// and answers its exposition, so concurrent scrapes cost one read; a later one reads
    /// afresh, so no scrape answers numbers older than itself.
    pub async fn scrape<F, Fut>(&self, read: F) -> Arc<String>
    where
        F: FnOnce(SettledTotals) -> Fut,
        Fut: Future<Output = (Registry, SettledTotals)>,
    {
        let asked = Instant::now();
        let mut scrapes = self.scrapes.lock().await;
        if let Some((finished, text)) = scrapes.last.as_ref()
            && *finished >= asked
        {
            return text.clone();
        }
        let (state, settled) = read(std::mem::take(&mut scrapes.settled)).await;
        scrapes.settled = settled;
        let text = Arc::new(self.render_with(Some(&state)));
        scrapes.last = Some((Instant::now(), text.clone()));
        text
    }
}

/// Counts and times every request by route template and status.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    metrics.observe(
        RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        },
        started.elapsed().as_secs_f64(),
    );
    response
}
