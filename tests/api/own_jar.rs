//! A blogger testing their own jar in the demo, and a reader who reads English: the limiter
//! neither loses what was typed nor a checkout already started, and the demo speaks the
//! reader's language without being cached.

use crate::helpers::*;

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_repeated_nonce_gets_its_checkout_even_at_the_limit() {
    let app = spawn_app_with(&[
        ("STRIPE_SECRET_KEY", ""),
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("STRIPE_API_BASE", ""),
        ("DONATE_RATE_PER_IP", "1/1h"),
        ("DONATE_BURST_PER_IP", "1"),
    ])
    .await;
    let form = [
        ("coffees", "2"),
        ("name", "Anna"),
        ("nonce", "nonce-at-the-limit-0001"),
    ];

    let first = app.post_form("/donate", &form).await;
    let again = app.post_form("/donate", &form).await;
    let other = app
        .post_form(
            "/donate",
            &[("coffees", "1"), ("nonce", "another-form-nonce-0002")],
        )
        .await;

    assert_eq!(first.status(), 303);
    assert_eq!(again.status(), 303, "the same form at the limit");
    assert_eq!(location(&again), location(&first), "the checkout it already has");
    assert_eq!(other.status(), 429, "a new checkout is still limited");
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn a_form_refused_by_the_limiter_keeps_what_the_reader_typed() {
    let app = spawn_app_with(&[("DONATE_RATE_PER_IP", "1/1h"), ("DONATE_BURST_PER_IP", "1")]).await;
    app.stripe.sessions_created(1).await;
    assert_eq!(app.post_form("/donate", &[("coffees", "1")]).await.status(), 303);

    let refused = app
        .post_form(
            "/donate",
            &[
                ("coffees", "3"),
                ("name", "Erika Mustermann"),
                ("message", "Danke für den Artikel über Rust!"),
                ("public", "on"),
            ],
        )
        .await;

    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let page = refused.text().await.unwrap();
    assert!(page.contains("<title>Fehler: "), "{page}");
    assert!(page.contains("Zu viele Versuche: von hier"), "{page}");
    assert!(page.contains("value=\"Erika Mustermann\""), "{page}");
    assert!(
        page.contains(">Danke für den Artikel über Rust!</textarea>"),
        "{page}"
    );
    assert!(page.contains("<option value=\"3\" selected>"), "{page}");
    assert!(page.contains("value=\"on\" checked"), "{page}");
}

#[tokio::test]
async fn demo_mode_lets_a_blogger_try_the_jar_more_than_three_times() {
    // No DONATE_RATE_PER_IP: the demo's own default.
    let app = spawn_app_with(&[
        ("STRIPE_SECRET_KEY", ""),
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("STRIPE_API_BASE", ""),
        ("DONATE_RATE_PER_IP", ""),
    ])
    .await;

    for _ in 0..10 {
        assert_eq!(app.post_form("/donate", &[("coffees", "1")]).await.status(), 303);
    }
}

#[tokio::test]
async fn the_demo_checkout_speaks_the_forms_language_is_never_cached_and_has_one_banner() {
    let app = spawn_demo_app().await;
    let started = app
        .post_form("/donate?lang=en", &[("coffees", "2"), ("lang", "en")])
        .await;
    let checkout = location(&started);
    assert!(checkout.ends_with("?lang=en"), "{checkout}");

    // A German browser: the checkout's address decides.
    let page = app
        .client
        .get(&checkout)
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("€10.00"),
        "{html}"
    );
    assert_eq!(html.matches("Test mode – no money is moved").count(), 1, "{html}");

    let path = checkout
        .trim_start_matches(&app.address)
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let paid = app
        .client
        .post(app.url(&format!("{path}/pay?lang=en")))
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap();
    let thanks = location(&paid);
    assert!(thanks.ends_with("&lang=en"), "{thanks}");
    let thanks = app
        .client
        .get(&thanks)
        .header("Accept-Language", "de")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        thanks.contains("Thank you!") && thanks.contains("2 coffees · €10.00"),
        "{thanks}"
    );
    assert!(
        thanks.contains("?lang=en\" rel=\"nofollow\""),
        "the manage link: {thanks}"
    );
    let cancel = app
        .client
        .post(app.url(&format!("{path}/cancel?lang=en")))
        .send()
        .await
        .unwrap();
    assert!(location(&cancel).ends_with("/?canceled=1&lang=en"));
}

#[tokio::test]
async fn english_pages_write_money_as_english_readers_do_and_german_pages_as_germans() {
    let app = spawn_demo_app().await;

    let en = app.get("/?lang=en").await.text().await.unwrap();
    let de = app.get("/?lang=de").await.text().await.unwrap();
    let widget = app.get("/widget?lang=en").await.text().await.unwrap();

    assert!(
        en.contains("(€5.00 per coffee)") && en.contains("10 coffees – €50.00"),
        "{en}"
    );
    assert!(!en.contains(",00"), "no German amount on the English page");
    assert!(de.contains("(5,00\u{a0}€ je Kaffee)") && de.contains("10 Kaffees – 50,00\u{a0}€"));
    assert!(
        widget.contains("1 coffee – €5.00") && widget.contains("· €0.00"),
        "{widget}"
    );
}
