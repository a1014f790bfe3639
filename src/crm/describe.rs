//! What the org says about its records: the sObject Describe of Contact and Account (each
//! field's label, API name, type, whether it is updateable and a picklist's values), cached
//! per link and revalidated with `If-None-Match` / `If-Modified-Since`, and a search of records
//! by name for the mapping editor's dry run.

use reqwest::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH};
use serde::Deserialize;

use super::client::{Reply, Salesforce, Session, limit_of};
use super::error::CrmError;
use super::record::RecordKind;
use super::{Crm, LinkResult};
use crate::clock::to_millis;
use crate::domain::org_link::{
    CachedDescribe, DescribedField, OrgLink, PicklistValue, SObjectDescribe,
};

/// How long a describe is used as it is before Salesforce is asked whether it changed: an
/// editor's page loads and dry runs within this reuse it without a call.
const FRESH_MS: i64 = 5 * 60 * 1000;

/// Most records a search by name answers.
const SEARCH_LIMIT: usize = 10;

/// The part of Salesforce's `DescribeSObjectResult` Liaison reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeBody {
    name: String,
    label: String,
    fields: Vec<FieldBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FieldBody {
    name: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    updateable: bool,
    #[serde(default)]
    picklist_values: Vec<PicklistBody>,
}

#[derive(Deserialize)]
struct PicklistBody {
    value: String,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    active: bool,
}

/// Reads a describe Salesforce sent (or one kept from it) into the domain's terms.
pub fn parse_describe(body: &str) -> Result<SObjectDescribe, CrmError> {
    let parsed: DescribeBody = serde_json::from_str(body).map_err(|_| CrmError::Transient {
        code: "BAD_DESCRIBE".into(),
        message: "the sObject describe could not be read".into(),
        retry_after: None,
        http_status: None,
    })?;
    Ok(SObjectDescribe {
        name: parsed.name,
        label: parsed.label,
        fields: parsed
            .fields
            .into_iter()
            .map(|f| DescribedField {
                name: f.name,
                label: f.label,
                kind: f.kind,
                updateable: f.updateable,
                picklist_values: f
                    .picklist_values
                    .into_iter()
                    .map(|p| PicklistValue {
                        label: p.label.unwrap_or_else(|| p.value.clone()),
                        value: p.value,
                        active: p.active,
                    })
                    .collect(),
            })
            .collect(),
    })
}

fn header(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A record a search by name found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FoundRecord {
    pub id: String,
    pub name: String,
}

#[derive(Deserialize)]
struct QueryBody {
    records: Vec<QueryRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryRecord {
    id: String,
    #[serde(default)]
    name: Option<String>,
}

/// `text` as a SOQL string literal's content inside `LIKE '%…%'`: quotes and backslashes
/// escaped, and the wildcards `%` and `_` taken literally.
pub fn soql_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '\'' | '%' | '_' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\n' | '\r' | '\t' => escaped.push(' '),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The query that finds up to ten records of `kind` whose name holds `name`.
pub fn search_query(kind: RecordKind, name: &str) -> String {
    let person = match kind {
        RecordKind::Contact => "",
        RecordKind::PersonAccount => "IsPersonAccount = true AND ",
    };
    format!(
        "SELECT Id, Name FROM {} WHERE {person}Name LIKE '%{}%' ORDER BY Name LIMIT {SEARCH_LIMIT}",
        kind.sobject(),
        soql_like(name.trim())
    )
}

impl Salesforce {
    /// `GET …/sobjects/{sobject}/describe`, conditional on `cached`'s validators: `None` when
    /// Salesforce answers 304 (the cached body stands), else the new body and its validators.
    pub async fn describe(
        &self,
        session: &Session,
        sobject: &str,
        cached: Option<&CachedDescribe>,
    ) -> Result<Reply<Option<CachedDescribe>>, CrmError> {
        let url = session.data_url(
            &self.base("the instance URL", &session.instance_url)?,
            &format!("sobjects/{sobject}/describe"),
        );
        let http = self.http()?;
        let (status, body, headers) = self
            .exchange(Some(&session.meter), true, || {
                let mut request = http.get(&url).bearer_auth(&session.access_token);
                if let Some(etag) = cached.and_then(|c| c.etag.as_deref()) {
                    request = request.header(IF_NONE_MATCH, etag);
                }
                if let Some(since) = cached.and_then(|c| c.last_modified.as_deref()) {
                    request = request.header(IF_MODIFIED_SINCE, since);
                }
                request
            })
            .await?;
        let limit = limit_of(&headers);
        if status == 304 {
            return Ok(Reply { value: None, limit });
        }
        let body = String::from_utf8(body).map_err(|_| CrmError::Transient {
            code: "BAD_DESCRIBE".into(),
            message: "the sObject describe could not be read".into(),
            retry_after: None,
            http_status: None,
        })?;
        parse_describe(&body)?;
        Ok(Reply {
            value: Some(CachedDescribe {
                body,
                etag: header(&headers, reqwest::header::ETAG),
                last_modified: header(&headers, reqwest::header::LAST_MODIFIED),
                fetched_at: 0,
            }),
            limit,
        })
    }

    /// Runs a SOQL query that selects `Id` and `Name` (`GET …/query?q=`).
    pub async fn find_by_name(
        &self,
        session: &Session,
        soql: &str,
    ) -> Result<Reply<Vec<FoundRecord>>, CrmError> {
        let url = session.data_url(
            &self.base("the instance URL", &session.instance_url)?,
            "query",
        );
        let http = self.http()?;
        let (_, body, headers) = self
            .exchange(Some(&session.meter), false, || {
                http.get(&url)
                    .bearer_auth(&session.access_token)
                    .query(&[("q", soql)])
            })
            .await?;
        let found: QueryBody = serde_json::from_slice(&body).map_err(|_| CrmError::Transient {
            code: "BAD_QUERY_RESULT".into(),
            message: "the query's answer could not be read".into(),
            retry_after: None,
            http_status: None,
        })?;
        Ok(Reply {
            value: found
                .records
                .into_iter()
                .map(|r| FoundRecord {
                    name: r.name.unwrap_or_default(),
                    id: r.id,
                })
                .collect(),
            limit: limit_of(&headers),
        })
    }
}

impl Crm {
    /// The org's describe of the sObject `kind` is read from: the link's cached one while it
    /// is fresh, else revalidated with Salesforce (a 304 keeps it) or fetched. A paused or
    /// capped link makes no call.
    pub async fn describe(&self, link: &OrgLink, kind: RecordKind) -> LinkResult<SObjectDescribe> {
        let sobject = kind.sobject();
        let now = to_millis(self.store().clock().now());
        let cached = self.store().cached_describe(link.id, sobject).await?;
        if let Some(fresh) = cached.as_ref().filter(|c| now - c.fetched_at < FRESH_MS) {
            return Ok(parse_describe(&fresh.body)?);
        }
        let reply = self
            .with_session(link, |session| {
                let cached = cached.as_ref();
                async move { self.salesforce().describe(&session, sobject, cached).await }
            })
            .await?;
        let body = match (reply.value, cached) {
            (Some(new), _) => {
                let kept = CachedDescribe {
                    fetched_at: now,
                    ..new
                };
                self.store().keep_describe(link.id, sobject, &kept).await?;
                kept.body
            }
            (None, Some(cached)) => {
                self.store()
                    .describe_confirmed(link.id, sobject, now)
                    .await?;
                cached.body
            }
            (None, None) => {
                return Err(CrmError::Transient {
                    code: "BAD_DESCRIBE".into(),
                    message: "Salesforce answered 304 to a describe Liaison does not hold".into(),
                    retry_after: None,
                    http_status: None,
                }
                .into());
            }
        };
        Ok(parse_describe(&body)?)
    }

    /// Up to ten records of `kind` whose name holds `name`, for picking one to dry-run.
    pub async fn find_records(
        &self,
        link: &OrgLink,
        kind: RecordKind,
        name: &str,
    ) -> LinkResult<Vec<FoundRecord>> {
        let soql = search_query(kind, name);
        let reply = self
            .with_session(link, |session| {
                let soql = &soql;
                async move { self.salesforce().find_by_name(&session, soql).await }
            })
            .await?;
        Ok(reply.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_searched_for_literally() {
        assert_eq!(
            search_query(RecordKind::Contact, " O'Brien_100% \\ "),
            "SELECT Id, Name FROM Contact WHERE Name LIKE '%O\\'Brien\\_100\\% \\\\%' ORDER BY Name LIMIT 10"
        );
        assert_eq!(
            search_query(RecordKind::PersonAccount, "Haddad"),
            "SELECT Id, Name FROM Account WHERE IsPersonAccount = true AND Name LIKE '%Haddad%' ORDER BY Name LIMIT 10"
        );
    }

    #[test]
    fn the_fixture_describes_reads_into_fields() {
        let text = include_str!("../../wiremock-fixtures/rest/describe-contact.json");
        let fixture: serde_json::Value = serde_json::from_str(text).unwrap();
        let describe = parse_describe(&fixture["body"].to_string()).unwrap();
        assert_eq!(describe.name, "Contact");
        let status = describe.field("Liaison_Status__c").unwrap();
        assert_eq!(status.kind, "picklist");
        assert!(status.picklist_values.iter().any(|v| v.value == "revoked"));
        assert!(!describe.field("Id").unwrap().updateable);
    }
}
