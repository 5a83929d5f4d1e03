//! The donation state machine, as a pure function of the facts Stripe has told us.
//!
//! Stripe delivers events at least once and in any order, so the state is not "the last event
//! wins". Instead each event contributes a *fact*, and facts only ever grow:
//!
//! - the checkout outcome climbs `open < processing < expired < failed < paid`;
//! - refunds only grow: the charge's cumulative amount, and each refund's status (`refunds.rs`);
//! - each dispute's state climbs `none < open < won < lost`, read from its `status` (`disputes.rs`);
//! - the charge's own amount and currency, which refunds are counted against.
//!
//! Merging facts is a maximum, which is commutative, associative and idempotent, so any order or
//! duplication of a donation's events gives the same [`Facts`], and therefore the same
//! [`DonationStatus`], as in-order delivery. The property test below checks exactly that.

use super::disputes::{DisputeState, Disputes};
use super::refunds::{RefundState, Refunds};

/// How far the checkout itself got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckoutState {
    Open,
    /// Completed, but the money is still on its way (SEPA and other delayed methods).
    Processing,
    Expired,
    Failed,
    Paid,
}

/// What the public and the ledger see. Derived from [`Facts`], never set directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonationStatus {
    Pending,
    Processing,
    Paid,
    Failed,
    Expired,
    Refunded,
    Disputed,
    Lost,
}

/// The charge's own amount and currency: what the reader paid. With Adaptive Pricing (a Payment
/// Link) that is not the jar's currency, and Stripe reports refunds in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChargeAmount {
    /// In the currency's smallest unit (yen for JPY, pence for GBP).
    pub amount: i64,
    /// Lower-case ISO code.
    pub currency: String,
}

impl ChargeAmount {
    pub fn new(amount: i64, currency: &str) -> ChargeAmount {
        ChargeAmount {
            amount,
            currency: currency.to_ascii_lowercase(),
        }
    }
}

/// One event's contribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// `checkout.session.completed`: `paid` says whether `payment_status` was `paid`.
    Completed {
        paid: bool,
        at: i64,
    },
    AsyncSucceeded {
        at: i64,
    },
    AsyncFailed,
    Expired,
    /// What the reader was charged, in their currency (a session's total, a charge's amount).
    Charged(ChargeAmount),
    /// `charge.refunded`: the charge's cumulative `amount_refunded`, in the charge's currency,
    /// and the charge's own amount where the event carries it.
    Refunded {
        amount_refunded: i64,
        charge: Option<ChargeAmount>,
    },
    /// One refund by id (`charge.refund.updated`, or a charge's list of refunds).
    Refund {
        id: String,
        amount: i64,
        currency: Option<String>,
        state: RefundState,
    },
    /// A dispute event (`created`, `updated`, `closed`): the state its `status` says.
    Dispute {
        id: String,
        state: DisputeState,
    },
}

/// Everything we know about a donation's money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub checkout: CheckoutState,
    /// In the charge's currency (see [`Facts::refunded_cents`]).
    pub refunds: Refunds,
    pub disputes: Disputes,
    /// The charge in the reader's currency, once a session or the charge told us.
    pub charge: Option<ChargeAmount>,
    /// When the payment succeeded: the earliest paying event's time, so it is order-independent.
    pub paid_at: Option<i64>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts {
            checkout: CheckoutState::Open,
            refunds: Refunds::default(),
            disputes: Disputes::default(),
            charge: None,
            paid_at: None,
        }
    }
}

impl Facts {
    pub fn apply(&self, effect: &Effect) -> Facts {
        let mut next = self.clone();
        let paid_at = |at: i64| Some(self.paid_at.map_or(at, |p| p.min(at)));
        // Reports of one charge agree; the maximum keeps two that did not independent of order.
        let charged = |c: &ChargeAmount| self.charge.clone().max(Some(c.clone()));
        match effect {
            Effect::Completed { paid: true, at } | Effect::AsyncSucceeded { at } => {
                next.checkout = next.checkout.max(CheckoutState::Paid);
                next.paid_at = paid_at(*at);
            }
            Effect::Completed { paid: false, .. } => {
                next.checkout = next.checkout.max(CheckoutState::Processing)
            }
            Effect::AsyncFailed => next.checkout = next.checkout.max(CheckoutState::Failed),
            Effect::Expired => next.checkout = next.checkout.max(CheckoutState::Expired),
            Effect::Charged(c) => next.charge = charged(c),
            Effect::Refunded {
                amount_refunded,
                charge,
            } => {
                next.refunds.charge_reported(*amount_refunded);
                if let Some(c) = charge {
                    next.charge = charged(c);
                }
            }
            Effect::Refund {
                id,
                amount,
                currency,
                state,
            } => next.refunds.refund(id, *amount, currency.as_deref(), *state),
            Effect::Dispute { id, state } => next.disputes.record(id, *state),
        }
        next
    }

    /// What is refunded of a donation of `amount_cents` in `currency` (the jar's), in cents.
    ///
    /// Refunds come in the charge's currency, so they count as the share they are of the
    /// charge, applied to the donation's amount and rounded down: a partial refund never takes
    /// the coffee away, only a refund of the whole charge does. While the charge's amount is
    /// unknown, a refund in another currency counts nothing yet (its charge will tell).
    pub fn refunded_cents(&self, amount_cents: i64, currency: &str) -> i64 {
        let refunded = self.refunds.total();
        if refunded <= 0 || amount_cents <= 0 {
            return 0;
        }
        match &self.charge {
            Some(charge) if charge.amount > 0 => share(refunded, charge.amount, amount_cents),
            _ if self.refunds.in_other_currency(currency) => 0,
            _ => refunded.min(amount_cents),
        }
    }

    /// The status for a donation of `amount_cents` in `currency`.
    pub fn status(&self, amount_cents: i64, currency: &str) -> DonationStatus {
        match self.checkout {
            CheckoutState::Open => DonationStatus::Pending,
            CheckoutState::Processing => DonationStatus::Processing,
            CheckoutState::Expired => DonationStatus::Expired,
            CheckoutState::Failed => DonationStatus::Failed,
            CheckoutState::Paid => match self.disputes.state() {
                DisputeState::Lost => DonationStatus::Lost,
                DisputeState::Open => DonationStatus::Disputed,
                DisputeState::None | DisputeState::Won
                    if self.refunded_cents(amount_cents, currency) >= amount_cents =>
                {
                    DonationStatus::Refunded
                }
                DisputeState::None | DisputeState::Won => DonationStatus::Paid,
            },
        }
    }
}

/// `refunded` of a `charged` total, as a share of `amount`, rounded down; all of it once the
/// whole charge is refunded. Integer arithmetic, wide enough for any amounts.
fn share(refunded: i64, charged: i64, amount: i64) -> i64 {
    if refunded >= charged {
        return amount;
    }
    let part = i128::from(refunded) * i128::from(amount) / i128::from(charged);
    i64::try_from(part).unwrap_or(amount).min(amount)
}

super::word_enum!(CheckoutState { Open => "open", Processing => "processing", Expired => "expired", Failed => "failed", Paid => "paid" });
super::word_enum!(DonationStatus {
    Pending => "pending", Processing => "processing", Paid => "paid", Failed => "failed",
    Expired => "expired", Refunded => "refunded", Disputed => "disputed", Lost => "lost",
});

#[cfg(test)]
mod tests {
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
}
