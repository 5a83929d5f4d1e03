//! The checkout limits: per client, per network, and for the whole jar.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use prometheus_client::metrics::counter::Counter;

use super::buckets::ClientLimiter;
use crate::client_key::ClientKey;
use crate::config::Rate;

/// Checkouts: per client, per network, and for the whole jar.
///
/// One network must not take the jar's whole budget however many addresses it has (an IPv6 /48
/// is 65,536 clients): with a global budget, each IPv6 /48 and IPv4 /24 may use a sixth of it,
/// each IPv6 /32 a third. And a third of the global budget is kept for readers who loaded the
/// form (a signed nonce, `auth::nonce`), so a flood of scripted requests from many networks
/// still leaves room for them.
pub struct DonateLimits {
    pub(super) per_client: Option<ClientLimiter>,
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
    pub(super) warned: Mutex<Option<Instant>>,
    pub(super) global_refused: Counter,
}

/// A bucket of `count` per `period`, bursting to all of them.
fn bucket(count: u32, period: Duration) -> Option<DefaultDirectRateLimiter> {
    let count = NonZeroU32::new(count)?;
    let quota = Quota::with_period(period / count.get())?.allow_burst(count);
    Some(DefaultDirectRateLimiter::direct(quota))
}

/// A network's bucket: `count` per `period`, bursting to half of them.
fn network_bucket(count: u32, period: Duration) -> ClientLimiter {
    let count = NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new((count.get() / 2).max(1)).unwrap_or(NonZeroU32::MIN);
    ClientLimiter::new(Rate { count, period }, burst)
}

impl DonateLimits {
    pub fn new(per_client: Option<(Rate, NonZeroU32)>, global: Option<Rate>) -> Self {
        let share = |r: &Rate, part: u32| network_bucket((r.count.get() / part).max(1), r.period);
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

    /// Per client and per network, with no bucket for the whole jar: for a request the jar must
    /// never refuse to everyone at once (the cancel button), however many addresses an attacker
    /// has. Each IPv6 /48 and IPv4 /24 gets `per_network`, each IPv6 /32 twice that.
    pub fn without_global(per_client: Option<(Rate, NonZeroU32)>, per_network: Option<Rate>) -> Self {
        let limiter = |r: &Rate, times: u32| network_bucket(r.count.get().saturating_mul(times), r.period);
        DonateLimits {
            networks: per_network
                .map(|r| vec![(limiter(&r, 1), Some(24), 48), (limiter(&r, 2), None, 32)])
                .unwrap_or_default(),
            global: None,
            ..DonateLimits::new(per_client, None)
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
        let levels = self.levels(client);
        Self::through(&levels, Instant::now(), &|| self.check_global(signed))
    }

    fn levels(&self, client: ClientKey) -> Vec<(&ClientLimiter, ClientKey)> {
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
        levels
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
