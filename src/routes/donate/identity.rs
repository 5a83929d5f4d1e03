//! Which donation an idempotency key means: a repeated form (double click, retry, Back and
//! submit again) means the checkout it already started, while that is a fresh pending one.

use super::DonateError;
use crate::state::State;
use crate::storage;

/// Stripe keeps an idempotency key for at least 24 hours; within this, a repeated key is
/// answered with the same session.
const KEY_REUSE_SECS: i64 = 23 * 3600;

/// The donation id and Stripe idempotency key of a checkout. A repeated key means the same
/// donation, derived from it, while that donation is a fresh pending checkout. Once it was paid
/// (or expired, or is older than Stripe remembers keys), the same key starts a new donation: a
/// reader who comes back to the same form page to buy another coffee gets one.
pub(super) async fn checkout_identity(
    state: &State,
    key: Option<String>,
) -> Result<(String, String), DonateError> {
    let fresh = || {
        let id = uuid::Uuid::new_v4().to_string();
        (id.clone(), id)
    };
    let Some(key) = key else { return Ok(fresh()) };
    let id = donation_id(&key);
    let existing = storage::donations::find_by_id(state.db.pool(), &id)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(match existing {
        Some(row) if !reuses_key(row.status, row.created_at, storage::now()) => fresh(),
        _ => (id, key),
    })
}

/// Whether a repeated idempotency key still means the donation it first created.
fn reuses_key(status: crate::domain::DonationStatus, created_at: i64, now: i64) -> bool {
    status == crate::domain::DonationStatus::Pending && now - created_at < KEY_REUSE_SECS
}

/// Whether `key` (as it would be sent) already has a fresh pending checkout: a repeat, which
/// gets that checkout again and is not counted by the limiter.
pub(super) async fn is_repeat(state: &State, key: &str) -> Result<bool, DonateError> {
    let key = state.spoiled_keys.current(key);
    let existing = storage::donations::find_by_id(state.db.pool(), &donation_id(&key))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(existing.is_some_and(|row| {
        row.checkout_session_id.is_some() && reuses_key(row.status, row.created_at, storage::now())
    }))
}

/// The donation a key derives, the same every time.
fn donation_id(key: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DonationStatus;

    #[test]
    fn a_key_means_its_donation_only_while_that_is_a_fresh_pending_checkout() {
        let now = 100_000;
        assert!(reuses_key(DonationStatus::Pending, now - 60, now));
        assert!(reuses_key(DonationStatus::Pending, now - KEY_REUSE_SECS + 1, now));
        assert!(
            !reuses_key(DonationStatus::Pending, now - KEY_REUSE_SECS, now),
            "Stripe may have forgotten it"
        );
        for done in [
            DonationStatus::Paid,
            DonationStatus::Processing,
            DonationStatus::Expired,
            DonationStatus::Failed,
        ] {
            assert!(!reuses_key(done, now - 60, now), "{done:?}");
        }
    }
}
