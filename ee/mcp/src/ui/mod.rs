//! The admin web UI: server-rendered pages under `/admin/`, compiled into the binary (maud), with
//! the small stylesheet and script embedded. Every flow works without JavaScript: forms post,
//! the server redirects (or renders the error in place). Pages call the same functions as the
//! admin API, so both apply the same rules.

mod activity;
mod agents;
mod changes;
mod idps;
mod login;
mod tools;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use alga_core::{ApiError, AppContext};
use chrono::NaiveDateTime;
use maud::{DOCTYPE, Markup, html};

use crate::session::{self, AdminSession};

const CSS: &str = include_str!("../../assets/admin.css");
const JS: &str = include_str!("../../assets/admin.js");
/// Asset URLs carry the version, so browsers may cache them for long.
const CSS_URL: &str = concat!("/admin/assets/admin.css?v=", env!("CARGO_PKG_VERSION"));
const JS_URL: &str = concat!("/admin/assets/admin.js?v=", env!("CARGO_PKG_VERSION"));

/// The signed-in administrator behind a page request. Without a session the browser is sent to
/// the sign-in page; a user who is not an administrator gets a 403 page.
#[derive(Debug)]
pub struct Signed(pub AdminSession);

#[derive(Debug)]
pub enum Reject {
    SignIn(String),
    NotAdmin(Box<AdminSession>),
    Failed(ApiError),
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::SignIn(_) => f.write_str("sign-in required"),
            Reject::NotAdmin(_) => f.write_str("not an administrator"),
            Reject::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl ResponseError for Reject {
    fn status_code(&self) -> StatusCode {
        match self {
            Reject::SignIn(_) => StatusCode::SEE_OTHER,
            Reject::NotAdmin(_) => StatusCode::FORBIDDEN,
            Reject::Failed(e) => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Reject::SignIn(next) => {
                let to = format!(
                    "/admin/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                see_other(&to)
            }
            Reject::NotAdmin(s) => respond(
                StatusCode::FORBIDDEN,
                bare(
                    "Administrators only",
                    &html! {
                        h1 { "Administrators only" }
                        p { "You are signed in as " strong { (s.email()) } ", who does not have the Admin role. Only administrators manage the MCP server." }
                        form method="post" action="/admin/logout" { (csrf_field(s)) button type="submit" { "Sign out" } }
                    },
                ),
            ),
            Reject::Failed(e) => error_page(e),
        }
    }
}

impl FromRequest for Signed {
    type Error = Reject;
    type Future = Pin<Box<dyn Future<Output = Result<Signed, Reject>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = req
                .app_data::<web::Data<AppContext>>()
                .ok_or_else(|| Reject::Failed(ApiError::internal(&"the application context is missing")))?;
            // Back to the same page after signing in; a form posted meanwhile is not replayed.
            let next = if req.method() == actix_web::http::Method::GET {
                req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
            } else {
                "/admin/mcp".to_owned()
            };
            match session::current(ctx, &req).await.map_err(Reject::Failed)? {
                None => Err(Reject::SignIn(next)),
                Some(s) if !s.is_admin() => Err(Reject::NotAdmin(Box::new(s))),
                Some(s) => Ok(Signed(s)),
            }
        })
    }
}

impl Signed {
    /// Whether a posted form carries this session's CSRF token.
    fn csrf_ok(&self, form: &Form) -> bool {
        session::same_secret(form.get("csrf"), &self.0.csrf)
    }

    fn tenant(&self) -> &str {
        &self.0.principal.tenant_id
    }
}

/// A posted form (`application/x-www-form-urlencoded`), keeping repeated fields.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The field's value, or "" when absent.
    fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// The field's trimmed value, unless absent or blank.
    fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

/// The hidden field every form of a signed-in page carries.
fn csrf_field(s: &AdminSession) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// An HTML answer with this UI's security headers; never cached.
fn respond(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(page.into_string())
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Alga MCP server" }
            link rel="stylesheet" href=(CSS_URL);
            script src=(JS_URL) defer {}
        }
    }
}

/// A page outside the signed-in layout (sign-in, errors).
fn bare(title: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { main #main .login { (body) } }
        }
    }
}

/// The sections of the MCP server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Overview,
    Providers,
    Agents,
    Activity,
    Changes,
    Connect,
    Doctor,
}

const TABS: [(Tab, &str, &str); 7] = [
    (Tab::Overview, "/admin/mcp", "Overview"),
    (Tab::Providers, "/admin/mcp/idps", "Identity providers"),
    (Tab::Agents, "/admin/mcp/agents", "Agents"),
    (Tab::Activity, "/admin/mcp/activity", "Activity"),
    (Tab::Changes, "/admin/mcp/changes", "Changes"),
    (Tab::Connect, "/admin/mcp/connect", "Connect"),
    (Tab::Doctor, "/admin/mcp/doctor", "IdP doctor"),
];

/// What a page says above its content.
#[derive(Debug, Default)]
struct Alerts {
    notice: Option<String>,
    error: Option<String>,
}

impl Alerts {
    fn error(e: &ApiError) -> Alerts {
        Alerts { notice: None, error: Some(e.message().to_owned()) }
    }
}

/// A signed-in page: header, tabs, title, alerts, content.
fn page(s: &AdminSession, tab: Tab, title: &str, alerts: &Alerts, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a .skip href="#main" { "Skip to content" }
                header .top {
                    a .brand href="/admin/mcp" { "Alga" }
                    span { "MCP server" }
                    div .who {
                        span { (s.email()) " · " (s.principal.tenant_slug) }
                        form method="post" action="/admin/logout" { (csrf_field(s)) button type="submit" { "Sign out" } }
                    }
                }
                nav .tabs aria-label="MCP server settings" {
                    ul {
                        @for (t, href, label) in TABS {
                            li { a href=(href) aria-current=[(t == tab).then_some("page")] { (label) } }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    @if let Some(n) = &alerts.notice { div .alert.notice role="status" { (n) } }
                    @if let Some(e) = &alerts.error { div .alert.error role="alert" { (e) } }
                    (body)
                }
            }
        }
    }
}

/// An error as a page of its own (the envelope's message, never internals).
fn error_page(e: &ApiError) -> HttpResponse {
    let title = match e.status() {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Forbidden",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    respond(
        e.status(),
        bare(
            title,
            &html! { h1 { (title) } p { (e.message()) } p { a href="/admin/mcp" { "Back to the MCP server settings" } } },
        ),
    )
}

/// The answer to a form posted without this session's CSRF token: nothing changes.
fn csrf_rejected() -> HttpResponse {
    respond(
        StatusCode::FORBIDDEN,
        bare(
            "Form expired",
            &html! {
                h1 { "This form has expired" }
                p { "The form did not carry a valid security token, so nothing was changed. Go back, reload the page and try again." }
                p { a href="/admin/mcp" { "Back to the MCP server settings" } }
            },
        ),
    )
}

/// Notices shown after a redirect (`?done=`), from a fixed list so no text comes from the URL.
fn notice(done: Option<&str>) -> Option<String> {
    let text = match done? {
        "idp-added" => "Identity provider added.",
        "idp-saved" => "Identity provider saved.",
        "idp-activated" => "Identity provider reactivated.",
        "idp-deactivated" => "Identity provider deactivated: its tokens are refused from now on.",
        "idp-deleted" => "Identity provider deleted.",
        "agent-added" => "Agent added.",
        "agent-saved" => "Agent saved: the change applies from its next call.",
        "agent-activated" => "Agent reactivated.",
        "agent-deactivated" => "Agent deactivated: its next call is refused.",
        "agent-retired" => "Agent retired. Its activity stays in the audit.",
        "key-revoked" => "Key revoked: it stops working at once.",
        _ => return None,
    };
    Some(text.to_owned())
}

#[derive(Debug, serde::Deserialize)]
struct Done {
    done: Option<String>,
}

fn when(at: &NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn when_opt(at: Option<&NaiveDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), when)
}

fn status_badge(status: &str) -> Markup {
    let class = match status {
        "active" | "allow" | "pass" => "badge ok",
        "inactive" | "retired" | "deny" | "error" | "revoked" | "expired" | "fail" => "badge bad",
        _ => "badge",
    };
    html! { span class=(class) { (status) } }
}

/// A read-only field with a copy button (shown by the script).
fn copyable(id: &str, label: &str, value: &str) -> Markup {
    html! {
        div .field {
            label for=(id) { (label) }
            div .copy-row {
                input id=(id) type="text" readonly value=(value);
                button type="button" .secondary data-copy=(format!("#{id}")) aria-label=(format!("Copy {label}")) hidden { "Copy" }
            }
        }
    }
}

async fn css() -> HttpResponse {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

async fn admin_root() -> HttpResponse {
    see_other("/admin/mcp")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(admin_root))
        .route("/admin/", web::get().to(admin_root))
        .route("/admin/assets/admin.css", web::get().to(css))
        .route("/admin/assets/admin.js", web::get().to(js));
    login::configure(cfg);
    tools::configure(cfg);
    idps::configure(cfg);
    agents::configure(cfg);
    activity::configure(cfg);
    changes::configure(cfg);
}
