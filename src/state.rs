//! What every request handler may use, built once by `startup.rs` and shared by all workers.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::admin::AdminAuth;
use crate::auth::signer::Signer;
use crate::config::{AbuseSettings, SiteSettings, WebhookSettings};
use crate::domain::Rules;
use crate::inflight::{KeyedLocks, SpoiledKeys};
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::payments::Provider;
use crate::public::WallCache;
use crate::storage::Db;
use crate::webhook::apply::Ledger;

pub struct AppState {
    pub db: Db,
    /// Applies Stripe events and sessions to donations.
    pub ledger: Ledger,
    /// Prices, Payment Links and moderation.
    pub rules: Arc<Rules>,
    pub provider: Arc<Provider>,
    pub site: SiteSettings,
    pub abuse: AbuseSettings,
    /// The accepted webhook secrets (with the demo provider, one generated at start).
    pub webhook: WebhookSettings,
    /// Base URL for links and redirects, without a trailing slash.
    pub public_url: String,
    /// Where this process itself listens; the demo checkout posts its webhooks here.
    pub self_url: String,
    /// The longest any request may take before it is answered 503.
    pub request_timeout: Duration,
    /// For the demo checkout's calls to our own webhook.
    pub http: reqwest::Client,
    /// Signs donors' manage links (and, inside `admin`, sessions and CSRF tokens).
    pub signer: Signer,
    /// `None` unless `ADMIN_TOKEN` is set: then every admin URL is a 404.
    pub admin: Option<AdminAuth>,
    /// Rate limits on anonymous requests that cost something.
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// `/metrics` answers a bearer of this token; without one it is a 404.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Whether the reconciliation job runs (Stripe mode with `RECONCILE_INTERVAL_SECS` > 0).
    pub reconcile_enabled: bool,
    /// Where notifications go, and how to wake their sender (the admin's test button).
    pub outbox: Outbox,
    /// One checkout at a time per idempotency key (a double-clicked form).
    pub checkout_locks: KeyedLocks,
    /// Bytes of request bodies still arriving, per client and in all.
    pub bodies: crate::budget::BodyBudget,
    /// Idempotency keys the provider answered with an error it would replay (a 5xx).
    pub spoiled_keys: SpoiledKeys,
    /// The newest wall pages, until the next write.
    pub wall_cache: WallCache,
    /// Stores and carries out cancellations (§ 312k BGB).
    pub canceller: crate::cancel::Canceller,
}

/// Shared state, as handlers receive it.
pub type State = actix_web::web::Data<AppState>;

/// The configured notification channels, and the sender's wake-up.
#[derive(Clone, Default)]
pub struct Outbox {
    pub channels: Vec<crate::domain::Channel>,
    pub wake: Arc<tokio::sync::Notify>,
}
