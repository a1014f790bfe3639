//! Bearer-token authentication and the checks of who may act in which tenancy.
//!
//! A tenancy-scoped caller asking for another tenancy gets 404, exactly as if it did not
//! exist: nothing tells them it does.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use crate::domain::user::StaffRole;
use crate::store::Actor;

/// The authenticated caller.
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let actor = state
            .store
            .authenticate(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self(actor))
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// A caller acting for an org link with the link's API key (Apex in the org, automation): it
/// vouches for the Salesforce user it names, as Salesforce vouches in a canvas request.
pub struct LinkCaller {
    pub link: crate::store::OrgLink,
    /// Which of the link's keys it used, as clients' histories name it.
    pub key_id: String,
}

impl FromRequestParts<AppState> for LinkCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer(parts)
            .filter(|k| k.starts_with(LINK_KEY_PREFIX))
            .ok_or(ApiError::Unauthorized)?;
        let hash = crate::secrets::digest(key);
        let id = match state.store.org_link_by_api_key(&hash).await {
            Ok(id) => id,
            Err(crate::store::Error::NotFound(_)) => return Err(ApiError::Unauthorized),
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            link: state.store.org_link(id, None).await?,
            key_id: crate::store::api_key_id(&hash),
        })
    }
}

/// How an org link's API key begins, so it is recognisable in a secret scanner.
pub const LINK_KEY_PREFIX: &str = "lsk_";

/// What the caller may do inside one tenancy.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub tenancy: Uuid,
    /// The acting staff user; absent for an operator.
    pub staff: Option<Uuid>,
    /// The staff user's role; an operator acts with every right.
    pub role: Option<StaffRole>,
    token: Uuid,
}

impl Caller {
    /// Access to `tenancy`, or 404 when the caller belongs to another one.
    pub fn in_tenancy(&self, tenancy: Uuid) -> Result<Access, ApiError> {
        match self.0 {
            Actor::Operator { token_id } => Ok(Access {
                tenancy,
                staff: None,
                role: None,
                token: token_id,
            }),
            Actor::Staff {
                token_id,
                tenancy_id,
                staff_id,
                role,
            } if tenancy_id == tenancy => Ok(Access {
                tenancy,
                staff: Some(staff_id),
                role: Some(role),
                token: token_id,
            }),
            Actor::Staff { .. } => Err(ApiError::NotFound("tenancy")),
        }
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        match self.0 {
            Actor::Operator { .. } => Ok(()),
            Actor::Staff { .. } => Err(ApiError::Forbidden(
                "only an operator token may do this".into(),
            )),
        }
    }

    /// The tenancy a tenancy-scoped caller belongs to.
    pub fn own_tenancy(&self) -> Option<Uuid> {
        match self.0 {
            Actor::Operator { .. } => None,
            Actor::Staff { tenancy_id, .. } => Some(tenancy_id),
        }
    }
}

impl Access {
    pub fn is_operator(&self) -> bool {
        self.role.is_none()
    }

    /// Operators and system or users administrators.
    pub fn administers_users(&self) -> bool {
        self.role.is_none_or(StaffRole::administers_users)
    }

    pub fn require_users_admin(&self) -> Result<(), ApiError> {
        if self.administers_users() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only system or users administrators may do this".into(),
            ))
        }
    }

    pub fn require_tenancy_admin(&self) -> Result<(), ApiError> {
        if self.role.is_none_or(StaffRole::administers_tenancy) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only system administrators may change the tenancy".into(),
            ))
        }
    }

    /// For plain staff, their own id: lists and lookups are limited to what they share.
    pub fn plain_staff(&self) -> Option<Uuid> {
        if self.administers_users() {
            None
        } else {
            self.staff
        }
    }

    /// How the caller is named in a client's history.
    pub fn actor_label(&self) -> String {
        match self.staff {
            Some(staff) => format!("staff:{staff}"),
            None => format!("operator:{}", self.token),
        }
    }
}
