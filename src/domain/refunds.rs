//! What was refunded of a donation, from two kinds of report that may arrive in any order:
//!
//! - `charge.refunded` carries the charge's cumulative `amount_refunded` at that moment;
//! - `charge.refund.updated` (and a charge's `refunds` list, where the API version includes it)
//!   carries one refund by id, with its status.
//!
//! A refund's status climbs `pending < succeeded < failed | canceled`: a refund can fail after it
//! succeeded (a bank sends the money back), never the other way round. Both kinds of fact only
//! grow (the cumulative amount by maximum, each refund by status), so merging is order-independent;
//! the refunded total is derived from them: what live refunds add up to, or what the charge last
//! reported minus the refunds known to have failed, whichever is more.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A refund's status, as far as the money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundState {
    /// Pending or waiting for the customer: the money is on its way back.
    Pending,
    Succeeded,
    /// Failed or canceled: the money stays with the blogger.
    Failed,
}

impl RefundState {
    /// Stripe's refund `status`; unknown values count as pending, which is what Stripe's own
    /// `amount_refunded` does with a refund in flight.
    pub fn from_stripe(status: Option<&str>) -> RefundState {
        match status {
            Some("succeeded") => RefundState::Succeeded,
            Some("failed" | "canceled") => RefundState::Failed,
            _ => RefundState::Pending,
        }
    }

    fn is_live(self) -> bool {
        self != RefundState::Failed
    }
}

/// One refund, in the charge's own currency (Stripe refunds in the currency the reader paid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub amount: i64,
    pub state: RefundState,
    /// Lower-case ISO code; absent in rows stored before currencies were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Every refund known by id, as stored (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefundsById(pub BTreeMap<String, Refund>);

impl TryFrom<String> for RefundsById {
    type Error = serde_json::Error;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&raw)
    }
}

impl RefundsById {
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refunds {
    /// The highest cumulative `amount_refunded` a charge reported.
    pub charge_max: i64,
    /// Every refund known by id.
    pub by_id: RefundsById,
}

impl Refunds {
    pub fn charge_reported(&mut self, amount_refunded: i64) {
        self.charge_max = self.charge_max.max(amount_refunded.max(0));
    }

    pub fn refund(&mut self, id: &str, amount: i64, currency: Option<&str>, state: RefundState) {
        let seen = self.by_id.0.entry(id.to_owned()).or_insert(Refund {
            amount: amount.max(0),
            state,
            currency: None,
        });
        seen.state = seen.state.max(state);
        seen.amount = seen.amount.max(amount.max(0));
        // The larger of two spellings, so that the order of reports cannot matter.
        let currency = currency.map(str::to_ascii_lowercase);
        seen.currency = seen.currency.take().max(currency);
    }

    /// Whether a refund reported a currency other than `currency`: then its amounts cannot be
    /// compared with the donation's until the charge's own amount is known.
    pub fn in_other_currency(&self, currency: &str) -> bool {
        self.by_id.0.values().any(|r| {
            r.currency
                .as_deref()
                .is_some_and(|c| !c.eq_ignore_ascii_case(currency))
        })
    }

    /// What is refunded now, in the charge's smallest currency unit.
    pub fn total(&self) -> i64 {
        let (live, failed) = self.by_id.0.values().fold((0, 0), |(live, failed), r| {
            if r.state.is_live() {
                (live + r.amount, failed)
            } else {
                (live, failed + r.amount)
            }
        });
        live.max(self.charge_max - failed).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_report_alone_is_the_total() {
        let mut r = Refunds::default();
        r.charge_reported(300);
        r.charge_reported(200);
        assert_eq!(r.total(), 300, "reports are cumulative; the highest wins");
    }

    #[test]
    fn a_refund_that_fails_gives_its_amount_back_whichever_report_came_first() {
        let mut a = Refunds::default();
        a.charge_reported(500);
        a.refund("re_1", 500, None, RefundState::Succeeded);
        a.refund("re_1", 500, None, RefundState::Failed);
        let mut b = Refunds::default();
        b.refund("re_1", 500, None, RefundState::Failed);
        b.charge_reported(500);
        b.refund("re_1", 500, None, RefundState::Pending);
        assert_eq!((a.total(), b.total()), (0, 0));
        assert_eq!(a, b);
    }

    #[test]
    fn a_second_refund_known_by_id_counts_after_a_first_one_failed() {
        let mut r = Refunds::default();
        r.refund("re_1", 300, None, RefundState::Failed);
        r.charge_reported(300);
        r.refund("re_2", 500, None, RefundState::Succeeded);
        r.charge_reported(500);
        assert_eq!(r.total(), 500);
    }

    #[test]
    fn refunds_by_id_round_trip_as_json() {
        let mut r = Refunds::default();
        r.refund("re_1", 300, None, RefundState::Failed);
        let json = r.by_id.to_json();
        assert_eq!(json, r#"{"re_1":{"amount":300,"state":"failed"}}"#);
        assert_eq!(RefundsById::try_from(json).unwrap(), r.by_id);
        assert!(RefundsById::try_from("not json".to_owned()).is_err());
        r.refund("re_2", 100, Some("GBP"), RefundState::Pending);
        assert!(
            r.by_id
                .to_json()
                .contains(r#""re_2":{"amount":100,"state":"pending","currency":"gbp"}"#)
        );
        assert!(r.in_other_currency("eur") && !r.in_other_currency("GBP"));
    }

    #[test]
    fn statuses_map_from_stripe() {
        assert_eq!(
            RefundState::from_stripe(Some("succeeded")),
            RefundState::Succeeded
        );
        assert_eq!(RefundState::from_stripe(Some("canceled")), RefundState::Failed);
        assert_eq!(RefundState::from_stripe(Some("failed")), RefundState::Failed);
        assert_eq!(
            RefundState::from_stripe(Some("requires_action")),
            RefundState::Pending
        );
        assert_eq!(RefundState::from_stripe(None), RefundState::Pending);
    }
}
