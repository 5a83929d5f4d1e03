//! The `stripe_events` ledger.

use sqlx::{SqliteConnection, SqlitePool};

use crate::domain::privacy;

/// What became of a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Applied,
    Ignored,
    /// Belongs to a donation we cannot find yet.
    Deferred,
    /// Its object could not be read.
    Failed,
}

crate::domain::word_enum!(EventStatus { Applied => "applied", Ignored => "ignored", Deferred => "deferred", Failed => "failed" });

/// A verified event's envelope and raw payload, as the ledger stores it.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub created: i64,
    pub livemode: bool,
    pub api_version: Option<&'a str>,
    pub payload: &'a str,
}

/// What the ledger records about an event's outcome: status, reason, donation.
pub type Recorded<'a> = (EventStatus, Option<&'a str>, Option<&'a str>);

/// Inserts an event with its outcome, parameters numbered from `?{first}`, only `when` the
/// condition holds, returning a row if it was new.
pub(super) fn insert_sql(first: usize, when: &str) -> String {
    let p: Vec<String> = (first..first + 10).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO stripe_events (id, type, created, livemode, api_version, received_at, status, error, \
         donation_id, payload) SELECT {} WHERE {when} ON CONFLICT (id) DO NOTHING RETURNING 1",
        p.join(", ")
    )
}

pub(super) fn bind_insert<'q>(
    q: super::donations::Q<'q>,
    event: &NewEvent<'q>,
    outcome: Recorded<'q>,
    now: i64,
) -> super::donations::Q<'q> {
    let (status, error, donation_id) = outcome;
    q.bind(event.id)
        .bind(event.kind)
        .bind(event.created)
        .bind(event.livemode)
        .bind(event.api_version)
        .bind(now)
        .bind(status.as_str())
        .bind(error)
        .bind(donation_id)
        .bind(event.payload)
}

/// Records a new event with its outcome, once it has been applied: one write of the row (a
/// later update would rewrite the whole payload). Returns `false`, writing nothing, if the
/// ledger already holds the event: the caller then undoes what applying it did.
pub async fn insert(
    conn: &mut SqliteConnection,
    event: &NewEvent<'_>,
    outcome: Recorded<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| insert_sql(1, "true"));
    bind_insert(sqlx::query(SQL.as_str()), event, outcome, now)
        .fetch_optional(conn)
        .await
        .map(|row| row.is_some())
}

pub async fn set_outcome(
    conn: &mut SqliteConnection,
    id: &str,
    status: EventStatus,
    error: Option<&str>,
    donation_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE stripe_events SET status = ?2, error = ?3, donation_id = COALESCE(?4, donation_id) WHERE id = ?1")
        .bind(id)
        .bind(status.as_str())
        .bind(error)
        .bind(donation_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Rewrites a stored payload as erasure leaves it (`domain::privacy::redact_for_erasure`).
pub async fn redact_for_erasure(conn: &mut SqliteConnection, id: &str) -> Result<(), sqlx::Error> {
    let Some(payload) = payload(conn, id).await? else {
        return Ok(());
    };
    // A payload that is not JSON cannot be redacted field by field: it goes entirely.
    let redacted = match serde_json::from_str::<serde_json::Value>(&payload) {
        Ok(mut json) => {
            crate::domain::privacy::redact_for_erasure(&mut json);
            json.to_string()
        }
        Err(_) => "{}".to_owned(),
    };
    sqlx::query("UPDATE stripe_events SET payload = ?2 WHERE id = ?1")
        .bind(id)
        .bind(redacted)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The stored raw payload of one event.
pub async fn payload(conn: &mut SqliteConnection, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT payload FROM stripe_events WHERE id = ?1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// How long an event may wait for its donation. Stripe creates the objects of one payment within
/// minutes; an event still unmatched after a week belongs to something else on the account.
pub const DEFER_FOR_SECS: i64 = 7 * 86_400;

/// Settles up to `limit` events deferred for longer than [`DEFER_FOR_SECS`] as ignored, so the
/// retry list cannot grow without bound; they belong to something else on the account (a shop's
/// refund, a dispute with its evidence), so only their envelope is kept, as for any event we do
/// not act on: no erasure could find a payer in a row that names no donation. Says whether more
/// may have expired than this call settled (ask again).
pub async fn expire_deferred(conn: &mut SqliteConnection, limit: i64, now: i64) -> Result<bool, sqlx::Error> {
    let expired: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, payload FROM stripe_events WHERE status = 'deferred' AND received_at < ?1 LIMIT ?2",
    )
    .bind(now - DEFER_FOR_SECS)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let more_expired = i64::try_from(expired.len()).is_ok_and(|n| n >= limit);
    for (id, payload) in expired {
        sqlx::query(
            "UPDATE stripe_events SET status = 'ignored', error = 'no matching donation within 7 days', \
             payload = ?2 WHERE id = ?1",
        )
        .bind(&id)
        .bind(privacy::rewritten(&payload, privacy::keep_envelope))
        .execute(&mut *conn)
        .await?;
        super::deferred::forget(conn, &id).await?;
    }
    Ok(more_expired)
}

/// Deferred events, oldest first, after [`expire_deferred`] settled up to `limit` expired
/// ones. The flag says whether more may have expired than this call settled (ask again).
pub async fn deferred(
    conn: &mut SqliteConnection,
    limit: i64,
    now: i64,
) -> Result<(Vec<(String, String)>, bool), sqlx::Error> {
    let more_expired = expire_deferred(conn, limit, now).await?;
    let waiting = sqlx::query_as(
        "SELECT id, payload FROM stripe_events WHERE status = 'deferred' AND received_at >= ?2 \
         ORDER BY created, id LIMIT ?1",
    )
    .bind(limit)
    .bind(now - DEFER_FOR_SECS)
    .fetch_all(conn)
    .await?;
    Ok((waiting, more_expired))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    #[sqlx(try_from = "String")]
    pub status: EventStatus,
    pub error: Option<String>,
    pub donation_id: Option<String>,
}

pub async fn find(pool: &SqlitePool, id: &str) -> Result<Option<EventRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, type, status, error, donation_id FROM stripe_events WHERE id = ?1")
        .bind(id)
        .fetch_optional(pool)
        .await
}
