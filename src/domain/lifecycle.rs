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
#[path = "lifecycle_tests.rs"]
mod tests;
