//! Carrying out a monthly-coffee step: read the row and its invoices, merge (`monthly_merge.rs`,
//! pure), write what changed. Monthly events are rare next to one-time coffees, so they take
//! this plain per-event path.

use sqlx::SqliteConnection;

use crate::storage::cancellations;
use crate::storage::donations::{self, Keys};
use crate::storage::invoices::{self, InvoiceRow};
use crate::storage::subscriptions::{self, Lookup, MonthlyRow, MonthlyUpdate};

use super::applied::{Applied, IngestError};
use super::monthly_merge::{self, MonthlyChange};
use super::outcome::Outcome;
use super::step::MonthlyStep;

pub(super) async fn apply(
    conn: &mut SqliteConnection,
    step: &MonthlyStep,
    now: i64,
) -> Result<Applied, IngestError> {
    let report = step.invoice.as_ref();
    let lookup = Lookup {
        donation_id: step.donation_id.as_deref(),
        subscription_id: step.subscription_id.as_deref(),
        session_id: step.session_id.as_deref(),
        invoice_id: report.map(|r| r.id.as_str()),
    };
    let row = match subscriptions::find(conn, lookup).await? {
        Some(row) => row,
        None => match &step.recovered {
            Some(new) => {
                donations::insert(conn, new).await?;
                match subscriptions::find_by_id(&mut *conn, &new.id).await? {
                    Some(row) => row,
                    // Its id or session belongs to a one-time donation: not ours to merge.
                    None => return Ok(Outcome::Failed("donation could not be created".into()).into()),
                }
            }
            // A subscription we do not know yet (its checkout's event is late), or an invoice
            // payment whose invoice is not reported yet: it waits for them.
            None => return Ok(Outcome::Deferred.into()),
        },
    };
    // Every address the coffee is paid with, so that a cancellation by address finds it; a
    // declaration that found nothing yet (its events were late) is looked at again.
    if let Some(hash) = &step.email_hash
        && subscriptions::remember_email(conn, &row.id, hash).await?
    {
        cancellations::reopen_for(conn, hash, row.created_at, now).await?;
    }
    let invoices = invoices::for_donation(&mut *conn, &row.id).await?;
    if let Some(r) = report
        && !r.creates
        && !invoices.iter().any(|i| i.id == r.id)
    {
        return Ok(Outcome::Deferred.into());
    }
    let change = monthly_merge::merge(&row, &invoices, step, now);
    write(conn, &row, &invoices, report.map(|r| r.id.as_str()), change, now).await
}

/// A refund or dispute whose charge no donation has: a monthly coffee's renewal, found by the
/// payment intent or charge its invoice learned. `None` if no invoice has either.
pub(super) async fn apply_payment(
    conn: &mut SqliteConnection,
    keys: &Keys,
    effects: &[crate::domain::Effect],
    now: i64,
) -> Result<Option<Applied>, IngestError> {
    let found =
        invoices::find_by_payment(conn, keys.payment_intent_id.as_deref(), keys.charge_id.as_deref()).await?;
    let Some(invoice) = found else {
        return Ok(None);
    };
    let Some(row) = subscriptions::find_by_id(&mut *conn, &invoice.donation_id).await? else {
        return Ok(None);
    };
    let invoices = invoices::for_donation(&mut *conn, &row.id).await?;
    let change = monthly_merge::merge_payment(&row, &invoices, &invoice.id, effects, now);
    write(conn, &row, &invoices, Some(&invoice.id), change, now)
        .await
        .map(Some)
}

async fn write(
    conn: &mut SqliteConnection,
    row: &MonthlyRow,
    invoices: &[InvoiceRow],
    invoice_id: Option<&str>,
    change: Option<MonthlyChange>,
    now: i64,
) -> Result<Applied, IngestError> {
    let outcome = Outcome::Applied {
        donation_id: row.id.clone(),
    };
    let erased = row.erased_at.is_some();
    let Some(change) = change else {
        return Ok(Applied {
            erased,
            ..Applied::from(outcome)
        });
    };
    if let Some(invoice) = &change.invoice {
        invoices::upsert(conn, invoice, now).await?;
    }
    let update = MonthlyUpdate {
        learned: &change.learned,
        checkout: change.checkout,
        subscription: &change.subscription,
        summary: &change.summary,
    };
    subscriptions::update(conn, &row.id, &update, now).await?;
    let before = invoice_id.and_then(|id| invoices.iter().find(|i| i.id == id));
    Ok(Applied {
        learned: change.learned_an_id(before),
        erased,
        notice: change.notice.map(|kind| (row.id.clone(), kind)),
        ..Applied::from(outcome)
    })
}
