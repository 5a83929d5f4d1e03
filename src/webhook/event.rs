//! Lenient parsing of Stripe events: the envelope and only the fields we use.
//!
//! Unknown fields, unknown API versions and `null` where a field is optional are all fine, so a
//! change of API version on the Stripe dashboard cannot break the webhook.

use serde::Deserialize;
use serde_json::Value;

pub use super::billing::{Invoice, InvoicePayment, Subscription};
pub use super::objects::{Charge, CustomField, CustomFieldValue, Dispute, Refund, Session};

/// The event envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    #[serde(default)]
    pub api_version: Option<String>,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum EventParseError {
    #[error("the body is not a Stripe event: {0}")]
    Envelope(#[from] serde_json::Error),
}

/// A verified event ready for the ledger: parsed, and with the payer's details already dropped
/// from the payload that will be stored (`domain::privacy`).
#[derive(Debug, Clone)]
pub struct Incoming {
    pub event: Event,
    payload: String,
    /// The checkout e-mail address (a session's or an invoice's), read before the payer's
    /// details are dropped: only its keyed hash is kept, for cancellations by address.
    payer_email: Option<String>,
}

impl Incoming {
    /// Parses `body` once, drops payer details, and keeps the redacted JSON as the payload.
    pub fn parse(body: &[u8]) -> Result<Self, EventParseError> {
        let mut value: Value = serde_json::from_slice(body)?;
        let payer_email = [
            "/data/object/customer_details/email",
            "/data/object/customer_email",
        ]
        .iter()
        .find_map(|at| value.pointer(at).and_then(Value::as_str))
        .filter(|email| email.contains('@') && email.len() <= 320)
        .map(str::to_owned);
        crate::domain::privacy::redact_payer(&mut value);
        let payload = value.to_string();
        Ok(Incoming {
            event: serde_json::from_value(value)?,
            payload,
            payer_email,
        })
    }

    pub fn payload(&self) -> &str {
        &self.payload
    }

    pub fn payer_email(&self) -> Option<&str> {
        self.payer_email.as_deref()
    }
}

impl Event {
    pub fn parse(body: &[u8]) -> Result<Self, EventParseError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// What this event means to us, or `Unhandled` for types we do not act on.
    pub fn payload(&self) -> Result<Payload, serde_json::Error> {
        // Read straight from the tree, without copying it.
        let object = &self.data.object;
        Ok(match self.kind.as_str() {
            "checkout.session.completed" => Payload::SessionCompleted(Session::deserialize(object)?),
            "checkout.session.async_payment_succeeded" => {
                Payload::SessionAsyncSucceeded(Session::deserialize(object)?)
            }
            "checkout.session.async_payment_failed" => {
                Payload::SessionAsyncFailed(Session::deserialize(object)?)
            }
            "checkout.session.expired" => Payload::SessionExpired(Session::deserialize(object)?),
            "charge.refunded" => Payload::ChargeRefunded(Charge::deserialize(object)?),
            // `charge.refund.updated` comes for some payment methods only; since API version
            // 2024-10-28 the `refund.*` events come for every refund.
            "charge.refund.updated" | "refund.created" | "refund.updated" | "refund.failed" => {
                Payload::RefundUpdated(Refund::deserialize(object)?)
            }
            "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed" => {
                Payload::Dispute(Dispute::deserialize(object)?)
            }
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted"
            | "customer.subscription.paused"
            | "customer.subscription.resumed" => {
                Payload::Subscription(Box::new(Subscription::deserialize(object)?))
            }
            "invoice.paid" => Payload::Invoice(Box::new(Invoice::deserialize(object)?), InvoiceEvent::Paid),
            "invoice.payment_failed" => Payload::Invoice(
                Box::new(Invoice::deserialize(object)?),
                InvoiceEvent::PaymentFailed,
            ),
            "invoice.voided" | "invoice.marked_uncollectible" => {
                Payload::Invoice(Box::new(Invoice::deserialize(object)?), InvoiceEvent::Closed)
            }
            "invoice_payment.paid" => Payload::InvoicePaymentPaid(InvoicePayment::deserialize(object)?),
            _ => Payload::Unhandled,
        })
    }
}

/// The event types that change a donation. Reconciliation asks Stripe for exactly these.
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.refund.updated",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.voided",
    "invoice.marked_uncollectible",
    "invoice_payment.paid",
];

#[derive(Debug, Clone)]
pub enum Payload {
    SessionCompleted(Session),
    SessionAsyncSucceeded(Session),
    SessionAsyncFailed(Session),
    SessionExpired(Session),
    ChargeRefunded(Charge),
    RefundUpdated(Refund),
    /// Created, updated or closed: the dispute's `status` says which state it is in.
    Dispute(Dispute),
    /// Any `customer.subscription.*`: the object says its state.
    Subscription(Box<Subscription>),
    Invoice(Box<Invoice>, InvoiceEvent),
    InvoicePaymentPaid(InvoicePayment),
    Unhandled,
}

/// What an `invoice.*` event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceEvent {
    Paid,
    PaymentFailed,
    /// Voided, or marked uncollectible: nothing more will be collected for now.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unknown_fields_nulls_and_expanded_objects_are_fine() {
        let body = br#"{"id":"evt_1","type":"checkout.session.completed","created":1,"livemode":false,
            "api_version":"2099-01-01.future","surprise":{"x":1},
            "data":{"object":{"id":"cs_1","payment_status":"paid","metadata":null,"custom_fields":null,
            "payment_intent":{"id":"pi_1","object":"payment_intent"},"amount_total":500,"currency":"eur"}}}"#;
        let event = Event::parse(body).unwrap();
        let Payload::SessionCompleted(s) = event.payload().unwrap() else {
            panic!("wrong payload")
        };
        assert_eq!(s.payment_intent.as_deref(), Some("pi_1"));
        assert!(s.metadata.is_empty());
        assert!(s.is_paid());
    }

    #[test]
    fn unknown_types_are_unhandled_not_errors() {
        let body = br#"{"id":"evt_2","type":"plan.created","created":1,"data":{"object":{"id":"plan_1"}}}"#;
        assert!(matches!(
            Event::parse(body).unwrap().payload().unwrap(),
            Payload::Unhandled
        ));
    }

    proptest! {
        #[test]
        fn the_event_parser_never_panics(raw in any::<Vec<u8>>()) {
            if let Ok(event) = Event::parse(&raw) {
                let _ = event.payload();
            }
        }

        #[test]
        fn json_shaped_noise_never_panics(kind in prop::sample::select(HANDLED_TYPES), object in "\\{(\"[a-z_]{1,12}\":(null|1|\"x\"|\\{\\}|\\[\\]),?){0,6}\\}") {
            let body = format!(r#"{{"id":"evt","type":"{kind}","created":1,"data":{{"object":{object}}}}}"#);
            if let Ok(event) = Event::parse(body.as_bytes()) {
                let _ = event.payload();
            }
        }
    }
}
