//! `GET /supporters.atom`: an Atom feed of public supporters (anonymous ones are not news).

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::http_cache::Cached;
use crate::i18n::Lang;
use crate::public;
use crate::state::State;

const CACHE: Cached<'static> = Cached {
    content_type: "application/atom+xml; charset=utf-8",
    max_age_secs: 300,
    cors: true,
};
const RFC3339: &time::format_description::well_known::Rfc3339 =
    &time::format_description::well_known::Rfc3339;

struct Entry {
    id: String,
    title: String,
    content: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "feed.xml", escape = "html")]
struct Feed {
    title: String,
    lang: &'static str,
    self_url: String,
    wall_url: String,
    updated: String,
    entries: Vec<Entry>,
}

pub async fn feed(req: HttpRequest, lang: Lang, state: State) -> HttpResponse {
    let wall = match public::wall(&state.wall_cache, &state.db, None, public::MAX_PAGE).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = ?e, "feed failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let entries: Vec<Entry> = wall
        .supporters
        .iter()
        .filter(|s| s.name.is_some() || s.message.is_some())
        .take(50)
        .map(|s| Entry {
            id: format!("{}/supporters#{}", state.public_url, s.id),
            title: format!(
                "{} – {}",
                s.name.as_deref().unwrap_or(lang.texts().anonymous),
                lang.coffees(s.coffees)
            ),
            content: s.message.clone().unwrap_or_default(),
            updated: s.created_at.format(RFC3339).unwrap_or_default(),
        })
        .collect();
    let feed = Feed {
        title: format!("{} – {}", state.site.name, lang.texts().feed_title),
        lang: lang.code(),
        self_url: format!("{}/supporters.atom", state.public_url),
        wall_url: format!("{}/supporters", state.public_url),
        updated: entries
            .first()
            .map(|e| e.updated.clone())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".into()),
        entries,
    };
    match feed.render() {
        Ok(xml) => CACHE.respond(&req, xml),
        Err(e) => {
            tracing::error!(error = ?e, "feed rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
