//! Going live: the Stripe webhook endpoint that sends exactly the event types the service
//! handles (`kaffeekasse stripe webhook-setup` and `webhook-check`).

use stripe_client_core::{RequestBuilder, StripeMethod};

use super::ProviderError;
use super::stripe::StripeProvider;

/// A webhook endpoint as Stripe lists it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Endpoint {
    pub id: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub enabled_events: Vec<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// Only in the answer to its creation: shown once, never again.
    #[serde(default)]
    pub secret: Option<String>,
}

/// How an endpoint's event types differ from those the service handles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    /// Handled here, but not sent: those events would be lost.
    pub missing: Vec<String>,
    /// Sent, but not handled: each costs a delivery and is stored as ignored.
    pub extra: Vec<String>,
}

/// `enabled` against `handled`. Stripe's `*` sends everything: nothing is missing, and every
/// other type is extra.
pub fn compare(enabled: &[String], handled: &[&str]) -> Difference {
    let all = enabled.iter().any(|e| e == "*");
    Difference {
        missing: handled
            .iter()
            .filter(|h| !all && !enabled.iter().any(|e| e == *h))
            .map(|h| (*h).to_owned())
            .collect(),
        extra: enabled
            .iter()
            .filter(|e| !handled.contains(&e.as_str()))
            .cloned()
            .collect(),
    }
}

#[derive(serde::Serialize)]
struct EndpointParams<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    enabled_events: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
}

impl StripeProvider {
    /// The account's webhook endpoints (the first hundred: an account has a handful).
    pub async fn webhook_endpoints(&self) -> Result<Vec<Endpoint>, ProviderError> {
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            data: Vec<Endpoint>,
        }
        #[derive(serde::Serialize)]
        struct Page {
            limit: u32,
        }
        let request =
            RequestBuilder::new(StripeMethod::Get, "/webhook_endpoints").query(&Page { limit: 100 });
        let list: List = self.send(request, None, "webhook_endpoints").await?;
        Ok(list.data)
    }

    /// A new endpoint at `url` sending `events`; its answer carries the signing secret, once.
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        events: &[String],
    ) -> Result<Endpoint, ProviderError> {
        let params = EndpointParams {
            url: Some(url),
            enabled_events: events,
            description: Some("Kaffeekasse"),
        };
        let request = RequestBuilder::new(StripeMethod::Post, "/webhook_endpoints").form(&params);
        self.send(request, None, "webhook_endpoints").await
    }

    /// Sets endpoint `id`'s event types to `events`.
    pub async fn update_webhook_endpoint(
        &self,
        id: &str,
        events: &[String],
    ) -> Result<Endpoint, ProviderError> {
        let params = EndpointParams {
            url: None,
            enabled_events: events,
            description: None,
        };
        let request =
            RequestBuilder::new(StripeMethod::Post, format!("/webhook_endpoints/{id}")).form(&params);
        self.send(request, None, "webhook_endpoints").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn missing_and_extra_types_are_told_apart_and_a_wildcard_misses_nothing() {
        let handled = ["invoice.paid", "charge.refunded"];
        assert_eq!(
            compare(&words(&["charge.refunded", "customer.created"]), &handled),
            Difference {
                missing: words(&["invoice.paid"]),
                extra: words(&["customer.created"]),
            }
        );
        assert_eq!(
            compare(&words(&["invoice.paid", "charge.refunded"]), &handled),
            Difference::default()
        );
        let all = compare(&words(&["*"]), &handled);
        assert!(all.missing.is_empty());
        assert_eq!(all.extra, words(&["*"]));
    }
}
