//! Who is calling `/api/mcp`: a JWT from a trusted IdP names an agent; an API key names a user or
//! an agent. Agents are read from the database on every request, so a change takes effect on the
//! next call; JWT signing keys come from the JWKS cache.

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
use crate::schema::{agent_api_keys, agent_idp_providers, agent_roles, agents, role_grants, role_names, tenant_slugs};

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

pub async fn authenticate(
    ctx: &AppContext,
    gov: &Governance,
    headers: &HeaderMap,
    scope: &Scope,
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
        return api_key(ctx, key, scope).await;
    }
    match bearer {
        None => Err(Refusal::Missing),
        Some(token) if jwt::looks_like_jwt(&token) => agent_token(ctx, gov, &token, scope).await,
        Some(key) => api_key(ctx, &key, scope).await,
    }
}

async fn api_key(ctx: &AppContext, presented: &str, scope: &Scope) -> Result<Identity, Refusal> {
    let invalid = || Refusal::Invalid("the API key is invalid, expired or revoked".into());
    let principal = match ctx.auth.authenticate(presented).await {
        Ok(user) => user,
        Err(e) if e.status().as_u16() == 401 => agent_key(ctx, presented).await?.ok_or_else(invalid)?,
        Err(e) => return Err(Refusal::Failed(e)),
    };
    if scope.tenant_id().is_some_and(|t| t != principal.tenant_id) {
        return Err(invalid());
    }
    Ok(Identity { principal, issuer: None, subject: None })
}

/// An agent's API key: the key must be live and its agent active.
async fn agent_key(ctx: &AppContext, presented: &str) -> Result<Option<Arc<Principal>>, Refusal> {
    if !presented.starts_with(alga_core::identity::API_KEY_PREFIX) || presented.len() > 128 {
        return Ok(None);
    }
    let hash = key_hash(presented);
    let found = ctx
        .db
        .run(move |conn| {
            // The key, its agent, the tenant's slug and the agent's grants in one query.
            type KeyRow = (Option<NaiveDateTime>, Option<NaiveDateTime>, String, LiveAgent, Grant);
            let rows: Vec<KeyRow> = alga_core::on_backend!(conn, |c| with_grants!(
                agent_api_keys::table
                    .inner_join(
                        agents::table.on(agents::tenant_id
                            .eq(agent_api_keys::tenant_id)
                            .and(agents::id.nullable().eq(agent_api_keys::agent_id))),
                    )
                    .inner_join(tenant_slugs::table.on(tenant_slugs::id.eq(agent_api_keys::tenant_id)))
            )
            .filter(agent_api_keys::key_hash.eq(&hash))
            .select((
                agent_api_keys::expires_at,
                agent_api_keys::revoked_at,
                agent_api_keys::id,
                LIVE_AGENT,
                grant_columns!()
            ))
            .load(c))?;
            let Some((expires_at, None, key_id, agent, _)) = rows.first().cloned() else { return Ok(None) };
            if expires_at.is_some_and(|at| at <= now()) {
                return Ok(None);
            }
            Ok::<_, ApiError>(principal_of(agent, rows.into_iter().map(|row| row.4), Some(key_id)))
        })
        .await?;
    Ok(found.map(Arc::new))
}

/// What the database says about a token before its signature is checked: each active IdP with
/// its issuer, and the agent bound to the subject the token claims for it.
struct Candidate {
    idp: Idp,
    claimed: Option<String>,
    /// The bound agent: `Some(None)` when it exists but is deactivated.
    agent: Option<Option<Principal>>,
}

/// A JWT: its issuer must be an active IdP (of the scope's tenant, on a per-tenant endpoint); its
/// signature, audience and times must check out; its subject must name a live agent.
///
/// The IdP and the agent are read in one round trip, ahead of verification, using the subject the
/// token claims; the agent is used only if verification then yields that same subject.
async fn agent_token(ctx: &AppContext, gov: &Governance, token: &str, scope: &Scope) -> Result<Identity, Refusal> {
    let seen = jwt::inspect(token)?;
    let (issuer, tenant, claims) = (seen.issuer.clone(), scope.tenant_id().map(str::to_owned), seen.claims.clone());
    let candidates: Vec<Candidate> = ctx
        .db
        .run(move |conn| {
            let mut q = agent_idp_providers::table
                .filter(agent_idp_providers::issuer.eq(&issuer).and(agent_idp_providers::active.eq(true)))
                .into_boxed();
            if let Some(t) = &tenant {
                q = q.filter(agent_idp_providers::tenant_id.eq(t));
            }
            let idps: Vec<Idp> = q.select(Idp::as_select()).load(conn)?;
            let mut out = Vec::with_capacity(idps.len());
            for idp in idps {
                let claimed = claims.get(&idp.subject_claim).and_then(|v| v.as_str()).map(str::to_owned);
                let agent = match &claimed {
                    Some(subject) => bound_agent(conn, &idp, subject)?,
                    None => None,
                };
                out.push(Candidate { idp, claimed, agent });
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    if candidates.is_empty() {
        return Err(Rejection::UnknownIssuer(seen.issuer.chars().take(200).collect()).into());
    }
    let mut first_rejection = None;
    let mut matches = Vec::new();
    for candidate in candidates {
        let audience = match scope {
            Scope::Instance => candidate.idp.audience.clone(),
            Scope::Tenant { slug, .. } => resource_url(ctx, Some(slug)),
        };
        match verify_with(gov, token, &seen, &candidate.idp, &audience).await {
            Ok(subject) if Some(&subject) == candidate.claimed.as_ref() => matches.push((subject, candidate.agent)),
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
    let bound: Vec<&Option<Principal>> = matches.iter().filter_map(|(_, agent)| agent.as_ref()).collect();
    match bound.as_slice() {
        [] => Err(Refusal::Forbidden(format!("No active agent is bound to {describe}."))),
        [None] => Err(Refusal::Forbidden(format!("The agent bound to {describe} is deactivated."))),
        [Some(principal)] => Ok(Identity {
            principal: Arc::new(principal.clone()),
            issuer: Some(seen.issuer.clone()),
            subject: Some(subject.clone()),
        }),
        _ => Err(Refusal::Forbidden(format!(
            "Agents in several tenants are bound to {describe}; use your tenant's endpoint /t/<tenant>/api/mcp."
        ))),
    }
}

/// The live agent bound to (IdP, subject), with its grants: `Some(Some(..))` active, `Some(None)`
/// deactivated.
fn bound_agent(conn: &mut alga_core::DbConn, idp: &Idp, subject: &str) -> Result<Option<Option<Principal>>, ApiError> {
    let rows: Vec<(LiveAgent, Grant)> = alga_core::on_backend!(conn, |c| with_grants!(
        agents::table.inner_join(tenant_slugs::table.on(tenant_slugs::id.eq(agents::tenant_id)))
    )
    .filter(agents::tenant_id.eq(&idp.tenant_id).and(agents::idp_id.eq(&idp.id)).and(agents::subject.eq(subject)))
    .filter(agents::retired_at.is_null())
    .select((LIVE_AGENT, grant_columns!()))
    .load(c))?;
    let Some((agent, _)) = rows.first().cloned() else { return Ok(None) };
    Ok(Some(principal_of(agent, rows.into_iter().map(|row| row.1), None)))
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
