//! The demo checkout pages (`/demo/checkout/{id}`), registered only with the demo provider.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::donate::cancel_url;
use super::error::PageError;
use super::here::Here;
use super::method;
use super::page::{Page, html};
use crate::domain::{Currency, DonationStatus, Interval, Money};
use crate::i18n::Lang;
use crate::payments::{demo, demo_monthly};
use crate::state::State;
use crate::storage::donations::{self, DonationRow};
use crate::storage::{self};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/demo/checkout/{id}")
            .guard(actix_web::guard::fn_guard(|ctx| {
                ctx.app_data::<State>().is_some_and(|s| s.provider.is_demo())
            }))
            .service(web::resource("").route(method::get().to(show)))
            .service(web::resource("/pay").route(web::post().to(pay)))
            .service(web::resource("/cancel").route(web::post().to(cancel))),
    );
}

#[derive(Template)]
#[template(path = "demo_checkout.html")]
struct DemoCheckoutPage {
    page: Page,
    session_id: String,
    coffees: String,
    amount: String,
    /// Why the session can no longer be paid, if it cannot.
    closed: Option<&'static str>,
    /// A monthly coffee: the amount is per month, and Stripe would ask for an e-mail address.
    monthly: bool,
}

/// The demo donation behind a `cs_demo_…` session.
async fn demo_donation(state: &State, session_id: &str) -> Result<DonationRow, PageError> {
    match donations::find_by_session(state.db.pool(), session_id).await? {
        Some(row) if row.provider == "demo" => Ok(row),
        _ => Err(PageError::NotFound),
    }
}

async fn show(
    lang: Lang,
    here: Here,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let row = demo_donation(&state, &path).await?;
    let currency = Currency::parse(&row.currency).unwrap_or_else(|_| state.rules.pricing.currency.clone());
    let t = lang.texts();
    let page = DemoCheckoutPage {
        page: Page::new(&state, lang, &here, t.demo_title),
        // Like Stripe's own page: a session that is paid or over offers nothing more to pay.
        closed: match row.status {
            DonationStatus::Pending => None,
            DonationStatus::Expired | DonationStatus::Failed => Some(t.demo_closed),
            _ => Some(t.demo_paid),
        },
        session_id: path.into_inner(),
        coffees: lang.coffees(row.coffees),
        amount: lang.money(&Money::new(row.expected_amount_cents, currency)),
        monthly: row.interval == Interval::Month,
    };
    Ok(html(StatusCode::OK, &page))
}

/// What the demo checkout's form sends: the e-mail address Stripe would collect (monthly).
#[derive(serde::Deserialize, Default)]
pub struct PayForm {
    #[serde(default)]
    email: String,
}

/// Sends the signed events Stripe would send (a one-time payment's completion; for a monthly
/// coffee also its subscription and first invoice) to our own webhook, then goes where Stripe
/// would.
async fn pay(
    lang: Lang,
    path: web::Path<String>,
    form: Option<web::Form<PayForm>>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let row = demo_donation(&state, &path).await?;
    let success_url = format!(
        "{}/thanks?session_id={}&lang={}",
        state.public_url,
        row.checkout_session_id.as_deref().unwrap_or_default(),
        lang.code()
    );
    // Paying twice would send a second event for the same session; Stripe would not.
    if row.status == DonationStatus::Pending {
        let now = storage::now();
        let session = demo::session(&row, &success_url, &cancel_url(&state, lang));
        let email = form
            .as_ref()
            .map(|f| f.email.trim())
            .filter(|e| e.contains('@') && e.len() <= 254);
        let events = match row.interval {
            Interval::Once => vec![demo_monthly::envelope("checkout.session.completed", session, now)],
            Interval::Month => demo_monthly::first_month(session, &row, email, now),
        };
        let poster = state.provider.demo().ok_or(PageError::NotFound)?.poster()?;
        poster.post(&events).await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, success_url))
        .finish())
}

async fn cancel(lang: Lang, state: State) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, cancel_url(&state, lang)))
        .finish()
}
