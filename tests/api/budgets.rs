//! Bodies and connections have budgets (#20): a stalled body is cut off after
//! `BODY_TIMEOUT_SECS`, the bytes of unfinished bodies are capped per client and in all, and a
//! client past its share of open connections is refused on them.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Sends a webhook POST's headers (announcing `length` bytes), `sent` bytes of its body, and
/// stops there; `client` is the reader's address as the trusted proxy reports it.
async fn stalled_webhook(app: &TestApp, client: &str, length: usize, sent: usize) -> TcpStream {
    let mut tcp = connect(app).await;
    let head = format!(
        "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-Forwarded-For: {client}\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: {length}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&vec![b' '; sent]).await.unwrap();
    tcp
}

/// The status line's code of the first answer on `tcp`, within `limit`.
async fn status_of(tcp: &mut TcpStream, limit: Duration) -> u16 {
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(limit, tcp.read(&mut buf))
        .await
        .expect("an answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_body_that_stalls_is_answered_408_after_the_body_timeout_not_the_request_timeout() {
    let app = spawn_app_with(&[("BODY_TIMEOUT_SECS", "1"), ("REQUEST_TIMEOUT_SECS", "30")]).await;
    let started = Instant::now();
    let mut stalled = stalled_webhook(&app, "192.0.2.1", 10_000, 100).await;

    let status = status_of(&mut stalled, Duration::from_secs(10)).await;

    assert_eq!(status, 408);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(app.count("stripe_events").await, 0, "nothing is written");
}

#[tokio::test]
async fn a_client_holding_its_share_of_body_bytes_is_refused_503_while_others_are_served() {
    let app = spawn_app_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("BODY_BUDGET_PER_CLIENT_BYTES", "65536"),
        ("BODY_TIMEOUT_SECS", "30"),
    ])
    .await;
    // Two stalled uploads declaring 40 KB each: together they pass the client's 64 KiB, so
    // whichever is counted second is refused (a declared length is reserved whole).
    let mut first = stalled_webhook(&app, "203.0.113.7", 40_000, 30_000).await;
    let mut second = stalled_webhook(&app, "203.0.113.7", 40_000, 30_000).await;

    let refused = tokio::select! {
        status = status_of(&mut first, Duration::from_secs(10)) => status,
        status = status_of(&mut second, Duration::from_secs(10)) => status,
    };

    assert_eq!(refused, 503, "refused at once, long before the body timeout");
    // Another client is served meanwhile: a real webhook from Stripe's address is stored.
    let id = app.donation("cs_budget").create().await;
    let body = event(
        "evt_budget",
        "checkout.session.completed",
        session("cs_budget", &id, "paid", "complete", 500),
        now(),
    );
    let stripe = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("Stripe-Signature", sign_now(&body, &[WEBHOOK_SECRET]))
        .header("Content-Type", "application/json")
        .header("X-Forwarded-For", "3.18.12.63")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(stripe.status(), 200);
    assert_eq!(app.row("cs_budget").await.unwrap().status, "paid");
    drop((first, second));
}

#[tokio::test]
async fn a_refusal_carries_retry_after_and_the_bytes_come_back_when_the_upload_ends() {
    let token = "metrics-token-0123456789abcdef0123";
    let app = spawn_app_with(&[
        ("BODY_BUDGET_BYTES", "65536"),
        ("BODY_TIMEOUT_SECS", "30"),
        ("METRICS_TOKEN", token),
    ])
    .await;
    // Declares 40,000 bytes (reserved at once) and sends most of them. Bodies over 16 KiB may
    // use three quarters of the budget (49,152 bytes): the rest is kept for small ones.
    let mut hog = stalled_webhook(&app, "198.51.100.1", 40_000, 30_000).await;
    eventually("the hog's bytes are counted", || async {
        let scrape = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        scrape.contains("kaffeekasse_body_bytes_held 40000")
    })
    .await;
    // A whole 20 KB upload (a bad signature: 400 once it is read) does not fit beside the hog.
    let upload = || {
        app.client
            .post(app.url("/webhooks/stripe"))
            .header("Stripe-Signature", "t=1,v1=00")
            .body(vec![b' '; 20_000])
            .send()
    };
    let refused = upload().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");

    hog.shutdown().await.unwrap();
    drop(hog);
    eventually("the hog's bytes are given back", || async {
        upload().await.unwrap().status() == 400
    })
    .await;
}

#[tokio::test]
async fn a_client_past_its_share_of_connections_is_refused_on_them() {
    let app = spawn_app_with(&[("CONNECTIONS_PER_CLIENT", "3")]).await;
    let mut open = Vec::new();
    for _ in 0..6 {
        open.push(connect(&app).await);
    }
    let mut answers = Vec::new();
    // The server counts connections as it accepts them, not necessarily in connect order, and
    // the test's own HTTP client may keep one of the three open from an earlier request.
    for tcp in &mut open {
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        answers.push(status_of(tcp, Duration::from_secs(10)).await);
    }

    let served = answers.iter().filter(|s| **s == 200).count();
    let refused = answers.iter().filter(|s| **s == 503).count();
    assert!((2..=3).contains(&served) && served + refused == 6, "{answers:?}");
    drop(open);
    eventually("closed connections free their slots", || async {
        app.get("/healthz").await.status() == 200
    })
    .await;
}

#[tokio::test]
async fn a_body_longer_than_any_route_reads_is_the_callers_413_not_our_503() {
    let app = spawn_app_with(&[("BODY_BUDGET_PER_CLIENT_BYTES", "65536")]).await;
    let mut tcp = stalled_webhook(&app, "192.0.2.9", 10_000_000, 0).await;

    assert_eq!(status_of(&mut tcp, Duration::from_secs(10)).await, 413);
}
