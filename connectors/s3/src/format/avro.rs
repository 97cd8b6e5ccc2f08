//! AvroFormat: Avro object container files, the schema derived from the Connect schema as
//! Confluent's `AvroData.fromConnectSchema` derives it:
//!
//! - a struct is a record named after the Connect schema (`com.example.User` → namespace
//!   `com.example`, name `User`), or `io.confluent.connect.avro.ConnectDefault` (then
//!   `ConnectDefault2`, ...) when it has no name;
//! - an optional schema is the union `["null", T]` with default null, or `[T, "null"]` when it
//!   has a default;
//! - INT8/INT16 are `int` with `connect.type`; a map with required string keys is an Avro
//!   map, any other map an array of `MapEntry` records (`key`, `value`);
//! - Decimal is `bytes` with logical type `decimal` (precision from
//!   `connect.decimal.precision`, default 64), Date `int`/`date`, Time `int`/`time-millis`,
//!   Timestamp `long`/`timestamp-millis`;
//! - with `connect.meta.data` (default true) the `connect.name`, `connect.version`,
//!   `connect.doc`, `connect.parameters` and `connect.default` properties.
//!
//! Blocks are cut at 64,000 bytes (Java's default sync interval) and compressed with
//! `avro.codec`. The 16-byte sync marker is derived from the object key, so a rewritten
//! object is byte-identical.

use std::collections::HashMap;
use std::io::Write;

use ferry_api::logical::{self, DATE, DECIMAL, TIME, TIMESTAMP};
use ferry_api::{Schema, SchemaType, SinkRecord, Value};
use serde_json::{Map, Value as Json, json};

use super::{FormatError, Output, RecordWriter};

const NAMESPACE: &str = "io.confluent.connect.avro";
const SYNC_INTERVAL: usize = 64_000;
const DEFAULT_DECIMAL_PRECISION: i64 = 64;

/// `avro.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AvroCodec {
    Null,
    Deflate,
    Snappy,
    Zstandard,
}

impl AvroCodec {
    pub(crate) fn from_name(name: &str) -> AvroCodec {
        match name.trim() {
            "deflate" => AvroCodec::Deflate,
            "snappy" => AvroCodec::Snappy,
            "zstandard" => AvroCodec::Zstandard,
            _ => AvroCodec::Null,
        }
    }
    fn name(self) -> &'static str {
        match self {
            AvroCodec::Null => "null",
            AvroCodec::Deflate => "deflate",
            AvroCodec::Snappy => "snappy",
            AvroCodec::Zstandard => "zstandard",
        }
    }
}

pub(super) struct AvroWriter {
    schema: Schema,
    codec: AvroCodec,
    header: Option<Vec<u8>>,
    sync: [u8; 16],
    block: Vec<u8>,
    count: u64,
}

impl AvroWriter {
    pub(super) fn new(
        schema: &Schema,
        codec: AvroCodec,
        meta_data: bool,
        key: &str,
    ) -> Result<AvroWriter, FormatError> {
        let avro_schema = avro_schema(schema, meta_data)?;
        let sync = sync_marker(key);
        let mut header = Vec::with_capacity(1024);
        header.extend_from_slice(b"Obj\x01");
        write_long(&mut header, 2);
        write_bytes(&mut header, b"avro.schema");
        write_bytes(&mut header, avro_schema.to_string().as_bytes());
        write_bytes(&mut header, b"avro.codec");
        write_bytes(&mut header, codec.name().as_bytes());
        write_long(&mut header, 0);
        header.extend_from_slice(&sync);
        Ok(AvroWriter {
            schema: schema.clone(),
            codec,
            header: Some(header),
            sync,
            block: Vec::with_capacity(SYNC_INTERVAL + 4096),
            count: 0,
        })
    }

    fn flush_block(&mut self, out: &mut Output) -> Result<(), FormatError> {
        if let Some(header) = self.header.take() {
            out.write(&header);
        }
        if self.count == 0 {
            return Ok(());
        }
        let compressed;
        let data: &[u8] = match self.codec {
            AvroCodec::Null => &self.block,
            AvroCodec::Deflate => {
                let mut enc = flate2::write::DeflateEncoder::new(
                    Vec::with_capacity(self.block.len() / 2),
                    flate2::Compression::default(),
                );
                let _ = enc.write_all(&self.block);
                compressed = enc.finish().unwrap_or_default();
                &compressed
            }
            AvroCodec::Snappy => {
                let mut c = snap::raw::Encoder::new()
                    .compress_vec(&self.block)
                    .map_err(|e| FormatError(format!("snappy: {e}")))?;
                let mut crc = flate2::Crc::new();
                crc.update(&self.block);
                c.extend_from_slice(&crc.sum().to_be_bytes());
                compressed = c;
                &compressed
            }
            AvroCodec::Zstandard => {
                compressed = zstd::bulk::compress(&self.block, 3)
                    .map_err(|e| FormatError(format!("zstandard: {e}")))?;
                &compressed
            }
        };
        let mut head = Vec::with_capacity(20);
        write_long(&mut head, self.count as i64);
        write_long(&mut head, data.len() as i64);
        out.write(&head);
        out.write(data);
        out.write(&self.sync);
        self.block.clear();
        self.count = 0;
        Ok(())
    }
}

impl RecordWriter for AvroWriter {
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError> {
        let before = self.block.len();
        if let Err(e) = encode(&mut self.block, &self.schema, &record.value) {
            self.block.truncate(before);
            return Err(FormatError(format!(
                "the record at offset {} of {}-{} cannot be written as Avro: {}",
                record.kafka_offset, record.topic, record.kafka_partition, e.0
            )));
        }
        self.count += 1;
        if self.block.len() >= SYNC_INTERVAL {
            self.flush_block(out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), FormatError> {
        self.flush_block(out)
    }
}

/// 16 bytes from the object key (two FNV-1a hashes), the same each time the object is written.
fn sync_marker(key: &str) -> [u8; 16] {
    let fnv = |seed: u64| {
        let mut h = seed;
        for b in key.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    let mut sync = [0u8; 16];
    sync[..8].copy_from_slice(&fnv(0xcbf2_9ce4_8422_2325).to_be_bytes());
    sync[8..].copy_from_slice(&fnv(0x84222325_cbf29ce4).to_be_bytes());
    sync
}

fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_long(out, b.len() as i64);
    out.extend_from_slice(b);
}

fn mismatch(schema: &Schema, value: &Value) -> FormatError {
    FormatError(format!(
        "a {} value does not match the schema type {}",
        value.kind(),
        schema.schema_type()
    ))
}

/// Whether `schema` becomes an Avro union and, if so, the branch of null.
fn null_branch(schema: &Schema) -> Option<i64> {
    schema.is_optional().then(|| {
        if schema.default_value().is_some() {
            1
        } else {
            0
        }
    })
}

fn is_avro_map(schema: &Schema) -> bool {
    schema
        .key_schema()
        .is_some_and(|k| k.schema_type() == SchemaType::String && !k.is_optional())
}

/// Appends the Avro binary encoding of `value` under the Avro schema made from `schema`.
fn encode(out: &mut Vec<u8>, schema: &Schema, value: &Value) -> Result<(), FormatError> {
    let value = match (value, schema.default_value()) {
        (Value::Null, Some(d)) if !schema.is_optional() => d,
        _ => value,
    };
    if let Some(null_index) = null_branch(schema) {
        if value.is_null() {
            write_long(out, null_index);
            return Ok(());
        }
        write_long(out, 1 - null_index);
    } else if value.is_null() {
        return Err(FormatError(format!(
            "null value for a required {} schema",
            schema.schema_type()
        )));
    }
    match (schema.schema_type(), value) {
        (SchemaType::Boolean, Value::Boolean(b)) => out.push(u8::from(*b)),
        (SchemaType::Int8, Value::Int8(v)) => write_long(out, i64::from(*v)),
        (SchemaType::Int16, Value::Int16(v)) => write_long(out, i64::from(*v)),
        (SchemaType::Int32, Value::Int32(v) | Value::Date(v) | Value::Time(v)) => {
            write_long(out, i64::from(*v))
        }
        (SchemaType::Int64, Value::Int64(v) | Value::Timestamp(v)) => write_long(out, *v),
        (SchemaType::Float32, Value::Float32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (SchemaType::Float64, Value::Float64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (SchemaType::String, Value::String(s)) => write_bytes(out, s.as_bytes()),
        (SchemaType::Bytes, Value::Bytes(b)) => write_bytes(out, b),
        (SchemaType::Bytes, Value::Decimal(d)) => write_bytes(out, d.unscaled_bytes()),
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema = schema
                .value_schema()
                .ok_or_else(|| mismatch(schema, value))?;
            if !items.is_empty() {
                write_long(out, items.len() as i64);
                for item in items {
                    encode(out, item_schema, item)?;
                }
            }
            write_long(out, 0);
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) else {
                return Err(mismatch(schema, value));
            };
            if !entries.is_empty() {
                write_long(out, entries.len() as i64);
                for (k, v) in entries {
                    if is_avro_map(schema) {
                        let Value::String(key) = k else {
                            return Err(mismatch(ks, k));
                        };
                        write_bytes(out, key.as_bytes());
                    } else {
                        encode(out, ks, k)?;
                    }
                    encode(out, vs, v)?;
                }
            }
            write_long(out, 0);
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            if s.schema().fields().len() != schema.fields().len() {
                return Err(FormatError("struct value has a different schema".into()));
            }
            for (field, v) in schema.fields().iter().zip(s.values()) {
                encode(out, field.schema(), v)
                    .map_err(|e| FormatError(format!("field \"{}\": {}", field.name(), e.0)))?;
            }
        }
        _ => return Err(mismatch(schema, value)),
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Names {
    defined: HashMap<String, Schema>,
    unnamed: usize,
    meta: bool,
}

/// The Avro schema (as JSON) of a Connect schema.
pub(crate) fn avro_schema(schema: &Schema, meta: bool) -> Result<Json, FormatError> {
    let mut names = Names {
        defined: HashMap::new(),
        unnamed: 0,
        meta,
    };
    to_avro(schema, &mut names)
}

fn split_name(full: &str) -> (String, String) {
    match full.rsplit_once('.') {
        Some((ns, n)) => (ns.to_string(), n.to_string()),
        None => (String::new(), full.to_string()),
    }
}

fn to_avro(schema: &Schema, names: &mut Names) -> Result<Json, FormatError> {
    let base = base_avro(schema, names)?;
    Ok(match null_branch(schema) {
        Some(0) => json!(["null", base]),
        Some(_) => json!([base, "null"]),
        None => base,
    })
}

fn base_avro(schema: &Schema, names: &mut Names) -> Result<Json, FormatError> {
    let logical = schema.name().filter(|n| logical::is_logical(n));
    let mut obj = Map::new();
    let mut connect_type = None;
    match schema.schema_type() {
        SchemaType::Int8 => {
            obj.insert("type".into(), "int".into());
            connect_type = Some("int8");
        }
        SchemaType::Int16 => {
            obj.insert("type".into(), "int".into());
            connect_type = Some("int16");
        }
        SchemaType::Int32 => {
            obj.insert("type".into(), "int".into());
        }
        SchemaType::Int64 => {
            obj.insert("type".into(), "long".into());
        }
        SchemaType::Float32 => {
            obj.insert("type".into(), "float".into());
        }
        SchemaType::Float64 => {
            obj.insert("type".into(), "double".into());
        }
        SchemaType::Boolean => {
            obj.insert("type".into(), "boolean".into());
        }
        SchemaType::String => {
            obj.insert("type".into(), "string".into());
        }
        SchemaType::Bytes => {
            obj.insert("type".into(), "bytes".into());
        }
        SchemaType::Array => {
            let items = schema
                .value_schema()
                .ok_or_else(|| FormatError("an ARRAY schema without an item schema".into()))?;
            obj.insert("type".into(), "array".into());
            obj.insert("items".into(), to_avro(items, names)?);
        }
        SchemaType::Map => {
            let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) else {
                return Err(FormatError(
                    "a MAP schema without key or value schema".into(),
                ));
            };
            if is_avro_map(schema) {
                obj.insert("type".into(), "map".into());
                obj.insert("values".into(), to_avro(vs, names)?);
            } else {
                let (namespace, name) = match schema.name() {
                    Some(n) => split_name(n),
                    None => (NAMESPACE.to_string(), "MapEntry".to_string()),
                };
                let full = format!("{namespace}.{name}");
                let entry = if let std::collections::hash_map::Entry::Vacant(slot) =
                    names.defined.entry(full.clone())
                {
                    slot.insert(schema.clone());
                    json!({
                        "type": "record",
                        "name": name,
                        "namespace": namespace,
                        "fields": [
                            field_json("key", ks, names)?,
                            field_json("value", vs, names)?,
                        ],
                    })
                } else {
                    Json::String(full)
                };
                obj.insert("type".into(), "array".into());
                obj.insert("items".into(), entry);
            }
        }
        SchemaType::Struct => {
            let (namespace, name) = match schema.name() {
                Some(n) => split_name(n),
                None => {
                    names.unnamed += 1;
                    let name = if names.unnamed == 1 {
                        "ConnectDefault".to_string()
                    } else {
                        format!("ConnectDefault{}", names.unnamed)
                    };
                    (NAMESPACE.to_string(), name)
                }
            };
            if !valid_name(&name) || !namespace.split('.').all(|p| p.is_empty() || valid_name(p)) {
                return Err(FormatError(format!(
                    "\"{}\" is not a valid Avro record name",
                    schema.name().unwrap_or(&name)
                )));
            }
            let full = if namespace.is_empty() {
                name.clone()
            } else {
                format!("{namespace}.{name}")
            };
            if let Some(previous) = names.defined.get(&full) {
                if previous == schema {
                    return Ok(Json::String(full));
                }
                return Err(FormatError(format!(
                    "two different struct schemas are both named \"{full}\""
                )));
            }
            names.defined.insert(full, schema.clone());
            let mut fields = Vec::new();
            for f in schema.fields() {
                if !valid_name(f.name()) {
                    return Err(FormatError(format!(
                        "\"{}\" is not a valid Avro field name",
                        f.name()
                    )));
                }
                fields.push(field_json(f.name(), f.schema(), names)?);
            }
            obj.insert("type".into(), "record".into());
            obj.insert("name".into(), name.into());
            if !namespace.is_empty() {
                obj.insert("namespace".into(), namespace.into());
            }
            obj.insert("fields".into(), fields.into());
        }
    }
    match logical {
        Some(DECIMAL) => {
            let scale: i64 = schema
                .parameter(logical::SCALE_PARAMETER)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let precision: i64 = schema
                .parameter("connect.decimal.precision")
                .and_then(|s| s.parse().ok())
                .unwrap_or(DEFAULT_DECIMAL_PRECISION);
            obj.insert("scale".into(), scale.into());
            obj.insert("precision".into(), precision.into());
            if (0..=precision).contains(&scale) {
                obj.insert("logicalType".into(), "decimal".into());
            }
        }
        Some(DATE) => {
            obj.insert("logicalType".into(), "date".into());
        }
        Some(TIME) => {
            obj.insert("logicalType".into(), "time-millis".into());
        }
        Some(TIMESTAMP) => {
            obj.insert("logicalType".into(), "timestamp-millis".into());
        }
        _ => {}
    }
    if names.meta {
        if let Some(doc) = schema.doc() {
            obj.insert("connect.doc".into(), doc.into());
        }
        if let Some(v) = schema.version() {
            obj.insert("connect.version".into(), v.into());
        }
        if !schema.parameters().is_empty() {
            let params: Map<String, Json> = schema
                .parameters()
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect();
            obj.insert("connect.parameters".into(), params.into());
        }
        if let Some(d) = schema.default_value().and_then(default_json) {
            obj.insert("connect.default".into(), d);
        }
        if let Some(n) = schema.name() {
            obj.insert("connect.name".into(), n.into());
        }
        if let Some(t) = connect_type {
            obj.insert("connect.type".into(), t.into());
        }
    }
    // A bare primitive is written as its name, as Avro's Schema.toString does.
    if obj.len() == 1
        && let Some(Json::String(t)) = obj.get("type")
        && !matches!(t.as_str(), "record" | "array" | "map")
    {
        return Ok(Json::String(t.clone()));
    }
    Ok(Json::Object(obj))
}

fn field_json(name: &str, schema: &Schema, names: &mut Names) -> Result<Json, FormatError> {
    let mut f = Map::new();
    f.insert("name".into(), name.into());
    f.insert("type".into(), to_avro(schema, names)?);
    if let Some(d) = schema.default_value().and_then(default_json) {
        f.insert("default".into(), d);
    } else if schema.is_optional() {
        f.insert("default".into(), Json::Null);
    }
    Ok(Json::Object(f))
}

/// A default value as Avro JSON (primitives only; others are left out).
fn default_json(value: &Value) -> Option<Json> {
    Some(match value {
        Value::Boolean(b) => (*b).into(),
        Value::Int8(v) => (*v).into(),
        Value::Int16(v) => (*v).into(),
        Value::Int32(v) | Value::Date(v) | Value::Time(v) => (*v).into(),
        Value::Int64(v) | Value::Timestamp(v) => (*v).into(),
        Value::Float32(v) => serde_json::Number::from_f64(f64::from(*v))?.into(),
        Value::Float64(v) => serde_json::Number::from_f64(*v)?.into(),
        Value::String(s) => s.as_str().into(),
        // Avro writes bytes defaults as ISO-8859-1 text.
        Value::Bytes(b) => b.iter().map(|&c| char::from(c)).collect::<String>().into(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{SchemaBuilder, Struct};

    #[test]
    fn schema_as_avro_data_writes_it() {
        let address = SchemaBuilder::struct_()
            .field("city", Schema::string())
            .optional()
            .build();
        let schema = SchemaBuilder::struct_()
            .name("com.example.User")
            .version(2)
            .field("id", Schema::int64())
            .field("age", Schema::optional_int16())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .field(
                "counts",
                SchemaBuilder::map(Schema::int32(), Schema::int64()).build(),
            )
            .field("at", logical::timestamp_schema())
            .field("price", logical::decimal_schema(2))
            .field("address", address)
            .build();
        let avro = avro_schema(&schema, true).unwrap();
        assert_eq!(avro["type"], "record");
        assert_eq!(avro["name"], "User");
        assert_eq!(avro["namespace"], "com.example");
        assert_eq!(avro["connect.version"], 2);
        assert_eq!(avro["connect.name"], "com.example.User");
        let fields = avro["fields"].as_array().unwrap();
        assert_eq!(fields[0]["type"], "long");
        assert_eq!(
            fields[1]["type"],
            json!(["null", {"type": "int", "connect.type": "int16"}])
        );
        assert_eq!(fields[1]["default"], Json::Null);
        assert_eq!(
            fields[2]["type"],
            json!({"type": "array", "items": "string"})
        );
        assert_eq!(fields[3]["type"]["items"]["name"], "MapEntry");
        assert_eq!(fields[4]["type"]["logicalType"], "timestamp-millis");
        assert_eq!(fields[5]["type"]["logicalType"], "decimal");
        assert_eq!(fields[5]["type"]["precision"], 64);
        assert_eq!(fields[6]["type"][1]["name"], "ConnectDefault");
        let plain = avro_schema(&Schema::string(), true).unwrap();
        assert_eq!(plain, json!("string"));
    }

    #[test]
    fn binary_encoding() {
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::optional_string())
            .field("c", SchemaBuilder::array(Schema::int64()).build())
            .build();
        let s = Struct::new(schema.clone())
            .unwrap()
            .with("a", -2)
            .unwrap()
            .with("c", Value::Array(vec![Value::Int64(1)]))
            .unwrap();
        let mut out = Vec::new();
        encode(&mut out, &schema, &Value::Struct(s)).unwrap();
        // a=-2 → zigzag 3; b=null → branch 0; c=[1] → count 1 (2), 1 (2), end 0.
        assert_eq!(out, [3, 0, 2, 2, 0]);
        let err = encode(&mut out, &Schema::int32(), &Value::from("x")).unwrap_err();
        assert!(err.0.contains("does not match"), "{}", err.0);
        assert_eq!(sync_marker("a/b"), sync_marker("a/b"));
        assert_ne!(sync_marker("a/b"), sync_marker("a/c"));
    }
}
