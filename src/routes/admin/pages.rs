//! The admin's HTML pages: the donation list with totals, one donation, the event ledger.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::actions::{self, ActionError, ActionInput};
use super::guard::Admin;
use super::monthly::{self, CancellationView, FiguresView, SubscriptionView};
use super::views::{RowView, TotalsRow, totals_rows};
use crate::i18n::Lang;
use crate::routes::error::PageError;
use crate::routes::here::Here;
use crate::routes::page::{self, Page, html};
use crate::state::State;
use crate::storage::admin::{self, AdminRow, LedgerRow};

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
    "monthly",
];

#[derive(Template)]
#[template(path = "admin_list.html")]
struct ListPage {
    page: Page,
    csrf: String,
    rows: Vec<RowView>,
    totals: Vec<TotalsRow>,
    /// The filter's choices: the stored word and how the blogger reads it.
    statuses: Vec<(&'static str, &'static str)>,
    status: String,
    month: String,
    next_url: Option<String>,
    export_url: String,
    monthly: FiguresView,
    cancellations: Vec<CancellationView>,
}

impl From<ActionError> for PageError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::Unexpected(e) => PageError::Internal(e),
            _ => PageError::NotFound,
        }
    }
}

pub async fn list(
    req: HttpRequest,
    lang: Lang,
    here: Here,
    admin: Admin,
    state: State,
) -> Result<HttpResponse, PageError> {
    let t = lang.texts();
    let q = actions::list_query(&crate::query::Query::of(&req)).map_err(|_| PageError::BadRequest)?;
    let (rows, next) = admin::list(state.db.pool(), &q.filter, q.before.as_ref(), q.limit).await?;
    let months = admin::monthly_totals(state.db.pool()).await?;
    let currency = &state.rules.pricing.currency;
    let filter_query =
        serde_urlencoded::to_string([("status", &q.status), ("month", &q.month)]).unwrap_or_default();
    let page = ListPage {
        page: Page::new(&state, lang, &here, t.admin_heading),
        csrf: admin.csrf_token(&state),
        rows: rows.iter().map(|r| RowView::new(r, lang, currency)).collect(),
        totals: totals_rows(&months, lang, currency),
        statuses: STATUSES
            .iter()
            .map(|s| {
                let label = match crate::domain::DonationStatus::parse(s) {
                    Some(st) => lang.status(st),
                    None if *s == "monthly" => lang.monthly().admin_filter,
                    None => t.admin_held,
                };
                (*s, label)
            })
            .collect(),
        monthly: monthly::figures_view(&monthly::figures(&state).await?, lang, currency),
        cancellations: monthly::recent_cancellations(&state, lang).await?,
        next_url: next.map(|c| format!("/admin?{filter_query}&before={}&lang={}", c.encode(), lang.code())),
        export_url: format!("/api/admin/donations.csv?{filter_query}"),
        status: q.status,
        month: q.month,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "admin_donation.html")]
struct DetailPage {
    page: Page,
    csrf: String,
    row: RowView,
    raw: AdminRow,
    error: Option<String>,
    /// A monthly coffee's subscription and months.
    subscription: Option<SubscriptionView>,
}

async fn render_detail(
    state: &State,
    admin: &Admin,
    lang: Lang,
    here: &Here,
    id: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let row = admin::find(state.db.pool(), id)
        .await?
        .ok_or(PageError::NotFound)?;
    let page = DetailPage {
        page: Page::new(
            state,
            lang,
            here,
            &page::title(lang, lang.texts().admin_details, error.is_some()),
        ),
        csrf: admin.csrf_token(state),
        row: RowView::new(&row, lang, &state.rules.pricing.currency),
        subscription: monthly::subscription(state, &row.id, lang).await?,
        raw: row,
        error,
    };
    Ok(html(status, &page))
}

pub async fn detail(
    lang: Lang,
    here: Here,
    admin: Admin,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, PageError> {
    render_detail(&state, &admin, lang, &here, &path, None, StatusCode::OK).await
}

pub async fn act(
    lang: Lang,
    here: Here,
    admin: Admin,
    path: web::Path<(String, String)>,
    form: web::Form<ActionInput>,
    state: State,
) -> Result<HttpResponse, PageError> {
    if !admin.csrf_ok(&state, form.csrf.as_deref()) {
        return Err(PageError::Forbidden);
    }
    let (id, action) = path.into_inner();
    let t = lang.texts();
    let problem = match actions::run(&state, &id, &action, &form).await {
        Ok(()) => {
            return Ok(HttpResponse::SeeOther()
                .insert_header((LOCATION, format!("/admin/donations/{id}?lang={}", lang.code())))
                .finish());
        }
        Err(ActionError::NotConfirmed) => t.erase_confirm_missing.to_owned(),
        Err(ActionError::Invalid { field, message }) => format!("{field}: {message}"),
        Err(other) => return Err(other.into()),
    };
    render_detail(
        &state,
        &admin,
        lang,
        &here,
        &id,
        Some(problem),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[derive(Template)]
#[template(path = "admin_events.html")]
struct EventsPage {
    page: Page,
    csrf: String,
    events: Vec<LedgerRow>,
}

pub async fn events(lang: Lang, here: Here, admin: Admin, state: State) -> Result<HttpResponse, PageError> {
    let page = EventsPage {
        page: Page::new(&state, lang, &here, lang.texts().admin_events),
        csrf: admin.csrf_token(&state),
        events: admin::recent_events(state.db.pool(), 100).await?,
    };
    Ok(html(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

pub async fn replay(
    lang: Lang,
    admin: Admin,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    if !admin.csrf_ok(&state, form.csrf.as_deref()) {
        return Err(PageError::Forbidden);
    }
    actions::replay(&state, &path).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/admin/events?lang={}", lang.code())))
        .finish())
}

/// Unknown admin URLs answer like known ones: 404 without a token, 401 without credentials.
pub async fn unknown(_admin: Admin) -> Result<HttpResponse, PageError> {
    Err(PageError::NotFound)
}
