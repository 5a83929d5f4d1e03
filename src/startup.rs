//! Assembly: the database, the payment provider, the routes and middleware, the listener.

use std::net::TcpListener;
use std::sync::Arc;

use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::SecretString;
use sqlx::SqlitePool;
use tracing_actix_web::TracingLogger;

use crate::auth::admin::AdminAuth;
use crate::auth::signer::Signer;
use crate::config::Settings;
use crate::limits::DonateLimits;
use crate::payments::{Provider, demo::DemoProvider, stripe::StripeProvider};
use crate::webhook::apply::Rules;
use crate::{reconcile, routes, storage};

/// Everything a request handler may need, shared by all workers.
pub struct AppState {
    pub pool: SqlitePool,
    pub settings: Settings,
    pub rules: Rules,
    pub provider: Arc<Provider>,
    /// Base URL for links and redirects, without a trailing slash.
    pub public_url: String,
    /// Where this process itself listens; the demo checkout posts its webhooks here.
    pub self_url: String,
    /// The accepted webhook secrets (with the demo provider, one generated at start).
    pub webhook_secrets: Vec<SecretString>,
    /// For the demo checkout's calls to our own webhook.
    pub http: reqwest::Client,
    /// Signs donors' manage links (and, inside `admin`, sessions and CSRF tokens).
    pub signer: Signer,
    /// `None` unless `ADMIN_TOKEN` is set: then every admin URL is a 404.
    pub admin: Option<AdminAuth>,
    /// Rate limits on starting checkouts (card-testing defence).
    pub donate_limits: Arc<DonateLimits>,
    /// The newest wall pages, until the next write.
    pub wall_cache: crate::public::WallCache,
}

pub struct Application {
    port: u16,
    server: Server,
    pool: SqlitePool,
}

impl Application {
    /// Opens and migrates the database, binds the listener and builds the server (not yet running).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = storage::connect(&settings.database_url, settings.database_busy_timeout).await?;
        storage::migrate(&pool).await?;

        let listener = TcpListener::bind(&settings.bind_addr)
            .with_context(|| format!("cannot listen on BIND_ADDR {}", settings.bind_addr))?;
        let local = listener.local_addr()?;
        let port = local.port();
        let self_host = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            local.ip().to_string()
        };
        let self_url = format!("http://{self_host}:{port}");
        let public_url = settings.public_url.clone().unwrap_or_else(|| self_url.clone());

        let provider = match &settings.payment {
            crate::config::PaymentSettings::Demo => Provider::Demo(DemoProvider::new(public_url.clone())),
            crate::config::PaymentSettings::Stripe(s) => Provider::Stripe(Box::new(StripeProvider::new(s)?)),
        };
        let webhook_secrets = if settings.webhook_secrets.is_empty() {
            // Demo only (config requires a secret for Stripe): nobody else needs to know it.
            vec![SecretString::from(format!(
                "whsec_demo_{}",
                crate::payments::demo::random_token()
            ))]
        } else {
            settings.webhook_secrets.clone()
        };
        let rules = Rules::from_settings(&settings);
        let signer = Signer::new(match &settings.signing_secret {
            Some(secret) => secret.clone(),
            // Generated once and kept, so manage links survive restarts.
            None => SecretString::from(
                storage::state::get_or_insert(&pool, "signing_secret", &random_secret()).await?,
            ),
        });
        let admin = settings.admin_token.clone().map(|token| {
            let secure = public_url.starts_with("https://");
            AdminAuth::new(token, signer.clone(), secure)
        });
        let provider = Arc::new(provider);

        if !settings.reconcile_interval.is_zero() && !settings.payment.is_demo() {
            tokio::spawn(reconcile::every(
                settings.reconcile_interval,
                pool.clone(),
                rules.clone(),
                provider.clone(),
                settings.payment.livemode(),
            ));
        }
        let donate_limits = Arc::new(DonateLimits::new(
            settings.donate_rate_per_ip,
            settings.donate_rate_global,
        ));
        tokio::spawn(forget_idle_clients(Arc::clone(&donate_limits)));
        tracing::info!(%public_url, provider = provider.name(), livemode = settings.payment.livemode(), "starting Kaffeekasse");

        let state = web::Data::new(AppState {
            pool: pool.clone(),
            settings,
            rules,
            provider,
            public_url,
            self_url,
            webhook_secrets,
            signer,
            admin,
            donate_limits,
            wall_cache: Default::default(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()?,
        });
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(routes::request_timeout))
                .wrap(routes::security_headers())
                .wrap(TracingLogger::<crate::telemetry::RedactedRootSpan>::new())
                .app_data(state.clone())
                // Body limits for every route; /donate and /webhooks/stripe set their own.
                .app_data(web::PayloadConfig::new(routes::DEFAULT_BODY_LIMIT))
                .app_data(web::FormConfig::default().limit(routes::FORM_BODY_LIMIT))
                .app_data(web::JsonConfig::default().limit(routes::FORM_BODY_LIMIT))
                .configure(routes::configure)
        })
        // Slow-loris protection: headers within 10 s, idle keep-alive connections closed.
        .client_request_timeout(Duration::from_secs(10))
        .client_disconnect_timeout(Duration::from_secs(5))
        .keep_alive(Duration::from_secs(30))
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        Ok(Application { port, server, pool })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT; in-flight requests get up to 30 seconds to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.pool.close().await;
        result
    }
}

/// 32 random bytes, hex-encoded.
fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Every minute, drop rate-limit state of clients whose buckets have refilled.
async fn forget_idle_clients(limits: Arc<DonateLimits>) {
    let mut ticker = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        ticker.tick().await;
        limits.forget_idle_clients();
    }
}
