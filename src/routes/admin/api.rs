//! `/api/admin`: the same powers as the pages, as JSON, with `Authorization: Bearer <token>`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::super::State;
use super::actions::{self, ActionError, ActionInput};
use super::{Admin, refuse};
use crate::storage::admin;

fn error(status: StatusCode, message: &str, field: Option<&str>) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": { "field": field, "message": message } }))
}

fn internal(e: impl std::fmt::Debug) -> HttpResponse {
    tracing::error!(error = ?e, "admin API failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
}

pub async fn list(req: HttpRequest, _admin: Admin, state: State) -> HttpResponse {
    let q = match actions::list_query(req.query_string()) {
        Ok(q) => q,
        Err(message) => return error(StatusCode::BAD_REQUEST, message, None),
    };
    match admin::list(&state.pool, &q.filter, q.before.as_ref(), q.limit).await {
        Ok((rows, next)) => {
            HttpResponse::Ok().json(json!({ "donations": rows, "next_cursor": next.map(|c| c.encode()) }))
        }
        Err(e) => internal(e),
    }
}

pub async fn detail(_admin: Admin, path: web::Path<String>, state: State) -> HttpResponse {
    match admin::find(&state.pool, &path).await {
        Ok(Some(row)) => HttpResponse::Ok().json(row),
        Ok(None) => error(StatusCode::NOT_FOUND, "no such donation", None),
        Err(e) => internal(e),
    }
}

pub async fn totals(_admin: Admin, state: State) -> HttpResponse {
    match admin::monthly_totals(&state.pool).await {
        Ok(months) => {
            let sum = |f: fn(&admin::MonthTotals) -> i64| months.iter().map(f).sum::<i64>();
            let overall = json!({
                "donations": sum(|m| m.donations), "coffees": sum(|m| m.coffees),
                "gross_cents": sum(|m| m.gross_cents), "refunded_cents": sum(|m| m.refunded_cents),
                "disputed_lost_cents": sum(|m| m.disputed_lost_cents), "net_cents": sum(|m| m.net_cents),
                "currency": state.settings.pricing.currency.as_str(),
            });
            HttpResponse::Ok().json(json!({ "months": months, "overall": overall }))
        }
        Err(e) => internal(e),
    }
}

pub async fn act(
    _admin: Admin,
    path: web::Path<(String, String)>,
    body: Option<web::Json<ActionInput>>,
    state: State,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    let input = body.map(web::Json::into_inner).unwrap_or_default();
    match actions::run(&state, &id, &action, &input).await {
        Ok(()) => match admin::find(&state.pool, &id).await {
            Ok(Some(row)) => HttpResponse::Ok().json(row),
            Ok(None) => error(StatusCode::NOT_FOUND, "no such donation", None),
            Err(e) => internal(e),
        },
        Err(ActionError::NotFound) => error(StatusCode::NOT_FOUND, "no such donation", None),
        Err(ActionError::UnknownAction) => error(StatusCode::NOT_FOUND, "unknown action", None),
        Err(ActionError::NotConfirmed) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "erasing cannot be undone: send {\"confirm\": true}",
            Some("confirm"),
        ),
        Err(ActionError::Invalid { field, message }) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, &message, Some(field))
        }
        Err(ActionError::Unexpected(e)) => internal(e),
    }
}

pub async fn events(_admin: Admin, state: State) -> HttpResponse {
    match admin::recent_events(&state.pool, 100).await {
        Ok(events) => HttpResponse::Ok().json(json!({ "events": events })),
        Err(e) => internal(e),
    }
}

pub async fn replay(_admin: Admin, path: web::Path<String>, state: State) -> HttpResponse {
    match actions::replay(&state, &path).await {
        Ok(outcome) => {
            HttpResponse::Ok().json(json!({ "id": path.as_str(), "outcome": format!("{outcome:?}") }))
        }
        Err(ActionError::NotFound) => error(StatusCode::NOT_FOUND, "no such event", None),
        Err(e) => internal(e),
    }
}

pub async fn unknown(req: HttpRequest, _admin: Admin, state: State) -> HttpResponse {
    refuse(&req, &state, StatusCode::NOT_FOUND, None)
}
