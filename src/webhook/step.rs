//! The steps an interpreted event asks for: what `interpret.rs` and `monthly.rs` decide, and
//! `write.rs` and `monthly_apply.rs` carry out.

use crate::domain::{ChargeAmount, Effect, SubscriptionFacts};
use crate::storage::donations::{Keys, NewDonation};

/// What applying an event takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A checkout session moved on. Boxed: it carries a whole donation to record.
    Session(Box<SessionStep>),
    /// A charge, refund or dispute: find the donation by any of `keys`, or defer until one
    /// matches; then apply every effect (a charge may report its refunds one by one too).
    Payment {
        keys: Keys,
        effects: Vec<Effect>,
    },
    /// A monthly coffee's checkout, subscription, invoice or invoice payment.
    Monthly(Box<MonthlyStep>),
    /// A refund of a charge that carries no id of ours, in a jar that lists no Payment Links:
    /// only a monthly coffee's renewal can be ours, found through its invoice's payment; while
    /// the jar has no monthly coffee at all, it is someone else's charge.
    Renewal {
        keys: Keys,
        effects: Vec<Effect>,
    },
    Ignored(&'static str),
    /// The event's object could not be read; kept for `kaffeekasse replay` after a fix.
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStep {
    /// How to find the donation: our id, then the session id. Never the payment intent, which
    /// could at worst point at another session's donation.
    pub lookup: Keys,
    /// Every identifier the session carries, remembered on the donation for later events.
    pub keys: Keys,
    pub effect: Effect,
    /// What the reader was charged, in their currency, unless the session expired: refunds are
    /// counted against it.
    pub charged: Option<ChargeAmount>,
    /// Stripe's amount and currency in the account's currency, unless the session expired.
    pub settled: Option<(i64, String)>,
    /// The donation to record when there is no row yet: a listed Payment Link's, or one of ours
    /// whose row is missing (a restored backup). `None` for an expiry: an abandoned visit is not a
    /// donation, only money movements create rows.
    pub recovered: Option<NewDonation>,
}

impl SessionStep {
    /// Every effect the session has on its donation.
    pub fn effects(&self) -> Vec<Effect> {
        let charged = self.charged.clone().map(Effect::Charged);
        std::iter::once(self.effect.clone()).chain(charged).collect()
    }
}

impl Step {
    /// The ids a payment step's donation may be found by: what a deferred event waits for.
    pub fn waits_for(&self) -> Vec<String> {
        match self {
            Step::Payment { keys, .. } | Step::Renewal { keys, .. } => {
                [&keys.donation_id, &keys.payment_intent_id, &keys.charge_id]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect()
            }
            Step::Monthly(step) => step.waits_for(),
            _ => Vec::new(),
        }
    }
}

/// What applying a monthly-coffee event takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonthlyStep {
    /// How to find the donation: our id, then the subscription, then the checkout session, then
    /// the invoice (an `invoice_payment` names nothing else).
    pub donation_id: Option<String>,
    pub subscription_id: Option<String>,
    pub session_id: Option<String>,
    /// Remembered on the donation where it has none yet.
    pub customer_id: Option<String>,
    pub first_invoice_id: Option<String>,
    /// A session event's contribution to the checkout's own facts.
    pub checkout: Option<Effect>,
    pub subscription: SubscriptionFacts,
    pub invoice: Option<InvoiceReport>,
    /// The donation to record when our row is missing (a restored backup): only a session of
    /// ours, which knows everything the row needs.
    pub recovered: Option<NewDonation>,
    /// The checkout e-mail address's keyed hash (set by the ledger, which holds the key; the
    /// address itself is dropped with the payer's other details before anything is stored).
    pub email_hash: Option<String>,
}

/// What an event says about one invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceReport {
    pub id: String,
    /// May create the invoice's row: an `invoice_payment` only adds ids to a known one.
    pub creates: bool,
    pub first: bool,
    pub billing_reason: Option<String>,
    pub effects: Vec<Effect>,
    pub coffees: Option<i64>,
    /// In the invoice's currency (the jar's: our checkout turns Adaptive Pricing off).
    pub amount: Option<(i64, String)>,
    /// How much `amount` and `coffees` are to be believed: 1 a checkout's total or an unpaid
    /// invoice's amount due, 2 a paid invoice's amount paid (the invoice itself is the truth).
    pub amount_rank: i64,
    pub period_end: Option<i64>,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    /// The invoice's own status word and the reporting event's time, for display.
    pub stripe_status: Option<(i64, String)>,
}

impl MonthlyStep {
    /// The ids a deferred monthly event waits for.
    pub fn waits_for(&self) -> Vec<String> {
        let invoice = self.invoice.as_ref().map(|i| &i.id);
        [self.donation_id.as_ref(), self.subscription_id.as_ref(), invoice]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }
}
