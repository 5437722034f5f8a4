//! Administrative commands: tenants, users, API keys, and the first-start bootstrap.

use std::io::{Read, Write};

use alga_core::admin_audit;
use alga_core::identity::{self, NewUser, PasswordChoice};
use alga_core::rbac::BuiltInRole;
use alga_core::schema::tenants;
use alga_core::{ApiError, DatabaseUrl, DbConn};
use anyhow::{Context, bail};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use crate::cli::{ApiKeyCommand, AuditCommand, GlobalArgs, TenantCommand, UserCommand};

fn connect(global: &GlobalArgs) -> anyhow::Result<DbConn> {
    let url: DatabaseUrl = global.database_url.parse()?;
    let mut conn = alga_core::db::establish(&url)?;
    let migrator = crate::edition::migrator()?;
    let pending = migrator.pending_count(&mut conn)?;
    if pending > 0 {
        bail!("the database lacks {pending} migrations: run `alga-server migrate` first");
    }
    Ok(conn)
}

fn out() -> std::io::StdoutLock<'static> {
    std::io::stdout().lock()
}

pub fn tenant(global: &GlobalArgs, command: &TenantCommand) -> anyhow::Result<()> {
    let mut conn = connect(global)?;
    match command {
        TenantCommand::Create { slug, name } => {
            let name = name.clone().unwrap_or_else(|| slug.clone());
            let admin_email = format!("admin@{slug}.localhost");
            let (tenant, key, password) = alga_core::db::write_transaction(&mut conn, |conn| {
                let tenant = identity::create_tenant(conn, slug, &name)?;
                let created = serde_json::json!({ "slug": tenant.slug, "name": tenant.name });
                cli_change(conn, &tenant.id, "tenant.create", "tenant", &tenant.id, Some(created))?;
                let (admin, password) = first_admin(conn, &tenant.id, &admin_email)?;
                let key = identity::create_api_key(conn, &tenant.id, &admin, "first admin key", None)?;
                key_change(conn, &tenant.id, &admin, &key)?;
                Ok::<_, ApiError>((tenant, key, password))
            })?;
            writeln!(
                out(),
                "created tenant {} ({})\nadmin user: {admin_email}\nadmin API key (shown once, store it now): {}\n\
                 one-time password (signs in to the admin UI once, to choose a new one): {password}",
                tenant.slug,
                tenant.id,
                key.plaintext
            )?;
        }
        TenantCommand::Delete { slug } => {
            let tenant = alga_core::db::write_transaction(&mut conn, |conn| {
                let tenant = identity::delete_tenant(conn, slug, crate::edition::governance().as_ref())?;
                let before = serde_json::json!({ "slug": tenant.slug, "name": tenant.name });
                let change = admin_audit::Change {
                    action: "tenant.delete",
                    target_kind: "tenant",
                    target_id: &tenant.id,
                    before: Some(before),
                    after: None,
                };
                admin_audit::record(conn, &tenant.id, admin_audit::Who::Cli, change)?;
                Ok::<_, ApiError>(tenant)
            })?;
            writeln!(out(), "deleted tenant {} ({}); its audit stays", tenant.slug, tenant.id)?;
        }
    }
    Ok(())
}

pub fn audit(global: &GlobalArgs, command: &AuditCommand) -> anyhow::Result<()> {
    let mut conn = connect(global)?;
    match command {
        AuditCommand::Prune { before, retention_days } => {
            let cutoff = parse_moment(before).context("--before")?;
            let by = format!("alga-server audit prune ({})", whoami());
            let removed = crate::edition::governance()
                .prune_audit(&mut conn, cutoff, *retention_days, &by)
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            writeln!(out(), "removed {removed} audit rows created before {}", cutoff.format("%Y-%m-%d %H:%M:%S UTC"))?;
        }
    }
    Ok(())
}

/// An RFC 3339 moment, or a date (its midnight, UTC).
fn parse_moment(text: &str) -> anyhow::Result<NaiveDateTime> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.naive_utc());
    }
    let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("expected a date such as 2025-01-31 or an RFC 3339 moment, got \"{text}\""))?;
    Ok(day.and_time(chrono::NaiveTime::MIN))
}

/// Who runs the command, for the prune's record.
fn whoami() -> String {
    std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown user".to_owned())
}

/// A tenant's first administrator, with a one-time password; returns the user's id and the
/// password to show once.
fn first_admin(conn: &mut DbConn, tenant_id: &str, email: &str) -> Result<(String, String), ApiError> {
    let roles = identity::role_ids_by_name(conn, tenant_id, &[BuiltInRole::Admin.name().to_owned()])?;
    let id = identity::create_user(
        conn,
        &NewUser { tenant_id, email, display_name: "Administrator", password: None, role_ids: &roles },
    )?;
    let password = identity::one_time_password()?;
    identity::set_password(conn, tenant_id, &id, &password, PasswordChoice::OneTime)?;
    let after = serde_json::json!({ "email": email, "roles": [BuiltInRole::Admin.name()], "password": "(one-time)" });
    cli_change(conn, tenant_id, "user.create", "user", &id, Some(after))?;
    Ok((id, password))
}

/// Records a key made from the command line (never its plaintext).
fn key_change(conn: &mut DbConn, tenant: &str, user_id: &str, key: &identity::IssuedKey) -> Result<(), ApiError> {
    let after = serde_json::json!({ "user_id": user_id, "prefix": key.key.prefix, "description": key.key.description });
    cli_change(conn, tenant, "api_key.create", "api_key", &key.key.id, Some(after))
}

/// Records a change made from the command line in the admin audit.
fn cli_change(
    conn: &mut DbConn,
    tenant: &str,
    action: &str,
    target_kind: &str,
    target_id: &str,
    after: Option<serde_json::Value>,
) -> Result<(), ApiError> {
    let change = admin_audit::Change { action, target_kind, target_id, before: None, after };
    admin_audit::record(conn, tenant, admin_audit::Who::Cli, change)
}

pub fn user(global: &GlobalArgs, command: &UserCommand) -> anyhow::Result<()> {
    let mut conn = connect(global)?;
    match command {
        UserCommand::Create { tenant, email, name, role, password_stdin } => {
            let password = if *password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text).context("cannot read the password from stdin")?;
                Some(text.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let tenant = identity::tenant_by_slug(&mut conn, tenant)?;
            let roles = identity::role_ids_by_name(&mut conn, &tenant.id, role)?;
            let display_name = name.clone().unwrap_or_else(|| email.split('@').next().unwrap_or(email).to_owned());
            let id = alga_core::db::write_transaction(&mut conn, |conn| {
                let id = identity::create_user(
                    conn,
                    &NewUser {
                        tenant_id: &tenant.id,
                        email,
                        display_name: &display_name,
                        password: password.as_deref(),
                        role_ids: &roles,
                    },
                )?;
                let after = serde_json::json!({ "email": email, "roles": role });
                cli_change(conn, &tenant.id, "user.create", "user", &id, Some(after))?;
                Ok::<_, ApiError>(id)
            })?;
            writeln!(out(), "created user {email} ({id}) in tenant {}", tenant.slug)?;
        }
        UserCommand::SetPassword { tenant, email } => {
            let tenant = identity::tenant_by_slug(&mut conn, tenant)?;
            let user_id = identity::user_id_by_email(&mut conn, &tenant.id, email)?;
            // Checked and hashed before the transaction: argon2 takes a while.
            let hash = identity::hash_password(&read_new_password()?)?;
            alga_core::db::write_transaction(&mut conn, |conn| {
                identity::store_password_hash(conn, &tenant.id, &user_id, &hash, PasswordChoice::OneTime)?;
                let after = serde_json::json!({ "email": email, "password": "(one-time)" });
                cli_change(conn, &tenant.id, "user.password_reset", "user", &user_id, Some(after))
            })?;
            writeln!(
                out(),
                "set a one-time password for {email} in tenant {}: it signs in to the admin UI once, to choose a new \
                 one; the user's admin UI sessions have ended, their API keys keep working",
                tenant.slug
            )?;
        }
    }
    Ok(())
}

/// A new password: asked twice without echo when standard input is a terminal, else its first line.
fn read_new_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!(
            "New password (at least {} characters): ",
            identity::MIN_PASSWORD_CHARS
        ))?;
        let again = rpassword::prompt_password("The same password again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn api_key(global: &GlobalArgs, command: &ApiKeyCommand) -> anyhow::Result<()> {
    let mut conn = connect(global)?;
    match command {
        ApiKeyCommand::Create { tenant, user, expires_in, description } => {
            let tenant = identity::tenant_by_slug(&mut conn, tenant)?;
            let user_id = identity::user_id_by_email(&mut conn, &tenant.id, user)?;
            let expires_at = expires_in.as_deref().map(parse_expiry).transpose()?;
            let key = alga_core::db::write_transaction(&mut conn, |conn| {
                let key = identity::create_api_key(conn, &tenant.id, &user_id, description, expires_at)?;
                key_change(conn, &tenant.id, &user_id, &key)?;
                Ok::<_, ApiError>(key)
            })?;
            writeln!(out(), "API key {} for {user} (shown once, store it now):\n{}", key.key.id, key.plaintext)?;
        }
        ApiKeyCommand::Revoke { id } => {
            alga_core::db::write_transaction(&mut conn, |conn| {
                let tenant = identity::revoke_api_key(conn, None, id)?;
                cli_change(conn, &tenant, "api_key.revoke", "api_key", id, None)
            })?;
            writeln!(out(), "revoked API key {id}")?;
        }
    }
    Ok(())
}

pub async fn demo_data(global: &GlobalArgs, tenant: &str) -> anyhow::Result<()> {
    let url: DatabaseUrl = global.database_url.parse()?;
    let db = alga_core::Db::connect(url, alga_core::PoolOptions::default()).await?;
    let migrator = crate::edition::migrator()?;
    let pending = db.run(move |conn| migrator.pending_count(conn).map_err(anyhow::Error::from)).await?;
    if pending > 0 {
        bail!("the database lacks {pending} migrations: run `alga-server migrate` first");
    }
    let ctx = alga_core::AppContext::new(db, url::Url::parse("http://localhost")?);
    report_demo(tenant, alga_api::demo::seed(&ctx, tenant).await?)
}

pub fn report_demo(tenant: &str, summary: alga_api::demo::Summary) -> anyhow::Result<()> {
    let mut out = out();
    if summary.skipped {
        writeln!(out, "tenant {tenant} already has clients or tickets: no sample data added")?;
    } else {
        writeln!(
            out,
            "sample data added to tenant {tenant}: {} clients, {} contacts, {} tickets, {} comments, {} projects, \
             {} tasks, {} time entries, {} locations, {} assets, {} knowledge-base articles, {} tags, {} teams, \
             {} ticket categories",
            summary.clients,
            summary.contacts,
            summary.tickets,
            summary.comments,
            summary.projects,
            summary.tasks,
            summary.time_entries,
            summary.locations,
            summary.assets,
            summary.kb_articles,
            summary.tags,
            summary.teams,
            summary.ticket_categories
        )?;
    }
    Ok(())
}

/// `30d`, `12h`, `90m` from now.
fn parse_expiry(text: &str) -> anyhow::Result<NaiveDateTime> {
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 =
        number.parse().with_context(|| format!("--expires-in `{text}`: use a number and d, h or m, e.g. 30d"))?;
    let span = match unit {
        "d" => Duration::days(n),
        "h" => Duration::hours(n),
        "m" => Duration::minutes(n),
        _ => bail!("--expires-in `{text}`: use a number and d, h or m, e.g. 30d"),
    };
    if n <= 0 || span > Duration::days(3650) {
        bail!("--expires-in `{text}`: must be in the future and at most ten years");
    }
    Ok(identity::now() + span)
}

/// On an empty database: tenant `default`, user `admin@localhost` (Admin) with a one-time
/// password (it signs in to the admin UI once, to choose a new one), and an admin API key. Returns the secrets to show once; `None` when the database
/// already has a tenant.
pub fn bootstrap(conn: &mut DbConn) -> Result<Option<(String, String)>, ApiError> {
    let created: Result<_, ApiError> = alga_core::db::write_transaction(conn, |conn| {
        let tenants: i64 = tenants::table.count().get_result(conn)?;
        if tenants > 0 {
            return Ok(None);
        }
        let tenant = identity::create_tenant(conn, "default", "Default")?;
        let created = serde_json::json!({ "slug": tenant.slug, "name": tenant.name });
        cli_change(conn, &tenant.id, "tenant.create", "tenant", &tenant.id, Some(created))?;
        let (admin, password) = first_admin(conn, &tenant.id, "admin@localhost")?;
        let key = identity::create_api_key(conn, &tenant.id, &admin, "bootstrap admin key", None)?;
        key_change(conn, &tenant.id, &admin, &key)?;
        Ok(Some((key.plaintext, password)))
    });
    match created {
        // Another replica starting at the same moment bootstrapped first: nothing to show here.
        Err(e) if e.status() == actix_web::http::StatusCode::CONFLICT => Ok(None),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_spans() {
        let now = identity::now();
        let in_30d = parse_expiry("30d").unwrap();
        assert!((in_30d - now - Duration::days(30)).num_seconds().abs() < 5);
        for bad in ["", "30", "d", "-1d", "0h", "5y", "99999d"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}
