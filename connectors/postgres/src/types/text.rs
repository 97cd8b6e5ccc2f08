//! Postgres' text format (what pgoutput sends), decoded into [`PgValue`]. The replication
//! session sets `DateStyle=ISO`, `TimeZone=UTC`, `bytea_output=hex` and
//! `extra_float_digits=3`, so each type has one text form to read.

use bytes::Bytes;
use ferry_api::logical::Decimal;

use super::calendar::{parse_date, parse_time, parse_time_with_zone, parse_timestamp};
use super::{Kind, Numeric, PgValue, TypeError, parse_uuid};

/// Decodes one non-null value of `kind` from its text form.
pub(crate) fn decode(kind: &Kind, text: &str) -> Result<PgValue, TypeError> {
    let bad = || TypeError::new(format!("cannot read {kind:?} from \"{text}\""));
    Ok(match kind {
        Kind::Bool => match text {
            "t" | "true" => PgValue::Bool(true),
            "f" | "false" => PgValue::Bool(false),
            _ => return Err(bad()),
        },
        Kind::Int2 => PgValue::Int2(text.parse().map_err(|_| bad())?),
        Kind::Int4 => PgValue::Int4(text.parse().map_err(|_| bad())?),
        Kind::Int8 | Kind::Oid => PgValue::Int8(text.parse().map_err(|_| bad())?),
        Kind::Float4 => PgValue::Float4(parse_float(text).ok_or_else(bad)? as f32),
        Kind::Float8 => PgValue::Float8(parse_float(text).ok_or_else(bad)?),
        Kind::Numeric => PgValue::Numeric(match text {
            "NaN" => Numeric::NaN,
            "Infinity" => Numeric::Infinity,
            "-Infinity" => Numeric::NegativeInfinity,
            t => Numeric::Value(Decimal::parse(t).map_err(|_| bad())?),
        }),
        Kind::Text | Kind::Other => PgValue::Text(text.to_string()),
        Kind::Json | Kind::Jsonb => PgValue::Json(text.to_string()),
        Kind::Bytea => PgValue::Bytes(parse_bytea(text).ok_or_else(bad)?),
        Kind::Date => PgValue::Date(clamp_days(parse_date(text).ok_or_else(bad)?)),
        Kind::Time => PgValue::Time(parse_time(text).ok_or_else(bad)?),
        Kind::TimeTz => {
            let (micros, offset) = parse_time_with_zone(text).ok_or_else(bad)?;
            PgValue::TimeTz(micros, offset as i32)
        }
        Kind::Timestamp => PgValue::Timestamp(parse_timestamp(text).ok_or_else(bad)?),
        Kind::TimestampTz => PgValue::TimestampTz(parse_timestamp(text).ok_or_else(bad)?),
        Kind::Uuid => PgValue::Uuid(parse_uuid(text).ok_or_else(bad)?),
        Kind::Array(elem) => parse_array(elem, text)?,
    })
}

fn clamp_days(days: i64) -> i32 {
    days.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

/// `\x` followed by hex digits (`bytea_output=hex`).
fn parse_bytea(text: &str) -> Option<Bytes> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(hex.len() / 2);
    for pair in hex.chunks(2) {
        out.push(digit(pair[0])? * 16 + digit(pair[1])?);
    }
    Some(Bytes::from(out))
}

/// Parses an array literal: `{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`, optionally
/// preceded by bounds (`[0:1]={1,2}`).
fn parse_array(elem: &Kind, text: &str) -> Result<PgValue, TypeError> {
    let bad = || TypeError::new(format!("malformed array literal \"{text}\""));
    let body = match text.find("={") {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let mut parser = ArrayParser {
        s: body.as_bytes(),
        at: 0,
    };
    let value = parser.array(elem).ok_or_else(bad)??;
    if parser.at != parser.s.len() {
        return Err(bad());
    }
    Ok(value)
}

struct ArrayParser<'a> {
    s: &'a [u8],
    at: usize,
}

impl ArrayParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    /// `None` on a syntax error; `Some(Err)` when an element does not decode.
    fn array(&mut self, elem: &Kind) -> Option<Result<PgValue, TypeError>> {
        if self.peek()? != b'{' {
            return None;
        }
        self.at += 1;
        let mut items = Vec::new();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(Ok(PgValue::Array(items)));
        }
        loop {
            let item = match self.peek()? {
                b'{' => match self.array(elem)? {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                },
                b'"' => {
                    let text = self.quoted()?;
                    match decode(elem, &text) {
                        Ok(v) => v,
                        Err(e) => return Some(Err(e)),
                    }
                }
                _ => {
                    let start = self.at;
                    while !matches!(self.peek()?, b',' | b'}') {
                        self.at += 1;
                    }
                    let raw = std::str::from_utf8(&self.s[start..self.at]).ok()?.trim();
                    if raw.eq_ignore_ascii_case("NULL") {
                        PgValue::Null
                    } else {
                        match decode(elem, raw) {
                            Ok(v) => v,
                            Err(e) => return Some(Err(e)),
                        }
                    }
                }
            };
            items.push(item);
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(Ok(PgValue::Array(items)));
                }
                _ => return None,
            }
        }
    }

    fn quoted(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    out.push(*self.s.get(self.at + 1)?);
                    self.at += 2;
                }
                c => {
                    out.push(c);
                    self.at += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::calendar::{PG_EPOCH_DAYS, PG_EPOCH_MICROS};

    #[test]
    fn scalars_in_iso_style() {
        assert_eq!(decode(&Kind::Bool, "t").unwrap(), PgValue::Bool(true));
        assert_eq!(
            decode(&Kind::Date, "2000-01-01").unwrap(),
            PgValue::Date(PG_EPOCH_DAYS)
        );
        assert_eq!(
            decode(&Kind::TimestampTz, "2000-01-01 00:00:00.000001+00").unwrap(),
            PgValue::TimestampTz(PG_EPOCH_MICROS + 1)
        );
        assert_eq!(
            decode(&Kind::Bytea, "\\x00ff").unwrap(),
            PgValue::Bytes(Bytes::from_static(&[0, 255]))
        );
        assert_eq!(
            decode(&Kind::Numeric, "NaN").unwrap(),
            PgValue::Numeric(Numeric::NaN)
        );
        assert!(decode(&Kind::Int4, "x").is_err());
    }

    #[test]
    fn array_literals() {
        let text = Kind::Array(Box::new(Kind::Text));
        assert_eq!(
            decode(&text, r#"{a,"b c","d\"e",NULL,"NULL"}"#).unwrap(),
            PgValue::Array(vec![
                PgValue::Text("a".into()),
                PgValue::Text("b c".into()),
                PgValue::Text("d\"e".into()),
                PgValue::Null,
                PgValue::Text("NULL".into()),
            ])
        );
        let ints = Kind::Array(Box::new(Kind::Int4));
        assert_eq!(
            decode(&ints, "{{1,2},{3,4}}").unwrap(),
            PgValue::Array(vec![
                PgValue::Array(vec![PgValue::Int4(1), PgValue::Int4(2)]),
                PgValue::Array(vec![PgValue::Int4(3), PgValue::Int4(4)]),
            ])
        );
        assert_eq!(
            decode(&ints, "[0:1]={5,6}").unwrap(),
            decode(&ints, "{5,6}").unwrap()
        );
        assert_eq!(decode(&ints, "{}").unwrap(), PgValue::Array(vec![]));
        assert!(decode(&ints, "{1,2").is_err());
    }
}
