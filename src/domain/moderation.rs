//! The text checks behind moderation: links, e-mail addresses and blocked words.

pub(super) fn has_blocked_word(text: &str, blocked: &[String]) -> bool {
    let lower = text.to_lowercase();
    blocked.iter().any(|w| lower.contains(w.as_str()))
}

/// URLs (`https://…`, `www.…`, bare `example.com/x`) and e-mail addresses. Errs towards holding:
/// a false positive costs a click in the admin, a false negative publishes spam.
pub(super) fn has_link_or_address(text: &str) -> bool {
    let lower = text.to_lowercase();
    if lower.contains("://") || lower.contains("www.") {
        return true;
    }
    lower.split_whitespace().any(|token| {
        let token = token.trim_matches(|c: char| !c.is_alphanumeric());
        if let Some((user, domain)) = token.split_once('@') {
            return !user.is_empty() && domain.contains('.');
        }
        let host = token.split('/').next().unwrap_or_default();
        match host.rsplit_once('.') {
            Some((label, tld)) => {
                !label.is_empty()
                    && label.chars().last().is_some_and(char::is_alphanumeric)
                    && (2..=24).contains(&tld.chars().count())
                    && tld.chars().all(|c| c.is_ascii_lowercase())
            }
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(text: &str) -> bool {
        has_link_or_address(text) || has_blocked_word(text, &["casino".into()])
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

    #[test]
    fn ordinary_messages_are_not_held() {
        for fine in [
            "Danke für den Artikel!",
            "z.B. der Teil über Rust",
            "Weiter so... 5 Sterne",
            "Gruß aus Köln :-)",
        ] {
            assert!(!held(fine), "{fine}");
        }
    }
}
