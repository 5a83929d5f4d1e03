//! The `app_state` key-value table.

use sqlx::{SqliteConnection, SqlitePool};

pub async fn get(pool: &SqlitePool, key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT value FROM app_state WHERE key = ?1")
        .bind(key)
        .fetch_optional(pool)
        .await
}

/// The value under `key`, storing `candidate` first if there is none. Safe against a concurrent
/// first start: whoever inserts first wins and both read the same value.
pub async fn get_or_insert(
    conn: &mut SqliteConnection,
    key: &str,
    candidate: &str,
) -> Result<String, sqlx::Error> {
    sqlx::query("INSERT INTO app_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING")
        .bind(key)
        .bind(candidate)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("SELECT value FROM app_state WHERE key = ?1")
        .bind(key)
        .fetch_one(conn)
        .await
}

pub async fn set(conn: &mut SqliteConnection, key: &str, value: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO app_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await
        .map(|_| ())
}
