//! The webhook's batched write: an interpreted event decided in memory against the rows its
//! batch read (`storage::Workspace`), with the same pure functions (`merge`, `notice_for`) and in
//! the same order as the ordinary write (`write.rs`, `apply::ingest`), so that a batch leaves
//! the rows that one event at a time would.
//!
//! The one-time donation's steps are decided here: checkout sessions, charges, refunds,
//! disputes, and events ignored for what they are. Any other step takes the ordinary way, as
//! does an event that teaches a donation an id deferred events wait for (retrying them reads
//! their stored payloads): the writer then cuts the batch there.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::domain::{Channel, Effect, notice_for};
use crate::storage::donations::{DonationRow, Keys, NewDonation};
use crate::storage::{Decided, Wants, Workspace};

use super::event::Incoming;
use super::interpret::{SessionStep, Step};
use super::merge::{self, Change};
use super::outcome::Outcome;
use super::write::{Applied, IngestError, new_event, stored_payload};

/// An interpreted event on its way to the writer.
pub(super) struct Staged {
    pub incoming: Incoming,
    pub step: Step,
    pub now: i64,
    /// What the ledger keeps of an ignored event, redacted before it reaches the writer.
    stored: Option<String>,
}

/// Whether `step` can be decided in a batch; other steps (and any added later) take the
/// ordinary way.
fn batchable(step: &Step) -> bool {
    matches!(step, Step::Session(_) | Step::Payment { .. } | Step::Ignored(_))
}

impl Staged {
    pub fn new(incoming: Incoming, step: Step, now: i64) -> Staged {
        let stored = match &step {
            Step::Ignored(why) => stored_payload(&Outcome::Ignored(why).into(), incoming.payload()),
            _ => None,
        };
        Staged {
            incoming,
            step,
            now,
            stored,
        }
    }

    /// The event's id, and every id its donation may be found by or recorded under; `None` for
    /// a step no batch decides.
    pub fn wants(&self) -> Option<Wants> {
        if !batchable(&self.step) {
            return None;
        }
        let keys = match &self.step {
            Step::Session(s) => ids(&s.keys)
                .chain(s.recovered.as_ref().map(|d| d.id.as_str()))
                .map(str::to_owned)
                .collect(),
            Step::Payment { keys, .. } => ids(keys).map(str::to_owned).collect(),
            _ => Vec::new(),
        };
        Some(Wants {
            event_id: Some(self.incoming.event.id.clone()),
            keys,
        })
    }
}

fn ids(keys: &Keys) -> impl Iterator<Item = &str> {
    [
        &keys.donation_id,
        &keys.session_id,
        &keys.payment_intent_id,
        &keys.charge_id,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
}

/// What applying a step comes to, before anything is written.
struct Plan {
    applied: Applied,
    /// A donation to record first.
    insert: Option<NewDonation>,
    /// The donation as the event leaves it, if it changed.
    saved: Option<DonationRow>,
    /// Every id of the event's donation, as the event leaves it.
    ids: Vec<String>,
}

impl From<Outcome> for Plan {
    fn from(outcome: Outcome) -> Self {
        Plan {
            applied: outcome.into(),
            insert: None,
            saved: None,
            ids: Vec::new(),
        }
    }
}

/// Decides `staged` against the batch's rows and leaves its writes in `workspace`, as
/// `apply::ingest` would write them: the event's outcome, and whether a notification was queued.
pub(super) fn decide(
    workspace: &mut Workspace,
    staged: &Staged,
    notify: &[Channel],
    deferred: &AtomicBool,
) -> Decided<Result<(Outcome, bool), IngestError>> {
    let (incoming, now) = (&staged.incoming, staged.now);
    if workspace.knows_event(&incoming.event.id) {
        return Decided::Done(Err(IngestError::Duplicate));
    }
    let plan = match &staged.step {
        Step::Session(step) => session(workspace, step),
        Step::Payment { keys, effects } => match workspace.find(keys) {
            Some(row) => change(row, keys, effects, None),
            // No donation has its ids: a monthly coffee's renewal may (its invoice knows the
            // payment), or it waits; the ordinary way looks at invoices too.
            None => return Decided::Alone,
        },
        Step::Ignored(why) => Outcome::Ignored(why).into(),
        _ => return Decided::Alone,
    };
    let Plan {
        applied,
        insert,
        saved,
        ids,
    } = plan;
    let retries = applied.learned && applied.outcome != Outcome::Deferred && deferred.load(Ordering::Relaxed);
    if retries && (workspace.deferred_expired(now) || workspace.waits_for_any(ids.iter().map(String::as_str)))
    {
        return Decided::Alone;
    }
    let payload = match &staged.stored {
        Some(stored) => Cow::Borrowed(stored.as_str()),
        None => {
            stored_payload(&applied, incoming.payload()).map_or(Cow::Borrowed(incoming.payload()), Cow::Owned)
        }
    };
    if let Some(d) = insert {
        workspace.insert(d);
    }
    if let Some(row) = saved {
        workspace.save(row, now);
    }
    workspace.record(
        &new_event(incoming, Some(&payload)),
        applied.outcome.ledger(),
        now,
    );
    if applied.outcome == Outcome::Deferred {
        workspace.remember_deferred(&incoming.event.id, &staged.step.waits_for());
        deferred.store(true, Ordering::Relaxed);
    }
    let queued = match &applied.notice {
        Some((donation_id, kind)) if !notify.is_empty() => {
            workspace.enqueue(*kind, donation_id, notify, now);
            true
        }
        _ => false,
    };
    Decided::Done(Ok((applied.outcome, queued)))
}

/// `write::apply_session`, in memory.
fn session(workspace: &Workspace, step: &SessionStep) -> Plan {
    let settled = step.settled.as_ref().map(|(a, c)| (*a, c.as_str()));
    let effects = step.effects();
    // A session we did not start, new: recorded with the event applied.
    if step.lookup.donation_id.is_none()
        && let Some(recovered) = &step.recovered
        && workspace.can_insert(recovered)
        && let Some(change) = merge::merge(&DonationRow::from_new(recovered), &step.keys, &effects, settled)
    {
        let saved = changed(DonationRow::from_new(recovered), &change);
        let notice = notice_for(None, (change.status, change.refunded_cents));
        let mut applied = Applied::from(Outcome::Applied {
            donation_id: recovered.id.clone(),
        });
        (applied.learned, applied.recorded) = (true, true);
        applied.notice = notice.map(|k| (recovered.id.clone(), k));
        return Plan {
            applied,
            insert: Some(recovered.clone()),
            ids: ids_of(&saved),
            saved: Some(saved),
        };
    }
    let (row, insert) = match workspace.find(&step.lookup) {
        Some(row) => (row.clone(), None),
        None => match &step.recovered {
            None => return Outcome::Ignored("expired session without a donation").into(),
            Some(d) if workspace.can_insert(d) => (DonationRow::from_new(d), Some(d.clone())),
            Some(_) => return Outcome::Failed("donation could not be created".into()).into(),
        },
    };
    Plan {
        insert,
        ..change(&row, &step.keys, &effects, settled)
    }
}

/// `write::apply_to`, in memory: merges one event into `row`.
fn change(row: &DonationRow, keys: &Keys, effects: &[Effect], settled: Option<(i64, &str)>) -> Plan {
    let change = merge::merge(row, keys, effects, settled);
    if let Some(a) = change
        .as_ref()
        .and_then(|c| c.amount.as_ref())
        .filter(|a| a.mismatch)
    {
        tracing::warn!(donation_id = %row.id, expected = row.expected_amount_cents,
            expected_currency = %row.currency, amount = a.amount_cents, currency = %a.currency,
            "Stripe's amount differs from what we asked for; storing Stripe's");
    }
    let mut applied = Applied::from(Outcome::Applied {
        donation_id: row.id.clone(),
    });
    applied.learned = change.as_ref().is_some_and(Change::learned_an_id);
    applied.erased = row.erased_at.is_some();
    applied.recorded = change.is_some();
    applied.notice = change
        .as_ref()
        .and_then(|c| {
            notice_for(
                Some((row.status, row.refunded_cents)),
                (c.status, c.refunded_cents),
            )
        })
        .map(|k| (row.id.clone(), k));
    let saved = change.map(|c| changed(row.clone(), &c));
    Plan {
        applied,
        insert: None,
        ids: ids_of(saved.as_ref().unwrap_or(row)),
        saved,
    }
}

/// `row` with `change` written to it, as `donations::UPDATE` writes it.
fn changed(mut row: DonationRow, change: &Change) -> DonationRow {
    for (known, learned) in [
        (&mut row.checkout_session_id, &change.learned.session_id),
        (&mut row.payment_intent_id, &change.learned.payment_intent_id),
        (&mut row.charge_id, &change.learned.charge_id),
    ] {
        if known.is_none() {
            known.clone_from(learned);
        }
    }
    if let Some(a) = &change.amount {
        (row.amount_cents, row.currency) = (a.amount_cents, a.currency.clone());
        row.amount_mismatch |= a.mismatch;
    }
    let facts = &change.facts;
    row.checkout_state = facts.checkout;
    row.charge_refunded_cents = facts.refunds.charge_max;
    row.refunds = facts.refunds.by_id.clone();
    row.dispute_state = facts.disputes.state();
    row.disputes = facts.disputes.clone();
    row.charge_amount = facts.charge.as_ref().map(|c| c.amount);
    row.charge_currency = facts.charge.as_ref().map(|c| c.currency.clone());
    row.paid_at = facts.paid_at;
    (row.status, row.refunded_cents) = (change.status, change.refunded_cents);
    row
}

/// The ids a deferred event could wait for on this donation (`deferred::waiting_for_donation`).
fn ids_of(row: &DonationRow) -> Vec<String> {
    [&row.checkout_session_id, &row.payment_intent_id, &row.charge_id]
        .into_iter()
        .flatten()
        .chain(std::iter::once(&row.id))
        .cloned()
        .collect()
}
