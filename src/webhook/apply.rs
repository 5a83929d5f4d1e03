//! Applying Stripe events to donations: the one path shared by the webhook, reconciliation,
//! `kaffeekasse replay` and the thanks page.
//!
//! Every function here runs inside one write transaction, so an event's ledger row and its effect
//! on the donation commit together or not at all.

use sqlx::{SqliteConnection, SqlitePool};

use crate::config::{Moderation, Pricing, Settings};
use crate::domain::Effect;
use crate::storage::donations::{self, DonationRow, Keys};
use crate::storage::events::{self, EventStatus};
use crate::storage::{self, Tx};
use crate::webhook::event::{Event, Payload, Session};

/// What the service needs to know to interpret events.
#[derive(Debug, Clone)]
pub struct Rules {
    pub pricing: Pricing,
    /// Payment Links whose sessions are recorded although we did not create them.
    pub payment_links: Vec<String>,
    pub moderation: Moderation,
    pub blocked_words: Vec<String>,
}

impl Rules {
    pub fn from_settings(s: &Settings) -> Self {
        Rules {
            pricing: s.pricing.clone(),
            payment_links: s.payment_links.clone(),
            moderation: s.moderation,
            blocked_words: s.blocked_words.clone(),
        }
    }
}

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
    fn ledger(&self) -> (EventStatus, Option<&str>, Option<&str>) {
        match self {
            Outcome::Applied { donation_id } => (EventStatus::Applied, None, Some(donation_id)),
            Outcome::Ignored(why) => (EventStatus::Ignored, Some(why), None),
            Outcome::Deferred => (EventStatus::Deferred, None, None),
            Outcome::Failed(why) => (EventStatus::Failed, Some(why), None),
        }
    }
}

/// Result of [`ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// The event id was already in the ledger; nothing changed.
    Duplicate,
    Processed(Outcome),
}

/// Records a verified event in the ledger and applies it, once, in one durable transaction.
#[tracing::instrument(skip_all, fields(event_id = %event.id, event_type = %event.kind))]
pub async fn ingest(
    pool: &SqlitePool,
    rules: &Rules,
    event: &Event,
    payload: &str,
) -> Result<Ingested, sqlx::Error> {
    let now = storage::now();
    let mut tx = storage::begin_write(pool).await?;
    if !events::insert_new(&mut tx, event, payload, now).await? {
        tx.rollback().await?;
        return Ok(Ingested::Duplicate);
    }
    let outcome = settle(&mut tx, rules, event, now).await?;
    tx.commit().await?;
    tracing::info!(?outcome, "stripe event processed");
    Ok(Ingested::Processed(outcome))
}

/// Re-applies a stored event (`kaffeekasse replay`). Safe at any time: effects are idempotent.
pub async fn replay(pool: &SqlitePool, rules: &Rules, event_id: &str) -> anyhow::Result<Option<Outcome>> {
    let mut tx = storage::begin_write(pool).await?;
    let Some(payload) = events::payload(&mut tx, event_id).await? else {
        return Ok(None);
    };
    let event = Event::parse(payload.as_bytes())?;
    let outcome = settle(&mut tx, rules, &event, storage::now()).await?;
    tx.commit().await?;
    Ok(Some(outcome))
}

/// Applies a session fetched from Stripe's API (the thanks page's fallback when the webhook is
/// late), as if its completion or expiry event had arrived. No ledger row: it is not an event.
pub async fn apply_session_snapshot(
    pool: &SqlitePool,
    rules: &Rules,
    session: &Session,
) -> Result<(), sqlx::Error> {
    let now = storage::now();
    let effect = match session.status.as_deref() {
        Some("complete") => Effect::Completed {
            paid: session.is_paid(),
            at: now,
        },
        Some("expired") => Effect::Expired,
        _ => return Ok(()),
    };
    let mut tx = storage::begin_write(pool).await?;
    let outcome = apply_session(&mut tx, rules, session, effect, now).await?;
    if matches!(outcome, Outcome::Applied { .. }) {
        retry_deferred(&mut tx, rules, now).await?;
    }
    tx.commit().await
}

/// Applies `event`, writes its outcome to the ledger and, if a donation changed, retries the
/// deferred events that may now find it.
async fn settle(tx: &mut Tx, rules: &Rules, event: &Event, now: i64) -> Result<Outcome, sqlx::Error> {
    let outcome = apply_event(tx, rules, event, now).await?;
    let (status, error, donation_id) = outcome.ledger();
    events::set_outcome(tx, &event.id, status, error, donation_id).await?;
    if matches!(outcome, Outcome::Applied { .. }) {
        retry_deferred(tx, rules, now).await?;
    }
    Ok(outcome)
}

async fn retry_deferred(tx: &mut Tx, rules: &Rules, now: i64) -> Result<(), sqlx::Error> {
    for (id, payload) in events::deferred(tx, 500, now).await? {
        let Ok(event) = Event::parse(payload.as_bytes()) else {
            continue;
        };
        let outcome = apply_event(tx, rules, &event, now).await?;
        if outcome != Outcome::Deferred {
            tracing::info!(event_id = %id, ?outcome, "deferred stripe event settled");
            let (status, error, donation_id) = outcome.ledger();
            events::set_outcome(tx, &id, status, error, donation_id).await?;
        }
    }
    Ok(())
}

async fn apply_event(
    conn: &mut SqliteConnection,
    rules: &Rules,
    event: &Event,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let payload = match event.payload() {
        Ok(p) => p,
        Err(e) => return Ok(Outcome::Failed(format!("unreadable data.object: {e}"))),
    };
    let at = event.created;
    match payload {
        Payload::SessionCompleted(s) => {
            let effect = Effect::Completed {
                paid: s.is_paid(),
                at,
            };
            apply_session(conn, rules, &s, effect, now).await
        }
        Payload::SessionAsyncSucceeded(s) => {
            apply_session(conn, rules, &s, Effect::AsyncSucceeded { at }, now).await
        }
        Payload::SessionAsyncFailed(s) => apply_session(conn, rules, &s, Effect::AsyncFailed, now).await,
        Payload::SessionExpired(s) => apply_session(conn, rules, &s, Effect::Expired, now).await,
        Payload::ChargeRefunded(c) => {
            // Our sessions put donation_id on every charge; without it a charge can only be ours
            // if it came from a listed Payment Link.
            if !c.metadata.contains_key("donation_id") && rules.payment_links.is_empty() {
                return Ok(Outcome::Ignored("charge not created by Kaffeekasse"));
            }
            let keys = Keys {
                donation_id: c.metadata.get("donation_id").map(String::as_str),
                payment_intent_id: c.payment_intent.as_deref(),
                charge_id: Some(&c.id),
                session_id: None,
            };
            // `refunded` marks a full refund even if amount_refunded were missing.
            let amount_refunded = if c.refunded {
                c.amount_refunded.max(c.amount)
            } else {
                c.amount_refunded
            };
            apply_to(conn, &keys, Effect::Refunded { amount_refunded }, now).await
        }
        Payload::DisputeCreated(d) | Payload::DisputeClosed(d) => {
            let keys = Keys {
                donation_id: d.metadata.get("donation_id").map(String::as_str),
                payment_intent_id: d.payment_intent.as_deref(),
                charge_id: d.charge.as_deref(),
                session_id: None,
            };
            let effect = if event.kind == "charge.dispute.closed" {
                Effect::DisputeClosed { won: d.is_won() }
            } else {
                Effect::DisputeOpened
            };
            apply_to(conn, &keys, effect, now).await
        }
        Payload::Unhandled => Ok(Outcome::Ignored("event type not handled")),
    }
}

/// Charge and dispute events: find the donation or defer.
async fn apply_to(
    conn: &mut SqliteConnection,
    keys: &Keys<'_>,
    effect: Effect,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let Some(row) = donations::find_by_keys(conn, keys).await? else {
        return Ok(Outcome::Deferred);
    };
    // The payment intent and charge identify this donation's payment: remember them for later events.
    donations::link_ids(conn, &row.id, keys, now).await?;
    merge(conn, &row, effect, now).await
}

async fn apply_session(
    conn: &mut SqliteConnection,
    rules: &Rules,
    s: &Session,
    effect: Effect,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let from_link = s
        .payment_link
        .as_ref()
        .is_some_and(|l| rules.payment_links.contains(l));
    if !s.is_ours() && !from_link {
        return Ok(Outcome::Ignored("session not created by Kaffeekasse"));
    }
    // A session is found by our id or its own id only: its payment intent could at worst point
    // at another session's donation, and it is learnt below anyway.
    let lookup = Keys {
        donation_id: s.donation_id(),
        session_id: Some(&s.id),
        ..Keys::default()
    };
    let keys = Keys {
        payment_intent_id: s.payment_intent.as_deref(),
        ..lookup
    };
    let row = match donations::find_by_keys(conn, &lookup).await? {
        Some(row) => row,
        // An abandoned Payment Link visit is not a donation; only money movements create rows.
        None if effect == Effect::Expired => {
            return Ok(Outcome::Ignored("expired session without a donation"));
        }
        None => {
            donations::insert(
                conn,
                &super::recover::recovered_donation(rules, s, from_link, now),
            )
            .await?;
            match donations::find_by_keys(conn, &lookup).await? {
                Some(row) => row,
                None => return Ok(Outcome::Failed("donation could not be created".into())),
            }
        }
    };
    donations::link_ids(conn, &row.id, &keys, now).await?;
    let mut row = row;
    if let (Some((amount, currency)), true) = (s.settled_amount(), effect != Effect::Expired) {
        let currency = currency.to_ascii_lowercase();
        // Stripe's figures for a session never change, so only the first report writes; until then
        // the row still holds what we asked for, which is what a mismatch is measured against.
        if amount != row.amount_cents || currency != row.currency {
            let mismatch = amount != row.expected_amount_cents || currency != row.currency;
            if mismatch {
                tracing::warn!(donation_id = %row.id, expected = row.expected_amount_cents,
                    expected_currency = %row.currency, amount, %currency,
                    "Stripe's amount differs from what we asked for; storing Stripe's");
            }
            donations::record_amount(conn, &row.id, amount, &currency, mismatch).await?;
            row.amount_cents = amount;
            row.currency = currency;
        }
    }
    merge(conn, &row, effect, now).await
}

async fn merge(
    conn: &mut SqliteConnection,
    row: &DonationRow,
    effect: Effect,
    now: i64,
) -> Result<Outcome, sqlx::Error> {
    let facts = row.facts().apply(effect);
    let status = facts.status(row.amount_cents);
    if facts != row.facts() || status != row.status() {
        donations::save_facts(conn, &row.id, &facts, status, now).await?;
    }
    Ok(Outcome::Applied {
        donation_id: row.id.clone(),
    })
}

/// Retries every deferred event once, in its own transaction (after reconciliation).
pub async fn retry_all_deferred(pool: &SqlitePool, rules: &Rules) -> Result<(), sqlx::Error> {
    let mut tx = storage::begin_write(pool).await?;
    retry_deferred(&mut tx, rules, storage::now()).await?;
    tx.commit().await
}
