//! Identity providers: the list, adding one with a preset, editing, (de)activating, deleting.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use alga_core::{ApiError, AppContext};
use maud::{Markup, html};

use super::{
    Alerts, Done, Form, Posted, Routes, Signed, Tab, csrf_field, error_page, notice, page, respond, see_other,
    status_badge,
};
use crate::Governance;
use crate::idp::{self, CreateIdp, IdpView, Kind, SUBJECT_CLAIMS, UpdateIdp};

fn claim_select(id: &str, selected: Option<&str>, default_label: &str) -> Markup {
    html! {
        select id=(id) name="subject_claim" {
            option value="" selected[selected.is_none()] { (default_label) }
            @for c in SUBJECT_CLAIMS { option value=(c) selected[selected == Some(c)] { (c) } }
        }
    }
}

/// The three scope lists, space-separated (the API takes them as lists).
fn scope_fields(scopes: &str, required_scopes: &str, required_roles: &str) -> Markup {
    html! {
        div .field {
            label for="scopes" { "Scopes clients request" }
            span .hint { "Space-separated; advertised to OAuth clients. Microsoft default: " code { "<audience>/.default" } "." }
            input #scopes type="text" name="scopes" value=(scopes);
        }
        div .field {
            label for="required-scopes" { "Required scopes" }
            span .hint { "Optional, space-separated: each must be in the token's scp or scope claim." }
            input #required-scopes type="text" name="required_scopes" value=(required_scopes);
        }
        div .field {
            label for="required-roles" { "Required roles" }
            span .hint { "Optional, space-separated: each must be in the token's roles claim (Entra app roles)." }
            input #required-roles type="text" name="required_roles" value=(required_roles);
        }
    }
}

/// A space-separated form field as a list; absent or blank: `None` (the default).
fn listed(form: &Form, name: &str) -> Option<Vec<String>> {
    form.opt(name).map(|text| text.split_whitespace().map(str::to_owned).collect())
}

fn add_form(s: &Signed, ctx: &AppContext, form: Option<&Form>) -> Markup {
    let value = |name: &str| form.map(|f| f.get(name).to_owned()).unwrap_or_default();
    let kind = form.map_or("microsoft", |f| f.get("kind"));
    html! {
        form .stack method="post" action="/admin/mcp/idps" {
            (csrf_field(&s.0))
            div .field {
                label for="idp-kind" { "Provider" }
                select #idp-kind name="kind" {
                    option value="microsoft" selected[kind == "microsoft"] { "Microsoft Entra ID" }
                    option value="google" selected[kind == "google"] { "Google" }
                    option value="custom" selected[kind == "custom"] { "Custom (any OpenID provider: Keycloak, Okta, Auth0…)" }
                }
            }
            fieldset data-kind="microsoft" {
                legend { "Microsoft Entra ID" }
                div .field {
                    label for="entra-tenant" { "Directory (tenant) ID" }
                    span .hint { "From the Entra admin center, Overview. Agents are identified by their application (client) ID." }
                    input #entra-tenant type="text" name="entra_tenant_id" value=(value("entra_tenant_id")) placeholder="72f988bf-86f1-41af-91ab-2d7cd011db47";
                }
            }
            fieldset data-kind="google" {
                legend { "Google" }
                p .hint { "Nothing to fill in: Google's issuer and keys are found automatically. Agents are identified by the service account's numeric ID (sub)." }
            }
            fieldset data-kind="custom" {
                legend { "Custom provider" }
                div .field {
                    label for="issuer" { "Issuer" }
                    span .hint { "Exactly as the provider's tokens carry it in iss." }
                    input #issuer type="url" name="issuer" value=(value("issuer")) placeholder="https://login.example.com/realms/agents";
                }
                div .field {
                    label for="jwks-uri" { "Signing keys URL (JWKS)" }
                    span .hint { "Optional: without it, OpenID discovery finds it from the issuer." }
                    input #jwks-uri type="url" name="jwks_uri" value=(value("jwks_uri"));
                }
            }
            details {
                summary { "Advanced: audience, scopes and agent claim" }
                div .stack {
                    div .field {
                        label for="audience" { "Audience" }
                        span .hint { "Default: this server's MCP URL, " code { (idp::resource_url(ctx, None)) } "." }
                        input #audience type="text" name="audience" value=(value("audience"));
                    }
                    (scope_fields(&value("scopes"), &value("required_scopes"), &value("required_roles")))
                    div .field {
                        label for="new-claim" { "Identify agents by" }
                        (claim_select("new-claim", form.and_then(|f| f.opt("subject_claim")).as_deref().and_then(|c| SUBJECT_CLAIMS.iter().find(|x| **x == c).copied()), "Default (azp for Microsoft, sub otherwise)"))
                    }
                }
            }
            div { button type="submit" { "Add provider" } }
        }
    }
}

async fn render(ctx: &AppContext, s: &Signed, alerts: Alerts, form: Option<&Form>, status: StatusCode) -> HttpResponse {
    let list = match idp::list_idps(ctx, s.tenant()).await {
        Ok(list) => list,
        Err(e) => return error_page(&e),
    };
    let body = html! {
        p .lead { "Agents sign in with tokens from identity providers you trust. Register each provider once; then bind agents to it." }
        section .card aria-labelledby="idp-list" {
            h2 #idp-list { "Trusted providers" }
            @if list.is_empty() {
                p { "No identity provider yet. Add one below, or give agents API keys instead." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Provider" } th scope="col" { "Issuer" } th scope="col" { "Audience" } th scope="col" { "Agent claim" } th scope="col" { "Status" } th scope="col" { "Agents" } th scope="col" { span .skip { "Actions" } } } }
                    tbody {
                        @for v in &list { (row(s, v)) }
                    }
                }
            }
        }
        section .card aria-labelledby="idp-add" {
            h2 #idp-add { "Add a provider" }
            (add_form(s, ctx, form))
        }
    };
    respond(status, page(&s.0, Tab::Providers, "Identity providers", &alerts, &body))
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "microsoft" => "Microsoft Entra ID",
        "google" => "Google",
        _ => "Custom",
    }
}

fn row(s: &Signed, v: &IdpView) -> Markup {
    let i = &v.idp;
    html! {
        tr {
            td { (kind_label(&i.kind)) }
            td .mono { (i.issuer) }
            td .mono { (i.audience) }
            td { code { (i.subject_claim) } }
            td { (status_badge(if i.active { "active" } else { "inactive" })) }
            td { (v.agents) }
            td .actions {
                a href=(format!("/admin/mcp/idps/{}", i.id)) aria-label=(format!("Edit {}", i.issuer)) { "Edit" }
                form method="post" action=(format!("/admin/mcp/idps/{}/active", i.id)) {
                    (csrf_field(&s.0))
                    input type="hidden" name="active" value=(if i.active { "false" } else { "true" });
                    button .link type="submit" aria-label=(format!("{} {}", if i.active { "Deactivate" } else { "Reactivate" }, i.issuer)) {
                        (if i.active { "Deactivate" } else { "Reactivate" })
                    }
                }
                form method="post" action=(format!("/admin/mcp/idps/{}/delete", i.id)) data-confirm=(format!("Delete the provider {}?", i.issuer)) {
                    (csrf_field(&s.0))
                    button .link type="submit" aria-label=(format!("Delete {}", i.issuer)) { "Delete" }
                }
            }
        }
    }
}

async fn list(s: Signed, ctx: web::Data<AppContext>, q: web::Query<Done>) -> HttpResponse {
    let alerts = Alerts { notice: notice(q.done.as_deref()), error: None };
    render(&ctx, &s, alerts, None, StatusCode::OK).await
}

async fn create(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
) -> HttpResponse {
    let kind = match form.get("kind") {
        "google" => Kind::Google,
        "custom" => Kind::Custom,
        _ => Kind::Microsoft,
    };
    // Without JavaScript every preset's fields are on the form: only the chosen one's count.
    let input = CreateIdp {
        kind,
        issuer: form.opt("issuer").filter(|_| kind == Kind::Custom),
        jwks_uri: form.opt("jwks_uri").filter(|_| kind == Kind::Custom),
        entra_tenant_id: if kind == Kind::Microsoft { Some(form.get("entra_tenant_id").to_owned()) } else { None },
        audience: form.opt("audience"),
        subject_claim: form.opt("subject_claim"),
        scopes: listed(&form, "scopes"),
        required_scopes: listed(&form, "required_scopes"),
        required_roles: listed(&form, "required_roles"),
    };
    match idp::create_idp(&ctx, &gov, &s.0.principal, input).await {
        Ok(_) => see_other("/admin/mcp/idps?done=idp-added"),
        Err(e) => render(&ctx, &s, Alerts::error(&e), Some(&form), e.status()).await,
    }
}

async fn edit_form(s: Signed, ctx: web::Data<AppContext>, path: web::Path<String>) -> HttpResponse {
    edit_page(&ctx, &s, &path, Alerts::default(), StatusCode::OK).await
}

async fn edit_page(ctx: &AppContext, s: &Signed, id: &str, alerts: Alerts, status: StatusCode) -> HttpResponse {
    let list = match idp::list_idps(ctx, s.tenant()).await {
        Ok(list) => list,
        Err(e) => return error_page(&e),
    };
    let Some(v) = list.iter().find(|v| v.idp.id == id) else {
        return error_page(&ApiError::not_found("No identity provider with this id."));
    };
    let i = &v.idp;
    let body = html! {
        section .card {
            dl .facts {
                dt { "Provider" } dd { (kind_label(&i.kind)) }
                dt { "Issuer" } dd .mono { (i.issuer) }
                dt { "Signing keys" } dd .mono { (i.jwks_uri.as_deref().unwrap_or("")) }
                @if let Some(t) = &i.entra_tenant_id { dt { "Directory (tenant) ID" } dd .mono { (t) } }
                dt { "Status" } dd { (status_badge(if i.active { "active" } else { "inactive" })) }
                dt { "Agents bound" } dd { (v.agents) }
            }
        }
        section .card aria-labelledby="idp-edit" {
            h2 #idp-edit { "Edit" }
            form .stack method="post" action=(format!("/admin/mcp/idps/{}", i.id)) {
                (csrf_field(&s.0))
                div .field {
                    label for="audience" { "Audience" }
                    span .hint { "Tokens must name it in aud. This server's MCP URL is " code { (idp::resource_url(ctx, None)) } "." }
                    input #audience type="text" name="audience" required value=(i.audience);
                }
                (scope_fields(&i.scopes, &i.required_scopes, &i.required_roles))
                div .field { label for="claim" { "Identify agents by" } (claim_select("claim", Some(i.subject_claim.as_str()), "Keep")) }
                div { button type="submit" { "Save" } " " a .button.secondary href="/admin/mcp/idps" { "Cancel" } }
            }
        }
    };
    respond(status, page(&s.0, Tab::Providers, "Edit identity provider", &alerts, &body))
}

async fn update(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    let input = UpdateIdp {
        audience: Some(form.get("audience").to_owned()),
        subject_claim: form.opt("subject_claim"),
        active: None,
        // The edit form shows every list: a blank field clears it.
        scopes: Some(listed(&form, "scopes").unwrap_or_default()),
        required_scopes: Some(listed(&form, "required_scopes").unwrap_or_default()),
        required_roles: Some(listed(&form, "required_roles").unwrap_or_default()),
    };
    match idp::update_idp(&ctx, &s.0.principal, &path, input).await {
        Ok(_) => see_other("/admin/mcp/idps?done=idp-saved"),
        Err(e) => edit_page(&ctx, &s, &path, Alerts::error(&e), e.status()).await,
    }
}

async fn set_active(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    let active = form.get("active") == "true";
    let input = UpdateIdp {
        audience: None,
        subject_claim: None,
        active: Some(active),
        scopes: None,
        required_scopes: None,
        required_roles: None,
    };
    match idp::update_idp(&ctx, &s.0.principal, &path, input).await {
        Ok(_) => see_other(if active {
            "/admin/mcp/idps?done=idp-activated"
        } else {
            "/admin/mcp/idps?done=idp-deactivated"
        }),
        Err(e) => render(&ctx, &s, Alerts::error(&e), None, e.status()).await,
    }
}

async fn delete(
    Posted { who: s, .. }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    path: web::Path<String>,
) -> HttpResponse {
    match idp::delete_idp(&ctx, &s.0.principal, &path).await {
        Ok(()) => see_other("/admin/mcp/idps?done=idp-deleted"),
        Err(e) => render(&ctx, &s, Alerts::error(&e), None, e.status()).await,
    }
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/mcp/idps", list)
        .post("/admin/mcp/idps", create)
        .get("/admin/mcp/idps/{id}", edit_form)
        .post("/admin/mcp/idps/{id}", update)
        .post("/admin/mcp/idps/{id}/active", set_active)
        .post("/admin/mcp/idps/{id}/delete", delete);
}
