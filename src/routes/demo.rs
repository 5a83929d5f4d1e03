//! The demo checkout pages (`/demo/checkout/{id}`), registered only with the demo provider.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use anyhow::Context;
use askama::Template;

use super::donate::cancel_url;
use super::error::PageError;
use super::here::Here;
use super::method;
use super::page::{Page, html};
use crate::domain::{Currency, DonationStatus, Money};
use crate::i18n::Lang;
use crate::state::State;
use crate::storage::donations::{self, DonationRow};
use crate::storage::{self};
use crate::webhook::signature;

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
    };
    Ok(html(StatusCode::OK, &page))
}

/// Sends a signed `checkout.session.completed` to our own webhook, then goes where Stripe would.
async fn pay(lang: Lang, path: web::Path<String>, state: State) -> Result<HttpResponse, PageError> {
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
        let event =
            crate::payments::demo::completed_event(&row, &success_url, &cancel_url(&state, lang), now);
        let body = event.to_string();
        let secrets: Vec<_> = state.webhook.secrets.iter().collect();
        let header = signature::sign(body.as_bytes(), &secrets, now);
        let response = state
            .http
            .post(format!("{}/webhooks/stripe", state.self_url))
            .header("Content-Type", "application/json")
            .header("Stripe-Signature", header)
            .body(body)
            .send()
            .await
            .context("sending the demo webhook")?;
        response
            .error_for_status()
            .context("the demo webhook was refused")?;
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
