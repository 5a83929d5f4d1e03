//! A monthly coffee's row in `donations`: the subscription's facts beside the sums of its
//! invoices (migrations/0011_monthly.sql).

use sqlx::{SqliteConnection, SqliteExecutor};

use crate::domain::{
    Asked, Checkout, CheckoutState, DonationStatus, EndReason, Ended, SubscriptionFacts, SubscriptionStatus,
    SubscriptionView, Summary,
};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MonthlyRow {
    pub id: String,
    pub checkout_session_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: DonationStatus,
    #[sqlx(try_from = "String")]
    pub checkout_state: CheckoutState,
    pub coffees: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub expected_amount_cents: i64,
    pub monthly_coffees: Option<i64>,
    pub currency: String,
    pub paid_at: Option<i64>,
    pub erased_at: Option<i64>,
    pub created_at: i64,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub first_invoice_id: Option<String>,
    pub sub_view_at: Option<i64>,
    pub sub_status: Option<String>,
    pub cancel_at_period_end: bool,
    pub current_period_end: Option<i64>,
    pub ended_at: Option<i64>,
    pub ended_reason: Option<String>,
    pub paid_through: Option<i64>,
    pub renewal_failed: bool,
    /// When the checkout's own facts said it was paid (not the invoices').
    pub checkout_paid_at: Option<i64>,
}

impl MonthlyRow {
    /// What the reader asked for: one month.
    pub fn asked(&self) -> Asked {
        Asked {
            coffees: self.monthly_coffees.unwrap_or(1).max(1),
            amount_cents: self.expected_amount_cents,
        }
    }

    pub fn checkout(&self) -> Checkout {
        Checkout {
            state: self.checkout_state,
            paid_at: self.checkout_paid_at,
        }
    }

    pub fn subscription(&self) -> SubscriptionFacts {
        SubscriptionFacts {
            view: self.sub_view_at.map(|at| SubscriptionView {
                at,
                status: SubscriptionStatus::from_stripe(self.sub_status.as_deref()),
                cancel_at_period_end: self.cancel_at_period_end,
                current_period_end: self.current_period_end,
            }),
            ended: self.ended_at.map(|at| Ended {
                at,
                reason: self
                    .ended_reason
                    .as_deref()
                    .and_then(EndReason::parse)
                    .unwrap_or(EndReason::Other),
            }),
        }
    }
}

const COLUMNS: &str = "id, checkout_session_id, status, checkout_state, coffees, amount_cents, refunded_cents, \
    expected_amount_cents, monthly_coffees, currency, paid_at, erased_at, created_at, subscription_id, \
    customer_id, first_invoice_id, sub_view_at, sub_status, cancel_at_period_end, \
    current_period_end, ended_at, ended_reason, paid_through, renewal_failed, checkout_paid_at";

/// The ways a monthly-coffee event may name its donation, tried in this order.
#[derive(Debug, Default, Clone, Copy)]
pub struct Lookup<'a> {
    pub donation_id: Option<&'a str>,
    pub subscription_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub invoice_id: Option<&'a str>,
}

pub async fn find(conn: &mut SqliteConnection, by: Lookup<'_>) -> Result<Option<MonthlyRow>, sqlx::Error> {
    let lookups = [
        ("id = ?1", by.donation_id),
        ("subscription_id = ?1", by.subscription_id),
        ("checkout_session_id = ?1", by.session_id),
        (
            "id = (SELECT donation_id FROM invoices WHERE id = ?1)",
            by.invoice_id,
        ),
    ];
    for (condition, value) in lookups {
        let Some(value) = value else { continue };
        // The condition comes from the fixed list above, never from input.
        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM donations WHERE {condition} AND interval = 'month'"
        )))
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// Whether the jar has any monthly coffee, running or ended.
pub async fn any(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM donations INDEXED BY donations_interval WHERE interval = 'month')",
    )
    .fetch_one(conn)
    .await
}

/// The running monthly coffees a checkout e-mail address with `email_hash` was seen with, that
/// existed at `declared_at` (a cancellation does not end a monthly coffee started after it).
pub async fn running_with_email(
    pool: &sqlx::SqlitePool,
    email_hash: &str,
    declared_at: i64,
) -> Result<Vec<MonthlyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM donations WHERE id IN (SELECT donation_id FROM email_hashes WHERE hash = ?1) \
         AND interval = 'month' AND ended_at IS NULL AND created_at <= ?2 LIMIT 20"
    )))
    .bind(email_hash)
    .bind(declared_at)
    .fetch_all(pool)
    .await
}

/// Remembers that monthly coffee `donation_id` was paid with an address of `hash` (not for an
/// erased entry); `true` if it is new.
pub async fn remember_email(
    conn: &mut SqliteConnection,
    donation_id: &str,
    hash: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "INSERT OR IGNORE INTO email_hashes (hash, donation_id) SELECT ?1, id FROM donations \
         WHERE id = ?2 AND erased_at IS NULL",
    )
    .bind(hash)
    .bind(donation_id)
    .execute(conn)
    .await
    .map(|r| r.rows_affected() == 1)
}

impl MonthlyRow {
    /// Not ended, and known to Stripe: it can still be ended (or debited).
    pub fn is_running(&self) -> bool {
        self.ended_at.is_none() && self.subscription_id.is_some()
    }
}

pub async fn find_by_id<'e>(
    db: impl SqliteExecutor<'e>,
    id: &str,
) -> Result<Option<MonthlyRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM donations WHERE id = ?1 AND interval = 'month'"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Running monthly coffees not asked about since `asked_before` (the daily sweep), the longest
/// unasked first: (donation id, subscription id).
pub async fn due_for_check(
    pool: &sqlx::SqlitePool,
    asked_before: i64,
    livemode: bool,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, subscription_id FROM donations INDEXED BY donations_monthly \
         WHERE interval = 'month' AND ended_at IS NULL AND subscription_id IS NOT NULL AND livemode = ?2 \
         AND COALESCE(subscription_checked_at, 0) < ?1 ORDER BY COALESCE(subscription_checked_at, 0) LIMIT ?3",
    )
    .bind(asked_before)
    .bind(livemode)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn mark_checked(conn: &mut SqliteConnection, id: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE donations SET subscription_checked_at = ?2 WHERE id = ?1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await
        .map(drop)
}

/// Ids a monthly coffee learns (never overwritten once known).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Learned {
    pub session_id: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub first_invoice_id: Option<String>,
}

/// What an event changes on a monthly coffee's row.
pub struct MonthlyUpdate<'a> {
    pub learned: &'a Learned,
    pub checkout: Checkout,
    pub subscription: &'a SubscriptionFacts,
    pub summary: &'a Summary,
}

pub async fn update(
    conn: &mut SqliteConnection,
    id: &str,
    u: &MonthlyUpdate<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    let view = u.subscription.view.as_ref();
    let ended = u.subscription.ended;
    let s = u.summary;
    sqlx::query(
        "UPDATE donations SET checkout_session_id = COALESCE(checkout_session_id, ?2), \
         subscription_id = COALESCE(subscription_id, ?3), customer_id = COALESCE(customer_id, ?4), \
         first_invoice_id = COALESCE(first_invoice_id, ?5), checkout_state = ?6, checkout_paid_at = ?7, sub_view_at = ?8, \
         sub_status = ?9, cancel_at_period_end = ?10, current_period_end = ?11, ended_at = ?12, \
         ended_reason = ?13, status = ?14, coffees = ?15, amount_cents = ?16, refunded_cents = ?17, \
         paid_through = ?18, paid_at = ?19, renewal_failed = ?20, updated_at = ?21 WHERE id = ?1",
    )
    .bind(id)
    .bind(&u.learned.session_id)
    .bind(&u.learned.subscription_id)
    .bind(&u.learned.customer_id)
    .bind(&u.learned.first_invoice_id)
    .bind(u.checkout.state.as_str())
    .bind(u.checkout.paid_at)
    .bind(view.map(|v| v.at))
    .bind(view.map(|v| v.status.as_str()))
    .bind(view.is_some_and(|v| v.cancel_at_period_end))
    .bind(view.and_then(|v| v.current_period_end))
    .bind(ended.map(|e| e.at))
    .bind(ended.map(|e| e.reason.as_str()))
    .bind(s.status.as_str())
    .bind(s.coffees.max(1))
    .bind(s.amount_cents)
    .bind(s.refunded_cents)
    .bind(s.paid_through)
    .bind(s.paid_at)
    .bind(s.renewal_failed)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}
