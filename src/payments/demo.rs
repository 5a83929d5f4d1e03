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

/// The API version the demo claims to speak; any value works, as parsing is lenient.
pub const DEMO_API_VERSION: &str = "2025-09-30.clover";

pub struct DemoProvider {
    public_url: String,
    /// Turns an idempotency key into its session id.
    session_ids: Signer,
}

impl DemoProvider {
    pub fn new(public_url: String, session_ids: Signer) -> Self {
        DemoProvider {
            public_url,
            session_ids,
        }
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

/// The signed-webhook body for a successful demo payment of `donation`.
pub fn completed_event(donation: &DonationRow, success_url: &str, cancel_url: &str, now: i64) -> Value {
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
    json!({
        "id": format!("evt_demo_{}", crate::random::token()),
        "object": "event",
        "api_version": DEMO_API_VERSION,
        "created": now,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": "checkout.session.completed",
        "data": { "object": session },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn request(key: &str) -> CheckoutRequest {
        CheckoutRequest {
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
