//! Card testing and hostile input.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::helpers::*;

#[tokio::test]
async fn a_card_testing_burst_makes_no_more_stripe_calls_than_the_per_client_limit() {
    let app = spawn_app_with(&[("DONATE_RATE_PER_IP", "5/10m"), ("DONATE_BURST_PER_IP", "3")]).await;
    app.stripe.sessions_created(3).await;

    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            app.post_json("/donate", &json!({"coffees": 1}))
                .await
                .status()
                .as_u16(),
        );
    }

    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 17);
    assert_eq!(app.stripe.calls().await, 3);
    assert_eq!(app.count("donations").await, 3);
    let refused = app.post_form("/donate", &[("coffees", "1")]).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry), "{retry}");
    assert!(refused.text().await.unwrap().contains("Zu viele Versuche"));
}

#[tokio::test]
async fn the_global_limit_holds_across_addresses_and_forwarded_for_counts_only_from_trusted_proxies() {
    let app = spawn_app_with(&[("DONATE_RATE_GLOBAL", "4/1h"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.stripe.sessions_created(4).await;
    let from = |ip: String| {
        let req = app
            .client
            .post(app.url("/donate"))
            .header("X-Forwarded-For", ip)
            .json(&json!({"coffees": 1}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let mut statuses = Vec::new();
    for i in 0..8 {
        // Each from a network of its own, so only the global budget binds.
        statuses.push(from(format!("203.0.{i}.1")).await);
    }
    // Scripts get the open two thirds of 4; the rest is kept for readers who loaded the form.
    assert_eq!(statuses, vec![200, 200, 200, 429, 429, 429, 429, 429]);
    let nonce = nonce_of(&app.get("/").await.text().await.unwrap());
    let reader = app
        .client
        .post(app.url("/donate"))
        .header("X-Forwarded-For", "198.51.100.9")
        .form(&[("coffees", "1"), ("nonce", nonce.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), 303, "the reserved budget");
    assert_eq!(app.stripe.calls().await, 4);

    // Without TRUSTED_PROXIES a client cannot escape its own bucket by inventing addresses.
    let direct = spawn_app_with(&[("DONATE_RATE_PER_IP", "1/1h"), ("DONATE_BURST_PER_IP", "1")]).await;
    direct.stripe.sessions_created(1).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let req = direct
            .client
            .post(direct.url("/donate"))
            .header("X-Forwarded-For", format!("198.51.100.{i}"));
        statuses.push(
            req.json(&json!({"coffees": 1}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![200, 429, 429]);
}

#[tokio::test]
async fn invalid_requests_do_not_use_up_the_limit() {
    let app = spawn_app_with(&[("DONATE_RATE_PER_IP", "1/1h"), ("DONATE_BURST_PER_IP", "1")]).await;
    app.stripe.sessions_created(1).await;
    for _ in 0..5 {
        assert_eq!(
            app.post_json("/donate", &json!({"coffees": 0})).await.status(),
            422
        );
    }
    assert_eq!(
        app.post_json("/donate", &json!({"coffees": 1})).await.status(),
        200
    );
}

#[tokio::test]
async fn a_bot_filling_the_honeypot_cannot_tell_its_answer_from_a_real_checkout() {
    let app = spawn_app().await;
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(r#"name="website""#) && home.contains(r#"tabindex="-1""#));
    // A real reader's checkout, for comparison: Stripe's hosted page.
    let stripes_id = fixture("checkout.session")["id"].as_str().unwrap().to_owned();
    app.stripe.session_created(&stripes_id).await;
    let real = app.post_form("/donate", &[("coffees", "1")]).await;

    let form = app
        .post_form("/donate", &[("coffees", "1"), ("website", "http://spam.example")])
        .await;
    let json = app
        .post_json("/donate", &json!({"coffees": 1, "website": "x"}))
        .await;
    let invalid = app
        .post_form("/donate", &[("coffees", "99"), ("website", "x")])
        .await;

    assert_eq!((real.status().as_u16(), form.status().as_u16()), (303, 303));
    let (real_to, bot_to) = (&real.headers()["location"], &form.headers()["location"]);
    let shape = |l: &reqwest::header::HeaderValue| {
        let l = l.to_str().unwrap();
        let id = l.trim_start_matches("https://checkout.stripe.com/c/pay/");
        (
            l.starts_with("https://checkout.stripe.com/c/pay/cs_test_"),
            id.split('#').next().unwrap().len(),
        )
    };
    assert_eq!(shape(bot_to).0, shape(real_to).0, "{bot_to:?} ~ {real_to:?}");
    assert_eq!(shape(bot_to).1, shape(real_to).1, "an id as long as Stripe's");
    assert_eq!(json.status(), 200);
    let body = json.json::<serde_json::Value>().await.unwrap();
    assert!(body["id"].as_str().unwrap().starts_with("cs_test_"));
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/c/pay/cs_test_")
    );
    assert_eq!(
        invalid.status(),
        422,
        "a bot meets the same errors a reader would"
    );
    assert_eq!(
        app.stripe.calls().await,
        1,
        "only the reader's checkout reached Stripe"
    );
    assert_eq!(app.count("donations").await, 1);
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413_on_every_route() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "admin-token-0123456789abcdef0123456789")]).await;
    let big = "x".repeat(70 * 1024);
    let donate = app
        .post_form("/donate", &[("coffees", "1"), ("message", &big)])
        .await;
    let donate_json = app
        .post_json("/donate", &json!({"coffees": 1, "message": big}))
        .await;
    let login = app
        .client
        .post(app.url("/admin/login"))
        .header("Origin", &app.address)
        .form(&[("token", &big)])
        .send()
        .await
        .unwrap();
    let webhook = app.post_webhook(&"y".repeat(300 * 1024)).await;

    assert_eq!(donate.status(), 413);
    assert_eq!(donate_json.status(), 413);
    assert_eq!(login.status(), 413);
    assert_eq!(webhook.status(), 413);
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_answers_503_and_writes_nothing() {
    let app = spawn_app_with(&[("REQUEST_TIMEOUT_SECS", "1"), ("STRIPE_TIMEOUT_SECS", "10")]).await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(created_session("cs_test_slow"))
        .set_delay(Duration::from_secs(4));
    app.stripe.session_creation_answers(slow, 1).await;

    let started = Instant::now();
    let response = app.post_json("/donate", &json!({"coffees": 1})).await;

    assert_eq!(response.status(), 503);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(app.count("donations").await, 0);
}

#[tokio::test]
async fn every_page_sends_security_headers_and_no_page_has_inline_script() {
    let app = spawn_demo_app().await;
    let checkout = app.post_form("/donate", &[("coffees", "1")]).await;
    let checkout = checkout.headers()["location"]
        .to_str()
        .unwrap()
        .replace(&app.address, "");
    for path in [
        "/",
        "/supporters",
        "/embed",
        "/thanks?session_id=x",
        &checkout,
        "/api/stats",
        "/badge.svg",
        "/nope",
    ] {
        let response = app.get(path).await;
        let headers = response.headers().clone();
        let csp = headers["content-security-policy"].to_str().unwrap();
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.starts_with(name))
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(directive("script-src "), "script-src 'self'", "{path}: {csp}");
        // The embed page previews the snippets as pasted, inline styles and all; no other page
        // allows an inline style.
        assert_eq!(
            directive("style-src ").contains("unsafe-inline"),
            path == "/embed",
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("<script"), "{path} has a script tag");
    }
}

#[tokio::test]
async fn twenty_thousand_addresses_of_one_48_leave_a_real_reader_able_to_donate() {
    let app = spawn_app_with(&[("DONATE_RATE_GLOBAL", "60/1h"), ("TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.stripe.sessions_created(6).await;
    let mut admitted = 0;
    // 20,000 distinct /64s of one /48 in the drill (`scripts/drills/attacks.py`); 400 here.
    for i in 0..400 {
        let status = app
            .client
            .post(app.url("/donate"))
            .header("X-Forwarded-For", format!("2001:db8:bad:{i:x}::1"))
            .json(&json!({"coffees": 1}))
            .send()
            .await
            .unwrap()
            .status();
        admitted += usize::from(status == 200);
    }
    assert_eq!(admitted, 5, "the /48's share, not the jar's budget");
    let nonce = nonce_of(&app.get("/").await.text().await.unwrap());
    let reader = app
        .client
        .post(app.url("/donate"))
        .header("X-Forwarded-For", "2a02:8070::1")
        .form(&[("coffees", "1"), ("nonce", nonce.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(reader.status(), 303, "a real reader still donates");
}
