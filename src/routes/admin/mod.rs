//! The blogger's side: `/admin` (HTML) and `/api/admin` (JSON), both behind `ADMIN_TOKEN`.
//!
//! Access is checked by the [`Admin`] extractor, so no admin handler can forget it:
//! no token configured → 404; locked out → 429; wrong or missing credentials → 401; a browser
//! session's state-changing request from another origin → 403.

mod actions;
mod api;
mod export;
mod login;
mod pages;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde_json::json;

use super::State;
use super::client_ip::client_ip;
use crate::auth::admin::SESSION_COOKIE;
use crate::i18n::Lang;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/login", web::get().to(login::form))
            .route("/login", web::post().to(login::submit))
            .route("/logout", web::post().to(login::logout))
            .route("", web::get().to(pages::list))
            .route("/", web::get().to(pages::list))
            .route("/donations/{id}", web::get().to(pages::detail))
            .route("/donations/{id}/{action}", web::post().to(pages::act))
            .route("/events", web::get().to(pages::events))
            .route("/events/{id}/replay", web::post().to(pages::replay))
            .default_service(web::to(pages::unknown)),
    )
    .service(
        web::scope("/api/admin")
            .route("/donations", web::get().to(api::list))
            .route("/donations.csv", web::get().to(export::csv))
            .route("/donations/{id}", web::get().to(api::detail))
            .route("/donations/{id}/{action}", web::post().to(api::act))
            .route("/totals", web::get().to(api::totals))
            .route("/events", web::get().to(api::events))
            .route("/events/{id}/replay", web::post().to(api::replay))
            .default_service(web::to(api::unknown)),
    );
}

/// Proof that the request carries the blogger's credentials.
pub struct Admin {
    /// The browser session, for CSRF tokens; `None` when authenticated by bearer token.
    pub session: Option<String>,
}

impl Admin {
    /// Forms in a browser session must carry the session's CSRF token; bearer calls carry no
    /// ambient credentials and need none.
    pub fn csrf_ok(&self, state: &State, token: Option<&str>) -> bool {
        match (&self.session, &state.admin) {
            (None, _) => true,
            (Some(session), Some(auth)) => token.is_some_and(|t| auth.csrf_valid(session, t)),
            (Some(_), None) => false,
        }
    }

    pub fn csrf_token(&self, state: &State) -> String {
        match (&self.session, &state.admin) {
            (Some(session), Some(auth)) => auth.csrf_token(session),
            _ => String::new(),
        }
    }
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

/// The answer for a refused admin request, in the form the caller expects.
pub(crate) fn refuse(
    req: &HttpRequest,
    state: &State,
    status: StatusCode,
    retry_after: Option<u64>,
) -> HttpResponse {
    let lang = Lang::negotiate(req);
    let t = lang.texts();
    let mut response = if is_api(req) {
        let message = match status {
            StatusCode::NOT_FOUND => "not found",
            StatusCode::UNAUTHORIZED => "missing or wrong admin token",
            StatusCode::TOO_MANY_REQUESTS => "too many failed attempts, retry later",
            _ => "request refused",
        };
        HttpResponse::build(status).json(json!({ "error": { "message": message } }))
    } else {
        match status {
            StatusCode::NOT_FOUND => super::page::not_found_page(state, lang),
            StatusCode::UNAUTHORIZED => login::render(state, lang, None, status),
            StatusCode::TOO_MANY_REQUESTS => {
                super::page::message(state, lang, status, t.too_many_heading, t.too_many_text)
            }
            _ => super::page::message(state, lang, status, t.error_heading, t.admin_forbidden),
        }
    };
    if status == StatusCode::UNAUTHORIZED && is_api(req) {
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static("Bearer"),
        );
    }
    if let Some(secs) = retry_after
        && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
    {
        response
            .headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    response
}

/// Whether a browser request comes from our own pages: `Origin`, or failing that `Referer`,
/// must be the public URL's origin.
pub(crate) fn same_origin(req: &HttpRequest, public_url: &str) -> bool {
    let origin = public_origin(public_url);
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    match (header("Origin"), header("Referer")) {
        (Some(o), _) => o == origin,
        (None, Some(r)) => r == origin || r.starts_with(&format!("{origin}/")),
        (None, None) => false,
    }
}

fn public_origin(public_url: &str) -> &str {
    let after_scheme = public_url.find("://").map_or(0, |i| i + 3);
    match public_url[after_scheme..].find('/') {
        Some(i) => &public_url[..after_scheme + i],
        None => public_url,
    }
}

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Admin, actix_web::Error> {
    let Some(state) = req.app_data::<State>() else {
        return Err(actix_web::error::ErrorInternalServerError("no state"));
    };
    let deny = |status, retry: Option<u64>| -> actix_web::Error {
        InternalError::from_response("admin access refused", refuse(req, state, status, retry)).into()
    };
    let Some(auth) = state.admin.as_ref() else {
        return Err(deny(StatusCode::NOT_FOUND, None));
    };
    let ip = client_ip(req, &state.settings.trusted_proxies);
    if let Some(wait) = auth.lockout.retry_after(ip) {
        return Err(deny(StatusCode::TOO_MANY_REQUESTS, Some(wait.as_secs().max(1))));
    }
    if let Some(header) = req.headers().get(actix_web::http::header::AUTHORIZATION) {
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        if auth.token_matches(token.trim()) {
            return Ok(Admin { session: None });
        }
        auth.lockout.record_failure(ip);
        tracing::warn!(%ip, "wrong admin bearer token");
        return Err(deny(StatusCode::UNAUTHORIZED, None));
    }
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Err(deny(StatusCode::UNAUTHORIZED, None));
    };
    if !auth.session_valid(cookie.value(), crate::storage::now()) {
        // Answered like a missing session: forging the signature is hopeless, and counting
        // expired cookies as failures would lock the blogger out after a night's sleep.
        tracing::info!(%ip, "invalid or expired admin session");
        return Err(deny(StatusCode::UNAUTHORIZED, None));
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe && !same_origin(req, &state.public_url) {
        tracing::warn!(%ip, "cross-origin admin request refused");
        return Err(deny(StatusCode::FORBIDDEN, None));
    }
    Ok(Admin {
        session: Some(cookie.value().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_origin_drops_any_path() {
        assert_eq!(
            public_origin("https://kaffee.example.de"),
            "https://kaffee.example.de"
        );
        assert_eq!(public_origin("https://example.de/kaffee"), "https://example.de");
        assert_eq!(public_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
