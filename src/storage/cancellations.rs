//! The `cancellations` table: every declaration (§ 312k BGB), stored before Stripe is asked and
//! worked off until done; and its confirmation e-mail, tracked apart from it.

use sqlx::{SqliteConnection, SqlitePool};

use super::subscriptions::MonthlyRow;
use crate::domain::{CancelKind, CancelSource, CancelWhen, DeclarationState};

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
    #[sqlx(try_from = "String")]
    pub timing: CancelWhen,
    pub lang: String,
    pub donation_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub state: DeclarationState,
    /// Bumped after a Stripe 5xx: the next try goes out under a fresh idempotency key.
    pub attempt: i64,
    pub tries: i64,
    pub next_attempt_at: i64,
    pub done_at: Option<i64>,
    /// How many running monthly coffees it ended.
    pub cancelled: i64,
    pub mailed_at: Option<i64>,
    /// When the confirmation e-mail is (next) to be sent; `None`: nothing to send.
    pub mail_due_at: Option<i64>,
    pub mail_tries: i64,
    pub mail_error: Option<String>,
    pub last_error: Option<String>,
}

impl CancellationRow {
    /// A new declaration, due at once.
    pub fn new(
        id: String,
        now: i64,
        source: CancelSource,
        timing: CancelWhen,
        lang: &str,
        donation_id: Option<String>,
    ) -> CancellationRow {
        CancellationRow {
            id,
            created_at: now,
            source,
            email: None,
            email_hash: None,
            name: None,
            kind: CancelKind::Ordinary,
            reason: None,
            timing,
            lang: lang.to_owned(),
            donation_id,
            state: DeclarationState::Pending,
            attempt: 0,
            tries: 0,
            next_attempt_at: now,
            done_at: None,
            cancelled: 0,
            mailed_at: None,
            mail_due_at: None,
            mail_tries: 0,
            mail_error: None,
            last_error: None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == DeclarationState::Done
    }
}

pub(super) const COLUMNS: &str = "id, created_at, source, email, email_hash, name, kind, reason, timing, lang, donation_id, \
    state, attempt, tries, next_attempt_at, done_at, cancelled, mailed_at, mail_due_at, mail_tries, mail_error, \
    last_error";

/// Stores a new declaration, due at once. `false` if one with its id exists (the same
/// declaration again: a double submit), which is then the one that stands.
pub async fn insert(conn: &mut SqliteConnection, c: &CancellationRow) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT INTO cancellations (id, created_at, source, email, email_hash, name, kind, reason, timing, lang, \
         donation_id, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?2) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&c.id)
    .bind(c.created_at)
    .bind(c.source.as_str())
    .bind(&c.email)
    .bind(&c.email_hash)
    .bind(&c.name)
    .bind(c.kind.as_str())
    .bind(&c.reason)
    .bind(c.timing.as_str())
    .bind(&c.lang)
    .bind(&c.donation_id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected() == 1)
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

/// Declarations whose confirmation e-mail is due, oldest first.
pub async fn mail_due(pool: &SqlitePool, now: i64, limit: i64) -> Result<Vec<CancellationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM cancellations INDEXED BY cancellations_mail_due \
         WHERE mail_due_at IS NOT NULL AND mail_due_at <= ?1 ORDER BY mail_due_at LIMIT ?2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Whether a declaration made through the manage link is still being carried out for
/// `donation_id` (a second one would only repeat it).
pub async fn pending_for(pool: &SqlitePool, donation_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM cancellations WHERE donation_id = ?1 AND state = 'pending')",
    )
    .bind(donation_id)
    .fetch_one(pool)
    .await
}

/// The monthly coffees a declaration ends: its donation's (manage link, erasure), or every one
/// seen with its e-mail address's hash (`/kuendigen`) that existed when it was made; running ones
/// only.
pub async fn targets(pool: &SqlitePool, c: &CancellationRow) -> Result<Vec<MonthlyRow>, sqlx::Error> {
    match (&c.donation_id, &c.email_hash) {
        (Some(id), _) => Ok(super::subscriptions::find_by_id(pool, id)
            .await?
            .into_iter()
            .filter(MonthlyRow::is_running)
            .collect()),
        (None, Some(hash)) => super::subscriptions::running_with_email(pool, hash, c.created_at).await,
        (None, None) => Ok(Vec::new()),
    }
}

/// What Stripe was asked is done; the confirmation e-mail, if one is to go, from `mail_at`.
pub async fn done(
    conn: &mut SqliteConnection,
    id: &str,
    cancelled: i64,
    mail_at: Option<i64>,
    note: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cancellations SET state = 'done', done_at = ?3, cancelled = cancelled + ?2, last_error = ?5, \
         mail_due_at = CASE WHEN mailed_at IS NULL AND mail_error IS NULL AND email IS NOT NULL \
         THEN COALESCE(mail_due_at, ?4) END WHERE id = ?1",
    )
    .bind(id)
    .bind(cancelled)
    .bind(now)
    .bind(mail_at)
    .bind(note)
    .execute(conn)
    .await
    .map(drop)
}

/// Not yet: tried again at `next`, under a new idempotency key if `fresh_key` (after a 5xx). A
/// confirmation e-mail may be due already (`mail_at`: something matched).
#[allow(clippy::too_many_arguments)]
pub async fn retry(
    conn: &mut SqliteConnection,
    id: &str,
    next: i64,
    fresh_key: bool,
    cancelled: i64,
    mail_at: Option<i64>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cancellations SET tries = tries + 1, attempt = attempt + ?3, next_attempt_at = ?2, \
         cancelled = cancelled + ?4, last_error = ?5, \
         mail_due_at = CASE WHEN mailed_at IS NULL AND mail_error IS NULL AND email IS NOT NULL \
         THEN COALESCE(mail_due_at, ?6) END WHERE id = ?1",
    )
    .bind(id)
    .bind(next)
    .bind(i64::from(fresh_key))
    .bind(cancelled)
    .bind(error)
    .bind(mail_at)
    .execute(conn)
    .await
    .map(drop)
}

/// The confirmation e-mail went out (`error` none), failed for good (`error`, `next` none), or
/// is tried again at `next`.
pub async fn mailed(
    conn: &mut SqliteConnection,
    id: &str,
    now: i64,
    next: Option<i64>,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE cancellations SET mailed_at = CASE WHEN ?4 IS NULL THEN ?2 END, mail_due_at = ?3, \
         mail_tries = mail_tries + 1, mail_error = CASE WHEN ?3 IS NULL THEN ?4 END WHERE id = ?1",
    )
    .bind(id)
    .bind(now)
    .bind(next)
    .bind(error)
    .execute(conn)
    .await
    .map(drop)
}

/// A monthly coffee was just seen with an address of `hash`: declarations by that address made
/// since it started that found nothing (its events were late) are carried out again.
pub async fn reopen_for(
    conn: &mut SqliteConnection,
    hash: &str,
    since: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE cancellations SET state = 'pending', next_attempt_at = ?3, done_at = NULL \
         WHERE email_hash = ?1 AND donation_id IS NULL AND state = 'done' AND cancelled = 0 AND created_at >= ?2",
    )
    .bind(hash)
    .bind(since)
    .bind(now)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// An erasure of donation `donation_id`: the declarations made for it go, and those made by an
/// address of `hashes` that no other entry was paid with. One still being carried out keeps
/// what it needs to finish, nothing that names anyone.
pub async fn erase_for(
    conn: &mut SqliteConnection,
    donation_id: &str,
    hashes: &[String],
) -> Result<(), sqlx::Error> {
    let mut mine = vec![("donation_id = ?1", donation_id.to_owned())];
    for hash in hashes {
        let shared: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM email_hashes WHERE hash = ?1)")
            .bind(hash)
            .fetch_one(&mut *conn)
            .await?;
        if !shared {
            mine.push(("donation_id IS NULL AND email_hash = ?1", hash.clone()));
        }
    }
    for (condition, value) in mine {
        // The conditions come from the fixed strings above, never from input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM cancellations WHERE state = 'done' AND {condition}"
        )))
        .bind(&value)
        .execute(&mut *conn)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE cancellations SET email = NULL, name = NULL, reason = NULL, mail_due_at = NULL WHERE {condition}"
        )))
        .bind(&value)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Declarations done before `before` are deleted (the retention pass), at most `limit` at once.
pub async fn prune(conn: &mut SqliteConnection, before: i64, limit: i64) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM cancellations WHERE id IN (SELECT id FROM cancellations INDEXED BY cancellations_created \
         WHERE created_at < ?1 AND state = 'done' AND mail_due_at IS NULL LIMIT ?2)",
    )
    .bind(before)
    .bind(limit)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}
