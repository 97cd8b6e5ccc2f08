//! [`StringConverter`]: Kafka Connect's `org.apache.kafka.connect.storage.StringConverter`.
//!
//! `from_connect` ignores the schema and writes the value's Java `toString()` text as UTF-8;
//! `to_connect` always gives an optional STRING schema and the text (or null).

use bytes::Bytes;
use ferry_api::{
    ConfigDef, ConfigDefault, ConfigMap, ConfigType, ConfigValue, Converter, Importance, Result,
    Schema, Value,
};

use super::json::{write_java_double, write_java_float};

/// The character set of the text.
pub const ENCODING_CONFIG: &str = "converter.encoding";
/// Default of [`ENCODING_CONFIG`], and the only one Ferry supports.
pub const ENCODING_DEFAULT: &str = "UTF-8";

/// Java's names for UTF-8 (canonical name and aliases), compared ignoring case.
const UTF8_NAMES: &[&str] = &["UTF-8", "UTF8", "unicode-1-1-utf-8"];

fn check_encoding(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::String(name) if !UTF8_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name)) => {
            Err("UTF-8, the only encoding Ferry's StringConverter supports".into())
        }
        _ => Ok(()),
    }
}

/// The declaration of the StringConverter's config keys.
pub fn string_converter_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ENCODING_CONFIG,
            ConfigType::String,
            ConfigDefault::Value(ConfigValue::String(ENCODING_DEFAULT.into())),
            Importance::High,
            "The name of the Java character set to use for encoding strings as byte arrays.",
        )
        .with_validator(ferry_api::Validator::Custom(check_encoding))
}

/// Kafka Connect's StringConverter.
///
/// Writing: a STRING value's bytes are shared, not copied; other values are written as Java's
/// `toString()` would print them (`true`, `42`, `1.0E7`, `10.20`, `[a, b]`, `{k=v}`,
/// `Struct{id=1,name=x}`, and logical Date/Time/Timestamp as `java.util.Date.toString()` in
/// UTC, e.g. `Thu Jan 01 00:00:00 UTC 1970`). Two deliberate differences: a top-level BYTES
/// value is written as its raw bytes (Java would print an object id like `[B@1b6d3586`), and
/// BYTES nested in a container as base64. Null is Kafka's null.
///
/// Reading: valid UTF-8 becomes an optional STRING sharing the record's bytes. Bytes that
/// are not valid UTF-8 become an optional BYTES value holding them unchanged — Ferry's
/// deliberate difference from Java's `new String(bytes, UTF_8)`, which would replace them
/// with U+FFFD: a line of a binary file then travels from file to file intact.
#[derive(Debug, Clone)]
pub struct StringConverter {
    string_schema: Schema,
    bytes_schema: Schema,
}

impl Default for StringConverter {
    fn default() -> Self {
        Self::new()
    }
}

impl StringConverter {
    /// A converter (UTF-8).
    pub fn new() -> Self {
        StringConverter {
            string_schema: Schema::optional_string(),
            bytes_schema: Schema::optional_bytes(),
        }
    }
}

impl Converter for StringConverter {
    fn config_def(&self) -> ConfigDef {
        string_converter_config_def()
    }

    fn configure(&mut self, config: &ConfigMap, _is_key: bool) -> Result<()> {
        string_converter_config_def()
            .parse_for_use(config)
            .map(|_| ())
    }

    fn from_connect(
        &self,
        _topic: &str,
        _schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>> {
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().clone()),
            Value::Bytes(b) => Some(b.clone()),
            other => {
                let mut out = Vec::with_capacity(32);
                write_java_to_string(&mut out, other);
                Some(Bytes::from(out))
            }
        })
    }

    fn to_connect(&self, _topic: &str, data: Option<&Bytes>) -> Result<(Option<Schema>, Value)> {
        Ok(match data {
            None => (Some(self.string_schema.clone()), Value::Null),
            Some(bytes) => match ferry_api::ByteStr::from_utf8(bytes.clone()) {
                Ok(s) => (Some(self.string_schema.clone()), Value::String(s)),
                Err(bytes) => (Some(self.bytes_schema.clone()), Value::Bytes(bytes)),
            },
        })
    }
}

/// Appends Java's `String.valueOf(value)` for a Connect value.
fn write_java_to_string(out: &mut Vec<u8>, value: &Value) {
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
        Value::Int32(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float32(v) => write_java_float(out, *v),
        Value::Float64(v) => write_java_double(out, *v),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        Value::Bytes(b) => {
            use base64::Engine as _;
            let text = base64::engine::general_purpose::STANDARD.encode(b);
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_java_to_string(out, item);
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_java_to_string(out, k);
                out.push(b'=');
                write_java_to_string(out, v);
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
                write_java_to_string(out, v);
            }
            out.push(b'}');
        }
        Value::Decimal(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Date(days) => write_java_date(out, i64::from(*days) * MILLIS_PER_DAY),
        Value::Time(ms) => write_java_date(out, i64::from(*ms)),
        Value::Timestamp(ms) => write_java_date(out, *ms),
    }
}

const MILLIS_PER_DAY: i64 = 86_400_000;

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
fn write_java_date(out: &mut Vec<u8>, millis: i64) {
    use std::io::Write as _;
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = millis.div_euclid(MILLIS_PER_DAY);
    let secs = millis.rem_euclid(MILLIS_PER_DAY) / 1000;
    let (year, month, day) = civil_from_days(days);
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
    use ferry_api::logical::{self, Decimal};
    use ferry_api::{SchemaBuilder, Struct};

    use super::*;

    fn text(value: Value) -> String {
        let bytes = StringConverter::new()
            .from_connect("t", None, &value)
            .unwrap()
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn strings_are_shared_not_copied() {
        let source = Bytes::from_static(b"hello");
        let value = Value::String(ferry_api::ByteStr::from_utf8(source.clone()).unwrap());
        let out = StringConverter::new()
            .from_connect("t", Some(&Schema::string()), &value)
            .unwrap()
            .unwrap();
        assert_eq!(out.as_ptr(), source.as_ptr());
        let (schema, back) = StringConverter::new().to_connect("t", Some(&out)).unwrap();
        assert_eq!(schema, Some(Schema::optional_string()));
        assert_eq!(back.as_str(), Some("hello"));
        let Value::String(s) = back else { panic!() };
        assert_eq!(s.as_bytes().as_ptr(), source.as_ptr());
    }

    #[test]
    fn values_print_like_java_to_string() {
        assert_eq!(text(Value::Boolean(true)), "true");
        assert_eq!(text(Value::Int8(-8)), "-8");
        assert_eq!(text(Value::Int64(i64::MIN)), "-9223372036854775808");
        assert_eq!(text(Value::Float64(1.0)), "1.0");
        assert_eq!(text(Value::Float64(1.0e7)), "1.0E7");
        assert_eq!(text(Value::Float64(f64::NAN)), "NaN");
        assert_eq!(text(Value::Float32(0.1)), "0.1");
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
        assert_eq!(
            text(Value::Bytes(Bytes::from_static(b"\x00raw"))),
            "\u{0}raw"
        );
        assert_eq!(
            StringConverter::new()
                .from_connect("t", None, &Value::Null)
                .unwrap(),
            None
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
        let _ = logical::date_schema();
    }

    #[test]
    fn invalid_utf8_stays_bytes() {
        let raw = Bytes::from_static(b"a\xffb\xe2\x82");
        let (schema, v) = StringConverter::new().to_connect("t", Some(&raw)).unwrap();
        assert_eq!(
            (schema, v),
            (Some(Schema::optional_bytes()), Value::Bytes(raw.clone()))
        );
        // And it is written back unchanged.
        let out = StringConverter::new()
            .from_connect(
                "t",
                Some(&Schema::optional_bytes()),
                &Value::Bytes(raw.clone()),
            )
            .unwrap();
        assert_eq!(out, Some(raw));
        let (schema, v) = StringConverter::new().to_connect("t", None).unwrap();
        assert_eq!((schema, v), (Some(Schema::optional_string()), Value::Null));
    }

    #[test]
    fn only_utf8_is_accepted() {
        let mut c = StringConverter::new();
        let mut config = ConfigMap::new();
        c.configure(&config, false).unwrap();
        for ok in ["UTF-8", "utf8", "Utf-8"] {
            config.insert(ENCODING_CONFIG.into(), ok.into());
            c.configure(&config, true).unwrap();
        }
        config.insert(ENCODING_CONFIG.into(), "ISO-8859-1".into());
        let err = c.configure(&config, false).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid config: key \"converter.encoding\": value \"ISO-8859-1\": expected UTF-8, \
             the only encoding Ferry's StringConverter supports"
        );
    }
}
