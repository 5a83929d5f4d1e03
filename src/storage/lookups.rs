//! When we ask Stripe about a session ourselves: the thanks page's lookups (a budget per session)
//! and the sweeper's turns (the longest unasked first).

use sqlx::{SqliteConnection, SqlitePool};

use crate::domain::DonationStatus;

/// Whether a pending session may ask Stripe now: it has lookups left and the last was at least
/// `interval_secs` ago. A read, so refreshes in between write nothing.
pub async fn stripe_lookup_due(
    pool: &SqlitePool,
    session_id: &str,
    now: i64,
    max_lookups: i64,
    interval_secs: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(
        "SELECT stripe_lookups < ?3 AND (stripe_looked_at IS NULL OR stripe_looked_at <= ?2 - ?4) \
         FROM donations WHERE checkout_session_id = ?1 AND status = 'pending'",
    )
    .bind(session_id)
    .bind(now)
    .bind(max_lookups)
    .bind(interval_secs)
    .fetch_optional(pool)
    .await
    .map(|due| due.unwrap_or(false))
}

/// Takes one of a pending session's Stripe lookups, if it has any left and the last was at least
/// `interval_secs` ago. Atomic, so concurrent refreshes cannot both ask.
pub async fn claim_stripe_lookup(
    conn: &mut SqliteConnection,
    session_id: &str,
    now: i64,
    max_lookups: i64,
    interval_secs: i64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE donations SET stripe_lookups = stripe_lookups + 1, stripe_looked_at = ?2 \
         WHERE checkout_session_id = ?1 AND status = 'pending' AND stripe_lookups < ?3 \
         AND (stripe_looked_at IS NULL OR stripe_looked_at <= ?2 - ?4)",
    )
    .bind(session_id)
    .bind(now)
    .bind(max_lookups)
    .bind(interval_secs)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Stripe donations of the key's mode, pending or processing and created within `created`
/// (from, to), the longest unasked first (never asked counts from creation): their session ids
/// and current status.
pub async fn due_for_sweep(
    pool: &SqlitePool,
    created: (i64, i64),
    livemode: bool,
    limit: u32,
) -> Result<Vec<(String, DonationStatus)>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT checkout_session_id, status FROM donations \
         WHERE status IN ('pending', 'processing') AND provider IN ('stripe', 'payment_link') \
         AND created_at > ?1 AND created_at < ?2 AND livemode = ?3 AND checkout_session_id IS NOT NULL \
         ORDER BY COALESCE(stripe_looked_at, created_at), rowid LIMIT ?4",
    )
    .bind(created.0)
    .bind(created.1)
    .bind(livemode)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(id, status)| {
            DonationStatus::try_from(status)
                .map(|s| (id, s))
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .collect()
}

/// Notes that the sweeper asked Stripe about a session now, so the others get their turn.
pub async fn mark_swept(conn: &mut SqliteConnection, session_id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE donations SET stripe_looked_at = ?2 WHERE checkout_session_id = ?1")
        .bind(session_id)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ())
}
