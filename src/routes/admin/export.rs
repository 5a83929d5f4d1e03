//! `GET /api/admin/donations.csv`: every donation (filters as in the list) for the tax office.

use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpRequest, HttpResponse};

use super::actions;
use super::guard::Admin;
use crate::routes::error::ApiError;
use crate::state::State;
use crate::storage::admin::{self, AdminRow};

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

fn record(r: &AdminRow) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    vec![
        r.id.clone(),
        time(Some(r.created_at)),
        time(r.paid_at),
        r.status.to_string(),
        r.coffees.to_string(),
        r.amount_cents.to_string(),
        r.refunded_cents.to_string(),
        (r.amount_cents - r.refunded_cents.min(r.amount_cents)).to_string(),
        r.currency.clone(),
        opt(&r.name),
        opt(&r.message),
        r.visibility.to_string(),
        r.hidden.to_string(),
        r.held.to_string(),
        time(r.consent_at),
        opt(&r.consent_version),
        r.livemode.to_string(),
        r.provider.clone(),
        opt(&r.checkout_session_id),
        opt(&r.payment_intent_id),
        opt(&r.charge_id),
        time(r.erased_at),
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
    writer.write_record(HEADER).map_err(anyhow::Error::from)?;
    // Page through everything, newest first, without holding a transaction open.
    q.limit = 500;
    let mut before = q.before.clone();
    loop {
        let (rows, next) = admin::list(state.db.pool(), &q.filter, before.as_ref(), q.limit).await?;
        for row in &rows {
            let cells: Vec<String> = record(row).iter().map(|c| guard(c)).collect();
            writer.write_record(&cells).map_err(anyhow::Error::from)?;
        }
        match next {
            Some(c) => before = Some(c),
            None => break,
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
    use super::guard;

    #[test]
    fn formula_cells_become_text() {
        for f in ["=1+1", "+49", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(f), format!("'{f}"));
        }
        assert_eq!(guard("Anna"), "Anna");
        assert_eq!(guard(""), "");
    }
}
