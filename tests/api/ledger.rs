//! The event ledger under concurrency, outages and replays.

use std::sync::Arc;

use serde_json::json;
use sqlx::Connection;
use tokio::task::JoinSet;

use crate::helpers::*;

async fn deliver_concurrently(app: &Arc<TestApp>, bodies: Vec<String>) -> Vec<u16> {
    let mut set = JoinSet::new();
    for body in bodies {
        let app = Arc::clone(app);
        set.spawn(async move { app.post_webhook(&body).await.status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = set.join_next().await {
        statuses.push(status.expect("task"));
    }
    statuses
}

#[tokio::test]
async fn twenty_concurrent_copies_of_one_event_record_it_once() {
    let app = Arc::new(spawn_app().await);
    let donation_id = app
        .donation("cs_test_conc")
        .coffees(2)
        .named("Anna", "Danke!")
        .create()
        .await;
    let body = event(
        "evt_conc",
        "checkout.session.completed",
        session("cs_test_conc", &donation_id, "paid", "complete", 1000),
        now(),
    );

    let statuses = deliver_concurrently(&app, vec![body; 20]).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.count("stripe_events").await, 1);
    assert_eq!(app.count("donations").await, 1);
    assert_eq!(app.row("cs_test_conc").await.unwrap().status, "paid");
}

#[tokio::test]
async fn twenty_concurrent_different_events_for_one_donation_end_in_one_correct_state() {
    let app = Arc::new(spawn_app().await);
    let d = app
        .donation("cs_test_many")
        .coffees(2)
        .named("Anna", "Danke!")
        .create()
        .await;
    let pi = "pi_cs_test_many";
    let t = now();
    let mut bodies = Vec::new();
    for i in 0..5 {
        bodies.push(event(
            &format!("evt_c{i}"),
            "checkout.session.completed",
            session("cs_test_many", &d, "unpaid", "complete", 1000),
            t,
        ));
        bodies.push(event(
            &format!("evt_s{i}"),
            "checkout.session.async_payment_succeeded",
            session("cs_test_many", &d, "paid", "complete", 1000),
            t + 1,
        ));
        bodies.push(event(
            &format!("evt_r{i}"),
            "charge.refunded",
            charge("ch_many", &d, pi, 1000, 200 * (i + 1)),
            t + 2,
        ));
        bodies.push(event(
            &format!("evt_d{i}"),
            "charge.dispute.created",
            dispute("dp_many", "ch_many", pi, "needs_response", 1000),
            t + 3,
        ));
    }

    let statuses = deliver_concurrently(&app, bodies).await;

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.count("stripe_events").await, 20);
    let donation = app.row("cs_test_many").await.unwrap();
    // The largest cumulative refund covers the whole amount, but an open dispute takes
    // precedence while it lasts.
    assert_eq!(
        (donation.status.as_str(), donation.refunded_cents),
        ("disputed", 1000)
    );
    let unsettled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stripe_events WHERE status != 'applied'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(unsettled, 0, "every event found its donation, deferred or not");
}

#[tokio::test]
async fn a_locked_database_answers_503_and_redelivery_records_the_event_once() {
    let app = spawn_app_with(&[("DATABASE_BUSY_TIMEOUT_MS", "200")]).await;
    let d = app
        .donation("cs_test_lock")
        .named("Anna", "Danke!")
        .create()
        .await;
    let body = event(
        "evt_lock",
        "checkout.session.completed",
        session("cs_test_lock", &d, "paid", "complete", 500),
        now(),
    );

    // Another process holds SQLite's write lock.
    let mut blocker = sqlx::SqliteConnection::connect(&app.settings.database.url)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let during = app.post_webhook(&body).await;
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    assert_eq!(during.status(), 503, "Stripe must retry");
    assert_eq!(app.count("stripe_events").await, 0, "nothing was acknowledged");
    assert_eq!(app.row("cs_test_lock").await.unwrap().status, "pending");

    let after = app.post_webhook(&body).await;
    let again = app.post_webhook(&body).await;
    assert_eq!((after.status().as_u16(), again.status().as_u16()), (200, 200));
    assert_eq!(app.count("stripe_events").await, 1);
    assert_eq!(app.row("cs_test_lock").await.unwrap().status, "paid");
}

#[tokio::test]
async fn a_refund_for_a_payment_link_donation_arriving_first_is_deferred_then_applied() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_blog")]).await;
    let mut link = fixture("checkout.session");
    link["id"] = json!("cs_test_plref");
    link["payment_link"] = json!("plink_blog");
    link["currency_conversion"] = json!(null);
    link["payment_status"] = json!("paid");
    link["status"] = json!("complete");
    link["amount_total"] = json!(500);
    link["currency"] = json!("eur");
    link["payment_intent"] = json!("pi_plref");
    let mut refund = charge("ch_plref", "", "pi_plref", 500, 500);
    refund["metadata"] = json!({});

    app.post_webhook(&event("evt_ref_first", "charge.refunded", refund, now()))
        .await;
    assert_eq!(
        app.event_status("evt_ref_first").await.as_deref(),
        Some("deferred")
    );
    app.post_webhook(&event(
        "evt_done_later",
        "checkout.session.completed",
        link,
        now(),
    ))
    .await;

    assert_eq!(
        app.event_status("evt_ref_first").await.as_deref(),
        Some("applied")
    );
    assert_eq!(app.row("cs_test_plref").await.unwrap().status, "refunded");
}

#[tokio::test]
async fn replaying_a_stored_event_reapplies_it_without_double_counting() {
    let app = spawn_app().await;
    let d = app.donation("cs_test_rp").named("Anna", "Danke!").create().await;
    let body = event(
        "evt_rp",
        "checkout.session.completed",
        session("cs_test_rp", &d, "paid", "complete", 500),
        now(),
    );
    app.post_webhook(&body).await;
    // Simulate a bad manual edit that the replay must repair.
    sqlx::query("UPDATE donations SET status = 'pending', checkout_state = 'open' WHERE id = ?1")
        .bind(&d)
        .execute(&app.pool)
        .await
        .unwrap();
    let ledger = app.ledger();

    let outcome = ledger.replay("evt_rp").await.unwrap();
    let missing = ledger.replay("evt_nope").await.unwrap();

    assert!(matches!(
        outcome,
        Some(kaffeekasse::webhook::apply::Outcome::Applied { .. })
    ));
    assert!(missing.is_none());
    assert_eq!(app.row("cs_test_rp").await.unwrap().status, "paid");
    assert_eq!(app.count("stripe_events").await, 1);
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn a_refund_of_a_charge_we_did_not_create_is_ignored_not_deferred() {
    let app = spawn_app().await;
    let mut refund = charge("ch_shop", "", "pi_shop", 2500, 2500);
    refund["metadata"] = json!({});

    app.post_webhook(&event("evt_shop_refund", "charge.refunded", refund, now()))
        .await;

    assert_eq!(
        app.event_status("evt_shop_refund").await.as_deref(),
        Some("ignored")
    );
}

#[tokio::test]
async fn an_event_deferred_for_over_a_week_is_settled_as_ignored_keeping_only_its_envelope() {
    let app = spawn_app().await;
    let d = app.donation("cs_test_old").named("Anna", "Danke!").create().await;
    let mut orphan = dispute("dp_x", "ch_x", "pi_elsewhere", "needs_response", 500);
    orphan["evidence"]["customer_name"] = json!("Quendolin Shopkundin");
    app.post_webhook(&event("evt_orphan", "charge.dispute.created", orphan, now()))
        .await;
    assert_eq!(app.event_status("evt_orphan").await.as_deref(), Some("deferred"));
    let stored = || async {
        sqlx::query_scalar::<_, String>("SELECT payload FROM stripe_events WHERE id = 'evt_orphan'")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };
    assert!(
        stored().await.contains("\"charge\":\"ch_x\""),
        "a deferred event keeps what matches it later"
    );
    sqlx::query("UPDATE stripe_events SET received_at = received_at - 8 * 86400 WHERE id = 'evt_orphan'")
        .execute(&app.pool)
        .await
        .unwrap();

    app.post_webhook(&event(
        "evt_new",
        "checkout.session.completed",
        session("cs_test_old", &d, "paid", "complete", 500),
        now(),
    ))
    .await;

    assert_eq!(app.event_status("evt_orphan").await.as_deref(), Some("ignored"));
    assert_eq!(app.event_status("evt_new").await.as_deref(), Some("applied"));
    // Someone else's dispute, with its evidence: no erasure could ever find it, so none of it stays.
    let kept: serde_json::Value = serde_json::from_str(&stored().await).unwrap();
    assert_eq!(kept["data"]["object"], json!({"id": "dp_x", "object": "dispute"}));
    assert_eq!(kept["type"], "charge.dispute.created");
}

#[tokio::test]
async fn a_corrupt_stored_status_is_an_error_not_a_silent_pending() {
    let app = spawn_app().await;
    app.donation("cs_corrupt").create().await;
    // Only a hand edit past the CHECK constraints could store this.
    let mut conn = app.pool.acquire().await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("UPDATE donations SET status = 'payed' WHERE checkout_session_id = 'cs_corrupt'")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);

    let page = app.get("/thanks?session_id=cs_corrupt").await;

    assert_eq!(page.status(), 500, "not shown as a pending payment");
    assert!(page.text().await.unwrap().contains("Etwas ist schiefgelaufen"));
}

/// After reconciliation every deferred event is tried again, even when this process learned no
/// new id: the donation may have been completed by another process (`kaffeekasse replay`).
#[tokio::test]
async fn retrying_deferred_events_applies_those_whose_donation_is_now_known() {
    let app = spawn_app().await;
    let id = app.donation("cs_test_known").paid().await;
    app.post_webhook(&event(
        "evt_early_dispute",
        "charge.dispute.created",
        dispute("dp_early", "ch_early", "pi_early", "needs_response", 500),
        now(),
    ))
    .await;
    assert_eq!(
        app.event_status("evt_early_dispute").await.as_deref(),
        Some("deferred")
    );
    // Another process records the payment's id, as a replay would.
    sqlx::query("UPDATE donations SET payment_intent_id = 'pi_early' WHERE id = ?1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();

    app.ledger().retry_deferred().await.unwrap();

    assert_eq!(
        app.event_status("evt_early_dispute").await.as_deref(),
        Some("applied")
    );
    assert_eq!(app.row("cs_test_known").await.unwrap().status, "disputed");
}

/// A replayed event's ledger row says what the replay did, not what happened the first time.
#[tokio::test]
async fn a_replay_records_the_event_s_new_outcome() {
    let app = spawn_app().await;
    let id = app.donation("cs_test_replayed").paid().await;
    app.post_webhook(&event(
        "evt_replayed",
        "charge.dispute.created",
        dispute("dp_replayed", "ch_replayed", "pi_replayed", "needs_response", 500),
        now(),
    ))
    .await;
    assert_eq!(
        app.event_status("evt_replayed").await.as_deref(),
        Some("deferred")
    );
    sqlx::query("UPDATE donations SET payment_intent_id = 'pi_replayed' WHERE id = ?1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();

    let outcome = app.ledger().replay("evt_replayed").await.unwrap();

    assert_eq!(outcome.map(|o| o.status().as_str()), Some("applied"));
    assert_eq!(app.event_status("evt_replayed").await.as_deref(), Some("applied"));
    assert_eq!(app.row("cs_test_replayed").await.unwrap().status, "disputed");
}
