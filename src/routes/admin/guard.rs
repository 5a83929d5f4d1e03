//! The [`Admin`] extractor: proof that a request carries the blogger's credentials, so no admin
//! handler can forget to check them.
//!
//! No token configured → 404; locked out → 429; wrong or missing credentials → 401; a browser
//! session's state-changing request from another origin → 403. Under `/api/` the refusal is
//! JSON, elsewhere the translated page (the login form for a 401).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest};

use crate::auth::admin::SESSION_COOKIE;
use crate::routes::client_ip::client_ip;
use crate::routes::error::{ApiError, PageError};
use crate::routes::origin::same_origin;
use crate::state::State;

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

/// Why an admin request was refused, before it is shown as a page or as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Disabled,
    LockedOut { retry_after_secs: u64 },
    Unauthenticated,
    CrossOrigin,
}

impl Refusal {
    /// The refusal in the form the caller expects: JSON under `/api/`, a page elsewhere.
    pub fn into_error(self, req: &HttpRequest) -> actix_web::Error {
        if req.path().starts_with("/api/") {
            match self {
                Refusal::Disabled => ApiError::NotFound("not found"),
                Refusal::LockedOut { retry_after_secs } => ApiError::LockedOut { retry_after_secs },
                Refusal::Unauthenticated => ApiError::Unauthorized,
                Refusal::CrossOrigin => ApiError::Forbidden,
            }
            .into()
        } else {
            match self {
                Refusal::Disabled => PageError::NotFound,
                Refusal::LockedOut { retry_after_secs } => PageError::LockedOut { retry_after_secs },
                Refusal::Unauthenticated => PageError::Unauthorized,
                Refusal::CrossOrigin => PageError::Forbidden,
            }
            .into()
        }
    }
}

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.app_data::<State>() {
            Some(state) => authenticate(req, state).map_err(|r| r.into_error(req)),
            None => Err(PageError::Internal(anyhow::anyhow!("no application state")).into()),
        })
    }
}

fn authenticate(req: &HttpRequest, state: &State) -> Result<Admin, Refusal> {
    let Some(auth) = state.admin.as_ref() else {
        return Err(Refusal::Disabled);
    };
    let ip = client_ip(req, &state.abuse.trusted_proxies);
    if let Some(wait) = auth.lockout.retry_after(ip) {
        return Err(Refusal::LockedOut {
            retry_after_secs: wait.as_secs(),
        });
    }
    if let Some(header) = req.headers().get(AUTHORIZATION) {
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
        return Err(Refusal::Unauthenticated);
    }
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Err(Refusal::Unauthenticated);
    };
    if !auth.session_valid(cookie.value(), crate::storage::now()) {
        // Answered like a missing session: forging the signature is hopeless, and counting
        // expired cookies as failures would lock the blogger out after a night's sleep.
        tracing::info!(%ip, "invalid or expired admin session");
        return Err(Refusal::Unauthenticated);
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe && !same_origin(req, &state.public_url) {
        tracing::warn!(%ip, "cross-origin admin request refused");
        return Err(Refusal::CrossOrigin);
    }
    Ok(Admin {
        session: Some(cookie.value().to_owned()),
    })
}
