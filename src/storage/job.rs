//! One caller's write as the writer task holds it: the ordinary way to carry it out (a closure
//! over the write connection), for a webhook event also the batched way (a decision in memory,
//! see `workspace.rs`), and how to answer the caller once the batch is committed.

use std::sync::{Arc, Mutex};

use sqlx::SqliteConnection;
use tokio::sync::oneshot;

use super::workspace::{Decided, Wants, Workspace};

/// The future a write job returns: it borrows the write connection for its lifetime.
pub type JobFuture<'c, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'c>>;

/// Carries the write out on the connection; says whether it succeeded.
pub(super) type Run = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, bool> + Send>;
/// Decides the write in memory against the batch's rows; `Done` says whether it succeeded.
pub(super) type Decide = Box<dyn FnOnce(&mut Workspace) -> Decided<bool> + Send>;
/// Answers the caller with the job's own result once the batch is committed, or with the
/// commit's error.
pub(super) type Finish = Box<dyn FnOnce(Result<(), sqlx::Error>) + Send>;

/// What the writer is asked to do.
pub(super) enum Command {
    Write(Job),
    /// `PRAGMA wal_checkpoint(TRUNCATE)`, between batches.
    /// Answers whether it completed (readers may hold it back; it is then retried).
    Checkpoint(oneshot::Sender<Result<bool, sqlx::Error>>),
}

/// The batched way of a write: what it reads, and its decision.
pub(super) struct Staged {
    pub wants: Wants,
    pub decide: Decide,
}

pub(super) struct Job {
    pub run: Run,
    pub staged: Option<Staged>,
    pub finish: Finish,
}

/// Where a job's result waits for the commit. Whichever way ran last filled it.
type Slot<T, E> = Arc<Mutex<Option<Result<T, E>>>>;

fn fill<T, E>(slot: &Slot<T, E>, result: Result<T, E>) -> bool {
    let ok = result.is_ok();
    *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    ok
}

impl Job {
    pub(super) fn new<T, E, F>(job: F, reply: oneshot::Sender<Result<T, E>>) -> Job
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
    {
        let slot: Slot<T, E> = Arc::default();
        Job {
            run: run(job, Arc::clone(&slot)),
            staged: None,
            finish: finish(slot, reply),
        }
    }

    /// A job the writer may decide together with others like it (`decide`), and otherwise runs
    /// the ordinary way (`job`): when a batch statement fails, or `decide` asks for it.
    pub(super) fn staged<T, E, D, F>(
        wants: Wants,
        decide: D,
        job: F,
        reply: oneshot::Sender<Result<T, E>>,
    ) -> Job
    where
        D: FnOnce(&mut Workspace) -> Decided<Result<T, E>> + Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
    {
        let slot: Slot<T, E> = Arc::default();
        let decided = Arc::clone(&slot);
        let decide: Decide = Box::new(move |workspace| match decide(workspace) {
            Decided::Done(result) => Decided::Done(fill(&decided, result)),
            Decided::Alone => Decided::Alone,
        });
        Job {
            run: run(job, Arc::clone(&slot)),
            staged: Some(Staged { wants, decide }),
            finish: finish(slot, reply),
        }
    }
}

fn run<T, E, F>(job: F, slot: Slot<T, E>) -> Run
where
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    Box::new(move |conn| Box::pin(async move { fill(&slot, job(conn).await) }))
}

fn finish<T, E>(slot: Slot<T, E>, reply: oneshot::Sender<Result<T, E>>) -> Finish
where
    T: Send + 'static,
    E: From<sqlx::Error> + Send + 'static,
{
    Box::new(move |committed| {
        let result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let answer = match (committed, result) {
            (Ok(()), Some(result)) => result,
            (Err(e), _) => Err(E::from(e)),
            (Ok(()), None) => Err(E::from(gone())),
        };
        // The caller may have given up (a timed-out request); the write stands anyway.
        let _ = reply.send(answer);
    })
}

/// The error for a write that never ran because the writer is gone.
pub(super) fn gone() -> sqlx::Error {
    sqlx::Error::WorkerCrashed
}

/// Tells every caller of a failed batch; each gets its own copy of the error.
pub(super) fn fail_all(finishes: impl Iterator<Item = Finish>, error: &sqlx::Error) {
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
