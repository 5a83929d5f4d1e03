//! The binary's commands: migrate, replay, reconcile, healthcheck, and configuration errors.

use crate::helpers::*;

#[tokio::test]
async fn migrate_creates_the_schema_and_bad_configuration_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fresh.db").display());

    let migrated = kaffeekasse(&["migrate"], &[("DATABASE_URL", &url)]);
    let bad = kaffeekasse(&["migrate"], &[("DATABASE_URL", &url), ("MAX_COFFEES", "lots")]);
    let unknown = kaffeekasse(&["frobnicate"], &[("DATABASE_URL", &url)]);
    let publishable = kaffeekasse(
        &["migrate"],
        &[("DATABASE_URL", &url), ("STRIPE_SECRET_KEY", "pk_live_oops")],
    );

    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert!(dir.path().join("fresh.db").exists());
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("MAX_COFFEES"), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).starts_with("kaffeekasse: Fehler in der Konfiguration: MAX_COFFEES"),
        "German first: {}",
        text(&bad.stderr)
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        publishable.status.code(),
        Some(2),
        "a publishable key cannot create sessions"
    );
    assert!(
        text(&publishable.stderr).contains("STRIPE_SECRET_KEY"),
        "{}",
        text(&publishable.stderr)
    );
    assert!(
        text(&unknown.stderr).contains("Usage: kaffeekasse"),
        "{}",
        text(&unknown.stderr)
    );
}

#[tokio::test]
async fn replay_reapplies_a_stored_event_and_fails_for_an_unknown_one() {
    let app = spawn_app().await;
    app.donation("cs_cli").public("Anna", "").paid().await;
    let vars = [("DATABASE_URL", app.settings.database.url.as_str())];

    let known = kaffeekasse(&["replay", "evt_paid_cs_cli"], &vars);
    let unknown = kaffeekasse(&["replay", "evt_nope"], &vars);

    assert!(known.status.success(), "{}", text(&known.stderr));
    assert!(text(&known.stdout).contains("evt_paid_cs_cli: applied"));
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn reconcile_fetches_missed_events_from_the_command_line() {
    let app = spawn_app().await;
    let d = app
        .donation("cs_cli_rc")
        .coffees(2)
        .named("Anna", "Danke!")
        .create()
        .await;
    let missed: serde_json::Value = serde_json::from_str(&event(
        "evt_cli_rc",
        "checkout.session.completed",
        session("cs_cli_rc", &d, "paid", "complete", 1000),
        now(),
    ))
    .unwrap();
    // Listed twice: by the first run, then again by the run reaching back 40 days.
    app.stripe.events_page(None, vec![missed], false, 2).await;
    let stripe = app.stripe.uri();
    let vars = [
        ("DATABASE_URL", app.settings.database.url.as_str()),
        ("STRIPE_SECRET_KEY", "sk_test_cli"),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_BASE", stripe.as_str()),
    ];

    let output = kaffeekasse(&["reconcile", "--since", "2"], &vars);

    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("listed 1 events, 1 new"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(app.row("cs_cli_rc").await.unwrap().status, "paid");
    assert!(
        !text(&output.stderr).contains("30 days"),
        "two days back is inside the window"
    );
    let too_far = kaffeekasse(&["reconcile", "--since", "40"], &vars);
    assert!(too_far.status.success(), "{}", text(&too_far.stderr));
    assert!(
        text(&too_far.stderr).contains("keeps 30 days of events"),
        "{}",
        text(&too_far.stderr)
    );
    assert!(
        text(&too_far.stdout).contains("listed 1 events, 0 new"),
        "{}",
        text(&too_far.stdout)
    );
    let demo = kaffeekasse(
        &["reconcile"],
        &[("DATABASE_URL", app.settings.database.url.as_str())],
    );
    assert!(
        !demo.status.success(),
        "the demo provider has nothing to reconcile"
    );
}

#[tokio::test]
async fn the_healthcheck_command_reports_whether_the_service_answers() {
    let app = spawn_app().await;
    let port = app.address.rsplit(':').next().unwrap();
    let up = kaffeekasse(&["healthcheck"], &[("BIND_ADDR", &format!("127.0.0.1:{port}"))]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = kaffeekasse(&["healthcheck"], &[("BIND_ADDR", &format!("127.0.0.1:{closed}"))]);
    assert!(up.status.success());
    assert!(!down.status.success());
}

#[tokio::test]
async fn the_background_job_reconciles_at_start() {
    // Set up the missed event before the app starts, since the first run happens at start.
    let stripe = StripeMock::start().await;
    let d = "11111111-2222-3333-4444-555555555555";
    let missed: serde_json::Value = serde_json::from_str(&event(
        "evt_bg",
        "checkout.session.completed",
        session("cs_bg", d, "paid", "complete", 500),
        now(),
    ))
    .unwrap();
    stripe.events_page(None, vec![missed], false, 1).await;
    let app = spawn_app_with(&[
        ("STRIPE_API_BASE", &stripe.uri()),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ])
    .await;

    // Wait for the condition (the donation recorded), bounded, rather than for a fixed time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.row("cs_bg").await.is_none_or(|d| d.status != "paid") {
        assert!(
            std::time::Instant::now() < deadline,
            "the reconciliation job did not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.row("cs_bg").await.unwrap().coffees, 1);
}

#[test]
fn help_and_version_work_without_any_configuration() {
    let broken = [("MAX_COFFEES", "lots"), ("DATABASE_URL", "not a url")];

    let help = kaffeekasse(&["--help"], &broken);
    let version = kaffeekasse(&["--version"], &broken);
    let backup_help = kaffeekasse(&["backup", "--help"], &broken);

    assert!(help.status.success(), "{}", text(&help.stderr));
    for command in [
        "serve",
        "migrate",
        "replay",
        "reconcile",
        "healthcheck",
        "backup",
        "admin",
    ] {
        assert!(
            text(&help.stdout).contains(command),
            "{command} in {}",
            text(&help.stdout)
        );
    }
    assert!(version.status.success());
    assert_eq!(
        text(&version.stdout).trim(),
        format!("kaffeekasse {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(text(&backup_help.stdout).contains("must not exist yet"));
    let bad_since = kaffeekasse(&["reconcile", "--since", "yesterday"], &broken);
    assert_eq!(
        bad_since.status.code(),
        Some(2),
        "arguments are checked before the configuration"
    );
    assert!(
        text(&bad_since.stderr).contains("--since"),
        "{}",
        text(&bad_since.stderr)
    );
}

#[tokio::test]
async fn a_busy_address_is_said_once_without_a_backtrace() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("k.db").display());

    let out = kaffeekasse(
        &["serve"],
        &[
            ("BIND_ADDR", &addr),
            ("DATABASE_URL", &db),
            ("RUST_BACKTRACE", "1"),
        ],
    );

    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(all.matches("in use").count(), 1, "{all}");
    assert!(
        all.contains(&format!("cannot listen on BIND_ADDR {addr}")),
        "{all}"
    );
    assert!(
        !all.contains("stack backtrace") && !all.contains("rust_begin_unwind") && !all.contains("  0: "),
        "{all}"
    );
}
