//! Ending a monthly coffee: the cancel button German law asks for (`/kuendigen`, no login), the
//! manage link (at once or at period end), the customer portal for a new payment method, an
//! erasure that ends it first; declarations stored before Stripe is asked and retried.

use std::sync::Arc;
use std::time::Duration;

use kaffeekasse::cancel::Canceller;
use kaffeekasse::payments::Provider;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;
use crate::monthly::manage_token;

/// A running monthly coffee paid with `email`.
async fn running(app: &TestApp, session_id: &str, email: &str) -> Sub {
    let sub = app.monthly(session_id, 1, json!({})).await;
    app.first_month(&sub, Some(email)).await;
    sub
}

fn ended(sub: &Sub) -> ResponseTemplate {
    let now = now();
    ResponseTemplate::new(200).set_body_json(sub.subscription(
        "canceled",
        sub.month(1),
        json!({"ended_at": now, "canceled_at": now,
               "cancellation_details": {"comment": null, "feedback": null, "reason": "cancellation_requested"}}),
    ))
}

/// The form posted from our own page, as a browser sends it.
async fn declare(app: &TestApp, form: &[(&str, &str)]) -> reqwest::Response {
    app.post_page_form("/kuendigen?lang=de", form).await
}

async fn declarations(app: &TestApp) -> Vec<(String, i64, i64, Option<String>)> {
    sqlx::query_as("SELECT state, tries, attempt, last_error FROM cancellations ORDER BY created_at")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// A worker like the app's own over its database, to carry declarations out on the test's clock.
pub async fn worker(app: &TestApp) -> Canceller {
    let signer = kaffeekasse::auth::service_signer(None, &app.db).await.unwrap();
    Canceller::new(
        app.db.clone(),
        Arc::new(Provider::Stripe(Box::new(app.stripe_provider()))),
        app.ledger(),
        None,
        signer,
        "Kaffeekasse".into(),
        app.address.clone(),
    )
}

#[tokio::test]
async fn kuendigen_ends_the_monthly_coffee_of_the_address_and_confirms_with_date_and_time() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k1", "Anna@Example.org").await;
    app.stripe.cancel_answers(&sub.id, ended(&sub), 1).await;

    let response = declare(
        &app,
        &[
            ("email", " anna@example.org "),
            ("name", "Anna"),
            ("kind", "ordinary"),
            ("when", "now"),
        ],
    )
    .await;

    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/kuendigen/") && location.ends_with("?lang=de"),
        "{location}"
    );
    let page = app.get(&location).await;
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    for shown in [
        "Deine Kündigung ist eingegangen",
        "Eingegangen am",
        "Uhr (UTC)",
        "anna@example.org",
        "ordentliche Kündigung",
        "sofort",
        "Anna",
    ] {
        assert!(page.contains(shown), "{shown} in {page}");
    }
    assert!(
        page.contains("Diese Seite ist deine Bestätigung"),
        "no SMTP: the page is the proof"
    );
    eventually("the subscription ended", || async {
        app.column(&sub.donation_id, "ended_at").await.is_some()
    })
    .await;
    let keys = app.stripe.keys_to(&format!("/v1/subscriptions/{}", sub.id)).await;
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with("kaffeekasse-cancel-"), "{keys:?}");
    eventually("the declaration is done", || async {
        declarations(&app).await.first().is_some_and(|d| d.0 == "done")
    })
    .await;
    let download = app.get(&location.replace("?lang=de", "/download?lang=de")).await;
    assert!(
        download.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let text = download.text().await.unwrap();
    assert!(
        text.contains("Vorgangsnummer") && text.contains("anna@example.org"),
        "{text}"
    );
    let stats: Value = app.get("/api/stats").await.json().await.unwrap();
    assert_eq!(stats["monthly_supporters"], 0);
    assert_eq!(stats["supporters"], 1, "the entry stays, without the badge");
}

#[tokio::test]
async fn kuendigen_answers_the_same_whether_or_not_the_address_has_a_monthly_coffee() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k2", "known@example.org").await;
    app.stripe.cancel_answers(&sub.id, ended(&sub), 1).await;

    let known = declare(&app, &[("email", "known@example.org")]).await;
    let unknown = declare(&app, &[("email", "stranger@example.org")]).await;

    assert_eq!(known.status(), unknown.status());
    let strip = |page: String| {
        page.lines()
            .filter(|l| !l.contains("@example.org") && !l.contains("UTC") && !l.contains("/kuendigen/"))
            .filter(|l| !l.contains("<dd") || !l.contains('-'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let page = |r: reqwest::Response| {
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let app = &app;
        async move { app.get(&location).await.text().await.unwrap() }
    };
    assert_eq!(strip(page(known).await), strip(page(unknown).await));
    eventually("both declarations are worked off", || async {
        declarations(&app).await.iter().all(|d| d.0 == "done")
    })
    .await;
    assert_eq!(
        app.stripe
            .keys_to(&format!("/v1/subscriptions/{}", sub.id))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_declaration_is_stored_before_stripe_is_asked_and_retried_under_a_fresh_key_after_a_500() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k3", "retry@example.org").await;
    app.stripe
        .cancel_answers(
            &sub.id,
            ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error"}})),
            1,
        )
        .await;

    let response = declare(&app, &[("email", "retry@example.org")]).await;
    assert_eq!(
        response.status(),
        303,
        "the reader's declaration is taken whatever Stripe says"
    );
    eventually("Stripe's 500 was met and the declaration waits", || async {
        declarations(&app).await.first().is_some_and(|d| d.1 == 1)
    })
    .await;
    let (state, _, attempt, error) = declarations(&app).await.remove(0);
    assert_eq!(
        (state.as_str(), attempt),
        ("pending", 1),
        "a fresh key for the next try"
    );
    assert!(error.is_some_and(|e| e.contains("server_error")));
    app.stripe.cancel_answers(&sub.id, ended(&sub), 1).await;
    worker(&app).await.work_due(now() + 7200).await.unwrap();

    assert_eq!(declarations(&app).await[0].0, "done");
    let keys = app.stripe.keys_to(&format!("/v1/subscriptions/{}", sub.id)).await;
    assert_eq!(keys.len(), 2);
    assert_ne!(
        keys[0], keys[1],
        "Stripe would replay its saved 500 to the same key"
    );
    assert!(app.column(&sub.donation_id, "ended_at").await.is_some());
}

#[tokio::test]
async fn a_timeout_is_tried_again_under_the_same_key_and_an_ended_subscription_counts_as_done() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k4", "slow@example.org").await;
    app.stripe
        .cancel_answers(&sub.id, ended(&sub).set_delay(Duration::from_secs(3)), 1)
        .await;

    declare(&app, &[("email", "slow@example.org")]).await;
    eventually("the timed-out try is recorded", || async {
        declarations(&app).await.first().is_some_and(|d| d.1 == 1)
    })
    .await;
    assert_eq!(declarations(&app).await[0].2, 0, "a timeout keeps its key");
    // Stripe did cancel it meanwhile: asked again, it refuses, and asked how the subscription
    // stands, says it has ended.
    app.stripe
        .cancel_answers(
            &sub.id,
            ResponseTemplate::new(400).set_body_json(
                json!({"error": {"type": "invalid_request_error", "message": "already canceled"}}),
            ),
            1,
        )
        .await;
    app.stripe.retrieve_answers(&sub.id, ended(&sub), 1).await;
    worker(&app).await.work_due(now() + 7200).await.unwrap();

    assert_eq!(declarations(&app).await[0].0, "done");
    assert!(app.column(&sub.donation_id, "ended_at").await.is_some());
    let keys = app.stripe.keys_to(&format!("/v1/subscriptions/{}", sub.id)).await;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn a_declaration_with_bad_fields_is_refused_with_422_and_nothing_is_stored() {
    let app = spawn_app().await;

    let no_email = declare(&app, &[("email", "not an address")]).await;
    let no_reason = declare(&app, &[("email", "a@example.org"), ("kind", "extraordinary")]).await;
    let bad_choice = declare(&app, &[("email", "a@example.org"), ("when", "tomorrow")]).await;

    for (response, says) in [
        (no_email, "gültige E-Mail-Adresse"),
        (no_reason, "außerordentliche Kündigung einen Grund"),
        (bad_choice, "eine der Möglichkeiten"),
    ] {
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains(says) && page.contains("<title>Fehler: "), "{says}");
    }
    assert!(declarations(&app).await.is_empty());
}

#[tokio::test]
async fn declarations_are_limited_per_client_and_a_refused_form_keeps_what_was_typed() {
    let app = spawn_app_with(&[("CANCEL_RATE_PER_IP", "2/1h"), ("CANCEL_BURST_PER_IP", "2")]).await;

    for name in ["Anna", "Berta"] {
        assert_eq!(
            declare(&app, &[("email", "many@example.org"), ("name", name)])
                .await
                .status(),
            303
        );
    }
    let refused = declare(&app, &[("email", "many@example.org"), ("reason", "Umzug")]).await;

    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    let page = refused.text().await.unwrap();
    assert!(page.contains("value=\"many@example.org\"") && page.contains("Umzug"));
    assert_eq!(declarations(&app).await.len(), 2);
}

#[tokio::test]
async fn the_manage_link_ends_the_monthly_coffee_at_the_end_of_the_month_and_then_at_once() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k5", "m@example.org").await;
    let token = manage_token(&app, "cs_test_k5").await;
    let mut scheduled = sub.subscription("active", sub.month(1), json!({}));
    scheduled["cancel_at_period_end"] = json!(true);
    app.stripe
        .update_answers(&sub.id, ResponseTemplate::new(200).set_body_json(scheduled), 1)
        .await;
    app.stripe.cancel_answers(&sub.id, ended(&sub), 1).await;
    let post = |to: &str, when: &'static str| {
        app.client
            .post(app.url(to))
            .header("Origin", &app.address)
            .form(&[("when", when)])
            .send()
    };

    let later = post(&format!("/manage/{token}/cancel?lang=de"), "period_end")
        .await
        .unwrap();
    let page = app.get(&format!("/manage/{token}")).await.text().await.unwrap();
    let now = post(&format!("/manage/{token}/cancel?lang=de"), "now")
        .await
        .unwrap();

    assert_eq!(later.status(), 303);
    assert!(page.contains("Gekündigt: endet am"), "{page}");
    assert_eq!(
        app.stripe.bodies(&format!("/v1/subscriptions/{}", sub.id)).await[0],
        "cancel_at_period_end=true"
    );
    assert_eq!(now.status(), 303);
    assert!(app.column(&sub.donation_id, "ended_at").await.is_some());
    let after = app.get(&format!("/manage/{token}")).await.text().await.unwrap();
    assert!(after.contains("Beendet am") && !after.contains("Monatlichen Kaffee beenden</button>"));
}

#[tokio::test]
async fn the_payment_method_button_opens_stripes_portal_for_a_payment_method_update_only() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k6", "p@example.org").await;
    let token = manage_token(&app, "cs_test_k6").await;
    let mut portal = fixture("billing_portal.session");
    portal["url"] = json!("https://billing.stripe.com/p/session/test_secret_portal");
    Mock::given(method("POST"))
        .and(path("/v1/billing_portal/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(portal))
        .expect(1)
        .mount(&app.stripe.server)
        .await;

    let response = app
        .client
        .post(app.url(&format!("/manage/{token}/payment-method?lang=en")))
        .header("Origin", &app.address)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://billing.stripe.com/p/session/test_secret_portal"
    );
    let body = &app.stripe.bodies("/v1/billing_portal/sessions").await[0];
    let form: Vec<(String, String)> = serde_urlencoded::from_str(body).unwrap();
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("customer"), Some(sub.customer.clone()));
    assert_eq!(get("flow_data[type]").as_deref(), Some("payment_method_update"));
    assert_eq!(
        get("flow_data[after_completion][type]").as_deref(),
        Some("redirect")
    );
    assert_eq!(
        get("flow_data[after_completion][redirect][return_url]"),
        Some(app.url(&format!("/manage/{token}?lang=en")))
    );
    assert_eq!(get("locale").as_deref(), Some("en"));
    assert_eq!(
        get("return_url"),
        Some(app.url(&format!("/manage/{token}?lang=en")))
    );
}

#[tokio::test]
async fn erasing_a_running_monthly_coffee_ends_it_first_and_forgets_the_address() {
    let app = spawn_app().await;
    let sub = running(&app, "cs_test_k7", "gone@example.org").await;
    let token = manage_token(&app, "cs_test_k7").await;
    app.stripe.cancel_answers(&sub.id, ended(&sub), 1).await;
    let page = app.get(&format!("/manage/{token}")).await.text().await.unwrap();

    let response = app
        .client
        .post(app.url(&format!("/manage/{token}/erase")))
        .header("Origin", &app.address)
        .form(&[("confirm", "on")])
        .send()
        .await
        .unwrap();

    assert!(
        page.contains("Löschen beendet ihn sofort"),
        "the page says so first"
    );
    assert_eq!(response.status(), 200);
    assert!(app.column(&sub.donation_id, "ended_at").await.is_some());
    assert!(app.column(&sub.donation_id, "erased_at").await.is_some());
    assert!(app.email_hashes(&sub.donation_id).await.is_empty());
    assert_eq!(
        app.stripe
            .keys_to(&format!("/v1/subscriptions/{}", sub.id))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn every_html_page_links_to_the_cancel_button_in_its_footer_in_both_languages() {
    let app = TestApp::with_admin(&[]).await;
    let mut checked = 0;
    for (method, path) in registered_routes() {
        if method != "GET" || path.starts_with("/api") || path.starts_with("/webhooks") {
            continue;
        }
        let url = path
            .replace("{id}", "x")
            .replace("{token}", "x")
            .replace("{file}", "x")
            .replace("{what}", "x");
        for (lang, words) in [("de", "Verträge hier kündigen"), ("en", "Cancel contracts")] {
            let response = app
                .client
                .get(app.url(&format!("{url}?lang={lang}")))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap();
            let html = response
                .headers()
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
            if !html {
                continue;
            }
            let page = response.text().await.unwrap();
            assert!(
                page.contains(&format!("href=\"/kuendigen?lang={lang}\"")) && page.contains(words),
                "{url} ({lang}) has no cancel link"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} pages");
}

#[tokio::test]
async fn with_smtp_the_confirmation_is_mailed_to_an_address_with_a_monthly_coffee_and_to_no_other() {
    let smtp = SmtpMock::start(0).await;
    let app = spawn_app_with(&[("NOTIFY_EMAIL_TO", "blog@example.de"), ("SMTP_URL", &smtp.url())]).await;
    let sub = running(&app, "cs_test_k8", "leser@example.org").await;
    let mut scheduled = sub.subscription("active", sub.month(1), json!({}));
    scheduled["cancel_at_period_end"] = json!(true);
    app.stripe
        .update_answers(&sub.id, ResponseTemplate::new(200).set_body_json(scheduled), 1)
        .await;
    let to = |address: &'static str| {
        let smtp = &smtp;
        move || {
            smtp.messages()
                .into_iter()
                .filter(|m| m.contains(&format!("To: {address}")))
                .collect::<Vec<_>>()
        }
    };

    let response = declare(
        &app,
        &[
            ("email", "leser@example.org"),
            ("name", "Lena"),
            ("when", "period_end"),
        ],
    )
    .await;
    let stranger = declare(&app, &[("email", "fremd@example.org")]).await;
    let page = app
        .get(response.headers()["location"].to_str().unwrap())
        .await
        .text()
        .await
        .unwrap();

    assert_eq!(stranger.status(), 303);
    assert!(
        page.contains("Ist unter dieser Adresse ein monatlicher Kaffee eingerichtet, schicken wir die Bestätigung auch per E-Mail"),
        "{page}"
    );
    let reader = to("leser@example.org");
    eventually("the confirmation e-mail is sent", || async {
        reader().len() == 1
    })
    .await;
    let mail = reader().remove(0);
    assert!(mail.contains("Name: Lena"), "{mail}");
    assert!(
        mail.contains("Deine K=C3=BCndigung ist eingegangen")
            && mail.contains("Zeitpunkt: zum Ende des bezahlten Monats"),
        "{mail}"
    );
    eventually("both declarations are done", || async {
        declarations(&app).await.iter().all(|d| d.0 == "done")
    })
    .await;
    // Nothing is due for the stranger, so nothing will ever be sent there.
    let due: Vec<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT mail_due_at, mailed_at FROM cancellations WHERE donation_id IS NULL ORDER BY created_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(due.iter().any(|d| d.1.is_some()), "{due:?}");
    assert!(due.contains(&(None, None)), "{due:?}");
    assert!(to("fremd@example.org")().is_empty());
}
