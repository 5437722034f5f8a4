//! The API describing itself and the caller.

use alga_agent_tooling::RegistryEntry;
use alga_core::ApiError;
use alga_core::identity::{Actor, RoleRef};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
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
        op(
            Meta::new("meta.mcp_registry", Method::Get, "/api/v1/meta/mcp-registry", Access::Authenticated)
                .doc(
                    "The MCP registry",
                    "Every operation the caller's roles allow and no enforced policy hides (as tools/list and search \
                     show them), described for agents: parameters, body and response schemas (every reference inlined), \
                     permission, examples and playbooks. Administrators may ask for every entry with all=true. Carries an \
                     ETag.",
                )
                .tags(&["Meta"]),
            mcp_registry,
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
    /// The user calling; absent when the caller is an agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserRef>,
    /// The agent calling (enterprise edition); absent when the caller is a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<AgentRef>,
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

#[derive(Debug, Serialize, JsonSchema)]
struct AgentRef {
    id: String,
    name: String,
}

async fn me(ctx: Ctx, _: (), _: (), _: ()) -> Result<Data<Me>, ApiError> {
    let p = &ctx.principal;
    let (user, agent) = match &p.actor {
        Actor::User { id, email, display_name } => {
            (Some(UserRef { id: id.clone(), email: email.clone(), display_name: display_name.clone() }), None)
        }
        Actor::Agent { id, name } => (None, Some(AgentRef { id: id.clone(), name: name.clone() })),
    };
    Ok(data(Me {
        tenant: TenantRef { id: p.tenant_id.clone(), slug: p.tenant_slug.clone() },
        user,
        agent,
        api_key_id: p.api_key_id.clone(),
        roles: p.roles.clone(),
        permissions: p.permissions.iter().map(|x| x.to_string()).collect(),
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
struct RegistryQuery {
    /// Every entry, not only the caller's (administrators only).
    all: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
struct RegistryDocument {
    /// `community` or `enterprise`.
    edition: String,
    count: usize,
    #[schemars(with = "Vec<Value>")]
    entries: Vec<RegistryEntry>,
}

async fn mcp_registry(ctx: Ctx, _: (), q: RegistryQuery, _: ()) -> Result<Data<RegistryDocument>, ApiError> {
    let registry = crate::registry::registry().map_err(|e| ApiError::internal(&e))?;
    let all = q.all.unwrap_or(false);
    if all && !alga_core::rbac::all_permissions().all(|p| ctx.can(p)) {
        return Err(ApiError::forbidden("Only administrators may list every entry (all=true)."));
    }
    // The caller's own entries are those tools/list and search show it: its roles permit them
    // and no enforced policy hides them.
    let principal = ctx.principal.clone();
    let hidden_operations = ctx.app.hidden_operations;
    let hidden = if all { None } else { ctx.db(move |conn| hidden_operations(conn, &principal)).await? };
    let listed = |e: &&RegistryEntry| {
        all || (crate::registry::allows(&ctx.principal, e) && !hidden.as_ref().is_some_and(|hides| hides(&e.id)))
    };
    let entries: Vec<RegistryEntry> = registry.entries().iter().filter(listed).cloned().collect();
    Ok(data(RegistryDocument { edition: ctx.app.edition.to_string(), count: entries.len(), entries }))
}
