use std::process::ExitCode;

use std::sync::Arc;

use kaffeekasse::config::Settings;
use kaffeekasse::startup::Application;
use kaffeekasse::webhook::apply::Ledger;
use kaffeekasse::{reconcile, storage, telemetry};

const USAGE: &str = "usage: kaffeekasse [serve | migrate | replay <event id> | reconcile [--since <RFC 3339 | days>] | admin logout-all | healthcheck]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kaffeekasse: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.first().map(String::as_str) != Some("healthcheck") {
        telemetry::init(settings.server.log_format);
    }
    match run(settings, &args).await {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = ?e, "kaffeekasse failed");
            eprintln!("kaffeekasse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings, args: &[String]) -> anyhow::Result<ExitCode> {
    let arg = |i: usize| args.get(i).map(String::as_str);
    match arg(0) {
        None | Some("serve") => {
            Application::build(settings).await?.run_until_stopped().await?;
        }
        Some("migrate") => {
            let db = storage::connect(&settings.database).await?;
            db.migrate().await?;
            println!("migrations applied");
        }
        Some("replay") => {
            let Some(id) = arg(1) else { return usage() };
            let db = storage::connect(&settings.database).await?;
            db.migrate().await?;
            let ledger = Ledger::new(db, Arc::new(settings.rules));
            match ledger.replay(id).await? {
                Some(outcome) => println!(
                    "{id}: {} {}",
                    outcome.status(),
                    outcome.reason().unwrap_or_default()
                ),
                None => {
                    eprintln!("no stored event {id}");
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Some("reconcile") => {
            let since = match (arg(1), arg(2)) {
                (None, _) => None,
                (Some("--since"), Some(v)) => Some(parse_since(v)?),
                _ => return usage(),
            };
            let Some(stripe) = settings.payment.stripe() else {
                anyhow::bail!(
                    "reconcile needs STRIPE_SECRET_KEY: the demo provider has nothing to reconcile"
                );
            };
            let provider = kaffeekasse::payments::stripe::StripeProvider::new(stripe)?;
            let db = storage::connect(&settings.database).await?;
            db.migrate().await?;
            let ledger = Ledger::new(db.clone(), Arc::new(settings.rules));
            if let Some(warning) = since.and_then(|s| reconcile::window_warning(s, storage::now())) {
                eprintln!("warning: {warning}");
            }
            let report = reconcile::run(&db, &ledger, &provider, since).await?;
            println!(
                "listed {} events, {} new, {} skipped",
                report.listed, report.new, report.skipped
            );
            let swept = reconcile::sweep(&db, &ledger, &provider).await?;
            println!(
                "swept {} pending sessions, {} settled{}",
                swept.checked,
                swept.settled,
                if swept.rate_limited {
                    " (stopped at Stripe's rate limit)"
                } else {
                    ""
                }
            );
        }
        Some("admin") if arg(1) == Some("logout-all") => {
            let db = storage::connect(&settings.database).await?;
            db.migrate().await?;
            let ended = db
                .write(|conn| Box::pin(async move { storage::sessions::delete_all(conn).await }))
                .await?;
            println!("ended {ended} admin session(s)");
        }
        Some("healthcheck") => {
            let addr = settings.server.bind_addr.replace("0.0.0.0", "127.0.0.1");
            let ok = reqwest::Client::new()
                .get(format!("http://{addr}/healthz"))
                .timeout(std::time::Duration::from_secs(3))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            return Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE });
        }
        Some(_) => return usage(),
    }
    Ok(ExitCode::SUCCESS)
}

fn usage() -> anyhow::Result<ExitCode> {
    eprintln!("{USAGE}");
    Ok(ExitCode::from(2))
}

/// `--since 7` (days ago) or `--since 2026-11-01T00:00:00Z`.
fn parse_since(raw: &str) -> anyhow::Result<i64> {
    if let Ok(days) = raw.parse::<i64>() {
        return Ok(storage::now() - days * 86_400);
    }
    let t = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map_err(|_| anyhow::anyhow!("--since takes a number of days or an RFC 3339 time, not {raw:?}"))?;
    Ok(t.unix_timestamp())
}
