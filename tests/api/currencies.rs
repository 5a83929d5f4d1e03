//! The list equals the money: refunds in the reader's currency, and disputes by id (#18).

use serde_json::{Value, json};

use crate::helpers::*;

/// A listed Payment Link's paid session whose reader paid `amount` of `currency` for €10
/// (Adaptive Pricing).
fn converted_session(id: &str, amount: i64, currency: &str) -> Value {
    let mut s = link_session(id, "plink_blog");
    s["payment_intent"] = json!(format!("pi_{id}"));
    s["amount_total"] = json!(amount);
    s["currency"] = json!(currency);
    s["currency_conversion"] =
        json!({"amount_subtotal": 1000, "amount_total": 1000, "fx_rate": "0.86", "source_currency": "eur"});
    s
}

/// A `charge.refunded` charge of a Payment Link reader, in the charge's own currency.
fn foreign_charge(id: &str, session: &str, amount: i64, currency: &str, refunded: i64) -> Value {
    let mut c = charge(id, "", &format!("pi_{session}"), amount, refunded);
    c["currency"] = json!(currency);
    c["metadata"] = json!({});
    c
}

async fn totals(app: &TestApp) -> Value {
    let response = app.admin_get("/api/admin/totals").await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("totals")
}

#[tokio::test]
async fn a_full_refund_in_pounds_refunds_the_euro_coffee_and_counts_nothing() {
    let app = TestApp::with_admin(&[("STRIPE_PAYMENT_LINKS", "plink_blog")]).await;
    let session = converted_session("cs_test_gbp", 860, "gbp");
    app.deliver("evt_gbp_paid", "checkout.session.completed", session)
        .await;
    assert_eq!(app.row("cs_test_gbp").await.expect("recorded").status, "paid");

    let refunded = foreign_charge("ch_gbp", "cs_test_gbp", 860, "gbp", 860);
    app.deliver("evt_gbp_refund", "charge.refunded", refunded).await;

    let d = app.row("cs_test_gbp").await.expect("recorded");
    assert_eq!((d.status.as_str(), d.refunded_cents), ("refunded", 1000));
    let totals = totals(&app).await;
    assert_eq!(totals["overall"]["net_cents"], 0, "{totals}");
    assert_eq!(totals["overall"]["refunded_cents"], 1000, "{totals}");
    let wall: Value = app.get("/api/supporters").await.json().await.expect("wall");
    assert_eq!(wall["totals"]["supporters"], 0, "{wall}");
}

#[tokio::test]
async fn a_partial_refund_in_pounds_counts_its_share_of_the_euros() {
    let app = TestApp::with_admin(&[("STRIPE_PAYMENT_LINKS", "plink_blog")]).await;
    app.deliver(
        "evt_gbp_paid",
        "checkout.session.completed",
        converted_session("cs_test_gbp_half", 860, "gbp"),
    )
    .await;
    let refunded = foreign_charge("ch_gbp_half", "cs_test_gbp_half", 860, "gbp", 430);
    app.deliver("evt_gbp_refund", "charge.refunded", refunded).await;

    let d = app.row("cs_test_gbp_half").await.expect("recorded");
    assert_eq!((d.status.as_str(), d.refunded_cents), ("paid", 500));
    assert_eq!(totals(&app).await["overall"]["net_cents"], 500);
    let csv = app
        .admin_get("/api/admin/donations.csv")
        .await
        .text()
        .await
        .expect("csv");
    let line = csv.lines().nth(1).expect("one donation");
    assert!(
        line.contains(r#""1000","500","500","eur""#),
        "amount, refunded, net: {line}"
    );
}

#[tokio::test]
async fn a_partial_refund_in_yen_is_not_taken_for_a_full_one() {
    let app = TestApp::with_admin(&[("STRIPE_PAYMENT_LINKS", "plink_blog")]).await;
    app.deliver(
        "evt_jpy_paid",
        "checkout.session.completed",
        converted_session("cs_test_jpy", 1700, "jpy"),
    )
    .await;
    // 1000 yen is a little more than half of the 1,700 yen charge, and also the number of euro
    // cents the coffee cost: compared across currencies it looked like a full refund.
    let refund = {
        let mut r = fixture("refund");
        for (k, v) in [
            ("id", json!("re_jpy")),
            ("amount", json!(1000)),
            ("currency", json!("jpy")),
            ("status", json!("succeeded")),
            ("charge", json!("ch_jpy")),
            ("payment_intent", json!("pi_cs_test_jpy")),
            ("metadata", json!({})),
        ] {
            r[k] = v;
        }
        r
    };
    app.deliver("evt_jpy_refund", "charge.refund.updated", refund)
        .await;

    let d = app.row("cs_test_jpy").await.expect("recorded");
    assert_eq!((d.status.as_str(), d.refunded_cents), ("paid", 588));
    assert_eq!(totals(&app).await["overall"]["net_cents"], 412);
}

#[tokio::test]
async fn a_second_dispute_after_a_won_one_marks_the_entry_disputed_again() {
    let app = spawn_app().await;
    let id = app.donation("cs_test_dp").public("Anna", "Danke").paid().await;
    let of_charge =
        |dispute_id: &str, status: &str| dispute(dispute_id, "ch_dp", "pi_cs_test_dp", status, 1000);
    app.deliver(
        "evt_dp1_open",
        "charge.dispute.created",
        of_charge("dp_1", "needs_response"),
    )
    .await;
    app.deliver("evt_dp1_won", "charge.dispute.closed", of_charge("dp_1", "won"))
        .await;
    assert_eq!(app.row("cs_test_dp").await.unwrap().status, "paid");

    app.deliver(
        "evt_dp2_open",
        "charge.dispute.created",
        of_charge("dp_2", "needs_response"),
    )
    .await;

    assert_eq!(app.row("cs_test_dp").await.unwrap().status, "disputed", "{id}");
    let wall: Value = app.get("/api/supporters").await.json().await.expect("wall");
    assert_eq!(
        wall["totals"]["supporters"], 0,
        "a disputed coffee is not shown: {wall}"
    );
}
