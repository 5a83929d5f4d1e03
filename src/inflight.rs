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
        let guard = Arc::clone(&slot).lock_owned().await;
        KeyGuard {
            locks: self,
            key: key.to_owned(),
            slot,
            guard: Some(guard),
        }
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
}
