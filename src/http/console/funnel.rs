//! `GET /console/tenancies/{id}/funnel`: the tenancy's invitation funnel over a period, read
//! through the API's own function (`api::funnel::report`, so refused exactly where the API
//! refuses), and `…/funnel.csv`, the same numbers as the API's CSV file.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::directory::{self, Errors};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::http::AppState;
use crate::http::api::funnel::{self as api, FunnelQuery};

/// The period as the form sends it.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Asked {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl Asked {
    fn query(&self, format: Option<&str>) -> FunnelQuery {
        let day = |d: &str| Some(d.to_string()).filter(|d| !d.trim().is_empty());
        FunnelQuery {
            from: day(&self.from),
            to: day(&self.to),
            format: format.map(str::to_string),
        }
    }
}

#[derive(Template)]
#[template(path = "console/funnel.html")]
struct FunnelPage {
    chrome: Chrome,
    title: String,
    path: String,
    asked: Asked,
    errors: Errors,
    /// The report's rows, `(what, value)`, when there is one.
    rows: Vec<(String, String)>,
    csv: String,
}

pub(super) async fn page(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(asked): Query<Asked>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    let id = match directory::tenancy_id(&tenancy) {
        Ok(id) => id,
        Err(error) => return view::refusal(&chrome, error),
    };
    let path = format!("/console/tenancies/{id}/funnel");
    let (rows, errors) = match api::report(&state, &signed.caller(), id, &asked.query(None)).await {
        Ok(funnel) => (funnel.rows(), Errors::default()),
        Err(error) => match Errors::of(error) {
            Ok(errors) => (Vec::new(), errors),
            Err(error) => return view::refusal(&chrome, error),
        },
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("from", &asked.from)
        .append_pair("to", &asked.to)
        .finish();
    let csv = format!("{path}.csv?{query}");
    let page = FunnelPage {
        chrome,
        title: "Invitation funnel".into(),
        path,
        asked,
        errors,
        rows: rows.into_iter().map(|(k, v)| (label(&k), v)).collect(),
        csv,
    };
    view::render(page.errors.status, &page)
}

/// `GET /console/tenancies/{id}/funnel.csv`: the file the API answers with `format=csv`.
pub(super) async fn csv(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(asked): Query<Asked>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    let report = match directory::tenancy_id(&tenancy) {
        Ok(id) => api::report(&state, &signed.caller(), id, &asked.query(Some("csv"))).await,
        Err(error) => Err(error),
    };
    match report {
        Ok(funnel) => api::csv_file(&funnel),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// A row's metric as a person reads it.
fn label(metric: &str) -> String {
    if let Some(domain) = metric.strip_prefix("bounce_like_failures:") {
        return format!("Bounce-like failures at {domain}");
    }
    match metric {
        "from" => "From",
        "to" => "To",
        "drafts" => "Drafts created",
        "invited" => "Invited (first e-mails and re-sends)",
        "accepted" => "Accepted",
        "declined" => "Declined",
        "revoked" => "Revoked",
        "expired" => "Expired",
        "first_invited" => "First invited in the period",
        "accepted_of_first_invited" => "… of whom accepted since",
        "acceptance_rate" => "Acceptance rate",
        "median_seconds_to_accept" => "Median time to accept (seconds)",
        "emails_sent" => "E-mails sent",
        "emails_deferred" => "E-mails waiting for a retry now",
        "emails_failed" => "E-mails failed",
        other => other,
    }
    .to_string()
}
