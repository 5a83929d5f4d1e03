//! The edges of monthly coffees found in review: a declaration from another site, twice, or
//! before its subscription's events; the amount a coupon or credit leaves; a shop's invoice in
//! a newer API version; the end of a paid monthly coffee that nobody cancelled; a month's CSV;
//! the portal's shared budget.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;
use crate::monthly::manage_token;

fn ended(sub: &Sub) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(sub.subscription(
        "canceled",
        sub.month(1),
        json!({"ended_at": now(), "cancellation_details": {"reason": "cancellation_requested"}}),
    ))
}

fn declare<'a>(
    app: &'a TestApp,
    origin: Option<&'a str>,
    form: &'a [(&'a str, &'a str)],
) -> reqwest::RequestBuilder {
    let request = app.client.post(app.url("/kuendigen?lang=de")).form(form);
    match origin {
        Some(origin) => request.header("Origin", origin),
        None => request,
    }
}

/// Each declaration: its state, how many monthly coffees it ended, its note.
async fn declarations(app: &TestApp) -> Vec<(String, i64, Option<String>)> {
    sqlx::query_as("SELECT state, cancelled, last_error FROM cancellations ORDER BY created_at")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_declaration_from_another_site_or_from_no_page_is_refused_with_403_and_nothing_is_stored() {
    let app = spawn_app().await;
    let form = [("email", "victim@example.org")];

    let foreign = declare(&app, Some("https://evil.example"), &form)
        .send()
        .await
        .unwrap();
    let bare = declare(&app, None, &form).send().await.unwrap();
    let ours = declare(&app, Some(&app.address), &form).send().await.unwrap();

    assert_eq!((foreign.status().as_u16(), bare.status().as_u16()), (403, 403));
    assert_eq!(ours.status(), 303);
    assert_eq!(app.count("cancellations").await, 1, "only our own page's");
}

#[tokio::test]
async fn the_same_declaration_sent_twice_is_one_declaration_with_one_confirmation() {
    let app = spawn_app().await;
    let form = [
        ("email", "twice@example.org"),
        ("name", "Tom"),
        ("when", "period_end"),
    ];

    let first = declare(&app, Some(&app.address), &form).send().await.unwrap();
    let second = declare(&app, Some(&app.address), &form).send().await.unwrap();
    let other = [("email", "twice@example.org"), ("name", "Tom"), ("when", "now")];
    let different = declare(&app, Some(&app.address), &other).send().await.unwrap();

    assert_eq!((first.status().as_u16(), second.status().as_u16()), (303, 303));
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    assert_ne!(first.headers()["location"], different.headers()["location"]);
    assert_eq!(app.count("cancellations").await, 2);
}

#[tokio::test]
async fn a_declaration_made_before_the_subscriptions_events_arrive_is_carried_out_when_they_do() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_e1", 1, json!({})).await;
    app.stripe.cancel_answers(&sub.id, ended(&sub), 1).await;

    let response = declare(&app, Some(&app.address), &[("email", "early@example.org")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    eventually("the declaration found nothing yet", || async {
        declarations(&app).await.first().is_some_and(|d| d.0 == "done")
    })
    .await;
    app.first_month(&sub, Some("early@example.org")).await;

    eventually("the late subscription is ended", || async {
        app.column(&sub.donation_id, "ended_at").await.is_some()
    })
    .await;
    eventually("the declaration counts it", || async {
        declarations(&app)
            .await
            .first()
            .is_some_and(|d| d.0 == "done" && d.1 == 1)
    })
    .await;
}

#[tokio::test]
async fn a_retried_declaration_never_ends_a_monthly_coffee_started_after_it() {
    let app = spawn_app().await;
    let old = app.monthly("cs_test_e2", 1, json!({})).await;
    app.first_month(&old, Some("both@example.org")).await;
    app.stripe
        .cancel_answers(
            &old.id,
            ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})),
            1,
        )
        .await;
    declare(&app, Some(&app.address), &[("email", "both@example.org")])
        .send()
        .await
        .unwrap();
    eventually("Stripe's 500 leaves the declaration pending", || async {
        sqlx::query_scalar::<_, i64>("SELECT tries FROM cancellations")
            .fetch_optional(&app.pool)
            .await
            .unwrap()
            == Some(1)
    })
    .await;
    let new = app.monthly("cs_test_e3", 2, json!({})).await;
    // On the test's clock: the new monthly coffee was started a minute after the declaration.
    sqlx::query("UPDATE donations SET created_at = created_at + 60 WHERE id = ?1")
        .bind(&new.donation_id)
        .execute(&app.pool)
        .await
        .unwrap();
    app.first_month(&new, Some("both@example.org")).await;
    app.stripe.cancel_answers(&old.id, ended(&old), 1).await;

    crate::cancel::worker(&app)
        .await
        .work_due(now() + 7200)
        .await
        .unwrap();

    assert!(app.column(&old.donation_id, "ended_at").await.is_some());
    assert_eq!(app.column(&new.donation_id, "ended_at").await, None);
    assert!(
        app.stripe
            .keys_to(&format!("/v1/subscriptions/{}", new.id))
            .await
            .is_empty()
    );
    assert_eq!(declarations(&app).await[0].1, 1);
}

#[tokio::test]
async fn a_month_paid_partly_by_a_coupon_or_credit_counts_what_the_invoice_says_was_paid() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_e4", 2, json!({})).await;
    let mut invoice = sub.invoice(0, "paid");
    invoice["amount_paid"] = json!(600);
    invoice["total"] = json!(600);

    // The invoice first, then the checkout's larger total: the paid amount stands either way.
    app.deliver("evt_e4_inv", "invoice.paid", invoice).await;
    app.deliver(
        "evt_e4_s",
        "checkout.session.completed",
        sub.session("paid", None),
    )
    .await;

    assert_eq!(
        app.column(&sub.donation_id, "amount_cents").await.as_deref(),
        Some("600")
    );
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(stats["amount_cents"], 600);
}

#[tokio::test]
async fn a_shops_invoice_whose_copied_metadata_is_not_ours_is_ignored_not_deferred() {
    let app = spawn_app().await;
    let shop = Sub::new("shop-2", "cs_shop2", 1, 900);
    let mut invoice = shop.invoice(0, "paid");
    invoice["parent"]["subscription_details"]["metadata"] = json!({});

    app.deliver("evt_shop2_inv", "invoice.paid", invoice).await;

    assert_eq!(
        app.event_status("evt_shop2_inv").await.as_deref(),
        Some("ignored")
    );
    assert_eq!(app.count("invoices").await, 0);
}

#[tokio::test]
async fn a_paid_monthly_coffee_ended_by_failed_debits_is_news_of_its_own_and_an_unpaid_one_is_none() {
    let (app, hook) = app_notifying_a_hook().await;
    let paid = app.monthly("cs_test_e5", 1, json!({})).await;
    app.first_month(&paid, None).await;
    let never = app.monthly("cs_test_e6", 1, json!({})).await;
    let gave_up = |s: &Sub| {
        s.subscription(
            "canceled",
            s.month(1),
            json!({"ended_at": now(), "cancellation_details": {"reason": "payment_failed"}}),
        )
    };

    app.deliver("evt_e5_end", "customer.subscription.deleted", gave_up(&paid))
        .await;
    app.deliver("evt_e6_end", "customer.subscription.deleted", gave_up(&never))
        .await;

    eventually("two notifications", || async {
        notified_kinds(&hook).await.len() == 2
    })
    .await;
    assert_eq!(
        notified_kinds(&hook).await,
        ["donation.ended", "donation.monthly"]
    );
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 2, "none for the monthly coffee that never paid");
}

fn month_of(at: i64) -> String {
    let date = time::OffsetDateTime::from_unix_timestamp(at).unwrap().date();
    format!("{}-{:02}", date.year(), u8::from(date.month()))
}

#[tokio::test]
async fn a_months_csv_lists_the_months_paid_in_it_and_adds_up_to_that_months_totals() {
    let app = TestApp::with_admin(&[]).await;
    let sub = app.monthly("cs_test_e7", 1, json!({})).await;
    app.first_month(&sub, None).await;
    app.renewal(&sub, 1).await;
    let month = month_of(sub.month(1));
    let expected: Vec<String> = (0..2)
        .filter(|n| month_of(sub.month(*n)) == month)
        .map(|n| sub.invoice_id(n))
        .collect();

    let csv = app
        .admin_get(&format!("/api/admin/donations.csv?month={month}"))
        .await
        .text()
        .await
        .unwrap();
    let totals: Value = app.admin_get("/api/admin/totals").await.json().await.unwrap();

    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let mut listed: Vec<String> = rows.iter().map(|r| r[col("invoice_id")].to_owned()).collect();
    listed.sort();
    assert_eq!(
        listed, expected,
        "the months paid in {month}, not the entry's own month"
    );
    let gross: i64 = rows
        .iter()
        .map(|r| r[col("amount_cents")].parse::<i64>().unwrap())
        .sum();
    let of_month = totals["months"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["month"] == month.as_str())
        .unwrap();
    assert_eq!(gross, of_month["gross_cents"].as_i64().unwrap());
}

#[tokio::test]
async fn all_manage_links_together_open_at_most_ten_portal_sessions_a_minute() {
    let app = spawn_app_with(&[("MANAGE_RATE_PER_IP", "off")]).await;
    let sub = app.monthly("cs_test_e8", 1, json!({})).await;
    app.first_month(&sub, None).await;
    let token = manage_token(&app, "cs_test_e8").await;
    let mut portal = fixture("billing_portal.session");
    portal["url"] = json!("https://billing.stripe.com/p/session/test_portal");
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(portal))
        .expect(10)
        .mount(&app.stripe.server)
        .await;

    let mut places = Vec::new();
    for _ in 0..11 {
        let response = app
            .client
            .post(app.url(&format!("/manage/{token}/payment-method")))
            .header("Origin", &app.address)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        places.push(response.headers()["location"].to_str().unwrap().to_owned());
    }

    assert!(
        places[..10]
            .iter()
            .all(|l| l.starts_with("https://billing.stripe.com/"))
    );
    assert!(places[10].contains("portal=unavailable"), "{}", places[10]);
}

#[tokio::test]
async fn a_subscription_stripe_does_not_know_counts_as_done_with_nothing_ended_and_a_note() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_e9", 1, json!({})).await;
    app.first_month(&sub, Some("other-account@example.org")).await;
    app.stripe
        .cancel_answers(
            &sub.id,
            ResponseTemplate::new(404).set_body_json(
                json!({"error": {"type": "invalid_request_error", "code": "resource_missing"}}),
            ),
            1,
        )
        .await;

    declare(
        &app,
        Some(&app.address),
        &[("email", "other-account@example.org")],
    )
    .send()
    .await
    .unwrap();

    eventually("the declaration is done", || async {
        declarations(&app).await.first().is_some_and(|d| d.0 == "done")
    })
    .await;
    let (_, cancelled, note) = declarations(&app).await.remove(0);
    assert_eq!(cancelled, 0, "nothing was ended here");
    assert!(note.is_some_and(|n| n.contains("Stripe does not know")));
}
