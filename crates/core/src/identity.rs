//! Tenants, users, roles and API keys: creation, and authentication of an API key into a
//! [`Principal`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Db, DbConn};
use crate::error::ApiError;
use crate::rbac::{BuiltInRole, Permission, PermissionSet};
use crate::schema::{api_keys, role_permissions, roles, tenants, ticket_sequences, user_roles, users};

/// Every plaintext API key starts with this, so that secret scanners and people recognise it.
pub const API_KEY_PREFIX: &str = "alga_";

/// Who is calling, with everything authorization needs: a user, or (enterprise edition) an
/// agent, which is an identity of its own with roles and never a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub actor: Actor,
    pub api_key_id: Option<String>,
    pub roles: Vec<RoleRef>,
    pub permissions: PermissionSet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    User { id: String, email: String, display_name: String },
    Agent { id: String, name: String },
}

impl Principal {
    pub fn can(&self, p: Permission) -> bool {
        self.authorize(p).is_ok()
    }

    /// The one authorization decision ([`crate::rbac::authorize`]) for this principal.
    pub fn authorize(&self, p: Permission) -> Result<(), crate::error::ApiError> {
        crate::rbac::authorize(self.holder(), self.permissions, p)
    }

    pub fn holder(&self) -> crate::rbac::Holder {
        match self.actor {
            Actor::User { .. } => crate::rbac::Holder::User,
            Actor::Agent { .. } => crate::rbac::Holder::Agent,
        }
    }

    /// The acting user's id; `None` for an agent.
    pub fn user_id(&self) -> Option<&str> {
        match &self.actor {
            Actor::User { id, .. } => Some(id),
            Actor::Agent { .. } => None,
        }
    }

    /// The acting agent's id; `None` for a user.
    pub fn agent_id(&self) -> Option<&str> {
        match &self.actor {
            Actor::Agent { id, .. } => Some(id),
            Actor::User { .. } => None,
        }
    }

    /// The acting user, for operations that only make sense for a person (their own API keys,
    /// for instance); agents get a 403 that says so.
    pub fn require_user(&self) -> Result<&str, ApiError> {
        self.user_id().ok_or_else(|| ApiError::forbidden("This operation is for users; an agent cannot perform it."))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

/// `[a-z0-9-]`, 1 to 63 characters, not starting or ending with `-`.
pub fn valid_slug(slug: &str) -> bool {
    (1..=63).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

/// Creates a tenant with its built-in roles. Fails with 409 when the slug is taken.
pub fn create_tenant(conn: &mut DbConn, slug: &str, name: &str) -> Result<Tenant, ApiError> {
    if !valid_slug(slug) {
        return Err(ApiError::validation(
            "slug",
            "use 1 to 63 lowercase letters, digits and dashes, not starting or ending with a dash",
        ));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::validation("name", "must not be empty"));
    }
    crate::db::write_transaction(conn, |conn| {
        let tenant = Tenant { id: new_id(), slug: slug.to_owned(), name: name.to_owned(), created_at: now() };
        diesel::insert_into(tenants::table)
            .values((
                tenants::id.eq(&tenant.id),
                tenants::slug.eq(&tenant.slug),
                tenants::name.eq(&tenant.name),
                tenants::created_at.eq(tenant.created_at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("A tenant with slug `{slug}` already exists.")))?;
        diesel::insert_into(ticket_sequences::table)
            .values((ticket_sequences::tenant_id.eq(&tenant.id), ticket_sequences::last_value.eq(0_i64)))
            .execute(conn)?;
        for role in BuiltInRole::ALL {
            insert_role(conn, &tenant.id, role.name(), role.description(), true, role.permissions())?;
        }
        Ok(tenant)
    })
}

/// Inserts a role and its permissions; returns its id.
pub fn insert_role(
    conn: &mut DbConn,
    tenant_id: &str,
    name: &str,
    description: &str,
    built_in: bool,
    permissions: PermissionSet,
) -> Result<String, ApiError> {
    let id = new_id();
    let at = now();
    diesel::insert_into(roles::table)
        .values((
            roles::tenant_id.eq(tenant_id),
            roles::id.eq(&id),
            roles::name.eq(name),
            roles::description.eq(description),
            roles::built_in.eq(built_in),
            roles::created_at.eq(at),
            roles::updated_at.eq(at),
        ))
        .execute(conn)
        .map_err(|e| ApiError::from_unique(e, || format!("A role named `{name}` already exists.")))?;
    set_role_permissions(conn, tenant_id, &id, permissions)?;
    Ok(id)
}

pub fn set_role_permissions(
    conn: &mut DbConn,
    tenant_id: &str,
    role_id: &str,
    permissions: PermissionSet,
) -> Result<(), ApiError> {
    diesel::delete(role_permissions::table)
        .filter(role_permissions::tenant_id.eq(tenant_id).and(role_permissions::role_id.eq(role_id)))
        .execute(conn)?;
    // One row at a time: diesel's multi-backend connection has no batch insert (one per declared pair).
    for p in permissions.iter() {
        grant(conn, tenant_id, role_id, p)?;
    }
    Ok(())
}

/// Gives a role one permission.
pub fn grant(conn: &mut DbConn, tenant_id: &str, role_id: &str, p: crate::rbac::Permission) -> Result<(), ApiError> {
    diesel::insert_into(role_permissions::table)
        .values((
            role_permissions::tenant_id.eq(tenant_id),
            role_permissions::role_id.eq(role_id),
            role_permissions::resource.eq(p.resource.as_str()),
            role_permissions::action.eq(p.action.as_str()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes a tenant and, by cascade, everything it holds but its audits, which outlive it.
pub fn delete_tenant(
    conn: &mut DbConn,
    slug: &str,
    edition: &dyn crate::governance::McpGovernance,
) -> Result<Tenant, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        use crate::schema::{
            assets, contacts, kb_articles, project_tasks, projects, statuses, ticket_assets, ticket_comments, tickets,
            time_entries,
        };
        let tenant = tenant_by_slug(conn, slug)?;
        let id = tenant.id.as_str();
        // Records that reach the tenant only through other records go first, leaves before
        // what they refer to; the rest goes with the tenant's row, by cascade.
        diesel::delete(time_entries::table.filter(time_entries::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(ticket_assets::table.filter(ticket_assets::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(assets::table.filter(assets::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(kb_articles::table.filter(kb_articles::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(project_tasks::table.filter(project_tasks::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(projects::table.filter(projects::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(ticket_comments::table.filter(ticket_comments::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(tickets::table.filter(tickets::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(contacts::table.filter(contacts::tenant_id.eq(id))).execute(conn)?;
        diesel::delete(statuses::table.filter(statuses::tenant_id.eq(id))).execute(conn)?;
        edition.delete_tenant_records(conn, id)?;
        diesel::delete(tenants::table.filter(tenants::id.eq(id))).execute(conn)?;
        Ok(tenant)
    })
}

pub fn tenant_by_slug(conn: &mut DbConn, slug: &str) -> Result<Tenant, ApiError> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No tenant `{slug}`.")))
}

/// Role ids for role names in a tenant; an unknown name is a 400 naming it.
pub fn role_ids_by_name(conn: &mut DbConn, tenant_id: &str, names: &[String]) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    for name in names {
        let id = roles::table
            .filter(roles::tenant_id.eq(tenant_id).and(roles::name.eq(name)))
            .select(roles::id)
            .first::<String>(conn)
            .optional()?
            .ok_or_else(|| ApiError::validation("roles", format!("no role named `{name}` in this tenant")))?;
        ids.push(id);
    }
    Ok(ids)
}

/// What a new user needs.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub tenant_id: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: Option<&'a str>,
    pub role_ids: &'a [String],
}

/// Lowercased and checked: something@something.something-ish, without spaces.
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty());
    if valid { Ok(email) } else { Err(ApiError::validation("email", "must be an email address")) }
}

/// The fewest characters a password may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The most bytes a password may have (sign-in refuses longer ones before hashing them).
pub const MAX_PASSWORD_BYTES: usize = 1024;

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    use argon2::password_hash::PasswordHasher;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::validation("password", format!("must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::validation("password", format!("must be at most {MAX_PASSWORD_BYTES} bytes")));
    }
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(&format!("argon2: {e}")))
}

/// Whether `password` matches an argon2 PHC string (a malformed hash matches nothing).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::PasswordVerifier;
    argon2::Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// Whose choice a new password is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChoice {
    /// The user chose it themselves.
    Own,
    /// Someone else chose it (the first start's printed password, a tenant's first administrator's,
    /// a reset by an administrator or from the command line): it signs in to the admin UI only to
    /// choose the user's own.
    OneTime,
}

/// Stores a user's new password hash, and whether it is one-time; 404 when there is no such
/// user. Changing the hash ends the user's admin UI sessions (a trigger of the enterprise
/// migrations), whoever changes it.
pub fn store_password_hash(
    conn: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    hash: &str,
    choice: PasswordChoice,
) -> Result<(), ApiError> {
    let changed = diesel::update(users::table.filter(users::tenant_id.eq(tenant_id).and(users::id.eq(user_id))))
        .set((
            users::password_hash.eq(Some(hash)),
            users::password_change_required.eq(choice == PasswordChoice::OneTime),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::not_found("No user with this id in this tenant."));
    }
    Ok(())
}

/// Hashes and stores a user's new password ([`store_password_hash`]).
pub fn set_password(
    conn: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    password: &str,
    choice: PasswordChoice,
) -> Result<(), ApiError> {
    store_password_hash(conn, tenant_id, user_id, &hash_password(password)?, choice)
}

/// A one-time password: 24 hex characters (96 random bits).
pub fn one_time_password() -> Result<String, ApiError> {
    let mut secret = [0u8; 12];
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(&format!("no randomness: {e}")))?;
    Ok(hex::encode(secret))
}

/// Creates a user with roles; returns the user id. 409 when the email is taken. A password given
/// here was chosen by someone else, so it is one-time: it signs in only to choose a new one.
pub fn create_user(conn: &mut DbConn, new: &NewUser<'_>) -> Result<String, ApiError> {
    let email = normalize_email(new.email)?;
    let display_name = new.display_name.trim();
    if display_name.is_empty() {
        return Err(ApiError::validation("display_name", "must not be empty"));
    }
    let password_hash = new.password.map(hash_password).transpose()?;
    let id = new_id();
    let at = now();
    crate::db::write_transaction(conn, |conn| {
        diesel::insert_into(users::table)
            .values((
                users::tenant_id.eq(new.tenant_id),
                users::id.eq(&id),
                users::email.eq(&email),
                users::display_name.eq(display_name),
                users::password_hash.eq(&password_hash),
                users::password_change_required.eq(password_hash.is_some()),
                users::active.eq(true),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            ))
            .execute(conn)
            .map_err(|e| ApiError::from_unique(e, || format!("A user with email `{email}` already exists.")))?;
        set_user_roles(conn, new.tenant_id, &id, new.role_ids)?;
        Ok(id)
    })
}

pub fn set_user_roles(conn: &mut DbConn, tenant_id: &str, user_id: &str, role_ids: &[String]) -> Result<(), ApiError> {
    diesel::delete(user_roles::table)
        .filter(user_roles::tenant_id.eq(tenant_id).and(user_roles::user_id.eq(user_id)))
        .execute(conn)?;
    let mut unique: Vec<&String> = role_ids.iter().collect();
    unique.sort();
    unique.dedup();
    for role_id in unique {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::tenant_id.eq(tenant_id),
                user_roles::user_id.eq(user_id),
                user_roles::role_id.eq(role_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn user_id_by_email(conn: &mut DbConn, tenant_id: &str, email: &str) -> Result<String, ApiError> {
    let email = normalize_email(email)?;
    users::table
        .filter(users::tenant_id.eq(tenant_id).and(users::email.eq(&email)))
        .select(users::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No user `{email}` in this tenant.")))
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, schemars::JsonSchema)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: String,
    pub prefix: String,
    pub user_id: Option<String>,
    pub description: String,
    pub purpose: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

/// A key as created: the row, and the plaintext that is shown this once.
#[derive(Debug)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub plaintext: String,
}

/// SHA-256 of a presented key, hex: what `api_keys.key_hash` holds.
pub fn key_hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// A new key's plaintext: the recognisable prefix plus 32 random bytes (hex).
pub fn generate_api_key() -> Result<String, ApiError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(&format!("no randomness: {e}")))?;
    Ok(format!("{API_KEY_PREFIX}{}", hex::encode(secret)))
}

/// The part of a key shown in listings, to recognise it.
pub fn key_prefix(plaintext: &str) -> String {
    plaintext.chars().take(12).collect()
}

/// Issues a key for a user. Only its hash is stored.
pub fn create_api_key(
    conn: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    description: &str,
    expires_at: Option<NaiveDateTime>,
) -> Result<IssuedKey, ApiError> {
    let plaintext = generate_api_key()?;
    let key = ApiKey {
        id: new_id(),
        prefix: key_prefix(&plaintext),
        user_id: Some(user_id.to_owned()),
        description: description.trim().to_owned(),
        purpose: "api".to_owned(),
        created_at: now(),
        last_used_at: None,
        expires_at,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::tenant_id.eq(tenant_id),
            api_keys::id.eq(&key.id),
            api_keys::key_hash.eq(key_hash(&plaintext)),
            api_keys::prefix.eq(&key.prefix),
            api_keys::user_id.eq(&key.user_id),
            api_keys::description.eq(&key.description),
            api_keys::purpose.eq(&key.purpose),
            api_keys::created_at.eq(key.created_at),
            api_keys::expires_at.eq(key.expires_at),
        ))
        .execute(conn)?;
    Ok(IssuedKey { key, plaintext })
}

/// Marks a key revoked; returns its tenant. Revoking twice is a no-op; an unknown id is 404.
pub fn revoke_api_key(conn: &mut DbConn, tenant_id: Option<&str>, key_id: &str) -> Result<String, ApiError> {
    let mut query = api_keys::table.filter(api_keys::id.eq(key_id)).into_boxed();
    if let Some(tenant_id) = tenant_id {
        query = query.filter(api_keys::tenant_id.eq(tenant_id));
    }
    let tenant = query
        .select(api_keys::tenant_id)
        .first::<String>(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found("No such API key."))?;
    diesel::update(api_keys::table)
        .filter(api_keys::tenant_id.eq(&tenant).and(api_keys::id.eq(key_id)).and(api_keys::revoked_at.is_null()))
        .set(api_keys::revoked_at.eq(now()))
        .execute(conn)?;
    Ok(tenant)
}

/// The key, its owner and the owner's grants, if the key exists. Validity is judged by the caller.
fn load_key(conn: &mut DbConn, hash: &str) -> Result<Option<CachedKey>, ApiError> {
    let Some((tenant_id, key_id, user_id, expires_at, revoked_at)) = api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .select((api_keys::tenant_id, api_keys::id, api_keys::user_id, api_keys::expires_at, api_keys::revoked_at))
        .first::<(String, String, Option<String>, Option<NaiveDateTime>, Option<NaiveDateTime>)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let Some(user_id) = user_id else {
        return Ok(None); // keys without a user owner belong to the enterprise edition
    };
    let Some((principal, active)) = user_principal(conn, &tenant_id, &user_id, Some(key_id))? else {
        return Ok(None);
    };
    Ok(Some(CachedKey { principal: Arc::new(principal), expires_at, revoked: revoked_at.is_some(), active }))
}

/// A user with their roles and permissions as a principal (acting through `api_key_id`, if
/// any), and whether the user is active; `None` when there is no such user.
pub fn user_principal(
    conn: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
    api_key_id: Option<String>,
) -> Result<Option<(Principal, bool)>, ApiError> {
    let Some((email, display_name, active, tenant_slug)) = users::table
        .inner_join(tenants::table.on(tenants::id.eq(users::tenant_id)))
        .filter(users::tenant_id.eq(tenant_id).and(users::id.eq(user_id)))
        .select((users::email, users::display_name, users::active, tenants::slug))
        .first::<(String, String, bool, String)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let (roles, permissions) = grants_of_user(conn, tenant_id, user_id)?;
    let principal = Principal {
        tenant_id: tenant_id.to_owned(),
        tenant_slug,
        actor: Actor::User { id: user_id.to_owned(), email, display_name },
        api_key_id,
        roles,
        permissions,
    };
    Ok(Some((principal, active)))
}

/// A user's roles and the union of their permissions.
pub fn grants_of_user(
    conn: &mut DbConn,
    tenant_id: &str,
    user_id: &str,
) -> Result<(Vec<RoleRef>, PermissionSet), ApiError> {
    let roles: Vec<(String, String)> = user_roles::table
        .inner_join(roles::table.on(roles::tenant_id.eq(user_roles::tenant_id).and(roles::id.eq(user_roles::role_id))))
        .filter(user_roles::tenant_id.eq(tenant_id).and(user_roles::user_id.eq(user_id)))
        .select((roles::id, roles::name))
        .order(roles::name)
        .load(conn)?;
    grants_of_roles(conn, tenant_id, roles)
}

/// Roles (id, name) as references, and the union of their permissions.
pub fn grants_of_roles(
    conn: &mut DbConn,
    tenant_id: &str,
    roles: Vec<(String, String)>,
) -> Result<(Vec<RoleRef>, PermissionSet), ApiError> {
    let role_ids: Vec<&String> = roles.iter().map(|(id, _)| id).collect();
    let pairs: Vec<(String, String)> = role_permissions::table
        .filter(role_permissions::tenant_id.eq(tenant_id).and(role_permissions::role_id.eq_any(role_ids)))
        .select((role_permissions::resource, role_permissions::action))
        .load(conn)?;
    let permissions = pairs.iter().filter_map(|(r, a)| Permission::parse(r, a)).collect();
    Ok((roles.into_iter().map(|(id, name)| RoleRef { id, name }).collect(), permissions))
}

#[derive(Clone, Debug)]
struct CachedKey {
    principal: Arc<Principal>,
    expires_at: Option<NaiveDateTime>,
    revoked: bool,
    active: bool,
}

/// How long a resolved key is trusted without asking the database. Changes made through this
/// process invalidate the cache at once; this bounds how long another replica's changes take.
const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
/// `last_used_at` is written at most this often per key.
const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// Resolves presented API keys into principals, with a cache.
pub struct Authenticator {
    db: Db,
    cache: moka::sync::Cache<String, Option<CachedKey>>,
    last_written: Mutex<HashMap<String, Instant>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("cached_keys", &self.cache.entry_count()).finish()
    }
}

impl Authenticator {
    pub fn new(db: Db) -> Authenticator {
        Authenticator {
            db,
            cache: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(KEY_CACHE_TTL).build(),
            last_written: Mutex::default(),
        }
    }

    /// The principal behind a presented key; 401 for a missing, unknown, expired or revoked key
    /// or an inactive owner.
    ///
    /// Keys are found by their SHA-256: equality on a hash of a 256-bit secret leaks nothing
    /// usable through timing, so no separate constant-time comparison is needed.
    pub async fn authenticate(&self, presented: &str) -> Result<Arc<Principal>, ApiError> {
        let invalid = || ApiError::unauthorized("The API key is invalid, expired or revoked.");
        if !presented.starts_with(API_KEY_PREFIX) || presented.len() > 128 {
            return Err(invalid());
        }
        let hash = key_hash(presented);
        let cached = match self.cache.get(&hash) {
            Some(hit) => hit,
            None => {
                let lookup = hash.clone();
                let loaded = self.db.run(move |conn| load_key(conn, &lookup)).await?;
                // Misses are cached too (keys are random: a hash never becomes a user's key later),
                // so unknown and agent-owned keys cost no query on their next use.
                self.cache.insert(hash, loaded.clone());
                loaded
            }
        };
        let Some(cached) = cached else { return Err(invalid()) };
        if cached.revoked || !cached.active || cached.expires_at.is_some_and(|at| at <= now()) {
            return Err(invalid());
        }
        self.note_use(&cached.principal);
        Ok(cached.principal)
    }

    /// Forgets every cached key: call after any change to users, roles, grants or keys.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Records `last_used_at`, at most once a minute per key, off the request path.
    fn note_use(&self, principal: &Principal) {
        let Some(key_id) = principal.api_key_id.clone() else { return };
        {
            let Ok(mut written) = self.last_written.lock() else { return };
            let fresh = written.get(&key_id).is_some_and(|at| at.elapsed() < LAST_USED_EVERY);
            if fresh {
                return;
            }
            written.insert(key_id.clone(), Instant::now());
        }
        let (db, tenant_id) = (self.db.clone(), principal.tenant_id.clone());
        tokio::spawn(async move {
            let result = db
                .run(move |conn| {
                    diesel::update(api_keys::table)
                        .filter(api_keys::tenant_id.eq(&tenant_id).and(api_keys::id.eq(&key_id)))
                        .set(api_keys::last_used_at.eq(now()))
                        .execute(conn)
                        .map_err(ApiError::from)
                })
                .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, "could not record last_used_at");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["default", "acme-1", "a"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Acme", "a b", "a_b", &"a".repeat(64)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(normalize_email(" Admin@LocalHost ").unwrap(), "admin@localhost");
        assert!(normalize_email("no-at-sign").is_err());
        assert!(normalize_email("a b@c").is_err());
    }

    #[test]
    fn key_hash_is_sha256_hex() {
        assert_eq!(key_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
