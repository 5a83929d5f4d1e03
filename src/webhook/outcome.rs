//! What became of an event: the ledger's word for it, and why.

use crate::storage::events::EventStatus;

/// The result of applying one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied {
        donation_id: String,
    },
    Ignored(&'static str),
    /// Belongs to a donation we cannot find yet; retried whenever a donation gains identifiers.
    Deferred,
    /// The event's object could not be read; kept for `kaffeekasse replay` after a fix.
    Failed(String),
}

impl Outcome {
    /// The ledger's word for this outcome, also what the webhook and the admin API answer.
    pub fn status(&self) -> EventStatus {
        match self {
            Outcome::Applied { .. } => EventStatus::Applied,
            Outcome::Ignored(_) => EventStatus::Ignored,
            Outcome::Deferred => EventStatus::Deferred,
            Outcome::Failed(_) => EventStatus::Failed,
        }
    }

    /// Why an event was ignored or failed.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Ignored(why) => Some(why),
            Outcome::Failed(why) => Some(why),
            Outcome::Applied { .. } | Outcome::Deferred => None,
        }
    }

    pub fn donation_id(&self) -> Option<&str> {
        match self {
            Outcome::Applied { donation_id } => Some(donation_id),
            _ => None,
        }
    }

    pub(super) fn ledger(&self) -> (EventStatus, Option<&str>, Option<&str>) {
        (self.status(), self.reason(), self.donation_id())
    }
}

/// Result of [`Ledger::ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// The event id was already in the ledger; nothing changed.
    Duplicate,
    Processed(Outcome),
}
