//! Rate limits for anonymous requests that cost the blogger something: starting a checkout (card
//! testers, Stripe fees) and asking Stripe about a pending payment (`/thanks`).
//!
//! Per client, a GCRA bucket keyed by [`ClientKey`] (IPv6 by /64). For `/donate` also one global
//! bucket (governor). A request is refused before Stripe is called. governor's keyed limiter is
//! not used per client because it cannot look without taking: a request the *global* bucket
//! refuses must not also cost its client a cell, or a jar under attack would lock real readers
//! out for longer than the attack.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use crate::config::{AbuseSettings, Rate};
use crate::metrics::Metrics;

mod buckets;
mod donate;
#[cfg(test)]
use buckets::MAX_CLIENTS;
pub use buckets::{ClientLimiter, GlobalLimiter};
pub use donate::DonateLimits;

/// Every limit on anonymous requests, built from the settings, each counting its refusals for
/// `/metrics`.
pub struct Limits {
    /// Starting checkouts (card-testing defence).
    pub donate: DonateLimits,
    /// The thanks page, which may ask Stripe about a pending payment.
    pub thanks: Option<ClientLimiter>,
    /// Changes through manage links.
    pub manage: Option<ClientLimiter>,
    /// Cancellations on `/kuendigen`: per client and per network, never for the whole jar. The law
    /// wants the button to work, and a jar-wide budget would let an attacker with many addresses
    /// close it for everyone. What one declaration costs is bounded without it: a row, pruned
    /// after 400 days, and Stripe is asked only about monthly coffees the address really has.
    pub cancel: DonateLimits,
    /// Customer-portal sessions (a new payment method): each is a Stripe API call, so all manage
    /// links together get a budget, well under Stripe's rate limit.
    pub portal: GlobalLimiter,
    /// All lookups of checkout sessions we have no row for (a Payment Link reader back early)…
    pub unknown_sessions: GlobalLimiter,
    /// …and each client's share of them, so that one client cannot use them all up.
    pub unknown_session_clients: ClientLimiter,
}

impl Limits {
    pub fn new(abuse: &AbuseSettings, metrics: &Metrics) -> Limits {
        let per_client = |limit: Option<(Rate, NonZeroU32)>, name: &str| {
            limit.map(|(rate, burst)| {
                ClientLimiter::new(rate, burst).counting_refusals(metrics.refusals(name, "client"))
            })
        };
        let n = |v: u32| NonZeroU32::new(v).unwrap_or(NonZeroU32::MIN);
        // Payment Link readers back before the webhook: a few a minute is plenty.
        let a_minute = |count| Rate {
            count: n(count),
            period: Duration::from_secs(60),
        };
        Limits {
            donate: DonateLimits::new(abuse.donate_rate_per_ip, abuse.donate_rate_global).counting_refusals(
                metrics.refusals("donate", "client"),
                metrics.refusals("donate", "network"),
                metrics.refusals("donate", "global"),
            ),
            cancel: DonateLimits::without_global(abuse.cancel_rate_per_ip, abuse.cancel_rate_per_network)
                .counting_refusals(
                    metrics.refusals("cancel", "client"),
                    metrics.refusals("cancel", "network"),
                    metrics.refusals("cancel", "global"),
                ),
            thanks: per_client(abuse.thanks_rate_per_ip, "thanks"),
            manage: per_client(abuse.manage_rate_per_ip, "manage"),
            portal: GlobalLimiter::new(a_minute(10)).counting_refusals(metrics.refusals("portal", "global")),
            unknown_sessions: GlobalLimiter::new(a_minute(30))
                .counting_refusals(metrics.refusals("unknown_session", "global")),
            unknown_session_clients: ClientLimiter::new(a_minute(3), n(3))
                .counting_refusals(metrics.refusals("unknown_session", "client")),
        }
    }

    /// Forgets clients whose buckets are full again (run every minute).
    pub fn forget_idle(&self, now: Instant) {
        self.donate.forget_idle_clients(now);
        self.cancel.forget_idle_clients(now);
        self.unknown_session_clients.forget_idle(now);
        for limiter in [&self.thanks, &self.manage].into_iter().flatten() {
            limiter.forget_idle(now);
        }
    }
}

#[cfg(test)]
mod tests;
