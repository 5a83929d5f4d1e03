//! Carrying out interpreted events: the one path shared by the webhook, reconciliation,
//! `kaffeekasse replay` and the thanks page.
//!
//! Every method runs in one write transaction, so an event's ledger row and its effect on the
//! donation commit together or not at all. The decisions are made by `interpret.rs`.

use std::sync::Arc;

use sqlx::SqliteConnection;

use crate::domain::{Effect, Rules};
use crate::storage::donations::{self, DonationRow};
use crate::storage::events::{self, EventStatus, NewEvent};
use crate::storage::{self, Db};

use super::event::{Event, Incoming, Session};
use super::interpret::{self, SessionStep, Step};

/// The result of applying one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        donation_id: String,
    },
    Ignored(&'static str),
    /// Belongs to a donation we cannot find yet; retried whenever a donation gains identifiers.
    Deferred,
    /// The event's object could not be read; kept for `kaffeekasse replay` after a fix.
    Failed(String),
}

impl Outcome {
    /// The ledger's word for this outcome, also what the webhook and the admin API answer.
    pub fn status(&self) -> EventStatus {
        match self {
            Outcome::Applied { .. } => EventStatus::Applied,
            Outcome::Ignored(_) => EventStatus::Ignored,
            Outcome::Deferred => EventStatus::Deferred,
            Outcome::Failed(_) => EventStatus::Failed,
        }
    }

    /// Why an event was ignored or failed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Ignored(why) => Some(why),
            Outcome::Failed(why) => Some(why),
            Outcome::Applied { .. } | Outcome::Deferred => None,
        }
    }

    pub fn donation_id(&self) -> Option<&str> {
        match self {
            Outcome::Applied { donation_id } => Some(donation_id),
            _ => None,
        }
    }
}

/// Result of [`Ledger::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// The event id was already in the ledger; nothing changed.
    Duplicate,
    Processed(Outcome),
}

/// The event ledger and the donations it moves.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    rules: Arc<Rules>,
}

impl Ledger {
    pub fn new(db: Db, rules: Arc<Rules>) -> Self {
        Ledger { db, rules }
    }

    /// Records a verified event in the ledger and applies it, once, in one durable transaction.
    #[tracing::instrument(skip_all, fields(event_id = %incoming.event.id, event_type = %incoming.event.kind))]
    pub async fn ingest(&self, incoming: Incoming) -> Result<Ingested, sqlx::Error> {
        let rules = Arc::clone(&self.rules);
        let ingested = self
            .db
            .write(move |conn| {
                Box::pin(async move {
                    let now = storage::now();
                    let event = &incoming.event;
                    let new = NewEvent {
                        id: &event.id,
                        kind: &event.kind,
                        created: event.created,
                        livemode: event.livemode,
                        api_version: event.api_version.as_deref(),
                        payload: incoming.payload(),
                    };
                    if !events::insert_new(conn, &new, now).await? {
                        return Ok(Ingested::Duplicate);
                    }
                    settle(conn, &rules, event, now).await.map(Ingested::Processed)
                })
            })
            .await?;
        if let Ingested::Processed(outcome) = &ingested {
            tracing::info!(status = %outcome.status(), reason = outcome.reason(), "stripe event processed");
        }
        Ok(ingested)
    }

    /// Re-applies a stored event (`kaffeekasse replay`). Safe at any time: effects are idempotent.
    pub async fn replay(&self, event_id: &str) -> anyhow::Result<Option<Outcome>> {
        let (rules, event_id) = (Arc::clone(&self.rules), event_id.to_owned());
        self.db
            .write(move |conn| {
                Box::pin(async move {
                    let Some(payload) = events::payload(conn, &event_id).await? else {
                        return Ok(None);
                    };
                    let event = Event::parse(payload.as_bytes())?;
                    Ok(Some(settle(conn, &rules, &event, storage::now()).await?))
                })
            })
            .await
    }

    /// Applies a session fetched from Stripe's API as if its completion or expiry event had
    /// arrived. No ledger row: it is not an event.
    pub async fn apply_session_snapshot(&self, session: &Session) -> Result<(), sqlx::Error> {
        let now = storage::now();
        let Some(Step::Session(step)) = interpret::interpret_snapshot(session, &self.rules, now) else {
            return Ok(());
        };
        let rules = Arc::clone(&self.rules);
        self.db
            .write(move |conn| {
                Box::pin(async move {
                    if let Outcome::Applied { .. } = apply_session(conn, &step, now).await? {
                        retry_deferred(conn, &rules, now).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Retries every deferred event once, in its own transaction (after reconciliation).
    pub async fn retry_deferred(&self) -> Result<(), sqlx::Error> {
        let rules = Arc::clone(&self.rules);
        self.db
            .write(move |conn| Box::pin(async move { retry_deferred(conn, &rules, storage::now()).await }))
            .await
    }
}

/// Applies `event`, writes its outcome to the ledger and, if a donation changed, retries the
/// deferred events that may now find it.
async fn settle(
    conn: &mut SqliteConnection,
    rules: &Rules,
    event: &Event,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let outcome = apply(conn, interpret::interpret(event, rules, now), now).await?;
    record(conn, &event.id, &outcome).await?;
    if let Outcome::Applied { donation_id } = &outcome {
        forget_erased_donor(conn, donation_id, &event.id).await?;
        retry_deferred(conn, rules, now).await?;
    }
    Ok(outcome)
}

/// An event that arrives after its donor erased their data (a refund, a late SEPA success) is
/// stored as erasure would have left it.
async fn forget_erased_donor(
    conn: &mut SqliteConnection,
    donation_id: &str,
    event_id: &str,
) -> Result<(), sqlx::Error> {
    if donations::is_erased(conn, donation_id).await? {
        events::redact_for_erasure(conn, event_id).await?;
    }
    Ok(())
}

async fn record(conn: &mut SqliteConnection, event_id: &str, outcome: &Outcome) -> Result<(), sqlx::Error> {
    events::set_outcome(
        conn,
        event_id,
        outcome.status(),
        outcome.reason(),
        outcome.donation_id(),
    )
    .await
}

async fn retry_deferred(conn: &mut SqliteConnection, rules: &Rules, now: i64) -> Result<(), sqlx::Error> {
    for (id, payload) in events::deferred(conn, 500, now).await? {
        let Ok(event) = Event::parse(payload.as_bytes()) else {
            continue;
        };
        let outcome = apply(conn, interpret::interpret(&event, rules, now), now).await?;
        if outcome != Outcome::Deferred {
            tracing::info!(event_id = %id, status = %outcome.status(), "deferred stripe event settled");
            record(conn, &id, &outcome).await?;
            if let Outcome::Applied { donation_id } = &outcome {
                forget_erased_donor(conn, donation_id, &id).await?;
            }
        }
    }
    Ok(())
}

async fn apply(conn: &mut SqliteConnection, step: Step, now: i64) -> Result<Outcome, sqlx::Error> {
    match step {
        Step::Session(step) => apply_session(conn, &step, now).await,
        Step::Payment { keys, effect } => {
            let Some(row) = donations::find_by_keys(conn, &keys).await? else {
                return Ok(Outcome::Deferred);
            };
            // The payment intent and charge identify this donation's payment: remember them.
            donations::link_ids(conn, &row.id, &keys, now).await?;
            merge(conn, &row, effect, now).await
        }
        Step::Ignored(why) => Ok(Outcome::Ignored(why)),
        Step::Failed(why) => Ok(Outcome::Failed(why)),
    }
}

async fn apply_session(
    conn: &mut SqliteConnection,
    step: &SessionStep,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let mut row = match donations::find_by_keys(conn, &step.lookup).await? {
        Some(row) => row,
        None => {
            let Some(recovered) = &step.recovered else {
                return Ok(Outcome::Ignored("expired session without a donation"));
            };
            donations::insert(conn, recovered).await?;
            match donations::find_by_keys(conn, &step.lookup).await? {
                Some(row) => row,
                None => return Ok(Outcome::Failed("donation could not be created".into())),
            }
        }
    };
    donations::link_ids(conn, &row.id, &step.keys, now).await?;
    if let Some((amount, currency)) = &step.settled {
        let stored = (row.amount_cents, row.currency.as_str());
        if let Some(change) = interpret::amount_change(stored, row.expected_amount_cents, (*amount, currency))
        {
            if change.mismatch {
                tracing::warn!(donation_id = %row.id, expected = row.expected_amount_cents,
                    expected_currency = %row.currency, amount, %currency,
                    "Stripe's amount differs from what we asked for; storing Stripe's");
            }
            donations::record_amount(
                conn,
                &row.id,
                change.amount_cents,
                &change.currency,
                change.mismatch,
            )
            .await?;
            row.amount_cents = change.amount_cents;
            row.currency = change.currency;
        }
    }
    merge(conn, &row, step.effect, now).await
}

async fn merge(
    conn: &mut SqliteConnection,
    row: &DonationRow,
    effect: Effect,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let facts = row.facts().apply(effect);
    let status = facts.status(row.amount_cents);
    if facts != row.facts() || status != row.status {
        donations::save_facts(conn, &row.id, &facts, status, now).await?;
    }
    Ok(Outcome::Applied {
        donation_id: row.id.clone(),
    })
}
