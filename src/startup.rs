//! Assembly: the database, the payment provider, the routes and middleware, the listener, and the
//! background tasks, supervised so that a dead task stops the service instead of going unseen.

use std::future::Future;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::SecretString;
use tokio::task::JoinSet;
use tracing_actix_web::TracingLogger;

use crate::auth::admin::AdminAuth;
use crate::budget::{BodyBudget, ConnectionSlots};
use crate::cancel::Canceller;
use crate::client_key::ClientKey;
use crate::config::Settings;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::notify::{Sender, Targets};
use crate::payments::demo::{DemoPoster, DemoProvider};
use crate::payments::{Provider, stripe::StripeProvider};
use crate::state::AppState;
use crate::state::Outbox;
use crate::storage::{self, Db};
use crate::webhook::apply::Ledger;
use crate::{reconcile, routes};
use tokio::sync::Notify;

pub struct Application {
    port: u16,
    server: Server,
    db: Db,
    /// Reconciliation and housekeeping; each runs until the process ends.
    tasks: JoinSet<anyhow::Result<()>>,
}

impl Application {
    /// Opens and migrates the database, binds the listener, builds the server (not yet running)
    /// and starts the background tasks.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        match crate::budget::raise_open_files_limit() {
            Some((soft, hard)) => {
                tracing::info!(soft, hard, "open files: the soft limit is raised to the hard one")
            }
            None => tracing::warn!("open files: the limits could not be read"),
        }
        let db = storage::connect(&settings.database).await?;
        db.migrate().await?;

        let listener = TcpListener::bind(&settings.server.bind_addr)
            .with_context(|| format!("cannot listen on BIND_ADDR {}", settings.server.bind_addr))?;
        let local = listener.local_addr()?;
        let port = local.port();
        let self_host = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            local.ip().to_string()
        };
        let self_url = format!("http://{self_host}:{port}");
        let public_url = settings
            .server
            .public_url
            .clone()
            .unwrap_or_else(|| self_url.clone());

        let metrics = Arc::new(Metrics::new());
        let mut webhook = settings.webhook;
        if webhook.secrets.is_empty() {
            // Demo only (config requires a secret for Stripe): nobody else needs to know it.
            let generated = format!("whsec_demo_{}", crate::random::token());
            webhook.secrets = vec![SecretString::from(generated)];
        }
        let signer = crate::auth::service_signer(settings.admin.signing_secret, &db).await?;
        let provider = Arc::new(match &settings.payment.stripe() {
            None => Provider::Demo(
                DemoProvider::new(public_url.clone(), signer.derive("demo-checkout", b"")).posting_to(
                    DemoPoster {
                        http: reqwest::Client::builder()
                            .timeout(Duration::from_secs(15))
                            .build()?,
                        webhook_url: format!("{self_url}/webhooks/stripe"),
                        secrets: webhook.secrets.clone(),
                    },
                ),
            ),
            Some(s) => Provider::Stripe(Box::new(
                StripeProvider::new(s)?.with_metrics(Arc::clone(&metrics)),
            )),
        });
        let admin = settings.admin.token.map(|token| {
            let secure = public_url.starts_with("https://");
            AdminAuth::new(token, &signer, secure)
        });
        let rules = Arc::new(settings.rules);
        let outbox = Outbox {
            channels: settings.notify.channels(),
            wake: Arc::new(Notify::new()),
        };
        let ledger = Ledger::new(db.clone(), Arc::clone(&rules))
            .notifying(outbox.channels.clone(), Arc::clone(&outbox.wake))
            .hashing_emails(signer.clone());
        // Readers' cancellation confirmations go out through the blogger's SMTP settings.
        let mail = match settings.notify.email.is_some() {
            true => Some(Targets::new(settings.notify.clone())?),
            false => None,
        };
        let canceller = Canceller::new(
            db.clone(),
            Arc::clone(&provider),
            ledger.clone(),
            mail,
            signer.clone(),
            settings.site.name.clone(),
            public_url.clone(),
        );
        let sender = match outbox.channels.is_empty() {
            true => None,
            false => Some(Sender::new(
                db.clone(),
                Targets::new(settings.notify)?,
                Arc::clone(&metrics),
                settings.site.name.clone(),
                public_url.clone(),
            )),
        };
        if let Some(at) = storage::ops::last_event_received_at(db.pool()).await? {
            metrics.webhook_arrived(at);
        }
        let limits = Limits::new(&settings.abuse, &metrics);
        let bodies = BodyBudget::new(settings.abuse.body_budget.0, settings.abuse.body_budget.1);
        let connections = ConnectionSlots::new(settings.abuse.connections_per_client);
        let proxies = settings.abuse.trusted_proxies.clone();

        tracing::info!(%public_url, provider = provider.name(), livemode = provider.livemode(), "starting Kaffeekasse");

        let grace = settings.site.monthly_grace_secs;
        let state = web::Data::new(AppState {
            db: db.clone(),
            ledger: ledger.clone(),
            rules,
            provider: Arc::clone(&provider),
            site: settings.site,
            abuse: settings.abuse,
            webhook,
            public_url,
            self_url,
            request_timeout: settings.server.request_timeout,
            signer,
            admin,
            limits,
            metrics: Arc::clone(&metrics),
            metrics_token: settings.admin.metrics_token,
            checkout_locks: Default::default(),
            spoiled_keys: Default::default(),
            bodies,
            outbox: outbox.clone(),
            reconcile_enabled: settings
                .payment
                .stripe()
                .is_some_and(|s| !s.reconcile_interval.is_zero()),
            wall_cache: crate::public::WallCache::new(grace),
            canceller: canceller.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()?,
        });

        let mut tasks = JoinSet::new();
        if let Some(writer) = db.take_writer_task() {
            tasks.spawn(async move {
                writer.await.context("the database writer panicked")?;
                anyhow::bail!("the database writer stopped")
            });
        }
        if let Some(stripe) = settings.payment.stripe()
            && !stripe.reconcile_interval.is_zero()
        {
            tasks.spawn(reconcile::every(
                stripe.reconcile_interval,
                db.clone(),
                ledger,
                provider,
            ));
        }
        tasks.spawn(canceller.run());
        tasks.spawn(crate::retention::every_hour(
            db.clone(),
            settings.database.abandoned_retention,
        ));
        tasks.spawn(every_minute(state.clone(), |s| {
            s.limits.forget_idle(std::time::Instant::now());
            crate::budget::release_free_memory();
        }));
        if let Some(sender) = sender {
            tasks.spawn(sender.run(outbox.wake));
        }

        let https = state.public_url.starts_with("https://");
        let server = HttpServer::new(move || {
            App::new()
                // Innermost first: every page error becomes a page, and every page then gets its
                // caching and security headers; the timeout is outermost of ours.
                .wrap(from_fn(routes::body_limits::budget))
                .wrap(from_fn(routes::query_limits::refuse_long_queries))
                .wrap(from_fn(routes::error::render_error_pages))
                .wrap(from_fn(routes::no_store_for_private_pages))
                .wrap(routes::security_headers(https))
                .wrap(from_fn(routes::request_timeout))
                .wrap(from_fn(routes::record_requests))
                .wrap(TracingLogger::<crate::telemetry::RedactedRootSpan>::new())
                .app_data(state.clone())
                // Body limits for every route; /donate and /webhooks/stripe set their own.
                .app_data(web::PayloadConfig::new(routes::DEFAULT_BODY_LIMIT))
                .app_data(web::FormConfig::default().limit(routes::FORM_BODY_LIMIT))
                .app_data(web::JsonConfig::default().limit(routes::FORM_BODY_LIMIT))
                .configure(routes::configure)
        })
        // Each client's open connections are counted (a proxy's are the readers' behind it).
        .on_connect(move |io, ext| {
            let peer = io
                .downcast_ref::<actix_web::rt::net::TcpStream>()
                .and_then(|tcp| tcp.peer_addr().ok())
                .map(|a| a.ip().to_canonical());
            if let Some(ip) = peer.filter(|ip| !proxies.iter().any(|net| net.contains(ip))) {
                ext.insert(connections.open(ClientKey::from(ip)));
            }
        })
        // Slow-loris protection: headers within 10 s, bodies within BODY_TIMEOUT_SECS (the
        // body_limits middleware), idle keep-alive connections closed.
        .client_request_timeout(Duration::from_secs(10))
        // After an answer that left a body unread (a refusal), the connection lingers this long
        // for the client to stop sending, then closes: a stalled upload holds it no longer.
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(30))
        .listen(listener)?
        .shutdown_timeout(30)
        .run();
        Ok(Application {
            port,
            server,
            db,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Adds a background task, supervised like the built-in ones: if it ends, the service stops.
    pub fn spawn_task(&mut self, task: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
        self.tasks.spawn(task);
    }

    /// The database handle, for tests and tools that run beside the server.
    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// Serves until SIGTERM or SIGINT; in-flight requests get up to 30 seconds to finish. A
    /// background task that ends (it never should) stops the service with an error, so a
    /// supervisor restarts it rather than leaving it running without, say, reconciliation.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let outcome = tokio::select! {
            served = &mut self.server => served.context("the HTTP server failed"),
            Some(ended) = self.tasks.join_next() => {
                let why = match ended {
                    Ok(Ok(())) => anyhow::anyhow!("a background task ended"),
                    Ok(Err(e)) => e.context("a background task failed"),
                    Err(e) => anyhow::Error::new(e).context("a background task panicked"),
                };
                tracing::error!(error = ?why, "stopping the service");
                // The stop command is sent at once; the server future carries it out.
                let stopped = self.server.handle().stop(true);
                let _ = (&mut self.server).await;
                stopped.await;
                Err(why)
            }
        };
        self.tasks.shutdown().await;
        self.db.close().await;
        outcome
    }
}

/// Runs `job` on the state every minute, forever.
async fn every_minute(state: web::Data<AppState>, job: fn(&AppState)) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(Duration::from_secs(60));
    loop {
        ticker.tick().await;
        job(&state);
    }
}
