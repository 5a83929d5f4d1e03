//! How the admin pages show donations and monthly totals.

use crate::domain::{Currency, Money};
use crate::i18n::Lang;
use crate::storage::admin::{AdminRow, MonthTotals};

/// A donation as the admin list shows it.
pub struct RowView {
    pub id: String,
    pub date: String,
    /// The status in the blogger's language.
    pub status: &'static str,
    pub coffees: i64,
    pub amount: String,
    pub refunded: Option<String>,
    pub name: String,
    pub message: String,
    pub public: bool,
    pub hidden: bool,
    pub held: bool,
    pub erased: bool,
    pub mismatch: bool,
}

impl RowView {
    pub fn new(r: &AdminRow, lang: Lang, fallback: &Currency) -> Self {
        let currency = Currency::parse(&r.currency).unwrap_or_else(|_| fallback.clone());
        let date = time::OffsetDateTime::from_unix_timestamp(r.created_at)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        RowView {
            id: r.id.clone(),
            date: lang.date(date),
            status: lang.status(r.status),
            coffees: r.coffees,
            amount: lang.money(&Money::new(r.amount_cents, currency.clone())),
            refunded: (r.refunded_cents > 0).then(|| lang.money(&Money::new(r.refunded_cents, currency))),
            name: r.name.clone().unwrap_or_default(),
            message: r.message.clone().unwrap_or_default(),
            public: r.visibility.is_public(),
            hidden: r.hidden,
            held: r.held,
            erased: r.erased_at.is_some(),
            mismatch: r.amount_mismatch,
        }
    }
}

pub struct TotalsRow {
    pub month: String,
    pub donations: i64,
    pub coffees: i64,
    pub gross: String,
    pub refunded: String,
    pub lost: String,
    pub net: String,
}

pub fn totals_rows(months: &[MonthTotals], lang: Lang, currency: &Currency) -> Vec<TotalsRow> {
    let money = |c: i64| lang.money(&Money::new(c, currency.clone()));
    let row = |m: &MonthTotals| TotalsRow {
        month: m.month.clone(),
        donations: m.donations,
        coffees: m.coffees,
        gross: money(m.gross_cents),
        refunded: money(m.refunded_cents),
        lost: money(m.disputed_lost_cents),
        net: money(m.net_cents),
    };
    let mut rows: Vec<TotalsRow> = months.iter().map(row).collect();
    let overall = months.iter().fold(MonthTotals::default(), |mut acc, m| {
        acc.donations += m.donations;
        acc.coffees += m.coffees;
        acc.gross_cents += m.gross_cents;
        acc.refunded_cents += m.refunded_cents;
        acc.disputed_lost_cents += m.disputed_lost_cents;
        acc.net_cents += m.net_cents;
        acc
    });
    rows.push(TotalsRow {
        month: lang.texts().admin_overall.to_owned(),
        ..row(&overall)
    });
    rows
}
