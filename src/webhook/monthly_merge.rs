//! What a monthly-coffee event changes: a pure function of the stored row, its invoices and the
//! event's step, so that `monthly_apply.rs` only reads and writes.

use crate::domain::{
    Checkout, CheckoutState, DonationStatus, Effect, Facts, NoticeKind, Refunds, SubscriptionFacts, Summary,
    notice_for, summarize,
};
use crate::storage::invoices::InvoiceRow;
use crate::storage::subscriptions::{Learned, MonthlyRow};

use super::step::{InvoiceReport, MonthlyStep};

/// The new state of a monthly coffee after one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyChange {
    pub learned: Learned,
    pub checkout: Checkout,
    pub subscription: SubscriptionFacts,
    /// The invoice the event concerned, as merged, if it changed.
    pub invoice: Option<InvoiceRow>,
    pub summary: Summary,
    /// What the blogger hears about.
    pub notice: Option<NoticeKind>,
}

impl MonthlyChange {
    /// Whether the donation or its invoice learned an id a deferred event may wait for.
    pub fn learned_an_id(&self, before: Option<&InvoiceRow>) -> bool {
        let l = &self.learned;
        let invoice_ids = |i: &InvoiceRow| (i.payment_intent_id.clone(), i.charge_id.clone());
        l.subscription_id.is_some()
            || l.session_id.is_some()
            || self
                .invoice
                .as_ref()
                .is_some_and(|i| before.is_none_or(|b| invoice_ids(b) != invoice_ids(i)))
    }
}

/// Merges `step` into `row` (and the invoice it reports, among `invoices`); `None` when nothing
/// changes.
pub fn merge(
    row: &MonthlyRow,
    invoices: &[InvoiceRow],
    step: &MonthlyStep,
    now: i64,
) -> Option<MonthlyChange> {
    let new = |known: &Option<String>, given: Option<&String>| match (known, given) {
        (None, Some(id)) => Some(id.clone()),
        _ => None,
    };
    let learned = Learned {
        session_id: new(&row.checkout_session_id, step.session_id.as_ref()),
        subscription_id: new(&row.subscription_id, step.subscription_id.as_ref()),
        customer_id: new(&row.customer_id, step.customer_id.as_ref()),
        first_invoice_id: new(&row.first_invoice_id, step.first_invoice_id.as_ref()),
    };
    let checkout = match &step.checkout {
        Some(effect) => {
            let facts = checkout_facts(row).apply(effect);
            Checkout {
                state: facts.checkout,
                paid_at: facts.paid_at,
            }
        }
        None => row.checkout(),
    };
    let subscription = row.subscription().merge(&step.subscription);
    let first_invoice = row.first_invoice_id.as_ref().or(step.first_invoice_id.as_ref());
    let before = step
        .invoice
        .as_ref()
        .and_then(|r| invoices.iter().find(|i| i.id == r.id));
    let invoice = step
        .invoice
        .as_ref()
        .and_then(|r| merge_invoice(row, before, r, first_invoice, now))
        .filter(|merged| Some(merged) != before);
    let merged: Vec<InvoiceRow> = match &invoice {
        Some(changed) => invoices
            .iter()
            .filter(|i| i.id != changed.id)
            .chain(std::iter::once(changed))
            .cloned()
            .collect(),
        None => invoices.to_vec(),
    };
    let summaries: Vec<_> = merged.iter().map(InvoiceRow::summary).collect();
    let summary = summarize(row.asked(), checkout, &summaries);
    let unchanged = learned == Learned::default()
        && checkout == row.checkout()
        && subscription == row.subscription()
        && invoice.is_none()
        && summary == stored_summary(row);
    if unchanged {
        return None;
    }
    let notice = notice(
        row,
        &summary,
        before,
        invoice.as_ref(),
        &row.subscription(),
        &subscription,
    );
    Some(MonthlyChange {
        learned,
        checkout,
        subscription,
        invoice,
        summary,
        notice,
    })
}

/// A refund or dispute of an invoice's charge: the invoice's money facts move, and the entry's
/// sums with them.
pub fn merge_payment(
    row: &MonthlyRow,
    invoices: &[InvoiceRow],
    invoice_id: &str,
    effects: &[Effect],
    now: i64,
) -> Option<MonthlyChange> {
    let report = InvoiceReport {
        id: invoice_id.to_owned(),
        effects: effects.to_vec(),
        ..InvoiceReport::default()
    };
    let step = MonthlyStep {
        invoice: Some(report),
        ..MonthlyStep::default()
    };
    merge(row, invoices, &step, now)
}

/// The checkout's own facts: only its state and when it was paid matter here.
fn checkout_facts(row: &MonthlyRow) -> Facts {
    Facts {
        checkout: row.checkout_state,
        refunds: Refunds::default(),
        disputes: Default::default(),
        charge: None,
        paid_at: row.checkout_paid_at,
    }
}

fn stored_summary(row: &MonthlyRow) -> Summary {
    Summary {
        status: row.status,
        coffees: row.coffees,
        amount_cents: row.amount_cents,
        refunded_cents: row.refunded_cents,
        paid_through: row.paid_through,
        paid_at: row.paid_at,
        renewal_failed: row.renewal_failed,
    }
}

/// One invoice with a report merged in: ids filled in where unknown, amounts and periods by
/// maximum (reports of one invoice agree), the display status by the newest report, the money
/// facts as a donation's. `None` if the report may not create an invoice that does not exist.
fn merge_invoice(
    row: &MonthlyRow,
    existing: Option<&InvoiceRow>,
    report: &InvoiceReport,
    first_invoice: Option<&String>,
    now: i64,
) -> Option<InvoiceRow> {
    let asked = row.asked();
    let mut inv = match existing {
        Some(known) => known.clone(),
        None if report.creates => InvoiceRow {
            id: report.id.clone(),
            donation_id: row.id.clone(),
            is_first: false,
            billing_reason: None,
            coffees: asked.coffees,
            amount_cents: asked.amount_cents,
            amount_rank: 0,
            currency: row.currency.clone(),
            period_end: None,
            payment_intent_id: None,
            charge_id: None,
            status: DonationStatus::Pending,
            checkout_state: CheckoutState::Open,
            refunded_cents: 0,
            charge_refunded_cents: 0,
            refunds: Default::default(),
            disputes: Default::default(),
            charge_amount: None,
            charge_currency: None,
            stripe_status: None,
            stripe_status_at: None,
            paid_at: None,
            created_at: now,
        },
        None => return None,
    };
    inv.is_first |= report.first || first_invoice == Some(&report.id);
    inv.billing_reason = inv.billing_reason.take().or(report.billing_reason.clone());
    // The most believable report of what the invoice charged wins: the paid invoice over an
    // unpaid one or the checkout's total, either over what was asked. Between reports of one
    // rank the maximum, so the order of arrival never matters.
    if let Some((amount, currency)) = &report.amount
        && *currency == inv.currency
    {
        let coffees = report.coffees.filter(|c| *c >= 1).unwrap_or(asked.coffees);
        let reported = (report.amount_rank, *amount, coffees);
        if reported > (inv.amount_rank, inv.amount_cents, inv.coffees) {
            (inv.amount_rank, inv.amount_cents, inv.coffees) = reported;
        }
    }
    inv.period_end = inv.period_end.max(report.period_end);
    inv.payment_intent_id = inv.payment_intent_id.take().or(report.payment_intent_id.clone());
    inv.charge_id = inv.charge_id.take().or(report.charge_id.clone());
    let known = inv.stripe_status_at.zip(inv.stripe_status.clone());
    if let Some((at, word)) = known.max(report.stripe_status.clone()) {
        inv.stripe_status_at = Some(at);
        inv.stripe_status = Some(word);
    }
    let facts = report.effects.iter().fold(inv.facts(), |f, e| f.apply(e));
    inv.set_facts(&facts);
    Some(inv)
}

/// The one notice an event calls for, most telling first: a new monthly supporter, a renewal,
/// a failed renewal, a cancellation; else what a refund or dispute of the invoice means.
fn notice(
    row: &MonthlyRow,
    after: &Summary,
    before_invoice: Option<&InvoiceRow>,
    invoice: Option<&InvoiceRow>,
    sub_before: &SubscriptionFacts,
    sub_after: &SubscriptionFacts,
) -> Option<NoticeKind> {
    let was_paid = row.status == DonationStatus::Paid;
    if !was_paid && after.status == DonationStatus::Paid && row.paid_at.is_none() {
        return Some(NoticeKind::Monthly);
    }
    let state_before = before_invoice.map(|i| i.checkout_state);
    if let Some(inv) = invoice {
        let newly = |s: CheckoutState| inv.checkout_state == s && state_before != Some(s);
        if (was_paid || row.paid_at.is_some()) && newly(CheckoutState::Paid) {
            return Some(NoticeKind::Renewal);
        }
        // A renewal: a month was paid before this one failed.
        if was_paid && row.paid_through.is_some() && newly(CheckoutState::Failed) {
            return Some(NoticeKind::RenewalFailed);
        }
    }
    let ends = |s: &SubscriptionFacts| s.ended.is_some() || s.ends_at_period_end();
    // A monthly coffee that never paid a month is no news when it ends.
    if row.paid_at.is_some() && ends(sub_after) && !ends(sub_before) {
        let voluntary = sub_after
            .ended
            .is_none_or(|e| e.reason == crate::domain::EndReason::Cancelled);
        return Some(if voluntary {
            NoticeKind::Cancelled
        } else {
            NoticeKind::Ended
        });
    }
    let inv = invoice?;
    let standing = |i: &InvoiceRow| (i.status, i.refunded_cents);
    notice_for(before_invoice.map(standing), standing(inv)).filter(|k| *k != NoticeKind::Paid)
}
