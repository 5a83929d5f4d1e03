//! Moderation, consent, and the donor's own manage link.

use serde_json::{Value, json};

use crate::helpers::*;

async fn wall(app: &TestApp) -> Value {
    app.get("/api/supporters").await.json().await.unwrap()
}

#[tokio::test]
async fn a_public_message_with_a_link_is_held_until_approved() {
    let app = TestApp::with_admin(&[("BLOCKED_WORDS", "casino")]).await;
    let spam = app
        .donation("cs_m1")
        .public("Spammer", "Besuch spam-shop.example.com!")
        .paid()
        .await;
    app.donation("cs_m2")
        .public("Mail", "schreib an x@example.org")
        .paid()
        .await;
    app.donation("cs_m3").public("Casino King", "").paid().await;
    app.donation("cs_m4")
        .public("Anna", "Danke für den Artikel")
        .paid()
        .await;

    let body = wall(&app).await;
    let names: Vec<Value> = body["supporters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("Anna"), json!(null), json!(null), json!(null)]);
    assert!(!body.to_string().contains("spam-shop"));
    assert_eq!(
        body["totals"]["coffees"], 4,
        "held entries still count, anonymously"
    );

    let approved = app
        .admin_post(&format!("/api/admin/donations/{spam}/approve"), None)
        .await;
    assert_eq!(approved.status(), 200);
    assert!(wall(&app).await.to_string().contains("spam-shop.example.com"));
}

#[tokio::test]
async fn moderation_all_holds_every_public_entry_and_off_holds_none() {
    let all = spawn_app_with(&[("MODERATION", "all")]).await;
    all.donation("cs_all").public("Anna", "Hallo").paid().await;
    assert_eq!(wall(&all).await["supporters"][0]["name"], json!(null));

    let off = spawn_app_with(&[("MODERATION", "off")]).await;
    off.donation("cs_off")
        .public("Anna", "https://example.org")
        .paid()
        .await;
    assert_eq!(
        wall(&off).await["supporters"][0]["message"],
        "https://example.org"
    );
}

#[tokio::test]
async fn a_public_opt_in_is_stored_with_time_and_consent_version_and_anonymous_has_none() {
    let app = spawn_app().await;
    let public = app.donation("cs_c1").public("Anna", "").paid().await;
    let anonymous = app.donation("cs_c2").named("Bert", "").paid().await;
    let consent = |id: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_as::<_, (Option<i64>, Option<String>)>(
                "SELECT consent_at, consent_version FROM donations WHERE id = ?1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let (at, version) = consent(public).await;
    assert!(at.is_some_and(|t| (now() - t).abs() < 60));
    assert_eq!(version.as_deref(), Some(kaffeekasse::i18n::CONSENT_VERSION));
    assert_eq!(consent(anonymous).await, (None, None));

    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("id=\"privacy-notice\"") && home.contains("privaten Link"));
    let with_links = spawn_app_with(&[
        ("PRIVACY_URL", "https://blog.example.de/datenschutz"),
        ("IMPRINT_URL", "https://blog.example.de/impressum"),
    ])
    .await;
    let home = with_links.get("/").await.text().await.unwrap();
    assert!(
        home.contains("href=\"https://blog.example.de/datenschutz\"")
            && home.contains("href=\"https://blog.example.de/impressum\"")
    );
}

/// The manage link from the thanks page, as a path.
pub async fn manage_path(app: &TestApp, session_id: &str) -> String {
    let thanks = app
        .get(&format!("/thanks?session_id={session_id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(thanks.contains("Eintrag verwalten: diesen Link aufbewahren"));
    let marker = format!("{}/manage/", app.address);
    let start = thanks.find(&marker).expect("manage link") + app.address.len();
    let link = &thanks[start..start + thanks[start..].find('"').unwrap()];
    // The link keeps the thanks page's language; the token is the path.
    let (path, lang) = link.split_once('?').expect("the manage link names its language");
    assert_eq!(lang, "lang=de");
    path.to_owned()
}

pub async fn post_manage(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("Origin", &app.address)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_manage_link_lets_a_donor_go_anonymous_edit_and_rejects_tampering() {
    let app = spawn_app().await;
    app.donation("cs_d1")
        .coffees(2)
        .public("Anna", "Hallo")
        .paid()
        .await;
    let path = manage_path(&app, "cs_d1").await;

    let page = app.get(&path).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("value=\"Anna\""));
    let mut tampered = path.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'a' { 'b' } else { 'a' });
    assert_eq!(app.get(&tampered).await.status(), 404);
    assert_eq!(app.get("/manage/not-a-token").await.status(), 404);
    assert_eq!(
        post_manage(&app, &tampered, &[("name", "Evil")]).await.status(),
        404
    );

    // Going anonymous: no tick.
    let saved = post_manage(&app, &path, &[("name", "Anna"), ("message", "Hallo")]).await;
    assert_eq!(saved.status(), 303);
    let body = wall(&app).await;
    assert_eq!(
        (
            body["supporters"][0]["name"].clone(),
            body["supporters"][0]["message"].clone()
        ),
        (json!(null), json!(null))
    );

    // Public again, with a link in the message: back through moderation.
    post_manage(
        &app,
        &path,
        &[
            ("name", "Anna B."),
            ("message", "mein blog: anna.example.org"),
            ("public", "on"),
        ],
    )
    .await;
    assert_eq!(
        wall(&app).await["supporters"][0]["name"],
        json!(null),
        "held for review"
    );
    post_manage(
        &app,
        &path,
        &[("name", "Anna B."), ("message", "Viele Grüße"), ("public", "on")],
    )
    .await;
    assert_eq!(wall(&app).await["supporters"][0]["name"], "Anna B.");

    let too_long = post_manage(&app, &path, &[("name", &"x".repeat(61)), ("public", "on")]).await;
    assert_eq!(too_long.status(), 422);
    let cross_site = app
        .client
        .post(app.url(&path))
        .header("Origin", "https://evil.example")
        .form(&[("name", "Evil")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert_eq!(wall(&app).await["supporters"][0]["name"], "Anna B.");
}

#[tokio::test]
async fn a_donor_can_erase_themselves_and_the_link_then_stops_working() {
    let app = spawn_app().await;
    app.donation("cs_e1")
        .coffees(2)
        .public("Anna", "Hallo")
        .paid()
        .await;
    let path = manage_path(&app, "cs_e1").await;

    let unconfirmed = post_manage(&app, &format!("{path}/erase"), &[]).await;
    assert_eq!(unconfirmed.status(), 422);
    let erased = post_manage(&app, &format!("{path}/erase"), &[("confirm", "on")]).await;
    assert_eq!(erased.status(), 200);

    let d = app.row("cs_e1").await.unwrap();
    assert_eq!(
        (d.name, d.message, d.visibility.as_str()),
        (None, None, "anonymous")
    );
    assert_eq!(
        (d.status.as_str(), d.amount_cents, d.coffees),
        ("paid", 1000, 2),
        "accounting stays"
    );
    assert_eq!(app.get(&path).await.status(), 404);
    let thanks = app.get("/thanks?session_id=cs_e1").await.text().await.unwrap();
    assert!(!thanks.contains("/manage/"));
}
