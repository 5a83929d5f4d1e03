//! The `donations` table.

use sqlx::{SqliteConnection, SqlitePool};

use crate::domain::{
    ChargeAmount, CheckoutState, DisputeState, Disputes, DonationStatus, Facts, Interval, Refunds,
    RefundsById, Visibility,
};

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
    /// Once, or every month (a subscription: `coffees` and `amount_cents` are one month's).
    pub interval: Interval,
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
    /// Derived from the two below (kept for the totals and the accounts).
    pub refunded_cents: i64,
    pub charge_refunded_cents: i64,
    #[sqlx(try_from = "String")]
    pub refunds: RefundsById,
    #[sqlx(try_from = "String")]
    pub dispute_state: DisputeState,
    #[sqlx(try_from = "String")]
    pub disputes: Disputes,
    /// What the reader was charged, in their currency, once known.
    pub charge_amount: Option<i64>,
    pub charge_currency: Option<String>,
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
    #[sqlx(try_from = "String")]
    pub interval: Interval,
}

impl DonationRow {
    /// The row `d` becomes when inserted, before any event.
    pub fn from_new(d: &NewDonation) -> DonationRow {
        DonationRow {
            id: d.id.clone(),
            provider: d.provider.to_owned(),
            checkout_session_id: Some(d.checkout_session_id.clone()),
            payment_intent_id: None,
            charge_id: None,
            status: DonationStatus::Pending,
            checkout_state: CheckoutState::Open,
            refunded_cents: 0,
            charge_refunded_cents: 0,
            refunds: RefundsById::default(),
            dispute_state: DisputeState::None,
            disputes: Disputes::default(),
            charge_amount: None,
            charge_currency: None,
            coffees: i64::from(d.coffees),
            expected_amount_cents: d.amount_cents,
            amount_cents: d.amount_cents,
            currency: d.currency.clone(),
            amount_mismatch: false,
            name: d.name.clone(),
            message: d.message.clone(),
            visibility: d.visibility,
            livemode: d.livemode,
            created_at: d.created_at,
            paid_at: None,
            erased_at: None,
            interval: d.interval,
        }
    }

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
}

pub(super) const COLUMNS: &str = "id, provider, checkout_session_id, payment_intent_id, charge_id, status, \
    checkout_state, refunded_cents, charge_refunded_cents, refunds, dispute_state, disputes, charge_amount, \
    charge_currency, coffees, expected_amount_cents, amount_cents, currency, amount_mismatch, name, message, visibility, livemode, created_at, paid_at, erased_at, interval";

/// Inserts unless a donation with this id or checkout session exists. Returns whether it did.
pub async fn insert(conn: &mut SqliteConnection, d: &NewDonation) -> Result<bool, sqlx::Error> {
    Ok(insert_returning(conn, d).await?.is_some())
}

/// Inserts unless a donation with this id or checkout session exists; returns the new row.
pub async fn insert_returning(
    conn: &mut SqliteConnection,
    d: &NewDonation,
) -> Result<Option<DonationRow>, sqlx::Error> {
    let public = d.visibility.is_public();
    let consent_at = public.then_some(d.created_at);
    let consent_version = public.then_some(crate::i18n::CONSENT_VERSION);
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO donations (id, provider, checkout_session_id, coffees, expected_amount_cents, \
         amount_cents, currency, name, message, visibility, consent_at, livemode, created_at, updated_at, \
         held, consent_version, interval, monthly_coffees) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15, ?16) \
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    )))
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
    .bind(d.interval.as_str())
    .bind((d.interval == Interval::Month).then_some(d.coffees))
    .fetch_optional(conn)
    .await
}

pub async fn find_by_id(pool: &SqlitePool, id: &str) -> Result<Option<DonationRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM donations WHERE id = ?1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
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

/// What an event changes on a donation, written in one statement.
pub struct DonationUpdate<'a> {
    /// Ids to fill in where the donation has none (known ones are never overwritten).
    pub learned: &'a Keys,
    /// Stripe's amount and currency, and whether they differ from what we asked for.
    pub amount: Option<(i64, &'a str, bool)>,
    pub facts: &'a Facts,
    /// In the jar's currency, derived from the facts.
    pub refunded_cents: i64,
    pub status: DonationStatus,
}

/// A query over SQLite with its arguments, for the binders below.
pub(super) type Q<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Writes an event's change to donation `?1` (`?1`..`?18`).
pub(super) const UPDATE: &str = "UPDATE donations SET checkout_session_id = COALESCE(checkout_session_id, ?2), \
     payment_intent_id = COALESCE(payment_intent_id, ?3), charge_id = COALESCE(charge_id, ?4), \
     amount_cents = COALESCE(?5, amount_cents), currency = COALESCE(?6, currency), \
     amount_mismatch = MAX(amount_mismatch, ?7), checkout_state = ?8, refunded_cents = ?9, \
     dispute_state = ?10, paid_at = ?11, status = ?12, updated_at = ?13, charge_refunded_cents = ?14, \
     refunds = ?15, disputes = ?16, charge_amount = ?17, charge_currency = ?18 WHERE id = ?1";
/// How many parameters [`UPDATE`] takes.
pub(super) const UPDATE_PARAMS: usize = 18;

pub(super) fn bind_update<'q>(q: Q<'q>, id: &'q str, u: &DonationUpdate<'q>, now: i64) -> Q<'q> {
    let (amount, currency, mismatch) = match u.amount {
        Some((amount, currency, mismatch)) => (Some(amount), Some(currency), mismatch),
        None => (None, None, false),
    };
    q.bind(id)
        .bind(&u.learned.session_id)
        .bind(&u.learned.payment_intent_id)
        .bind(&u.learned.charge_id)
        .bind(amount)
        .bind(currency)
        .bind(mismatch)
        .bind(u.facts.checkout.as_str())
        .bind(u.refunded_cents)
        .bind(u.facts.disputes.state().as_str())
        .bind(u.facts.paid_at)
        .bind(u.status.as_str())
        .bind(now)
        .bind(u.facts.refunds.charge_max)
        .bind(u.facts.refunds.by_id.to_json())
        .bind(u.facts.disputes.to_json())
        .bind(u.facts.charge.as_ref().map(|c| c.amount))
        .bind(u.facts.charge.as_ref().map(|c| c.currency.clone()))
}

pub async fn update(
    conn: &mut SqliteConnection,
    id: &str,
    u: &DonationUpdate<'_>,
    now: i64,
) -> Result<(), sqlx::Error> {
    bind_update(sqlx::query(UPDATE), id, u, now)
        .execute(conn)
        .await
        .map(|_| ())
}
