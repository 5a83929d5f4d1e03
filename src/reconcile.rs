//! Reconciliation: asks Stripe's Events API for events we may have missed (an outage longer than
//! Stripe's three days of retries, a misconfigured endpoint) and applies them through the same
//! idempotent path as the webhook.

use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;

use crate::payments::stripe::StripeProvider;
use crate::storage::{self, state};
use crate::webhook::apply::{self, Ingested, Rules};
use crate::webhook::event::{Event, HANDLED_TYPES};

const CURSOR_KEY: &str = "reconcile.last_created";
/// Events become visible in the list API slightly out of order; re-reading an hour is cheap.
const OVERLAP_SECS: i64 = 3600;
/// Without a cursor, look back as far as Stripe retries deliveries.
const FIRST_RUN_LOOKBACK_SECS: i64 = 3 * 86_400;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub listed: usize,
    pub new: usize,
    pub skipped: usize,
}

/// One reconciliation pass. `since` overrides the stored cursor.
pub async fn run(
    pool: &SqlitePool,
    rules: &Rules,
    stripe: &StripeProvider,
    livemode: bool,
    since: Option<i64>,
) -> anyhow::Result<Report> {
    let cursor = state::get(pool, CURSOR_KEY)
        .await?
        .and_then(|c| c.parse::<i64>().ok());
    let start = since
        .or(cursor.map(|c| c - OVERLAP_SECS))
        .unwrap_or_else(|| storage::now() - FIRST_RUN_LOOKBACK_SECS);
    let mut report = Report::default();
    let mut newest = cursor.unwrap_or(start);
    let mut after: Option<String> = None;
    loop {
        let page = stripe
            .list_events(HANDLED_TYPES, start, after.as_deref())
            .await
            .context("listing events from Stripe")?;
        for raw in &page.events {
            report.listed += 1;
            let event = match Event::parse(raw.as_bytes()) {
                Ok(e) if e.livemode == livemode => e,
                _ => {
                    report.skipped += 1;
                    continue;
                }
            };
            if apply::ingest(pool, rules, &event, raw).await? != Ingested::Duplicate {
                report.new += 1;
            }
            newest = newest.max(event.created);
        }
        match page.last_id {
            Some(last) if page.has_more && after.as_deref() != Some(last.as_str()) => after = Some(last),
            _ => break,
        }
    }
    apply::retry_all_deferred(pool, rules).await?;
    let mut tx = storage::begin_write(pool).await?;
    state::set(&mut tx, CURSOR_KEY, &newest.to_string()).await?;
    tx.commit().await?;
    tracing::info!(?report, "reconciliation finished");
    Ok(report)
}

/// Runs [`run`] every `interval` until the process ends. Errors are logged and retried next time.
pub async fn every(
    interval: Duration,
    pool: SqlitePool,
    rules: Rules,
    stripe: std::sync::Arc<crate::payments::Provider>,
    livemode: bool,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(provider) = stripe.stripe() else { return };
        if let Err(e) = run(&pool, &rules, provider, livemode, None).await {
            tracing::error!(error = ?e, "reconciliation failed");
        }
    }
}
