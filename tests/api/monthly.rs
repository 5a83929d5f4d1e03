//! Monthly coffees over HTTP: the subscription checkout Stripe is asked for, the events of a
//! subscription's life (renewals, a failed debit, refunds, SEPA), one entry on the wall, the
//! thanks page, and convergence under shuffled and repeated delivery.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_monthly_checkout_asks_stripe_for_a_subscription_with_inline_recurring_price_data() {
    let app = spawn_app().await;

    let sub = app.monthly("cs_test_m1", 2, json!({"lang": "en"})).await;

    let bodies = app.stripe.bodies("/v1/checkout/sessions").await;
    assert_eq!(bodies.len(), 1);
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&bodies[0]).unwrap();
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    assert_eq!(get("mode"), Some("subscription"));
    assert_eq!(get("submit_type"), Some("subscribe"));
    assert_eq!(get("line_items[0][quantity]"), Some("2"));
    assert_eq!(get("line_items[0][price_data][unit_amount]"), Some("500"));
    assert_eq!(get("line_items[0][price_data][currency]"), Some("eur"));
    assert_eq!(
        get("line_items[0][price_data][recurring][interval]"),
        Some("month")
    );
    assert_eq!(
        get("subscription_data[metadata][donation_id]"),
        Some(sub.donation_id.as_str())
    );
    assert_eq!(get("subscription_data[metadata][kaffeekasse]"), Some("1"));
    assert_eq!(
        get("subscription_data[description]"),
        Some("Kaffeekasse: 2 Kaffees im Monat")
    );
    assert_eq!(get("locale"), Some("en"));
    assert_eq!(get("metadata[donation_id]"), Some(sub.donation_id.as_str()));
    assert!(
        form.iter()
            .all(|(k, _)| !k.starts_with("payment_intent_data") && !k.starts_with("adaptive_pricing")),
        "a subscription's checkout takes neither: {form:?}"
    );
    let keys = app.stripe.keys_to("/v1/checkout/sessions").await;
    assert!(keys[0].starts_with("kaffeekasse-checkout-"), "{keys:?}");
    assert_eq!(
        app.column(&sub.donation_id, "interval").await.as_deref(),
        Some("month")
    );
}

#[tokio::test]
async fn the_same_form_as_monthly_and_as_once_is_two_checkouts_under_two_keys() {
    let app = spawn_app().await;
    app.stripe.sessions_created(2).await;
    let form =
        |interval: &str| json!({"coffees": 1, "interval": interval, "nonce": "nonce-0123456789abcdef"});

    let monthly = app.post_json("/donate", &form("month")).await;
    let once = app.post_json("/donate", &form("once")).await;

    assert_eq!(
        (monthly.status(), once.status()),
        (reqwest::StatusCode::OK, reqwest::StatusCode::OK)
    );
    let keys = app.stripe.keys_to("/v1/checkout/sessions").await;
    assert_eq!(keys.len(), 2);
    assert_ne!(
        keys[0], keys[1],
        "the interval is part of what the key stands for"
    );
    let intervals: Vec<String> = sqlx::query_scalar("SELECT interval FROM donations ORDER BY interval")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(intervals, ["month", "once"]);
}

#[tokio::test]
async fn an_interval_other_than_once_or_month_is_refused_with_422_and_nothing_is_written() {
    let app = spawn_app().await;

    let json_answer = app
        .post_json("/donate", &json!({"coffees": 1, "interval": "weekly"}))
        .await;
    let form_answer = app
        .post_form("/donate", &[("coffees", "1"), ("interval", "yearly")])
        .await;

    assert_eq!(json_answer.status(), 422);
    let body: Value = json_answer.json().await.unwrap();
    assert_eq!(body["error"]["field"], "interval-once");
    assert_eq!(form_answer.status(), 422);
    assert!(form_answer.text().await.unwrap().contains("monatlich"));
    assert_eq!(app.count("donations").await, 0);
    assert_eq!(app.stripe.calls().await, 0);
}

#[tokio::test]
async fn a_first_payment_and_two_renewals_are_one_entry_with_every_coffee() {
    let app = spawn_app().await;
    let sub = app
        .monthly(
            "cs_test_m2",
            2,
            json!({"name": "Anna", "message": "Jeden Monat!", "public": true}),
        )
        .await;

    app.first_month(&sub, Some("Anna@Example.org")).await;
    app.renewal(&sub, 1).await;
    let api_after_one: Value = app.get("/api/supporters").await.json().await.unwrap();
    app.renewal(&sub, 2).await;

    let api: Value = app.get("/api/supporters").await.json().await.unwrap();
    let entries = api["supporters"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        1,
        "one entry per subscription, never one per month"
    );
    assert_eq!(entries[0]["coffees"], 6);
    assert_eq!(entries[0]["amount_cents"], 3000);
    assert_eq!(entries[0]["monthly"], true);
    assert_eq!(entries[0]["name"], "Anna");
    assert_eq!(
        entries[0]["created_at"], api_after_one["supporters"][0]["created_at"],
        "a renewal does not move the entry"
    );
    assert_eq!(api["totals"]["supporters"], 1);
    assert_eq!(api["totals"]["coffees"], 6);
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(stats["monthly_supporters"], 1);
    assert!(
        app.get("/supporters")
            .await
            .text()
            .await
            .unwrap()
            .contains("☕ monatlich")
    );
    let hashes = app.email_hashes(&sub.donation_id).await;
    let hash = hashes.first().expect("the address's hash is kept");
    assert!(!hash.contains('@') && hash.len() == 32);
    assert!(
        !in_database_files(&app)("Anna@Example.org") && !in_database_files(&app)("anna@example.org"),
        "the address itself is stored nowhere"
    );
}

#[tokio::test]
async fn the_thanks_page_says_the_monthly_coffee_runs_with_its_next_debit_and_the_manage_link() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_m3", 1, json!({})).await;
    app.first_month(&sub, None).await;

    let page = app
        .get("/thanks?session_id=cs_test_m3")
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("dein monatlicher Kaffee läuft"), "{page}");
    assert!(page.contains("Nächste Abbuchung:"), "{page}");
    assert!(page.contains("1 Kaffee · 5,00\u{a0}€ pro Monat"), "{page}");
    assert!(page.contains("/manage/"), "{page}");
}

#[tokio::test]
async fn a_sepa_first_debit_still_processing_says_so_and_never_failed() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_sepa", 1, json!({})).await;

    app.deliver(
        "evt_sepa",
        "checkout.session.completed",
        sub.session("unpaid", None),
    )
    .await;

    assert_eq!(
        app.column(&sub.donation_id, "status").await.as_deref(),
        Some("processing")
    );
    let page = app
        .get("/thanks?session_id=cs_test_sepa")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Zahlung unterwegs") && page.contains("erste Abbuchung"),
        "{page}"
    );
    assert!(!page.contains("fehlgeschlagen") && !page.contains("nicht abgeschlossen"));
    let mut succeeded = sub.session("paid", None);
    succeeded["payment_status"] = json!("paid");
    app.deliver(
        "evt_sepa_ok",
        "checkout.session.async_payment_succeeded",
        succeeded,
    )
    .await;
    app.renewal(&sub, 0).await;
    assert_eq!(
        app.column(&sub.donation_id, "status").await.as_deref(),
        Some("paid")
    );
    assert_eq!(
        app.column(&sub.donation_id, "coffees").await.as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn a_failed_renewal_shows_on_the_manage_page_until_a_retry_pays_it() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_dun", 1, json!({})).await;
    app.first_month(&sub, None).await;
    let token = manage_token(&app, "cs_test_dun").await;

    app.deliver("evt_fail1", "invoice.payment_failed", sub.invoice(1, "open"))
        .await;
    let failing = app.get(&format!("/manage/{token}")).await.text().await.unwrap();
    app.renewal(&sub, 1).await;
    let paid = app.get(&format!("/manage/{token}")).await.text().await.unwrap();

    assert!(
        failing.contains("Abbuchung fehlgeschlagen – Zahlungsmethode aktualisieren"),
        "{failing}"
    );
    assert!(!paid.contains("Abbuchung fehlgeschlagen"), "{paid}");
    assert_eq!(
        app.column(&sub.donation_id, "coffees").await.as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn a_refund_of_a_renewal_finds_its_month_through_the_invoice_payment() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_rf", 1, json!({})).await;
    app.first_month(&sub, None).await;
    app.renewal(&sub, 1).await;

    app.deliver("evt_rf", "charge.refunded", sub.charge(1, sub.amount))
        .await;
    app.deliver("evt_rf_part", "charge.refunded", sub.charge(0, 200))
        .await;

    assert_eq!(app.event_status("evt_rf").await.as_deref(), Some("applied"));
    assert_eq!(
        app.column(&sub.donation_id, "coffees").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        app.column(&sub.donation_id, "amount_cents").await.as_deref(),
        Some("500")
    );
    assert_eq!(
        app.column(&sub.donation_id, "refunded_cents").await.as_deref(),
        Some("200")
    );
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(stats["amount_cents"], 300, "paid minus refunded");
}

#[tokio::test]
async fn a_refund_arriving_before_its_invoice_payment_waits_and_is_applied_after() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_wait", 1, json!({})).await;
    app.first_month(&sub, None).await;
    let s = &sub.session_id;

    app.deliver("evt_early_refund", "charge.refunded", sub.charge(1, sub.amount))
        .await;
    let waiting = app.event_status("evt_early_refund").await;
    app.deliver(&format!("evt_i1_{s}"), "invoice.paid", sub.invoice(1, "paid"))
        .await;
    app.deliver(
        &format!("evt_p1_{s}"),
        "invoice_payment.paid",
        sub.invoice_payment(1),
    )
    .await;

    assert_eq!(waiting.as_deref(), Some("deferred"));
    assert_eq!(
        app.event_status("evt_early_refund").await.as_deref(),
        Some("applied")
    );
    assert_eq!(
        app.column(&sub.donation_id, "coffees").await.as_deref(),
        Some("1")
    );
}

/// A renewal's payment waits for its invoice, the invoice (of an API version that copies no
/// metadata) for the subscription: when the checkout comes last, settling the invoice teaches the
/// id the payment waits for, and both settle.
#[tokio::test]
async fn events_waiting_on_each_other_all_settle_when_the_checkout_arrives_last() {
    let app = spawn_app().await;
    let sub = Sub::new(
        "00000000-0000-5000-8000-00000000c0de",
        "cs_test_chain",
        1,
        app.price(),
    );
    let mut old_api_invoice = sub.invoice(1, "paid");
    old_api_invoice["parent"] = json!(null);
    old_api_invoice["subscription"] = json!(sub.id);

    app.deliver("evt_chain_pay", "invoice_payment.paid", sub.invoice_payment(1))
        .await;
    app.deliver("evt_chain_inv", "invoice.paid", old_api_invoice)
        .await;
    let waiting = (
        app.event_status("evt_chain_pay").await,
        app.event_status("evt_chain_inv").await,
    );
    app.deliver(
        "evt_chain_session",
        "checkout.session.completed",
        sub.session("paid", None),
    )
    .await;

    assert_eq!(waiting, (Some("deferred".into()), Some("deferred".into())));
    assert_eq!(
        app.event_status("evt_chain_inv").await.as_deref(),
        Some("applied")
    );
    assert_eq!(
        app.event_status("evt_chain_pay").await.as_deref(),
        Some("applied")
    );
    let learned: Option<String> = sqlx::query_scalar("SELECT payment_intent_id FROM invoices WHERE id = ?1")
        .bind(sub.invoice_id(1))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(learned, Some(sub.payment_intent(1)));
    assert_eq!(
        app.column(&sub.donation_id, "coffees").await.as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn subscriptions_and_invoices_we_did_not_start_are_ignored() {
    let app = spawn_app().await;
    let other = Sub::new("shop-1", "cs_shop", 1, 900);
    let mut sub = other.subscription("active", now() + 86_400, json!({}));
    sub["metadata"] = json!({"plan": "gold"});
    let mut invoice = other.invoice(0, "paid");
    invoice["parent"]["subscription_details"]["metadata"] = json!({"plan": "gold"});

    app.deliver("evt_shop_sub", "customer.subscription.created", sub)
        .await;
    app.deliver("evt_shop_inv", "invoice.paid", invoice).await;

    assert_eq!(app.event_status("evt_shop_sub").await.as_deref(), Some("ignored"));
    assert_eq!(app.event_status("evt_shop_inv").await.as_deref(), Some("ignored"));
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn shuffled_and_repeated_delivery_of_a_subscription_ends_like_delivery_in_order() {
    let in_order = spawn_app().await;
    let shuffled = spawn_app().await;
    let a = in_order.monthly("cs_test_order", 2, json!({})).await;
    let b = shuffled.monthly("cs_test_order", 2, json!({})).await;
    let history = |s: &Sub| {
        let mut events = vec![
            ("e1", "checkout.session.completed", s.session("paid", None)),
            (
                "e2",
                "customer.subscription.created",
                s.subscription("active", s.month(1), json!({})),
            ),
            ("e3", "invoice.paid", s.invoice(0, "paid")),
            ("e4", "invoice_payment.paid", s.invoice_payment(0)),
            ("e5", "invoice.payment_failed", s.invoice(1, "open")),
            ("e6", "invoice.paid", s.invoice(1, "paid")),
            ("e7", "invoice_payment.paid", s.invoice_payment(1)),
            ("e8", "charge.refunded", s.charge(1, 300)),
            ("e9", "invoice.paid", s.invoice(2, "paid")),
            ("e10", "invoice_payment.paid", s.invoice_payment(2)),
        ];
        let mut cancel = s.subscription("active", s.month(3), json!({}));
        cancel["cancel_at_period_end"] = json!(true);
        events.push(("e11", "customer.subscription.updated", cancel));
        events
    };

    for (id, kind, object) in history(&a) {
        in_order.deliver(id, kind, object).await;
    }
    let events = history(&b);
    for i in [10, 7, 2, 9, 4, 0, 8, 5, 3, 1, 6, 7, 0, 4] {
        let (id, kind, object) = &events[i];
        let response = shuffled
            .post_webhook(&event(id, kind, object.clone(), now()))
            .await;
        assert_eq!(response.status(), 200);
    }

    for column in [
        "status",
        "coffees",
        "amount_cents",
        "refunded_cents",
        "paid_through",
        "renewal_failed",
        "cancel_at_period_end",
    ] {
        assert_eq!(
            shuffled.column(&b.donation_id, column).await,
            in_order.column(&a.donation_id, column).await,
            "{column}"
        );
    }
    assert_eq!(
        in_order.column(&a.donation_id, "coffees").await.as_deref(),
        Some("6")
    );
    let invoices = |app: &TestApp| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, i64)>(
                "SELECT id, status, refunded_cents FROM invoices ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(invoices(&shuffled).await, invoices(&in_order).await);
}

/// The manage token of the donation behind `session_id`, from its thanks page.
pub async fn manage_token(app: &TestApp, session_id: &str) -> String {
    let page = app
        .get(&format!("/thanks?session_id={session_id}"))
        .await
        .text()
        .await
        .unwrap();
    let start = page.find("/manage/").expect("a manage link") + "/manage/".len();
    let end = start + page[start..].find(['?', '"']).unwrap();
    page[start..end].to_owned()
}

#[tokio::test]
async fn the_thanks_page_settles_a_monthly_checkout_whose_webhook_is_late_by_asking_stripe() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_late", 1, json!({})).await;
    app.stripe
        .session_replies("cs_test_late", sub.session("paid", None), 1)
        .await;

    let page = app
        .get("/thanks?session_id=cs_test_late")
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("dein monatlicher Kaffee läuft"), "{page}");
    assert_eq!(
        app.column(&sub.donation_id, "status").await.as_deref(),
        Some("paid")
    );
    assert_eq!(
        app.column(&sub.donation_id, "subscription_id").await,
        Some(sub.id.clone())
    );
}
