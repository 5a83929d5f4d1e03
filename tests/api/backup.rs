//! `kaffeekasse backup`: a consistent snapshot of a database that is being written.

use std::path::Path;

use crate::helpers::*;

/// Paid sessions and events in `path`, and whether the maintained wall totals match a recount.
async fn snapshot_facts(path: &Path) -> (i64, i64, bool) {
    let mut conn = kaffeekasse::storage::backup::open_read_only(path).await.unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let paid: i64 = sqlx::query_scalar("SELECT count(*) FROM donations WHERE status = 'paid'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM stripe_events WHERE status = 'applied'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let totals_match: bool = sqlx::query_scalar(
        "SELECT (SELECT supporters = (SELECT count(*) FROM donations WHERE status = 'paid' AND hidden = 0) \
         AND coffees = (SELECT coalesce(sum(coffees), 0) FROM donations WHERE status = 'paid' AND hidden = 0) \
         AND amount_cents = (SELECT coalesce(sum(amount_cents - refunded_cents), 0) FROM donations \
                             WHERE status = 'paid' AND hidden = 0) \
         FROM wall_totals WHERE id = 1)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    (paid, events, totals_match)
}

#[tokio::test]
async fn a_backup_taken_while_webhooks_are_written_is_consistent_private_and_never_overwrites() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_mine")]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nightly.db");
    let (url, target) = (
        app.settings.database.url.clone(),
        file.to_string_lossy().into_owned(),
    );
    let mut backup = None;
    // The backup starts after 40 webhooks, in another process, while the next 80 are written.
    for i in 0..120 {
        if i == 40 {
            let (url, target) = (url.clone(), target.clone());
            backup = Some(tokio::task::spawn_blocking(move || {
                kaffeekasse(
                    &["backup", &target],
                    &[("DATABASE_URL", &url), ("APP_ENV", "production")],
                )
            }));
        }
        let id = format!("cs_bk_{i}");
        app.deliver(
            &format!("evt_bk_{i}"),
            "checkout.session.completed",
            link_session(&id, "plink_mine"),
        )
        .await;
    }

    let output = backup.unwrap().await.unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let (paid, events, totals_match) = snapshot_facts(&file).await;
    // Each webhook wrote its donation and its event in one transaction: a torn copy would
    // hold one without the other, or totals that disagree with the rows.
    assert!(
        paid >= 40,
        "everything committed before the backup started is in it"
    );
    assert_eq!(paid, events);
    assert!(totals_match, "the wall totals in the copy match its rows");
    assert!(
        text(&output.stdout).contains(&format!("{paid} donations, {events} events")),
        "{}",
        text(&output.stdout)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let before = std::fs::read(&file).unwrap();
    let url = app.settings.database.url.as_str();
    let again = kaffeekasse(&["backup", &file.to_string_lossy()], &[("DATABASE_URL", url)]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the old backup is untouched"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("nightly.db")],
        "no partial file is left behind"
    );
}

#[tokio::test]
async fn odd_names_are_written_where_asked_and_a_failed_backup_leaves_nothing() {
    let app = spawn_app().await;
    app.donation("cs_odd").paid().await;
    let dir = tempfile::tempdir().unwrap();
    let url = app.settings.database.url.as_str();
    // A name SQLite would read as a URI if it were relative.
    let odd = dir.path().join("file:odd.db");

    let report = kaffeekasse::storage::backup::backup(url, &odd).await.unwrap();
    let missing_dir = kaffeekasse::storage::backup::backup(url, &dir.path().join("no/such/dir/x.db")).await;

    assert_eq!((report.donations, report.events), (1, 1));
    assert!(odd.exists());
    assert!(missing_dir.is_err());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("file:odd.db")]);
}

#[tokio::test]
async fn a_backup_of_a_missing_database_fails_without_creating_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("typo.db").display());
    let target = dir.path().join("copy.db");

    let output = kaffeekasse(&["backup", &target.to_string_lossy()], &[("DATABASE_URL", &url)]);

    assert_eq!(output.status.code(), Some(1));
    assert!(
        !dir.path().join("typo.db").exists(),
        "no empty database was created"
    );
    assert!(!target.exists());
}
