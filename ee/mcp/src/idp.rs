//! Trusted identity providers: registration with presets and OIDC discovery, and the admin API
//! `/api/v1/mcp/idp-providers`.

use actix_web::{HttpResponse, web};
use alga_api::model::{IdPath, utc};
use std::sync::Arc;

use alga_core::RouteTable;
use alga_core::admin_audit::json_of;
use alga_core::db::write_transaction;
use alga_core::identity::{new_id, now};
use alga_core::{ApiError, AppContext, DbConn, Principal};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::Governance;
use crate::admin::Admin;
use crate::agents::audited;
use crate::egress::{self, FetchError};
use crate::schema::{agent_idp_providers, agents};

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The claims that may name an agent.
pub const SUBJECT_CLAIMS: [&str; 5] = ["sub", "azp", "client_id", "oid", "appid"];

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = agent_idp_providers)]
pub struct Idp {
    #[serde(skip)]
    pub tenant_id: String,
    pub id: String,
    pub kind: String,
    pub issuer: String,
    pub jwks_uri: Option<String>,
    pub audience: String,
    pub subject_claim: String,
    pub entra_tenant_id: Option<String>,
    pub active: bool,
    #[serde(serialize_with = "utc")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "utc")]
    pub updated_at: NaiveDateTime,
    /// What a client should request for this resource: advertised, never checked.
    #[serde(serialize_with = "words")]
    pub scopes: String,
    /// Each must be in the token's `scp` or `scope` claim.
    #[serde(serialize_with = "words")]
    pub required_scopes: String,
    /// Each must be in the token's `roles` claim.
    #[serde(serialize_with = "words")]
    pub required_roles: String,
}

/// A space-separated list stored as text, shown as a JSON list.
fn words<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(text.split_whitespace())
}

#[derive(Debug, Serialize)]
pub struct IdpView {
    #[serde(flatten)]
    pub idp: Idp,
    /// Agents bound to it that are not retired.
    pub agents: i64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Custom,
    Microsoft,
    Google,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Custom => "custom",
            Kind::Microsoft => "microsoft",
            Kind::Google => "google",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIdp {
    pub kind: Kind,
    /// Custom providers: the issuer exactly as its tokens carry it.
    pub issuer: Option<String>,
    /// Custom providers: the JWKS URL; without it, OIDC discovery finds it.
    pub jwks_uri: Option<String>,
    /// Microsoft Entra: the directory (tenant) id.
    pub entra_tenant_id: Option<String>,
    /// Default: this server's MCP resource URL.
    pub audience: Option<String>,
    pub subject_claim: Option<String>,
    /// Scopes a client should request for this resource. Default: none, except for Microsoft
    /// Entra, `<audience>/.default` (what client credentials request there).
    pub scopes: Option<Vec<String>>,
    pub required_scopes: Option<Vec<String>>,
    pub required_roles: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIdp {
    pub audience: Option<String>,
    pub subject_claim: Option<String>,
    pub active: Option<bool>,
    pub scopes: Option<Vec<String>>,
    pub required_scopes: Option<Vec<String>>,
    pub required_roles: Option<Vec<String>>,
}

/// The Microsoft Entra and Google signing keys, as their discovery documents name them.
const GOOGLE_JWKS: &str = "https://www.googleapis.com/oauth2/v3/certs";
fn entra_jwks(tid: &str) -> String {
    format!("https://login.microsoftonline.com/{tid}/discovery/v2.0/keys")
}

/// This server's MCP resource URL: tokens for it carry it as their audience.
pub fn resource_url(ctx: &AppContext, tenant_slug: Option<&str>) -> String {
    let base = ctx.public_url.as_str().trim_end_matches('/');
    match tenant_slug {
        Some(slug) => format!("{base}/t/{slug}/api/mcp"),
        None => format!("{base}/api/mcp"),
    }
}

/// Whether `audience` is the endpoint of a tenant of this instance other than `own_slug`'s.
pub fn names_other_tenant(ctx: &AppContext, audience: &str, own_slug: Option<&str>) -> bool {
    let prefix = format!("{}/t/", ctx.public_url.as_str().trim_end_matches('/'));
    match audience.strip_prefix(&prefix) {
        Some(rest) => own_slug.is_none_or(|slug| rest != format!("{slug}/api/mcp")),
        None => false,
    }
}

/// Refuses another tenant's endpoint as a provider's audience.
fn own_audience(ctx: &AppContext, audience: &str, own_slug: &str) -> Result<(), ApiError> {
    if names_other_tenant(ctx, audience, Some(own_slug)) {
        return Err(ApiError::validation(
            "audience",
            "names another organization's endpoint; use this instance's or your own",
        ));
    }
    Ok(())
}

/// An https URL, or http on a loopback host when insecure IdP URLs are allowed. A host that is an
/// IP address must be public (or loopback, when allowed); host names are judged when resolved.
pub fn check_url(field: &str, text: &str, allow_insecure: bool) -> Result<Url, ApiError> {
    let url = Url::parse(text.trim()).map_err(|e| ApiError::validation(field, format!("is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(ApiError::validation(field, "must not carry credentials or a fragment"));
    }
    let ip = egress::literal_ip(&url);
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        _ => ip.is_some_and(|ip| ip.to_canonical().is_loopback()),
    };
    if let Some(ip) = ip
        && !egress::reachable(ip, allow_insecure)
    {
        return Err(ApiError::validation(
            field,
            if loopback {
                "names a loopback address (allowed only with the server flag --allow-insecure-idp-urls)"
            } else {
                "names a private or otherwise non-public address"
            },
        ));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if allow_insecure && loopback => Ok(url),
        "http" if loopback => Err(ApiError::validation(
            field,
            "must use https (http on loopback needs the server flag --allow-insecure-idp-urls)",
        )),
        _ => Err(ApiError::validation(field, "must be an https URL")),
    }
}

fn subject_claim(value: Option<&str>, default: &str) -> Result<String, ApiError> {
    let claim = value.map(str::trim).unwrap_or(default);
    if SUBJECT_CLAIMS.contains(&claim) {
        Ok(claim.to_owned())
    } else {
        Err(ApiError::validation("subject_claim", format!("must be one of {}", SUBJECT_CLAIMS.join(", "))))
    }
}

/// A list of scope or role names (RFC 6749 §3.3 scope-tokens), stored space-separated.
fn scope_list(field: &str, values: &[String]) -> Result<String, ApiError> {
    if values.len() > 20 {
        return Err(ApiError::validation(field, "holds at most 20 names"));
    }
    let mut names: Vec<&str> = Vec::with_capacity(values.len());
    for value in values {
        let name = value.trim();
        let valid = !name.is_empty()
            && name.len() <= 200
            && name.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            return Err(ApiError::validation(
                field,
                "each name is 1 to 200 visible ASCII characters, without spaces, quotes or backslashes",
            ));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names.join(" "))
}

fn audience(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 500 || value.contains('\0') {
        return Err(ApiError::validation("audience", "must be 1 to 500 characters, without NUL"));
    }
    Ok(value.to_owned())
}

/// OIDC discovery: the provider's `jwks_uri`, after checking that it names the same issuer.
/// Failures name their class only: the provider's words are never repeated.
async fn discover(gov: &Governance, issuer: &str) -> Result<String, ApiError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let failed = |why: &dyn std::fmt::Display| {
        ApiError::validation("issuer", format!("OpenID discovery at {url} failed: {why}; give jwks_uri instead"))
    };
    let fetched = gov.http.get(&url).await.map_err(|e| failed(&e))?;
    let document: Value = serde_json::from_slice(&fetched.body).map_err(|_| failed(&FetchError::Malformed("JSON")))?;
    if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(ApiError::validation(
            "issuer",
            format!("the provider's discovery document names issuer other than `{issuer}`"),
        ));
    }
    let jwks_uri =
        document.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| failed(&"the document has no jwks_uri"))?;
    Ok(check_url("jwks_uri", jwks_uri, gov.settings.allow_insecure_idp_urls)?.to_string())
}

async fn list(admin: Admin, ctx: web::Data<AppContext>) -> Result<HttpResponse, ApiError> {
    let views = list_idps(&ctx, admin.tenant()).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": views })))
}

/// The tenant's identity providers, oldest first, each with how many agents are bound to it.
pub async fn list_idps(ctx: &AppContext, tenant: &str) -> Result<Vec<IdpView>, ApiError> {
    let tenant = tenant.to_owned();
    ctx.db
        .run(move |conn| {
            let idps: Vec<Idp> = agent_idp_providers::table
                .filter(agent_idp_providers::tenant_id.eq(&tenant))
                .order((agent_idp_providers::created_at, agent_idp_providers::id))
                .select(Idp::as_select())
                .load(conn)?;
            idps.into_iter()
                .map(|idp| {
                    let agents = bound_agents(conn, &tenant, &idp.id)?.len();
                    Ok(IdpView { idp, agents: i64::try_from(agents).unwrap_or(i64::MAX) })
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await
}

/// Names of the agents (not retired) bound to an IdP.
fn bound_agents(conn: &mut DbConn, tenant: &str, idp_id: &str) -> Result<Vec<String>, ApiError> {
    Ok(agents::table
        .filter(agents::tenant_id.eq(tenant).and(agents::idp_id.eq(idp_id)).and(agents::retired_at.is_null()))
        .order(agents::name)
        .select(agents::name)
        .load(conn)?)
}

async fn create(
    admin: Admin,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
    body: web::Json<CreateIdp>,
) -> Result<HttpResponse, ApiError> {
    let view = create_idp(&ctx, &gov, &admin.0, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(json!({ "data": view })))
}

/// Registers an identity provider from a preset (discovering its keys unless given).
pub async fn create_idp(
    ctx: &AppContext,
    gov: &Governance,
    who: &Arc<Principal>,
    b: CreateIdp,
) -> Result<IdpView, ApiError> {
    let tenant = who.tenant_id.as_str();
    let insecure = gov.settings.allow_insecure_idp_urls;
    let (issuer, default_claim, known_jwks) = match b.kind {
        Kind::Google => {
            if b.issuer.as_deref().is_some_and(|i| i.trim() != GOOGLE_ISSUER) {
                return Err(ApiError::validation("issuer", format!("Google's issuer is {GOOGLE_ISSUER}")));
            }
            (GOOGLE_ISSUER.to_owned(), "sub", Some(GOOGLE_JWKS.to_owned()))
        }
        Kind::Microsoft => {
            let tid = b.entra_tenant_id.as_deref().map(str::trim).unwrap_or_default();
            let valid = !tid.is_empty()
                && tid.len() <= 100
                && tid.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.');
            if !valid {
                return Err(ApiError::validation(
                    "entra_tenant_id",
                    "the Microsoft Entra directory (tenant) id is required, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47",
                ));
            }
            let issuer = format!("https://login.microsoftonline.com/{tid}/v2.0");
            if b.issuer.as_deref().is_some_and(|i| i.trim() != issuer) {
                return Err(ApiError::validation("issuer", format!("this directory's issuer is {issuer}")));
            }
            (issuer, "azp", Some(entra_jwks(tid)))
        }
        Kind::Custom => {
            let issuer = b.issuer.as_deref().map(str::trim).unwrap_or_default();
            if issuer.is_empty() {
                return Err(ApiError::validation("issuer", "is required for a custom provider"));
            }
            check_url("issuer", issuer, insecure)?;
            (issuer.to_owned(), "sub", None)
        }
    };
    if b.kind != Kind::Microsoft && b.entra_tenant_id.is_some() {
        return Err(ApiError::validation("entra_tenant_id", "applies to Microsoft Entra providers only"));
    }
    let subject_claim = subject_claim(b.subject_claim.as_deref(), default_claim)?;
    let audience = audience(b.audience.as_deref().unwrap_or(&resource_url(ctx, None)))?;
    own_audience(ctx, &audience, &who.tenant_slug)?;
    let scopes = match &b.scopes {
        Some(given) => scope_list("scopes", given)?,
        None if b.kind == Kind::Microsoft => scope_list("scopes", &[format!("{audience}/.default")])?,
        None => String::new(),
    };
    let required_scopes = scope_list("required_scopes", b.required_scopes.as_deref().unwrap_or_default())?;
    let required_roles = scope_list("required_roles", b.required_roles.as_deref().unwrap_or_default())?;
    let jwks_uri = match (b.jwks_uri.as_deref().map(str::trim).filter(|u| !u.is_empty()), known_jwks) {
        (Some(uri), None) => check_url("jwks_uri", uri, insecure)?.to_string(),
        (Some(_), Some(_)) => return Err(ApiError::validation("jwks_uri", "is known for this kind of provider")),
        (None, Some(known)) => known,
        (None, None) => discover(gov, &issuer).await?,
    };
    let at = now();
    let idp = Idp {
        tenant_id: tenant.to_owned(),
        id: new_id(),
        kind: b.kind.as_str().to_owned(),
        issuer,
        jwks_uri: Some(jwks_uri),
        audience,
        subject_claim,
        entra_tenant_id: b.entra_tenant_id.map(|t| t.trim().to_owned()).filter(|_| b.kind == Kind::Microsoft),
        active: true,
        created_at: at,
        updated_at: at,
        scopes,
        required_scopes,
        required_roles,
    };
    let row = idp.clone();
    let who = who.clone();
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                diesel::insert_into(agent_idp_providers::table)
                    .values((
                        agent_idp_providers::tenant_id.eq(&row.tenant_id),
                        agent_idp_providers::id.eq(&row.id),
                        agent_idp_providers::kind.eq(&row.kind),
                        agent_idp_providers::issuer.eq(&row.issuer),
                        agent_idp_providers::jwks_uri.eq(&row.jwks_uri),
                        agent_idp_providers::audience.eq(&row.audience),
                        agent_idp_providers::subject_claim.eq(&row.subject_claim),
                        agent_idp_providers::entra_tenant_id.eq(&row.entra_tenant_id),
                        agent_idp_providers::active.eq(true),
                        agent_idp_providers::created_at.eq(row.created_at),
                        agent_idp_providers::updated_at.eq(row.updated_at),
                        agent_idp_providers::scopes.eq(&row.scopes),
                        agent_idp_providers::required_scopes.eq(&row.required_scopes),
                        agent_idp_providers::required_roles.eq(&row.required_roles),
                    ))
                    .execute(conn)
                    .map_err(|e| {
                        ApiError::from_unique(e, || {
                            format!("An identity provider with issuer {} already exists in this tenant.", row.issuer)
                        })
                    })?;
                audited(conn, &who, "idp.create", "idp", &row.id, None, json_of(&row))
            })
        })
        .await?;
    tracing::info!(idp = %idp.id, issuer = %idp.issuer, "identity provider registered");
    Ok(IdpView { idp, agents: 0 })
}

/// One IdP of the tenant, or 404.
pub fn load(conn: &mut DbConn, tenant: &str, id: &str) -> Result<Idp, ApiError> {
    agent_idp_providers::table
        .filter(agent_idp_providers::tenant_id.eq(tenant).and(agent_idp_providers::id.eq(id)))
        .select(Idp::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No identity provider with this id."))
}

async fn update(
    admin: Admin,
    ctx: web::Data<AppContext>,
    path: web::Path<IdPath>,
    body: web::Json<UpdateIdp>,
) -> Result<HttpResponse, ApiError> {
    let view = update_idp(&ctx, &admin.0, &path.into_inner().id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(json!({ "data": view })))
}

/// Changes a provider's audience, agent claim or status.
pub async fn update_idp(ctx: &AppContext, who: &Arc<Principal>, id: &str, b: UpdateIdp) -> Result<IdpView, ApiError> {
    let audience = b.audience.as_deref().map(audience).transpose()?;
    if let Some(audience) = &audience {
        own_audience(ctx, audience, &who.tenant_slug)?;
    }
    let claim = b.subject_claim.as_deref().map(|c| subject_claim(Some(c), "sub")).transpose()?;
    let scopes = b.scopes.as_deref().map(|v| scope_list("scopes", v)).transpose()?;
    let required_scopes = b.required_scopes.as_deref().map(|v| scope_list("required_scopes", v)).transpose()?;
    let required_roles = b.required_roles.as_deref().map(|v| scope_list("required_roles", v)).transpose()?;
    let (tenant, id, who) = (who.tenant_id.clone(), id.to_owned(), who.clone());
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                alga_core::lock_row!(conn, agent_idp_providers, &tenant, &id);
                let current = load(conn, &tenant, &id)?;
                // Entra's scope to request is `<audience>/.default`: left at that default, it
                // follows a new audience.
                let scopes = match (&scopes, &audience) {
                    (None, Some(new))
                        if current.kind == "microsoft"
                            && current.scopes == format!("{}/.default", current.audience) =>
                    {
                        Some(scope_list("scopes", &[format!("{new}/.default")])?)
                    }
                    _ => scopes,
                };
                let before = json_of(&current);
                let target = agent_idp_providers::table
                    .filter(agent_idp_providers::tenant_id.eq(&tenant).and(agent_idp_providers::id.eq(&id)));
                diesel::update(target)
                    .set((
                        audience.map(|a| agent_idp_providers::audience.eq(a)),
                        claim.map(|c| agent_idp_providers::subject_claim.eq(c)),
                        b.active.map(|a| agent_idp_providers::active.eq(a)),
                        scopes.map(|v| agent_idp_providers::scopes.eq(v)),
                        required_scopes.map(|v| agent_idp_providers::required_scopes.eq(v)),
                        required_roles.map(|v| agent_idp_providers::required_roles.eq(v)),
                        agent_idp_providers::updated_at.eq(now()),
                    ))
                    .execute(conn)?;
                let idp = load(conn, &tenant, &id)?;
                audited(conn, &who, "idp.update", "idp", &id, before, json_of(&idp))?;
                let agents = i64::try_from(bound_agents(conn, &tenant, &id)?.len()).unwrap_or(i64::MAX);
                Ok::<_, ApiError>(IdpView { idp, agents })
            })
        })
        .await
}

async fn delete(admin: Admin, ctx: web::Data<AppContext>, path: web::Path<IdPath>) -> Result<HttpResponse, ApiError> {
    delete_idp(&ctx, &admin.0, &path.into_inner().id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a provider; 409 naming the agents while live agents are bound to it.
pub async fn delete_idp(ctx: &AppContext, who: &Arc<Principal>, id: &str) -> Result<(), ApiError> {
    let (tenant, id, who) = (who.tenant_id.clone(), id.to_owned(), who.clone());
    ctx.db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let before = json_of(&load(conn, &tenant, &id)?);
                let bound = bound_agents(conn, &tenant, &id)?;
                if !bound.is_empty() {
                    return Err(ApiError::conflict(format!(
                        "Agents are bound to this identity provider: {}. Retire them or bind them elsewhere first.",
                        bound.join(", ")
                    ))
                    .with_details(json!({ "agents": bound })));
                }
                // Retired agents keep their audit (which records issuer and subject) but let go of
                // the provider.
                diesel::update(agents::table.filter(agents::tenant_id.eq(&tenant).and(agents::idp_id.eq(&id))))
                    .set((agents::idp_id.eq(None::<String>), agents::subject.eq(None::<String>)))
                    .execute(conn)?;
                diesel::delete(
                    agent_idp_providers::table
                        .filter(agent_idp_providers::tenant_id.eq(&tenant).and(agent_idp_providers::id.eq(&id))),
                )
                .execute(conn)?;
                audited(conn, &who, "idp.delete", "idp", &id, before, None)
            })
        })
        .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DoctorInput {
    token: String,
    /// `tenant` (this organization's endpoint, the default) or `instance` (`/api/mcp`).
    #[serde(default)]
    endpoint: Option<String>,
}

/// The IdP doctor over the admin API: what the endpoint would decide for this token, and why.
async fn doctor(
    admin: Admin,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
    body: web::Json<DoctorInput>,
) -> Result<HttpResponse, ApiError> {
    let per_tenant = match body.endpoint.as_deref() {
        None | Some("tenant") => true,
        Some("instance") => false,
        Some(_) => return Err(ApiError::validation("endpoint", "must be tenant or instance")),
    };
    let d = crate::auth::diagnose(&ctx, &gov, admin.tenant(), &admin.0.tenant_slug, &body.token, per_tenant).await?;
    let (accepted, verdict) = match d.verdict {
        Ok(v) => (true, v),
        Err(v) => (false, v),
    };
    Ok(HttpResponse::Ok().json(json!({ "data": { "accepted": accepted, "verdict": verdict, "checks": d.checks } })))
}

pub fn routes(table: &mut RouteTable) {
    table
        .get("/api/v1/mcp/idp-providers", list)
        .post("/api/v1/mcp/idp-providers", create)
        .post("/api/v1/mcp/idp-doctor", doctor)
        .patch("/api/v1/mcp/idp-providers/{id}", update)
        .delete("/api/v1/mcp/idp-providers/{id}", delete);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_unless_loopback_is_allowed() {
        assert!(check_url("u", "https://idp.example.com/x", false).is_ok());
        assert!(check_url("u", "http://idp.example.com", true).is_err());
        assert!(check_url("u", "http://127.0.0.1:8080", false).is_err());
        assert!(check_url("u", "http://127.0.0.1:8080", true).is_ok());
        assert!(check_url("u", "http://localhost:1/x", true).is_ok());
        assert!(check_url("u", "http://[::1]:1/x", true).is_ok());
        assert!(check_url("u", "https://user:pw@idp.example.com", false).is_err());
        assert!(check_url("u", "ftp://idp.example.com", true).is_err());
        assert!(check_url("u", "not a url", true).is_err());
    }

    #[test]
    fn urls_naming_non_public_addresses_are_refused() {
        let refused = |text: &str, insecure: bool| check_url("u", text, insecure).unwrap_err().body().to_string();
        for text in [
            "https://10.0.0.1/jwks",
            "https://172.16.5.4",
            "https://192.168.0.10:8443/x",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1",
            "https://0.0.0.0",
            "https://224.0.0.1",
            "https://[fd00::1]/jwks",
            "https://[fe80::1]",
            "https://[::]",
            "https://[::ffff:10.0.0.1]",
            // Another spelling of 10.0.0.1: URLs read it as that address.
            "https://167772161/jwks",
        ] {
            for insecure in [false, true] {
                let why = refused(text, insecure);
                assert!(why.contains("non-public") || why.contains("loopback"), "{text}: {why}");
            }
        }
        assert!(refused("https://10.0.0.1", true).contains("non-public"));
        for text in [
            "https://127.0.0.1:8443",
            "https://[::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://0x7f.1/x",
            "http://127.0.0.1:1",
        ] {
            assert!(refused(text, false).contains("--allow-insecure-idp-urls"), "{text}");
            assert!(check_url("u", text, true).is_ok(), "{text}");
        }
        assert!(check_url("u", "https://8.8.8.8/jwks", false).is_ok());
        assert!(check_url("u", "https://[2606:4700::1111]/jwks", false).is_ok());
    }

    #[test]
    fn subject_claims_are_a_closed_list() {
        assert_eq!(subject_claim(None, "azp").unwrap(), "azp");
        assert_eq!(subject_claim(Some("oid"), "sub").unwrap(), "oid");
        assert!(subject_claim(Some("email"), "sub").is_err());
    }
}
