//! Attacks an anonymous client can make with many addresses and no secret: each is refused
//! cheaply, and none spends a shared budget out of proportion.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_signature_header_flood_is_refused_as_malformed_without_checking_each_entry() {
    let app = spawn_app().await;
    let body = event(
        "evt_flood",
        "checkout.session.completed",
        json!({"id": "cs_x"}),
        now(),
    );
    let zeros = format!(",v1={}", "0".repeat(64));
    let flood = format!("t={}{}", now(), zeros.repeat(200));
    let seventeen = format!("{}{}", sign_now(&body, &[WEBHOOK_SECRET]), zeros.repeat(16));

    let flooded = app.post_webhook_with(&body, Some(&flood)).await;
    let too_many = app.post_webhook_with(&body, Some(&seventeen)).await;
    let minimal = app
        .post_webhook_with(&body, Some(&format!("t={},v1=00", now())))
        .await;
    let overflow = app
        .post_webhook_with(&body, Some("t=-9223372036854775808,v1=00"))
        .await;

    for (name, response) in [
        ("flood", flooded),
        ("17 entries", too_many),
        ("short v1", minimal),
    ] {
        assert_eq!(response.status(), 400, "{name}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(
            error["error"]["message"], "malformed Stripe-Signature header",
            "{name}"
        );
    }
    assert_eq!(overflow.status(), 400);
    assert_eq!(app.count("stripe_events").await, 0);
}

#[tokio::test]
async fn refreshing_a_pending_thanks_page_asks_stripe_at_most_once_per_five_seconds() {
    let app = spawn_app().await;
    let id = app.donation("cs_pending").create().await;
    let open = session("cs_pending", &id, "unpaid", "open", 500);
    app.stripe.session_replies("cs_pending", open, 1).await;

    let batches = app.db.committed_batches();
    for _ in 0..40 {
        let page = app.get("/thanks?session_id=cs_pending").await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Zahlung wird bestätigt"));
        assert!(
            !html.contains("/manage/"),
            "no manage link before any money moved"
        );
    }
    assert_eq!(
        app.db.committed_batches() - batches,
        1,
        "one write for the one lookup; refreshes in between write nothing"
    );
    // The StripeMock's expect(1) fails the test on drop if Stripe was asked more than once.
}

#[tokio::test]
async fn changes_through_a_manage_link_are_limited_per_client_and_a_resave_writes_nothing() {
    let app = spawn_app_with(&[("MANAGE_RATE_PER_IP", "3/1m"), ("MANAGE_BURST_PER_IP", "3")]).await;
    app.donation("cs_m").public("Anna", "Hallo").paid().await;
    let thanks = app.get("/thanks?session_id=cs_m").await.text().await.unwrap();
    let start = thanks.find("/manage/").expect("a manage link once paid");
    let path = thanks[start..start + thanks[start..].find('"').unwrap()].to_owned();
    let save = || {
        app.client
            .post(app.url(&path))
            .header("Origin", &app.address)
            .form(&[("name", "Anna"), ("message", "Hallo"), ("public", "on")])
            .send()
    };

    let batches = app.db.committed_batches();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(save().await.unwrap().status().as_u16());
    }

    assert_eq!(statuses, vec![303, 303, 303, 429, 429]);
    assert_eq!(
        app.db.committed_batches(),
        batches,
        "saving the entry unchanged writes nothing"
    );
}

#[tokio::test]
async fn events_we_do_not_act_on_are_stored_without_their_object() {
    let app = spawn_app().await;
    let customer = serde_json::json!({"id": "cus_1", "object": "customer", "email": "jenny@example.org",
        "name": "Jenny Rosen", "phone": "+4930123"});
    app.deliver("evt_cus", "customer.created", customer).await;
    let foreign = session("cs_other", "d", "paid", "complete", 900);
    let mut foreign = foreign;
    foreign["metadata"] = serde_json::json!({});
    foreign["custom_fields"] = serde_json::json!([{"key": "name", "text": {"value": "Jenny Custom"}}]);
    app.deliver("evt_other", "checkout.session.completed", foreign)
        .await;

    let stored: Vec<String> = sqlx::query_scalar("SELECT payload FROM stripe_events ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let all = stored.join("\n");
    assert!(
        !all.contains("Jenny") && !all.contains("jenny@") && !all.contains("+4930"),
        "{all}"
    );
    assert!(
        all.contains("cus_1") && all.contains("cs_other"),
        "ids stay for the ledger"
    );
    assert_eq!(app.event_status("evt_cus").await.as_deref(), Some("ignored"));
}

#[tokio::test]
async fn a_pending_session_is_looked_up_at_most_twenty_times_in_its_life() {
    let app = spawn_app().await;
    let id = app.donation("cs_long").create().await;
    let open = session("cs_long", &id, "unpaid", "open", 500);
    app.stripe.session_replies("cs_long", open, 20).await;

    for _ in 0..30 {
        // As if five seconds had passed since the last lookup.
        sqlx::query("UPDATE donations SET stripe_looked_at = stripe_looked_at - 5")
            .execute(&app.pool)
            .await
            .unwrap();
        assert_eq!(app.get("/thanks?session_id=cs_long").await.status(), 200);
    }
    let lookups: i64 = sqlx::query_scalar("SELECT stripe_lookups FROM donations WHERE id = ?1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(lookups, 20);
}

#[tokio::test]
async fn the_thanks_page_has_its_own_per_client_limit() {
    let app = spawn_app_with(&[("THANKS_RATE_PER_IP", "3/1m"), ("THANKS_BURST_PER_IP", "3")]).await;
    app.donation("cs_t").paid().await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get("/thanks?session_id=cs_t").await.status().as_u16());
    }
    let refused = app.get("/thanks?session_id=cs_t").await;

    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(refused.text().await.unwrap().contains("Zu viele Versuche"));
}

/// Two checkouts with the given `X-Forwarded-For` headers through a trusted proxy, with one
/// checkout per client allowed: `same_client` says whether the second must be refused.
async fn two_checkouts(first: &str, second: &str, same_client: bool) {
    let app = spawn_app_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("DONATE_RATE_PER_IP", "1/1h"),
        ("DONATE_BURST_PER_IP", "1"),
    ])
    .await;
    app.stripe.sessions_created(if same_client { 1 } else { 2 }).await;
    let mut statuses = Vec::new();
    for xff in [first, second] {
        let response = app
            .client
            .post(app.url("/donate"))
            .header("X-Forwarded-For", xff)
            .json(&json!({"coffees": 1}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    let expected = if same_client { [200, 429] } else { [200, 200] };
    assert_eq!(statuses, expected, "{first} then {second}");
}

#[tokio::test]
async fn a_client_cannot_mint_addresses_with_ports_garbage_or_a_fresh_ipv6() {
    // The proxy appended "203.0.113.7:4444"; the part before it is the client's own invention.
    two_checkouts("1.2.3.4, 203.0.113.7:4444", "5.6.7.8, 203.0.113.7", true).await;
    // An entry that is not an address: keyed on the proxy, not on what came before it.
    two_checkouts("1.2.3.4, unknown", "5.6.7.8, unknown", true).await;
    // One /64 is one client.
    two_checkouts("2001:db8:1:2::1", "2001:db8:1:2::beef", true).await;
    two_checkouts("[2001:db8:1:2::1]:443", "2001:db8:1:2::2", true).await;
    // Different clients are still different.
    two_checkouts("203.0.113.7", "203.0.113.8", false).await;
}

#[tokio::test]
async fn names_with_characters_xml_forbids_are_refused_with_the_reason_and_the_feed_stays_valid() {
    let app = spawn_app().await;

    let form = app
        .post_form(
            "/donate",
            &[("coffees", "1"), ("name", "Anna\u{FFFF}"), ("public", "on")],
        )
        .await;
    let json = app
        .post_json(
            "/donate",
            &json!({"coffees": 1, "message": "Hallo\u{FFFE}", "public": true}),
        )
        .await;

    assert_eq!(form.status(), 422);
    assert!(form.text().await.unwrap().contains("U+FFFF"));
    assert_eq!(json.status(), 422);
    let error: Value = json.json().await.unwrap();
    assert_eq!(error["error"]["field"], "message");
    assert!(error["error"]["message"].as_str().unwrap().contains("U+FFFE"));
    assert_eq!(app.count("donations").await, 0);

    // A name stored before the rule existed must not break the feed for everyone.
    let id = app.donation("cs_old").public("Bert", "Hallo").paid().await;
    sqlx::query("UPDATE donations SET name = 'Be\u{FFFF}rt' WHERE id = ?1")
        .bind(&id)
        .execute(&app.pool)
        .await
        .unwrap();
    let feed = app.get("/supporters.atom").await.text().await.unwrap();
    assert!(!feed.contains('\u{FFFF}') && feed.contains("Bert"), "{feed}");
}
