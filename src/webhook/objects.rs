//! The Stripe objects inside events, reduced to the fields we read, every one optional or
//! defaulted: a field Stripe adds, drops or nulls in another API version must not reject an event.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

/// A `checkout.session`, reduced to what we read.
#[derive(Debug, Clone, Deserialize)]
pub struct Session {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
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
    /// In `subscription` mode: the subscription, its first invoice and the customer.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub invoice: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    /// The checkout e-mail address: only in a session fetched from Stripe's API (an event's is
    /// redacted on ingest); only its keyed hash is kept.
    #[serde(default)]
    pub customer_details: Option<CustomerDetails>,
    #[serde(default)]
    pub customer_email: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CustomerDetails {
    #[serde(default)]
    pub email: Option<String>,
}

impl Session {
    /// The checkout e-mail address, if it looks like one.
    pub fn payer_email(&self) -> Option<&str> {
        self.customer_details
            .as_ref()
            .and_then(|d| d.email.as_deref())
            .or(self.customer_email.as_deref())
            .filter(|email| email.contains('@') && email.len() <= 320)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct CurrencyConversion {
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub source_currency: Option<String>,
}

impl Session {
    /// The money arrived. `no_payment_required` (a 100 % coupon, a €0 price) is no payment.
    pub fn is_paid(&self) -> bool {
        self.payment_status.as_deref() == Some("paid")
    }

    /// Nothing is charged: `no_payment_required`, or a total of zero.
    pub fn charges_nothing(&self) -> bool {
        self.payment_status.as_deref() == Some("no_payment_required") || self.amount_total == Some(0)
    }

    /// A subscription's first checkout: the link would count once and never again.
    pub fn is_subscription(&self) -> bool {
        self.mode.as_deref() == Some("subscription")
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

    /// What the reader was charged, in their own currency: the top-level total, which with
    /// Adaptive Pricing is not the account's currency (see [`Session::settled_amount`]).
    pub fn charged(&self) -> Option<(i64, &str)> {
        Some((self.amount_total?, self.currency.as_deref()?))
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
    /// The charge's own currency: the reader's, with Adaptive Pricing.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    /// Only in API versions that still include it (before 2022-11-15), or when expanded.
    #[serde(default, deserialize_with = "null_as_default")]
    pub refunds: List<Refund>,
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

/// A refund (`charge.refund.updated`, or an entry of a charge's `refunds` list).
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    /// The charge's currency, in which the amount is.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

/// A list as Stripe embeds it: `{"object": "list", "data": [...]}`.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List { data: Vec::new() }
    }
}

/// An expandable reference: either `"pi_123"` or an expanded object with an `id`.
pub(super) fn expandable_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    })
}

/// Metadata values are strings, but a null map or a non-string value must not reject the event.
pub(super) fn metadata<'de, D: serde::Deserializer<'de>>(d: D) -> Result<HashMap<String, String>, D::Error> {
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

pub(super) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
