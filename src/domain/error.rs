//! Why a value could not be parsed or decoded.

/// Why a raw value was rejected. The message is shown to the reader, so it is user-facing text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("must be a whole number from {min} to {max}")]
    OutOfRange { min: u32, max: u32 },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("contains a character that is not allowed (U+{:04X})", u32::from(*.0))]
    ForbiddenCharacter(char),
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
