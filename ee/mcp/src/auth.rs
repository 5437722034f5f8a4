//! Who is calling `/api/mcp`: a JWT from a trusted IdP names an agent; an API key names a user or
//! an agent. An agent and its grants are cached with their tenant's grant epoch, which the audit
//! of each call checks, so a change still takes effect on the next call; JWT signing keys come
//! from the JWKS cache.

use std::sync::Arc;
use std::time::SystemTime;

use actix_web::http::header::{self, HeaderMap};
use alga_core::identity::{Principal, key_hash, now};
use alga_core::{ApiError, AppContext};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::Governance;
use crate::agents::{Grant, LIVE_AGENT, LiveAgent, grant_columns, principal_of, with_grants};
use crate::idp::{Idp, resource_url};
use crate::jwt::{self, Rejection};
use crate::schema::{
    agent_api_keys, agent_idp_providers, agent_roles, agents, grant_epochs, role_grants, role_names, tenant_slugs,
};
use serde_json::{Value, json};

/// Which endpoint is being called: instance-wide, or one tenant's.
#[derive(Debug, Clone)]
pub enum Scope {
    Instance,
    Tenant { id: String, slug: String },
}

impl Scope {
    fn tenant_id(&self) -> Option<&str> {
        match self {
            Scope::Instance => None,
            Scope::Tenant { id, .. } => Some(id),
        }
    }
}

/// The authenticated caller and how it proved itself.
#[derive(Debug, Clone)]
pub struct Identity {
    pub principal: Arc<Principal>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    /// For an agent, its tenant's grant epoch read no later than its grants: the audit of each
    /// call checks it is still current.
    pub epoch: Option<i64>,
    /// Read from the database for this request, not from [`AgentCache`].
    pub fresh: bool,
    /// For a JWT, the JWKS URL whose key signed it.
    pub signed_by: Option<String>,
}

impl Identity {
    fn user(principal: Arc<Principal>) -> Identity {
        Identity { principal, issuer: None, subject: None, epoch: None, fresh: true, signed_by: None }
    }
}

/// An agent key as last read: the agent's principal, the epoch read in the same statement, and
/// when the key expires.
#[derive(Debug, Clone)]
struct CachedKey {
    principal: Arc<Principal>,
    epoch: i64,
    expires_at: Option<NaiveDateTime>,
}

/// Agents as authentication last read them. Serving a stale entry is harmless by construction:
/// each entry carries the grant epoch read no later than it, a call made with it is audited only
/// if that epoch is still current, and otherwise the request is made again with a fresh read
/// (see `endpoint`). The bounds only cap memory.
#[derive(Debug)]
pub struct AgentCache {
    keys: moka::sync::Cache<String, CachedKey>,
    tokens: moka::sync::Cache<String, Arc<Vec<Candidate>>>,
    /// Tokens already verified, by SHA-256 and endpoint, until their `exp`. Held for less time
    /// than the JWKS cache keeps signing keys, so dropping a key from the JWKS takes no longer.
    verified: moka::sync::Cache<String, VerifiedToken>,
}

/// A token that passed verification: who it names, and its `exp` (honoured with the same leeway
/// as verification gives it).
#[derive(Debug, Clone)]
struct VerifiedToken {
    identity: Identity,
    expires_at: i64,
    /// The signing key's id: the token counts as verified only while the provider still
    /// publishes it (checked against the keys last fetched, so a key removed from the JWKS stops
    /// verifying at the next refresh).
    kid: Option<String>,
}

/// How long a verified token is remembered at most.
const VERIFIED_TTL: std::time::Duration = std::time::Duration::from_secs(300);

impl Default for AgentCache {
    fn default() -> Self {
        let ttl = std::time::Duration::from_secs(600);
        AgentCache {
            keys: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
            tokens: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
            verified: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(VERIFIED_TTL).build(),
        }
    }
}

/// Why a caller was not let in.
#[derive(Debug)]
pub enum Refusal {
    /// No credential at all: 401 without an error code (RFC 6750 §3.1).
    Missing,
    /// 401 `invalid_token`, saying why.
    Invalid(String),
    /// 403: the credential is good but names no live agent.
    Forbidden(String),
    /// 403: a verified token whose subject no agent is bound to.
    Unbound(String),
    /// 403 `insufficient_scope`: the token lacks a scope or role its provider requires; the
    /// challenge names `scope`, what the client should request.
    InsufficientScope { why: String, scope: String },
    /// 401: a key this server issued to an agent, now revoked or expired, or its agent
    /// deactivated or retired: refused like an unknown key, and audited in its tenant.
    Ended(EndedKey),
    /// The database or another dependency failed.
    Failed(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Failed(e)
    }
}

impl From<Rejection> for Refusal {
    fn from(r: Rejection) -> Self {
        Refusal::Invalid(r.to_string())
    }
}

/// A known agent key that no longer works.
#[derive(Debug, Clone)]
pub struct EndedKey {
    pub tenant_id: String,
    pub agent_id: String,
    pub key_id: String,
}

/// Who is calling; `fresh` reads an agent from the database even when it is cached.
pub async fn authenticate(
    ctx: &AppContext,
    gov: &Governance,
    headers: &HeaderMap,
    scope: &Scope,
    fresh: bool,
) -> Result<Identity, Refusal> {
    let bearer = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v.to_str().map_err(|_| Refusal::Invalid("the Authorization header is malformed".into()))?;
            match v.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim().to_owned()),
                _ => return Err(Refusal::Invalid("use Authorization: Bearer <token>".into())),
            }
        }
    };
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().map_err(|_| Refusal::Invalid("the API key is invalid, expired or revoked".into()))?;
        return api_key(ctx, gov, key, scope, fresh).await;
    }
    match bearer {
        None => Err(Refusal::Missing),
        Some(token) if jwt::looks_like_jwt(&token) => agent_token(ctx, gov, &token, scope, fresh).await,
        Some(key) => api_key(ctx, gov, &key, scope, fresh).await,
    }
}

async fn api_key(
    ctx: &AppContext,
    gov: &Governance,
    presented: &str,
    scope: &Scope,
    fresh: bool,
) -> Result<Identity, Refusal> {
    let invalid = || Refusal::Invalid("the API key is invalid, expired or revoked".into());
    let identity = match ctx.auth.authenticate(presented).await {
        Ok(user) => Identity::user(user),
        Err(e) if e.status().as_u16() == 401 => agent_key(ctx, gov, presented, fresh).await?.ok_or_else(invalid)?,
        Err(e) => return Err(Refusal::Failed(e)),
    };
    if scope.tenant_id().is_some_and(|t| t != identity.principal.tenant_id) {
        return Err(invalid());
    }
    Ok(identity)
}

/// An agent's API key: the key must be live and its agent active.
async fn agent_key(
    ctx: &AppContext,
    gov: &Governance,
    presented: &str,
    fresh: bool,
) -> Result<Option<Identity>, Refusal> {
    if !presented.starts_with(alga_core::identity::API_KEY_PREFIX) || presented.len() > 128 {
        return Ok(None);
    }
    let hash = key_hash(presented);
    let live = |k: &CachedKey| k.expires_at.is_none_or(|at| at > now());
    let identity = |k: CachedKey, fresh| Identity {
        principal: k.principal,
        issuer: None,
        subject: None,
        epoch: Some(k.epoch),
        fresh,
        signed_by: None,
    };
    if !fresh && let Some(key) = gov.agents.keys.get(&hash).filter(live) {
        return Ok(Some(identity(key, false)));
    }
    let lookup = hash.clone();
    match ctx.db.run(move |conn| read_agent_key(conn, &lookup)).await? {
        KeyRead::Live(key) if live(&key) => {
            gov.agents.keys.insert(hash, key.clone());
            Ok(Some(identity(key, true)))
        }
        KeyRead::Live(key) => {
            gov.agents.keys.invalidate(&hash);
            let agent_id = key.principal.agent_id().unwrap_or_default().to_owned();
            let key_id = key.principal.api_key_id.clone().unwrap_or_default();
            Err(Refusal::Ended(EndedKey { tenant_id: key.principal.tenant_id.clone(), agent_id, key_id }))
        }
        KeyRead::Ended(ended) => {
            gov.agents.keys.invalidate(&hash);
            Err(Refusal::Ended(ended))
        }
        KeyRead::Unknown => {
            gov.agents.keys.invalidate(&hash);
            Ok(None)
        }
    }
}

/// What the database says of a presented agent key.
enum KeyRead {
    /// The key is not revoked and its agent is live (it may still have expired).
    Live(CachedKey),
    /// Revoked, or its agent deactivated or retired.
    Ended(EndedKey),
    /// No agent key has this hash.
    Unknown,
}

/// The key, its agent, the tenant's slug and grant epoch, and the agent's grants, in one statement
/// (so the epoch is as old as the grants).
fn read_agent_key(conn: &mut alga_core::DbConn, hash: &str) -> Result<KeyRead, ApiError> {
    type KeyRow = (Option<NaiveDateTime>, Option<NaiveDateTime>, String, Option<i64>, LiveAgent, Grant);
    let rows: Vec<KeyRow> = alga_core::on_backend!(conn, |c| with_grants!(
        agent_api_keys::table
            .inner_join(agents::table.on(
                agents::tenant_id.eq(agent_api_keys::tenant_id).and(agents::id.nullable().eq(agent_api_keys::agent_id))
            ),)
            .inner_join(tenant_slugs::table.on(tenant_slugs::id.eq(agent_api_keys::tenant_id)))
            .left_join(grant_epochs::table.on(grant_epochs::tenant_id.eq(agent_api_keys::tenant_id)))
    )
    .filter(agent_api_keys::key_hash.eq(hash))
    .select((
        agent_api_keys::expires_at,
        agent_api_keys::revoked_at,
        agent_api_keys::id,
        grant_epochs::epoch.nullable(),
        LIVE_AGENT,
        grant_columns!()
    ))
    .load(c))?;
    let Some((expires_at, revoked_at, key_id, epoch, agent, _)) = rows.first().cloned() else {
        return Ok(KeyRead::Unknown);
    };
    let ended = EndedKey { tenant_id: agent.tenant_id.clone(), agent_id: agent.id.clone(), key_id: key_id.clone() };
    if revoked_at.is_some() {
        return Ok(KeyRead::Ended(ended));
    }
    Ok(match principal_of(agent, rows.into_iter().map(|row| row.5), Some(key_id)) {
        Some(p) => KeyRead::Live(CachedKey { principal: Arc::new(p), epoch: epoch.unwrap_or(0), expires_at }),
        None => KeyRead::Ended(ended),
    })
}

/// What the database says about a token before its signature is checked: each active IdP with
/// its issuer, and the agent bound to the subject the token claims for it.
#[derive(Debug)]
pub struct Candidate {
    idp: Idp,
    /// The IdP's tenant's grant epoch, read before the agent.
    epoch: i64,
    claimed: Option<String>,
    /// The bound agent: `Some(None)` when it exists but is deactivated.
    agent: Option<Option<Arc<Principal>>>,
}

/// A JWT: its issuer must be an active IdP (of the scope's tenant, on a per-tenant endpoint); its
/// signature, audience and times must check out; its subject must name a live agent.
///
/// The IdP and the agent are read in one round trip, ahead of verification, using the subject the
/// token claims; the agent is used only if verification then yields that same subject.
async fn agent_token(
    ctx: &AppContext,
    gov: &Governance,
    token: &str,
    scope: &Scope,
    fresh: bool,
) -> Result<Identity, Refusal> {
    let token_key = format!("{}:{}", scope.tenant_id().unwrap_or_default(), key_hash(token));
    let unix_now = || SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if !fresh && let Some(known) = gov.agents.verified.get(&token_key) {
        let published = match &known.identity.signed_by {
            Some(uri) => gov.jwks.publishes(uri, known.kid.as_deref()).await,
            None => false,
        };
        if published && known.expires_at + jwt::LEEWAY.as_secs() as i64 > unix_now() {
            return Ok(Identity { fresh: false, ..known.identity });
        }
        gov.agents.verified.invalidate(&token_key);
    }
    let seen = jwt::inspect(token)?;
    let remember = |identity: &Identity| {
        // A token without a `kid` cannot be tied to the key that verified it: it is verified
        // every time, so a key taken out of the provider's set stops working at the next refresh.
        if seen.kid.is_none() {
            return;
        }
        if let Some(expires_at) = seen.claims.get("exp").and_then(Value::as_i64) {
            let known = VerifiedToken { identity: identity.clone(), expires_at, kid: seen.kid.clone() };
            gov.agents.verified.insert(token_key.clone(), known);
        }
    };
    let cache_key = token_cache_key(scope, &seen);
    let cached = if fresh { None } else { gov.agents.tokens.get(&cache_key) };
    if let Some(candidates) = cached
        && let Ok(identity) = decide(ctx, gov, token, scope, &seen, &candidates, false).await
    {
        remember(&identity);
        return Ok(identity);
    }
    // Not cached, or refused on what was cached: a refusal is only ever given on a fresh read.
    let (issuer, tenant, claims) = (seen.issuer.clone(), scope.tenant_id().map(str::to_owned), seen.claims.clone());
    let candidates =
        Arc::new(ctx.db.run(move |conn| read_candidates(conn, &issuer, tenant.as_deref(), &claims)).await?);
    if !candidates.is_empty() {
        gov.agents.tokens.insert(cache_key, candidates.clone());
    }
    let identity = match decide(ctx, gov, token, scope, &seen, &candidates, true).await {
        // On an instance several tenants share, the instance-wide endpoint gives one refusal for
        // every token it cannot verify, so that nobody learns which issuers, keys and audiences
        // other tenants registered; each tenant's own endpoint says why.
        // A verified token that no agent is bound to would tell as much (that some tenant trusts
        // its issuer with that audience).
        Err(Refusal::Invalid(why) | Refusal::Unbound(why))
            if matches!(scope, Scope::Instance) && ctx.db.run(crate::metadata::shared_by_tenants).await? =>
        {
            tracing::debug!(reason = %why, "token refused on the shared endpoint");
            return Err(Refusal::Invalid(NOT_ACCEPTED.into()));
        }
        decided => decided?,
    };
    remember(&identity);
    Ok(identity)
}

/// The instance-wide endpoint's one refusal of an unverifiable token on a shared instance.
pub const NOT_ACCEPTED: &str = "the token was not accepted here: on a server shared by several organizations, \
    use your organization's endpoint /t/<tenant>/api/mcp, whose answers say why a token is refused";

/// What a token's unverified issuer and subject claims map to, within the endpoint's scope.
fn token_cache_key(scope: &Scope, seen: &jwt::Unverified) -> String {
    let claims = crate::idp::SUBJECT_CLAIMS.map(|c| seen.claims.get(c).and_then(Value::as_str));
    json!([scope.tenant_id(), seen.issuer, claims]).to_string()
}

/// Each active IdP with this issuer (of `tenant`, if given), its tenant's grant epoch read in the
/// same statement, and the agent bound to the subject the token claims for it.
fn read_candidates(
    conn: &mut alga_core::DbConn,
    issuer: &str,
    tenant: Option<&str>,
    claims: &serde_json::Map<String, Value>,
) -> Result<Vec<Candidate>, ApiError> {
    let mut q = agent_idp_providers::table
        .left_join(grant_epochs::table.on(grant_epochs::tenant_id.eq(agent_idp_providers::tenant_id)))
        .filter(agent_idp_providers::issuer.eq(issuer).and(agent_idp_providers::active.eq(true)))
        .into_boxed();
    if let Some(t) = tenant {
        q = q.filter(agent_idp_providers::tenant_id.eq(t));
    }
    let idps: Vec<(Idp, Option<i64>)> = q.select((Idp::as_select(), grant_epochs::epoch.nullable())).load(conn)?;
    let mut out = Vec::with_capacity(idps.len());
    for (idp, epoch) in idps {
        let claimed = claims.get(&idp.subject_claim).and_then(|v| v.as_str()).map(str::to_owned);
        let agent = match &claimed {
            Some(subject) => bound_agent(conn, &idp, subject)?,
            None => None,
        };
        out.push(Candidate { idp, epoch: epoch.unwrap_or(0), claimed, agent });
    }
    Ok(out)
}

/// Verifies the token against each candidate IdP and names the one live agent it maps to.
async fn decide(
    ctx: &AppContext,
    gov: &Governance,
    token: &str,
    scope: &Scope,
    seen: &jwt::Unverified,
    candidates: &[Candidate],
    fresh: bool,
) -> Result<Identity, Refusal> {
    if candidates.is_empty() {
        return Err(Rejection::UnknownIssuer(seen.issuer.chars().take(200).collect()).into());
    }
    let mut first_rejection = None;
    let mut matches = Vec::new();
    for candidate in candidates {
        let mut verified = Err(Rejection::BadSignature);
        for audience in audiences(ctx, scope, &candidate.idp) {
            verified = verify_with(gov, token, seen, &candidate.idp, &audience).await;
            if !matches!(verified, Err(Rejection::WrongAudience(_))) {
                break;
            }
        }
        match verified {
            Ok(subject) if Some(&subject) == candidate.claimed.as_ref() => matches.push((subject, candidate)),
            Ok(_) => {
                first_rejection.get_or_insert(Rejection::Malformed);
            }
            Err(r) => {
                first_rejection.get_or_insert(r);
            }
        }
    }
    let Some((subject, _)) = matches.first() else {
        return Err(first_rejection.unwrap_or(Rejection::BadSignature).into());
    };
    let describe = format!("issuer {} and subject {subject}", seen.issuer);
    let bound: Vec<(&Option<Arc<Principal>>, &Candidate)> =
        matches.iter().filter_map(|(_, c)| c.agent.as_ref().map(|agent| (agent, *c))).collect();
    match bound.as_slice() {
        [] => Err(Refusal::Unbound(format!("No active agent is bound to {describe}."))),
        [(None, _)] => Err(Refusal::Forbidden(format!("The agent bound to {describe} is deactivated."))),
        [(Some(_), candidate)] if let Some(why) = lacking(&candidate.idp, &seen.claims) => {
            let idp = &candidate.idp;
            let scope = if idp.scopes.is_empty() { &idp.required_scopes } else { &idp.scopes };
            Err(Refusal::InsufficientScope { why, scope: scope.clone() })
        }
        [(Some(principal), candidate)] => Ok(Identity {
            principal: principal.clone(),
            issuer: Some(seen.issuer.clone()),
            subject: Some(subject.clone()),
            epoch: Some(candidate.epoch),
            fresh,
            signed_by: candidate.idp.jwks_uri.clone(),
        }),
        _ => Err(Refusal::Forbidden(format!(
            "Agents in several tenants are bound to {describe}; use your tenant's endpoint /t/<tenant>/api/mcp."
        ))),
    }
}

/// What a verified token lacks of its provider's required scopes (in `scp`, a list or a
/// space-separated string, or `scope`) and roles (`roles`), said in words; `None` if nothing.
pub fn lacking(idp: &Idp, claims: &serde_json::Map<String, Value>) -> Option<String> {
    let names = |claim: &str| -> Vec<&str> {
        match claims.get(claim) {
            Some(Value::String(text)) => text.split_whitespace().collect(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    };
    let granted: Vec<&str> = names("scp").into_iter().chain(names("scope")).collect();
    let roles = names("roles");
    let missing_scopes: Vec<&str> = idp.required_scopes.split_whitespace().filter(|s| !granted.contains(s)).collect();
    let missing_roles: Vec<&str> = idp.required_roles.split_whitespace().filter(|r| !roles.contains(r)).collect();
    let mut why = Vec::new();
    if !missing_scopes.is_empty() {
        why.push(format!("the scope {} (in scp or scope)", missing_scopes.join(", ")));
    }
    if !missing_roles.is_empty() {
        why.push(format!("the role {} (in roles)", missing_roles.join(", ")));
    }
    (!why.is_empty()).then(|| format!("the token lacks {}, which its identity provider requires", why.join(" and ")))
}

/// The live agent bound to (IdP, subject), with its grants: `Some(Some(..))` active, `Some(None)`
/// deactivated.
fn bound_agent(
    conn: &mut alga_core::DbConn,
    idp: &Idp,
    subject: &str,
) -> Result<Option<Option<Arc<Principal>>>, ApiError> {
    let rows: Vec<(LiveAgent, Grant)> = alga_core::on_backend!(conn, |c| with_grants!(
        agents::table.inner_join(tenant_slugs::table.on(tenant_slugs::id.eq(agents::tenant_id)))
    )
    .filter(agents::tenant_id.eq(&idp.tenant_id).and(agents::idp_id.eq(&idp.id)).and(agents::subject.eq(subject)))
    .filter(agents::retired_at.is_null())
    .select((LIVE_AGENT, grant_columns!()))
    .load(c))?;
    let Some((agent, _)) = rows.first().cloned() else { return Ok(None) };
    Ok(Some(principal_of(agent, rows.into_iter().map(|row| row.1), None).map(Arc::new)))
}

/// The audiences a token may carry on this endpoint: the provider's own; on a tenant's endpoint
/// also that endpoint's URL (only the tenant's providers are weighed there, so its agents can use
/// it whatever audience their provider was registered with, and whatever other tenants register).
fn audiences(ctx: &AppContext, scope: &Scope, idp: &Idp) -> Vec<String> {
    let own_slug = match scope {
        Scope::Instance => None,
        Scope::Tenant { slug, .. } => Some(slug.as_str()),
    };
    // A provider registered with another tenant's endpoint as its audience never lets tokens
    // meant for that tenant act here.
    let registered = (!crate::idp::names_other_tenant(ctx, &idp.audience, own_slug)).then(|| idp.audience.clone());
    // Entra: the default Application ID URI is api://<client id>; v1.0 tokens carry it, v2.0
    // tokens the bare client id. Registering either form accepts both.
    let entra_client_id = (idp.kind == "microsoft")
        .then(|| idp.audience.strip_prefix("api://"))
        .flatten()
        .filter(|id| is_guid(id))
        .map(str::to_owned);
    registered.into_iter().chain(entra_client_id).chain(own_slug.map(|slug| resource_url(ctx, Some(slug)))).collect()
}

/// A GUID as Entra writes them: 8-4-4-4-12 hexadecimal digits.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

async fn verify_with(
    gov: &Governance,
    token: &str,
    seen: &jwt::Unverified,
    idp: &Idp,
    audience: &str,
) -> Result<String, Rejection> {
    let uri = idp.jwks_uri.as_deref().ok_or(Rejection::KeysUnavailable)?;
    let keys = match &seen.kid {
        Some(kid) => gov.jwks.keys_with(uri, kid).await?,
        None => gov.jwks.keys(uri).await?,
    };
    let verifier = keys.verifier(seen.kid.as_deref(), &seen.algorithm)?;
    let payload = jwt::verify(token, verifier, &idp.issuer, audience, SystemTime::now())?;
    jwt::subject(&payload, &idp.subject_claim)
}

/// One line of the IdP doctor's report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub label: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// What the IdP doctor found: each rule in the order the endpoint applies them, and the verdict
/// (`Ok`: who the token signs in as; `Err`: why it is refused).
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub checks: Vec<Check>,
    pub verdict: Result<String, String>,
}

/// Explains whether `token` would be accepted on one of this tenant's endpoints (the instance-wide
/// one, or `/t/{slug}/api/mcp`), and if not exactly why. It applies the endpoint's own rules and
/// keys, but only ever looks at the tenant's own identity providers and agents.
pub async fn diagnose(
    ctx: &AppContext,
    gov: &Governance,
    tenant_id: &str,
    tenant_slug: &str,
    token: &str,
    per_tenant: bool,
) -> Result<Diagnosis, ApiError> {
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").or_else(|| token.strip_prefix("bearer ")).unwrap_or(token).trim();
    let mut checks = Vec::new();
    let fail = |checks: &mut Vec<Check>, label, detail: String| {
        checks.push(Check { label, passed: false, detail: detail.clone() });
        detail
    };
    let seen = match jwt::inspect(token) {
        Ok(seen) => seen,
        Err(r) => {
            let why = fail(&mut checks, "Format", format!("Refused: {r}."));
            return Ok(Diagnosis { checks, verdict: Err(why) });
        }
    };
    checks.push(Check {
        label: "Format",
        passed: true,
        detail: format!("A JWT signed with {}, key id {}.", seen.algorithm, seen.kid.as_deref().unwrap_or("(none)")),
    });
    let (tenant, issuer) = (tenant_id.to_owned(), seen.issuer.clone());
    let idp: Option<Idp> = ctx
        .db
        .run(move |conn| {
            Ok::<_, ApiError>(
                agent_idp_providers::table
                    .filter(agent_idp_providers::tenant_id.eq(&tenant).and(agent_idp_providers::issuer.eq(&issuer)))
                    .select(Idp::as_select())
                    .first(conn)
                    .optional()?,
            )
        })
        .await?;
    let idp = match idp {
        Some(idp) if idp.active => {
            checks.push(Check {
                label: "Issuer",
                passed: true,
                detail: format!("{} is a trusted {} provider.", seen.issuer, idp.kind),
            });
            idp
        }
        Some(_) => {
            let why =
                fail(&mut checks, "Issuer", format!("{} is registered but deactivated: reactivate it.", seen.issuer));
            return Ok(Diagnosis { checks, verdict: Err(why) });
        }
        None => {
            let why = fail(&mut checks, "Issuer", unknown_issuer_advice(&seen.issuer));
            return Ok(Diagnosis { checks, verdict: Err(why) });
        }
    };
    let scope = if per_tenant {
        Scope::Tenant { id: tenant_id.to_owned(), slug: tenant_slug.to_owned() }
    } else {
        Scope::Instance
    };
    let expected = audiences(ctx, &scope, &idp);
    let audiences: Vec<String> = match seen.claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let audience = expected.iter().find(|a| audiences.contains(a)).or(expected.first()).cloned().unwrap_or_default();
    let aud_ok = audiences.contains(&audience);
    checks.push(Check {
        label: "Audience",
        passed: aud_ok,
        detail: if aud_ok {
            format!("The token is for {audience}.")
        } else {
            audience_advice(&idp, &audiences, &expected)
        },
    });
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let leeway = jwt::LEEWAY.as_secs() as i64;
    let when = |at: i64| {
        chrono::DateTime::from_timestamp(at, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default()
    };
    let exp = seen.claims.get("exp").and_then(Value::as_i64);
    let nbf = seen.claims.get("nbf").and_then(Value::as_i64);
    let (times_ok, times) = match exp {
        None => (false, "The token has no expiry (exp).".to_owned()),
        Some(exp) if exp + leeway <= now => (false, format!("The token expired at {}.", when(exp))),
        Some(_) if nbf.is_some_and(|n| n > now + leeway) => {
            (false, format!("The token is not valid before {}.", when(nbf.unwrap_or_default())))
        }
        Some(exp) => (true, format!("Valid until {} ({} min from now).", when(exp), (exp - now).max(0) / 60)),
    };
    checks.push(Check { label: "Lifetime", passed: times_ok, detail: times });
    let verified = verify_with(gov, token, &seen, &idp, &audience).await;
    let signature = match &verified {
        Ok(_) => Check { label: "Signature", passed: true, detail: "Signed by one of the provider's keys.".to_owned() },
        Err(
            r @ (Rejection::KeysUnavailable
            | Rejection::KidRequired
            | Rejection::UnknownKey(_)
            | Rejection::KeyAlgorithm(_)
            | Rejection::BadSignature),
        ) => Check { label: "Signature", passed: false, detail: format!("Refused: {r}.") },
        // Every other refusal is of a claim, which `jwt::verify` checks only once the signature held.
        Err(_) => {
            Check { label: "Signature", passed: true, detail: "Signed by one of the provider's keys.".to_owned() }
        }
    };
    checks.push(signature);
    let lacks = lacking(&idp, &seen.claims);
    checks.push(match &lacks {
        Some(why) => Check {
            label: "Scopes",
            passed: false,
            detail: format!(
                "{}{why}: grant it to the client at the provider (Entra: an application permission, i.e. an app role, \
                 with admin consent; Okta, Auth0, Keycloak: the API's scope), or change the provider's required scopes and roles.",
                why[..1].to_uppercase()
            ),
        },
        None if idp.required_scopes.is_empty() && idp.required_roles.is_empty() => {
            Check { label: "Scopes", passed: true, detail: "The provider requires no scope or role.".to_owned() }
        }
        None => Check { label: "Scopes", passed: true, detail: "The token has every scope and role the provider requires.".to_owned() },
    });
    let claim = idp.subject_claim.clone();
    let subject = seen.claims.get(&claim).and_then(Value::as_str).map(str::to_owned);
    let agent = match &subject {
        None => Err(format!("The token has no {claim} claim, which names the agent for this provider.")),
        Some(subject) => {
            let (conn_idp, subject) = (idp.clone(), subject.clone());
            let bound = ctx.db.run(move |conn| bound_agent(conn, &conn_idp, &subject)).await?;
            match bound {
                Some(Some(p)) => {
                    let roles: Vec<&str> = p.roles.iter().map(|r| r.name.as_str()).collect();
                    let name = match &p.actor {
                        alga_core::identity::Actor::Agent { name, .. } => name.clone(),
                        alga_core::identity::Actor::User { email, .. } => email.clone(),
                    };
                    Ok(format!(
                        "{claim} = {} maps to the agent {name} (roles: {}).",
                        seen.claims.get(&claim).and_then(Value::as_str).unwrap_or_default(),
                        if roles.is_empty() { "none".to_owned() } else { roles.join(", ") }
                    ))
                }
                Some(None) => {
                    Err(format!("The agent bound to {claim} = {} is deactivated.", subject_text(&seen, &claim)))
                }
                None => Err(format!(
                    "No active agent is bound to {claim} = {}: add an agent with this subject.",
                    subject_text(&seen, &claim)
                )),
            }
        }
    };
    checks.push(match &agent {
        Ok(detail) => Check { label: "Agent", passed: true, detail: detail.clone() },
        Err(detail) => Check { label: "Agent", passed: false, detail: detail.clone() },
    });
    let endpoint = resource_url(ctx, per_tenant.then_some(tenant_slug));
    let verdict = match (verified, agent) {
        (Err(r), _) => Err(format!("Refused with 401 invalid_token: {r}.")),
        (Ok(_), Err(why)) => Err(format!("Refused with 403: {why}")),
        (Ok(_), Ok(_)) if let Some(why) = &lacks => Err(format!("Refused with 403 insufficient_scope: {why}.")),
        (Ok(_), Ok(who)) if per_tenant => Ok(format!("Accepted on {endpoint}: {who}")),
        // The instance-wide endpoint also weighs other organizations' providers, which the doctor
        // does not look at.
        (Ok(_), Ok(who)) => Ok(format!(
            "Accepted on {endpoint} for this organization: {who} (should another organization bind the same issuer and subject, only this organization's endpoint accepts it)"
        )),
    };
    Ok(Diagnosis { checks, verdict })
}

/// Why no provider has this issuer, with the setting to change when the token is shaped like a
/// known provider's.
fn unknown_issuer_advice(issuer: &str) -> String {
    if let Some(tid) = issuer.strip_prefix("https://sts.windows.net/").map(|rest| rest.trim_end_matches('/')) {
        return format!(
            "This is a Microsoft Entra v1.0 token (issuer {issuer}). Alga's Microsoft provider takes v2.0 tokens: in the \
             manifest of the app registration that represents Alga set \"requestedAccessTokenVersion\": 2 \
             (\"accessTokenAcceptedVersion\": 2 in the older manifest format), then request a new token; its issuer will be \
             https://login.microsoftonline.com/{tid}/v2.0."
        );
    }
    if issuer.contains(".okta.com") && !issuer.contains("/oauth2/") {
        return format!(
            "No identity provider of this organization has issuer {issuer}. This is Okta's org authorization server, \
             whose access tokens are for Okta's own APIs: use a custom authorization server (issuer \
             {}/oauth2/default or /oauth2/<id>) and register that issuer.",
            issuer.trim_end_matches('/')
        );
    }
    format!(
        "No identity provider of this organization has issuer {issuer}: add one whose issuer is exactly this \
         (some providers end it with a slash, Auth0 for one)."
    )
}

/// Why the token's audience is not one this endpoint takes, and what to change.
fn audience_advice(idp: &Idp, audiences: &[String], expected: &[String]) -> String {
    let has = if audiences.is_empty() { "no audience".to_owned() } else { audiences.join(", ") };
    let want = expected.join(" or ");
    let advice = match idp.kind.as_str() {
        "microsoft" => format!(
            "Entra v2.0 tokens carry the application (client) ID of the app registration that represents Alga as aud, \
             v1.0 tokens its Application ID URI: if that app is Alga's, set this provider's audience to api://<that \
             client ID> (both forms are then accepted) or to {has}"
        ),
        "google" => {
            format!("Google ID tokens carry the audience they were requested for: request them with audience {want}")
        }
        _ if audiences.iter().any(|a| a == "account") => format!(
            "Keycloak puts only `account` in aud by default: add an Audience mapper (Included Custom Audience: {want}) \
             to the client's dedicated scope, or set this provider's audience to what the provider issues"
        ),
        _ => "have the provider issue tokens for it (Okta: the authorization server's audience; Auth0: the API \
              identifier), or change this provider's audience"
            .to_owned(),
    };
    format!("The token is for {has}, but this endpoint expects {want}. {advice}.")
}

fn subject_text(seen: &jwt::Unverified, claim: &str) -> String {
    seen.claims.get(claim).and_then(Value::as_str).unwrap_or_default().chars().take(200).collect()
}

/// Whether `principal` may still run an operation needing `needed`, decided on what is committed
/// now: called first in the transaction of every governed write, so a deactivation, retirement,
/// role change, IdP deactivation or key revocation committed before the write is honoured by it,
/// whichever process or plain SQL made it. `via_token`: the agent signed in with its IdP's JWT.
pub fn still_permitted(
    conn: &mut alga_core::DbConn,
    principal: &Principal,
    via_token: bool,
    needed: Option<alga_core::rbac::Permission>,
    read_at: Option<i64>,
) -> Result<Standing, ApiError> {
    use alga_core::identity::Actor;
    use alga_core::schema::{api_keys, role_permissions, user_roles, users};
    let tenant = principal.tenant_id.as_str();
    let ended = || ApiError::unauthorized("The credential is no longer valid: it was revoked, expired or deactivated.");
    // Key ids are never empty: without a key, the key's join matches nothing.
    let key_id = principal.api_key_id.clone().unwrap_or_default();
    /// The key's id (present only when it belongs to this principal), revocation and expiry.
    type KeyState = (Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>);
    let key_live = |(found, revoked, expires): &KeyState| {
        principal.api_key_id.is_none() || (found.is_some() && revoked.is_none() && expires.is_none_or(|at| at > now()))
    };
    /// One row per role granting the needed permission (or one row without a grant): the
    /// principal, its key and the permission, all read in one statement. Only the needed
    /// permission is read: the decision needs no other.
    type Grant = (Option<String>, Option<String>);
    // An operation needing no permission joins no grant (no resource is named "").
    let wanted = needed.map_or(("", ""), |p| (p.resource.as_str(), p.action.as_str()));
    let granted: alga_core::rbac::PermissionSet = match &principal.actor {
        Actor::Agent { id, .. } => {
            type Row = (bool, Option<NaiveDateTime>, Option<bool>, Option<i64>, KeyState, Grant);
            let rows: Vec<Row> = alga_core::on_backend!(&mut *conn, |c| agents::table
                .left_join(
                    agent_idp_providers::table.on(agent_idp_providers::tenant_id
                        .eq(agents::tenant_id)
                        .and(agent_idp_providers::id.nullable().eq(agents::idp_id))),
                )
                .left_join(
                    agent_api_keys::table.on(agent_api_keys::tenant_id
                        .eq(agents::tenant_id)
                        .and(agent_api_keys::id.eq(key_id))
                        .and(agent_api_keys::agent_id.eq(agents::id.nullable()))),
                )
                .left_join(grant_epochs::table.on(grant_epochs::tenant_id.eq(agents::tenant_id)))
                .left_join(
                    agent_roles::table
                        .on(agent_roles::tenant_id.eq(agents::tenant_id).and(agent_roles::agent_id.eq(agents::id))),
                )
                .left_join(
                    role_grants::table.on(role_grants::tenant_id
                        .eq(agents::tenant_id)
                        .and(role_grants::role_id.nullable().eq(agent_roles::role_id.nullable()))
                        .and(role_grants::resource.eq(wanted.0))
                        .and(role_grants::action.eq(wanted.1))),
                )
                .filter(agents::tenant_id.eq(tenant).and(agents::id.eq(id)))
                .select((
                    agents::active,
                    agents::retired_at,
                    agent_idp_providers::active.nullable(),
                    grant_epochs::epoch.nullable(),
                    (
                        agent_api_keys::id.nullable(),
                        agent_api_keys::revoked_at.nullable(),
                        agent_api_keys::expires_at.nullable(),
                    ),
                    (role_grants::resource.nullable(), role_grants::action.nullable()),
                ))
                .load(c))?;
            let Some((active, retired, idp_active, epoch, key, _)) = rows.first() else { return Err(ended()) };
            if !key_live(key) {
                return Err(ended());
            }
            // Decided on an identity read before its tenant's grants, providers or bindings last
            // changed (a provider's required scopes or audience, the agent's re-binding among
            // them): decide afresh.
            if read_at.is_some_and(|read| read != epoch.unwrap_or(0)) {
                return Ok(Standing::Stale);
            }
            if !active || retired.is_some() || (via_token && *idp_active != Some(true)) {
                return Err(ApiError::forbidden("This agent is deactivated, retired, or its identity provider is."));
            }
            permissions(rows.iter().map(|row| &row.5))
        }
        Actor::User { id, .. } => {
            type Row = (bool, KeyState, Grant);
            let rows: Vec<Row> = alga_core::on_backend!(&mut *conn, |c| users::table
                .left_join(
                    api_keys::table.on(api_keys::tenant_id
                        .eq(users::tenant_id)
                        .and(api_keys::id.eq(key_id))
                        .and(api_keys::user_id.eq(users::id.nullable()))),
                )
                .left_join(
                    user_roles::table
                        .on(user_roles::tenant_id.eq(users::tenant_id).and(user_roles::user_id.eq(users::id))),
                )
                .left_join(
                    role_permissions::table.on(role_permissions::tenant_id
                        .eq(users::tenant_id)
                        .and(role_permissions::role_id.nullable().eq(user_roles::role_id.nullable()))
                        .and(role_permissions::resource.eq(wanted.0))
                        .and(role_permissions::action.eq(wanted.1))),
                )
                .filter(users::tenant_id.eq(tenant).and(users::id.eq(id)))
                .select((
                    users::active,
                    (api_keys::id.nullable(), api_keys::revoked_at.nullable(), api_keys::expires_at.nullable()),
                    (role_permissions::resource.nullable(), role_permissions::action.nullable()),
                ))
                .load(c))?;
            let Some((active, key, _)) = rows.first() else { return Err(ended()) };
            if !active || !key_live(key) {
                return Err(ended());
            }
            permissions(rows.iter().map(|row| &row.2))
        }
    };
    if let Some(p) = needed {
        alga_core::rbac::authorize(principal.holder(), granted, p)?;
    }
    Ok(Standing::Permitted)
}

/// What a governed write's own transaction decides of a caller that is still allowed in.
/// `Stale` refuses the write as it stands: a caller must act on it, never drop it.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The operation may run.
    Permitted,
    /// The identity was read before its tenant's grants, providers or bindings last changed: the
    /// call is decided again on a fresh identity.
    Stale,
}

/// Why a write was refused before it began when the caller's identity is stale: the call is then
/// decided again on a fresh identity, so nobody sees this.
pub const GRANTS_CHANGED: &str = "The caller's grants changed since they were read; decide again.";

/// The permissions named by the (resource, action) columns of a left join's rows.
fn permissions<'a>(
    grants: impl Iterator<Item = &'a (Option<String>, Option<String>)>,
) -> alga_core::rbac::PermissionSet {
    grants
        .filter_map(|grant| match grant {
            (Some(resource), Some(action)) => alga_core::rbac::Permission::parse(resource, action),
            _ => None,
        })
        .collect()
}

/// First in a governed write's transaction on PostgreSQL: holds the tenant's grant epoch row (a
/// share lock, which concurrent writes also take) until the transaction ends. Every change of
/// grants, bindings or policies moves that epoch, so such a change committed before this lock is
/// seen by what the write reads next, and one not yet committed waits for the write to end:
/// nothing the write decides on can change between its decision and its commit. The row is
/// created (at epoch 0, which a missing row reads as) when the tenant has none yet. SQLite needs
/// nothing: a write transaction holds the database's only write lock.
pub fn hold_grant_epoch(conn: &mut alga_core::DbConn, tenant: &str) -> Result<(), ApiError> {
    let alga_core::DbConn::Postgresql(c) = conn else { return Ok(()) };
    let lock = |c: &mut diesel::PgConnection| -> Result<bool, diesel::result::Error> {
        let held: Option<i64> = grant_epochs::table
            .filter(grant_epochs::tenant_id.eq(tenant))
            .select(grant_epochs::epoch)
            .for_share()
            .first(c)
            .optional()?;
        Ok(held.is_some())
    };
    if !lock(c)? {
        diesel::insert_into(grant_epochs::table)
            .values((grant_epochs::tenant_id.eq(tenant), grant_epochs::epoch.eq(0i64)))
            .on_conflict(grant_epochs::tenant_id)
            .do_nothing()
            .execute(c)?;
        lock(c)?;
    }
    Ok(())
}
