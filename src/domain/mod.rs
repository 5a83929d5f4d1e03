//! Domain types. Each parses raw input once, at the edge; past that point a value is known valid.

mod coffees;
mod lifecycle;
mod moderation;
mod money;
mod text;

pub use coffees::Coffees;
pub use lifecycle::{CheckoutState, DisputeState, DonationStatus, Effect, Facts};
pub use moderation::needs_review;
pub use money::{Currency, Money};
pub use text::{Message, SupporterName, Visibility};

/// Why a raw value was rejected. The message is shown to the reader, so it is user-facing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("must be a whole number from {min} to {max}")]
    OutOfRange { min: u32, max: u32 },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("contains characters that are not allowed")]
    ForbiddenCharacters,
    #[error("is not valid")]
    Invalid,
}
