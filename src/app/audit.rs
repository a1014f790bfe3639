//! The audit trail as the services write it: each records its change in the transaction that
//! makes it, so an entry exists exactly when the change committed, and a refused or failed
//! change leaves none.

use sqlx::AnyConnection;

use crate::domain::audit::{Actor, Event};
use crate::store::{self, Store};

/// Records `event` in the change's own transaction, at the store's time.
pub async fn record(store: &Store, tx: &mut AnyConnection, event: &Event) -> store::Result<()> {
    store::audit::insert(tx, store.now(), event).await
}

/// Records each of `events` in the change's own transaction.
pub async fn record_all(
    store: &Store,
    tx: &mut AnyConnection,
    events: &[Event],
) -> store::Result<()> {
    for event in events {
        record(store, tx, event).await?;
    }
    Ok(())
}

/// The actor a bearer token proves: an operator by their token, a staff user by their id.
pub fn actor_of(caller: &store::Actor) -> Actor {
    match *caller {
        store::Actor::Operator { token_id } => Actor::operator(token_id),
        store::Actor::Staff { staff_id, .. } => Actor::staff(staff_id),
    }
}
