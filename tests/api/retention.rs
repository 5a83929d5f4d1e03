//! Storage limitation: checkouts that never paid, and events that name no coffee, keep nothing
//! personal past `ABANDONED_RETENTION_DAYS` (#18). The clock is moved by passing a later `now`.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

const DAY: i64 = 86_400;
const RETENTION: Duration = Duration::from_secs(30 * 86_400);

#[tokio::test]
async fn after_the_retention_period_nothing_personal_of_unpaid_checkouts_is_left_anywhere() {
    let app = spawn_app_with(&[("ABANDONED_RETENTION_DAYS", "30")]).await;
    assert_eq!(app.settings.database.abandoned_retention, RETENTION);
    // Abandoned before paying, expired, and a paid coffee that must keep its name.
    app.donation("cs_abandoned")
        .public("Quirin Verlassen", "Nachricht ohne Kaffee")
        .create()
        .await;
    let expired = app
        .donation("cs_expired")
        .public("Ottilie Abgelaufen", "Auch nie bezahlt")
        .create()
        .await;
    app.deliver(
        "evt_expired",
        "checkout.session.expired",
        session("cs_expired", &expired, "unpaid", "expired", 1000),
    )
    .await;
    app.donation("cs_paid")
        .public("Paula Bezahlt", "Danke!")
        .paid()
        .await;
    // A SEPA payment still on its way is not a checkout that never paid.
    let sepa = app
        .donation("cs_sepa")
        .public("Sepa Unterwegs", "Lastschrift")
        .create()
        .await;
    app.deliver(
        "evt_sepa",
        "checkout.session.completed",
        session("cs_sepa", &sepa, "unpaid", "complete", 500),
    )
    .await;
    // Someone else's checkout on a shared account (ignored), and an event we could not read
    // (failed), each with a person in it.
    let mut foreign = session("cs_shop", "", "paid", "complete", 4200);
    foreign["metadata"] = json!({"order_for": "Fremda Shopkundin"});
    app.deliver("evt_shop", "checkout.session.completed", foreign)
        .await;
    let unreadable = json!({"object": "charge", "description": "Fehla Unlesbar", "amount": "viel"});
    app.deliver("evt_unreadable", "charge.refunded", unreadable).await;
    assert_eq!(app.event_status("evt_shop").await.as_deref(), Some("ignored"));
    assert_eq!(
        app.event_status("evt_unreadable").await.as_deref(),
        Some("failed")
    );
    let personal = [
        "Quirin Verlassen",
        "Nachricht ohne Kaffee",
        "Ottilie Abgelaufen",
        "Auch nie bezahlt",
        "Fremda Shopkundin",
        "Fehla Unlesbar",
    ];
    let contains = in_database_files(&app);
    assert!(
        personal.iter().all(|p| contains(p)),
        "all of it is stored at first"
    );

    let early = kaffeekasse::retention::run(&app.db, RETENTION, now() + 29 * DAY)
        .await
        .unwrap();
    assert!(!early.any(), "nothing is due within the period: {early:?}");
    let due = kaffeekasse::retention::run(&app.db, RETENTION, now() + 31 * DAY)
        .await
        .unwrap();
    assert_eq!(
        (due.donations, due.events),
        (1, 2),
        "the expired checkout and both events: {due:?}"
    );
    assert!(
        contains("Quirin Verlassen"),
        "a checkout with no outcome yet waits for the sweeper's 60 days"
    );
    let late = kaffeekasse::retention::run(&app.db, RETENTION, now() + 62 * DAY)
        .await
        .unwrap();
    assert_eq!((late.donations, late.events), (1, 0), "{late:?}");
    for p in personal {
        assert!(!contains(p), "{p} is still in a database file");
    }
    assert!(contains("Paula Bezahlt"), "a paid coffee keeps its name");
    let on_its_way = app.row("cs_sepa").await.unwrap();
    assert_eq!(on_its_way.status, "processing");
    assert_eq!(
        on_its_way.name.as_deref(),
        Some("Sepa Unterwegs"),
        "so does a payment on its way"
    );
    let unpaid = app.row("cs_abandoned").await.unwrap();
    assert_eq!(
        (unpaid.name, unpaid.message, unpaid.status.as_str()),
        (None, None, "pending")
    );
    assert_eq!(
        app.row("cs_expired").await.unwrap().amount_cents,
        app.price(),
        "the amount stays"
    );
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("after-retention.db");
    let output = kaffeekasse(
        &["backup", &backup.to_string_lossy()],
        &[("DATABASE_URL", &app.settings.database.url)],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let copy = std::fs::read(&backup).unwrap();
    for p in personal.iter().chain(["Paula Bezahlt"].iter()) {
        // (The SEPA donor's name stays too, as checked above.)
        let found = copy.windows(p.len()).any(|w| w == p.as_bytes());
        assert_eq!(found, *p == "Paula Bezahlt", "{p} in the backup");
    }
    let again = kaffeekasse::retention::run(&app.db, RETENTION, now() + 63 * DAY)
        .await
        .unwrap();
    assert!(!again.any(), "each row is pruned once: {again:?}");
}
