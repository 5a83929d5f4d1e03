//! `GET /badge.svg`: a shields-style counter, "☕ 42 Kaffees", for the blog's sidebar.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::http_cache::Cached;
use crate::i18n::Lang;
use crate::public;
use crate::state::State;

const CACHE: Cached<'static> = Cached {
    content_type: "image/svg+xml; charset=utf-8",
    max_age_secs: 300,
    cors: true,
};

#[derive(Template)]
#[template(path = "badge.svg", escape = "html")]
struct Badge {
    label: String,
    value: String,
    title: String,
    label_width: u32,
    value_width: u32,
    total_width: u32,
    label_x: u32,
    value_x: u32,
}

/// Approximate width of `text` in 11px Verdana, as shields.io does it: good enough to fit.
fn text_width(text: &str) -> u32 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | '.' | ',' | ':' | ' ' | '!' | '|' => 4,
            'm' | 'w' | 'M' | 'W' => 10,
            c if c.is_ascii() => 7,
            _ => 12,
        })
        .sum()
}

pub async fn badge(req: HttpRequest, lang: Lang, state: State) -> HttpResponse {
    let coffees = match public::wall(&state.wall_cache, &state.db, None, public::DEFAULT_PAGE).await {
        Ok(wall) => wall.totals.coffees,
        Err(e) => {
            tracing::error!(error = ?e, "badge totals failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let label = "☕".to_owned();
    let value = lang.coffees(coffees);
    let (label_width, value_width) = (text_width(&label) + 12, text_width(&value) + 12);
    let badge = Badge {
        title: format!("{}: {label} {value}", state.site.name),
        label_x: label_width / 2,
        value_x: label_width + value_width / 2,
        total_width: label_width + value_width,
        label,
        value,
        label_width,
        value_width,
    };
    match badge.render() {
        Ok(svg) => CACHE.respond(&req, svg),
        Err(e) => {
            tracing::error!(error = ?e, "badge rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
