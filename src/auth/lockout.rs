//! Slows down guessing of the admin token: after `MAX_FAILURES` wrong attempts from one client
//! (IPv6 per /64) within `WINDOW`, every token attempt from it (right or wrong) answers 429 until
//! the window ends. A valid session is checked before the lockout, so the blogger's own browser
//! keeps working while someone behind the same address guesses.
//!
//! governor (used for `/donate`) counts requests; here we must count *failures* and then refuse
//! *all* attempts, including a correct guess, or the limit would not slow a brute force at all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client_key::ClientKey;

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory under a spray of addresses; the least recently failing client goes first.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// When this window of failures began.
    since: Instant,
    /// The latest failure, for evicting the least recently used.
    last: Instant,
}

#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<ClientKey, Failures>>,
}

impl Lockout {
    /// How long `client` must still wait, if it is locked out.
    pub fn retry_after(&self, client: ClientKey) -> Option<Duration> {
        self.retry_after_at(client, Instant::now())
    }

    fn retry_after_at(&self, client: ClientKey, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.get(&client)?;
        let left = WINDOW.checked_sub(now.saturating_duration_since(f.since))?;
        (f.count >= MAX_FAILURES).then_some(left)
    }

    pub fn record_failure(&self, client: ClientKey) {
        self.record_failure_at(client, Instant::now());
    }

    fn record_failure_at(&self, client: ClientKey, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED && !map.contains_key(&client) {
            // One pass makes room for many: expired windows, then the tenth least recently failing.
            map.retain(|_, f| now.saturating_duration_since(f.since) < WINDOW);
            if map.len() >= MAX_TRACKED {
                let mut by_last: Vec<(Instant, ClientKey)> = map.iter().map(|(k, f)| (f.last, *k)).collect();
                let drop = MAX_TRACKED / 10;
                by_last.select_nth_unstable(drop);
                for (_, key) in &by_last[..drop] {
                    map.remove(key);
                }
            }
        }
        let entry = map.entry(client).or_insert(Failures {
            count: 0,
            since: now,
            last: now,
        });
        if now.saturating_duration_since(entry.since) >= WINDOW {
            *entry = Failures {
                count: 0,
                since: now,
                last: now,
            };
        }
        entry.count += 1;
        entry.last = now;
    }

    pub fn clear(&self, client: ClientKey) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&client);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.failures.lock().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> ClientKey {
        ClientKey::from(ip.parse::<std::net::IpAddr>().unwrap())
    }

    #[test]
    fn locks_after_repeated_failures_and_only_that_client() {
        let lockout = Lockout::default();
        let (bad, other) = (key("192.0.2.1"), key("192.0.2.2"));
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
    fn a_window_later_the_count_starts_again() {
        let lockout = Lockout::default();
        let (c, t0) = (key("192.0.2.1"), Instant::now());
        for _ in 0..MAX_FAILURES - 1 {
            lockout.record_failure_at(c, t0);
        }
        lockout.record_failure_at(c, t0 + WINDOW);
        let map = lockout.failures.lock().unwrap();
        assert_eq!(map[&c].count, 1);
    }

    #[test]
    fn the_table_is_capped_and_evicts_the_least_recently_failing() {
        let lockout = Lockout::default();
        let t0 = Instant::now();
        let first = key("198.51.100.1");
        lockout.record_failure_at(first, t0);
        for i in 1..MAX_TRACKED as u32 {
            let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            lockout.record_failure_at(ClientKey::from(ip), t0 + Duration::from_millis(1));
        }
        lockout.record_failure_at(first, t0 + Duration::from_millis(2));
        lockout.record_failure_at(key("203.0.113.1"), t0 + Duration::from_millis(3));
        assert!(lockout.tracked() <= MAX_TRACKED);
        let map = lockout.failures.lock().unwrap();
        assert!(map.contains_key(&first), "recently failing again: kept");
        assert!(map.contains_key(&key("203.0.113.1")));
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
    fn a_new_client_never_grows_a_full_table_and_expired_windows_make_room_first() {
        let lockout = Lockout::default();
        let t0 = Instant::now();
        let client =
            |i: u32| ClientKey::from(std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        for i in 0..MAX_TRACKED as u32 {
            lockout.record_failure_at(client(i), t0);
        }
        assert_eq!(lockout.tracked(), MAX_TRACKED);
        lockout.record_failure_at(key("203.0.113.1"), t0 + Duration::from_millis(1));
        assert!(lockout.tracked() <= MAX_TRACKED, "{}", lockout.tracked());

        let expired = Lockout::default();
        for i in 0..MAX_TRACKED as u32 - 1 {
            expired.record_failure_at(client(i), t0);
        }
        let recent = key("198.51.100.7");
        expired.record_failure_at(recent, t0 + Duration::from_secs(60));
        // A window later every entry but the recent one has expired: they go, and nobody else.
        expired.record_failure_at(key("203.0.113.1"), t0 + WINDOW);
        assert_eq!(expired.tracked(), 2);
        assert!(expired.failures.lock().unwrap().contains_key(&recent));
    }
}
