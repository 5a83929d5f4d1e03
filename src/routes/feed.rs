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

/// Text without the characters XML 1.0 forbids. New entries cannot contain them (`domain/text.rs`
/// refuses them), but one stored before that rule must not make the feed unreadable for everyone.
fn xml_text(raw: &str) -> String {
    raw.chars()
        .filter(|c| matches!(*c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
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
            title: xml_text(&format!(
                "{} – {}{}",
                s.name.as_deref().unwrap_or(lang.texts().anonymous),
                lang.coffees(s.coffees),
                if s.monthly {
                    format!(" ({})", lang.monthly().badge)
                } else {
                    String::new()
                }
            )),
            content: xml_text(s.message.as_deref().unwrap_or_default()),
            updated: s.created_at.format(RFC3339).unwrap_or_default(),
        })
        .collect();
    let feed = Feed {
        title: xml_text(&format!("{} – {}", state.site.name, lang.texts().feed_title)),
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

#[cfg(test)]
mod tests {
    use super::xml_text;

    #[test]
    fn characters_xml_forbids_are_left_out_of_the_feed() {
        assert_eq!(xml_text("A\u{FFFF}n\u{0}n\u{FFFE}a\u{1}"), "Anna");
        assert_eq!(
            xml_text("Tab\tund\nZeile ☕ \u{1F600}"),
            "Tab\tund\nZeile ☕ \u{1F600}"
        );
    }
}
