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

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedMutexGuard};

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

/// A write transaction. It holds this process's writer slot for the database as well as SQLite's
/// write lock, so concurrent writers queue in order here instead of polling SQLite's busy
/// handler, whose growing sleeps put seconds on the tail latency of a burst of webhooks.
pub struct Tx {
    inner: Transaction<'static, Sqlite>,
    _writer: OwnedMutexGuard<()>,
    db: Arc<DbSlot>,
}

impl Tx {
    /// Commits, then bumps the database's write version (see [`write_version`]).
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.inner.commit().await?;
        self.db.version.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Tx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.inner
    }
}

/// Per database file in this process: the writer slot and a count of committed writes.
#[derive(Default)]
struct DbSlot {
    writer: Arc<Mutex<()>>,
    version: AtomicU64,
}

fn db_slot(pool: &SqlitePool) -> Arc<DbSlot> {
    static SLOTS: LazyLock<std::sync::Mutex<HashMap<PathBuf, Arc<DbSlot>>>> = LazyLock::new(Default::default);
    let file = pool.connect_options().get_filename().to_path_buf();
    let mut slots = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
    Arc::clone(slots.entry(file).or_default())
}

/// Changes whenever a write transaction of this process commits: readers may cache until then.
pub fn write_version(pool: &SqlitePool) -> u64 {
    db_slot(pool).version.load(Ordering::Acquire)
}

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

/// Starts a write transaction holding SQLite's write lock from the first statement. Waiting for
/// the writer slot is bounded like waiting for a connection, so an outage still fails fast.
pub async fn begin_write(pool: &SqlitePool) -> Result<Tx, sqlx::Error> {
    let wait = pool.options().get_acquire_timeout();
    let db = db_slot(pool);
    let writer = tokio::time::timeout(wait, Arc::clone(&db.writer).lock_owned())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?;
    let inner = pool.begin_with("BEGIN IMMEDIATE").await?;
    Ok(Tx {
        inner,
        _writer: writer,
        db,
    })
}

/// Whether the database answers a trivial query (for `/readyz`).
pub async fn ping(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
