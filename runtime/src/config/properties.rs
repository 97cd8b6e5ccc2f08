//! Java `.properties` files, parsed as `java.util.Properties.load` does.
//!
//! - A logical line is `key=value`, `key: value` or `key value`: the key ends at the first
//!   unescaped `=`, `:` or whitespace; whitespace around the separator is skipped; the value
//!   runs to the end of the line, trailing whitespace included.
//! - Lines whose first non-whitespace character is `#` or `!` are comments; blank lines are
//!   skipped; leading whitespace (space, tab, form feed) is skipped.
//! - A line ending in an odd number of `\` continues on the next line, whose leading
//!   whitespace is skipped. A comment line never continues.
//! - Escapes: `\t \n \r \f`, `\uXXXX` (surrogate pairs combine), and `\` before any other
//!   character stands for that character (`\=`, `\:`, `\ `, `\\`, `\#`).
//! - A key given twice: the last one wins, as in Java (a warning is logged).
//!
//! Java reads `.properties` streams as ISO-8859-1; Ferry reads UTF-8 and falls back to
//! ISO-8859-1 for a file that is not valid UTF-8 (see [`decode`]), as Java's
//! `PropertyResourceBundle` does.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use super::ConfigMap;
use super::error::{ConfigError, ConfigErrorKind, Location};

/// Decodes the bytes of a `.properties` file: UTF-8 if valid, else ISO-8859-1 (each byte is
/// the code point of the same value).
pub(super) fn decode(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// Parses the text of a `.properties` file.
pub(super) fn parse(text: &str, origin: &str) -> Result<ConfigMap, ConfigError> {
    let mut map = ConfigMap::new();
    let mut first_line = BTreeMap::<String, usize>::new();
    for line in logical_lines(text) {
        let (key, value) = split(&line).map_err(|(message, location)| {
            ConfigError::new(Some(origin), ConfigErrorKind::Syntax(message)).at(Some(location))
        })?;
        let line_number = line.chars.first().map_or(0, |c| c.1.line);
        match first_line.entry(key.clone()) {
            Entry::Vacant(entry) => {
                entry.insert(line_number);
            }
            Entry::Occupied(entry) => {
                tracing::warn!(
                    origin,
                    key = key.as_str(),
                    first_line = *entry.get(),
                    line = line_number,
                    "config key is given twice; the last value wins"
                );
            }
        }
        map.insert(key, value);
    }
    Ok(map)
}

/// A logical line: its characters, escapes still in, each with where it was in the text.
#[derive(Debug)]
struct LogicalLine {
    chars: Vec<(char, Location)>,
}

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{c}')
}

/// Splits the text into logical lines, dropping comments and blank lines and joining
/// continuations (`java.util.Properties.LineReader`).
fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut lines = Vec::new();
    let mut current: Vec<(char, Location)> = Vec::new();
    // True while `current` continues onto the next natural line.
    let mut continuing = false;
    for (index, natural) in natural_lines(text).enumerate() {
        let line = index + 1;
        let mut chars = natural
            .chars()
            .enumerate()
            .map(|(i, c)| {
                (
                    c,
                    Location {
                        line,
                        column: i + 1,
                    },
                )
            })
            .skip_while(|(c, _)| is_blank(*c))
            .peekable();
        if !continuing {
            match chars.peek() {
                // Blank line, or comment line (which never continues).
                None | Some(('#' | '!', _)) => continue,
                Some(_) => {}
            }
        }
        current.extend(chars);
        // An odd number of trailing backslashes continues the line.
        let trailing = current.iter().rev().take_while(|(c, _)| *c == '\\').count();
        if trailing % 2 == 1 {
            current.pop();
            continuing = true;
        } else {
            continuing = false;
            // A line that was only a continuation (`\` then a blank line) is skipped, as in Java.
            if !current.is_empty() {
                lines.push(LogicalLine {
                    chars: std::mem::take(&mut current),
                });
            }
        }
    }
    // A continuation at the end of the text ends the line there.
    if !current.is_empty() {
        lines.push(LogicalLine { chars: current });
    }
    lines
}

/// Natural lines, ended by `\n`, `\r` or `\r\n`.
fn natural_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.find(['\n', '\r']) {
            Some(end) => {
                let line = &rest[..end];
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Splits a logical line into its key and value, unescaped (`Properties.load0`).
fn split(line: &LogicalLine) -> Result<(String, String), (String, Location)> {
    let chars = &line.chars;
    let mut key_end = chars.len();
    let mut value_start = chars.len();
    let mut has_separator = false;
    let mut escaped = false;
    for (i, &(c, _)) in chars.iter().enumerate() {
        if !escaped && (c == '=' || c == ':') {
            key_end = i;
            value_start = i + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_blank(c) {
            key_end = i;
            value_start = i + 1;
            break;
        }
        escaped = c == '\\' && !escaped;
    }
    while let Some(&(c, _)) = chars.get(value_start) {
        if !is_blank(c) {
            if !has_separator && (c == '=' || c == ':') {
                has_separator = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    let key = unescape(&chars[..key_end])?;
    let value = unescape(&chars[value_start.min(chars.len())..])?;
    Ok((key, value))
}

/// Resolves escapes (`Properties.loadConvert`).
fn unescape(chars: &[(char, Location)]) -> Result<String, (String, Location)> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let (c, at) = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&(escaped, _)) = chars.get(i) else {
            // A lone backslash at the very end stands for nothing.
            break;
        };
        i += 1;
        match escaped {
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\u{c}'),
            'u' => {
                let unit = hex4(chars, i).ok_or_else(|| malformed(at))?;
                i += 4;
                if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate: must be followed by `\u` and a low surrogate.
                    let low = match (chars.get(i), chars.get(i + 1)) {
                        (Some(('\\', _)), Some(('u', _))) => hex4(chars, i + 2),
                        _ => None,
                    };
                    let Some(low) = low.filter(|low| (0xDC00..0xE000).contains(low)) else {
                        return Err((
                            "\\u escape: a high surrogate must be followed by a low surrogate"
                                .to_owned(),
                            at,
                        ));
                    };
                    i += 6;
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    out.push(char::from_u32(code).ok_or_else(|| malformed(at))?);
                } else {
                    out.push(char::from_u32(unit).ok_or_else(|| {
                        (
                            "\\u escape: a low surrogate without a high surrogate".to_owned(),
                            at,
                        )
                    })?);
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn hex4(chars: &[(char, Location)], from: usize) -> Option<u32> {
    let digits = chars.get(from..from + 4)?;
    digits
        .iter()
        .try_fold(0, |acc, &(c, _)| Some(acc * 16 + c.to_digit(16)?))
}

fn malformed(at: Location) -> (String, Location) {
    (
        "malformed \\uXXXX escape (expected four hex digits)".to_owned(),
        at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDALONE: &str = include_str!("testdata/connect-standalone.properties");
    const FILE_SOURCE: &str = include_str!("testdata/connect-file-source.properties");
    const FILE_SINK: &str = include_str!("testdata/connect-file-sink.properties");

    fn parse_ok(text: &str) -> ConfigMap {
        match parse(text, "test.properties") {
            Ok(map) => map,
            Err(e) => panic!("{e}"),
        }
    }

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn kafka_quickstart_connect_standalone() {
        assert_eq!(
            parse_ok(STANDALONE),
            map(&[
                ("bootstrap.servers", "localhost:9092"),
                (
                    "key.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                ("key.converter.schemas.enable", "true"),
                ("offset.flush.interval.ms", "10000"),
                ("offset.storage.file.filename", "/tmp/connect.offsets"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.json.JsonConverter"
                ),
                ("value.converter.schemas.enable", "true"),
            ])
        );
    }

    #[test]
    fn kafka_quickstart_file_source_and_sink() {
        assert_eq!(
            parse_ok(FILE_SOURCE),
            map(&[
                ("connector.class", "FileStreamSource"),
                ("file", "test.txt"),
                ("name", "local-file-source"),
                ("tasks.max", "1"),
                ("topic", "connect-test"),
            ])
        );
        assert_eq!(
            parse_ok(FILE_SINK),
            map(&[
                ("connector.class", "FileStreamSink"),
                ("file", "test.sink.txt"),
                ("name", "local-file-sink"),
                ("tasks.max", "1"),
                ("topics", "connect-test"),
            ])
        );
    }

    #[test]
    fn three_separators() {
        let text = "a=1\nb: 2\nc 3\nd\t=\t4\ne :5\nf  = = 6\ng\nh=\n";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
                ("e", "5"),
                // Only the first separator after the key is skipped.
                ("f", "= 6"),
                ("g", ""),
                ("h", ""),
            ])
        );
    }

    #[test]
    fn value_keeps_trailing_whitespace_and_inner_separators() {
        assert_eq!(
            parse_ok("url=jdbc:postgresql://h:5432/db?a=b  \n"),
            map(&[("url", "jdbc:postgresql://h:5432/db?a=b  ")])
        );
    }

    #[test]
    fn comments_blank_lines_and_leading_whitespace() {
        let text = "# comment\n! bang comment\n\n   \n  \t# indented comment\n   key = v # not a comment\n";
        assert_eq!(parse_ok(text), map(&[("key", "v # not a comment")]));
    }

    #[test]
    fn continuations() {
        let text = "fruits = apple, banana, \\\n         pear, \\\n    cherry\nnext=1\n";
        assert_eq!(
            parse_ok(text),
            map(&[("fruits", "apple, banana, pear, cherry"), ("next", "1")])
        );
        // An even number of backslashes is an escaped backslash, not a continuation.
        assert_eq!(parse_ok("a=x\\\\\nb=y\n"), map(&[("a", "x\\"), ("b", "y")]));
        // A continuation line starting with `#` is not a comment.
        assert_eq!(parse_ok("a=x\\\n  #y\n"), map(&[("a", "x#y")]));
        // A comment never continues.
        assert_eq!(parse_ok("# c \\\na=1\n"), map(&[("a", "1")]));
        // A blank line after a continuation ends the value.
        assert_eq!(parse_ok("a=x\\\n\nb=1\n"), map(&[("a", "x"), ("b", "1")]));
        // A continuation at the end of the text.
        assert_eq!(parse_ok("a=x\\"), map(&[("a", "x")]));
        // A line that is only a continuation is nothing.
        assert_eq!(parse_ok("\\\n\na=1\n"), map(&[("a", "1")]));
        // The key itself may continue.
        assert_eq!(parse_ok("ke\\\n  y=v\n"), map(&[("key", "v")]));
    }

    #[test]
    fn line_endings() {
        assert_eq!(
            parse_ok("a=1\r\nb=2\rc=3\nd=x\\\r\n  y"),
            map(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "xy")])
        );
    }

    #[test]
    fn escapes() {
        let text = "tab=a\\tb\nnl=a\\nb\ncr=\\r\nff=\\f\nbs=C:\\\\dir\nu=caf\\u00e9\nemoji=\\uD83D\\uDE00\nother=\\q\\#\n";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("bs", "C:\\dir"),
                ("cr", "\r"),
                ("emoji", "\u{1F600}"),
                ("ff", "\u{c}"),
                ("nl", "a\nb"),
                ("other", "q#"),
                ("tab", "a\tb"),
                ("u", "café"),
            ])
        );
    }

    #[test]
    fn escaped_separators_in_keys() {
        let text = "a\\=b=1\nc\\:d:2\ne\\ f 3\n\\#notcomment=4\n";
        assert_eq!(
            parse_ok(text),
            map(&[
                ("#notcomment", "4"),
                ("a=b", "1"),
                ("c:d", "2"),
                ("e f", "3")
            ])
        );
    }

    #[test]
    fn malformed_unicode_escape_is_an_error_with_position() {
        let e = parse("ok=1\nbad=ab\\u12G4\n", "x.properties").unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.properties:2:7: malformed \\uXXXX escape (expected four hex digits)"
        );
        let e = parse("bad=\\u12", "x.properties").unwrap_err();
        assert_eq!(e.location(), Some(Location { line: 1, column: 5 }));
        let e = parse("bad=\\uD83D!", "x.properties").unwrap_err();
        assert!(e.to_string().contains("high surrogate"), "{e}");
        let e = parse("bad=\\uDE00", "x.properties").unwrap_err();
        assert!(e.to_string().contains("low surrogate"), "{e}");
    }

    #[test]
    fn last_value_wins() {
        assert_eq!(parse_ok("a=1\na=2\n"), map(&[("a", "2")]));
    }

    #[test]
    fn unicode_text_and_latin1_fallback() {
        assert_eq!(parse_ok("name=café\n"), map(&[("name", "café")]));
        assert_eq!(decode(b"name=caf\xe9\n".to_vec()), "name=café\n");
        assert_eq!(decode("name=café".as_bytes().to_vec()), "name=café");
    }
}
