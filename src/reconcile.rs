//! Reconciliation: asks Stripe's Events API for events we may have missed (an outage longer than
//! Stripe's three days of retries, a misconfigured endpoint) and applies them through the same
//! idempotent path as the webhook.

use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;

use crate::payments::Provider;
use crate::payments::stripe::StripeProvider;
use crate::storage::{self, Db, state};
use crate::webhook::apply::{Ingested, Ledger};
use crate::webhook::event::{HANDLED_TYPES, Incoming};

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
    db: &Db,
    ledger: &Ledger,
    stripe: &StripeProvider,
    since: Option<i64>,
) -> anyhow::Result<Report> {
    let livemode = stripe.livemode();
    let cursor = state::get(db.pool(), CURSOR_KEY)
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
            let incoming = match Incoming::parse(raw.as_bytes()) {
                Ok(i) if i.event.livemode == livemode => i,
                _ => {
                    report.skipped += 1;
                    continue;
                }
            };
            newest = newest.max(incoming.event.created);
            if ledger.ingest(incoming).await? != Ingested::Duplicate {
                report.new += 1;
            }
        }
        match page.last_id {
            Some(last) if page.has_more && after.as_deref() != Some(last.as_str()) => after = Some(last),
            _ => break,
        }
    }
    ledger.retry_deferred().await?;
    let newest = newest.to_string();
    db.write(move |conn| Box::pin(async move { state::set(conn, CURSOR_KEY, &newest).await }))
        .await?;
    tracing::info!(?report, "reconciliation finished");
    Ok(report)
}

/// Runs [`run`] every `interval` until the process ends. A failed pass is logged and retried
/// at the next tick; only a panic ends the task (and, through `Application`, the service).
pub async fn every(
    interval: Duration,
    db: Db,
    ledger: Ledger,
    provider: Arc<Provider>,
) -> anyhow::Result<()> {
    let stripe = provider
        .stripe()
        .context("reconciliation needs the Stripe provider")?;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = run(&db, &ledger, stripe, None).await {
            tracing::error!(error = ?e, "reconciliation failed");
        }
    }
}
