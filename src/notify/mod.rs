//! The blogger's notifications: a background sender that delivers the outbox.
//!
//! The ledger queues a row per channel in the same transaction as the change it reports
//! (`storage::outbox`), and wakes the sender once committed. The sender delivers what is due,
//! records each attempt, and retries failures with backoff for three days. A crash between
//! delivering and recording sends that one again: receivers get the notification's id (the
//! webhook's `id` and `Kaffeekasse-Id`, the e-mail's Message-ID) to drop the repeat.

mod deliver;
mod message;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use deliver::{MailFailure, Targets};
pub use message::{Composed, compose};

use crate::domain::{Channel, next_attempt};
use crate::metrics::{ChannelLabels, Metrics};
use crate::storage::outbox::Notification;
use crate::storage::{self, Db, outbox};

/// Even without a wake-up (a `kaffeekasse reconcile` run in another process queued something),
/// the sender looks this often.
const POLL: Duration = Duration::from_secs(60);
/// Delivered and given-up notifications are forgotten after this long.
const KEEP_SENT_SECS: i64 = 30 * 86_400;
const BATCH: u32 = 20;

pub struct Sender {
    db: Db,
    targets: Targets,
    metrics: Arc<Metrics>,
    site: String,
    public_url: String,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub failed: usize,
}

impl Sender {
    pub fn new(db: Db, targets: Targets, metrics: Arc<Metrics>, site: String, public_url: String) -> Sender {
        Sender {
            db,
            targets,
            metrics,
            site,
            public_url,
        }
    }

    /// Delivers what is due at `now` (a batch), recording each attempt. Time is a parameter so
    /// that the tests can step through the backoff.
    /// Channels are served side by side, so a receiver that hangs delays only its own channel.
    pub async fn send_due(&self, now: i64) -> anyhow::Result<SendReport> {
        let due = outbox::due(self.db.pool(), now, BATCH).await?;
        let of = |channel: Channel| {
            due.iter()
                .filter(|n| n.channel == channel)
                .cloned()
                .collect::<Vec<_>>()
        };
        let (ntfy, webhook, email) = tokio::join!(
            self.send_all(of(Channel::Ntfy), now),
            self.send_all(of(Channel::Webhook), now),
            self.send_all(of(Channel::Email), now),
        );
        let mut report = SendReport::default();
        for part in [ntfy?, webhook?, email?] {
            report.sent += part.sent;
            report.failed += part.failed;
        }
        Ok(report)
    }

    /// Sends `due` one after another (all of one channel), recording each attempt.
    async fn send_all(&self, due: Vec<Notification>, now: i64) -> anyhow::Result<SendReport> {
        let mut report = SendReport::default();
        for n in due {
            let donation = match &n.donation_id {
                Some(id) => outbox::donation(self.db.pool(), id).await?,
                None => None,
            };
            let composed = compose(
                &n,
                donation.as_ref(),
                self.targets.settings().lang,
                &self.site,
                &self.public_url,
            );
            let result = self.targets.deliver(&n, &composed).await;
            let labels = ChannelLabels {
                channel: n.channel.as_str().to_owned(),
            };
            let write = match result {
                Ok(()) => {
                    report.sent += 1;
                    self.metrics.notifications_sent.get_or_create(&labels).inc();
                    let n = n.clone();
                    self.db
                        .write(move |conn| Box::pin(async move { outbox::mark_sent(conn, &n, now).await }))
                        .await
                }
                Err(error) => {
                    report.failed += 1;
                    self.metrics.notification_failures.get_or_create(&labels).inc();
                    let retry_at = next_attempt(n.attempts + 1, n.created_at, now);
                    tracing::warn!(id = %n.id, channel = n.channel.as_str(), %error, ?retry_at, "notification not delivered");
                    let n = n.clone();
                    self.db
                        .write(move |conn| {
                            Box::pin(
                                async move { outbox::mark_failed(conn, &n, &error, retry_at, now).await },
                            )
                        })
                        .await
                }
            };
            write?;
        }
        Ok(report)
    }

    /// Sends until the process ends, woken by the ledger or every [`POLL`].
    pub async fn run(self, wake: Arc<Notify>) -> anyhow::Result<()> {
        let mut pruned_at = 0;
        loop {
            let now = storage::now();
            if let Err(e) = self.send_due(now).await {
                tracing::error!(error = ?e, "sending notifications failed");
            }
            if now - pruned_at >= 3600 {
                pruned_at = now;
                let before = now - KEEP_SENT_SECS;
                let pruned = self
                    .db
                    .write(move |conn| Box::pin(async move { outbox::prune(conn, before).await }))
                    .await;
                if let Err(e) = pruned {
                    tracing::warn!(error = ?e, "could not prune the outbox");
                }
            }
            let next = outbox::next_due_at(self.db.pool()).await.ok().flatten();
            // At least a second between rounds, so a row that cannot be recorded cannot spin.
            let wait = next.map_or(POLL, |at| {
                Duration::from_secs((at - storage::now()).clamp(1, 60) as u64)
            });
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
