//! What every HTML page shares: the layout's context, rendering, and the generic pages that
//! errors turn into (`error.rs` decides which).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::here::Here;
use crate::i18n::{Lang, MonthlyTexts, Texts};
use crate::state::State;

/// The layout's context (templates/base.html).
pub struct Page {
    pub t: &'static Texts,
    /// Monthly coffees and the cancel button.
    pub m: &'static MonthlyTexts,
    pub lang: &'static str,
    pub title: String,
    pub site_name: String,
    /// Shows the test-mode banner.
    pub demo: bool,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    /// This page in the other language (see `here.rs`).
    pub switch_href: String,
    /// The versioned stylesheet and icon.
    pub style_href: &'static str,
    pub icon_href: &'static str,
    pub blog_url: Option<String>,
    pub privacy_url: Option<String>,
    pub imprint_url: Option<String>,
}

impl Page {
    pub fn new(state: &State, lang: Lang, here: &Here, title: &str) -> Page {
        Page {
            t: lang.texts(),
            m: lang.monthly(),
            lang: lang.code(),
            title: title.to_owned(),
            site_name: state.site.name.clone(),
            demo: state.provider.is_demo(),
            other_lang: lang.other().code(),
            other_lang_name: lang.other().texts().language_name,
            switch_href: here.in_lang(lang.other()),
            style_href: super::assets::style_url(),
            icon_href: super::assets::favicon_url(),
            blog_url: state.site.blog_url.clone(),
            privacy_url: state.site.privacy_url.clone(),
            imprint_url: state.site.imprint_url.clone(),
        }
    }
}

/// A page's title; a page that refuses the reader's input says so first ("Fehler: …"), so that
/// a screen reader announces it and the browser tab shows it.
pub fn title(lang: Lang, heading: &str, failed: bool) -> String {
    match failed {
        true => format!("{}{heading}", lang.texts().error_title_prefix),
        false => heading.to_owned(),
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
pub fn message(
    state: &State,
    lang: Lang,
    here: &Here,
    status: StatusCode,
    heading: &str,
    text: &str,
) -> HttpResponse {
    let link = Some((
        format!("/?lang={}", lang.code()),
        lang.texts().back_home.to_owned(),
    ));
    let page = MessagePage {
        page: Page::new(state, lang, here, heading),
        heading: heading.into(),
        text: text.into(),
        link,
    };
    html(status, &page)
}

#[derive(Template)]
#[template(path = "admin_login.html")]
struct LoginPage {
    page: Page,
    error: Option<&'static str>,
}

/// The admin's login form: the page itself, and the answer to any admin page without a session.
pub fn login_form(
    state: &State,
    lang: Lang,
    here: &Here,
    error: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let page = LoginPage {
        page: Page::new(state, lang, here, lang.texts().admin_login_heading),
        error,
    };
    html(status, &page)
}
