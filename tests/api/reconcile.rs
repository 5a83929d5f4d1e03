//! Reconciliation against a wiremock Events API.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn reconciliation_records_missed_donations_exactly_once_across_two_pages_even_when_run_twice() {
    let app = spawn_app().await;
    let d1 = app.donation("cs_test_rc1").named("Anna", "Danke!").create().await;
    let d2 = app
        .donation("cs_test_rc2")
        .coffees(2)
        .named("Anna", "Danke!")
        .create()
        .await;
    let d3 = app
        .donation("cs_test_rc3")
        .coffees(3)
        .named("Anna", "Danke!")
        .create()
        .await;
    let t = now() - 600;
    let raw = |id: &str, sid: &str, d: &str, amount: i64| -> serde_json::Value {
        serde_json::from_str(&event(
            id,
            "checkout.session.completed",
            session(sid, d, "paid", "complete", amount),
            t,
        ))
        .unwrap()
    };
    // Stripe lists newest first; page 2 is requested with starting_after = the last id of page 1.
    let page_one = vec![
        raw("evt_rc3", "cs_test_rc3", &d3, 1500),
        raw("evt_rc2", "cs_test_rc2", &d2, 1000),
    ];
    app.stripe.events_page(None, page_one, true, 2).await;
    let page_two = vec![raw("evt_rc1", "cs_test_rc1", &d1, 500)];
    app.stripe.events_page(Some("evt_rc2"), page_two, false, 2).await;
    let (stripe, ledger) = (app.stripe_provider(), app.ledger());
    // One of the three already arrived by webhook.
    app.post_webhook(&event(
        "evt_rc2",
        "checkout.session.completed",
        session("cs_test_rc2", &d2, "paid", "complete", 1000),
        t,
    ))
    .await;

    let first = kaffeekasse::reconcile::run(&app.db, &ledger, &stripe, Some(t - 60))
        .await
        .unwrap();
    let second = kaffeekasse::reconcile::run(&app.db, &ledger, &stripe, None)
        .await
        .unwrap();

    assert_eq!((first.listed, first.new), (3, 2));
    assert_eq!((second.listed, second.new), (3, 0));
    for sid in ["cs_test_rc1", "cs_test_rc2", "cs_test_rc3"] {
        assert_eq!(app.row(sid).await.unwrap().status, "paid", "{sid}");
    }
    assert_eq!(app.count("stripe_events").await, 3);
    assert_eq!(app.count("donations").await, 3);
    let requests = app.stripe.server.received_requests().await.unwrap();
    let list = requests.iter().find(|r| r.url.path() == "/v1/events").unwrap();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(list.url.query().unwrap()).unwrap();
    assert!(
        query.contains(&("created[gte]".into(), (t - 60).to_string())),
        "{query:?}"
    );
    assert!(
        query
            .iter()
            .any(|(k, v)| k.starts_with("types[") && v == "charge.refunded"),
        "{query:?}"
    );
    // The second run starts from the stored cursor minus the overlap.
    let last = requests
        .iter()
        .rev()
        .find(|r| r.url.path() == "/v1/events")
        .unwrap();
    let query: Vec<(String, String)> = serde_urlencoded::from_str(last.url.query().unwrap()).unwrap();
    assert!(
        query.contains(&("created[gte]".into(), (t - 3600).to_string())),
        "{query:?}"
    );
}

#[tokio::test]
async fn an_unreadable_event_in_the_list_is_skipped_and_paging_moves_on() {
    let app = spawn_app().await;
    let d = app.donation("cs_test_rcx").named("Anna", "Danke!").create().await;
    let good: serde_json::Value = serde_json::from_str(&event(
        "evt_good",
        "checkout.session.completed",
        session("cs_test_rcx", &d, "paid", "complete", 500),
        now(),
    ))
    .unwrap();
    let unreadable = json!({"id": "evt_unreadable", "object": "event"});
    app.stripe.events_page(None, vec![unreadable], true, 1).await;
    app.stripe
        .events_page(Some("evt_unreadable"), vec![good], false, 1)
        .await;
    let (stripe, ledger) = (app.stripe_provider(), app.ledger());

    let report = kaffeekasse::reconcile::run(&app.db, &ledger, &stripe, Some(now() - 60))
        .await
        .unwrap();

    assert_eq!((report.listed, report.new, report.skipped), (2, 1, 1));
    assert_eq!(app.row("cs_test_rcx").await.unwrap().status, "paid");
}
