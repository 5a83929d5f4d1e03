//! What the operator watches: counts for `/metrics`, and the reconciliation's last outcome for
//! `/readyz` (kept in `app_state`, so a run of `kaffeekasse reconcile` counts too).

use sqlx::{SqliteConnection, SqlitePool};

use super::state;

const RECONCILE_OK_AT: &str = "reconcile.ok_at";
const RECONCILE_ERROR: &str = "reconcile.error";
const RECONCILE_ERROR_AT: &str = "reconcile.error_at";

/// Donations per status (a scan; only `/metrics` asks, behind its token).
pub async fn donations_by_status(pool: &SqlitePool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM donations GROUP BY status")
        .fetch_all(pool)
        .await
}

/// When the newest stored event arrived (for the webhook-age metric after a restart).
pub async fn last_event_received_at(pool: &SqlitePool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT received_at FROM stripe_events ORDER BY rowid DESC LIMIT 1")
        .fetch_optional(pool)
        .await
}

/// Notifications waiting to be sent, and those given up.
pub async fn outbox_counts(pool: &SqlitePool) -> Result<(i64, i64), sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(sent_at IS NULL AND failed_at IS NULL), 0), coalesce(sum(failed_at IS NOT NULL), 0) \
         FROM notifications",
    )
    .fetch_one(pool)
    .await
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileStatus {
    pub last_success_at: Option<i64>,
    /// What went wrong in the last run, if it failed (no secrets: a kind, not Stripe's text).
    pub error: Option<String>,
    pub error_at: Option<i64>,
}

pub async fn reconcile_status(pool: &SqlitePool) -> Result<ReconcileStatus, sqlx::Error> {
    let number = |v: Option<String>| v.and_then(|v| v.parse().ok());
    Ok(ReconcileStatus {
        last_success_at: number(state::get(pool, RECONCILE_OK_AT).await?),
        error: state::get(pool, RECONCILE_ERROR).await?,
        error_at: number(state::get(pool, RECONCILE_ERROR_AT).await?),
    })
}

/// Records a run's outcome: a success clears the last error.
pub async fn record_reconcile(
    conn: &mut SqliteConnection,
    now: i64,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    match error {
        None => {
            state::set(&mut *conn, RECONCILE_OK_AT, &now.to_string()).await?;
            sqlx::query("DELETE FROM app_state WHERE key IN (?1, ?2)")
                .bind(RECONCILE_ERROR)
                .bind(RECONCILE_ERROR_AT)
                .execute(conn)
                .await
                .map(drop)
        }
        Some(error) => {
            state::set(&mut *conn, RECONCILE_ERROR, error).await?;
            state::set(conn, RECONCILE_ERROR_AT, &now.to_string()).await
        }
    }
}
