//! The `donations` table.

use sqlx::{SqliteConnection, SqlitePool};

use crate::domain::{CheckoutState, DisputeState, DonationStatus, Facts, Visibility};

/// A donation about to be stored, before Stripe has told us anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDonation {
    pub id: String,
    pub provider: &'static str,
    pub checkout_session_id: String,
    pub coffees: u32,
    pub amount_cents: i64,
    pub currency: String,
    pub name: Option<String>,
    pub message: Option<String>,
    pub visibility: Visibility,
    /// A public entry waiting for the blogger's approval.
    pub held: bool,
    pub livemode: bool,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DonationRow {
    pub id: String,
    pub provider: String,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: DonationStatus,
    #[sqlx(try_from = "String")]
    pub checkout_state: CheckoutState,
    pub refunded_cents: i64,
    #[sqlx(try_from = "String")]
    pub dispute_state: DisputeState,
    pub coffees: i64,
    pub expected_amount_cents: i64,
    pub amount_cents: i64,
    pub currency: String,
    pub amount_mismatch: bool,
    pub name: Option<String>,
    pub message: Option<String>,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    pub livemode: bool,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub erased_at: Option<i64>,
}

impl DonationRow {
    pub fn facts(&self) -> Facts {
        Facts {
            checkout: self.checkout_state,
            refunded_cents: self.refunded_cents,
            dispute: self.dispute_state,
            paid_at: self.paid_at,
        }
    }
}

const COLUMNS: &str = "id, provider, checkout_session_id, payment_intent_id, charge_id, status, \
    checkout_state, refunded_cents, dispute_state, coffees, expected_amount_cents, amount_cents, \
    currency, amount_mismatch, name, message, visibility, livemode, created_at, paid_at, erased_at";

/// Inserts unless a donation with this id or checkout session exists. Returns whether it did.
#[tracing::instrument(skip_all, fields(donation_id = %d.id))]
pub async fn insert(conn: &mut SqliteConnection, d: &NewDonation) -> Result<bool, sqlx::Error> {
    let public = d.visibility.is_public();
    let consent_at = public.then_some(d.created_at);
    let consent_version = public.then_some(crate::i18n::CONSENT_VERSION);
    let result = sqlx::query(
        "INSERT INTO donations (id, provider, checkout_session_id, coffees, expected_amount_cents, \
         amount_cents, currency, name, message, visibility, consent_at, livemode, created_at, updated_at, \
         held, consent_version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&d.id)
    .bind(d.provider)
    .bind(&d.checkout_session_id)
    .bind(d.coffees)
    .bind(d.amount_cents)
    .bind(&d.currency)
    .bind(&d.name)
    .bind(&d.message)
    .bind(d.visibility.as_str())
    .bind(consent_at)
    .bind(d.livemode)
    .bind(d.created_at)
    .bind(d.held)
    .bind(consent_version)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_by_session(
    pool: &SqlitePool,
    session_id: &str,
) -> Result<Option<DonationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM donations WHERE checkout_session_id = ?1"
    )))
    .bind(session_id)
    .fetch_optional(pool)
    .await
}

/// The identifiers an event may carry, most specific first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Keys {
    pub donation_id: Option<String>,
    pub session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
}

/// Finds the donation an event belongs to, trying each identifier in turn.
pub async fn find_by_keys(
    conn: &mut SqliteConnection,
    keys: &Keys,
) -> Result<Option<DonationRow>, sqlx::Error> {
    let lookups = [
        ("id", &keys.donation_id),
        ("checkout_session_id", &keys.session_id),
        ("payment_intent_id", &keys.payment_intent_id),
        ("charge_id", &keys.charge_id),
    ];
    for (column, value) in lookups {
        let Some(value) = value else { continue };
        // The column name comes from the fixed list above, never from input.
        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM donations WHERE {column} = ?1 LIMIT 1"
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

/// Fills in Stripe identifiers we did not know yet; known ones are never overwritten.
pub async fn link_ids(
    conn: &mut SqliteConnection,
    id: &str,
    keys: &Keys,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE donations SET checkout_session_id = COALESCE(checkout_session_id, ?2), \
         payment_intent_id = COALESCE(payment_intent_id, ?3), charge_id = COALESCE(charge_id, ?4), \
         updated_at = ?5 WHERE id = ?1",
    )
    .bind(id)
    .bind(&keys.session_id)
    .bind(&keys.payment_intent_id)
    .bind(&keys.charge_id)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Stores Stripe's amount and currency as the truth, flagging a difference from what we asked.
pub async fn record_amount(
    conn: &mut SqliteConnection,
    id: &str,
    amount_cents: i64,
    currency: &str,
    mismatch: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE donations SET amount_cents = ?2, currency = ?3, \
         amount_mismatch = MAX(amount_mismatch, ?4) WHERE id = ?1",
    )
    .bind(id)
    .bind(amount_cents)
    .bind(currency)
    .bind(mismatch)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Writes the merged facts and the status derived from them.
pub async fn save_facts(
    conn: &mut SqliteConnection,
    id: &str,
    facts: &Facts,
    status: DonationStatus,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE donations SET checkout_state = ?2, refunded_cents = ?3, dispute_state = ?4, \
         paid_at = ?5, status = ?6, updated_at = ?7 WHERE id = ?1",
    )
    .bind(id)
    .bind(facts.checkout.as_str())
    .bind(facts.refunded_cents)
    .bind(facts.dispute.as_str())
    .bind(facts.paid_at)
    .bind(status.as_str())
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Takes one of a pending session's Stripe lookups, if it has any left and the last was at least
/// `interval_secs` ago. Atomic, so concurrent refreshes cannot both ask.
pub async fn claim_stripe_lookup(
    conn: &mut SqliteConnection,
    session_id: &str,
    now: i64,
    max_lookups: i64,
    interval_secs: i64,
) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE donations SET stripe_lookups = stripe_lookups + 1, stripe_looked_at = ?2 \
         WHERE checkout_session_id = ?1 AND status = 'pending' AND stripe_lookups < ?3 \
         AND (stripe_looked_at IS NULL OR stripe_looked_at <= ?2 - ?4)",
    )
    .bind(session_id)
    .bind(now)
    .bind(max_lookups)
    .bind(interval_secs)
    .execute(conn)
    .await?;
    Ok(claimed.rows_affected() == 1)
}

/// Whether the donor of donation `id` has erased their personal data.
pub async fn is_erased(conn: &mut SqliteConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM donations WHERE id = ?1 AND erased_at IS NOT NULL")
        .bind(id)
        .fetch_one(conn)
        .await
        .map(|n| n > 0)
}
