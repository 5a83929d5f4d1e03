//! Admin access, moderation, export and erasure.

use serde_json::{Value, json};

use crate::helpers::*;

/// Every admin URL, with its method.
const ENDPOINTS: &[(&str, &str)] = &[
    ("GET", "/admin"),
    ("GET", "/admin/donations/some-id"),
    ("POST", "/admin/donations/some-id/hide"),
    ("GET", "/admin/events"),
    ("POST", "/admin/events/evt_x/replay"),
    ("GET", "/admin/anything-else"),
    ("GET", "/api/admin/donations"),
    ("GET", "/api/admin/donations.csv"),
    ("GET", "/api/admin/donations/some-id"),
    ("POST", "/api/admin/donations/some-id/erase"),
    ("GET", "/api/admin/totals"),
    ("GET", "/api/admin/events"),
    ("POST", "/api/admin/events/evt_x/replay"),
    ("GET", "/api/admin/anything-else"),
];

async fn call(app: &TestApp, method: &str, path: &str, auth: Option<&str>) -> reqwest::Response {
    let mut req = match method {
        "GET" => app.client.get(app.url(path)),
        _ => app
            .client
            .post(app.url(path))
            .header("Origin", &app.address)
            .form(&[("csrf", "x")]),
    };
    if let Some(token) = auth {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn without_a_token_configured_every_admin_url_answers_404() {
    let app = spawn_app().await;
    for (method, path) in ENDPOINTS.iter().chain(&[
        ("GET", "/admin/login"),
        ("POST", "/admin/login"),
        ("POST", "/admin/logout"),
    ]) {
        let response = call(&app, method, path, Some(ADMIN_TOKEN)).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
}

#[tokio::test]
async fn a_missing_or_wrong_token_answers_401_everywhere() {
    let app = TestApp::with_admin(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    for (i, (method, path)) in ENDPOINTS.iter().enumerate() {
        let missing = call(&app, method, path, None).await;
        assert_eq!(missing.status(), 401, "missing: {method} {path}");
        // A different forwarded network per try, so the lockout does not kick in here.
        let wrong = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header("Authorization", "Bearer not-the-token")
            .header("X-Forwarded-For", format!("198.51.{i}.1"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "wrong: {method} {path}");
    }
    let right = app.admin_get("/api/admin/donations").await;
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_answer_429_even_for_the_right_token() {
    let app = TestApp::with_admin(&[]).await;
    for _ in 0..5 {
        assert_eq!(
            call(&app, "GET", "/api/admin/totals", Some("wrong"))
                .await
                .status(),
            401
        );
    }
    let locked = app.admin_get("/api/admin/totals").await;
    assert_eq!(locked.status(), 429);
    assert!(locked.headers().contains_key("retry-after"));
    let login = app
        .client
        .post(app.url("/admin/login"))
        .header("Origin", &app.address)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 429);
}

#[tokio::test]
async fn guesses_from_many_addresses_of_one_48_are_refused_after_a_bounded_number() {
    let app = TestApp::with_admin(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut answered = Vec::new();
    for i in 0..300 {
        // Each guess from another /64 of the same /48: 300 "clients" of one network.
        let response = app
            .client
            .get(app.url("/api/admin/totals"))
            .header("Authorization", "Bearer guess")
            .header("X-Forwarded-For", format!("2001:db8:42:{i:x}::1"))
            .send()
            .await
            .unwrap();
        answered.push(response.status().as_u16());
    }

    let guesses = answered.iter().filter(|s| **s == 401).count();
    assert_eq!(guesses, 20, "then 429: {answered:?}");
    assert!(answered[20..].iter().all(|s| *s == 429));
    let elsewhere = app
        .client
        .get(app.url("/api/admin/totals"))
        .header("Authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("X-Forwarded-For", "2001:db8:43::1")
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 200, "another network is not locked out");
}

fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_browser_login_gives_a_session_and_forms_need_csrf_and_our_origin() {
    let app = TestApp::with_admin(&[]).await;
    let donation = app.donation("cs_adm").public("Anna", "Hallo").paid().await;
    let wrong = app
        .client
        .post(app.url("/admin/login"))
        .header("Origin", &app.address)
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let response = app
        .client
        .post(app.url("/admin/login"))
        .header("Origin", &app.address)
        .form(&[("token", ADMIN_TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict")
            && set_cookie.contains("Max-Age=")
    );
    assert!(!set_cookie.contains("Secure"), "plain http in tests");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let page = app
        .client
        .get(app.url(&format!("/admin/donations/{donation}")))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Anna") && html.contains("Verbergen"));
    let csrf = csrf_from(&html);
    let hide = |origin: &'static str, token: String| {
        let url = app.url(&format!("/admin/donations/{donation}/hide"));
        let cookie = cookie.clone();
        let client = app.client.clone();
        let origin = if origin == "ours" {
            app.address.clone()
        } else {
            origin.to_owned()
        };
        async move {
            client
                .post(url)
                .header("Cookie", cookie)
                .header("Origin", origin)
                .form(&[("csrf", token)])
                .send()
                .await
                .unwrap()
        }
    };

    assert_eq!(
        hide("https://evil.example", csrf.clone()).await.status(),
        403,
        "cross-origin POST"
    );
    assert_eq!(
        hide("ours", "forged".into()).await.status(),
        403,
        "missing CSRF token"
    );
    assert_eq!(app.row("cs_adm").await.unwrap().status, "paid");
    let wall: Value = app.get("/api/supporters").await.json().await.unwrap();
    assert_eq!(wall["totals"]["supporters"], 1, "nothing was hidden yet");
    assert_eq!(hide("ours", csrf).await.status(), 303);
    let wall: Value = app.get("/api/supporters").await.json().await.unwrap();
    assert_eq!(wall["totals"]["supporters"], 0);

    let logout = app
        .client
        .post(app.url("/admin/logout"))
        .header("Cookie", &cookie)
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}

#[tokio::test]
async fn hide_unhide_and_erase_change_the_wall_and_erase_keeps_the_accounts() {
    let app = TestApp::with_admin(&[]).await;
    let anna = app
        .donation("cs_h1")
        .coffees(2)
        .public("Anna", "Toller Blog")
        .paid()
        .await;
    app.donation("cs_h2").public("Bert", "").paid().await;
    let auth = Some(ADMIN_TOKEN);
    let totals = |app: &TestApp| {
        let url = app.url("/api/stats");
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(totals(&app).await["coffees"], 3);

    assert_eq!(
        call(&app, "POST", &format!("/api/admin/donations/{anna}/hide"), auth)
            .await
            .status(),
        200
    );
    assert_eq!(
        (
            totals(&app).await["coffees"].clone(),
            totals(&app).await["supporters"].clone()
        ),
        (json!(1), json!(1))
    );
    assert!(
        !app.get("/supporters")
            .await
            .text()
            .await
            .unwrap()
            .contains("Anna")
    );

    assert_eq!(
        call(&app, "POST", &format!("/api/admin/donations/{anna}/unhide"), auth)
            .await
            .status(),
        200
    );
    assert_eq!(totals(&app).await["coffees"], 3);

    let unconfirmed = call(&app, "POST", &format!("/api/admin/donations/{anna}/erase"), auth).await;
    assert_eq!(unconfirmed.status(), 422, "erasing asks first");
    let erased = app
        .admin_post(
            &format!("/api/admin/donations/{anna}/erase"),
            Some(json!({"confirm": true})),
        )
        .await;
    assert_eq!(erased.status(), 200);
    let row: Value = erased.json().await.unwrap();
    assert_eq!(
        (
            row["name"].clone(),
            row["message"].clone(),
            row["visibility"].clone()
        ),
        (json!(null), json!(null), json!("anonymous"))
    );
    assert_eq!(
        (
            row["amount_cents"].clone(),
            row["status"].clone(),
            row["coffees"].clone()
        ),
        (json!(1000), json!("paid"), json!(2))
    );
    assert_eq!(row["checkout_session_id"], "cs_h1");
    assert!(row["erased_at"].is_number());
    assert!(row["payment_intent_id"].is_string());
    let wall = app.get("/supporters").await.text().await.unwrap();
    assert!(!wall.contains("Anna") && !wall.contains("Toller Blog") && wall.contains("Anonym"));
    assert_eq!(
        totals(&app).await["coffees"],
        3,
        "an erased donation still counts"
    );
    let payload: String = sqlx::query_scalar("SELECT payload FROM stripe_events WHERE donation_id = ?1")
        .bind(&anna)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        !payload.contains("example@example.com"),
        "the payer's e-mail is scrubbed from the ledger"
    );
}

#[tokio::test]
async fn the_csv_export_quotes_properly_and_defuses_formulas() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_csv1")
        .public("=HYPERLINK(\"http://x\")", "Hallo, \"Welt\"\nzweite Zeile")
        .paid()
        .await;
    app.donation("cs_csv2")
        .coffees(2)
        .public("@SUM(A1)", "+49 30 123")
        .paid()
        .await;
    app.donation("cs_csv3")
        .named("-minus", "Umlaute: äöü ☕")
        .paid()
        .await;

    let response = app.admin_get("/api/admin/donations.csv").await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let body = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let by_session = |sid: &str| {
        rows.iter()
            .find(|r| &r[col("checkout_session_id")] == sid)
            .unwrap()
            .clone()
    };
    let first = by_session("cs_csv1");
    assert_eq!(&first[col("name")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(
        &first[col("message")],
        "Hallo, \"Welt\"\nzweite Zeile",
        "commas, quotes and newlines survive"
    );
    let second = by_session("cs_csv2");
    assert_eq!(
        (&second[col("name")], &second[col("message")]),
        ("'@SUM(A1)", "'+49 30 123")
    );
    assert_eq!(&second[col("amount_cents")], "1000");
    let third = by_session("cs_csv3");
    assert_eq!(
        (&third[col("name")], &third[col("message")]),
        ("'-minus", "Umlaute: äöü ☕")
    );
}

#[tokio::test]
async fn the_admin_lists_every_state_with_filters_and_monthly_totals() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_l1").coffees(2).public("Anna", "").paid().await;
    let r = app.donation("cs_l2").named("Bert", "").paid().await;
    app.deliver(
        "evt_l2r",
        "charge.refunded",
        charge("ch_l2", &r, "pi_cs_l2", 500, 500),
    )
    .await;
    app.donation("cs_l3")
        .coffees(3)
        .named("Anna", "Danke!")
        .create()
        .await;

    let all: Value = app.admin_get("/api/admin/donations").await.json().await.unwrap();
    let refunded: Value = app
        .admin_get("/api/admin/donations?status=refunded")
        .await
        .json()
        .await
        .unwrap();
    let month = time::OffsetDateTime::now_utc();
    let this_month = format!("{}-{:02}", month.year(), u8::from(month.month()));
    let in_month: Value = app
        .admin_get(&format!("/api/admin/donations?month={this_month}"))
        .await
        .json()
        .await
        .unwrap();
    let other_month: Value = app
        .admin_get("/api/admin/donations?month=2001-01")
        .await
        .json()
        .await
        .unwrap();
    let totals: Value = app.admin_get("/api/admin/totals").await.json().await.unwrap();

    assert_eq!(all["donations"].as_array().unwrap().len(), 3, "pending ones too");
    assert_eq!(refunded["donations"].as_array().unwrap().len(), 1);
    assert_eq!(in_month["donations"].as_array().unwrap().len(), 3);
    assert_eq!(other_month["donations"].as_array().unwrap().len(), 0);
    assert_eq!(
        totals["overall"],
        json!({"donations": 2, "coffees": 3, "gross_cents": 1500, "refunded_cents": 500,
               "disputed_lost_cents": 0, "net_cents": 1000, "currency": "eur"})
    );
    assert_eq!(totals["months"][0]["month"], this_month);
    assert_eq!(
        app.admin_get("/api/admin/donations?status=bogus").await.status(),
        400
    );
    let html = app
        .client
        .get(app.url("/admin"))
        .header("Cookie", app.login().await)
        .send()
        .await
        .unwrap();
    let html = html.text().await.unwrap();
    assert!(html.contains("Gesamt") && html.contains("15,00\u{a0}€") && html.contains("pending"));
}

#[tokio::test]
async fn the_event_ledger_lists_events_and_replays_one() {
    let app = TestApp::with_admin(&[]).await;
    app.donation("cs_ev").public("Anna", "").paid().await;

    let events: Value = app.admin_get("/api/admin/events").await.json().await.unwrap();
    let replay = call(
        &app,
        "POST",
        "/api/admin/events/evt_paid_cs_ev/replay",
        Some(ADMIN_TOKEN),
    )
    .await;
    let missing = call(
        &app,
        "POST",
        "/api/admin/events/evt_nope/replay",
        Some(ADMIN_TOKEN),
    )
    .await;

    assert_eq!(events["events"][0]["id"], "evt_paid_cs_ev");
    assert_eq!(events["events"][0]["status"], "applied");
    assert_eq!(replay.status(), 200);
    assert_eq!(missing.status(), 404);
    assert_eq!(app.count("donations").await, 1);
}
