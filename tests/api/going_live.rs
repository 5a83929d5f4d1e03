//! Going live with Stripe: restricted keys, one checkout per form, Payment Link readers back
//! early, and the last event edge cases (disputes by status, failed refunds, subscriptions, €0).

use serde_json::{Value, json};
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};

use crate::helpers::*;

fn livemode(body: &str, live: bool) -> String {
    let mut v: Value = serde_json::from_str(body).unwrap();
    v["livemode"] = json!(live);
    v["data"]["object"]["livemode"] = json!(live);
    v.to_string()
}

#[tokio::test]
async fn a_restricted_live_key_takes_live_events_and_refuses_test_ones() {
    let app = spawn_app_with(&[("STRIPE_SECRET_KEY", "rk_live_kaffeekasse")]).await;
    let id = "55555555-6666-7777-8888-999999999999";
    let body = event(
        "evt_live",
        "checkout.session.completed",
        session("cs_live_1", id, "paid", "complete", 500),
        now(),
    );

    let live = app.post_webhook(&livemode(&body, true)).await;
    let test = app
        .post_webhook(&livemode(&body.replace("evt_live", "evt_test"), false))
        .await;

    assert_eq!(live.status(), 200);
    assert_eq!(test.status(), 400);
    assert_eq!(app.row("cs_live_1").await.unwrap().status, "paid");
}

/// Stripe for a double click: a session per amount, answered after a while, with the time each
/// request arrived.
struct SlowStripe {
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl wiremock::Respond for SlowStripe {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        self.arrivals.lock().unwrap().push(std::time::Instant::now());
        let body = String::from_utf8_lossy(&request.body);
        let id = if body.contains("line_items[0][quantity]=3") {
            "cs_test_three"
        } else {
            "cs_test_once"
        };
        ResponseTemplate::new(200)
            .set_body_json(created_session(id))
            .set_delay(std::time::Duration::from_millis(300))
    }
}

#[tokio::test]
async fn a_double_click_waits_for_the_first_checkout_and_gets_the_same_one() {
    let app = spawn_app().await;
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(SlowStripe {
            arrivals: arrivals.clone(),
        })
        .expect(3)
        .mount(&app.stripe.server)
        .await;
    let nonce = nonce_of(&app.get("/").await.text().await.unwrap());
    let form = |coffees| [("coffees", coffees), ("nonce", nonce.as_str()), ("name", "Anna")];

    let (two, two_again) = (form("2"), form("2"));
    let (first, second) = tokio::join!(
        app.post_form("/donate", &two),
        app.post_form("/donate", &two_again)
    );
    let other = app.post_form("/donate", &form("3")).await;

    for r in [&first, &second, &other] {
        assert_eq!(r.status(), 303);
    }
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    assert_ne!(first.headers()["location"], other.headers()["location"]);
    let keys = app.stripe.idempotency_keys().await;
    assert_eq!(keys[0], keys[1], "the same form, the same key");
    assert_ne!(keys[0], keys[2], "another amount is another checkout");
    // Stripe answers a concurrent request with the same key with 409: the second click must
    // reach Stripe only after the first one's answer.
    let arrivals = arrivals.lock().unwrap().clone();
    assert!(
        arrivals[1] - arrivals[0] >= std::time::Duration::from_millis(290),
        "{arrivals:?}"
    );
    assert_eq!(app.count("donations").await, 2, "one row per session");
}

#[tokio::test]
async fn the_same_form_after_a_paid_coffee_starts_a_new_checkout() {
    let app = spawn_app().await;
    app.stripe
        .session_creation_answers(
            ResponseTemplate::new(200).set_body_json(created_session("cs_test_first")),
            1,
        )
        .await;
    let nonce = nonce_of(&app.get("/").await.text().await.unwrap());
    let form = [("coffees", "1"), ("nonce", nonce.as_str())];
    let first = app.post_form("/donate", &form).await;
    assert_eq!(first.status(), 303);
    let id = app.row("cs_test_first").await.unwrap().id;
    app.deliver(
        "evt_first",
        "checkout.session.completed",
        session("cs_test_first", &id, "paid", "complete", 500),
    )
    .await;
    app.stripe
        .session_creation_answers(
            ResponseTemplate::new(200).set_body_json(created_session("cs_test_second")),
            1,
        )
        .await;

    // The reader goes back to the page (restored with its nonce) and buys another coffee.
    let again = app.post_form("/donate", &form).await;

    assert_eq!(again.status(), 303);
    let keys = app.stripe.idempotency_keys().await;
    assert_ne!(
        keys[0], keys[1],
        "Stripe would replay the paid session for the old key"
    );
    let second = app.row("cs_test_second").await.expect("a second donation");
    assert_ne!(second.id, id);
    assert_eq!(app.count("donations").await, 2);
}

#[tokio::test]
async fn scripts_send_an_idempotency_key_and_a_bad_one_is_refused() {
    let app = spawn_app().await;
    app.stripe
        .session_creation_answers(
            ResponseTemplate::new(200).set_body_json(created_session("cs_test_key")),
            2,
        )
        .await;
    let post = |key: &'static str| {
        app.client
            .post(app.url("/donate"))
            .header("Idempotency-Key", key)
            .json(&json!({"coffees": 1}))
            .send()
    };

    assert_eq!(post("order-4711-retry").await.unwrap().status(), 200);
    assert_eq!(post("order-4711-retry").await.unwrap().status(), 200);
    let bad = post("no spaces allowed").await.unwrap();

    assert_eq!(bad.status(), 400);
    let keys = app.stripe.idempotency_keys().await;
    assert_eq!((keys.len(), keys[0] == keys[1]), (2, true));
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn a_payment_link_reader_back_before_the_webhook_sees_their_thanks() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_mine")]).await;
    app.stripe
        .session_replies("cs_test_early", link_session("cs_test_early", "plink_mine"), 1)
        .await;
    app.stripe
        .session_replies(
            "cs_test_foreign",
            link_session("cs_test_foreign", "plink_other"),
            1,
        )
        .await;

    let early = app.get("/thanks?session_id=cs_test_early").await;
    let foreign = app.get("/thanks?session_id=cs_test_foreign").await;
    let made_up = app.get("/thanks?session_id=not-a-stripe-id").await;

    assert_eq!(early.status(), 200);
    assert!(early.text().await.unwrap().contains("Danke!"));
    let row = app
        .row("cs_test_early")
        .await
        .expect("recorded through the webhook's path");
    assert_eq!((row.status.as_str(), row.coffees), ("paid", 2));
    assert_eq!(foreign.status(), 404, "not a listed link: nothing recorded");
    assert!(app.row("cs_test_foreign").await.is_none());
    assert_eq!(
        made_up.status(),
        404,
        "not shaped like a Stripe id: Stripe is not asked"
    );
    // Later the webhook arrives: the same donation, not a second one.
    app.deliver(
        "evt_early",
        "checkout.session.completed",
        link_session("cs_test_early", "plink_mine"),
    )
    .await;
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn one_client_cannot_use_up_the_lookups_of_unknown_sessions() {
    let app = spawn_app_with(&[
        ("STRIPE_PAYMENT_LINKS", "plink_mine"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    wiremock::Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("^/v1/checkout/sessions/cs_test_"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": {"type": "invalid_request_error"}})),
        )
        .expect(4)
        .mount(&app.stripe.server)
        .await;
    let thanks = |from: &'static str, id: String| {
        app.client
            .get(app.url(&format!("/thanks?session_id={id}")))
            .header("X-Forwarded-For", from)
            .send()
    };

    let mut answers = Vec::new();
    for i in 0..4 {
        answers.push(
            thanks("198.51.100.1", format!("cs_test_made_up_{i}"))
                .await
                .unwrap(),
        );
    }
    let other_client = thanks("198.51.100.2", "cs_test_someone_else".into())
        .await
        .unwrap();
    let other_mode = thanks("198.51.100.3", "cs_live_not_this_key".into())
        .await
        .unwrap();

    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [404, 404, 404, 200], "the fourth is not asked about");
    let later = answers.pop().unwrap().text().await.unwrap();
    assert!(
        later.contains("http-equiv=\"refresh\""),
        "the page asks again later"
    );
    assert_eq!(other_client.status(), 404, "another client still gets its lookup");
    assert_eq!(
        other_mode.status(),
        404,
        "a live id under a test key: Stripe is not asked"
    );
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn every_refund_event_counts_and_a_failed_one_gives_the_coffee_back() {
    let app = spawn_app().await;
    let id = app.donation("cs_re").coffees(2).paid().await;
    let refund = |re: &str, amount: i64, status: &str| {
        let mut r = fixture("refund");
        for (k, v) in [
            ("id", json!(re)),
            ("amount", json!(amount)),
            ("status", json!(status)),
            ("charge", json!("ch_re")),
            ("payment_intent", json!("pi_cs_re")),
        ] {
            r[k] = v;
        }
        r
    };
    app.deliver(
        "evt_ch",
        "charge.refunded",
        charge("ch_re", &id, "pi_cs_re", 1000, 200),
    )
    .await;
    app.deliver("evt_r1", "refund.created", refund("re_1", 200, "succeeded"))
        .await;
    app.deliver("evt_r1f", "refund.failed", refund("re_1", 200, "failed"))
        .await;
    assert_eq!(
        app.row("cs_re").await.unwrap().refunded_cents,
        0,
        "the failed refund came back"
    );

    // A second refund, known by id from `refund.created`, then the charge's lower total.
    app.deliver("evt_r2", "refund.created", refund("re_2", 300, "succeeded"))
        .await;
    app.deliver(
        "evt_ch2",
        "charge.refunded",
        charge("ch_re", &id, "pi_cs_re", 1000, 300),
    )
    .await;

    let row = app.row("cs_re").await.unwrap();
    assert_eq!((row.status.as_str(), row.refunded_cents), ("paid", 300));
    let mut no_charge = refund("re_balance", 100, "succeeded");
    no_charge["charge"] = json!(null);
    no_charge["payment_intent"] = json!(null);
    app.deliver("evt_r3", "refund.updated", no_charge).await;
    assert_eq!(app.event_status("evt_r3").await.as_deref(), Some("ignored"));
}

#[tokio::test]
async fn subscriptions_and_free_sessions_are_recorded_as_ignored_not_as_coffees() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_mine")]).await;
    let mut subscription = link_session("cs_sub", "plink_mine");
    subscription["mode"] = json!("subscription");
    let mut free = link_session("cs_free", "plink_mine");
    free["payment_status"] = json!("no_payment_required");
    free["amount_total"] = json!(0);

    app.deliver("evt_sub", "checkout.session.completed", subscription)
        .await;
    app.deliver("evt_free", "checkout.session.completed", free).await;

    assert_eq!(app.count("donations").await, 0);
    assert_eq!(app.event_status("evt_sub").await.as_deref(), Some("ignored"));
    assert_eq!(app.event_status("evt_free").await.as_deref(), Some("ignored"));
    let reason: String = sqlx::query_scalar("SELECT error FROM stripe_events WHERE id = 'evt_sub'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(reason.contains("subscription"), "{reason}");
}

#[tokio::test]
async fn a_dispute_s_status_decides_and_prevented_counts_as_won() {
    let app = spawn_app().await;
    let id = app.donation("cs_dp").coffees(2).paid().await;
    let ch = charge("ch_dp", &id, "pi_cs_dp", 1000, 0);
    app.deliver("evt_ch", "charge.refunded", ch).await;
    let d = |status: &str| dispute("dp_1", "ch_dp", "pi_cs_dp", status, 1000);

    app.deliver("evt_d1", "charge.dispute.created", d("warning_needs_response"))
        .await;
    assert_eq!(app.row("cs_dp").await.unwrap().status, "disputed");
    app.deliver("evt_d2", "charge.dispute.updated", d("prevented"))
        .await;
    assert_eq!(
        app.row("cs_dp").await.unwrap().status,
        "paid",
        "prevented costs nothing"
    );
}

#[tokio::test]
async fn a_refund_that_fails_later_gives_the_coffee_back() {
    let app = spawn_app().await;
    let id = app.donation("cs_rf").paid().await;
    app.deliver(
        "evt_r1",
        "charge.refunded",
        charge("ch_rf", &id, "pi_cs_rf", 500, 500),
    )
    .await;
    assert_eq!(app.row("cs_rf").await.unwrap().status, "refunded");
    let mut failed = fixture("refund");
    for (k, v) in [
        ("id", json!("re_rf")),
        ("amount", json!(500)),
        ("status", json!("failed")),
        ("charge", json!("ch_rf")),
        ("payment_intent", json!("pi_cs_rf")),
    ] {
        failed[k] = v;
    }

    app.deliver("evt_r2", "charge.refund.updated", failed).await;

    let row = app.row("cs_rf").await.unwrap();
    assert_eq!((row.status.as_str(), row.refunded_cents), ("paid", 0));
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(stats["amount_cents"], 500, "back on the wall, in full");
}

#[tokio::test]
async fn the_sweeper_settles_sessions_left_pending_and_stops_at_a_rate_limit() {
    let app = spawn_app().await;
    let a = app.donation("cs_sw_a").create().await;
    app.donation("cs_sw_b").create().await;
    app.donation("cs_sw_fresh").create().await;
    sqlx::query(
        "UPDATE donations SET created_at = created_at - 7200 WHERE checkout_session_id != 'cs_sw_fresh'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    app.stripe
        .session_replies("cs_sw_a", session("cs_sw_a", &a, "paid", "complete", 500), 1)
        .await;
    wiremock::Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_sw_b"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({"error": {"type": "rate_limit_error"}})),
        )
        .expect(1)
        .mount(&app.stripe.server)
        .await;
    let (stripe, ledger) = (app.stripe_provider(), app.ledger());

    let report = kaffeekasse::reconcile::sweep(&app.db, &ledger, &stripe)
        .await
        .unwrap();

    assert_eq!(app.row("cs_sw_a").await.unwrap().status, "paid");
    assert_eq!(app.row("cs_sw_b").await.unwrap().status, "pending");
    assert!(report.rate_limited && report.settled == 1, "{report:?}");
    // Two sessions asked about, the second refused: the fresh one was never looked up.
    let asked: Vec<String> = app
        .stripe
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(!asked.iter().any(|p| p.ends_with("cs_sw_fresh")), "{asked:?}");
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(app.row("cs_sw_fresh").await.unwrap().status, "pending");
}

#[tokio::test]
async fn a_session_stripe_keeps_failing_on_goes_to_the_back_of_the_sweep() {
    let app = spawn_app().await;
    app.donation("cs_sw_bad").create().await;
    let good = app.donation("cs_sw_good").create().await;
    // The bad one is older, so it is asked about first.
    sqlx::query(
        "UPDATE donations SET created_at = created_at - 9000 WHERE checkout_session_id = 'cs_sw_bad'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE donations SET created_at = created_at - 7200 WHERE checkout_session_id = 'cs_sw_good'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    wiremock::Mock::given(method("GET"))
        .and(path("/v1/checkout/sessions/cs_sw_bad"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": {"type": "invalid_request_error"}})),
        )
        .expect(2)
        .mount(&app.stripe.server)
        .await;
    app.stripe
        .session_replies(
            "cs_sw_good",
            session("cs_sw_good", &good, "paid", "complete", 500),
            1,
        )
        .await;
    let (stripe, ledger) = (app.stripe_provider(), app.ledger());

    let first = kaffeekasse::reconcile::sweep(&app.db, &ledger, &stripe)
        .await
        .unwrap();
    let second = kaffeekasse::reconcile::sweep(&app.db, &ledger, &stripe)
        .await
        .unwrap();

    assert!(first.stopped && first.checked == 0, "{first:?}");
    assert!(second.stopped && second.settled == 1, "{second:?}");
    assert_eq!(app.row("cs_sw_good").await.unwrap().status, "paid");
}
