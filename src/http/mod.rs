//! HTTP surfaces, by audience: `/api/v1` (JSON), and `/healthz`, `/readyz`, `/metrics` for ops.
//! Errors have one type (`error::ApiError`) mapped to problem bodies in one place.

pub mod api;
pub mod auth;
pub mod canvas;
pub mod client_ip;
pub mod console;
pub mod error;
pub mod extract;
pub mod html;
pub mod intake;
mod objects;
pub mod ops;
pub mod pages;
pub mod salesforce;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use tower_http::trace::TraceLayer;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::crm::Crm;
use crate::store::Store;
use crate::telemetry::{self, Metrics};
use error::ApiError;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub crm: Arc<Crm>,
    pub metrics: Arc<Metrics>,
    /// Wakes the background workers when a request made work due now.
    pub wake_workers: Arc<tokio::sync::Notify>,
    /// Limits requests to the invitation pages per client address.
    pub page_limiter: Arc<pages::PageLimiter>,
    /// The reverse proxies whose forwarding headers name the client a rate limit keys on.
    pub trusted_proxies: Arc<client_ip::TrustedProxies>,
    /// How long a new API token lives when its creator does not say.
    pub token_expiry: Option<time::Duration>,
    /// The admin console's settings, mailer and rate limits.
    pub console: Arc<console::Console>,
    /// When sync health's numbers turn amber and red (`[ops]`).
    pub ops: crate::domain::ops::Thresholds,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Liaison",
        description = "Onboards a firm's clients from Salesforce into a secure client-messaging platform: \
                       the tenancy-aware directory, invitations and CRM sync.",
    ),
    tags(
        (name = "tenancies"), (name = "staff"), (name = "team accounts"), (name = "groups",
         description = "Contact groups and client teams"), (name = "clients"), (name = "tokens"),
        (name = "salesforce", description = "Org links: connecting Salesforce orgs to tenancies"),
        (name = "audit", description = "Who changed what, when: org links, staff, memberships, tokens"),
    )
)]
struct ApiDoc;

fn api() -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .nest("/api/v1", api::router())
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    // An org link's API key (`lsk_…`), for callers acting for the link's Salesforce users.
    doc.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "org_link_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    (router, doc)
}

/// The OpenAPI document of `/api/v1`, generated from the routes themselves.
pub fn openapi() -> OpenApi {
    api().1
}

/// Pretty JSON of the OpenAPI document, exactly as committed in `openapi.json`.
pub fn openapi_json() -> String {
    openapi().to_pretty_json().unwrap_or_default() + "\n"
}

/// The whole application.
pub fn router(state: AppState, body_limit: usize) -> Router {
    let (api_router, doc) = api();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    let metrics = state.metrics.clone();
    Router::new()
        .merge(api_router)
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = doc.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        doc.to_string(),
                    )
                }
            }),
        )
        .merge(ops::router())
        .merge(salesforce::router())
        .merge(intake::router())
        .merge(canvas::router())
        .merge(console::router(&state))
        .merge(pages::router(pages::PageGuard {
            limiter: state.page_limiter.clone(),
            proxies: state.trusted_proxies.clone(),
        }))
        .fallback(|| async { ApiError::NotFound("route").into_response() })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed.into_response() })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            telemetry::track,
        ))
        .layer(
            // Spans name the route template, never the raw path: an Outbound Message URL
            // carries its link's secret token.
            TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                tracing::debug_span!("request", method = %request.method(), route)
            }),
        )
        .with_state(state)
}
