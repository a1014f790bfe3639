//! The field-mapping editor of an org link: each invite field's source chosen among the org's
//! real fields (its sObject Describe), the read-only flags, the write-back fields and the
//! phone region; a dry run on a record found by name or pasted by id; saving through
//! `app::mapping::save` (recorded in the audit trail with before and after); and undoing the
//! last saved change. Every step checks the caller as the API's mapping endpoints do
//! (`managed_link`): operators, and the system administrator of the one tenancy a link serves.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use axum_extra::extract::FormRejection;
use serde::Deserialize;
use uuid::Uuid;

mod page;

use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::app::audit::actor_of;
use crate::app::mapping::{self, DryRun, MappingError};
use crate::crm::describe::FoundRecord;
use crate::http::AppState;
use crate::http::api::mapping::dry_run_refusal;
use crate::http::api::org_links::{managed_link, managed_tenancy};
use crate::http::error::{ApiError, ApiResult};
use crate::store::OrgLink;
use page::{EditorView, MappingForm, UndoView};

/// The editor's address for the link `id`.
fn editor(id: Uuid) -> String {
    format!("{}/{id}/mapping", super::ORG_LINKS)
}

/// The link, when the session's caller may change its mapping (as the API decides).
async fn managed(state: &AppState, signed: &SignedIn, id: &str) -> ApiResult<OrgLink> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("org link"))?;
    managed_link(state, &signed.caller(), id).await
}

#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

/// The editor, filled with the link's saved mapping.
pub(super) async fn show(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let read = async {
        let link = managed(&state, &signed, &id).await?;
        let history = mapping::history(&state.store, link.id).await?;
        let fields = mapping::org_fields(&state.crm, &link).await;
        Ok::<_, ApiError>(EditorView::of(
            &link,
            MappingForm::of(&link.field_mapping),
            fields,
            history,
        ))
    };
    match read.await {
        Ok(editor) => {
            let page = editor.with_notice(done.done.as_deref()).page(chrome);
            view::render(page.status(), &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The editor's three actions on the mapping as posted: find records by name, dry-run it on
/// a record, or save it; each answers the editor with what it found or why not.
pub(super) async fn act(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<MappingForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = signed.check(&form.csrf) {
        return refused;
    }
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let link = match managed(&state, &signed, &id).await {
        Ok(link) => link,
        Err(error) => return view::refusal(&chrome, error),
    };
    let outcome = match form.action.as_str() {
        "save" => save(&state, &signed, &link, &form).await,
        "search" => Ok(Acted::Found(search(&state, &link, &form).await)),
        _ => Ok(Acted::Ran(dry_run(&state, &link, &form).await)),
    };
    match outcome {
        Ok(Acted::Saved) => {
            Redirect::to(&format!("{}?done=saved", editor(link.id))).into_response()
        }
        Ok(acted) => {
            let page = editor_with(&state, &link, form, acted).await.page(chrome);
            view::render(page.status(), &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// What an action of the editor came to.
pub(super) enum Acted {
    Saved,
    /// The mapping's problems per field, from a refused save.
    Refused(Vec<crate::domain::FieldError>),
    Found(Result<Vec<FoundRecord>, String>),
    Ran(Result<DryRun, String>),
}

async fn save(
    state: &AppState,
    signed: &SignedIn,
    link: &OrgLink,
    form: &MappingForm,
) -> ApiResult<Acted> {
    let caller = signed.caller();
    let scope = managed_tenancy(&caller)?;
    let actor = actor_of(&caller.0);
    match mapping::save(&state.crm, link, scope, form.mapping(), &actor).await {
        Ok(_) => Ok(Acted::Saved),
        Err(MappingError::Invalid(errors)) => Ok(Acted::Refused(errors)),
        Err(error) => Err(dry_run_refusal(link, error)),
    }
}

async fn search(
    state: &AppState,
    link: &OrgLink,
    form: &MappingForm,
) -> Result<Vec<FoundRecord>, String> {
    if form.q.trim().is_empty() {
        return Err("Type part of a name to search for.".into());
    }
    mapping::find_records(&state.crm, link, form.kind(), &form.q)
        .await
        .map_err(|error| ApiError::from(error).problem().detail)
}

async fn dry_run(state: &AppState, link: &OrgLink, form: &MappingForm) -> Result<DryRun, String> {
    mapping::dry_run(&state.crm, link, form.mapping(), form.kind(), form.record())
        .await
        .map_err(|error| match error {
            MappingError::Invalid(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.reason))
                .collect::<Vec<_>>()
                .join("; "),
            other => dry_run_refusal(link, other).problem().detail,
        })
}

/// The editor as posted, with what the action came to.
async fn editor_with(
    state: &AppState,
    link: &OrgLink,
    form: MappingForm,
    acted: Acted,
) -> EditorView {
    let history = mapping::history(&state.store, link.id)
        .await
        .unwrap_or_default();
    let fields = mapping::org_fields(&state.crm, link).await;
    EditorView::of(link, form, fields, history).with(acted)
}

/// Asks before the link's mapping is put back as it was before its last saved change.
pub(super) async fn confirm_undo(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let read = async {
        let link = managed(&state, &signed, &id).await?;
        let history = mapping::history(&state.store, link.id).await?;
        Ok::<_, ApiError>(UndoView::of(&link, history))
    };
    match read.await {
        Ok(page) => view::render(StatusCode::OK, &page.page(chrome)),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// Puts back the mapping the link had before its last saved change (`app::mapping::
/// restore_previous`, itself recorded in the audit trail).
pub(super) async fn undo(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<axum::Form<super::Posted>, axum::extract::rejection::FormRejection>,
) -> Response {
    if let Err(refused) = signed.check(&super::Posted::csrf(form)) {
        return refused;
    }
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let restore = async {
        let link = managed(&state, &signed, &id).await?;
        let caller = signed.caller();
        let scope = managed_tenancy(&caller)?;
        mapping::restore_previous(&state.store, link.id, scope, &actor_of(&caller.0)).await?;
        Ok::<_, ApiError>(link.id)
    };
    match restore.await {
        Ok(id) => Redirect::to(&format!("{}?done=restored", editor(id))).into_response(),
        Err(ApiError::Invalid(errors)) => {
            let why: Vec<&str> = errors.iter().map(|e| e.reason.as_str()).collect();
            let back = format!("{}/{id}/mapping", super::ORG_LINKS);
            view::message(
                StatusCode::UNPROCESSABLE_ENTITY,
                &chrome,
                "Nothing to undo",
                &why.join("; "),
                Some((back.as_str(), "Back to the mapping")),
            )
        }
        Err(error) => view::refusal(&chrome, error),
    }
}
