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
use crate::crm::sign_in::SignInFlow;
use crate::crm::{Crm, LinkError};
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::domain::console::{SalesforceDomain, SessionTimes, may_sign_in};
use crate::domain::org_link::AuthKind;
use crate::domain::values::{Email, SalesforceId};
use crate::mail::{Mailer, templates};
use crate::secrets::{digest, random_token};
use crate::store::console::{insert_session, insert_sign_in_link, use_sign_in_link};
use crate::store::{ConsoleSession, ConsoleUser, SalesforceUser, Store};

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
    let staff = admin_of.iter().map(|a| (a.tenancy, a.staff));
    let tokens = mint_links(store, staff, mail.lifetime).await?;
    let links: Vec<_> = admin_of
        .iter()
        .zip(tokens)
        .map(|(admin, token)| templates::SignInLink {
            tenancy_name: admin.tenancy_name.clone(),
            url: (mail.link)(&token),
        })
        .collect();
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

/// One-time sign-in links, valid for `lifetime`, for staff users given as (tenancy, staff), in
/// one transaction: their tokens, in the same order.
async fn mint_links(
    store: &Store,
    staff: impl Iterator<Item = (Uuid, Uuid)>,
    lifetime: Duration,
) -> Result<Vec<String>> {
    let now = store.clock().now();
    let mut tokens = Vec::new();
    let mut tx = store.write_tx().await?;
    for (tenancy, staff) in staff {
        let token = random_token();
        let user = ConsoleUser::Staff { tenancy, staff };
        insert_sign_in_link(&mut tx, &digest(&token), user, now, now + lifetime).await?;
        tokens.push(token);
    }
    tx.commit().await?;
    Ok(tokens)
}

/// The web-server org link whose login host or instance is the My Domain an administrator
/// typed to sign in with Salesforce, if any (an org has one link at most).
async fn link_named_by(store: &Store, domain: &SalesforceDomain) -> Result<Option<Uuid>> {
    let hosts = store.web_server_link_hosts().await?;
    Ok(hosts
        .into_iter()
        .find(|(_, login, instance)| {
            domain.names(login) || instance.as_deref().is_some_and(|i| domain.names(i))
        })
        .map(|(id, _, _)| id))
}

/// Starts signing in with Salesforce through a web-server link's connected app: the authorize
/// URL to send the browser to, and the flow, sealed, for it to keep.
pub async fn begin_salesforce_sign_in(
    crm: &Crm,
    link: Uuid,
) -> Result<(String, String), SalesforceSignInError> {
    let link = crm.store().org_link(link, None).await?;
    if link.auth_kind != AuthKind::WebServer {
        return Err(crate::store::Error::NotFound("org link").into());
    }
    Ok(crm.begin_sign_in(&link)?)
}

/// The same, through the link a typed My Domain names; `None` when it names none.
pub async fn begin_salesforce_sign_in_at(
    crm: &Crm,
    domain: &SalesforceDomain,
) -> Result<Option<(String, String)>, SalesforceSignInError> {
    match link_named_by(crm.store(), domain).await? {
        Some(link) => begin_salesforce_sign_in(crm, link).await.map(Some),
        None => Ok(None),
    }
}

/// What signing in with Salesforce came to.
#[derive(Debug)]
pub enum SalesforceSignIn {
    /// The user administers one tenancy the link serves: its session is open.
    Opened(Opened),
    /// The user administers several: a one-time link for each, to choose from.
    Choose(Vec<SignInChoice>),
    /// The user administers none of the link's tenancies (or is no active staff there).
    NotAdministrator { name: String },
}

/// A tenancy to sign in to, and the one-time link that does.
#[derive(Debug, Clone)]
pub struct SignInChoice {
    pub tenancy_name: String,
    pub token: String,
}

/// Why signing in with Salesforce opened nothing.
#[derive(Debug, thiserror::Error)]
pub enum SalesforceSignInError {
    /// Salesforce refused, or named a user Liaison does not take (another org, inactive).
    #[error(transparent)]
    Salesforce(#[from] LinkError),
    #[error(transparent)]
    App(#[from] super::Error),
}

impl From<crate::store::Error> for SalesforceSignInError {
    fn from(error: crate::store::Error) -> Self {
        Self::App(error.into())
    }
}

/// Finishes signing in with Salesforce: Salesforce says who signed in (a user of the linked
/// org), the link's staff-matching rule says who they are in each tenancy it serves, and only
/// tenancies where they are an active system or users administrator count. One such tenancy
/// opens its session at once; several are offered as one-time links (`lifetime`), each opening
/// its own session as an e-mailed link would.
pub async fn sign_in_with_salesforce(
    crm: &Crm,
    flow: &SignInFlow,
    code: &str,
    times: SessionTimes,
    lifetime: Duration,
) -> Result<SalesforceSignIn, SalesforceSignInError> {
    let store = crm.store();
    let link = store.org_link(flow.link, None).await?;
    let info = crm.finish_sign_in(&link, flow, code).await?;
    let name = info.name.clone().unwrap_or_else(|| info.user_id.clone());
    let Ok(user_id) = SalesforceId::parse(&info.user_id) else {
        return Ok(SalesforceSignIn::NotAdministrator { name });
    };
    let user = SalesforceUser {
        user_id,
        username: info.preferred_username,
        email: info.email,
        name: name.clone(),
    };
    let admins: Vec<_> = store
        .acting_staff(link.id, link.staff_match, &user)
        .await?
        .into_iter()
        .filter(|a| may_sign_in(a.role))
        .collect();
    if admins.is_empty() {
        return Ok(SalesforceSignIn::NotAdministrator { name });
    }
    let tokens = mint_links(store, admins.iter().map(|a| (a.tenancy, a.staff)), lifetime).await?;
    if let [token] = tokens.as_slice() {
        return match sign_in(store, token, times).await? {
            Some(opened) => Ok(SalesforceSignIn::Opened(opened)),
            None => Ok(SalesforceSignIn::NotAdministrator { name }),
        };
    }
    let choices = admins
        .into_iter()
        .zip(tokens)
        .map(|(a, token)| SignInChoice {
            tenancy_name: a.tenancy_name,
            token,
        })
        .collect();
    Ok(SalesforceSignIn::Choose(choices))
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
