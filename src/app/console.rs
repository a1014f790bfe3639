//! Signing in to the admin console: one-time links (printed for an operator, e-mailed to a
//! staff administrator), the session a link opens, and whether a session still runs.
//!
//! Sessions live in our own table rather than in tower-sessions: its sqlx stores are one per
//! backend, each over its own pool type (`SqlitePool`, `PgPool`), while our store is one sqlx
//! `Any` pool over either backend, with its own clock (tests move a `ManualClock`) and its
//! SQLite write gate. A session here is a row found by its cookie's hash; every request reads
//! it with its staff user as they are now, so a deactivated user is signed out at once.

use std::sync::Arc;

use time::Duration;
use uuid::Uuid;

use super::Result;
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::domain::console::{SessionTimes, may_sign_in};
use crate::domain::values::Email;
use crate::mail::{Mailer, templates};
use crate::secrets::{digest, random_token};
use crate::store::console::{insert_session, insert_sign_in_link, use_sign_in_link};
use crate::store::{ConsoleSession, ConsoleUser, Store};

/// A session just opened: the cookie's value (shown only now) and the session.
#[derive(Debug, Clone)]
pub struct Opened {
    pub token: String,
    pub session: ConsoleSession,
}

/// A one-time sign-in link's token for the operator, valid for `lifetime`.
pub async fn operator_link(store: &Store, lifetime: Duration) -> Result<String> {
    let token = random_token();
    let now = store.clock().now();
    let mut tx = store.write_tx().await?;
    insert_sign_in_link(
        &mut tx,
        &digest(&token),
        ConsoleUser::Operator,
        now,
        now + lifetime,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Where sign-in e-mails go and what their links look like.
#[derive(Clone)]
pub struct SignInMail {
    /// Absent where no mail server is configured (the address is then told nothing either).
    pub mailer: Option<Arc<dyn Mailer>>,
    /// The link that signs in with a token.
    pub link: Arc<dyn Fn(&str) -> String + Send + Sync>,
    pub lifetime: Duration,
}

/// Sends `email` one sign-in link for each tenancy where it is an active system or users
/// administrator, all in one e-mail; nothing to anyone else. The caller answers the same
/// whatever happened here, and the e-mail goes out after this returns, so neither the answer
/// nor its timing tells whether the address belongs to anyone.
///
/// One link per tenancy rather than a choice of tenancy on the form: a form that asked would
/// have to say which tenancies the address has, to whoever typed it.
pub async fn send_sign_in_links(store: &Store, mail: &SignInMail, email: &Email) -> Result<()> {
    let admin_of: Vec<_> = store
        .staff_addresses(&email.key())
        .await?
        .into_iter()
        .filter(|a| may_sign_in(a.role))
        .collect();
    let Some(first) = admin_of.first() else {
        return Ok(());
    };
    let now = store.clock().now();
    let mut links = Vec::with_capacity(admin_of.len());
    let mut tx = store.write_tx().await?;
    for admin in &admin_of {
        let token = random_token();
        let user = ConsoleUser::Staff {
            tenancy: admin.tenancy,
            staff: admin.staff,
        };
        insert_sign_in_link(&mut tx, &digest(&token), user, now, now + mail.lifetime).await?;
        links.push(templates::SignInLink {
            tenancy_name: admin.tenancy_name.clone(),
            url: (mail.link)(&token),
        });
    }
    tx.commit().await?;
    let message = templates::console_sign_in(&templates::ConsoleSignIn {
        first_name: &first.first_name,
        email: &first.email,
        links: &links,
        minutes: mail.lifetime.whole_minutes(),
    });
    let Some(mailer) = mail.mailer.clone() else {
        tracing::warn!("a console sign-in e-mail was not sent: no mail server is configured");
        return Ok(());
    };
    tokio::spawn(async move {
        if let Err(error) = mailer.send(&message).await {
            tracing::warn!(error = %error, "a console sign-in e-mail was not sent");
        }
    });
    Ok(())
}

/// Uses a sign-in link and opens its session, in one transaction; `None` when the link is
/// unknown, used or expired, or its staff user is no longer an active administrator (the link
/// is spent all the same).
pub async fn sign_in(store: &Store, token: &str, times: SessionTimes) -> Result<Option<Opened>> {
    let now = store.clock().now();
    let mut tx = store.write_tx().await?;
    let Some(user) = use_sign_in_link(&mut tx, &digest(token), now).await? else {
        return Ok(None);
    };
    if let ConsoleUser::Staff { tenancy, staff } = user {
        let staff = store.staff(tenancy, staff).await?;
        if !(staff.active && may_sign_in(staff.role)) {
            tx.commit().await?;
            return Ok(None);
        }
    }
    let opened = Opened {
        token: random_token(),
        session: ConsoleSession {
            id: Uuid::now_v7(),
            user,
            csrf: random_token(),
            opened: now,
            last_seen: now,
            ended: false,
            staff: None,
        },
    };
    insert_session(
        &mut tx,
        &digest(&opened.token),
        &opened.session,
        now - times.absolute,
    )
    .await?;
    super::audit::record(store, &mut tx, &signed_in_event(&opened.session)).await?;
    tx.commit().await?;
    Ok(Some(opened))
}

/// The trail's entry for a sign-in: in the staff user's tenancy's trail (the installation's for
/// the operator), by the session's user, about the session it opened. The operator has no user
/// row, so the session's id names them, as it does in the labels of what they do next.
fn signed_in_event(session: &ConsoleSession) -> Event {
    let (tenancy, actor) = match session.user {
        ConsoleUser::Operator => (None, Actor::operator(session.id)),
        ConsoleUser::Staff { tenancy, staff } => (Some(tenancy), Actor::staff(staff)),
    };
    Event {
        tenancy,
        actor,
        action: Action::ConsoleSignedIn,
        target: Target {
            kind: TargetKind::ConsoleSession,
            id: session.id,
        },
        change: Change::new(),
    }
}

/// The running session whose cookie holds `token`, noted as used now; `None` when it ended:
/// signed out, idle or past its absolute time, or its staff user is no longer an active
/// administrator. A deactivated user's sessions all end then, so reactivating them later does
/// not bring a session back.
pub async fn resume(
    store: &Store,
    token: &str,
    times: SessionTimes,
) -> Result<Option<ConsoleSession>> {
    let Some(session) = store.console_session(&digest(token)).await? else {
        return Ok(None);
    };
    if session.ended || !times.live(session.opened, session.last_seen, store.clock().now()) {
        return Ok(None);
    }
    if let ConsoleUser::Staff { .. } = session.user {
        let admin = session
            .staff
            .as_ref()
            .is_some_and(|s| s.active && s.role.is_some_and(may_sign_in));
        if !admin {
            store.end_console_sessions(&session, true).await?;
            return Ok(None);
        }
    }
    store.touch_console_session(session.id).await?;
    Ok(Some(session))
}
