use serde_json::{Value, json};

use wiremock::ResponseTemplate;

use crate::helpers::*;

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).expect("Stripe request is form-encoded")
}

#[tokio::test]
async fn a_form_donation_sends_the_exact_checkout_parameters_and_redirects_with_303() {
    let app = spawn_app_with(&[("BLOG_URL", "https://blog.example.de/")]).await;
    app.stripe.session_created("cs_test_form").await;

    let response = app
        .post_form(
            "/donate",
            &[
                ("coffees", "2"),
                ("name", "Anna"),
                ("message", "Hallo"),
                ("public", "on"),
            ],
        )
        .await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://checkout.stripe.com/c/pay/cs_test_form"
    );
    let requests = app.stripe.server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.headers["authorization"], "Bearer sk_test_kaffeekasse");
    let donation = app.row("cs_test_form").await.expect("row stored");
    assert_eq!(
        request.headers["idempotency-key"].to_str().unwrap(),
        format!("kaffeekasse-checkout-{}", donation.id)
    );
    let mut params = form_pairs(&request.body);
    params.sort();
    let mut expected: Vec<(String, String)> = [
        ("adaptive_pricing[enabled]", "false".to_owned()),
        ("cancel_url", "https://blog.example.de/".to_owned()),
        ("client_reference_id", donation.id.clone()),
        ("line_items[0][price_data][currency]", "eur".into()),
        ("line_items[0][price_data][product_data][name]", "Kaffee".into()),
        ("line_items[0][price_data][unit_amount]", "500".into()),
        ("line_items[0][quantity]", "2".into()),
        ("locale", "de".into()),
        ("metadata[coffees]", "2".into()),
        ("metadata[donation_id]", donation.id.clone()),
        ("metadata[kaffeekasse]", "1".into()),
        ("mode", "payment".into()),
        ("payment_intent_data[metadata][donation_id]", donation.id.clone()),
        (
            "payment_intent_data[description]",
            "Kaffeekasse: 2 Kaffees".into(),
        ),
        (
            "payment_intent_data[statement_descriptor_suffix]",
            "KAFFEE".into(),
        ),
        (
            "custom_text[submit][message]",
            "Ein freiwilliges Trinkgeld für den Blog – danke! Eine Spendenquittung gibt es dafür nicht."
                .into(),
        ),
        ("submit_type", "pay".into()),
        (
            "success_url",
            format!("{}/thanks?session_id={{CHECKOUT_SESSION_ID}}", app.address),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    expected.sort();
    assert_eq!(params, expected);
    assert_eq!(donation.status, "pending");
    assert_eq!(donation.amount_cents, 1000);
    assert_eq!(donation.name.as_deref(), Some("Anna"));
    assert_eq!(donation.message.as_deref(), Some("Hallo"));
    assert_eq!(donation.visibility, "public");
}

#[tokio::test]
async fn a_json_donation_answers_the_session_id_and_url() {
    let app = spawn_app().await;
    app.stripe.session_created("cs_test_json").await;

    let response = app
        .post_json("/donate", &json!({"coffees": 3, "public": false}))
        .await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"id": "cs_test_json", "url": "https://checkout.stripe.com/c/pay/cs_test_json"})
    );
    let donation = app.row("cs_test_json").await.unwrap();
    assert_eq!((donation.coffees, donation.amount_cents), (3, 1500));
    assert_eq!(donation.visibility, "anonymous", "no tick means anonymous");
}

#[tokio::test]
async fn the_english_page_asks_stripe_for_an_english_checkout() {
    let app = spawn_app().await;
    app.stripe.session_created("cs_test_en").await;

    let response = app.post_form("/donate?lang=en", &[("coffees", "1")]).await;

    assert_eq!(response.status(), 303);
    let requests = app.stripe.server.received_requests().await.unwrap();
    let params = form_pairs(&requests[0].body);
    assert!(params.contains(&("locale".into(), "en".into())));
    assert!(params.contains(&(
        "line_items[0][price_data][product_data][name]".into(),
        "Coffee".into()
    )));
}

#[tokio::test]
async fn every_invalid_form_answers_422_with_the_error_and_writes_nothing() {
    let app = spawn_app().await;
    let long_name = "n".repeat(61);
    let long_message = "m".repeat(281);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("coffees", "0")], "coffees"),
        (vec![("coffees", "-1")], "coffees"),
        (vec![("coffees", "11")], "coffees"),
        (vec![("coffees", "abc")], "coffees"),
        (vec![("coffees", "1"), ("name", &long_name)], "name"),
        (vec![("coffees", "1"), ("message", &long_message)], "message"),
    ];
    for (form, field) in cases {
        let response = app.post_form("/donate", &form).await;
        assert_eq!(response.status(), 422, "{form:?}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains(&format!("id=\"{field}-error\"")),
            "{form:?} should mark {field}"
        );
        assert!(html.contains("Bitte prüfe deine Eingabe"));
    }
    assert_eq!(app.count("donations").await, 0);
    assert!(
        app.stripe.server.received_requests().await.unwrap().is_empty(),
        "Stripe must not be called"
    );
}

#[tokio::test]
async fn every_invalid_json_answers_422_naming_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({"coffees": 0}), "coffees"),
        (json!({"coffees": -1}), "coffees"),
        (json!({"coffees": 11}), "coffees"),
        (json!({"coffees": "abc"}), "coffees"),
        (json!({"coffees": 1, "name": "n".repeat(61)}), "name"),
        (json!({"coffees": 1, "message": "m".repeat(281)}), "message"),
    ];
    for (body, field) in cases {
        let response = app.post_json("/donate", &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}");
        assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn a_malformed_body_or_unknown_field_answers_400() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/donate"))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = app
        .post_json("/donate", &json!({"coffees": 1, "amount": 1}))
        .await;
    assert_eq!(
        response.status(),
        400,
        "the amount is never the client's to choose"
    );
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn a_stripe_error_answers_502_and_nothing_is_recorded() {
    let app = spawn_app().await;
    let failure =
        ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error", "message": "boom"}}));
    // A 5xx is not retried: Stripe would replay it for the same key.
    app.stripe.session_creation_answers(failure, 2).await;

    let form = app.post_form("/donate", &[("coffees", "1")]).await;
    let json = app.post_json("/donate", &json!({"coffees": 1})).await;

    assert_eq!(form.status(), 502);
    assert!(form.text().await.unwrap().contains("nicht gestartet"));
    assert_eq!(json.status(), 502);
    let body: Value = json.json().await.unwrap();
    assert!(
        !body.to_string().contains("boom"),
        "Stripe's error text is not passed on"
    );
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn a_stripe_timeout_answers_502_and_nothing_is_recorded() {
    let app = spawn_app_with(&[("STRIPE_TIMEOUT_SECS", "1")]).await;
    let late = ResponseTemplate::new(200)
        .set_body_json(created_session("cs_test_late"))
        .set_delay(std::time::Duration::from_secs(5));
    // A timeout is retried once with the same key, then answered 502.
    app.stripe.session_creation_answers(late, 2).await;

    let started = std::time::Instant::now();
    let response = app.post_json("/donate", &json!({"coffees": 1})).await;

    assert_eq!(response.status(), 502);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the client timeout applies"
    );
    assert_eq!(app.count("donations").await, 0);
}
