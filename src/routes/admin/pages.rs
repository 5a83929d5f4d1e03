//! The admin's HTML pages: the donation list with totals, one donation, the event ledger.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::super::State;
use super::super::page::{self, Page, html};
use super::actions::{self, ActionError, ActionInput};
use super::{Admin, refuse};
use crate::domain::{Currency, Money};
use crate::i18n::{Lang, Texts};
use crate::storage::admin::{self, AdminRow, LedgerRow, MonthTotals};

/// A donation as the admin list shows it.
pub struct RowView {
    pub id: String,
    pub date: String,
    pub status: String,
    pub coffees: i64,
    pub amount: String,
    pub refunded: Option<String>,
    pub name: String,
    pub message: String,
    pub public: bool,
    pub hidden: bool,
    pub held: bool,
    pub erased: bool,
    pub mismatch: bool,
}

impl RowView {
    fn new(r: &AdminRow, lang: Lang, fallback: &Currency) -> Self {
        let currency = Currency::parse(&r.currency).unwrap_or_else(|_| fallback.clone());
        let date = time::OffsetDateTime::from_unix_timestamp(r.created_at)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        RowView {
            id: r.id.clone(),
            date: lang.date(date),
            status: r.status.clone(),
            coffees: r.coffees,
            amount: Money::new(r.amount_cents, currency.clone()).format_de(),
            refunded: (r.refunded_cents > 0).then(|| Money::new(r.refunded_cents, currency).format_de()),
            name: r.name.clone().unwrap_or_default(),
            message: r.message.clone().unwrap_or_default(),
            public: r.visibility == "public",
            hidden: r.hidden,
            held: r.held,
            erased: r.erased_at.is_some(),
            mismatch: r.amount_mismatch,
        }
    }
}

pub struct TotalsRow {
    pub month: String,
    pub donations: i64,
    pub coffees: i64,
    pub gross: String,
    pub refunded: String,
    pub lost: String,
    pub net: String,
}

fn totals_rows(months: &[MonthTotals], lang: Lang, currency: &Currency) -> Vec<TotalsRow> {
    let money = |c: i64| Money::new(c, currency.clone()).format_de();
    let row = |m: &MonthTotals| TotalsRow {
        month: m.month.clone(),
        donations: m.donations,
        coffees: m.coffees,
        gross: money(m.gross_cents),
        refunded: money(m.refunded_cents),
        lost: money(m.disputed_lost_cents),
        net: money(m.net_cents),
    };
    let mut rows: Vec<TotalsRow> = months.iter().map(row).collect();
    let overall = months.iter().fold(MonthTotals::default(), |mut acc, m| {
        acc.donations += m.donations;
        acc.coffees += m.coffees;
        acc.gross_cents += m.gross_cents;
        acc.refunded_cents += m.refunded_cents;
        acc.disputed_lost_cents += m.disputed_lost_cents;
        acc.net_cents += m.net_cents;
        acc
    });
    rows.push(TotalsRow {
        month: lang.texts().admin_overall.to_owned(),
        ..row(&overall)
    });
    rows
}

const STATUSES: &[&str] = &[
    "pending",
    "processing",
    "paid",
    "failed",
    "expired",
    "refunded",
    "disputed",
    "lost",
    "held",
];

#[derive(Template)]
#[template(path = "admin_list.html")]
struct ListPage {
    page: Page,
    csrf: String,
    rows: Vec<RowView>,
    totals: Vec<TotalsRow>,
    statuses: &'static [&'static str],
    status: String,
    month: String,
    next_url: Option<String>,
    export_url: String,
}

fn t(req: &HttpRequest) -> (Lang, &'static Texts) {
    let lang = Lang::negotiate(req);
    (lang, lang.texts())
}

pub async fn list(req: HttpRequest, admin: Admin, state: State) -> HttpResponse {
    let (lang, t) = t(&req);
    let Ok(q) = actions::list_query(req.query_string()) else {
        return page::message(
            &state,
            lang,
            StatusCode::BAD_REQUEST,
            t.form_error_heading,
            t.err_body,
        );
    };
    let loaded = async {
        let page = admin::list(&state.pool, &q.filter, q.before.as_ref(), q.limit).await?;
        let months = admin::monthly_totals(&state.pool).await?;
        Ok::<_, sqlx::Error>((page, months))
    }
    .await;
    let ((rows, next), months) = match loaded {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = ?e, "admin list failed");
            return page::server_error_page(&state, lang);
        }
    };
    let currency = &state.settings.pricing.currency;
    let filter_query =
        serde_urlencoded::to_string([("status", &q.status), ("month", &q.month)]).unwrap_or_default();
    let page = ListPage {
        page: Page::new(&state, lang, t.admin_heading),
        csrf: admin.csrf_token(&state),
        rows: rows.iter().map(|r| RowView::new(r, lang, currency)).collect(),
        totals: totals_rows(&months, lang, currency),
        statuses: STATUSES,
        next_url: next.map(|c| format!("/admin?{filter_query}&before={}&lang={}", c.encode(), lang.code())),
        export_url: format!("/api/admin/donations.csv?{filter_query}"),
        status: q.status,
        month: q.month,
    };
    html(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "admin_donation.html")]
struct DetailPage {
    page: Page,
    csrf: String,
    row: RowView,
    raw: AdminRow,
    error: Option<String>,
}

async fn render_detail(
    state: &State,
    admin: &Admin,
    lang: Lang,
    id: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    match admin::find(&state.pool, id).await {
        Ok(Some(row)) => {
            let page = DetailPage {
                page: Page::new(state, lang, lang.texts().admin_details),
                csrf: admin.csrf_token(state),
                row: RowView::new(&row, lang, &state.settings.pricing.currency),
                raw: row,
                error,
            };
            html(status, &page)
        }
        Ok(None) => page::not_found_page(state, lang),
        Err(e) => {
            tracing::error!(error = ?e, "admin detail failed");
            page::server_error_page(state, lang)
        }
    }
}

pub async fn detail(req: HttpRequest, admin: Admin, path: web::Path<String>, state: State) -> HttpResponse {
    render_detail(&state, &admin, Lang::negotiate(&req), &path, None, StatusCode::OK).await
}

pub async fn act(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<ActionInput>,
    state: State,
) -> HttpResponse {
    let (lang, t) = t(&req);
    if !admin.csrf_ok(&state, form.csrf.as_deref()) {
        return refuse(&req, &state, StatusCode::FORBIDDEN, None);
    }
    let (id, action) = path.into_inner();
    match actions::run(&state, &id, &action, &form).await {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/admin/donations/{id}?lang={}", lang.code())))
            .finish(),
        Err(ActionError::NotFound | ActionError::UnknownAction) => page::not_found_page(&state, lang),
        Err(ActionError::NotConfirmed) => {
            let msg = Some(t.erase_confirm_missing.to_owned());
            render_detail(&state, &admin, lang, &id, msg, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ActionError::Invalid { field, message }) => {
            let msg = Some(format!("{field}: {message}"));
            render_detail(&state, &admin, lang, &id, msg, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ActionError::Unexpected(e)) => {
            tracing::error!(error = ?e, "admin action failed");
            page::server_error_page(&state, lang)
        }
    }
}

#[derive(Template)]
#[template(path = "admin_events.html")]
struct EventsPage {
    page: Page,
    csrf: String,
    events: Vec<LedgerRow>,
}

pub async fn events(req: HttpRequest, admin: Admin, state: State) -> HttpResponse {
    let (lang, t) = t(&req);
    match admin::recent_events(&state.pool, 100).await {
        Ok(events) => {
            let page = EventsPage {
                page: Page::new(&state, lang, t.admin_events),
                csrf: admin.csrf_token(&state),
                events,
            };
            html(StatusCode::OK, &page)
        }
        Err(e) => {
            tracing::error!(error = ?e, "admin events failed");
            page::server_error_page(&state, lang)
        }
    }
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

pub async fn replay(
    req: HttpRequest,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: State,
) -> HttpResponse {
    let lang = Lang::negotiate(&req);
    if !admin.csrf_ok(&state, form.csrf.as_deref()) {
        return refuse(&req, &state, StatusCode::FORBIDDEN, None);
    }
    match actions::replay(&state, &path).await {
        Ok(_) => HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/admin/events?lang={}", lang.code())))
            .finish(),
        Err(ActionError::NotFound) => page::not_found_page(&state, lang),
        Err(e) => {
            tracing::error!(error = ?e, "replay failed");
            page::server_error_page(&state, lang)
        }
    }
}

/// Unknown admin URLs answer like known ones: 404 without a token, 401 without credentials.
pub async fn unknown(req: HttpRequest, _admin: Admin, state: State) -> HttpResponse {
    page::not_found_page(&state, Lang::negotiate(&req))
}
