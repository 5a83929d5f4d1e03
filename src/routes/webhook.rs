//! `POST /webhooks/stripe`: verify, record once, apply, and only then answer 2xx.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::state::State;
use crate::storage;
use crate::webhook::apply::Ingested;
use crate::webhook::event::{HANDLED_TYPES, Incoming};
use crate::webhook::signature::{self, SignatureError};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("signature check failed: {0}")]
    Signature(#[from] SignatureError),
    #[error("invalid event JSON: {0}")]
    InvalidJson(String),
    #[error("livemode mismatch")]
    LivemodeMismatch,
    /// The database could not commit; Stripe will retry.
    #[error("could not store the event")]
    Storage(#[source] sqlx::Error),
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::Storage(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let message = match self {
            WebhookError::Signature(e) => e.to_string(),
            WebhookError::InvalidJson(_) => "invalid event JSON".to_owned(),
            WebhookError::LivemodeMismatch => "livemode mismatch".to_owned(),
            WebhookError::Storage(_) => "temporarily unavailable, please retry".to_owned(),
        };
        HttpResponse::build(self.status_code()).json(json!({ "error": { "message": message } }))
    }
}

pub async fn stripe(req: HttpRequest, body: web::Bytes, state: State) -> Result<HttpResponse, WebhookError> {
    let result = handle(&req, &body, &state).await;
    let (kind, outcome) = match &result {
        Ok((kind, status)) => (kind.as_str(), *status),
        Err(e) => ("unknown", e.outcome()),
    };
    state.metrics.webhook(kind, outcome);
    match result {
        Err(e @ WebhookError::Storage(_)) => {
            tracing::error!(error = ?e, "webhook not stored; answering 503");
            Err(e)
        }
        Err(e) => {
            // Anyone can send these at full speed; a wrong secret shows as the same line.
            if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::WebhookRejected) {
                tracing::warn!(error = %e, left_out, "webhook rejected");
            }
            Err(e)
        }
        Ok((_, status)) => Ok(HttpResponse::Ok().json(json!({ "received": true, "status": status }))),
    }
}

impl WebhookError {
    /// The word for `/metrics`.
    fn outcome(&self) -> &'static str {
        match self {
            WebhookError::Signature(_) => "bad_signature",
            WebhookError::InvalidJson(_) => "bad_json",
            WebhookError::LivemodeMismatch => "livemode_mismatch",
            WebhookError::Storage(_) => "unavailable",
        }
    }
}

/// The event's type for a metric label (a handled type or `other`) and the ledger's word.
async fn handle(
    req: &HttpRequest,
    body: &[u8],
    state: &State,
) -> Result<(String, &'static str), WebhookError> {
    let header = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok());
    let webhook = &state.webhook;
    signature::verify(
        header,
        body,
        &webhook.secrets,
        storage::now(),
        webhook.tolerance_secs(),
    )?;

    // Webhooks that arrive together are committed together: the writer waits for this one while
    // it is read (withdrawn on any early return). A forged one never gets this far.
    let announced = state.db.announce_write();
    state.metrics.webhook_arrived(storage::now());
    let incoming = Incoming::parse(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
    let kind = match incoming.event.kind.as_str() {
        handled if HANDLED_TYPES.contains(&handled) => handled.to_owned(),
        _ => "other".to_owned(),
    };
    if incoming.event.livemode != state.provider.livemode() {
        return Err(WebhookError::LivemodeMismatch);
    }
    let ingested = state
        .ledger
        .ingest_announced(incoming, Some(announced))
        .await
        .map_err(WebhookError::Storage)?;
    let status = match &ingested {
        Ingested::Duplicate => "duplicate",
        Ingested::Processed(outcome) => outcome.status().as_str(),
    };
    Ok((kind, status))
}
