//! Activity: the audit of tool calls, filtered and paginated, one call in detail, and exports.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use alga_core::AppContext;
use chrono::{NaiveDateTime, TimeZone, Utc};
use maud::{Markup, html};

use super::{Alerts, Routes, Signed, Tab, error_page, page, respond, status_badge, when};
use crate::agents;
use crate::audit::{self, Filter, Record};

const PAGE_SIZE: u32 = 25;

/// The filter form's fields as the browser sends them (times from `datetime-local`, UTC).
#[derive(Debug, Default, serde::Deserialize)]
struct Query {
    agent_id: Option<String>,
    user_id: Option<String>,
    decision: Option<String>,
    tool: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<u32>,
}

fn some(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// `2026-11-29T10:00` (or with seconds) as UTC.
fn local_time(v: &Option<String>) -> Option<chrono::DateTime<Utc>> {
    let v = some(v)?;
    NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .map(|t| Utc.from_utc_datetime(&t))
}

impl Query {
    fn filter(&self) -> Filter {
        Filter {
            agent_id: some(&self.agent_id),
            user_id: some(&self.user_id),
            decision: some(&self.decision),
            tool: some(&self.tool),
            from: local_time(&self.from),
            to: local_time(&self.to),
            page: Some(self.page.unwrap_or(1).max(1)),
            page_size: Some(PAGE_SIZE),
            format: None,
        }
    }

    /// The filter as query parameters of the API (times in RFC 3339), without the page.
    fn api_params(&self) -> String {
        let f = self.filter();
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("agent_id", f.agent_id), ("user_id", f.user_id), ("decision", f.decision), ("tool", f.tool)] {
            if let Some(v) = v {
                out.append_pair(k, &v);
            }
        }
        for (k, v) in [("from", f.from), ("to", f.to)] {
            if let Some(v) = v {
                out.append_pair(k, &v.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            }
        }
        out.finish()
    }

    /// This page's own query, on another page number.
    fn with_page(&self, page: u32) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("agent_id", &self.agent_id),
            ("user_id", &self.user_id),
            ("decision", &self.decision),
            ("tool", &self.tool),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = some(v) {
                out.append_pair(k, &v);
            }
        }
        out.append_pair("page", &page.to_string());
        out.finish()
    }
}

fn caller(r: &Record) -> String {
    match (&r.agent_id, &r.user_id) {
        (Some(a), _) => format!("agent {a}"),
        (_, Some(u)) => format!("user {u}"),
        _ => r.caller_kind.clone(),
    }
}

fn filters(q: &Query, agents: &[(String, String)]) -> Markup {
    let selected = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    html! {
        form .filters method="get" action="/admin/mcp/activity" {
            div .field {
                label for="f-agent" { "Agent" }
                select #f-agent name="agent_id" {
                    option value="" { "Any" }
                    @for (id, name) in agents { option value=(id) selected[selected(&q.agent_id, id)] { (name) } }
                }
            }
            div .field { label for="f-user" { "User ID" } input #f-user type="text" name="user_id" value=(q.user_id.as_deref().unwrap_or("")); }
            div .field {
                label for="f-decision" { "Decision" }
                select #f-decision name="decision" {
                    option value="" { "Any" }
                    @for d in ["allow", "deny", "error"] { option value=(d) selected[selected(&q.decision, d)] { (d) } }
                }
            }
            div .field {
                label for="f-tool" { "Tool" }
                select #f-tool name="tool" {
                    option value="" { "Any" }
                    @for t in alga_agent_tooling::tools::NAMES { option value=(t) selected[selected(&q.tool, t)] { (t) } }
                }
            }
            div .field { label for="f-from" { "From (UTC)" } input #f-from type="datetime-local" name="from" value=(q.from.as_deref().unwrap_or("")); }
            div .field { label for="f-to" { "To (UTC)" } input #f-to type="datetime-local" name="to" value=(q.to.as_deref().unwrap_or("")); }
            button type="submit" { "Filter" }
            a .button.secondary href="/admin/mcp/activity" { "Clear" }
        }
    }
}

async fn list(s: Signed, ctx: web::Data<AppContext>, q: web::Query<Query>) -> HttpResponse {
    let q = q.into_inner();
    let filter = q.filter();
    let page_no = filter.page.unwrap_or(1);
    let loaded = async {
        let (rows, total) = audit::page_of(&ctx, s.tenant(), filter).await?;
        let agents = agents::list_agents(&ctx, s.tenant(), true).await?;
        Ok::<_, alga_core::ApiError>((rows, total, agents))
    };
    let (rows, total, agent_list) = match loaded.await {
        Ok(all) => all,
        Err(e) => return error_page(&e),
    };
    let agent_names: Vec<(String, String)> = agent_list.iter().map(|a| (a.id.clone(), a.name.clone())).collect();
    let name_of = |r: &Record| match &r.agent_id {
        Some(id) => agent_names.iter().find(|(i, _)| i == id).map_or_else(|| caller(r), |(_, n)| n.clone()),
        None => caller(r),
    };
    let pages = u32::try_from(((total.max(0) as u64).div_ceil(u64::from(PAGE_SIZE))).max(1)).unwrap_or(u32::MAX);
    let params = q.api_params();
    let export = |format: &str| {
        if params.is_empty() {
            format!("/api/v1/mcp/audit/export?format={format}")
        } else {
            format!("/api/v1/mcp/audit/export?format={format}&{params}")
        }
    };
    let body = html! {
        p .lead { "Every tool call, by every agent and user, allowed or not. Rows are never changed or deleted." }
        section .card aria-labelledby="activity-filter" {
            h2 #activity-filter { "Filter" }
            (filters(&q, &agent_names))
        }
        section .card aria-labelledby="activity-calls" {
            h2 #activity-calls { (total) " calls" }
            p { "Export every matching call: " a .button.secondary href=(export("csv")) download { "CSV" } " " a .button.secondary href=(export("jsonl")) download { "JSON Lines" } }
            @if rows.is_empty() { p { "No calls match." } } @else {
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Caller" } th scope="col" { "Tool" } th scope="col" { "Operation" } th scope="col" { "Decision" } th scope="col" { "Status" } th scope="col" { "Duration" } } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { a href=(format!("/admin/mcp/activity/{}", r.id)) { (when(&r.created_at)) } }
                                td { (name_of(r)) }
                                td { code { (r.tool.as_deref().unwrap_or("")) } }
                                td { code { (r.operation_id.as_deref().unwrap_or("")) } }
                                td { (status_badge(&r.decision)) @if let Some(why) = &r.reason { " " span .hint { (why) } } }
                                td { (r.status_code.map(|c| c.to_string()).unwrap_or_default()) }
                                td { (r.duration_ms) " ms" }
                            }
                        }
                    }
                }
            }
            nav .pager aria-label="Pages" {
                @if page_no > 1 { a href=(format!("/admin/mcp/activity?{}", q.with_page(page_no - 1))) rel="prev" { "← Newer" } }
                span { "Page " (page_no) " of " (pages) }
                @if page_no < pages { a href=(format!("/admin/mcp/activity?{}", q.with_page(page_no + 1))) rel="next" { "Older →" } }
            }
        }
    };
    respond(StatusCode::OK, page(&s.0, Tab::Activity, "Activity", &Alerts::default(), &body))
}

fn pretty(json_text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json_text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| json_text.to_owned())
}

/// The stored JSON array of policy ids as a comma-separated list (the text itself if it is not one).
fn policy_id_list(json_text: &str) -> String {
    serde_json::from_str::<Vec<String>>(json_text).map_or_else(|_| json_text.to_owned(), |ids| ids.join(", "))
}

async fn detail(s: Signed, ctx: web::Data<AppContext>, path: web::Path<String>) -> HttpResponse {
    let r = match audit::one(&ctx, s.tenant(), &path).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let fact = |label: &str, value: Option<String>| {
        html! { @if let Some(v) = value { dt { (label) } dd .mono { (v) } } }
    };
    let body = html! {
        section .card aria-labelledby="call-facts" {
            h2 #call-facts { "Call" }
            dl .facts {
                dt { "When" } dd { (when(&r.created_at)) }
                dt { "Decision" } dd { (status_badge(&r.decision)) @if let Some(why) = &r.reason { " " (why) } }
                (fact("Status", r.status_code.map(|c| c.to_string())))
                (fact("Caller", Some(r.caller_kind.clone())))
                (fact("Agent", r.agent_id.clone()))
                (fact("User", r.user_id.clone()))
                (fact("API key", r.api_key_id.clone()))
                (fact("Issuer", r.idp_issuer.clone()))
                (fact("Subject", r.idp_subject.clone()))
                (fact("Client", r.client_name.as_ref().map(|n| format!("{n} {}", r.client_version.as_deref().unwrap_or("")))))
                (fact("Protocol", Some(r.protocol_version.clone())))
                (fact("Tool", r.tool.clone()))
                (fact("Operation", r.operation_id.clone()))
                (fact("Request", r.http_method.as_ref().map(|m| format!("{m} {}", r.http_path.as_deref().unwrap_or("")))))
                (fact("Duration", Some(format!("{} ms", r.duration_ms))))
                (fact("Request ID", r.request_id.clone()))
                (fact("Audit ID", Some(r.id.clone())))
            }
        }
        @if r.policy_decision.is_some() || r.policy_input.is_some() {
            section .card aria-labelledby="call-policies" {
                h2 #call-policies { "Policies" }
                dl .facts {
                    (fact("Policy decision", r.policy_decision.clone()))
                    (fact("Mode", r.policy_mode.clone()))
                    (fact("Policy set version", r.policy_version.map(|v| v.to_string())))
                    (fact("Deciding policies", r.policy_ids.as_deref().map(policy_id_list)))
                }
                @if let Some(input) = &r.policy_input {
                    h3 { "Evaluation input" }
                    pre { (pretty(input)) }
                }
            }
        }
        section .card aria-labelledby="call-args" {
            h2 #call-args { "Arguments" }
            p .hint { "Secrets (passwords, tokens, keys) were replaced by *** before the call was recorded." }
            pre { (pretty(&r.arguments)) }
        }
        section .card aria-labelledby="call-result" {
            h2 #call-result { "Result summary" }
            pre { (r.result_summary.as_deref().map(pretty).unwrap_or_default()) }
        }
        p { a href="/admin/mcp/activity" { "← All activity" } }
    };
    respond(StatusCode::OK, page(&s.0, Tab::Activity, "Tool call", &Alerts::default(), &body))
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/mcp/activity", list).get("/admin/mcp/activity/{id}", detail);
}
