//! The test harness: the real app on a random port, a fresh SQLite file per test, wiremock as
//! Stripe, and webhook events built from Stripe's own fixtures and signed as Stripe signs them.

use std::collections::HashMap;
use std::sync::OnceLock;

use kaffeekasse::config::Settings;
use kaffeekasse::startup::Application;
use kaffeekasse::webhook::signature;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::SqlitePool;
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const WEBHOOK_SECRET: &str = "whsec_test_primary";
pub const OTHER_SECRET: &str = "whsec_test_rotated";

pub struct TestApp {
    pub address: String,
    pub pool: SqlitePool,
    pub stripe: MockServer,
    pub client: reqwest::Client,
    pub settings: Settings,
    _dir: TempDir,
}

/// Stripe mode against wiremock, with test defaults. `overrides` win.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let stripe = MockServer::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("test.db");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), format!("sqlite://{}", db_path.display())),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("STRIPE_SECRET_KEY".into(), "sk_test_kaffeekasse".into()),
        ("STRIPE_WEBHOOK_SECRET".into(), WEBHOOK_SECRET.into()),
        ("STRIPE_API_BASE".into(), stripe.uri()),
        ("STRIPE_TIMEOUT_SECS".into(), "2".into()),
        ("RECONCILE_INTERVAL_SECS".into(), "0".into()),
        // Every test comes from 127.0.0.1; the rate-limit tests turn the limits back on.
        ("DONATE_RATE_PER_IP".into(), "off".into()),
        ("DONATE_RATE_GLOBAL".into(), "off".into()),
    ]);
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    vars.retain(|_, v| !v.is_empty());
    let settings = Settings::from_vars(|k| vars.get(k).cloned()).expect("test settings are valid");
    let app = Application::build(settings.clone()).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let pool = kaffeekasse::storage::connect(&settings.database_url, settings.database_busy_timeout)
        .await
        .expect("test pool");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        address,
        pool,
        stripe,
        client,
        settings,
        _dir: dir,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// The zero-configuration demo mode: no Stripe key, no webhook secret.
pub async fn spawn_demo_app() -> TestApp {
    spawn_app_with(&[
        ("STRIPE_SECRET_KEY", ""),
        ("STRIPE_WEBHOOK_SECRET", ""),
        ("STRIPE_API_BASE", ""),
    ])
    .await
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("POST form")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST json")
    }

    /// Posts `body` signed now with the primary secret, as Stripe would.
    pub async fn post_webhook(&self, body: &str) -> reqwest::Response {
        self.post_webhook_with(body, Some(&sign_now(body, &[WEBHOOK_SECRET])))
            .await
    }

    pub async fn post_webhook_with(&self, body: &str, header: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/webhooks/stripe"))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        if let Some(h) = header {
            req = req.header("Stripe-Signature", h);
        }
        req.send().await.expect("POST webhook")
    }

    /// Stripe answers session creation with a realistic session `cs_test_<n>`.
    pub async fn mock_create_session(&self, session_id: &str) {
        let mut session = fixture("checkout.session");
        session["id"] = json!(session_id);
        session["url"] = json!(format!("https://checkout.stripe.com/c/pay/{session_id}"));
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(session))
            .up_to_n_times(1)
            .mount(&self.stripe)
            .await;
    }

    /// Starts a donation (by "Anna") through the JSON API and returns its id.
    pub async fn create_donation(&self, session_id: &str, coffees: u32, public: bool) -> String {
        self.create_donation_by(session_id, coffees, "Anna", "Danke!", public)
            .await
    }

    pub async fn create_donation_by(
        &self,
        session_id: &str,
        coffees: u32,
        name: &str,
        message: &str,
        public: bool,
    ) -> String {
        self.mock_create_session(session_id).await;
        let response = self
            .post_json(
                "/donate",
                &json!({"coffees": coffees, "name": name, "message": message, "public": public}),
            )
            .await;
        assert_eq!(response.status(), 200, "donate should succeed for {name:?}");
        self.donation(session_id).await.expect("donation row").id
    }

    /// A donation that Stripe reports as paid, delivered through the webhook.
    pub async fn paid_donation(
        &self,
        session_id: &str,
        coffees: u32,
        name: &str,
        message: &str,
        public: bool,
    ) -> String {
        let id = self
            .create_donation_by(session_id, coffees, name, message, public)
            .await;
        let amount = 500 * i64::from(coffees);
        let object = session(session_id, &id, "paid", "complete", amount);
        self.deliver(
            &format!("evt_paid_{session_id}"),
            "checkout.session.completed",
            object,
        )
        .await;
        id
    }

    /// Delivers one signed event, expecting 200.
    pub async fn deliver(&self, id: &str, kind: &str, object: Value) {
        let response = self.post_webhook(&event(id, kind, object, now())).await;
        assert_eq!(response.status(), 200, "{id}");
    }

    pub async fn donation(&self, session_id: &str) -> Option<Donation> {
        sqlx::query_as(
            "SELECT id, status, coffees, amount_cents, refunded_cents, currency, name, message, visibility, \
             amount_mismatch, payment_intent_id FROM donations WHERE checkout_session_id = ?1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await
        .expect("query donation")
    }

    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "donations" => "SELECT COUNT(*) FROM donations",
            "stripe_events" => "SELECT COUNT(*) FROM stripe_events",
            other => panic!("unknown table {other}"),
        };
        sqlx::query_scalar(sql)
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    pub async fn event_status(&self, event_id: &str) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM stripe_events WHERE id = ?1")
            .bind(event_id)
            .fetch_optional(&self.pool)
            .await
            .expect("event status")
    }
}

#[derive(Debug, sqlx::FromRow)]
pub struct Donation {
    pub id: String,
    pub status: String,
    pub coffees: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    pub name: Option<String>,
    pub message: Option<String>,
    pub visibility: String,
    pub amount_mismatch: bool,
    pub payment_intent_id: Option<String>,
}

pub fn now() -> i64 {
    kaffeekasse::storage::now()
}

pub fn sign_now(body: &str, secrets: &[&str]) -> String {
    sign_at(body, secrets, now())
}

pub fn sign_at(body: &str, secrets: &[&str], timestamp: i64) -> String {
    let secrets: Vec<SecretString> = secrets
        .iter()
        .map(|s| SecretString::from(s.to_string()))
        .collect();
    let refs: Vec<&SecretString> = secrets.iter().collect();
    signature::sign(body.as_bytes(), &refs, timestamp)
}

/// An object from Stripe's published OpenAPI fixtures (tests/fixtures/stripe/objects.json).
pub fn fixture(name: &str) -> Value {
    static FIXTURES: OnceLock<Value> = OnceLock::new();
    let all = FIXTURES.get_or_init(|| {
        serde_json::from_str(include_str!("../fixtures/stripe/objects.json")).expect("fixtures parse")
    });
    all["resources"][name].clone()
}

fn patch(mut object: Value, fields: Value) -> Value {
    if let (Some(target), Value::Object(fields)) = (object.as_object_mut(), fields) {
        target.extend(fields);
    }
    object
}

/// A `checkout.session` of ours: `payment_status` `paid` or `unpaid`, `status` `complete`/`expired`.
pub fn session(id: &str, donation_id: &str, payment_status: &str, status: &str, amount: i64) -> Value {
    patch(
        fixture("checkout.session"),
        json!({
            "id": id, "payment_status": payment_status, "status": status, "amount_total": amount,
            "amount_subtotal": amount, "currency": "eur", "client_reference_id": donation_id,
            "metadata": {"donation_id": donation_id, "kaffeekasse": "1"},
            "payment_intent": format!("pi_{id}"), "submit_type": "donate",
            // Adaptive Pricing is off for our sessions, so there is no conversion.
            "currency_conversion": null, "adaptive_pricing": {"enabled": false},
        }),
    )
}

pub fn charge(id: &str, donation_id: &str, payment_intent: &str, amount: i64, refunded: i64) -> Value {
    patch(
        fixture("charge"),
        json!({
            "id": id, "amount": amount, "amount_captured": amount, "amount_refunded": refunded,
            "refunded": refunded >= amount, "captured": true, "currency": "eur",
            "payment_intent": payment_intent, "metadata": {"donation_id": donation_id},
        }),
    )
}

/// A dispute references its charge and payment intent; its own metadata is empty, as on Stripe.
pub fn dispute(id: &str, charge: &str, payment_intent: &str, status: &str, amount: i64) -> Value {
    patch(
        fixture("dispute"),
        json!({"id": id, "charge": charge, "payment_intent": payment_intent, "status": status,
               "amount": amount, "currency": "eur"}),
    )
}

/// Wraps `object` in an event envelope, as Stripe delivers it.
pub fn event(id: &str, kind: &str, object: Value, created: i64) -> String {
    let envelope = patch(
        fixture("event"),
        json!({
            "id": id, "type": kind, "created": created, "livemode": false,
            "api_version": "2025-09-30.clover", "data": {"object": object},
        }),
    );
    envelope.to_string()
}
