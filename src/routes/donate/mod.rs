//! `POST /donate`: validates the reader's choice, opens a checkout session, records the pending
//! donation and sends the reader to the checkout (303 for forms, JSON for scripts).

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::client_ip::client_key;
use super::error::PageError;
use super::here::Here;
use super::home::{FieldError, render_form};
use crate::i18n::Lang;
use crate::payments::{CheckoutRequest, ProviderError};
use crate::state::State;
use crate::storage::{self, donations::NewDonation};

mod decoy;
mod error;
mod identity;
mod input;

pub use error::DonateError;
pub use input::DonationForm;
use input::RawDonation;

enum Checkout {
    Started(crate::payments::CheckoutSession),
    Honeypot,
}

pub async fn donate(
    req: HttpRequest,
    body: web::Bytes,
    mut lang: Lang,
    state: State,
) -> Result<HttpResponse, PageError> {
    let is_json = crate::routes::error::sends_json(&req);
    let result = async {
        let raw: RawDonation = if is_json {
            serde_json::from_slice(&body).map_err(|e| DonateError::BadBody(e.to_string()))?
        } else {
            serde_urlencoded::from_bytes(&body).map_err(|e| DonateError::BadBody(e.to_string()))?
        };
        if let Some(l) = raw.lang.as_deref().and_then(Lang::from_code) {
            lang = l;
        }
        let form = raw
            .validate(state.rules.pricing.max_coffees, lang)
            .map_err(|errors| DonateError::Invalid {
                errors,
                values: raw.values(),
            })?;
        // After validation, so a bot meets the same errors a reader would.
        if raw.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
            return Ok(Checkout::Honeypot);
        }
        let header = req
            .headers()
            .get("Idempotency-Key")
            .map(|v| v.to_str().unwrap_or("\u{0}"));
        let key = raw
            .idempotency_key(header, &form, lang, state.rules.pricing.coffee_price_cents)
            .map_err(|()| {
                DonateError::BadBody("Idempotency-Key must be 8 to 64 letters, digits, - or _".into())
            })?;
        // Limits count only requests that would start a checkout: a typo costs nothing, and a
        // repeated form gets the checkout it already has, even at the limit.
        let repeat = match &key {
            Some(k) => identity::is_repeat(&state, k).await?,
            None => false,
        };
        if !repeat {
            let client = client_key(&req, &state.abuse.trusted_proxies);
            // A reader who loaded the form may use the budget kept for readers (`auth::nonce`).
            let signed = raw
                .nonce
                .as_deref()
                .is_some_and(|n| crate::auth::nonce::is_signed(&state.signer, n, storage::now()));
            state.limits.donate.check(client, signed).map_err(|wait| {
                if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::DonateLimited) {
                    tracing::info!(?wait, left_out, "checkout rate limit reached");
                }
                DonateError::RateLimited {
                    wait,
                    values: raw.values(),
                }
            })?;
        }
        start_checkout(&state, &form, lang, key)
            .await
            .map(Checkout::Started)
    }
    .await;
    match result {
        Ok(Checkout::Started(session)) if is_json => {
            Ok(HttpResponse::Ok().json(json!({ "id": session.id, "url": session.url })))
        }
        Ok(Checkout::Started(session)) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, session.url))
            .finish()),
        // A bot that filled the honeypot gets what a reader gets: a checkout of the same shape
        // (`decoy`), which leads nowhere. No session exists and Stripe is not asked.
        Ok(Checkout::Honeypot) => {
            if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::Honeypot) {
                tracing::info!(left_out, "donate honeypot filled; no checkout started");
            }
            let session = decoy::session(&state);
            Ok(if is_json {
                HttpResponse::Ok().json(json!({ "id": session.id, "url": session.url }))
            } else {
                HttpResponse::SeeOther()
                    .insert_header((LOCATION, session.url))
                    .finish()
            })
        }
        Err(e) => {
            log_error(&e);
            match e {
                _ if is_json => Ok(e.json(lang)),
                DonateError::Invalid { errors, values } => Ok(render_form(
                    &state,
                    lang,
                    &Here::of(&req),
                    values,
                    errors,
                    false,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await),
                // The form again, with what the reader typed and why it was not sent.
                DonateError::RateLimited { wait, values } => {
                    let mut response = render_form(
                        &state,
                        lang,
                        &Here::of(&req),
                        values,
                        vec![FieldError {
                            field: "donate-submit",
                            message: lang.texts().rate_limited_form.to_owned(),
                        }],
                        false,
                        StatusCode::TOO_MANY_REQUESTS,
                    )
                    .await;
                    response.headers_mut().insert(
                        actix_web::http::header::RETRY_AFTER,
                        actix_web::http::header::HeaderValue::from(error::retry_after_secs(wait)),
                    );
                    Ok(response)
                }
                other => Err(other.into()),
            }
        }
    }
}

async fn start_checkout(
    state: &State,
    form: &DonationForm,
    lang: Lang,
    idempotency_key: Option<String>,
) -> Result<crate::payments::CheckoutSession, DonateError> {
    let pricing = &state.rules.pricing;
    // A second click waits for the first one's checkout, then gets the same one.
    let _one_at_a_time = match &idempotency_key {
        Some(key) => Some(state.checkout_locks.lock(key).await),
        None => None,
    };
    // After a 5xx the form's key would only get Stripe's saved error again: its successor.
    let form_key = idempotency_key.clone();
    let sent_key = idempotency_key.map(|k| state.spoiled_keys.current(&k));
    let (donation_id, idempotency_key) = identity::checkout_identity(state, sent_key).await?;
    let lang_suffix = if lang == Lang::En { "&lang=en" } else { "" };
    let request = CheckoutRequest {
        interval: form.interval,
        idempotency_key,
        description: crate::payments::description(form.coffees.get(), form.interval),
        submit_message: lang.texts().checkout_submit_message.to_owned(),
        donation_id: donation_id.clone(),
        coffees: form.coffees.get(),
        unit_amount_cents: pricing.coffee_price_cents,
        currency: pricing.currency.as_str().to_owned(),
        lang,
        success_url: format!(
            "{}/thanks?session_id={{CHECKOUT_SESSION_ID}}{lang_suffix}",
            state.public_url
        ),
        cancel_url: cancel_url(state, lang),
    };
    let session = match state.provider.create_checkout(&request).await {
        Ok(session) => session,
        Err(e) => {
            if let (ProviderError::ServerError(_), Some(key)) = (&e, &form_key) {
                state.spoiled_keys.spoil(key);
            }
            return Err(DonateError::Provider(e));
        }
    };
    // The row is written only once the provider has a session for it, so a provider failure
    // leaves nothing behind that could look like a live donation.
    let name = form.name.as_ref().map(|n| n.as_str().to_owned());
    let message = form.message.as_ref().map(|m| m.as_str().to_owned());
    let donation = NewDonation {
        id: donation_id,
        provider: state.provider.name(),
        checkout_session_id: session.id.clone(),
        coffees: form.coffees.get(),
        amount_cents: pricing.amount_cents(form.coffees),
        currency: pricing.currency.as_str().to_owned(),
        held: state
            .rules
            .needs_review(form.visibility, name.as_deref(), message.as_deref()),
        name,
        message,
        visibility: form.visibility,
        livemode: state.provider.livemode(),
        created_at: storage::now(),
        interval: form.interval,
    };
    let (id, coffees) = (donation.id.clone(), donation.coffees);
    let inserted = state
        .db
        .write(move |conn| Box::pin(async move { storage::donations::insert(conn, &donation).await }))
        .await
        .map_err(anyhow::Error::from)?;
    if !inserted {
        // A repeated submission: Stripe answered with the session the row already has.
        let existing = storage::donations::find_by_id(state.db.pool(), &id)
            .await
            .map_err(anyhow::Error::from)?;
        if existing.and_then(|row| row.checkout_session_id) != Some(session.id.clone()) {
            return Err(anyhow::anyhow!("donation {id} exists with another checkout session").into());
        }
    }
    // Not the session id: it opens the thanks page, and so the donor's manage link.
    tracing::info!(donation_id = %id, coffees, interval = %form.interval, "checkout started");
    Ok(session)
}

/// Where Stripe sends a reader who cancels: the blog if configured, else our page in the
/// reader's language.
pub fn cancel_url(state: &State, lang: Lang) -> String {
    state
        .site
        .blog_url
        .clone()
        .unwrap_or_else(|| format!("{}/?canceled=1&lang={}", state.public_url, lang.code()))
}

/// Refusals of the reader's input are routine; a provider failure is worth an error with its
/// cause. Internal errors are logged where they become a response.
fn log_error(e: &DonateError) {
    match e {
        DonateError::Invalid { .. } | DonateError::BadBody(_) => {
            if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::DonateRejected) {
                tracing::info!(error = %e, left_out, "donation rejected")
            }
        }
        DonateError::Provider(cause) => tracing::error!(error = ?cause, "checkout provider failed"),
        DonateError::RateLimited { .. } | DonateError::Unexpected(_) => {}
    }
}
