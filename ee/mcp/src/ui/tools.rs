//! The overview, the Connect page (endpoints and client configuration) and the IdP doctor.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use alga_core::{ApiError, AppContext};
use maud::html;

use super::{
    Alerts, Done, Posted, Routes, Signed, Tab, copyable, csrf_field, error_page, notice, page, respond, status_badge,
};
use crate::auth::{self, Diagnosis};
use crate::idp::{self, resource_url};
use crate::metadata::metadata_url;
use crate::{Governance, agents};

async fn overview(s: Signed, ctx: web::Data<AppContext>, q: web::Query<Done>) -> HttpResponse {
    let loaded = async {
        Ok::<_, ApiError>((
            idp::list_idps(&ctx, s.tenant()).await?,
            agents::list_agents(&ctx, s.tenant(), false).await?,
        ))
    };
    let (idps, agent_list) = match loaded.await {
        Ok(all) => all,
        Err(e) => return error_page(&e),
    };
    let active_idps = idps.iter().filter(|v| v.idp.active).count();
    let active_agents = agent_list.iter().filter(|a| a.active).count();
    let last = agent_list.iter().filter_map(|a| a.last_activity_at).max();
    let body = html! {
        p .lead { "Let AI agents work in Alga with the roles you give them: every call they make is checked and recorded." }
        section .card {
            h2 { "Getting started" }
            ol .steps {
                li {
                    strong { a href="/admin/mcp/idps" { "Trust an identity provider" } }
                    " — Microsoft Entra ID, Google, or any OpenID provider that issues your agents' tokens. "
                    span .hint { (active_idps) " active." }
                }
                li {
                    strong { a href="/admin/mcp/agents" { "Add agents and give them roles" } }
                    " — bind each to its ID at the provider, or give it an API key. "
                    span .hint { (active_agents) " active." }
                }
                li {
                    strong { a href="/admin/mcp/connect" { "Connect an MCP client" } }
                    " — the endpoint URL and configuration to paste into Claude, Cursor, VS Code or your own code."
                }
                li {
                    strong { a href="/admin/mcp/activity" { "Watch the activity" } }
                    " — every tool call, allowed or refused, with export. "
                    span .hint { "Last call: " (super::when_opt(last.as_ref())) "." }
                }
            }
            p { "A token refused? Paste it into the " a href="/admin/mcp/doctor" { "IdP doctor" } " to see why." }
        }
    };
    let alerts = Alerts { notice: notice(q.done.as_deref()), error: None };
    respond(StatusCode::OK, page(&s.0, Tab::Overview, "MCP server", &alerts, &body))
}

async fn connect(s: Signed, ctx: web::Data<AppContext>) -> HttpResponse {
    let idps = match idp::list_idps(&ctx, s.tenant()).await {
        Ok(list) => list,
        Err(e) => return error_page(&e),
    };
    let slug = s.0.principal.tenant_slug.clone();
    let instance = resource_url(&ctx, None);
    let tenant = resource_url(&ctx, Some(&slug));
    let tenant_scope = auth::Scope::Tenant { id: s.tenant().to_owned(), slug };
    let claude =
        format!("claude mcp add --transport http alga {tenant} --header \"Authorization: Bearer $ALGA_TOKEN\"");
    let vscode = serde_json::to_string_pretty(&serde_json::json!({
        "servers": { "alga": { "type": "http", "url": tenant, "headers": { "Authorization": "Bearer ${input:alga-token}" } } },
        "inputs": [{ "type": "promptString", "id": "alga-token", "description": "Alga agent token or API key", "password": true }]
    }))
    .unwrap_or_default();
    let cursor = serde_json::to_string_pretty(&serde_json::json!({
        "mcpServers": { "alga": { "url": tenant, "headers": { "x-api-key": "${env:ALGA_AGENT_KEY}" } } }
    }))
    .unwrap_or_default();
    let python = format!(
        "from mcp import ClientSession\nfrom mcp.client.streamable_http import streamablehttp_client\n\nasync with streamablehttp_client(\"{tenant}\", headers={{\"Authorization\": f\"Bearer {{token}}\"}}) as (read, write, _):\n    async with ClientSession(read, write) as session:\n        await session.initialize()\n        tools = await session.list_tools()\n"
    );
    let configs = [
        ("cfg-claude", "Claude Code", claude),
        ("cfg-vscode", "VS Code (.vscode/mcp.json)", vscode),
        ("cfg-cursor", "Cursor (~/.cursor/mcp.json), with an agent API key", cursor),
        ("cfg-python", "Python (official MCP SDK)", python),
    ];
    let body = html! {
        p .lead { "Agents call the MCP endpoint with a token from a trusted provider (Authorization: Bearer) or with an agent API key (x-api-key)." }
        section .card aria-labelledby="endpoints" {
            h2 #endpoints { "Endpoints" }
            div .stack {
                (copyable("url-tenant", "This organization's endpoint (recommended)", &tenant))
                p .hint { "Accepts only this organization's providers, with tokens whose audience is this URL." }
                (copyable("url-instance", "Instance-wide endpoint", &instance))
                p .hint { "Accepts tokens whose audience is the provider's configured audience." }
                (copyable("url-metadata", "Protected-resource metadata (RFC 9728)", &metadata_url(&ctx, &tenant_scope)))
            }
            h3 { "Authorization servers" }
            @if idps.is_empty() { p { "None yet: " a href="/admin/mcp/idps" { "add an identity provider" } "." } }
            ul { @for v in idps.iter().filter(|v| v.idp.active) { li .mono { (v.idp.issuer) } } }
        }
        section .card aria-labelledby="clients" {
            h2 #clients { "Client configuration" }
            @for (id, title, text) in &configs {
                h3 { (title) }
                pre id=(id) { (text) }
                button type="button" .secondary data-copy=(format!("#{id}")) aria-label=(format!("Copy the {title} configuration")) hidden { "Copy" }
            }
        }
    };
    respond(StatusCode::OK, page(&s.0, Tab::Connect, "Connect an MCP client", &Alerts::default(), &body))
}

fn doctor_page(s: &Signed, result: Option<&Diagnosis>, alerts: &Alerts, per_tenant: bool) -> maud::Markup {
    let body = html! {
        p .lead { "Paste an agent's access token to see whether the MCP endpoint would accept it, and if not, exactly why. The token is checked like a real call (its signature against the provider's keys) but is neither stored nor shown again." }
        section .card aria-labelledby="doctor-form" {
            h2 #doctor-form { "Check a token" }
            form .stack method="post" action="/admin/mcp/doctor" {
                (csrf_field(&s.0))
                div .field { label for="token" { "Access token (JWT)" } textarea #token name="token" required autocomplete="off" spellcheck="false" {} }
                div .field {
                    label for="endpoint" { "Endpoint" }
                    select #endpoint name="endpoint" {
                        option value="tenant" selected[per_tenant] { "This organization's endpoint" }
                        option value="instance" selected[!per_tenant] { "Instance-wide endpoint" }
                    }
                }
                div { button type="submit" { "Check token" } }
            }
        }
        @if let Some(d) = result {
            section .card aria-labelledby="doctor-result" {
                h2 #doctor-result { "Result" }
                @match &d.verdict {
                    Ok(who) => div .alert.notice role="status" { (who) },
                    Err(why) => div .alert.error role="alert" { (why) },
                }
                ul .checks {
                    @for c in &d.checks {
                        li { (status_badge(if c.passed { "pass" } else { "fail" })) " " strong { (c.label) } ": " (c.detail) }
                    }
                }
            }
        }
    };
    page(&s.0, Tab::Doctor, "IdP doctor", alerts, &body)
}

async fn doctor_form(s: Signed) -> HttpResponse {
    respond(StatusCode::OK, doctor_page(&s, None, &Alerts::default(), true))
}

async fn doctor(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
) -> HttpResponse {
    let per_tenant = form.get("endpoint") != "instance";
    let slug = s.0.principal.tenant_slug.clone();
    match auth::diagnose(&ctx, &gov, s.tenant(), &slug, form.get("token"), per_tenant).await {
        Ok(d) => respond(StatusCode::OK, doctor_page(&s, Some(&d), &Alerts::default(), per_tenant)),
        Err(e) => respond(e.status(), doctor_page(&s, None, &Alerts::error(&e), per_tenant)),
    }
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/mcp", overview)
        .get("/admin/mcp/connect", connect)
        .get("/admin/mcp/doctor", doctor_form)
        .post("/admin/mcp/doctor", doctor);
}
