//! Java's `String.valueOf` of a Connect value: what Kafka's `StringConverter` writes and
//! `FileStreamSink` prints for a record's value.

use std::io::Write as _;

use super::float::{write_double, write_float, write_long};
use crate::Value;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Appends Java's `String.valueOf(value)` for a Connect value as Kafka builds it: `null`,
/// `true`, `42`, `1.0E7` (Java's float text), `10.20` (`BigDecimal.toString`), `[a, b]`
/// (a `List`), `{k=v}` (a `Map`), `Struct{id=1,name=x}` (null fields left out), and logical
/// Date/Time/Timestamp as `java.util.Date.toString()` on a JVM in UTC
/// (`Thu Jan 01 00:00:00 UTC 1970`).
///
/// BYTES, for which Java prints an object id such as `[B@1b6d3586`, are written as standard
/// base64 instead: the text then says what the bytes were. A caller that writes a top-level
/// STRING or BYTES value as its own bytes does so before calling this.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(v) => write_long(out, i64::from(*v)),
        Value::Int16(v) => write_long(out, i64::from(*v)),
        Value::Int32(v) => write_long(out, i64::from(*v)),
        Value::Int64(v) => write_long(out, *v),
        Value::Float32(v) => write_float(out, *v),
        Value::Float64(v) => write_double(out, *v),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => write_base64(out, b),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(out, k);
                out.push(b'=');
                write_value(out, v);
            }
            out.push(b'}');
        }
        Value::Struct(s) => {
            out.extend_from_slice(b"Struct{");
            let mut first = true;
            for (field, v) in s.schema().fields().iter().zip(s.values()) {
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(field.name().as_bytes());
                out.push(b'=');
                write_value(out, v);
            }
            out.push(b'}');
        }
        Value::Decimal(d) => {
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{d}");
        }
        Value::Date(days) => write_date(out, i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(ms) => write_date(out, i64::from(*ms)),
        Value::Timestamp(ms) => write_date(out, *ms),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.reserve(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 0x3f) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

/// Year, month (1-12) and day of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Java's `java.util.Date.toString()` (`EEE MMM dd HH:mm:ss zzz yyyy`) for a JVM whose
/// default time zone is UTC. Dates before the 1582 Gregorian cut-over, which Java prints in
/// the Julian calendar, are printed proleptic Gregorian.
fn write_date(out: &mut Vec<u8>, millis: i64) {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let secs = millis.rem_euclid(MILLIS_PER_DAY) / 1000;
    let (year, month, day) = civil_from_days(days);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        year
    );
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::logical::Decimal;
    use crate::{Schema, SchemaBuilder, Struct};

    fn text(value: Value) -> String {
        let mut out = Vec::new();
        write_value(&mut out, &value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_print_like_java_string_value_of() {
        assert_eq!(text(Value::Null), "null");
        assert_eq!(text(Value::Boolean(true)), "true");
        assert_eq!(text(Value::Int8(-8)), "-8");
        assert_eq!(text(Value::Int64(i64::MIN)), "-9223372036854775808");
        assert_eq!(text(Value::Float64(1.0)), "1.0");
        assert_eq!(text(Value::Float64(1.0e7)), "1.0E7");
        assert_eq!(text(Value::Float64(f64::NAN)), "NaN");
        assert_eq!(text(Value::Float64(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(text(Value::Float32(0.1)), "0.1");
        assert_eq!(text("plain".into()), "plain");
        assert_eq!(
            text(Value::Decimal(Decimal::parse("10.20").unwrap())),
            "10.20"
        );
        assert_eq!(
            text(Value::Decimal(Decimal::parse("0.00000001").unwrap())),
            "1E-8"
        );
        assert_eq!(
            text(Value::Array(vec!["a".into(), Value::Null, Value::Int32(3)])),
            "[a, null, 3]"
        );
        assert_eq!(
            text(Value::Array(vec![Value::Int64(1), Value::Float64(2.0)])),
            "[1, 2.0]"
        );
        assert_eq!(
            text(Value::Map(vec![
                ("k".into(), "v".into()),
                ("n".into(), 1.into())
            ])),
            "{k=v, n=1}"
        );
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .build();
        let s = Struct::new(schema)
            .unwrap()
            .with("id", 1)
            .unwrap()
            .with("tags", Value::Array(vec!["a".into(), "b".into()]))
            .unwrap();
        assert_eq!(text(Value::Struct(s)), "Struct{id=1,tags=[a, b]}");
    }

    #[test]
    fn bytes_print_as_base64() {
        for (bytes, base64) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"\xde\xad\xbe\xef", "3q2+7w=="),
            (b"\xfb\xff", "+/8="),
            (b"test-string", "dGVzdC1zdHJpbmc="),
        ] {
            assert_eq!(text(Value::Bytes(Bytes::from_static(bytes))), base64);
        }
        assert_eq!(
            text(Value::Array(vec![Value::Bytes(Bytes::from_static(
                b"\0raw"
            ))])),
            "[AHJhdw==]"
        );
    }

    #[test]
    fn dates_print_like_java_util_date_in_utc() {
        assert_eq!(text(Value::Timestamp(0)), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(text(Value::Date(10_000)), "Mon May 19 00:00:00 UTC 1997");
        assert_eq!(
            text(Value::Time(14_400_000)),
            "Thu Jan 01 04:00:00 UTC 1970"
        );
        assert_eq!(
            text(Value::Timestamp(1_700_000_000_123)),
            "Tue Nov 14 22:13:20 UTC 2023"
        );
        assert_eq!(text(Value::Timestamp(-1)), "Wed Dec 31 23:59:59 UTC 1969");
        assert_eq!(text(Value::Date(11_016)), "Tue Feb 29 00:00:00 UTC 2000");
    }
}
