//! Tenancies and their settings.

use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::rows;
use super::{Error, Page, PageRequest, Result, Store};
use crate::domain::tenancy::{GroupModel, MobilePolicy};
use crate::domain::values::{DisplayName, PhoneRegion};

#[derive(Debug, Clone)]
pub struct Tenancy {
    pub id: Uuid,
    pub name: String,
    /// Contact groups or client teams.
    pub group_model: GroupModel,
    /// Whether the invite form asks for a mobile number.
    pub mobile_policy: MobilePolicy,
    /// Pre-fills a new contact group's name, e.g. `{last_name} Relationship`.
    pub group_name_convention: String,
    /// The country (ISO 3166 alpha-2) a national phone number from Salesforce is read in,
    /// unless the org link's mapping names one.
    pub phone_region: PhoneRegion,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewTenancy {
    pub name: DisplayName,
    pub group_model: GroupModel,
    pub mobile_policy: MobilePolicy,
    pub group_name_convention: String,
    pub phone_region: PhoneRegion,
}

#[derive(Debug, Clone, Default)]
pub struct TenancyUpdate {
    pub name: Option<DisplayName>,
    pub mobile_policy: Option<MobilePolicy>,
    pub group_name_convention: Option<String>,
    pub phone_region: Option<PhoneRegion>,
}

const COLUMNS: &str =
    "id, name, group_model, mobile_policy, group_name_convention, phone_region, created_at";

fn tenancy(row: &AnyRow) -> sqlx::Result<Tenancy> {
    Ok(Tenancy {
        id: rows::id(row, "id")?,
        name: rows::text(row, "name")?,
        group_model: rows::parsed(row, "group_model", GroupModel::parse)?,
        mobile_policy: rows::parsed(row, "mobile_policy", MobilePolicy::parse)?,
        group_name_convention: rows::text(row, "group_name_convention")?,
        phone_region: rows::parsed(row, "phone_region", |v| PhoneRegion::parse(v).ok())?,
        created_at: rows::time(row, "created_at")?,
    })
}

/// The tenancy's mobile policy and phone region, which a record's mobile is read under.
pub(crate) async fn phone_settings(
    conn: &mut sqlx::AnyConnection,
    tenancy: Uuid,
) -> Result<(MobilePolicy, Option<PhoneRegion>)> {
    let settings = sqlx::query("SELECT mobile_policy, phone_region FROM tenancies WHERE id = $1")
        .bind(tenancy.to_string())
        .fetch_one(conn)
        .await?;
    Ok((
        rows::parsed(&settings, "mobile_policy", MobilePolicy::parse)?,
        PhoneRegion::parse(&rows::text(&settings, "phone_region")?).ok(),
    ))
}

impl Store {
    pub async fn create_tenancy(&self, new: NewTenancy) -> Result<Tenancy> {
        let id = Uuid::now_v7();
        let now = self.now();
        sqlx::query(
            "INSERT INTO tenancies (id, name, group_model, mobile_policy, group_name_convention, phone_region, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(new.name.as_str().to_string())
        .bind(new.group_model.as_str())
        .bind(new.mobile_policy.as_str())
        .bind(new.group_name_convention)
        .bind(new.phone_region.as_str().to_string())
        .bind(now)
        .execute(&mut *self.writer().await?)
        .await?;
        self.tenancy(id).await
    }

    pub async fn tenancy(&self, id: Uuid) -> Result<Tenancy> {
        let sql = format!("SELECT {COLUMNS} FROM tenancies WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("tenancy"))?;
        Ok(tenancy(&row)?)
    }

    /// Every tenancy (operators), or just `only` (a tenancy-scoped caller).
    pub async fn list_tenancies(
        &self,
        only: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<Tenancy>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM tenancies WHERE ($1 = '' OR id = $1) AND id > $2 ORDER BY id LIMIT $3"
        );
        let found = sqlx::query(&sql)
            .bind(only.map(|id| id.to_string()).unwrap_or_default())
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(tenancy)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |t| t.id))
    }

    pub async fn update_tenancy(&self, id: Uuid, update: TenancyUpdate) -> Result<Tenancy> {
        let done = sqlx::query(
            "UPDATE tenancies SET name = COALESCE($2, name), mobile_policy = COALESCE($3, mobile_policy), \
             group_name_convention = COALESCE($4, group_name_convention), phone_region = COALESCE($6, phone_region), \
             updated_at = $5 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(update.name.map(|n| n.as_str().to_string()))
        .bind(update.mobile_policy.map(|p| p.as_str().to_string()))
        .bind(update.group_name_convention)
        .bind(self.now())
        .bind(update.phone_region.map(|r| r.as_str().to_string()))
        .execute(&mut *self.writer().await?)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("tenancy"));
        }
        self.tenancy(id).await
    }
}
