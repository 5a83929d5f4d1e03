//! How a request fails: [`PageError`] on the HTML pages, [`ApiError`] on the JSON endpoints.
//!
//! Both implement `ResponseError`, so handlers return `Result<_, PageError>` (or `ApiError`) and
//! use `?`. A page error is turned into the translated page by [`render_error_pages`], which
//! knows the reader's language and the site's layout; an API error answers
//! `{"error": {"message": …, "field": …}}`. An internal error is logged here, once, with its
//! whole chain of causes, and shown to nobody.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use super::here::Here;
use super::page;
use crate::i18n::{Lang, Texts};
use crate::state::State;

/// Why an HTML page could not be shown as asked.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("the request could not be read")]
    BadRequest,
    /// No or an expired admin session: the login form is the answer.
    #[error("admin login required")]
    Unauthorized,
    #[error("the request did not come from our own pages")]
    Forbidden,
    #[error("too many failed attempts")]
    LockedOut { retry_after_secs: u64 },
    #[error("too many checkouts")]
    RateLimited { retry_after_secs: u64 },
    #[error("too many requests")]
    Throttled { retry_after_secs: u64 },
    #[error("the payment provider failed")]
    Provider,
    /// The request took longer than `REQUEST_TIMEOUT_SECS`.
    #[error("the request timed out")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError::Internal(e.into())
    }
}

impl PageError {
    /// The heading and sentence of the error page.
    pub fn texts(&self, t: &'static Texts) -> (&'static str, &'static str) {
        match self {
            PageError::NotFound => (t.not_found_heading, t.not_found_text),
            PageError::BadRequest => (t.form_error_heading, t.err_body),
            PageError::Unauthorized => (t.admin_login_heading, t.admin_token),
            PageError::Forbidden => (t.error_heading, t.admin_forbidden),
            PageError::LockedOut { .. } | PageError::Throttled { .. } => {
                (t.too_many_heading, t.too_many_text)
            }
            PageError::RateLimited { .. } => (t.rate_limited_heading, t.rate_limited_text),
            PageError::Provider => (t.provider_error_heading, t.provider_error_text),
            PageError::Internal(_) | PageError::Unavailable => (t.error_heading, t.error_text),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            PageError::LockedOut { retry_after_secs }
            | PageError::RateLimited { retry_after_secs }
            | PageError::Throttled { retry_after_secs } => Some((*retry_after_secs).max(1)),
            _ => None,
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::BadRequest => StatusCode::BAD_REQUEST,
            PageError::Unauthorized => StatusCode::UNAUTHORIZED,
            PageError::Forbidden => StatusCode::FORBIDDEN,
            PageError::LockedOut { .. } | PageError::RateLimited { .. } | PageError::Throttled { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            // A timeout is a 502 too: to the reader both mean "the payment service failed".
            PageError::Provider => StatusCode::BAD_GATEWAY,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A bare response with the right status and headers; `render_error_pages` fills in the page.
    fn error_response(&self) -> HttpResponse {
        if let PageError::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
        // Never cached: an error of a moment must not outlive it (and on private pages nothing is).
        let mut response = HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .body(self.status_code().canonical_reason().unwrap_or_default());
        with_retry_after(&mut response, self.retry_after());
        response
    }
}

/// Why a JSON request failed. Messages are English and stable; scripts may show them.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("missing or wrong admin token")]
    Unauthorized,
    #[error("request refused")]
    Forbidden,
    #[error("too many failed attempts, retry later")]
    LockedOut { retry_after_secs: u64 },
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::LockedOut { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "API request failed");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        let field = match self {
            ApiError::Invalid { field, .. } => Some(*field),
            _ => None,
        };
        let mut response = HttpResponse::build(self.status_code())
            .json(json!({ "error": { "message": message, "field": field } }));
        if let ApiError::LockedOut { retry_after_secs } = self {
            with_retry_after(&mut response, Some((*retry_after_secs).max(1)));
        }
        if let ApiError::Unauthorized = self {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

fn with_retry_after(response: &mut HttpResponse, secs: Option<u64>) {
    if let Some(secs) = secs {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// Replaces the bare response of a [`PageError`] with its translated page, in the layout; and
/// any bare error of the framework's (an unreadable query, form, path or JSON body, a 405, a
/// body over its limit) with our page too, or with a JSON error where JSON is spoken (`/api`,
/// the webhook, a JSON request). No reader ever sees a framework's plain-text message.
pub async fn render_error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let response = next.call(req).await?;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || super::routed::path(response.request()) == "/metrics"
    {
        return Ok(response.map_into_left_body());
    }
    let lang = Lang::negotiate(response.request());
    let t = lang.texts();
    let ours = response
        .response()
        .error()
        .and_then(|e| e.as_error::<PageError>());
    let (login, (heading, text)) = match ours {
        Some(e) => (matches!(e, PageError::Unauthorized), e.texts(t)),
        None if is_bare(response.response().headers()) => (false, framework_texts(status, t)),
        None => return Ok(response.map_into_left_body()),
    };
    let (req, old) = response.into_parts();
    let Some(state) = req.app_data::<State>() else {
        return Ok(ServiceResponse::new(req, old).map_into_left_body());
    };
    let mut page = if speaks_json(&req) {
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        HttpResponse::build(status).json(json!({ "error": { "message": reason } }))
    } else if login {
        page::login_form(state, lang, &Here::of(&req), None, status)
    } else {
        page::message(state, lang, &Here::of(&req), status, heading, text)
    };
    for name in [RETRY_AFTER, ALLOW, CACHE_CONTROL] {
        if let Some(v) = old.headers().get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    // A refusal that closes its connection (a body over budget) keeps doing so.
    if old.head().connection_type() == actix_web::http::ConnectionType::Close {
        page.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    Ok(ServiceResponse::new(req, page).map_into_right_body())
}

/// A response nobody dressed: no body type, or plain text (ours are HTML or JSON).
fn is_bare(headers: &actix_web::http::header::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"))
}

fn speaks_json(req: &actix_web::HttpRequest) -> bool {
    let path = super::routed::path(req);
    path.starts_with("/api/") || path.starts_with("/webhooks/") || sends_json(req)
}

/// Whether the request's body is JSON (its caller speaks JSON, whatever the path).
pub fn sends_json(req: &actix_web::HttpRequest) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

fn framework_texts(status: StatusCode, t: &'static Texts) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => (t.not_found_heading, t.not_found_text),
        StatusCode::METHOD_NOT_ALLOWED => (t.error_heading, t.method_not_allowed_text),
        StatusCode::PAYLOAD_TOO_LARGE => (t.error_heading, t.too_large_text),
        s if s.is_client_error() => (t.error_heading, t.bad_request_text),
        _ => (t.error_heading, t.error_text),
    }
}
