//! `/admin/login` and `/admin/logout`: the browser way in.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::guard::Admin;
use crate::auth::admin::{AdminAuth, SESSION_COOKIE};
use crate::i18n::Lang;
use crate::routes::client_ip::client_key;
use crate::routes::error::PageError;
use crate::routes::here::Here;
use crate::routes::origin::same_origin;
use crate::routes::page::login_form;
use crate::state::State;
use crate::storage::{self, sessions};

/// The admin's credentials checker; without `ADMIN_TOKEN` every admin URL is a 404.
fn enabled(state: &State) -> Result<&AdminAuth, PageError> {
    state.admin.as_ref().ok_or(PageError::NotFound)
}

pub async fn form(lang: Lang, here: Here, state: State) -> Result<HttpResponse, PageError> {
    enabled(&state)?;
    Ok(login_form(&state, lang, &here, None, StatusCode::OK))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

/// The body is read as bytes (size-limited like every body) and parsed here, so that a disabled
/// admin answers 404 and a malformed form counts as a wrong token.
pub async fn submit(
    req: HttpRequest,
    lang: Lang,
    body: web::Bytes,
    state: State,
) -> Result<HttpResponse, PageError> {
    let auth = enabled(&state)?;
    // Login CSRF: a foreign page must not sign the blogger into a session.
    if !same_origin(&req, &state.public_url) {
        return Err(PageError::Forbidden);
    }
    let client = client_key(&req, &state.abuse.trusted_proxies);
    if let Some(wait) = auth.lockout.retry_after(client) {
        state.metrics.refusals("admin_login", "client").inc();
        return Err(PageError::LockedOut {
            retry_after_secs: wait.as_secs(),
        });
    }
    let token = serde_urlencoded::from_bytes::<LoginForm>(&body)
        .map(|f| f.token)
        .unwrap_or_default();
    if !auth.token_matches(token.trim()) {
        auth.lockout.record_failure(client);
        if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::AdminToken) {
            tracing::warn!(left_out, "wrong admin token at login");
        }
        let failed = Some(lang.texts().admin_login_failed);
        return Ok(login_form(
            &state,
            lang,
            &Here::of(&req),
            failed,
            StatusCode::UNAUTHORIZED,
        ));
    }
    auth.lockout.clear(client);
    let now = storage::now();
    let (cookie, session) = auth.new_session(now);
    state
        .db
        .write(move |conn| {
            Box::pin(async move { sessions::insert(conn, &session.id, now, session.expires_at).await })
        })
        .await?;
    Ok(HttpResponse::SeeOther()
        .cookie(auth.session_cookie(cookie))
        .insert_header((LOCATION, format!("/admin?lang={}", lang.code())))
        .finish())
}

/// Ends this browser's session on the server too: a copied cookie stops working.
pub async fn logout(req: HttpRequest, state: State) -> Result<HttpResponse, PageError> {
    let auth = enabled(&state)?;
    if !same_origin(&req, &state.public_url) {
        return Err(PageError::Forbidden);
    }
    if let Some(cookie) = req.cookie(SESSION_COOKIE)
        && let Some(id) = auth.session_id(cookie.value(), storage::now())
    {
        let id = id.to_owned();
        state
            .db
            .write(move |conn| Box::pin(async move { sessions::delete(conn, &id).await }))
            .await?;
    }
    Ok(signed_out(auth))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// "Log out everywhere": ends every admin session, this one included.
pub async fn logout_all(
    admin: Admin,
    form: web::Form<CsrfForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let auth = enabled(&state)?;
    if !admin.csrf_ok(&state, form.csrf.as_deref()) {
        return Err(PageError::Forbidden);
    }
    let ended = state
        .db
        .write(|conn| Box::pin(async move { sessions::delete_all(conn).await }))
        .await?;
    tracing::info!(ended, "every admin session ended");
    Ok(signed_out(auth))
}

fn signed_out(auth: &AdminAuth) -> HttpResponse {
    HttpResponse::SeeOther()
        .cookie(auth.logout_cookie())
        .insert_header((LOCATION, "/admin/login"))
        .finish()
}
