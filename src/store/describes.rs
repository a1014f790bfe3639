//! Each org link's cached sObject Describes: the body Salesforce last sent and its validators.

use uuid::Uuid;

use super::{Result, Store, rows};
use crate::domain::org_link::CachedDescribe;

impl Store {
    /// The link's cached describe of `sobject`, if it has one.
    pub async fn cached_describe(
        &self,
        link: Uuid,
        sobject: &str,
    ) -> Result<Option<CachedDescribe>> {
        let row = sqlx::query(
            "SELECT body, etag, last_modified, fetched_at FROM sobject_describes \
             WHERE org_link_id = $1 AND sobject = $2",
        )
        .bind(link.to_string())
        .bind(sobject)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(CachedDescribe {
            body: rows::text(&row, "body")?,
            etag: rows::opt_text(&row, "etag")?,
            last_modified: rows::opt_text(&row, "last_modified")?,
            fetched_at: rows::int(&row, "fetched_at")?,
        }))
    }

    /// Keeps `describe` as the link's describe of `sobject`, replacing the one before.
    pub async fn keep_describe(
        &self,
        link: Uuid,
        sobject: &str,
        describe: &CachedDescribe,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sobject_describes (org_link_id, sobject, body, etag, last_modified, fetched_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (org_link_id, sobject) DO UPDATE SET body = excluded.body, \
             etag = excluded.etag, last_modified = excluded.last_modified, \
             fetched_at = excluded.fetched_at",
        )
        .bind(link.to_string())
        .bind(sobject)
        .bind(&describe.body)
        .bind(describe.etag.clone())
        .bind(describe.last_modified.clone())
        .bind(describe.fetched_at)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// Salesforce confirmed the cached describe (a 304): it counts as fetched now.
    pub async fn describe_confirmed(&self, link: Uuid, sobject: &str, at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE sobject_describes SET fetched_at = $3 WHERE org_link_id = $1 AND sobject = $2",
        )
        .bind(link.to_string())
        .bind(sobject)
        .bind(at)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }
}
