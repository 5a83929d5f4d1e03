//! Writes announced before they are queued, so that the writer knows what is coming.
//!
//! A webhook announces its write as soon as its request arrives, and withdraws the announcement
//! once the write is queued (or the request is refused). Sixty-four webhooks that arrive together
//! are then committed together: without it, the writer would start a batch with the first few
//! that are ready, and the rest would wait for that batch's fsync before being taken as another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::job::{Command, Job};

/// How long the writer waits at most for announced writes before it commits what it has: a
/// request may stall in between (on a loaded machine, a thread may not be scheduled for a while).
const LINGER: Duration = Duration::from_millis(1);

/// The writes being prepared: announced and not yet queued.
#[derive(Default)]
pub(super) struct Announced {
    count: AtomicUsize,
    /// How many more queued writes would fill the batch the writer is waiting to fill (0 while
    /// it is not waiting): the writer is woken once, not for every write.
    wanted: AtomicUsize,
    changed: Notify,
}

/// An announced write, withdrawn when dropped.
pub struct Announcement(Arc<Announced>);

impl Announced {
    pub(super) fn announce(self: &Arc<Self>) -> Announcement {
        self.count.fetch_add(1, Ordering::AcqRel);
        Announcement(Arc::clone(self))
    }
}

impl Drop for Announcement {
    fn drop(&mut self) {
        let announced = &self.0;
        let left = announced.count.fetch_sub(1, Ordering::AcqRel) - 1;
        let wanted = announced
            .wanted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| w.checked_sub(1));
        if left == 0 || wanted == Ok(1) {
            // A permit if the writer is not waiting yet: it looks again, rather than missing this.
            announced.changed.notify_one();
        }
    }
}

/// Takes the writes queued behind `first`, up to `max`. While announced writes are still being
/// prepared, it waits for them (at most [`LINGER`]) before it settles for fewer. Another command
/// met on the way is handed back in `next`.
pub(super) async fn collect(
    commands: &mut mpsc::Receiver<Command>,
    first: Job,
    max: usize,
    announced: &Announced,
    next: &mut Option<Command>,
) -> Vec<Job> {
    let mut batch = vec![first];
    let deadline = tokio::time::Instant::now() + LINGER;
    let mut waited = false;
    loop {
        while batch.len() < max {
            match commands.try_recv() {
                Ok(Command::Write(job)) => batch.push(job),
                Ok(other) => {
                    *next = Some(other);
                    return batch;
                }
                Err(_) => break,
            }
        }
        let preparing = announced.count.load(Ordering::Acquire);
        if batch.len() >= max || preparing == 0 || waited {
            return batch;
        }
        announced.wanted.store(max - batch.len(), Ordering::Release);
        tokio::select! {
            () = announced.changed.notified() => {}
            () = tokio::time::sleep_until(deadline) => waited = true,
        }
        announced.wanted.store(0, Ordering::Release);
    }
}
