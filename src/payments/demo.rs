//! The built-in demo checkout: a local stand-in for Stripe Checkout.
//!
//! It never moves money. Paying builds a `checkout.session.completed` event in the exact shape
//! Stripe sends (from Stripe's own OpenAPI fixture), signs it as Stripe does, and posts it to our
//! own webhook endpoint, so a demo donation takes the same path as a real one.

use serde_json::{Value, json};

use super::CheckoutSession;
use crate::storage::donations::DonationRow;

/// Stripe's example `checkout.session` object, as published in its OpenAPI fixtures.
const SESSION_FIXTURE: &str = include_str!("checkout_session.json");

/// The API version the demo claims to speak; any value works, as parsing is lenient.
pub const DEMO_API_VERSION: &str = "2025-09-30.clover";

pub struct DemoProvider {
    public_url: String,
}

impl DemoProvider {
    pub fn new(public_url: String) -> Self {
        DemoProvider { public_url }
    }

    pub fn create_checkout(&self) -> CheckoutSession {
        let id = format!("cs_demo_{}", crate::random::token());
        let url = format!("{}/demo/checkout/{id}", self.public_url);
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

    #[test]
    fn the_fixture_is_a_checkout_session() {
        let v: Value = serde_json::from_str(SESSION_FIXTURE).unwrap();
        assert_eq!(v["object"], "checkout.session");
    }
}
