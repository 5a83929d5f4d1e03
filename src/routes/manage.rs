//! `/manage/{token}`: the donor's own entry, reached by the private link from the thanks page.
//! No account: the signed token is the key. Going anonymous or erasing is as easy as opting in.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::State;
use super::admin::same_origin;
use super::page::{self, Page, html};
use crate::domain::{Message, SupporterName, Visibility, needs_review};
use crate::i18n::{CONSENT_VERSION, Lang};
use crate::storage::admin::{self, AdminRow, EntryUpdate};
use crate::storage::{self};

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
    errors: Vec<(&'static str, &'static str)>,
}

impl ManagePage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|(f, _)| *f == field).map(|(_, m)| *m)
    }
}

/// The donation behind a genuine, still valid token.
async fn entry(state: &State, token: &str) -> Result<Option<AdminRow>, sqlx::Error> {
    let Some(id) = state.signer.open_manage_token(token) else {
        return Ok(None);
    };
    Ok(admin::find(&state.pool, id)
        .await?
        .filter(|row| row.erased_at.is_none()))
}

fn render(
    state: &State,
    lang: Lang,
    token: &str,
    row: &AdminRow,
    saved: bool,
    errors: Vec<(&'static str, &'static str)>,
    status: StatusCode,
) -> HttpResponse {
    let t = lang.texts();
    let public = row.visibility == "public";
    let shown_as = match (&row.name, public && !row.held) {
        (Some(name), true) => name.clone(),
        _ => t.anonymous.to_owned(),
    };
    let page = ManagePage {
        page: Page::new(state, lang, t.manage_heading),
        token: token.to_owned(),
        name: row.name.clone().unwrap_or_default(),
        message: row.message.clone().unwrap_or_default(),
        public,
        held: row.held && public,
        shown_as: format!("{shown_as} – {}", lang.coffees(row.coffees)),
        saved,
        errors,
    };
    html(status, &page)
}

async fn load_or_404(state: &State, lang: Lang, token: &str) -> Result<AdminRow, HttpResponse> {
    page::or_500(state, lang, "manage lookup", entry(state, token).await)?
        .ok_or_else(|| page::not_found_page(state, lang))
}

/// For changes: the request must come from our own pages and the token must be live.
async fn guarded(req: &HttpRequest, state: &State, token: &str) -> Result<(Lang, AdminRow), HttpResponse> {
    let lang = Lang::negotiate(req);
    if !same_origin(req, &state.public_url) {
        let t = lang.texts();
        return Err(page::message(
            state,
            lang,
            StatusCode::FORBIDDEN,
            t.error_heading,
            t.admin_forbidden,
        ));
    }
    Ok((lang, load_or_404(state, lang, token).await?))
}

pub async fn show(req: HttpRequest, path: web::Path<String>, state: State) -> HttpResponse {
    let lang = Lang::negotiate(&req);
    match load_or_404(&state, lang, &path).await {
        Ok(row) => {
            let saved = req.query_string().split('&').any(|p| p == "saved=1");
            render(&state, lang, &path, &row, saved, Vec::new(), StatusCode::OK)
        }
        Err(response) => response,
    }
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
    path: web::Path<String>,
    form: web::Form<EntryForm>,
    state: State,
) -> HttpResponse {
    let (lang, row) = match guarded(&req, &state, &path).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let t = lang.texts();
    let name = SupporterName::parse(&form.name);
    let message = Message::parse(&form.message);
    let visibility = Visibility::from_checkbox(form.public.as_deref());
    let (Ok(name), Ok(message), Ok(visibility)) = (name.clone(), message.clone(), visibility) else {
        let mut errors = Vec::new();
        if name.is_err() {
            errors.push(("name", t.err_name));
        }
        if message.is_err() {
            errors.push(("message", t.err_message));
        }
        let mut shown = row.clone();
        shown.name = Some(form.name.clone());
        shown.message = Some(form.message.clone());
        return render(
            &state,
            lang,
            &path,
            &shown,
            false,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let name = name.as_ref().map(|n| n.as_str());
    let message = message.as_ref().map(|m| m.as_str());
    let public = visibility == Visibility::Public;
    // A donor's edit goes back through moderation, as a new entry would.
    let update = EntryUpdate {
        name,
        message,
        public,
        held: needs_review(
            state.settings.moderation,
            public,
            &[name.unwrap_or(""), message.unwrap_or("")],
            &state.settings.blocked_words,
        ),
        consent_version: CONSENT_VERSION,
    };
    let result = async {
        let mut tx = storage::begin_write(&state.pool).await?;
        admin::update_entry(&mut tx, &row.id, &update, storage::now()).await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((
                LOCATION,
                format!("/manage/{}?saved=1&lang={}", path.as_str(), lang.code()),
            ))
            .finish(),
        Err(e) => {
            tracing::error!(error = ?e, "donor update failed");
            page::server_error_page(&state, lang)
        }
    }
}

pub async fn erase(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<EntryForm>,
    state: State,
) -> HttpResponse {
    let (lang, row) = match guarded(&req, &state, &path).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let t = lang.texts();
    if form.confirm.as_deref() != Some("on") {
        let errors = vec![("confirm", t.erase_confirm_missing)];
        return render(
            &state,
            lang,
            &path,
            &row,
            false,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let result = async {
        let mut tx = storage::begin_write(&state.pool).await?;
        admin::erase(&mut tx, &row.id, storage::now()).await?;
        tx.commit().await
    }
    .await;
    match result {
        Ok(()) => {
            tracing::info!(donation_id = %row.id, "donor erased their personal data");
            page::message(&state, lang, StatusCode::OK, t.erased_heading, t.erased_text)
        }
        Err(e) => {
            tracing::error!(error = ?e, "donor erase failed");
            page::server_error_page(&state, lang)
        }
    }
}
