//! `/api/admin`: the same powers as the pages, as JSON, with `Authorization: Bearer <token>`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::actions::{self, ActionError, ActionInput};
use super::guard::Admin;
use crate::routes::error::ApiError;
use crate::state::State;
use crate::storage::admin;

impl From<ActionError> for ApiError {
    fn from(e: ActionError) -> Self {
        match e {
            ActionError::NotFound => ApiError::NotFound("no such donation or event"),
            ActionError::UnknownAction => ApiError::NotFound("unknown action"),
            ActionError::NotConfirmed => ApiError::Invalid {
                field: "confirm",
                message: "erasing cannot be undone: send {\"confirm\": true}".into(),
            },
            ActionError::Invalid { field, message } => ApiError::Invalid { field, message },
            ActionError::Unexpected(e) => ApiError::Internal(e),
        }
    }
}

pub async fn list(req: HttpRequest, _admin: Admin, state: State) -> Result<HttpResponse, ApiError> {
    let q = actions::list_query(&crate::query::Query::of(&req)).map_err(ApiError::BadRequest)?;
    let (rows, next) = admin::list(state.db.pool(), &q.filter, q.before.as_ref(), q.limit).await?;
    Ok(HttpResponse::Ok().json(json!({ "donations": rows, "next_cursor": next.map(|c| c.encode()) })))
}

pub async fn detail(_admin: Admin, path: web::Path<String>, state: State) -> Result<HttpResponse, ApiError> {
    let row = admin::find(state.db.pool(), &path)
        .await?
        .ok_or(ApiError::NotFound("no such donation"))?;
    Ok(HttpResponse::Ok().json(row))
}

pub async fn totals(_admin: Admin, state: State) -> Result<HttpResponse, ApiError> {
    let months = admin::monthly_totals(state.db.pool()).await?;
    let sum = |f: fn(&admin::MonthTotals) -> i64| months.iter().map(f).sum::<i64>();
    let overall = json!({
        "donations": sum(|m| m.donations), "coffees": sum(|m| m.coffees),
        "gross_cents": sum(|m| m.gross_cents), "refunded_cents": sum(|m| m.refunded_cents),
        "disputed_lost_cents": sum(|m| m.disputed_lost_cents), "net_cents": sum(|m| m.net_cents),
        "currency": state.rules.pricing.currency.as_str(),
    });
    let monthly = super::monthly::figures(&state).await?;
    Ok(HttpResponse::Ok().json(json!({ "months": months, "overall": overall, "monthly": monthly })))
}

pub async fn act(
    _admin: Admin,
    path: web::Path<(String, String)>,
    body: Option<web::Json<ActionInput>>,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let (id, action) = path.into_inner();
    let input = body.map(web::Json::into_inner).unwrap_or_default();
    actions::run(&state, &id, &action, &input).await?;
    let row = admin::find(state.db.pool(), &id)
        .await?
        .ok_or(ApiError::NotFound("no such donation"))?;
    Ok(HttpResponse::Ok().json(row))
}

pub async fn events(_admin: Admin, state: State) -> Result<HttpResponse, ApiError> {
    let events = admin::recent_events(state.db.pool(), 100).await?;
    Ok(HttpResponse::Ok().json(json!({ "events": events })))
}

pub async fn replay(_admin: Admin, path: web::Path<String>, state: State) -> Result<HttpResponse, ApiError> {
    let outcome = actions::replay(&state, &path).await.map_err(|e| match e {
        ActionError::NotFound => ApiError::NotFound("no such event"),
        other => other.into(),
    })?;
    Ok(HttpResponse::Ok().json(json!({
        "id": path.as_str(),
        "outcome": outcome.status(),
        "reason": outcome.reason(),
        "donation_id": outcome.donation_id(),
    })))
}

/// Unknown admin URLs answer like known ones: 404 without a token, 401 without credentials.
pub async fn unknown(_admin: Admin) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("not found"))
}
