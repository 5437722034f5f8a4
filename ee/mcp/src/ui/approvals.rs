//! Approvals: the calls a policy asked a person to approve, waiting ones first, each with what
//! it would do (the operation, its arguments with secrets redacted, the record, the policies
//! that asked), and the approve and deny forms. A signed-in session of a user who may decide
//! approvals (`mcp_approval:update`) is needed; the store decides again on the grants committed
//! now, never lets the requester decide its own call, and records the decision in the admin audit.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use alga_core::identity::now;
use alga_core::{ApiError, AppContext};
use maud::{Markup, html};

use super::{
    Alerts, Posted, Poster, Reject, Routes, Tab, csrf_field, error_page, page, respond, see_other, signed_in, when,
};
use crate::approval::store::{self, Approval, DECIDE, Status};
use crate::policy::facts::{Fact, RecordKind};
use crate::session::AdminSession;

/// A signed-in user who may decide approvals (Admin by default; any role given the permission).
#[derive(Debug)]
pub struct Approving(pub AdminSession);

impl Approving {
    async fn of(req: &HttpRequest) -> Result<Approving, Reject> {
        let s = signed_in(req).await?;
        if s.password_change_required {
            return Err(Reject::ChangePassword);
        }
        if s.principal.authorize(DECIDE).is_err() {
            return Err(Reject::Failed(ApiError::forbidden(
                "Deciding approvals needs the mcp_approval:update permission (the Admin role has it).",
            )));
        }
        Ok(Approving(s))
    }
}

impl actix_web::FromRequest for Approving {
    type Error = Reject;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Approving, Reject>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Approving::of(&req).await })
    }
}

impl Poster for Approving {
    async fn identify(req: &HttpRequest) -> Result<(Approving, String), Reject> {
        let s = Approving::of(req).await?;
        let csrf = s.0.csrf.clone();
        Ok((s, csrf))
    }
}

fn status_badge(status: Status) -> Markup {
    let class = match status {
        Status::Pending => "badge warn",
        Status::Approved | Status::Consumed => "badge ok",
        Status::Denied => "badge bad",
        Status::Expired => "badge",
    };
    html! { span class=(class) { (status.as_str()) } }
}

fn requester(a: &Approval) -> Markup {
    html! { (a.principal_kind.as_str()) " " strong { (a.principal_name) } " " code { (a.principal_id) } }
}

/// The MCP client that made the call, as it named itself: a hint, never a proof.
fn client(a: &Approval) -> Markup {
    let named = match (&a.client_name, &a.client_version) {
        (Some(name), Some(version)) if !version.is_empty() => format!("{name} {version}"),
        (Some(name), _) => name.clone(),
        _ => return html! { span .hint { "not named" } },
    };
    html! { code { (named) } span .hint { " · as the client named itself, not verified; an approval lets this caller run the call from any client" } }
}

fn table(rows: &[Approval]) -> Markup {
    html! {
        table {
            thead { tr { th scope="col" { "Asked" } th scope="col" { "By" } th scope="col" { "Operation" } th scope="col" { "Record" } th scope="col" { "Status" } th scope="col" { "Until" } } }
            tbody {
                @for a in rows {
                    tr {
                        td { a href=(format!("/admin/approvals/{}", a.id)) { (when(&a.created_at)) } }
                        td { (requester(a)) }
                        td { code { (a.operation_id) } }
                        td { @if let (Some(kind), Some(id)) = (&a.record_kind, &a.record_id) { (kind) " " code { (id) } } }
                        td { (status_badge(a.status)) }
                        td { (when(&a.expires_at)) }
                    }
                }
            }
        }
    }
}

async fn list(s: Approving, ctx: web::Data<AppContext>) -> HttpResponse {
    let tenant = s.0.principal.tenant_id.clone();
    let found = ctx
        .db
        .run(move |conn| {
            let (waiting, _) = store::list(conn, &tenant, Some(Status::Pending), 0, 100)?;
            let (recent, _) = store::list(conn, &tenant, None, 0, 25)?;
            Ok::<_, store::ApprovalError>((waiting, recent))
        })
        .await;
    let (waiting, recent) = match found {
        Ok(found) => found,
        Err(e) => return error_page(&ApiError::from(e)),
    };
    let waiting: Vec<Approval> = waiting.into_iter().filter(|a| !a.expired_at(now())).collect();
    let body = html! {
        p .lead { "Calls that a policy (" code { "@approval(\"required\")" } ") asks a person to approve before they run. An approval lets exactly one execution of exactly that call run; nobody approves their own call." }
        section .card aria-labelledby="waiting" {
            h2 #waiting { (waiting.len()) " waiting" }
            @if waiting.is_empty() { p { "Nothing is waiting for a decision." } } @else { (table(&waiting)) }
        }
        section .card aria-labelledby="recent" {
            h2 #recent { "Recent" }
            @if recent.is_empty() { p { "No approval was asked for yet." } } @else { (table(&recent)) }
        }
    };
    respond(StatusCode::OK, page(&s.0, Tab::Approvals, "Approvals", &Alerts::default(), &body))
}

async fn show(s: &AdminSession, ctx: &AppContext, id: String, alerts: Alerts) -> HttpResponse {
    let tenant = s.principal.tenant_id.clone();
    let found = ctx
        .db
        .run(move |conn| {
            let approval = store::get(conn, &tenant, &id)?;
            let decider = store::decider_name(conn, &approval)?;
            let record = record_now(conn, &tenant, &approval)?;
            Ok::<_, store::ApprovalError>((approval, decider, record))
        })
        .await;
    let (a, decider, record) = match found {
        Ok(found) => found,
        Err(e) => return error_page(&ApiError::from(e)),
    };
    let arguments = serde_json::to_string_pretty(&a.arguments).unwrap_or_default();
    let open = a.status == Status::Pending && !a.expired_at(now());
    let body = html! {
        section .card aria-labelledby="call" {
            h2 #call { "The call" }
            dl {
                dt { "Status" } dd { (status_badge(if a.status == Status::Pending && !open { Status::Expired } else { a.status })) }
                dt { "Asked by" } dd { (requester(&a)) }
                dt { "Client" } dd { (client(&a)) }
                dt { "Operation" } dd { code { (a.operation_id) } }
                dt { "Record" } dd {
                    @if let (Some(kind), Some(id)) = (&a.record_kind, &a.record_id) {
                        (kind) " " code { (id) }
                        @match &record { Some(Some(label)) => { " · now: " strong { (label) } }, Some(None) => { " · no longer exists" }, None => {} }
                    } @else { "none (the call creates or lists)" }
                }
                dt { "Asked by the policies" } dd { @for p in &a.policy_ids { code { (p) } " " } }
                dt { "Approver must hold" } dd { @if a.approver_roles.is_empty() { "the permission to decide approvals" } @else { @for r in &a.approver_roles { strong { (r.name) } " " } } }
                dt { "Asked" } dd { (when(&a.created_at)) }
                dt { "Until" } dd { (when(&a.expires_at)) }
                @if let Some(at) = &a.decided_at {
                    dt { "Decided" } dd { (when(at)) " by " (decider.as_deref().or(a.decided_by.as_deref()).unwrap_or("?")) @if let Some(r) = &a.decision_reason { ": " (r) } }
                }
            }
            h3 { "Arguments" }
            p .hint { "Exactly these arguments (secrets shown as ***) are what an approval lets run: any other call asks again." }
            pre { (arguments) }
        }
        @if open {
            section .card aria-labelledby="decide" {
                h2 #decide { "Decide" }
                form method="post" action=(format!("/admin/approvals/{}/approve", a.id)) {
                    (csrf_field(s))
                    label for="approve-reason" { "Note (optional)" }
                    input #approve-reason type="text" name="reason" maxlength="1000";
                    button type="submit" { "Approve" }
                }
                form method="post" action=(format!("/admin/approvals/{}/deny", a.id)) {
                    (csrf_field(s))
                    label for="deny-reason" { "Why (told to the caller)" }
                    input #deny-reason type="text" name="reason" maxlength="1000" required;
                    button .danger type="submit" { "Deny" }
                }
            }
        }
        p { a href="/admin/approvals" { "← All approvals" } }
    };
    respond(StatusCode::OK, page(s, Tab::Approvals, &format!("Approval {}", a.id), &alerts, &body))
}

/// What the record an approval touches is called now (its number, title or name), `Some(None)`
/// when it no longer exists, `None` when the approval names none.
fn record_now(
    conn: &mut alga_core::DbConn,
    tenant: &str,
    a: &Approval,
) -> Result<Option<Option<String>>, store::ApprovalError> {
    let (Some(kind), Some(id)) = (&a.record_kind, &a.record_id) else { return Ok(None) };
    let Some(kind) = RecordKind::ALL.into_iter().find(|k| k.type_name() == kind) else { return Ok(None) };
    let Some(facts) = crate::policy::load::record_facts(conn, tenant, kind, id, false)? else { return Ok(Some(None)) };
    let text = |name: &str| match facts.attributes.get(name) {
        Some(Fact::String(value)) if !value.is_empty() => Some(value.as_str()),
        _ => None,
    };
    let label: Vec<&str> = ["number", "title", "name"].into_iter().filter_map(text).collect();
    Ok(Some(Some(if label.is_empty() { id.clone() } else { label.join(" ") })))
}

async fn one(s: Approving, ctx: web::Data<AppContext>, id: web::Path<String>) -> HttpResponse {
    show(&s.0, &ctx, id.into_inner(), Alerts::default()).await
}

async fn decide(p: Posted<Approving>, ctx: &AppContext, id: String, approve: bool) -> HttpResponse {
    let principal = p.who.0.principal.clone();
    let reason = p.form.opt("reason");
    let target = id.clone();
    let decided =
        ctx.db.run(move |conn| store::decide(conn, &principal, &target, approve, reason.as_deref(), now())).await;
    match decided {
        Ok(_) => see_other(&format!("/admin/approvals/{id}")),
        Err(e) => show(&p.who.0, ctx, id, Alerts::error(&ApiError::from(e))).await,
    }
}

async fn approve(p: Posted<Approving>, ctx: web::Data<AppContext>, id: web::Path<String>) -> HttpResponse {
    decide(p, &ctx, id.into_inner(), true).await
}

async fn deny(p: Posted<Approving>, ctx: web::Data<AppContext>, id: web::Path<String>) -> HttpResponse {
    decide(p, &ctx, id.into_inner(), false).await
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/approvals", list)
        .get("/admin/approvals/{id}", one)
        .post("/admin/approvals/{id}/approve", approve)
        .post("/admin/approvals/{id}/deny", deny);
}
