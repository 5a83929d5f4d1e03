//! `POST /webhooks/stripe`: verify, record once, apply, and only then answer 2xx.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::state::State;
use crate::storage;
use crate::webhook::apply::Ingested;
use crate::webhook::event::Incoming;
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
    match &result {
        Err(e @ WebhookError::Storage(_)) => tracing::error!(error = ?e, "webhook not stored; answering 503"),
        Err(e) => tracing::warn!(error = %e, "webhook rejected"),
        Ok(_) => {}
    }
    result
}

async fn handle(req: &HttpRequest, body: &[u8], state: &State) -> Result<HttpResponse, WebhookError> {
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

    let incoming = Incoming::parse(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
    if incoming.event.livemode != state.provider.livemode() {
        return Err(WebhookError::LivemodeMismatch);
    }
    let ingested = state
        .ledger
        .ingest(incoming)
        .await
        .map_err(WebhookError::Storage)?;
    let status = match &ingested {
        Ingested::Duplicate => "duplicate",
        Ingested::Processed(outcome) => outcome.status().as_str(),
    };
    Ok(HttpResponse::Ok().json(json!({ "received": true, "status": status })))
}
