//! The [`Admin`] extractor: proof that a request carries the blogger's credentials, so no admin
//! handler can forget to check them.
//!
//! No token configured → 404. A live browser session is accepted first, so the blogger's own
//! browser never meets the lockout; a state-changing request in it must come from our origin
//! (else 403). Otherwise: locked out → 429; wrong or missing credentials → 401. Under `/api/`
//! the refusal is JSON, elsewhere the translated page (the login form for a 401).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest};

use crate::auth::admin::SESSION_COOKIE;
use crate::routes::client_ip::client_key;
use crate::routes::error::{ApiError, PageError};
use crate::routes::origin::same_origin;
use crate::state::State;

pub struct Admin {
    /// The browser session's cookie value, for CSRF tokens; `None` for a bearer token.
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
    LockedOut {
        retry_after_secs: u64,
    },
    Unauthenticated,
    CrossOrigin,
    /// The session store could not be read.
    Unavailable,
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
                Refusal::Unavailable => ApiError::Internal(anyhow::anyhow!("admin sessions unavailable")),
            }
            .into()
        } else {
            match self {
                Refusal::Disabled => PageError::NotFound,
                Refusal::LockedOut { retry_after_secs } => PageError::LockedOut { retry_after_secs },
                Refusal::Unauthenticated => PageError::Unauthorized,
                Refusal::CrossOrigin => PageError::Forbidden,
                Refusal::Unavailable => PageError::Internal(anyhow::anyhow!("admin sessions unavailable")),
            }
            .into()
        }
    }
}

impl FromRequest for Admin {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match req.app_data::<State>() {
                Some(state) => authenticate(&req, state).await.map_err(|r| r.into_error(&req)),
                None => Err(PageError::Internal(anyhow::anyhow!("no application state")).into()),
            }
        })
    }
}

async fn authenticate(req: &HttpRequest, state: &State) -> Result<Admin, Refusal> {
    let Some(auth) = state.admin.as_ref() else {
        return Err(Refusal::Disabled);
    };
    let now = crate::storage::now();
    if let Some(cookie) = req.cookie(SESSION_COOKIE)
        && let Some(id) = auth.session_id(cookie.value(), now)
    {
        let live = crate::storage::sessions::is_live(state.db.pool(), id, now)
            .await
            .map_err(|e| {
                tracing::error!(error = ?e, "reading admin sessions failed");
                Refusal::Unavailable
            })?;
        if live {
            let safe = matches!(*req.method(), Method::GET | Method::HEAD);
            if !safe && !same_origin(req, &state.public_url) {
                if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::CrossOrigin) {
                    tracing::warn!(left_out, "cross-origin admin request refused");
                }
                return Err(Refusal::CrossOrigin);
            }
            return Ok(Admin {
                session: Some(cookie.value().to_owned()),
            });
        }
        // Ended or unknown: answered like a missing session. Forging the signature is hopeless,
        // and counting old cookies as failures would lock the blogger out after a logout.
        tracing::info!("ended admin session presented");
    }
    let client = client_key(req, &state.abuse.trusted_proxies);
    if let Some(wait) = auth.lockout.retry_after(client) {
        state.metrics.refusals("admin_login", "client").inc();
        return Err(Refusal::LockedOut {
            retry_after_secs: wait.as_secs(),
        });
    }
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return Err(Refusal::Unauthenticated);
    };
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    if auth.token_matches(token.trim()) {
        return Ok(Admin { session: None });
    }
    auth.lockout.record_failure(client);
    if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::AdminToken) {
        tracing::warn!(left_out, "wrong admin bearer token");
    }
    Err(Refusal::Unauthenticated)
}
