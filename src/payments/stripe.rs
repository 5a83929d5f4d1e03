//! Stripe Checkout through async-stripe.
//!
//! Requests are built with async-stripe's typed builders, but responses are read leniently with
//! serde_json (through `miniserde::json::Value`), like webhook events: a field Stripe adds or
//! drops in a newer API version must not break the donate button.

use std::collections::HashMap;

use secrecy::ExposeSecret;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAdaptivePricing, CreateCheckoutSessionCustomText,
    CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataRecurring,
    CreateCheckoutSessionLineItemsPriceDataRecurringInterval, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionSubscriptionData, CustomTextPositionParam, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionLocale, CheckoutSessionMode, CheckoutSessionSubmitType};
use stripe_client_core::{RequestBuilder, StripeMethod};

use std::sync::Arc;
use std::time::Instant;

use super::{CheckoutRequest, CheckoutSession, EventPage, ProviderError};
use crate::config::StripeSettings;
use crate::domain::Interval;
use crate::i18n::Lang;
use crate::metrics::{Metrics, StripeErrorLabels, StripeLabels};
use crate::webhook::event::Session;

pub struct StripeProvider {
    client: Client,
    livemode: bool,
    statement_descriptor_suffix: String,
    metrics: Option<Arc<Metrics>>,
}

impl StripeProvider {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let client = ClientBuilder::new(settings.secret_key.expose_secret())
            .url(settings.api_base.clone())
            .timeout(settings.timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the Stripe client: {e}"))?;
        Ok(StripeProvider {
            client,
            livemode: settings.livemode(),
            statement_descriptor_suffix: settings.statement_descriptor_suffix.clone(),
            metrics: None,
        })
    }

    /// Records each call's latency and failures.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn livemode(&self) -> bool {
        self.livemode
    }

    pub async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let metadata = HashMap::from([
            ("donation_id".to_owned(), req.donation_id.clone()),
            ("kaffeekasse".to_owned(), "1".to_owned()),
            ("coffees".to_owned(), req.coffees.to_string()),
        ]);
        let currency: stripe_types::Currency = req
            .currency
            .parse()
            .map_err(|_| ProviderError::Failed(format!("Stripe does not know currency {}", req.currency)))?;
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(req.unit_amount_cents);
        price.product_data = Some(ProductData::new(match req.lang {
            Lang::De => "Kaffee",
            Lang::En => "Coffee",
        }));
        let monthly = req.interval == Interval::Month;
        if monthly {
            // The same unit amount, every month; no Price or Product needs to exist.
            price.recurring = Some(CreateCheckoutSessionLineItemsPriceDataRecurring::new(
                CreateCheckoutSessionLineItemsPriceDataRecurringInterval::Month,
            ));
        }
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(u64::from(req.coffees));
        let mut custom_text = CreateCheckoutSessionCustomText::new();
        custom_text.submit = Some(CustomTextPositionParam::new(req.submit_message.as_str()));
        let request = CreateCheckoutSession::new()
            .custom_text(custom_text)
            .locale(match req.lang {
                Lang::De => CheckoutSessionLocale::De,
                Lang::En => CheckoutSessionLocale::En,
            })
            .line_items(vec![item])
            .success_url(req.success_url.as_str())
            .cancel_url(req.cancel_url.as_str())
            .client_reference_id(req.donation_id.as_str())
            .metadata(metadata.clone());
        let request = if monthly {
            // The subscription carries our id, so its events and invoices find the donation.
            let mut subscription = CreateCheckoutSessionSubscriptionData::new();
            subscription.metadata = Some(metadata);
            subscription.description = Some(req.description.clone());
            request
                .mode(CheckoutSessionMode::Subscription)
                .submit_type(CheckoutSessionSubmitType::Subscribe)
                .subscription_data(subscription)
        } else {
            let mut intent = CreateCheckoutSessionPaymentIntentData::new();
            intent.metadata = Some(HashMap::from([(
                "donation_id".to_owned(),
                req.donation_id.clone(),
            )]));
            // What the reader finds in their Stripe receipt and on their card statement: a line
            // they recognise is a dispute (and its €20 fee) that does not happen.
            intent.description = Some(req.description.clone());
            intent.statement_descriptor_suffix = Some(self.statement_descriptor_suffix.clone());
            // Adaptive Pricing would charge in the reader's currency; the jar counts euros, so
            // the price stays exactly what the blogger set.
            let mut adaptive = CreateCheckoutSessionAdaptivePricing::new();
            adaptive.enabled = Some(false);
            request
                .adaptive_pricing(adaptive)
                .mode(CheckoutSessionMode::Payment)
                // A tip for a blog, not a donation to a charitable purpose (Stripe's rules): the
                // button says "Zahlen"/"Pay".
                .submit_type(CheckoutSessionSubmitType::Pay)
                .payment_intent_data(intent)
        };
        // The same request always carries the same key, so a double submit or our own retry
        // cannot create a second session. Only what may succeed with that key is retried, once
        // (a 5xx would be replayed: the caller starts afresh under another key).
        let key = IdempotencyKey::new(format!("kaffeekasse-checkout-{}", req.idempotency_key))
            .map_err(|e| ProviderError::Failed(format!("idempotency key: {e:?}")))?;
        const OP: &str = "create_session";
        let session: Session = match self.send(request.build(), Some(key.clone()), OP).await {
            Err(e) if e.retries_with_same_key() => {
                tracing::warn!(error = %e, "creating the checkout session failed; retrying once with the same key");
                tokio::time::sleep(retry_delay(&e)).await;
                self.send(request.build(), Some(key), OP).await?
            }
            other => other?,
        };
        let url = session
            .url
            .ok_or_else(|| ProviderError::Failed("Stripe returned a session without a url".into()))?;
        Ok(CheckoutSession { id: session.id, url })
    }

    /// The session as Stripe holds it; `None` if Stripe does not know it.
    pub async fn retrieve_session(&self, id: &str) -> Result<Option<Session>, ProviderError> {
        match self
            .send(RetrieveCheckoutSession::new(id).build(), None, "retrieve_session")
            .await
        {
            Ok(session) => Ok(Some(session)),
            Err(ProviderError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of events of the handled types created at or after `since`.
    pub async fn list_events(
        &self,
        types: &[&str],
        since: i64,
        starting_after: Option<&str>,
    ) -> Result<EventPage, ProviderError> {
        #[derive(serde::Serialize)]
        struct Created {
            gte: i64,
        }
        #[derive(serde::Serialize)]
        struct Params<'a> {
            types: &'a [&'a str],
            created: Created,
            limit: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            starting_after: Option<&'a str>,
        }
        let params = Params {
            types,
            created: Created { gte: since },
            limit: 100,
            starting_after,
        };
        let builder = RequestBuilder::new(StripeMethod::Get, "/events").query(&params);
        #[derive(serde::Deserialize)]
        struct List {
            data: Vec<serde_json::Value>,
            #[serde(default)]
            has_more: bool,
        }
        let list: List = self.send(builder, None, "list_events").await?;
        let last_id = list
            .data
            .last()
            .and_then(|e| e.get("id"))
            .and_then(|id| id.as_str())
            .map(str::to_owned);
        let events = list.data.iter().map(|e| e.to_string()).collect();
        Ok(EventPage {
            events,
            has_more: list.has_more,
            last_id,
        })
    }

    pub(super) async fn send<T: serde::de::DeserializeOwned>(
        &self,
        builder: RequestBuilder,
        key: Option<IdempotencyKey>,
        operation: &'static str,
    ) -> Result<T, ProviderError> {
        let started = Instant::now();
        let result = self.send_raw(builder, key).await;
        if let Some(m) = &self.metrics {
            let op = operation.to_owned();
            m.stripe_seconds
                .get_or_create(&StripeLabels {
                    operation: op.clone(),
                })
                .observe(started.elapsed().as_secs_f64());
            if let Err(e) = &result {
                m.stripe_errors
                    .get_or_create(&StripeErrorLabels {
                        operation: op,
                        kind: e.kind().to_owned(),
                    })
                    .inc();
            }
        }
        let raw = result?;
        serde_json::from_str(&raw).map_err(|e| ProviderError::Failed(format!("unexpected response: {e}")))
    }

    async fn send_raw(
        &self,
        builder: RequestBuilder,
        key: Option<IdempotencyKey>,
    ) -> Result<String, ProviderError> {
        let strategy = key.map_or(RequestStrategy::Once, RequestStrategy::Idempotent);
        let value: miniserde::json::Value = builder
            .customize()
            .request_strategy(strategy)
            .send(&self.client)
            .await
            .map_err(|e| match e {
                StripeError::Timeout => ProviderError::Timeout,
                StripeError::ClientError(why) => ProviderError::Unavailable(why),
                StripeError::Stripe(_, 404) => ProviderError::NotFound,
                StripeError::Stripe(_, 429) => ProviderError::RateLimited,
                // 409: a request with the same idempotency key is still in progress (another
                // process, or a first attempt that timed out here but not at Stripe).
                StripeError::Stripe(errors, 409) => {
                    ProviderError::Unavailable(format!("status 409: {errors:?}"))
                }
                StripeError::Stripe(errors, status) if status >= 500 => {
                    ProviderError::ServerError(format!("status {status}: {errors:?}"))
                }
                // An error status whose body is not Stripe's JSON: a proxy or load balancer in
                // front of Stripe answered (a 502 or 503 page).
                StripeError::JSONDeserialize(why) if why == "error deserializing Stripe error" => {
                    ProviderError::ServerError(why)
                }
                other => ProviderError::Failed(other.to_string()),
            })?;
        Ok(miniserde::json::to_string(&value))
    }
}

/// How long to wait before the one retry: Stripe asks for a back-off on 429; a connection
/// failure or a 409 is usually over in a moment.
fn retry_delay(e: &ProviderError) -> std::time::Duration {
    match e {
        ProviderError::RateLimited => std::time::Duration::from_millis(1000),
        _ => std::time::Duration::from_millis(200),
    }
}
