//! `GET /api/admin/donations.csv`: every donation (filters as in the list) for the tax office.

use std::collections::HashMap;

use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpRequest, HttpResponse};

use super::actions;
use super::guard::Admin;
use crate::i18n::Lang;
use crate::routes::error::ApiError;
use crate::state::State;
use crate::storage::admin::{self, AdminRow};
use crate::storage::invoices::{self, InvoiceRow};

const HEADER: &[&str] = &[
    "id",
    "created_at",
    "paid_at",
    "status",
    "coffees",
    "amount_cents",
    "refunded_cents",
    "net_cents",
    "currency",
    "name",
    "message",
    "visibility",
    "hidden",
    "held",
    "consent_at",
    "consent_version",
    "livemode",
    "provider",
    "checkout_session_id",
    "payment_intent_id",
    "charge_id",
    "erased_at",
    "kind",
    "subscription_id",
    "invoice_id",
];

/// The same columns for German Excel: German headers, times in German notation (UTC), amounts
/// in the currency's units with a decimal comma, statuses and yes/no in words.
const HEADER_DE: &[&str] = &[
    "ID",
    "Erstellt (UTC)",
    "Bezahlt (UTC)",
    "Status",
    "Kaffees",
    "Betrag",
    "Erstattet",
    "Netto",
    "Währung",
    "Name",
    "Nachricht",
    "Sichtbarkeit",
    "Verborgen",
    "Wartet auf Freigabe",
    "Einwilligung (UTC)",
    "Einwilligungstext",
    "Live-Modus",
    "Anbieter",
    "Checkout-Session",
    "Payment Intent",
    "Charge",
    "Gelöscht (UTC)",
    "Art",
    "Abo",
    "Rechnung",
];

/// Spreadsheets run a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula. Prefixing a
/// quote makes it text (OWASP's advice against CSV injection). Quoting alone does not help.
pub fn guard(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

fn time(ts: Option<i64>) -> String {
    ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// `27.11.2026 14:05:09`, which German Excel reads as a date and time.
fn time_de(ts: Option<i64>) -> String {
    ts.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[day].[month].[year] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Cents as `10,50` (the currency has its own column).
fn euros_de(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{},{:02}", abs / 100, abs % 100)
}

/// A monthly coffee's month as a line of its own: the invoice's money and state, the entry's
/// name, message and consent.
fn month_of(r: &AdminRow, i: &InvoiceRow) -> AdminRow {
    AdminRow {
        status: i.status,
        coffees: i.coffees,
        amount_cents: i.amount_cents,
        refunded_cents: i.refunded_cents,
        currency: i.currency.clone(),
        payment_intent_id: i.payment_intent_id.clone(),
        charge_id: i.charge_id.clone(),
        created_at: i.created_at,
        paid_at: i.paid_at,
        ..r.clone()
    }
}

fn record(r: &AdminRow, invoice_id: Option<&str>, format: Format) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let net = r.amount_cents - r.refunded_cents.min(r.amount_cents);
    let de = format == Format::ExcelDe;
    let at = |ts| if de { time_de(ts) } else { time(ts) };
    let money = |cents: i64| if de { euros_de(cents) } else { cents.to_string() };
    let yes = |b: bool| match (de, b) {
        (true, true) => "ja".to_owned(),
        (true, false) => "nein".to_owned(),
        (false, b) => b.to_string(),
    };
    vec![
        r.id.clone(),
        at(Some(r.created_at)),
        at(r.paid_at),
        if de {
            Lang::De.status(r.status).to_owned()
        } else {
            r.status.to_string()
        },
        r.coffees.to_string(),
        money(r.amount_cents),
        money(r.refunded_cents),
        money(net),
        r.currency.clone(),
        opt(&r.name),
        opt(&r.message),
        r.visibility.to_string(),
        yes(r.hidden),
        yes(r.held),
        at(r.consent_at),
        opt(&r.consent_version),
        yes(r.livemode),
        r.provider.clone(),
        opt(&r.checkout_session_id),
        opt(&r.payment_intent_id),
        opt(&r.charge_id),
        at(r.erased_at),
        match (de, r.interval) {
            (true, crate::domain::Interval::Month) => "monatlich".to_owned(),
            (true, crate::domain::Interval::Once) => "einmalig".to_owned(),
            (false, interval) => interval.to_string(),
        },
        opt(&r.subscription_id),
        invoice_id.unwrap_or_default().to_owned(),
    ]
}

/// `?format=excel-de` (German Excel, which splits on `;` and reads UTF-8 only after a BOM), or
/// plain comma-separated CSV.
fn format(query: &crate::query::Query) -> Result<Format, ApiError> {
    match query.get("format") {
        None | Some("" | "csv") => Ok(Format::Comma),
        Some("excel-de") => Ok(Format::ExcelDe),
        Some(_) => Err(ApiError::BadRequest("format must be csv or excel-de")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Comma,
    ExcelDe,
}

/// The lines of every monthly coffee's months paid in `range` (or, never paid, made in it) that
/// pass the list's filters: the status is the month's, `held` the entry's.
async fn months_in(
    state: &State,
    range: (i64, i64),
    filter: &admin::Filter,
    format: Format,
) -> Result<Vec<Vec<String>>, ApiError> {
    let mut entries: HashMap<String, Option<AdminRow>> = HashMap::new();
    let mut lines = Vec::new();
    for i in invoices::in_range(state.db.pool(), range).await? {
        if filter.status.is_some_and(|s| s != i.status) {
            continue;
        }
        let entry = match entries.get(&i.donation_id) {
            Some(entry) => entry.clone(),
            None => {
                let entry = admin::find(state.db.pool(), &i.donation_id).await?;
                entries.insert(i.donation_id.clone(), entry.clone());
                entry
            }
        };
        if let Some(entry) = entry.filter(|e| !filter.held_only || e.held) {
            lines.push(record(&month_of(&entry, &i), Some(&i.id), format));
        }
    }
    Ok(lines)
}

pub async fn csv(req: HttpRequest, _admin: Admin, state: State) -> Result<HttpResponse, ApiError> {
    let query = crate::query::Query::of(&req);
    let mut q = actions::list_query(&query).map_err(ApiError::BadRequest)?;
    let format = format(&query)?;
    let mut out = Vec::new();
    if format == Format::ExcelDe {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    // Every field quoted: a spreadsheet then never splits a cell, whatever the delimiter.
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .delimiter(if format == Format::ExcelDe { b';' } else { b',' })
        .from_writer(out);
    let header = if format == Format::ExcelDe {
        HEADER_DE
    } else {
        HEADER
    };
    writer.write_record(header).map_err(anyhow::Error::from)?;
    // With a month, each monthly coffee's months are listed by when they were paid (below), as
    // the totals count them, not under the month its entry was made.
    let by_month = q.filter.between;
    // Page through everything, newest first, without holding a transaction open.
    q.limit = 500;
    let mut before = q.before.clone();
    loop {
        let (rows, next) = admin::list(state.db.pool(), &q.filter, before.as_ref(), q.limit).await?;
        for row in &rows {
            // A monthly coffee is one line per month (invoice), so that the lines add up to the
            // money as it moved; before its first invoice, one line for the entry.
            let months = match row.interval {
                crate::domain::Interval::Month => invoices::for_donation(state.db.pool(), &row.id).await?,
                crate::domain::Interval::Once => Vec::new(),
            };
            let lines: Vec<Vec<String>> = if months.is_empty() {
                vec![record(row, None, format)]
            } else if by_month.is_some() {
                Vec::new()
            } else {
                months
                    .iter()
                    .map(|i| record(&month_of(row, i), Some(&i.id), format))
                    .collect()
            };
            for line in lines {
                let cells: Vec<String> = line.iter().map(|c| guard(c)).collect();
                writer.write_record(&cells).map_err(anyhow::Error::from)?;
            }
        }
        match next {
            Some(c) => before = Some(c),
            None => break,
        }
    }
    if let Some(range) = by_month {
        for line in months_in(&state, range, &q.filter, format).await? {
            let cells: Vec<String> = line.iter().map(|c| guard(c)).collect();
            writer.write_record(&cells).map_err(anyhow::Error::from)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            CONTENT_DISPOSITION,
            "attachment; filename=\"kaffeekasse-donations.csv\"",
        ))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::{HEADER, HEADER_DE, euros_de, guard};

    #[test]
    fn german_excel_gets_every_column_in_german_and_euros_with_a_comma() {
        assert_eq!(HEADER.len(), HEADER_DE.len());
        assert_eq!(euros_de(1050), "10,50");
        assert_eq!(euros_de(5), "0,05");
        assert_eq!(euros_de(-500), "-5,00");
    }

    #[test]
    fn formula_cells_become_text() {
        for f in ["=1+1", "+49", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(f), format!("'{f}"));
        }
        assert_eq!(guard("Anna"), "Anna");
        assert_eq!(guard(""), "");
    }
}
