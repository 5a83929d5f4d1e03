use crate::helpers::*;

#[tokio::test]
async fn the_demo_flow_goes_from_the_button_to_a_paid_donation_through_the_real_webhook() {
    let app = spawn_demo_app().await;

    // The reader clicks the button.
    let response = app
        .post_form("/donate", &[("coffees", "2"), ("name", "Anna"), ("public", "on")])
        .await;
    assert_eq!(response.status(), 303);
    let checkout = response.headers()["location"].to_str().unwrap().to_owned();
    let (checkout_path, lang) = checkout.split_once('?').unwrap();
    let session_id = checkout_path.rsplit('/').next().unwrap().to_owned();
    assert!(checkout.starts_with(&format!("{}/demo/checkout/cs_demo_", app.address)));
    assert_eq!(lang, "lang=de", "the checkout speaks the form's language");

    // The demo checkout shows the amount and the test-mode notice.
    let page = app
        .client
        .get(&checkout)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Testmodus – es wird kein Geld bewegt"));
    assert!(page.contains("10,00\u{a0}€") && page.contains("Bezahlen") && page.contains("Abbrechen"));
    assert_eq!(app.row(&session_id).await.unwrap().status, "pending");

    // Paying sends a signed webhook to ourselves, then goes to the success URL.
    let paid = app
        .post_form(&format!("/demo/checkout/{session_id}/pay"), &[])
        .await;
    assert_eq!(paid.status(), 303);
    let thanks = paid.headers()["location"].to_str().unwrap().to_owned();
    assert!(thanks.starts_with(&format!("{}/thanks?session_id={session_id}", app.address)));

    let donation = app.row(&session_id).await.unwrap();
    assert_eq!(donation.status, "paid");
    assert_eq!(donation.amount_cents, 1000);
    assert_eq!(
        app.count("stripe_events").await,
        1,
        "the event went through the ledger"
    );
    let page = app
        .client
        .get(&thanks)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Danke!"));
}

#[tokio::test]
async fn cancelling_the_demo_checkout_goes_back_and_records_no_payment() {
    let app = spawn_demo_app().await;
    let response = app.post_form("/donate", &[("coffees", "1")]).await;
    let session_id = response.headers()["location"]
        .to_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    let cancelled = app
        .post_form(&format!("/demo/checkout/{session_id}/cancel"), &[])
        .await;

    assert_eq!(cancelled.status(), 303);
    assert_eq!(
        cancelled.headers()["location"].to_str().unwrap(),
        format!("{}/?canceled=1&lang=de", app.address)
    );
    assert_eq!(app.row(&session_id).await.unwrap().status, "pending");
    let home = app.get("/?canceled=1").await.text().await.unwrap();
    assert!(home.contains("abgebrochen"));
}

#[tokio::test]
async fn unknown_sessions_answer_404_on_the_checkout_and_the_thanks_page() {
    let app = spawn_demo_app().await;
    assert_eq!(app.get("/demo/checkout/cs_demo_missing").await.status(), 404);
    assert_eq!(
        app.post_form("/demo/checkout/cs_demo_missing/pay", &[])
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/thanks?session_id=cs_demo_missing").await.status(), 404);
}

#[tokio::test]
async fn a_pending_donation_shows_a_self_refreshing_confirmation_page() {
    let app = spawn_demo_app().await;
    let response = app.post_form("/donate", &[("coffees", "1")]).await;
    let session_id = response.headers()["location"]
        .to_str()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();

    let page = app
        .get(&format!("/thanks?session_id={session_id}"))
        .await
        .text()
        .await
        .unwrap();
    let last = app
        .get(&format!("/thanks?session_id={session_id}&attempt=5"))
        .await
        .text()
        .await
        .unwrap();

    assert!(page.contains("Zahlung wird bestätigt…") && page.contains("http-equiv=\"refresh\""));
    assert!(page.contains("attempt=1"));
    assert!(
        !last.contains("http-equiv=\"refresh\""),
        "refreshing stops after a few tries"
    );
}

#[tokio::test]
async fn a_double_submit_in_the_demo_leads_to_one_checkout_as_with_stripe() {
    let app = spawn_demo_app().await;
    let nonce = nonce_of(&app.get("/").await.text().await.unwrap());
    let form = [("coffees", "2"), ("nonce", nonce.as_str()), ("name", "Anna")];

    let (first, second) = tokio::join!(app.post_form("/donate", &form), app.post_form("/donate", &form));
    let third = app.post_form("/donate", &form).await;

    for r in [&first, &second, &third] {
        assert_eq!(r.status(), 303, "a double submit is no error");
    }
    assert_eq!(first.headers()["location"], second.headers()["location"]);
    assert_eq!(first.headers()["location"], third.headers()["location"]);
    assert_eq!(app.count("donations").await, 1);
    let post = |key: &'static str| {
        app.client
            .post(app.url("/donate"))
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({"coffees": 1}))
            .send()
    };
    let a: serde_json::Value = post("script-order-1").await.unwrap().json().await.unwrap();
    let b: serde_json::Value = post("script-order-1").await.unwrap().json().await.unwrap();
    assert_eq!(a["id"], b["id"], "the same key, the same demo session");
    assert!(a["id"].as_str().unwrap().starts_with("cs_demo_"));
    assert_eq!(app.count("donations").await, 2);
}
