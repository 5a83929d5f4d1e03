//! The jar's rules: what a coffee costs, which Payment Links count, and which public entries wait
//! for the blogger's review. Read once from the configuration; every decision here is pure.

use super::{Coffees, Currency, Visibility, moderation};

/// Price and limits of a donation. The amount is always computed here, never taken from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub coffee_price_cents: i64,
    pub currency: Currency,
    pub max_coffees: u32,
}

impl Pricing {
    /// What `coffees` cost, in cents.
    pub fn amount_cents(&self, coffees: Coffees) -> i64 {
        self.coffee_price_cents * i64::from(coffees.get())
    }
}

/// Which public entries wait for the blogger's approval before their name and message show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Off,
    /// Entries with a URL, an e-mail address or a blocked word.
    Links,
    All,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub pricing: Pricing,
    /// `plink_…` ids whose sessions are recorded although we did not create them.
    pub payment_links: Vec<String>,
    pub moderation: Moderation,
    /// Lower-cased words that hold a public entry for review.
    pub blocked_words: Vec<String>,
}

impl Rules {
    /// Whether an entry must wait for approval before its name and message show. Anonymous
    /// entries show nothing, so never wait; nor do public ones without any text.
    pub fn needs_review(&self, visibility: Visibility, name: Option<&str>, message: Option<&str>) -> bool {
        let texts = [name.unwrap_or_default(), message.unwrap_or_default()];
        if !visibility.is_public() || texts.iter().all(|t| t.trim().is_empty()) {
            return false;
        }
        match self.moderation {
            Moderation::Off => false,
            Moderation::All => true,
            Moderation::Links => texts.iter().any(|t| {
                moderation::has_link_or_address(t) || moderation::has_blocked_word(t, &self.blocked_words)
            }),
        }
    }

    /// Whether a session from this Payment Link counts as a coffee.
    pub fn is_listed_link(&self, link: Option<&str>) -> bool {
        link.is_some_and(|l| self.payment_links.iter().any(|p| p == l))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn rules(moderation: Moderation) -> Rules {
        Rules {
            pricing: Pricing {
                coffee_price_cents: 500,
                currency: Currency::parse("eur").unwrap(),
                max_coffees: 10,
            },
            payment_links: vec!["plink_1".into()],
            moderation,
            blocked_words: vec!["casino".into()],
        }
    }

    #[test]
    fn links_addresses_and_blocked_words_are_held_in_either_field() {
        let r = rules(Moderation::Links);
        let public = Visibility::Public;
        assert!(r.needs_review(public, Some("Besuch https://spam.example"), None));
        assert!(r.needs_review(public, None, Some("schreib an anna@example.org")));
        assert!(r.needs_review(public, Some("Bestes CASINO!"), Some("")));
        assert!(!r.needs_review(public, Some("Anna"), Some("Danke für den Artikel!")));
    }

    #[test]
    fn all_holds_every_public_entry_and_anonymous_or_empty_ones_never_wait() {
        let all = rules(Moderation::All);
        assert!(all.needs_review(Visibility::Public, Some("Anna"), None));
        assert!(!all.needs_review(Visibility::Anonymous, Some("https://spam"), None));
        assert!(!all.needs_review(Visibility::Public, Some(""), Some(" ")));
        assert!(!all.needs_review(Visibility::Public, None, None));
        let off = rules(Moderation::Off);
        assert!(!off.needs_review(Visibility::Public, Some("https://spam"), Some("casino")));
    }

    #[test]
    fn only_listed_payment_links_count() {
        let r = rules(Moderation::Off);
        assert!(r.is_listed_link(Some("plink_1")));
        assert!(!r.is_listed_link(Some("plink_2")));
        assert!(!r.is_listed_link(None));
    }

    #[test]
    fn the_amount_is_the_price_times_the_coffees() {
        let r = rules(Moderation::Off);
        assert_eq!(r.pricing.amount_cents(Coffees::new(3, 10).unwrap()), 1500);
    }
}
