//! `GET /supporters`: the public wall, newest first, 20 a page, keyset-paginated by `?before=`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::error::PageError;
use super::here::Here;
use super::page::{Page, html};
use super::view::{SupporterView, TotalsView};
use crate::i18n::Lang;
use crate::public;
use crate::state::State;
use crate::storage::supporters::Cursor;

#[derive(Template)]
#[template(path = "supporters.html")]
struct WallPage {
    page: Page,
    totals: TotalsView,
    supporters: Vec<SupporterView>,
    older_url: Option<String>,
    first_page: bool,
}

/// The `?before=` cursor, if any. `Err` for a cursor that is present but not ours.
pub fn before_param(req: &HttpRequest, names: &[&str]) -> Result<Option<Cursor>, ()> {
    let query = crate::query::Query::of(req);
    if query.unreadable {
        return Err(());
    }
    match query.pairs().iter().find(|(k, _)| names.contains(&k.as_str())) {
        None => Ok(None),
        Some((_, v)) if v.is_empty() => Ok(None),
        Some((_, v)) => Cursor::decode(v).map(Some).ok_or(()),
    }
}

pub async fn show(req: HttpRequest, lang: Lang, here: Here, state: State) -> Result<HttpResponse, PageError> {
    let before = before_param(&req, &["before"]).map_err(|()| PageError::BadRequest)?;
    let wall = public::wall(
        &state.wall_cache,
        &state.db,
        before.as_ref(),
        public::DEFAULT_PAGE,
    )
    .await?;
    let currency = &state.rules.pricing.currency;
    let t = lang.texts();
    let page = WallPage {
        page: Page::new(&state, lang, &here, t.wall_heading),
        totals: TotalsView::new(&wall.totals, state.site.goal.as_ref(), lang, currency),
        supporters: wall
            .supporters
            .iter()
            .map(|s| SupporterView::new(s, lang))
            .collect(),
        older_url: wall
            .next
            .as_ref()
            .map(|c| format!("/supporters?before={}&lang={}", c.encode(), lang.code())),
        first_page: before.is_none(),
    };
    Ok(html(StatusCode::OK, &page))
}
