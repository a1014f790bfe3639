//! Changing and deleting an org link: who may, decided under the link's lock.

use uuid::Uuid;

use super::{Error, Result};
use crate::store::org_links::lock_link;
use crate::store::{OrgLink, OrgLinkUpdate, Store};

/// Changes a link; `managed_by` is the tenancy of the administrator changing it (`None` for
/// an operator), which must be the only tenancy the link serves.
pub async fn update(
    store: &Store,
    id: Uuid,
    managed_by: Option<Uuid>,
    update: OrgLinkUpdate,
    consumer_secret: Option<String>,
    private_key: Option<String>,
) -> Result<OrgLink> {
    let mut tx = store.write_tx().await?;
    let before = managed(store, &mut tx, id, managed_by).await?;
    let after = store
        .update_link_in(&mut tx, &before, update, consumer_secret, private_key)
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a link; `managed_by` as for `update`.
pub async fn delete(store: &Store, id: Uuid, managed_by: Option<Uuid>) -> Result<()> {
    let mut tx = store.write_tx().await?;
    managed(store, &mut tx, id, managed_by).await?;
    store.delete_link_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// The link, locked (PostgreSQL) before its tenancies are read so a concurrent change of them
/// commits first and is seen. One changed by the administrator of `managed_by` must serve that
/// tenancy (else it is not found, as for an unknown link) and no other (a shared link is the
/// operators').
async fn managed(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    id: Uuid,
    managed_by: Option<Uuid>,
) -> Result<OrgLink> {
    lock_link(tx, id).await?;
    let link = store.link_in(tx, id, managed_by).await?;
    match managed_by {
        Some(own) if link.tenancies != [own] => Err(Error::Forbidden(
            "this org link serves several tenancies: only an operator may change it".into(),
        )),
        _ => Ok(link),
    }
}
