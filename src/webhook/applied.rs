//! What applying one interpreted event did, and why an ingest wrote nothing: shared by the
//! one-time path (`write.rs`) and the monthly path (`monthly_apply.rs`).

use crate::domain::NoticeKind;

use super::outcome::Outcome;

/// What applying one step did.
pub(super) struct Applied {
    pub outcome: Outcome,
    /// The donation gained a session, payment intent or charge id.
    pub learned: bool,
    /// The donation's donor has erased their data.
    pub erased: bool,
    /// The event's ledger row was written together with the donation.
    pub recorded: bool,
    /// What the blogger is to be told (the donation's id and the news), if anything.
    pub notice: Option<(String, NoticeKind)>,
}

impl From<Outcome> for Applied {
    fn from(outcome: Outcome) -> Self {
        Applied {
            outcome,
            learned: false,
            erased: false,
            recorded: false,
            notice: None,
        }
    }
}

/// Why an ingest job wrote nothing.
pub(super) enum IngestError {
    /// The ledger already holds the event: what applying it did is rolled back.
    Duplicate,
    Storage(sqlx::Error),
}

impl From<sqlx::Error> for IngestError {
    fn from(e: sqlx::Error) -> Self {
        IngestError::Storage(e)
    }
}

/// Replay and retries record no new event, so they never meet a duplicate.
impl From<IngestError> for sqlx::Error {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Storage(e) => e,
            IngestError::Duplicate => sqlx::Error::Protocol("an event recorded twice".into()),
        }
    }
}
