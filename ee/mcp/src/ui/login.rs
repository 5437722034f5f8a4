//! `/admin/login` and `/admin/logout`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use alga_core::AppContext;
use maud::html;

use super::{PASSWORD_PAGE, Posted, Routes, Session, Visitor, bare, respond, see_other};
use crate::Governance;
use crate::session::{self, LOGIN_CSRF_COOKIE, Refused};

/// One message for every failure, so the form tells nobody which accounts exist.
const GENERIC: &str =
    "Sign-in failed. Check your email and password; after repeated failures, signing in pauses for 15 minutes.";

#[derive(Debug, serde::Deserialize)]
struct Next {
    next: Option<String>,
}

/// Where to go after signing in: only a plain path of this UI (no dot segments, backslashes,
/// control or non-ASCII characters).
fn safe_next(next: Option<&str>) -> String {
    let plain = |n: &str| {
        n.starts_with("/admin/")
            && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            && !n.split(['/', '?', '#']).any(|segment| segment == ".." || segment == ".")
            && !n.to_ascii_lowercase().contains("%2e")
    };
    match next {
        Some(n) if plain(n) => n.to_owned(),
        _ => "/admin/mcp".to_owned(),
    }
}

fn form_page(csrf: &str, next: &str, email: &str, error: Option<&str>, ask_organization: bool) -> maud::Markup {
    bare(
        "Sign in",
        &html! {
            h1 { "Sign in to Alga" }
            p .lead { "Administrators manage the MCP server here: identity providers, agents and their activity." }
            @if let Some(e) = error { div .alert.error role="alert" { (e) } }
            form .stack method="post" action="/admin/login" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="next" value=(next);
                div .field { label for="email" { "Email" } input #email type="email" name="email" autocomplete="username" required value=(email); }
                div .field { label for="password" { "Password" } input #password type="password" name="password" autocomplete="current-password" required; }
                @if ask_organization {
                    div .field {
                        label for="organization" { "Organization" }
                        span .hint { "Your email belongs to several organizations: give the short name (slug) of the one to manage." }
                        input #organization type="text" name="organization" required;
                    }
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The sign-in form, with a fresh CSRF token in a cookie and in the form.
fn show(ctx: &AppContext, next: &str, email: &str, error: Option<&str>, ask: bool, status: StatusCode) -> HttpResponse {
    let Ok(csrf) = session::random_token() else {
        return super::error_page(&alga_core::ApiError::unavailable("Signing in is unavailable right now."));
    };
    let mut response = respond(status, form_page(&csrf, next, email, error, ask));
    let _ = response.add_cookie(&session::cookie(ctx, LOGIN_CSRF_COOKIE, csrf, None));
    response
}

async fn login_form(req: HttpRequest, ctx: web::Data<AppContext>, q: web::Query<Next>) -> HttpResponse {
    if let Ok(Some(s)) = session::current(&ctx, &req).await
        && s.is_admin()
    {
        return see_other(&safe_next(q.next.as_deref()));
    }
    show(&ctx, &safe_next(q.next.as_deref()), "", None, false, StatusCode::OK)
}

async fn login(
    Posted { form, .. }: Posted<Visitor>,
    req: HttpRequest,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
) -> HttpResponse {
    let next = safe_next(Some(form.get("next")));
    let email = form.get("email").trim().to_owned();
    let addr = session::client_addr(&req, &gov.settings.trusted_proxies);
    let organization = form.opt("organization");
    match session::sign_in(&ctx, &gov.sign_ins, &email, form.get("password"), organization.as_deref(), addr).await {
        Ok((signed, token)) => {
            // The browser's previous session, if any, ends here.
            if let Ok(Some(previous)) = session::current(&ctx, &req).await {
                let _ = session::sign_out(&ctx, &previous).await;
            }
            // A one-time password signs in only to choose the user's own.
            let mut response = see_other(if signed.password_change_required { PASSWORD_PAGE } else { &next });
            let _ = response.add_cookie(&session::session_cookie(&ctx, token));
            let _ = response.add_removal_cookie(&session::removal(&ctx, LOGIN_CSRF_COOKIE));
            response
        }
        Err(Refused::Generic) => {
            show(&ctx, &next, &email, Some(GENERIC), organization.is_some(), StatusCode::UNAUTHORIZED)
        }
        Err(Refused::ChooseOrganization) => show(&ctx, &next, &email, None, true, StatusCode::OK),
        Err(Refused::Failed(e)) => super::error_page(&e),
    }
}

/// Ends the session of any signed-in user (administrator or not, one-time password or not).
async fn logout(Posted { who: Session(s), .. }: Posted<Session>, ctx: web::Data<AppContext>) -> HttpResponse {
    if let Err(e) = session::sign_out(&ctx, &s).await {
        return super::error_page(&e);
    }
    let mut response = see_other("/admin/login");
    let _ = response.add_removal_cookie(&session::removal(&ctx, session::COOKIE));
    response
}

pub(super) fn routes(r: &mut Routes) {
    r.get("/admin/login", login_form).post("/admin/login", login).post("/admin/logout", logout);
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn sign_in_only_returns_to_plain_paths_of_the_admin_ui() {
        for ok in ["/admin/mcp/agents", "/admin/mcp/activity?decision=deny&page=2"] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "https://evil.example.com/admin/",
            "//evil.example.com/admin/",
            "/admin/../api/v1/users",
            "/admin/%2e%2e/api",
            "/admin/x\\y",
            "/admin/\r\nSet-Cookie: x",
            "/admin/é",
            "/api/v1/mcp/agents",
        ] {
            assert_eq!(safe_next(Some(bad)), "/admin/mcp", "{bad}");
        }
        assert_eq!(safe_next(None), "/admin/mcp");
    }
}
