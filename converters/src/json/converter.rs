//! [`JsonConverter`]: Kafka Connect's `org.apache.kafka.connect.json.JsonConverter`.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferry_api::{
    ConfigDef, ConfigDefault, ConfigMap, ConfigType, ConfigValue, ConnectError, Converter,
    Importance, Result, Schema, Validator, Value,
};
use lru::LruCache;

use super::parse::{Envelope, ParseError, container_extent, parse, parse_envelope, parse_prefix};
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
        .with_validator(Validator::at_least(0.0))
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

/// The schemas a converter has seen, both ways, each an LRU of `schemas.cache.size` entries
/// as Kafka's `fromConnectSchemaCache` and `toConnectSchemaCache`; a size of 0 caches
/// nothing.
#[derive(Debug)]
struct SchemaCaches {
    capacity: usize,
    /// Parsed schemas by the exact text of their JSON (which parsed without error), so an
    /// envelope whose schema text is known is not parsed again.
    parsed: Mutex<LruCache<Box<[u8]>, Schema>>,
    /// The JSON text written for a schema object, by its identity ([`Schema::identity`]).
    /// Each entry holds the schema, so the identity cannot be reused by another schema while
    /// the entry exists.
    written: Mutex<LruCache<usize, WrittenSchema>>,
}

/// A schema and the JSON text written for it.
type WrittenSchema = (Schema, Arc<[u8]>);

impl SchemaCaches {
    fn new(capacity: usize) -> Self {
        // Unbounded maps, trimmed by hand: `LruCache::new` would allocate the whole capacity
        // up front.
        SchemaCaches {
            capacity,
            parsed: Mutex::new(LruCache::unbounded()),
            written: Mutex::new(LruCache::unbounded()),
        }
    }

    /// The schema parsed from `text` before, if it is still cached (it becomes the most
    /// recently used).
    fn parsed(&self, text: &[u8]) -> Option<Schema> {
        if self.capacity == 0 {
            return None;
        }
        let mut parsed = lock(&self.parsed);
        parsed.get(text).cloned()
    }

    /// The cached schema whose text starts `data`, checking only the most recently used one
    /// (a topic's records usually share one schema): one comparison, no scan.
    fn recent_prefix(&self, data: &[u8]) -> Option<(usize, Schema)> {
        if self.capacity == 0 {
            return None;
        }
        let parsed = lock(&self.parsed);
        let (text, schema) = parsed.peek_mru()?;
        data.starts_with(text).then(|| (text.len(), schema.clone()))
    }

    fn insert_parsed(&self, text: &[u8], schema: &Schema) {
        if self.capacity == 0 {
            return;
        }
        let mut parsed = lock(&self.parsed);
        parsed.put(text.into(), schema.clone());
        while parsed.len() > self.capacity {
            parsed.pop_lru();
        }
    }

    fn written(&self, schema: &Schema) -> Option<Arc<[u8]>> {
        if self.capacity == 0 {
            return None;
        }
        let mut written = lock(&self.written);
        match written.get(&schema.identity()) {
            Some((held, text)) if held.is_same(schema) => Some(text.clone()),
            _ => None,
        }
    }

    fn insert_written(&self, schema: &Schema, text: &[u8]) {
        if self.capacity == 0 {
            return;
        }
        let mut written = lock(&self.written);
        written.put(schema.identity(), (schema.clone(), text.into()));
        while written.len() > self.capacity {
            written.pop_lru();
        }
    }

    #[cfg(test)]
    fn lens(&self) -> (usize, usize) {
        (lock(&self.parsed).len(), lock(&self.written).len())
    }
}

/// A cache is valid whatever a panicking holder left in it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How every envelope Kafka's and Ferry's JsonConverter write begins.
const ENVELOPE_START: &[u8] = b"{\"schema\":";

fn skip_ws(data: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = data.get(at) {
        at += 1;
    }
    at
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
    caches: SchemaCaches,
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
            caches: SchemaCaches::new(SCHEMAS_CACHE_SIZE_DEFAULT as usize),
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

    /// Appends the JSON of `value` (of `schema`) to `out` as [`Converter::from_connect`]
    /// writes its payload, without the envelope: what the converter writes with
    /// `schemas.enable=false`, for a writer that puts many values into one buffer (the S3
    /// sink's JsonFormat). A null is written as `null`. On error `out` may hold part of
    /// the value.
    pub fn write_payload(
        &self,
        out: &mut Vec<u8>,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<()> {
        write_value(out, schema, value, &self.write_options(), &Path::Root)
    }

    /// How many schemas are cached: (parsed from envelopes, written into envelopes).
    #[cfg(test)]
    pub(super) fn cached_schemas(&self) -> (usize, usize) {
        self.caches.lens()
    }

    fn write_options(&self) -> WriteOptions {
        WriteOptions {
            decimal_numeric: self.decimal_format == DecimalFormat::Numeric,
            replace_null_with_default: self.replace_null_with_default,
            lenient: false,
        }
    }

    fn read_options<'b>(&self, src: Option<&'b Bytes>) -> ReadOptions<'b> {
        ReadOptions {
            replace_null_with_default: self.replace_null_with_default,
            src,
        }
    }

    /// The schema of an envelope from its JSON text, from the cache when the same text was
    /// seen before.
    fn envelope_schema(&self, text: &[u8]) -> Result<Option<Schema>> {
        let parse_schema = || -> Result<Option<Schema>> {
            // Schema strings are not shared with the record, so no `src`.
            match parse(text) {
                Ok(Some(json)) => read_schema(&json, &self.read_options(None)),
                Ok(None) => Ok(None),
                Err(e) => Err(ConnectError::Data(format!("invalid JSON schema: {e}"))),
            }
        };
        if text.first() != Some(&b'{') {
            return parse_schema();
        }
        if let Some(schema) = self.caches.parsed(text) {
            return Ok(Some(schema));
        }
        let schema = parse_schema()?;
        if let Some(s) = &schema {
            self.caches.insert_parsed(text, s);
        }
        Ok(schema)
    }

    /// Reads an envelope in the form converters write it, `{"schema":{...},"payload":...}`
    /// (whitespace allowed between tokens), looking its schema up by its text, so a known
    /// schema is neither parsed nor even checked as JSON (its text is the same as one that
    /// parsed); only the payload is parsed. `None` for anything else, including every error
    /// and any envelope that is not exactly two members in that order: the caller then takes
    /// the general path, which gives the errors.
    fn to_connect_fast(&self, data: &Bytes) -> Option<Result<(Option<Schema>, Value)>> {
        if !data.starts_with(ENVELOPE_START) {
            return None;
        }
        let schema_start = skip_ws(data, ENVELOPE_START.len());
        let (schema_end, schema) = match self.caches.recent_prefix(&data[schema_start..]) {
            Some((len, schema)) => (schema_start + len, schema),
            None => {
                let end = container_extent(data, schema_start)?;
                let text = &data[schema_start..end];
                let schema = match self.caches.parsed(text) {
                    Some(schema) => schema,
                    None => match self.envelope_schema(text) {
                        Ok(Some(schema)) => schema,
                        Ok(None) | Err(_) => return None,
                    },
                };
                (end, schema)
            }
        };
        let mut at = skip_ws(data, schema_end);
        if data.get(at) != Some(&b',') {
            return None;
        }
        at = skip_ws(data, at + 1);
        if !data[at..].starts_with(b"\"payload\"") {
            return None;
        }
        at = skip_ws(data, at + b"\"payload\"".len());
        if data.get(at) != Some(&b':') {
            return None;
        }
        let payload = data.slice(at + 1..);
        let (json, end) = parse_prefix(&payload).ok()?;
        let end = skip_ws(&payload, end);
        if payload.get(end) != Some(&b'}') || skip_ws(&payload, end + 1) != payload.len() {
            return None;
        }
        let value = read_value(
            &schema,
            Some(&json),
            &self.read_options(Some(&payload)),
            &Path::Root,
        );
        Some(value.map(|v| (Some(schema), v)))
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
        // Negative sizes are refused by the validator.
        self.caches = SchemaCaches::new(usize::try_from(capacity).unwrap_or(0));
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
        let written = match schema {
            Some(s) if self.schemas_enable => self.caches.written(s),
            _ => None,
        };
        let mut capacity = estimate_value(value);
        if self.schemas_enable {
            capacity += 24
                + match (&written, schema) {
                    (Some(text), _) => text.len(),
                    (None, Some(s)) => estimate_schema(s),
                    (None, None) => 4,
                };
        }
        let mut out = Vec::with_capacity(capacity);
        if self.schemas_enable {
            out.extend_from_slice(ENVELOPE_START);
            match (written, schema) {
                (Some(text), _) => out.extend_from_slice(&text),
                (None, Some(s)) => {
                    let start = out.len();
                    write_schema(&mut out, s, None, &o)?;
                    self.caches.insert_written(s, &out[start..]);
                }
                (None, None) => out.extend_from_slice(b"null"),
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
        if let Some(read) = self.to_connect_fast(data) {
            return read;
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
        let value = match &schema {
            Some(s) => read_value(
                s,
                Some(payload_json),
                &self.read_options(Some(data)),
                &Path::Root,
            )?,
            None => read_schemaless(payload_json, Some(data), &Path::Root)?,
        };
        Ok((schema, value))
    }
}

/// Serializes a value as the worker's internal JsonConverter does for the config, status and
/// offsets topics (schemas disabled): maps with STRING keys → objects in entry order, arrays
/// → arrays, numbers in Java's text. It never fails: structs are written with their own
/// schema, logical values as their underlying number (Decimals as JSON numbers), and
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
