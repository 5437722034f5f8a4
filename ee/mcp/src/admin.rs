//! Who may use `/api/v1/mcp/*`: a user with the Admin role (approvals: a user who may decide them), by API key or by the admin UI's
//! session cookie. A cookie-authenticated write must also carry the session's CSRF token in
//! `x-csrf-token`, and a session opened with a one-time password serves nothing here until the
//! password is changed. The tenant always comes from the credential.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};
use alga_core::{ApiError, AppContext, Principal};

use crate::session;

/// An authenticated administrator of one tenant.
#[derive(Debug, Clone)]
pub struct Admin(pub Arc<Principal>);

impl Admin {
    pub fn tenant(&self) -> &str {
        &self.0.tenant_id
    }

    pub fn user_id(&self) -> Option<String> {
        self.0.user_id().map(str::to_owned)
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Admin, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = credential(&req).await?;
            if !session::is_admin(&principal) {
                return Err(ApiError::forbidden("Only administrators may manage the MCP server."));
            }
            Ok(Admin(principal))
        })
    }
}

/// A person who may decide approvals (`mcp_approval:update`, Admin by default; a custom role may
/// hold it), by admin session on the same terms as [`Admin`]; by a user's API key only to read,
/// unless the server lets keys decide (`--approvals-by-api-key`). Agents never are: the
/// permission is privileged. The store decides again on the grants committed now.
#[derive(Debug, Clone)]
pub struct Approver(pub Arc<Principal>);

impl FromRequest for Approver {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Approver, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let principal = credential(&req).await?;
            if principal.user_id().is_none() {
                return Err(ApiError::forbidden("Only people decide approvals; an agent cannot."));
            }
            principal.authorize(crate::approval::store::DECIDE)?;
            let keys_decide =
                req.app_data::<web::Data<crate::Governance>>().is_some_and(|g| g.settings.approvals_by_api_key);
            if principal.api_key_id.is_some() && !req.method().is_safe() && !keys_decide {
                return Err(ApiError::forbidden(
                    "Approvals are decided by a person signed in to the approval page (/admin/approvals/{id}), not with an API key; this server does not let keys decide (--approvals-by-api-key).",
                ));
            }
            Ok(Approver(principal))
        })
    }
}

/// The request's API key, else its admin session (with the CSRF token for writes).
async fn credential(req: &HttpRequest) -> Result<Arc<Principal>, ApiError> {
    let ctx = req
        .app_data::<web::Data<AppContext>>()
        .ok_or_else(|| ApiError::internal(&"the application context is missing"))?;
    match alga_api::http::authenticate(req.headers(), ctx).await? {
        Some(principal) => Ok(principal),
        None => by_cookie(ctx, req).await,
    }
}

/// The admin UI's session, for requests without an API key; writes need its CSRF token.
async fn by_cookie(ctx: &AppContext, req: &HttpRequest) -> Result<Arc<Principal>, ApiError> {
    let missing = || ApiError::unauthorized("An administrator's API key (x-api-key) or admin session is required.");
    let s = session::current_for_api(ctx, req).await?.ok_or_else(missing)?;
    if s.password_change_required {
        return Err(ApiError::forbidden(
            "This session signed in with a one-time password: choose a new password at /admin/password first.",
        ));
    }
    if !req.method().is_safe() {
        let presented = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !session::same_secret(presented, &s.csrf) {
            return Err(ApiError::forbidden("A session-authenticated change needs the session's x-csrf-token header."));
        }
    }
    Ok(s.principal)
}
