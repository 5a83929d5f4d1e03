//! Each event type's effect, delivered over HTTP as Stripe delivers it.

use serde_json::json;

use crate::helpers::*;

struct Scenario {
    app: TestApp,
    session_id: String,
    donation_id: String,
    pi: String,
    t: i64,
}

/// A donation of `coffees` (× 5 €) created through /donate, not yet paid.
async fn scenario(coffees: u32) -> Scenario {
    let app = spawn_app().await;
    let session_id = "cs_test_sm".to_owned();
    let donation_id = app
        .donation(&session_id)
        .coffees(coffees)
        .public("Anna", "Danke!")
        .create()
        .await;
    Scenario {
        app,
        pi: format!("pi_{session_id}"),
        session_id,
        donation_id,
        t: now(),
    }
}

impl Scenario {
    fn completed(&self, id: &str, payment_status: &str) -> String {
        let amount = self.amount();
        event(
            id,
            "checkout.session.completed",
            session(
                &self.session_id,
                &self.donation_id,
                payment_status,
                "complete",
                amount,
            ),
            self.t,
        )
    }
    fn session_event(&self, id: &str, kind: &str, status: &str) -> String {
        let payment_status = if kind.ends_with("succeeded") {
            "paid"
        } else {
            "unpaid"
        };
        event(
            id,
            kind,
            session(
                &self.session_id,
                &self.donation_id,
                payment_status,
                status,
                self.amount(),
            ),
            self.t + 1,
        )
    }
    fn refunded(&self, id: &str, refunded: i64) -> String {
        event(
            id,
            "charge.refunded",
            charge("ch_sm", &self.donation_id, &self.pi, self.amount(), refunded),
            self.t + 2,
        )
    }
    fn dispute(&self, id: &str, kind: &str, status: &str) -> String {
        event(
            id,
            kind,
            dispute("dp_sm", "ch_sm", &self.pi, status, self.amount()),
            self.t + 3,
        )
    }
    fn amount(&self) -> i64 {
        1000
    }
    async fn deliver(&self, body: &str) {
        let response = self.app.post_webhook(body).await;
        assert_eq!(response.status(), 200, "delivery of {body:.80}");
    }
    async fn status(&self) -> String {
        self.app.row(&self.session_id).await.unwrap().status
    }
}

#[tokio::test]
async fn a_paid_completion_marks_the_donation_paid_and_stores_stripes_amount() {
    let s = scenario(2).await;
    s.deliver(&s.completed("evt_1", "paid")).await;
    let d = s.app.row(&s.session_id).await.unwrap();
    assert_eq!(d.status, "paid");
    assert_eq!((d.amount_cents, d.currency.as_str()), (1000, "eur"));
    assert_eq!(d.payment_intent_id.as_deref(), Some("pi_cs_test_sm"));
    assert!(!d.amount_mismatch);
}

#[tokio::test]
async fn sepa_completed_unpaid_then_succeeded_ends_paid() {
    let s = scenario(2).await;
    s.deliver(&s.completed("evt_1", "unpaid")).await;
    assert_eq!(s.status().await, "processing");
    s.deliver(&s.session_event("evt_2", "checkout.session.async_payment_succeeded", "complete"))
        .await;
    assert_eq!(s.status().await, "paid");
}

#[tokio::test]
async fn sepa_completed_unpaid_then_failed_ends_failed() {
    let s = scenario(2).await;
    s.deliver(&s.completed("evt_1", "unpaid")).await;
    s.deliver(&s.session_event("evt_2", "checkout.session.async_payment_failed", "complete"))
        .await;
    assert_eq!(s.status().await, "failed");
}

#[tokio::test]
async fn an_expired_session_ends_expired() {
    let s = scenario(1).await;
    s.deliver(&s.session_event("evt_1", "checkout.session.expired", "expired"))
        .await;
    assert_eq!(s.status().await, "expired");
}

#[tokio::test]
async fn a_full_refund_ends_refunded_and_a_partial_one_stays_paid_with_the_refunded_amount() {
    let s = scenario(2).await;
    s.deliver(&s.completed("evt_1", "paid")).await;
    s.deliver(&s.refunded("evt_2", 300)).await;
    let d = s.app.row(&s.session_id).await.unwrap();
    assert_eq!((d.status.as_str(), d.refunded_cents), ("paid", 300));
    s.deliver(&s.refunded("evt_3", 1000)).await;
    assert_eq!(s.status().await, "refunded");
}

#[tokio::test]
async fn a_won_dispute_returns_to_paid() {
    let s = scenario(2).await;
    s.deliver(&s.completed("evt_1", "paid")).await;
    s.deliver(&s.dispute("evt_2", "charge.dispute.created", "needs_response"))
        .await;
    assert_eq!(s.status().await, "disputed");
    s.deliver(&s.dispute("evt_3", "charge.dispute.closed", "won"))
        .await;
    assert_eq!(s.status().await, "paid");
}

#[tokio::test]
async fn a_lost_dispute_ends_lost() {
    let s = scenario(2).await;
    s.deliver(&s.completed("evt_1", "paid")).await;
    s.deliver(&s.dispute("evt_2", "charge.dispute.created", "needs_response"))
        .await;
    s.deliver(&s.dispute("evt_3", "charge.dispute.closed", "lost"))
        .await;
    assert_eq!(s.status().await, "lost");
}

#[tokio::test]
async fn a_refund_before_its_donation_is_known_is_deferred_and_applied_later() {
    // A dispute carries only the payment intent, which we learn from the completion.
    let s = scenario(2).await;
    s.deliver(&s.dispute("evt_early", "charge.dispute.created", "needs_response"))
        .await;
    assert_eq!(s.app.event_status("evt_early").await.as_deref(), Some("deferred"));
    assert_eq!(s.status().await, "pending");

    s.deliver(&s.completed("evt_1", "paid")).await;

    assert_eq!(s.app.event_status("evt_early").await.as_deref(), Some("applied"));
    assert_eq!(s.status().await, "disputed");
}

#[tokio::test]
async fn a_completion_after_a_refund_does_not_resurrect_the_entry() {
    let s = scenario(2).await;
    s.deliver(&s.refunded("evt_2", 1000)).await;
    s.deliver(&s.completed("evt_1", "paid")).await;
    assert_eq!(s.status().await, "refunded");
}

#[tokio::test]
async fn an_unpaid_completion_after_async_success_does_not_downgrade() {
    let s = scenario(2).await;
    s.deliver(&s.session_event("evt_2", "checkout.session.async_payment_succeeded", "complete"))
        .await;
    s.deliver(&s.completed("evt_1", "unpaid")).await;
    assert_eq!(s.status().await, "paid");
}

#[tokio::test]
async fn shuffled_and_duplicated_delivery_ends_like_in_order_delivery() {
    // The exhaustive proof is the proptest in domain::lifecycle; this checks the HTTP path agrees.
    let orders: [&[usize]; 4] = [
        &[0, 1, 2, 3],
        &[3, 2, 1, 0],
        &[2, 0, 3, 0, 1, 2],
        &[1, 3, 3, 0, 2, 1],
    ];
    for order in orders {
        let s = scenario(2).await;
        let history = [
            s.completed("evt_a", "unpaid"),
            s.session_event("evt_b", "checkout.session.async_payment_succeeded", "complete"),
            s.refunded("evt_c", 300),
            s.dispute("evt_d", "charge.dispute.created", "needs_response"),
        ];
        for &i in order {
            s.deliver(&history[i]).await;
        }
        let d = s.app.row(&s.session_id).await.unwrap();
        assert_eq!(
            (d.status.as_str(), d.refunded_cents),
            ("disputed", 300),
            "order {order:?}"
        );
    }
}

#[tokio::test]
async fn a_different_amount_from_stripe_is_stored_and_flagged() {
    let s = scenario(2).await;
    let mut object = session(&s.session_id, &s.donation_id, "paid", "complete", 1234);
    object["currency"] = json!("usd");
    s.deliver(&event("evt_1", "checkout.session.completed", object, s.t))
        .await;
    let d = s.app.row(&s.session_id).await.unwrap();
    assert_eq!(
        (d.amount_cents, d.currency.as_str(), d.amount_mismatch),
        (1234, "usd", true)
    );
}

#[tokio::test]
async fn sessions_we_did_not_create_are_ignored() {
    let app = spawn_app().await;
    let mut object = fixture("checkout.session");
    object["payment_status"] = json!("paid");
    object["amount_total"] = json!(4200);
    app.post_webhook(&event("evt_foreign", "checkout.session.completed", object, now()))
        .await;
    assert_eq!(app.event_status("evt_foreign").await.as_deref(), Some("ignored"));
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn a_payment_link_donation_is_recorded_as_coffees_with_its_custom_fields() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_blog,plink_other")]).await;
    let link_session = |id: &str, amount: i64, fields: serde_json::Value| {
        let mut s = fixture("checkout.session");
        s["id"] = json!(id);
        s["payment_link"] = json!("plink_blog");
        s["currency_conversion"] = json!(null);
        s["payment_intent"] = json!(format!("pi_{id}"));
        s["payment_status"] = json!("paid");
        s["status"] = json!("complete");
        s["amount_total"] = json!(amount);
        s["currency"] = json!("eur");
        s["custom_fields"] = fields;
        s
    };
    let named_public = link_session(
        "cs_test_link1",
        1500,
        json!([
            {"key": "name", "label": {"custom": "Name", "type": "custom"}, "optional": true, "type": "text", "text": {"value": "Berta"}},
            {"key": "public", "label": {"custom": "Öffentlich?", "type": "custom"}, "optional": true, "type": "dropdown", "dropdown": {"value": "yes", "options": []}}
        ]),
    );
    let named_only = link_session(
        "cs_test_link2",
        700,
        json!([{"key": "name", "type": "text", "text": {"value": "Carl"}}]),
    );

    app.post_webhook(&event(
        "evt_l1",
        "checkout.session.completed",
        named_public,
        now(),
    ))
    .await;
    app.post_webhook(&event("evt_l2", "checkout.session.completed", named_only, now()))
        .await;

    let d1 = app.row("cs_test_link1").await.expect("recorded");
    assert_eq!(
        (d1.status.as_str(), d1.coffees, d1.amount_cents),
        ("paid", 3, 1500)
    );
    assert_eq!(
        (d1.name.as_deref(), d1.visibility.as_str()),
        (Some("Berta"), "public")
    );
    let d2 = app.row("cs_test_link2").await.expect("recorded");
    assert_eq!(d2.coffees, 1, "700 cents is one coffee, rounded down");
    assert_eq!(
        (d2.name.as_deref(), d2.visibility.as_str()),
        (Some("Carl"), "anonymous")
    );
}

#[tokio::test]
async fn the_thanks_page_settles_a_pending_donation_by_asking_stripe() {
    let s = scenario(2).await;
    let paid = session(&s.session_id, &s.donation_id, "paid", "complete", 1000);
    s.app.stripe.session_replies(&s.session_id, paid, 1).await;

    let page = s
        .app
        .get(&format!("/thanks?session_id={}", s.session_id))
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("Danke!"));
    assert_eq!(s.status().await, "paid");
}

#[tokio::test]
async fn with_adaptive_pricing_the_source_currency_amount_is_recorded() {
    let app = spawn_app_with(&[("STRIPE_PAYMENT_LINKS", "plink_blog")]).await;
    let mut s = fixture("checkout.session");
    s["id"] = json!("cs_test_fx");
    s["payment_link"] = json!("plink_blog");
    s["payment_intent"] = json!("pi_fx");
    s["payment_status"] = json!("paid");
    s["status"] = json!("complete");
    // The reader paid in dollars; the account settles the euro price.
    s["amount_total"] = json!(1180);
    s["currency"] = json!("usd");
    s["currency_conversion"] =
        json!({"amount_subtotal": 1000, "amount_total": 1000, "fx_rate": "1.18", "source_currency": "eur"});

    app.post_webhook(&event("evt_fx", "checkout.session.completed", s, now()))
        .await;

    let d = app.row("cs_test_fx").await.expect("recorded");
    assert_eq!((d.amount_cents, d.currency.as_str(), d.coffees), (1000, "eur", 2));
}
