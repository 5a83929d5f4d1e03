//! What applying an event changes on a stored donation: a pure function of the row and the
//! event's contribution, so the ledger writes at most one `UPDATE` per event, and only when
//! something changed.

use crate::domain::{DonationStatus, Effect, Facts};
use crate::storage::donations::{DonationRow, Keys};

use super::interpret::{AmountChange, amount_change};

/// The new state of a donation after one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Stripe ids the donation did not have yet (known ones are never overwritten).
    pub learned: Keys,
    pub amount: Option<AmountChange>,
    pub facts: Facts,
    /// In the jar's currency, derived from the facts and the amount.
    pub refunded_cents: i64,
    pub status: DonationStatus,
}

impl Change {
    /// Whether the event taught the donation a new session, payment intent or charge id, which
    /// a deferred event may have been waiting for.
    pub fn learned_an_id(&self) -> bool {
        self.learned.session_id.is_some()
            || self.learned.payment_intent_id.is_some()
            || self.learned.charge_id.is_some()
    }
}

/// Merges `effects` (and the ids in `keys`, and Stripe's `settled` amount) into `row`; `None`
/// when nothing changes.
pub fn merge(
    row: &DonationRow,
    keys: &Keys,
    effects: &[Effect],
    settled: Option<(i64, &str)>,
) -> Option<Change> {
    let new = |known: &Option<String>, given: &Option<String>| match (known, given) {
        (None, Some(id)) => Some(id.clone()),
        _ => None,
    };
    let learned = Keys {
        donation_id: None,
        session_id: new(&row.checkout_session_id, &keys.session_id),
        payment_intent_id: new(&row.payment_intent_id, &keys.payment_intent_id),
        charge_id: new(&row.charge_id, &keys.charge_id),
    };
    let amount =
        settled.and_then(|s| amount_change((row.amount_cents, &row.currency), row.expected_amount_cents, s));
    // The status is judged against the amount Stripe charged, once known.
    let (amount_cents, currency) = amount
        .as_ref()
        .map_or((row.amount_cents, row.currency.as_str()), |a| {
            (a.amount_cents, a.currency.as_str())
        });
    let facts = effects.iter().fold(row.facts(), |facts, e| facts.apply(e));
    let status = facts.status(amount_cents, currency);
    let refunded_cents = facts.refunded_cents(amount_cents, currency);
    let unchanged = learned == Keys::default()
        && amount.is_none()
        && facts == row.facts()
        && status == row.status
        && refunded_cents == row.refunded_cents;
    (!unchanged).then_some(Change {
        learned,
        amount,
        facts,
        refunded_cents,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChargeAmount, CheckoutState, DisputeState, Visibility};

    fn row() -> DonationRow {
        DonationRow {
            id: "d".into(),
            provider: "stripe".into(),
            checkout_session_id: Some("cs_1".into()),
            payment_intent_id: None,
            charge_id: Some("ch_old".into()),
            status: DonationStatus::Pending,
            checkout_state: CheckoutState::Open,
            refunded_cents: 0,
            charge_refunded_cents: 0,
            refunds: Default::default(),
            dispute_state: DisputeState::None,
            disputes: Default::default(),
            charge_amount: None,
            charge_currency: None,
            coffees: 2,
            expected_amount_cents: 1000,
            amount_cents: 1000,
            currency: "eur".into(),
            amount_mismatch: false,
            name: None,
            message: None,
            visibility: Visibility::Anonymous,
            livemode: false,
            created_at: 0,
            paid_at: None,
            erased_at: None,
            interval: crate::domain::Interval::Once,
        }
    }

    fn keys(pi: Option<&str>, charge: Option<&str>) -> Keys {
        Keys {
            donation_id: Some("d".into()),
            session_id: Some("cs_1".into()),
            payment_intent_id: pi.map(str::to_owned),
            charge_id: charge.map(str::to_owned),
        }
    }

    #[test]
    fn a_payment_fills_in_new_ids_only_and_moves_the_state() {
        let paid = Effect::Completed { paid: true, at: 5 };
        let change = merge(&row(), &keys(Some("pi_1"), Some("ch_new")), &[paid], None).unwrap();
        assert_eq!(change.learned.payment_intent_id.as_deref(), Some("pi_1"));
        assert_eq!(
            change.learned.charge_id, None,
            "a known charge id is never overwritten"
        );
        assert_eq!(change.learned.session_id, None);
        assert!(change.learned_an_id());
        assert_eq!(change.status, DonationStatus::Paid);
        assert_eq!(change.facts.paid_at, Some(5));
    }

    #[test]
    fn an_event_that_changes_nothing_writes_nothing() {
        let mut paid = row();
        paid.payment_intent_id = Some("pi_1".into());
        paid.checkout_state = CheckoutState::Paid;
        paid.status = DonationStatus::Paid;
        paid.paid_at = Some(5);
        paid.charge_id = None;
        let again = Effect::Completed { paid: true, at: 9 };
        assert_eq!(
            merge(
                &paid,
                &keys(Some("pi_1"), None),
                std::slice::from_ref(&again),
                Some((1000, "eur"))
            ),
            None
        );
        let new_id = merge(&paid, &keys(Some("pi_1"), Some("ch_2")), &[again], None);
        assert!(new_id.is_some_and(|c| c.learned_an_id() && c.status == DonationStatus::Paid));
    }

    #[test]
    fn the_status_is_judged_against_stripes_amount() {
        let refunded = Effect::Refunded {
            amount_refunded: 800,
            charge: None,
        };
        let mut paid = row();
        paid.checkout_state = CheckoutState::Paid;
        paid.status = DonationStatus::Paid;
        let change = merge(
            &paid,
            &keys(None, None),
            std::slice::from_ref(&refunded),
            Some((800, "eur")),
        )
        .unwrap();
        assert_eq!(
            change.status,
            DonationStatus::Refunded,
            "800 of 800 charged is a full refund"
        );
        assert!(
            change
                .amount
                .as_ref()
                .is_some_and(|a| a.mismatch && a.amount_cents == 800)
        );
        assert!(!change.learned_an_id());
        let partial = merge(&paid, &keys(None, None), &[refunded], None).unwrap();
        assert_eq!(partial.status, DonationStatus::Paid, "800 of 1000 is partial");
    }

    #[test]
    fn a_refund_in_the_readers_currency_counts_as_its_share_of_the_euros() {
        let mut paid = row();
        paid.checkout_state = CheckoutState::Paid;
        paid.status = DonationStatus::Paid;
        paid.charge_amount = Some(860);
        paid.charge_currency = Some("gbp".into());
        let refunded = |amount_refunded| Effect::Refunded {
            amount_refunded,
            charge: Some(ChargeAmount::new(860, "GBP")),
        };
        let full = merge(&paid, &keys(None, None), &[refunded(860)], None).unwrap();
        assert_eq!(
            (full.status, full.refunded_cents),
            (DonationStatus::Refunded, 1000)
        );
        let half = merge(&paid, &keys(None, None), &[refunded(430)], None).unwrap();
        assert_eq!((half.status, half.refunded_cents), (DonationStatus::Paid, 500));
    }
}
