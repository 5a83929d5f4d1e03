//! Slows down guessing of the admin token. Failures are counted per client (IPv6 per /64), per
//! network (IPv6 /48, IPv4 /24) and for everyone together, each within `WINDOW`; past any of
//! `MAX_FAILURES`, `MAX_NETWORK_FAILURES` or `MAX_GLOBAL_FAILURES`, every token attempt in that
//! scope (right or wrong) answers 429 until its window ends. So an attacker with a whole /48
//! (65,536 clients) gets twenty guesses, and one with many networks two hundred, per quarter
//! hour. A valid session is checked before the lockout, so the blogger's own browser keeps
//! working throughout.
//!
//! The table never forgets under pressure: when it is full, windows that ended make room, and
//! past that a client it does not know yet is refused rather than an old failure evicted.
//!
//! governor (used for `/donate`) counts requests; here we must count *failures* and then refuse
//! *all* attempts, including a correct guess, or the limit would not slow a brute force at all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client_key::ClientKey;

pub const MAX_FAILURES: u32 = 5;
pub const MAX_NETWORK_FAILURES: u32 = 20;
pub const MAX_GLOBAL_FAILURES: u32 = 200;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory; with the global limit it is never reached within one window.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    Client(ClientKey),
    Network(ClientKey),
    Global,
}

impl Scope {
    fn all(client: ClientKey) -> [(Scope, u32); 3] {
        [
            (Scope::Client(client), MAX_FAILURES),
            (Scope::Network(client.network(24, 48)), MAX_NETWORK_FAILURES),
            (Scope::Global, MAX_GLOBAL_FAILURES),
        ]
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// When this window of failures began.
    since: Instant,
}

#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<Scope, Failures>>,
}

impl Lockout {
    /// How long `client` must still wait, if it (or its network, or everyone) is locked out.
    pub fn retry_after(&self, client: ClientKey) -> Option<Duration> {
        self.retry_after_at(client, Instant::now())
    }

    fn retry_after_at(&self, client: ClientKey, now: Instant) -> Option<Duration> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let left = |f: &Failures| WINDOW.checked_sub(now.saturating_duration_since(f.since));
        let locked = Scope::all(client)
            .iter()
            .filter_map(|(scope, limit)| map.get(scope).filter(|f| f.count >= *limit).and_then(left))
            .max();
        if locked.is_some() {
            return locked;
        }
        if !map.contains_key(&Scope::Client(client)) && full(&mut map, now) {
            // Nowhere to count this client's failures: it waits, old failures are kept.
            return Some(WINDOW);
        }
        None
    }

    pub fn record_failure(&self, client: ClientKey) {
        self.record_failure_at(client, Instant::now());
    }

    fn record_failure_at(&self, client: ClientKey, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        for (scope, _) in Scope::all(client) {
            if !map.contains_key(&scope) && full(&mut map, now) {
                continue;
            }
            let entry = map.entry(scope).or_insert(Failures { count: 0, since: now });
            if now.saturating_duration_since(entry.since) >= WINDOW {
                *entry = Failures { count: 0, since: now };
            }
            entry.count += 1;
        }
    }

    /// A right token forgives the client's own failures. Its network's and everyone's count on:
    /// the blogger's login must not reset an attack's count.
    pub fn clear(&self, client: ClientKey) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Scope::Client(client));
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().map_or(0, |m| m.len())
    }
}

/// Whether the table is full, after windows that ended made room.
fn full(map: &mut HashMap<Scope, Failures>, now: Instant) -> bool {
    if map.len() < MAX_TRACKED {
        return false;
    }
    map.retain(|_, f| now.saturating_duration_since(f.since) < WINDOW);
    map.len() >= MAX_TRACKED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> ClientKey {
        ClientKey::from(ip.parse::<std::net::IpAddr>().unwrap())
    }

    fn v4(i: u32) -> ClientKey {
        ClientKey::from(std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)))
    }

    #[test]
    fn locks_after_repeated_failures_and_only_that_client() {
        let lockout = Lockout::default();
        let (bad, other) = (key("192.0.2.1"), key("198.51.100.2"));
        for _ in 0..MAX_FAILURES - 1 {
            lockout.record_failure(bad);
        }
        assert!(lockout.retry_after(bad).is_none());
        lockout.record_failure(bad);
        assert!(lockout.retry_after(bad).is_some_and(|d| d <= WINDOW));
        assert!(lockout.retry_after(other).is_none());
        lockout.clear(bad);
        assert!(lockout.retry_after(bad).is_none());
    }

    #[test]
    fn failures_from_one_ipv6_64_add_up() {
        let lockout = Lockout::default();
        for i in 0..MAX_FAILURES {
            lockout.record_failure(key(&format!("2001:db8:0:1::{i:x}")));
        }
        assert!(lockout.retry_after(key("2001:db8:0:1::ffff")).is_some());
        assert!(lockout.retry_after(key("2001:db8:0:2::1")).is_none());
    }

    #[test]
    fn twenty_thousand_addresses_of_one_48_get_a_bounded_number_of_guesses() {
        let lockout = Lockout::default();
        let mut guesses = 0;
        for i in 0..20_000u32 {
            let client = key(&format!("2001:db8:7:{:x}::1", i % 65_536));
            if lockout.retry_after(client).is_none() {
                guesses += 1;
                lockout.record_failure(client);
            }
        }
        assert_eq!(guesses, MAX_NETWORK_FAILURES);
        assert!(
            lockout.retry_after(key("2001:db8:8::1")).is_none(),
            "another /48 may still try"
        );
    }

    #[test]
    fn many_networks_together_get_a_bounded_number_of_guesses() {
        let lockout = Lockout::default();
        let mut guesses = 0;
        for i in 0..5_000u32 {
            // A new IPv4 /24 every time.
            let client = v4(i << 8);
            if lockout.retry_after(client).is_none() {
                guesses += 1;
                lockout.record_failure(client);
            }
        }
        assert_eq!(guesses, MAX_GLOBAL_FAILURES);
        assert!(lockout.tracked() <= 2 * MAX_GLOBAL_FAILURES as usize + 1);
    }

    #[test]
    fn a_window_later_the_count_starts_again() {
        let lockout = Lockout::default();
        let (c, t0) = (key("192.0.2.1"), Instant::now());
        for _ in 0..MAX_FAILURES - 1 {
            lockout.record_failure_at(c, t0);
        }
        lockout.record_failure_at(c, t0 + WINDOW);
        let map = lockout.failures.lock().unwrap();
        assert_eq!(map[&Scope::Client(c)].count, 1);
    }

    #[test]
    fn a_lockout_lasts_fifteen_minutes_from_the_first_failure() {
        let lockout = Lockout::default();
        let c = key("192.0.2.1");
        // Instants only go forward from now: going back past the machine's uptime would panic.
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES {
            lockout.record_failure_at(c, t0);
        }
        let left = lockout
            .retry_after_at(c, t0 + Duration::from_secs(10 * 60))
            .expect("still locked out");
        assert!(
            left > Duration::from_secs(4 * 60) && left <= Duration::from_secs(5 * 60),
            "{left:?}"
        );
    }

    #[test]
    fn a_full_table_refuses_new_clients_and_keeps_old_failures_until_their_windows_end() {
        let lockout = Lockout::default();
        let t0 = Instant::now();
        {
            let mut map = lockout.failures.lock().unwrap();
            for i in 0..MAX_TRACKED as u32 {
                map.insert(Scope::Client(v4(i)), Failures { count: 1, since: t0 });
            }
        }
        let newcomer = key("203.0.113.1");
        assert_eq!(
            lockout.retry_after_at(newcomer, t0),
            Some(WINDOW),
            "refused, not evicting"
        );
        lockout.record_failure_at(newcomer, t0);
        assert!(lockout.tracked() <= MAX_TRACKED);
        assert!(
            lockout
                .failures
                .lock()
                .unwrap()
                .contains_key(&Scope::Client(v4(0))),
            "kept"
        );
        assert_eq!(
            lockout.retry_after_at(v4(1), t0),
            None,
            "a known client is counted as before"
        );
        // A window later every old entry has ended: they make room.
        assert_eq!(lockout.retry_after_at(newcomer, t0 + WINDOW), None);
        assert!(lockout.tracked() < MAX_TRACKED);
    }
}
