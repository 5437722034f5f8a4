//! `/admin/password`: a signed-in user changes their own password. Whoever signed in with a
//! one-time password lands here, and nothing else of the UI opens (but signing out) until they
//! have chosen their own.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use alga_core::AppContext;
use alga_core::identity::MIN_PASSWORD_CHARS;
use maud::{Markup, html};

use super::{Alerts, PASSWORD_PAGE, Posted, Routes, Session, bare, csrf_field, respond, see_other};
use crate::Governance;
use crate::session::{self, AdminSession, PasswordChange};

fn form_page(s: &AdminSession, alerts: &Alerts) -> Markup {
    let forced = s.password_change_required;
    bare(
        "Change your password",
        &html! {
            h1 { "Change your password" }
            @if forced {
                p .lead { "You signed in with a one-time password. Choose your own to continue: the rest of the admin UI opens once you have. API keys are not affected." }
            } @else {
                p .lead { "Signed in as " strong { (s.email()) } ". Changing the password ends your other sessions." }
            }
            @if let Some(e) = &alerts.error { div .alert.error role="alert" { (e) } }
            form .stack method="post" action=(PASSWORD_PAGE) {
                (csrf_field(s))
                // For password managers: whose password this is.
                input type="hidden" name="username" autocomplete="username" value=(s.email());
                div .field {
                    label for="current-password" { (if forced { "One-time password" } else { "Current password" }) }
                    input #current-password type="password" name="current_password" autocomplete="current-password" required;
                }
                div .field {
                    label for="new-password" { "New password" }
                    span .hint { "At least " (MIN_PASSWORD_CHARS) " characters." }
                    input #new-password type="password" name="new_password" autocomplete="new-password" required minlength=(MIN_PASSWORD_CHARS);
                }
                div .field {
                    label for="repeat-password" { "New password again" }
                    input #repeat-password type="password" name="repeat_password" autocomplete="new-password" required minlength=(MIN_PASSWORD_CHARS);
                }
                div {
                    button type="submit" { "Change password" }
                    @if !forced { " " a .button.secondary href="/admin/mcp" { "Cancel" } }
                }
            }
            form method="post" action="/admin/logout" { (csrf_field(s)) button .secondary type="submit" { "Sign out" } }
        },
    )
}

async fn show(Session(s): Session) -> HttpResponse {
    respond(StatusCode::OK, form_page(&s, &Alerts::default()))
}

async fn change(
    Posted { who: Session(s), form }: Posted<Session>,
    req: HttpRequest,
    ctx: web::Data<AppContext>,
    gov: web::Data<Governance>,
) -> HttpResponse {
    let addr = session::client_addr(&req, &gov.settings.trusted_proxies);
    let change = PasswordChange {
        current: form.get("current_password"),
        new: form.get("new_password"),
        repeated: form.get("repeat_password"),
    };
    match session::change_password(&ctx, &gov.sign_ins, &s, &change, addr).await {
        Ok((_, token)) => {
            // Every session of the user ended with the old password; this browser gets a new one.
            let mut response = see_other("/admin/mcp?done=password-changed");
            let _ = response.add_cookie(&session::session_cookie(&ctx, token));
            response
        }
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => see_other("/admin/login"),
        Err(e) => respond(e.status(), form_page(&s, &Alerts::error(&e))),
    }
}

pub(super) fn routes(r: &mut Routes) {
    r.get(PASSWORD_PAGE, show).post(PASSWORD_PAGE, change);
}
