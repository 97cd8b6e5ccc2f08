//! Connect values as JSON text, for `json`/`jsonb`/`text` columns that receive maps, arrays
//! or structs.

use std::fmt::Write;

use ferry_api::Value;

/// The JSON text of a value: decimals as numbers, logical dates and times as their numbers,
/// bytes as a string of their (lossily decoded) UTF-8 text.
pub(crate) fn to_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            let _ = write!(out, "{}", value.as_i64().unwrap_or_default());
        }
        Value::Float32(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        Value::Float64(f) if f.is_finite() => {
            let _ = write!(out, "{f}");
        }
        Value::Float32(_) | Value::Float64(_) => out.push_str("null"),
        Value::Decimal(d) => out.push_str(&d.to_plain_string()),
        Value::Date(v) | Value::Time(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Timestamp(v) => {
            let _ = write!(out, "{v}");
        }
        Value::String(s) => write_string(out, s.as_str()),
        Value::Bytes(b) => write_string(out, &String::from_utf8_lossy(b)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match k {
                    Value::String(s) => write_string(out, s.as_str()),
                    other => write_string(out, &to_json(other)),
                }
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
        Value::Struct(s) => {
            out.push('{');
            for (i, (field, v)) in s.schema().fields().iter().zip(s.values()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, field.name());
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_json() {
        let v = Value::Map(vec![
            (
                Value::from("a\"b"),
                Value::Array(vec![Value::Int32(1), Value::Null]),
            ),
            (Value::from("c"), Value::Boolean(true)),
        ]);
        assert_eq!(to_json(&v), r#"{"a\"b":[1,null],"c":true}"#);
    }
}
