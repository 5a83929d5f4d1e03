//! What can go wrong with a donation, and how each answer looks as HTML and as JSON.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::i18n::Lang;
use crate::payments::ProviderError;
use crate::routes::State;
use crate::routes::home::{FieldError, FormValues, render_form};
use crate::routes::page;

#[derive(Debug, thiserror::Error)]
pub enum DonateError {
    #[error("unreadable request body: {0}")]
    BadBody(String),
    #[error("invalid donation")]
    Invalid {
        errors: Vec<FieldError>,
        values: FormValues,
    },
    #[error("too many checkouts; retry in {0:?}")]
    RateLimited(std::time::Duration),
    #[error("checkout provider timed out")]
    ProviderTimeout(#[source] ProviderError),
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
            DonateError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            // A timeout is a 502 too: to the reader both mean "the payment service failed".
            DonateError::ProviderTimeout(_) | DonateError::Provider(_) => StatusCode::BAD_GATEWAY,
            DonateError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            DonateError::RateLimited(_) => (None, t.rate_limited_text.to_owned()),
            DonateError::ProviderTimeout(_) | DonateError::Provider(_) => {
                (None, t.provider_error_text.to_owned())
            }
            DonateError::Unexpected(_) => (None, t.error_text.to_owned()),
        };
        let response = HttpResponse::build(self.status())
            .json(json!({ "error": { "field": field, "message": message } }));
        self.with_retry_after(response)
    }

    pub async fn html(self, state: &State, lang: Lang) -> HttpResponse {
        let t = lang.texts();
        let status = self.status();
        let retry = self.with_retry_after(HttpResponse::Ok().finish());
        let mut response = match self {
            DonateError::Invalid { errors, values } => {
                render_form(state, lang, values, errors, false, status).await
            }
            DonateError::BadBody(_) => page::message(state, lang, status, t.form_error_heading, t.err_body),
            DonateError::RateLimited(_) => {
                page::message(state, lang, status, t.rate_limited_heading, t.rate_limited_text)
            }
            DonateError::ProviderTimeout(_) | DonateError::Provider(_) => page::message(
                state,
                lang,
                status,
                t.provider_error_heading,
                t.provider_error_text,
            ),
            DonateError::Unexpected(_) => page::server_error_page(state, lang),
        };
        if let Some(v) = retry.headers().get(RETRY_AFTER) {
            response.headers_mut().insert(RETRY_AFTER, v.clone());
        }
        response
    }

    /// Adds `Retry-After` (whole seconds, rounded up) to a 429.
    fn with_retry_after(&self, mut response: HttpResponse) -> HttpResponse {
        if let DonateError::RateLimited(wait) = self {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, v);
            }
        }
        response
    }
}

// Only used for the status in logs; responses are built by `json` and `html`.
impl ResponseError for DonateError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }
}
