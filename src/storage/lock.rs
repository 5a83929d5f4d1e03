//! The lock file beside the database (`<db>.lock`): who has the database open.
//!
//! Every process that opens the database through [`super::connect`] (the service, `reconcile`,
//! `replay`, `migrate`, `admin`) holds a shared advisory lock on it for as long as its `Db`
//! lives; `kaffeekasse restore` takes it exclusively, without waiting, and refuses if it cannot.
//! SQLite's own locks cannot answer "is anyone using this file": an idle service holds none of
//! them between transactions. The kernel drops the lock when the process ends, even on
//! `kill -9`, so a crash never leaves a stale lock behind (unlike a PID file).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// `<db>.lock`, beside the database file.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Held while the database is open; the lock goes with the last clone.
#[derive(Debug)]
pub struct DatabaseLock {
    file: File,
}

impl DatabaseLock {
    /// The open lock file, for changes that must reach this file and no other (its owner).
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// A shared lock for a process that uses the database. Fails if a restore is replacing it.
pub fn shared(database: &Path) -> anyhow::Result<DatabaseLock> {
    let file = open(database)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(DatabaseLock { file }),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "{} is being restored (`kaffeekasse restore` holds {}); start again once it is done",
            database.display(),
            lock_path(database).display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", lock_path(database).display())))
        }
    }
}

/// The exclusive lock a restore needs: nobody else has the database open.
pub fn exclusive(database: &Path) -> anyhow::Result<DatabaseLock> {
    let file = open(database)?;
    match file.try_lock() {
        Ok(()) => Ok(DatabaseLock { file }),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "{} is in use (another process holds {}): stop the service (and any \
             `kaffeekasse reconcile` or `replay`) before restoring",
            database.display(),
            lock_path(database).display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", lock_path(database).display())))
        }
    }
}

/// Opens (or creates, private) the lock file. It stays empty; only the lock on it matters, and a
/// read-only descriptor can hold it, so a lock file created by another user who may write here
/// (root running `restore`) does not lock the service out, as long as it can read it.
///
/// Never through a symbolic link: whoever may write the directory (the service's user) could
/// otherwise point the lock at any file, whose owner a restore run as root would then change.
fn open(database: &Path) -> anyhow::Result<File> {
    let path = lock_path(database);
    let mut read = std::fs::OpenOptions::new();
    read.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut read, libc::O_NOFOLLOW);
    match read.open(&path) {
        Ok(file) => return Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("cannot open the lock file {}", path.display()))
            );
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    }
    options
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}
