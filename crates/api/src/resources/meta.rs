//! The API describing itself and the caller.

use alga_core::ApiError;
use alga_core::identity::RoleRef;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Access, Ctx, Meta, Method, Operation, op};
use crate::model::{Data, data};

pub fn operations() -> Vec<Operation> {
    Vec::from([
        op(
            Meta::new("meta.openapi", Method::Get, "/api/v1/openapi.json", Access::Public)
                .doc(
                    "The OpenAPI document",
                    "This API's OpenAPI 3.1 document, generated from the same declarations that route each \
                              operation. Each operation's `x-permission` names the permission it needs.",
                )
                .tags(&["Meta"]),
            openapi,
        ),
        op(
            Meta::new("meta.me", Method::Get, "/api/v1/me", Access::Authenticated)
                .doc("Who am I", "The caller's tenant, identity, roles and effective permissions.")
                .tags(&["Meta"]),
            me,
        ),
    ])
}

/// A free-form JSON document.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(transparent)]
struct Document(Value);

async fn openapi(ctx: Ctx, _: (), _: (), _: ()) -> Result<Document, ApiError> {
    let catalog = crate::catalog();
    let server = ctx.app.public_url.as_str().trim_end_matches('/').to_owned();
    Ok(Document(crate::openapi::document(&catalog, &server)))
}

#[derive(Debug, Serialize, JsonSchema)]
struct Me {
    tenant: TenantRef,
    user: UserRef,
    api_key_id: Option<String>,
    roles: Vec<RoleRef>,
    /// Effective permissions as `resource:action`.
    permissions: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct TenantRef {
    id: String,
    slug: String,
}

#[derive(Debug, Serialize, JsonSchema)]
struct UserRef {
    id: String,
    email: String,
    display_name: String,
}

async fn me(ctx: Ctx, _: (), _: (), _: ()) -> Result<Data<Me>, ApiError> {
    let p = &ctx.principal;
    Ok(data(Me {
        tenant: TenantRef { id: p.tenant_id.clone(), slug: p.tenant_slug.clone() },
        user: UserRef { id: p.user_id.clone(), email: p.email.clone(), display_name: p.display_name.clone() },
        api_key_id: p.api_key_id.clone(),
        roles: p.roles.clone(),
        permissions: p.permissions.iter().map(|x| x.to_string()).collect(),
    }))
}
