//! Notifications to the blogger: queued with the change, delivered in the background on every
//! channel, retried with backoff, at least once across a crash.

use std::sync::Arc;

use kaffeekasse::config::NotifySettings;
use kaffeekasse::domain::Channel;
use kaffeekasse::notify::{Sender, Targets};
use kaffeekasse::webhook::event::Incoming;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const NOTIFY_SECRET: &str = "notify-secret-0123456789abcdef0123456789";

async fn receiver(route: &str, answer: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

async fn bodies(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap_or_default()
}

/// A sender of the app's outbox to `hook` only, driven by the test with `send_due`.
fn webhook_sender(app: &TestApp, hook: &MockServer) -> Sender {
    Sender::new(
        app.db.clone(),
        Targets::new(notify_settings(hook)).unwrap(),
        Arc::new(kaffeekasse::metrics::Metrics::new()),
        "K".into(),
        app.address.clone(),
    )
}

async fn outbox(app: &TestApp) -> Vec<(String, String, Option<i64>, i64)> {
    sqlx::query_as("SELECT channel, kind, sent_at, attempts FROM notifications ORDER BY channel")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_paid_coffee_reaches_ntfy_the_webhook_and_the_mailbox_signed_and_with_one_id() {
    let (ntfy, hook, smtp) = (
        receiver("/", ResponseTemplate::new(200)).await,
        receiver("/hook", ResponseTemplate::new(204)).await,
        SmtpMock::start(0).await,
    );
    let app = spawn_app_with(&[
        ("NOTIFY_NTFY_URL", &format!("{}/kaffee-topic", ntfy.uri())),
        ("NOTIFY_WEBHOOK_URL", &format!("{}/hook", hook.uri())),
        ("NOTIFY_WEBHOOK_SECRET", NOTIFY_SECRET),
        ("NOTIFY_EMAIL_TO", "blog@example.de"),
        ("SMTP_URL", &smtp.url()),
    ])
    .await;

    app.donation("cs_note")
        .coffees(2)
        .public("Anna", "Danke!")
        .paid()
        .await;

    eventually("three deliveries", || async {
        bodies(&ntfy).await.len() == 1 && bodies(&hook).await.len() == 1 && smtp.messages().len() == 1
    })
    .await;
    let pushed: Value = bodies(&ntfy).await[0].body_json().unwrap();
    assert_eq!(pushed["topic"], "kaffee-topic");
    assert_eq!(pushed["title"], "☕ 2 Kaffees für 10,00\u{a0}€");
    assert!(pushed["message"].as_str().unwrap().contains("Von: Anna"));
    let call = &bodies(&hook).await[0];
    let header = call.headers["kaffeekasse-signature"].to_str().unwrap();
    // Verified the way the README tells a receiver to, not with our own code.
    let parts: std::collections::HashMap<&str, &str> =
        header.split(',').filter_map(|p| p.split_once('=')).collect();
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(NOTIFY_SECRET.as_bytes()).unwrap();
    mac.update(format!("{}.", parts["t"]).as_bytes());
    mac.update(&call.body);
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        parts["v1"],
        "signed as documented"
    );
    assert!((now() - parts["t"].parse::<i64>().unwrap()).abs() < 300);
    let sent: Value = call.body_json().unwrap();
    assert_eq!(sent["type"], "donation.paid");
    assert_eq!(sent["donation"]["coffees"], 2);
    assert_eq!(sent["donation"]["name"], "Anna");
    let id = sent["id"].as_str().unwrap();
    assert_eq!(call.headers["kaffeekasse-id"], id);
    let mail = &smtp.messages()[0];
    assert!(
        mail.contains(&format!("Message-ID: <{id}@kaffeekasse>")),
        "{mail}"
    );
    assert!(mail.contains("To: blog@example.de"), "{mail}");
    eventually("all three recorded as sent", || async {
        outbox(&app).await.iter().all(|(_, _, sent, _)| sent.is_some())
    })
    .await;
    assert_eq!(outbox(&app).await.len(), 3);
}

#[tokio::test]
async fn an_anonymous_coffee_is_notified_without_the_name_and_a_refund_is_news_too() {
    let ntfy = receiver("/", ResponseTemplate::new(200)).await;
    let app = spawn_app_with(&[
        ("NOTIFY_NTFY_URL", &format!("{}/t", ntfy.uri())),
        ("NOTIFY_LANG", "en"),
    ])
    .await;

    let id = app.donation("cs_anon").named("Secret Sam", "psst").paid().await;
    eventually("the coffee", || async { bodies(&ntfy).await.len() == 1 }).await;
    app.deliver(
        "evt_refund",
        "charge.refunded",
        charge("ch_anon", &id, "pi_cs_anon", 500, 500),
    )
    .await;
    eventually("the refund", || async { bodies(&ntfy).await.len() == 2 }).await;

    let first: Value = bodies(&ntfy).await[0].body_json().unwrap();
    assert_eq!(first["title"], "☕ 1 coffee for €5.00");
    assert!(first["message"].as_str().unwrap().contains("From: anonymous"));
    assert!(!first.to_string().contains("Secret Sam") && !first.to_string().contains("psst"));
    let second: Value = bodies(&ntfy).await[1].body_json().unwrap();
    assert_eq!(second["title"], "↩ Refunded: 1 coffee (€5.00)");
}

#[tokio::test]
async fn a_coffee_settled_by_the_thanks_page_is_announced_and_an_erasure_before_sending_is_respected() {
    let app = spawn_app().await;
    // Settled through the snapshot path (the thanks page asking Stripe), not a webhook.
    let id = app.donation("cs_snap").public("Anna", "Danke").create().await;
    let ledger = app.ledger().notifying(vec![Channel::Webhook], Default::default());
    let snapshot = serde_json::from_value(session("cs_snap", &id, "paid", "complete", 500)).unwrap();
    ledger.apply_session_snapshot(&snapshot).await.unwrap();
    assert_eq!(outbox(&app).await.len(), 1, "queued with the snapshot's change");
    // The donor erases their entry before the notification goes out.
    sqlx::query("UPDATE donations SET name = NULL, message = NULL, erased_at = 1 WHERE id = ?1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let hook = receiver("/hook", ResponseTemplate::new(200)).await;
    let sender = webhook_sender(&app, &hook);

    assert_eq!(sender.send_due(now()).await.unwrap().sent, 1);

    let sent: Value = bodies(&hook).await[0].body_json().unwrap();
    assert_eq!(sent["type"], "donation.paid");
    assert!(sent["donation"]["name"].is_null() && !sent.to_string().contains("Anna"));
}

#[tokio::test]
async fn a_hanging_receiver_never_holds_up_a_webhook() {
    // The receiver takes a minute to answer; the sender waits for it in the background.
    let ntfy = receiver(
        "/",
        ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(60)),
    )
    .await;
    let app = spawn_app_with(&[("NOTIFY_NTFY_URL", &format!("{}/t", ntfy.uri()))]).await;
    app.donation("cs_hang_1").paid().await;
    eventually("the sender is waiting on the receiver", || async {
        bodies(&ntfy).await.len() == 1
    })
    .await;

    // Meanwhile Stripe's next webhook is answered, with its notification queued durably.
    app.donation("cs_hang_2").paid().await;

    let queued = outbox(&app).await;
    assert_eq!(queued.len(), 2, "{queued:?}");
    assert!(queued.iter().all(|(_, _, sent, _)| sent.is_none()));
}

fn notify_settings(hook: &MockServer) -> NotifySettings {
    NotifySettings {
        webhook: Some(kaffeekasse::config::NotifyWebhook {
            url: SecretString::from(format!("{}/hook", hook.uri())),
            secret: SecretString::from(NOTIFY_SECRET),
        }),
        ..Default::default()
    }
}

/// A paid session through a ledger that queues webhook notifications, with no sender running.
async fn paid_through_ledger(app: &TestApp, session_id: &str) {
    let id = app.donation(session_id).create().await;
    let ledger = app.ledger().notifying(vec![Channel::Webhook], Default::default());
    let body = event(
        &format!("evt_{session_id}"),
        "checkout.session.completed",
        session(session_id, &id, "paid", "complete", 500),
        now(),
    );
    ledger
        .ingest(Incoming::parse(body.as_bytes()).unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failing_receiver_is_retried_with_backoff_and_gets_the_same_id_each_time() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let app = spawn_app().await;
    paid_through_ledger(&app, "cs_retry").await;
    let sender = webhook_sender(&app, &hook);
    let t0 = now();

    let first = sender.send_due(t0).await.unwrap();
    let early = sender.send_due(t0 + 29).await.unwrap();
    let second = sender.send_due(t0 + 30).await.unwrap();
    let too_soon = sender.send_due(t0 + 89).await.unwrap();
    let third = sender.send_due(t0 + 90).await.unwrap();

    assert_eq!(
        (first.failed, early.failed + early.sent),
        (1, 0),
        "30 s before the first retry"
    );
    assert_eq!(second.failed, 1);
    assert_eq!(too_soon.failed + too_soon.sent, 0, "then 60 s");
    assert_eq!(third.sent, 1);
    let ids: Vec<String> = bodies(&hook)
        .await
        .iter()
        .map(|r| r.headers["kaffeekasse-id"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let row = &outbox(&app).await[0];
    assert_eq!((row.2.is_some(), row.3), (true, 3));
}

#[tokio::test]
async fn after_three_days_of_failures_the_sender_gives_up_and_says_so() {
    let hook = receiver("/hook", ResponseTemplate::new(500)).await;
    let app = spawn_app().await;
    paid_through_ledger(&app, "cs_give_up").await;
    let sender = webhook_sender(&app, &hook);

    sender.send_due(now()).await.unwrap();
    sender.send_due(now() + 3 * 86_400).await.unwrap();
    let after = sender.send_due(now() + 4 * 86_400).await.unwrap();

    assert_eq!(after.sent + after.failed, 0, "nothing is due any more");
    let (failed_at, error): (Option<i64>, Option<String>) =
        sqlx::query_as("SELECT failed_at, last_error FROM notifications")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(failed_at.is_some());
    assert_eq!(error.as_deref(), Some("answered 500 Internal Server Error"));
}

#[tokio::test]
async fn a_notification_queued_before_a_crash_is_sent_after_the_restart() {
    let hook = receiver("/hook", ResponseTemplate::new(200)).await;
    // The first process commits the coffee and its notification, then dies before sending.
    let first = spawn_app().await;
    paid_through_ledger(&first, "cs_crash").await;
    assert_eq!(outbox(&first).await.len(), 1);

    let restarted = spawn_app_with(&[
        ("DATABASE_URL", &first.settings.database.url),
        ("NOTIFY_WEBHOOK_URL", &format!("{}/hook", hook.uri())),
        ("NOTIFY_WEBHOOK_SECRET", NOTIFY_SECRET),
    ])
    .await;

    eventually("the queued notification is sent", || async {
        bodies(&hook).await.len() == 1
    })
    .await;
    eventually("and recorded", || async {
        outbox(&restarted).await[0].2.is_some()
    })
    .await;
}

#[tokio::test]
async fn the_admin_sees_the_outbox_and_can_send_a_test_notification() {
    let smtp = SmtpMock::start(1).await;
    let app = TestApp::with_admin(&[("NOTIFY_EMAIL_TO", "blog@example.de"), ("SMTP_URL", &smtp.url())]).await;
    let page = app.admin_get("/admin/notifications").await.text().await.unwrap();
    assert!(page.contains("<code>email</code>"), "{page}");

    let sent = app
        .client
        .post(app.url("/admin/notifications/test"))
        .bearer_auth(ADMIN_TOKEN)
        .form(&[("csrf", "")])
        .send()
        .await
        .unwrap();

    assert_eq!(sent.status(), 303);
    // The mail server refuses the first attempt: the failure is on the page.
    eventually("the first attempt failed", || async {
        app.admin_get("/admin/notifications")
            .await
            .text()
            .await
            .unwrap()
            .contains("SMTP failed: 451")
    })
    .await;
    let api: Value = app
        .admin_get("/api/admin/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["channels"][0], "email");
    assert_eq!(api["notifications"][0]["kind"], "test");
    assert_eq!(api["notifications"][0]["attempts"], 1);
    let via_api = app.admin_post("/api/admin/notifications/test", None).await;
    assert_eq!(via_api.status(), 202);
    eventually("the second test arrives", || async { smtp.messages().len() == 1 }).await;
    assert!(smtp.messages()[0].contains("Subject: Testbenachrichtigung der Kaffeekasse"));
}

#[tokio::test]
async fn without_channels_nothing_is_queued_and_the_test_button_says_why() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_quiet").paid().await;
    assert!(outbox(&app).await.is_empty());
    let page = app.admin_get("/admin/notifications").await.text().await.unwrap();
    assert!(page.contains("NOTIFY_NTFY_URL"));
    let via_api = app.admin_post("/api/admin/notifications/test", None).await;
    assert_eq!(via_api.status(), 422);
}

/// The thanks page settling a coffee wakes the sender at once, as a webhook does: the blogger
/// does not wait for the sender's next poll, a minute away.
#[tokio::test]
async fn a_coffee_settled_by_the_thanks_page_is_sent_at_once() {
    let hook = receiver("/hook", ResponseTemplate::new(204)).await;
    let app = spawn_app_with(&[
        ("NOTIFY_WEBHOOK_URL", &format!("{}/hook", hook.uri())),
        ("NOTIFY_WEBHOOK_SECRET", NOTIFY_SECRET),
    ])
    .await;
    let id = app
        .donation("cs_test_back")
        .public("Anna", "Danke")
        .create()
        .await;
    app.stripe
        .session_replies(
            "cs_test_back",
            session("cs_test_back", &id, "paid", "complete", 500),
            1,
        )
        .await;

    let thanks = app.get("/thanks?session_id=cs_test_back").await;

    assert_eq!(thanks.status(), 200);
    assert_eq!(app.row("cs_test_back").await.unwrap().status, "paid");
    eventually("the notification, long before the sender's next poll", || async {
        bodies(&hook).await.len() == 1
    })
    .await;
}

/// A deferred event settled when a later one teaches its id is announced at once too: here a
/// dispute naming only a charge we had not seen, then a failed refund (no news of its own)
/// that tells which donation the charge paid.
#[tokio::test]
async fn a_deferred_event_settled_later_is_sent_at_once() {
    let hook = receiver("/hook", ResponseTemplate::new(204)).await;
    let app = spawn_app_with(&[
        ("NOTIFY_WEBHOOK_URL", &format!("{}/hook", hook.uri())),
        ("NOTIFY_WEBHOOK_SECRET", NOTIFY_SECRET),
    ])
    .await;
    let id = app.donation("cs_test_late").paid().await;
    eventually("the coffee", || async { bodies(&hook).await.len() == 1 }).await;
    let mut early = dispute("dp_late", "ch_late", "pi_cs_test_late", "needs_response", 500);
    early["payment_intent"] = Value::Null;
    app.post_webhook(&event(
        "evt_dispute_first",
        "charge.dispute.created",
        early,
        now(),
    ))
    .await;
    assert_eq!(
        app.event_status("evt_dispute_first").await.as_deref(),
        Some("deferred")
    );

    let mut failed = fixture("refund");
    for (k, v) in [
        ("id", json!("re_late")),
        ("amount", json!(100)),
        ("status", json!("failed")),
        ("charge", json!("ch_late")),
        ("payment_intent", json!("pi_cs_test_late")),
        ("metadata", json!({"donation_id": id})),
    ] {
        failed[k] = v;
    }
    app.deliver("evt_refund_failed", "charge.refund.updated", failed)
        .await;

    assert_eq!(
        app.event_status("evt_dispute_first").await.as_deref(),
        Some("applied")
    );
    eventually(
        "the dispute's notification, long before the sender's next poll",
        || async { bodies(&hook).await.len() == 2 },
    )
    .await;
    let sent: Value = bodies(&hook).await[1].body_json().unwrap();
    assert_eq!(sent["type"], "donation.disputed");
}
