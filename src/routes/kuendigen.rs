//! `/kuendigen`: the cancel button German law asks for (§ 312k BGB, "Verträge hier kündigen"),
//! linked from every page's footer. No login, no token: the reader names the e-mail address they
//! paid with. The declaration is stored before Stripe is asked (`cancel/mod.rs` carries it out), and
//! the answer is the same whether the address has a monthly coffee or not: nobody can probe who
//! supports the blog.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_DISPOSITION, LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::client_ip::client_key;
use super::error::PageError;
use super::here::Here;
use super::origin::same_origin;
use super::page::{self, Page, html};
use crate::cancel::confirmation::{self, Line};
use crate::domain::{CancelSource, Declaration, DeclarationError, declaration};
use crate::i18n::Lang;
use crate::state::State;
use crate::storage;
use crate::storage::cancellations::{self, CancellationRow};

/// What the reader typed, shown again on a refused form.
#[derive(Debug, Default, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    kind: Option<String>,
    #[serde(default)]
    reason: String,
    when: Option<String>,
}

#[derive(Default)]
struct Values {
    email: String,
    name: String,
    reason: String,
    extraordinary: bool,
    period_end: bool,
}

#[derive(Template)]
#[template(path = "kuendigen.html")]
struct CancelPage {
    page: Page,
    values: Values,
    errors: Vec<(&'static str, String)>,
}

impl CancelPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Template)]
#[template(path = "kuendigen_done.html")]
struct DonePage {
    page: Page,
    received: String,
    lines: Vec<Line>,
    mails: bool,
    download_url: String,
}

fn form(
    state: &State,
    lang: Lang,
    here: &Here,
    values: Values,
    errors: Vec<(&'static str, String)>,
    status: StatusCode,
) -> HttpResponse {
    let m = lang.monthly();
    let page = CancelPage {
        page: Page::new(
            state,
            lang,
            here,
            &page::title(lang, m.cancel_page_heading, !errors.is_empty()),
        ),
        values,
        errors,
    };
    html(status, &page)
}

pub async fn show(lang: Lang, here: Here, state: State) -> HttpResponse {
    form(&state, lang, &here, Values::default(), Vec::new(), StatusCode::OK)
}

pub async fn declare(
    req: HttpRequest,
    lang: Lang,
    here: Here,
    body: web::Form<CancelForm>,
    state: State,
) -> Result<HttpResponse, PageError> {
    // Only our own form may declare: another site cannot make a visitor's browser cancel.
    if !same_origin(&req, &state.public_url) {
        return Err(PageError::Forbidden);
    }
    let f = body.into_inner();
    let m = lang.monthly();
    let values = Values {
        email: f.email.clone(),
        name: f.name.clone(),
        reason: f.reason.clone(),
        extraordinary: f.kind.as_deref() == Some("extraordinary"),
        period_end: f.when.as_deref() == Some("period_end"),
    };
    let declared = match declaration(&f.email, &f.name, f.kind.as_deref(), &f.reason, f.when.as_deref()) {
        Ok(d) => d,
        Err(errors) => {
            let errors = errors
                .into_iter()
                .map(|e| match e {
                    DeclarationError::Email => ("email", m.err_email.to_owned()),
                    DeclarationError::Name => ("name", m.err_name.to_owned()),
                    DeclarationError::Kind => ("kind-ordinary", m.err_choice.to_owned()),
                    DeclarationError::Reason => ("reason", m.err_reason.to_owned()),
                    DeclarationError::When => ("when-now", m.err_choice.to_owned()),
                })
                .collect();
            return Ok(form(
                &state,
                lang,
                &here,
                values,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
    };
    let client = client_key(&req, &state.abuse.trusted_proxies);
    let now = storage::now();
    // Per client and per network only, never for the whole jar (`Limits::cancel`).
    if let Err(wait) = state.limits.cancel.check(client, false) {
        if let Some(left_out) = crate::telemetry::sample(crate::telemetry::Refusal::CancelLimited) {
            tracing::info!(?wait, left_out, "cancellation rate limit reached");
        }
        let errors = vec![("cancel-submit", lang.texts().rate_limited_form.to_owned())];
        let mut response = form(&state, lang, &here, values, errors, StatusCode::TOO_MANY_REQUESTS);
        response.headers_mut().insert(
            RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(wait.as_secs().max(1)),
        );
        return Ok(response);
    }
    let email_hash = state.signer.email_hash(declared.email.as_str());
    let id = declaration_id(&email_hash, &declared, now);
    let row = CancellationRow {
        email_hash: Some(email_hash),
        email: Some(declared.email.as_str().to_owned()),
        name: declared.name.map(|n| n.as_str().to_owned()),
        kind: declared.kind,
        reason: declared.reason.map(|r| r.as_str().to_owned()),
        ..CancellationRow::new(
            id.clone(),
            now,
            CancelSource::Form,
            declared.when,
            lang.code(),
            None,
        )
    };
    state.canceller.declare(row).await?;
    // Not the address, nor whether it matched anything: the log is no way to probe either.
    tracing::info!("cancellation declared");
    Ok(HttpResponse::SeeOther()
        .insert_header((
            LOCATION,
            format!("{}?lang={}", state.canceller.confirmation_path(&id), lang.code()),
        ))
        .finish())
}

/// The same declaration sent twice within ten minutes (a double click, a reload of the POST) is
/// one declaration: its id is derived from what it says (the address only as its keyed hash, so
/// the id tells nothing about it) and when.
fn declaration_id(email_hash: &str, d: &Declaration, now: i64) -> String {
    let said = format!(
        "{email_hash}\n{}\n{}\n{}\n{}\n{}",
        d.when.as_str(),
        d.kind.as_str(),
        d.name.as_ref().map(|n| n.as_str()).unwrap_or(""),
        d.reason.as_ref().map(|r| r.as_str()).unwrap_or(""),
        now.div_euclid(600)
    );
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, said.as_bytes()).to_string()
}

/// The declaration behind a genuine confirmation token.
async fn declared(state: &State, token: &str) -> Result<CancellationRow, PageError> {
    let id = state.canceller.open_token(token).ok_or(PageError::NotFound)?;
    cancellations::find(state.db.pool(), id)
        .await?
        .ok_or(PageError::NotFound)
}

pub async fn confirmation(
    lang: Lang,
    here: Here,
    path: web::Path<String>,
    state: State,
) -> Result<HttpResponse, PageError> {
    let c = declared(&state, &path).await?;
    let m = lang.monthly();
    let page = DonePage {
        page: Page::new(&state, lang, &here, m.confirm_heading),
        received: confirmation::received(c.created_at, lang),
        lines: confirmation::lines(&c, lang, &state.site.name),
        mails: state.canceller.mails() && c.email.is_some(),
        download_url: format!("/kuendigen/{}/download?lang={}", path.as_str(), lang.code()),
    };
    Ok(html(StatusCode::OK, &page))
}

/// The confirmation as a text file, to keep.
pub async fn download(lang: Lang, path: web::Path<String>, state: State) -> Result<HttpResponse, PageError> {
    let c = declared(&state, &path).await?;
    let url = format!(
        "{}{}?lang={}",
        state.public_url,
        state.canceller.confirmation_path(&c.id),
        lang.code()
    );
    let text = confirmation::text(&c, lang, &state.site.name, &url);
    let day = time::OffsetDateTime::from_unix_timestamp(c.created_at)
        .map(|t| t.date().to_string())
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            CONTENT_DISPOSITION,
            format!("attachment; filename=\"kuendigung-{day}.txt\""),
        ))
        .body(text))
}
