//! Inviting from a record, under the names the benchmark calls: the service is
//! `app::invites`.

pub use crate::app::invites::{
    FromRecord, Invited, actor, from_record as invite_from_record, key_actor,
};
