//! The supporter wall, its JSON API and the embeds: who is shown and what is counted.

use serde_json::{Value, json};

use crate::helpers::*;

/// One donation in every state, 5 € a coffee. Only "anna", "anon" and "partial" are on the wall.
async fn every_state(app: &TestApp) {
    app.donation("cs_anna")
        .coffees(2)
        .public("Anna", "Weiter so!")
        .paid()
        .await;
    app.donation("cs_anon")
        .named("Geheim", "Nicht zeigen")
        .paid()
        .await;
    let partial = app
        .donation("cs_partial")
        .coffees(3)
        .public("Paula", "")
        .paid()
        .await;
    app.deliver(
        "evt_partial_refund",
        "charge.refunded",
        charge("ch_partial", &partial, "pi_cs_partial", 1500, 500),
    )
    .await;

    app.donation("cs_pending")
        .coffees(4)
        .public("Pending", "")
        .create()
        .await;
    let processing = app
        .donation("cs_processing")
        .coffees(4)
        .public("Sepa", "")
        .create()
        .await;
    app.deliver(
        "evt_proc",
        "checkout.session.completed",
        session("cs_processing", &processing, "unpaid", "complete", 2000),
    )
    .await;
    let failed = app
        .donation("cs_failed")
        .coffees(4)
        .public("Failed", "")
        .create()
        .await;
    app.deliver(
        "evt_f1",
        "checkout.session.completed",
        session("cs_failed", &failed, "unpaid", "complete", 2000),
    )
    .await;
    app.deliver(
        "evt_f2",
        "checkout.session.async_payment_failed",
        session("cs_failed", &failed, "unpaid", "complete", 2000),
    )
    .await;
    let expired = app
        .donation("cs_expired")
        .coffees(4)
        .public("Expired", "")
        .create()
        .await;
    app.deliver(
        "evt_exp",
        "checkout.session.expired",
        session("cs_expired", &expired, "unpaid", "expired", 2000),
    )
    .await;
    let refunded = app
        .donation("cs_refunded")
        .coffees(4)
        .public("Refunded", "")
        .paid()
        .await;
    app.deliver(
        "evt_ref",
        "charge.refunded",
        charge("ch_ref", &refunded, "pi_cs_refunded", 2000, 2000),
    )
    .await;
    app.donation("cs_disputed")
        .coffees(4)
        .public("Disputed", "")
        .paid()
        .await;
    app.deliver(
        "evt_dis",
        "charge.dispute.created",
        dispute("dp_1", "ch_x", "pi_cs_disputed", "needs_response", 2000),
    )
    .await;
    app.donation("cs_lost").coffees(4).public("Lost", "").paid().await;
    app.deliver(
        "evt_lost1",
        "charge.dispute.created",
        dispute("dp_2", "ch_y", "pi_cs_lost", "needs_response", 2000),
    )
    .await;
    app.deliver(
        "evt_lost2",
        "charge.dispute.closed",
        dispute("dp_2", "ch_y", "pi_cs_lost", "lost", 2000),
    )
    .await;
}

#[tokio::test]
async fn only_paid_donations_are_listed_and_counted_and_anonymous_ones_hide_name_and_message() {
    let app = spawn_app().await;
    every_state(&app).await;

    let body: Value = app.get("/api/supporters").await.json().await.unwrap();

    let names: Vec<Value> = body["supporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("Paula"), json!(null), json!("Anna")],
        "newest first, only paid"
    );
    let anon = &body["supporters"][1];
    assert_eq!(
        (anon["message"].clone(), anon["coffees"].clone()),
        (json!(null), json!(1))
    );
    assert!(!body.to_string().contains("Geheim") && !body.to_string().contains("Nicht zeigen"));
    assert_eq!(body["supporters"][2]["message"], "Weiter so!");
    assert_eq!(body["supporters"][2]["amount_cents"], 1000);
    assert_eq!(body["supporters"][2]["currency"], "eur");
    assert!(
        body["supporters"][2]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    // 2 + 1 + 3 coffees; 10 + 5 + 15 € minus the 5 € partial refund.
    assert_eq!(
        body["totals"],
        json!({"supporters": 3, "coffees": 6, "amount_cents": 2500, "currency": "eur"})
    );
    assert_eq!(body["next_cursor"], json!(null));

    let html = app.get("/supporters").await.text().await.unwrap();
    assert!(
        html.contains("☕ 6 Kaffees von 3 Unterstützer:innen · 25,00\u{a0}€"),
        "{html}"
    );
    assert!(html.contains("Anonym") && html.contains("Weiter so!") && html.contains("2 Kaffees"));
    for hidden in [
        "Geheim",
        "Nicht zeigen",
        "Pending",
        "Sepa",
        "Failed",
        "Expired",
        "Refunded",
        "Disputed",
        "Lost",
    ] {
        assert!(!html.contains(hidden), "{hidden} must not be on the wall");
    }
    let english = app.get("/supporters?lang=en").await.text().await.unwrap();
    assert!(english.contains("Anonymous") && english.contains("☕ 6 coffees from 3 supporters"));
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("Weiter so!") && home.contains("☕ 6 Kaffees von 3 Unterstützer:innen"));
}

#[tokio::test]
async fn the_wall_pages_by_keyset_twenty_at_a_time_without_gaps_or_repeats() {
    let app = spawn_app().await;
    for i in 0..25 {
        app.donation(&format!("cs_page_{i:02}"))
            .public(&format!("Person {i:02}"), "")
            .paid()
            .await;
    }

    let first: Value = app.get("/api/supporters").await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let second: Value = app
        .get(&format!("/api/supporters?cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let small: Value = app.get("/api/supporters?limit=7").await.json().await.unwrap();

    let mut ids: Vec<String> = first["supporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 20);
    ids.extend(
        second["supporters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned()),
    );
    assert_eq!(ids.len(), 25);
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 25, "no entry twice");
    assert_eq!(second["next_cursor"], json!(null));
    assert_eq!(small["supporters"].as_array().unwrap().len(), 7);

    let html = app.get("/supporters").await.text().await.unwrap();
    assert!(html.contains("rel=\"next\" href=\"/supporters?before="));
    let older = app
        .get(&format!("/supporters?before={cursor}"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(older.matches("class=\"supporter\"").count(), 5);
}

#[tokio::test]
async fn a_bad_limit_or_cursor_answers_400() {
    let app = spawn_app().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=garbage",
        "cursor=1.%3Cscript%3E",
    ] {
        let response = app.get(&format!("/api/supporters?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"]["message"].is_string());
    }
    assert_eq!(app.get("/supporters?before=garbage").await.status(), 400);
}

#[tokio::test]
async fn public_reads_send_cors_etag_and_short_caching_and_answer_304_when_unchanged() {
    let app = spawn_app().await;
    app.donation("cs_cache").public("Anna", "").paid().await;
    for path in ["/api/supporters", "/api/stats", "/badge.svg", "/supporters.atom"] {
        let first = app.get(path).await;
        assert_eq!(first.headers()["access-control-allow-origin"], "*", "{path}");
        assert!(
            first.headers()["cache-control"]
                .to_str()
                .unwrap()
                .starts_with("public, max-age="),
            "{path}"
        );
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();

        let again = app
            .client
            .get(app.url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();

        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
    }
    // A new supporter changes the ETag.
    let before = app.get("/api/stats").await.headers()["etag"].clone();
    app.donation("cs_cache2").public("Bert", "").paid().await;
    assert_ne!(app.get("/api/stats").await.headers()["etag"], before);
}

#[tokio::test]
async fn stats_include_the_goal_and_the_wall_shows_its_progress() {
    let app = spawn_app_with(&[("GOAL_COFFEES", "10"), ("GOAL_LABEL", "Neue Kamera")]).await;
    app.donation("cs_goal").coffees(4).public("Anna", "").paid().await;

    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    let html = app.get("/supporters").await.text().await.unwrap();

    assert_eq!(
        stats,
        json!({"supporters": 1, "coffees": 4, "amount_cents": 2000, "currency": "eur",
        "monthly_supporters": 0, "goal": {"coffees": 10, "label": "Neue Kamera"}})
    );
    assert!(html.contains(r#"<progress id="goal-progress" max="10" value="4">"#));
    assert!(html.contains("Neue Kamera: 4 von 10 Kaffees"));
}

#[tokio::test]
async fn the_badge_is_an_svg_counting_coffees_in_either_language() {
    let app = spawn_app().await;
    app.donation("cs_badge")
        .coffees(3)
        .public("Anna", "")
        .paid()
        .await;

    let de = app.get("/badge.svg").await;
    assert_eq!(de.headers()["content-type"], "image/svg+xml; charset=utf-8");
    let de = de.text().await.unwrap();
    let en = app.get("/badge.svg?lang=en").await.text().await.unwrap();

    assert!(de.starts_with("<svg") && de.contains(">3 Kaffees</text>") && de.contains("<title>"));
    assert!(en.contains(">3 coffees</text>"));
}

#[tokio::test]
async fn only_the_widget_may_be_framed_and_only_by_the_configured_origins() {
    let app = spawn_app_with(&[("EMBED_ORIGINS", "https://blog.example.de")]).await;
    app.donation("cs_widget")
        .coffees(2)
        .public("Anna", "Super")
        .paid()
        .await;

    let widget = app.get("/widget").await;
    let csp = widget.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = widget.text().await.unwrap();
    let home = app.get("/").await;

    assert!(csp.ends_with("frame-ancestors https://blog.example.de"), "{csp}");
    assert!(
        home.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(body.contains("☕ 2 Kaffees von 1 Unterstützer:in") && body.contains("Anna"));
    assert!(body.contains(r#"action="/donate?lang=de" target="_top""#));
    let default = spawn_app().await;
    let csp = default.get("/widget").await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.ends_with("frame-ancestors *"));
}

#[tokio::test]
async fn the_feed_lists_public_supporters_only() {
    let app = spawn_app().await;
    app.donation("cs_feed1")
        .coffees(2)
        .public("Anna", "Danke für den Artikel")
        .paid()
        .await;
    app.donation("cs_feed2").named("Geheim", "Psst").paid().await;

    let response = app.get("/supporters.atom").await;
    assert_eq!(
        response.headers()["content-type"],
        "application/atom+xml; charset=utf-8"
    );
    let xml = response.text().await.unwrap();

    assert!(xml.starts_with("<?xml") && xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\""));
    assert_eq!(xml.matches("<entry>").count(), 1);
    assert!(xml.contains("Anna – 2 Kaffees") && xml.contains("Danke für den Artikel"));
    assert!(!xml.contains("Geheim") && !xml.contains("Psst"));
}

#[tokio::test]
async fn the_embed_page_offers_every_snippet_with_a_preview() {
    let app = spawn_app_with(&[("PUBLIC_URL", "https://kaffee.example.de")]).await;

    let html = app.get("/embed").await.text().await.unwrap();

    assert!(
        html.contains(
            "&#60;form method=&#34;post&#34; action=&#34;https://kaffee.example.de/donate?lang=de&#34;"
        ),
        "escaped snippet"
    );
    assert!(
        html.contains(
            r#"<form method="post" action="https://kaffee.example.de/donate?lang=de" target="_top" style="#
        ),
        "live preview"
    );
    assert!(
        html.contains("https://kaffee.example.de/badge.svg")
            && html.contains("https://kaffee.example.de/widget")
    );
    assert!(html.contains("https://kaffee.example.de/supporters.atom"));
}
