//! A batch of webhook writes in memory: the rows its events refer to, read with one query, and
//! the rows their decisions leave to write (`batch_sql.rs` writes them with multi-row
//! statements). The decisions themselves are made above, by the webhook's pure functions; here
//! the rows are only found, held and changed as a sequence of single writes would.

use std::collections::{HashMap, HashSet};

use crate::domain::{Channel, NoticeKind};

use super::donations::{DonationRow, Keys, NewDonation};
use super::events::{DEFER_FOR_SECS, NewEvent, Recorded};

/// What one staged write reads: its event id (to find it in the ledger) and every id its
/// donation may be found by or inserted under.
#[derive(Debug, Default, Clone)]
pub struct Wants {
    pub event_id: Option<String>,
    pub keys: Vec<String>,
}

/// What deciding a staged write came to: its result, or that it must be written the ordinary way,
/// by itself, after what was decided before it (the batch is then cut there, and what follows
/// it read again).
#[derive(Debug)]
pub enum Decided<T> {
    Done(T),
    Alone,
}

/// Where a donation comes in the table's order (its rowid): rows the batch inserts come after
/// every stored one, in the order they were inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Seq {
    Stored(i64),
    New(usize),
}

/// A donation as the batch holds it.
pub(super) struct Held {
    pub row: DonationRow,
    pub seq: Seq,
    /// Inserted by this batch: the donation as first recorded (what the row does not hold).
    pub new: Option<NewDonation>,
    /// When a decision last changed it: the row is written back.
    pub updated_at: Option<i64>,
}

/// A ledger row to insert.
pub(super) struct LedgerRow {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub livemode: bool,
    pub api_version: Option<String>,
    pub received_at: i64,
    pub status: &'static str,
    pub error: Option<String>,
    pub donation_id: Option<String>,
    pub payload: String,
}

/// A notification row to insert (one per channel).
pub(super) struct NoticeRow {
    pub id: String,
    pub channel: Channel,
    pub kind: NoticeKind,
    pub donation_id: String,
    pub at: i64,
}

#[derive(Default)]
pub struct Workspace {
    pub(super) held: Vec<Held>,
    by_id: HashMap<String, usize>,
    by_session: HashMap<String, usize>,
    by_intent: HashMap<String, Vec<usize>>,
    by_charge: HashMap<String, Vec<usize>>,
    /// Event ids in the ledger, or recorded by this batch.
    events: HashSet<String>,
    /// Ids a deferred event waits for.
    waiting: HashSet<String>,
    /// When the longest-waiting deferred event was received.
    pub(super) oldest_deferred: Option<i64>,
    inserted: usize,
    pub(super) ledger: Vec<LedgerRow>,
    pub(super) deferred: Vec<(String, String)>,
    pub(super) notices: Vec<NoticeRow>,
}

impl Workspace {
    /// The donation an event with `keys` belongs to: by our id, then the session, the payment
    /// intent and the charge, as `donations::find_by_keys` looks. Of several rows with one payment
    /// intent or charge, the first in the table.
    pub fn find(&self, keys: &Keys) -> Option<&DonationRow> {
        let unique = |map: &HashMap<String, usize>, key: &Option<String>| {
            key.as_ref().and_then(|k| map.get(k).copied())
        };
        let first = |map: &HashMap<String, Vec<usize>>, key: &Option<String>| {
            let found = key.as_ref().and_then(|k| map.get(k))?;
            found.iter().copied().min_by_key(|&i| self.held[i].seq)
        };
        let at = unique(&self.by_id, &keys.donation_id)
            .or_else(|| unique(&self.by_session, &keys.session_id))
            .or_else(|| first(&self.by_intent, &keys.payment_intent_id))
            .or_else(|| first(&self.by_charge, &keys.charge_id))?;
        Some(&self.held[at].row)
    }

    /// Whether `d` could be inserted: no donation has its id or checkout session.
    pub fn can_insert(&self, d: &NewDonation) -> bool {
        !self.by_id.contains_key(&d.id) && !self.by_session.contains_key(&d.checkout_session_id)
    }

    /// Records `d` as a new donation (check [`Workspace::can_insert`] first).
    pub fn insert(&mut self, d: NewDonation) {
        self.inserted += 1;
        self.hold(DonationRow::from_new(&d), Seq::New(self.inserted), Some(d));
    }

    /// Replaces the donation with `row`'s id by `row`, changed at `now`.
    pub fn save(&mut self, row: DonationRow, now: i64) {
        let Some(&at) = self.by_id.get(&row.id) else {
            return;
        };
        self.index(at, &row);
        let held = &mut self.held[at];
        held.row = row;
        held.updated_at = Some(now);
    }

    /// Whether the ledger holds the event, or this batch recorded it.
    pub fn knows_event(&self, id: &str) -> bool {
        self.events.contains(id)
    }

    /// Whether a deferred event waits for any of `ids`.
    pub fn waits_for_any<'a>(&self, mut ids: impl Iterator<Item = &'a str>) -> bool {
        ids.any(|id| self.waiting.contains(id))
    }

    /// Whether a deferred event has waited for longer than a week at `now`
    /// (`events::expire_deferred` would settle it).
    pub fn deferred_expired(&self, now: i64) -> bool {
        self.oldest_deferred.is_some_and(|at| at < now - DEFER_FOR_SECS)
    }

    /// Records an event in the ledger with its outcome, received at `now`.
    pub fn record(&mut self, event: &NewEvent<'_>, outcome: Recorded<'_>, now: i64) {
        let (status, error, donation_id) = outcome;
        self.events.insert(event.id.to_owned());
        self.ledger.push(LedgerRow {
            id: event.id.to_owned(),
            kind: event.kind.to_owned(),
            created: event.created,
            livemode: event.livemode,
            api_version: event.api_version.map(str::to_owned),
            received_at: now,
            status: status.as_str(),
            error: error.map(str::to_owned),
            donation_id: donation_id.map(str::to_owned),
            payload: event.payload.to_owned(),
        });
    }

    /// Remembers what deferred event `event_id` waits for (`deferred::remember`).
    pub fn remember_deferred(&mut self, event_id: &str, keys: &[String]) {
        for key in keys {
            self.waiting.insert(key.clone());
            self.deferred.push((key.clone(), event_id.to_owned()));
        }
    }

    /// Queues one notification on every channel, due at `now` (`outbox::enqueue`).
    pub fn enqueue(&mut self, kind: NoticeKind, donation_id: &str, channels: &[Channel], now: i64) {
        let id = uuid::Uuid::new_v4().to_string();
        self.notices.extend(channels.iter().map(|&channel| NoticeRow {
            id: id.clone(),
            channel,
            kind,
            donation_id: donation_id.to_owned(),
            at: now,
        }));
    }

    /// Whether the batch's decisions left anything to write.
    pub(super) fn is_empty(&self) -> bool {
        self.ledger.is_empty()
            && self.deferred.is_empty()
            && self.notices.is_empty()
            && self
                .held
                .iter()
                .all(|h| h.updated_at.is_none() && h.new.is_none())
    }

    /// A stored row, as the batch's read found it.
    pub(super) fn hold_stored(&mut self, row: DonationRow, rowid: i64) {
        if !self.by_id.contains_key(&row.id) {
            self.hold(row, Seq::Stored(rowid), None);
        }
    }

    pub(super) fn known_event(&mut self, id: String) {
        self.events.insert(id);
    }

    pub(super) fn waiting_for(&mut self, key: String) {
        self.waiting.insert(key);
    }

    fn hold(&mut self, row: DonationRow, seq: Seq, new: Option<NewDonation>) {
        let at = self.held.len();
        self.by_id.insert(row.id.clone(), at);
        self.index(at, &row);
        self.held.push(Held {
            row,
            seq,
            new,
            updated_at: None,
        });
    }

    /// Finds the donation at `at` by `row`'s session, payment intent and charge ids from now on.
    fn index(&mut self, at: usize, row: &DonationRow) {
        if let Some(s) = &row.checkout_session_id {
            self.by_session.entry(s.clone()).or_insert(at);
        }
        for (map, key) in [
            (&mut self.by_intent, &row.payment_intent_id),
            (&mut self.by_charge, &row.charge_id),
        ] {
            if let Some(k) = key {
                let found = map.entry(k.clone()).or_default();
                if !found.contains(&at) {
                    found.push(at);
                }
            }
        }
    }
}
