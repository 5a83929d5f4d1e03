//! The blogger's reads and edits: every donation in every state, monthly totals, moderation and
//! erasure.

use sqlx::{SqliteConnection, SqlitePool};

use super::events::EventStatus;
use super::supporters::Cursor;
use crate::domain::{DonationStatus, Visibility};

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct AdminRow {
    #[serde(skip)]
    pub seq: i64,
    pub id: String,
    pub provider: String,
    #[sqlx(try_from = "String")]
    pub status: DonationStatus,
    pub coffees: i64,
    pub amount_cents: i64,
    pub refunded_cents: i64,
    pub currency: String,
    pub amount_mismatch: bool,
    pub name: Option<String>,
    pub message: Option<String>,
    #[sqlx(try_from = "String")]
    pub visibility: Visibility,
    pub hidden: bool,
    pub held: bool,
    pub consent_at: Option<i64>,
    pub consent_version: Option<String>,
    pub livemode: bool,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub charge_id: Option<String>,
    pub created_at: i64,
    pub paid_at: Option<i64>,
    pub erased_at: Option<i64>,
    /// `once`, or `month` for a monthly coffee (its sums are its paid invoices').
    #[sqlx(try_from = "String")]
    pub interval: crate::domain::Interval,
    pub subscription_id: Option<String>,
    /// When a monthly coffee ended.
    pub ended_at: Option<i64>,
}

const COLUMNS: &str = "rowid AS seq, id, provider, status, coffees, amount_cents, refunded_cents, currency, \
    amount_mismatch, name, message, visibility, hidden, held, consent_at, consent_version, livemode, \
    checkout_session_id, payment_intent_id, charge_id, created_at, paid_at, erased_at, interval, \
    subscription_id, ended_at";

/// Which donations to list.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub status: Option<DonationStatus>,
    /// `[start, end)` in unix seconds, for a calendar month.
    pub between: Option<(i64, i64)>,
    pub held_only: bool,
    /// Only monthly coffees.
    pub monthly_only: bool,
}

pub async fn list(
    pool: &SqlitePool,
    filter: &Filter,
    before: Option<&Cursor>,
    limit: u32,
) -> Result<(Vec<AdminRow>, Option<Cursor>), sqlx::Error> {
    let (t, seq) = before.map_or((i64::MAX, i64::MAX), |c| (c.created_at, c.seq));
    let (from, to) = filter.between.unwrap_or((i64::MIN, i64::MAX));
    let rows: Vec<AdminRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM donations \
         WHERE (?1 IS NULL OR status = ?1) AND created_at >= ?2 AND created_at < ?3 AND (?4 = 0 OR held = 1) \
         AND (created_at < ?5 OR (created_at = ?5 AND rowid < ?6)) AND (?8 = 0 OR interval = 'month') \
         ORDER BY created_at DESC, rowid DESC LIMIT ?7"
    )))
    .bind(filter.status.map(DonationStatus::as_str))
    .bind(from)
    .bind(to)
    .bind(filter.held_only)
    .bind(t)
    .bind(seq)
    .bind(i64::from(limit) + 1)
    .bind(filter.monthly_only)
    .fetch_all(pool)
    .await?;
    Ok(super::supporters::split_page(rows, limit, |r| Cursor {
        created_at: r.created_at,
        seq: r.seq,
    }))
}

/// One donation, through the pool or inside a write transaction.
pub async fn find<'e>(db: impl sqlx::SqliteExecutor<'e>, id: &str) -> Result<Option<AdminRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM donations WHERE id = ?1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Money per calendar month (UTC) and overall. Gross counts every payment that was paid at some
/// point: a one-time coffee in the month of its checkout, each month of a monthly coffee in the
/// month its invoice was paid. Refunds and lost disputes are what went back.
#[derive(Debug, Clone, Default, sqlx::FromRow, serde::Serialize)]
pub struct MonthTotals {
    pub month: String,
    pub donations: i64,
    pub coffees: i64,
    pub gross_cents: i64,
    pub refunded_cents: i64,
    pub disputed_lost_cents: i64,
    pub net_cents: i64,
}

pub async fn monthly_totals(pool: &SqlitePool) -> Result<Vec<MonthTotals>, sqlx::Error> {
    sqlx::query_as(
        "WITH payments (at, coffees, amount_cents, refunded_cents, lost) AS ( \
           SELECT created_at, coffees, amount_cents, refunded_cents, dispute_state = 'lost' FROM donations \
           WHERE checkout_state = 'paid' AND interval = 'once' \
           UNION ALL SELECT COALESCE(paid_at, created_at), coffees, amount_cents, refunded_cents, status = 'lost' \
           FROM invoices INDEXED BY invoices_paid WHERE checkout_state = 'paid') \
         SELECT month, COUNT(*) AS donations, SUM(coffees) AS coffees, SUM(amount_cents) AS gross_cents, \
         SUM(refunded) AS refunded_cents, SUM(lost) AS disputed_lost_cents, \
         SUM(amount_cents - refunded - lost) AS net_cents FROM ( \
           SELECT strftime('%Y-%m', at, 'unixepoch') AS month, coffees, amount_cents, \
             MIN(refunded_cents, amount_cents) AS refunded, \
             CASE WHEN lost THEN amount_cents - MIN(refunded_cents, amount_cents) ELSE 0 END AS lost \
           FROM payments) \
         GROUP BY month ORDER BY month DESC",
    )
    .fetch_all(pool)
    .await
}

/// Sets `hidden`; returns whether the donation exists.
pub async fn set_hidden(
    conn: &mut SqliteConnection,
    id: &str,
    hidden: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE donations SET hidden = ?2, updated_at = ?3 WHERE id = ?1")
        .bind(id)
        .bind(hidden)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn approve(conn: &mut SqliteConnection, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("UPDATE donations SET held = 0, updated_at = ?2 WHERE id = ?1")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The donor's shown entry: name, message, visibility and whether it waits for review. Going
/// public records the consent; going anonymous withdraws it. Refused once erased.
pub struct EntryUpdate<'a> {
    pub name: Option<&'a str>,
    pub message: Option<&'a str>,
    pub public: bool,
    pub held: bool,
    pub consent_version: &'a str,
}

pub async fn update_entry(
    conn: &mut SqliteConnection,
    id: &str,
    e: &EntryUpdate<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE donations SET name = ?2, message = ?3, held = ?5, \
         visibility = CASE WHEN ?4 THEN 'public' ELSE 'anonymous' END, \
         consent_at = CASE WHEN ?4 THEN (CASE WHEN visibility = 'public' THEN consent_at ELSE ?7 END) ELSE NULL END, \
         consent_version = CASE WHEN ?4 THEN ?6 ELSE NULL END, updated_at = ?7 \
         WHERE id = ?1 AND erased_at IS NULL",
    )
    .bind(id)
    .bind(e.name)
    .bind(e.message)
    .bind(e.public)
    .bind(e.held)
    .bind(e.consent_version)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Anonymises a donation's personal fields and scrubs personal data from its stored Stripe
/// events. Amount, dates, state and Stripe ids stay for accounting. Cannot be undone. Every
/// connection runs with `secure_delete`, so the old text is zeroed in the pages it leaves;
/// `Db::checkpoint` afterwards moves it out of the WAL file too.
pub async fn erase(conn: &mut SqliteConnection, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE donations SET name = NULL, message = NULL, visibility = 'anonymous', consent_at = NULL, \
         consent_version = NULL, held = 0, erased_at = COALESCE(erased_at, ?2), updated_at = ?2 WHERE id = ?1",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    // A monthly coffee's address hashes go too, and with them the supporter's cancellation
    // declarations (those by an address another entry was paid with stay: they are its record).
    let hashes: Vec<String> =
        sqlx::query_scalar("DELETE FROM email_hashes WHERE donation_id = ?1 RETURNING hash")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    super::cancellations::erase_for(conn, id, &hashes).await?;
    let events: Vec<String> = sqlx::query_scalar("SELECT id FROM stripe_events WHERE donation_id = ?1")
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    for event_id in events {
        super::events::redact_for_erasure(conn, &event_id).await?;
    }
    Ok(true)
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct LedgerRow {
    pub id: String,
    #[sqlx(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub received_at: i64,
    #[sqlx(try_from = "String")]
    pub status: EventStatus,
    pub error: Option<String>,
    pub donation_id: Option<String>,
}

pub async fn recent_events(pool: &SqlitePool, limit: u32) -> Result<Vec<LedgerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, type, created, received_at, status, error, donation_id FROM stripe_events \
         ORDER BY rowid DESC LIMIT ?1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
