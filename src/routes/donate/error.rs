//! What can go wrong with a donation, and how each answer looks as JSON; on the HTML side every
//! error but the form's own is a [`PageError`].

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use serde_json::json;

use crate::i18n::Lang;
use crate::payments::ProviderError;
use crate::routes::error::PageError;
use crate::routes::home::{FieldError, FormValues};

#[derive(Debug, thiserror::Error)]
pub enum DonateError {
    #[error("unreadable request body: {0}")]
    BadBody(String),
    #[error("invalid donation")]
    Invalid {
        errors: Vec<FieldError>,
        values: FormValues,
    },
    #[error("too many checkouts; retry in {wait:?}")]
    RateLimited {
        wait: std::time::Duration,
        /// What the reader typed, shown again on the refused form.
        values: FormValues,
    },
    #[error("checkout provider failed")]
    Provider(#[source] ProviderError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DonateError {
    fn status(&self) -> StatusCode {
        match self {
            DonateError::BadBody(_) => StatusCode::BAD_REQUEST,
            DonateError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DonateError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            // A timeout is a 502 too: to the reader both mean "the payment service failed".
            DonateError::Provider(_) => StatusCode::BAD_GATEWAY,
            DonateError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `Retry-After` for a 429.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            DonateError::RateLimited { wait, .. } => Some(retry_after_secs(*wait)),
            _ => None,
        }
    }

    /// The JSON error body: the field at fault and a message; internal causes stay in the log.
    pub fn json(&self, lang: Lang) -> HttpResponse {
        let t = lang.texts();
        let (field, message) = match self {
            DonateError::BadBody(_) => (None, t.err_body.to_owned()),
            DonateError::Invalid { errors, .. } => {
                let first = errors.first();
                (
                    first.map(|e| e.field),
                    first.map(|e| e.message.clone()).unwrap_or_default(),
                )
            }
            DonateError::RateLimited { .. } => (None, t.rate_limited_text.to_owned()),
            DonateError::Provider(_) => (None, t.provider_error_text.to_owned()),
            DonateError::Unexpected(e) => {
                tracing::error!(error = ?e, "donation failed");
                (None, t.error_text.to_owned())
            }
        };
        let mut response = HttpResponse::build(self.status())
            .json(json!({ "error": { "field": field, "message": message } }));
        if let Some(secs) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A wait in whole seconds, rounded up, at least 1: what `Retry-After` says.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The HTML answer for every error but an invalid form, which shows the form again.
impl From<DonateError> for PageError {
    fn from(e: DonateError) -> Self {
        match e {
            DonateError::BadBody(_) | DonateError::Invalid { .. } => PageError::BadRequest,
            ref limited @ DonateError::RateLimited { .. } => PageError::RateLimited {
                retry_after_secs: limited.retry_after_secs().unwrap_or(1),
            },
            DonateError::Provider(_) => PageError::Provider,
            DonateError::Unexpected(e) => PageError::Internal(e),
        }
    }
}
