//! Retries that can succeed (#18): Stripe saves a request's answer under its idempotency key
//! once it started executing, a 500 included, and replays it. So a 5xx is not retried with the
//! same key, and the reader's next try goes out under a new one; a connection failure, a
//! timeout, a 409 or a 429 is retried once with the same key, as Stripe's own libraries do.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::helpers::*;

fn stripe_error(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {"type": "api_error", "message": "boom"}}))
}

#[tokio::test]
async fn after_a_stripe_500_the_same_form_tried_again_starts_under_a_new_key_and_succeeds() {
    let app = spawn_app().await;
    app.stripe.session_creation_answers(stripe_error(500), 1).await;
    app.stripe
        .session_creation_answers(
            ResponseTemplate::new(200).set_body_json(created_session("cs_test_after")),
            1,
        )
        .await;
    let nonce = nonce_of(&app.get("/").await.text().await.unwrap());
    let form = [("coffees", "1"), ("nonce", nonce.as_str())];

    let failed = app.post_form("/donate", &form).await;
    assert_eq!(failed.status(), 502);
    assert!(
        failed.text().await.unwrap().contains("nicht gestartet"),
        "the try-again page"
    );
    assert_eq!(app.count("donations").await, 0);
    let again = app.post_form("/donate", &form).await;

    assert_eq!(again.status(), 303, "the reader's second try gets a checkout");
    let keys = app.stripe.idempotency_keys().await;
    assert_eq!(keys.len(), 2, "the 500 was not retried with its key: {keys:?}");
    assert_ne!(keys[0], keys[1], "a new key, so Stripe does not replay the 500");
    assert!(app.row("cs_test_after").await.is_some());
}

#[tokio::test]
async fn a_script_s_idempotency_key_is_not_pinned_to_a_500_either() {
    let app = spawn_app().await;
    app.stripe.session_creation_answers(stripe_error(503), 1).await;
    app.stripe
        .session_creation_answers(
            ResponseTemplate::new(200).set_body_json(created_session("cs_test_script")),
            2,
        )
        .await;
    let post = || {
        app.client
            .post(app.url("/donate"))
            .header("Idempotency-Key", "order-4711")
            .json(&json!({"coffees": 1}))
            .send()
    };

    assert_eq!(post().await.unwrap().status(), 502);
    let second = post().await.unwrap();
    let third = post().await.unwrap();

    assert_eq!((second.status().as_u16(), third.status().as_u16()), (200, 200));
    let keys = app.stripe.idempotency_keys().await;
    assert_ne!(keys[0], keys[1]);
    assert_eq!(
        keys[1], keys[2],
        "once it worked, the key stays the same (a double submit)"
    );
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn a_429_and_a_409_are_retried_once_with_the_same_key() {
    for status in [429, 409] {
        let app = spawn_app().await;
        app.stripe.session_creation_answers(stripe_error(status), 1).await;
        app.stripe
            .session_creation_answers(
                ResponseTemplate::new(200).set_body_json(created_session("cs_test_r")),
                1,
            )
            .await;

        let response = app.post_json("/donate", &json!({"coffees": 1})).await;

        assert_eq!(response.status(), 200, "{status}");
        let keys = app.stripe.idempotency_keys().await;
        assert_eq!(keys.len(), 2, "{status}: {keys:?}");
        assert_eq!(keys[0], keys[1], "{status}: the retry carries the same key");
    }
}
