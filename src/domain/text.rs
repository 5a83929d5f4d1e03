//! The free text a donor types: a name and a message, both optional and both length-limited.

use super::ParseError;

/// Characters refused in names and messages, rather than silently stripped, so the donor sees
/// why: control characters (but the newline), characters that can reorder or hide text (bidi
/// overrides and marks, BOM), and U+FFFE and U+FFFF, which XML 1.0 forbids (one of them would
/// make the Atom feed invalid for every reader). Rust strings hold no unpaired surrogates.
fn is_forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            // Bidi overrides, isolates and marks (U+061C is Arabic's), and the BOM.
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{FEFF}'
            // Invisible or line-breaking: zero-width space, word joiner and friends, the line
            // and paragraph separators, and fillers that render as nothing (a blank "name").
            | '\u{200B}' | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2064}' | '\u{206A}'..='\u{206F}'
            | '\u{180E}' | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}'
            // XML 1.0 forbids these: one would make the Atom feed invalid for every reader.
            | '\u{FFFE}' | '\u{FFFF}'
        )
}

pub(super) fn clean(raw: &str, max: usize, allow_newlines: bool) -> Result<Option<String>, ParseError> {
    let normalised = raw.replace("\r\n", "\n");
    let trimmed = normalised.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if trimmed.chars().count() > max {
        return Err(ParseError::TooLong { max });
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| is_forbidden(*c) || (!allow_newlines && *c == '\n'))
    {
        return Err(ParseError::ForbiddenCharacter(c));
    }
    Ok(Some(trimmed.to_owned()))
}

/// The name a donor wants shown: 1 to 60 characters, single line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupporterName(String);

impl SupporterName {
    pub const MAX: usize = 60;

    /// `Ok(None)` for blank input: the name is optional.
    pub fn parse(raw: &str) -> Result<Option<Self>, ParseError> {
        Ok(clean(raw, Self::MAX, false)?.map(SupporterName))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A short message to the blogger: up to 280 characters, line breaks allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(String);

impl Message {
    pub const MAX: usize = 280;

    pub fn parse(raw: &str) -> Result<Option<Self>, ParseError> {
        Ok(clean(raw, Self::MAX, true)?.map(Message))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the donor agreed to show. Anonymous is the default; public needs an explicit tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Anonymous,
}

super::word_enum!(Visibility { Public => "public", Anonymous => "anonymous" });

impl Visibility {
    pub fn is_public(self) -> bool {
        self == Visibility::Public
    }

    /// The checkbox value: only an explicit "on"/"true" (HTML forms, JSON) counts as consent.
    pub fn from_checkbox(raw: Option<&str>) -> Result<Self, ParseError> {
        match raw.map(str::trim) {
            None | Some("") | Some("false") | Some("off") | Some("0") => Ok(Visibility::Anonymous),
            Some("on") | Some("true") | Some("1") => Ok(Visibility::Public),
            Some(_) => Err(ParseError::Invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn blank_is_none_and_text_is_trimmed() {
        assert_eq!(SupporterName::parse("   ").unwrap(), None);
        assert_eq!(SupporterName::parse(" Anna ").unwrap().unwrap().as_str(), "Anna");
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(SupporterName::parse(&"ä".repeat(60)).unwrap().is_some());
        assert_eq!(
            SupporterName::parse(&"a".repeat(61)),
            Err(ParseError::TooLong { max: 60 })
        );
        assert!(Message::parse(&"☕".repeat(280)).unwrap().is_some());
        assert!(Message::parse(&"x".repeat(281)).is_err());
    }

    #[test]
    fn characters_xml_forbids_are_refused_and_named() {
        for c in ['\u{FFFF}', '\u{FFFE}', '\u{0}', '\u{8}', '\u{1F}', '\t', '\r'] {
            assert_eq!(
                SupporterName::parse(&format!("An{c}na")),
                Err(ParseError::ForbiddenCharacter(c)),
                "{:?}",
                c
            );
            assert!(Message::parse(&format!("Hal{c}lo")).is_err());
        }
        assert_eq!(
            ParseError::ForbiddenCharacter('\u{FFFF}').to_string(),
            "contains a character that is not allowed (U+FFFF)"
        );
        assert!(
            SupporterName::parse("\u{1FFFE}\u{FFFD}").is_ok(),
            "XML allows these"
        );
    }

    #[test]
    fn invisible_and_line_breaking_characters_are_refused_but_emoji_joiners_are_fine() {
        for c in [
            '\u{200B}', '\u{2028}', '\u{2029}', '\u{2060}', '\u{061C}', '\u{3164}', '\u{115F}',
        ] {
            assert!(SupporterName::parse(&format!("An{c}na")).is_err(), "{:?}", c);
        }
        assert!(SupporterName::parse("Familie 👨\u{200D}👩\u{200D}👧 ❤\u{FE0F}").is_ok());
        assert!(
            Message::parse("مرحبا\u{200C}بك").is_ok(),
            "ZWNJ is ordinary in Persian and Arabic"
        );
    }

    #[test]
    fn bidi_overrides_and_newlines_in_names_are_refused() {
        assert!(SupporterName::parse("evil\u{202E}gnp.exe").is_err());
        assert!(SupporterName::parse("two\nlines").is_err());
        assert!(Message::parse("two\nlines").unwrap().is_some());
    }

    #[test]
    fn only_an_explicit_tick_makes_an_entry_public() {
        assert_eq!(Visibility::from_checkbox(None).unwrap(), Visibility::Anonymous);
        assert_eq!(Visibility::from_checkbox(Some("on")).unwrap(), Visibility::Public);
        assert_eq!(
            Visibility::from_checkbox(Some("true")).unwrap(),
            Visibility::Public
        );
        assert!(Visibility::from_checkbox(Some("yes please")).is_err());
    }

    proptest! {
        #[test]
        fn a_name_is_accepted_exactly_when_it_is_short_and_clean(raw in "\\PC{0,80}") {
            let t = raw.trim();
            let expect_ok = t.chars().count() <= 60 && !t.chars().any(|c| is_forbidden(c) || c == '\n');
            prop_assert_eq!(SupporterName::parse(&raw).is_ok(), expect_ok);
        }

        #[test]
        fn a_message_is_accepted_exactly_when_it_is_short_and_clean(raw in "(\\PC|\n){0,320}") {
            let t = raw.trim();
            let expect_ok = t.chars().count() <= Message::MAX && !t.chars().any(is_forbidden);
            prop_assert_eq!(Message::parse(&raw).is_ok(), expect_ok);
            if let Ok(Some(m)) = Message::parse(&raw) {
                prop_assert!(m.as_str().chars().count() <= Message::MAX);
                prop_assert_eq!(m.as_str(), t);
            }
        }

        #[test]
        fn any_text_never_panics_and_never_passes_a_bidi_override(raw in any::<String>()) {
            for parsed in [SupporterName::parse(&raw).map(|n| n.map(|n| n.as_str().to_owned())),
                           Message::parse(&raw).map(|m| m.map(|m| m.as_str().to_owned()))] {
                if let Ok(Some(text)) = parsed {
                    prop_assert!(!text.chars().any(is_forbidden));
                }
            }
        }

        #[test]
        fn the_checkbox_is_public_only_for_on_true_or_1(raw in "[a-z0-9 ]{0,6}") {
            let v = Visibility::from_checkbox(Some(&raw));
            let public = matches!(raw.trim(), "on" | "true" | "1");
            let anonymous = matches!(raw.trim(), "" | "off" | "false" | "0");
            prop_assert_eq!(v.is_ok(), public || anonymous);
            prop_assert_eq!(v == Ok(Visibility::Public), public);
        }
    }
}
