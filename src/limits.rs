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

    /// Forgets clients whose buckets are full again, so memory stays bounded.
    pub fn forget_idle(&self) {
        let now = Instant::now();
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

/// Checkouts: per client, and for the whole jar.
pub struct DonateLimits {
    per_client: Option<ClientLimiter>,
    global: Option<(DefaultDirectRateLimiter, Duration)>,
    clock: DefaultClock,
    /// When the empty global bucket was last reported.
    warned: Mutex<Option<Instant>>,
    global_refused: Counter,
}

impl DonateLimits {
    pub fn new(per_client: Option<(Rate, NonZeroU32)>, global: Option<Rate>) -> Self {
        DonateLimits {
            per_client: per_client.map(|(rate, burst)| ClientLimiter::new(rate, burst)),
            global: global.and_then(|r| {
                let quota = Quota::with_period(r.period / r.count.get())?.allow_burst(r.count);
                Some((DefaultDirectRateLimiter::direct(quota), r.period))
            }),
            clock: DefaultClock::default(),
            warned: Mutex::new(None),
            global_refused: Counter::default(),
        }
    }

    /// Counts refusals by the per-client and the global bucket.
    pub fn counting_refusals(mut self, client: Counter, global: Counter) -> Self {
        self.per_client = self.per_client.map(|l| l.counting_refusals(client));
        self.global_refused = global;
        self
    }

    /// Takes one attempt from `client`'s bucket and the global one; `Err` says how long to wait.
    /// The client's own bucket is asked first, so one abuser cannot drain the global one; a
    /// refusal by the global bucket costs the client nothing.
    pub fn check(&self, client: ClientKey) -> Result<(), Duration> {
        let global = || self.check_global();
        match &self.per_client {
            Some(limiter) => limiter.check_then(client, Instant::now(), global),
            None => global(),
        }
    }

    fn check_global(&self) -> Result<(), Duration> {
        let Some((limiter, period)) = &self.global else {
            return Ok(());
        };
        let now = self.clock.now();
        limiter.check().map_err(|not_until| {
            self.global_refused.inc();
            self.warn_once_per(*period);
            not_until.wait_time_from(now)
        })
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

    pub fn forget_idle_clients(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.forget_idle();
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
    pub fn forget_idle(&self) {
        self.donate.forget_idle_clients();
        self.unknown_session_clients.forget_idle();
        for limiter in [&self.thanks, &self.manage].into_iter().flatten() {
            limiter.forget_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> ClientKey {
        ClientKey::from(ip.parse::<std::net::IpAddr>().unwrap())
    }

    fn rate(raw: &str) -> Rate {
        Rate::parse(raw).unwrap().unwrap()
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_and_others_are_unaffected() {
        let limits = DonateLimits::new(Some((rate("5/10m"), NonZeroU32::new(3).unwrap())), None);
        for _ in 0..3 {
            assert!(limits.check(key("192.0.2.1")).is_ok());
        }
        let wait = limits.check(key("192.0.2.1")).unwrap_err();
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert!(limits.check(key("192.0.2.2")).is_ok());
    }

    #[test]
    fn a_bucket_refills_one_cell_per_interval() {
        let limiter = ClientLimiter::new(rate("6/1m"), NonZeroU32::new(2).unwrap());
        let (c, t0) = (key("192.0.2.1"), Instant::now());
        let ok = || Ok(());
        assert!(limiter.check_then(c, t0, ok).is_ok());
        assert!(limiter.check_then(c, t0, ok).is_ok());
        assert_eq!(limiter.check_then(c, t0, ok), Err(Duration::from_secs(10)));
        assert_eq!(
            limiter.check_then(c, t0 + Duration::from_secs(4), ok),
            Err(Duration::from_secs(6))
        );
        assert!(limiter.check_then(c, t0 + Duration::from_secs(10), ok).is_ok());
        assert!(limiter.check_then(c, t0 + Duration::from_secs(10), ok).is_err());
    }

    #[test]
    fn a_refusal_elsewhere_takes_nothing_from_the_client() {
        let limiter = ClientLimiter::new(rate("1/1h"), NonZeroU32::MIN);
        let (c, now) = (key("192.0.2.1"), Instant::now());
        for _ in 0..5 {
            assert_eq!(
                limiter.check_then(c, now, || Err(Duration::from_secs(7))),
                Err(Duration::from_secs(7))
            );
        }
        assert!(
            limiter.check_then(c, now, || Ok(())).is_ok(),
            "still a full bucket"
        );
        assert!(limiter.check_then(c, now, || Ok(())).is_err());
    }

    #[test]
    fn the_global_bucket_stops_everyone_without_charging_their_own_buckets() {
        let per_client = Some((rate("1/1h"), NonZeroU32::MIN));
        let limits = DonateLimits::new(per_client, Some(rate("2/1h")));
        assert!(limits.check(key("192.0.2.1")).is_ok());
        assert!(limits.check(key("192.0.2.2")).is_ok());
        assert!(
            limits.check(key("192.0.2.3")).is_err(),
            "the jar's bucket is empty"
        );
        let own = limits.per_client.as_ref().unwrap();
        assert!(
            own.check(key("192.0.2.3")).is_ok(),
            "the refused reader's own bucket is still full"
        );
    }

    #[test]
    fn one_ipv6_64_is_one_client() {
        let limits = DonateLimits::new(Some((rate("1/1h"), NonZeroU32::MIN)), None);
        assert!(limits.check(key("2001:db8:0:1::1")).is_ok());
        assert!(limits.check(key("2001:db8:0:1::2")).is_err());
        assert!(limits.check(key("2001:db8:0:2::1")).is_ok());
    }

    #[test]
    fn idle_clients_are_forgotten_and_the_table_is_capped() {
        let limiter = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
        let now = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(i));
            assert!(limiter.check_then(ClientKey::from(ip), now, || Ok(())).is_ok());
        }
        assert!(
            limiter.tracked() <= MAX_CLIENTS && limiter.tracked() > MAX_CLIENTS * 8 / 10,
            "{}",
            limiter.tracked()
        );
        let later = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
        let past = now - Duration::from_secs(2);
        assert!(later.check_then(key("192.0.2.1"), past, || Ok(())).is_ok());
        later.forget_idle();
        assert_eq!(later.tracked(), 0);
    }

    #[test]
    fn a_busy_client_is_remembered_when_idle_ones_are_forgotten() {
        let limiter = ClientLimiter::new(rate("1/1h"), NonZeroU32::MIN);
        let busy = key("192.0.2.1");
        assert!(limiter.check(busy).is_ok());
        let idle = key("192.0.2.2");
        let past = Instant::now() - Duration::from_secs(7200);
        assert!(limiter.check_then(idle, past, || Ok(())).is_ok());
        limiter.forget_idle();
        assert_eq!(limiter.tracked(), 1, "only the idle client is forgotten");
        assert!(limiter.check(busy).is_err(), "the busy client still waits");
    }

    #[test]
    fn the_table_never_holds_more_than_its_cap_and_idle_clients_make_room_first() {
        let limiter = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
        let now = Instant::now();
        let client = |i: u32| ClientKey::from(std::net::IpAddr::V4(std::net::Ipv4Addr::from(i)));
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            assert!(limiter.check_then(client(i), now, || Ok(())).is_ok());
            assert!(limiter.tracked() <= MAX_CLIENTS, "{} tracked", limiter.tracked());
        }
        // A full table whose buckets have all refilled seconds later: the next client finds room
        // by forgetting them, and nobody else is dropped.
        let full = ClientLimiter::new(rate("1/1s"), NonZeroU32::MIN);
        for i in 0..MAX_CLIENTS as u32 {
            assert!(full.check_then(client(i), now, || Ok(())).is_ok());
        }
        assert_eq!(full.tracked(), MAX_CLIENTS);
        let later = now + Duration::from_secs(5);
        assert!(full.check_then(client(u32::MAX), later, || Ok(())).is_ok());
        assert_eq!(full.tracked(), 1);
    }

    #[test]
    fn the_shared_budget_admits_its_count_then_refuses_and_counts_refusals() {
        let refused = Counter::default();
        let shared = GlobalLimiter::new(rate("2/1h")).counting_refusals(refused.clone());
        assert!(shared.admit());
        assert!(shared.admit());
        assert_eq!(refused.get(), 0, "admissions are not refusals");
        assert!(!shared.admit());
        assert!(!shared.admit());
        assert_eq!(refused.get(), 2);
        let limiter = ClientLimiter::new(rate("10/1h"), NonZeroU32::new(10).unwrap());
        assert!(!limiter.check_with(key("192.0.2.1"), &shared));
        assert!(
            limiter.check(key("192.0.2.1")).is_ok(),
            "its own bucket untouched"
        );
    }

    #[test]
    fn an_empty_global_bucket_is_reported_once_per_window() {
        let limits = DonateLimits::new(None, Some(rate("1/1h")));
        let warned = || *limits.warned.lock().unwrap();
        assert!(limits.check(key("192.0.2.1")).is_ok());
        assert_eq!(warned(), None, "nothing to report while there is room");
        assert!(limits.check(key("192.0.2.2")).is_err());
        let first = warned().expect("the empty bucket is reported");
        assert!(limits.check(key("192.0.2.3")).is_err());
        assert_eq!(warned(), Some(first), "not again within the window");
        assert_eq!(limits.global_refused.get(), 2);
    }

    #[test]
    fn every_limit_forgets_its_idle_clients() {
        let per_client = Some((rate("1/1m"), NonZeroU32::MIN));
        let abuse = AbuseSettings {
            trusted_proxies: Vec::new(),
            donate_rate_per_ip: per_client,
            donate_rate_global: None,
            thanks_rate_per_ip: per_client,
            manage_rate_per_ip: per_client,
        };
        let limits = Limits::new(&abuse, &Metrics::new());
        let past = Instant::now() - Duration::from_secs(3600);
        let all = [
            limits.donate.per_client.as_ref().unwrap(),
            limits.thanks.as_ref().unwrap(),
            limits.manage.as_ref().unwrap(),
            &limits.unknown_session_clients,
        ];
        for limiter in all {
            assert!(limiter.check_then(key("192.0.2.1"), past, || Ok(())).is_ok());
            assert_eq!(limiter.tracked(), 1);
        }
        limits.forget_idle();
        for limiter in all {
            assert_eq!(limiter.tracked(), 0);
        }
    }
}
