//! Domain types. Each parses raw input once, at the edge; past that point a value is known valid.
//!
//! Nothing here does I/O: the state machine, the moderation rules and the prices are pure
//! functions, unit-tested where they are defined.

mod coffees;
mod lifecycle;
mod moderation;
mod money;
mod rules;
mod text;

pub use coffees::Coffees;
pub use lifecycle::{CheckoutState, DisputeState, DonationStatus, Effect, Facts};
pub use money::{Currency, Money};
pub use rules::{Moderation, Pricing, Rules};
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

/// A stored word that is not one of an enum's values: a corrupt row, never silently defaulted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} has no value {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// An enum stored as a lowercase word: `as_str`, `parse`, and `TryFrom<String>` for row decoding.
macro_rules! word_enum {
    ($ty:ident { $($variant:ident => $s:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $s),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($s => Some(Self::$variant),)+ _ => None }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::domain::UnknownValue;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw).ok_or($crate::domain::UnknownValue { kind: stringify!($ty), value: raw })
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use word_enum;

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
