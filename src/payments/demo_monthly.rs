//! The demo's monthly coffees: the events Stripe would send for a subscription (its checkout, the
//! subscription, each invoice and its payment, a failed debit, a cancellation), built from
//! Stripe's own fixtures, signed as Stripe signs them and posted to our own webhook. So renewals,
//! dunning and cancellation can be tried in a browser with no Stripe account.

use serde_json::{Value, json};

use super::CancelWhen;
use crate::storage::donations::DonationRow;
use crate::storage::subscriptions::MonthlyRow;

/// The API version the demo claims to speak; any value works, as parsing is lenient.
pub const DEMO_API_VERSION: &str = "2025-09-30.clover";

const SUBSCRIPTION_FIXTURE: &str = include_str!("subscription.json");
const INVOICE_FIXTURE: &str = include_str!("invoice.json");
const INVOICE_PAYMENT_FIXTURE: &str = include_str!("invoice_payment.json");

/// Stripe's fixture with our fields on top.
fn patched(fixture: &str, patch: Value) -> Value {
    let mut object: Value = serde_json::from_str(fixture).unwrap_or_else(|_| json!({}));
    if let (Some(target), Value::Object(fields)) = (object.as_object_mut(), patch) {
        target.extend(fields);
    }
    object
}

/// An event envelope around `object`, as Stripe sends it.
pub fn envelope(kind: &str, object: Value, now: i64) -> Value {
    json!({
        "id": format!("evt_demo_{}", crate::random::token()),
        "object": "event",
        "api_version": DEMO_API_VERSION,
        "created": now,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object },
    })
}

/// The same moment one calendar month later (the 31st becomes the month's last day).
pub fn add_month(ts: i64) -> i64 {
    let Ok(at) = time::OffsetDateTime::from_unix_timestamp(ts) else {
        return ts + 30 * 86_400;
    };
    let (year, month) = match at.month() {
        time::Month::December => (at.year() + 1, time::Month::January),
        m => (at.year(), m.next()),
    };
    let day = at.day().min(month.length(year));
    time::Date::from_calendar_date(year, month, day)
        .map(|d| at.replace_date(d).unix_timestamp())
        .unwrap_or(ts + 30 * 86_400)
}

/// What the demo's events of one subscription share.
pub struct DemoSubscription<'a> {
    pub donation_id: &'a str,
    pub subscription_id: &'a str,
    pub customer_id: &'a str,
    pub coffees: i64,
    /// One month's amount.
    pub amount_cents: i64,
    pub currency: &'a str,
}

impl<'a> DemoSubscription<'a> {
    pub fn of(row: &'a MonthlyRow) -> Option<DemoSubscription<'a>> {
        Some(DemoSubscription {
            donation_id: &row.id,
            subscription_id: row.subscription_id.as_deref()?,
            customer_id: row.customer_id.as_deref().unwrap_or("cus_demo"),
            coffees: row.monthly_coffees.unwrap_or(1),
            amount_cents: row.expected_amount_cents,
            currency: &row.currency,
        })
    }

    fn metadata(&self) -> Value {
        json!({ "donation_id": self.donation_id, "kaffeekasse": "1", "coffees": self.coffees.to_string() })
    }

    /// The invoice billing the month from `start`: one id per period, so a retry after a failed
    /// debit pays the same invoice, as Stripe's retries do.
    pub fn invoice_id(&self, start: i64) -> String {
        format!(
            "in_demo_{}_{start}",
            self.subscription_id.trim_start_matches("sub_demo_")
        )
    }

    /// The subscription object in `status`, its current period ending at `period_end`.
    fn subscription(&self, status: &str, period_end: i64, extra: Value) -> Value {
        let mut sub = patched(
            SUBSCRIPTION_FIXTURE,
            json!({
                "id": self.subscription_id, "customer": self.customer_id, "status": status,
                "metadata": self.metadata(), "currency": self.currency, "livemode": false,
                "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null, "ended_at": null,
                "cancellation_details": { "comment": null, "feedback": null, "reason": null },
                "pending_update": null, "transfer_data": null, "schedule": null, "latest_invoice": null,
                "items": { "object": "list", "has_more": false, "data": [{
                    "object": "subscription_item", "id": format!("si_{}", self.subscription_id),
                    "current_period_end": period_end, "quantity": self.coffees,
                    "subscription": self.subscription_id, "metadata": {},
                }]},
            }),
        );
        if let (Some(target), Value::Object(fields)) = (sub.as_object_mut(), extra) {
            target.extend(fields);
        }
        sub
    }

    /// The invoice for the month `[start, end)`, with Stripe's 2025 shape: the subscription and
    /// its metadata under `parent.subscription_details`.
    fn invoice(&self, start: i64, end: i64, status: &str, reason: &str, paid_at: Option<i64>) -> Value {
        let paid = if status == "paid" { self.amount_cents } else { 0 };
        patched(
            INVOICE_FIXTURE,
            json!({
                "id": self.invoice_id(start), "customer": self.customer_id, "status": status,
                "billing_reason": reason, "currency": self.currency, "livemode": false,
                "amount_due": self.amount_cents, "amount_paid": paid,
                "amount_remaining": self.amount_cents - paid, "subtotal": self.amount_cents,
                "total": self.amount_cents, "subscription": null, "customer_email": null,
                "from_invoice": null, "last_finalization_error": null, "amount_overpaid": 0,
                "period_start": start, "period_end": start,
                "parent": { "type": "subscription_details", "quote_details": null, "subscription_details": {
                    "subscription": self.subscription_id, "metadata": self.metadata() } },
                "status_transitions": { "paid_at": paid_at, "finalized_at": start,
                    "marked_uncollectible_at": null, "voided_at": null },
                "lines": { "object": "list", "has_more": false, "data": [{
                    "object": "line_item", "id": format!("il_{}", self.invoice_id(start)),
                    "amount": self.amount_cents, "currency": self.currency, "quantity": self.coffees,
                    "period": { "start": start, "end": end }, "metadata": {},
                }]},
            }),
        )
    }

    fn invoice_payment(&self, start: i64, now: i64) -> Value {
        patched(
            INVOICE_PAYMENT_FIXTURE,
            json!({
                "id": format!("inpay_{}", self.invoice_id(start)), "invoice": self.invoice_id(start),
                "amount_paid": self.amount_cents, "amount_requested": self.amount_cents,
                "currency": self.currency, "livemode": false, "status": "paid", "created": now,
                "payment": { "type": "payment_intent",
                             "payment_intent": format!("pi_demo_{}", crate::random::token()) },
                "status_transitions": { "paid_at": now, "canceled_at": null },
            }),
        )
    }

    /// A month paid: the invoice, its payment, and the subscription's period moved on.
    pub fn paid_month(&self, start: i64, reason: &str, now: i64) -> Vec<Value> {
        let end = add_month(start);
        vec![
            envelope(
                "invoice.paid",
                self.invoice(start, end, "paid", reason, Some(now)),
                now,
            ),
            envelope("invoice_payment.paid", self.invoice_payment(start, now), now),
            envelope(
                if reason == "subscription_create" {
                    "customer.subscription.created"
                } else {
                    "customer.subscription.updated"
                },
                self.subscription("active", end, json!({})),
                now,
            ),
        ]
    }

    /// The debit for the month from `start` failed: Stripe will retry, the subscription is past due.
    pub fn failed_month(&self, start: i64, now: i64) -> Vec<Value> {
        let end = add_month(start);
        vec![
            envelope(
                "invoice.payment_failed",
                self.invoice(start, end, "open", "subscription_cycle", None),
                now,
            ),
            envelope(
                "customer.subscription.updated",
                self.subscription("past_due", end, json!({})),
                now,
            ),
        ]
    }

    /// The reader cancelled: at once (deleted), or at the end of the period paid through `end`.
    pub fn cancelled(&self, when: CancelWhen, period_end: i64, now: i64) -> Vec<Value> {
        let requested = json!({ "comment": null, "feedback": null, "reason": "cancellation_requested" });
        match when {
            CancelWhen::Now => vec![envelope(
                "customer.subscription.deleted",
                self.subscription(
                    "canceled",
                    period_end,
                    json!({ "canceled_at": now, "ended_at": now, "cancellation_details": requested }),
                ),
                now,
            )],
            CancelWhen::PeriodEnd => vec![envelope(
                "customer.subscription.updated",
                self.subscription(
                    "active",
                    period_end,
                    json!({ "cancel_at_period_end": true, "cancel_at": period_end, "canceled_at": now,
                            "cancellation_details": requested }),
                ),
                now,
            )],
        }
    }
}

/// A demo checkout in `subscription` mode completed: the session (with the reader's e-mail
/// address, as Stripe collects it), then the first month. `session` is the one-time session
/// object, turned into a subscription's.
pub fn first_month(mut session: Value, donation: &DonationRow, email: Option<&str>, now: i64) -> Vec<Value> {
    let token = crate::random::token();
    let (subscription_id, customer_id) = (format!("sub_demo_{token}"), format!("cus_demo_{token}"));
    let sub = DemoSubscription {
        donation_id: &donation.id,
        subscription_id: &subscription_id,
        customer_id: &customer_id,
        coffees: donation.coffees,
        amount_cents: donation.expected_amount_cents,
        currency: &donation.currency,
    };
    let patch = json!({
        "mode": "subscription", "submit_type": "subscribe", "payment_intent": null,
        "subscription": subscription_id, "invoice": sub.invoice_id(now), "customer": customer_id,
        "customer_details": email.map(|e| json!({ "email": e, "name": null, "phone": null, "address": null,
            "tax_exempt": "none", "tax_ids": [] })),
    });
    if let (Some(target), Value::Object(fields)) = (session.as_object_mut(), patch) {
        target.extend(fields);
    }
    let mut events = vec![envelope("checkout.session.completed", session, now)];
    events.extend(sub.paid_month(now, "subscription_create", now));
    events
}
