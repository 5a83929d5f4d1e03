//! What applying one interpreted event writes: the donation's change, and with it (on the
//! webhook's path) the event's ledger row, in as few round trips to SQLite as possible.

use sqlx::SqliteConnection;

use crate::domain::{Effect, notice_for, privacy};
use crate::storage::donations::{self, DonationRow, DonationUpdate, Keys};
use crate::storage::events::NewEvent;
use crate::storage::ledger;
use crate::storage::subscriptions;

pub(super) use super::applied::{Applied, IngestError};
use super::event::Incoming;
use super::interpret::{EVENT_NOT_HANDLED, SessionStep, Step};
use super::merge;
use super::outcome::Outcome;

/// An event's envelope and payload as the ledger records it: `stored` instead of the payload as it
/// came, where that must keep less (see [`stored_payload`]).
pub(super) fn new_event<'a>(incoming: &'a Incoming, stored: Option<&'a str>) -> NewEvent<'a> {
    let event = &incoming.event;
    NewEvent {
        id: &event.id,
        kind: &event.kind,
        created: event.created,
        livemode: event.livemode,
        api_version: event.api_version.as_deref(),
        payload: stored.unwrap_or(incoming.payload()),
    }
}

/// A payload as an erasure leaves it.
pub(super) fn erased(payload: &str) -> String {
    privacy::rewritten(payload, privacy::redact_for_erasure)
}

/// What the ledger keeps of an event that was not recorded together with its donation: an event
/// for an erased donor as the erasure left the rest; an ignored event (someone else's checkout,
/// an event type we do not act on) without anything that could name a person. `None`: as it came.
pub(super) fn stored_payload(applied: &Applied, payload: &str) -> Option<String> {
    match &applied.outcome {
        Outcome::Ignored(why) if *why == EVENT_NOT_HANDLED => {
            Some(privacy::rewritten(payload, privacy::keep_envelope))
        }
        Outcome::Ignored(_) => Some(erased(payload)),
        _ if applied.erased => Some(erased(payload)),
        _ => None,
    }
}

/// Applies `step`. With `record`, the event's ledger row is written together with the
/// donation's change where there is one (`Applied::recorded`).
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    step: Step,
    now: i64,
    record: Option<&Incoming>,
) -> Result<Applied, IngestError> {
    match step {
        Step::Session(step) => apply_session(conn, &step, now, record).await,
        Step::Payment { keys, effects } => match donations::find_by_keys(conn, &keys).await? {
            Some(row) => apply_to(conn, &row, &keys, &effects, None, now, record).await,
            // A monthly coffee's renewal carries no id of ours: its invoice knows the payment.
            None => match super::monthly_apply::apply_payment(conn, &keys, &effects, now).await? {
                Some(applied) => Ok(applied),
                None => Ok(Outcome::Deferred.into()),
            },
        },
        Step::Monthly(step) => super::monthly_apply::apply(conn, &step, now).await,
        Step::Renewal { keys, effects } => {
            match super::monthly_apply::apply_payment(conn, &keys, &effects, now).await? {
                Some(applied) => Ok(applied),
                // A renewal's invoice payment may not have arrived yet; with no monthly coffee
                // at all, the charge is someone else's (a shop on the same account).
                None if subscriptions::any(conn).await? => Ok(Outcome::Deferred.into()),
                None => Ok(Outcome::Ignored("charge not created by Kaffeekasse").into()),
            }
        }
        Step::Ignored(why) => Ok(Outcome::Ignored(why).into()),
        Step::Failed(why) => Ok(Outcome::Failed(why).into()),
    }
}

pub(super) async fn apply_session(
    conn: &mut SqliteConnection,
    step: &SessionStep,
    now: i64,
    record: Option<&Incoming>,
) -> Result<Applied, IngestError> {
    let settled = step.settled.as_ref().map(|(a, c)| (*a, c.as_str()));
    // A session we did not start (a Payment Link's) is new far more often than not: insert it
    // with this event applied, together with the event, and look it up only if it exists.
    if step.lookup.donation_id.is_none()
        && let (Some(recovered), Some(incoming)) = (&step.recovered, record)
        && let Some(change) = merge::merge(
            &DonationRow::from_new(recovered),
            &step.keys,
            &step.effects(),
            settled,
        )
    {
        let outcome = Outcome::Applied {
            donation_id: recovered.id.clone(),
        };
        let (new, update) = (new_event(incoming, None), update_of(&change));
        if ledger::insert_donation_and_event(conn, recovered, &update, &new, outcome.ledger(), now).await? {
            let notice =
                notice_for(None, (change.status, change.refunded_cents)).map(|k| (recovered.id.clone(), k));
            return Ok(Applied {
                outcome,
                learned: true,
                erased: false,
                recorded: true,
                notice,
            });
        }
    }
    let row = match donations::find_by_keys(conn, &step.lookup).await? {
        Some(row) => row,
        None => {
            let Some(recovered) = &step.recovered else {
                return Ok(Outcome::Ignored("expired session without a donation").into());
            };
            match donations::insert_returning(conn, recovered).await? {
                Some(row) => row,
                None => return Ok(Outcome::Failed("donation could not be created".into()).into()),
            }
        }
    };
    apply_to(conn, &row, &step.keys, &step.effects(), settled, now, record).await
}

fn update_of(change: &merge::Change) -> DonationUpdate<'_> {
    DonationUpdate {
        learned: &change.learned,
        amount: change
            .amount
            .as_ref()
            .map(|a| (a.amount_cents, a.currency.as_str(), a.mismatch)),
        facts: &change.facts,
        refunded_cents: change.refunded_cents,
        status: change.status,
    }
}

/// Merges one event into `row` and writes the change, if there is one (with the event's ledger
/// row, given `record`).
async fn apply_to(
    conn: &mut SqliteConnection,
    row: &DonationRow,
    keys: &Keys,
    effects: &[Effect],
    settled: Option<(i64, &str)>,
    now: i64,
    record: Option<&Incoming>,
) -> Result<Applied, IngestError> {
    let outcome = Outcome::Applied {
        donation_id: row.id.clone(),
    };
    let change = merge::merge(row, keys, effects, settled);
    let erased = row.erased_at.is_some();
    let mut recorded = false;
    if let Some(change) = &change {
        if let Some(a) = change.amount.as_ref().filter(|a| a.mismatch) {
            tracing::warn!(donation_id = %row.id, expected = row.expected_amount_cents,
                expected_currency = %row.currency, amount = a.amount_cents, currency = %a.currency,
                "Stripe's amount differs from what we asked for; storing Stripe's");
        }
        let update = update_of(change);
        match record {
            Some(incoming) => {
                let erased_payload = erased.then(|| self::erased(incoming.payload()));
                let new = new_event(incoming, erased_payload.as_deref());
                if !ledger::update_donation_and_event(conn, &row.id, &update, &new, outcome.ledger(), now)
                    .await?
                {
                    return Err(IngestError::Duplicate);
                }
                recorded = true;
            }
            None => donations::update(conn, &row.id, &update, now).await?,
        }
    }
    Ok(Applied {
        outcome,
        learned: change.as_ref().is_some_and(merge::Change::learned_an_id),
        erased,
        recorded,
        notice: change
            .as_ref()
            .and_then(|c| {
                notice_for(
                    Some((row.status, row.refunded_cents)),
                    (c.status, c.refunded_cents),
                )
            })
            .map(|k| (row.id.clone(), k)),
    })
}
