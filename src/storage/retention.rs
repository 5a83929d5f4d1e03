//! Storage limitation (GDPR Art. 5(1)(e)): what is kept only as long as it serves a purpose.
//!
//! - A checkout that never paid (abandoned, expired, failed) is no coffee: after the retention
//!   period it is erased like a donor's own erasure (name, message, consent, and the personal
//!   parts of its events), keeping the amounts and Stripe ids for the accounts.
//! - A failed or ignored event keeps only its envelope after that time: it names no coffee, and
//!   nothing would ever reach a payer in it.
//! - A cancellation declaration (§ 312k BGB) carried out is the record of what a supporter
//!   declared: kept [`DECLARATIONS_KEPT_SECS`], then deleted.
//!
//! Each call does a bounded amount of work; the caller repeats while a call was full.

use sqlx::SqliteConnection;

use crate::domain::privacy;

/// What one call pruned.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub donations: u64,
    pub events: u64,
    pub cancellations: u64,
}

impl Pruned {
    pub fn any(&self) -> bool {
        self.donations + self.events + self.cancellations > 0
    }
}

/// Thirteen months: the longest a SEPA debit can be disputed as unauthorised, so the longest a
/// declaration may be needed to show that a debit after it was not owed.
pub const DECLARATIONS_KEPT_SECS: i64 = 400 * 86_400;

/// How long a checkout still open (no outcome from Stripe yet) is kept whatever the retention
/// period: the sweeper may still find it paid for 60 days (`SWEEP_UNTIL_SECS` in reconcile.rs).
pub const OPEN_KEPT_SECS: i64 = 61 * 86_400;

/// Prunes up to `limit` donations and `limit` events older than `cutoff`.
pub async fn prune(
    conn: &mut SqliteConnection,
    cutoff: i64,
    now: i64,
    limit: i64,
) -> Result<Pruned, sqlx::Error> {
    // Expired and failed are final; processing (SEPA on its way) is not a checkout that never
    // paid, nor is a monthly coffee whose months were paid though its checkout's own event is
    // missing (`paid_at` comes from either).
    let unpaid: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM donations WHERE checkout_state IN ('open', 'expired', 'failed') \
         AND erased_at IS NULL AND paid_at IS NULL AND created_at < ?1 \
         AND (checkout_state != 'open' OR created_at < ?3) ORDER BY created_at LIMIT ?2",
    )
    .bind(cutoff)
    .bind(limit)
    .bind(cutoff.min(now - OPEN_KEPT_SECS))
    .fetch_all(&mut *conn)
    .await?;
    let mut pruned = Pruned::default();
    for id in &unpaid {
        if super::admin::erase(conn, id, now).await? {
            pruned.donations += 1;
        }
    }
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, payload FROM stripe_events WHERE status IN ('failed', 'ignored') AND enveloped = 0 \
         AND received_at < ?1 ORDER BY received_at LIMIT ?2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    for (id, payload) in events {
        sqlx::query("UPDATE stripe_events SET payload = ?2, enveloped = 1 WHERE id = ?1")
            .bind(id)
            .bind(privacy::rewritten(&payload, privacy::keep_envelope))
            .execute(&mut *conn)
            .await?;
        pruned.events += 1;
    }
    pruned.cancellations = super::cancellations::prune(conn, now - DECLARATIONS_KEPT_SECS, limit).await?;
    Ok(pruned)
}
