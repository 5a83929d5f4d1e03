//! The `deferred_keys` table: the ids each deferred event waits for, so that an event which
//! teaches the database an id finds exactly the deferred events that id would settle.

use sqlx::SqliteConnection;

/// Remembers what deferred event `event_id` waits for.
pub async fn remember(
    conn: &mut SqliteConnection,
    event_id: &str,
    keys: &[String],
) -> Result<(), sqlx::Error> {
    for key in keys {
        sqlx::query("INSERT OR IGNORE INTO deferred_keys (key, event_id) VALUES (?1, ?2)")
            .bind(key)
            .bind(event_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Event `event_id` is settled (or expired): it waits for nothing any more.
pub async fn forget(conn: &mut SqliteConnection, event_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM deferred_keys WHERE event_id = ?1")
        .bind(event_id)
        .execute(conn)
        .await
        .map(drop)
}

/// The deferred events (id, payload) that wait for one of donation `donation_id`'s ids, oldest
/// first, at most `limit`.
pub async fn waiting_for_donation(
    conn: &mut SqliteConnection,
    donation_id: &str,
    limit: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    // A monthly coffee is also found by its subscription, and its renewals by their invoices'
    // ids, payment intents and charges.
    sqlx::query_as(
        "WITH ids (key) AS ( \
           SELECT value FROM donations d, json_each(json_array(d.id, d.checkout_session_id, \
             d.payment_intent_id, d.charge_id, d.subscription_id)) WHERE d.id = ?1 \
           UNION SELECT value FROM invoices i, json_each(json_array(i.id, i.payment_intent_id, i.charge_id)) \
             WHERE i.donation_id = ?1) \
         SELECT DISTINCT e.id, e.payload, e.created FROM ids \
         JOIN deferred_keys k ON k.key = ids.key \
         JOIN stripe_events e ON e.id = k.event_id AND e.status = 'deferred' \
         ORDER BY e.created, e.id LIMIT ?2",
    )
    .bind(donation_id)
    .bind(limit)
    .fetch_all(conn)
    .await
    .map(|rows: Vec<(String, String, i64)>| rows.into_iter().map(|(id, payload, _)| (id, payload)).collect())
}
