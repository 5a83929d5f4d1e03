//! What a Stripe event means for the jar, decided without touching the database.
//!
//! [`interpret`] is a pure function of the event, the rules and the time: whose session it is,
//! which donation it concerns, what it contributes to that donation's facts, and which donation
//! to record when Stripe tells us about one we have no row for. `apply.rs` only carries the
//! resulting [`Step`] out inside a transaction.

use crate::domain::{ChargeAmount, DisputeState, Effect, RefundState, Rules, SupporterName, Visibility};
use crate::storage::donations::{Keys, NewDonation};

use super::event::{Charge, Dispute, Event, Payload, Refund, Session};
pub use super::step::{InvoiceReport, MonthlyStep, SessionStep, Step};

/// Why an event of a type we do not act on was ignored.
pub const EVENT_NOT_HANDLED: &str = "event type not handled";

/// Interprets `event` under `rules`; `now` dates a recovered donation.
pub fn interpret(event: &Event, rules: &Rules, now: i64) -> Step {
    let payload = match event.payload() {
        Ok(p) => p,
        Err(e) => return Step::Failed(format!("unreadable data.object: {e}")),
    };
    let at = event.created;
    match payload {
        Payload::SessionCompleted(s) => {
            let paid = s.is_paid();
            session_step(rules, &s, Effect::Completed { paid, at }, now)
        }
        Payload::SessionAsyncSucceeded(s) => session_step(rules, &s, Effect::AsyncSucceeded { at }, now),
        Payload::SessionAsyncFailed(s) => session_step(rules, &s, Effect::AsyncFailed, now),
        Payload::SessionExpired(s) => session_step(rules, &s, Effect::Expired, now),
        Payload::ChargeRefunded(c) => refund_step(rules, &c),
        Payload::RefundUpdated(r) => refund_updated_step(&r),
        Payload::Dispute(d) => dispute_step(&d),
        Payload::Subscription(sub) => super::monthly::subscription_step(&sub, at),
        Payload::Invoice(inv, what) => super::monthly::invoice_step(&inv, what, at),
        Payload::InvoicePaymentPaid(p) => super::monthly::invoice_payment_step(&p),
        Payload::Unhandled => Step::Ignored(EVENT_NOT_HANDLED),
    }
}

/// What a session fetched from Stripe's API means, as if its completion or expiry event had
/// arrived now (the thanks page's fallback when the webhook is late). Open sessions mean nothing.
pub fn interpret_snapshot(session: &Session, rules: &Rules, now: i64) -> Option<Step> {
    let effect = match session.status.as_deref() {
        Some("complete") => Effect::Completed {
            paid: session.is_paid(),
            at: now,
        },
        Some("expired") => Effect::Expired,
        _ => return None,
    };
    Some(session_step(rules, session, effect, now))
}

/// A subscription fetched from Stripe's API, as if its `customer.subscription.updated` had
/// arrived `now`.
pub fn interpret_subscription(sub: &super::event::Subscription, now: i64) -> Step {
    super::monthly::subscription_step(sub, now)
}

/// A paid invoice fetched from Stripe's API, as if its `invoice.paid` had arrived `now`.
pub fn interpret_paid_invoice(inv: &super::event::Invoice, now: i64) -> Step {
    super::monthly::invoice_step(inv, super::event::InvoiceEvent::Paid, now)
}

fn session_step(rules: &Rules, s: &Session, effect: Effect, now: i64) -> Step {
    let from_link = rules.is_listed_link(s.payment_link.as_deref());
    if s.is_subscription() {
        // Only our own checkouts start monthly coffees; a Payment Link's subscription would
        // count once and never again, so it stays ignored.
        return super::monthly::session_step(rules, s, effect, now);
    }
    if !s.is_ours() && !from_link {
        return Step::Ignored("session not created by Kaffeekasse");
    }
    if s.charges_nothing() {
        return Step::Ignored("nothing was paid: not a coffee");
    }
    let lookup = Keys {
        donation_id: s.donation_id().map(str::to_owned),
        session_id: Some(s.id.clone()),
        ..Keys::default()
    };
    let keys = Keys {
        payment_intent_id: s.payment_intent.clone(),
        ..lookup.clone()
    };
    let expired = effect == Effect::Expired;
    Step::Session(Box::new(SessionStep {
        lookup,
        keys,
        charged: s
            .charged()
            .filter(|_| !expired)
            .map(|(amount, currency)| ChargeAmount::new(amount, currency)),
        effect,
        settled: s
            .settled_amount()
            .filter(|_| !expired)
            .map(|(amount, currency)| (amount, currency.to_ascii_lowercase())),
        recovered: (!expired).then(|| recovered_donation(rules, s, from_link, now)),
    }))
}

/// Our one-time checkouts put `donation_id` on every charge. A charge without it may still be
/// ours: a listed Payment Link's, or a monthly coffee's renewal (Stripe copies no metadata onto
/// an invoice's payment). It is looked up by its payment intent and charge.
fn refund_step(rules: &Rules, c: &Charge) -> Step {
    let donation_id = c.metadata.get("donation_id").cloned();
    let keys = Keys {
        donation_id,
        payment_intent_id: c.payment_intent.clone(),
        charge_id: Some(c.id.clone()),
        session_id: None,
    };
    let reported = Effect::Refunded {
        amount_refunded: refunded_amount(c),
        charge: c.currency.as_deref().map(|cur| ChargeAmount::new(c.amount, cur)),
    };
    let each = c.refunds.data.iter().map(refund_effect);
    let effects = std::iter::once(reported).chain(each).collect();
    if keys.donation_id.is_none() && rules.payment_links.is_empty() {
        return Step::Renewal { keys, effects };
    }
    Step::Payment { keys, effects }
}

fn refund_effect(r: &Refund) -> Effect {
    Effect::Refund {
        id: r.id.clone(),
        amount: r.amount,
        currency: r.currency.as_ref().map(|c| c.to_ascii_lowercase()),
        state: RefundState::from_stripe(r.status.as_deref()),
    }
}

/// A refund changed (typically: it failed after all). Its charge and payment intent find the
/// donation; a refund of something that is not ours waits as deferred, then is dropped.
fn refund_updated_step(r: &Refund) -> Step {
    if r.charge.is_none() && r.payment_intent.is_none() {
        // A refund of a customer balance or the like: nothing a coffee was paid with.
        return Step::Ignored("refund without a charge or payment intent");
    }
    let keys = Keys {
        donation_id: r.metadata.get("donation_id").cloned(),
        payment_intent_id: r.payment_intent.clone(),
        charge_id: r.charge.clone(),
        session_id: None,
    };
    Step::Payment {
        keys,
        effects: vec![refund_effect(r)],
    }
}

/// The refunded total of a charge. `refunded` marks a full refund even if `amount_refunded`
/// were missing or short.
pub fn refunded_amount(c: &Charge) -> i64 {
    if c.refunded {
        c.amount_refunded.max(c.amount)
    } else {
        c.amount_refunded
    }
}

/// Created, updated or closed alike: the dispute's `status` is the state.
fn dispute_step(d: &Dispute) -> Step {
    let keys = Keys {
        donation_id: d.metadata.get("donation_id").cloned(),
        payment_intent_id: d.payment_intent.clone(),
        charge_id: d.charge.clone(),
        session_id: None,
    };
    let state = DisputeState::from_stripe(d.status.as_deref());
    Step::Payment {
        keys,
        effects: vec![Effect::Dispute {
            id: d.id.clone(),
            state,
        }],
    }
}

/// A change to a donation's stored amount, when Stripe reports what was really charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountChange {
    pub amount_cents: i64,
    pub currency: String,
    /// Stripe charged something other than what we asked for.
    pub mismatch: bool,
}

/// Stripe's figures are the truth. A session's figures never change, so only a report that
/// differs from the stored amount writes; until then the row holds what we asked for, which is
/// what a mismatch is measured against.
pub fn amount_change(stored: (i64, &str), expected_cents: i64, settled: (i64, &str)) -> Option<AmountChange> {
    let (amount, currency) = settled;
    if amount == stored.0 && currency == stored.1 {
        return None;
    }
    Some(AmountChange {
        amount_cents: amount,
        currency: currency.to_owned(),
        mismatch: amount != expected_cents || currency != stored.1,
    })
}

/// A donation for a session we have no row for: a Payment Link donation, or one of ours whose row
/// is missing (restored backup, second instance). Recorded anonymously unless the link asked.
fn recovered_donation(rules: &Rules, s: &Session, from_link: bool, now: i64) -> NewDonation {
    let price = rules.pricing.coffee_price_cents;
    let settled = s.settled_amount();
    let amount = settled.map_or(price, |(a, _)| a).max(0);
    let coffees = s
        .metadata
        .get("coffees")
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| *c >= 1)
        .unwrap_or_else(|| coffees_for(amount, price));
    let (name, visibility) = if from_link {
        let name = s
            .custom_field("name")
            .and_then(|n| SupporterName::parse(n).ok().flatten())
            .map(|n| n.as_str().to_owned());
        let public = s.custom_field("public").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "yes" | "ja" | "true" | "on" | "1"
            )
        });
        let visibility = if public {
            Visibility::Public
        } else {
            Visibility::Anonymous
        };
        (name, visibility)
    } else {
        (None, Visibility::Anonymous)
    };
    NewDonation {
        // Derived from the session, so the same session always yields the same donation.
        id: s
            .donation_id()
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, s.id.as_bytes()).to_string()),
        provider: if from_link { "payment_link" } else { "stripe" },
        checkout_session_id: s.id.clone(),
        coffees,
        amount_cents: amount,
        currency: settled.map_or_else(
            || rules.pricing.currency.as_str().to_owned(),
            |(_, c)| c.to_ascii_lowercase(),
        ),
        held: rules.needs_review(visibility, name.as_deref(), None),
        name,
        message: None,
        visibility,
        livemode: s.livemode,
        created_at: now,
        interval: crate::domain::Interval::Once,
    }
}

/// How many coffees an amount buys: rounded down, at least one.
fn coffees_for(amount_cents: i64, price_cents: i64) -> u32 {
    u32::try_from(amount_cents / price_cents.max(1))
        .unwrap_or(u32::MAX)
        .max(1)
}

#[cfg(test)]
#[path = "interpret_tests.rs"]
mod tests;
