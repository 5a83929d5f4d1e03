//! Slows down guessing of the admin token: after `MAX_FAILURES` wrong attempts from one address
//! within `WINDOW`, every attempt from it (right or wrong) answers 429 until the window ends.
//!
//! governor (used for `/donate`) counts requests; here we must count *failures* and then refuse
//! *all* attempts, including a correct guess, or the limit would not slow a brute force at all.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bounds memory under a spray of addresses; old entries are dropped first.
const MAX_TRACKED: usize = 10_000;

#[derive(Default)]
pub struct Lockout {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

impl Lockout {
    /// How long `ip` must still wait, if it is locked out.
    pub fn retry_after(&self, ip: IpAddr) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = map.get(&ip)?;
        let left = WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then_some(left)
    }

    pub fn record_failure(&self, ip: IpAddr) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn clear(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_repeated_failures_and_only_that_address() {
        let lockout = Lockout::default();
        let bad: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
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
}
