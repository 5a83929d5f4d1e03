//! Carrying out interpreted events: the one path shared by the webhook, reconciliation,
//! `kaffeekasse replay` and the thanks page.
//!
//! Every method is one write job (`Db::write`), so an event's ledger row and its effect on the
//! donation commit together or not at all. The decisions are made by `interpret.rs` and
//! `merge.rs`; this file only reads and writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::SqliteConnection;

use crate::domain::{Effect, Rules};
use crate::storage::donations::{self, DonationRow, DonationUpdate, Keys};
use crate::storage::events::{self, NewEvent};
use crate::storage::{self, Db};

use super::event::{Event, Incoming, Session};
use super::interpret::{self, SessionStep, Step};
use super::merge;
pub use super::outcome::{Ingested, Outcome};

/// What applying one step did.
struct Applied {
    outcome: Outcome,
    /// The donation gained a session, payment intent or charge id.
    learned: bool,
    /// The donation's donor has erased their data.
    erased: bool,
}

impl From<Outcome> for Applied {
    fn from(outcome: Outcome) -> Self {
        Applied {
            outcome,
            learned: false,
            erased: false,
        }
    }
}

/// The event ledger and the donations it moves.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    context: Arc<Context>,
}

/// What every write job of the ledger needs.
struct Context {
    rules: Arc<Rules>,
    /// Whether deferred events may be waiting. Retrying costs a query, so it is skipped while
    /// this process knows there are none; it starts `true` because it cannot know at start.
    deferred: AtomicBool,
}

impl Ledger {
    pub fn new(db: Db, rules: Arc<Rules>) -> Self {
        let context = Context {
            rules,
            deferred: AtomicBool::new(true),
        };
        Ledger {
            db,
            context: Arc::new(context),
        }
    }

    /// Records a verified event in the ledger and applies it, once, in one durable write.
    #[tracing::instrument(skip_all, fields(event_id = %incoming.event.id, event_type = %incoming.event.kind))]
    pub async fn ingest(&self, incoming: Incoming) -> Result<Ingested, sqlx::Error> {
        let context = Arc::clone(&self.context);
        let ingested = self
            .db
            .write(move |conn| Box::pin(async move { ingest(conn, &context, &incoming).await }))
            .await?;
        if let Ingested::Processed(outcome) = &ingested {
            tracing::info!(status = %outcome.status(), reason = outcome.reason(), "stripe event processed");
        }
        Ok(ingested)
    }

    /// Re-applies a stored event (`kaffeekasse replay`). Safe at any time: effects are idempotent.
    pub async fn replay(&self, event_id: &str) -> anyhow::Result<Option<Outcome>> {
        let (context, event_id) = (Arc::clone(&self.context), event_id.to_owned());
        self.db
            .write(move |conn| {
                Box::pin(async move {
                    let Some(payload) = events::payload(conn, &event_id).await? else {
                        return Ok(None);
                    };
                    let event = Event::parse(payload.as_bytes())?;
                    let now = storage::now();
                    let applied = apply(conn, interpret::interpret(&event, &context.rules, now), now).await?;
                    settle_stored(conn, &context, &event_id, &applied, now).await?;
                    Ok(Some(applied.outcome))
                })
            })
            .await
    }

    /// Applies a session fetched from Stripe's API as if its completion or expiry event had
    /// arrived. No ledger row: it is not an event.
    pub async fn apply_session_snapshot(&self, session: &Session) -> Result<(), sqlx::Error> {
        let now = storage::now();
        let Some(Step::Session(step)) = interpret::interpret_snapshot(session, &self.context.rules, now)
        else {
            return Ok(());
        };
        let context = Arc::clone(&self.context);
        self.db
            .write(move |conn| {
                Box::pin(async move {
                    let applied = apply_session(conn, &step, now).await?;
                    if applied.learned {
                        retry_deferred(conn, &context, now).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// Retries every deferred event once, in its own write (after reconciliation).
    pub async fn retry_deferred(&self) -> Result<(), sqlx::Error> {
        let context = Arc::clone(&self.context);
        context.deferred.store(true, Ordering::Relaxed);
        self.db
            .write(move |conn| Box::pin(async move { retry_deferred(conn, &context, storage::now()).await }))
            .await
    }
}

async fn ingest(
    conn: &mut SqliteConnection,
    context: &Context,
    incoming: &Incoming,
) -> Result<Ingested, sqlx::Error> {
    let event = &incoming.event;
    if events::exists(conn, &event.id).await? {
        return Ok(Ingested::Duplicate);
    }
    let now = storage::now();
    let applied = apply(conn, interpret::interpret(event, &context.rules, now), now).await?;
    // An event arriving after its donor erased their data is stored as the erasure left the rest.
    let erased_payload = applied.erased.then(|| erased(incoming.payload()));
    let new = NewEvent {
        id: &event.id,
        kind: &event.kind,
        created: event.created,
        livemode: event.livemode,
        api_version: event.api_version.as_deref(),
        payload: erased_payload.as_deref().unwrap_or(incoming.payload()),
    };
    events::insert(conn, &new, applied.outcome.ledger(), now).await?;
    after(conn, context, &applied, now).await?;
    Ok(Ingested::Processed(applied.outcome))
}

/// For an event already in the ledger (replay, retry): its new outcome, and its payload as an
/// erasure leaves it if the donor has erased their data.
async fn settle_stored(
    conn: &mut SqliteConnection,
    context: &Context,
    event_id: &str,
    applied: &Applied,
    now: i64,
) -> Result<(), sqlx::Error> {
    let (status, error, donation_id) = applied.outcome.ledger();
    events::set_outcome(conn, event_id, status, error, donation_id).await?;
    if applied.erased {
        events::redact_for_erasure(conn, event_id).await?;
    }
    after(conn, context, applied, now).await
}

/// A deferred event may be waiting for an id this one taught the database.
async fn after(
    conn: &mut SqliteConnection,
    context: &Context,
    applied: &Applied,
    now: i64,
) -> Result<(), sqlx::Error> {
    if applied.outcome == Outcome::Deferred {
        context.deferred.store(true, Ordering::Relaxed);
    } else if applied.learned {
        retry_deferred(conn, context, now).await?;
    }
    Ok(())
}

fn erased(payload: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(payload) {
        Ok(mut json) => {
            crate::domain::privacy::redact_for_erasure(&mut json);
            json.to_string()
        }
        Err(_) => "{}".to_owned(),
    }
}

async fn retry_deferred(conn: &mut SqliteConnection, context: &Context, now: i64) -> Result<(), sqlx::Error> {
    if !context.deferred.load(Ordering::Relaxed) {
        return Ok(());
    }
    let waiting = events::deferred(conn, 500, now).await?;
    let mut still_deferred = false;
    for (id, payload) in waiting {
        let Ok(event) = Event::parse(payload.as_bytes()) else {
            continue;
        };
        let applied = apply(conn, interpret::interpret(&event, &context.rules, now), now).await?;
        if applied.outcome == Outcome::Deferred {
            still_deferred = true;
            continue;
        }
        tracing::info!(event_id = %id, status = %applied.outcome.status(), "deferred stripe event settled");
        let (status, error, donation_id) = applied.outcome.ledger();
        events::set_outcome(conn, &id, status, error, donation_id).await?;
        if applied.erased {
            events::redact_for_erasure(conn, &id).await?;
        }
    }
    context.deferred.store(still_deferred, Ordering::Relaxed);
    Ok(())
}

async fn apply(conn: &mut SqliteConnection, step: Step, now: i64) -> Result<Applied, sqlx::Error> {
    match step {
        Step::Session(step) => apply_session(conn, &step, now).await,
        Step::Payment { keys, effect } => match donations::find_by_keys(conn, &keys).await? {
            Some(row) => apply_to(conn, &row, &keys, effect, None, now).await,
            None => Ok(Outcome::Deferred.into()),
        },
        Step::Ignored(why) => Ok(Outcome::Ignored(why).into()),
        Step::Failed(why) => Ok(Outcome::Failed(why).into()),
    }
}

async fn apply_session(
    conn: &mut SqliteConnection,
    step: &SessionStep,
    now: i64,
) -> Result<Applied, sqlx::Error> {
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
    let settled = step.settled.as_ref().map(|(a, c)| (*a, c.as_str()));
    apply_to(conn, &row, &step.keys, step.effect, settled, now).await
}

/// Merges one event into `row` and writes the change, if there is one.
async fn apply_to(
    conn: &mut SqliteConnection,
    row: &DonationRow,
    keys: &Keys,
    effect: Effect,
    settled: Option<(i64, &str)>,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    let change = merge::merge(row, keys, effect, settled);
    if let Some(change) = &change {
        if let Some(a) = change.amount.as_ref().filter(|a| a.mismatch) {
            tracing::warn!(donation_id = %row.id, expected = row.expected_amount_cents,
                expected_currency = %row.currency, amount = a.amount_cents, currency = %a.currency,
                "Stripe's amount differs from what we asked for; storing Stripe's");
        }
        let update = DonationUpdate {
            learned: &change.learned,
            amount: change
                .amount
                .as_ref()
                .map(|a| (a.amount_cents, a.currency.as_str(), a.mismatch)),
            facts: &change.facts,
            status: change.status,
        };
        donations::update(conn, &row.id, &update, now).await?;
    }
    Ok(Applied {
        outcome: Outcome::Applied {
            donation_id: row.id.clone(),
        },
        learned: change.as_ref().is_some_and(merge::Change::learned_an_id),
        erased: row.erased_at.is_some(),
    })
}
