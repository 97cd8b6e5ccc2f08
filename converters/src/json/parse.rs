//! A small JSON reader that keeps what the converter needs and `serde_json` (without its
//! `arbitrary_precision` feature) throws away: the exact text of every number (so a NUMERIC
//! Decimal such as `1.23456789123456789` keeps all its digits, as in Kafka's
//! `JsonConverterTest.highPrecisionNumericDecimalToConnect`) and the position of every string
//! without escapes (so a `STRING` value can share the record's buffer instead of being copied).
//!
//! Accepted syntax is RFC 8259 plus what Kafka's `JsonDeserializer` enables on top of Jackson's
//! defaults: numbers with leading zeros (`0012`). Everything else Jackson rejects by default is
//! rejected too (comments, single quotes, `NaN` tokens, trailing commas, raw control characters
//! in strings). Unlike Jackson (`FAIL_ON_TRAILING_TOKENS` off), text after the root value is an
//! error rather than silently ignored.

use std::borrow::Cow;
use std::fmt;

/// Jackson's default maximum nesting depth (`StreamReadConstraints`).
pub(super) const MAX_DEPTH: usize = 1000;

/// A parsed JSON value borrowing from the input text.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json<'a> {
    Null,
    Bool(bool),
    /// The number's text, validated (`-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
    Number(&'a str),
    Str(JsonStr<'a>),
    Array(Vec<Json<'a>>),
    Object(Vec<Member<'a>>),
}

/// A string value. `text` borrows the input when the string has no escapes, so it can be
/// sliced out of the record's `Bytes` without a copy.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonStr<'a> {
    pub(super) text: Cow<'a, str>,
}

/// An object member; `span` is the byte range of the value's text in the input.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Member<'a> {
    pub(super) key: Cow<'a, str>,
    pub(super) value: Json<'a>,
    pub(super) span: (usize, usize),
}

impl<'a> Json<'a> {
    /// Jackson's node type name (`JsonNodeType`), used in error messages.
    pub(super) fn node_type(&self) -> &'static str {
        match self {
            Json::Null => "NULL",
            Json::Bool(_) => "BOOLEAN",
            Json::Number(_) => "NUMBER",
            Json::Str(_) => "STRING",
            Json::Array(_) => "ARRAY",
            Json::Object(_) => "OBJECT",
        }
    }

    /// The member `key` of an object (the last one if the key is repeated, as Jackson).
    pub(super) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members
                .iter()
                .rev()
                .find(|m| m.key == key)
                .map(|m| &m.value),
            _ => None,
        }
    }

    /// A short rendering of the value for error messages: strings quoted and cut at 40
    /// characters, numbers as written, containers by kind.
    pub(super) fn describe(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Number(n) => (*n).to_string(),
            Json::Str(s) => {
                let text: &str = &s.text;
                match text.char_indices().nth(40) {
                    Some((cut, _)) => format!("{:?}...", &text[..cut]),
                    None => format!("{text:?}"),
                }
            }
            Json::Array(_) => "an array".into(),
            Json::Object(_) => "an object".into(),
        }
    }
}

/// A syntax error and the byte offset where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ParseError {
    pub(super) message: Cow<'static, str>,
    pub(super) offset: usize,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

/// Parses one JSON document. Empty (or all-whitespace) input is `Ok(None)`, which Jackson
/// reads as a "missing" node.
pub(super) fn parse(input: &[u8]) -> Result<Option<Json<'_>>, ParseError> {
    let mut p = Parser::new(input)?;
    p.skip_ws();
    if p.pos == p.bytes.len() {
        return Ok(None);
    }
    let value = p.value()?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(Some(value))
}

/// A document read for the converter's envelope: when it is an object, the member named
/// `lazy` is only checked and located (its text is `span`), not built, so a schema found in
/// the cache costs no allocation.
#[derive(Debug)]
pub(super) enum Envelope<'a> {
    /// An object; the lazy member has `value: None`.
    Object(Vec<LazyMember<'a>>),
    /// Any other value.
    Value(Json<'a>),
}

/// A member of an [`Envelope::Object`].
#[derive(Debug)]
pub(super) struct LazyMember<'a> {
    pub(super) key: Cow<'a, str>,
    pub(super) value: Option<Json<'a>>,
    pub(super) span: (usize, usize),
}

/// Like [`parse`], leaving the top-level member `lazy` unbuilt.
pub(super) fn parse_envelope<'a>(
    input: &'a [u8],
    lazy: &str,
) -> Result<Option<Envelope<'a>>, ParseError> {
    let mut p = Parser::new(input)?;
    p.skip_ws();
    if p.pos == p.bytes.len() {
        return Ok(None);
    }
    let envelope = if p.peek() == Some(b'{') {
        Envelope::Object(p.lazy_object(lazy)?)
    } else {
        Envelope::Value(p.value()?)
    };
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(Some(envelope))
}

/// Parses one JSON value at the start of `input` (after optional whitespace) and returns it
/// with the offset just after it; what follows is left to the caller. String offsets are
/// relative to `input`.
pub(super) fn parse_prefix(input: &[u8]) -> Result<(Json<'_>, usize), ParseError> {
    let mut p = Parser::new(input)?;
    p.skip_ws();
    let value = p.value()?;
    Ok((value, p.pos))
}

/// Where the object or array starting at `input[start]` ends (the offset after its closing
/// bracket), found by counting brackets outside strings, without checking the syntax: the
/// cheap way to cut a schema out of an envelope to look it up by its text. `None` when
/// `input[start]` is no bracket or the brackets do not close. The caller parses the text
/// properly before trusting it.
pub(super) fn container_extent(input: &[u8], start: usize) -> Option<usize> {
    if !matches!(input.get(start), Some(b'{' | b'[')) {
        return None;
    }
    let mut depth = 0usize;
    let mut i = start;
    while i < input.len() {
        match input[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i += 1;
                while i < input.len() {
                    match input[i] {
                        b'"' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `input`, which must be UTF-8.
    fn new(input: &'a [u8]) -> Result<Parser<'a>, ParseError> {
        let text = std::str::from_utf8(input).map_err(|e| ParseError {
            message: "invalid UTF-8".into(),
            offset: e.valid_up_to(),
        })?;
        Ok(Parser {
            text,
            bytes: input,
            pos: 0,
            depth: 0,
        })
    }

    fn error(&self, message: impl Into<Cow<'static, str>>) -> ParseError {
        ParseError {
            message: message.into(),
            offset: self.pos,
        }
    }

    fn unexpected(&self) -> ParseError {
        match self.text[self.pos..].chars().next() {
            Some(c) => self.error(format!("unexpected character {c:?}")),
            None => self.error("unexpected end of input"),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.unexpected())
        }
    }

    fn value(&mut self) -> Result<Json<'a>, ParseError> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<Json<'a>, ParseError>,
    ) -> Result<Json<'a>, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("JSON nested deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn object(&mut self) -> Result<Json<'a>, ParseError> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name in double quotes"));
            }
            let key = self.string()?.text;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let start = self.pos;
            let value = self.value()?;
            members.push(Member {
                key,
                value,
                span: (start, self.pos),
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn lazy_object(&mut self, lazy: &str) -> Result<Vec<LazyMember<'a>>, ParseError> {
        self.pos += 1; // '{'
        self.depth += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a member name in double quotes"));
            }
            let key = self.string()?.text;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let start = self.pos;
            let value = if key == lazy {
                self.skip()?;
                None
            } else {
                Some(self.value()?)
            };
            members.push(LazyMember {
                key,
                value,
                span: (start, self.pos),
            });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(members);
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    /// Checks one value without building it.
    fn skip(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'{' | b'[') => {
                if self.depth >= MAX_DEPTH {
                    return Err(self.error(format!("JSON nested deeper than {MAX_DEPTH} levels")));
                }
                let close = if self.peek() == Some(b'{') {
                    b'}'
                } else {
                    b']'
                };
                let object = close == b'}';
                self.depth += 1;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(close) {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    if object {
                        if self.peek() != Some(b'"') {
                            return Err(self.error("expected a member name in double quotes"));
                        }
                        self.string()?;
                        self.skip_ws();
                        self.expect(b':')?;
                        self.skip_ws();
                    }
                    self.skip()?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {
                            self.pos += 1;
                            self.depth -= 1;
                            return Ok(());
                        }
                        _ => return Err(self.unexpected()),
                    }
                }
            }
            _ => self.value().map(drop),
        }
    }

    fn array(&mut self) -> Result<Json<'a>, ParseError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn string(&mut self) -> Result<JsonStr<'a>, ParseError> {
        self.pos += 1; // '"'
        let start = self.pos;
        // Fast path: no escapes, borrow the text.
        loop {
            match self.peek() {
                Some(b'"') => {
                    let text = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(JsonStr {
                        text: Cow::Borrowed(text),
                    });
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(self.error("unescaped control character in a string")),
                Some(_) => self.pos += 1,
                None => return Err(self.error("unterminated string")),
            }
        }
        let mut owned = String::with_capacity(self.pos - start + 16);
        owned.push_str(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            owned.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(JsonStr {
                        text: Cow::Owned(owned),
                    });
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            owned.push(c);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape in a string")),
                    };
                    self.pos += 1;
                    owned.push(c);
                }
                Some(_) => return Err(self.error("unescaped control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u16, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let v = u16::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    /// After `\u`. A surrogate pair gives one character; a lone surrogate (which a Java
    /// string may hold but a Rust one may not) becomes U+FFFD.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.bytes[self.pos..].starts_with(b"\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let c =
                    0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.pos = save;
        }
        Ok(char::from_u32(u32::from(first)).unwrap_or('\u{FFFD}'))
    }

    fn digits(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        if self.pos == start {
            Err(self.error("expected a digit"))
        } else {
            Ok(())
        }
    }

    fn number(&mut self) -> Result<Json<'a>, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        self.digits()?;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.digits()?;
        }
        Ok(Json::Number(&self.text[start..self.pos]))
    }
}

/// Whether number text is an integer (no fraction, no exponent), as Jackson's
/// `isIntegralNumber`.
pub(super) fn is_integral(number: &str) -> bool {
    !number.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Json<'_> {
        parse(text.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn parses_values_keeping_number_text() {
        let text = r#" { "a" : [1, -2.50, 1e-8, 0012], "b": {"c": null, "d": true}, "e": false } "#;
        let j = ok(text);
        let Json::Object(members) = &j else {
            panic!("{j:?}")
        };
        assert_eq!(members.len(), 3);
        assert_eq!(
            j.get("a"),
            Some(&Json::Array(vec![
                Json::Number("1"),
                Json::Number("-2.50"),
                Json::Number("1e-8"),
                Json::Number("0012"),
            ]))
        );
        assert_eq!(j.get("b").and_then(|b| b.get("c")), Some(&Json::Null));
        assert_eq!(j.get("e"), Some(&Json::Bool(false)));
        let (start, end) = members[1].span;
        assert_eq!(&text[start..end], r#"{"c": null, "d": true}"#);
        assert!(is_integral("-0012"));
        assert!(!is_integral("1e2"));
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let text = r#"["plain é", "a\"b\\c\/d\n\t\r\b\f\u00e9\ud83d\ude00\ud800x"]"#;
        let Json::Array(items) = ok(text) else {
            panic!()
        };
        let Json::Str(s) = &items[0] else { panic!() };
        assert!(matches!(s.text, Cow::Borrowed("plain é")));
        let Json::Str(s) = &items[1] else { panic!() };
        assert_eq!(s.text, "a\"b\\c/d\n\t\r\u{8}\u{c}é😀\u{FFFD}x");
    }

    #[test]
    fn rejects_what_jackson_rejects() {
        for bad in [
            "{",
            "[1,]",
            "{\"a\":1,}",
            "{'a':1}",
            "NaN",
            "[1 2]",
            "\"a\u{1}\"",
            "1.",
            ".5",
            "-",
            "tru",
            "\"\\x\"",
            "\"\\u12\"",
            "{\"a\" 1}",
            "[1] x",
            "// c\n1",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        let err = parse(b"[1,]").unwrap_err();
        assert_eq!(err.to_string(), "unexpected character ']' at byte 3");
        assert!(parse(b"\xff").is_err());
        assert_eq!(parse(b"  \n").unwrap(), None);
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(parse(deep.as_bytes()).is_err());
        let ok_deep = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok_deep.as_bytes()).is_ok());
    }

    #[test]
    fn envelopes_leave_the_lazy_member_unbuilt() {
        let text = br#" {"schema" : {"a":[1,{"b":"\u00e9"}],"c":null} , "payload":[1]} "#;
        let Some(Envelope::Object(m)) = parse_envelope(text, "schema").unwrap() else {
            panic!()
        };
        assert_eq!(m[0].key, "schema");
        assert_eq!(m[0].value, None);
        let (start, end) = m[0].span;
        let schema = parse(&text[start..end]).unwrap().unwrap();
        assert_eq!(schema.get("c"), Some(&Json::Null));
        assert_eq!(m[1].value, Some(Json::Array(vec![Json::Number("1")])));
        for bad in [
            &br#"{"schema":{"a":1,}, "payload":1}"#[..],
            br#"{"schema":[1 2], "payload":1}"#,
            br#"{"schema":{"a" 1}, "payload":1}"#,
            br#"{"schema":tru, "payload":1}"#,
            br#"{"schema":{}"#,
        ] {
            assert!(
                parse_envelope(bad, "schema").is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(
            parse_envelope(b"[1]", "schema").unwrap(),
            Some(Envelope::Value(Json::Array(_)))
        ));
        assert!(parse_envelope(b" ", "schema").unwrap().is_none());
        let deep = format!(
            "{{\"schema\":{}{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert!(parse_envelope(deep.as_bytes(), "schema").is_err());
    }

    #[test]
    fn repeated_keys_take_the_last_value() {
        assert_eq!(ok(r#"{"a":1,"a":2}"#).get("a"), Some(&Json::Number("2")));
    }
}
