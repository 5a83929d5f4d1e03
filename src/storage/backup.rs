//! `kaffeekasse backup <file>`: a consistent copy of a live database.
//!
//! Copying the file of a WAL database while it is written can give a copy that misses the WAL's
//! commits or is torn. `VACUUM INTO` reads one snapshot in a read transaction (the service keeps
//! writing meanwhile) and writes it out as a fresh, compact database.

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

/// What the copy holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub donations: i64,
    pub events: i64,
    pub notifications: i64,
    /// The wall's maintained totals in the copy: supporters, coffees, cents.
    pub wall: (i64, i64, i64),
}

/// Writes a snapshot of the database at `url` to `to`, which must not exist yet, and checks it.
///
/// The copy is written to a hidden file beside `to` (created with mode 0600, so the copy is as
/// private as the original), synced to disk, checked, and only then linked to its name, which
/// fails if anything appeared there meanwhile. Whatever goes wrong, nothing half-written is
/// left under a name that looks like a backup.
pub async fn backup(url: &str, to: &Path) -> anyhow::Result<BackupReport> {
    // Absolute, and UTF-8: SQLite takes the name as text, and would read a relative
    // `file:…` name as a URI and write somewhere else.
    let to = std::path::absolute(to).with_context(|| format!("cannot resolve {}", to.display()))?;
    let name = to
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|_| to.to_str().is_some())
        .ok_or_else(|| anyhow::anyhow!("the backup's path must be valid UTF-8: {}", to.display()))?;
    if to.exists() {
        anyhow::bail!(
            "{} already exists; a backup never overwrites a file",
            to.display()
        );
    }
    let partial = to.with_file_name(format!(".{name}.partial-{}", crate::random::token()));
    create_private(&partial)?;
    let made = async {
        snapshot(url, &partial).await?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .context("syncing the snapshot to disk")?;
        check(&partial).await
    }
    .await;
    let published = made.and_then(|report| {
        std::fs::hard_link(&partial, &to).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow::anyhow!(
                    "{} already exists; a backup never overwrites a file",
                    to.display()
                )
            }
            _ => anyhow::Error::new(e).context(format!("cannot create {}", to.display())),
        })?;
        Ok(report)
    });
    std::fs::remove_file(&partial).ok();
    let report = published?;
    if let Some(dir) = to.parent() {
        // The new name is durable once its directory is.
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    Ok(report)
}

async fn snapshot(url: &str, into: &Path) -> anyhow::Result<()> {
    // Not `create_if_missing`: a mistyped DATABASE_URL must not back up a new empty database.
    let source = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?;
    // Held like any user of the database, so a restore cannot replace it under the snapshot.
    let _in_use = super::lock::shared(source.get_filename())?;
    let mut conn = source
        .connect()
        .await
        .with_context(|| format!("cannot open the database at {url}"))?;
    let into = into
        .to_str()
        .context("the backup's path must be valid UTF-8")?
        .to_owned();
    let written = sqlx::query("VACUUM INTO ?1").bind(into).execute(&mut conn).await;
    conn.close().await.ok();
    written.map(drop).context("writing the snapshot")
}

/// Creates `to` empty with mode 0600, refusing to replace anything (`VACUUM INTO` accepts an
/// empty file and keeps its mode).
fn create_private(to: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(to).map(drop).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!(
                "{} already exists; a backup never overwrites a file",
                to.display()
            )
        }
        _ => anyhow::Error::new(e).context(format!("cannot create {}", to.display())),
    })
}

/// Opens the copy read-only, checks its integrity and counts what it holds (a restore's too).
pub(crate) async fn check(path: &Path) -> anyhow::Result<BackupReport> {
    let mut conn = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
        .context("opening the snapshot")?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    anyhow::ensure!(
        integrity == "ok",
        "the snapshot failed its integrity check: {integrity}"
    );
    let report = BackupReport {
        donations: sqlx::query_scalar("SELECT count(*) FROM donations")
            .fetch_one(&mut conn)
            .await?,
        events: sqlx::query_scalar("SELECT count(*) FROM stripe_events")
            .fetch_one(&mut conn)
            .await?,
        // A database from before the outbox (backed up by a newer binary before it migrated).
        notifications: match sqlx::query_scalar("SELECT count(*) FROM notifications")
            .fetch_one(&mut conn)
            .await
        {
            Ok(n) => n,
            Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => 0,
            Err(e) => return Err(e.into()),
        },
        wall: sqlx::query_as("SELECT supporters, coffees, amount_cents FROM wall_totals WHERE id = 1")
            .fetch_optional(&mut conn)
            .await?
            .unwrap_or_default(),
    };
    conn.close().await.ok();
    Ok(report)
}

/// Opens a copy for a test or a restore drill (read-only).
pub async fn open_read_only(path: &Path) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .connect()
        .await
}
