//! `/manage/{token}`: the donor's own entry, reached by the private link from the thanks page.
//! No account: the signed token is the key. Going anonymous or erasing is as easy as opting in.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::error::PageError;
use super::here::Here;
use super::manage_guard::{entry, guarded};
use super::manage_monthly::MonthlyView;
use super::page::{self, Page, html};
use crate::domain::{Interval, Message, SupporterName, Visibility};
use crate::i18n::{CONSENT_VERSION, Lang};
use crate::state::State;
use crate::storage;
use crate::storage::admin::{self, AdminRow, EntryUpdate};

#[derive(Template)]
#[template(path = "manage.html")]
struct ManagePage {
    page: Page,
    token: String,
    name: String,
    message: String,
    public: bool,
    held: bool,
    shown_as: String,
    saved: bool,
    errors: Vec<(&'static str, String)>,
    /// A monthly coffee's state and actions.
    monthly: Option<MonthlyView>,
    /// A cancellation was just received.
    cancelled: bool,
    /// A note about the payment-method portal: the demo's stand-in, or Stripe unavailable.
    portal: Option<&'static str>,
}

impl ManagePage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// What the form shows: the stored entry, or what the donor just sent if it was refused (so
/// they can correct it). "Shown as" always tells what is stored.
struct Shown<'a> {
    name: &'a str,
    message: &'a str,
}

/// What the page says besides the entry: set from the query after an action.
#[derive(Default)]
struct Notes {
    saved: bool,
    cancelled: bool,
    portal: Option<&'static str>,
}

impl Notes {
    fn of(req: &HttpRequest, lang: Lang) -> Notes {
        let q = req.query_string();
        let has = |p: &str| q.split('&').any(|x| x == p);
        let m = lang.monthly();
        Notes {
            saved: has("saved=1"),
            cancelled: has("cancelled=1"),
            portal: if has("portal=demo") {
                Some(m.demo_portal_text)
            } else if has("portal=unavailable") {
                Some(m.payment_method_unavailable)
            } else {
                None
            },
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &State,
    lang: Lang,
    here: &Here,
    token: &str,
    row: &AdminRow,
    rejected: Option<Shown<'_>>,
    notes: Notes,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let monthly = match row.interval {
        Interval::Month => super::manage_monthly::view(state, lang, &row.id).await?,
        Interval::Once => None,
    };
    let t = lang.texts();
    let public = row.visibility.is_public();
    let shown_as = match (&row.name, public && !row.held) {
        (Some(name), true) => name.clone(),
        _ => t.anonymous.to_owned(),
    };
    let page = ManagePage {
        page: Page::new(
            state,
            lang,
            here,
            &page::title(lang, t.manage_heading, !errors.is_empty()),
        ),
        token: token.to_owned(),
        name: rejected
            .as_ref()
            .map_or_else(|| row.name.clone().unwrap_or_default(), |r| r.name.to_owned()),
        message: rejected.as_ref().map_or_else(
            || row.message.clone().unwrap_or_default(),
            |r| r.message.to_owned(),
        ),
        public,
        held: row.held && public,
        shown_as: format!("{shown_as} – {}", lang.coffees(row.coffees)),
        saved: notes.saved,
        errors,
        monthly,
        cancelled: notes.cancelled,
        portal: notes.portal,
    };
    Ok(html(status, &page))
}

pub async fn show(
    req: HttpRequest,
    lang: Lang,
    here: Here,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let row = entry(&state, &path).await?;
    render(
        &state,
        lang,
        &here,
        &path,
        &row,
        None,
        Notes::of(&req, lang),
        Vec::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
    public: Option<String>,
    confirm: Option<String>,
}

pub async fn update(
    req: HttpRequest,
    lang: Lang,
    here: Here,
    path: web::Path<String>,
    form: web::Form<EntryForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let row = guarded(&req, &state, &path).await?;
    let t = lang.texts();
    let name = SupporterName::parse(&form.name);
    let message = Message::parse(&form.message);
    let visibility = Visibility::from_checkbox(form.public.as_deref());
    let (Ok(name), Ok(message), Ok(visibility)) = (name.clone(), message.clone(), visibility) else {
        let mut errors = Vec::new();
        if let Err(e) = &name {
            errors.push(("name", lang.text_error(t.err_name, e)));
        }
        if let Err(e) = &message {
            errors.push(("message", lang.text_error(t.err_message, e)));
        }
        let rejected = Shown {
            name: &form.name,
            message: &form.message,
        };
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(
            &state,
            lang,
            &here,
            &path,
            &row,
            Some(rejected),
            Notes::default(),
            errors,
            status,
        )
        .await;
    };
    let name = name.map(|n| n.as_str().to_owned());
    let message = message.map(|m| m.as_str().to_owned());
    // A donor's edit goes back through moderation, as a new entry would.
    let held = state
        .rules
        .needs_review(visibility, name.as_deref(), message.as_deref());
    let unchanged =
        name == row.name && message == row.message && visibility == row.visibility && held == row.held;
    let id = row.id;
    // Saving the form as it stands writes nothing.
    if !unchanged {
        state
            .db
            .write(move |conn| {
                Box::pin(async move {
                    let update = EntryUpdate {
                        name: name.as_deref(),
                        message: message.as_deref(),
                        public: visibility.is_public(),
                        held,
                        consent_version: CONSENT_VERSION,
                    };
                    admin::update_entry(conn, &id, &update, storage::now()).await
                })
            })
            .await?;
    }
    Ok(HttpResponse::SeeOther()
        .insert_header((
            LOCATION,
            format!("/manage/{}?saved=1&lang={}", path.as_str(), lang.code()),
        ))
        .finish())
}

/// After an erasure: a checkpoint that fails does not undo the erasure the donor was promised,
/// so it is logged, not answered as an error.
pub async fn wal_checkpoint(state: &State) {
    if let Err(e) = state.db.checkpoint().await {
        tracing::error!(error = ?e, "the checkpoint after an erasure failed");
    }
}

pub async fn erase(
    req: HttpRequest,
    lang: Lang,
    here: Here,
    path: web::Path<String>,
    form: web::Form<EntryForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let row = guarded(&req, &state, &path).await?;
    let t = lang.texts();
    if form.confirm.as_deref() != Some("on") {
        let errors = vec![("confirm", t.erase_confirm_missing.to_owned())];
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(
            &state,
            lang,
            &here,
            &path,
            &row,
            None,
            Notes::default(),
            errors,
            status,
        )
        .await;
    }
    // A running monthly coffee ends with the entry (the page said so).
    super::manage_monthly::end_before_erasure(&state, &row.id, lang).await?;
    let id = row.id.clone();
    state
        .db
        .write(move |conn| Box::pin(async move { admin::erase(conn, &id, storage::now()).await }))
        .await?;
    wal_checkpoint(&state).await;
    tracing::info!(donation_id = %row.id, "donor erased their personal data");
    // The manage page is gone now: the language switch leads home.
    Ok(page::message(
        &state,
        lang,
        &Here::home(),
        StatusCode::OK,
        t.erased_heading,
        t.erased_text,
    ))
}
