//! One request at a time per key: a double-clicked donate form waits for the first click's
//! checkout instead of racing it to Stripe (which answers a concurrent request with the same
//! idempotency key with 409). Entries exist only while a request holds or waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Slot = Arc<tokio::sync::Mutex<()>>;

#[derive(Default)]
pub struct KeyedLocks(Mutex<HashMap<String, Slot>>);

/// Held while the request for its key runs; the next request with the key waits for its drop.
pub struct KeyGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    slot: Slot,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard<'_> {
        let slot = match self.0.lock() {
            Ok(mut map) => Arc::clone(map.entry(key.to_owned()).or_default()),
            // A poisoned map only loses the waiting: every request gets its own slot.
            Err(_) => Slot::default(),
        };
        // The guard exists before the wait: a request cancelled while it waits (a reader who
        // closed the tab) drops it holding nothing, and its entry goes all the same.
        let mut held = KeyGuard {
            locks: self,
            key: key.to_owned(),
            slot,
            guard: None,
        };
        let guard = Arc::clone(&held.slot).lock_owned().await;
        held.guard = Some(guard);
        held
    }

    /// Keys currently held or waited for (for tests: nothing is left behind).
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        if let Ok(mut map) = self.locks.0.lock() {
            // The map's reference and ours: nobody else holds or waits for this key.
            if Arc::strong_count(&self.slot) == 2 {
                map.remove(&self.key);
            }
        }
    }
}

/// Idempotency keys whose checkout the provider answered with a 5xx. Stripe saves that answer
/// under the key and replays it for 24 hours, so a reader who tries the same form again (the
/// form's nonce makes the same key) is sent under a successor key instead.
#[derive(Default)]
pub struct SpoiledKeys(Mutex<HashMap<String, u32>>);

impl SpoiledKeys {
    /// Entries kept at most; past it the table starts over, which costs at worst one more
    /// replayed error for a key spoiled before (a reader's next try spoils it again).
    const MAX: usize = 10_000;

    /// The key to send for `key` now: itself, or its successor after each spoiled attempt.
    pub fn current(&self, key: &str) -> String {
        match self.0.lock().map_or(0, |m| m.get(key).copied().unwrap_or(0)) {
            0 => key.to_owned(),
            n => format!("{key}-retry{n}"),
        }
    }

    /// The provider answered `key`'s current successor with an error it would replay.
    pub fn spoil(&self, key: &str) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= Self::MAX && !map.contains_key(key) {
                map.clear();
            }
            *map.entry(key.to_owned()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod keyed_lock_tests {
    use super::*;
    use futures_core::Future;
    use std::task::{Context, Waker};

    #[tokio::test]
    async fn a_hundred_thousand_cancelled_waiters_leave_the_map_empty() {
        let locks = KeyedLocks::default();
        let held = locks.lock("form").await;
        let mut cx = Context::from_waker(Waker::noop());
        let mut waiting = Vec::new();
        for _ in 0..100_000 {
            // Each waiter is polled once: it waits behind the first click.
            let mut waiter = Box::pin(locks.lock("form"));
            assert!(waiter.as_mut().poll(&mut cx).is_pending());
            waiting.push(waiter);
        }
        // The first click is answered while they wait; then every waiter is cancelled (the
        // narrow window in which a handed-over lock was never taken up).
        drop(held);
        drop(waiting);
        assert!(locks.is_empty(), "{} entries left", locks.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_for_the_first_and_nothing_is_left_behind() {
        let locks = KeyedLocks::default();
        let first = locks.lock("k").await;
        let other = locks.lock("other").await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), locks.lock("k")).await;
        assert!(waiting.is_err(), "the same key waits");
        drop(other);
        drop(first);
        let again = locks.lock("k").await;
        drop(again);
        assert!(locks.is_empty());
    }

    #[test]
    fn a_spoiled_key_is_followed_by_a_new_successor_each_time() {
        let keys = SpoiledKeys::default();
        assert_eq!(keys.current("k"), "k");
        keys.spoil("k");
        assert_eq!(keys.current("k"), "k-retry1");
        keys.spoil("k");
        assert_eq!(keys.current("k"), "k-retry2");
        assert_eq!(keys.current("other"), "other");
    }

    #[test]
    fn a_full_table_of_spoiled_keys_starts_over() {
        let keys = SpoiledKeys::default();
        for i in 0..SpoiledKeys::MAX {
            keys.spoil(&i.to_string());
        }
        keys.spoil("0");
        assert_eq!(keys.current("0"), "0-retry2", "a known key is counted on");
        keys.spoil("new");
        assert_eq!(
            (keys.current("new"), keys.current("0")),
            ("new-retry1".into(), "0".into())
        );
    }
}
