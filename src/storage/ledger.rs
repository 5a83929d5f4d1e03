//! An event's effect and its ledger row in one round trip to SQLite: the webhook's hot path.
//!
//! Every statement is a message to SQLite's thread and back; sending the donation's write and the
//! event's row together halves the trips per webhook. The statements share numbered parameters.

use std::sync::LazyLock;

use sqlx::SqliteConnection;

use super::donations::{self, DonationUpdate, NewDonation};
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
            donations::INSERT_CHANGED,
            events::insert_sql(donations::INSERT_CHANGED_PARAMS + 1, "changes() = 1")
        )
    });
    let query = donations::bind_insert_changed(sqlx::query(SQL.as_str()), donation, change);
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
