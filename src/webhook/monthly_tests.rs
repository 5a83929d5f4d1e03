use proptest::prelude::*;
use serde_json::{Value, json};

use crate::domain::{
    CheckoutState, Currency, DonationStatus, Effect, EndReason, Moderation, Pricing, Rules,
    SubscriptionStatus, is_active,
};
use crate::storage::invoices::InvoiceRow;
use crate::storage::subscriptions::MonthlyRow;
use crate::webhook::event::Event;
use crate::webhook::interpret::{Step, interpret};
use crate::webhook::monthly_merge::{self, MonthlyChange};

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("../../tests/fixtures/stripe/objects.json")).unwrap();
    all["resources"][name].clone()
}

fn rules() -> Rules {
    Rules {
        pricing: Pricing {
            coffee_price_cents: 500,
            currency: Currency::parse("eur").unwrap(),
            max_coffees: 10,
        },
        payment_links: vec![],
        moderation: Moderation::Links,
        blocked_words: vec![],
    }
}

fn patched(name: &str, fields: Value) -> Value {
    let mut object = fixture(name);
    for (k, v) in fields.as_object().unwrap() {
        object[k] = v.clone();
    }
    object
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Event<'static> {
    let mut envelope = fixture("event");
    envelope["id"] = json!(id);
    envelope["type"] = json!(kind);
    envelope["created"] = json!(created);
    envelope["data"] = json!({ "object": object });
    Event::parse(envelope.to_string().as_bytes())
        .unwrap()
        .into_owned()
}

const DAY: i64 = 86_400;
const T0: i64 = 1_800_000_000;

fn ours() -> Value {
    json!({"donation_id": "don_m", "kaffeekasse": "1", "coffees": "2"})
}

fn session(payment_status: &str) -> Value {
    patched(
        "checkout.session",
        json!({"id": "cs_m", "mode": "subscription", "status": "complete", "payment_status": payment_status,
               "amount_total": 1000, "currency": "eur", "payment_intent": null, "subscription": "sub_m",
               "invoice": "in_0", "customer": "cus_m", "metadata": ours(), "currency_conversion": null}),
    )
}

fn subscription(status: &str, period_end: i64, extra: Value) -> Value {
    let mut sub = patched(
        "subscription",
        json!({"id": "sub_m", "status": status, "metadata": ours(), "customer": "cus_m",
               "cancel_at_period_end": false, "ended_at": null, "canceled_at": null, "current_period_end": null,
               "cancellation_details": {"reason": null},
               "items": {"data": [{"current_period_end": period_end}]}}),
    );
    for (k, v) in extra.as_object().unwrap() {
        sub[k] = v.clone();
    }
    sub
}

fn invoice(n: i64, status: &str) -> Value {
    let start = T0 + n * 30 * DAY;
    patched(
        "invoice",
        json!({"id": format!("in_{n}"), "status": status, "currency": "eur", "subscription": null,
               "billing_reason": if n == 0 { "subscription_create" } else { "subscription_cycle" },
               "amount_paid": if status == "paid" { 1000 } else { 0 }, "amount_due": 1000,
               "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_m", "metadata": ours()}},
               "status_transitions": {"paid_at": if status == "paid" { json!(start) } else { json!(null) }},
               "lines": {"data": [{"quantity": 2, "period": {"start": start, "end": start + 30 * DAY}}]}}),
    )
}

fn invoice_payment(n: i64) -> Value {
    patched(
        "invoice_payment",
        json!({"id": format!("inpay_{n}"), "invoice": format!("in_{n}"), "status": "paid",
               "payment": {"type": "payment_intent", "payment_intent": format!("pi_{n}")}}),
    )
}

/// The row `/donate` wrote for a monthly coffee of two coffees.
fn row() -> MonthlyRow {
    MonthlyRow {
        id: "don_m".into(),
        checkout_session_id: Some("cs_m".into()),
        status: DonationStatus::Pending,
        checkout_state: CheckoutState::Open,
        coffees: 2,
        amount_cents: 1000,
        refunded_cents: 0,
        expected_amount_cents: 1000,
        monthly_coffees: Some(2),
        currency: "eur".into(),
        paid_at: None,
        erased_at: None,
        created_at: T0,
        subscription_id: None,
        customer_id: None,
        first_invoice_id: None,
        sub_view_at: None,
        sub_status: None,
        cancel_at_period_end: false,
        current_period_end: None,
        ended_at: None,
        ended_reason: None,
        paid_through: None,
        renewal_failed: false,
        checkout_paid_at: None,
    }
}

/// What the storage writes for a change (`subscriptions::update`, `invoices::upsert`), in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    row: MonthlyRow,
    invoices: Vec<InvoiceRow>,
}

impl Model {
    fn write(&mut self, change: MonthlyChange) {
        let l = change.learned;
        let r = &mut self.row;
        r.checkout_session_id = r.checkout_session_id.take().or(l.session_id);
        r.subscription_id = r.subscription_id.take().or(l.subscription_id);
        r.customer_id = r.customer_id.take().or(l.customer_id);
        r.first_invoice_id = r.first_invoice_id.take().or(l.first_invoice_id);
        r.checkout_state = change.checkout.state;
        r.checkout_paid_at = change.checkout.paid_at;
        let view = change.subscription.view.as_ref();
        r.sub_view_at = view.map(|v| v.at);
        r.sub_status = view.map(|v| v.status.as_str().to_owned());
        r.cancel_at_period_end = view.is_some_and(|v| v.cancel_at_period_end);
        r.current_period_end = view.and_then(|v| v.current_period_end);
        r.ended_at = change.subscription.ended.map(|e| e.at);
        r.ended_reason = change.subscription.ended.map(|e| e.reason.as_str().to_owned());
        let s = change.summary;
        (r.status, r.coffees, r.amount_cents, r.refunded_cents) =
            (s.status, s.coffees.max(1), s.amount_cents, s.refunded_cents);
        (r.paid_through, r.paid_at, r.renewal_failed) = (s.paid_through, s.paid_at, s.renewal_failed);
        if let Some(mut invoice) = change.invoice {
            // Stored rows keep their first `created_at`; arrival order must not show in them.
            invoice.created_at = 0;
            self.invoices.retain(|i| i.id != invoice.id);
            self.invoices.push(invoice);
            self.invoices.sort_by(|a, b| a.id.cmp(&b.id));
        }
    }

    /// Applies one event as the ledger would; `false` where it would wait (deferred).
    fn apply(&mut self, e: &Event) -> bool {
        match interpret(e, &rules(), T0) {
            Step::Monthly(step) => {
                if let Some(r) = &step.invoice
                    && !r.creates
                    && !self.invoices.iter().any(|i| i.id == r.id)
                {
                    return false;
                }
                if let Some(change) = monthly_merge::merge(&self.row, &self.invoices, &step, T0) {
                    self.write(change);
                }
                true
            }
            Step::Payment { keys, effects } | Step::Renewal { keys, effects } => {
                let found = self
                    .invoices
                    .iter()
                    .find(|i| i.payment_intent_id.is_some() && i.payment_intent_id == keys.payment_intent_id);
                let Some(id) = found.map(|i| i.id.clone()) else {
                    return false;
                };
                if let Some(change) =
                    monthly_merge::merge_payment(&self.row, &self.invoices, &id, &effects, T0)
                {
                    self.write(change);
                }
                true
            }
            other => panic!("unexpected step {other:?}"),
        }
    }

    /// Delivers `events` in this order, retrying deferred ones after every applied event.
    fn deliver(events: &[Event]) -> Model {
        let mut m = Model {
            row: row(),
            invoices: Vec::new(),
        };
        let mut waiting: Vec<&Event> = Vec::new();
        for e in events {
            if m.apply(e) {
                while let Some(i) = waiting.iter().position(|w| m.apply(w)) {
                    waiting.remove(i);
                }
            } else {
                waiting.push(e);
            }
        }
        m
    }
}

/// How one month after the first goes.
#[derive(Debug, Clone, Copy)]
enum Month {
    Paid,
    FailedThenPaid,
    FailedThenVoid,
}

#[derive(Debug, Clone, Copy)]
enum End {
    Running,
    Scheduled,
    Deleted,
}

fn history(
    months: &[Month],
    refunds: &[(usize, bool)],
    dispute: Option<(usize, &str)>,
    end: End,
) -> Vec<Event<'static>> {
    let mut t = T0;
    let mut at = || {
        t += 60;
        t
    };
    let mut ev = vec![
        event("evt_s", "checkout.session.completed", at(), session("paid")),
        event(
            "evt_c",
            "customer.subscription.created",
            at(),
            subscription("active", T0 + 30 * DAY, json!({})),
        ),
        event("evt_i0", "invoice.paid", at(), invoice(0, "paid")),
        event("evt_p0", "invoice_payment.paid", at(), invoice_payment(0)),
    ];
    let mut paid = vec![0_i64];
    for (k, month) in months.iter().enumerate() {
        let n = k as i64 + 1;
        let period_end = T0 + (n + 1) * 30 * DAY;
        let id = |what: &str| format!("evt_{what}{n}");
        if matches!(month, Month::FailedThenPaid | Month::FailedThenVoid) {
            ev.push(event(
                &id("f"),
                "invoice.payment_failed",
                at(),
                invoice(n, "open"),
            ));
            ev.push(event(
                &id("u"),
                "customer.subscription.updated",
                at(),
                subscription("past_due", period_end, json!({})),
            ));
        }
        if matches!(month, Month::FailedThenVoid) {
            ev.push(event(&id("v"), "invoice.voided", at(), invoice(n, "void")));
            continue;
        }
        ev.push(event(&id("i"), "invoice.paid", at(), invoice(n, "paid")));
        ev.push(event(&id("p"), "invoice_payment.paid", at(), invoice_payment(n)));
        ev.push(event(
            &id("a"),
            "customer.subscription.updated",
            at(),
            subscription("active", period_end, json!({})),
        ));
        paid.push(n);
    }
    for (i, (which, full)) in refunds.iter().enumerate() {
        let n = paid[which % paid.len()];
        let charge = patched(
            "charge",
            json!({"id": format!("ch_{n}"), "amount": 1000, "amount_refunded": if *full { 1000 } else { 300 },
                   "refunded": *full, "currency": "eur", "payment_intent": format!("pi_{n}"), "metadata": {}, "refunds": null}),
        );
        ev.push(event(&format!("evt_r{i}"), "charge.refunded", at(), charge));
    }
    if let Some((which, outcome)) = dispute {
        let n = paid[which % paid.len()];
        for (j, status) in ["needs_response", outcome].iter().enumerate() {
            let d = patched(
                "dispute",
                json!({"id": "dp_1", "status": status, "charge": format!("ch_{n}"),
                       "payment_intent": format!("pi_{n}"), "metadata": {}}),
            );
            ev.push(event(&format!("evt_d{j}"), "charge.dispute.updated", at(), d));
        }
    }
    let last_end = T0 + (months.len() as i64 + 1) * 30 * DAY;
    match end {
        End::Running => {}
        End::Scheduled => ev.push(event(
            "evt_cancel",
            "customer.subscription.updated",
            at(),
            subscription(
                "active",
                last_end,
                json!({"cancel_at_period_end": true, "canceled_at": T0}),
            ),
        )),
        End::Deleted => {
            let now = at();
            ev.push(event(
                "evt_deleted",
                "customer.subscription.deleted",
                now,
                subscription(
                    "canceled",
                    last_end,
                    json!({"ended_at": now, "canceled_at": now, "cancellation_details": {"reason": "payment_failed"}}),
                ),
            ))
        }
    }
    ev
}

#[test]
fn a_checkout_of_ours_in_subscription_mode_reports_its_first_invoice_and_the_ids_to_remember() {
    let Step::Monthly(step) = interpret(
        &event("e", "checkout.session.completed", T0, session("paid")),
        &rules(),
        T0,
    ) else {
        panic!("a monthly step")
    };
    assert_eq!(step.donation_id.as_deref(), Some("don_m"));
    assert_eq!(step.subscription_id.as_deref(), Some("sub_m"));
    assert_eq!(step.customer_id.as_deref(), Some("cus_m"));
    let invoice = step.invoice.expect("the first invoice");
    assert!(invoice.first && invoice.creates);
    assert_eq!(invoice.id, "in_0");
    assert!(
        invoice
            .effects
            .contains(&Effect::Completed { paid: true, at: T0 })
    );
    let recovered = step.recovered.expect("a missing row can be recorded");
    assert_eq!((recovered.coffees, recovered.amount_cents), (2, 1000));
}

#[test]
fn subscriptions_and_invoices_we_did_not_start_are_ignored_and_one_without_metadata_waits() {
    let mut theirs = session("paid");
    theirs["metadata"] = json!({});
    assert!(matches!(
        interpret(
            &event("e", "checkout.session.completed", T0, theirs),
            &rules(),
            T0
        ),
        Step::Ignored(_)
    ));
    let mut sub = subscription("active", T0, json!({}));
    sub["metadata"] = json!({"shop": "1"});
    assert!(matches!(
        interpret(
            &event("e", "customer.subscription.updated", T0, sub),
            &rules(),
            T0
        ),
        Step::Ignored(_)
    ));
    let mut shop_invoice = invoice(1, "paid");
    shop_invoice["parent"]["subscription_details"]["metadata"] = json!({"shop": "1"});
    assert!(matches!(
        interpret(&event("e", "invoice.paid", T0, shop_invoice), &rules(), T0),
        Step::Ignored(_)
    ));
    let mut old_api = invoice(1, "paid");
    old_api["parent"] = json!(null);
    old_api["subscription"] = json!("sub_m");
    let step = interpret(&event("e", "invoice.paid", T0, old_api), &rules(), T0);
    assert!(matches!(&step, Step::Monthly(m) if m.donation_id.is_none()));
    assert_eq!(step.waits_for(), vec!["sub_m".to_owned(), "in_1".to_owned()]);
    let mut manual = invoice(1, "paid");
    manual["parent"] = json!(null);
    assert_eq!(
        interpret(&event("e", "invoice.paid", T0, manual), &rules(), T0),
        Step::Ignored("invoice without a subscription")
    );
}

#[test]
fn renewals_count_on_one_entry_and_a_failed_debit_then_a_retry_ends_paid() {
    let m = Model::deliver(&history(
        &[Month::Paid, Month::FailedThenPaid],
        &[],
        None,
        End::Running,
    ));
    assert_eq!(m.row.status, DonationStatus::Paid);
    assert_eq!((m.row.coffees, m.row.amount_cents), (6, 3000));
    assert_eq!(m.row.paid_through, Some(T0 + 3 * 30 * DAY));
    assert!(!m.row.renewal_failed);
    assert_eq!(m.invoices.len(), 3);
    assert_eq!(m.row.sub_status.as_deref(), Some("active"));
}

#[test]
fn a_failed_then_voided_month_is_flagged_and_counts_nothing() {
    let m = Model::deliver(&history(
        &[Month::Paid, Month::FailedThenVoid],
        &[],
        None,
        End::Running,
    ));
    assert_eq!((m.row.coffees, m.row.amount_cents), (4, 2000));
    assert!(m.row.renewal_failed);
    let voided = m.invoices.iter().find(|i| i.id == "in_2").unwrap();
    assert_eq!(voided.stripe_status.as_deref(), Some("void"));
    assert_eq!(voided.checkout_state, CheckoutState::Failed);
}

#[test]
fn a_refund_of_a_renewal_finds_its_month_through_the_invoice_payment() {
    let m = Model::deliver(&history(
        &[Month::Paid],
        &[(1, true), (0, false)],
        None,
        End::Running,
    ));
    assert_eq!(
        (m.row.coffees, m.row.amount_cents, m.row.refunded_cents),
        (2, 1000, 300)
    );
    let refunded = m.invoices.iter().find(|i| i.id == "in_1").unwrap();
    assert_eq!(refunded.status, DonationStatus::Refunded);
}

#[test]
fn a_deleted_subscription_stays_on_the_wall_without_being_active() {
    let m = Model::deliver(&history(&[Month::Paid], &[], None, End::Deleted));
    assert_eq!(m.row.status, DonationStatus::Paid);
    assert_eq!(
        m.row.ended_reason.as_deref(),
        Some(EndReason::PaymentFailed.as_str())
    );
    assert!(!is_active(
        m.row.ended_at.is_some(),
        m.row.paid_through,
        14 * DAY,
        T0
    ));
    assert_eq!(
        m.row.sub_status.as_deref(),
        Some(SubscriptionStatus::Canceled.as_str())
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any subscription history, shuffled and with duplicates, ends in the same rows, coffees,
    /// money, paid-through date and active flag as delivery in order.
    #[test]
    fn shuffled_and_repeated_subscription_histories_converge(
        months in prop::collection::vec(prop_oneof![Just(Month::Paid), Just(Month::FailedThenPaid), Just(Month::FailedThenVoid)], 0..4),
        refunds in prop::collection::vec((0usize..5, any::<bool>()), 0..3),
        dispute in prop::option::of((0usize..5, prop_oneof![Just("won"), Just("lost")])),
        end in prop_oneof![Just(End::Running), Just(End::Scheduled), Just(End::Deleted)],
        order in any::<u64>(),
        repeats in prop::collection::vec(0usize..64, 0..6),
    ) {
        let events = history(&months, &refunds, dispute, end);
        let in_order = Model::deliver(&events);
        let mut shuffled: Vec<Event> = events.clone();
        shuffled.extend(repeats.iter().map(|i| events[i % events.len()].clone()));
        let mut rng = order;
        for i in (1..shuffled.len()).rev() {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            shuffled.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let any_order = Model::deliver(&shuffled);
        prop_assert_eq!(&any_order, &in_order);
        let now = T0 + 40 * DAY;
        prop_assert_eq!(
            is_active(any_order.row.ended_at.is_some(), any_order.row.paid_through, 14 * DAY, now),
            is_active(in_order.row.ended_at.is_some(), in_order.row.paid_through, 14 * DAY, now)
        );
    }
}
