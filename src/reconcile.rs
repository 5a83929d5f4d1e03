//! Reconciliation: asks Stripe's Events API for events we may have missed (an outage longer than
//! Stripe's three days of retries, a misconfigured endpoint) and applies them through the same
//! idempotent path as the webhook.

use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;

use crate::payments::stripe::StripeProvider;
use crate::payments::{Provider, ProviderError};
use crate::storage::{self, Db, donations, lookups, ops, state, subscriptions};
use crate::webhook::apply::{Ingested, Ledger};
use crate::webhook::event::{HANDLED_TYPES, Incoming};
use crate::webhook::interpret;

const CURSOR_KEY: &str = "reconcile.last_created";
/// Events become visible in the list API slightly out of order; re-reading an hour is cheap.
const OVERLAP_SECS: i64 = 3600;
/// Without a cursor, look back as far as Stripe retries deliveries.
const FIRST_RUN_LOOKBACK_SECS: i64 = 3 * 86_400;
/// Stripe's Events API keeps events for 30 days.
pub const EVENTS_KEPT_SECS: i64 = 30 * 86_400;
/// The sweeper looks at sessions pending or processing for longer than this…
const SWEEP_AFTER_SECS: i64 = 3600;
/// …at most this many a run, the longest unasked first…
const SWEEP_BATCH: u32 = 50;
/// …and gives up on them after this long (SEPA takes up to 14 business days; older ones are
/// abandoned checkouts the admin can see in the list).
const SWEEP_UNTIL_SECS: i64 = 60 * 86_400;

/// A warning when `since` reaches past what Stripe's Events API keeps.
pub fn window_warning(since: i64, now: i64) -> Option<&'static str> {
    (since < now - EVENTS_KEPT_SECS).then_some(
        "Stripe's Events API keeps 30 days of events; older ones cannot be listed. \
         The sweeper still settles every donation that is pending or processing.",
    )
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Sessions asked about.
    pub checked: usize,
    /// Donations whose state changed.
    pub settled: usize,
    /// Stripe answered 429: the rest waits for the next run.
    pub rate_limited: bool,
    /// Stripe failed otherwise (down, a timeout, a missing permission): the rest waits too.
    pub stopped: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub listed: usize,
    pub new: usize,
    pub skipped: usize,
}

/// One reconciliation pass. `since` overrides the stored cursor. Its outcome is recorded for
/// `/readyz` and `/metrics`.
pub async fn run(
    db: &Db,
    ledger: &Ledger,
    stripe: &StripeProvider,
    since: Option<i64>,
) -> anyhow::Result<Report> {
    let result = pass(db, ledger, stripe, since).await;
    let error = result.as_ref().err().map(summary);
    let now = storage::now();
    let recorded = db
        .write(move |conn| Box::pin(async move { ops::record_reconcile(conn, now, error.as_deref()).await }))
        .await;
    if let Err(e) = recorded {
        tracing::warn!(error = ?e, "could not record the reconciliation's outcome");
    }
    result
}

/// What went wrong, for anyone who can read `/readyz`: the kind of failure, never Stripe's own
/// message (which may quote part of the key). The log has the whole chain.
pub fn summary(error: &anyhow::Error) -> String {
    match error.chain().find_map(|e| e.downcast_ref::<ProviderError>()) {
        Some(e) => format!("Stripe: {}", e.kind()),
        None if error.chain().any(|e| e.is::<sqlx::Error>()) => "database error".to_owned(),
        None => "internal error".to_owned(),
    }
}

async fn pass(
    db: &Db,
    ledger: &Ledger,
    stripe: &StripeProvider,
    since: Option<i64>,
) -> anyhow::Result<Report> {
    let cursor = state::get(db.pool(), CURSOR_KEY)
        .await?
        .and_then(|c| c.parse::<i64>().ok());
    let start = since
        .or(cursor.map(|c| c - OVERLAP_SECS))
        .unwrap_or_else(|| storage::now() - FIRST_RUN_LOOKBACK_SECS);
    // An explicit `since` was warned about by whoever chose it (the CLI).
    if since.is_none()
        && let Some(warning) = window_warning(start, storage::now())
    {
        tracing::warn!(since = start, "{warning}");
    }
    let mut report = Report::default();
    let mut newest = cursor.unwrap_or(start);
    for types in type_groups() {
        list_group(ledger, stripe, types, start, &mut report, &mut newest).await?;
    }
    ledger.retry_deferred().await?;
    let newest = newest.to_string();
    db.write(move |conn| Box::pin(async move { state::set(conn, CURSOR_KEY, &newest).await }))
        .await?;
    tracing::info!(?report, "reconciliation finished");
    Ok(report)
}

/// Stripe's Events API takes at most 20 `types` per request: the handled types, in groups it
/// takes, each listed on its own.
pub fn type_groups() -> impl Iterator<Item = &'static [&'static str]> {
    HANDLED_TYPES.chunks(20)
}

/// Every event of `types` since `start`, page by page, into the ledger.
async fn list_group(
    ledger: &Ledger,
    stripe: &StripeProvider,
    types: &[&str],
    start: i64,
    report: &mut Report,
    newest: &mut i64,
) -> anyhow::Result<()> {
    let livemode = stripe.livemode();
    let mut after: Option<String> = None;
    loop {
        let page = stripe
            .list_events(types, start, after.as_deref())
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
            *newest = (*newest).max(incoming.event.created);
            if ledger.ingest(incoming).await? != Ingested::Duplicate {
                report.new += 1;
            }
        }
        match page.last_id {
            Some(last) if page.has_more && after.as_deref() != Some(last.as_str()) => after = Some(last),
            _ => return Ok(()),
        }
    }
}

/// Asks Stripe about the Checkout Session of every donation still pending or processing after an
/// hour, and applies what it says, as the thanks page would. Sessions outlive the Events API's 30
/// days, so even after a month-long outage no coffee is lost. Bounded per run; every session
/// asked about goes to the back of the queue, answered or not, so none can block the others.
/// Stops at the first error: a 429, or Stripe being down, would only repeat for the rest.
pub async fn sweep(db: &Db, ledger: &Ledger, stripe: &StripeProvider) -> anyhow::Result<SweepReport> {
    let now = storage::now();
    let window = (now - SWEEP_UNTIL_SECS, now - SWEEP_AFTER_SECS);
    let due = lookups::due_for_sweep(db.pool(), window, stripe.livemode(), SWEEP_BATCH).await?;
    let mut report = SweepReport::default();
    for (session_id, status) in due {
        let answer = stripe.retrieve_session(&session_id).await;
        let id = session_id.clone();
        db.write(move |conn| Box::pin(async move { lookups::mark_swept(conn, &id, now).await }))
            .await?;
        let session = match answer {
            Ok(session) => session,
            Err(ProviderError::RateLimited) => {
                tracing::warn!("Stripe's rate limit reached; the sweep continues next run");
                report.rate_limited = true;
                break;
            }
            Err(e) => {
                // The kind only: Stripe's message may name the session, a capability.
                tracing::warn!(
                    kind = e.kind(),
                    "could not ask Stripe about a pending session; the sweep continues next run"
                );
                report.stopped = true;
                break;
            }
        };
        report.checked += 1;
        if let Some(session) = session {
            ledger.apply_session_snapshot(&session).await?;
        }
        let after = donations::find_by_session(db.pool(), &session_id).await?;
        if after.is_some_and(|row| row.status != status) {
            report.settled += 1;
        }
    }
    tracing::info!(?report, "sweep finished");
    Ok(report)
}

/// Running monthly coffees are asked about at most once a day…
const SUBSCRIPTION_EVERY_SECS: i64 = 86_400;
/// …at most this many a run.
const SUBSCRIPTION_BATCH: i64 = 50;

/// Asks Stripe about every monthly coffee that has not ended, at most once a day each: the
/// subscription and its paid invoices, applied as if their events had arrived now. The Events
/// API keeps 30 days; a subscription runs for years, so a renewal missed during a long outage is
/// still found. Bounded per run, the longest unasked first, and it stops at the first error (a
/// 429 or an outage would only repeat for the rest).
pub async fn sweep_subscriptions(
    db: &Db,
    ledger: &Ledger,
    provider: &Provider,
) -> anyhow::Result<SweepReport> {
    let now = storage::now();
    let due = subscriptions::due_for_check(
        db.pool(),
        now - SUBSCRIPTION_EVERY_SECS,
        provider.livemode(),
        SUBSCRIPTION_BATCH,
    )
    .await?;
    let mut report = SweepReport::default();
    for (donation_id, subscription_id) in due {
        let answer = provider.subscription_state(&subscription_id).await;
        db.write(move |conn| {
            Box::pin(async move { subscriptions::mark_checked(conn, &donation_id, now).await })
        })
        .await?;
        let (subscription, invoices) = match answer {
            Ok(Some(state)) => state,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(
                    kind = e.kind(),
                    "could not ask Stripe about a subscription; the sweep continues next run"
                );
                report.rate_limited = matches!(e, ProviderError::RateLimited);
                report.stopped = !report.rate_limited;
                break;
            }
        };
        report.checked += 1;
        ledger
            .apply_snapshot(interpret::interpret_subscription(&subscription, now))
            .await?;
        for invoice in &invoices {
            ledger
                .apply_snapshot(interpret::interpret_paid_invoice(invoice, now))
                .await?;
        }
    }
    tracing::info!(?report, "subscription sweep finished");
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
        if let Err(e) = sweep(&db, &ledger, stripe).await {
            tracing::error!(error = ?e, "the sweep failed");
        }
        if let Err(e) = sweep_subscriptions(&db, &ledger, &provider).await {
            tracing::error!(error = ?e, "the subscription sweep failed");
        }
    }
}
