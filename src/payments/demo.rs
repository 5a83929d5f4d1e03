//! The built-in demo checkout: a local stand-in for Stripe Checkout.
//!
//! It never moves money. Paying builds a `checkout.session.completed` event in the exact shape
//! Stripe sends (from Stripe's own OpenAPI fixture), signs it as Stripe does, and posts it to our
//! own webhook endpoint, so a demo donation takes the same path as a real one.

use serde_json::{Value, json};

use super::{CheckoutRequest, CheckoutSession};
use crate::auth::signer::Signer;
use crate::storage::donations::DonationRow;

/// Stripe's example `checkout.session` object, as published in its OpenAPI fixtures.
const SESSION_FIXTURE: &str = include_str!("checkout_session.json");

pub use super::demo_monthly::DEMO_API_VERSION;

pub struct DemoProvider {
    public_url: String,
    /// Turns an idempotency key into its session id.
    session_ids: Signer,
    /// Where the demo's events go (our own webhook); `None` only in unit tests.
    poster: Option<DemoPoster>,
}

impl DemoProvider {
    pub fn new(public_url: String, session_ids: Signer) -> Self {
        DemoProvider {
            public_url,
            session_ids,
            poster: None,
        }
    }

    /// Sends the demo's events (payments, renewals, cancellations) to our own webhook.
    pub fn posting_to(mut self, poster: DemoPoster) -> Self {
        self.poster = Some(poster);
        self
    }

    pub fn poster(&self) -> anyhow::Result<&DemoPoster> {
        self.poster
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the demo has nowhere to send its events"))
    }

    /// Ends a demo subscription as Stripe would: the event it would send.
    pub async fn cancel_subscription(
        &self,
        row: &crate::storage::subscriptions::MonthlyRow,
        when: super::CancelWhen,
    ) -> anyhow::Result<()> {
        let Some(sub) = super::demo_monthly::DemoSubscription::of(row) else {
            return Ok(());
        };
        let now = crate::storage::now();
        let period_end = row.current_period_end.or(row.paid_through).unwrap_or(now);
        self.poster()?.post(&sub.cancelled(when, period_end, now)).await
    }

    /// As Stripe does, the same idempotency key gives the same session (a double click leads
    /// to one checkout). The id is keyed, so it cannot be guessed from the key.
    pub fn create_checkout(&self, req: &CheckoutRequest) -> CheckoutSession {
        let mac = self.session_ids.sign("demo-session", &req.idempotency_key);
        let id = format!("cs_demo_{}", &mac[..32]);
        // Stripe's page speaks the reader's language (`locale`); so does ours.
        let url = format!("{}/demo/checkout/{id}?lang={}", self.public_url, req.lang.code());
        CheckoutSession { id, url }
    }
}

/// Signs events as Stripe does and posts them to our own webhook, one after the other.
#[derive(Clone)]
pub struct DemoPoster {
    pub http: reqwest::Client,
    /// `…/webhooks/stripe` on this service's own listener.
    pub webhook_url: String,
    pub secrets: Vec<secrecy::SecretString>,
}

impl DemoPoster {
    /// Posts each event and fails on the first the webhook refuses.
    pub async fn post(&self, events: &[Value]) -> anyhow::Result<()> {
        use anyhow::Context;
        for event in events {
            let body = event.to_string();
            let now = crate::storage::now();
            let secrets: Vec<_> = self.secrets.iter().collect();
            let header = crate::webhook::signature::sign(body.as_bytes(), &secrets, now);
            self.http
                .post(&self.webhook_url)
                .header("Content-Type", "application/json")
                .header("Stripe-Signature", header)
                .body(body)
                .send()
                .await
                .context("sending the demo webhook")?
                .error_for_status()
                .context("the demo webhook was refused")?;
        }
        Ok(())
    }
}

/// The signed-webhook body for a successful demo payment of `donation`.
pub fn completed_event(donation: &DonationRow, success_url: &str, cancel_url: &str, now: i64) -> Value {
    super::demo_monthly::envelope(
        "checkout.session.completed",
        session(donation, success_url, cancel_url),
        now,
    )
}

/// The demo session of `donation`, completed and paid, in the shape of Stripe's fixture.
pub fn session(donation: &DonationRow, success_url: &str, cancel_url: &str) -> Value {
    let mut session: Value = serde_json::from_str(SESSION_FIXTURE).unwrap_or_else(|_| json!({}));
    let patch = json!({
        "id": donation.checkout_session_id,
        "object": "checkout.session",
        "amount_subtotal": donation.expected_amount_cents,
        "amount_total": donation.expected_amount_cents,
        "currency": donation.currency,
        "client_reference_id": donation.id,
        "created": donation.created_at,
        "customer_details": null,
        "adaptive_pricing": { "enabled": false },
        "currency_conversion": null,
        "livemode": false,
        "metadata": { "donation_id": donation.id, "kaffeekasse": "1", "coffees": donation.coffees.to_string() },
        "mode": "payment",
        "payment_intent": format!("pi_demo_{}", crate::random::token()),
        "payment_status": "paid",
        "status": "complete",
        "submit_type": "donate",
        "success_url": success_url,
        "cancel_url": cancel_url,
        "url": null,
    });
    if let (Some(target), Value::Object(fields)) = (session.as_object_mut(), patch) {
        target.extend(fields);
    }
    session
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn request(key: &str) -> CheckoutRequest {
        CheckoutRequest {
            interval: crate::domain::Interval::Once,
            donation_id: "d".into(),
            idempotency_key: key.into(),
            description: String::new(),
            submit_message: String::new(),
            coffees: 1,
            unit_amount_cents: 500,
            currency: "eur".into(),
            lang: crate::i18n::Lang::De,
            success_url: String::new(),
            cancel_url: String::new(),
        }
    }

    #[test]
    fn the_same_key_gives_the_same_session_and_another_key_another() {
        let demo = DemoProvider::new("http://jar".into(), Signer::new(SecretString::from("k")));
        let first = demo.create_checkout(&request("key-1"));
        assert_eq!(first.id, demo.create_checkout(&request("key-1")).id);
        assert_ne!(first.id, demo.create_checkout(&request("key-2")).id);
        assert_eq!(
            first.url,
            format!("http://jar/demo/checkout/{}?lang=de", first.id)
        );
        let other_jar = DemoProvider::new("http://jar".into(), Signer::new(SecretString::from("j")));
        assert_ne!(first.id, other_jar.create_checkout(&request("key-1")).id, "keyed");
    }

    #[test]
    fn the_fixture_is_a_checkout_session() {
        let v: Value = serde_json::from_str(SESSION_FIXTURE).unwrap();
        assert_eq!(v["object"], "checkout.session");
    }
}
