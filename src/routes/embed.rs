//! `GET /embed` (copy-paste snippets with a live preview) and `GET /widget` (the iframe page).

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_SECURITY_POLICY;
use askama::Template;

use super::error::PageError;
use super::here::Here;
use super::page::{Page, html};
use super::view::{SupporterView, TotalsView};
use crate::domain::Money;
use crate::i18n::Lang;
use crate::public;
use crate::state::State;

/// The widget shows this many recent supporters.
const WIDGET_SUPPORTERS: u32 = 3;
/// The copy-paste button offers up to this many coffees, to stay small in a post.
const BUTTON_OPTIONS: u32 = 5;

struct Snippet {
    title: &'static str,
    hint: &'static str,
    code: String,
}

#[derive(Template)]
#[template(path = "embed.html")]
struct EmbedPage {
    page: Page,
    snippets: Vec<Snippet>,
}

/// The no-JS button: a plain form posting to `/donate`. `target="_top"` leaves any iframe,
/// since Stripe Checkout refuses to be framed.
pub fn button_snippet(state: &State, lang: Lang) -> String {
    let pricing = &state.rules.pricing;
    let options: String = (1..=pricing.max_coffees.min(BUTTON_OPTIONS))
        .map(|n| {
            let total = Money::new(
                pricing.coffee_price_cents * i64::from(n),
                pricing.currency.clone(),
            );
            format!(
                "\n      <option value=\"{n}\">{} – {total}</option>",
                lang.coffees(i64::from(n))
            )
        })
        .collect();
    let t = lang.texts();
    format!(
        "<form method=\"post\" action=\"{url}/donate?lang={code}\" target=\"_top\">\n  <input type=\"hidden\" name=\"lang\" value=\"{code}\">\n  \
         <label>{label}\n    <select name=\"coffees\">{options}\n    </select>\n  </label>\n  \
         <button type=\"submit\">☕ {button}</button>\n</form>",
        url = state.public_url,
        code = lang.code(),
        label = t.field_coffees,
        button = t.home_heading,
    )
}

/// Text for an attribute of a snippet, escaped as askama escapes templates: a snippet is shown
/// both as code and as live markup in the preview.
fn html_text(text: &str) -> String {
    match askama::filters::escape(text, askama::filters::Html) {
        Ok(escaped) => escaped.to_string(),
        Err(never) => match never {},
    }
}

pub async fn embed(lang: Lang, here: Here, state: State) -> HttpResponse {
    let t = lang.texts();
    let url = &state.public_url;
    let code = lang.code();
    let snippets = vec![
        Snippet {
            title: t.embed_button,
            hint: t.embed_button_hint,
            code: button_snippet(&state, lang),
        },
        Snippet {
            title: t.embed_badge,
            hint: t.embed_badge_hint,
            code: format!(
                "<a href=\"{url}/supporters?lang={code}\"><img src=\"{url}/badge.svg?lang={code}\" alt=\"{}\" height=\"20\"></a>",
                html_text(&state.site.name)
            ),
        },
        Snippet {
            title: t.embed_widget,
            hint: t.embed_widget_hint,
            code: format!(
                "<iframe src=\"{url}/widget?lang={code}\" title=\"{} – {}\" width=\"320\" height=\"560\" loading=\"lazy\"></iframe>",
                html_text(&state.site.name),
                t.widget_frame_title
            ),
        },
        Snippet {
            title: t.embed_feed,
            hint: t.embed_feed_hint,
            code: format!(
                "<link rel=\"alternate\" type=\"application/atom+xml\" href=\"{url}/supporters.atom?lang={code}\">"
            ),
        },
    ];
    html(
        StatusCode::OK,
        &EmbedPage {
            page: Page::new(&state, lang, &here, t.embed_heading),
            snippets,
        },
    )
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
        .map(|n| {
            let total = Money::new(pricing.coffee_price_cents * i64::from(n), currency.clone());
            (n, format!("{} – {total}", lang.coffees(i64::from(n))))
        })
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
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&csp) {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, value);
    }
    Ok(response)
}
