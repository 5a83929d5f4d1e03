//! Monthly coffees in the admin: the figures (running, the monthly amount, what ended in each of
//! the last twelve months), a subscription's months, and the cancellations received.

use crate::domain::{CancelWhen, Currency, DeclarationState, EndReason, Money, SubscriptionStatus};
use crate::i18n::Lang;
use crate::state::State;
use crate::storage::admin_monthly::{self, MonthlyFigures};
use crate::storage::cancellations::CancellationRow;
use crate::storage::invoices::{self, InvoiceRow};
use crate::storage::subscriptions;

/// The figures at this moment.
pub async fn figures(state: &State) -> Result<MonthlyFigures, sqlx::Error> {
    let now = crate::storage::now();
    admin_monthly::figures(state.db.pool(), now, now - state.site.monthly_grace_secs).await
}

pub struct FiguresView {
    pub active: i64,
    pub recurring: String,
    /// Month, cancelled, failed or disputed.
    pub ended: Vec<(String, i64, i64)>,
}

pub fn figures_view(f: &MonthlyFigures, lang: Lang, currency: &Currency) -> FiguresView {
    FiguresView {
        active: f.active,
        recurring: lang.money(&Money::new(f.recurring_cents, currency.clone())),
        ended: f
            .ended
            .iter()
            .map(|m| (m.month.clone(), m.voluntary, m.involuntary))
            .collect(),
    }
}

/// One month of a subscription, as its admin page lists it.
pub struct InvoiceView {
    pub id: String,
    pub date: String,
    pub paid_through: String,
    pub status: &'static str,
    pub stripe_status: String,
    pub amount: String,
    pub refunded: Option<String>,
}

/// What a subscription's admin page shows beside the entry.
pub struct SubscriptionView {
    pub subscription_id: String,
    pub stripe_status: String,
    pub ended: Option<String>,
    pub running: bool,
    pub invoices: Vec<InvoiceView>,
}

pub async fn subscription(
    state: &State,
    id: &str,
    lang: Lang,
) -> Result<Option<SubscriptionView>, sqlx::Error> {
    let Some(row) = subscriptions::find_by_id(state.db.pool(), id).await? else {
        return Ok(None);
    };
    let m = lang.monthly();
    let rows = invoices::for_donation(state.db.pool(), id).await?;
    let facts = row.subscription();
    let ended = facts.ended.map(|e| {
        let why = match e.reason {
            EndReason::Cancelled => m.reason_cancelled,
            EndReason::PaymentFailed => m.reason_payment_failed,
            EndReason::Disputed => m.reason_disputed,
            EndReason::Other => m.reason_other,
        };
        format!("{why} ({})", lang.date_at(e.at))
    });
    let status = facts.view.map_or(SubscriptionStatus::Other, |v| v.status);
    Ok(Some(SubscriptionView {
        subscription_id: row.subscription_id.clone().unwrap_or_else(|| "–".into()),
        stripe_status: status.as_str().to_owned(),
        running: row.ended_at.is_none() && row.subscription_id.is_some(),
        ended,
        invoices: rows.iter().rev().map(|i| invoice_view(i, lang, state)).collect(),
    }))
}

fn invoice_view(i: &InvoiceRow, lang: Lang, state: &State) -> InvoiceView {
    let currency = Currency::parse(&i.currency).unwrap_or_else(|_| state.rules.pricing.currency.clone());
    InvoiceView {
        id: i.id.clone(),
        date: lang.date_at(i.paid_at.unwrap_or(i.created_at)),
        paid_through: i
            .period_end
            .map(|e| lang.date_at(e))
            .unwrap_or_else(|| "–".into()),
        status: lang.status(i.status),
        stripe_status: i.stripe_status.clone().unwrap_or_else(|| "–".into()),
        amount: lang.money(&Money::new(i.amount_cents, currency.clone())),
        refunded: (i.refunded_cents > 0).then(|| lang.money(&Money::new(i.refunded_cents, currency))),
    }
}

/// A cancellation as the admin sees it: when, how, what became of it.
pub struct CancellationView {
    pub date: String,
    pub source: &'static str,
    pub timing: String,
    pub state: String,
}

pub async fn recent_cancellations(state: &State, lang: Lang) -> Result<Vec<CancellationView>, sqlx::Error> {
    let m = lang.monthly();
    let rows: Vec<CancellationRow> = admin_monthly::recent(state.db.pool(), 20).await?;
    Ok(rows
        .iter()
        .map(|c| CancellationView {
            date: lang.date_at(c.created_at),
            source: c.source.as_str(),
            timing: match c.timing {
                CancelWhen::Now => m.when_now,
                CancelWhen::PeriodEnd => m.when_period_end,
            }
            .to_owned(),
            state: match (c.state, &c.last_error) {
                (DeclarationState::Done, _) => format!("{} ({})", m.admin_done, c.cancelled),
                (_, Some(e)) => format!("{}: {e}", m.admin_pending),
                _ => m.admin_pending.to_owned(),
            },
        })
        .collect())
}
