//! An event's effect and its ledger row in one round trip to SQLite: the webhook's hot path.
//!
//! Every statement is a message to SQLite's thread and back; sending the donation's write and the
//! event's row together halves the trips per webhook. The statements share numbered parameters.

use std::sync::LazyLock;

use sqlx::SqliteConnection;

use super::donations::{self, DonationUpdate, NewDonation, Q};
use super::events::{self, NewEvent, Recorded};

/// Inserts a donation that did not exist, with an event's change applied, and the event. Returns
/// `true` if both were new. If the donation existed nothing is written (the event's insert is
/// guarded by `changes()`, the donation insert's row count); the caller then takes the long way.
pub async fn insert_donation_and_event(
    conn: &mut SqliteConnection,
    donation: &NewDonation,
    change: &DonationUpdate<'_>,
    event: &NewEvent<'_>,
    outcome: Recorded<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{}; {}",
            INSERT_CHANGED,
            events::insert_sql(INSERT_CHANGED_PARAMS + 1, "changes() = 1")
        )
    });
    let query = bind_insert_changed(sqlx::query(SQL.as_str()), donation, change);
    events::bind_insert(query, event, outcome, now)
        .fetch_optional(conn)
        .await
        .map(|row| row.is_some())
}

/// Writes an event's change to donation `id` and inserts the event. Returns `false` if the ledger
/// already held the event: the donation was written anyway, so the caller must roll back.
pub async fn update_donation_and_event(
    conn: &mut SqliteConnection,
    id: &str,
    change: &DonationUpdate<'_>,
    event: &NewEvent<'_>,
    outcome: Recorded<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{}; {}",
            donations::UPDATE,
            events::insert_sql(donations::UPDATE_PARAMS + 1, "true")
        )
    });
    let query = donations::bind_update(sqlx::query(SQL.as_str()), id, change, now);
    events::bind_insert(query, event, outcome, now)
        .fetch_optional(conn)
        .await
        .map(|row| row.is_some())
}

/// Inserts a donation with an event's change already applied (`?1`..`?28`), unless one with
/// this id or checkout session exists.
const INSERT_CHANGED: &str = "INSERT INTO donations (id, provider, checkout_session_id, \
     payment_intent_id, charge_id, coffees, expected_amount_cents, amount_cents, currency, amount_mismatch, \
     name, message, visibility, consent_at, consent_version, held, livemode, created_at, updated_at, status, \
     checkout_state, refunded_cents, dispute_state, paid_at, charge_refunded_cents, refunds, disputes, \
     charge_amount, charge_currency) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, \
     ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28) ON CONFLICT DO NOTHING";
/// How many parameters [`INSERT_CHANGED`] takes.
const INSERT_CHANGED_PARAMS: usize = 28;

fn bind_insert_changed<'q>(q: Q<'q>, d: &'q NewDonation, u: &DonationUpdate<'q>) -> Q<'q> {
    let public = d.visibility.is_public();
    let (amount, currency, mismatch) = u.amount.unwrap_or((d.amount_cents, &d.currency, false));
    q.bind(&d.id)
        .bind(d.provider)
        .bind(&d.checkout_session_id)
        .bind(&u.learned.payment_intent_id)
        .bind(&u.learned.charge_id)
        .bind(d.coffees)
        .bind(d.amount_cents)
        .bind(amount)
        .bind(currency)
        .bind(mismatch)
        .bind(&d.name)
        .bind(&d.message)
        .bind(d.visibility.as_str())
        .bind(public.then_some(d.created_at))
        .bind(public.then_some(crate::i18n::CONSENT_VERSION))
        .bind(d.held)
        .bind(d.livemode)
        .bind(d.created_at)
        .bind(u.status.as_str())
        .bind(u.facts.checkout.as_str())
        .bind(u.refunded_cents)
        .bind(u.facts.disputes.state().as_str())
        .bind(u.facts.paid_at)
        .bind(u.facts.refunds.charge_max)
        .bind(u.facts.refunds.by_id.to_json())
        .bind(u.facts.disputes.to_json())
        .bind(u.facts.charge.as_ref().map(|c| c.amount))
        .bind(u.facts.charge.as_ref().map(|c| c.currency.clone()))
}
