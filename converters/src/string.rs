//! [`StringConverter`]: Kafka Connect's `org.apache.kafka.connect.storage.StringConverter`.
//!
//! `from_connect` ignores the schema and writes the value's Java `toString()` text as UTF-8;
//! `to_connect` always gives an optional STRING schema and the text (or null).

use bytes::Bytes;
use ferry_api::{
    ConfigDef, ConfigDefault, ConfigMap, ConfigType, ConfigValue, Converter, Importance, Result,
    Schema, Value,
};

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
        .with_validator(ferry_api::Validator::custom("UTF-8", check_encoding))
}

/// Kafka Connect's StringConverter.
///
/// Writing: a STRING value's bytes are shared, not copied; other values are written as Java's
/// `toString()` would print them ([`ferry_api::java_text::write_value`]: `true`, `42`,
/// `1.0E7`, `10.20`, `[a, b]`, `{k=v}`, `Struct{id=1,name=x}`, and logical
/// Date/Time/Timestamp as `java.util.Date.toString()` in UTC, e.g.
/// `Thu Jan 01 00:00:00 UTC 1970`). Two deliberate differences: a top-level BYTES value is
/// written as its raw bytes (Java would print an object id like `[B@1b6d3586`), and BYTES
/// nested in a container as base64. Null is Kafka's null.
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
                ferry_api::java_text::write_value(&mut out, other);
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

#[cfg(test)]
mod tests {
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
    fn values_are_written_as_java_prints_them() {
        // The text itself is ferry_api::java_text's (tested there); here what the converter
        // adds: top-level STRING and BYTES as their own bytes, null as Kafka's null.
        assert_eq!(text(Value::Float64(1.0e7)), "1.0E7");
        assert_eq!(
            text(Value::Array(vec!["a".into(), Value::Null, Value::Int32(3)])),
            "[a, null, 3]"
        );
        assert_eq!(text(Value::Timestamp(0)), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            text(Value::Bytes(Bytes::from_static(b"\x00raw"))),
            "\u{0}raw"
        );
        assert_eq!(
            text(Value::Array(vec![Value::Bytes(Bytes::from_static(
                b"\x00raw"
            ))])),
            "[AHJhdw==]"
        );
        assert_eq!(
            StringConverter::new()
                .from_connect("t", None, &Value::Null)
                .unwrap(),
            None
        );
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
