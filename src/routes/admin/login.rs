//! `/admin/login` and `/admin/logout`: the browser way in.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::super::State;
use super::super::client_ip::client_ip;
use super::super::page::{Page, html};
use super::{refuse, same_origin};
use crate::i18n::Lang;

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage {
    page: Page,
    error: Option<&'static str>,
}

pub fn render(state: &State, lang: Lang, error: Option<&'static str>, status: StatusCode) -> HttpResponse {
    let page = LoginPage {
        page: Page::new(state, lang, lang.texts().admin_login_heading),
        error,
    };
    html(status, &page)
}

pub async fn form(req: HttpRequest, state: State) -> HttpResponse {
    if state.admin.is_none() {
        return refuse(&req, &state, StatusCode::NOT_FOUND, None);
    }
    render(&state, Lang::negotiate(&req), None, StatusCode::OK)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

/// The body is read as bytes (size-limited like every body) and parsed here, so that a disabled
/// admin answers 404 and a malformed form counts as a wrong token.
pub async fn submit(req: HttpRequest, body: web::Bytes, state: State) -> HttpResponse {
    let lang = Lang::negotiate(&req);
    let Some(auth) = state.admin.as_ref() else {
        return refuse(&req, &state, StatusCode::NOT_FOUND, None);
    };
    // Login CSRF: a foreign page must not sign the blogger into a session.
    if !same_origin(&req, &state.public_url) {
        return refuse(&req, &state, StatusCode::FORBIDDEN, None);
    }
    let ip = client_ip(&req, &state.settings.trusted_proxies);
    if let Some(wait) = auth.lockout.retry_after(ip) {
        return refuse(
            &req,
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(wait.as_secs().max(1)),
        );
    }
    let token = serde_urlencoded::from_bytes::<LoginForm>(&body)
        .map(|f| f.token)
        .unwrap_or_default();
    if !auth.token_matches(token.trim()) {
        auth.lockout.record_failure(ip);
        tracing::warn!(%ip, "wrong admin token at login");
        return render(
            &state,
            lang,
            Some(lang.texts().admin_login_failed),
            StatusCode::UNAUTHORIZED,
        );
    }
    auth.lockout.clear(ip);
    let session = auth.new_session(crate::storage::now());
    HttpResponse::SeeOther()
        .cookie(auth.session_cookie(session))
        .insert_header((LOCATION, format!("/admin?lang={}", lang.code())))
        .finish()
}

pub async fn logout(req: HttpRequest, state: State) -> HttpResponse {
    let Some(auth) = state.admin.as_ref() else {
        return refuse(&req, &state, StatusCode::NOT_FOUND, None);
    };
    if !same_origin(&req, &state.public_url) {
        return refuse(&req, &state, StatusCode::FORBIDDEN, None);
    }
    HttpResponse::SeeOther()
        .cookie(auth.logout_cookie())
        .insert_header((LOCATION, "/admin/login"))
        .finish()
}
