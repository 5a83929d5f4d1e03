//! Rate limits for anonymous requests that cost the blogger something: starting a checkout (card
//! testers, Stripe fees) and asking Stripe about a pending payment (`/thanks`).
//!
//! Per client, a GCRA bucket keyed by [`ClientKey`] (IPv6 by /64). For `/donate` also one global
//! bucket (governor). A request is refused before Stripe is called. governor's keyed limiter is
//! not used per client because it cannot look without taking: a request the *global* bucket
//! refuses must not also cost its client a cell, or a jar under attack would lock real readers
//! out for longer than the attack.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};

use prometheus_client::metrics::counter::Counter;

use crate::client_key::ClientKey;
use crate::config::{AbuseSettings, Rate};
use crate::metrics::Metrics;

/// More clients than this are not tracked at once; the closest to a full bucket go first.
const MAX_CLIENTS: usize = 20_000;

/// Per-client token buckets in GCRA form: each client's "theoretical arrival time".
pub struct ClientLimiter {
    /// Time for one cell to refill.
    interval: Duration,
    /// How far ahead of now a client's arrival time may run: `interval × (burst − 1)`.
    tolerance: Duration,
    clients: Mutex<HashMap<ClientKey, Instant>>,
    /// Counts this limiter's refusals (for `/metrics`).
    refused: Counter,
}

impl ClientLimiter {
    pub fn new(rate: Rate, burst: NonZeroU32) -> Self {
        let interval = rate.period / rate.count.get();
        ClientLimiter {
            interval,
            tolerance: interval * (burst.get() - 1),
            clients: Mutex::new(HashMap::new()),
            refused: Counter::default(),
        }
    }

    pub fn counting_refusals(mut self, counter: Counter) -> Self {
        self.refused = counter;
        self
    }

    /// Takes one cell from `client`'s bucket, or says how long to wait.
    pub fn check(&self, client: ClientKey) -> Result<(), Duration> {
        self.check_then(client, Instant::now(), || Ok(()))
    }

    /// Takes one cell from `client`'s bucket only if a shared budget has room as well, so a
    /// client is not charged for what the shared budget refused, nor the budget for a client
    /// over its share.
    pub fn check_with(&self, client: ClientKey, shared: &GlobalLimiter) -> bool {
        self.check_then(client, Instant::now(), || {
            if shared.admit() {
                Ok(())
            } else {
                Err(Duration::ZERO)
            }
        })
        .is_ok()
    }

    /// Whether `client` may go at `now`; if so, and `also` agrees, the cell is taken. Nothing is
    /// taken when either refuses.
    fn check_then(
        &self,
        client: ClientKey,
        now: Instant,
        also: impl FnOnce() -> Result<(), Duration>,
    ) -> Result<(), Duration> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let arrival = clients.get(&client).map_or(now, |tat| (*tat).max(now));
        let ahead = arrival - now;
        if ahead > self.tolerance {
            self.refused.inc();
            return Err(ahead - self.tolerance);
        }
        also()?;
        if clients.len() >= MAX_CLIENTS && !clients.contains_key(&client) {
            make_room(&mut clients, now);
        }
        clients.insert(client, arrival + self.interval);
        Ok(())
    }

    /// Forgets clients whose buckets are full again at `now`, so memory stays bounded.
    pub fn forget_idle(&self, now: Instant) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(|_, tat| *tat > now);
        clients.shrink_to_fit();
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.lock().map_or(0, |c| c.len())
    }
}

/// Forgets idle clients, and if that is not enough a tenth of the table, those closest to a full
/// bucket first: one pass for many inserts, so a spray of addresses costs little per request.
fn make_room(clients: &mut HashMap<ClientKey, Instant>, now: Instant) {
    clients.retain(|_, tat| *tat > now);
    if clients.len() < MAX_CLIENTS {
        return;
    }
    let mut by_arrival: Vec<(Instant, ClientKey)> = clients.iter().map(|(k, t)| (*t, *k)).collect();
    let drop = MAX_CLIENTS / 10;
    by_arrival.select_nth_unstable(drop);
    for (_, key) in &by_arrival[..drop] {
        clients.remove(key);
    }
}

/// One bucket for everyone, for requests that spend a shared budget (Stripe's API quota).
pub struct GlobalLimiter(DefaultDirectRateLimiter, Counter);

impl GlobalLimiter {
    pub fn new(rate: Rate) -> Self {
        let quota = Quota::with_period(rate.period / rate.count.get())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(rate.count);
        GlobalLimiter(DefaultDirectRateLimiter::direct(quota), Counter::default())
    }

    pub fn counting_refusals(mut self, counter: Counter) -> Self {
        self.1 = counter;
        self
    }

    /// Whether the budget has room for one more request now (and takes it).
    pub fn admit(&self) -> bool {
        let admitted = self.0.check().is_ok();
        if !admitted {
            self.1.inc();
        }
        admitted
    }
}

/// Checkouts: per client, per network, and for the whole jar.
///
/// One network must not take the jar's whole budget however many addresses it has (an IPv6 /48
/// is 65,536 clients): with a global budget, each IPv6 /48 and IPv4 /24 may use a sixth of it,
/// each IPv6 /32 a third. And a third of the global budget is kept for readers who loaded the
/// form (a signed nonce, `auth::nonce`), so a flood of scripted requests from many networks
/// still leaves room for them.
pub struct DonateLimits {
    per_client: Option<ClientLimiter>,
    /// Each with the prefix lengths its key is cut to (IPv4, IPv6); `None`: IPv6 only.
    networks: Vec<(ClientLimiter, Option<u8>, u8)>,
    /// The part anyone may use, and the part kept for signed nonces.
    global: Option<(
        DefaultDirectRateLimiter,
        Option<DefaultDirectRateLimiter>,
        Duration,
    )>,
    clock: DefaultClock,
    /// When the empty global bucket was last reported.
    warned: Mutex<Option<Instant>>,
    global_refused: Counter,
}

/// A bucket of `count` per `period`, bursting to all of them.
fn bucket(count: u32, period: Duration) -> Option<DefaultDirectRateLimiter> {
    let count = NonZeroU32::new(count)?;
    let quota = Quota::with_period(period / count.get())?.allow_burst(count);
    Some(DefaultDirectRateLimiter::direct(quota))
}

impl DonateLimits {
    pub fn new(per_client: Option<(Rate, NonZeroU32)>, global: Option<Rate>) -> Self {
        let share = |r: &Rate, part: u32| {
            let count = (r.count.get() / part).max(1);
            let rate = Rate {
                count: NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN),
                period: r.period,
            };
            ClientLimiter::new(
                rate,
                NonZeroU32::new((count / 2).max(1)).unwrap_or(NonZeroU32::MIN),
            )
        };
        let networks = global
            .as_ref()
            .map(|r| vec![(share(r, 6), Some(24), 48), (share(r, 3), None, 32)])
            .unwrap_or_default();
        DonateLimits {
            per_client: per_client.map(|(rate, burst)| ClientLimiter::new(rate, burst)),
            networks,
            global: global.and_then(|r| {
                let reserved = r.count.get() / 3;
                let open = bucket(r.count.get() - reserved, r.period)?;
                Some((open, bucket(reserved, r.period), r.period))
            }),
            clock: DefaultClock::default(),
            warned: Mutex::new(None),
            global_refused: Counter::default(),
        }
    }

    /// Counts refusals by the per-client, the network and the global buckets.
    pub fn counting_refusals(mut self, client: Counter, network: Counter, global: Counter) -> Self {
        self.per_client = self.per_client.map(|l| l.counting_refusals(client));
        self.networks = self
            .networks
            .into_iter()
            .map(|(l, v4, v6)| (l.counting_refusals(network.clone()), v4, v6))
            .collect();
        self.global_refused = global;
        self
    }

    /// Takes one attempt from `client`'s bucket, its networks' and the global one; `Err` says
    /// how long to wait. The narrowest bucket is asked first, so one abuser cannot drain a wider
    /// one, and a refusal by a wider bucket costs the narrower ones nothing. `signed`: the
    /// request carries a nonce the form was served with, which may use the reserved budget.
    pub fn check(&self, client: ClientKey, signed: bool) -> Result<(), Duration> {
        let now = Instant::now();
        let mut levels: Vec<(&ClientLimiter, ClientKey)> = Vec::with_capacity(3);
        if let Some(limiter) = &self.per_client {
            levels.push((limiter, client));
        }
        for (limiter, v4_bits, v6_bits) in &self.networks {
            match v4_bits {
                Some(bits) => levels.push((limiter, client.network(*bits, *v6_bits))),
                // An IPv6 level only: an IPv4 client's network is its /24, counted above.
                None if client.is_ipv6() => levels.push((limiter, client.network(32, *v6_bits))),
                None => {}
            }
        }
        Self::through(&levels, now, &|| self.check_global(signed))
    }

    /// Each level in turn, innermost last: a cell is taken from each only if all agree.
    fn through(
        levels: &[(&ClientLimiter, ClientKey)],
        now: Instant,
        last: &dyn Fn() -> Result<(), Duration>,
    ) -> Result<(), Duration> {
        match levels.split_first() {
            None => last(),
            Some(((limiter, key), rest)) => limiter.check_then(*key, now, || Self::through(rest, now, last)),
        }
    }

    fn check_global(&self, signed: bool) -> Result<(), Duration> {
        let Some((open, reserved, period)) = &self.global else {
            return Ok(());
        };
        let now = self.clock.now();
        let wait = match open.check() {
            Ok(()) => return Ok(()),
            Err(not_until) => not_until.wait_time_from(now),
        };
        if signed && reserved.as_ref().is_some_and(|r| r.check().is_ok()) {
            return Ok(());
        }
        self.global_refused.inc();
        self.warn_once_per(*period);
        Err(wait)
    }

    /// A jar under attack would otherwise log every refused reader.
    fn warn_once_per(&self, window: Duration) {
        let mut warned = self.warned.lock().unwrap_or_else(|e| e.into_inner());
        if warned.is_none_or(|at| at.elapsed() >= window) {
            *warned = Some(Instant::now());
            tracing::warn!(
                ?window,
                "the global checkout limit (DONATE_RATE_GLOBAL) is used up: every reader is refused until it refills"
            );
        }
    }

    pub fn forget_idle_clients(&self, now: Instant) {
        let networks = self.networks.iter().map(|(l, _, _)| l);
        for limiter in self.per_client.iter().chain(networks) {
            limiter.forget_idle(now);
        }
    }
}

/// Every limit on anonymous requests, built from the settings, each counting its refusals for
/// `/metrics`.
pub struct Limits {
    /// Starting checkouts (card-testing defence).
    pub donate: DonateLimits,
    /// The thanks page, which may ask Stripe about a pending payment.
    pub thanks: Option<ClientLimiter>,
    /// Changes through manage links.
    pub manage: Option<ClientLimiter>,
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
            thanks: per_client(abuse.thanks_rate_per_ip, "thanks"),
            manage: per_client(abuse.manage_rate_per_ip, "manage"),
            unknown_sessions: GlobalLimiter::new(a_minute(30))
                .counting_refusals(metrics.refusals("unknown_session", "global")),
            unknown_session_clients: ClientLimiter::new(a_minute(3), n(3))
                .counting_refusals(metrics.refusals("unknown_session", "client")),
        }
    }

    /// Forgets clients whose buckets are full again (run every minute).
    pub fn forget_idle(&self, now: Instant) {
        self.donate.forget_idle_clients(now);
        self.unknown_session_clients.forget_idle(now);
        for limiter in [&self.thanks, &self.manage].into_iter().flatten() {
            limiter.forget_idle(now);
        }
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
