//! The test harness: the real app on a random port, a fresh SQLite file per test, wiremock as
//! Stripe, and webhook events built from Stripe's own fixtures and signed as Stripe signs them.

mod admin;
mod blog;
mod cli;
mod donation;
mod hook;
mod monthly;
mod routes;
mod smtp;
mod stripe;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use kaffeekasse::config::Settings;
use kaffeekasse::startup::Application;
use kaffeekasse::storage::Db;
use kaffeekasse::webhook::apply::Ledger;
use serde_json::Value;
use sqlx::SqlitePool;
use tempfile::TempDir;

pub use admin::ADMIN_TOKEN;
pub use blog::{embed_snippets, hugo_site, plain_page, serve_dir};
pub use cli::{kaffeekasse, text};
pub use hook::{app_notifying_a_hook, notified_kinds};
pub use monthly::*;
pub use routes::registered_routes;
pub use smtp::SmtpMock;
pub use stripe::*;

pub const WEBHOOK_SECRET: &str = "whsec_test_primary";
pub const OTHER_SECRET: &str = "whsec_test_rotated";

pub struct TestApp {
    pub address: String,
    /// The app's own database handle (its writer, its pool).
    pub db: Db,
    /// `db`'s pool, for the tests' own queries.
    pub pool: SqlitePool,
    pub stripe: StripeMock,
    pub client: reqwest::Client,
    pub settings: Settings,
    _dir: TempDir,
}

/// `TEST_LOG=1 cargo test` shows the app's logs; otherwise tests are quiet.
fn init_test_log() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

/// Settings for a test app, with the Stripe mock they point at and the directory of their
/// database file (removed when dropped).
pub struct TestConfig {
    pub settings: Settings,
    pub stripe: StripeMock,
    pub dir: TempDir,
}

/// Stripe mode against wiremock, with test defaults. `overrides` win; an override the
/// configuration never reads (a misspelt name) fails the test.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let TestConfig {
        settings,
        stripe,
        dir,
    } = configure(overrides).await;
    let app = Application::build(settings.clone()).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // The server starts listening when its task is first polled: wait until it answers, so a
    // test that then blocks its thread (running the CLI) still finds it up.
    let health = client.get(format!("{address}/healthz")).send().await;
    assert!(
        health.is_ok_and(|r| r.status().is_success()),
        "the app answers /healthz"
    );
    TestApp {
        address,
        pool: db.pool().clone(),
        db,
        stripe,
        client,
        settings,
        _dir: dir,
    }
}

/// The settings `spawn_app_with` would use, for tests that build the application themselves.
pub async fn configure(overrides: &[(&str, &str)]) -> TestConfig {
    init_test_log();
    let stripe = StripeMock::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("test.db");
    let defaults: HashMap<String, String> = HashMap::from([
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
        ("THANKS_RATE_PER_IP".into(), "off".into()),
        ("MANAGE_RATE_PER_IP".into(), "off".into()),
    ]);
    let mut vars = defaults.clone();
    for (k, v) in overrides {
        vars.insert(k.to_string(), v.to_string());
    }
    vars.retain(|_, v| !v.is_empty());
    let read = RefCell::new(HashSet::new());
    let settings = Settings::from_vars(|k| {
        read.borrow_mut().insert(k.to_owned());
        vars.get(k).cloned()
    })
    .expect("test settings are valid");
    let read = read.into_inner();
    for (k, v) in overrides {
        // Blanking a default (demo mode) need not be read; anything else must be.
        let removes_default = v.is_empty() && defaults.contains_key(*k);
        assert!(
            read.contains(*k) || removes_default,
            "the override {k} is never read by the configuration: misspelt?"
        );
    }
    TestConfig {
        settings,
        stripe,
        dir,
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

    /// The configured price of one coffee, in cents.
    pub fn price(&self) -> i64 {
        self.settings.rules.pricing.coffee_price_cents
    }

    /// A Stripe client like the app's, for tests that drive reconciliation directly.
    pub fn stripe_provider(&self) -> kaffeekasse::payments::stripe::StripeProvider {
        let stripe = self.settings.payment.stripe().expect("tests run in Stripe mode");
        kaffeekasse::payments::stripe::StripeProvider::new(stripe).expect("a Stripe client")
    }

    /// The ledger over the app's own database, for tests that drive it directly.
    pub fn ledger(&self) -> Ledger {
        Ledger::new(self.db.clone(), Arc::new(self.settings.rules.clone()))
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

    /// A form posted from one of our own pages, with the `Origin` a browser sends.
    pub async fn post_page_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("Origin", &self.address)
            .form(form)
            .send()
            .await
            .expect("POST form from our page")
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

    /// Delivers one signed event, expecting 200.
    pub async fn deliver(&self, id: &str, kind: &str, object: Value) {
        let response = self.post_webhook(&event(id, kind, object, now())).await;
        assert_eq!(response.status(), 200, "{id}");
    }

    /// The stored donation of Checkout Session `session_id`.
    pub async fn row(&self, session_id: &str) -> Option<Donation> {
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
            "cancellations" => "SELECT COUNT(*) FROM cancellations",
            "invoices" => "SELECT COUNT(*) FROM invoices",
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

/// Waits until `check` holds, polling, for at most ten seconds: for work the app does in the
/// background (a notification sent). Fails the test with `what` if it never holds.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(std::time::Duration::from_secs(10), what, check).await;
}

/// [`eventually`] with another limit: for work the app does on its own schedule.
pub async fn eventually_within<F, Fut>(limit: std::time::Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Whether some file of the app's database (the database, its WAL or shared memory) holds
/// `needle`'s bytes.
pub fn in_database_files(app: &TestApp) -> impl Fn(&str) -> bool + use<> {
    let path = app
        .settings
        .database
        .url
        .trim_start_matches("sqlite://")
        .to_owned();
    let files = [path.clone(), format!("{path}-wal"), format!("{path}-shm")];
    move |needle: &str| {
        files.iter().any(|f| {
            std::fs::read(f).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
    }
}

/// The nonce the donate form on `page` carries.
pub fn nonce_of(page: &str) -> String {
    let marker = "name=\"nonce\" value=\"";
    let start = page.find(marker).expect("the form carries a nonce") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}
