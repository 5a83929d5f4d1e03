//! `GET /metrics`: Prometheus metrics for a bearer of `METRICS_TOKEN`, a 404 without one; and
//! the middleware that counts every request by its route pattern.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use super::error::PageError;
use crate::domain::DonationStatus;
use crate::metrics::{RequestLabels, RouteLabels, StateLabels};
use crate::state::State;
use crate::storage::{self, ops};

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn metrics(req: HttpRequest, state: State) -> Result<HttpResponse, PageError> {
    let Some(token) = &state.metrics_token else {
        return Err(PageError::NotFound);
    };
    let presented = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(token.expose_secret().as_bytes())) {
        return Ok(HttpResponse::Unauthorized()
            .insert_header(("WWW-Authenticate", "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("a valid METRICS_TOKEN is required as a bearer token\n"));
    }
    let pool = state.db.pool();
    let m = &state.metrics;
    let counted = ops::donations_by_status(pool)
        .await
        .map_err(anyhow::Error::from)?;
    for status in DonationStatus::ALL {
        let n = counted
            .iter()
            .find(|(s, _)| s == status.as_str())
            .map_or(0, |(_, n)| *n);
        m.donations
            .get_or_create(&StateLabels {
                state: status.as_str().to_owned(),
            })
            .set(n);
    }
    let (pending, given_up) = ops::outbox_counts(pool).await.map_err(anyhow::Error::from)?;
    m.outbox_pending.set(pending);
    m.outbox_given_up.set(given_up);
    m.body_bytes_held
        .set(i64::try_from(state.bodies.held().0).unwrap_or(i64::MAX));
    let reconciled = ops::reconcile_status(pool).await.map_err(anyhow::Error::from)?;
    let text = m
        .encode(storage::now(), reconciled.last_success_at)
        .map_err(|e| anyhow::anyhow!("encoding the metrics: {e}"))?;
    Ok(HttpResponse::Ok().content_type(OPENMETRICS).body(text))
}

/// Counts each request and its time by method, route pattern and status. Methods outside the
/// standard set count as `other`, unmatched paths as `unmatched`: labels never carry what a
/// client typed.
pub async fn record_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = req.app_data::<State>().map(|s| std::sync::Arc::clone(&s.metrics));
    let method = match *req.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::DELETE
        | Method::PATCH
        | Method::OPTIONS => req.method().as_str().to_owned(),
        _ => "other".to_owned(),
    };
    let response = next.call(req).await;
    if let Some(m) = metrics {
        let (route, status) = match &response {
            Ok(r) => (r.request().match_pattern(), r.status().as_u16()),
            // The request is gone with the error (a timeout, `request_timeout`'s only error): its
            // route is not known any more.
            Err(e) => {
                let timed_out = matches!(
                    e.as_error::<super::error::PageError>(),
                    Some(super::error::PageError::Unavailable)
                );
                let label = if timed_out { "timeout" } else { "(error)" };
                (
                    Some(label.to_owned()),
                    e.as_response_error().status_code().as_u16(),
                )
            }
        };
        let route = route.unwrap_or_else(|| "unmatched".to_owned());
        let labels = RouteLabels {
            method: method.clone(),
            route: route.clone(),
        };
        m.request_seconds
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        m.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status,
            })
            .inc();
    }
    response
}
