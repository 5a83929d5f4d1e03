//! The `notifications` outbox: written with the change it reports, read by the sender.

use sqlx::{SqliteConnection, SqlitePool};

use crate::domain::{Channel, NoticeKind};

/// Queues one notification on every channel, due now. Called inside the transaction of the
/// change it reports, so the change and its notification commit (or not) together.
pub async fn enqueue(
    conn: &mut SqliteConnection,
    kind: NoticeKind,
    donation_id: Option<&str>,
    channels: &[Channel],
    now: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    for channel in channels {
        sqlx::query(
            "INSERT INTO notifications (id, channel, kind, donation_id, created_at, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )
        .bind(&id)
        .bind(channel.as_str())
        .bind(kind.as_str())
        .bind(donation_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct Notification {
    pub id: String,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    #[sqlx(try_from = "String")]
    pub kind: NoticeKind,
    pub donation_id: Option<String>,
    pub created_at: i64,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub sent_at: Option<i64>,
    pub failed_at: Option<i64>,
    pub last_error: Option<String>,
}

const COLUMNS: &str =
    "id, channel, kind, donation_id, created_at, attempts, next_attempt_at, sent_at, failed_at, last_error";

/// Up to `limit` notifications due at `now`, the longest waiting first.
pub async fn due(pool: &SqlitePool, now: i64, limit: u32) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notifications INDEXED BY notifications_due \
         WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1 \
         ORDER BY next_attempt_at LIMIT ?2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// When the next pending notification is due, if any.
pub async fn next_due_at(pool: &SqlitePool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT min(next_attempt_at) FROM notifications INDEXED BY notifications_due \
         WHERE sent_at IS NULL AND failed_at IS NULL",
    )
    .fetch_one(pool)
    .await
}

pub async fn mark_sent(conn: &mut SqliteConnection, n: &Notification, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET sent_at = ?3, attempts = attempts + 1, last_error = NULL \
         WHERE id = ?1 AND channel = ?2",
    )
    .bind(&n.id)
    .bind(n.channel.as_str())
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// A failed attempt: try again at `retry_at`, or give up (`None`) at `now`.
pub async fn mark_failed(
    conn: &mut SqliteConnection,
    n: &Notification,
    error: &str,
    retry_at: Option<i64>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE notifications SET attempts = attempts + 1, last_error = ?3, \
         next_attempt_at = coalesce(?4, next_attempt_at), failed_at = CASE WHEN ?4 IS NULL THEN ?5 END \
         WHERE id = ?1 AND channel = ?2",
    )
    .bind(&n.id)
    .bind(n.channel.as_str())
    .bind(error)
    .bind(retry_at)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// Queues a test notification on every channel (the admin's button).
pub async fn enqueue_test(
    conn: &mut SqliteConnection,
    channels: &[Channel],
    now: i64,
) -> Result<String, sqlx::Error> {
    enqueue(conn, NoticeKind::Test, None, channels, now).await
}

/// The newest notifications, for the admin.
pub async fn recent(pool: &SqlitePool, limit: u32) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM notifications ORDER BY created_at DESC, id, channel LIMIT ?1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Forgets settled (delivered or given-up) notifications created before `before`: the outbox is a
/// queue, not a log.
pub async fn prune(conn: &mut SqliteConnection, before: i64) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "DELETE FROM notifications WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < ?1",
    )
    .bind(before)
    .execute(conn)
    .await
    .map(|r| r.rows_affected())
}

/// What a notification says about its donation, read when it is sent (so an erasure in
/// between is respected).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NoticeDonation {
    pub id: String,
    pub coffees: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    pub status: String,
    pub visibility: String,
    pub name: Option<String>,
    pub message: Option<String>,
    pub held: bool,
    pub erased_at: Option<i64>,
    /// A monthly coffee's one month: coffees and amount (`None` for a one-time coffee).
    pub monthly_coffees: Option<i64>,
    pub expected_amount_cents: i64,
}

pub async fn donation(pool: &SqlitePool, id: &str) -> Result<Option<NoticeDonation>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, coffees, amount_cents, refunded_cents, currency, status, visibility, name, message, held, erased_at, \
         monthly_coffees, expected_amount_cents FROM donations WHERE id = ?1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
}
