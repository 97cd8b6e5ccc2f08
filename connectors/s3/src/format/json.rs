//! JsonFormat: one JSON document per line, the value as Kafka's `JsonConverter` writes it
//! with `schemas.enable=false` (structs as objects, bytes and Decimals as base64 unless
//! `json.decimal.format=NUMERIC`, Date/Time/Timestamp as their integers, maps with string
//! keys as objects and other maps as arrays of `[key, value]` pairs).
//!
//! Numbers are written as Java writes them (`1.0`, `1.0E10`); NaN and infinities, which JSON
//! cannot hold, as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_api::{SinkRecord, Value};

use super::{FormatError, Output, RecordWriter};

pub(super) struct JsonWriter {
    decimal_numeric: bool,
    line: Vec<u8>,
}

impl JsonWriter {
    pub(super) fn new(decimal_numeric: bool) -> JsonWriter {
        JsonWriter {
            decimal_numeric,
            line: Vec::with_capacity(1024),
        }
    }
}

impl RecordWriter for JsonWriter {
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError> {
        self.line.clear();
        write_value(&mut self.line, &record.value, self.decimal_numeric);
        self.line.push(b'\n');
        out.write(&self.line);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Output) -> Result<(), FormatError> {
        Ok(())
    }
}

/// Appends `value` as JSON.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value, decimal_numeric: bool) {
    use std::io::Write as _;
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int16(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int32(v) | Value::Date(v) | Value::Time(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int64(v) | Value::Timestamp(v) => {
            let _ = write!(out, "{v}");
        }
        // An f32 is written with its own shortest digits (0.1, not 0.10000000149011612).
        Value::Float32(v) => java_float(out, *v, f64::from(*v)),
        Value::Float64(v) => java_float(out, *v, *v),
        Value::String(s) => write_str(out, s.as_str()),
        Value::Bytes(b) => {
            out.push(b'"');
            out.extend_from_slice(STANDARD.encode(b).as_bytes());
            out.push(b'"');
        }
        Value::Decimal(d) => {
            if decimal_numeric {
                let _ = write!(out, "{d}");
            } else {
                out.push(b'"');
                out.extend_from_slice(STANDARD.encode(d.unscaled_bytes()).as_bytes());
                out.push(b'"');
            }
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, decimal_numeric);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k.as_str().unwrap_or_default());
                    out.push(b':');
                    write_value(out, v, decimal_numeric);
                }
                out.push(b'}');
            } else {
                out.push(b'[');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.push(b'[');
                    write_value(out, k, decimal_numeric);
                    out.push(b',');
                    write_value(out, v, decimal_numeric);
                    out.push(b']');
                }
                out.push(b']');
            }
        }
        Value::Struct(s) => {
            out.push(b'{');
            for (i, (field, v)) in s.schema().fields().iter().zip(s.values()).enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, field.name());
                out.push(b':');
                write_value(out, v, decimal_numeric);
            }
            out.push(b'}');
        }
    }
}

/// Java's `Double.toString` layout over Rust's shortest digits: plain between 10^-3 and
/// 10^7 (always with a fraction digit), `d.dddEn` outside. `v` is `value` as f64.
fn java_float<F>(out: &mut Vec<u8>, value: F, v: f64)
where
    F: std::fmt::Display + std::fmt::LowerExp,
{
    use std::io::Write as _;
    if !v.is_finite() {
        let text = if v.is_nan() {
            "\"NaN\""
        } else if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        };
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let a = v.abs();
    let start = out.len();
    // Formatted straight into `out` (no String per number): writing into a Vec cannot fail.
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let _ = write!(out, "{value}");
        if !out[start..].contains(&b'.') {
            out.extend_from_slice(b".0");
        }
    } else {
        let _ = write!(out, "{value:e}");
        let e = out[start..]
            .iter()
            .position(|&b| b == b'e')
            .map_or(out.len(), |i| start + i);
        if !out[start..e].contains(&b'.') {
            out.splice(e..e, *b".0");
        }
        match out[start..].iter().position(|&b| b == b'e') {
            Some(i) => out[start + i] = b'E',
            None => out.extend_from_slice(b"E0"),
        }
    }
}

/// A JSON string: `"`, `\` and control characters escaped.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most strings need no escape: one check over the whole string (vectorised), one copy.
    if bytes.iter().all(|&b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            }
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::logical::Decimal;
    use ferry_api::{Schema, SchemaBuilder, Struct};

    fn json(v: &Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, v, false);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_as_json_converter_writes_them() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .field("score", Schema::float64())
            .build();
        let s = Struct::new(schema)
            .unwrap()
            .with("id", 1)
            .unwrap()
            .with("name", "a\"b\n\u{1}")
            .unwrap()
            .with("score", Value::Float64(2.0))
            .unwrap();
        assert_eq!(
            json(&Value::Struct(s)),
            r#"{"id":1,"name":"a\"b\n\u0001","score":2.0}"#
        );
        assert_eq!(json(&Value::Float64(1e10)), "1.0E10");
        assert_eq!(json(&Value::Float64(1.5e-5)), "1.5E-5");
        assert_eq!(json(&Value::Float32(0.1)), "0.1");
        assert_eq!(json(&Value::Float32(3e10)), "3.0E10");
        assert_eq!(json(&Value::Float64(-2.5e-7)), "-2.5E-7");
        assert_eq!(json(&Value::Float64(1.25e300)), "1.25E300");
        assert_eq!(json(&Value::Float64(-0.0)), "-0.0");
        assert_eq!(json(&Value::Float64(1234567.5)), "1234567.5");
        assert_eq!(json(&Value::Float64(f64::NEG_INFINITY)), "\"-Infinity\"");
        assert_eq!(json(&Value::from("plain text")), "\"plain text\"");
        assert_eq!(json(&Value::Float64(f64::NAN)), "\"NaN\"");
        assert_eq!(
            json(&Value::Bytes(bytes::Bytes::from_static(b"hi"))),
            "\"aGk=\""
        );
        assert_eq!(
            json(&Value::Map(vec![(Value::Int32(1), Value::from("x"))])),
            "[[1,\"x\"]]"
        );
        assert_eq!(
            json(&Value::Map(vec![(Value::from("k"), Value::Null)])),
            "{\"k\":null}"
        );
        let d = Value::Decimal(Decimal::parse("12.34").unwrap());
        assert_eq!(json(&d), "\"BNI=\"");
        let mut out = Vec::new();
        write_value(&mut out, &d, true);
        assert_eq!(out, b"12.34");
        assert_eq!(json(&Value::Timestamp(5)), "5");
    }
}
