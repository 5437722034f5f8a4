//! Changes: the admin audit (who changed users, roles, keys, agents and providers, before and
//! after), newest first, with exports.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use alga_core::AppContext;
use maud::html;

use super::{Alerts, Routes, Signed, Tab, error_page, page, respond, when};
use crate::changes::{Filter, page_of};

const PAGE_SIZE: u32 = 25;

#[derive(Debug, Default, serde::Deserialize)]
struct Query {
    page: Option<u32>,
}

fn pretty(text: &Option<String>) -> String {
    text.as_deref()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_default()
}

async fn list(s: Signed, ctx: web::Data<AppContext>, q: web::Query<Query>) -> HttpResponse {
    let page_no = q.page.unwrap_or(1).max(1);
    let filter = Filter { page: Some(page_no), page_size: Some(PAGE_SIZE), ..Filter::default() };
    let (rows, total) = match page_of(&ctx, s.tenant(), filter).await {
        Ok(found) => found,
        Err(e) => return error_page(&e),
    };
    let pages = u32::try_from(((total.max(0) as u64).div_ceil(u64::from(PAGE_SIZE))).max(1)).unwrap_or(u32::MAX);
    let body = html! {
        p .lead { "Every change to who may do what: users, roles, API keys, agents and identity providers, with who made it. Rows are never changed or deleted; secrets never appear." }
        section .card aria-labelledby="changes-list" {
            h2 #changes-list { (total) " changes" }
            p { "Export every change: " a .button.secondary href="/api/v1/mcp/admin-audit/export?format=csv" download { "CSV" } " " a .button.secondary href="/api/v1/mcp/admin-audit/export?format=jsonl" download { "JSON Lines" } }
            @if rows.is_empty() { p { "No changes yet." } } @else {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Change" } th scope="col" { "Target" } th scope="col" { "Before → after" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (when(&r.created_at)) }
                                td {
                                    (r.actor_kind) " "
                                    code { (r.user_id.as_deref().or(r.agent_id.as_deref()).unwrap_or("")) }
                                    " " span .hint { "by " (r.via) }
                                }
                                td { code { (r.action) } }
                                td { (r.target_kind) " " code { (r.target_id) } }
                                td {
                                    details {
                                        summary { "Show" }
                                        @if r.before.is_some() { h3 { "Before" } pre { (pretty(&r.before)) } }
                                        @if r.after.is_some() { h3 { "After" } pre { (pretty(&r.after)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            nav .pager aria-label="Pages" {
                @if page_no > 1 { a href=(format!("/admin/mcp/changes?page={}", page_no - 1)) rel="prev" { "← Newer" } }
                span { "Page " (page_no) " of " (pages) }
                @if page_no < pages { a href=(format!("/admin/mcp/changes?page={}", page_no + 1)) rel="next" { "Older →" } }
            }
        }
    };
    respond(StatusCode::OK, page(&s.0, Tab::Changes, "Changes", &Alerts::default(), &body))
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/mcp/changes", list);
}
