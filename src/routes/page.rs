//! What every HTML page shares: the layout's context, rendering, and the error pages.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::State;
use crate::i18n::{Lang, Texts};

/// The layout's context (templates/base.html).
pub struct Page {
    pub t: &'static Texts,
    pub lang: &'static str,
    pub title: String,
    pub site_name: String,
    /// Shows the test-mode banner.
    pub demo: bool,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub blog_url: Option<String>,
    pub privacy_url: Option<String>,
    pub imprint_url: Option<String>,
}

impl Page {
    pub fn new(state: &State, lang: Lang, title: &str) -> Page {
        Page {
            t: lang.texts(),
            lang: lang.code(),
            title: title.to_owned(),
            site_name: state.settings.site_name.clone(),
            demo: state.settings.payment.is_demo(),
            other_lang: lang.other().code(),
            other_lang_name: lang.other().texts().language_name,
            blog_url: state.settings.blog_url.clone(),
            privacy_url: state.settings.privacy_url.clone(),
            imprint_url: state.settings.imprint_url.clone(),
        }
    }
}

/// Renders `template` as an HTML response; a template error is logged and becomes a bare 500.
pub fn html(status: StatusCode, template: &impl Template) -> HttpResponse {
    match template.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = ?e, "template rendering failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("500")
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub page: Page,
    pub heading: String,
    pub text: String,
    pub link: Option<(String, String)>,
}

/// A page with a heading, a sentence and a way back home.
pub fn message(state: &State, lang: Lang, status: StatusCode, heading: &str, text: &str) -> HttpResponse {
    let link = Some((
        format!("/?lang={}", lang.code()),
        lang.texts().back_home.to_owned(),
    ));
    let page = MessagePage {
        page: Page::new(state, lang, heading),
        heading: heading.into(),
        text: text.into(),
        link,
    };
    html(status, &page)
}

pub fn not_found_page(state: &State, lang: Lang) -> HttpResponse {
    let t = lang.texts();
    message(
        state,
        lang,
        StatusCode::NOT_FOUND,
        t.not_found_heading,
        t.not_found_text,
    )
}

/// The opaque 500 page: the cause goes to the log, never to the reader.
pub fn server_error_page(state: &State, lang: Lang) -> HttpResponse {
    let t = lang.texts();
    message(
        state,
        lang,
        StatusCode::INTERNAL_SERVER_ERROR,
        t.error_heading,
        t.error_text,
    )
}

/// Unwraps a result for an HTML page; an error is logged with `what` and becomes the opaque 500.
pub fn or_500<T, E: std::fmt::Debug>(
    state: &State,
    lang: Lang,
    what: &str,
    result: Result<T, E>,
) -> Result<T, HttpResponse> {
    result.map_err(|e| {
        tracing::error!(error = ?e, "{what} failed");
        server_error_page(state, lang)
    })
}

pub async fn not_found(req: HttpRequest, state: State) -> HttpResponse {
    not_found_page(&state, Lang::negotiate(&req))
}
