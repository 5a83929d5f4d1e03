//! Liveness and readiness probes.

use actix_web::HttpResponse;
use serde_json::json;

use crate::state::State;
use crate::storage::{self, ops};

/// The process is alive and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The database answers; otherwise 503 so a load balancer stops sending traffic. Also says how
/// the last reconciliation went: a failing one (Stripe down, a revoked key) is worth an alert
/// but no reason to stop serving, so it does not change the status.
pub async fn readyz(state: State) -> HttpResponse {
    let checked = async {
        storage::ping(&state.db).await?;
        ops::reconcile_status(state.db.pool()).await
    };
    match checked.await {
        Ok(reconcile) => HttpResponse::Ok().json(json!({
            "status": "ready",
            "database": "ok",
            "reconcile": {
                "enabled": state.reconcile_enabled,
                "last_success_at": reconcile.last_success_at.map(rfc3339),
                "error": reconcile.error,
                "error_at": reconcile.error_at.map(rfc3339),
            },
        })),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "database": "unavailable" }))
        }
    }
}

fn rfc3339(unix: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}
