//! The `cancellations` table: every declaration (§ 312k BGB), stored before Stripe is asked and
//! worked off until done.

use sqlx::{SqliteConnection, SqlitePool};

use super::subscriptions::MonthlyRow;
use crate::domain::{CancelKind, CancelSource};

/// A declaration as it is stored, and read back for the confirmation and the worker.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CancellationRow {
    pub id: String,
    pub created_at: i64,
    #[sqlx(try_from = "String")]
    pub source: CancelSource,
    pub email: Option<String>,
    pub email_hash: Option<String>,
    pub name: Option<String>,
    #[sqlx(try_from = "String")]
    pub kind: CancelKind,
    pub reason: Option<String>,
    /// `now` or `period_end`.
    pub timing: String,
    pub lang: String,
    pub donation_id: Option<String>,
    /// `pending` or `done`.
    pub state: String,
    /// Bumped after a Stripe 5xx: the next try goes out under a fresh idempotency key.
    pub attempt: i64,
    pub tries: i64,
    pub next_attempt_at: i64,
    pub done_at: Option<i64>,
    /// How many running monthly coffees it ended.
    pub cancelled: i64,
    pub mailed_at: Option<i64>,
    pub last_error: Option<String>,
}

impl CancellationRow {
    pub fn is_done(&self) -> bool {
        self.state == "done"
    }
}

const COLUMNS: &str = "id, created_at, source, email, email_hash, name, kind, reason, timing, lang, donation_id, \
    state, attempt, tries, next_attempt_at, done_at, cancelled, mailed_at, last_error";

/// Stores a new declaration, due at once.
pub async fn insert(conn: &mut SqliteConnection, c: &CancellationRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cancellations (id, created_at, source, email, email_hash, name, kind, reason, timing, lang, \
         donation_id, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?2)",
    )
    .bind(&c.id)
    .bind(c.created_at)
    .bind(c.source.as_str())
    .bind(&c.email)
    .bind(&c.email_hash)
    .bind(&c.name)
    .bind(c.kind.as_str())
    .bind(&c.reason)
    .bind(&c.timing)
    .bind(&c.lang)
    .bind(&c.donation_id)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn find(pool: &SqlitePool, id: &str) -> Result<Option<CancellationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cancellations WHERE id = ?1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Pending declarations whose next try is due, oldest first.
pub async fn due(pool: &SqlitePool, now: i64, limit: i64) -> Result<Vec<CancellationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cancellations INDEXED BY cancellations_due \
         WHERE state = 'pending' AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The monthly coffees a declaration ends: its donation's (manage link, erasure), or every one
/// whose checkout e-mail address has its hash (`/kuendigen`), that has not ended yet.
pub async fn targets(pool: &SqlitePool, c: &CancellationRow) -> Result<Vec<MonthlyRow>, sqlx::Error> {
    match (&c.donation_id, &c.email_hash) {
        (Some(id), _) => Ok(super::subscriptions::find_by_id(pool, id)
            .await?
            .into_iter()
            .filter(|row| row.ended_at.is_none())
            .collect()),
        (None, Some(hash)) => super::subscriptions::running_with_email(pool, hash).await,
        (None, None) => Ok(Vec::new()),
    }
}

/// Everything the declaration asked for is done.
pub async fn done(
    conn: &mut SqliteConnection,
    id: &str,
    cancelled: i64,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cancellations SET state = 'done', done_at = ?3, cancelled = cancelled + ?2, last_error = NULL \
         WHERE id = ?1",
    )
    .bind(id)
    .bind(cancelled)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// Not yet: tried again at `next`, under a new idempotency key if `fresh_key` (after a 5xx).
pub async fn retry(
    conn: &mut SqliteConnection,
    id: &str,
    next: i64,
    fresh_key: bool,
    cancelled: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cancellations SET tries = tries + 1, attempt = attempt + ?3, next_attempt_at = ?2, \
         cancelled = cancelled + ?4, last_error = ?5 WHERE id = ?1",
    )
    .bind(id)
    .bind(next)
    .bind(i64::from(fresh_key))
    .bind(cancelled)
    .bind(error)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn mailed(conn: &mut SqliteConnection, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE cancellations SET mailed_at = ?2 WHERE id = ?1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
}

/// An erasure: the supporter's declarations go with their entry (by donation, or by the
/// e-mail address's hash it had). One still being worked off keeps what it needs to finish,
/// nothing that names anyone.
pub async fn erase_for(
    conn: &mut SqliteConnection,
    donation_id: &str,
    email_hash: Option<&str>,
) -> Result<(), sqlx::Error> {
    const MINE: &str = "(donation_id = ?1 OR (?2 IS NOT NULL AND email_hash = ?2))";
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM cancellations WHERE state = 'done' AND {MINE}"
    )))
    .bind(donation_id)
    .bind(email_hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE cancellations SET email = NULL, name = NULL, reason = NULL WHERE {MINE}"
    )))
    .bind(donation_id)
    .bind(email_hash)
    .execute(conn)
    .await
    .map(drop)
}

/// Declarations done before `before` are deleted (the retention pass), at most `limit` at once.
pub async fn prune(conn: &mut SqliteConnection, before: i64, limit: i64) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM cancellations WHERE id IN (SELECT id FROM cancellations INDEXED BY cancellations_created \
         WHERE created_at < ?1 AND state = 'done' LIMIT ?2)",
    )
    .bind(before)
    .bind(limit)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// The newest declarations, for the admin.
pub async fn recent(pool: &SqlitePool, limit: i64) -> Result<Vec<CancellationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cancellations ORDER BY created_at DESC LIMIT ?1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}
