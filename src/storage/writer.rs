//! The writer task: the one owner of the write connection, and so of write ordering.
//!
//! It takes whatever writes are queued (up to `WEBHOOK_BATCH_MAX`), runs each in its own
//! `SAVEPOINT` inside one `BEGIN IMMEDIATE` transaction, and commits the batch once: with
//! `synchronous=FULL` that is one fsync for the whole batch instead of one per webhook. Each
//! caller hears back only after the commit returned, so nothing acknowledged can be lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

/// The future a write job returns: it borrows the write connection for its lifetime.
pub type JobFuture<'c, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'c>>;

pub(super) enum Command {
    Write(Job),
    /// `PRAGMA wal_checkpoint(TRUNCATE)`, between batches.
    /// Answers whether it completed (readers may hold it back; it is then retried).
    Checkpoint(oneshot::Sender<Result<bool, sqlx::Error>>),
}

type Run = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, bool> + Send>;
type Finish = Box<dyn FnOnce(Result<(), sqlx::Error>) + Send>;

/// One caller's write: `run` does the work (and says whether it succeeded); `finish` answers the
/// caller with the job's own result once the batch is committed, or with the commit's error.
pub(super) struct Job {
    run: Run,
    finish: Finish,
}

impl Job {
    pub(super) fn new<T, E, F>(job: F, reply: oneshot::Sender<Result<T, E>>) -> Job
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<Result<T, E>>>> = Arc::default();
        let filled = Arc::clone(&slot);
        Job {
            run: Box::new(move |conn| {
                Box::pin(async move {
                    let result = job(conn).await;
                    let ok = result.is_ok();
                    *filled.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                    ok
                })
            }),
            finish: Box::new(move |committed| {
                let result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                let answer = match (committed, result) {
                    (Ok(()), Some(result)) => result,
                    (Err(e), _) => Err(E::from(e)),
                    (Ok(()), None) => Err(E::from(gone())),
                };
                // The caller may have given up (a timed-out request); the write stands anyway.
                let _ = reply.send(answer);
            }),
        }
    }
}

/// The error for a write that never ran because the writer is gone.
pub(super) fn gone() -> sqlx::Error {
    sqlx::Error::WorkerCrashed
}

/// What the writer reports to readers.
pub(super) struct Counters {
    /// `wall_totals.version` as of the last commit: what the wall shows.
    pub wall_version: Arc<AtomicU64>,
    /// Committed batches.
    pub batches: Arc<AtomicU64>,
}

/// Serves commands until every `Db` handle is dropped.
pub(super) async fn run(
    mut conn: SqliteConnection,
    mut commands: mpsc::Receiver<Command>,
    batch_max: usize,
    busy_timeout: Duration,
    counters: Counters,
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
                let mut batch = vec![job];
                while batch.len() < batch_max {
                    match commands.try_recv() {
                        Ok(Command::Write(job)) => batch.push(job),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
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

/// Runs and commits one batch, then answers its callers.
///
/// The statements around the jobs are sent together where they follow each other (each call is
/// a round trip to SQLite's thread): `BEGIN IMMEDIATE; SAVEPOINT job` before the first job,
/// `RELEASE job; SAVEPOINT job` between jobs, `RELEASE job; COMMIT` after the last.
async fn commit(conn: &mut SqliteConnection, batch: Vec<Job>, counters: &Counters) {
    // A lone job needs no savepoint: if it fails, the whole transaction is rolled back.
    let alone = batch.len() == 1;
    let begin = if alone {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN IMMEDIATE; SAVEPOINT job"
    };
    if let Err(e) = execute(conn, begin).await {
        tracing::error!(error = ?e, "cannot start a write transaction");
        // A failed BEGIN leaves nothing open; a failed SAVEPOINT after it would.
        let _ = execute(conn, "ROLLBACK").await;
        fail_all(batch.into_iter().map(|j| j.finish), &e);
        return;
    }
    let last = batch.len() - 1;
    let mut finishes = Vec::with_capacity(batch.len());
    let (mut broken, mut any_ok) = (None, false);
    for (i, job) in batch.into_iter().enumerate() {
        if broken.is_some() {
            finishes.push(job.finish);
            continue;
        }
        let ok = (job.run)(conn).await;
        any_ok |= ok;
        finishes.push(job.finish);
        let next = match (alone, ok, i == last) {
            (true, _, _) => None,
            (false, true, false) => Some("RELEASE job; SAVEPOINT job"),
            (false, false, false) => Some("ROLLBACK TO job; RELEASE job; SAVEPOINT job"),
            (false, true, true) => Some("RELEASE job"),
            (false, false, true) => Some("ROLLBACK TO job; RELEASE job"),
        };
        if let Some(sql) = next
            && let Err(e) = execute(conn, sql).await
        {
            broken = Some(e);
        }
    }
    let end = match broken {
        Some(e) => Err(e),
        None if !any_ok => execute(conn, "ROLLBACK").await.map(|()| false),
        None => execute(conn, "COMMIT").await.map(|()| true),
    };
    match end {
        Ok(committed) => {
            if committed {
                counters.batches.fetch_add(1, Ordering::Relaxed);
                // Before anyone hears back, so a reader who acts on the answer sees the change.
                refresh_wall_version(conn, counters).await;
            }
            finishes.into_iter().for_each(|finish| finish(Ok(())));
        }
        Err(e) => {
            tracing::error!(error = ?e, "a write batch failed; its writes are rolled back");
            // Leave no half-open transaction behind for the next batch.
            let _ = execute(conn, "ROLLBACK").await;
            fail_all(finishes.into_iter(), &e);
        }
    }
}

/// The wall's version, kept by triggers: readers cache pages until it moves.
async fn refresh_wall_version(conn: &mut SqliteConnection, counters: &Counters) {
    match super::supporters::version(conn).await {
        Ok(v) => counters
            .wall_version
            .store(u64::try_from(v).unwrap_or(0), Ordering::Release),
        // Before the migrations ran there is no wall yet.
        Err(e) => tracing::debug!(error = ?e, "cannot read the wall's version"),
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

/// Runs one or more statements without parameters, in one round trip.
async fn execute(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ())
}

/// Tells every caller of a failed batch; each gets its own copy of the error.
fn fail_all(finishes: impl Iterator<Item = Finish>, error: &sqlx::Error) {
    for finish in finishes {
        finish(Err(copy(error)));
    }
}

fn copy(error: &sqlx::Error) -> sqlx::Error {
    match error {
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        other => sqlx::Error::Io(std::io::Error::other(other.to_string())),
    }
}
