//! `kaffeekasse restore`: a backup put in place, checked, migrated and private; refused while the
//! database is in use or when the backup is damaged or from another version.

use std::path::{Path, PathBuf};

use sqlx::{ConnectOptions, Connection};

use crate::helpers::*;
use crate::privacy::manage_path;

/// A backup of `app`'s database in a directory of its own.
async fn backup_of(app: &TestApp) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nightly.db");
    kaffeekasse::storage::backup::backup(&app.settings.database.url, &file)
        .await
        .unwrap();
    (dir, file)
}

fn url_of(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn restore(file: &Path, database: &Path) -> std::process::Output {
    kaffeekasse(
        &["restore", &file.to_string_lossy()],
        &[("DATABASE_URL", &url_of(database))],
    )
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs SQL on a file directly (to damage or date a backup).
async fn execute(path: &Path, sql: &'static str) {
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// A database of this version at `path` holding one marker row, with no service on it.
async fn existing_database(path: &Path) -> Vec<u8> {
    let migrated = kaffeekasse(&["migrate"], &[("DATABASE_URL", &url_of(path))]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    execute(
        path,
        "INSERT INTO app_state (key, value) VALUES ('marker', 'the old database')",
    )
    .await;
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn a_restore_is_refused_while_the_service_has_the_database_open() {
    let app = spawn_app().await;
    app.donation("cs_live").paid().await;
    let (_dir, file) = backup_of(&app).await;
    app.donation("cs_after").paid().await;
    let database = PathBuf::from(app.settings.database.url.trim_start_matches("sqlite://"));

    let output = restore(&file, &database);

    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("is in use"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(app.count("donations").await, 2, "the live database is untouched");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn the_service_does_not_open_a_database_while_it_is_being_restored() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");
    let held = kaffeekasse::storage::lock::exclusive(&database).unwrap();
    let settings = kaffeekasse::config::DatabaseSettings {
        url: url_of(&database),
        busy_timeout: std::time::Duration::from_secs(1),
        read_connections: 1,
        batch_max: 1,
        abandoned_retention: std::time::Duration::from_secs(86_400),
    };

    let refused = kaffeekasse::storage::connect(&settings).await.err().unwrap();
    let created_meanwhile = database.exists();
    drop(held);
    let opened = kaffeekasse::storage::connect(&settings).await;

    assert!(format!("{refused:#}").contains("being restored"), "{refused:#}");
    assert!(!created_meanwhile, "nothing was created meanwhile");
    assert!(opened.is_ok(), "the lock goes with the restore");
}

#[tokio::test]
async fn a_corrupt_backup_is_refused_and_the_database_is_left_as_it_was() {
    let app = spawn_app().await;
    for i in 0..30 {
        app.donation(&format!("cs_corrupt_{i}"))
            .public("Anna", "Danke!")
            .paid()
            .await;
    }
    let (backups, file) = backup_of(&app).await;
    let mut bytes = std::fs::read(&file).unwrap();
    assert!(bytes.len() > 4 * 4096, "the backup has pages to damage");
    // Pages after the first (the schema): the file still opens, its B-trees do not add up.
    let end = bytes.len() - 100;
    for b in &mut bytes[4096 + 100..end] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    std::fs::write(&file, &bytes).unwrap();
    let garbage = backups.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all, just some words").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");
    let before = existing_database(&database).await;
    let files_before = names(dir.path());

    let damaged = restore(&file, &database);
    let not_sqlite = restore(&garbage, &database);

    for output in [&damaged, &not_sqlite] {
        assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
        assert!(
            text(&output.stderr).contains("refusing")
                || text(&output.stderr).contains("integrity")
                || text(&output.stderr).contains("not a"),
            "{}",
            text(&output.stderr)
        );
    }
    assert_eq!(
        std::fs::read(&database).unwrap(),
        before,
        "the database is untouched"
    );
    assert_eq!(names(dir.path()), files_before, "no partial file is left behind");
}

#[tokio::test]
async fn a_backup_from_a_newer_version_or_with_changed_migrations_is_refused() {
    let app = spawn_app().await;
    app.donation("cs_newer").paid().await;
    let (backups, newer) = backup_of(&app).await;
    let changed = backups.path().join("changed.db");
    std::fs::copy(&newer, &changed).unwrap();
    execute(
        &newer,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101, 'from the future', 1, x'00', 0)",
    )
    .await;
    execute(
        &changed,
        "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");
    let before = existing_database(&database).await;

    let from_the_future = restore(&newer, &database);
    let other_build = restore(&changed, &database);

    assert_eq!(from_the_future.status.code(), Some(1));
    assert!(
        text(&from_the_future.stderr).contains("newer Kaffeekasse"),
        "{}",
        text(&from_the_future.stderr)
    );
    assert_eq!(other_build.status.code(), Some(1));
    assert!(
        text(&other_build.stderr).contains("migration 1 differs"),
        "{}",
        text(&other_build.stderr)
    );
    assert_eq!(
        std::fs::read(&database).unwrap(),
        before,
        "the database is untouched"
    );
}

#[tokio::test]
async fn a_good_backup_is_restored_private_intact_and_served_with_its_manage_links() {
    let app = spawn_app().await;
    app.donation("cs_good_1")
        .public("Anna", "Danke!")
        .coffees(3)
        .paid()
        .await;
    app.donation("cs_good_2").paid().await;
    let manage = manage_path(&app, "cs_good_1").await;
    let stats = app.get("/api/stats").await.text().await.unwrap();
    let (_backups, file) = backup_of(&app).await;
    let backup_bytes = std::fs::read(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");
    existing_database(&database).await;

    let output = restore(&file, &database);

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("2 donations, 2 events"),
        "{}",
        text(&output.stdout)
    );
    assert!(
        text(&output.stdout).contains("reconcile --since"),
        "{}",
        text(&output.stdout)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&database), 0o600);
        assert_eq!(mode(&dir.path().join("kasse.db.lock")), 0o600);
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        backup_bytes,
        "the backup is left as it was"
    );
    assert_eq!(
        names(dir.path()),
        ["kasse.db", "kasse.db.lock"],
        "no partial file is left behind"
    );
    let restored = spawn_app_with(&[("DATABASE_URL", &url_of(&database))]).await;
    assert_eq!(restored.count("donations").await, 2);
    assert_eq!(restored.row("cs_good_1").await.unwrap().status, "paid");
    let marker: Option<String> = sqlx::query_scalar("SELECT value FROM app_state WHERE key = 'marker'")
        .fetch_optional(&restored.pool)
        .await
        .unwrap();
    assert_eq!(marker, None, "the old database is gone");
    assert_eq!(restored.get("/api/stats").await.text().await.unwrap(), stats);
    assert_eq!(
        restored.get(&manage).await.status(),
        200,
        "the signing secret came back with the backup"
    );
}

#[tokio::test]
async fn the_old_databases_wal_is_removed_so_it_is_not_replayed_onto_the_restored_file() {
    let app = spawn_app().await;
    app.donation("cs_wal").paid().await;
    let (_backups, file) = backup_of(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");
    existing_database(&database).await;
    // A WAL with commits the old database file lacks, as a crashed service leaves it.
    let wal = dir.path().join("kasse.db-wal");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&database)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .pragma("wal_autocheckpoint", "0")
        .connect()
        .await
        .unwrap();
    for i in 0..50 {
        sqlx::query("INSERT INTO app_state (key, value) VALUES (?1, 'stale')")
            .bind(format!("stale_{i}"))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let stale = std::fs::read(&wal).unwrap();
    conn.close().await.unwrap();
    std::fs::write(&wal, &stale).unwrap();
    assert!(stale.len() > 32, "the stale WAL holds frames");

    let output = restore(&file, &database);

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!wal.exists(), "the old WAL is gone");
    assert!(!dir.path().join("kasse.db-shm").exists());
    let mut conn = kaffeekasse::storage::backup::open_read_only(&database)
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let stale_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM app_state WHERE value = 'stale'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let donations: i64 = sqlx::query_scalar("SELECT count(*) FROM donations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!((integrity.as_str(), stale_rows, donations), ("ok", 0, 1));
}

#[tokio::test]
async fn a_backup_from_an_older_version_is_migrated_to_this_one() {
    // A database made by the migrations before the newest one, as the last release left it.
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let older = tempfile::tempdir().unwrap();
    let mut files: Vec<_> = std::fs::read_dir(&source)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let newest = files.pop().unwrap();
    for f in &files {
        std::fs::copy(f, older.path().join(f.file_name().unwrap())).unwrap();
    }
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("old.db");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(older.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");

    let output = restore(&file, &database);

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("1 migration(s) applied"),
        "{}",
        text(&output.stdout)
    );
    let mut conn = kaffeekasse::storage::backup::open_read_only(&database)
        .await
        .unwrap();
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        versions as usize,
        files.len() + 1,
        "{} was applied",
        newest.display()
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_restored_file_and_its_lock_belong_to_the_old_databases_owner() {
    use std::os::unix::fs::MetadataExt;
    let app = spawn_app().await;
    app.donation("cs_owner").paid().await;
    let (_backups, file) = backup_of(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("kasse.db");
    existing_database(&database).await;
    std::fs::remove_file(dir.path().join("kasse.db.lock")).unwrap();
    // As the service's own user: root gives the database to another one, as systemd's
    // DynamicUser does. Without root there is nobody else to give it to.
    if std::os::unix::fs::chown(&database, Some(4242), Some(4242)).is_err() {
        eprintln!("skipped: changing a file's owner needs root");
        return;
    }

    let output = restore(&file, &database);

    assert!(output.status.success(), "{}", text(&output.stderr));
    let owner = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.uid(), m.gid())
    };
    assert_eq!(owner(&database), (4242, 4242));
    assert_eq!(owner(&dir.path().join("kasse.db.lock")), (4242, 4242));
}
