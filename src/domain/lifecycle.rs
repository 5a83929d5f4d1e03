//! The donation state machine, as a pure function of the facts Stripe has told us.
//!
//! Stripe delivers events at least once and in any order, so the state is not "the last event
//! wins". Instead each event contributes a *fact*, and facts only ever grow:
//!
//! - the checkout outcome climbs `open < processing < expired < failed < paid`;
//! - refunds only grow: the charge's cumulative amount, and each refund's status (`refunds.rs`);
//! - the dispute state climbs `none < open < won < lost`, read from the dispute's `status`.
//!
//! Merging facts is a maximum, which is commutative, associative and idempotent, so any order or
//! duplication of a donation's events gives the same [`Facts`], and therefore the same
//! [`DonationStatus`], as in-order delivery. The property test below checks exactly that.

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DisputeState {
    None,
    Open,
    Won,
    Lost,
}

impl DisputeState {
    /// A dispute's `status`. Warnings (inquiries) and reviews are open; `won`, a closed warning
    /// and `prevented` (stopped before it became a chargeback, API 2025-08-27) cost nothing and
    /// count as won; `lost` is lost. An unknown status means a dispute exists: open.
    pub fn from_stripe(status: Option<&str>) -> DisputeState {
        match status {
            Some("won" | "warning_closed" | "prevented") => DisputeState::Won,
            Some("lost") => DisputeState::Lost,
            _ => DisputeState::Open,
        }
    }
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
    /// `charge.refunded`: the charge's cumulative `amount_refunded`.
    Refunded {
        amount_refunded: i64,
    },
    /// One refund by id (`charge.refund.updated`, or a charge's list of refunds).
    Refund {
        id: String,
        amount: i64,
        state: RefundState,
    },
    /// A dispute event (`created`, `updated`, `closed`): the state its `status` says.
    Dispute(DisputeState),
}

/// Everything we know about a donation's money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub checkout: CheckoutState,
    pub refunds: Refunds,
    pub dispute: DisputeState,
    /// When the payment succeeded: the earliest paying event's time, so it is order-independent.
    pub paid_at: Option<i64>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts {
            checkout: CheckoutState::Open,
            refunds: Refunds::default(),
            dispute: DisputeState::None,
            paid_at: None,
        }
    }
}

impl Facts {
    pub fn apply(&self, effect: &Effect) -> Facts {
        let mut next = self.clone();
        let paid_at = |at: i64| Some(self.paid_at.map_or(at, |p| p.min(at)));
        match *effect {
            Effect::Completed { paid: true, at } | Effect::AsyncSucceeded { at } => {
                next.checkout = next.checkout.max(CheckoutState::Paid);
                next.paid_at = paid_at(at);
            }
            Effect::Completed { paid: false, .. } => {
                next.checkout = next.checkout.max(CheckoutState::Processing)
            }
            Effect::AsyncFailed => next.checkout = next.checkout.max(CheckoutState::Failed),
            Effect::Expired => next.checkout = next.checkout.max(CheckoutState::Expired),
            Effect::Refunded { amount_refunded } => next.refunds.charge_reported(amount_refunded),
            Effect::Refund {
                ref id,
                amount,
                state,
            } => next.refunds.refund(id, amount, state),
            Effect::Dispute(state) => next.dispute = next.dispute.max(state),
        }
        next
    }

    /// What is refunded now, in cents.
    pub fn refunded_cents(&self) -> i64 {
        self.refunds.total()
    }

    /// The status for a donation of `amount_cents`.
    pub fn status(&self, amount_cents: i64) -> DonationStatus {
        match self.checkout {
            CheckoutState::Open => DonationStatus::Pending,
            CheckoutState::Processing => DonationStatus::Processing,
            CheckoutState::Expired => DonationStatus::Expired,
            CheckoutState::Failed => DonationStatus::Failed,
            CheckoutState::Paid => match self.dispute {
                DisputeState::Lost => DonationStatus::Lost,
                DisputeState::Open => DonationStatus::Disputed,
                DisputeState::None | DisputeState::Won if self.refunded_cents() >= amount_cents => {
                    DonationStatus::Refunded
                }
                DisputeState::None | DisputeState::Won => DonationStatus::Paid,
            },
        }
    }
}

super::word_enum!(CheckoutState { Open => "open", Processing => "processing", Expired => "expired", Failed => "failed", Paid => "paid" });
super::word_enum!(DisputeState { None => "none", Open => "open", Won => "won", Lost => "lost" });
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
        Effect::Refund {
            id: id.to_owned(),
            amount,
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
                vec![
                    Completed { paid: true, at: 10 },
                    Refunded {
                        amount_refunded: AMOUNT,
                    },
                ],
                DonationStatus::Refunded,
            ),
            (
                "refunded in two steps",
                vec![
                    Completed { paid: true, at: 10 },
                    Refunded { amount_refunded: 300 },
                    Refunded {
                        amount_refunded: AMOUNT,
                    },
                ],
                DonationStatus::Refunded,
            ),
            (
                "partly refunded",
                vec![
                    Completed { paid: true, at: 10 },
                    Refunded { amount_refunded: 300 },
                ],
                DonationStatus::Paid,
            ),
            (
                "dispute won",
                vec![
                    Completed { paid: true, at: 10 },
                    Dispute(DisputeState::Open),
                    Dispute(DisputeState::Won),
                ],
                DonationStatus::Paid,
            ),
            (
                "dispute lost",
                vec![
                    Completed { paid: true, at: 10 },
                    Dispute(DisputeState::Open),
                    Dispute(DisputeState::Lost),
                ],
                DonationStatus::Lost,
            ),
            (
                "dispute open",
                vec![Completed { paid: true, at: 10 }, Dispute(DisputeState::Open)],
                DonationStatus::Disputed,
            ),
            (
                "refunded, then the refund failed",
                vec![
                    Completed { paid: true, at: 10 },
                    Refunded {
                        amount_refunded: AMOUNT,
                    },
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
                    Refunded { amount_refunded: 400 },
                    refund("re_1", 400, RefundState::Failed),
                    refund("re_2", AMOUNT, RefundState::Succeeded),
                ],
                DonationStatus::Refunded,
            ),
            (
                "an inquiry, closed without a chargeback",
                vec![
                    Completed { paid: true, at: 10 },
                    Dispute(DisputeState::from_stripe(Some("warning_needs_response"))),
                    Dispute(DisputeState::from_stripe(Some("warning_under_review"))),
                    Dispute(DisputeState::from_stripe(Some("warning_closed"))),
                ],
                DonationStatus::Paid,
            ),
            (
                "a dispute prevented",
                vec![
                    Completed { paid: true, at: 10 },
                    Dispute(DisputeState::from_stripe(Some("needs_response"))),
                    Dispute(DisputeState::from_stripe(Some("prevented"))),
                ],
                DonationStatus::Paid,
            ),
            (
                "a dispute under review, then lost",
                vec![
                    Completed { paid: true, at: 10 },
                    Dispute(DisputeState::from_stripe(Some("under_review"))),
                    Dispute(DisputeState::from_stripe(Some("lost"))),
                ],
                DonationStatus::Lost,
            ),
            (
                "sepa, then refunded",
                vec![
                    Completed { paid: false, at: 10 },
                    AsyncSucceeded { at: 20 },
                    Refunded {
                        amount_refunded: AMOUNT,
                    },
                ],
                DonationStatus::Refunded,
            ),
        ]
    }

    #[test]
    fn each_history_in_order_ends_in_its_expected_state() {
        for (name, events, expected) in histories() {
            assert_eq!(run(&events).status(AMOUNT), expected, "{name}");
        }
    }

    #[test]
    fn a_completion_after_a_refund_does_not_resurrect_the_entry() {
        use Effect::*;
        let f = run(&[
            Refunded {
                amount_refunded: AMOUNT,
            },
            Completed { paid: true, at: 1 },
        ]);
        assert_eq!(f.status(AMOUNT), DonationStatus::Refunded);
    }

    #[test]
    fn an_unpaid_completion_after_async_success_does_not_downgrade() {
        use Effect::*;
        let f = run(&[AsyncSucceeded { at: 5 }, Completed { paid: false, at: 1 }]);
        assert_eq!(f.status(AMOUNT), DonationStatus::Paid);
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
                assert_eq!(run(&p).status(AMOUNT), expected, "{name}: {p:?}");
                assert_eq!(run(&p), run(&events), "{name}: {p:?}");
            }
        }
    }
}
