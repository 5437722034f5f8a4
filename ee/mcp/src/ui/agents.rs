//! Agents: the list, adding one, its page (edit, roles, status, keys) and retiring it.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use alga_core::identity::now;
use alga_core::{ApiError, AppContext};
use chrono::{Duration, NaiveDate};
use maud::{Markup, html};

use super::{
    Alerts, Done, Form, Posted, Routes, Signed, Tab, copyable, csrf_field, error_page, notice, page, respond,
    see_other, status_badge, when, when_opt,
};
use crate::agents::{self, CreateAgent, CreateKey, KeyView, RoleInfo, UpdateAgent};
use crate::idp::{self, IdpView};

#[derive(Debug, serde::Deserialize)]
struct ListQuery {
    done: Option<String>,
    retired: Option<String>,
}

fn role_checks(roles: &[RoleInfo], checked: &[String]) -> Markup {
    html! {
        fieldset .checks {
            legend { "Roles" }
            @if roles.is_empty() { p .hint { "This organization has no roles." } }
            @for r in roles {
                label {
                    input type="checkbox" name="role_ids" value=(r.id) checked[checked.contains(&r.id)];
                    (r.name)
                    @if !r.description.is_empty() { span .hint { " · " (r.description) } }
                }
            }
            p .hint { "An agent may do exactly what its roles allow, nothing more." }
        }
    }
}

fn team_checks(teams: &[(String, String)], checked: &[String]) -> Markup {
    html! {
        fieldset .checks {
            legend { "Teams" }
            @if teams.is_empty() { p .hint { "This organization has no teams." } }
            @for (id, name) in teams {
                label { input type="checkbox" name="team_ids" value=(id) checked[checked.contains(id)]; (name) }
            }
            p .hint { "The teams it serves: policies can limit it to their tickets." }
        }
    }
}

/// Attributes as the form shows them: one `key=value` per line.
fn attribute_lines(attributes: &BTreeMap<String, String>) -> String {
    attributes.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
}

/// The form's `key=value` lines (blank lines skipped); 400 naming the first line without `=`.
fn parse_attribute_lines(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(ApiError::validation("attributes", format!("line {}: write key=value", n + 1)));
        };
        out.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(out)
}

fn add_form(s: &Signed, idps: &[IdpView], roles: &[RoleInfo], form: Option<&Form>) -> Markup {
    let value = |name: &str| form.map(|f| f.get(name).to_owned()).unwrap_or_default();
    let chosen_idp = value("idp_id");
    let checked = form.map(|f| f.all("role_ids")).unwrap_or_default();
    html! {
        form .stack method="post" action="/admin/mcp/agents" {
            (csrf_field(&s.0))
            div .field { label for="name" { "Name" } input #name type="text" name="name" required maxlength="200" value=(value("name")); }
            div .field { label for="description" { "Description" } span .hint { "Optional: what it does, who runs it." } textarea #description name="description" maxlength="2000" { (value("description")) } }
            div .field {
                label for="idp" { "Identity provider" }
                select #idp name="idp_id" {
                    option value="" { "None: this agent uses API keys only" }
                    @for v in idps.iter().filter(|v| v.idp.active) {
                        option value=(v.idp.id) selected[chosen_idp == v.idp.id] { (v.idp.issuer) " (" (v.idp.kind) ")" }
                    }
                }
            }
            div .field {
                label for="subject" { "Agent ID at the provider" }
                span .hint { "The value of the provider's agent claim in the agent's tokens: the application (client) ID for Microsoft, the service account's numeric ID for Google, the sub (or chosen claim) of a custom provider." }
                input #subject type="text" name="subject" maxlength="512" value=(value("subject"));
            }
            (role_checks(roles, &checked))
            div { button type="submit" { "Add agent" } }
        }
    }
}

async fn render_list(
    ctx: &AppContext,
    s: &Signed,
    retired: bool,
    alerts: Alerts,
    form: Option<&Form>,
    status: StatusCode,
) -> HttpResponse {
    let loaded = async {
        Ok::<_, ApiError>((
            agents::list_agents(ctx, s.tenant(), retired).await?,
            idp::list_idps(ctx, s.tenant()).await?,
            agents::assignable_roles(ctx, s.tenant()).await?,
        ))
    };
    let (list, idps, roles) = match loaded.await {
        Ok(all) => all,
        Err(e) => return error_page(&e),
    };
    let body = html! {
        p .lead { "Each agent is an identity of its own, with roles. Bind it to a subject of a trusted provider, give it API keys, or both." }
        section .card aria-labelledby="agent-list" {
            h2 #agent-list { "Agents" }
            @if list.is_empty() {
                p { "No agent yet." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Provider" } th scope="col" { "Agent ID" } th scope="col" { "Roles" } th scope="col" { "Status" } th scope="col" { "Last activity" } } }
                    tbody {
                        @for a in &list {
                            tr {
                                td { a href=(format!("/admin/mcp/agents/{}", a.id)) { (a.name) } }
                                td .mono { (a.idp_issuer.as_deref().unwrap_or("API keys only")) }
                                td .mono { (a.subject.as_deref().unwrap_or("")) }
                                td { (a.roles.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")) }
                                td { (status_badge(a.status)) }
                                td { (when_opt(a.last_activity_at.as_ref())) }
                            }
                        }
                    }
                }
            }
            p {
                @if retired { a href="/admin/mcp/agents" { "Hide retired agents" } } @else { a href="/admin/mcp/agents?retired=1" { "Show retired agents" } }
            }
        }
        section .card aria-labelledby="agent-add" {
            h2 #agent-add { "Add an agent" }
            (add_form(s, &idps, &roles, form))
        }
    };
    respond(status, page(&s.0, Tab::Agents, "Agents", &alerts, &body))
}

async fn list(s: Signed, ctx: web::Data<AppContext>, q: web::Query<ListQuery>) -> HttpResponse {
    let alerts = Alerts { notice: notice(q.done.as_deref()), error: None };
    render_list(&ctx, &s, q.retired.is_some(), alerts, None, StatusCode::OK).await
}

async fn create(Posted { who: s, form }: Posted<Signed>, ctx: web::Data<AppContext>) -> HttpResponse {
    let idp_id = form.opt("idp_id");
    let input = CreateAgent {
        name: form.get("name").to_owned(),
        description: form.get("description").to_owned(),
        subject: if idp_id.is_some() { Some(form.get("subject").to_owned()) } else { form.opt("subject") },
        idp_id,
        role_ids: form.all("role_ids"),
        team_ids: Vec::new(),
        attributes: BTreeMap::new(),
    };
    match agents::create_agent(&ctx, &s.0.principal, input).await {
        Ok(a) => see_other(&format!("/admin/mcp/agents/{}?done=agent-added", a.id)),
        Err(e) => render_list(&ctx, &s, false, Alerts::error(&e), Some(&form), e.status()).await,
    }
}

/// The names of the teams it serves (the id of one not found).
fn team_names(teams: &[(String, String)], ids: &[String]) -> String {
    if ids.is_empty() {
        return "None".to_owned();
    }
    ids.iter()
        .map(|id| teams.iter().find(|(t, _)| t == id).map_or(id.as_str(), |(_, n)| n.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn key_status(k: &KeyView) -> &'static str {
    if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|at| at <= now()) {
        "expired"
    } else {
        "active"
    }
}

/// The agent's page; `new_key` is a key just created, shown this once.
async fn render_agent(
    ctx: &AppContext,
    s: &Signed,
    id: &str,
    alerts: Alerts,
    new_key: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let loaded = async {
        Ok::<_, ApiError>((
            agents::get_agent(ctx, s.tenant(), id).await?,
            agents::assignable_roles(ctx, s.tenant()).await?,
            agents::agent_keys(ctx, s.tenant(), id).await?,
            agents::tenant_teams(ctx, s.tenant()).await?,
        ))
    };
    let (a, roles, keys, teams) = match loaded.await {
        Ok(all) => all,
        Err(e) => return error_page(&e),
    };
    let retired = a.retired_at.is_some();
    let checked: Vec<String> = a.roles.iter().map(|r| r.id.clone()).collect();
    let default_expiry = (now() + Duration::days(90)).date().format("%Y-%m-%d").to_string();
    let max_expiry = (now() + Duration::days(365)).date().format("%Y-%m-%d").to_string();
    let body = html! {
        @if let Some(key) = new_key {
            section .card aria-labelledby="new-key" {
                h2 #new-key { "New API key" }
                div .alert.warn role="status" { "Copy this key now: it is shown only once, and only its hash is stored." }
                (copyable("new-key-value", "API key", key))
                p .hint { "Send it as " code { "x-api-key" } " or as " code { "Authorization: Bearer" } " to the MCP endpoint." }
            }
        }
        section .card aria-labelledby="agent-facts" {
            h2 #agent-facts { "Identity" }
            dl .facts {
                dt { "Status" } dd { (status_badge(a.status)) }
                dt { "Provider" } dd .mono { (a.idp_issuer.as_deref().unwrap_or("None: API keys only")) }
                dt { "Agent ID" } dd .mono { (a.subject.as_deref().unwrap_or("")) }
                dt { "Created" } dd { (when(&a.created_at)) }
                dt { "Last activity" } dd { (when_opt(a.last_activity_at.as_ref())) " · " a href=(format!("/admin/mcp/activity?agent_id={}", a.id)) { "View activity" } }
                @if let Some(r) = &a.retired_at { dt { "Retired" } dd { (when(r)) } }
                dt { "Teams" } dd { (team_names(&teams, &a.team_ids)) }
                dt { "Attributes" } dd .mono { @if a.attributes.is_empty() { "None" } @else { (attribute_lines(&a.attributes).replace('\n', ", ")) } }
            }
            @if !retired {
                div .pager {
                    form method="post" action=(format!("/admin/mcp/agents/{}/active", a.id)) {
                        (csrf_field(&s.0))
                        input type="hidden" name="active" value=(if a.active { "false" } else { "true" });
                        button .secondary type="submit" { (if a.active { "Deactivate" } else { "Reactivate" }) }
                    }
                    a .button.secondary href=(format!("/admin/mcp/agents/{}/retire", a.id)) { "Retire…" }
                }
            }
        }
        @if !retired {
            section .card aria-labelledby="agent-edit" {
                h2 #agent-edit { "Name, roles, teams and attributes" }
                form .stack method="post" action=(format!("/admin/mcp/agents/{}", a.id)) {
                    (csrf_field(&s.0))
                    div .field { label for="name" { "Name" } input #name type="text" name="name" required maxlength="200" value=(a.name); }
                    div .field { label for="description" { "Description" } textarea #description name="description" maxlength="2000" { (a.description) } }
                    (role_checks(&roles, &checked))
                    (team_checks(&teams, &a.team_ids))
                    div .field {
                        label for="attributes" { "Attributes" }
                        span .hint { "One key=value per line, at most 20 (policies read them, e.g. region=emea)." }
                        textarea #attributes name="attributes" rows="4" { (attribute_lines(&a.attributes)) }
                    }
                    div { button type="submit" { "Save" } }
                }
            }
        }
        section .card aria-labelledby="agent-keys" {
            h2 #agent-keys { "API keys" }
            p .hint { "For agents that cannot get tokens from a provider. Every key expires within a year." }
            @if keys.is_empty() { p { "No keys." } } @else {
                table {
                    thead { tr { th scope="col" { "Key" } th scope="col" { "Description" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Last used" } th scope="col" { "Status" } th scope="col" { span .skip { "Actions" } } } }
                    tbody {
                        @for k in &keys {
                            tr {
                                td .mono { (k.prefix) "…" }
                                td { (k.description) }
                                td { (when(&k.created_at)) }
                                td { (when_opt(k.expires_at.as_ref())) }
                                td { (when_opt(k.last_used_at.as_ref())) }
                                td { (status_badge(key_status(k))) }
                                td .actions {
                                    @if k.revoked_at.is_none() {
                                        form method="post" action=(format!("/admin/mcp/agents/{}/keys/{}/revoke", a.id, k.id)) data-confirm="Revoke this key? It stops working at once." {
                                            (csrf_field(&s.0))
                                            button .link type="submit" aria-label=(format!("Revoke key {}", k.prefix)) { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !retired {
                h3 { "Create a key" }
                form .stack method="post" action=(format!("/admin/mcp/agents/{}/keys", a.id)) {
                    (csrf_field(&s.0))
                    div .field { label for="key-description" { "Description" } input #key-description type="text" name="description" maxlength="200"; }
                    div .field { label for="key-expires" { "Expires on" } span .hint { "At most one year from today." } input #key-expires type="date" name="expires_on" required value=(default_expiry) max=(max_expiry); }
                    div { button type="submit" { "Create key" } }
                }
            }
        }
    };
    respond(status, page(&s.0, Tab::Agents, &format!("Agent: {}", a.name), &alerts, &body))
}

async fn show(s: Signed, ctx: web::Data<AppContext>, path: web::Path<String>, q: web::Query<Done>) -> HttpResponse {
    let alerts = Alerts { notice: notice(q.done.as_deref()), error: None };
    render_agent(&ctx, &s, &path, alerts, None, StatusCode::OK).await
}

async fn update(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    let attributes = match parse_attribute_lines(form.get("attributes")) {
        Ok(attributes) => attributes,
        Err(e) => return render_agent(&ctx, &s, &path, Alerts::error(&e), None, e.status()).await,
    };
    let input = UpdateAgent {
        name: Some(form.get("name").to_owned()),
        description: Some(form.get("description").to_owned()),
        role_ids: Some(form.all("role_ids")),
        active: None,
        team_ids: Some(form.all("team_ids")),
        attributes: Some(attributes),
    };
    match agents::update_agent(&ctx, &s.0.principal, &path, input).await {
        Ok(_) => see_other(&format!("/admin/mcp/agents/{}?done=agent-saved", path.as_str())),
        Err(e) => render_agent(&ctx, &s, &path, Alerts::error(&e), None, e.status()).await,
    }
}

async fn set_active(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    let active = form.get("active") == "true";
    let input = UpdateAgent {
        name: None,
        description: None,
        role_ids: None,
        active: Some(active),
        team_ids: None,
        attributes: None,
    };
    match agents::update_agent(&ctx, &s.0.principal, &path, input).await {
        Ok(_) => see_other(&format!(
            "/admin/mcp/agents/{}?done={}",
            path.as_str(),
            if active { "agent-activated" } else { "agent-deactivated" }
        )),
        Err(e) => render_agent(&ctx, &s, &path, Alerts::error(&e), None, e.status()).await,
    }
}

async fn retire_confirm(s: Signed, ctx: web::Data<AppContext>, path: web::Path<String>) -> HttpResponse {
    let a = match agents::get_agent(&ctx, s.tenant(), &path).await {
        Ok(a) => a,
        Err(e) => return error_page(&e),
    };
    let body = html! {
        section .card {
            p { "Retiring " strong { (a.name) } " stops it at once: its tokens and keys are refused from its next call, and its keys are revoked. Retiring cannot be undone." }
            p { strong { "Its activity stays in the audit." } " The provider binding is freed, so another agent can take it." }
            form method="post" action=(format!("/admin/mcp/agents/{}/retire", a.id)) {
                (csrf_field(&s.0))
                button .danger type="submit" { "Retire " (a.name) }
                " "
                a .button.secondary href=(format!("/admin/mcp/agents/{}", a.id)) { "Cancel" }
            }
        }
    };
    respond(StatusCode::OK, page(&s.0, Tab::Agents, &format!("Retire {}?", a.name), &Alerts::default(), &body))
}

async fn retire(
    Posted { who: s, .. }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    match agents::retire_agent(&ctx, &s.0.principal, &path).await {
        Ok(_) => see_other("/admin/mcp/agents?done=agent-retired"),
        Err(e) => render_agent(&ctx, &s, &path, Alerts::error(&e), None, e.status()).await,
    }
}

async fn create_key(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    // A date means the end of that day, UTC.
    let expires_at = NaiveDate::parse_from_str(form.get("expires_on").trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc());
    let Some(expires_at) = expires_at else {
        let e = ApiError::validation("expires_on", "give the date the key expires, e.g. 2027-03-31");
        return render_agent(&ctx, &s, &path, Alerts::error(&e), None, e.status()).await;
    };
    let input = CreateKey { description: form.get("description").to_owned(), expires_at: Some(expires_at) };
    match agents::create_agent_key(&ctx, &s.0.principal, &path, input).await {
        Ok((plaintext, _)) => {
            render_agent(&ctx, &s, &path, Alerts::default(), Some(&plaintext), StatusCode::CREATED).await
        }
        Err(e) => render_agent(&ctx, &s, &path, Alerts::error(&e), None, e.status()).await,
    }
}

async fn revoke_key(
    Posted { who: s, .. }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (agent, key) = path.into_inner();
    match agents::revoke_agent_key(&ctx, &s.0.principal, &agent, &key).await {
        Ok(()) => see_other(&format!("/admin/mcp/agents/{agent}?done=key-revoked")),
        Err(e) => render_agent(&ctx, &s, &agent, Alerts::error(&e), None, e.status()).await,
    }
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/mcp/agents", list)
        .post("/admin/mcp/agents", create)
        .get("/admin/mcp/agents/{id}", show)
        .post("/admin/mcp/agents/{id}", update)
        .post("/admin/mcp/agents/{id}/active", set_active)
        .get("/admin/mcp/agents/{id}/retire", retire_confirm)
        .post("/admin/mcp/agents/{id}/retire", retire)
        .post("/admin/mcp/agents/{id}/keys", create_key)
        .post("/admin/mcp/agents/{id}/keys/{key_id}/revoke", revoke_key);
}
