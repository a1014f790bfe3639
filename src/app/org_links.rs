//! Creating, changing and deleting an org link: a new link and its intake secrets are written
//! together; who may change or delete one is decided under the link's lock.

use uuid::Uuid;

use super::{Error, Result};
use crate::domain::org_link::OrgLink;
use crate::store::org_links::{SealedIntake, lock_link, set_intake_secrets_in};
use crate::store::{NewOrgLink, OrgLinkUpdate, Store};

/// A new link's secrets, sealed under its id (`id`, chosen by the caller).
#[derive(Debug, Clone)]
pub struct NewLinkSecrets {
    pub id: Uuid,
    pub consumer_secret: Option<String>,
    pub private_key: Option<String>,
    pub intake: SealedIntake,
}

/// Links an org to its tenancies, with its intake secrets, in one transaction: a link is
/// never left without the secrets its Outbound Message URL and webhooks are checked with.
pub async fn create(store: &Store, new: NewOrgLink, secrets: NewLinkSecrets) -> Result<OrgLink> {
    let NewLinkSecrets {
        id,
        consumer_secret,
        private_key,
        intake,
    } = secrets;
    let mut tx = store.write_tx().await?;
    store
        .insert_link_in(&mut tx, id, new, consumer_secret, private_key)
        .await?;
    set_intake_secrets_in(&mut tx, id, &intake, store.now()).await?;
    let created = store.link_in(&mut tx, id, None).await?;
    tx.commit().await?;
    Ok(created)
}

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
