//! `/metrics` behind its token, labelled by route pattern, and `/readyz` with the last
//! reconciliation's outcome.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};

use crate::helpers::*;

const TOKEN: &str = "metrics-token-0123456789abcdef01234567";

async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    response.text().await.unwrap()
}

fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[tokio::test]
async fn metrics_need_their_token_and_are_a_404_without_one_configured() {
    let off = spawn_app().await;
    let on = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;

    let hidden = off
        .client
        .get(off.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let anonymous = on.get("/metrics").await;
    let wrong = on
        .client
        .get(on.url("/metrics"))
        .bearer_auth("metrics-token-0123456789abcdef01234568")
        .send()
        .await
        .unwrap();

    assert_eq!(hidden.status(), 404);
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Bearer realm=\"metrics\""
    );
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        on.client
            .get(on.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn requests_count_by_route_pattern_never_by_raw_path() {
    let app = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    app.get("/manage/secret-capability-token").await;
    app.get("/no/such/page/with-a-secret").await;
    app.client
        .request(reqwest::Method::from_bytes(b"BREW").unwrap(), app.url("/"))
        .send()
        .await
        .unwrap();

    let text = scrape(&app).await;

    assert!(
        line(
            &text,
            r#"kaffeekasse_http_requests_total{method="GET",route="/manage/{token}",status="404"} 1"#
        )
        .is_some(),
        "{text}"
    );
    assert!(
        line(
            &text,
            r#"kaffeekasse_http_requests_total{method="GET",route="unmatched",status="404"}"#
        )
        .is_some(),
        "{text}"
    );
    assert!(
        line(
            &text,
            r#"kaffeekasse_http_requests_total{method="other",route="/""#
        )
        .is_some(),
        "{text}"
    );
    assert!(!text.contains("secret"), "no raw path in a label");
    assert!(
        line(
            &text,
            r#"kaffeekasse_http_request_duration_seconds_count{method="GET",route="/manage/{token}"} 1"#
        )
        .is_some()
    );
}

#[tokio::test]
async fn webhooks_donations_stripe_calls_and_refusals_are_counted() {
    let app = spawn_app_with(&[
        ("METRICS_TOKEN", TOKEN),
        ("DONATE_RATE_PER_IP", "1/1h"),
        ("DONATE_BURST_PER_IP", "1"),
    ])
    .await;
    app.donation("cs_m").paid().await;
    app.post_webhook_with("{}", Some("t=1,v1=00")).await;
    let refused = app.post_json("/donate", &json!({"coffees": 1})).await;
    assert_eq!(refused.status(), 429);

    let text = scrape(&app).await;

    let has = |l: &str| assert!(line(&text, l).is_some(), "{l} in\n{text}");
    has(r#"kaffeekasse_webhook_events_total{type="checkout.session.completed",outcome="applied"} 1"#);
    has(r#"kaffeekasse_webhook_events_total{type="unknown",outcome="bad_signature"} 1"#);
    has(r#"kaffeekasse_donations{state="paid"} 1"#);
    has(r#"kaffeekasse_donations{state="refunded"} 0"#);
    has(r#"kaffeekasse_rate_limit_refusals_total{limit="donate",scope="client"} 1"#);
    has(r#"kaffeekasse_stripe_request_duration_seconds_count{operation="create_session"} 1"#);
    has("kaffeekasse_outbox_pending 0");
    has("kaffeekasse_last_reconcile_age_seconds -1");
    let age: f64 = line(&text, "kaffeekasse_last_webhook_age_seconds ")
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..60.0).contains(&age), "{age}");
}

#[tokio::test]
async fn stripe_errors_are_counted_by_operation_and_kind() {
    let app = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    wiremock::Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})))
        .mount(&app.stripe.server)
        .await;

    assert_eq!(
        app.post_json("/donate", &json!({"coffees": 1})).await.status(),
        502
    );

    let text = scrape(&app).await;
    assert!(
        line(
            &text,
            r#"kaffeekasse_stripe_errors_total{operation="create_session",kind="server_error"} 1"#
        )
        .is_some(),
        "one attempt, not retried under the same key: {text}"
    );
}

#[tokio::test]
async fn readyz_reports_the_last_reconciliation_and_its_error() {
    let app = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    let (stripe, ledger) = (app.stripe_provider(), app.ledger());
    wiremock::Mock::given(method("GET"))
        .and(path("/v1/events"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: rk_live_****wxyz"}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&app.stripe.server)
        .await;
    app.stripe.events_page(None, vec![], false, 1).await;

    assert!(
        kaffeekasse::reconcile::run(&app.db, &ledger, &stripe, None)
            .await
            .is_err()
    );
    let failing: Value = app.get("/readyz").await.json().await.unwrap();
    kaffeekasse::reconcile::run(&app.db, &ledger, &stripe, None)
        .await
        .unwrap();
    let recovered = app.get("/readyz").await;

    assert_eq!(
        failing["status"], "ready",
        "a failing reconciliation does not take the service out"
    );
    assert_eq!(failing["reconcile"]["error"], "Stripe: failed");
    assert!(
        !failing.to_string().contains("rk_live"),
        "Stripe's message stays in the log"
    );
    assert!(failing["reconcile"]["error_at"].is_string());
    assert_eq!(recovered.status(), 200);
    let recovered: Value = recovered.json().await.unwrap();
    assert!(recovered["reconcile"]["error"].is_null());
    assert!(recovered["reconcile"]["last_success_at"].is_string());
    let text = scrape(&app).await;
    let age: f64 = line(&text, "kaffeekasse_last_reconcile_age_seconds ")
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..60.0).contains(&age));
}
