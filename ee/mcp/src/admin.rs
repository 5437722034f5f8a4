//! Who may use `/api/v1/mcp/*`: a user with the Admin role, by API key (the admin session cookie
//! comes with the admin UI). The tenant always comes from the credential.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, web};
use alga_core::rbac::BuiltInRole;
use alga_core::{ApiError, AppContext, Principal};

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
            let ctx = req
                .app_data::<web::Data<AppContext>>()
                .ok_or_else(|| ApiError::internal(&"the application context is missing"))?;
            let principal = alga_api::http::authenticate(req.headers(), ctx)
                .await?
                .ok_or_else(|| ApiError::unauthorized("An administrator's API key is required (x-api-key)."))?;
            let is_admin =
                principal.user_id().is_some() && principal.roles.iter().any(|r| r.name == BuiltInRole::Admin.name());
            if !is_admin {
                return Err(ApiError::forbidden("Only administrators may manage the MCP server."));
            }
            Ok(Admin(principal))
        })
    }
}
