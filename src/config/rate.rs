//! Rates for the rate limits: `5/10m`, `60/1h`, or `off`.

use std::num::NonZeroU32;
use std::time::Duration;

/// `<count>/<period>` (`5/10m` or `5/10min`, `60/1h`, `100/30s`, `1/2d`), or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub period: Duration,
}

impl Rate {
    /// `Ok(None)` for `off`.
    pub fn parse(raw: &str) -> Result<Option<Rate>, &'static str> {
        if raw.trim() == "off" {
            return Ok(None);
        }
        let (count, period) = raw
            .trim()
            .split_once('/')
            .ok_or("expected <count>/<period>, e.g. 5/10m, or off")?;
        let count = count
            .trim()
            .parse::<NonZeroU32>()
            .map_err(|_| "the count must be a positive number")?;
        let period = period.trim();
        let (number, unit) =
            period.split_at(period.find(|c: char| !c.is_ascii_digit()).unwrap_or(period.len()));
        let n: u64 = if number.is_empty() {
            1
        } else {
            number.parse().map_err(|_| "bad period")?
        };
        let unit_secs = match unit {
            "s" => 1,
            "m" | "min" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err("the period needs a unit: s, m (or min), h or d"),
        };
        let secs = n.checked_mul(unit_secs).ok_or("the period is too long")?;
        if secs == 0 {
            return Err("the period must be positive");
        }
        Ok(Some(Rate {
            count,
            period: Duration::from_secs(secs),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_every_unit_and_off() {
        let secs = |raw: &str| Rate::parse(raw).unwrap().unwrap().period.as_secs();
        assert_eq!(secs("100/30s"), 30);
        assert_eq!(secs("5/10m"), 600);
        assert_eq!(secs("5/10min"), 600, "as people write minutes");
        assert_eq!(secs("60/h"), 3600);
        assert_eq!(secs("1/2d"), 2 * 86_400);
        assert_eq!(Rate::parse("7/1m").unwrap().unwrap().count.get(), 7);
        assert_eq!(Rate::parse(" off ").unwrap(), None);
        for bad in [
            "",
            "5",
            "0/1m",
            "5/10",
            "5/0s",
            "x/1m",
            "5/1y",
            "1/99999999999999999999d",
        ] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
