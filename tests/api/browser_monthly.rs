//! A monthly coffee in a real headless Chromium, in the zero-setup demo: chosen on the form,
//! paid, renewed twice with the demo's button, a failed debit shown on the manage page, then
//! cancelled through "Verträge hier kündigen" with its confirmation. Once in German at desktop
//! width, once in English at 320 px; screenshots in target/e2e/ (`monthly-*.png`).

use fantoccini::{Client, Locator};

use crate::browser::{browser, screenshots_dir, start_driver, text_of};
use crate::helpers::*;

async fn click(c: &Client, css: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks `css`, which submits a form, and waits until the page it was on is gone (the next one
/// may have the same address and the same elements, so waiting for an element is not enough).
async fn submit(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    click(c, css).await;
    gone(c, old).await;
}

/// Waits until the document `old` belongs to is replaced by the next page.
async fn gone(c: &Client, old: fantoccini::elements::Element) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while old.tag_name().await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the next page never came");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    c.wait().for_element(Locator::Css("main")).await.unwrap();
}

async fn type_into(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

async fn shoot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots_dir().join(format!("monthly-{name}.png")), png).unwrap();
}

/// The words of one run.
struct Words {
    lang: &'static str,
    width: u32,
    thanks: &'static str,
    badge: &'static str,
    failed: &'static str,
    cancel_link: &'static str,
    confirmed: &'static str,
    six: &'static str,
}

const GERMAN: Words = Words {
    lang: "de",
    width: 1280,
    thanks: "Danke – dein monatlicher Kaffee läuft!",
    badge: "☕ monatlich",
    failed: "Abbuchung fehlgeschlagen – Zahlungsmethode aktualisieren",
    cancel_link: "Verträge hier kündigen",
    confirmed: "Deine Kündigung ist eingegangen",
    six: "6 Kaffees",
};

const ENGLISH: Words = Words {
    lang: "en",
    width: 320,
    thanks: "Thank you – your monthly coffee is on!",
    badge: "☕ monthly",
    failed: "Debit failed – update your payment method",
    cancel_link: "Cancel contracts",
    confirmed: "Your cancellation has been received",
    six: "6 coffees",
};

async fn run(words: &Words) {
    let app = spawn_demo_app().await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;
    c.set_window_size(words.width, 900).await.unwrap();
    let tag = |step: &str| format!("{}-{}-{step}", words.lang, words.width);

    // The form: two coffees, monthly.
    c.goto(&app.url(&format!("/?lang={}", words.lang))).await.unwrap();
    c.find(Locator::Css("#coffees"))
        .await
        .unwrap()
        .select_by_value("2")
        .await
        .unwrap();
    click(&c, "#interval-month").await;
    shoot(&c, &tag("1-form")).await;
    submit(&c, "form.donate button[type=submit]").await;

    // The demo checkout asks for the e-mail address Stripe would collect.
    c.wait().for_element(Locator::Css("#email")).await.unwrap();
    type_into(&c, "#email", "leser@example.org").await;
    shoot(&c, &tag("2-checkout")).await;
    submit(&c, "form[action*='/pay'] button[type=submit]").await;

    // Thanks, with the manage link.
    let heading = text_of(&c, "h1").await;
    assert_eq!(heading, words.thanks);
    shoot(&c, &tag("3-thanks")).await;
    submit(&c, ".manage-link a").await;

    // Two renewals with the demo's button.
    for _ in 0..2 {
        submit(&c, "form[action*='/demo/renew'] button").await;
    }
    let section = text_of(&c, "section[aria-labelledby=monthly-heading]").await;
    assert!(section.contains(words.six), "{section}");

    // The wall shows one entry with the badge.
    c.goto(&app.url(&format!("/supporters?lang={}", words.lang)))
        .await
        .unwrap();
    let wall = text_of(&c, "ul.supporters").await;
    assert!(wall.contains(words.badge) && wall.contains(words.six), "{wall}");
    shoot(&c, &tag("4-wall")).await;
    c.back().await.unwrap();

    // A failed debit: the manage page says so.
    submit(&c, "form[action*='/demo/fail'] button").await;
    let failed = text_of(&c, "section[aria-labelledby=monthly-heading] .errors").await;
    assert_eq!(failed, words.failed);
    shoot(&c, &tag("5-failed")).await;

    // Cancel through the footer's link, with the address paid with.
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::LinkText(words.cancel_link))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    gone(&c, old).await;
    type_into(&c, "#email", "leser@example.org").await;
    shoot(&c, &tag("6-cancel-form")).await;
    submit(&c, "#cancel-submit").await;
    let confirmed = text_of(&c, "h1").await;
    assert_eq!(confirmed, words.confirmed);
    let declared = text_of(&c, "dl.facts").await;
    assert!(
        declared.contains("leser@example.org") && declared.contains("UTC"),
        "{declared}"
    );
    shoot(&c, &tag("7-confirmation")).await;

    eventually("the demo subscription ended", || async {
        let api: serde_json::Value = app.get("/api/supporters").await.json().await.unwrap();
        api["supporters"][0]["monthly"] == false
    })
    .await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_reader_takes_a_monthly_coffee_renews_it_fails_a_debit_and_cancels_in_german_on_a_desktop() {
    run(&GERMAN).await;
}

#[tokio::test]
async fn a_reader_takes_a_monthly_coffee_renews_it_fails_a_debit_and_cancels_in_english_on_a_phone() {
    run(&ENGLISH).await;
}
