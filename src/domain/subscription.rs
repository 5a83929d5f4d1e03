//! A monthly coffee: a Stripe subscription that our checkout started, merged from its events the
//! way a one-time donation is (`lifecycle.rs`): every event contributes facts, and facts merge by
//! a maximum (or a minimum), so duplicates and any order of delivery end in the same state.
//!
//! - The subscription itself: the newest report of Stripe's display fields (status, cancel at
//!   period end, the current period's end), and whether and why it ended (terminal).
//! - Each invoice: one coffee record of N coffees, with the same money facts a one-time donation
//!   has (paid, refunds, disputes), kept in `invoices` and merged by `lifecycle::Facts`.
//! - The entry on the wall sums its invoices: [`summarize`]. Paid-through is the latest period
//!   end over paid invoices; a monthly coffee is active while it has not ended and is paid
//!   through, plus a grace period for Stripe's retries, at least now ([`is_active`]).

use super::{CheckoutState, DonationStatus};

/// Whether a reader gives once or every month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interval {
    #[default]
    Once,
    Month,
}

super::word_enum!(Interval { Once => "once", Month => "month" });

/// Stripe's `status` of a subscription (an unknown word is `Other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubscriptionStatus {
    Other,
    Incomplete,
    Trialing,
    Active,
    Paused,
    PastDue,
    Unpaid,
    IncompleteExpired,
    Canceled,
}

super::word_enum!(SubscriptionStatus {
    Other => "other", Incomplete => "incomplete", Trialing => "trialing", Active => "active",
    Paused => "paused", PastDue => "past_due", Unpaid => "unpaid",
    IncompleteExpired => "incomplete_expired", Canceled => "canceled",
});

impl SubscriptionStatus {
    pub fn from_stripe(status: Option<&str>) -> SubscriptionStatus {
        status.and_then(Self::parse).unwrap_or(SubscriptionStatus::Other)
    }

    /// A status after which the subscription never bills again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

/// What the newest subscription event says, for display. Ordered by the event's time first, so
/// the maximum is the newest report; the other fields only break ties between reports of the
/// same second, deterministically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SubscriptionView {
    /// The reporting event's `created`.
    pub at: i64,
    pub status: SubscriptionStatus,
    pub cancel_at_period_end: bool,
    /// When the current period ends: the next debit, unless it is cancelled at period end.
    pub current_period_end: Option<i64>,
}

/// Why a subscription ended, as far as the blogger's figures go. Ordered so that the most
/// specific reason wins when two reports differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EndReason {
    /// Stripe gave no reason (a first payment that never completed, say).
    Other,
    /// The supporter (or the blogger) cancelled it.
    Cancelled,
    /// The payments failed until Stripe gave up.
    PaymentFailed,
    /// A payment was disputed.
    Disputed,
}

super::word_enum!(EndReason {
    Other => "other", Cancelled => "cancelled", PaymentFailed => "payment_failed", Disputed => "disputed",
});

impl EndReason {
    /// `cancellation_details.reason`: `cancellation_requested`, `payment_failed`,
    /// `payment_disputed`.
    pub fn from_stripe(reason: Option<&str>) -> EndReason {
        match reason {
            Some("cancellation_requested") => EndReason::Cancelled,
            Some("payment_failed") => EndReason::PaymentFailed,
            Some("payment_disputed") => EndReason::Disputed,
            _ => EndReason::Other,
        }
    }

    /// Whether the supporter chose to end it (for the blogger's churn figures).
    pub fn is_voluntary(self) -> bool {
        self == EndReason::Cancelled
    }
}

/// A subscription's end: when (the earliest report) and why (the most specific report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub at: i64,
    pub reason: EndReason,
}

/// Everything the events told us about the subscription itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub view: Option<SubscriptionView>,
    /// Terminal: once ended, a subscription stays ended whatever arrives later.
    pub ended: Option<Ended>,
}

impl SubscriptionFacts {
    /// Both reports together: the newest view, and the end if either saw one.
    pub fn merge(&self, other: &SubscriptionFacts) -> SubscriptionFacts {
        let ended = match (self.ended, other.ended) {
            (Some(a), Some(b)) => Some(Ended {
                at: a.at.min(b.at),
                reason: a.reason.max(b.reason),
            }),
            (a, b) => a.or(b),
        };
        SubscriptionFacts {
            view: self.view.clone().max(other.view.clone()),
            ended,
        }
    }

    /// The next debit: the current period's end, unless the subscription ends there or ended.
    pub fn next_debit(&self) -> Option<i64> {
        if self.ended.is_some() {
            return None;
        }
        self.view
            .as_ref()
            .filter(|v| !v.cancel_at_period_end && !v.status.is_final())
            .and_then(|v| v.current_period_end)
    }

    /// The supporter asked for it to end when the paid month is over.
    pub fn ends_at_period_end(&self) -> bool {
        self.ended.is_none() && self.view.as_ref().is_some_and(|v| v.cancel_at_period_end)
    }
}

/// An invoice paid with no period in any report covers a month from its payment.
pub const MONTH_SECS: i64 = 31 * 86_400;

/// One invoice, as the entry's summary needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceSummary {
    /// Derived from the invoice's facts like a one-time donation's (`Facts::status`).
    pub status: DonationStatus,
    pub checkout: CheckoutState,
    /// The subscription's first invoice (the one the checkout paid).
    pub first: bool,
    pub coffees: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    /// The latest end of the periods its lines bill for, when a report said.
    pub period_end: Option<i64>,
    pub paid_at: Option<i64>,
}

impl InvoiceSummary {
    /// The end of what it paid for.
    fn covers_until(&self) -> Option<i64> {
        (self.checkout == CheckoutState::Paid)
            .then(|| self.period_end.or(self.paid_at.map(|p| p + MONTH_SECS)))
            .flatten()
    }

    fn charged(&self) -> bool {
        self.checkout == CheckoutState::Paid
    }
}

/// What the reader asked for at `/donate`: the coffees and amount of one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    pub coffees: i64,
    pub amount_cents: i64,
}

/// The checkout's own facts (from the session's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkout {
    pub state: CheckoutState,
    pub paid_at: Option<i64>,
}

/// The entry as the wall, the totals and the manage page see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub status: DonationStatus,
    /// Every paid coffee so far (the month asked for while nothing is paid yet).
    pub coffees: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    /// The latest period end over paid invoices.
    pub paid_through: Option<i64>,
    /// When the first payment arrived.
    pub paid_at: Option<i64>,
    /// A debit failed for a period after the paid one, and nothing paid it since.
    pub renewal_failed: bool,
}

/// Sums a subscription's invoices into its one entry. Pure and order-free: it reads only facts.
///
/// Every invoice that stands paid (refunds short of the whole charge included) counts its coffees
/// and money. A checkout Stripe reported paid whose invoice is not known yet counts as the first
/// month. With nothing paid, the entry takes the first payment's state: processing (SEPA), failed,
/// expired or pending; and once everything paid was refunded or disputed: disputed while a
/// dispute is open, else lost if one was lost, else refunded.
pub fn summarize(asked: Asked, checkout: Checkout, invoices: &[InvoiceSummary]) -> Summary {
    let standing: Vec<&InvoiceSummary> = invoices
        .iter()
        .filter(|i| i.status == DonationStatus::Paid)
        .collect();
    let first_known = invoices.iter().any(|i| i.first && i.charged());
    // The checkout paid the first month, but its invoice has not been reported yet.
    let provisional = checkout.state == CheckoutState::Paid && !first_known;
    let paid_through = invoices
        .iter()
        .filter_map(InvoiceSummary::covers_until)
        .chain(
            provisional
                .then(|| checkout.paid_at.map(|p| p + MONTH_SECS))
                .flatten(),
        )
        .max();
    let paid_at = invoices
        .iter()
        .filter(|i| i.charged())
        .filter_map(|i| i.paid_at)
        .chain(checkout.paid_at.filter(|_| checkout.state == CheckoutState::Paid))
        .min();
    let renewal_failed = invoices.iter().any(|i| {
        i.checkout == CheckoutState::Failed
            && match (i.period_end, paid_through) {
                (Some(end), Some(through)) => end > through,
                _ => true,
            }
    });
    let sum = |of: &[&InvoiceSummary], f: fn(&InvoiceSummary) -> i64| of.iter().map(|i| f(i)).sum::<i64>();
    let (extra_coffees, extra_amount) = if provisional {
        (asked.coffees, asked.amount_cents)
    } else {
        (0, 0)
    };
    if !standing.is_empty() || provisional {
        return Summary {
            status: DonationStatus::Paid,
            coffees: sum(&standing, |i| i.coffees) + extra_coffees,
            amount_cents: sum(&standing, |i| i.amount_cents) + extra_amount,
            refunded_cents: sum(&standing, |i| i.refunded_cents),
            paid_through,
            paid_at,
            renewal_failed,
        };
    }
    let charged: Vec<&InvoiceSummary> = invoices.iter().filter(|i| i.charged()).collect();
    let any = |s: DonationStatus| charged.iter().any(|i| i.status == s);
    let status = if any(DonationStatus::Disputed) {
        DonationStatus::Disputed
    } else if any(DonationStatus::Lost) {
        DonationStatus::Lost
    } else if !charged.is_empty() {
        DonationStatus::Refunded
    } else {
        let any_state = |s: CheckoutState| checkout.state == s || invoices.iter().any(|i| i.checkout == s);
        if any_state(CheckoutState::Processing) {
            DonationStatus::Processing
        } else if any_state(CheckoutState::Failed) {
            DonationStatus::Failed
        } else if checkout.state == CheckoutState::Expired {
            DonationStatus::Expired
        } else {
            DonationStatus::Pending
        }
    };
    let (coffees, amount_cents, refunded_cents) = if charged.is_empty() {
        (asked.coffees, asked.amount_cents, 0)
    } else {
        (
            asked.coffees,
            sum(&charged, |i| i.amount_cents),
            sum(&charged, |i| i.refunded_cents),
        )
    };
    Summary {
        status,
        coffees,
        amount_cents,
        refunded_cents,
        paid_through,
        paid_at,
        renewal_failed,
    }
}

/// Whether a monthly coffee counts as active at `now`: not ended, and paid through at least
/// `now` minus the grace period (Stripe retries a failed debit for up to about two weeks).
pub fn is_active(ended: bool, paid_through: Option<i64>, grace_secs: i64, now: i64) -> bool {
    !ended && paid_through.is_some_and(|through| through.saturating_add(grace_secs) >= now)
}

#[cfg(test)]
#[path = "subscription_tests.rs"]
mod tests;
