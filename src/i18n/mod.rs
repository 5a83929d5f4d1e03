//! Every user-facing string, one file per language. German is the default.

mod de;
mod en;
mod notice;

pub use notice::NoticeTexts;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

/// The version of the consent wording (the public checkbox and the privacy notice). Stored with
/// every public opt-in; change it whenever that wording changes.
pub const CONSENT_VERSION: &str = "2026-11-28";

/// German first: the jar's own language when nothing says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    De,
    En,
}

impl Lang {
    /// `?lang=` wins, then the first supported language in `Accept-Language`, then German.
    pub fn negotiate(req: &HttpRequest) -> Lang {
        if let Some(lang) = crate::query::Query::of(req).get("lang").and_then(Lang::from_code) {
            return lang;
        }
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language)
            .unwrap_or(Lang::De)
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        match code.get(..2).map(|c| c.to_ascii_lowercase()).as_deref() {
            Some("de") => Some(Lang::De),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }

    /// The best-weighted language we speak among the header's first entries (a browser sends a
    /// handful; a longer header only costs more to read).
    fn from_accept_language(header: &str) -> Option<Lang> {
        header
            .split(',')
            .take(16)
            .filter_map(|part| {
                let mut it = part.trim().split(';');
                let lang = Lang::from_code(it.next()?.trim())?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            // The first of the highest weight: header order decides among equals.
            .min_by(|a, b| b.0.total_cmp(&a.0))
            .map(|(_, l)| l)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// The words of the blogger's notifications and the outbox page.
    pub fn notice_texts(self) -> &'static NoticeTexts {
        match self {
            Lang::De => &notice::DE,
            Lang::En => &notice::EN,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::De => &de::TEXTS,
            Lang::En => &en::TEXTS,
        }
    }

    /// The other language, for the switch link in the footer.
    pub fn other(self) -> Lang {
        match self {
            Lang::De => Lang::En,
            Lang::En => Lang::De,
        }
    }

    pub fn supporters(self, n: i64) -> String {
        let t = self.texts();
        format!("{n} {}", if n == 1 { t.supporter_one } else { t.supporter_many })
    }

    /// "☕ 42 Kaffees von 17 Unterstützer:innen · 210,00 €"
    pub fn totals_line(self, coffees: i64, supporters: i64, amount: &crate::domain::Money) -> String {
        format!(
            "☕ {} {} {} · {}",
            self.coffees(coffees),
            self.texts().from,
            self.supporters(supporters),
            amount.format_de()
        )
    }

    /// German `27.11.2026`, English `27 Nov 2026`.
    pub fn date(self, t: time::OffsetDateTime) -> String {
        match self {
            Lang::De => format!("{:02}.{:02}.{}", t.day(), u8::from(t.month()), t.year()),
            Lang::En => format!(
                "{} {} {}",
                t.day(),
                self.texts().months[usize::from(u8::from(t.month())) - 1],
                t.year()
            ),
        }
    }

    /// What was wrong with a name or message: the offending character if that was it, else the
    /// field's general rule (`fallback`).
    pub fn text_error(self, fallback: &str, error: &crate::domain::ParseError) -> String {
        match error {
            crate::domain::ParseError::ForbiddenCharacter(c) => self
                .texts()
                .err_character
                .replace("{code}", &format!("U+{:04X}", u32::from(*c))),
            _ => fallback.to_owned(),
        }
    }

    pub fn coffees(self, n: i64) -> String {
        let t = self.texts();
        format!("{n} {}", if n == 1 { t.coffee_one } else { t.coffee_many })
    }
}

/// Handlers take the reader's language as an argument, negotiated as [`Lang::negotiate`] says.
impl FromRequest for Lang {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Lang::negotiate(req)))
    }
}

/// All the copy of one language.
pub struct Texts {
    pub language_name: &'static str,
    pub test_mode_banner: &'static str,
    pub home_heading: &'static str,
    pub home_intro: &'static str,
    pub coffee_one: &'static str,
    pub coffee_many: &'static str,
    pub per_coffee: &'static str,
    pub field_coffees: &'static str,
    pub field_name: &'static str,
    pub field_name_hint: &'static str,
    pub field_message: &'static str,
    pub field_message_hint: &'static str,
    pub field_public: &'static str,
    pub field_public_hint: &'static str,
    pub donate_button: &'static str,
    pub checkout_submit_message: &'static str,
    pub canceled_notice: &'static str,
    pub form_error_heading: &'static str,
    pub err_coffees: &'static str,
    pub err_name: &'static str,
    pub err_message: &'static str,
    pub err_public: &'static str,
    pub err_character: &'static str,
    pub err_body: &'static str,
    pub provider_error_heading: &'static str,
    pub provider_error_text: &'static str,
    pub back_home: &'static str,
    pub thanks_heading: &'static str,
    pub thanks_text: &'static str,
    pub confirming_heading: &'static str,
    pub confirming_text: &'static str,
    pub confirming_slow: &'static str,
    pub processing_heading: &'static str,
    pub processing_text: &'static str,
    pub not_paid_heading: &'static str,
    pub not_paid_text: &'static str,
    pub refunded_text: &'static str,
    pub back_to_blog: &'static str,
    pub demo_title: &'static str,
    pub demo_notice: &'static str,
    pub demo_pay: &'static str,
    pub demo_cancel: &'static str,
    pub demo_paid: &'static str,
    pub demo_closed: &'static str,
    pub demo_to_thanks: &'static str,
    pub widget_frame_title: &'static str,
    pub demo_amount: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_text: &'static str,
    pub error_heading: &'static str,
    pub error_text: &'static str,
    pub anonymous: &'static str,
    pub supporter_one: &'static str,
    pub supporter_many: &'static str,
    pub from: &'static str,
    pub wall_heading: &'static str,
    pub wall_empty: &'static str,
    pub wall_older: &'static str,
    pub wall_newest: &'static str,
    pub recent_heading: &'static str,
    pub see_all: &'static str,
    pub goal_progress: &'static str,
    pub embed_heading: &'static str,
    pub embed_intro: &'static str,
    pub embed_button: &'static str,
    pub embed_button_hint: &'static str,
    pub embed_badge: &'static str,
    pub embed_badge_hint: &'static str,
    pub embed_widget: &'static str,
    pub embed_widget_hint: &'static str,
    pub embed_feed: &'static str,
    pub embed_feed_hint: &'static str,
    pub embed_snippet: &'static str,
    pub embed_preview: &'static str,
    pub feed_title: &'static str,
    pub months: [&'static str; 12],
    pub privacy_notice: &'static str,
    pub privacy_link: &'static str,
    pub imprint_link: &'static str,
    pub manage_link_label: &'static str,
    pub manage_link_hint: &'static str,
    pub manage_heading: &'static str,
    pub manage_intro: &'static str,
    pub manage_save: &'static str,
    pub manage_saved: &'static str,
    pub manage_held: &'static str,
    pub manage_shown_as: &'static str,
    pub erase_heading: &'static str,
    pub erase_text: &'static str,
    pub erase_confirm: &'static str,
    pub erase_button: &'static str,
    pub erase_confirm_missing: &'static str,
    pub erased_heading: &'static str,
    pub erased_text: &'static str,
    pub admin_heading: &'static str,
    pub admin_login_heading: &'static str,
    pub admin_token: &'static str,
    pub admin_login_button: &'static str,
    pub admin_login_failed: &'static str,
    pub admin_logout: &'static str,
    pub admin_logout_all: &'static str,
    pub admin_donations: &'static str,
    pub admin_events: &'static str,
    pub admin_notifications: &'static str,
    pub error_title_prefix: &'static str,
    pub meta_description: &'static str,
    pub bad_request_text: &'static str,
    pub method_not_allowed_text: &'static str,
    pub too_large_text: &'static str,
    pub admin_export: &'static str,
    pub admin_filter: &'static str,
    pub admin_status: &'static str,
    pub admin_all: &'static str,
    pub admin_held: &'static str,
    pub admin_month: &'static str,
    pub admin_totals: &'static str,
    pub admin_overall: &'static str,
    pub admin_gross: &'static str,
    pub admin_refunded: &'static str,
    pub admin_lost: &'static str,
    pub admin_net: &'static str,
    pub admin_count: &'static str,
    pub admin_date: &'static str,
    pub admin_amount: &'static str,
    pub admin_shown: &'static str,
    pub admin_actions: &'static str,
    pub admin_hide: &'static str,
    pub admin_unhide: &'static str,
    pub admin_approve: &'static str,
    pub admin_edit: &'static str,
    pub admin_hidden: &'static str,
    pub admin_erased: &'static str,
    pub admin_details: &'static str,
    pub admin_replay: &'static str,
    pub admin_none: &'static str,
    pub admin_next: &'static str,
    pub admin_forbidden: &'static str,
    pub too_many_heading: &'static str,
    pub too_many_text: &'static str,
    pub rate_limited_heading: &'static str,
    pub rate_limited_text: &'static str,
    pub honeypot_label: &'static str,
    pub skip_to_content: &'static str,
    pub language_nav: &'static str,
    pub admin_event_type: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn totals_and_dates_read_naturally_in_both_languages() {
        let eur = crate::domain::Money::new(21_000, crate::domain::Currency::parse("eur").unwrap());
        assert_eq!(
            Lang::De.totals_line(42, 17, &eur),
            "☕ 42 Kaffees von 17 Unterstützer:innen · 210,00\u{a0}€"
        );
        assert_eq!(
            Lang::En.totals_line(1, 1, &eur),
            "☕ 1 coffee from 1 supporter · 210,00\u{a0}€"
        );
        let t = time::macros::datetime!(2026-11-07 10:00 UTC);
        assert_eq!(Lang::De.date(t), "07.11.2026");
        assert_eq!(Lang::En.date(t), "7 Nov 2026");
    }

    #[test]
    fn german_unless_asked_otherwise() {
        assert_eq!(
            Lang::negotiate(&TestRequest::default().to_http_request()),
            Lang::De
        );
        let en = TestRequest::with_uri("/?lang=en").to_http_request();
        assert_eq!(Lang::negotiate(&en), Lang::En);
        let header = TestRequest::default()
            .insert_header(("Accept-Language", "fr;q=1, en-GB;q=0.8, de;q=0.5"))
            .to_http_request();
        assert_eq!(Lang::negotiate(&header), Lang::En);
        let query_wins = TestRequest::with_uri("/?lang=de")
            .insert_header(("Accept-Language", "en"))
            .to_http_request();
        assert_eq!(Lang::negotiate(&query_wins), Lang::De);
    }

    #[test]
    fn the_first_of_the_highest_weight_among_the_first_entries() {
        let read = Lang::from_accept_language;
        assert_eq!(read("en, de"), Some(Lang::En));
        assert_eq!(read("de;q=0.9, en;q=0.9"), Some(Lang::De));
        assert_eq!(read("de;q=0.5, en;q=0.7"), Some(Lang::En));
        assert_eq!(read("fr, it"), None);
        let long = format!("{}en", "fr,".repeat(16));
        assert_eq!(read(&long), None, "entries past the sixteenth are not read");
        assert_eq!(read(&format!("{}en", "fr,".repeat(15))), Some(Lang::En));
    }
}
