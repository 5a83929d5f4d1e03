use serde_json::{Value, json};

use super::*;
use crate::domain::{Currency, Moderation, Pricing, RefundState};

fn fixture(name: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("../../tests/fixtures/stripe/objects.json")).unwrap();
    all["resources"][name].clone()
}

fn rules(links: &[&str]) -> Rules {
    Rules {
        pricing: Pricing {
            coffee_price_cents: 500,
            currency: Currency::parse("eur").unwrap(),
            max_coffees: 10,
        },
        payment_links: links.iter().map(|l| l.to_string()).collect(),
        moderation: Moderation::Links,
        blocked_words: vec![],
    }
}

fn event(kind: &str, object: Value) -> Event<'static> {
    let mut envelope = fixture("event");
    envelope["id"] = json!("evt_1");
    envelope["type"] = json!(kind);
    envelope["created"] = json!(1_700_000_000);
    envelope["data"] = json!({ "object": object });
    Event::parse(envelope.to_string().as_bytes())
        .unwrap()
        .into_owned()
}

fn patched(name: &str, fields: Value) -> Value {
    let mut object = fixture(name);
    for (k, v) in fields.as_object().unwrap() {
        object[k] = v.clone();
    }
    object
}

fn our_session(status: &str, payment_status: &str) -> Value {
    patched(
        "checkout.session",
        json!({"id": "cs_1", "status": status, "payment_status": payment_status, "amount_total": 1000,
               "currency": "EUR", "payment_intent": "pi_1", "currency_conversion": null,
               "metadata": {"donation_id": "don_1", "kaffeekasse": "1", "coffees": "2"}}),
    )
}

fn session_step(step: Step) -> SessionStep {
    match step {
        Step::Session(s) => *s,
        other => panic!("expected a session step, got {other:?}"),
    }
}

#[test]
fn our_paid_session_is_found_by_our_id_or_its_own_and_learns_its_payment_intent() {
    let step = session_step(interpret(
        &event("checkout.session.completed", our_session("complete", "paid")),
        &rules(&[]),
        42,
    ));
    assert_eq!(
        step.effect,
        Effect::Completed {
            paid: true,
            at: 1_700_000_000
        }
    );
    assert_eq!(step.lookup.donation_id.as_deref(), Some("don_1"));
    assert_eq!(step.lookup.session_id.as_deref(), Some("cs_1"));
    assert_eq!(
        step.lookup.payment_intent_id, None,
        "never looked up by payment intent"
    );
    assert_eq!(step.keys.payment_intent_id.as_deref(), Some("pi_1"));
    assert_eq!(step.settled, Some((1000, "eur".to_owned())));
    let recovered = step.recovered.unwrap();
    assert_eq!(
        (recovered.id.as_str(), recovered.coffees, recovered.provider),
        ("don_1", 2, "stripe")
    );
    assert_eq!((recovered.amount_cents, recovered.created_at), (1000, 42));
    assert_eq!(recovered.visibility, Visibility::Anonymous);
}

#[test]
fn an_adaptive_pricing_session_settles_in_euros_and_remembers_the_readers_charge() {
    let session = patched(
        "checkout.session",
        json!({"id": "cs_1", "status": "complete", "payment_status": "paid", "amount_total": 860,
               "currency": "GBP", "payment_link": "plink_1",
               "currency_conversion": {"amount_total": 1000, "source_currency": "eur"},
               "metadata": {}}),
    );
    let step = session_step(interpret(
        &event("checkout.session.completed", session.clone()),
        &rules(&["plink_1"]),
        0,
    ));
    assert_eq!(step.settled, Some((1000, "eur".to_owned())));
    assert_eq!(step.charged, Some(ChargeAmount::new(860, "gbp")));
    assert_eq!(
        step.effects(),
        vec![
            step.effect.clone(),
            Effect::Charged(ChargeAmount::new(860, "gbp"))
        ]
    );
    let expired = session_step(interpret(
        &event("checkout.session.expired", session),
        &rules(&["plink_1"]),
        0,
    ));
    assert_eq!(
        (expired.effects(), expired.charged),
        (vec![Effect::Expired], None)
    );
}

#[test]
fn an_unpaid_completion_and_the_async_outcomes_give_their_effects() {
    let r = rules(&[]);
    let unpaid = session_step(interpret(
        &event("checkout.session.completed", our_session("complete", "unpaid")),
        &r,
        0,
    ));
    assert_eq!(
        unpaid.effect,
        Effect::Completed {
            paid: false,
            at: 1_700_000_000
        }
    );
    let ok = interpret(
        &event(
            "checkout.session.async_payment_succeeded",
            our_session("complete", "paid"),
        ),
        &r,
        0,
    );
    assert_eq!(
        session_step(ok).effect,
        Effect::AsyncSucceeded { at: 1_700_000_000 }
    );
    let failed = interpret(
        &event(
            "checkout.session.async_payment_failed",
            our_session("complete", "unpaid"),
        ),
        &r,
        0,
    );
    assert_eq!(session_step(failed).effect, Effect::AsyncFailed);
}

#[test]
fn an_expired_session_has_no_amount_and_creates_no_donation() {
    let step = session_step(interpret(
        &event("checkout.session.expired", our_session("expired", "unpaid")),
        &rules(&[]),
        0,
    ));
    assert_eq!(step.effect, Effect::Expired);
    assert_eq!(step.settled, None);
    assert_eq!(step.recovered, None);
}

#[test]
fn sessions_of_others_are_ignored_unless_from_a_listed_payment_link() {
    let foreign = patched(
        "checkout.session",
        json!({"id": "cs_x", "metadata": {}, "payment_link": "plink_other", "payment_status": "paid"}),
    );
    let event = event("checkout.session.completed", foreign);
    assert_eq!(
        interpret(&event, &rules(&["plink_mine"]), 0),
        Step::Ignored("session not created by Kaffeekasse")
    );
    assert!(matches!(
        interpret(&event, &rules(&["plink_other"]), 0),
        Step::Session(_)
    ));
}

#[test]
fn a_payment_link_donation_takes_its_name_and_consent_from_custom_fields_and_is_moderated() {
    let session = patched(
        "checkout.session",
        json!({"id": "cs_link", "metadata": {}, "payment_link": "plink_1", "payment_status": "paid",
               "status": "complete", "amount_total": 1299, "currency": "eur", "currency_conversion": null,
               "custom_fields": [
                   {"key": "name", "type": "text", "text": {"value": "Anna von spam.example"}},
                   {"key": "public", "type": "dropdown", "dropdown": {"value": "Ja"}}]}),
    );
    let step = session_step(interpret(
        &event("checkout.session.completed", session),
        &rules(&["plink_1"]),
        7,
    ));
    assert_eq!(step.lookup.donation_id, None, "not our session: no donation id");
    let d = step.recovered.unwrap();
    assert_eq!(d.provider, "payment_link");
    assert_eq!(d.coffees, 2, "12.99 buys two coffees at 5.00");
    assert_eq!(d.name.as_deref(), Some("Anna von spam.example"));
    assert_eq!(d.visibility, Visibility::Public);
    assert!(d.held, "a link in a public name waits for review");
    let again = session_step(interpret(
        &event(
            "checkout.session.completed",
            patched(
                "checkout.session",
                json!({"id": "cs_link", "metadata": {}, "payment_link": "plink_1"}),
            ),
        ),
        &rules(&["plink_1"]),
        8,
    ));
    assert_eq!(
        again.recovered.unwrap().id,
        d.id,
        "the same session always yields the same donation id"
    );
}

#[test]
fn a_tiny_payment_link_amount_is_still_one_coffee() {
    assert_eq!(coffees_for(100, 500), 1);
    assert_eq!(coffees_for(0, 500), 1);
    assert_eq!(coffees_for(1500, 500), 3);
    assert_eq!(coffees_for(i64::MAX, 1), u32::MAX);
}

/// A monthly coffee's renewal is paid through an invoice, and Stripe copies no metadata onto its
/// charge: a charge without our id is looked up by its payment (and waits if nothing claims it).
#[test]
fn a_refund_without_our_id_is_looked_up_by_its_payment_intent_and_charge() {
    let charge = patched(
        "charge",
        json!({"id": "ch_1", "amount": 1000, "amount_refunded": 300, "refunded": false,
               "currency": "EUR", "payment_intent": "pi_1", "metadata": {}}),
    );
    let event = event("charge.refunded", charge);
    let Step::Renewal {
        keys: renewal_keys,
        effects: renewal_effects,
    } = interpret(&event, &rules(&[]), 0)
    else {
        panic!("without Payment Links only a monthly coffee's renewal can be ours")
    };
    let Step::Payment { keys, effects } = interpret(&event, &rules(&["plink_1"]), 0) else {
        panic!("a payment step")
    };
    assert_eq!(
        effects,
        vec![Effect::Refunded {
            amount_refunded: 300,
            charge: Some(ChargeAmount::new(1000, "eur")),
        }]
    );
    assert_eq!(keys.charge_id.as_deref(), Some("ch_1"));
    assert_eq!(keys.payment_intent_id.as_deref(), Some("pi_1"));
    assert_eq!((renewal_keys, renewal_effects), (keys.clone(), effects.clone()));
}

#[test]
fn a_full_refund_counts_the_whole_charge_even_if_the_refunded_amount_is_short() {
    let charge = |refunded: bool, amount_refunded: i64| -> Charge {
        serde_json::from_value(
            json!({"id": "ch", "amount": 1000, "amount_refunded": amount_refunded,
            "refunded": refunded, "metadata": {"donation_id": "d"}}),
        )
        .unwrap()
    };
    assert_eq!(refunded_amount(&charge(true, 0)), 1000);
    assert_eq!(refunded_amount(&charge(true, 1000)), 1000);
    assert_eq!(refunded_amount(&charge(false, 400)), 400);
    let Step::Payment { keys, .. } = interpret(
        &event(
            "charge.refunded",
            serde_json::to_value(json!({"id": "ch", "amount": 1, "metadata": {"donation_id": "d"}})).unwrap(),
        ),
        &rules(&[]),
        0,
    ) else {
        panic!("ours by id")
    };
    assert_eq!(keys.donation_id.as_deref(), Some("d"));
}

#[test]
fn a_dispute_s_state_comes_from_its_status_whatever_the_event() {
    let dispute = |status: &str| {
        patched(
            "dispute",
            json!({"id": "dp_1", "charge": "ch_1", "payment_intent": "pi_1", "status": status}),
        )
    };
    let effect = |kind: &str, status: &str| match interpret(&event(kind, dispute(status)), &rules(&[]), 0) {
        Step::Payment { effects, keys } => {
            assert_eq!(keys.charge_id.as_deref(), Some("ch_1"));
            assert_eq!(effects.len(), 1);
            effects[0].clone()
        }
        other => panic!("{other:?}"),
    };
    use crate::domain::DisputeState::{Lost, Open, Won};
    for status in [
        "warning_needs_response",
        "warning_under_review",
        "needs_response",
        "under_review",
    ] {
        assert_eq!(
            effect("charge.dispute.updated", status),
            Effect::Dispute {
                id: "dp_1".into(),
                state: Open
            },
            "{status}"
        );
    }
    for status in ["won", "warning_closed", "prevented"] {
        assert_eq!(
            effect("charge.dispute.closed", status),
            Effect::Dispute {
                id: "dp_1".into(),
                state: Won
            },
            "{status}"
        );
    }
    assert_eq!(
        effect("charge.dispute.closed", "lost"),
        Effect::Dispute {
            id: "dp_1".into(),
            state: Lost
        }
    );
    assert_eq!(
        effect("charge.dispute.created", "lost"),
        Effect::Dispute {
            id: "dp_1".into(),
            state: Lost
        },
        "the status decides, not the event's name"
    );
}

#[test]
fn a_failed_refund_and_a_charge_s_refund_list_name_each_refund() {
    let refund = patched(
        "refund",
        json!({"id": "re_1", "amount": 500, "currency": "GBP", "status": "failed", "charge": "ch_1",
               "payment_intent": "pi_1"}),
    );
    let Step::Payment { keys, effects } = interpret(&event("charge.refund.updated", refund), &rules(&[]), 0)
    else {
        panic!("a payment step")
    };
    assert_eq!(keys.charge_id.as_deref(), Some("ch_1"));
    assert_eq!(
        effects,
        vec![Effect::Refund {
            id: "re_1".into(),
            amount: 500,
            currency: Some("gbp".into()),
            state: RefundState::Failed
        }]
    );
    let charge = patched(
        "charge",
        json!({"id": "ch_1", "amount": 1000, "amount_refunded": 700, "refunded": false,
               "metadata": {"donation_id": "d"},
               "refunds": {"object": "list", "data": [
                   {"id": "re_a", "amount": 200, "status": "succeeded"},
                   {"id": "re_b", "amount": 500, "status": "pending"}]}}),
    );
    let Step::Payment { effects, .. } = interpret(&event("charge.refunded", charge), &rules(&[]), 0) else {
        panic!("a payment step")
    };
    assert_eq!(
        effects.len(),
        3,
        "the cumulative amount and each refund: {effects:?}"
    );
}

#[test]
fn subscriptions_and_sessions_that_charge_nothing_are_not_coffees() {
    let r = rules(&["plink_1"]);
    let link = |fields: Value| {
        let mut s = patched(
            "checkout.session",
            json!({"id": "cs_l", "metadata": {}, "payment_link": "plink_1", "status": "complete",
                   "payment_status": "paid", "amount_total": 500}),
        );
        for (k, v) in fields.as_object().unwrap() {
            s[k] = v.clone();
        }
        event("checkout.session.completed", s)
    };
    assert_eq!(
        interpret(&link(json!({"mode": "subscription"})), &r, 0),
        Step::Ignored("a subscription checkout not started by Kaffeekasse"),
        "a Payment Link's subscription would count once and never again"
    );
    assert_eq!(
        interpret(
            &link(json!({"payment_status": "no_payment_required", "amount_total": 0})),
            &r,
            0
        ),
        Step::Ignored("nothing was paid: not a coffee")
    );
    assert_eq!(
        interpret(&link(json!({"amount_total": 0})), &r, 0),
        Step::Ignored("nothing was paid: not a coffee")
    );
    assert!(matches!(
        interpret(&link(json!({"mode": "payment"})), &r, 0),
        Step::Session(_)
    ));
}

#[test]
fn unreadable_objects_fail_and_unknown_types_are_ignored() {
    let broken = event("charge.refunded", json!({"amount": "lots"}));
    assert!(matches!(interpret(&broken, &rules(&[]), 0), Step::Failed(m) if m.contains("unreadable")));
    let other = event("invoice.created", json!({"id": "in_1"}));
    assert_eq!(
        interpret(&other, &rules(&[]), 0),
        Step::Ignored("event type not handled")
    );
}

#[test]
fn a_snapshot_counts_as_completion_or_expiry_now_and_an_open_session_as_nothing() {
    let session =
        |status: &str, paid: &str| -> Session { serde_json::from_value(our_session(status, paid)).unwrap() };
    let r = rules(&[]);
    let done = session_step(interpret_snapshot(&session("complete", "paid"), &r, 99).unwrap());
    assert_eq!(done.effect, Effect::Completed { paid: true, at: 99 });
    let gone = session_step(interpret_snapshot(&session("expired", "unpaid"), &r, 99).unwrap());
    assert_eq!(gone.effect, Effect::Expired);
    assert_eq!(interpret_snapshot(&session("open", "unpaid"), &r, 99), None);
}

#[test]
fn stripes_amount_is_stored_once_and_flagged_when_it_differs_from_what_we_asked() {
    assert_eq!(amount_change((500, "eur"), 500, (500, "eur")), None);
    assert_eq!(
        amount_change((500, "eur"), 500, (450, "eur")),
        Some(AmountChange {
            amount_cents: 450,
            currency: "eur".into(),
            mismatch: true
        })
    );
    assert_eq!(
        amount_change((500, "eur"), 500, (500, "usd")).map(|c| c.mismatch),
        Some(true),
        "another currency is a mismatch"
    );
    assert_eq!(
        amount_change((1000, "eur"), 500, (500, "eur")).map(|c| c.mismatch),
        Some(false),
        "back to what we asked for is no mismatch"
    );
}

#[test]
fn a_refund_with_either_a_charge_or_a_payment_intent_finds_its_donation() {
    let step = |fields: Value| {
        let refund = patched("refund", fields);
        interpret(&event("charge.refund.updated", refund), &rules(&[]), 0)
    };
    for (charge, intent) in [(json!("ch_1"), Value::Null), (Value::Null, json!("pi_1"))] {
        let found = step(json!({"id": "re_1", "amount": 500, "status": "failed",
                                "charge": charge, "payment_intent": intent}));
        assert!(
            matches!(found, Step::Payment { .. }),
            "{charge} {intent}: {found:?}"
        );
    }
    let neither = step(json!({"id": "re_1", "amount": 500, "status": "failed",
                              "charge": null, "payment_intent": null}));
    assert!(matches!(neither, Step::Ignored(_)), "{neither:?}");
}

#[test]
fn a_recovered_donation_trusts_its_coffee_count_only_from_one_up() {
    let recovered = |coffees: &str| {
        let mut session = our_session("complete", "paid");
        session["metadata"]["coffees"] = json!(coffees);
        let step = session_step(interpret(
            &event("checkout.session.completed", session),
            &rules(&[]),
            0,
        ));
        step.recovered.unwrap().coffees
    };
    assert_eq!(recovered("2"), 2);
    assert_eq!(recovered("1"), 1);
    assert_eq!(
        recovered("0"),
        2,
        "none is no count: the amount (10,00 €) says two"
    );
    assert_eq!(recovered("zwei"), 2);
}
