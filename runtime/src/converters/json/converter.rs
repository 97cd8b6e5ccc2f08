//! [`JsonConverter`]: Kafka Connect's `org.apache.kafka.connect.json.JsonConverter`.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use ferry_api::{
    ConfigDef, ConfigDefault, ConfigMap, ConfigType, ConfigValue, ConnectError, Converter,
    Importance, Result, Schema, Validator, Value,
};

use super::parse::{Envelope, ParseError, parse, parse_envelope};
use super::path::Path;
use super::read::{ReadOptions, read_schema, read_schemaless, read_value};
use super::write::{WriteOptions, estimate_schema, estimate_value, write_schema, write_value};

/// Include the schema with every value (the `{"schema":...,"payload":...}` envelope).
pub const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
/// Default of [`SCHEMAS_ENABLE_CONFIG`].
pub const SCHEMAS_ENABLE_DEFAULT: bool = true;
/// How many schemas a converter keeps parsed.
pub const SCHEMAS_CACHE_SIZE_CONFIG: &str = "schemas.cache.size";
/// Default of [`SCHEMAS_CACHE_SIZE_CONFIG`].
pub const SCHEMAS_CACHE_SIZE_DEFAULT: i32 = 1000;
/// `BASE64` or `NUMERIC` (any case): how Decimals are written.
pub const DECIMAL_FORMAT_CONFIG: &str = "decimal.format";
/// Default of [`DECIMAL_FORMAT_CONFIG`].
pub const DECIMAL_FORMAT_DEFAULT: &str = "BASE64";
/// Write (and read) a null that has a schema default as the default.
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";
/// Default of [`REPLACE_NULL_WITH_DEFAULT_CONFIG`].
pub const REPLACE_NULL_WITH_DEFAULT_DEFAULT: bool = true;

/// How a Decimal payload is written (`decimal.format`). The schema says `bytes` either way,
/// and either form is accepted on read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    /// Base64 of the unscaled value's two's complement bytes (`"BAE="` for 10.25, scale 2).
    #[default]
    Base64,
    /// A JSON number with the scale kept (`10.20`), in Java's `BigDecimal.toString` form.
    Numeric,
}

/// The declaration of the JsonConverter's config keys (given without the
/// `key.converter.`/`value.converter.` prefix).
pub fn json_converter_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            SCHEMAS_ENABLE_CONFIG,
            ConfigType::Boolean,
            ConfigDefault::Value(ConfigValue::Boolean(SCHEMAS_ENABLE_DEFAULT)),
            Importance::High,
            "Include schemas within each of the serialized values and keys.",
        )
        .define(
            SCHEMAS_CACHE_SIZE_CONFIG,
            ConfigType::Int,
            ConfigDefault::Value(ConfigValue::Int(SCHEMAS_CACHE_SIZE_DEFAULT)),
            Importance::High,
            "The maximum number of schemas that can be cached in this converter instance.",
        )
        .define(
            DECIMAL_FORMAT_CONFIG,
            ConfigType::String,
            ConfigDefault::Value(ConfigValue::String(DECIMAL_FORMAT_DEFAULT.into())),
            Importance::Low,
            "Controls which format this converter will serialize decimals in. This value is case \
             insensitive and can be either 'BASE64' (default) or 'NUMERIC'",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["BASE64", "NUMERIC"]))
        .define(
            REPLACE_NULL_WITH_DEFAULT_CONFIG,
            ConfigType::Boolean,
            ConfigDefault::Value(ConfigValue::Boolean(REPLACE_NULL_WITH_DEFAULT_DEFAULT)),
            Importance::Low,
            "Whether to replace fields that have a default value and that are null to the default \
             value. When set to true, the default value is used, otherwise null is used.",
        )
}

/// Parsed schemas by the exact text of their JSON, so a topic whose records all carry the
/// same schema builds it once. When full it is emptied (Kafka uses an LRU of the same size).
#[derive(Debug, Default)]
struct SchemaCache {
    schemas: HashMap<Box<[u8]>, Schema>,
    capacity: usize,
}

/// Kafka Connect's JsonConverter, byte-compatible with the Java one: the same envelope,
/// schema JSON (member order included), payload encoding, number and string text.
///
/// `from_connect` writes `{"schema":<schema|null>,"payload":<value>}` when `schemas.enable`
/// is true (the default) and the bare payload otherwise; a null value without a schema is
/// Kafka's null (a tombstone). `to_connect` reads the same forms back; with schemas disabled
/// numbers come back as INT64 / FLOAT64 and objects as maps with STRING keys.
#[derive(Debug)]
pub struct JsonConverter {
    schemas_enable: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
    cache: Mutex<SchemaCache>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonConverter {
    /// A converter with Kafka's defaults: schemas enabled, BASE64 decimals, nulls replaced by
    /// defaults.
    pub fn new() -> Self {
        JsonConverter {
            schemas_enable: SCHEMAS_ENABLE_DEFAULT,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: REPLACE_NULL_WITH_DEFAULT_DEFAULT,
            cache: Mutex::new(SchemaCache {
                schemas: HashMap::new(),
                capacity: SCHEMAS_CACHE_SIZE_DEFAULT as usize,
            }),
        }
    }

    /// Sets `schemas.enable`.
    pub fn with_schemas_enabled(mut self, enabled: bool) -> Self {
        self.schemas_enable = enabled;
        self
    }

    /// Sets `decimal.format`.
    pub fn with_decimal_format(mut self, format: DecimalFormat) -> Self {
        self.decimal_format = format;
        self
    }

    /// Sets `replace.null.with.default`.
    pub fn with_replace_null_with_default(mut self, replace: bool) -> Self {
        self.replace_null_with_default = replace;
        self
    }

    /// Whether values carry their schema.
    pub fn schemas_enabled(&self) -> bool {
        self.schemas_enable
    }

    /// How Decimals are written.
    pub fn decimal_format(&self) -> DecimalFormat {
        self.decimal_format
    }

    /// Whether nulls with a schema default become the default.
    pub fn replace_null_with_default(&self) -> bool {
        self.replace_null_with_default
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            decimal_numeric: self.decimal_format == DecimalFormat::Numeric,
            replace_null_with_default: self.replace_null_with_default,
            lenient: false,
        }
    }

    /// The schema of an envelope from its JSON text, from the cache when the same text was
    /// seen before.
    fn envelope_schema(&self, text: &[u8]) -> Result<Option<Schema>> {
        // Schema strings are not shared with the record, so no `src`.
        let o = ReadOptions {
            replace_null_with_default: self.replace_null_with_default,
            src: None,
        };
        let parse_schema = || -> Result<Option<Schema>> {
            match parse(text) {
                Ok(Some(json)) => read_schema(&json, &o),
                Ok(None) => Ok(None),
                Err(e) => Err(ConnectError::Data(format!("invalid JSON schema: {e}"))),
            }
        };
        if text.first() != Some(&b'{') {
            return parse_schema();
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(schema) = cache.schemas.get(text) {
            return Ok(Some(schema.clone()));
        }
        drop(cache);
        let schema = parse_schema()?;
        if let Some(s) = &schema {
            cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.capacity > 0 {
                if cache.schemas.len() >= cache.capacity {
                    cache.schemas.clear();
                }
                cache.schemas.insert(text.into(), s.clone());
            }
        }
        Ok(schema)
    }
}

fn envelope_error(found: &str) -> ConnectError {
    ConnectError::Data(format!(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not \
         contain additional fields. If you are trying to deserialize plain JSON data, set \
         schemas.enable=false in your converter configuration. Found {found}."
    ))
}

fn describe_envelope(envelope: Option<&Envelope<'_>>) -> String {
    match envelope {
        None => "empty input".into(),
        Some(Envelope::Object(members)) if members.is_empty() => "an empty object".into(),
        Some(Envelope::Object(members)) => {
            let keys: Vec<String> = members.iter().map(|m| format!("{:?}", &*m.key)).collect();
            format!("an object with the fields {}", keys.join(", "))
        }
        Some(Envelope::Value(other)) => format!("{} ({})", other.describe(), other.node_type()),
    }
}

impl Converter for JsonConverter {
    fn config_def(&self) -> ConfigDef {
        json_converter_config_def()
    }

    fn configure(&mut self, config: &ConfigMap, _is_key: bool) -> Result<()> {
        let parsed = json_converter_config_def().parse_for_use(config)?;
        self.schemas_enable = parsed
            .boolean(SCHEMAS_ENABLE_CONFIG)?
            .unwrap_or(SCHEMAS_ENABLE_DEFAULT);
        self.replace_null_with_default = parsed
            .boolean(REPLACE_NULL_WITH_DEFAULT_CONFIG)?
            .unwrap_or(REPLACE_NULL_WITH_DEFAULT_DEFAULT);
        self.decimal_format = match parsed.string(DECIMAL_FORMAT_CONFIG)? {
            Some(f) if f.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
            _ => DecimalFormat::Base64,
        };
        let capacity = parsed
            .int(SCHEMAS_CACHE_SIZE_CONFIG)?
            .unwrap_or(SCHEMAS_CACHE_SIZE_DEFAULT);
        let cache = self.cache.get_mut().unwrap_or_else(|e| e.into_inner());
        cache.schemas.clear();
        cache.capacity = usize::try_from(capacity).unwrap_or(0);
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let o = self.write_options();
        let mut capacity = estimate_value(value);
        if self.schemas_enable {
            capacity += 24 + schema.map_or(4, estimate_schema);
        }
        let mut out = Vec::with_capacity(capacity);
        if self.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            match schema {
                Some(s) => write_schema(&mut out, s, None, &o)?,
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"payload\":");
        }
        write_value(&mut out, schema, value, &o, &Path::Root)?;
        if self.schemas_enable {
            out.push(b'}');
        }
        Ok(Some(Bytes::from(out)))
    }

    fn to_connect(&self, _topic: &str, data: Option<&Bytes>) -> Result<(Option<Schema>, Value)> {
        let Some(data) = data else {
            return Ok((None, Value::Null));
        };
        let serialization = |e: ParseError| {
            ConnectError::Data(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            ))
        };
        if !self.schemas_enable {
            return Ok(match parse(data).map_err(serialization)? {
                None => (None, Value::Null),
                Some(j) => (None, read_schemaless(&j, Some(data), &Path::Root)?),
            });
        }
        let envelope = parse_envelope(data, "schema").map_err(serialization)?;
        let Some(Envelope::Object(members)) = &envelope else {
            return Err(envelope_error(&describe_envelope(envelope.as_ref())));
        };
        let find = |key: &str| members.iter().rev().find(|m| m.key == key);
        let (Some(schema), Some(payload)) = (find("schema"), find("payload")) else {
            return Err(envelope_error(&describe_envelope(envelope.as_ref())));
        };
        let Some(payload_json) = &payload.value else {
            return Err(envelope_error(&describe_envelope(envelope.as_ref())));
        };
        if members
            .iter()
            .any(|m| m.key != "schema" && m.key != "payload")
        {
            return Err(envelope_error(&describe_envelope(envelope.as_ref())));
        }
        let schema = self.envelope_schema(&data[schema.span.0..schema.span.1])?;
        let o = ReadOptions {
            replace_null_with_default: self.replace_null_with_default,
            src: Some(data),
        };
        let value = match &schema {
            Some(s) => read_value(s, Some(payload_json), &o, &Path::Root)?,
            None => read_schemaless(payload_json, Some(data), &Path::Root)?,
        };
        Ok((schema, value))
    }
}

/// Serializes a value as the worker's internal JsonConverter does for the config, status and
/// offsets topics (schemas disabled, FORMATS.md §2): maps with STRING keys → objects in entry
/// order, arrays → arrays, numbers in Java's text. It never fails: structs are written with
/// their own schema, logical values as their underlying number (Decimals as JSON numbers), and
/// `Value::Null` as `null` (a tombstone is the caller's business).
pub fn to_schemaless_json(value: &Value) -> Vec<u8> {
    let o = WriteOptions {
        decimal_numeric: true,
        replace_null_with_default: REPLACE_NULL_WITH_DEFAULT_DEFAULT,
        lenient: true,
    };
    let mut out = Vec::with_capacity(estimate_value(value));
    if write_value(&mut out, None, value, &o, &Path::Root).is_err() {
        // Lenient writing has no failure path; keep the output valid JSON regardless.
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

/// Parses the worker's internal JSON (schemas disabled): objects → `Value::Map` with
/// `Value::String` keys in member order, arrays → `Value::Array`, integers → `Int64`, other
/// numbers → `Float64`, `null` (or empty input) → `Null`.
pub fn from_schemaless_json(bytes: &[u8]) -> Result<Value> {
    match parse(bytes) {
        Ok(None) => Ok(Value::Null),
        Ok(Some(json)) => read_schemaless(&json, None, &Path::Root),
        Err(e) => Err(ConnectError::Data(format!("invalid JSON: {e}"))),
    }
}
