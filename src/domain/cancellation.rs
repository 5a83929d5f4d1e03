//! A cancellation (§ 312k BGB): what a reader declares on `/kuendigen` (or through their manage
//! link), parsed at the door, and when a declaration Stripe could not carry out yet is tried again.

use super::ParseError;
use super::text::{SupporterName, clean};

/// Ordinary, or extraordinary (with a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CancelKind {
    #[default]
    Ordinary,
    Extraordinary,
}

super::word_enum!(CancelKind { Ordinary => "ordinary", Extraordinary => "extraordinary" });

/// When a monthly coffee ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelWhen {
    Now,
    /// At the end of the month already paid.
    PeriodEnd,
}

super::word_enum!(CancelWhen { Now => "now", PeriodEnd => "period_end" });

/// Whether a declaration is carried out yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationState {
    Pending,
    Done,
}

super::word_enum!(DeclarationState { Pending => "pending", Done => "done" });

/// Where a declaration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelSource {
    /// `/kuendigen`: matched by the checkout e-mail address.
    Form,
    /// The supporter's manage link.
    Manage,
    /// An erasure of a running monthly coffee ends it too.
    Erase,
}

super::word_enum!(CancelSource { Form => "form", Manage => "manage", Erase => "erase" });

/// An e-mail address as a reader types it: trimmed, one `@` with something on both sides and a
/// dot in the domain, no spaces or control characters, at most 254 characters. Enough to tell a
/// typo; whether it reaches anyone is not ours to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX: usize = 254;

    pub fn parse(raw: &str) -> Result<EmailAddress, ParseError> {
        let email = raw.trim();
        let well_formed = !email.is_empty()
            && email.chars().count() <= Self::MAX
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            });
        if !well_formed {
            return Err(ParseError::Invalid);
        }
        Ok(EmailAddress(email.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A reason for an extraordinary cancellation: like a message, but up to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub const MAX: usize = 500;

    /// The characters a message refuses (control and bidi overrides) are refused here too.
    pub fn parse(raw: &str) -> Result<Option<Reason>, ParseError> {
        Ok(clean(raw, Self::MAX, true)?.map(Reason))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A declaration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    pub email: EmailAddress,
    pub name: Option<SupporterName>,
    pub kind: CancelKind,
    pub reason: Option<Reason>,
    pub when: CancelWhen,
}

/// Which field of the form was refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclarationError {
    Email,
    Name,
    Kind,
    Reason,
    When,
}

/// Every field at once, so the reader can fix them together. An extraordinary cancellation needs
/// its reason.
pub fn declaration(
    email: &str,
    name: &str,
    kind: Option<&str>,
    reason: &str,
    when: Option<&str>,
) -> Result<Declaration, Vec<DeclarationError>> {
    let mut errors = Vec::new();
    let email = EmailAddress::parse(email).map_err(|_| errors.push(DeclarationError::Email));
    let name = SupporterName::parse(name).map_err(|_| errors.push(DeclarationError::Name));
    let kind = match kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(CancelKind::Ordinary),
        Some(word) => CancelKind::parse(word).ok_or(()),
    }
    .map_err(|()| errors.push(DeclarationError::Kind));
    let reason = Reason::parse(reason).map_err(|_| errors.push(DeclarationError::Reason));
    if let (Ok(CancelKind::Extraordinary), Ok(None)) = (&kind, &reason) {
        errors.push(DeclarationError::Reason);
    }
    let when = match when.map(str::trim).filter(|w| !w.is_empty()) {
        None => Ok(CancelWhen::Now),
        Some(word) => CancelWhen::parse(word).ok_or_else(|| errors.push(DeclarationError::When)),
    };
    match (email, name, kind, reason, when) {
        (Ok(email), Ok(name), Ok(kind), Ok(reason), Ok(when)) if errors.is_empty() => Ok(Declaration {
            email,
            name,
            kind,
            reason,
            when,
        }),
        _ => Err(errors),
    }
}

/// When to try a declaration again after `tries` failed tries: 30 seconds, doubling to an
/// hour. A cancellation is never given up: the law wants it carried out.
pub fn next_cancel_attempt(tries: u32, now: i64) -> i64 {
    let delay = 30_i64.saturating_mul(1_i64 << tries.saturating_sub(1).min(20));
    now + delay.min(3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_needs_a_local_part_a_domain_with_a_dot_and_no_spaces() {
        assert_eq!(
            EmailAddress::parse("  Anna@Example.org ").unwrap().as_str(),
            "Anna@Example.org"
        );
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.org",
            "anna@example",
            "a b@example.org",
            "a@b@c.de",
            "a@.de",
            "a@b.",
            "a\u{0}@b.de",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert!(EmailAddress::parse(&format!("{}@b.de", "a".repeat(250))).is_err());
    }

    #[test]
    fn a_declaration_defaults_to_ordinary_and_now_and_an_extraordinary_one_needs_a_reason() {
        let d = declaration("a@b.de", "", None, "", None).unwrap();
        assert_eq!(
            (d.kind, d.when, d.name, d.reason),
            (CancelKind::Ordinary, CancelWhen::Now, None, None)
        );
        let later = declaration("a@b.de", "Anna", Some("ordinary"), "", Some("period_end")).unwrap();
        assert_eq!(later.when, CancelWhen::PeriodEnd);
        assert_eq!(
            declaration("a@b.de", "", Some("extraordinary"), "  ", None),
            Err(vec![DeclarationError::Reason])
        );
        let with_reason = declaration("a@b.de", "", Some("extraordinary"), "Umzug", None).unwrap();
        assert_eq!(with_reason.reason.map(|r| r.0), Some("Umzug".into()));
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let errors = declaration(
            "nope",
            &"x".repeat(61),
            Some("sometimes"),
            "\u{202e}",
            Some("later"),
        )
        .unwrap_err();
        assert_eq!(
            errors,
            vec![
                DeclarationError::Email,
                DeclarationError::Name,
                DeclarationError::Kind,
                DeclarationError::Reason,
                DeclarationError::When
            ]
        );
        assert!(declaration("a@b.de", "", None, &"x".repeat(501), None).is_err());
        assert!(declaration("a@b.de", "", None, &"x".repeat(500), None).is_ok());
    }

    #[test]
    fn retries_back_off_to_an_hour_and_never_give_up() {
        assert_eq!(next_cancel_attempt(1, 0), 30);
        assert_eq!(next_cancel_attempt(2, 0), 60);
        assert_eq!(next_cancel_attempt(10, 0), 3600);
        assert_eq!(next_cancel_attempt(u32::MAX, 100), 3700);
    }
}
