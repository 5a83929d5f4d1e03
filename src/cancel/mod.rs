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
use crate::domain::next_cancel_attempt;
use crate::i18n::Lang;
use crate::inflight::KeyedLocks;
use crate::notify::Targets;
use crate::payments::{CancelWhen, Provider, ProviderError};
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
    wake: Notify,
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
        let inner = Inner {
            db,
            provider,
            ledger,
            mail: mail.filter(Targets::can_mail),
            signer,
            site,
            public_url,
            wake: Notify::new(),
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

    /// Stores a declaration, durably, and wakes the worker. Answers nothing about what it will
    /// find: `/kuendigen` must not tell whether an address has a subscription.
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

    /// Works off every due declaration, then waits to be woken (or for the next poll). Runs
    /// until the process ends; a failed pass is logged and retried.
    pub async fn run(self) -> anyhow::Result<()> {
        loop {
            if let Err(e) = self.work_due(storage::now()).await {
                tracing::error!(error = ?e, "working off cancellations failed");
            }
            let _ = tokio::time::timeout(POLL, self.inner.wake.notified()).await;
        }
    }

    /// Carries out every declaration due at `now`; returns how many it looked at.
    pub async fn work_due(&self, now: i64) -> anyhow::Result<usize> {
        let due = cancellations::due(self.inner.db.pool(), now, 20).await?;
        for c in &due {
            self.carry_out(&c.id, now).await?;
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
        let mailed = self.confirm_by_mail(&c, now).await?;
        let when = if c.timing == "now" {
            CancelWhen::Now
        } else {
            CancelWhen::PeriodEnd
        };
        let (mut cancelled, mut fresh_key, mut failed) = (0, false, Vec::new());
        for row in cancellations::targets(inner.db.pool(), &c).await? {
            if row.subscription_id.is_none() || (when == CancelWhen::PeriodEnd && row.cancel_at_period_end) {
                continue;
            }
            match self.cancel_one(&c, &row, when, now).await? {
                Ok(()) => cancelled += 1,
                Err(e) => {
                    fresh_key |= matches!(e, ProviderError::ServerError(_));
                    failed.push(e.kind());
                }
            }
        }
        let id = c.id.clone();
        if failed.is_empty() && mailed {
            inner
                .db
                .write(move |conn| {
                    Box::pin(async move { cancellations::done(conn, &id, cancelled, now).await })
                })
                .await?;
            tracing::info!(source = %c.source, cancelled, "cancellation carried out");
            return Ok(());
        }
        let next = next_cancel_attempt(u32::try_from(c.tries + 1).unwrap_or(u32::MAX), now);
        let error = if failed.is_empty() {
            "the confirmation e-mail is not sent yet".to_owned()
        } else {
            format!("Stripe: {}", failed.join(", "))
        };
        tracing::warn!(error = %error, "a cancellation is tried again later");
        inner
            .db
            .write(move |conn| {
                Box::pin(
                    async move { cancellations::retry(conn, &id, next, fresh_key, cancelled, &error).await },
                )
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
        when: CancelWhen,
        now: i64,
    ) -> anyhow::Result<Result<(), ProviderError>> {
        let inner = &self.inner;
        let key = format!("{}-{}-{}", c.id, row.id, c.attempt);
        let reported = match inner.provider.cancel_subscription(row, when, &key).await {
            Ok(sub) => sub,
            Err(ProviderError::Failed(_)) => match inner.provider.retrieve_subscription(row).await {
                Ok(Some(sub))
                    if crate::domain::SubscriptionStatus::from_stripe(sub.status.as_deref()).is_final() =>
                {
                    Some(sub)
                }
                Ok(_) | Err(_) => return Ok(Err(ProviderError::Failed("refused".into()))),
            },
            Err(e) => return Ok(Err(e)),
        };
        if let Some(sub) = reported {
            inner
                .ledger
                .apply_snapshot(interpret_subscription(&sub, now))
                .await?;
        }
        Ok(Ok(()))
    }

    /// Sends the reader their confirmation, once. `true` when nothing is left to send: sent,
    /// not configured, nothing to send to, or given up after three days.
    async fn confirm_by_mail(&self, c: &CancellationRow, now: i64) -> anyhow::Result<bool> {
        let inner = &self.inner;
        let (Some(mail), Some(to)) = (&inner.mail, &c.email) else {
            return Ok(true);
        };
        if c.mailed_at.is_some() {
            return Ok(true);
        }
        let lang = Lang::from_code(&c.lang).unwrap_or_default();
        let url = format!(
            "{}{}?lang={}",
            inner.public_url,
            self.confirmation_path(&c.id),
            lang.code()
        );
        let body = confirmation::text(c, lang, &inner.site, &url);
        let subject = format!("{} – {}", lang.monthly().confirm_email_subject, inner.site);
        match mail
            .mail(to, &subject, &body, &format!("cancellation-{}", c.id))
            .await
        {
            Ok(()) => {
                let id = c.id.clone();
                inner
                    .db
                    .write(move |conn| Box::pin(async move { cancellations::mailed(conn, &id, now).await }))
                    .await?;
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the confirmation e-mail of a cancellation could not be sent");
                Ok(now - c.created_at >= MAIL_GIVE_UP_SECS)
            }
        }
    }
}
