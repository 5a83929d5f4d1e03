//! The copy-paste snippets, a pure function of the jar's address, price and language: `/embed`
//! shows them, and the README and the blog recipes in `contrib/` hold the same text (tests
//! compare them). Each is self-contained: inline styles only, no script, no external CSS, no
//! cookies, so it looks the same on any blog.

use crate::domain::{Money, Pricing};
use crate::i18n::Lang;

/// The quantity select offers up to this many coffees, to stay small in a post.
pub const BUTTON_OPTIONS: u32 = 5;

/// The widget frame's width at most.
pub const WIDGET_MAX_WIDTH: u32 = 360;
/// The frame's height, measured in Chromium: what the widget with three supporters needs at
/// any width from 240 px up (a totals line of three, and the cancel link § 312k BGB asks for
/// on its own line), plus the goal's bar and the demo's banner when they show (the audit and
/// the browser test check that the frame holds its page without scrolling).
const WIDGET_HEIGHT: u32 = 528;
const WIDGET_GOAL_HEIGHT: u32 = 72;
const WIDGET_BANNER_HEIGHT: u32 = 56;

/// The button's look: the jar's own accent colour, readable on light and dark blogs, wrapping
/// rather than overflowing a narrow column.
const BUTTON_STYLE: &str = "display:inline-block;max-width:100%;margin:0;padding:.7em 1.2em;border:0;\
border-radius:.5em;background:#8a4b14;color:#fff;font:inherit;font-weight:700;line-height:1.3;\
text-align:center;white-space:normal;cursor:pointer";
const SELECT_STYLE: &str = "max-width:100%;margin:0;padding:.6em;border:1px solid #6b5a4a;\
border-radius:.5em;background:#fff;color:#2b2118;font:inherit";
const FORM_STYLE: &str = "margin:1em 0";
const ROW_STYLE: &str = "display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:1em 0";
const LABEL_STYLE: &str = "display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:0;font-weight:600";

/// What a snippet needs to know about the jar.
pub struct Jar<'a> {
    /// The public URL, without a trailing slash.
    pub url: &'a str,
    pub site_name: &'a str,
    pub pricing: &'a Pricing,
    /// Whether the widget shows a goal's progress bar.
    pub goal: bool,
    /// Whether the widget shows the demo's test-mode banner.
    pub demo: bool,
}

fn form_open(jar: &Jar<'_>, lang: Lang, style: &str) -> String {
    let code = lang.code();
    format!(
        "<form method=\"post\" action=\"{url}/donate?lang={code}\" target=\"_top\" style=\"{style}\">\n  \
         <input type=\"hidden\" name=\"lang\" value=\"{code}\">",
        url = jar.url
    )
}

/// The one-click button: "☕ Spendiere mir einen Kaffee – 5,00 €", one coffee (a form without
/// `coffees` means 1). `target="_top"` leaves any iframe, since Stripe Checkout refuses to be
/// framed.
pub fn button(jar: &Jar<'_>, lang: Lang) -> String {
    let price = Money::new(jar.pricing.coffee_price_cents, jar.pricing.currency.clone());
    format!(
        "{open}\n  <button type=\"submit\" style=\"{BUTTON_STYLE}\">☕ {label} – {price}</button>\n</form>",
        open = form_open(jar, lang, FORM_STYLE),
        label = lang.texts().home_heading,
        price = lang.money(&price),
    )
}

/// The button with a quantity select beside it, styled the same way.
pub fn button_with_select(jar: &Jar<'_>, lang: Lang) -> String {
    let t = lang.texts();
    let options: String = (1..=jar.pricing.max_coffees.min(BUTTON_OPTIONS))
        .map(|n| {
            let total = Money::new(
                jar.pricing.coffee_price_cents * i64::from(n),
                jar.pricing.currency.clone(),
            );
            format!(
                "\n      <option value=\"{n}\">{} – {}</option>",
                lang.coffees(i64::from(n)),
                lang.money(&total)
            )
        })
        .collect();
    format!(
        "{open}\n  <label style=\"{LABEL_STYLE}\">{label}\n    \
         <select name=\"coffees\" style=\"{SELECT_STYLE}\">{options}\n    </select>\n  </label>\n  \
         <button type=\"submit\" style=\"{BUTTON_STYLE}\">☕ {button}</button>\n</form>",
        open = form_open(jar, lang, ROW_STYLE),
        label = t.field_coffees,
        button = t.home_heading,
    )
}

pub fn badge(jar: &Jar<'_>, lang: Lang) -> String {
    format!(
        "<a href=\"{url}/supporters?lang={code}\"><img src=\"{url}/badge.svg?lang={code}\" alt=\"{name}\" height=\"20\" style=\"border:0;vertical-align:middle\"></a>",
        url = jar.url,
        code = lang.code(),
        name = html_text(jar.site_name),
    )
}

/// The widget's frame: no border, as wide as the column up to [`WIDGET_MAX_WIDTH`], as high as
/// the widget.
pub fn widget(jar: &Jar<'_>, lang: Lang) -> String {
    format!(
        "<iframe src=\"{url}/widget?lang={code}\" title=\"{name} – {title}\" loading=\"lazy\" \
         style=\"display:block;width:100%;max-width:{WIDGET_MAX_WIDTH}px;height:{height}px;border:0\"></iframe>",
        height = WIDGET_HEIGHT
            + if jar.goal { WIDGET_GOAL_HEIGHT } else { 0 }
            + if jar.demo { WIDGET_BANNER_HEIGHT } else { 0 },
        url = jar.url,
        code = lang.code(),
        name = html_text(jar.site_name),
        title = lang.texts().widget_frame_title,
    )
}

/// For the blog's `<head>`: feed readers find the supporters' feed from any page.
pub fn feed(jar: &Jar<'_>, lang: Lang) -> String {
    format!(
        "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{name} – {title}\" href=\"{url}/supporters.atom?lang={code}\">",
        url = jar.url,
        code = lang.code(),
        name = html_text(jar.site_name),
        title = lang.texts().feed_title,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn jar(pricing: &Pricing) -> Jar<'_> {
        Jar {
            url: "https://kaffee.example.de",
            site_name: "Anna's <Blog>",
            pricing,
            goal: false,
            demo: false,
        }
    }

    fn pricing() -> Pricing {
        Pricing {
            coffee_price_cents: 500,
            currency: Currency::parse("eur").unwrap(),
            max_coffees: 10,
        }
    }

    #[test]
    fn the_one_click_button_names_one_coffee_and_its_price_in_the_readers_language() {
        let p = pricing();
        let de = button(&jar(&p), Lang::De);
        assert!(
            de.contains(">☕ Spendiere mir einen Kaffee – 5,00\u{a0}€</button>"),
            "{de}"
        );
        assert!(
            !de.contains("name=\"coffees\""),
            "one coffee is the form's default"
        );
        let en = button(&jar(&p), Lang::En);
        assert!(en.contains(">☕ Buy me a coffee – €5.00</button>"), "{en}");
        assert!(en.contains("action=\"https://kaffee.example.de/donate?lang=en\""));
    }

    #[test]
    fn snippets_carry_no_script_no_stylesheet_and_escape_the_site_name() {
        let p = pricing();
        for lang in [Lang::De, Lang::En] {
            for s in [
                button(&jar(&p), lang),
                button_with_select(&jar(&p), lang),
                badge(&jar(&p), lang),
                widget(&jar(&p), lang),
                feed(&jar(&p), lang),
            ] {
                assert!(
                    !s.contains("<script") && !s.contains("stylesheet") && !s.contains("class="),
                    "{s}"
                );
                assert!(!s.contains("<Blog>"), "{s}");
            }
        }
        let select = button_with_select(&jar(&p), Lang::De);
        assert_eq!(select.matches("<option").count(), BUTTON_OPTIONS as usize);
        assert!(widget(&jar(&p), Lang::De).contains("border:0\""));
        let with_all = Jar {
            goal: true,
            demo: true,
            ..jar(&p)
        };
        assert!(widget(&jar(&p), Lang::De).contains("height:528px"));
        assert!(
            widget(&with_all, Lang::De).contains("height:656px"),
            "room for the goal and banner"
        );
    }
}
