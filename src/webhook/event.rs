//! Lenient parsing of Stripe events: the envelope and only the fields we use.
//!
//! Unknown fields, unknown API versions and `null` where a field is optional are all fine, so a
//! change of API version on the Stripe dashboard cannot break the webhook.
//!
//! No tree of the event is built. A body is read once to drop the payer's details (`domain::
//! privacy`, on the text); the envelope is then read from that text into [`Event`], which borrows
//! from it and keeps `data.object` as its raw JSON; the object is read once more, straight into
//! the type its event's `type` calls for (`Event::payload`).

use std::borrow::Cow;
use std::ops::Range;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

pub use super::billing::{Invoice, InvoicePayment, Subscription};
pub use super::objects::{Charge, CustomField, CustomFieldValue, Dispute, Refund, Session};

/// The event envelope, borrowed from the text it was read from.
#[derive(Debug, Clone, Deserialize)]
pub struct Event<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    pub created: i64,
    #[serde(default)]
    pub livemode: bool,
    #[serde(default)]
    pub api_version: Option<String>,
    #[serde(borrow)]
    pub data: EventData<'a>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData<'a> {
    /// The object's JSON text.
    #[serde(borrow, deserialize_with = "raw")]
    pub object: Cow<'a, str>,
}

/// A value's JSON text as it stands in the input, validated but not parsed into anything.
fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    <&'de RawValue>::deserialize(d).map(|raw| Cow::Borrowed(raw.get()))
}

#[derive(Debug, thiserror::Error)]
pub enum EventParseError {
    #[error("the body is not a Stripe event: {0}")]
    Envelope(#[from] serde_json::Error),
}

/// A verified event ready for the ledger: its payload as it will be stored, with the payer's
/// details already dropped (`domain::privacy`), and its envelope.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// What the ledger records besides the payload.
    pub event: Envelope,
    payload: String,
    /// Where `data.object` is in `payload`.
    object: Range<usize>,
    /// The checkout e-mail address (a subscription-mode session's or an invoice's), read before
    /// the payer's details are dropped: only its keyed hash is kept, for cancellations by address.
    payer_email: Option<String>,
}

/// An event's envelope, owned: what outlives the body it came in.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub livemode: bool,
    pub api_version: Option<String>,
}

impl Incoming {
    /// Drops payer details from `body` and reads the envelope, each in one pass over the text.
    pub fn parse(body: &[u8]) -> Result<Self, EventParseError> {
        let Some(payload) = std::str::from_utf8(body)
            .ok()
            .and_then(crate::domain::privacy::payer_dropped)
        else {
            return Err(not_json(body));
        };
        let event = Event::parse(payload.as_bytes())?;
        // `raw` borrows the object's text from the payload: where it starts there is where it is.
        let object = (event.data.object.as_ptr() as usize)
            .checked_sub(payload.as_ptr() as usize)
            .map(|start| start..start + event.data.object.len())
            .filter(|range| payload.get(range.clone()) == Some(&*event.data.object))
            .ok_or_else(|| error("data.object is not where it was read"))?;
        let event = Envelope {
            id: event.id.into_owned(),
            kind: event.kind.into_owned(),
            created: event.created,
            livemode: event.livemode,
            api_version: event.api_version,
        };
        let payer_email = payer_email(body, &event.kind, &payload[object.clone()]);
        Ok(Incoming {
            event,
            payload,
            object,
            payer_email,
        })
    }

    pub fn payload(&self) -> &str {
        &self.payload
    }

    pub fn payer_email(&self) -> Option<&str> {
        self.payer_email.as_deref()
    }

    /// The event, as [`Event::parse`] reads it from the payload (without reading it again).
    pub fn view(&self) -> Event<'_> {
        let e = &self.event;
        Event {
            id: Cow::Borrowed(&e.id),
            kind: Cow::Borrowed(&e.kind),
            created: e.created,
            livemode: e.livemode,
            api_version: e.api_version.clone(),
            data: EventData {
                object: Cow::Borrowed(&self.payload[self.object.clone()]),
            },
        }
    }
}

/// The checkout e-mail address of a monthly coffee's session or invoice, read from the body as it
/// came (the payload has it dropped). Only those events are read a second time: a one-time
/// checkout (the batched common case) never is. The payload is compact, so its object says
/// `"mode":"subscription"` in exactly those words.
fn payer_email(body: &[u8], kind: &str, object: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        data: Data<'a>,
    }
    #[derive(Deserialize)]
    struct Data<'a> {
        #[serde(borrow)]
        object: Payer<'a>,
    }
    #[derive(Deserialize)]
    struct Payer<'a> {
        #[serde(default, borrow)]
        customer_details: Option<Details<'a>>,
        #[serde(default, borrow)]
        customer_email: Option<Cow<'a, str>>,
    }
    #[derive(Deserialize)]
    struct Details<'a> {
        #[serde(default, borrow)]
        email: Option<Cow<'a, str>>,
    }
    let monthly_session =
        kind.starts_with("checkout.session.") && object.contains(r#""mode":"subscription""#);
    if !monthly_session && !kind.starts_with("invoice.") {
        return None;
    }
    let payer = serde_json::from_slice::<Body>(body).ok()?.data.object;
    payer
        .customer_details
        .and_then(|d| d.email)
        .or(payer.customer_email)
        .filter(|email| email.contains('@') && email.len() <= 320)
        .map(Cow::into_owned)
}

/// What serde_json says is wrong with a body that is not JSON.
fn not_json(body: &[u8]) -> EventParseError {
    match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        Err(e) => e.into(),
        Ok(_) => error("not one JSON value"),
    }
}

fn error(message: &str) -> EventParseError {
    EventParseError::Envelope(serde::de::Error::custom(message))
}

impl Event<'_> {
    pub fn parse(body: &[u8]) -> Result<Event<'_>, EventParseError> {
        Ok(serde_json::from_slice(body)?)
    }

    /// The same event, owning its text.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            id: Cow::Owned(self.id.into_owned()),
            kind: Cow::Owned(self.kind.into_owned()),
            created: self.created,
            livemode: self.livemode,
            api_version: self.api_version,
            data: EventData {
                object: Cow::Owned(self.data.object.into_owned()),
            },
        }
    }

    /// What this event means to us, or `Unhandled` for types we do not act on.
    pub fn payload(&self) -> Result<Payload, serde_json::Error> {
        // The object's text, read straight into the type the event calls for.
        let object = &mut serde_json::Deserializer::from_str(&self.data.object);
        Ok(match &*self.kind {
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
