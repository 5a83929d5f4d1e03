//! `/admin/notifications` and `/api/admin/notifications`: the outbox, with failures, and a
//! button that sends a test notification on every channel.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::guard::Admin;
use super::pages::CsrfForm;
use crate::i18n::{Lang, NoticeTexts};
use crate::routes::error::{ApiError, PageError};
use crate::routes::here::Here;
use crate::routes::page::{Page, html};
use crate::state::State;
use crate::storage::{self, outbox};

const SHOWN: u32 = 100;

struct Row {
    created: String,
    channel: &'static str,
    kind: &'static str,
    state: &'static str,
    attempts: u32,
    error: Option<String>,
    donation_id: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_notifications.html")]
struct NotificationsPage {
    page: Page,
    n: &'static NoticeTexts,
    csrf: String,
    channels: Vec<&'static str>,
    rows: Vec<Row>,
}

pub async fn page(lang: Lang, here: Here, admin: Admin, state: State) -> Result<HttpResponse, PageError> {
    let n = lang.notice_texts();
    let rows = outbox::recent(state.db.pool(), SHOWN)
        .await?
        .into_iter()
        .map(|r| Row {
            created: minute(r.created_at),
            channel: r.channel.as_str(),
            kind: r.kind.as_str(),
            state: match (r.sent_at, r.failed_at) {
                (Some(_), _) => n.admin_sent,
                (None, Some(_)) => n.admin_given_up,
                (None, None) => n.admin_waiting,
            },
            attempts: r.attempts,
            error: r.last_error,
            donation_id: r.donation_id,
        })
        .collect();
    let page = NotificationsPage {
        page: Page::new(&state, lang, &here, n.admin_heading),
        n,
        csrf: admin.csrf_token(&state),
        channels: state.outbox.channels.iter().map(|c| c.as_str()).collect(),
        rows,
    };
    Ok(html(StatusCode::OK, &page))
}

/// Queues a test notification on every channel and wakes the sender.
async fn queue_test(state: &State) -> Result<Option<String>, sqlx::Error> {
    if state.outbox.channels.is_empty() {
        return Ok(None);
    }
    let channels = state.outbox.channels.clone();
    let now = storage::now();
    let id = state
        .db
        .write(move |conn| Box::pin(async move { outbox::enqueue_test(conn, &channels, now).await }))
        .await?;
    state.outbox.wake.notify_one();
    Ok(Some(id))
}

pub async fn send_test(
    lang: Lang,
    admin: Admin,
    form: web::Form<CsrfForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    if !admin.csrf_ok(&state, form.csrf.as_deref()) {
        return Err(PageError::Forbidden);
    }
    queue_test(&state).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((LOCATION, format!("/admin/notifications?lang={}", lang.code())))
        .finish())
}

pub async fn api_list(_admin: Admin, state: State) -> Result<HttpResponse, ApiError> {
    let rows = outbox::recent(state.db.pool(), SHOWN).await?;
    let channels: Vec<_> = state.outbox.channels.iter().map(|c| c.as_str()).collect();
    Ok(HttpResponse::Ok().json(json!({ "channels": channels, "notifications": rows })))
}

pub async fn api_send_test(_admin: Admin, state: State) -> Result<HttpResponse, ApiError> {
    match queue_test(&state).await? {
        Some(id) => Ok(HttpResponse::Accepted().json(json!({ "id": id, "channels": state.outbox.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>() }))),
        None => Err(ApiError::Invalid {
            field: "channels",
            message: "no notification channel is configured".into(),
        }),
    }
}

/// `2026-11-28 14:03 UTC`: when a notification was queued matters to the minute.
fn minute(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}
