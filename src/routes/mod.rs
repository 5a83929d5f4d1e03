//! HTTP routes, one file per route or small group. This file only wires them up: route files
//! import `error.rs`, `page.rs` and their neighbours, never this one.

mod admin;
mod api;
mod assets;
mod badge;
pub mod body_limits;
pub mod client_ip;
mod demo;
mod donate;
mod embed;
pub mod error;
mod feed;
mod health;
mod here;
mod home;
mod http_cache;
mod kuendigen;
pub(crate) mod manage;
mod manage_guard;
pub(crate) mod manage_monthly;
mod method;
mod metrics;
mod origin;
pub mod page;
pub mod query_limits;
mod routed;
mod supporters;
mod thanks;
mod view;
mod webhook;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::web;

use crate::state::State;

pub use metrics::record_requests;

/// Webhook bodies larger than this are refused with 413 before anything is parsed.
pub const WEBHOOK_BODY_LIMIT: usize = 256 * 1024;
/// Form and JSON bodies of `/donate` are a few hundred bytes; 16 KiB is generous.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;
/// Any other body.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Answers 503 when a request takes longer than `REQUEST_TIMEOUT_SECS`. Dropping the handler
/// rolls back any open transaction, so a timed-out webhook is simply retried by Stripe.
pub async fn request_timeout(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limit = req
        .app_data::<State>()
        .map_or(std::time::Duration::from_secs(30), |s| s.request_timeout);
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(response) => response,
        Err(_) => {
            if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::TimedOut) {
                tracing::warn!(?limit, left_out, "request timed out");
            }
            // The request is gone with the dropped future, so no middleware can render a page for
            // it: the bare answer is the error's own (503, not cached).
            Err(error::PageError::Unavailable.into())
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(method::get().to(home::show)))
        .service(
            web::resource("/donate")
                .app_data(web::PayloadConfig::new(FORM_BODY_LIMIT))
                .route(web::post().to(donate::donate)),
        )
        .service(
            web::resource("/webhooks/stripe")
                .app_data(web::PayloadConfig::new(WEBHOOK_BODY_LIMIT))
                .route(web::post().to(webhook::stripe)),
        )
        .service(web::resource("/thanks").route(method::get().to(thanks::show)))
        .service(public("/supporters").route(method::get().to(supporters::show)))
        .service(public("/supporters.atom").route(method::get().to(feed::feed)))
        .service(public("/api/supporters").route(method::get().to(api::supporters)))
        .service(public("/api/stats").route(method::get().to(api::stats)))
        .service(public("/badge.svg").route(method::get().to(badge::badge)))
        .service(web::resource("/embed").route(method::get().to(embed::embed)))
        .service(web::resource("/widget").route(method::get().to(embed::widget)))
        .service(web::resource("/healthz").route(method::get().to(health::healthz)))
        .service(web::resource("/readyz").route(method::get().to(health::readyz)))
        .service(web::resource("/metrics").route(method::get().to(metrics::metrics)))
        .service(public("/static/{file}").route(method::get().to(assets::file)))
        .service(web::resource("/favicon.ico").route(method::get().to(assets::favicon)))
        .service(web::resource("/robots.txt").route(method::get().to(assets::robots)))
        .configure(demo::configure)
        .configure(admin::configure)
        .service(
            web::resource("/manage/{token}")
                .route(method::get().to(manage::show))
                .route(web::post().to(manage::update)),
        )
        .service(web::resource("/manage/{token}/erase").route(web::post().to(manage::erase)))
        .service(web::resource("/manage/{token}/cancel").route(web::post().to(manage_monthly::cancel)))
        .service(
            web::resource("/manage/{token}/payment-method")
                .route(web::post().to(manage_monthly::payment_method)),
        )
        .service(
            web::resource("/manage/{token}/demo/{what}").route(web::post().to(manage_monthly::demo_month)),
        )
        .service(
            web::resource("/kuendigen")
                .app_data(web::PayloadConfig::new(FORM_BODY_LIMIT))
                .route(method::get().to(kuendigen::show))
                .route(web::post().to(kuendigen::declare)),
        )
        .service(web::resource("/kuendigen/{token}").route(method::get().to(kuendigen::confirmation)))
        .service(web::resource("/kuendigen/{token}/download").route(method::get().to(kuendigen::download)))
        .default_service(web::to(not_found));
}

/// A resource whose answers hold nothing secret (no CSRF token, manage link, session or nonce):
/// only these are compressed. A compressed page with a secret in it leaks the secret's bytes
/// through the response's length (BREACH), so every other page goes out as it is.
fn public(
    path: &str,
) -> actix_web::Resource<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(actix_web::middleware::Compress::default())
}

/// Pages that carry a capability or a session: the thanks page (with the donor's manage link),
/// the manage pages, and the admin. No cache, shared or private, may keep them.
const PRIVATE_PREFIXES: &[&str] = &[
    "/thanks",
    "/manage/",
    "/admin",
    "/api/admin",
    "/donate",
    // Back after paying must not show a live "Bezahlen" page from the browser's cache.
    "/demo/checkout/",
    "/metrics",
    // A cancellation's confirmation names the reader and their address.
    "/kuendigen/",
];
/// Pages with the donate form: each carries a fresh nonce (one checkout per form), which a
/// shared cache must not hand to every reader.
const FORM_PAGES: &[&str] = &["/", "/widget", "/kuendigen"];

/// Adds `Cache-Control: no-store` to every response under [`PRIVATE_PREFIXES`] and to the
/// [`FORM_PAGES`], errors included.
pub async fn no_store_for_private_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let pattern = routed::path(response.request());
    if PRIVATE_PREFIXES.iter().any(|p| pattern.starts_with(p)) || FORM_PAGES.contains(&pattern.as_str()) {
        response.headers_mut().insert(
            actix_web::http::header::CACHE_CONTROL,
            actix_web::http::header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(response)
}

/// Headers for every response. Routes that need another policy set their own header, which
/// `DefaultHeaders` leaves alone. With an https public URL, browsers are told to use nothing
/// else for a year (HSTS).
pub fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new();
    let headers = if https {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    };
    headers
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ))
}

async fn not_found() -> Result<actix_web::HttpResponse, error::PageError> {
    Err(error::PageError::NotFound)
}
