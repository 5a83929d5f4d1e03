//! Checkout providers: real Stripe, or the built-in demo that stands in for it.

pub mod demo;
pub mod stripe;

use crate::i18n::Lang;
use crate::webhook::event::Session;

/// What we ask the provider for. The amount is computed by us, never taken from the client.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub donation_id: String,
    /// The same for a repeated submission of the same form (double click, retry): the provider
    /// then answers with the same session instead of a second one.
    pub idempotency_key: String,
    /// On the reader's receipt: `Kaffeekasse: 2 Kaffees`.
    pub description: String,
    /// Next to the pay button: a voluntary payment for the blog, no donation receipt.
    pub submit_message: String,
    pub coffees: u32,
    pub unit_amount_cents: i64,
    pub currency: String,
    pub lang: Lang,
    pub success_url: String,
    pub cancel_url: String,
}

/// The payment's description in the blogger's Dashboard and on the reader's receipt, fixed so
/// that every payment reads the same whatever the site's name or the reader's language.
pub fn description(coffees: u32) -> String {
    let unit = if coffees == 1 { "Kaffee" } else { "Kaffees" };
    format!("Kaffeekasse: {coffees} {unit}")
}

#[derive(Debug, Clone)]
pub struct CheckoutSession {
    pub id: String,
    pub url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the payment provider did not answer in time")]
    Timeout,
    /// A network error, or a 409 (a request with the same key is still running): the same
    /// request may succeed if sent again.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
    /// A 5xx (or a proxy's error page). Stripe saves the answer under the idempotency key once
    /// it started executing and replays it, so the same key would only get the same error.
    #[error("the payment provider failed on its side: {0}")]
    ServerError(String),
    /// 429: Stripe's rate limit for the account; back off.
    #[error("the payment provider's rate limit was reached")]
    RateLimited,
    #[error("the payment provider does not know it")]
    NotFound,
    #[error("the payment provider failed: {0}")]
    Failed(String),
}

impl ProviderError {
    /// Whether the same request, with the same idempotency key, may succeed if sent again:
    /// what Stripe's own libraries retry (a connection failure, a timeout, 409 and 429).
    pub fn retries_with_same_key(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout | ProviderError::Unavailable(_) | ProviderError::RateLimited
        )
    }

    /// One word for the metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::Timeout => "timeout",
            ProviderError::Unavailable(_) => "unavailable",
            ProviderError::ServerError(_) => "server_error",
            ProviderError::RateLimited => "rate_limited",
            ProviderError::NotFound => "not_found",
            ProviderError::Failed(_) => "failed",
        }
    }
}

/// One page of Stripe's Events API.
#[derive(Debug)]
pub struct EventPage {
    /// Each event's raw JSON, as it would arrive at the webhook.
    pub events: Vec<String>,
    pub has_more: bool,
    /// The id to continue after (`starting_after`), taken from the raw list so that an event we
    /// cannot parse still moves pagination forward.
    pub last_id: Option<String>,
}

pub enum Provider {
    Demo(demo::DemoProvider),
    // Boxed: the Stripe client is large and there is exactly one provider per process.
    Stripe(Box<stripe::StripeProvider>),
}

impl Provider {
    pub async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        match self {
            Provider::Demo(p) => Ok(p.create_checkout(req)),
            Provider::Stripe(p) => p.create_checkout(req).await,
        }
    }

    /// The session as Stripe holds it now; `None` where there is nothing to ask (demo).
    pub async fn retrieve_session(&self, id: &str) -> Result<Option<Session>, ProviderError> {
        match self {
            Provider::Demo(_) => Ok(None),
            Provider::Stripe(p) => p.retrieve_session(id).await,
        }
    }

    pub fn is_demo(&self) -> bool {
        matches!(self, Provider::Demo(_))
    }

    /// Whether events must carry `livemode: true`: a live key's. The demo is test mode.
    pub fn livemode(&self) -> bool {
        match self {
            Provider::Demo(_) => false,
            Provider::Stripe(p) => p.livemode(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Provider::Demo(_) => "demo",
            Provider::Stripe(_) => "stripe",
        }
    }

    pub fn stripe(&self) -> Option<&stripe::StripeProvider> {
        match self {
            Provider::Stripe(p) => Some(p),
            Provider::Demo(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_description_counts_coffees_in_german() {
        assert_eq!(super::description(1), "Kaffeekasse: 1 Kaffee");
        assert_eq!(super::description(3), "Kaffeekasse: 3 Kaffees");
    }
}
