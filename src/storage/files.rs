//! The file steps of a restore: private copies, the owner the service runs as, and the
//! journal files beside a database.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// `path` with `suffix` appended to its name (`db` → `db-wal`).
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies `from` to `to`, which is created new with mode 0600 (never world-readable, not for a
/// moment), and syncs it.
pub(super) fn copy_private(from: &Path, to: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut target = options
        .open(to)
        .with_context(|| format!("cannot create {}", to.display()))?;
    let mut source = std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    std::io::copy(&mut source, &mut target)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    target.sync_all().context("syncing the copy to disk")
}

/// Who the restored file must belong to: the old database's owner (the service's user; with
/// systemd's `DynamicUser` a number that only the state directory still shows), or, with no
/// old database, the directory's. A copy made by root would otherwise be unreadable to it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Owner {
    ids: Option<(u32, u32)>,
    /// Whether it came from the old database, where failing to match it is an error.
    known: bool,
}

impl Owner {
    pub(super) fn of(database: &Path) -> Owner {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ids = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.uid(), m.gid()));
            if let Some(ids) = ids(database) {
                return Owner {
                    ids: Some(ids),
                    known: true,
                };
            }
            let dir = database.parent().and_then(ids);
            Owner {
                ids: dir,
                known: false,
            }
        }
        #[cfg(not(unix))]
        Owner {
            ids: None,
            known: false,
        }
    }

    /// Gives the open `file` to the owner: through its handle, so a name swapped for a link in
    /// the meantime cannot redirect the change to another file.
    pub(super) fn give(self, file: &std::fs::File) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let Some((uid, gid)) = self.ids else {
                return Ok(());
            };
            let meta = file.metadata().context("cannot read the restored file")?;
            if (meta.uid(), meta.gid()) == (uid, gid) {
                return Ok(());
            }
            match std::os::unix::fs::fchown(file, Some(uid), Some(gid)) {
                Ok(()) => {}
                Err(e) if self.known => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "cannot give the restored copy to the old database's owner ({uid}:{gid}): \
                         run restore as that user or as root"
                    )));
                }
                Err(_) => {}
            }
        }
        Ok(())
    }
}

/// Opens `path` for the last steps on it (sync, mode, owner), refusing a symbolic link.
pub(super) fn open_no_link(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    options
        .open(path)
        .with_context(|| format!("cannot open {} (a symbolic link is refused)", path.display()))
}

pub(super) fn make_private(file: &std::fs::File) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .context("cannot make the restored file private")?;
    }
    Ok(())
}

pub(super) fn remove_if_there(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot remove {}", path.display()))),
    }
}
