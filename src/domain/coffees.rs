use super::ParseError;

/// How many coffees a donation buys: 1 to the configured maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coffees(u32);

impl Coffees {
    pub fn parse(raw: &str, max: u32) -> Result<Self, ParseError> {
        let err = ParseError::OutOfRange { min: 1, max };
        let n: i64 = raw.trim().parse().map_err(|_| err.clone())?;
        Self::new(n, max).ok_or(err)
    }

    pub fn new(n: i64, max: u32) -> Option<Self> {
        u32::try_from(n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .map(Coffees)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_zero_negative_too_many_and_words() {
        for raw in ["0", "-1", "11", "abc", "", "1.5", "99999999999999999999"] {
            assert!(Coffees::parse(raw, 10).is_err(), "{raw} should be rejected");
        }
        assert_eq!(Coffees::parse(" 3 ", 10).unwrap().get(), 3);
    }

    proptest! {
        #[test]
        fn accepts_exactly_one_to_max(n in -1000i64..1000, max in 1u32..100) {
            let parsed = Coffees::parse(&n.to_string(), max);
            prop_assert_eq!(parsed.is_ok(), n >= 1 && n <= i64::from(max));
        }

        #[test]
        fn never_panics_on_arbitrary_text(raw in ".*") {
            let _ = Coffees::parse(&raw, 10);
        }
    }
}
