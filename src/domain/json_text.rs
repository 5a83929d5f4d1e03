//! JSON text rewritten in one pass over its bytes, without building a tree: the whitespace
//! between tokens left out, and the values of chosen keys replaced by `null`. What redacting a
//! parsed `serde_json::Value` and printing it again gives, at the cost of one copy of the text.

use std::ops::Range;

/// How deep objects and arrays may nest (as `serde_json`'s own limit).
const MAX_DEPTH: usize = 128;

/// `text` without whitespace between tokens, and with the value of every object member whose key
/// `drop` names, at any depth, replaced by `null`. `None` if `text` is not one JSON value.
pub fn compact_without(text: &str, drop: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut scan = Scan {
        text,
        at: 0,
        written: 0,
        out: String::with_capacity(text.len()),
        drop,
        depth: 0,
        quiet: 0,
    };
    scan.space();
    scan.value()?;
    scan.space();
    if scan.at != text.len() {
        return None;
    }
    scan.out.push_str(&text[scan.written..]);
    Some(scan.out)
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
    /// Everything before this was copied to `out`, or left out.
    written: usize,
    out: String,
    drop: &'a dyn Fn(&str) -> bool,
    depth: usize,
    /// Inside a value that is left out whole: nothing in it is left out on its own.
    quiet: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Leaves `from..to` out, writing `instead` in its place.
    fn omit(&mut self, from: usize, to: usize, instead: &str) {
        if self.quiet == 0 {
            self.out.push_str(&self.text[self.written..from]);
            self.out.push_str(instead);
            self.written = to;
        }
    }

    fn space(&mut self) {
        let from = self.at;
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
        if self.at > from {
            self.omit(from, self.at, "");
        }
    }

    fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => self.nested(b'}', Self::member),
            b'[' => self.nested(b']', Self::value),
            b'"' => self.string().map(drop),
            b't' => self.word("true"),
            b'f' => self.word("false"),
            b'n' => self.word("null"),
            _ => self.number(),
        }
    }

    /// An object or array: its items (`item`) separated by commas, up to `close`.
    fn nested(&mut self, close: u8, item: fn(&mut Self) -> Option<()>) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.space();
        if self.peek()? != close {
            loop {
                item(self)?;
                self.space();
                if self.peek()? == close {
                    break;
                }
                self.expect(b',')?;
                self.space();
            }
        }
        self.at += 1;
        self.depth -= 1;
        Some(())
    }

    /// `"key": value`, the value replaced by `null` if `drop` names the key.
    fn member(&mut self) -> Option<()> {
        let key = self.string()?;
        self.space();
        self.expect(b':')?;
        self.space();
        let start = self.at;
        if self.quiet > 0 || !self.dropped(key) {
            return self.value();
        }
        self.quiet += 1;
        let skipped = self.value();
        self.quiet -= 1;
        skipped?;
        self.omit(start, self.at, "null");
        Some(())
    }

    fn dropped(&self, key: Range<usize>) -> bool {
        let raw = &self.text[key.clone()];
        if !raw.contains('\\') {
            return (self.drop)(raw);
        }
        // A key spelt with escapes names the same key as its plain spelling.
        let quoted = &self.text[key.start - 1..key.end + 1];
        serde_json::from_str::<String>(quoted).is_ok_and(|k| (self.drop)(&k))
    }

    /// A string; the range of its contents (between the quotes).
    fn string(&mut self) -> Option<Range<usize>> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    self.at += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            let hex = self.text.as_bytes().get(self.at + 1..self.at + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 5;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        let end = self.at;
        self.at += 1;
        Some(start..end)
    }

    fn word(&mut self, word: &str) -> Option<()> {
        self.text[self.at..]
            .starts_with(word)
            .then(|| self.at += word.len())
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let from = self.at;
        self.digits();
        (self.at > from).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    fn secret(key: &str) -> bool {
        key == "email" || key == "shipping"
    }

    /// The reference: the same redaction on a parsed tree.
    fn nulled(value: &mut Value) {
        match value {
            Value::Object(map) => map.iter_mut().for_each(|(k, v)| match secret(k) {
                true => *v = Value::Null,
                false => nulled(v),
            }),
            Value::Array(items) => items.iter_mut().for_each(nulled),
            _ => {}
        }
    }

    #[test]
    fn whitespace_goes_and_named_values_become_null_at_any_depth() {
        let text = "{ \"id\" : \"a b\",\n \"email\": {\"x\": [1, 2]},\t\"list\": [ {\"shipping\" : \"Köln\"}, -1.5e+3 ] }";
        assert_eq!(
            compact_without(text, &secret).as_deref(),
            Some(r#"{"id":"a b","email":null,"list":[{"shipping":null},-1.5e+3]}"#)
        );
    }

    #[test]
    fn a_key_spelt_with_escapes_is_still_the_key() {
        let text = r#"{"\u0065mail":"a@b.c","say \"hi\"":"\\"}"#;
        assert_eq!(
            compact_without(text, &secret).as_deref(),
            Some(r#"{"\u0065mail":null,"say \"hi\"":"\\"}"#)
        );
    }

    #[test]
    fn malformed_text_is_refused() {
        for bad in [
            "",
            "{",
            "{\"a\" 1}",
            "[1,]",
            "{\"a\":tru}",
            "01",
            "1.",
            "\"\u{1}\"",
            "\"\\x\"",
            "{} {}",
            "{\"email\": [1,}",
        ] {
            assert_eq!(compact_without(bad, &secret), None, "{bad:?}");
        }
        assert_eq!(compact_without(&"[".repeat(200), &secret), None);
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[ -~äß€\"\\\\\n\t]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("email|shipping|id|a b|\"q\"|é", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_text_pass_gives_what_redacting_the_tree_gives(value in json(), pretty in any::<bool>()) {
            let text = match pretty {
                true => serde_json::to_string_pretty(&value),
                false => serde_json::to_string(&value),
            };
            let text = text.unwrap();
            let out = compact_without(&text, &secret).expect("valid JSON is accepted");
            // Read from the same text: serde_json does not round-trip every float exactly.
            let mut expected: Value = serde_json::from_str(&text).unwrap();
            nulled(&mut expected);
            prop_assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), expected);
        }

        #[test]
        fn leaving_out_whitespace_changes_nothing_serde_reads(text in "[ \n{}\\[\\]\":,a-f0-9.eE+\\-\\\\nul]{0,24}") {
            // No key `secret` names can be spelt from these characters: nothing is dropped.
            let theirs = serde_json::from_str::<Value>(&text).ok();
            match compact_without(&text, &secret) {
                Some(out) => prop_assert_eq!(serde_json::from_str::<Value>(&out).ok(), theirs),
                None => prop_assert!(theirs.is_none(), "{:?} refused", text),
            }
        }
    }
}
