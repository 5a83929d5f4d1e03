//! A monthly coffee on its supporter's manage page: how it stands, ending it (at once, or at the
//! end of the paid month), a new payment method (Stripe's customer portal), and in the demo the
//! buttons that play through the months.

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::error::PageError;
use super::manage_guard::guarded;
use crate::domain::{CancelSource, CancelWhen, DonationStatus, Money};
use crate::i18n::Lang;
use crate::payments::demo_monthly::DemoSubscription;
use crate::state::State;
use crate::storage;
use crate::storage::cancellations::{self, CancellationRow};
use crate::storage::subscriptions::{self, MonthlyRow};

/// What the manage page says about a monthly coffee.
pub struct MonthlyView {
    pub per_month: String,
    pub since: Option<String>,
    pub so_far: String,
    pub next_debit: Option<String>,
    pub renewal_failed: bool,
    pub processing: bool,
    pub ends_on: Option<String>,
    pub ended_on: Option<String>,
    /// Not ended: it can still be ended (at once, even after a cancellation at period end).
    pub running: bool,
    pub can_change_payment: bool,
    pub period_end_label: String,
    /// The demo's buttons for the next month.
    pub demo: bool,
}

pub async fn view(state: &State, lang: Lang, id: &str) -> Result<Option<MonthlyView>, sqlx::Error> {
    let Some(row) = subscriptions::find_by_id(state.db.pool(), id).await? else {
        return Ok(None);
    };
    let m = lang.monthly();
    let facts = row.subscription();
    let currency = crate::domain::Currency::parse(&row.currency)
        .unwrap_or_else(|_| state.rules.pricing.currency.clone());
    let month = Money::new(row.expected_amount_cents, currency);
    let date = |at: i64| lang.date_at(at);
    let running = row.is_running();
    let period_end = facts
        .view
        .as_ref()
        .and_then(|v| v.current_period_end)
        .or(row.paid_through);
    Ok(Some(MonthlyView {
        per_month: format!(
            "{} · {} {}",
            lang.coffees(row.asked().coffees),
            lang.money(&month),
            m.per_month
        ),
        since: row.paid_at.map(|at| m.active_since.replace("{date}", &date(at))),
        so_far: m.coffees_so_far.replace(
            "{coffees}",
            &lang.coffees(if row.paid_at.is_some() { row.coffees } else { 0 }),
        ),
        next_debit: facts
            .next_debit()
            .map(|at| m.next_debit.replace("{date}", &date(at))),
        renewal_failed: row.renewal_failed && running,
        processing: row.status == DonationStatus::Processing,
        ends_on: facts
            .ends_at_period_end()
            .then(|| period_end.map(|at| m.ends_on.replace("{date}", &date(at))))
            .flatten(),
        ended_on: row.ended_at.map(|at| m.ended_on.replace("{date}", &date(at))),
        running,
        can_change_payment: running && (row.customer_id.is_some() || state.provider.is_demo()),
        period_end_label: match period_end {
            Some(at) => format!("{} ({})", m.cancel_period_end, date(at)),
            None => m.cancel_period_end.to_owned(),
        },
        demo: state.provider.is_demo() && running,
    }))
}

/// A declaration made through the manage link (or an erasure): it names the donation, no
/// address.
pub fn declaration(row_id: &str, source: CancelSource, when: CancelWhen, lang: Lang) -> CancellationRow {
    CancellationRow::new(
        uuid::Uuid::new_v4().to_string(),
        storage::now(),
        source,
        when,
        lang.code(),
        Some(row_id.to_owned()),
    )
}

/// An erasure ends a running monthly coffee first (the pages say so), so no debit follows it:
/// declared and carried out; what Stripe cannot do now, the worker finishes.
pub async fn end_before_erasure(state: &State, id: &str, lang: Lang) -> anyhow::Result<()> {
    let running = subscriptions::find_by_id(state.db.pool(), id)
        .await?
        .is_some_and(|row| row.is_running());
    if running {
        let c = declaration(id, CancelSource::Erase, CancelWhen::Now, lang);
        state.canceller.declare_and_carry_out(c).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct WhenForm {
    when: Option<String>,
}

fn back(token: &str, lang: Lang, flag: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/manage/{token}?{flag}&lang={}", lang.code())))
        .finish()
}

async fn running(state: &State, id: &str) -> Result<MonthlyRow, PageError> {
    subscriptions::find_by_id(state.db.pool(), id)
        .await?
        .filter(MonthlyRow::is_running)
        .ok_or(PageError::NotFound)
}

/// `POST /manage/{token}/cancel` with `when=now|period_end`: stored, then carried out at once;
/// if Stripe fails, the worker carries it out later, and the page says it was received.
pub async fn cancel(
    req: HttpRequest,
    lang: Lang,
    path: web::Path<String>,
    form: web::Form<WhenForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let entry = guarded(&req, &state, &path).await?;
    running(&state, &entry.id).await?;
    let when = match form.when.as_deref() {
        None => CancelWhen::Now,
        Some(word) => CancelWhen::parse(word).ok_or(PageError::BadRequest)?,
    };
    // A second click while the first is still being carried out would only repeat it.
    if !cancellations::pending_for(state.db.pool(), &entry.id).await? {
        let c = declaration(&entry.id, CancelSource::Manage, when, lang);
        state.canceller.declare_and_carry_out(c).await?;
    }
    Ok(back(&path, lang, "cancelled=1"))
}

/// `POST /manage/{token}/payment-method`: 303 to Stripe's customer portal, where only the
/// payment method can be changed. The portal's URL is a capability: never logged.
pub async fn payment_method(
    req: HttpRequest,
    lang: Lang,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let entry = guarded(&req, &state, &path).await?;
    let row = running(&state, &entry.id).await?;
    // Each portal session is a Stripe API call: many manage links must not use up the quota.
    if !state.limits.portal.admit() {
        return Ok(back(&path, lang, "portal=unavailable"));
    }
    let return_url = format!(
        "{}/manage/{}?lang={}",
        state.public_url,
        path.as_str(),
        lang.code()
    );
    match state
        .provider
        .payment_method_portal(&row, &return_url, lang)
        .await
    {
        Ok(url) => Ok(HttpResponse::SeeOther().insert_header((LOCATION, url)).finish()),
        Err(e) => {
            tracing::warn!(kind = e.kind(), "could not open Stripe's customer portal");
            Ok(back(&path, lang, "portal=unavailable"))
        }
    }
}

/// The demo's "debit the next month" and "let the debit fail": the events Stripe would send for
/// the month after the paid one. After a cancellation at period end, the next month is the end.
pub async fn demo_month(
    req: HttpRequest,
    lang: Lang,
    path: web::Path<(String, String)>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let (token, what) = path.into_inner();
    let demo = state.provider.demo().ok_or(PageError::NotFound)?;
    let entry = guarded(&req, &state, &token).await?;
    let row = running(&state, &entry.id).await?;
    let sub = DemoSubscription::of(&row).ok_or(PageError::NotFound)?;
    let now = storage::now();
    let start = row.paid_through.unwrap_or(now);
    let events = match what.as_str() {
        _ if row.cancel_at_period_end => sub.cancelled(crate::payments::CancelWhen::Now, start, now),
        "renew" => sub.paid_month(start, "subscription_cycle", now),
        "fail" => sub.failed_month(start, now),
        _ => return Err(PageError::NotFound),
    };
    demo.poster()?.post(&events).await?;
    Ok(back(&token, lang, ""))
}
