//! What the admin can do to a donation, shared by the HTML pages and the JSON API.

use actix_web::http::StatusCode;

use crate::domain::{DonationStatus, Message, SupporterName};
use crate::state::State;
use crate::storage::{self, admin};
use crate::webhook::apply::Outcome;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("no such donation or event")]
    NotFound,
    #[error("unknown action")]
    UnknownAction,
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("erasing needs an explicit confirmation")]
    NotConfirmed,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ActionError {
    fn from(e: sqlx::Error) -> Self {
        ActionError::Unexpected(e.into())
    }
}

impl ActionError {
    pub fn status(&self) -> StatusCode {
        match self {
            ActionError::NotFound | ActionError::UnknownAction => StatusCode::NOT_FOUND,
            ActionError::Invalid { .. } | ActionError::NotConfirmed => StatusCode::UNPROCESSABLE_ENTITY,
            ActionError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The inputs an action may need.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ActionInput {
    pub name: Option<String>,
    pub message: Option<String>,
    #[serde(default)]
    pub confirm: Option<serde_json::Value>,
    pub csrf: Option<String>,
}

impl ActionInput {
    fn confirmed(&self) -> bool {
        match &self.confirm {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s == "on" || s == "true" || s == "yes",
            _ => false,
        }
    }
}

/// What an action does, parsed before anything is written.
enum Action {
    Hide(bool),
    Approve,
    Edit {
        name: Option<SupporterName>,
        message: Option<Message>,
    },
    Erase,
}

impl Action {
    fn parse(action: &str, input: &ActionInput) -> Result<Action, ActionError> {
        let invalid = |field, e: crate::domain::ParseError| ActionError::Invalid {
            field,
            message: e.to_string(),
        };
        Ok(match action {
            "hide" => Action::Hide(true),
            "unhide" => Action::Hide(false),
            "approve" => Action::Approve,
            "edit" => Action::Edit {
                name: SupporterName::parse(input.name.as_deref().unwrap_or_default())
                    .map_err(|e| invalid("name", e))?,
                message: Message::parse(input.message.as_deref().unwrap_or_default())
                    .map_err(|e| invalid("message", e))?,
            },
            "erase" if input.confirmed() => Action::Erase,
            "erase" => return Err(ActionError::NotConfirmed),
            _ => return Err(ActionError::UnknownAction),
        })
    }
}

/// Runs `action` (`hide`, `unhide`, `approve`, `edit`, `erase`) on donation `id`.
pub async fn run(state: &State, id: &str, action: &str, input: &ActionInput) -> Result<(), ActionError> {
    let parsed = Action::parse(action, input)?;
    if matches!(parsed, Action::Erase) {
        crate::routes::manage_monthly::end_before_erasure(state, id, crate::i18n::Lang::De).await?;
    }
    let donation_id = id.to_owned();
    let found = state
        .db
        .write(move |conn| {
            Box::pin(async move {
                let (id, now) = (donation_id.as_str(), storage::now());
                match parsed {
                    Action::Hide(hidden) => admin::set_hidden(conn, id, hidden, now).await,
                    Action::Approve => admin::approve(conn, id, now).await,
                    Action::Edit { name, message } => {
                        let Some(row) = admin::find(&mut *conn, id).await? else {
                            return Ok(false);
                        };
                        // The blogger is the moderator: their edit is approved as it stands.
                        let update = admin::EntryUpdate {
                            name: name.as_ref().map(SupporterName::as_str),
                            message: message.as_ref().map(Message::as_str),
                            public: row.visibility.is_public(),
                            held: false,
                            consent_version: row
                                .consent_version
                                .as_deref()
                                .unwrap_or(crate::i18n::CONSENT_VERSION),
                        };
                        admin::update_entry(conn, id, &update, now).await
                    }
                    Action::Erase => admin::erase(conn, id, now).await,
                }
            })
        })
        .await?;
    if !found {
        return Err(ActionError::NotFound);
    }
    if action == "erase" {
        crate::routes::manage::wal_checkpoint(state).await;
    }
    tracing::info!(donation_id = %id, action, "admin action");
    Ok(())
}

pub async fn replay(state: &State, event_id: &str) -> Result<Outcome, ActionError> {
    state.ledger.replay(event_id).await?.ok_or(ActionError::NotFound)
}

/// The list's query: `status` (a donation status, `held`, or `monthly`), `month` (`YYYY-MM`), `cursor` or
/// `before`, and `limit` (1..=200, default 50).
pub struct ListQuery {
    pub filter: admin::Filter,
    pub before: Option<crate::storage::supporters::Cursor>,
    pub limit: u32,
    pub status: String,
    pub month: String,
}

pub fn list_query(query: &crate::query::Query) -> Result<ListQuery, &'static str> {
    if query.unreadable {
        return Err("unreadable query");
    }
    let get = |k: &str| query.get(k).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut filter = admin::Filter::default();
    let status = get("status").unwrap_or_default();
    match status.as_str() {
        "" => {}
        "held" => filter.held_only = true,
        "monthly" => filter.monthly_only = true,
        s => filter.status = Some(DonationStatus::parse(s).ok_or("status is not a donation status")?),
    }
    let month = get("month").unwrap_or_default();
    if !month.is_empty() {
        filter.between = Some(month_range(&month).ok_or("month must look like 2026-11")?);
    }
    let before = match get("cursor").or_else(|| get("before")) {
        Some(c) => Some(crate::storage::supporters::Cursor::decode(&c).ok_or("cursor is not valid")?),
        None => None,
    };
    let limit = match get("limit") {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or("limit must be 1 to 200")?,
        None => 50,
    };
    Ok(ListQuery {
        filter,
        before,
        limit,
        status,
        month,
    })
}

/// `[first second of the month, first second of the next)` in UTC.
fn month_range(raw: &str) -> Option<(i64, i64)> {
    let (y, m) = raw.split_once('-')?;
    let (year, month): (i32, u8) = (y.parse().ok()?, m.parse().ok()?);
    let start = time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, 1).ok()?;
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let end = time::Date::from_calendar_date(ny, time::Month::try_from(nm).ok()?, 1).ok()?;
    let ts = |d: time::Date| d.midnight().assume_utc().unix_timestamp();
    Some((ts(start), ts(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_cover_whole_calendar_months() {
        assert_eq!(month_range("2026-12"), Some((1_796_083_200, 1_798_761_600)));
        assert_eq!(month_range("2026-13"), None);
        assert_eq!(month_range("nope"), None);
    }

    #[test]
    fn list_queries_refuse_unknown_statuses_and_bad_limits() {
        assert!(list_query(&crate::query::Query::parse("status=paid&month=2026-11&limit=10")).is_ok());
        assert!(
            list_query(&crate::query::Query::parse("status=held"))
                .unwrap()
                .filter
                .held_only
        );
        assert!(list_query(&crate::query::Query::parse("status=rich")).is_err());
        assert!(list_query(&crate::query::Query::parse("limit=0")).is_err());
        assert!(list_query(&crate::query::Query::parse("cursor=x")).is_err());
    }
}
