//! The writer task: the one owner of the write connection, and so of write ordering.
//!
//! It takes whatever writes are queued (up to `WEBHOOK_BATCH_MAX`) and carries them out in one
//! `BEGIN IMMEDIATE` transaction, committed once (`transaction.rs`): with `synchronous=FULL` that
//! is one fsync for the whole batch instead of one per webhook. Each caller hears back only after
//! the commit returned, so nothing acknowledged can be lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::SqliteConnection;
use tokio::sync::mpsc;

use super::announce::{self, Announced};
use super::job::Command;
use super::transaction::{Counters, commit, execute};

/// Serves commands until every `Db` handle is dropped.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut commands: mpsc::Receiver<Command>,
    batch_max: usize,
    busy_timeout: Duration,
    counters: Arc<Counters>,
    announced: Arc<Announced>,
) {
    let mut next: Option<Command> = None;
    // A checkpoint that readers held back is retried until it completes, after a batch or while
    // the jar is idle (an erased name must not wait in the WAL for the next coffee), and without
    // waiting for the readers: a long-lived reader, such as Litestream's, would otherwise hold
    // every write up for the busy timeout.
    let mut held: Option<HeldBack> = None;
    loop {
        let received = match (next.take(), held) {
            (Some(command), _) => Some(command),
            (None, None) => commands.recv().await,
            (None, Some(h)) => match tokio::time::timeout_at(h.due.into(), commands.recv()).await {
                Ok(received) => received,
                Err(_idle) => {
                    held = retry_checkpoint(&mut conn, busy_timeout, h).await;
                    continue;
                }
            },
        };
        let Some(command) = received else { return };
        match command {
            Command::Checkpoint(reply) => {
                let done = checkpoint(&mut conn).await;
                held = match done {
                    Ok(true) => None,
                    Ok(false) => {
                        tracing::warn!(
                            "the WAL checkpoint was held back by a reader; it is retried in the background"
                        );
                        Some(HeldBack::first())
                    }
                    // The caller hears of the error; the retries may still succeed.
                    Err(_) => Some(HeldBack::first()),
                };
                let _ = reply.send(done);
            }
            Command::Write(job) => {
                let mut batch = announce::collect(&mut commands, job, batch_max, &announced, &mut next).await;
                if batch_max == 1 {
                    // The naive path: every write the ordinary way, one commit each. It stays
                    // the reference that batches are measured and tested against.
                    batch.iter_mut().for_each(|job| job.staged = None);
                }
                commit(&mut conn, batch, &counters).await;
                if let Some(h) = held
                    && Instant::now() >= h.due
                {
                    held = retry_checkpoint(&mut conn, busy_timeout, h).await;
                }
            }
        }
    }
}

/// A held-back checkpoint is first tried again after this long, then after twice as long each
/// time, up to the maximum: a reader that never lets go (Litestream) costs a try every few
/// minutes, not a stream of them.
const CHECKPOINT_RETRY: Duration = Duration::from_secs(5);
const CHECKPOINT_RETRY_MAX: Duration = Duration::from_secs(300);

/// A checkpoint that readers held back: when to try again, and the wait that led there.
#[derive(Debug, Clone, Copy)]
struct HeldBack {
    due: Instant,
    delay: Duration,
}

impl HeldBack {
    fn first() -> Self {
        HeldBack {
            due: Instant::now() + CHECKPOINT_RETRY,
            delay: CHECKPOINT_RETRY,
        }
    }

    fn again(self) -> Self {
        let delay = (self.delay * 2).min(CHECKPOINT_RETRY_MAX);
        HeldBack {
            due: Instant::now() + delay,
            delay,
        }
    }
}

/// Tries a held-back checkpoint again: `None` once it completed.
async fn retry_checkpoint(
    conn: &mut SqliteConnection,
    busy_timeout: Duration,
    h: HeldBack,
) -> Option<HeldBack> {
    if checkpoint_without_waiting(conn, busy_timeout).await {
        tracing::info!("the held-back WAL checkpoint completed");
        None
    } else {
        let next = h.again();
        tracing::debug!(next_try_in = ?next.delay, "the WAL checkpoint is still held back");
        Some(next)
    }
}

/// A retry that gives up at once if a reader is in the way, instead of waiting the busy timeout.
async fn checkpoint_without_waiting(conn: &mut SqliteConnection, busy_timeout: Duration) -> bool {
    let restore = format!("PRAGMA busy_timeout = {}", busy_timeout.as_millis());
    let done = match execute(conn, "PRAGMA busy_timeout = 0").await {
        Ok(()) => matches!(checkpoint(conn).await, Ok(true)),
        Err(_) => false,
    };
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(restore))
        .execute(&mut *conn)
        .await
    {
        tracing::error!(error = ?e, "could not restore the busy timeout after a checkpoint");
    }
    done
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`: whether every frame was copied and the WAL truncated. A
/// reader holding an old snapshot makes it report busy rather than fail.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    let (busy, _log, _copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(conn)
        .await?;
    Ok(busy == 0)
}
