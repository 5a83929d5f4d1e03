//! Lenient parsing of Stripe events: the envelope and only the fields we use.
//!
//! Unknown fields, unknown API versions and `null` where a field is optional are all fine, so a
//! change of API version on the Stripe dashboard cannot break the webhook.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

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
}

impl Incoming {
    /// Parses `body` once, drops payer details, and keeps the redacted JSON as the payload.
    pub fn parse(body: &[u8]) -> Result<Self, EventParseError> {
        let mut value: Value = serde_json::from_slice(body)?;
        crate::domain::privacy::redact_payer(&mut value);
        let payload = value.to_string();
        Ok(Incoming {
            event: serde_json::from_value(value)?,
            payload,
        })
    }

    pub fn payload(&self) -> &str {
        &self.payload
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
            "charge.dispute.created" => Payload::DisputeCreated(Dispute::deserialize(object)?),
            "charge.dispute.closed" => Payload::DisputeClosed(Dispute::deserialize(object)?),
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
    "charge.dispute.created",
    "charge.dispute.closed",
];

#[derive(Debug, Clone)]
pub enum Payload {
    SessionCompleted(Session),
    SessionAsyncSucceeded(Session),
    SessionAsyncFailed(Session),
    SessionExpired(Session),
    ChargeRefunded(Charge),
    DisputeCreated(Dispute),
    DisputeClosed(Dispute),
    Unhandled,
}

/// A `checkout.session`, reduced to what we read.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_link: Option<String>,
    #[serde(default)]
    pub client_reference_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub custom_fields: Vec<CustomField>,
    #[serde(default)]
    pub livemode: bool,
    /// The hosted checkout page; present when the session is created.
    #[serde(default)]
    pub url: Option<String>,
    /// Set when Adaptive Pricing charged in another currency (Payment Links may have it on).
    #[serde(default)]
    pub currency_conversion: Option<CurrencyConversion>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CurrencyConversion {
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub source_currency: Option<String>,
}

impl Session {
    pub fn is_paid(&self) -> bool {
        self.payment_status.as_deref() == Some("paid")
            || self.payment_status.as_deref() == Some("no_payment_required")
    }

    /// Our donation id, when we created this session.
    pub fn donation_id(&self) -> Option<&str> {
        self.metadata
            .get("donation_id")
            .map(String::as_str)
            .or(self.client_reference_id.as_deref())
            .filter(|_| self.is_ours())
    }

    /// The amount and currency in the account's own currency: with Adaptive Pricing the top-level
    /// fields are what the customer saw, and `currency_conversion` holds the source amounts.
    pub fn settled_amount(&self) -> Option<(i64, &str)> {
        match &self.currency_conversion {
            Some(CurrencyConversion {
                amount_total: Some(amount),
                source_currency: Some(currency),
            }) => Some((*amount, currency.as_str())),
            _ => Some((self.amount_total?, self.currency.as_deref()?)),
        }
    }

    pub fn is_ours(&self) -> bool {
        self.metadata.get("kaffeekasse").map(String::as_str) == Some("1")
    }

    /// The value a Payment Link's custom field `key` was filled with (text or dropdown).
    pub fn custom_field(&self, key: &str) -> Option<&str> {
        self.custom_fields.iter().find(|f| f.key == key).and_then(|f| {
            f.text
                .as_ref()
                .and_then(|t| t.value.as_deref())
                .or(f.dropdown.as_ref().and_then(|d| d.value.as_deref()))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomField {
    pub key: String,
    #[serde(default)]
    pub text: Option<CustomFieldValue>,
    #[serde(default)]
    pub dropdown: Option<CustomFieldValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomFieldValue {
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    #[serde(default)]
    pub refunded: bool,
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Dispute {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

impl Dispute {
    /// Stripe closes a dispute as `won`, `lost`, or (for inquiries) `warning_closed`, which costs
    /// nothing and so counts as won.
    pub fn is_won(&self) -> bool {
        matches!(self.status.as_deref(), Some("won") | Some("warning_closed"))
    }
}

/// An expandable reference: either `"pi_123"` or an expanded object with an `id`.
fn expandable_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    })
}

/// Metadata values are strings, but a null map or a non-string value must not reject the event.
fn metadata<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HashMap<String, String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Object(o)) => o
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect(),
        _ => HashMap::new(),
    })
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
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
