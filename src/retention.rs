//! The hourly storage-limitation pass (`storage/retention.rs` says what it prunes).

use std::time::Duration;

use anyhow::Context;

use crate::storage::{self, Db, retention::Pruned};

/// Rows one write prunes; a full write is followed by another, so the writer is never held long.
const CHUNK: i64 = 200;

/// Prunes everything older than `retention` before `now`, in bounded writes. After it pruned
/// anything, a checkpoint moves the overwritten text out of the WAL too (as after an erasure).
pub async fn run(db: &Db, retention: Duration, now: i64) -> anyhow::Result<Pruned> {
    let cutoff = now.saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
    let mut total = Pruned::default();
    loop {
        let pruned = db
            .write(move |conn| Box::pin(storage::retention::prune(conn, cutoff, now, CHUNK)))
            .await
            .context("pruning what the retention period no longer covers")?;
        total.donations += pruned.donations;
        total.events += pruned.events;
        total.cancellations += pruned.cancellations;
        let full = |n: u64| i64::try_from(n).is_ok_and(|n| n >= CHUNK);
        if !full(pruned.donations) && !full(pruned.events) && !full(pruned.cancellations) {
            break;
        }
    }
    if total.any() {
        db.checkpoint().await.context("the checkpoint after pruning")?;
        tracing::info!(
            donations = total.donations,
            events = total.events,
            cancellations = total.cancellations,
            "personal data past its retention period removed"
        );
    }
    Ok(total)
}

/// Runs [`run`] at start and every hour; a failure is logged and tried again next hour.
pub async fn every_hour(db: Db, retention: Duration) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(Duration::from_secs(3600));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = run(&db, retention, storage::now()).await {
            tracing::error!(error = ?e, "the retention pass failed");
        }
    }
}
