//! The org links: the list and one link, read through the very functions that answer
//! `GET /api/v1/org-links…`, with the caller the session stands for. An administrator sees the
//! links serving their tenancy, and of a link that serves others too only their part; the
//! link's page offers its changes (`org_link_forms`, `org_link_pages`) to who manages it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use uuid::Uuid;

use super::session::SignedIn;
use super::view::{self, Chrome, LinkView, Section};
use crate::http::AppState;
use crate::http::api::org_links::{managed_link, visible_link, visible_links};
use crate::http::error::{ApiError, ApiResult};
use crate::store::{LinkState, OrgLink, PageRequest};

#[derive(Template)]
#[template(path = "console/org_links.html")]
struct List {
    chrome: Chrome,
    title: &'static str,
    links: Vec<LinkView>,
    /// The next page's address, when there is one.
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Paging {
    after: Option<String>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Query(paging): Query<Paging>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let page = PageRequest {
        limit: PageRequest::DEFAULT_LIMIT,
        after: paging.after.and_then(|a| Uuid::parse_str(&a).ok()),
    };
    let read = async {
        let found = visible_links(&state, &signed.caller(), &page).await?;
        Ok::<_, ApiError>((views(&state, found.items).await?, found.next_cursor))
    };
    match read.await {
        Ok((links, next)) => {
            let next = next.map(|cursor| format!("{}?after={cursor}", super::ORG_LINKS));
            let title = "Org links";
            view::render(
                StatusCode::OK,
                &List {
                    chrome,
                    title,
                    links,
                    next,
                },
            )
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The links as the console shows them, their tenancies named.
async fn views(state: &AppState, links: Vec<OrgLink>) -> ApiResult<Vec<LinkView>> {
    let mut served: Vec<Uuid> = links.iter().flat_map(|l| l.tenancies.clone()).collect();
    served.sort();
    served.dedup();
    let names = state.store.tenancy_names(&served).await?;
    Ok(links.into_iter().map(|l| LinkView::of(l, &names)).collect())
}

#[derive(Template)]
#[template(path = "console/org_link.html")]
struct Detail {
    chrome: Chrome,
    title: String,
    link: LinkView,
    /// What the viewer may do to the link, when they manage it.
    actions: Option<Actions>,
}

/// The buttons of a link's page for who manages it.
struct Actions {
    /// Connect, or reconnect an unauthorized link.
    connect: Option<&'static str>,
    disconnect: bool,
}

impl Actions {
    fn of(state: LinkState) -> Self {
        Self {
            connect: match state {
                LinkState::NotConnected => Some("Connect"),
                LinkState::Unauthorized => Some("Reconnect"),
                _ => None,
            },
            disconnect: !matches!(state, LinkState::NotConnected | LinkState::Unauthorized),
        }
    }
}

/// Whether the caller manages the link: the API's own rule for its changes.
async fn actions(
    state: &AppState,
    signed: &SignedIn,
    link: &OrgLink,
) -> ApiResult<Option<Actions>> {
    match managed_link(state, &signed.caller(), link.id).await {
        Ok(_) => Ok(Some(Actions::of(link.state))),
        Err(ApiError::Forbidden(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let read = async {
        let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("org link"))?;
        let link = visible_link(&state, &signed.caller(), id).await?;
        let actions = actions(&state, &signed, &link).await?;
        Ok::<_, ApiError>((views(&state, vec![link]).await?, actions))
    };
    match read.await {
        Ok((mut found, actions)) => match found.pop() {
            Some(link) => {
                let title = link.name.clone();
                let connects = actions.as_ref().is_some_and(|a| a.connect.is_some());
                let onward = connects
                    .then(|| view::origin_of(&link.login_host))
                    .flatten();
                let page = Detail {
                    chrome,
                    title,
                    link,
                    actions,
                };
                view::render_posting_to(StatusCode::OK, &page, onward.as_deref())
            }
            None => view::refusal(&chrome, ApiError::NotFound("org link")),
        },
        Err(error) => view::refusal(&chrome, error),
    }
}
