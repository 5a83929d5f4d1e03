use crate::helpers::*;

async fn paid_event(app: &TestApp, session_id: &str) -> String {
    let donation_id = app.donation(session_id).named("Anna", "Danke!").create().await;
    event(
        "evt_sec_1",
        "checkout.session.completed",
        session(session_id, &donation_id, "paid", "complete", 500),
        now(),
    )
}

#[tokio::test]
async fn tampered_wrong_secret_stale_and_missing_signatures_are_rejected_with_400_and_store_nothing() {
    let app = spawn_app().await;
    let body = paid_event(&app, "cs_test_sec").await;
    let tampered = body.replace("\"amount_total\":500", "\"amount_total\":5");
    assert_ne!(tampered, body);
    let cases: Vec<(&str, String, Option<String>)> = vec![
        (
            "tampered body",
            tampered,
            Some(sign_now(&body, &[WEBHOOK_SECRET])),
        ),
        (
            "wrong secret",
            body.clone(),
            Some(sign_now(&body, &["whsec_attacker"])),
        ),
        (
            "stale timestamp",
            body.clone(),
            Some(sign_at(&body, &[WEBHOOK_SECRET], now() - 301)),
        ),
        (
            "future timestamp",
            body.clone(),
            Some(sign_at(&body, &[WEBHOOK_SECRET], now() + 301)),
        ),
        ("missing header", body.clone(), None),
        ("malformed header", body.clone(), Some("garbage".into())),
    ];
    for (name, sent, header) in cases {
        let response = app.post_webhook_with(&sent, header.as_deref()).await;
        assert_eq!(response.status(), 400, "{name}");
    }
    assert_eq!(app.count("stripe_events").await, 0);
    assert_eq!(app.row("cs_test_sec").await.unwrap().status, "pending");
}

#[tokio::test]
async fn with_two_secrets_configured_either_one_verifies() {
    let secrets = format!("{WEBHOOK_SECRET},{OTHER_SECRET}");
    let app = spawn_app_with(&[("STRIPE_WEBHOOK_SECRET", &secrets)]).await;
    let d1 = app
        .donation("cs_test_rot1")
        .named("Anna", "Danke!")
        .create()
        .await;
    let d2 = app
        .donation("cs_test_rot2")
        .named("Anna", "Danke!")
        .create()
        .await;
    let e1 = event(
        "evt_rot_1",
        "checkout.session.completed",
        session("cs_test_rot1", &d1, "paid", "complete", 500),
        now(),
    );
    let e2 = event(
        "evt_rot_2",
        "checkout.session.completed",
        session("cs_test_rot2", &d2, "paid", "complete", 500),
        now(),
    );

    let r1 = app
        .post_webhook_with(&e1, Some(&sign_now(&e1, &[WEBHOOK_SECRET])))
        .await;
    let r2 = app
        .post_webhook_with(&e2, Some(&sign_now(&e2, &[OTHER_SECRET])))
        .await;

    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (200, 200));
    assert_eq!(app.row("cs_test_rot1").await.unwrap().status, "paid");
    assert_eq!(app.row("cs_test_rot2").await.unwrap().status, "paid");
}

#[tokio::test]
async fn a_replayed_event_changes_nothing() {
    let app = spawn_app().await;
    let body = paid_event(&app, "cs_test_replay").await;

    let first = app.post_webhook(&body).await;
    let again = app.post_webhook(&body).await;

    assert_eq!(first.status(), 200);
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(app.count("stripe_events").await, 1);
    assert_eq!(app.count("donations").await, 1);
    assert_eq!(app.row("cs_test_replay").await.unwrap().status, "paid");
}

#[tokio::test]
async fn an_oversized_body_answers_413() {
    let app = spawn_app().await;
    let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024));
    let response = app.post_webhook(&body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.count("stripe_events").await, 0);
}

#[tokio::test]
async fn invalid_json_behind_a_valid_signature_answers_400() {
    let app = spawn_app().await;
    let response = app.post_webhook("{\"id\": \"evt_broken\", ").await;
    assert_eq!(response.status(), 400);
    assert_eq!(app.count("stripe_events").await, 0);
}

#[tokio::test]
async fn a_livemode_mismatch_answers_400_and_is_not_applied() {
    let app = spawn_app().await;
    let body = paid_event(&app, "cs_test_live")
        .await
        .replace("\"livemode\":false", "\"livemode\":true");

    let response = app.post_webhook(&body).await;

    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("livemode mismatch"));
    assert_eq!(app.count("stripe_events").await, 0);
    assert_eq!(app.row("cs_test_live").await.unwrap().status, "pending");
}

#[tokio::test]
async fn an_unknown_event_type_is_stored_as_ignored_and_answered_200() {
    let app = spawn_app().await;
    let body = event(
        "evt_plan",
        "plan.created",
        fixture("event")["data"]["object"].clone(),
        now(),
    );

    let response = app.post_webhook(&body).await;

    assert_eq!(response.status(), 200);
    assert_eq!(app.event_status("evt_plan").await.as_deref(), Some("ignored"));
}
