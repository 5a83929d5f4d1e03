use kaffeekasse::startup::Application;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn the_home_page_is_german_by_default_and_english_on_request() {
    let app = spawn_app().await;

    let de = app.get("/").await.text().await.unwrap();
    let en = app
        .client
        .get(app.url("/"))
        .header("Accept-Language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let en = en.text().await.unwrap();
    let en_query = app.get("/?lang=en").await.text().await.unwrap();

    assert!(de.contains("<html lang=\"de\">") && de.contains("1 Kaffee – 5,00\u{a0}€"));
    assert!(
        de.contains(r#"type="checkbox" value="on" aria-describedby"#),
        "the public box starts unticked"
    );
    assert!(en.contains("<html lang=\"en\">") && en.contains("1 coffee – €5.00"));
    assert!(en_query.contains("Show my name and message publicly"));
}

#[tokio::test]
async fn unknown_pages_answer_404_and_every_page_sends_security_headers() {
    let app = spawn_app().await;
    let response = app.get("/nope").await;
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
}

#[tokio::test]
async fn the_demo_checkout_does_not_exist_in_stripe_mode() {
    let app = spawn_app().await;
    assert_eq!(app.get("/demo/checkout/cs_demo_x").await.status(), 404);
}

#[tokio::test]
async fn a_background_task_that_fails_stops_the_service_with_its_error() {
    let config = configure(&[]).await;
    let mut app = Application::build(config.settings).await.unwrap();
    let port = app.port();
    app.spawn_task(async { anyhow::bail!("the nightly job broke") });

    let stopped = app.run_until_stopped().await;

    let error = format!("{:#}", stopped.unwrap_err());
    assert!(
        error.contains("a background task failed") && error.contains("the nightly job broke"),
        "{error}"
    );
    let after = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(after.is_err(), "the listener is closed");
}

#[tokio::test]
async fn a_background_task_that_panics_stops_the_service_too() {
    let config = configure(&[]).await;
    let mut app = Application::build(config.settings).await.unwrap();
    app.spawn_task(async { panic!("reconciliation bug") });

    let stopped = app.run_until_stopped().await;

    assert!(format!("{:#}", stopped.unwrap_err()).contains("a background task panicked"));
}

#[tokio::test]
#[should_panic(expected = "never read by the configuration")]
async fn a_misspelt_override_fails_the_test_instead_of_being_ignored() {
    spawn_app_with(&[("DONATE_RATE_PER_IPP", "1/1h")]).await;
}
