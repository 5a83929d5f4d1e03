//! Domain types. Each parses raw input once, at the edge; past that point a value is known valid.
//!
//! Nothing here does I/O: the state machine, the moderation rules and the prices are pure
//! functions, unit-tested where they are defined.

mod cancellation;
mod coffees;
mod disputes;
mod error;
mod json_text;
mod lifecycle;
mod moderation;
mod money;
mod notice;
pub mod privacy;
mod refunds;
mod rules;
mod subscription;
mod text;
mod word_enum;

pub use cancellation::{
    CancelKind, CancelSource, CancelWhen, Declaration, DeclarationError, DeclarationState, EmailAddress,
    Reason, declaration, next_cancel_attempt,
};
pub use coffees::Coffees;
pub use disputes::{DisputeState, Disputes};
pub use error::{ParseError, UnknownValue};
pub use lifecycle::{ChargeAmount, CheckoutState, DonationStatus, Effect, Facts};
pub use money::{Currency, Money};
pub use notice::{Channel, NoticeKind, next_attempt, notice_for};
pub use refunds::{Refund, RefundState, Refunds, RefundsById};
pub use rules::{Moderation, Pricing, Rules};
pub use subscription::{
    Asked, Checkout, EndReason, Ended, Interval, InvoiceSummary, MONTH_SECS, SubscriptionFacts,
    SubscriptionStatus, SubscriptionView, Summary, is_active, summarize,
};
pub use text::{Message, SupporterName, Visibility};
pub(crate) use word_enum::word_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_word_round_trips_and_a_corrupt_one_is_an_error() {
        for s in DonationStatus::ALL {
            assert_eq!(DonationStatus::try_from(s.as_str().to_owned()), Ok(*s));
        }
        for s in CheckoutState::ALL {
            assert_eq!(CheckoutState::try_from(s.to_string()), Ok(*s));
        }
        for s in DisputeState::ALL {
            assert_eq!(DisputeState::try_from(s.to_string()), Ok(*s));
        }
        for v in Visibility::ALL {
            assert_eq!(Visibility::try_from(v.to_string()), Ok(*v));
        }
        let err = DonationStatus::try_from("payed".to_owned()).unwrap_err();
        assert_eq!(err.value, "payed");
        assert!(err.to_string().contains("DonationStatus"));
        assert!(Visibility::try_from("Public".to_owned()).is_err());
    }
}
