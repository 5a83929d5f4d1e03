use super::ParseError;

/// A lowercase ISO 4217 code, as Stripe writes it (`eur`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let code = raw.trim().to_ascii_lowercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()) {
            Ok(Currency(code))
        } else {
            Err(ParseError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn symbol(&self) -> Option<&'static str> {
        match self.0.as_str() {
            "eur" => Some("€"),
            "usd" => Some("$"),
            "gbp" => Some("£"),
            "chf" => Some("CHF"),
            _ => None,
        }
    }
}

/// An amount in the currency's minor unit (cents). Never a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub cents: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(cents: i64, currency: Currency) -> Self {
        Money { cents, currency }
    }

    /// German formatting, for German pages: `1.234,50 €` (a no-break space before the unit).
    pub fn format_de(&self) -> String {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let euros = group_thousands(abs / 100, '.');
        format!("{sign}{euros},{:02}\u{a0}{}", abs % 100, self.unit())
    }

    /// English formatting, for English pages: `€1,234.50`; a currency written as letters
    /// keeps a no-break space (`CHF 5.00`).
    pub fn format_en(&self) -> String {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        let units = group_thousands(abs / 100, ',');
        let unit = self.unit();
        let gap = if unit.chars().all(|c| c.is_ascii_alphabetic()) {
            "\u{a0}"
        } else {
            ""
        };
        format!("{sign}{unit}{gap}{units}.{:02}", abs % 100)
    }

    fn unit(&self) -> String {
        self.currency
            .symbol()
            .map(str::to_owned)
            .unwrap_or_else(|| self.currency.as_str().to_ascii_uppercase())
    }
}

fn group_thousands(mut n: u64, separator: char) -> String {
    let mut groups = Vec::new();
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = groups.pop().map(|g| g.to_string()).unwrap_or_default();
    while let Some(g) = groups.pop() {
        out.push_str(&format!("{separator}{g:03}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(cents: i64) -> String {
        Money::new(cents, Currency::parse("eur").unwrap()).format_de()
    }

    #[test]
    fn formats_euros_the_german_way() {
        assert_eq!(eur(500), "5,00\u{a0}€");
        assert_eq!(eur(5), "0,05\u{a0}€");
        assert_eq!(eur(123_456_789), "1.234.567,89\u{a0}€");
        assert_eq!(eur(-1050), "-10,50\u{a0}€");
    }

    #[test]
    fn formats_euros_the_english_way() {
        let en = |cents, code| Money::new(cents, Currency::parse(code).unwrap()).format_en();
        assert_eq!(en(500, "eur"), "€5.00");
        assert_eq!(en(5, "eur"), "€0.05");
        assert_eq!(en(123_456_789, "eur"), "€1,234,567.89");
        assert_eq!(en(-1050, "gbp"), "-£10.50");
        assert_eq!(en(500, "chf"), "CHF\u{a0}5.00");
        assert_eq!(en(500, "sek"), "SEK\u{a0}5.00");
    }

    proptest::proptest! {
        #[test]
        fn a_currency_is_exactly_three_ascii_letters(raw in "\\PC{0,5}") {
            let t = raw.trim();
            let valid = t.len() == 3 && t.bytes().all(|b| b.is_ascii_alphabetic());
            proptest::prop_assert_eq!(Currency::parse(&raw).is_ok(), valid);
        }

        #[test]
        fn formatting_round_trips_the_cents(cents in -10_000_000_000i64..10_000_000_000) {
            let text = Money::new(cents, Currency::parse("eur").unwrap()).format_de();
            let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
            proptest::prop_assert_eq!(digits.parse::<i64>().unwrap(), cents.abs());
            proptest::prop_assert_eq!(text.starts_with('-'), cents < 0);
        }
    }

    #[test]
    fn currency_codes_are_three_letters() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("euro").is_err());
        assert!(Currency::parse("e1r").is_err());
    }
}
