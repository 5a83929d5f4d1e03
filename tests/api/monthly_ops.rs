//! Monthly coffees around the money: the whole flow in the zero-setup demo, the blogger's
//! figures, the CSV, the notifications, the daily sweep, and `kaffeekasse stripe webhook-*`.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn the_demo_runs_a_monthly_coffee_from_the_form_through_renewals_and_a_failed_debit_to_its_end() {
    let app = spawn_demo_app().await;
    let home = app.get("/").await.text().await.unwrap();
    let nonce = nonce_of(&home);
    assert!(home.contains("value=\"month\"") && home.contains("jederzeit online kündbar"));

    let started = app
        .post_form(
            "/donate",
            &[
                ("coffees", "2"),
                ("interval", "month"),
                ("nonce", &nonce),
                ("public", "on"),
                ("name", "Demo-Anna"),
            ],
        )
        .await;
    let checkout = started.headers()["location"].to_str().unwrap().to_owned();
    let checkout_path = checkout.trim_start_matches(&app.address).to_owned();
    let page = app.get(&checkout_path).await.text().await.unwrap();
    assert!(
        page.contains("pro Monat") && page.contains("type=\"email\""),
        "{page}"
    );
    let pay_path = checkout_path.replace("?lang=de", "/pay?lang=de");
    let paid = app.post_form(&pay_path, &[("email", "demo@example.org")]).await;
    let thanks = paid.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches(&app.address)
        .to_owned();
    let thanks_page = app.get(&thanks).await.text().await.unwrap();
    assert!(
        thanks_page.contains("dein monatlicher Kaffee läuft"),
        "{thanks_page}"
    );
    let start = thanks_page.find("/manage/").unwrap() + "/manage/".len();
    let token = thanks_page[start..start + thanks_page[start..].find('?').unwrap()].to_owned();
    let press = |what: &'static str| {
        app.client
            .post(app.url(&format!("/manage/{token}/demo/{what}?lang=de")))
            .header("Origin", &app.address)
            .send()
    };
    let coffees = || async {
        let api: Value = app.get("/api/supporters").await.json().await.unwrap();
        api["supporters"][0]["coffees"].as_i64().unwrap()
    };
    assert_eq!(coffees().await, 2);

    assert_eq!(press("renew").await.unwrap().status(), 303);
    assert_eq!(coffees().await, 4);
    assert_eq!(press("fail").await.unwrap().status(), 303);
    let failing = app.get(&format!("/manage/{token}")).await.text().await.unwrap();
    assert!(failing.contains("Abbuchung fehlgeschlagen – Zahlungsmethode aktualisieren"));
    assert_eq!(
        press("renew").await.unwrap().status(),
        303,
        "Stripe's retry pays the failed month"
    );
    let paid_again = app.get(&format!("/manage/{token}")).await.text().await.unwrap();
    assert!(!paid_again.contains("Abbuchung fehlgeschlagen") && paid_again.contains("Bisher: 6 Kaffees"));
    let api: Value = app.get("/api/supporters").await.json().await.unwrap();
    assert_eq!(
        (
            api["supporters"][0]["monthly"].as_bool(),
            api["supporters"].as_array().unwrap().len()
        ),
        (Some(true), 1)
    );

    let declared = app
        .post_page_form("/kuendigen?lang=de", &[("email", "DEMO@example.org")])
        .await;
    assert_eq!(declared.status(), 303);
    eventually("the demo subscription ended", || async {
        let api: Value = app.get("/api/supporters").await.json().await.unwrap();
        api["supporters"][0]["monthly"] == false
    })
    .await;
    let ended = app.get(&format!("/manage/{token}")).await.text().await.unwrap();
    assert!(ended.contains("Beendet am"), "{ended}");
    assert_eq!(coffees().await, 6, "the entry stays with every coffee it paid");
}

#[tokio::test]
async fn the_blogger_sees_running_monthly_coffees_their_monthly_amount_and_who_ended_why() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_once").coffees(1).paid().await;
    let a = app.monthly("cs_test_a1", 2, json!({})).await;
    app.first_month(&a, None).await;
    app.renewal(&a, 1).await;
    let b = app.monthly("cs_test_a2", 1, json!({})).await;
    app.first_month(&b, None).await;
    let cancelled = b.subscription(
        "canceled",
        b.month(1),
        json!({"ended_at": now(), "cancellation_details": {"reason": "cancellation_requested"}}),
    );
    app.deliver("evt_b_end", "customer.subscription.deleted", cancelled)
        .await;

    let totals: Value = app.admin_get("/api/admin/totals").await.json().await.unwrap();
    let listed: Value = app
        .admin_get("/api/admin/donations?status=monthly")
        .await
        .json()
        .await
        .unwrap();
    let page = app
        .admin_get(&format!("/admin/donations/{}", a.donation_id))
        .await
        .text()
        .await
        .unwrap();

    assert_eq!(totals["monthly"]["active"], 1);
    assert_eq!(totals["monthly"]["recurring_cents"], 1000);
    let ended = totals["monthly"]["ended"].as_array().unwrap();
    assert_eq!(ended.len(), 12);
    assert_eq!(
        (ended[0]["voluntary"].as_i64(), ended[0]["involuntary"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        totals["overall"]["donations"], 4,
        "one coffee and three paid months"
    );
    assert_eq!(totals["overall"]["gross_cents"], 500 + 1000 + 1000 + 500);
    assert_eq!(listed["donations"].as_array().unwrap().len(), 2);
    assert!(
        listed["donations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["interval"] == "month")
    );
    assert!(
        page.contains(&a.invoice_id(1)) && page.contains(&a.id) && page.contains("active"),
        "{page}"
    );
}

#[tokio::test]
async fn the_csv_has_a_line_per_month_with_kind_subscription_and_invoice_and_adds_up_to_the_money() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_once_csv").coffees(3).paid().await;
    let sub = app.monthly("cs_test_csv", 1, json!({})).await;
    app.first_month(&sub, None).await;
    app.renewal(&sub, 1).await;
    app.deliver("evt_csv_refund", "charge.refunded", sub.charge(1, 200))
        .await;

    let csv = app
        .admin_get("/api/admin/donations.csv")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();

    assert_eq!(rows.len(), 3, "one coffee, two months");
    let months: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[col("kind")] == "month").collect();
    assert_eq!(months.len(), 2);
    assert!(months.iter().all(|r| r[col("subscription_id")] == *sub.id));
    let mut invoices: Vec<&str> = months.iter().map(|r| &r[col("invoice_id")]).collect();
    invoices.sort();
    assert_eq!(invoices, [sub.invoice_id(0), sub.invoice_id(1)]);
    let net: i64 = rows
        .iter()
        .filter(|r| &r[col("status")] == "paid")
        .map(|r| r[col("net_cents")].parse::<i64>().unwrap())
        .sum();
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(
        net,
        stats["amount_cents"].as_i64().unwrap(),
        "the CSV adds up to the money"
    );
    assert_eq!(net, 1500 + 500 + 300);
}

#[tokio::test]
async fn a_new_monthly_supporter_each_renewal_a_failed_debit_and_a_cancellation_are_news() {
    let (app, hook) = app_notifying_a_hook().await;
    let sub = app.monthly("cs_test_news", 1, json!({})).await;

    app.first_month(&sub, None).await;
    app.renewal(&sub, 1).await;
    app.deliver("evt_news_fail", "invoice.payment_failed", sub.invoice(2, "open"))
        .await;
    let mut scheduled = sub.subscription("active", sub.month(3), json!({}));
    scheduled["cancel_at_period_end"] = json!(true);
    app.deliver("evt_news_cancel", "customer.subscription.updated", scheduled)
        .await;

    let expected = [
        "donation.monthly",
        "donation.renewal",
        "donation.renewal_failed",
        "donation.cancelled",
    ];
    eventually("four notifications", || async {
        notified_kinds(&hook).await.len() == expected.len()
    })
    .await;
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(notified_kinds(&hook).await, want);
}

#[tokio::test]
async fn the_daily_sweep_finds_a_renewal_whose_event_never_came() {
    let app = spawn_app().await;
    let sub = app.monthly("cs_test_sweep", 1, json!({})).await;
    app.first_month(&sub, None).await;
    let active = sub.subscription("active", sub.month(2), json!({}));
    app.stripe
        .retrieve_answers(&sub.id, ResponseTemplate::new(200).set_body_json(active), 1)
        .await;
    let mut renewed = sub.invoice(1, "paid");
    renewed["payments"] = json!({"object": "list", "data": [sub.invoice_payment(1)]});
    Mock::given(method("GET"))
        .and(path("/v1/invoices"))
        .and(query_param("subscription", sub.id.as_str()))
        .and(query_param("status", "paid"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"object": "list", "data": [sub.invoice(0, "paid"), renewed]})),
        )
        .expect(1)
        .mount(&app.stripe.server)
        .await;
    let provider = kaffeekasse::payments::Provider::Stripe(Box::new(app.stripe_provider()));

    let report = kaffeekasse::reconcile::sweep_subscriptions(&app.db, &app.ledger(), &provider)
        .await
        .unwrap();
    let again = kaffeekasse::reconcile::sweep_subscriptions(&app.db, &app.ledger(), &provider)
        .await
        .unwrap();

    assert_eq!(
        (report.checked, again.checked),
        (1, 0),
        "asked at most once a day"
    );
    assert_eq!(
        app.column(&sub.donation_id, "coffees").await.as_deref(),
        Some("2")
    );
    let learned: Option<String> = sqlx::query_scalar("SELECT payment_intent_id FROM invoices WHERE id = ?1")
        .bind(sub.invoice_id(1))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        learned,
        Some(sub.payment_intent(1)),
        "its payment, for a later refund"
    );
}

#[tokio::test]
async fn webhook_setup_creates_the_endpoint_once_then_adds_what_is_missing_and_check_reports_it() {
    let stripe = MockServer::start().await;
    let url = "https://kaffee.example.de/webhooks/stripe";
    let mut created = fixture("webhook_endpoint");
    created["id"] = json!("we_new");
    created["url"] = json!(url);
    created["secret"] = json!("whsec_shown_once");
    Mock::given(method("GET"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": []})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&stripe)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(ResponseTemplate::new(200).set_body_json(created))
        .expect(1)
        .mount(&stripe)
        .await;
    let vars = [
        ("STRIPE_API_BASE", stripe.uri()),
        ("STRIPE_WEBHOOK_SECRET", "whsec_x".to_owned()),
        ("DATABASE_URL", "sqlite::memory:".to_owned()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let setup = kaffeekasse(
        &["stripe", "webhook-setup", "--url", url, "--key", "rk_test_setup"],
        &vars,
    );

    assert!(setup.status.success(), "{}", text(&setup.stderr));
    let out = text(&setup.stdout);
    assert!(out.contains("STRIPE_WEBHOOK_SECRET=whsec_shown_once"), "{out}");
    let requests = stripe.received_requests().await.unwrap();
    let body = String::from_utf8_lossy(&requests[1].body).into_owned();
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let sent: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k.starts_with("enabled_events"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(sent, kaffeekasse::webhook::event::HANDLED_TYPES);
    assert_eq!(requests[1].headers["authorization"], "Bearer rk_test_setup");

    let mut partial = fixture("webhook_endpoint");
    partial["id"] = json!("we_old");
    partial["url"] = json!(url);
    partial["enabled_events"] = json!(["checkout.session.completed", "customer.created"]);
    Mock::given(method("GET"))
        .and(path("/v1/webhook_endpoints"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": [partial]})))
        .mount(&stripe)
        .await;
    let check = kaffeekasse(&["stripe", "webhook-check", "--key", "rk_test_setup"], &vars);
    assert_eq!(check.status.code(), Some(1), "a missing type fails the check");
    let report = text(&check.stdout);
    assert!(
        report.contains("missing: ")
            && report.contains("invoice.paid")
            && report.contains("extra (stored as ignored): customer.created"),
        "{report}"
    );
}
