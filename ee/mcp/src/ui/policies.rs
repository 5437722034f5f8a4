//! Policies: the tenant's Cedar policy set in an editor (line numbers, problems at their line and
//! column), the mode switch, templates, the replay of the draft on the audit, the generated schema
//! and the history with diffs. Every action is a form post; the editor works without JavaScript.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use alga_api::model::PageRequest;
use alga_core::{ApiError, AppContext};
use maud::{Markup, html};

use super::{Alerts, Form, Posted, Routes, Signed, Tab, csrf_field, error_page, notice, page, respond, see_other};
use crate::policy::api::{self, PolicySetView, SavePolicies};
use crate::policy::engine::{self, Diagnostic};
use crate::policy::facts::Mode;
use crate::policy::replay::{self, Direction, Input, Report};

const PATH: &str = "/admin/mcp/policies";
const HISTORY_SIZE: u32 = 10;
/// The replay's look-back the form starts with.
const REPLAY_DAYS: u32 = 30;

#[derive(Debug, serde::Deserialize)]
struct Query {
    done: Option<String>,
    page: Option<u32>,
}

/// What the editor shows: the stored set, or a draft being worked on.
#[derive(Debug)]
struct Draft {
    source: String,
    mode: Mode,
    expected_version: i64,
    diagnostics: Vec<Diagnostic>,
    /// The replay form's look-back, in days.
    days: u32,
    /// What replaying the draft found, when the replay button was pressed.
    replay: Option<Report>,
}

impl Draft {
    fn of(current: &PolicySetView) -> Draft {
        Draft {
            source: current.source.clone(),
            mode: current.mode,
            expected_version: current.version,
            diagnostics: current.diagnostics.clone(),
            days: REPLAY_DAYS,
            replay: None,
        }
    }

    /// The draft a posted form carries; 400 when its mode or version is not one.
    fn posted(form: &Form) -> Result<Draft, ApiError> {
        let expected_version = form
            .get("expected_version")
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::validation("expected_version", "must be a version number"))?;
        Ok(Draft {
            // Browsers send CRLF line ends; the stored source keeps LF.
            source: form.get("source").replace("\r\n", "\n"),
            mode: api::mode_of(form.get("mode"))?,
            expected_version,
            diagnostics: Vec::new(),
            // Checked when replaying; another action keeps what was typed when it is a number.
            days: form.get("days").trim().parse().unwrap_or(REPLAY_DAYS),
            replay: None,
        })
    }
}

/// The replay form's look-back: a whole number of days from 1 to [`replay::MAX_DAYS`]; 400 otherwise.
fn replay_days(form: &Form) -> Result<u32, ApiError> {
    form.get("days")
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|days| (1..=replay::MAX_DAYS).contains(days))
        .ok_or_else(|| ApiError::validation("days", format!("must be a whole number from 1 to {}", replay::MAX_DAYS)))
}

fn editor(s: &Signed, current: &PolicySetView, draft: &Draft) -> Markup {
    let lines: Vec<&str> = draft.source.split('\n').collect();
    let bad = |n: usize| draft.diagnostics.iter().any(|d| usize::try_from(d.line).is_ok_and(|l| l == n));
    let rows = lines.len().max(8) + 2;
    html! {
        form .policy-editor method="post" action=(PATH) {
            (csrf_field(&s.0))
            input type="hidden" name="expected_version" value=(draft.expected_version);
            fieldset .checks {
                legend { "Mode" }
                label { input type="radio" name="mode" value="enforce" checked[draft.mode == Mode::Enforce]; "Enforce" span .hint { " · a forbidden call is refused" } }
                label { input type="radio" name="mode" value="shadow" checked[draft.mode == Mode::Shadow]; "Shadow" span .hint { " · calls proceed by roles alone; the audit records what the policies would have decided" } }
            }
            div .field {
                label for="source" { "Policies (Cedar)" }
                span .hint { code { "forbid" } " policies restrict what roles grant; " code { "@approval(\"required\") permit" } " policies ask a person to approve first (see Approvals). Name each with " code { "@id(\"…\")" } " and say why with " code { "@reason(\"…\")" } "; both appear in refusals and the audit. Empty = roles alone." }
                div .editor {
                    pre .gutter aria-hidden="true" {
                        @for n in 1..=lines.len() { span class=[bad(n).then_some("bad")] { (n) } "\n" }
                    }
                    textarea #source name="source" rows=(rows) wrap="off" spellcheck="false" autocapitalize="off" aria-describedby=[(!draft.diagnostics.is_empty()).then_some("policy-problems")] {
                        // Browsers drop one newline right after `<textarea>`: this one, so a source
                        // starting with a blank line keeps it.
                        "\n" (draft.source)
                    }
                }
            }
            @if !draft.diagnostics.is_empty() {
                div #policy-problems .alert.error role="alert" {
                    p { strong { (draft.diagnostics.len()) " problem" @if draft.diagnostics.len() != 1 { "s" } } ", nothing was saved:" }
                    ul .diagnostics {
                        @for d in &draft.diagnostics {
                            li {
                                span .mono { "line " (d.line) ":" (d.column) } " · " (d.message)
                                @if let Some(id) = &d.policy_id { " (policy " code { (id) } ")" }
                                @if let Some(text) = usize::try_from(d.line).ok().and_then(|l| l.checked_sub(1)).and_then(|i| lines.get(i)) {
                                    pre .offending { (text) }
                                }
                            }
                        }
                    }
                }
            }
            div .pager {
                button type="submit" name="intent" value="save" { "Save as version " (current.version + 1) }
                button .secondary type="submit" name="intent" value="validate" { "Check without saving" }
            }
            fieldset .replay {
                legend { "Replay on the audit" }
                span .hint { "Decides the audited calls of the period again with the draft above (unsaved) and lists those whose decision would change." }
                div .field {
                    label for="replay-days" { "Days to look back (1 to " (replay::MAX_DAYS) ")" }
                    input #replay-days type="number" name="days" value=(draft.days) inputmode="numeric";
                }
                // Lands on the report, below the editor.
                div { button .secondary type="submit" name="intent" value="replay" formaction=(format!("{PATH}#policy-replay")) { "Replay the draft" } }
            }
            details .templates {
                summary { "Templates" }
                p .hint { "Adds the template at the end of the editor, unsaved: review it, then save." }
                @for t in engine::templates() {
                    div .template {
                        h3 { (t.title) }
                        p .hint { (t.description) }
                        button .secondary type="submit" name="intent" value=(format!("template:{}", t.id)) aria-label=(format!("Insert the template {}", t.title)) { "Insert" }
                    }
                }
            }
        }
    }
}

fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::AllowToDeny => "allow → deny",
        Direction::DenyToAllow => "deny → allow",
    }
}

fn input_name(input: Input) -> &'static str {
    match input {
        Input::Exact => "exact",
        Input::Approximate => "approximate",
    }
}

/// What replaying the draft found: the totals, then per operation and caller the changed calls
/// with their examples, each saying whether its input was the stored one or rebuilt.
fn replay_section(report: &Report) -> Markup {
    html! {
        section .card #policy-replay aria-labelledby="policy-replay-title" {
            h2 #policy-replay-title { "Replay over the last " (report.days) " day" @if report.days != 1 { "s" } }
            p {
                (report.rows_examined) " call" @if report.rows_examined != 1 { "s" } " decided again: "
                (report.exact) " exact (on the input stored with the call), "
                (report.approximate) " approximate (rebuilt from the stored arguments, the caller and the record as they are today). "
                strong { (report.changed) } " would be decided differently."
            }
            @if report.truncated { p .alert.warn { "Only the newest " (replay::MAX_ROWS) " calls of the period were replayed." } }
            @if report.unknown_operations > 0 {
                p .hint { (report.unknown_operations) " call(s) name an operation the API no longer has and were not decided again." }
            }
            @if report.changes.is_empty() {
                p { "No decision would change." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Operation" } th scope="col" { "Caller" } th scope="col" { "Allow → deny" } th scope="col" { "Deny → allow" } th scope="col" { "Examples" } } }
                    tbody {
                        @for c in &report.changes {
                            tr {
                                td { code { (c.operation_id) } }
                                td {
                                    (c.caller_name.as_deref().unwrap_or(&c.caller_id))
                                    span .hint { " (" (c.caller_kind) ")" }
                                }
                                td { (c.allow_to_deny) }
                                td { (c.deny_to_allow) }
                                td {
                                    ul .examples {
                                        @for e in &c.examples {
                                            li {
                                                (direction_name(e.direction)) " · " (super::when(&e.created_at)) " · "
                                                span class=(if e.input == Input::Exact { "badge ok" } else { "badge" }) { (input_name(e.input)) }
                                                @if !e.policy_ids.is_empty() {
                                                    " · " @for (i, id) in e.policy_ids.iter().enumerate() { @if i > 0 { ", " } code { (id) } }
                                                }
                                                @for error in &e.errors { br; span .hint { "error: " (error) } }
                                                @if let Some(note) = &e.note { br; span .hint { (note) } }
                                                br; span .hint { "audit " code { (e.audit_id) } }
                                                pre .arguments { (e.arguments) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn history_section(history: &alga_api::model::Page<api::HistoryEntry>, page_no: u32) -> Markup {
    let pages = history.pagination.total_pages.max(1);
    html! {
        section .card aria-labelledby="policy-history" {
            h2 #policy-history { "History" }
            @if history.data.is_empty() { p { "No version saved yet: roles alone decide." } } @else {
                table {
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Saved" } th scope="col" { "By" } th scope="col" { "Mode" } th scope="col" { "Policies" } th scope="col" { "Change" } } }
                    tbody {
                        @for h in &history.data {
                            tr {
                                td { (h.version) }
                                td { (h.created_at.as_ref().map(super::when).unwrap_or_default()) }
                                td .mono { (h.created_by.as_deref().unwrap_or("")) }
                                td {
                                    (api::mode_name(h.mode))
                                    @if let Some(was) = h.previous_mode { span .hint { " (was " (api::mode_name(was)) ")" } }
                                }
                                td { (h.policies) }
                                td {
                                    @if h.diff.is_empty() { span .hint { "Source unchanged" } } @else {
                                        details {
                                            summary { "Diff" }
                                            pre .diff {
                                                @for line in h.diff.lines() {
                                                    span class=[diff_class(line)] { (line) } "\n"
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            nav .pager aria-label="History pages" {
                @if page_no > 1 { a href=(format!("{PATH}?page={}#policy-history", page_no - 1)) rel="prev" { "← Newer" } }
                span { "Page " (page_no) " of " (pages) }
                @if u64::from(page_no) < pages { a href=(format!("{PATH}?page={}#policy-history", page_no + 1)) rel="next" { "Older →" } }
            }
        }
    }
}

fn diff_class(line: &str) -> Option<&'static str> {
    match line.chars().next() {
        Some('+') => Some("add"),
        Some('-') => Some("del"),
        Some('@') => Some("hunk"),
        _ => None,
    }
}

async fn render(
    ctx: &AppContext,
    s: &Signed,
    draft: Option<Draft>,
    alerts: Alerts,
    page_no: u32,
    status: StatusCode,
) -> HttpResponse {
    let loaded = async {
        let history_page = PageRequest::new(Some(page_no.max(1)), Some(HISTORY_SIZE))?;
        Ok::<_, ApiError>((
            api::current(ctx, s.tenant()).await?,
            api::history(ctx, s.tenant(), history_page).await?,
            engine::schema_text().map_err(|e| ApiError::internal(&e))?,
        ))
    };
    let (current, history, schema) = match loaded.await {
        Ok(all) => all,
        Err(e) => return error_page(&e),
    };
    let draft = draft.unwrap_or_else(|| Draft::of(&current));
    let body = html! {
        p .lead { "Roles say which operations an agent may call; policies add restrictions on arguments and records, written in Cedar. A policy can never grant what roles do not." }
        section .card aria-labelledby="policy-current" {
            h2 #policy-current { "Current set" }
            @if current.version == 0 {
                p { "No policies yet: roles alone decide." }
            } @else {
                p {
                    "Version " strong { (current.version) } ", " (api::mode_name(current.mode)) " mode, "
                    (current.policies.len()) " polic" @if current.policies.len() == 1 { "y" } @else { "ies" }
                    @if let Some(at) = &current.created_at { ", saved " (super::when(at)) }
                    @if let Some(by) = &current.created_by { " by " code { (by) } }
                    "."
                }
                @if !current.policies.is_empty() {
                    ul {
                        @for p in &current.policies {
                            li { code { (p.id) } @if let Some(r) = &p.reason { " · " (r) } }
                        }
                    }
                }
            }
            (editor(s, &current, &draft))
            @if current.version > 0 && !current.source.is_empty() {
                form method="post" action=(format!("{PATH}/clear")) data-confirm="Remove every policy? Roles alone will decide." {
                    (csrf_field(&s.0))
                    input type="hidden" name="expected_version" value=(current.version);
                    button .danger type="submit" { "Remove all policies" }
                }
            }
        }
        @if let Some(report) = &draft.replay { (replay_section(report)) }
        section .card aria-labelledby="policy-schema" {
            h2 #policy-schema { "Schema" }
            details {
                summary { "The entities, actions and context policies may name (generated from the API)" }
                pre .schema { (schema) }
            }
        }
        (history_section(&history, page_no.max(1)))
    };
    respond(status, page(&s.0, Tab::Policies, "Policies", &alerts, &body))
}

async fn show(s: Signed, ctx: web::Data<AppContext>, q: web::Query<Query>) -> HttpResponse {
    let alerts = Alerts { notice: notice(q.done.as_deref()), error: None };
    render(&ctx, &s, None, alerts, q.page.unwrap_or(1), StatusCode::OK).await
}

/// The editor's form: save, check, replay, or insert a template.
async fn post(
    Posted { who: s, form }: Posted<Signed>,
    ctx: web::Data<AppContext>,
    gov: web::Data<crate::Governance>,
) -> HttpResponse {
    let mut draft = match Draft::posted(&form) {
        Ok(draft) => draft,
        Err(e) => return render(&ctx, &s, None, Alerts::error(&e), 1, e.status()).await,
    };
    let intent = form.get("intent");
    if intent == "replay" {
        return replay_draft(&ctx, &gov.replays, &s, draft, &form).await;
    }
    if let Some(id) = intent.strip_prefix("template:") {
        let Some(template) = engine::templates().into_iter().find(|t| t.id == id) else {
            let e = ApiError::validation("intent", "no template with this id");
            return render(&ctx, &s, Some(draft), Alerts::error(&e), 1, e.status()).await;
        };
        if !draft.source.trim().is_empty() {
            draft.source = format!("{}\n\n", draft.source.trim_end());
        }
        draft.source.push_str(template.source);
        let alerts =
            Alerts { notice: Some(format!("Template “{}” inserted, not saved yet.", template.title)), error: None };
        return render(&ctx, &s, Some(draft), alerts, 1, StatusCode::OK).await;
    }
    let diagnostics = match api::validate_off_async(draft.source.clone()).await {
        Ok(diagnostics) => diagnostics,
        Err(e) => return render(&ctx, &s, Some(draft), Alerts::error(&e), 1, e.status()).await,
    };
    match intent {
        "validate" => {
            let valid = diagnostics.is_empty();
            draft.diagnostics = diagnostics;
            let alerts = Alerts { notice: valid.then(|| "No problems found (not saved).".to_owned()), error: None };
            let status = if valid { StatusCode::OK } else { StatusCode::BAD_REQUEST };
            render(&ctx, &s, Some(draft), alerts, 1, status).await
        }
        "save" if !diagnostics.is_empty() => {
            draft.diagnostics = diagnostics;
            render(&ctx, &s, Some(draft), Alerts::default(), 1, StatusCode::BAD_REQUEST).await
        }
        "save" => {
            let body = SavePolicies {
                source: draft.source.clone(),
                mode: Some(draft.mode),
                expected_version: draft.expected_version,
            };
            match api::save(&ctx, &s.0.principal, body).await {
                Ok(_) => see_other(&format!("{PATH}?done=policies-saved")),
                Err(e) => render(&ctx, &s, Some(draft), Alerts::error(&e), 1, e.status()).await,
            }
        }
        _ => {
            let e = ApiError::validation("intent", "must be save, validate, replay or template:<id>");
            render(&ctx, &s, Some(draft), Alerts::error(&e), 1, e.status()).await
        }
    }
}

/// Replays the posted draft on the tenant's audit (the admin API's replay) and shows the report
/// under the editor; an invalid draft or period is shown in place and nothing is replayed.
async fn replay_draft(
    ctx: &AppContext,
    replays: &replay::Replays,
    s: &Signed,
    mut draft: Draft,
    form: &Form,
) -> HttpResponse {
    let days = match replay_days(form) {
        Ok(days) => days,
        Err(e) => return render(ctx, s, Some(draft), Alerts::error(&e), 1, e.status()).await,
    };
    draft.days = days;
    match replay::run(ctx, replays, s.tenant(), draft.source.clone(), days).await {
        Ok(Ok(report)) => {
            draft.replay = Some(report);
            render(ctx, s, Some(draft), Alerts::default(), 1, StatusCode::OK).await
        }
        Ok(Err(diagnostics)) => {
            draft.diagnostics = diagnostics;
            render(ctx, s, Some(draft), Alerts::default(), 1, StatusCode::BAD_REQUEST).await
        }
        Err(e) => render(ctx, s, Some(draft), Alerts::error(&e), 1, e.status()).await,
    }
}

async fn clear(Posted { who: s, form }: Posted<Signed>, ctx: web::Data<AppContext>) -> HttpResponse {
    let expected = match form.get("expected_version").trim().parse::<i64>() {
        Ok(v) => v,
        Err(_) => {
            let e = ApiError::validation("expected_version", "must be a version number");
            return render(&ctx, &s, None, Alerts::error(&e), 1, e.status()).await;
        }
    };
    match api::clear(&ctx, &s.0.principal, expected).await {
        Ok(_) => see_other(&format!("{PATH}?done=policies-cleared")),
        Err(e) => render(&ctx, &s, None, Alerts::error(&e), 1, e.status()).await,
    }
}

pub(super) fn routes(r: &mut Routes) {
    r.get(PATH, show).post(PATH, post).post("/admin/mcp/policies/clear", clear);
}
