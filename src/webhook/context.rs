//! What every write job of the ledger needs, and what those jobs do after applying an event:
//! record its outcome, queue the blogger's notice, and retry the deferred events it may settle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::SqliteConnection;
use tokio::sync::Notify;

use crate::auth::signer::Signer;
use crate::domain::{Channel, Rules};
use crate::storage::{deferred, events, outbox};

use super::event::Event;
use super::interpret;
use super::outcome::Outcome;
use super::write::{Applied, apply};

/// What every write job of the ledger needs.
pub(super) struct Context {
    pub(super) rules: Arc<Rules>,
    /// Where the blogger's notifications go; none: nothing is queued.
    pub(super) notify: Vec<Channel>,
    /// Wakes the notification sender once a queued notification is committed.
    pub(super) wake: Arc<Notify>,
    /// Whether deferred events may be waiting. Retrying costs a query, so it is skipped while
    /// this process knows there are none; it starts `true` because it cannot know at start.
    pub(super) deferred: AtomicBool,
    /// Hashes a monthly coffee's checkout e-mail address (for `/kuendigen`); none: not kept.
    pub(super) emails: Option<Signer>,
    /// Wakes the cancellation worker once a monthly coffee's address is committed: a
    /// declaration that found nothing (its events were late) may have been opened again.
    pub(super) declarations: Arc<Notify>,
}

impl Context {
    /// A copy to change one setting of (a builder step): deferred events may be waiting.
    pub(super) fn copy(&self) -> Context {
        Context {
            rules: Arc::clone(&self.rules),
            notify: self.notify.clone(),
            wake: Arc::clone(&self.wake),
            deferred: AtomicBool::new(true),
            emails: self.emails.clone(),
            declarations: Arc::clone(&self.declarations),
        }
    }
}

/// For an event already in the ledger (replay, retry): its new outcome, and its payload as an
/// erasure leaves it if the donor has erased their data.
pub(super) async fn settle_stored(
    conn: &mut SqliteConnection,
    context: &Context,
    event_id: &str,
    applied: &Applied,
    waits: &[String],
    now: i64,
) -> Result<bool, sqlx::Error> {
    let (status, error, donation_id) = applied.outcome.ledger();
    events::set_outcome(conn, event_id, status, error, donation_id).await?;
    if applied.outcome == Outcome::Deferred {
        deferred::remember(conn, event_id, waits).await?;
    } else {
        deferred::forget(conn, event_id).await?;
    }
    if applied.erased {
        events::redact_for_erasure(conn, event_id).await?;
    }
    after(conn, context, applied, now).await
}

/// Queues the blogger's notification, if the change calls for one; then a deferred event may
/// be waiting for an id this one taught the database. Says whether anything was queued.
pub(super) async fn after(
    conn: &mut SqliteConnection,
    context: &Context,
    applied: &Applied,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut queued = queue_notice(conn, context, applied, now).await?;
    if applied.outcome == Outcome::Deferred {
        context.deferred.store(true, Ordering::Relaxed);
    } else if applied.learned {
        queued |= retry_deferred(conn, context, now, applied.outcome.ledger().2).await?;
    }
    Ok(queued)
}

/// Queues the notice `applied` calls for on every configured channel, in the same transaction.
pub(super) async fn queue_notice(
    conn: &mut SqliteConnection,
    context: &Context,
    applied: &Applied,
    now: i64,
) -> Result<bool, sqlx::Error> {
    match &applied.notice {
        Some((donation_id, kind)) if !context.notify.is_empty() => {
            outbox::enqueue(conn, *kind, Some(donation_id), &context.notify, now).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Applies the deferred events that can now find their donation: those waiting for an id of
/// `learned` (a donation that just learned one), or every one (after reconciliation), which also
/// expires those deferred for a week. Says whether a notification was queued.
pub(super) async fn retry_deferred(
    conn: &mut SqliteConnection,
    context: &Context,
    now: i64,
    learned: Option<&str>,
) -> Result<bool, sqlx::Error> {
    if !context.deferred.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let mut queued = false;
    let mut still_deferred = false;
    // A settled event may teach an id in turn (an invoice that a waiting payment names): the
    // events waiting for that one are found in the next round, a few rounds at most.
    for _round in 0..4 {
        let (waiting, waits_on) = match learned {
            // The others wait on (nothing learned here concerns them), but a week's end comes for all.
            Some(donation_id) => {
                events::expire_deferred(conn, 500, now).await?;
                (
                    deferred::waiting_for_donation(conn, donation_id, 500).await?,
                    true,
                )
            }
            None => events::deferred(conn, 500, now).await?,
        };
        still_deferred = waits_on;
        let mut taught = false;
        for (id, payload) in waiting {
            let Ok(event) = Event::parse(payload.as_bytes()) else {
                continue;
            };
            let applied = apply(conn, interpret::interpret(&event, &context.rules, now), now, None).await?;
            if applied.outcome == Outcome::Deferred {
                still_deferred = true;
                continue;
            }
            taught |= applied.learned;
            deferred::forget(conn, &id).await?;
            tracing::info!(event_id = %id, status = %applied.outcome.status(), "deferred stripe event settled");
            queued |= queue_notice(conn, context, &applied, now).await?;
            let (status, error, donation_id) = applied.outcome.ledger();
            events::set_outcome(conn, &id, status, error, donation_id).await?;
            if applied.erased {
                events::redact_for_erasure(conn, &id).await?;
            }
        }
        if !taught {
            break;
        }
    }
    context.deferred.store(still_deferred, Ordering::Relaxed);
    Ok(queued)
}
