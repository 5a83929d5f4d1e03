//! The buckets: per client (GCRA, keyed by [`ClientKey`]) and one for everyone (governor).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;

use crate::client_key::ClientKey;
use crate::config::Rate;
use governor::{DefaultDirectRateLimiter, Quota};

/// More clients than this are not tracked at once; the closest to a full bucket go first.
pub(super) const MAX_CLIENTS: usize = 20_000;

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
    pub(super) fn check_then(
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
    pub(super) fn tracked(&self) -> usize {
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
