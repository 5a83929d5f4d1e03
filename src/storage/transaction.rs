//! One batch of queued writes in one `BEGIN IMMEDIATE` transaction, committed once: with
//! `synchronous=FULL` one fsync for the batch, and every caller answered only after the commit.
//!
//! The batch is cut into units in queue order: each ordinary write is a unit, and staged writes
//! queued one after another form one unit together (`group.rs`). A unit runs in a savepoint when
//! others share the transaction, so a unit that fails is rolled back alone; a unit alone needs
//! none, since rolling back the transaction does the same. A group whose statement failed is
//! rolled back and its writes run the ordinary way, each a unit of its own.
//!
//! Every control statement is prepared once and cached (`sqlx::query`, not `raw_sql`), and the
//! end of one unit goes to SQLite's thread together with the start of the next.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::SqliteConnection;

use super::group::{self, Ended, Member};
use super::job::{Finish, Job, Run, fail_all};

/// What the writer reports to readers.
#[derive(Default)]
pub(super) struct Counters {
    /// `wall_totals.version` as of the last commit: what the wall shows.
    pub wall_version: AtomicU64,
    /// Committed batches.
    pub batches: AtomicU64,
    /// Staged writes decided in memory and written by a batch's statements.
    pub batched: AtomicU64,
    /// Staged writes carried out the ordinary way because a batch statement failed.
    pub fell_back: AtomicU64,
}

enum Unit {
    /// A write carried out the ordinary way.
    One(Run),
    /// Staged writes, decided together.
    Group(Vec<Member>),
}

/// Runs and commits one batch, then answers its callers.
pub(super) async fn commit(conn: &mut SqliteConnection, batch: Vec<Job>, counters: &Counters) {
    let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
    let mut units: VecDeque<Unit> = VecDeque::new();
    for job in batch {
        finishes.push(job.finish);
        match (job.staged, units.back_mut()) {
            (Some(s), Some(Unit::Group(members))) => members.push(member(s, job.run)),
            (Some(s), _) => units.push_back(Unit::Group(vec![member(s, job.run)])),
            (None, _) => units.push_back(Unit::One(job.run)),
        }
    }
    match run(conn, units, counters).await {
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

fn member(staged: super::job::Staged, run: Run) -> Member {
    Member {
        wants: staged.wants,
        decide: staged.decide,
        run,
    }
}

/// Runs the units and ends the transaction: whether it committed (or, with nothing that
/// succeeded, rolled back).
async fn run(
    conn: &mut SqliteConnection,
    mut units: VecDeque<Unit>,
    counters: &Counters,
) -> Result<bool, sqlx::Error> {
    let mut pending = Pending::Begin;
    // Whether a unit's writes stand, so that what follows must not roll them back.
    let mut kept = false;
    while let Some(unit) = units.pop_front() {
        let guarded = kept || !units.is_empty();
        if let Some(sql) = pending.start(guarded) {
            execute(conn, sql).await?;
        }
        let ok = match unit {
            Unit::One(run) => {
                let ok = run(conn).await;
                kept |= ok;
                ok
            }
            Unit::Group(members) => match group::run(conn, members).await {
                Ended::Done { wrote, decided } => {
                    counters.batched.fetch_add(decided, Ordering::Relaxed);
                    kept |= wrote;
                    true
                }
                Ended::Split {
                    wrote,
                    decided,
                    alone,
                    rest,
                } => {
                    counters.batched.fetch_add(decided, Ordering::Relaxed);
                    kept |= wrote;
                    if !rest.is_empty() {
                        units.push_front(Unit::Group(rest));
                    }
                    units.push_front(Unit::One(alone));
                    true
                }
                Ended::Failed { error, runs } => {
                    tracing::warn!(error = ?error, writes = runs.len(),
                        "a batch statement failed; its writes are carried out one by one");
                    counters.fell_back.fetch_add(runs.len() as u64, Ordering::Relaxed);
                    runs.into_iter()
                        .rev()
                        .for_each(|r| units.push_front(Unit::One(r)));
                    if !guarded {
                        // Nothing else shares the transaction: start it again.
                        execute(conn, "ROLLBACK").await?;
                        pending = Pending::Begin;
                        continue;
                    }
                    false
                }
            },
        };
        pending = match (guarded, ok) {
            (false, _) => Pending::Nothing,
            (true, true) => Pending::Release,
            (true, false) => Pending::Undo,
        };
    }
    let committed = kept && !matches!(pending, Pending::Begin);
    if let Some(sql) = pending.finish(committed) {
        execute(conn, sql).await?;
    }
    Ok(committed)
}

/// The control statement owed before the next one: the transaction's start, or the end of the
/// last unit's savepoint.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Begin,
    Nothing,
    Release,
    Undo,
}

impl Pending {
    /// What to send before a unit (`guarded`: in a savepoint of its own).
    fn start(self, guarded: bool) -> Option<&'static str> {
        Some(match (self, guarded) {
            (Pending::Begin, false) => "BEGIN IMMEDIATE",
            (Pending::Begin, true) => "BEGIN IMMEDIATE; SAVEPOINT unit",
            (Pending::Nothing, false) => return None,
            (Pending::Nothing, true) => "SAVEPOINT unit",
            (Pending::Release, false) => "RELEASE unit",
            (Pending::Release, true) => "RELEASE unit; SAVEPOINT unit",
            (Pending::Undo, false) => "ROLLBACK TO unit; RELEASE unit",
            (Pending::Undo, true) => "ROLLBACK TO unit; RELEASE unit; SAVEPOINT unit",
        })
    }

    /// What ends the transaction: a commit if anything is kept, else a rollback; nothing if
    /// none was begun.
    fn finish(self, commit: bool) -> Option<&'static str> {
        Some(match (self, commit) {
            (Pending::Begin, _) => return None,
            (_, false) => "ROLLBACK",
            (Pending::Nothing, true) => "COMMIT",
            (Pending::Release, true) => "RELEASE unit; COMMIT",
            (Pending::Undo, true) => "ROLLBACK TO unit; RELEASE unit; COMMIT",
        })
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

/// Runs one or more statements without parameters, in one round trip, as a prepared statement
/// that sqlx caches by its text: parsed once per connection, not once per batch.
pub(super) async fn execute(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}
