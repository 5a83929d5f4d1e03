//! `GET /embed` (copy-paste snippets with a live preview) and `GET /widget` (the iframe page).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use askama::Template;

use super::error::PageError;
use super::here::Here;
use super::page::{Page, html};
use super::view::{SupporterView, TotalsView, coffee_label};
use crate::i18n::Lang;
use crate::public;
use crate::state::State;

pub mod snippets;

use snippets::BUTTON_OPTIONS;
pub use snippets::Jar;

/// The widget shows this many recent supporters.
const WIDGET_SUPPORTERS: u32 = 3;

/// How `/embed` previews a snippet.
enum Preview {
    /// The snippet itself, live, in a wide column and at phone width.
    Live,
    /// A snippet that shows nothing (the feed's `<link>`): where it goes, and a link instead.
    Head { href: String },
}

struct Snippet {
    title: &'static str,
    hint: &'static str,
    code: String,
    preview: Preview,
}

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedPage {
    page: Page,
    snippets: Vec<Snippet>,
}

/// The jar as the snippets see it.
pub fn jar(state: &State) -> Jar<'_> {
    Jar {
        url: &state.public_url,
        site_name: &state.site.name,
        pricing: &state.rules.pricing,
        goal: state.site.goal.is_some(),
        demo: state.provider.is_demo(),
    }
}

pub async fn embed(lang: Lang, here: Here, state: State) -> HttpResponse {
    let t = lang.texts();
    let jar = jar(&state);
    let live = |title, hint, code| Snippet {
        title,
        hint,
        code,
        preview: Preview::Live,
    };
    let snippets = vec![
        live(t.embed_button, t.embed_button_hint, snippets::button(&jar, lang)),
        live(
            t.embed_button_select,
            t.embed_button_select_hint,
            snippets::button_with_select(&jar, lang),
        ),
        live(t.embed_badge, t.embed_badge_hint, snippets::badge(&jar, lang)),
        live(t.embed_widget, t.embed_widget_hint, snippets::widget(&jar, lang)),
        Snippet {
            title: t.embed_feed,
            hint: t.embed_feed_hint,
            code: snippets::feed(&jar, lang),
            preview: Preview::Head {
                href: format!("/supporters.atom?lang={}", lang.code()),
            },
        },
    ];
    let mut response = html(
        StatusCode::OK,
        &EmbedPage {
            page: Page::new(&state, lang, &here, t.embed_heading),
            snippets,
        },
    );
    // The previews are the snippets as pasted, inline styles included. The page holds nothing
    // but our own markup (the site name escaped), so inline styles are allowed here alone;
    // scripts stay forbidden and the previewed widget may be framed by this page.
    response.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
             object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

#[derive(Template)]
#[template(path = "widget.html")]
struct WidgetPage {
    page: Page,
    totals: TotalsView,
    supporters: Vec<SupporterView>,
    options: Vec<(u32, String)>,
    nonce: String,
}

pub async fn widget(lang: Lang, here: Here, state: State) -> Result<HttpResponse, PageError> {
    let wall = public::wall(&state.wall_cache, &state.db, None, WIDGET_SUPPORTERS).await?;
    let pricing = &state.rules.pricing;
    let currency = &pricing.currency;
    let options = (1..=pricing.max_coffees.min(BUTTON_OPTIONS))
        .map(|n| (n, coffee_label(lang, pricing, n)))
        .collect();
    let widget = WidgetPage {
        page: Page::new(&state, lang, &here, lang.texts().home_heading),
        totals: TotalsView::new(&wall.totals, state.site.goal.as_ref(), lang, currency),
        supporters: wall
            .supporters
            .iter()
            .map(|s| SupporterView::new(s, lang))
            .collect(),
        options,
        nonce: crate::auth::nonce::issue(&state.signer, crate::storage::now()),
    };
    let mut response = html(StatusCode::OK, &widget);
    // The one page that may be framed, and only by the configured origins.
    let ancestors = state.site.embed_origins.join(" ");
    let csp = format!(
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; \
         base-uri 'none'; frame-ancestors {ancestors}"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}
