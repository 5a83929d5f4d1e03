//! The database handle: a pool for reads, and [`Db::write`], the one way to change anything.

use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::announce::{Announced, Announcement};
pub use super::job::JobFuture;
use super::job::{self, Command, Job};
use super::lock::{self, DatabaseLock};
use super::transaction::Counters;
use super::workspace::{Decided, Wants, Workspace};
use super::writer;
use crate::config::DatabaseSettings;

/// Writes wait here when the writer is busy; beyond this many, callers wait to enqueue.
const QUEUE: usize = 1024;

/// Prepared statements the write connection keeps: every statement the writer runs, so none is
/// parsed again (sqlx's default keeps 100, and evicts the least recently used).
const WRITER_STATEMENTS: usize = 256;

#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
    writer: mpsc::Sender<Command>,
    /// The wall's version (`wall_totals.version`) as of this process's last commit, which
    /// readers may cache wall pages until it changes; committed batches and staged writes, for
    /// the tests and the metrics.
    counters: Arc<Counters>,
    /// Writes announced by requests that are still preparing them.
    announced: Arc<Announced>,
    /// The writer task, until `Application` takes it to supervise.
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
    /// The shared lock on `<db>.lock` that tells `kaffeekasse restore` the database is in use.
    _lock: Option<Arc<DatabaseLock>>,
}

impl Db {
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Changes whenever a write of this process changed what the wall shows.
    pub fn wall_version(&self) -> u64 {
        self.counters.wall_version.load(Ordering::Acquire)
    }

    /// How many write batches this process has committed.
    pub fn committed_batches(&self) -> u64 {
        self.counters.batches.load(Ordering::Relaxed)
    }

    /// What became of this process's staged writes ([`Db::write_staged`]) so far.
    pub fn staged_writes(&self) -> StagedWrites {
        StagedWrites {
            batched: self.counters.batched.load(Ordering::Relaxed),
            fell_back: self.counters.fell_back.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` in a write transaction and answers once it is durably committed (or not).
    ///
    /// The writer task takes whatever jobs are queued, up to `WEBHOOK_BATCH_MAX`, runs each in
    /// its own savepoint (when it shares the transaction) and commits them together: one fsync
    /// for the batch. A job that returns `Err` is rolled back alone and gets its error; the others
    /// commit. A failed commit fails every job of its batch. The job must own what it uses
    /// (`'static`): it runs on the writer.
    pub async fn write<T, E, F>(&self, job: F) -> Result<T, E>
    where
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::new(job, tx), rx, None).await
    }

    /// Like [`Db::write`], for a write that can also be decided in memory together with others
    /// like it: staged writes queued one after another are read with one query (every row their
    /// `wants` name), decided in queue order by `decide` against the rows in a [`Workspace`], and
    /// written with a few multi-row statements, without a savepoint each. `decide` must leave
    /// the workspace as it found it when it answers `Err`. The writer falls back to `job` (the
    /// ordinary way, in a savepoint of its own) when a batch statement fails, and when `decide`
    /// answers [`Decided::Alone`]; and always without `wants` (a write no batch can decide).
    /// `announced`, the write's announcement, is withdrawn once the write is queued.
    pub async fn write_staged<T, E, D, F>(
        &self,
        wants: Option<Wants>,
        decide: D,
        job: F,
        announced: Option<Announcement>,
    ) -> Result<T, E>
    where
        D: FnOnce(&mut Workspace) -> Decided<Result<T, E>> + Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<sqlx::Error> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = match wants {
            Some(wants) => Job::staged(wants, decide, job, tx),
            None => Job::new(job, tx),
        };
        self.submit(job, rx, announced).await
    }

    /// Announces a write that a request is about to prepare (a webhook, as it arrives): until
    /// the announcement is queued with its write or dropped, the writer waits for it, briefly,
    /// before it commits a batch smaller than it may be. So webhooks that arrive together are
    /// committed together.
    pub fn announce_write(&self) -> Announcement {
        self.announced.announce()
    }

    async fn submit<T, E>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, E>>,
        announced: Option<Announcement>,
    ) -> Result<T, E>
    where
        E: From<sqlx::Error>,
    {
        let queued = self.writer.send(Command::Write(job)).await;
        drop(announced);
        queued.map_err(|_| job::gone())?;
        answer.await.map_err(|_| E::from(job::gone()))?
    }

    /// Copies the WAL into the database file and truncates it, after every write queued before,
    /// so that text an erasure overwrote is gone from every file of the database.
    /// Answers whether it completed; if a reader held it back, the writer retries it after each
    /// later write until it does.
    pub async fn checkpoint(&self) -> Result<bool, sqlx::Error> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(Command::Checkpoint(tx))
            .await
            .map_err(|_| job::gone())?;
        rx.await.map_err(|_| job::gone())?
    }

    /// The writer task, once: `Application` supervises it with its other tasks.
    pub fn take_writer_task(&self) -> Option<JoinHandle<()>> {
        self.task.lock().map_or(None, |mut t| t.take())
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .context("running database migrations")
    }

    /// Closes every connection; queued writes are finished first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// What became of the staged writes: decided in memory and written by a batch's statements, or
/// carried out the ordinary way because a batch statement failed. (A write its decision sent the
/// ordinary way, such as one deferred events wait for, counts as neither.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StagedWrites {
    pub batched: u64,
    pub fell_back: u64,
}

/// Opens the database: the read pool, and the write connection with its writer task.
/// `busy_timeout` is how long a write waits for another process's lock before it fails with a
/// retryable error.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Db> {
    let url = &settings.url;
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?;
    // Before the file is touched: a restore in progress must not find it opened (or created).
    let file = options.get_filename();
    let in_memory = file.as_os_str().is_empty() || file.to_str() == Some(":memory:");
    let held = match in_memory {
        true => None,
        false => Some(Arc::new(lock::shared(file)?)),
    };
    private_files(options.get_filename())?;
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // Deleted and overwritten text is zeroed, not left in free space: an erasure is final.
        .pragma("secure_delete", "ON")
        .busy_timeout(settings.busy_timeout);
    let pool = SqlitePoolOptions::new()
        .max_connections(settings.read_connections)
        .acquire_timeout(settings.busy_timeout.max(std::time::Duration::from_secs(1)))
        .connect_with(options.clone())
        .await
        .with_context(|| format!("cannot open the database at {url}"))?;
    let connection = options
        .statement_cache_capacity(WRITER_STATEMENTS)
        .connect()
        .await
        .with_context(|| format!("cannot open the database at {url} for writing"))?;
    let (counters, announced) = (Arc::new(Counters::default()), Arc::new(Announced::default()));
    let (sender, receiver) = mpsc::channel(QUEUE);
    let task = tokio::spawn(writer::run(
        connection,
        receiver,
        settings.batch_max,
        settings.busy_timeout,
        Arc::clone(&counters),
        Arc::clone(&announced),
    ));
    Ok(Db {
        pool,
        writer: sender,
        counters,
        announced,
        task: Arc::new(Mutex::new(Some(task))),
        _lock: held,
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
