//! Staged writes queued one after another, carried out together: one read of every row they
//! refer to, their decisions in memory in queue order, then a few multi-row statements.
//! No savepoint per write: a decision that fails (a duplicate event) leaves nothing in the
//! workspace, and a failed statement sends the whole group the ordinary way instead.

use sqlx::SqliteConnection;

use super::batch_sql;
use super::job::{Decide, Run};
use super::workspace::{Decided, Wants};

/// One staged write of a group.
pub(super) struct Member {
    pub wants: Wants,
    pub decide: Decide,
    pub run: Run,
}

/// How a group ended.
pub(super) enum Ended {
    /// Every member (`decided` of them) was decided and written; `wrote`: there was something
    /// to write.
    Done { wrote: bool, decided: u64 },
    /// The members before `alone` were decided and written; `alone` asked to be written the
    /// ordinary way, then the members after it (`rest`) as a group of their own, read afresh.
    Split {
        wrote: bool,
        decided: u64,
        alone: Run,
        rest: Vec<Member>,
    },
    /// A statement failed, so nothing the group wrote may stand: each member, in order, is to be
    /// written the ordinary way, so that a bad one fails alone.
    Failed { error: sqlx::Error, runs: Vec<Run> },
}

/// Reads, decides and writes `members` (inside the caller's transaction, or, with `begin`, one
/// the read begins).
pub(super) async fn run(conn: &mut SqliteConnection, members: Vec<Member>, begin: bool) -> Ended {
    let wants: Vec<&Wants> = members.iter().map(|m| &m.wants).collect();
    let mut workspace = match batch_sql::read(conn, &wants, begin).await {
        Ok(workspace) => workspace,
        Err(error) => {
            let runs = members.into_iter().map(|m| m.run).collect();
            return Ended::Failed { error, runs };
        }
    };
    let mut decided = Vec::with_capacity(members.len());
    let mut alone = None;
    let mut members = members.into_iter();
    for member in members.by_ref() {
        match (member.decide)(&mut workspace) {
            Decided::Done(_) => decided.push(member.run),
            Decided::Alone => {
                alone = Some(member.run);
                break;
            }
        }
    }
    let rest: Vec<Member> = members.collect();
    let wrote = !workspace.is_empty();
    if wrote && let Err(error) = batch_sql::write(conn, &workspace).await {
        let runs = decided
            .into_iter()
            .chain(alone)
            .chain(rest.into_iter().map(|m| m.run))
            .collect();
        return Ended::Failed { error, runs };
    }
    let decided = decided.len() as u64;
    match alone {
        None => Ended::Done { wrote, decided },
        Some(alone) => Ended::Split {
            wrote,
            decided,
            alone,
            rest,
        },
    }
}
