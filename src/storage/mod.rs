//! Every SQL statement lives in this module, one file per table or concern.
//!
//! SQLite runs in WAL mode with `synchronous=FULL`, so a committed transaction is on disk before
//! we acknowledge a webhook. Writes use `BEGIN IMMEDIATE`, which takes the write lock up front,
//! and go through [`Db::write`].

pub mod admin;
pub mod donations;
pub mod events;
pub mod sessions;
pub mod state;
pub mod supporters;

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::Mutex;

use crate::config::DatabaseSettings;

/// The future a write job returns: it borrows the write connection for its lifetime.
pub type JobFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// The database: a pool for reads, and [`Db::write`], the one way to change anything.
///
/// Writes run one at a time, in arrival order, each in a `BEGIN IMMEDIATE` transaction that
/// commits only if the job succeeds. Queueing here rather than on SQLite's busy handler keeps the
/// tail latency of a burst of webhooks low (the busy handler's growing sleeps put seconds on it).
#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
    writer: Arc<Writer>,
}

#[derive(Default)]
struct Writer {
    /// Held for the length of one write transaction.
    slot: Mutex<()>,
    /// Committed write transactions so far: readers may cache until it changes.
    version: AtomicU64,
}

impl Db {
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Changes whenever a write transaction of this process commits.
    pub fn write_version(&self) -> u64 {
        self.writer.version.load(Ordering::Acquire)
    }

    /// Runs `job` in a write transaction: committed if it returns `Ok`, rolled back otherwise.
    /// Waiting for the writer is bounded like waiting for a connection, so an outage fails fast.
    /// The job must own what it uses (`'static`): a write may be carried out by another task.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
    {
        let wait = self.pool.options().get_acquire_timeout();
        let _slot = tokio::time::timeout(wait, self.writer.slot.lock())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        match job(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                self.writer.version.fetch_add(1, Ordering::Release);
                Ok(value)
            }
            Err(e) => {
                tx.rollback().await?;
                Err(e)
            }
        }
    }

    /// Copies the WAL into the database file and truncates it, after the writes before it, so
    /// that text an erasure overwrote is gone from every file of the database.
    pub async fn checkpoint(&self) -> Result<(), sqlx::Error> {
        let wait = self.pool.options().get_acquire_timeout();
        let _slot = tokio::time::timeout(wait, self.writer.slot.lock())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .context("running database migrations")
    }

    /// Waits for open work, then closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Opens the database. `busy_timeout` is how long a writer waits for the lock (another
/// process's) before the request fails with a retryable error.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Db> {
    let url = &settings.url;
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?;
    private_files(options.get_filename())?;
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(settings.busy_timeout);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(settings.busy_timeout.max(std::time::Duration::from_secs(1)))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the database at {url}"))?;
    Ok(Db {
        pool,
        writer: Arc::default(),
    })
}

/// The database holds donors' names, payment ids and the generated signing secret: only its
/// owner may read it. SQLite gives the `-wal` and `-shm` files the mode of the database file, so
/// the file is created (or narrowed) to 0600 before SQLite opens it.
fn private_files(path: &std::path::Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") {
            return Ok(());
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create the database file {}", path.display()))?;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {} private", file.display()))?;
            }
        }
    }
    Ok(())
}

/// Whether the database answers a trivial query (for `/readyz`).
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db.pool()).await.map(|_| ())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
