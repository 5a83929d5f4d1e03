//! Checkout providers: real Stripe, or the built-in demo that stands in for it.

pub mod demo;
pub mod demo_monthly;
pub mod stripe;
mod stripe_billing;
pub mod stripe_webhooks;

use crate::domain::Interval;
use crate::i18n::Lang;
use crate::storage::subscriptions::MonthlyRow;
use crate::webhook::event::{Invoice, Session, Subscription};

/// What we ask the provider for. The amount is computed by us, never taken from the client.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub donation_id: String,
    /// Once (a payment), or every month (a subscription).
    pub interval: Interval,
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
pub fn description(coffees: u32, interval: Interval) -> String {
    let unit = if coffees == 1 { "Kaffee" } else { "Kaffees" };
    match interval {
        Interval::Once => format!("Kaffeekasse: {coffees} {unit}"),
        Interval::Month => format!("Kaffeekasse: {coffees} {unit} im Monat"),
    }
}

pub use crate::domain::CancelWhen;

/// What became of a request to end a subscription.
#[derive(Debug)]
pub enum Cancelled {
    /// Stripe answered with the subscription as it now is.
    Reported(Box<Subscription>),
    /// The demo sent the events Stripe would send.
    Sent,
    /// Stripe does not know the subscription (another account's key, say): nothing was ended.
    Unknown,
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

    /// Ends a monthly coffee, at once or at the end of the paid month. `key` makes a retry the
    /// same request; after a 5xx, pass a new one.
    pub async fn cancel_subscription(
        &self,
        row: &MonthlyRow,
        when: CancelWhen,
        key: &str,
    ) -> Result<Cancelled, ProviderError> {
        match self {
            Provider::Demo(p) => p
                .cancel_subscription(row, when)
                .await
                .map(|()| Cancelled::Sent)
                .map_err(|e| ProviderError::Unavailable(format!("{e:#}"))),
            Provider::Stripe(p) => match row.subscription_id.as_deref() {
                Some(id) => Ok(match p.cancel_subscription(id, when, key).await? {
                    Some(sub) => Cancelled::Reported(Box::new(sub)),
                    None => Cancelled::Unknown,
                }),
                None => Ok(Cancelled::Unknown),
            },
        }
    }

    /// Where the reader changes their payment method: Stripe's customer portal, or the demo's
    /// page. The URL is a capability: never log it.
    pub async fn payment_method_portal(
        &self,
        row: &MonthlyRow,
        return_url: &str,
        lang: Lang,
    ) -> Result<String, ProviderError> {
        match (self, row.customer_id.as_deref()) {
            (Provider::Demo(_), _) => Ok(format!("{return_url}&portal=demo")),
            (Provider::Stripe(p), Some(customer)) => {
                p.payment_method_portal(customer, return_url, lang).await
            }
            (Provider::Stripe(_), None) => Err(ProviderError::NotFound),
        }
    }

    /// The subscription as Stripe holds it; `None` for the demo or a subscription Stripe does
    /// not know.
    pub async fn retrieve_subscription(
        &self,
        row: &MonthlyRow,
    ) -> Result<Option<Subscription>, ProviderError> {
        match (self, row.subscription_id.as_deref()) {
            (Provider::Stripe(p), Some(id)) => p.retrieve_subscription(id).await,
            _ => Ok(None),
        }
    }

    /// The subscription and its paid invoices as Stripe holds them; `None` where there is
    /// nothing to ask (demo) or Stripe does not know it.
    pub async fn subscription_state(
        &self,
        subscription_id: &str,
    ) -> Result<Option<(Subscription, Vec<Invoice>)>, ProviderError> {
        let Provider::Stripe(p) = self else {
            return Ok(None);
        };
        let Some(sub) = p.retrieve_subscription(subscription_id).await? else {
            return Ok(None);
        };
        let invoices = p.paid_invoices(subscription_id).await?;
        Ok(Some((sub, invoices)))
    }

    pub fn demo(&self) -> Option<&demo::DemoProvider> {
        match self {
            Provider::Demo(p) => Some(p),
            Provider::Stripe(_) => None,
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
        use crate::domain::Interval;
        assert_eq!(super::description(1, Interval::Once), "Kaffeekasse: 1 Kaffee");
        assert_eq!(super::description(3, Interval::Once), "Kaffeekasse: 3 Kaffees");
        assert_eq!(
            super::description(2, Interval::Month),
            "Kaffeekasse: 2 Kaffees im Monat"
        );
    }
}
