//! Admin sign-in for the web UI: email and password (argon2id), a server-side session in
//! `admin_sessions` behind an `HttpOnly; SameSite=Strict` cookie, a CSRF token per session, and
//! sign-in throttling per account and per address.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use alga_core::admin_audit;
use alga_core::db::write_transaction;
use alga_core::identity::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, PasswordChoice, Principal, hash_password, key_hash, new_id,
    normalize_email, now, store_password_hash, user_principal, verify_password,
};
use alga_core::rbac::BuiltInRole;
use alga_core::schema::{tenants, users};
use alga_core::{ApiError, AppContext};
use chrono::Duration;
use diesel::prelude::*;

use crate::schema::admin_sessions;

/// The session cookie; its value is a random token whose SHA-256 is stored.
pub const COOKIE: &str = "alga_admin";
/// The sign-in form's CSRF cookie (there is no session yet to hold the token).
pub const LOGIN_CSRF_COOKIE: &str = "alga_login_csrf";
/// How long a session lasts after sign-in.
pub const LIFETIME_HOURS: i64 = 8;
/// Failed sign-ins (per account, per address) that pause signing in…
pub const MAX_FAILURES: u32 = 5;
/// Failures an account takes from everywhere together before it pauses: far more than one
/// stranger's, so that one cannot lock its owner out, while many addresses guessing together
/// still meet a ceiling.
pub const MAX_ACCOUNT_FAILURES: u32 = 100;
/// …for this long after the last failure.
pub const PAUSE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A signed-in user of the admin UI.
#[derive(Debug, Clone)]
pub struct AdminSession {
    pub id: String,
    pub principal: Arc<Principal>,
    /// Every form and every cookie-authenticated API write must carry it.
    pub csrf: String,
    /// The user signed in with a one-time password: until they choose their own, the session
    /// serves only the password page and signing out.
    pub password_change_required: bool,
    /// Approvals of the tenant waiting for a decision, when the user may decide them (else 0):
    /// the count the UI's navigation shows (counted for pages only: see [`current`]).
    pub pending_approvals: i64,
}

impl AdminSession {
    pub fn is_admin(&self) -> bool {
        is_admin(&self.principal)
    }

    pub fn email(&self) -> &str {
        match &self.principal.actor {
            alga_core::identity::Actor::User { email, .. } => email,
            alga_core::identity::Actor::Agent { name, .. } => name,
        }
    }
}

/// A user with the Admin role (agents never are).
pub fn is_admin(principal: &Principal) -> bool {
    principal.user_id().is_some() && principal.roles.iter().any(|r| r.name == BuiltInRole::Admin.name())
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// 32 random bytes, hex.
pub fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(&format!("getrandom: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address
/// in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_addr(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(forwarded.into_iter().rev().find(|a| !trusted.contains(a)).unwrap_or(peer))
}

/// The session named by the request's cookie, if it is live and its user still active, with the
/// count of approvals waiting that the UI's navigation shows.
pub async fn current(ctx: &AppContext, req: &HttpRequest) -> Result<Option<AdminSession>, ApiError> {
    lookup(ctx, req, true).await
}

/// [`current`], for the admin API by cookie: no page, so no count (left at 0).
pub async fn current_for_api(ctx: &AppContext, req: &HttpRequest) -> Result<Option<AdminSession>, ApiError> {
    lookup(ctx, req, false).await
}

async fn lookup(ctx: &AppContext, req: &HttpRequest, count_pending: bool) -> Result<Option<AdminSession>, ApiError> {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_owned()) else { return Ok(None) };
    if token.len() != 64 {
        return Ok(None);
    }
    let hash = key_hash(&token);
    ctx.db
        .run(move |conn| {
            let row: Option<(String, String, String, String)> = admin_sessions::table
                .filter(admin_sessions::token_hash.eq(&hash).and(admin_sessions::expires_at.gt(now())))
                .select((
                    admin_sessions::tenant_id,
                    admin_sessions::id,
                    admin_sessions::user_id,
                    admin_sessions::csrf_token,
                ))
                .first(conn)
                .optional()?;
            let Some((tenant_id, id, user_id, csrf)) = row else { return Ok(None) };
            let Some(mut session) = session_of(conn, &tenant_id, &user_id, id, csrf)? else { return Ok(None) };
            if count_pending && session.principal.authorize(crate::approval::store::DECIDE).is_ok() {
                session.pending_approvals = crate::approval::store::pending_count(conn, &tenant_id, now())?;
            }
            Ok(Some(session))
        })
        .await
}

/// The session `id` of an active user, as its requests see it.
fn session_of(
    conn: &mut alga_core::DbConn,
    tenant_id: &str,
    user_id: &str,
    id: String,
    csrf: String,
) -> Result<Option<AdminSession>, ApiError> {
    let Some((principal, true)) = user_principal(conn, tenant_id, user_id, None)? else { return Ok(None) };
    let password_change_required = users::table
        .filter(users::tenant_id.eq(tenant_id).and(users::id.eq(user_id)))
        .select(users::password_change_required)
        .first(conn)?;
    Ok(Some(AdminSession { id, principal: Arc::new(principal), csrf, password_change_required, pending_approvals: 0 }))
}

/// Opens a session for a user, on the connection (so in its transaction); returns it with the
/// cookie's token.
fn open(conn: &mut alga_core::DbConn, tenant_id: &str, user_id: &str) -> Result<(AdminSession, String), ApiError> {
    let token = random_token()?;
    let csrf = random_token()?;
    let id = new_id();
    let at = now();
    diesel::insert_into(admin_sessions::table)
        .values((
            admin_sessions::tenant_id.eq(tenant_id),
            admin_sessions::id.eq(&id),
            admin_sessions::user_id.eq(user_id),
            admin_sessions::token_hash.eq(key_hash(&token)),
            admin_sessions::csrf_token.eq(&csrf),
            admin_sessions::created_at.eq(at),
            admin_sessions::expires_at.eq(at + Duration::hours(LIFETIME_HOURS)),
        ))
        .execute(conn)?;
    let session = session_of(conn, tenant_id, user_id, id, csrf)?
        .ok_or_else(|| ApiError::not_found("The user is gone or inactive."))?;
    Ok((session, token))
}

/// Why a sign-in did not succeed.
#[derive(Debug)]
pub enum Refused {
    /// Wrong email or password, or signing in is paused: one message for all, by design.
    Generic,
    /// The email and password are right in several organizations: the form must name one.
    ChooseOrganization,
    Failed(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        Refused::Failed(e)
    }
}

/// Failed sign-ins per account and per address, forgotten [`PAUSE`] after the last one. Kept in
/// this process: each replica throttles on its own.
#[derive(Debug)]
pub struct Throttle {
    failures: moka::sync::Cache<String, u32>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle { failures: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(PAUSE).build() }
    }
}

impl Throttle {
    /// The account as tried from this client's address, and the address (an IPv6 client by its
    /// /64, which one holder usually has whole). Never the account alone: a stranger's failures
    /// pause them, not the account's owner signing in from elsewhere.
    fn keys(email: &str, addr: Option<IpAddr>) -> [String; 3] {
        let addr = match addr {
            Some(IpAddr::V6(v6)) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Some(v4) => v4.to_string(),
            None => "unknown".to_owned(),
        };
        [format!("tried:{addr}:{email}"), format!("address:{addr}"), format!("account:{email}")]
    }

    /// Counts an attempt against both keys before its password is checked, atomically, so that
    /// attempts made at the same moment cannot all slip under the limit; `false` when either key
    /// is already at the limit (and then nothing is counted).
    fn attempt(&self, keys: &[String; 3]) -> bool {
        let mut counted = Vec::new();
        for k in keys {
            let entry = self.failures.entry(k.clone()).and_upsert_with(|seen| seen.map_or(1, |e| e.into_value() + 1));
            let limit = if k.starts_with("account:") { MAX_ACCOUNT_FAILURES } else { MAX_FAILURES };
            if entry.into_value() > limit {
                // Over the limit: take back what this attempt counted.
                self.forget(std::slice::from_ref(k));
                self.forget(&counted);
                return false;
            }
            counted.push(k.clone());
        }
        true
    }

    /// Takes back one counted attempt of each key (a sign-in that succeeded).
    fn forget(&self, keys: &[String]) {
        for k in keys {
            let _ = self.failures.entry(k.clone()).and_compute_with(|seen| match seen.map(|e| e.into_value()) {
                Some(n) if n > 1 => moka::ops::compute::Op::Put(n - 1),
                _ => moka::ops::compute::Op::Remove,
            });
        }
    }
}

/// Password checks at once: argon2 takes tens of milliseconds of a core and 19 MiB each.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A password hash nobody has, verified when no account matches so that a wrong email costs as
/// long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password for absent accounts").unwrap_or_default())
}

/// Checks the credentials and opens a session; returns it with the cookie's token.
pub async fn sign_in(
    ctx: &AppContext,
    throttle: &Throttle,
    email: &str,
    password: &str,
    organization: Option<&str>,
    addr: Option<IpAddr>,
) -> Result<(AdminSession, String), Refused> {
    let Ok(email) = normalize_email(email) else { return Err(Refused::Generic) };
    let keys = Throttle::keys(&email, addr);
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES || !throttle.attempt(&keys) {
        return Err(Refused::Generic);
    }
    let organization = organization.map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned);
    let candidates: Vec<(String, String, String)> = ctx
        .db
        .run(move |conn| {
            let mut q = users::table
                .inner_join(tenants::table.on(tenants::id.eq(users::tenant_id)))
                .filter(users::email.eq(&email).and(users::active.eq(true)).and(users::password_hash.is_not_null()))
                .select((users::tenant_id, users::id, users::password_hash.assume_not_null()))
                .into_boxed();
            if let Some(slug) = &organization {
                q = q.filter(tenants::slug.eq(slug));
            }
            Ok::<_, ApiError>(q.load(conn)?)
        })
        .await?;
    // Argon2 is slow on purpose: off the database connection, a few at a time.
    let secret = password.to_owned();
    let matched = {
        let _permit = HASHING.acquire().await.map_err(|_| ApiError::unavailable("Signing in is unavailable."))?;
        tokio::task::spawn_blocking(move || {
            if candidates.is_empty() {
                verify_password(&secret, decoy_hash());
            }
            candidates
                .into_iter()
                .filter(|(_, _, hash)| verify_password(&secret, hash))
                .map(|(tenant, user, _)| (tenant, user))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    };
    let (tenant_id, user_id) = match matched.as_slice() {
        [] => {
            tracing::info!(address = ?addr, "admin sign-in failed");
            return Err(Refused::Generic);
        }
        [one] => one.clone(),
        _ => {
            throttle.forget(&keys);
            return Err(Refused::ChooseOrganization);
        }
    };
    throttle.forget(&keys);
    let (session, token) = ctx.db.run(move |conn| open(conn, &tenant_id, &user_id)).await?;
    tracing::info!(session = %session.id, user = ?session.principal.user_id(), "admin signed in");
    Ok((session, token))
}

/// What the password form asks.
#[derive(Debug)]
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub repeated: &'a str,
}

/// Changes the signed-in user's own password, checking the current one (throttled like signing
/// in). Every session of the user ends, this one included, and a new one opens for this browser:
/// returned with its cookie's token. Audited as the user's own change.
pub async fn change_password(
    ctx: &AppContext,
    throttle: &Throttle,
    session: &AdminSession,
    change: &PasswordChange<'_>,
    addr: Option<IpAddr>,
) -> Result<(AdminSession, String), ApiError> {
    let chars = change.new.chars().count();
    let refusal = if change.new != change.repeated {
        Some("The two new passwords differ.".to_owned())
    } else if chars < MIN_PASSWORD_CHARS || change.new.len() > MAX_PASSWORD_BYTES {
        Some(format!(
            "The new password needs at least {MIN_PASSWORD_CHARS} characters (and at most {MAX_PASSWORD_BYTES} bytes)."
        ))
    } else if change.new == change.current {
        Some("The new password must differ from the current one.".to_owned())
    } else {
        None
    };
    if let Some(message) = refusal {
        return Err(ApiError::bad_request(message));
    }
    let keys = Throttle::keys(session.email(), addr);
    if !throttle.attempt(&keys) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many wrong passwords: changing the password pauses for 15 minutes.",
        ));
    }
    let user_id = session.principal.user_id().map(str::to_owned).ok_or_else(|| ApiError::forbidden("Not a user."))?;
    let tenant_id = session.principal.tenant_id.clone();
    let (tenant, user) = (tenant_id.clone(), user_id.clone());
    let stored: Option<String> = ctx
        .db
        .run(move |conn| {
            Ok::<_, ApiError>(
                users::table
                    .filter(users::tenant_id.eq(&tenant).and(users::id.eq(&user)))
                    .select(users::password_hash)
                    .first::<Option<String>>(conn)
                    .optional()?
                    .flatten(),
            )
        })
        .await?;
    // Argon2 is slow on purpose: off the database connection, a few at a time.
    let (current, new) = (change.current.to_owned(), change.new.to_owned());
    let checked = {
        let _permit =
            HASHING.acquire().await.map_err(|_| ApiError::unavailable("Changing passwords is unavailable."))?;
        tokio::task::spawn_blocking(move || {
            let right = verify_password(&current, stored.as_deref().unwrap_or_else(|| decoy_hash()));
            right.then(|| hash_password(&new)).transpose()
        })
        .await
        .map_err(|e| ApiError::internal(&e))?
    };
    let Some(hash) = checked? else {
        tracing::info!(user = %user_id, "admin password change refused: wrong current password");
        return Err(ApiError::bad_request("The current password is not right; nothing was changed."));
    };
    throttle.forget(&keys);
    let (principal, id) = (session.principal.clone(), session.id.clone());
    let opened = ctx
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                // A password set meanwhile (by anyone) ended this session: then nothing changes.
                let live: i64 = admin_sessions::table
                    .filter(admin_sessions::tenant_id.eq(&tenant_id).and(admin_sessions::id.eq(&id)))
                    .count()
                    .get_result(conn)?;
                if live == 0 {
                    return Err(ApiError::unauthorized("Your session has ended: sign in again."));
                }
                store_password_hash(conn, &tenant_id, &user_id, &hash, PasswordChoice::Own)?;
                let change = admin_audit::Change {
                    action: "user.password_change",
                    target_kind: "user",
                    target_id: &user_id,
                    before: None,
                    after: Some(serde_json::json!({ "password": "(changed)" })),
                };
                admin_audit::record(conn, &tenant_id, admin_audit::Who::Principal(&principal), change)?;
                open(conn, &tenant_id, &user_id)
            })
        })
        .await?;
    tracing::info!(session = %opened.0.id, user = ?opened.0.principal.user_id(), "admin changed their password");
    Ok(opened)
}

/// Ends a session.
pub async fn sign_out(ctx: &AppContext, session: &AdminSession) -> Result<(), ApiError> {
    let (tenant, id) = (session.principal.tenant_id.clone(), session.id.clone());
    ctx.db
        .run(move |conn| {
            diesel::delete(
                admin_sessions::table.filter(admin_sessions::tenant_id.eq(&tenant).and(admin_sessions::id.eq(&id))),
            )
            .execute(conn)?;
            Ok::<_, ApiError>(())
        })
        .await
}

/// Deletes expired sessions; returns how many.
pub fn sweep(conn: &mut alga_core::DbConn) -> Result<usize, ApiError> {
    Ok(diesel::delete(admin_sessions::table.filter(admin_sessions::expires_at.le(now()))).execute(conn)?)
}

/// A cookie for this server: `Secure` when the public URL is https.
pub fn cookie<'a>(ctx: &AppContext, name: &'a str, value: String, max_age: Option<time::Duration>) -> Cookie<'a> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(ctx.public_url.scheme() == "https")
        .finish();
    if let Some(age) = max_age {
        c.set_max_age(age);
    }
    c
}

/// The session cookie for a new session.
pub fn session_cookie(ctx: &AppContext, token: String) -> Cookie<'static> {
    cookie(ctx, COOKIE, token, Some(time::Duration::hours(LIFETIME_HOURS)))
}

/// A cookie that removes `name`.
pub fn removal(ctx: &AppContext, name: &'static str) -> Cookie<'static> {
    cookie(ctx, name, String::new(), Some(time::Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwards_it() {
        use actix_web::test::TestRequest;
        let proxy: IpAddr = [10, 0, 0, 9].into();
        let request = |peer: IpAddr, forwarded: Option<&str>| {
            let mut r = TestRequest::default().peer_addr(std::net::SocketAddr::new(peer, 4000));
            if let Some(f) = forwarded {
                r = r.insert_header(("x-forwarded-for", f));
            }
            r.to_http_request()
        };
        let client: IpAddr = [203, 0, 113, 7].into();
        // An untrusted peer cannot pick its address.
        assert_eq!(client_addr(&request(client, Some("198.51.100.1")), &[proxy]), Some(client));
        // Through the trusted proxy: the address it saw, not what the client claimed before it.
        assert_eq!(client_addr(&request(proxy, Some("198.51.100.1, 203.0.113.7")), &[proxy]), Some(client));
        assert_eq!(client_addr(&request(proxy, None), &[proxy]), Some(proxy));
        assert_eq!(client_addr(&request(proxy, Some("203.0.113.7")), &[]), Some(proxy));
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }

    #[test]
    fn throttling_pauses_an_address_after_five_failures_never_the_account_elsewhere() {
        let t = Throttle::default();
        let addr: IpAddr = [10, 0, 0, 1].into();
        let keys = Throttle::keys("a@b.c", Some(addr));
        for _ in 0..MAX_FAILURES {
            assert!(t.attempt(&keys));
        }
        assert!(!t.attempt(&keys), "the sixth attempt is refused before its password is checked");
        // Another account from the same address is paused too; the same account from elsewhere is
        // not: a stranger's failures cannot lock its owner out.
        assert!(!t.attempt(&Throttle::keys("other@b.c", Some(addr))));
        assert!(t.attempt(&Throttle::keys("a@b.c", Some([10, 0, 0, 2].into()))));
        assert!(t.attempt(&Throttle::keys("other@b.c", Some([10, 0, 0, 2].into()))));
        // Many addresses guessing one account together meet the account's own, higher ceiling.
        let mut admitted = 1 + MAX_FAILURES;
        for n in 0..60u8 {
            for _ in 0..MAX_FAILURES {
                admitted += u32::from(t.attempt(&Throttle::keys("a@b.c", Some([10, 1, 0, n].into()))));
            }
        }
        assert_eq!(admitted, MAX_ACCOUNT_FAILURES);
        // A success takes its own attempt back.
        let fresh = Throttle::keys("c@d.e", Some([10, 0, 0, 3].into()));
        for _ in 0..20 {
            assert!(t.attempt(&fresh));
            t.forget(&fresh);
        }
        // IPv6 clients count by /64.
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(Throttle::keys("x@y.z", Some(one))[1], Throttle::keys("x@y.z", Some(other))[1]);
    }

    #[test]
    fn attempts_made_at_once_cannot_slip_under_the_limit() {
        let t = std::sync::Arc::new(Throttle::default());
        let keys = Throttle::keys("a@b.c", Some([10, 0, 0, 1].into()));
        let admitted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..64).map(|_| scope.spawn(|| usize::from(t.attempt(&keys)))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(admitted, usize::try_from(MAX_FAILURES).unwrap());
    }
}
