//! Carrying out interpreted events: the one path shared by the webhook, reconciliation,
//! `kaffeekasse replay` and the thanks page.
//!
//! Every method is one write job (`Db::write`), so an event's ledger row and its effect on the
//! donation commit together or not at all. The decisions are made by `interpret.rs` and
//! `merge.rs`; this file only reads and writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::SqliteConnection;
use tokio::sync::Notify;

use crate::auth::signer::Signer;
use crate::domain::{Channel, Rules};
use crate::storage::{self, Announcement, Db, JobFuture};
use crate::storage::{deferred, events};

use super::batch::{self, Staged};
use super::context::{Context, after, queue_notice, retry_deferred, settle_stored};
use super::event::{Event, Incoming, Session};
use super::interpret::{self, Step};
pub use super::outcome::{Ingested, Outcome};
use super::write::{IngestError, apply, apply_session, new_event, stored_payload};

/// The event ledger and the donations it moves.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    context: Arc<Context>,
}

impl Ledger {
    pub fn new(db: Db, rules: Arc<Rules>) -> Self {
        let context = Context {
            rules,
            notify: Vec::new(),
            wake: Arc::new(Notify::new()),
            deferred: AtomicBool::new(true),
            emails: None,
            declarations: Arc::new(Notify::new()),
        };
        Ledger {
            db,
            context: Arc::new(context),
        }
    }

    /// Keeps a keyed hash of a monthly coffee's checkout e-mail address, so that a cancellation
    /// by address (`/kuendigen`) finds it; the address itself is never stored.
    pub fn hashing_emails(self, signer: Signer) -> Self {
        let mut context = self.context.copy();
        context.emails = Some(signer);
        Ledger {
            db: self.db,
            context: Arc::new(context),
        }
    }

    /// Queues a notification on `channels` with every change the blogger hears about, in the
    /// change's transaction, and wakes `wake` once it is committed.
    pub fn notifying(self, channels: Vec<Channel>, wake: Arc<Notify>) -> Self {
        let mut context = self.context.copy();
        (context.notify, context.wake) = (channels, wake);
        Ledger {
            db: self.db,
            context: Arc::new(context),
        }
    }

    /// What wakes the cancellation worker: a monthly coffee's address was committed.
    pub fn declarations_wake(&self) -> Arc<Notify> {
        Arc::clone(&self.context.declarations)
    }

    /// Wakes the sender if a committed job queued a notification.
    fn committed(&self, queued: bool) {
        if queued {
            self.context.wake.notify_one();
        }
    }

    /// Records a verified event in the ledger and applies it, once, in one durable write. The
    /// event is interpreted here, before it reaches the writer, which then only writes (decides,
    /// for the one-time donation's events: `batch.rs`).
    pub async fn ingest(&self, incoming: Incoming) -> Result<Ingested, sqlx::Error> {
        self.ingest_announced(incoming, None).await
    }

    /// [`Ledger::ingest`] for a write announced as its request arrived (`Db::announce_write`).
    #[tracing::instrument(name = "ingest", skip_all, fields(event_id = %incoming.event.id, event_type = %incoming.event.kind))]
    pub async fn ingest_announced(
        &self,
        incoming: Incoming,
        announced: Option<Announcement>,
    ) -> Result<Ingested, sqlx::Error> {
        let now = storage::now();
        let mut step = interpret::interpret(&incoming.view(), &self.context.rules, now);
        if let (Step::Monthly(monthly), Some(emails), Some(email)) =
            (&mut step, &self.context.emails, incoming.payer_email())
        {
            monthly.email_hash = Some(emails.email_hash(email));
        }
        let teaches_address = matches!(&step, Step::Monthly(m) if m.email_hash.is_some());
        let staged = Arc::new(Staged::new(incoming, step, now));
        let job = ingest_job(Arc::clone(&self.context), Arc::clone(&staged));
        // No `wants` for a step no batch decides: it goes the ordinary way only.
        let (wants, context) = (staged.wants(), Arc::clone(&self.context));
        let decide = move |w: &mut _| batch::decide(w, &staged, &context.notify, &context.deferred);
        let written = self.db.write_staged(wants, decide, job, announced).await;
        let ingested = match written {
            Ok((outcome, queued)) => {
                self.committed(queued);
                if teaches_address {
                    self.context.declarations.notify_one();
                }
                Ingested::Processed(outcome)
            }
            Err(IngestError::Duplicate) => Ingested::Duplicate,
            Err(IngestError::Storage(e)) => return Err(e),
        };
        if let Ingested::Processed(outcome) = &ingested {
            tracing::info!(status = %outcome.status(), reason = outcome.reason(), "stripe event processed");
        }
        Ok(ingested)
    }

    /// Re-applies a stored event (`kaffeekasse replay`). Safe at any time: effects are idempotent.
    pub async fn replay(&self, event_id: &str) -> anyhow::Result<Option<Outcome>> {
        let (context, event_id) = (Arc::clone(&self.context), event_id.to_owned());
        let replayed = self
            .db
            .write(move |conn| {
                Box::pin(async move {
                    let Some(payload) = events::payload(conn, &event_id).await? else {
                        return Ok(None);
                    };
                    let event = Event::parse(payload.as_bytes())?;
                    let now = storage::now();
                    let step = interpret::interpret(&event, &context.rules, now);
                    let waits = step.waits_for();
                    let applied = apply(conn, step, now, None).await.map_err(sqlx::Error::from)?;
                    let queued = settle_stored(conn, &context, &event_id, &applied, &waits, now).await?;
                    Ok::<_, anyhow::Error>(Some((applied.outcome, queued)))
                })
            })
            .await?;
        Ok(replayed.map(|(outcome, queued)| {
            self.committed(queued);
            outcome
        }))
    }

    /// Applies a session fetched from Stripe's API as if its completion or expiry event had
    /// arrived. No ledger row: it is not an event.
    pub async fn apply_session_snapshot(&self, session: &Session) -> Result<(), sqlx::Error> {
        let now = storage::now();
        let step = match interpret::interpret_snapshot(session, &self.context.rules, now) {
            Some(Step::Session(step)) => step,
            // A monthly coffee's checkout: its first month, as its completion event would.
            Some(Step::Monthly(mut monthly)) => {
                if let (Some(emails), Some(email)) = (&self.context.emails, session.payer_email()) {
                    monthly.email_hash = Some(emails.email_hash(email));
                }
                self.apply_snapshot(Step::Monthly(monthly)).await?;
                self.context.declarations.notify_one();
                return Ok(());
            }
            _ => return Ok(()),
        };
        let context = Arc::clone(&self.context);
        let queued = self
            .db
            .write(move |conn| {
                Box::pin(async move {
                    let applied = apply_session(conn, &step, now, None).await?;
                    let mut queued = queue_notice(conn, &context, &applied, now).await?;
                    if applied.learned {
                        let learned = applied.outcome.ledger().2;
                        queued |= retry_deferred(conn, &context, now, learned).await?;
                    }
                    Ok::<_, sqlx::Error>(queued)
                })
            })
            .await?;
        self.committed(queued);
        Ok(())
    }

    /// Applies a step made from an object fetched from Stripe's API (a subscription or an
    /// invoice the sweep or a cancellation asked about) as if its event had arrived now. No
    /// ledger row: it is not an event.
    pub async fn apply_snapshot(&self, step: Step) -> Result<(), sqlx::Error> {
        let now = storage::now();
        let context = Arc::clone(&self.context);
        let queued = self
            .db
            .write(move |conn| {
                Box::pin(async move {
                    let applied = apply(conn, step, now, None).await?;
                    after(conn, &context, &applied, now).await
                })
            })
            .await?;
        self.committed(queued);
        Ok(())
    }

    /// Retries every deferred event once, in its own write (after reconciliation).
    pub async fn retry_deferred(&self) -> Result<(), sqlx::Error> {
        let context = Arc::clone(&self.context);
        context.deferred.store(true, Ordering::Relaxed);
        let queued = self
            .db
            .write(move |conn| {
                Box::pin(async move { retry_deferred(conn, &context, storage::now(), None).await })
            })
            .await?;
        self.committed(queued);
        Ok(())
    }
}

/// [`ingest`] as a write job: the ordinary way, for an event no batch decides, and what the
/// writer falls back on for one that a batch could not write.
fn ingest_job(
    context: Arc<Context>,
    staged: Arc<Staged>,
) -> impl for<'c> FnOnce(&'c mut SqliteConnection) -> JobFuture<'c, Result<(Outcome, bool), IngestError>> {
    move |conn| {
        let step = staged.step.clone();
        Box::pin(async move { ingest(conn, &context, &staged.incoming, step, staged.now).await })
    }
}

/// Applies `step` and records the event. A known event id is found by the insert itself (one
/// statement instead of a lookup first); the job then fails, so its savepoint undoes the effect.
async fn ingest(
    conn: &mut SqliteConnection,
    context: &Context,
    incoming: &Incoming,
    step: Step,
    now: i64,
) -> Result<(Outcome, bool), IngestError> {
    let waits = step.waits_for();
    let applied = apply(conn, step, now, Some(incoming)).await?;
    if !applied.recorded {
        let stored = stored_payload(&applied, incoming.payload());
        let new = new_event(incoming, stored.as_deref());
        if !events::insert(conn, &new, applied.outcome.ledger(), now).await? {
            return Err(IngestError::Duplicate);
        }
    }
    if applied.outcome == Outcome::Deferred {
        deferred::remember(conn, &incoming.event.id, &waits).await?;
    }
    let queued = after(conn, context, &applied, now).await?;
    Ok((applied.outcome, queued))
}
