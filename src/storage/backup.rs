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

/// Writes a snapshot of the database at `url` to `to`, which must not exist yet (it is created
/// with mode 0600, so the copy is as private as the original), and checks the copy.
pub async fn backup(url: &str, to: &Path) -> anyhow::Result<BackupReport> {
    // Not `create_if_missing`: a mistyped DATABASE_URL must not back up a new empty database.
    let source = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?;
    let mut conn = source
        .connect()
        .await
        .with_context(|| format!("cannot open the database at {url}"))?;
    create_private(to)?;
    let written = sqlx::query("VACUUM INTO ?1")
        .bind(to.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await;
    conn.close().await.ok();
    if let Err(e) = written {
        // Leave nothing half-written behind under a name that looks like a backup.
        std::fs::remove_file(to).ok();
        return Err(e).context("writing the snapshot");
    }
    check(to).await
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

/// Opens the copy read-only, checks its integrity and counts what it holds.
async fn check(path: &Path) -> anyhow::Result<BackupReport> {
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
