//! Liveness and readiness probes.

use actix_web::HttpResponse;

use crate::state::State;
use crate::storage;

/// The process is alive and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The database answers; otherwise 503 so a load balancer stops sending traffic.
pub async fn readyz(state: State) -> HttpResponse {
    match storage::ping(&state.db).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}
