//! The text checks behind moderation: links, e-mail addresses and blocked words.
//!
//! Spammers spell links so that a naive match misses them: full-width or ideographic dots
//! (`spam。com`, `spam．com`), bracketed dots (`spam[.]com`, `spam (dot) com`), internationalised
//! domains in either form (`bücher.de`, `xn--bcher-kva.de`). The text is normalised first (NFKC,
//! the dot look-alikes NFKC keeps, bracketed dots, lower case), and every host is read in both
//! its Unicode and its ASCII (punycode) form.

use unicode_normalization::UnicodeNormalization;

/// Dots that NFKC leaves as they are (it already maps `．` U+FF0E, `﹒` U+FE52 and `․` U+2024):
/// ideographic full stops, the middle dot and the Arabic full stop.
const DOT_LOOKALIKES: &[char] = &['\u{3002}', '\u{FF61}', '\u{FE12}', '\u{00B7}', '\u{06D4}'];

/// Invisible characters that split a word for a matcher but not for a reader.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Spellings of a dot in brackets; spaces around them are part of the trick, too.
const BRACKETED_DOTS: &[&str] = &[
    "[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", "[punkt]", "(punkt)",
];

/// The text as moderation reads it (see the module's comment).
pub(super) fn normalized(text: &str) -> String {
    let plain: String = text
        .nfkc()
        .filter(|c| !is_invisible(*c))
        .map(|c| if DOT_LOOKALIKES.contains(&c) { '.' } else { c })
        .collect::<String>()
        .to_lowercase();
    BRACKETED_DOTS.iter().fold(plain, |s, dot| join_at(&s, dot))
}

/// `text` with each `dot` and the spaces on either side of it replaced by a plain dot.
fn join_at(text: &str, dot: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(dot) {
        out.push_str(rest[..at].trim_end());
        out.push('.');
        rest = rest[at + dot.len()..].trim_start();
    }
    out.push_str(rest);
    out
}

pub(super) fn has_blocked_word(text: &str, blocked: &[String]) -> bool {
    let text = normalized(text);
    let mut forms = vec![text.clone()];
    forms.extend(tokens(&text).flat_map(|t| host_forms(host_of(t))));
    blocked
        .iter()
        .map(|w| normalized(w))
        .filter(|w| !w.is_empty())
        .any(|w| forms.iter().any(|f| f.contains(w.as_str())))
}

/// URLs (`https://…`, `www.…`, bare `example.com/x`) and e-mail addresses. Errs towards holding:
/// a false positive costs a click in the admin, a false negative publishes spam.
pub(super) fn has_link_or_address(text: &str) -> bool {
    let text = normalized(text);
    if text.contains("://") || text.contains("www.") {
        return true;
    }
    tokens(&text).any(|token| {
        if let Some((user, domain)) = token.split_once('@') {
            return !user.is_empty() && domain.contains('.');
        }
        host_forms(host_of(token)).iter().any(|h| looks_like_host(h))
    })
}

fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .map(|token| token.trim_matches(|c: char| !c.is_alphanumeric()))
}

fn host_of(token: &str) -> &str {
    token.split('/').next().unwrap_or_default()
}

/// A host as written, and in its other IDN form where it has one (invalid ones are skipped).
fn host_forms(host: &str) -> Vec<String> {
    let mut forms = vec![host.to_owned()];
    if !host.contains('.') {
        return forms;
    }
    let other = if host.is_ascii() {
        let (unicode, ok) = idna::domain_to_unicode(host);
        ok.is_ok().then_some(unicode)
    } else {
        idna::domain_to_ascii(host).ok()
    };
    forms.extend(other.filter(|o| o != host));
    forms
}

fn looks_like_host(host: &str) -> bool {
    match host.rsplit_once('.') {
        Some((label, tld)) => {
            !label.is_empty() && label.chars().last().is_some_and(char::is_alphanumeric) && is_tld(tld)
        }
        None => false,
    }
}

/// An ASCII top-level domain of letters, a punycode one (`xn--p1ai`), or one in another script
/// (`рф`, `中国`).
fn is_tld(tld: &str) -> bool {
    let punycode = tld
        .strip_prefix("xn--")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let letters = (2..=24).contains(&tld.chars().count()) && tld.chars().all(char::is_alphabetic);
    punycode || letters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(text: &str) -> bool {
        has_link_or_address(text) || has_blocked_word(text, &["casino".into(), "bücher".into()])
    }

    #[test]
    fn links_addresses_and_blocked_words_are_held() {
        for spam in [
            "Besuch https://spam.example",
            "www.spam.de",
            "kauf bei spam.shop/angebot",
            "schreib an anna@example.org",
            "Bestes CASINO!",
        ] {
            assert!(held(spam), "{spam}");
        }
    }

    /// Each spelling of a link that a plain match would miss.
    #[test]
    fn other_spellings_of_a_link_are_held() {
        for (spelling, spam) in [
            ("ideographic full stop", "kauf bei spam。com"),
            ("halfwidth ideographic full stop", "spam｡com"),
            ("full-width dot", "spam．com"),
            ("full-width letters", "ｓｐａｍ．ｃｏｍ"),
            ("small full stop", "spam﹒com"),
            ("one dot leader", "spam․com"),
            ("bracketed dot", "spam[.]com"),
            ("parenthesised dot", "spam(.)com"),
            ("bracketed dot with spaces", "spam [.] com"),
            ("dot in words", "spam (dot) com"),
            ("bracketed dot, a space before", "spam [.]com"),
            ("bracketed dot, a space after", "spam[.] com"),
            ("zero-width joiner beside the dot", "spam\u{200D}.\u{200D}com"),
            ("zero-width space in the word", "ww\u{200B}w.spam"),
            ("middle dot", "spam·com"),
            ("Arabic full stop", "spam۔com"),
            ("German dot in words", "spam [punkt] de"),
            ("full-width www", "ｗｗｗ．spam"),
            ("full-width scheme", "ｈｔｔｐｓ：／／spam"),
            ("Cyrillic top-level domain", "заходи на спам.рф"),
            ("Chinese top-level domain", "看 例子.中国"),
            ("punycode top-level domain", "spam.xn--p1ai"),
            ("punycode label and domain", "xn--80ak6aa92e.xn--p1ai/x"),
            ("address with a full-width at", "anna＠example．org"),
        ] {
            assert!(has_link_or_address(spam), "{spelling}: {spam}");
        }
    }

    #[test]
    fn a_blocked_word_is_found_in_either_form_of_a_domain() {
        assert!(held("xn--bcher-kva.example"), "punycode of bücher");
        assert!(
            has_blocked_word("spam.xn--casino-xyz", &["casino".into()]),
            "in the ASCII form as written"
        );
        assert!(
            has_blocked_word("Ｃａｓｉｎｏ", &["casino".into()]),
            "full-width letters"
        );
        let blocked = ["xn--bcher-kva".to_owned()];
        assert!(
            has_blocked_word("bücher.example", &blocked),
            "Unicode text, ASCII word"
        );
        assert!(
            !has_blocked_word("ganz normal", &[String::new()]),
            "an empty word blocks nothing"
        );
    }

    #[test]
    fn ordinary_messages_are_not_held() {
        for fine in [
            "Danke für den Artikel!",
            "z.B. der Teil über Rust",
            "Weiter so... 5 Sterne",
            "Gruß aus Köln :-)",
            "Danke。 Weiter so",
            "谢谢！",
            "Спасибо за статью",
        ] {
            assert!(!held(fine), "{fine}");
        }
    }
}
