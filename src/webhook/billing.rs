//! The billing objects inside events (monthly coffees), reduced to the fields we read, every one
//! optional or defaulted: webhooks arrive in the endpoint's own API version, so a field may be
//! where an older version put it, where a newer one moved it, or missing.

use std::collections::HashMap;

use serde::Deserialize;

use super::objects::{List, expandable_id, metadata, null_as_default};

/// A `subscription`.
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub cancel_at_period_end: Option<bool>,
    #[serde(default)]
    pub ended_at: Option<i64>,
    #[serde(default)]
    pub canceled_at: Option<i64>,
    #[serde(default)]
    pub cancellation_details: Option<CancellationDetails>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: List<SubscriptionItem>,
    /// Before API version 2025-03-31 the period was on the subscription; since, on its items.
    #[serde(default)]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CancellationDetails {
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    #[serde(default)]
    pub current_period_end: Option<i64>,
}

impl Subscription {
    /// When the current period ends: on the items (newer API versions) or the subscription.
    pub fn period_end(&self) -> Option<i64> {
        self.items
            .data
            .iter()
            .filter_map(|i| i.current_period_end)
            .max()
            .or(self.current_period_end)
    }

    /// Our checkout put `kaffeekasse=1` on the subscription's metadata.
    pub fn is_ours(&self) -> bool {
        self.metadata.get("kaffeekasse").map(String::as_str) == Some("1")
    }
}

/// An `invoice`.
#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub billing_reason: Option<String>,
    #[serde(default)]
    pub amount_paid: Option<i64>,
    #[serde(default)]
    pub amount_due: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    /// Before API version 2025-03-31.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    /// API versions from 2023 to 2025: the subscription's metadata.
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
    /// Since API version 2025-03-31: `parent.subscription_details`.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub lines: List<InvoiceLine>,
    #[serde(default)]
    pub status_transitions: Option<StatusTransitions>,
    /// Before API version 2025-03-31; since, they come from `invoice_payment` objects.
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
    /// Its `invoice_payment` objects, where a list request expanded them (`data.payments`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub payments: List<InvoicePayment>,
    #[serde(default)]
    pub livemode: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceParent {
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionDetails {
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    #[serde(default)]
    pub period: Option<Period>,
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Before API version 2025-03-31: `subscription` or `invoiceitem`, and whether it prorates.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub proration: Option<bool>,
    /// Since: `parent.type` (`subscription_item_details`, `invoice_item_details`) and its details.
    #[serde(default)]
    pub parent: Option<LineParent>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineParent {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub subscription_item_details: Option<LineDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineDetails {
    #[serde(default)]
    pub proration: Option<bool>,
}

impl InvoiceLine {
    /// The subscription's own charge for a period: not a one-off item, not a proration.
    fn bills_the_subscription(&self) -> bool {
        let parent = self.parent.as_ref();
        let item = parent.and_then(|p| p.kind.as_deref()) == Some("invoice_item_details")
            || self.kind.as_deref() == Some("invoiceitem");
        let prorates = self.proration == Some(true)
            || parent
                .and_then(|p| p.subscription_item_details.as_ref())
                .is_some_and(|d| d.proration == Some(true));
        !item && !prorates
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Period {
    #[serde(default)]
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusTransitions {
    #[serde(default)]
    pub paid_at: Option<i64>,
}

impl Invoice {
    fn details(&self) -> impl Iterator<Item = &SubscriptionDetails> {
        self.parent
            .iter()
            .filter_map(|p| p.subscription_details.as_ref())
            .chain(self.subscription_details.iter())
    }

    /// The subscription it bills, wherever this API version puts it.
    pub fn subscription_id(&self) -> Option<&str> {
        self.details()
            .find_map(|d| d.subscription.as_deref())
            .or(self.subscription.as_deref())
    }

    /// The subscription's metadata, where this API version copies it onto the invoice.
    pub fn subscription_metadata(&self) -> Option<&HashMap<String, String>> {
        self.details().map(|d| &d.metadata).find(|m| !m.is_empty())
    }

    /// Whether this API version copies the subscription's details onto the invoice at all: then
    /// empty metadata means a subscription that is not ours.
    pub fn copies_metadata(&self) -> bool {
        self.details().next().is_some()
    }

    /// The latest end of the periods its subscription lines bill for.
    pub fn period_end(&self) -> Option<i64> {
        self.lines
            .data
            .iter()
            .filter(|l| l.bills_the_subscription())
            .filter_map(|l| l.period.as_ref().and_then(|p| p.end))
            .max()
    }

    /// Coffees billed: the quantity of its subscription lines (one line: the coffee price),
    /// not of one-off items or prorations.
    pub fn quantity(&self) -> Option<i64> {
        let q: i64 = self
            .lines
            .data
            .iter()
            .filter(|l| l.bills_the_subscription())
            .filter_map(|l| l.quantity)
            .sum();
        (q > 0).then_some(q)
    }

    pub fn paid_at(&self) -> Option<i64> {
        self.status_transitions.as_ref().and_then(|s| s.paid_at)
    }

    /// The subscription's first invoice, which the checkout paid.
    pub fn is_first(&self) -> bool {
        self.billing_reason.as_deref() == Some("subscription_create")
    }

    /// The payment intent and charge that paid it: the invoice's own fields (older API
    /// versions), else its first paid `invoice_payment` (when expanded).
    pub fn payment(&self) -> (Option<String>, Option<String>) {
        let paid = self
            .payments
            .data
            .iter()
            .find(|p| p.status.as_deref() == Some("paid"))
            .and_then(|p| p.payment.as_ref());
        (
            self.payment_intent
                .clone()
                .or_else(|| paid.and_then(|p| p.payment_intent.clone())),
            self.charge
                .clone()
                .or_else(|| paid.and_then(|p| p.charge.clone())),
        )
    }
}

/// An `invoice_payment`: which payment paid an invoice (since API version 2025-03-31).
#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePayment {
    pub id: String,
    #[serde(default, deserialize_with = "expandable_id")]
    pub invoice: Option<String>,
    #[serde(default)]
    pub payment: Option<PaymentRef>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentRef {
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_names_its_subscription_in_every_api_versions_place() {
        let new: Invoice = serde_json::from_str(
            r#"{"id":"in_1","parent":{"type":"subscription_details","subscription_details":
                {"subscription":"sub_new","metadata":{"kaffeekasse":"1"}}},"subscription":null}"#,
        )
        .unwrap();
        assert_eq!(new.subscription_id(), Some("sub_new"));
        assert_eq!(
            new.subscription_metadata()
                .and_then(|m| m.get("kaffeekasse"))
                .map(String::as_str),
            Some("1")
        );
        let middle: Invoice = serde_json::from_str(
            r#"{"id":"in_2","subscription":"sub_mid","subscription_details":{"metadata":{"donation_id":"d"}}}"#,
        )
        .unwrap();
        assert_eq!(middle.subscription_id(), Some("sub_mid"));
        assert!(middle.subscription_metadata().is_some());
        let old: Invoice = serde_json::from_str(
            r#"{"id":"in_3","subscription":{"id":"sub_old"},"lines":null,"parent":null}"#,
        )
        .unwrap();
        assert_eq!(old.subscription_id(), Some("sub_old"));
        assert_eq!(old.subscription_metadata(), None);
        assert_eq!((old.period_end(), old.quantity()), (None, None));
    }

    #[test]
    fn a_subscriptions_period_is_read_from_its_items_or_itself() {
        let items: Subscription = serde_json::from_str(
            r#"{"id":"sub","items":{"data":[{"current_period_end":200},{"current_period_end":100}]}}"#,
        )
        .unwrap();
        assert_eq!(items.period_end(), Some(200));
        let old: Subscription =
            serde_json::from_str(r#"{"id":"sub","current_period_end":300,"items":null}"#).unwrap();
        assert_eq!(old.period_end(), Some(300));
    }
}
