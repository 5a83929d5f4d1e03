//! Cancellations (§ 312k BGB): a declaration is stored first, durably, and only then is Stripe
//! asked; what Stripe could not do yet is tried again in the background until it is done,
//! however long Stripe is unavailable. A subscription that has ended already counts as done.
//!
//! Stripe replays the saved answer to a repeated idempotency key, a 500 included, so after a 5xx
//! the next try goes out under a fresh key (the declaration's `attempt`); after a timeout or a
//! 409/429 it keeps its key, as Stripe's own libraries do.

pub mod confirmation;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::auth::signer::Signer;
use crate::domain::{CancelWhen, SubscriptionStatus, next_cancel_attempt};
use crate::i18n::Lang;
use crate::inflight::KeyedLocks;
use crate::notify::Targets;
use crate::payments::{Cancelled, Provider, ProviderError};
use crate::storage::cancellations::{self, CancellationRow};
use crate::storage::subscriptions::MonthlyRow;
use crate::storage::{self, Db};
use crate::webhook::apply::Ledger;
use crate::webhook::interpret::interpret_subscription;

/// A confirmation e-mail that still fails after this long is given up (the page and its
/// download remain the confirmation).
const MAIL_GIVE_UP_SECS: i64 = 3 * 86_400;
/// How often the worker looks for due declarations when nothing wakes it.
const POLL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Canceller {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    provider: Arc<Provider>,
    ledger: Ledger,
    /// Sends readers their confirmation, when SMTP is configured.
    mail: Option<Targets>,
    signer: Signer,
    site: String,
    public_url: String,
    /// Woken by a new declaration, and by the ledger when a monthly coffee's address arrives.
    wake: Arc<Notify>,
    /// One worker at a time per declaration (the background loop and a manage link's request).
    locks: KeyedLocks,
}

impl Canceller {
    pub fn new(
        db: Db,
        provider: Arc<Provider>,
        ledger: Ledger,
        mail: Option<Targets>,
        signer: Signer,
        site: String,
        public_url: String,
    ) -> Canceller {
        let wake = ledger.declarations_wake();
        let inner = Inner {
            db,
            provider,
            ledger,
            mail: mail.filter(Targets::can_mail),
            signer,
            site,
            public_url,
            wake,
            locks: KeyedLocks::default(),
        };
        Canceller {
            inner: Arc::new(inner),
        }
    }

    /// Whether a confirmation e-mail goes out (SMTP is configured).
    pub fn mails(&self) -> bool {
        self.inner.mail.is_some()
    }

    /// The confirmation page's address for a declaration: signed, so nobody can guess another's.
    pub fn confirmation_path(&self, id: &str) -> String {
        format!("/kuendigen/{id}.{}", self.inner.signer.sign("cancellation", id))
    }

    /// The declaration a confirmation token names, if the token is genuine.
    pub fn open_token<'a>(&self, token: &'a str) -> Option<&'a str> {
        let (id, sig) = token.rsplit_once('.')?;
        self.inner.signer.verify("cancellation", id, sig).then_some(id)
    }

    /// Stores a declaration, durably, and wakes the worker (the same declaration again, a
    /// double submit, is the one stored). Answers nothing about what it will find: `/kuendigen`
    /// must not tell whether an address has a subscription.
    pub async fn declare(&self, c: CancellationRow) -> Result<(), sqlx::Error> {
        self.inner
            .db
            .write(move |conn| Box::pin(async move { cancellations::insert(conn, &c).await }))
            .await?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Stores a declaration and carries it out at once (a manage link or an erasure: the reader
    /// is told what happened). What fails is left to the background worker.
    pub async fn declare_and_carry_out(&self, c: CancellationRow) -> anyhow::Result<()> {
        let id = c.id.clone();
        self.declare(c).await?;
        self.carry_out(&id, storage::now()).await
    }

    /// Works off every due declaration and confirmation e-mail, then waits to be woken (or for
    /// the next poll). Runs until the process ends; a failed pass is logged and retried.
    pub async fn run(self) -> anyhow::Result<()> {
        loop {
            let now = storage::now();
            if let Err(e) = self.work_due(now).await {
                tracing::error!(error = ?e, "working off cancellations failed");
            }
            if let Err(e) = self.mail_due(now).await {
                tracing::error!(error = ?e, "sending cancellation confirmations failed");
            }
            let _ = tokio::time::timeout(POLL, self.inner.wake.notified()).await;
        }
    }

    /// Carries out every declaration due at `now`; returns how many it looked at. One that fails
    /// (the database) is put back a while, so it cannot hold up the others.
    pub async fn work_due(&self, now: i64) -> anyhow::Result<usize> {
        let due = cancellations::due(self.inner.db.pool(), now, 20).await?;
        for c in &due {
            if let Err(e) = self.carry_out(&c.id, now).await {
                tracing::error!(error = ?e, "a cancellation could not be worked off; it is tried again later");
                let (id, next) = (c.id.clone(), next_cancel_attempt(1, now));
                let error = "internal error".to_owned();
                self.inner
                    .db
                    .write(move |conn| {
                        Box::pin(async move {
                            cancellations::retry(conn, &id, next, false, 0, None, &error).await
                        })
                    })
                    .await?;
            }
        }
        Ok(due.len())
    }

    async fn carry_out(&self, id: &str, now: i64) -> anyhow::Result<()> {
        let inner = &self.inner;
        let _one_at_a_time = inner.locks.lock(id).await;
        let Some(c) = cancellations::find(inner.db.pool(), id).await? else {
            return Ok(());
        };
        if c.is_done() {
            return Ok(());
        }
        let targets = cancellations::targets(inner.db.pool(), &c).await?;
        // Only an address that has a monthly coffee here is mailed: the form cannot be used to
        // send mail to anyone (and whoever sent it cannot tell whether a mail went out).
        let mail_at = (!targets.is_empty() && c.email.is_some() && inner.mail.is_some()).then_some(now);
        let (mut cancelled, mut fresh_key, mut failed, mut unknown) = (0, false, Vec::new(), false);
        for row in &targets {
            if c.timing == CancelWhen::PeriodEnd && row.cancel_at_period_end {
                continue;
            }
            match self.cancel_one(&c, row, now).await? {
                Ok(Ended::Yes) => cancelled += 1,
                Ok(Ended::Unknown) => unknown = true,
                Err(e) => {
                    fresh_key |= matches!(e, ProviderError::ServerError(_));
                    failed.push(e.kind());
                }
            }
        }
        let id = c.id.clone();
        if failed.is_empty() {
            // Visible to the blogger: a subscription this key's account does not know was
            // not ended here (a key of another account, say).
            let note = unknown.then_some("Stripe does not know the subscription: nothing was ended");
            inner
                .db
                .write(move |conn| {
                    Box::pin(
                        async move { cancellations::done(conn, &id, cancelled, mail_at, note, now).await },
                    )
                })
                .await?;
            inner.wake.notify_one();
            tracing::info!(source = %c.source, cancelled, "cancellation carried out");
            return Ok(());
        }
        let next = next_cancel_attempt(u32::try_from(c.tries + 1).unwrap_or(u32::MAX), now);
        let error = format!("Stripe: {}", failed.join(", "));
        tracing::warn!(error = %error, "a cancellation is tried again later");
        inner
            .db
            .write(move |conn| {
                Box::pin(async move {
                    cancellations::retry(conn, &id, next, fresh_key, cancelled, mail_at, &error).await
                })
            })
            .await?;
        Ok(())
    }

    /// Asks Stripe to end one subscription; what it then reports is applied as a snapshot. A
    /// 4xx may mean it ended already: then that is what Stripe says when asked.
    async fn cancel_one(
        &self,
        c: &CancellationRow,
        row: &MonthlyRow,
        now: i64,
    ) -> anyhow::Result<Result<Ended, ProviderError>> {
        let inner = &self.inner;
        let key = format!("{}-{}-{}", c.id, row.id, c.attempt);
        let reported = match inner.provider.cancel_subscription(row, c.timing, &key).await {
            Ok(Cancelled::Reported(sub)) => *sub,
            Ok(Cancelled::Sent) => return Ok(Ok(Ended::Yes)),
            Ok(Cancelled::Unknown) => return Ok(Ok(Ended::Unknown)),
            Err(ProviderError::Failed(_)) => match inner.provider.retrieve_subscription(row).await {
                Ok(Some(sub)) if SubscriptionStatus::from_stripe(sub.status.as_deref()).is_final() => sub,
                Ok(None) => return Ok(Ok(Ended::Unknown)),
                Ok(Some(_)) | Err(_) => return Ok(Err(ProviderError::Failed("refused".into()))),
            },
            Err(e) => return Ok(Err(e)),
        };
        inner
            .ledger
            .apply_snapshot(interpret_subscription(&reported, now))
            .await?;
        Ok(Ok(Ended::Yes))
    }

    /// Sends every confirmation e-mail due at `now`, each once; a temporary failure is tried
    /// again later, for three days; a permanent one (an address the mail server refuses) is not.
    pub async fn mail_due(&self, now: i64) -> anyhow::Result<usize> {
        let inner = &self.inner;
        let Some(mail) = &inner.mail else {
            return Ok(0);
        };
        let due = cancellations::mail_due(inner.db.pool(), now, 20).await?;
        for c in &due {
            let Some(to) = c.email.as_deref() else {
                continue;
            };
            let lang = Lang::from_code(&c.lang).unwrap_or_default();
            let url = format!(
                "{}{}?lang={}",
                inner.public_url,
                self.confirmation_path(&c.id),
                lang.code()
            );
            let body = confirmation::text(c, lang, &inner.site, &url);
            let subject = format!("{} – {}", lang.monthly().confirm_email_subject, inner.site);
            let sent = mail
                .mail(to, &subject, &body, &format!("cancellation-{}", c.id))
                .await;
            let (next, error) = match sent {
                Ok(()) => (None, None),
                Err(failure) => {
                    tracing::warn!(error = %failure.message, "a cancellation's confirmation e-mail was not sent");
                    let over = failure.permanent || now - c.created_at >= MAIL_GIVE_UP_SECS;
                    let tries = u32::try_from(c.mail_tries + 1).unwrap_or(u32::MAX);
                    (
                        (!over).then(|| next_cancel_attempt(tries, now)),
                        Some(failure.message),
                    )
                }
            };
            let id = c.id.clone();
            inner
                .db
                .write(move |conn| {
                    Box::pin(
                        async move { cancellations::mailed(conn, &id, now, next, error.as_deref()).await },
                    )
                })
                .await?;
        }
        Ok(due.len())
    }
}

/// Whether one subscription was ended.
enum Ended {
    Yes,
    /// Stripe does not know it: nothing to end here.
    Unknown,
}
