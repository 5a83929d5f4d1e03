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

async fn idempotency_keys(app: &TestApp) -> Vec<String> {
    app.stripe
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_double_submitted_form_opens_one_checkout() {
    let app = spawn_app().await;
    // Stripe answers a repeated key with the same session, as it does.
    app.stripe
        .session_creation_answers(
            ResponseTemplate::new(200).set_body_json(created_session("cs_test_once")),
            3,
        )
        .await;
    let home = app.get("/").await.text().await.unwrap();
    let marker = "name=\"nonce\" value=\"";
    let start = home.find(marker).expect("the form carries a nonce") + marker.len();
    let nonce = &home[start..start + home[start..].find('"').unwrap()];
    let form = |coffees| [("coffees", coffees), ("nonce", nonce), ("name", "Anna")];

    let first = app.post_form("/donate", &form("2")).await;
    let second = app.post_form("/donate", &form("2")).await;
    let other = app.post_form("/donate", &form("3")).await;

    for r in [&first, &second, &other] {
        assert_eq!(r.status(), 303);
    }
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    let keys = idempotency_keys(&app).await;
    assert_eq!(keys[0], keys[1], "the same form, the same key");
    assert_ne!(keys[0], keys[2], "another amount is another checkout");
    assert_eq!(app.count("donations").await, 1, "one row for the one session");
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
    let keys = idempotency_keys(&app).await;
    assert_eq!((keys.len(), keys[0] == keys[1]), (2, true));
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn a_stripe_5xx_is_retried_once_with_the_same_key() {
    let app = spawn_app().await;
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": {"type": "api_error"}})))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&app.stripe.server)
        .await;
    app.stripe.session_created("cs_test_second").await;

    let response = app.post_json("/donate", &json!({"coffees": 1})).await;

    assert_eq!(response.status(), 200);
    let keys = idempotency_keys(&app).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(app.row("cs_test_second").await.unwrap().status, "pending");
}

fn link_session(id: &str, link: &str) -> Value {
    let mut s = fixture("checkout.session");
    for (k, v) in [
        ("id", json!(id)),
        ("payment_link", json!(link)),
        ("metadata", json!({})),
        ("status", json!("complete")),
        ("payment_status", json!("paid")),
        ("amount_total", json!(1000)),
        ("currency", json!("eur")),
        ("currency_conversion", json!(null)),
        ("mode", json!("payment")),
    ] {
        s[k] = v;
    }
    s
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
