//! Every user-facing string, one file per language. German is the default.

mod de;
mod en;
mod monthly;
mod notice;
mod texts;

pub use monthly::MonthlyTexts;
pub use notice::NoticeTexts;
pub use texts::Texts;

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

    /// The words of monthly coffees and of the cancel button.
    pub fn monthly(self) -> &'static MonthlyTexts {
        match self {
            Lang::De => &monthly::DE,
            Lang::En => &monthly::EN,
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

    /// An amount as this language's readers write it: German `5,00 €`, English `€5.00`.
    pub fn money(self, amount: &crate::domain::Money) -> String {
        match self {
            Lang::De => amount.format_de(),
            Lang::En => amount.format_en(),
        }
    }

    /// "☕ 42 Kaffees von 17 Unterstützer:innen · 210,00 €"
    pub fn totals_line(self, coffees: i64, supporters: i64, amount: &crate::domain::Money) -> String {
        format!(
            "☕ {} {} {} · {}",
            self.coffees(coffees),
            self.texts().from,
            self.supporters(supporters),
            self.money(amount)
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

    /// A unix time's date (UTC), as [`Lang::date`] writes it.
    pub fn date_at(self, ts: i64) -> String {
        self.date(time::OffsetDateTime::from_unix_timestamp(ts).unwrap_or(time::OffsetDateTime::UNIX_EPOCH))
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

    /// A donation's status in the blogger's words: "bezahlt", "erstattet", "ausstehend", …
    pub fn status(self, status: crate::domain::DonationStatus) -> &'static str {
        use crate::domain::DonationStatus as S;
        let t = self.texts();
        match status {
            S::Pending => t.status_pending,
            S::Processing => t.status_processing,
            S::Paid => t.status_paid,
            S::Failed => t.status_failed,
            S::Expired => t.status_expired,
            S::Refunded => t.status_refunded,
            S::Disputed => t.status_disputed,
            S::Lost => t.status_lost,
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
            "☕ 1 coffee from 1 supporter · €210.00"
        );
        let t = time::macros::datetime!(2026-11-07 10:00 UTC);
        assert_eq!(Lang::De.date(t), "07.11.2026");
        assert_eq!(Lang::En.date(t), "7 Nov 2026");
    }

    /// One term each: "Button" (never "Knopf" or "Kaffee-Button") and "Trinkgeld" for what a
    /// reader gives (never "Spende": it is not one, there is no donation receipt); "Zahlung"
    /// only for the act of paying.
    #[test]
    fn the_copy_uses_one_word_for_the_button_and_one_for_the_tip() {
        for copy in [
            include_str!("de.rs"),
            include_str!("en.rs"),
            include_str!("notice.rs"),
            include_str!("monthly.rs"),
        ] {
            for banned in [
                "Knopf",
                "Kaffee-Button",
                "Spende ",
                "Spenden ",
                "Zahlungen",
                "Payments",
            ] {
                assert!(!copy.contains(banned), "{banned}");
            }
        }
        assert_eq!(Lang::De.texts().admin_donations, "Trinkgelder");
        assert_eq!(Lang::En.texts().admin_donations, "Tips");
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
