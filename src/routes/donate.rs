//! `POST /donate`: validates the reader's choice, opens a checkout session, records the pending
//! donation and sends the reader to the checkout (303 for forms, JSON for scripts).

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue, LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::json;

use super::State;
use super::client_ip::client_ip;
use super::home::{FieldError, FormValues, render_form};
use super::page;
use crate::domain::{Coffees, Message, SupporterName, Visibility};
use crate::i18n::Lang;
use crate::payments::{CheckoutRequest, ProviderError};
use crate::storage::{self, donations::NewDonation};

/// A validated donation request.
#[derive(Debug)]
pub struct DonationForm {
    pub coffees: Coffees,
    pub name: Option<SupporterName>,
    pub message: Option<Message>,
    pub visibility: Visibility,
}

/// The form or JSON body as received, before validation. Unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDonation {
    coffees: Option<Scalar>,
    name: Option<String>,
    message: Option<String>,
    public: Option<Scalar>,
    lang: Option<String>,
    /// The honeypot: hidden from people, irresistible to form-filling bots.
    website: Option<String>,
}

/// JSON clients may send `2` or `"2"`, `true` or `"on"`; forms always send strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Text(String),
}

impl Scalar {
    fn as_text(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Text(s) => s.clone(),
        }
    }
}

impl RawDonation {
    fn values(&self) -> FormValues {
        FormValues {
            coffees: self.coffees.as_ref().map(Scalar::as_text).unwrap_or_default(),
            name: self.name.clone().unwrap_or_default(),
            message: self.message.clone().unwrap_or_default(),
            public: self
                .public
                .as_ref()
                .map(Scalar::as_text)
                .as_deref()
                .is_some_and(|p| p == "on" || p == "true"),
        }
    }

    /// Every field's error at once, so the reader can fix them together.
    fn validate(&self, max_coffees: u32, lang: Lang) -> Result<DonationForm, Vec<FieldError>> {
        let t = lang.texts();
        let values = self.values();
        let mut errors = Vec::new();
        let mut err = |field, message: String| errors.push(FieldError { field, message });
        let coffees = Coffees::parse(
            if values.coffees.is_empty() {
                "1"
            } else {
                &values.coffees
            },
            max_coffees,
        )
        .map_err(|_| {
            err(
                "coffees",
                t.err_coffees.replace("{max}", &max_coffees.to_string()),
            )
        });
        let name = SupporterName::parse(&values.name).map_err(|_| err("name", t.err_name.into()));
        let message = Message::parse(&values.message).map_err(|_| err("message", t.err_message.into()));
        let visibility = Visibility::from_checkbox(self.public.as_ref().map(Scalar::as_text).as_deref())
            .map_err(|_| err("public", t.err_public.into()));
        match (coffees, name, message, visibility) {
            (Ok(coffees), Ok(name), Ok(message), Ok(visibility)) => Ok(DonationForm {
                coffees,
                name,
                message,
                visibility,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DonateError {
    #[error("unreadable request body: {0}")]
    BadBody(String),
    #[error("invalid donation")]
    Invalid {
        errors: Vec<FieldError>,
        values: FormValues,
    },
    #[error("too many checkouts; retry in {0:?}")]
    RateLimited(std::time::Duration),
    #[error("checkout provider timed out")]
    ProviderTimeout(#[source] ProviderError),
    #[error("checkout provider failed")]
    Provider(#[source] ProviderError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl DonateError {
    fn status(&self) -> StatusCode {
        match self {
            DonateError::BadBody(_) => StatusCode::BAD_REQUEST,
            DonateError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DonateError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            // A timeout is a 502 too: to the reader both mean "the payment service failed".
            DonateError::ProviderTimeout(_) | DonateError::Provider(_) => StatusCode::BAD_GATEWAY,
            DonateError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON error body: the field at fault and a message; internal causes stay in the log.
    fn json(&self, lang: Lang) -> HttpResponse {
        let t = lang.texts();
        let (field, message) = match self {
            DonateError::BadBody(_) => (None, t.err_body.to_owned()),
            DonateError::Invalid { errors, .. } => {
                let first = errors.first();
                (
                    first.map(|e| e.field),
                    first.map(|e| e.message.clone()).unwrap_or_default(),
                )
            }
            DonateError::RateLimited(_) => (None, t.rate_limited_text.to_owned()),
            DonateError::ProviderTimeout(_) | DonateError::Provider(_) => {
                (None, t.provider_error_text.to_owned())
            }
            DonateError::Unexpected(_) => (None, t.error_text.to_owned()),
        };
        let response = HttpResponse::build(self.status())
            .json(json!({ "error": { "field": field, "message": message } }));
        self.with_retry_after(response)
    }

    async fn html(self, state: &State, lang: Lang) -> HttpResponse {
        let t = lang.texts();
        let status = self.status();
        let retry = self.with_retry_after(HttpResponse::Ok().finish());
        let mut response = match self {
            DonateError::Invalid { errors, values } => {
                render_form(state, lang, values, errors, false, status).await
            }
            DonateError::BadBody(_) => page::message(state, lang, status, t.form_error_heading, t.err_body),
            DonateError::RateLimited(_) => {
                page::message(state, lang, status, t.rate_limited_heading, t.rate_limited_text)
            }
            DonateError::ProviderTimeout(_) | DonateError::Provider(_) => page::message(
                state,
                lang,
                status,
                t.provider_error_heading,
                t.provider_error_text,
            ),
            DonateError::Unexpected(_) => page::server_error_page(state, lang),
        };
        if let Some(v) = retry.headers().get(RETRY_AFTER) {
            response.headers_mut().insert(RETRY_AFTER, v.clone());
        }
        response
    }

    /// Adds `Retry-After` (whole seconds, rounded up) to a 429.
    fn with_retry_after(&self, mut response: HttpResponse) -> HttpResponse {
        if let DonateError::RateLimited(wait) = self {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, v);
            }
        }
        response
    }
}

// Only used for the status in logs; responses are built by `json` and `html`.
impl ResponseError for DonateError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }
}

enum Checkout {
    Started(crate::payments::CheckoutSession),
    Honeypot,
}

pub async fn donate(req: HttpRequest, body: web::Bytes, state: State) -> HttpResponse {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let mut lang = Lang::negotiate(&req);
    let result = async {
        let raw: RawDonation = if is_json {
            serde_json::from_slice(&body).map_err(|e| DonateError::BadBody(e.to_string()))?
        } else {
            serde_urlencoded::from_bytes(&body).map_err(|e| DonateError::BadBody(e.to_string()))?
        };
        if let Some(l) = raw.lang.as_deref().and_then(Lang::from_code) {
            lang = l;
        }
        if raw.website.as_deref().is_some_and(|w| !w.trim().is_empty()) {
            return Ok(Checkout::Honeypot);
        }
        let form = raw
            .validate(state.settings.pricing.max_coffees, lang)
            .map_err(|errors| DonateError::Invalid {
                errors,
                values: raw.values(),
            })?;
        // Limits count only requests that would reach Stripe: a typo costs nothing.
        let ip = client_ip(&req, &state.settings.trusted_proxies);
        state.donate_limits.check(ip).map_err(|wait| {
            tracing::warn!(%ip, ?wait, "checkout rate limit reached");
            DonateError::RateLimited(wait)
        })?;
        start_checkout(&state, &form, lang).await.map(Checkout::Started)
    }
    .await;
    match result {
        Ok(Checkout::Started(session)) if is_json => {
            HttpResponse::Ok().json(json!({ "id": session.id, "url": session.url }))
        }
        Ok(Checkout::Started(session)) => HttpResponse::SeeOther()
            .insert_header((LOCATION, session.url))
            .finish(),
        // A bot that filled the honeypot sees success and learns nothing; no session exists.
        Ok(Checkout::Honeypot) => {
            tracing::info!("donate honeypot filled; no checkout started");
            let t = lang.texts();
            if is_json {
                let fake = format!("cs_{}", crate::payments::demo::random_token());
                HttpResponse::Ok().json(
                    json!({ "id": fake, "url": format!("{}/thanks?session_id={fake}", state.public_url) }),
                )
            } else {
                page::message(&state, lang, StatusCode::OK, t.thanks_heading, t.confirming_slow)
            }
        }
        Err(e) => {
            log_error(&e);
            if is_json {
                e.json(lang)
            } else {
                e.html(&state, lang).await
            }
        }
    }
}

async fn start_checkout(
    state: &State,
    form: &DonationForm,
    lang: Lang,
) -> Result<crate::payments::CheckoutSession, DonateError> {
    let pricing = &state.settings.pricing;
    let donation_id = uuid::Uuid::new_v4().to_string();
    let lang_suffix = if lang == Lang::En { "&lang=en" } else { "" };
    let request = CheckoutRequest {
        donation_id: donation_id.clone(),
        coffees: form.coffees.get(),
        unit_amount_cents: pricing.coffee_price_cents,
        currency: pricing.currency.as_str().to_owned(),
        lang,
        success_url: format!(
            "{}/thanks?session_id={{CHECKOUT_SESSION_ID}}{lang_suffix}",
            state.public_url
        ),
        cancel_url: cancel_url(state),
    };
    let session = state
        .provider
        .create_checkout(&request)
        .await
        .map_err(|e| match e {
            ProviderError::Timeout => DonateError::ProviderTimeout(e),
            other => DonateError::Provider(other),
        })?;
    // The row is written only once the provider has a session for it, so a provider failure
    // leaves nothing behind that could look like a live donation.
    let donation = NewDonation {
        id: donation_id,
        provider: state.provider.name(),
        checkout_session_id: session.id.clone(),
        coffees: form.coffees.get(),
        amount_cents: pricing.coffee_price_cents * i64::from(form.coffees.get()),
        currency: pricing.currency.as_str().to_owned(),
        name: form.name.as_ref().map(|n| n.as_str().to_owned()),
        message: form.message.as_ref().map(|m| m.as_str().to_owned()),
        visibility: form.visibility,
        held: crate::domain::needs_review(
            state.settings.moderation,
            form.visibility == Visibility::Public,
            &[
                form.name.as_ref().map_or("", |n| n.as_str()),
                form.message.as_ref().map_or("", |m| m.as_str()),
            ],
            &state.settings.blocked_words,
        ),
        livemode: state.settings.payment.livemode(),
        created_at: storage::now(),
    };
    let mut tx = storage::begin_write(&state.pool)
        .await
        .map_err(anyhow::Error::from)?;
    storage::donations::insert(&mut tx, &donation)
        .await
        .map_err(anyhow::Error::from)?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    tracing::info!(donation_id = %donation.id, session_id = %session.id, coffees = donation.coffees, "checkout started");
    Ok(session)
}

/// Where Stripe sends a reader who cancels: the blog if configured, else our page.
pub fn cancel_url(state: &State) -> String {
    state
        .settings
        .blog_url
        .clone()
        .unwrap_or_else(|| format!("{}/?canceled=1", state.public_url))
}

fn log_error(e: &DonateError) {
    match e {
        DonateError::Invalid { .. } | DonateError::BadBody(_) => {
            tracing::info!(error = %e, "donation rejected")
        }
        other => tracing::error!(error = ?other, "donation failed"),
    }
}
