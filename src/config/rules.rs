//! The jar's rules (prices, Payment Links, moderation), read into the domain's [`Rules`].

use super::ConfigError;
use super::vars::Vars;
use crate::domain::{Currency, Moderation, Pricing, Rules};

pub(super) fn read(v: &Vars) -> Result<Rules, ConfigError> {
    let currency = Currency::parse(&v.get("CURRENCY").unwrap_or_else(|| "eur".into()))
        .map_err(|_| ConfigError::new("CURRENCY", "expected a three-letter ISO code such as eur"))?;
    Ok(Rules {
        pricing: Pricing {
            coffee_price_cents: v.num("COFFEE_PRICE_CENTS", 500, 50..=100_000)?,
            currency,
            max_coffees: v.num("MAX_COFFEES", 10, 1..=100)?,
        },
        payment_links: v.list_checked(
            "STRIPE_PAYMENT_LINKS",
            |l| l.starts_with("plink_"),
            "is not a plink_… id",
        )?,
        moderation: match v.get("MODERATION").as_deref() {
            None | Some("links") => Moderation::Links,
            Some("off") => Moderation::Off,
            Some("all") => Moderation::All,
            Some(_) => return Err(ConfigError::new("MODERATION", "expected off, links or all")),
        },
        blocked_words: v
            .list("BLOCKED_WORDS")
            .into_iter()
            .map(|w| w.to_lowercase())
            .collect(),
    })
}
