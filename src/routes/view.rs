//! Turning the public read model into what templates show, in one language.

use crate::config::Goal;
use crate::domain::{Currency, Money};
use crate::i18n::Lang;
use crate::public::Supporter;
use crate::storage::supporters::Totals;

pub struct SupporterView {
    pub name: String,
    pub anonymous: bool,
    pub message: Option<String>,
    pub coffees: String,
    pub date: String,
    pub datetime: String,
    /// The "☕ monatlich" badge of a running monthly coffee.
    pub monthly: Option<&'static str>,
}

impl SupporterView {
    pub fn new(s: &Supporter, lang: Lang) -> Self {
        SupporterView {
            anonymous: s.name.is_none(),
            name: s
                .name
                .clone()
                .unwrap_or_else(|| lang.texts().anonymous.to_owned()),
            message: s.message.clone(),
            coffees: lang.coffees(s.coffees),
            date: lang.date(s.created_at),
            datetime: s.created_at.date().to_string(),
            monthly: s.monthly.then_some(lang.monthly().badge),
        }
    }
}

pub struct TotalsView {
    pub line: String,
    pub goal: Option<GoalView>,
}

pub struct GoalView {
    pub label: Option<String>,
    pub value: i64,
    pub max: u32,
    pub text: String,
}

/// A choice of the quantity select: "2 Kaffees – 10,00 €", "2 coffees – €10.00".
pub fn coffee_label(lang: Lang, pricing: &crate::domain::Pricing, n: u32) -> String {
    let total = Money::new(
        pricing.coffee_price_cents * i64::from(n),
        pricing.currency.clone(),
    );
    format!("{} – {}", lang.coffees(i64::from(n)), lang.money(&total))
}

impl TotalsView {
    pub fn new(t: &Totals, goal: Option<&Goal>, lang: Lang, currency: &Currency) -> Self {
        let amount = Money::new(t.amount_cents, currency.clone());
        TotalsView {
            line: lang.totals_line(t.coffees, t.supporters, &amount),
            goal: goal.map(|g| GoalView {
                label: g.label.clone(),
                value: t.coffees.min(i64::from(g.coffees)),
                max: g.coffees,
                text: lang
                    .texts()
                    .goal_progress
                    .replace("{coffees}", &t.coffees.to_string())
                    .replace("{goal}", &g.coffees.to_string()),
            }),
        }
    }
}
