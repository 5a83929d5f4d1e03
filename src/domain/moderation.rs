//! Which public entries are held for the blogger's review before their name and message show.

use crate::config::Moderation;

/// Whether a public entry must wait for approval. Anonymous entries show nothing, so never wait.
pub fn needs_review(policy: Moderation, public: bool, texts: &[&str], blocked_words: &[String]) -> bool {
    if !public || texts.iter().all(|t| t.trim().is_empty()) {
        return false;
    }
    match policy {
        Moderation::Off => false,
        Moderation::All => true,
        Moderation::Links => texts
            .iter()
            .any(|t| has_link_or_address(t) || has_blocked_word(t, blocked_words)),
    }
}

fn has_blocked_word(text: &str, blocked: &[String]) -> bool {
    let lower = text.to_lowercase();
    blocked.iter().any(|w| lower.contains(w.as_str()))
}

/// URLs (`https://…`, `www.…`, bare `example.com/x`) and e-mail addresses. Errs towards holding:
/// a false positive costs a click in the admin, a false negative publishes spam.
fn has_link_or_address(text: &str) -> bool {
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

    fn links(text: &str) -> bool {
        needs_review(Moderation::Links, true, &[text], &["casino".into()])
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
            assert!(links(spam), "{spam}");
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
            assert!(!links(fine), "{fine}");
        }
    }

    #[test]
    fn all_holds_every_public_entry_and_anonymous_ones_never_wait() {
        assert!(needs_review(Moderation::All, true, &["Anna"], &[]));
        assert!(!needs_review(Moderation::All, false, &["https://spam"], &[]));
        assert!(!needs_review(Moderation::Off, true, &["https://spam"], &[]));
        assert!(!needs_review(Moderation::All, true, &["", " "], &[]));
    }
}
