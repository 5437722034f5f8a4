//! The admin web UI: server-rendered pages under `/admin/`, compiled into the binary (maud), with
//! the small stylesheet and script embedded. Every flow works without JavaScript: forms post,
//! the server redirects (or renders the error in place). Pages call the same functions as the
//! admin API, so both apply the same rules.

mod activity;
mod agents;
mod approvals;
mod changes;
mod idps;
mod login;
mod password;
mod policies;
mod tools;

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Responder, ResponseError, web};
use alga_core::{ApiError, AppContext};
use chrono::NaiveDateTime;
use maud::{DOCTYPE, Markup, html};

use crate::session::{self, AdminSession};

const CSS: &str = include_str!("../../assets/admin.css");
const JS: &str = include_str!("../../assets/admin.js");
/// Asset URLs carry the version, so browsers may cache them for long.
const CSS_URL: &str = concat!("/admin/assets/admin.css?v=", env!("CARGO_PKG_VERSION"));
const JS_URL: &str = concat!("/admin/assets/admin.js?v=", env!("CARGO_PKG_VERSION"));

/// Where a user who signed in with a one-time password must go first.
const PASSWORD_PAGE: &str = "/admin/password";

/// The signed-in administrator behind a page request. Without a session the browser is sent to
/// the sign-in page; a user who signed in with a one-time password, to the password page; a user
/// who is not an administrator gets a 403 page.
#[derive(Debug)]
pub struct Signed(pub AdminSession);

/// Any signed-in user, also one who must still replace a one-time password: what the password
/// page and signing out need.
#[derive(Debug)]
pub struct Session(pub AdminSession);

/// Someone signing in: no session yet, so the sign-in form's token comes in a cookie.
#[derive(Debug)]
pub struct Visitor;

#[derive(Debug)]
pub enum Reject {
    SignIn(String),
    ChangePassword,
    NotAdmin(Box<AdminSession>),
    /// A form without the CSRF token its poster must present: nothing changes.
    Csrf,
    Failed(ApiError),
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reject::SignIn(_) => f.write_str("sign-in required"),
            Reject::ChangePassword => f.write_str("a new password is required"),
            Reject::NotAdmin(_) => f.write_str("not an administrator"),
            Reject::Csrf => f.write_str("the form's CSRF token is missing or wrong"),
            Reject::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl ResponseError for Reject {
    fn status_code(&self) -> StatusCode {
        match self {
            Reject::SignIn(_) | Reject::ChangePassword => StatusCode::SEE_OTHER,
            Reject::NotAdmin(_) | Reject::Csrf => StatusCode::FORBIDDEN,
            Reject::Failed(e) => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Reject::ChangePassword => see_other(PASSWORD_PAGE),
            Reject::Csrf => csrf_rejected(),
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

/// The request's live session; without one, the browser is sent to sign in.
async fn signed_in(req: &HttpRequest) -> Result<AdminSession, Reject> {
    let ctx = req
        .app_data::<web::Data<AppContext>>()
        .ok_or_else(|| Reject::Failed(ApiError::internal(&"the application context is missing")))?;
    // Back to the same page after signing in; a form posted meanwhile is not replayed.
    let next = if req.method() == Method::GET {
        req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
    } else {
        "/admin/mcp".to_owned()
    };
    session::current(ctx, req).await.map_err(Reject::Failed)?.ok_or(Reject::SignIn(next))
}

impl Signed {
    async fn of(req: &HttpRequest) -> Result<Signed, Reject> {
        match signed_in(req).await? {
            s if s.password_change_required => Err(Reject::ChangePassword),
            s if !s.is_admin() => Err(Reject::NotAdmin(Box::new(s))),
            s => Ok(Signed(s)),
        }
    }

    fn tenant(&self) -> &str {
        &self.0.principal.tenant_id
    }
}

impl FromRequest for Signed {
    type Error = Reject;
    type Future = Pin<Box<dyn Future<Output = Result<Signed, Reject>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Signed::of(&req).await })
    }
}

impl FromRequest for Session {
    type Error = Reject;
    type Future = Pin<Box<dyn Future<Output = Result<Session, Reject>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { signed_in(&req).await.map(Session) })
    }
}

/// Who may post a form, and the CSRF token their form must carry.
trait Poster: Sized {
    async fn identify(req: &HttpRequest) -> Result<(Self, String), Reject>;
}

impl Poster for Signed {
    async fn identify(req: &HttpRequest) -> Result<(Signed, String), Reject> {
        let s = Signed::of(req).await?;
        let csrf = s.0.csrf.clone();
        Ok((s, csrf))
    }
}

impl Poster for Session {
    async fn identify(req: &HttpRequest) -> Result<(Session, String), Reject> {
        let s = signed_in(req).await?;
        let csrf = s.csrf.clone();
        Ok((Session(s), csrf))
    }
}

impl Poster for Visitor {
    async fn identify(req: &HttpRequest) -> Result<(Visitor, String), Reject> {
        Ok((Visitor, req.cookie(session::LOGIN_CSRF_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default()))
    }
}

/// A form posted by `W` whose CSRF token was checked before the handler runs: the way every POST
/// handler of the UI gets its input ([`Routes::post`] takes no other handler). Who posts is
/// established first (so a stranger is sent to sign in), then a missing or wrong token is
/// refused with the "form expired" page and the handler never runs.
#[derive(Debug)]
struct Posted<W> {
    who: W,
    form: Form,
}

impl<W: Poster + 'static> FromRequest for Posted<W> {
    type Error = Reject;
    type Future = Pin<Box<dyn Future<Output = Result<Posted<W>, Reject>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            let (who, expected) = W::identify(&req).await?;
            let body = body.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                Reject::Failed(ApiError::new(status, "bad_request", "The form could not be read."))
            })?;
            let form = Form::parse(&body);
            if expected.is_empty() || !session::same_secret(form.get("csrf"), &expected) {
                return Err(Reject::Csrf);
            }
            Ok(Posted { who, form })
        })
    }
}

/// Handler arguments that begin with a [`Posted`] form: the only POST handlers [`Routes::post`]
/// accepts, so a UI action that skips the CSRF check does not compile.
trait CsrfFirst {}
impl<W> CsrfFirst for (Posted<W>,) {}
impl<W, A> CsrfFirst for (Posted<W>, A) {}
impl<W, A, B> CsrfFirst for (Posted<W>, A, B) {}
impl<W, A, B, C> CsrfFirst for (Posted<W>, A, B, C) {}
impl<W, A, B, C, D> CsrfFirst for (Posted<W>, A, B, C, D) {}

/// The UI's part of the server's route table ([`routes`]): [`Routes::post`] takes only handlers
/// whose first argument is a [`Posted`] form.
struct Routes<'t>(&'t mut alga_core::RouteTable);

impl Routes<'_> {
    fn get<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0.get(path, handler);
        self
    }

    fn post<F, Args>(&mut self, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args> + Send + Sync,
        Args: FromRequest + CsrfFirst + 'static,
        F::Output: Responder + 'static,
    {
        self.0.post(path, handler);
        self
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
    Policies,
    Approvals,
    Activity,
    Changes,
    Connect,
    Doctor,
}

const TABS: [(Tab, &str, &str); 9] = [
    (Tab::Overview, "/admin/mcp", "Overview"),
    (Tab::Providers, "/admin/mcp/idps", "Identity providers"),
    (Tab::Agents, "/admin/mcp/agents", "Agents"),
    (Tab::Policies, "/admin/mcp/policies", "Policies"),
    (Tab::Approvals, "/admin/approvals", "Approvals"),
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
                        a href=(PASSWORD_PAGE) { "Change password" }
                        form method="post" action="/admin/logout" { (csrf_field(s)) button type="submit" { "Sign out" } }
                    }
                }
                nav .tabs aria-label="MCP server settings" {
                    ul {
                        @for (t, href, label) in TABS {
                            li {
                                a href=(href) aria-current=[(t == tab).then_some("page")] {
                                    (label)
                                    @if t == Tab::Approvals && s.pending_approvals > 0 {
                                        " " span .badge.warn aria-label=(format!("{} pending", s.pending_approvals)) { (s.pending_approvals) }
                                    }
                                }
                            }
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
        "policies-saved" => "Policies saved as a new version: they apply from the next call.",
        "policies-cleared" => "Every policy removed: roles alone decide from the next call.",
        "password-changed" => "Password changed. Your other sessions have ended.",
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

/// The admin UI's routes, declared into the server's route table.
pub fn routes(table: &mut alga_core::RouteTable) {
    let mut r = Routes(table);
    r.get("/admin", admin_root)
        .get("/admin/", admin_root)
        .get("/admin/assets/admin.css", css)
        .get("/admin/assets/admin.js", js);
    login::routes(&mut r);
    password::routes(&mut r);
    tools::routes(&mut r);
    idps::routes(&mut r);
    agents::routes(&mut r);
    policies::routes(&mut r);
    approvals::routes(&mut r);
    activity::routes(&mut r);
    changes::routes(&mut r);
}
