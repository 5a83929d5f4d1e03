//! The public JSON API: `GET /api/supporters` and `GET /api/stats`.
//! Readable from any origin, cached briefly, with ETags.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::json;

use super::error::ApiError;
use super::http_cache::Cached;
use super::supporters::before_param;
use crate::public::{self, DEFAULT_PAGE, MAX_PAGE, Supporter};
use crate::state::State;
use crate::storage::supporters::Totals;

const CACHE: Cached<'static> = Cached {
    content_type: "application/json",
    max_age_secs: 30,
    cors: true,
};

#[derive(Serialize)]
struct TotalsJson {
    supporters: i64,
    coffees: i64,
    amount_cents: i64,
    currency: String,
}

impl TotalsJson {
    fn new(t: Totals, state: &State) -> Self {
        TotalsJson {
            supporters: t.supporters,
            coffees: t.coffees,
            amount_cents: t.amount_cents,
            currency: state.rules.pricing.currency.as_str().to_owned(),
        }
    }
}

#[derive(Serialize)]
struct SupportersJson<'a> {
    supporters: &'a [Supporter],
    next_cursor: Option<String>,
    totals: TotalsJson,
}

pub async fn supporters(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let query = crate::query::Query::of(&req);
    if query.unreadable {
        return Err(ApiError::BadRequest("unreadable query"));
    }
    let limit = match query.get("limit") {
        None => DEFAULT_PAGE,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or(ApiError::BadRequest("limit must be a whole number from 1 to 100"))?,
    };
    let before = before_param(&req, &["cursor", "before"])
        .map_err(|()| ApiError::BadRequest("cursor is not valid"))?;
    let wall = public::wall(&state.wall_cache, &state.db, before.as_ref(), limit).await?;
    let body = SupportersJson {
        supporters: &wall.supporters,
        next_cursor: wall.next.as_ref().map(|c| c.encode()),
        totals: TotalsJson::new(wall.totals, &state),
    };
    Ok(CACHE.respond(&req, serde_json::to_string(&body).unwrap_or_default()))
}

pub async fn stats(req: HttpRequest, state: State) -> Result<HttpResponse, ApiError> {
    let wall = public::wall(&state.wall_cache, &state.db, None, DEFAULT_PAGE).await?;
    let mut body = serde_json::to_value(TotalsJson::new(wall.totals, &state)).unwrap_or_default();
    // Monthly coffees running now (a subscriber counts once in `supporters` too).
    body["monthly_supporters"] = json!(wall.monthly_supporters);
    if let Some(goal) = &state.site.goal {
        body["goal"] = json!({ "coffees": goal.coffees, "label": goal.label });
    }
    Ok(CACHE.respond(&req, body.to_string()))
}
