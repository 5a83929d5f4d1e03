//! Prometheus metrics, served at `/metrics` behind `METRICS_TOKEN`.
//!
//! Counters and histograms are kept here as the events happen; values that live in the database
//! (donations by state, the outbox) are read when scraped. Labels only ever take values from
//! closed sets (route patterns, event types we handle, outcomes): never a raw path or anything
//! a client chose, so a scan cannot grow the series without bound.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    /// The matched route pattern (`/manage/{token}`), or `unmatched`.
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// A handled event type, `other`, or `unknown` when the event could not be read.
    pub r#type: String,
    /// The ledger's word (`applied`, `ignored`, `deferred`, `failed`), `duplicate`, or why it
    /// was refused (`bad_signature`, `bad_json`, `livemode_mismatch`, `unavailable`).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    /// `donate`, `thanks`, `manage`, `unknown_session`, `admin_login`.
    pub limit: String,
    /// `client` (one address's share) or `global` (everyone's).
    pub scope: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StripeLabels {
    /// `create_session`, `retrieve_session`, `list_events`.
    pub operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StripeErrorLabels {
    pub operation: String,
    /// `timeout`, `unavailable`, `server_error`, `rate_limited`, `not_found`, `failed`.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

type Seconds = Family<RouteLabels, Histogram, fn() -> Histogram>;
type StripeSeconds = Family<StripeLabels, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Seconds,
    pub webhook_events: Family<EventLabels, Counter>,
    pub limit_refusals: Family<LimitLabels, Counter>,
    pub stripe_seconds: StripeSeconds,
    pub stripe_errors: Family<StripeErrorLabels, Counter>,
    pub notifications_sent: Family<ChannelLabels, Counter>,
    pub notification_failures: Family<ChannelLabels, Counter>,
    /// Set when scraped, from the database.
    pub donations: Family<StateLabels, Gauge>,
    pub outbox_pending: Gauge,
    pub outbox_given_up: Gauge,
    /// Set when scraped: bytes of request bodies still arriving (`BODY_BUDGET_BYTES`).
    pub body_bytes_held: Gauge,
    pub last_webhook_age: Gauge<f64, AtomicU64>,
    pub last_reconcile_age: Gauge<f64, AtomicU64>,
    /// When the last verified webhook arrived (unix seconds; 0: none since start).
    last_webhook_at: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("kaffeekasse"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency),
            webhook_events: Family::default(),
            limit_refusals: Family::default(),
            stripe_seconds: Family::new_with_constructor(latency),
            stripe_errors: Family::default(),
            notifications_sent: Family::default(),
            notification_failures: Family::default(),
            donations: Family::default(),
            outbox_pending: Gauge::default(),
            outbox_given_up: Gauge::default(),
            body_bytes_held: Gauge::default(),
            last_webhook_age: Gauge::default(),
            last_reconcile_age: Gauge::default(),
            last_webhook_at: AtomicI64::new(0),
        };
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests by route pattern and status",
            m.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer, by route pattern",
            m.request_seconds.clone(),
        );
        r.register(
            "webhook_events",
            "Stripe webhook deliveries by event type and outcome",
            m.webhook_events.clone(),
        );
        r.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit",
            m.limit_refusals.clone(),
        );
        r.register(
            "stripe_request_duration_seconds",
            "Calls to Stripe's API",
            m.stripe_seconds.clone(),
        );
        r.register(
            "stripe_errors",
            "Failed calls to Stripe's API",
            m.stripe_errors.clone(),
        );
        r.register(
            "notifications_sent",
            "Notifications delivered to the blogger",
            m.notifications_sent.clone(),
        );
        r.register(
            "notification_failures",
            "Failed notification attempts",
            m.notification_failures.clone(),
        );
        r.register("donations", "Donations by state", m.donations.clone());
        r.register(
            "outbox_pending",
            "Notifications waiting to be sent",
            m.outbox_pending.clone(),
        );
        r.register(
            "body_bytes_held",
            "Bytes of request bodies still arriving",
            m.body_bytes_held.clone(),
        );
        r.register(
            "outbox_given_up",
            "Notifications given up after three days",
            m.outbox_given_up.clone(),
        );
        r.register(
            "last_webhook_age_seconds",
            "Seconds since the last verified webhook (-1: none since start)",
            m.last_webhook_age.clone(),
        );
        r.register(
            "last_reconcile_age_seconds",
            "Seconds since the last successful reconciliation (-1: never)",
            m.last_reconcile_age.clone(),
        );
        m
    }

    /// A refusal counter for one limit, for the limiter to keep.
    pub fn refusals(&self, limit: &str, scope: &str) -> Counter {
        self.limit_refusals
            .get_or_create(&LimitLabels {
                limit: limit.to_owned(),
                scope: scope.to_owned(),
            })
            .clone()
    }

    pub fn webhook(&self, event_type: &str, outcome: &str) {
        let labels = EventLabels {
            r#type: event_type.to_owned(),
            outcome: outcome.to_owned(),
        };
        self.webhook_events.get_or_create(&labels).inc();
    }

    pub fn webhook_arrived(&self, now: i64) {
        self.last_webhook_at.store(now, Ordering::Relaxed);
    }

    /// Sets the time-based gauges for `now`, then encodes everything in the text format.
    pub fn encode(&self, now: i64, last_reconcile_ok: Option<i64>) -> Result<String, std::fmt::Error> {
        let age = |at: i64| if at > 0 { (now - at).max(0) as f64 } else { -1.0 };
        self.last_webhook_age
            .set(age(self.last_webhook_at.load(Ordering::Relaxed)));
        self.last_reconcile_age.set(age(last_reconcile_ok.unwrap_or(0)));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
