//! The field mapping against the org: the org's fields of Contact and Account (its sObject
//! Describe), and a dry run of a candidate mapping on a real record. Whoever sees a link may
//! read its org's fields; a dry run is for whoever may change its mapping.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::org_links::{link_access, managed_link};
use crate::app::mapping::{self, DryRun, MappingError};
use crate::crm::record::{Prefill, RecordKind};
use crate::domain::FieldError;
use crate::domain::org_link::{FieldMapping, OrgLink, SObjectDescribe};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(describe_sobject))
        .routes(routes!(dry_run_mapping))
}

/// The sObjects a mapping reads: Contact, and Account for Person Accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum SObjectName {
    Contact,
    Account,
}

impl SObjectName {
    /// The kind of record read from this sObject.
    pub fn kind(self) -> RecordKind {
        match self {
            Self::Contact => RecordKind::Contact,
            Self::Account => RecordKind::PersonAccount,
        }
    }
}

/// The org's fields of Contact or Account, by label and API name with their types, whether
/// they are updateable and a picklist's values. Cached per link and revalidated with
/// Salesforce's conditional request.
#[utoipa::path(get, path = "/org-links/{org_link_id}/describe/{sobject}", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), ("sobject" = inline(SObjectName), Path)),
    responses((status = 200, body = SObjectDescribe), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn describe_sobject(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sobject)): Path<(Uuid, SObjectName)>,
) -> ApiResult<axum::Json<SObjectDescribe>> {
    let (link, _) = link_access(&state, &caller, id).await?;
    let described = mapping::describe(&state.crm, &link, sobject.kind()).await?;
    Ok(axum::Json(described))
}

/// Which kind of record a dry run reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MappedRecord {
    #[default]
    Contact,
    PersonAccount,
}

impl MappedRecord {
    pub fn kind(self) -> RecordKind {
        match self {
            Self::Contact => RecordKind::Contact,
            Self::PersonAccount => RecordKind::PersonAccount,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// The mapping to try (not the saved one).
    pub field_mapping: FieldMapping,
    /// The record to read: a Contact, or a Person Account's Account id.
    #[schema(value_type = crate::http::api::schema::SalesforceId)]
    pub record_id: String,
    /// `contact` (default) or `person_account`.
    #[serde(default)]
    pub record_kind: MappedRecord,
}

/// What the mapping would do with the record; nothing was written.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunAnswer {
    /// The invite form's pre-fill, as the record holds it.
    pub prefill: Prefill,
    /// The record the status write-back would send once the client is invited (the client's
    /// id stands as the nil UUID, since none is created).
    #[schema(value_type = Object)]
    pub write_back: serde_json::Value,
    /// Each field of the mapping that does not fit the org, and each pre-filled value the
    /// invite form would refuse, with the reason.
    pub problems: Vec<FieldError>,
}

impl From<DryRun> for DryRunAnswer {
    fn from(run: DryRun) -> Self {
        Self {
            prefill: run.prefill,
            write_back: run.write_back,
            problems: run.problems,
        }
    }
}

/// A dry run's (or a save's) failure as the API answers it: the record's trouble in the record's terms.
pub(crate) fn dry_run_refusal(link: &OrgLink, error: MappingError) -> ApiError {
    match error {
        MappingError::Invalid(errors) => ApiError::Invalid(errors),
        MappingError::Describe(error) => error.into(),
        MappingError::Record(error) => ApiError::reading_record(link, error),
        MappingError::Refused(error) => error.into(),
    }
}

/// Try a mapping on a record before saving it: the invite it would pre-fill and the write-back
/// it would send, with each problem per field. Nothing is written to Salesforce or the
/// directory. For whoever may change the link.
#[utoipa::path(post, path = "/org-links/{org_link_id}/mapping/dry-run", tag = "salesforce",
    params(("org_link_id" = Uuid, Path)), request_body = DryRunRequest,
    responses((status = 200, body = DryRunAnswer), (status = 422, description = "The candidate mapping or the record id is invalid: each mapped field must be a Salesforce field API name (text without control characters), each write-back field a custom Contact field ending in `__c`, `phone_region` a country with a telephone numbering plan, and `record_id` a Salesforce id.", body = Problem, content_type = "application/problem+json"), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn dry_run_mapping(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<DryRunRequest>,
) -> ApiResult<axum::Json<DryRunAnswer>> {
    let link = managed_link(&state, &caller, id).await?;
    let kind = body.record_kind.kind();
    mapping::dry_run(&state.crm, &link, body.field_mapping, kind, &body.record_id)
        .await
        .map(|run| axum::Json(run.into()))
        .map_err(|error| dry_run_refusal(&link, error))
}
