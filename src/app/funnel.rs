//! A tenancy's invitation funnel over a period (see `domain::funnel`): the facts read from the
//! store, counted by the domain.

use uuid::Uuid;

use super::Result;
use crate::domain::funnel::{self, Funnel, Period};
use crate::store::Store;

/// The funnel of `tenancy` (which must exist) over `period`.
pub async fn report(store: &Store, tenancy: Uuid, period: Period) -> Result<Funnel> {
    store.tenancy(tenancy).await?;
    let moves = store.status_moves(tenancy, period.end()).await?;
    let deliveries = store
        .delivery_facts(tenancy, period.start(), period.end())
        .await?;
    let deferred = store.deferred_invitation_emails(tenancy).await?;
    Ok(funnel::count(period, &moves, &deliveries, deferred))
}
