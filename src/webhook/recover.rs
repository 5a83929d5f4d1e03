//! Donations we learn about only from Stripe: Payment Link sessions, and sessions of ours whose
//! row is missing (a restored backup, a second instance).

use crate::domain::{SupporterName, Visibility};
use crate::storage::donations::NewDonation;
use crate::webhook::apply::Rules;
use crate::webhook::event::Session;

/// A donation for a session we have no row for: a Payment Link donation, or one of ours whose row
/// is missing (restored backup, second instance). Recorded anonymously unless the link asked.
pub fn recovered_donation(rules: &Rules, s: &Session, from_link: bool, now: i64) -> NewDonation {
    let price = rules.pricing.coffee_price_cents;
    let settled = s.settled_amount();
    let amount = settled.map_or(price, |(a, _)| a).max(0);
    let coffees = s
        .metadata
        .get("coffees")
        .and_then(|c| c.parse::<u32>().ok())
        .filter(|c| *c >= 1)
        .unwrap_or_else(|| u32::try_from(amount / price).unwrap_or(u32::MAX).max(1));
    let (name, visibility) = if from_link {
        let name = s
            .custom_field("name")
            .and_then(|n| SupporterName::parse(n).ok().flatten());
        let public = s.custom_field("public").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "yes" | "ja" | "true" | "on" | "1"
            )
        });
        (
            name.map(|n| n.as_str().to_owned()),
            if public {
                Visibility::Public
            } else {
                Visibility::Anonymous
            },
        )
    } else {
        (None, Visibility::Anonymous)
    };
    let held = crate::domain::needs_review(
        rules.moderation,
        visibility == Visibility::Public,
        &[name.as_deref().unwrap_or_default()],
        &rules.blocked_words,
    );
    NewDonation {
        id: s
            .donation_id()
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        provider: if from_link { "payment_link" } else { "stripe" },
        checkout_session_id: s.id.clone(),
        coffees,
        amount_cents: amount,
        currency: settled.map_or_else(
            || rules.pricing.currency.as_str().to_owned(),
            |(_, c)| c.to_ascii_lowercase(),
        ),
        name,
        message: None,
        visibility,
        held,
        livemode: s.livemode,
        created_at: now,
    }
}
