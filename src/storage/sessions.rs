//! The `admin_sessions` table: browser sessions the server still honours.

use sqlx::{SqliteConnection, SqlitePool};

pub async fn insert(
    conn: &mut SqliteConnection,
    id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    // Expired sessions go whenever a new one starts, so the table stays small.
    sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= ?1")
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO admin_sessions (id, created_at, expires_at) VALUES (?1, ?2, ?3)")
        .bind(id)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Whether session `id` exists and has not expired.
pub async fn is_live(pool: &SqlitePool, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM admin_sessions WHERE id = ?1 AND expires_at > ?2")
        .bind(id)
        .bind(now)
        .fetch_one(pool)
        .await
        .map(|n| n > 0)
}

pub async fn delete(conn: &mut SqliteConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions WHERE id = ?1")
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Ends every session; returns how many there were.
pub async fn delete_all(conn: &mut SqliteConnection) -> Result<u64, sqlx::Error> {
    sqlx::query("DELETE FROM admin_sessions")
        .execute(conn)
        .await
        .map(|r| r.rows_affected())
}
