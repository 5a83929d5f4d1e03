//! The `kaffeekasse` command. Arguments are parsed before the configuration is read, so `--help`
//! and `--version` work with a broken or missing `.env`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use kaffeekasse::config::Settings;
use kaffeekasse::startup::Application;
use kaffeekasse::webhook::apply::Ledger;
use kaffeekasse::{storage, telemetry};

/// A self-hosted tip jar: Stripe Checkout for coffees, a supporter wall and embeds.
///
/// Configuration comes from the environment and a `.env` file; see the README.
#[derive(Parser)]
#[command(name = "kaffeekasse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Apply a stored webhook event again (after a fix for an event that failed).
    Replay {
        /// The event's id, `evt_…`.
        event_id: String,
    },
    /// Fetch events missed from Stripe's Events API, then settle sessions left pending.
    Reconcile {
        /// How far back: a number of days, or an RFC 3339 time. Stripe keeps 30 days of events.
        #[arg(long, value_parser = parse_since)]
        since: Option<i64>,
    },
    /// Exit 0 if the service on BIND_ADDR answers /healthz (for container health checks).
    Healthcheck,
    /// Write a consistent copy of the database to a new file, even while the service runs.
    Backup {
        /// Where to write it; must not exist yet.
        file: PathBuf,
    },
    /// Put a backup in place of the database (with the service stopped), then migrate it.
    Restore {
        /// The backup to restore; it is left as it is.
        file: PathBuf,
    },
    /// Admin sessions.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Stripe's side of going live.
    Stripe {
        #[command(subcommand)]
        command: StripeCommand,
        /// A one-off key that may write webhook endpoints (instead of STRIPE_SECRET_KEY).
        #[arg(long, global = true)]
        key: Option<String>,
    },
}

#[derive(Subcommand)]
enum StripeCommand {
    /// Create the webhook endpoint with exactly the event types the service handles (or add the
    /// missing ones to the endpoint there), and print its signing secret once.
    WebhookSetup {
        /// The endpoint's URL: https://<host>/webhooks/stripe
        #[arg(long)]
        url: String,
    },
    /// Report event types the endpoint does not send (exit 1) or sends needlessly.
    WebhookCheck {
        /// Only the endpoint at this URL (default: every endpoint of the account).
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// End every admin session (a lost laptop, a shared screen).
    LogoutAll,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Backup { file } = &command {
        return backup(file).await;
    }
    if let Command::Restore { file } = &command {
        return restore(file).await;
    }
    let overrides: Vec<(&str, String)> = match &command {
        Command::Stripe { key: Some(key), .. } => vec![("STRIPE_SECRET_KEY", key.clone())],
        _ => Vec::new(),
    };
    let settings = match Settings::from_env_with(&overrides) {
        Ok(s) => s,
        Err(e) => {
            // German first, as everything the blogger reads; the detail names the variable.
            eprintln!(
                "kaffeekasse: Fehler in der Konfiguration: {var} ist ungültig oder fehlt.\n\
                 kaffeekasse: configuration error: {e}",
                var = e.var
            );
            return ExitCode::from(2);
        }
    };
    if !matches!(command, Command::Healthcheck) {
        telemetry::init(settings.server.log_format);
    }
    match run(settings, command).await {
        Ok(code) => code,
        // Said once, with its causes and without a backtrace: "cannot listen on BIND_ADDR
        // 127.0.0.1:8080: Address already in use".
        Err(e) => {
            eprintln!("kaffeekasse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => Application::build(settings).await?.run_until_stopped().await?,
        Command::Migrate => {
            storage::connect(&settings.database).await?.migrate().await?;
            println!("migrations applied");
        }
        Command::Replay { event_id } => {
            let db = storage::connect(&settings.database).await?;
            db.migrate().await?;
            let signer = kaffeekasse::auth::service_signer(settings.admin.signing_secret, &db).await?;
            let ledger = Ledger::new(db, Arc::new(settings.rules))
                .notifying(settings.notify.channels(), Default::default())
                .hashing_emails(signer);
            let Some(outcome) = ledger.replay(&event_id).await? else {
                eprintln!("no stored event {event_id}");
                return Ok(ExitCode::FAILURE);
            };
            println!(
                "{event_id}: {} {}",
                outcome.status(),
                outcome.reason().unwrap_or_default()
            );
        }
        Command::Reconcile { since } => kaffeekasse::cli::reconcile(settings, since).await?,
        Command::Healthcheck => {
            let addr = settings.server.bind_addr.replace("0.0.0.0", "127.0.0.1");
            let ok = reqwest::Client::new()
                .get(format!("http://{addr}/healthz"))
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        // Handled before the configuration is read; here for completeness.
        Command::Backup { file } => return Ok(backup(&file).await),
        Command::Restore { file } => return Ok(restore(&file).await),
        Command::Stripe { command, .. } => {
            let Some(stripe) = settings.payment.stripe() else {
                anyhow::bail!(
                    "this needs STRIPE_SECRET_KEY, or --key with a key that may write webhook endpoints"
                );
            };
            let provider = kaffeekasse::payments::stripe::StripeProvider::new(stripe)?;
            match command {
                StripeCommand::WebhookSetup { url } => {
                    println!("{}", kaffeekasse::cli::setup(&provider, &url).await?);
                }
                StripeCommand::WebhookCheck { url } => {
                    let (ok, report) = kaffeekasse::cli::check(&provider, url.as_deref()).await?;
                    println!("{report}");
                    if !ok {
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
        }
        Command::Admin {
            command: AdminCommand::LogoutAll,
        } => {
            let db = storage::connect(&settings.database).await?;
            db.migrate().await?;
            let ended = db
                .write(|conn| Box::pin(async move { storage::sessions::delete_all(conn).await }))
                .await?;
            println!("ended {ended} admin session(s)");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `backup` reads only `DATABASE_URL` (and `.env`): a cron job needs nothing else.
async fn backup(file: &std::path::Path) -> ExitCode {
    let database = match Settings::database_from_env() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kaffeekasse: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match storage::backup::backup(&database.url, file).await {
        Ok(report) => {
            let (supporters, coffees, cents) = report.wall;
            println!(
                "wrote {}: {} donations, {} events, {} notifications; the wall shows {supporters} supporters, {coffees} coffees, {cents} cents; integrity ok",
                file.display(),
                report.donations,
                report.events,
                report.notifications
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kaffeekasse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `restore`, like `backup`, reads only `DATABASE_URL`.
async fn restore(file: &std::path::Path) -> ExitCode {
    let database = match Settings::database_from_env() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kaffeekasse: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match storage::restore::restore(&database.url, file).await {
        Ok(report) => {
            let counts = &report.counts;
            let (supporters, coffees, cents) = counts.wall;
            println!(
                "restored {} to {}: {} donations, {} events, {} notifications; the wall shows {supporters} supporters, {coffees} coffees, {cents} cents; {} migration(s) applied; integrity ok",
                file.display(),
                report.database.display(),
                counts.donations,
                counts.events,
                counts.notifications,
                report.migrated
            );
            // Stripe retries a delivery for three days: an event made before the backup may
            // have arrived after it. Reconciling is idempotent, so reaching back costs nothing.
            let days = report
                .newest_event
                .map_or(3, |at| (storage::now() - at).max(0) / 86_400 + 4);
            println!(
                "start the service, then fetch what came after the backup: kaffeekasse reconcile --since {days}"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kaffeekasse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `--since 7` (days ago) or `--since 2026-11-01T00:00:00Z`.
fn parse_since(raw: &str) -> Result<i64, String> {
    if let Ok(days) = raw.parse::<u32>() {
        return Ok(storage::now() - i64::from(days) * 86_400);
    }
    time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| format!("expected a number of days or an RFC 3339 time, not {raw:?}"))
}
