//! Every SQL statement lives in this module, one file per table or concern.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction is on disk before
//! we acknowledge a webhook. Writes use `BEGIN IMMEDIATE`, which takes the write lock up front:
//! concurrent writers queue on the busy timeout instead of failing mid-transaction on upgrade.

pub mod admin;
pub mod donations;
pub mod events;
pub mod state;
pub mod supporters;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

pub type Tx = Transaction<'static, Sqlite>;

/// Opens the pool. `busy_timeout` is how long a writer waits for the lock before the request
/// fails with a retryable error.
pub async fn connect(database_url: &str, busy_timeout: Duration) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("DATABASE_URL {database_url:?} is not a SQLite URL"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(busy_timeout);
    SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(busy_timeout.max(Duration::from_secs(1)))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database at {database_url}"))
}

pub async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(pool)
        .await
        .context("running database migrations")
}

/// Starts a write transaction holding SQLite's write lock from the first statement.
pub async fn begin_write(pool: &SqlitePool) -> Result<Tx, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// Whether the database answers a trivial query (for `/readyz`).
pub async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
