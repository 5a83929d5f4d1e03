use super::*;
use crate::domain::refunds::RefundState;
use proptest::prelude::*;

const AMOUNT: i64 = 1000;

fn refund(id: &str, amount: i64, state: RefundState) -> Effect {
    refund_in(id, amount, "eur", state)
}

fn refund_in(id: &str, amount: i64, currency: &str, state: RefundState) -> Effect {
    Effect::Refund {
        id: id.to_owned(),
        amount,
        currency: Some(currency.to_owned()),
        state,
    }
}

/// A `charge.refunded` of a charge of `AMOUNT` euro cents.
fn refunded(amount_refunded: i64) -> Effect {
    refunded_of(amount_refunded, AMOUNT, "eur")
}

fn refunded_of(amount_refunded: i64, charged: i64, currency: &str) -> Effect {
    Effect::Refunded {
        amount_refunded,
        charge: Some(ChargeAmount::new(charged, currency)),
    }
}

fn charged(amount: i64, currency: &str) -> Effect {
    Effect::Charged(ChargeAmount::new(amount, currency))
}

fn dispute(id: &str, state: DisputeState) -> Effect {
    Effect::Dispute {
        id: id.to_owned(),
        state,
    }
}

fn run(events: &[Effect]) -> Facts {
    events.iter().fold(Facts::default(), |f, e| f.apply(e))
}

/// Realistic histories of one donation, in the order Stripe would emit them.
fn histories() -> Vec<(&'static str, Vec<Effect>, DonationStatus)> {
    use Effect::*;
    vec![
        (
            "card paid",
            vec![Completed { paid: true, at: 10 }],
            DonationStatus::Paid,
        ),
        (
            "sepa succeeded",
            vec![Completed { paid: false, at: 10 }, AsyncSucceeded { at: 20 }],
            DonationStatus::Paid,
        ),
        (
            "sepa failed",
            vec![Completed { paid: false, at: 10 }, AsyncFailed],
            DonationStatus::Failed,
        ),
        ("abandoned", vec![Expired], DonationStatus::Expired),
        (
            "fully refunded",
            vec![Completed { paid: true, at: 10 }, refunded(AMOUNT)],
            DonationStatus::Refunded,
        ),
        (
            "refunded in two steps",
            vec![Completed { paid: true, at: 10 }, refunded(300), refunded(AMOUNT)],
            DonationStatus::Refunded,
        ),
        (
            "partly refunded",
            vec![Completed { paid: true, at: 10 }, refunded(300)],
            DonationStatus::Paid,
        ),
        (
            "dispute won",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::Open),
                dispute("dp_1", DisputeState::Won),
            ],
            DonationStatus::Paid,
        ),
        (
            "dispute lost",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::Open),
                dispute("dp_1", DisputeState::Lost),
            ],
            DonationStatus::Lost,
        ),
        (
            "dispute open",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::Open),
            ],
            DonationStatus::Disputed,
        ),
        (
            "refunded, then the refund failed",
            vec![
                Completed { paid: true, at: 10 },
                refunded(AMOUNT),
                refund("re_1", AMOUNT, RefundState::Succeeded),
                refund("re_1", AMOUNT, RefundState::Failed),
            ],
            DonationStatus::Paid,
        ),
        (
            "one refund failed, another went through",
            vec![
                Completed { paid: true, at: 10 },
                refund("re_1", 400, RefundState::Pending),
                refunded(400),
                refund("re_1", 400, RefundState::Failed),
                refund("re_2", AMOUNT, RefundState::Succeeded),
            ],
            DonationStatus::Refunded,
        ),
        (
            "an inquiry, closed without a chargeback",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::from_stripe(Some("warning_needs_response"))),
                dispute("dp_1", DisputeState::from_stripe(Some("warning_under_review"))),
                dispute("dp_1", DisputeState::from_stripe(Some("warning_closed"))),
            ],
            DonationStatus::Paid,
        ),
        (
            "a dispute prevented",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::from_stripe(Some("needs_response"))),
                dispute("dp_1", DisputeState::from_stripe(Some("prevented"))),
            ],
            DonationStatus::Paid,
        ),
        (
            "a dispute under review, then lost",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::from_stripe(Some("under_review"))),
                dispute("dp_1", DisputeState::from_stripe(Some("lost"))),
            ],
            DonationStatus::Lost,
        ),
        (
            "sepa, then refunded",
            vec![
                Completed { paid: false, at: 10 },
                AsyncSucceeded { at: 20 },
                refunded(AMOUNT),
            ],
            DonationStatus::Refunded,
        ),
        (
            "paid in pounds for a euro coffee, refunded in full",
            vec![
                charged(860, "GBP"),
                Completed { paid: true, at: 10 },
                refund_in("re_1", 860, "gbp", RefundState::Succeeded),
                refunded_of(860, 860, "gbp"),
            ],
            DonationStatus::Refunded,
        ),
        (
            "paid in pounds, half refunded",
            vec![
                charged(860, "gbp"),
                Completed { paid: true, at: 10 },
                refunded_of(430, 860, "gbp"),
            ],
            DonationStatus::Paid,
        ),
        (
            "paid in yen (no decimals), partly refunded by id",
            vec![
                charged(1700, "jpy"),
                Completed { paid: true, at: 10 },
                refund_in("re_1", 1000, "jpy", RefundState::Succeeded),
            ],
            DonationStatus::Paid,
        ),
        (
            "paid in yen, refunded in two steps",
            vec![
                Completed { paid: true, at: 10 },
                refund_in("re_1", 1000, "jpy", RefundState::Succeeded),
                refunded_of(1000, 1700, "jpy"),
                refund_in("re_2", 700, "jpy", RefundState::Pending),
                refunded_of(1700, 1700, "jpy"),
            ],
            DonationStatus::Refunded,
        ),
        (
            "a dispute won, then a second one opened",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::Open),
                dispute("dp_1", DisputeState::Won),
                dispute("dp_2", DisputeState::Open),
            ],
            DonationStatus::Disputed,
        ),
        (
            "two disputes, both won",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::Won),
                dispute("dp_2", DisputeState::Open),
                dispute("dp_2", DisputeState::Won),
            ],
            DonationStatus::Paid,
        ),
        (
            "a dispute won, a second one lost",
            vec![
                Completed { paid: true, at: 10 },
                dispute("dp_1", DisputeState::Won),
                dispute("dp_2", DisputeState::Lost),
            ],
            DonationStatus::Lost,
        ),
    ]
}

#[test]
fn each_history_in_order_ends_in_its_expected_state() {
    for (name, events, expected) in histories() {
        assert_eq!(run(&events).status(AMOUNT, "eur"), expected, "{name}");
    }
}

#[test]
fn a_refund_counts_as_its_share_of_the_charge_rounded_towards_keeping_the_coffee() {
    let gbp = run(&[charged(860, "gbp"), refunded_of(430, 860, "gbp")]);
    assert_eq!(gbp.refunded_cents(AMOUNT, "eur"), 500);
    let jpy = run(&[
        charged(1700, "jpy"),
        refund_in("re_1", 1000, "jpy", RefundState::Succeeded),
    ]);
    assert_eq!(
        jpy.refunded_cents(AMOUNT, "eur"),
        588,
        "1000 of 1700 yen, rounded down"
    );
    let one_yen_short = run(&[charged(1700, "jpy"), refunded_of(1699, 1700, "jpy")]);
    assert_eq!(one_yen_short.refunded_cents(AMOUNT, "eur"), 999);
    let all = run(&[refunded_of(1700, 1700, "jpy")]);
    assert_eq!(all.refunded_cents(AMOUNT, "eur"), AMOUNT);
    let over = run(&[refunded(AMOUNT * 3)]);
    assert_eq!(
        over.refunded_cents(AMOUNT, "eur"),
        AMOUNT,
        "never more than the donation"
    );
}

#[test]
fn a_foreign_refund_counts_nothing_until_its_charge_is_known() {
    let early = run(&[refund_in("re_1", 860, "gbp", RefundState::Succeeded)]);
    assert_eq!(early.refunded_cents(AMOUNT, "eur"), 0);
    let known = early.apply(&charged(860, "gbp"));
    assert_eq!(known.refunded_cents(AMOUNT, "eur"), AMOUNT);
    let same_currency = run(&[Effect::Refund {
        id: "re_1".into(),
        amount: 300,
        currency: None,
        state: RefundState::Succeeded,
    }]);
    assert_eq!(
        same_currency.refunded_cents(AMOUNT, "eur"),
        300,
        "a row from before currencies were kept"
    );
}

#[test]
fn a_completion_after_a_refund_does_not_resurrect_the_entry() {
    use Effect::*;
    let f = run(&[refunded(AMOUNT), Completed { paid: true, at: 1 }]);
    assert_eq!(f.status(AMOUNT, "eur"), DonationStatus::Refunded);
}

#[test]
fn an_unpaid_completion_after_async_success_does_not_downgrade() {
    use Effect::*;
    let f = run(&[AsyncSucceeded { at: 5 }, Completed { paid: false, at: 1 }]);
    assert_eq!(f.status(AMOUNT, "eur"), DonationStatus::Paid);
    assert_eq!(f.paid_at, Some(5));
}

/// A shuffled copy of `events` where each event appears one to three times.
fn shuffled_with_duplicates(events: Vec<Effect>) -> impl Strategy<Value = Vec<Effect>> {
    let n = events.len();
    proptest::collection::vec(1usize..=3, n)
        .prop_map(move |copies| {
            events
                .iter()
                .zip(copies)
                .flat_map(|(e, c)| std::iter::repeat_n(e.clone(), c))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

proptest! {
    #[test]
    fn any_order_with_duplicates_ends_like_in_order_delivery(
        (idx, delivered) in (0..histories().len()).prop_flat_map(|i| {
            (Just(i), shuffled_with_duplicates(histories()[i].1.clone()))
        })
    ) {
        let (name, in_order, _) = &histories()[idx];
        prop_assert_eq!(run(&delivered), run(in_order), "history {}", name);
    }
}

#[test]
fn every_permutation_of_every_history_agrees() {
    fn permutations(items: &[Effect]) -> Vec<Vec<Effect>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let head = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, head.clone());
                out.push(p);
            }
        }
        out
    }
    for (name, events, expected) in histories() {
        for p in permutations(&events) {
            assert_eq!(run(&p).status(AMOUNT, "eur"), expected, "{name}: {p:?}");
            assert_eq!(run(&p), run(&events), "{name}: {p:?}");
        }
    }
}
