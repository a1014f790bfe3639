//! Signing in to the console with Salesforce: OpenID Connect's authorization-code flow (with
//! PKCE, asking the `openid` scope) through an org link's connected app. The browser keeps the
//! flow, sealed, in a cookie until Salesforce sends it back; the code is traded for a token
//! whose only use is asking the UserInfo endpoint who signed in, and the token is revoked
//! straight after: Liaison keeps nothing of a sign-in at Salesforce.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::error::CrmError;
use super::oauth::{self, UserInfo};
use super::{Crm, LinkError, LinkResult, wrong_org};
use crate::domain::org_link::{LinkState, OrgLink};
use crate::secrets::random_token;

/// The sealing context of a flow's cookie: a value sealed for anything else does not open.
const SEALED_AS: &str = "console_sign_in:flow";

/// A sign-in under way, as the browser keeps it (sealed) until Salesforce sends it back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInFlow {
    /// The org link whose connected app the user signs in through.
    pub link: Uuid,
    state: String,
    verifier: String,
}

impl Crm {
    /// Where Salesforce sends the browser back after a sign-in: this URL must be among the
    /// connected app's callback URLs, beside the connection's.
    pub fn sign_in_callback_url(&self) -> String {
        format!(
            "{}/console/sign-in/salesforce/callback",
            self.config().public_url.trim_end_matches('/')
        )
    }

    /// The authorize URL that asks the user to sign in through the link's connected app, and
    /// the flow, sealed, for the browser to keep. A paused link is not used.
    pub fn begin_sign_in(&self, link: &OrgLink) -> LinkResult<(String, String)> {
        if link.state == LinkState::Paused {
            return Err(LinkError::Paused);
        }
        self.check_login_host(link)?;
        let state = random_token();
        let (_, pkce) = oauth::pkce();
        let url = oauth::authorize_url(
            &link.login_host,
            &link.consumer_key,
            &self.sign_in_callback_url(),
            &state,
            &pkce,
            &["openid"],
        )?;
        let flow = SignInFlow {
            link: link.id,
            state,
            verifier: pkce.secret().clone(),
        };
        let json = serde_json::to_string(&flow)
            .map_err(|e| CrmError::Config(format!("the sign-in flow: {e}")))?;
        Ok((url, self.sealer()?.seal(&json, SEALED_AS)))
    }

    /// The flow a browser's cookie holds, when this service sealed it and its state is the one
    /// Salesforce sent back; `None` for anything else.
    pub fn sign_in_flow(&self, sealed: &str, state: &str) -> Option<SignInFlow> {
        let json = self.sealer().ok()?.open(sealed, SEALED_AS).ok()?;
        let flow: SignInFlow = serde_json::from_str(&json).ok()?;
        bool::from(flow.state.as_bytes().ct_eq(state.as_bytes())).then_some(flow)
    }

    /// Trades the code Salesforce sent back for a token, asks who signed in, revokes the token,
    /// and answers the user when they are an active user of the linked org.
    pub async fn finish_sign_in(
        &self,
        link: &OrgLink,
        flow: &SignInFlow,
        code: &str,
    ) -> LinkResult<UserInfo> {
        if link.state == LinkState::Paused {
            return Err(LinkError::Paused);
        }
        let secret = self.consumer_secret(link).await?.unwrap_or_default();
        let token = self
            .salesforce()
            .exchange_code(
                &link.login_host,
                &link.consumer_key,
                &secret,
                &self.sign_in_callback_url(),
                code,
                &flow.verifier,
            )
            .await?;
        self.check_org(link, &token)?;
        let user = self
            .salesforce()
            .userinfo(&link.login_host, &token.access_token)
            .await;
        if let Err(error) = self
            .salesforce()
            .revoke(&link.login_host, &token.access_token)
            .await
        {
            tracing::warn!(org_link = %link.id, code = error.code(), "a sign-in's token was not revoked");
        }
        let user = user?;
        if user.organization_id.get(..15) != link.org_id.get(..15) {
            return Err(wrong_org().into());
        }
        if user.active == Some(false) {
            return Err(CrmError::Permanent {
                code: "INACTIVE_USER".into(),
                message: "the Salesforce user is not active in the org".into(),
                fields: vec![],
                http_status: None,
            }
            .into());
        }
        Ok(user)
    }
}
