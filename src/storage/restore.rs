//! `kaffeekasse restore <file>`: puts a backup in place of the database.
//!
//! The backup is checked where it lies (read-only): its integrity, and that its applied
//! migrations are this binary's, in order, with the same checksums (a backup from a newer
//! version, or from a build whose migrations differ, is refused). Then it is copied to a hidden
//! private file beside the database, migrated to this version, checked again, synced, and
//! renamed over the database. The old database's `-wal`, `-shm` and `-journal` go first:
//! SQLite would otherwise replay the old WAL onto the restored file. The database path never
//! holds a half-written file: it is the old database until the rename, the restored one after.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use super::backup::{self, BackupReport};
use super::files::{Owner, copy_private, make_private, open_no_link, remove_if_there, sibling};
use super::lock;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// What was put in place, read back from the restored file before the rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub database: PathBuf,
    pub counts: BackupReport,
    /// Migrations of this version the backup did not have yet, applied to the restored copy.
    pub migrated: usize,
    /// When the newest event in the backup was received (Unix seconds): reconcile from there.
    pub newest_event: Option<i64>,
}

/// Replaces the database at `url` with the backup `from`, which is left as it is.
///
/// Refuses while any process has the database open (see [`lock`]), and refuses a backup that
/// fails its integrity check or whose migrations are not a prefix of this binary's.
pub async fn restore(url: &str, from: &Path) -> anyhow::Result<RestoreReport> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("DATABASE_URL {url:?} is not a SQLite URL"))?;
    let database = options.get_filename();
    anyhow::ensure!(
        !database.as_os_str().is_empty() && database.to_str() != Some(":memory:"),
        "DATABASE_URL {url:?} names no database file to restore into"
    );
    let database =
        std::path::absolute(database).with_context(|| format!("cannot resolve {}", database.display()))?;
    let from = std::path::absolute(from).with_context(|| format!("cannot resolve {}", from.display()))?;
    let held = lock::exclusive(&database)?;
    let owner = Owner::of(&database);
    // Root restoring for a service user: the service must be able to open the lock file.
    owner.give(held.file()).ok();
    refuse_odd_sources(&from, &database)?;
    let pending = inspect(&from).await?;

    let name = database
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("the database's path must be valid UTF-8: {}", database.display()))?;
    let partial = database.with_file_name(format!(".{name}.restore-{}", crate::random::token()));
    let done = async {
        copy_private(&from, &partial)?;
        migrate(&partial).await?;
        let counts = backup::check(&partial).await?;
        let newest_event = newest_event(&partial).await?;
        let copy = open_no_link(&partial)?;
        copy.sync_all().context("syncing the restored copy to disk")?;
        make_private(&copy)?;
        owner.give(&copy)?;
        drop(copy);
        put_in_place(&partial, &database)?;
        Ok(RestoreReport {
            database: database.clone(),
            counts,
            migrated: pending,
            newest_event,
        })
    }
    .await;
    if done.is_err() {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            std::fs::remove_file(sibling(&partial, suffix)).ok();
        }
    }
    done
}

fn refuse_odd_sources(from: &Path, database: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    anyhow::ensure!(meta.is_file(), "{} is not a file", from.display());
    if let (Ok(a), Ok(b)) = (from.canonicalize(), database.canonicalize()) {
        anyhow::ensure!(a != b, "{} is the database itself, not a backup", from.display());
    }
    // A live database's WAL holds commits the main file lacks: copying the file alone loses them.
    let wal = sibling(from, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        anyhow::bail!(
            "{} has a WAL beside it ({}): it is a database in use, not a backup; \
             make one with `kaffeekasse backup`",
            from.display(),
            wal.display()
        );
    }
    Ok(())
}

/// Checks the backup read-only: integrity, then its migrations against this binary's.
/// Answers how many of this binary's migrations it still needs.
async fn inspect(from: &Path) -> anyhow::Result<usize> {
    let mut conn = backup::open_read_only(from)
        .await
        .with_context(|| format!("cannot open {} as a SQLite database", from.display()))?;
    let checked = async {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("{} is not a readable SQLite database", from.display()))?;
        anyhow::ensure!(
            integrity == "ok",
            "{} failed its integrity check: {integrity}",
            from.display()
        );
        let applied: Vec<(i64, Vec<u8>, bool)> =
            sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await
                .with_context(|| {
                    format!(
                        "{} has no migrations table: not a Kaffeekasse database",
                        from.display()
                    )
                })?;
        let embedded: Vec<(i64, &[u8])> = MIGRATOR
            .iter()
            .filter(|m| m.migration_type.is_up_migration())
            .map(|m| (m.version, m.checksum.as_ref()))
            .collect();
        pending_migrations(&applied, &embedded).with_context(|| format!("refusing {}", from.display()))
    }
    .await;
    conn.close().await.ok();
    checked
}

/// How many of `embedded` (this binary's migrations, in order) are still to be applied after
/// `applied` (the backup's, by version), which must be a prefix of them, checksum for checksum.
pub fn pending_migrations(
    applied: &[(i64, Vec<u8>, bool)],
    embedded: &[(i64, &[u8])],
) -> anyhow::Result<usize> {
    for (i, (version, checksum, success)) in applied.iter().enumerate() {
        anyhow::ensure!(
            *success,
            "its migration {version} did not complete (the database was left mid-migration)"
        );
        match embedded.iter().position(|(v, _)| v == version) {
            None => anyhow::bail!(
                "it was made by a newer Kaffeekasse: its migration {version} is unknown to this \
                 version; restore it with the version that made it"
            ),
            Some(at) if at != i => anyhow::bail!(
                "its migrations skip some of this version's (migration {version} without {})",
                embedded[i].0
            ),
            Some(at) if embedded[at].1 != checksum.as_slice() => {
                anyhow::bail!("its migration {version} differs from this version's (another build's schema)")
            }
            Some(_) => {}
        }
    }
    Ok(embedded.len() - applied.len())
}

/// Brings the copy to this version's schema, on a rollback journal: no `-wal` beside it when it
/// is renamed (the service turns WAL back on when it opens the database).
async fn migrate(copy: &Path) -> anyhow::Result<()> {
    let mut conn = SqliteConnectOptions::new()
        .filename(copy)
        .journal_mode(SqliteJournalMode::Delete)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .connect()
        .await
        .context("opening the copy to migrate it")?;
    let migrated = MIGRATOR
        .run(&mut conn)
        .await
        .context("migrating the restored copy");
    conn.close().await.context("closing the migrated copy")?;
    migrated
}

async fn newest_event(copy: &Path) -> anyhow::Result<Option<i64>> {
    let mut conn = backup::open_read_only(copy).await.context("opening the copy")?;
    let newest = sqlx::query_scalar("SELECT max(received_at) FROM stripe_events")
        .fetch_one(&mut conn)
        .await
        .context("reading the newest event's time")?;
    conn.close().await.ok();
    Ok(newest)
}

/// Renames `copy` over `database` once the old database's journal files are out of the way.
/// The old WAL is moved aside rather than deleted until the rename has happened, so a failed
/// rename leaves the old database whole.
fn put_in_place(copy: &Path, database: &Path) -> anyhow::Result<()> {
    let wal = sibling(database, "-wal");
    let aside = sibling(copy, ".old-wal");
    let moved = match std::fs::rename(&wal, &aside) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot move {} aside", wal.display()))),
    };
    let renamed = remove_if_there(&sibling(database, "-shm"))
        .and_then(|()| remove_if_there(&sibling(database, "-journal")))
        .and_then(|()| {
            std::fs::rename(copy, database)
                .with_context(|| format!("cannot rename the restored copy to {}", database.display()))
        });
    if let Err(e) = renamed {
        if moved {
            std::fs::rename(&aside, &wal).ok();
        }
        return Err(e);
    }
    if moved {
        std::fs::remove_file(&aside).ok();
    }
    if let Some(dir) = database.parent() {
        // The rename is durable once its directory is.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMBEDDED: [(i64, &[u8]); 3] = [(1, b"a"), (2, b"b"), (3, b"c")];

    fn applied(rows: &[(i64, &[u8])]) -> Vec<(i64, Vec<u8>, bool)> {
        rows.iter().map(|(v, c)| (*v, c.to_vec(), true)).collect()
    }

    #[test]
    fn a_prefix_of_this_versions_migrations_needs_the_rest() {
        assert_eq!(pending_migrations(&applied(&EMBEDDED), &EMBEDDED).unwrap(), 0);
        assert_eq!(
            pending_migrations(&applied(&EMBEDDED[..1]), &EMBEDDED).unwrap(),
            2
        );
        assert_eq!(pending_migrations(&[], &EMBEDDED).unwrap(), 3);
    }

    #[test]
    fn newer_skipped_changed_or_unfinished_migrations_are_refused() {
        let newer = applied(&[(1, b"a"), (2, b"b"), (3, b"c"), (4, b"d")]);
        let skipped = applied(&[(1, b"a"), (3, b"c")]);
        let changed = applied(&[(1, b"a"), (2, b"X")]);
        let mut unfinished = applied(&[(1, b"a")]);
        unfinished[0].2 = false;

        let why =
            |rows: &[(i64, Vec<u8>, bool)]| pending_migrations(rows, &EMBEDDED).unwrap_err().to_string();

        assert!(why(&newer).contains("newer Kaffeekasse"), "{}", why(&newer));
        assert!(why(&skipped).contains("skip"), "{}", why(&skipped));
        assert!(why(&changed).contains("differs"), "{}", why(&changed));
        assert!(
            why(&unfinished).contains("did not complete"),
            "{}",
            why(&unfinished)
        );
    }
}
