//! From records to rows: which columns a record fills (its *shape*: key and value fields
//! under `pk.mode`, `pk.fields` and `fields.whitelist`) and each column's value.

use std::borrow::Cow;

use ferry_api::{Schema, SchemaType, SinkRecord, Value};

use super::config::{PkMode, SinkConfig};
use crate::error::{Error, Result};

/// Where a column's value comes from in a record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Source {
    Topic,
    Partition,
    Offset,
    /// The whole (primitive) key.
    Key,
    /// Field `i` of the key struct.
    KeyField(usize),
    /// Field `i` of the value struct.
    ValueField(usize),
    /// Entry `name` of a schemaless (map) value.
    ValueEntry(String),
}

/// One column a record fills.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) source: Source,
    /// The Connect schema of the values (for CREATE/ALTER and typed encoding).
    pub(crate) schema: Option<Schema>,
    pub(crate) key: bool,
}

/// The columns records of one key/value schema fill, key columns first.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shape {
    pub(crate) fields: Vec<Field>,
    key_schema: Option<Schema>,
    value_schema: Option<Schema>,
    /// The entry names of a schemaless value, when the shape was made from one.
    map_keys: Option<Vec<String>>,
}

impl Shape {
    /// The key columns.
    pub(crate) fn key_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.key)
    }

    /// Whether `record` has this shape (same schemas, or the same map entries).
    pub(crate) fn fits(&self, record: &SinkRecord) -> bool {
        if self.key_schema != record.key_schema || self.value_schema != record.value_schema {
            return false;
        }
        match (&self.map_keys, &record.value) {
            (Some(keys), Value::Map(entries)) => {
                keys.len() == entries.len()
                    && keys
                        .iter()
                        .zip(entries)
                        .all(|(k, (ek, _))| ek.as_str() == Some(k.as_str()))
            }
            (None, Value::Map(_)) => false,
            (Some(_), _) => record.value.is_null(),
            (None, _) => true,
        }
    }

    /// The value of `field` in `record`.
    pub(crate) fn value<'r>(field: &Field, record: &'r SinkRecord) -> Cow<'r, Value> {
        match &field.source {
            Source::Topic => Cow::Owned(Value::from(record.topic.as_ref())),
            Source::Partition => Cow::Owned(Value::Int32(record.kafka_partition)),
            Source::Offset => Cow::Owned(Value::Int64(record.kafka_offset)),
            Source::Key => Cow::Borrowed(&record.key),
            Source::KeyField(i) => match &record.key {
                Value::Struct(s) => Cow::Borrowed(s.values().get(*i).unwrap_or(&Value::Null)),
                _ => Cow::Owned(Value::Null),
            },
            Source::ValueField(i) => match &record.value {
                Value::Struct(s) => Cow::Borrowed(s.values().get(*i).unwrap_or(&Value::Null)),
                _ => Cow::Owned(Value::Null),
            },
            Source::ValueEntry(name) => match &record.value {
                Value::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(name.as_str()))
                    .map_or(Cow::Owned(Value::Null), |(_, v)| Cow::Borrowed(v)),
                _ => Cow::Owned(Value::Null),
            },
        }
    }
}

fn at(record: &SinkRecord) -> String {
    format!(
        "record {}-{}@{}",
        record.topic, record.kafka_partition, record.kafka_offset
    )
}

/// The shape of a record under the sink's config. A tombstone (null value) gets the key
/// columns only.
pub(crate) fn shape_of(config: &SinkConfig, record: &SinkRecord) -> Result<Shape> {
    let mut fields = Vec::new();
    match config.pk_mode {
        PkMode::None => {}
        PkMode::Kafka => {
            let schemas = [Schema::string(), Schema::int32(), Schema::int64()];
            let sources = [Source::Topic, Source::Partition, Source::Offset];
            for ((name, schema), source) in config.pk_fields.iter().zip(schemas).zip(sources) {
                fields.push(Field {
                    name: name.clone(),
                    source,
                    schema: Some(schema),
                    key: true,
                });
            }
        }
        PkMode::RecordKey => match (&record.key, &record.key_schema) {
            (Value::Null, _) => {
                return Err(Error::Data(format!(
                    "{}: pk.mode=record_key needs a record key, and this record has none",
                    at(record)
                )));
            }
            (Value::Struct(s), _) => {
                for (i, f) in s.schema().fields().iter().enumerate() {
                    if config.pk_fields.is_empty() || config.pk_fields.iter().any(|p| p == f.name())
                    {
                        fields.push(Field {
                            name: f.name().to_string(),
                            source: Source::KeyField(i),
                            schema: Some(f.schema().clone()),
                            key: true,
                        });
                    }
                }
                if let Some(missing) = config
                    .pk_fields
                    .iter()
                    .find(|p| s.schema().field(p).is_none())
                {
                    return Err(Error::Data(format!(
                        "{}: pk.fields names \"{missing}\", which is not a field of the record key",
                        at(record)
                    )));
                }
            }
            (Value::Map(_), _) => {
                return Err(Error::Data(format!(
                    "{}: pk.mode=record_key needs a primitive or struct key, not a map",
                    at(record)
                )));
            }
            (_, schema) => {
                let [name] = config.pk_fields.as_slice() else {
                    return Err(Error::Data(format!(
                        "{}: the record key is a primitive, so pk.fields must name exactly one column for it",
                        at(record)
                    )));
                };
                fields.push(Field {
                    name: name.clone(),
                    source: Source::Key,
                    schema: schema.clone(),
                    key: true,
                });
            }
        },
        PkMode::RecordValue => {}
    }
    let include = |name: &str| {
        config.fields_whitelist.is_empty() || config.fields_whitelist.iter().any(|w| w == name)
    };
    let mut map_keys = None;
    match &record.value {
        Value::Null => {
            if config.pk_mode == PkMode::RecordValue {
                return Err(Error::Data(format!(
                    "{}: pk.mode=record_value needs a record value, and this record has none",
                    at(record)
                )));
            }
        }
        Value::Struct(s) => {
            for (i, f) in s.schema().fields().iter().enumerate() {
                let is_key = config.pk_mode == PkMode::RecordValue
                    && (config.pk_fields.is_empty()
                        || config.pk_fields.iter().any(|p| p == f.name()));
                if fields.iter().any(|k| k.name == f.name()) {
                    continue;
                }
                if is_key || include(f.name()) {
                    fields.push(Field {
                        name: f.name().to_string(),
                        source: Source::ValueField(i),
                        schema: Some(f.schema().clone()),
                        key: is_key,
                    });
                }
            }
            if config.pk_mode == PkMode::RecordValue
                && let Some(missing) = config
                    .pk_fields
                    .iter()
                    .find(|p| s.schema().field(p).is_none())
            {
                return Err(Error::Data(format!(
                    "{}: pk.fields names \"{missing}\", which is not a field of the record value",
                    at(record)
                )));
            }
        }
        Value::Map(entries) => {
            let mut keys = Vec::with_capacity(entries.len());
            for (k, _) in entries {
                let Some(name) = k.as_str() else {
                    return Err(Error::Data(format!(
                        "{}: a schemaless value needs string keys to name columns",
                        at(record)
                    )));
                };
                keys.push(name.to_string());
                let is_key = config.pk_mode == PkMode::RecordValue
                    && (config.pk_fields.is_empty() || config.pk_fields.iter().any(|p| p == name));
                if fields.iter().any(|f| f.name == name) || !(is_key || include(name)) {
                    continue;
                }
                fields.push(Field {
                    name: name.to_string(),
                    source: Source::ValueEntry(name.to_string()),
                    schema: None,
                    key: is_key,
                });
            }
            map_keys = Some(keys);
        }
        other => {
            return Err(Error::Data(format!(
                "{}: the value is a {} (schema {}); the Postgres sink needs a struct (or a map) value to fill columns",
                at(record),
                other.kind(),
                record
                    .value_schema
                    .as_ref()
                    .map_or("none".to_string(), |s| s.schema_type().to_string())
            )));
        }
    }
    // Key columns first, in pk.fields order when given.
    fields.sort_by_key(|f| {
        if f.key {
            config
                .pk_fields
                .iter()
                .position(|p| *p == f.name)
                .unwrap_or(0)
        } else {
            usize::MAX
        }
    });
    Ok(Shape {
        fields,
        key_schema: record.key_schema.clone(),
        value_schema: record.value_schema.clone(),
        map_keys,
    })
}

/// The Postgres type for a Connect schema (CREATE TABLE / ALTER TABLE ADD COLUMN).
pub(crate) fn sql_type(schema: &Schema) -> Option<String> {
    if let Some(name) = schema.name() {
        let t = match name {
            ferry_api::logical::DECIMAL => "NUMERIC",
            ferry_api::logical::DATE | "io.debezium.time.Date" => "DATE",
            ferry_api::logical::TIME
            | "io.debezium.time.Time"
            | "io.debezium.time.MicroTime"
            | "io.debezium.time.NanoTime" => "TIME",
            ferry_api::logical::TIMESTAMP
            | "io.debezium.time.Timestamp"
            | "io.debezium.time.MicroTimestamp"
            | "io.debezium.time.NanoTimestamp" => "TIMESTAMP",
            "io.debezium.time.ZonedTimestamp" => "TIMESTAMPTZ",
            "io.debezium.data.Json" => "JSONB",
            "io.debezium.data.Uuid" => "UUID",
            _ => "",
        };
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    Some(
        match schema.schema_type() {
            SchemaType::Int8 | SchemaType::Int16 => "SMALLINT",
            SchemaType::Int32 => "INTEGER",
            SchemaType::Int64 => "BIGINT",
            SchemaType::Float32 => "REAL",
            SchemaType::Float64 => "DOUBLE PRECISION",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "TEXT",
            SchemaType::Bytes => "BYTEA",
            SchemaType::Array => {
                let item = schema.value_schema()?;
                if !item.schema_type().is_primitive() {
                    return None;
                }
                return Some(format!("{}[]", sql_type(item)?));
            }
            SchemaType::Map | SchemaType::Struct => "JSONB",
        }
        .to_string(),
    )
}
