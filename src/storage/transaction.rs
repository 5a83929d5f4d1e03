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

use super::group::{self, Member};
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
        Ok(Outcome::Committed(version)) => {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            // Before anyone hears back, so a reader who acts on the answer sees the change.
            match version {
                Some(v) => store_wall_version(counters, v),
                None => refresh_wall_version(conn, counters).await,
            }
            finishes.into_iter().for_each(|finish| finish(Ok(())));
        }
        Ok(Outcome::RolledBack) => finishes.into_iter().for_each(|finish| finish(Ok(()))),
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

/// How a transaction ended.
enum Outcome {
    /// With the wall's version where the commit read it (batches with staged writes).
    Committed(Option<i64>),
    /// Nothing succeeded, so nothing was kept.
    RolledBack,
}

/// Runs the units and ends the transaction.
async fn run(
    conn: &mut SqliteConnection,
    mut units: VecDeque<Unit>,
    counters: &Counters,
) -> Result<Outcome, sqlx::Error> {
    // Staged writes need the migrated schema, so the commit may read the wall's version too.
    let staged = units.iter().any(|u| matches!(u, Unit::Group(_)));
    let mut pending = Pending::Begin;
    // Whether a unit's writes stand, so that what follows must not roll them back.
    let mut kept = false;
    while let Some(unit) = units.pop_front() {
        let guarded = kept || !units.is_empty();
        // A group alone at the start begins the transaction with its read. Should `BEGIN` fail,
        // the rollback after the failed group fails too, and the batch with it.
        let begins = !guarded && matches!((&unit, pending), (Unit::Group(_), Pending::Begin));
        if let Some(sql) = pending.start(guarded).filter(|_| !begins) {
            execute(conn, sql).await?;
        }
        let ok = match unit {
            Unit::One(run) => {
                let ok = run(conn).await;
                kept |= ok;
                ok
            }
            Unit::Group(members) => match group::run(conn, members, begins).await {
                group::Ended::Done { wrote, decided } => {
                    counters.batched.fetch_add(decided, Ordering::Relaxed);
                    kept |= wrote;
                    true
                }
                group::Ended::Split {
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
                group::Ended::Failed { error, runs } => {
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
    if !kept {
        if let Some(sql) = pending.rollback() {
            execute(conn, sql).await?;
        }
        return Ok(Outcome::RolledBack);
    }
    let version = match staged {
        false => {
            execute(conn, pending.commit()).await?;
            None
        }
        true => sqlx::query_scalar(pending.commit_reading_version())
            // Every row, not the first only: that would stop before the commit.
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .next(),
    };
    Ok(Outcome::Committed(version))
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

    /// What rolls the transaction back; nothing if none was begun.
    fn rollback(self) -> Option<&'static str> {
        (!matches!(self, Pending::Begin)).then_some("ROLLBACK")
    }

    /// What commits the transaction (one was begun: something in it is kept).
    fn commit(self) -> &'static str {
        match self {
            Pending::Begin | Pending::Nothing => "COMMIT",
            Pending::Release => "RELEASE unit; COMMIT",
            Pending::Undo => "ROLLBACK TO unit; RELEASE unit; COMMIT",
        }
    }

    /// What commits, reading the wall's version inside the transaction first: the version the
    /// commit makes visible, without a round trip of its own.
    fn commit_reading_version(self) -> &'static str {
        match self {
            Pending::Begin | Pending::Nothing => "SELECT version FROM wall_totals WHERE id = 1; COMMIT",
            Pending::Release => "RELEASE unit; SELECT version FROM wall_totals WHERE id = 1; COMMIT",
            Pending::Undo => {
                "ROLLBACK TO unit; RELEASE unit; SELECT version FROM wall_totals WHERE id = 1; COMMIT"
            }
        }
    }
}

fn store_wall_version(counters: &Counters, version: i64) {
    let version = u64::try_from(version).unwrap_or(0);
    counters.wall_version.store(version, Ordering::Release);
}

/// The wall's version, kept by triggers: readers cache pages until it moves.
async fn refresh_wall_version(conn: &mut SqliteConnection, counters: &Counters) {
    match super::supporters::version(conn).await {
        Ok(v) => store_wall_version(counters, v),
        // Before the migrations ran there is no wall yet.
        Err(e) => tracing::debug!(error = ?e, "cannot read the wall's version"),
    }
}

/// Runs one or more statements without parameters, in one round trip, as a prepared statement
/// that sqlx caches by its text: parsed once per connection, not once per batch.
pub(super) async fn execute(conn: &mut SqliteConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}
