//! What a monthly-coffee event means, decided without touching the database: a checkout in
//! `subscription` mode, a `customer.subscription.*`, an `invoice.*` or an `invoice_payment.paid`.
//!
//! Only subscriptions our own checkout started count: they carry `kaffeekasse=1` in their
//! metadata (on the session, the subscription, and, in newer API versions, the invoice's
//! `parent.subscription_details`). An invoice whose API version copies no metadata is looked up
//! by its subscription, and waits (deferred) if that is not known yet.

use crate::domain::{
    ChargeAmount, Effect, EndReason, Ended, Interval, Rules, SubscriptionFacts, SubscriptionStatus,
    SubscriptionView,
};
use crate::storage::donations::NewDonation;

use super::event::{Invoice, InvoiceEvent, InvoicePayment, Session, Subscription};
use super::step::{InvoiceReport, MonthlyStep, Step};

fn monthly(step: MonthlyStep) -> Step {
    Step::Monthly(Box::new(step))
}

/// A checkout of ours in `subscription` mode: the checkout's facts, the subscription and customer
/// to remember, and the first invoice, which the checkout paid (or is paying, with SEPA).
pub(super) fn session_step(rules: &Rules, s: &Session, effect: Effect, now: i64) -> Step {
    if !s.is_ours() {
        return Step::Ignored("a subscription checkout not started by Kaffeekasse");
    }
    if s.charges_nothing() {
        return Step::Ignored("nothing was paid: not a coffee");
    }
    let expired = effect == Effect::Expired;
    let coffees = s
        .metadata
        .get("coffees")
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| *c >= 1);
    let invoice_effects = match &effect {
        Effect::Completed { paid: true, at } => {
            let charged = s.charged().map(|(a, c)| Effect::Charged(ChargeAmount::new(a, c)));
            std::iter::once(Effect::Completed { paid: true, at: *at })
                .chain(charged)
                .collect()
        }
        Effect::Expired => Vec::new(),
        other => vec![other.clone()],
    };
    let invoice = s.invoice.clone().filter(|_| !expired).map(|id| InvoiceReport {
        id,
        creates: true,
        first: true,
        billing_reason: Some("subscription_create".into()),
        effects: invoice_effects,
        coffees,
        amount: s.charged().map(|(a, c)| (a, c.to_ascii_lowercase())),
        amount_rank: 1,
        ..InvoiceReport::default()
    });
    monthly(MonthlyStep {
        donation_id: s.donation_id().map(str::to_owned),
        subscription_id: s.subscription.clone(),
        session_id: Some(s.id.clone()),
        customer_id: s.customer.clone(),
        first_invoice_id: s.invoice.clone(),
        checkout: Some(effect),
        invoice,
        recovered: (!expired).then(|| recovered(rules, s, coffees, now)).flatten(),
        ..MonthlyStep::default()
    })
}

/// A row for a subscription checkout of ours whose row is missing: anonymous, as asked.
fn recovered(rules: &Rules, s: &Session, coffees: Option<i64>, now: i64) -> Option<NewDonation> {
    let coffees = u32::try_from(coffees?).ok()?;
    let price = rules.pricing.coffee_price_cents;
    Some(NewDonation {
        id: s.donation_id()?.to_owned(),
        provider: "stripe",
        checkout_session_id: s.id.clone(),
        coffees,
        amount_cents: i64::from(coffees) * price,
        currency: rules.pricing.currency.as_str().to_owned(),
        name: None,
        message: None,
        visibility: crate::domain::Visibility::Anonymous,
        held: false,
        livemode: s.livemode,
        created_at: now,
        interval: Interval::Month,
    })
}

/// `customer.subscription.*`: the subscription's state as the event's object shows it. Stripe's
/// display fields are the newest event's; an end (cancelled, or expired before its first
/// payment) is terminal.
pub(super) fn subscription_step(sub: &Subscription, at: i64) -> Step {
    if !sub.is_ours() {
        return Step::Ignored("subscription not started by Kaffeekasse");
    }
    let status = SubscriptionStatus::from_stripe(sub.status.as_deref());
    let ended = (status.is_final() || sub.ended_at.is_some()).then(|| Ended {
        at: sub.ended_at.or(sub.canceled_at).unwrap_or(at),
        reason: EndReason::from_stripe(
            sub.cancellation_details
                .as_ref()
                .and_then(|d| d.reason.as_deref()),
        ),
    });
    monthly(MonthlyStep {
        donation_id: sub.metadata.get("donation_id").cloned(),
        subscription_id: Some(sub.id.clone()),
        customer_id: sub.customer.clone(),
        subscription: SubscriptionFacts {
            view: Some(SubscriptionView {
                at,
                status,
                cancel_at_period_end: sub.cancel_at_period_end.unwrap_or(false),
                current_period_end: sub.period_end(),
            }),
            ended,
        },
        ..MonthlyStep::default()
    })
}

/// `invoice.paid`, `.payment_failed`, `.voided`, `.marked_uncollectible`: one coffee record's
/// money facts.
pub(super) fn invoice_step(inv: &Invoice, what: InvoiceEvent, at: i64) -> Step {
    let Some(subscription_id) = inv.subscription_id() else {
        return Step::Ignored("invoice without a subscription");
    };
    let donation_id = match inv.subscription_metadata() {
        Some(m) if m.get("kaffeekasse").map(String::as_str) != Some("1") => {
            return Step::Ignored("subscription not started by Kaffeekasse");
        }
        Some(m) => m.get("donation_id").cloned(),
        // This API version copies no metadata: the subscription tells, once it is known.
        None if !inv.copies_metadata() => None,
        // It does, and the subscription has none of ours (a shop's on the same account).
        None => return Step::Ignored("subscription not started by Kaffeekasse"),
    };
    let currency = inv.currency.as_deref().map(str::to_ascii_lowercase);
    let paid = what == InvoiceEvent::Paid;
    let (effects, amount) = match what {
        InvoiceEvent::Paid => {
            let paid = inv.amount_paid.unwrap_or(0);
            let charged = currency
                .as_deref()
                .filter(|_| paid > 0)
                .map(|c| Effect::Charged(ChargeAmount::new(paid, c)));
            let at = inv.paid_at().unwrap_or(at);
            let effects = std::iter::once(Effect::Completed { paid: true, at })
                .chain(charged)
                .collect();
            (effects, Some(paid))
        }
        InvoiceEvent::PaymentFailed => (vec![Effect::AsyncFailed], inv.amount_due),
        InvoiceEvent::Closed => (vec![Effect::Expired], inv.amount_due),
    };
    monthly(MonthlyStep {
        donation_id,
        subscription_id: Some(subscription_id.to_owned()),
        invoice: Some(InvoiceReport {
            id: inv.id.clone(),
            creates: true,
            first: inv.is_first(),
            billing_reason: inv.billing_reason.clone(),
            effects,
            coffees: inv.quantity(),
            amount: amount.zip(currency),
            amount_rank: if paid { 2 } else { 1 },
            period_end: inv.period_end(),
            // Only what paid it: a failed attempt's charge must not stick to the invoice.
            payment_intent_id: inv.payment().0.filter(|_| paid),
            charge_id: inv.payment().1.filter(|_| paid),
            stripe_status: inv.status.clone().map(|s| (at, s)),
        }),
        ..MonthlyStep::default()
    })
}

/// `invoice_payment.paid`: which payment intent and charge paid an invoice, so that a refund or
/// dispute of a renewal finds its coffee record. The invoice must be known (or is waited for).
pub(super) fn invoice_payment_step(p: &InvoicePayment) -> Step {
    let Some(invoice) = p.invoice.clone() else {
        return Step::Ignored("invoice payment without an invoice");
    };
    let payment = p.payment.as_ref();
    monthly(MonthlyStep {
        invoice: Some(InvoiceReport {
            id: invoice,
            payment_intent_id: payment.and_then(|r| r.payment_intent.clone()),
            charge_id: payment.and_then(|r| r.charge.clone()),
            ..InvoiceReport::default()
        }),
        ..MonthlyStep::default()
    })
}

#[cfg(test)]
#[path = "monthly_tests.rs"]
mod tests;
