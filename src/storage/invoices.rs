//! The `invoices` table: one coffee record per invoice of a monthly coffee, with the same money
//! facts a one-time donation keeps (paid, refunds by id, disputes by id, the charge).

use sqlx::{SqliteConnection, SqliteExecutor};

use crate::domain::{
    ChargeAmount, CheckoutState, Disputes, DonationStatus, Facts, InvoiceSummary, Refunds, RefundsById,
};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InvoiceRow {
    pub id: String,
    pub donation_id: String,
    pub is_first: bool,
    pub billing_reason: Option<String>,
    pub coffees: i64,
    pub amount_cents: i64,
    /// Where `amount_cents` and `coffees` come from: 0 asked, 1 a checkout's total or an unpaid
    /// invoice, 2 the paid invoice itself (the highest wins).
    pub amount_rank: i64,
    pub currency: String,
    pub period_end: Option<i64>,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: DonationStatus,
    #[sqlx(try_from = "String")]
    pub checkout_state: CheckoutState,
    pub refunded_cents: i64,
    pub charge_refunded_cents: i64,
    #[sqlx(try_from = "String")]
    pub refunds: RefundsById,
    #[sqlx(try_from = "String")]
    pub disputes: Disputes,
    pub charge_amount: Option<i64>,
    pub charge_currency: Option<String>,
    pub stripe_status: Option<String>,
    pub stripe_status_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
}

impl InvoiceRow {
    pub fn facts(&self) -> Facts {
        Facts {
            checkout: self.checkout_state,
            refunds: Refunds {
                charge_max: self.charge_refunded_cents,
                by_id: self.refunds.clone(),
            },
            disputes: self.disputes.clone(),
            charge: self
                .charge_amount
                .zip(self.charge_currency.as_deref())
                .map(|(amount, currency)| ChargeAmount::new(amount, currency)),
            paid_at: self.paid_at,
        }
    }

    /// Takes `facts` and what they mean for this invoice's amount.
    pub fn set_facts(&mut self, facts: &Facts) {
        self.checkout_state = facts.checkout;
        self.charge_refunded_cents = facts.refunds.charge_max;
        self.refunds = facts.refunds.by_id.clone();
        self.disputes = facts.disputes.clone();
        self.charge_amount = facts.charge.as_ref().map(|c| c.amount);
        self.charge_currency = facts.charge.as_ref().map(|c| c.currency.clone());
        self.paid_at = facts.paid_at;
        self.status = facts.status(self.amount_cents, &self.currency);
        self.refunded_cents = facts.refunded_cents(self.amount_cents, &self.currency);
    }

    pub fn summary(&self) -> InvoiceSummary {
        InvoiceSummary {
            status: self.status,
            checkout: self.checkout_state,
            first: self.is_first,
            coffees: self.coffees,
            amount_cents: self.amount_cents,
            refunded_cents: self.refunded_cents,
            period_end: self.period_end,
            paid_at: self.paid_at,
        }
    }
}

const COLUMNS: &str = "id, donation_id, is_first, billing_reason, coffees, amount_cents, amount_rank, currency, period_end, \
    payment_intent_id, charge_id, status, checkout_state, refunded_cents, charge_refunded_cents, refunds, \
    disputes, charge_amount, charge_currency, stripe_status, stripe_status_at, paid_at, created_at";

/// Every invoice of a monthly coffee, oldest first.
pub async fn for_donation<'e>(
    db: impl SqliteExecutor<'e>,
    donation_id: &str,
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM invoices WHERE donation_id = ?1 ORDER BY created_at, id"
    )))
    .bind(donation_id)
    .fetch_all(db)
    .await
}

/// Every invoice paid (or, never paid, created) in `[start, end)`, newest first: a month's
/// lines of the CSV export, counted as the totals count them.
pub async fn in_range(
    pool: &sqlx::SqlitePool,
    (start, end): (i64, i64),
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM invoices WHERE COALESCE(paid_at, created_at) >= ?1 \
         AND COALESCE(paid_at, created_at) < ?2 ORDER BY COALESCE(paid_at, created_at) DESC, id"
    )))
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await
}

/// The invoice a renewal's payment intent or charge paid.
pub async fn find_by_payment(
    conn: &mut SqliteConnection,
    payment_intent_id: Option<&str>,
    charge_id: Option<&str>,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    if payment_intent_id.is_none() && charge_id.is_none() {
        return Ok(None);
    }
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM invoices WHERE payment_intent_id = ?1 \
         UNION ALL SELECT {COLUMNS} FROM invoices WHERE charge_id = ?2 LIMIT 1"
    )))
    .bind(payment_intent_id)
    .bind(charge_id)
    .fetch_optional(conn)
    .await
}

/// Writes an invoice as merged: inserted, or every merged column replaced.
pub async fn upsert(conn: &mut SqliteConnection, i: &InvoiceRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO invoices (id, donation_id, is_first, billing_reason, coffees, amount_cents, currency, \
         period_end, payment_intent_id, charge_id, status, checkout_state, refunded_cents, \
         charge_refunded_cents, refunds, disputes, charge_amount, charge_currency, stripe_status, \
         stripe_status_at, paid_at, created_at, updated_at, amount_rank) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
         ?21, ?22, ?23, ?24) \
         ON CONFLICT (id) DO UPDATE SET is_first = excluded.is_first, billing_reason = excluded.billing_reason, \
         coffees = excluded.coffees, amount_cents = excluded.amount_cents, amount_rank = excluded.amount_rank, \
         currency = excluded.currency, \
         period_end = excluded.period_end, payment_intent_id = excluded.payment_intent_id, \
         charge_id = excluded.charge_id, status = excluded.status, checkout_state = excluded.checkout_state, \
         refunded_cents = excluded.refunded_cents, charge_refunded_cents = excluded.charge_refunded_cents, \
         refunds = excluded.refunds, disputes = excluded.disputes, charge_amount = excluded.charge_amount, \
         charge_currency = excluded.charge_currency, stripe_status = excluded.stripe_status, \
         stripe_status_at = excluded.stripe_status_at, paid_at = excluded.paid_at, \
         updated_at = excluded.updated_at",
    )
    .bind(&i.id)
    .bind(&i.donation_id)
    .bind(i.is_first)
    .bind(&i.billing_reason)
    .bind(i.coffees)
    .bind(i.amount_cents)
    .bind(&i.currency)
    .bind(i.period_end)
    .bind(&i.payment_intent_id)
    .bind(&i.charge_id)
    .bind(i.status.as_str())
    .bind(i.checkout_state.as_str())
    .bind(i.refunded_cents)
    .bind(i.charge_refunded_cents)
    .bind(i.refunds.to_json())
    .bind(i.disputes.to_json())
    .bind(i.charge_amount)
    .bind(&i.charge_currency)
    .bind(&i.stripe_status)
    .bind(i.stripe_status_at)
    .bind(i.paid_at)
    .bind(i.created_at)
    .bind(now)
    .bind(i.amount_rank)
    .execute(conn)
    .await
    .map(drop)
}
