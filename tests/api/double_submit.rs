//! A double click on the donate form leads to one checkout, in the demo and with Stripe (#18),
//! in a real Chromium. The form has no script that could stop a second submission, so the
//! browser sends both: the first click's request reaches the server and is answered, then the
//! second click submits the same form (the same nonce) again and the browser follows it.

use fantoccini::{Client, Locator};
use serde_json::json;
use wiremock::ResponseTemplate;

use crate::browser::{browser, start_driver};
use crate::helpers::*;

/// Submits the donate form twice, as a double click does; returns the address the browser
/// ended on.
async fn double_submit(c: &Client, app: &TestApp) -> String {
    c.goto(&app.url("/")).await.unwrap();
    c.find(Locator::Css("#name"))
        .await
        .unwrap()
        .send_keys("Doppel Klick")
        .await
        .unwrap();
    c.execute_async(
        r#"const done = arguments[arguments.length - 1];
           const form = document.querySelector('form[action^="/donate"]');
           fetch(form.action, {method: 'POST', body: new URLSearchParams(new FormData(form)),
                               redirect: 'manual'})
             .then(() => { form.requestSubmit(); done(true); }, (e) => done(String(e)));"#,
        vec![],
    )
    .await
    .unwrap();
    eventually("the browser follows the second submission", || async {
        c.current_url().await.is_ok_and(|u| u.path() != "/")
    })
    .await;
    c.current_url().await.unwrap().to_string()
}

#[tokio::test]
async fn a_double_click_in_the_demo_leads_to_one_checkout() {
    let app = spawn_demo_app().await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    let landed = double_submit(&c, &app).await;

    assert!(landed.contains("/demo/checkout/cs_demo_"), "{landed}");
    let page = c.source().await.unwrap();
    assert!(page.contains("Bezahlen"), "the checkout, not an error page");
    assert_eq!(app.count("donations").await, 1);
    let session = landed.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert!(
        app.row(session).await.is_some(),
        "the browser's checkout is the one recorded"
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_double_click_with_stripe_leads_to_one_checkout() {
    let app = spawn_app().await;
    // The hosted checkout on the mock's own address: the browser must not leave this machine.
    let mut session = created_session("cs_test_double");
    session["url"] = json!(format!("{}/c/pay/cs_test_double", app.stripe.uri()));
    app.stripe
        .session_creation_answers(ResponseTemplate::new(200).set_body_json(session), 2)
        .await;
    let driver = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let c = browser(&driver, profile.path()).await;

    let landed = double_submit(&c, &app).await;

    assert!(landed.contains("cs_test_double"), "{landed}");
    let keys = app.stripe.idempotency_keys().await;
    assert_eq!(keys.len(), 2, "both clicks reached Stripe: {keys:?}");
    assert_eq!(
        keys[0], keys[1],
        "under one key, so Stripe answers with one session"
    );
    assert_eq!(app.count("donations").await, 1);
    assert_eq!(app.row("cs_test_double").await.unwrap().status, "pending");
    c.close().await.unwrap();
}
