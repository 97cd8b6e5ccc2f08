//! Connect's data model: a [`Schema`] describes a [`Value`].
//!
//! The core types are the ones of Kafka Connect's `Schema.Type`; logical types (Decimal,
//! Date, Time, Timestamp) are core types plus a well-known schema name, see [`crate::logical`].
//! Values of logical types have their own [`Value`] variants so that code handling them
//! cannot confuse "days since epoch" with an ordinary `INT32`.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{ConnectError, Result};
use crate::logical::{self, Decimal};

/// The core type of a schema, as in Kafka Connect's `Schema.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// IEEE 754 single precision.
    Float32,
    /// IEEE 754 double precision.
    Float64,
    /// `true` or `false`.
    Boolean,
    /// UTF-8 text.
    String,
    /// Raw bytes.
    Bytes,
    /// A sequence of values of one schema.
    Array,
    /// A map from key schema to value schema.
    Map,
    /// Named fields, each with a schema.
    Struct,
}

impl SchemaType {
    /// Kafka Connect's name of the type (`INT32`, `STRING`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "INT8",
            SchemaType::Int16 => "INT16",
            SchemaType::Int32 => "INT32",
            SchemaType::Int64 => "INT64",
            SchemaType::Float32 => "FLOAT32",
            SchemaType::Float64 => "FLOAT64",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "STRING",
            SchemaType::Bytes => "BYTES",
            SchemaType::Array => "ARRAY",
            SchemaType::Map => "MAP",
            SchemaType::Struct => "STRUCT",
        }
    }

    /// Whether the type is a primitive (not array, map or struct).
    pub fn is_primitive(self) -> bool {
        !matches!(
            self,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct
        )
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    name: String,
    index: usize,
    schema: Schema,
}

impl Field {
    /// The field's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Position of the field in its struct.
    pub fn index(&self) -> usize {
        self.index
    }
    /// The field's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
}

#[derive(Debug, PartialEq)]
struct SchemaInner {
    ty: SchemaType,
    optional: bool,
    default: Option<Value>,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: Vec<(String, String)>,
    fields: Vec<Field>,
    key: Option<Schema>,
    value: Option<Schema>,
}

/// An immutable schema, cheap to clone (reference counted).
#[derive(Clone)]
pub struct Schema(Arc<SchemaInner>);

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Schema");
        d.field("type", &self.0.ty);
        if self.0.optional {
            d.field("optional", &true);
        }
        if let Some(name) = &self.0.name {
            d.field("name", name);
        }
        if !self.0.fields.is_empty() {
            d.field("fields", &self.0.fields);
        }
        if let Some(k) = &self.0.key {
            d.field("keys", k);
        }
        if let Some(v) = &self.0.value {
            d.field("values", v);
        }
        d.finish()
    }
}

macro_rules! primitive_ctor {
    ($($fn_name:ident, $opt_name:ident => $ty:ident;)*) => {
        $(
            #[doc = concat!("A required `", stringify!($ty), "` schema.")]
            pub fn $fn_name() -> Schema {
                SchemaBuilder::new(SchemaType::$ty).build()
            }
            #[doc = concat!("An optional `", stringify!($ty), "` schema.")]
            pub fn $opt_name() -> Schema {
                SchemaBuilder::new(SchemaType::$ty).optional().build()
            }
        )*
    };
}

impl Schema {
    primitive_ctor! {
        int8, optional_int8 => Int8;
        int16, optional_int16 => Int16;
        int32, optional_int32 => Int32;
        int64, optional_int64 => Int64;
        float32, optional_float32 => Float32;
        float64, optional_float64 => Float64;
        boolean, optional_boolean => Boolean;
        string, optional_string => String;
        bytes, optional_bytes => Bytes;
    }

    /// Starts a builder for a schema of type `ty`.
    pub fn builder(ty: SchemaType) -> SchemaBuilder {
        SchemaBuilder::new(ty)
    }

    /// Whether `self` and `other` are the same schema object (clones of one `Schema`), which
    /// implies `==`; a pointer comparison, unlike `==` between distinct equal schemas.
    pub fn is_same(&self, other: &Schema) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A number that identifies this schema object (and its clones) for as long as one of
    /// them is alive, for caches keyed by schema object; equal schemas built separately have
    /// different identities.
    pub fn identity(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The core type.
    pub fn schema_type(&self) -> SchemaType {
        self.0.ty
    }
    /// Whether `null` is an acceptable value.
    pub fn is_optional(&self) -> bool {
        self.0.optional
    }
    /// The default value, if any.
    pub fn default_value(&self) -> Option<&Value> {
        self.0.default.as_ref()
    }
    /// The schema's name (e.g. a record name, or a logical type name).
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// The schema's version.
    pub fn version(&self) -> Option<i32> {
        self.0.version
    }
    /// Documentation.
    pub fn doc(&self) -> Option<&str> {
        self.0.doc.as_deref()
    }
    /// Parameters, in insertion order.
    pub fn parameters(&self) -> &[(String, String)] {
        &self.0.parameters
    }
    /// One parameter's value.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.0
            .parameters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// The fields of a struct schema (empty for other types).
    pub fn fields(&self) -> &[Field] {
        &self.0.fields
    }
    /// A struct field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.0.fields.iter().find(|f| f.name == name)
    }
    /// The key schema of a map.
    pub fn key_schema(&self) -> Option<&Schema> {
        self.0.key.as_ref()
    }
    /// The value schema of a map, or the item schema of an array.
    pub fn value_schema(&self) -> Option<&Schema> {
        self.0.value.as_ref()
    }

    /// Checks that `value` conforms to this schema (recursively), as Connect's
    /// `ConnectSchema.validateValue` does.
    pub fn validate(&self, value: &Value) -> Result<()> {
        self.validate_at(value, "")
    }

    fn validate_at(&self, value: &Value, path: &str) -> Result<()> {
        let here = |msg: String| {
            if path.is_empty() {
                ConnectError::Data(msg)
            } else {
                ConnectError::Data(format!("field \"{path}\": {msg}"))
            }
        };
        if let Value::Null = value {
            return if self.is_optional() || self.default_value().is_some() {
                Ok(())
            } else {
                Err(here(format!(
                    "null value for a required {} schema",
                    self.schema_type()
                )))
            };
        }
        let logical = self.name().filter(|n| logical::is_logical(n));
        let ok = match (self.schema_type(), value, logical) {
            (SchemaType::Bytes, Value::Decimal(_), Some(logical::DECIMAL)) => true,
            (SchemaType::Int32, Value::Date(_), Some(logical::DATE)) => true,
            (SchemaType::Int32, Value::Time(_), Some(logical::TIME)) => true,
            (SchemaType::Int64, Value::Timestamp(_), Some(logical::TIMESTAMP)) => true,
            (_, _, Some(_)) => false,
            (SchemaType::Int8, Value::Int8(_), _)
            | (SchemaType::Int16, Value::Int16(_), _)
            | (SchemaType::Int32, Value::Int32(_), _)
            | (SchemaType::Int64, Value::Int64(_), _)
            | (SchemaType::Float32, Value::Float32(_), _)
            | (SchemaType::Float64, Value::Float64(_), _)
            | (SchemaType::Boolean, Value::Boolean(_), _)
            | (SchemaType::String, Value::String(_), _)
            | (SchemaType::Bytes, Value::Bytes(_), _) => true,
            (SchemaType::Array, Value::Array(items), _) => {
                if let Some(item_schema) = self.value_schema() {
                    for item in items {
                        item_schema.validate_at(item, path)?;
                    }
                }
                true
            }
            (SchemaType::Map, Value::Map(entries), _) => {
                for (k, v) in entries {
                    if let Some(ks) = self.key_schema() {
                        ks.validate_at(k, path)?;
                    }
                    if let Some(vs) = self.value_schema() {
                        vs.validate_at(v, path)?;
                    }
                }
                true
            }
            (SchemaType::Struct, Value::Struct(s), _) => {
                if s.schema() != self {
                    return Err(here("struct value has a different schema".into()));
                }
                true
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(here(format!(
                "a {} value does not match the schema type {}{}",
                value.kind(),
                self.schema_type(),
                logical.map(|n| format!(" ({n})")).unwrap_or_default()
            )))
        }
    }
}

/// Builds a [`Schema`]; mirrors Kafka Connect's `SchemaBuilder`.
#[derive(Debug)]
pub struct SchemaBuilder {
    inner: SchemaInner,
}

impl SchemaBuilder {
    /// A builder for a schema of type `ty`.
    pub fn new(ty: SchemaType) -> Self {
        SchemaBuilder {
            inner: SchemaInner {
                ty,
                optional: false,
                default: None,
                name: None,
                version: None,
                doc: None,
                parameters: Vec::new(),
                fields: Vec::new(),
                key: None,
                value: None,
            },
        }
    }
    /// A struct schema builder.
    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }
    /// An array schema builder with the given item schema.
    pub fn array(items: Schema) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.inner.value = Some(items);
        b
    }
    /// A map schema builder.
    pub fn map(keys: Schema, values: Schema) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.inner.key = Some(keys);
        b.inner.value = Some(values);
        b
    }
    /// Marks the schema optional.
    pub fn optional(mut self) -> Self {
        self.inner.optional = true;
        self
    }
    /// Sets whether the schema is optional.
    pub fn set_optional(mut self, optional: bool) -> Self {
        self.inner.optional = optional;
        self
    }
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.inner.name = Some(name.into());
        self
    }
    /// Sets the version.
    pub fn version(mut self, version: i32) -> Self {
        self.inner.version = Some(version);
        self
    }
    /// Sets the doc.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.inner.doc = Some(doc.into());
        self
    }
    /// Sets the default value (not checked against the schema until [`SchemaBuilder::build`]).
    pub fn default_value(mut self, value: Value) -> Self {
        self.inner.default = Some(value);
        self
    }
    /// Adds or replaces a parameter.
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        let value = value.into();
        match self.inner.parameters.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.inner.parameters.push((key, value)),
        }
        self
    }
    /// Adds a struct field. A field name given twice replaces the earlier schema.
    pub fn field(mut self, name: impl Into<String>, schema: Schema) -> Self {
        let name = name.into();
        if let Some(f) = self.inner.fields.iter_mut().find(|f| f.name == name) {
            f.schema = schema;
        } else {
            let index = self.inner.fields.len();
            self.inner.fields.push(Field {
                name,
                index,
                schema,
            });
        }
        self
    }
    /// Finishes the schema.
    pub fn build(self) -> Schema {
        Schema(Arc::new(self.inner))
    }
}

/// UTF-8 text held in [`Bytes`], so that a line read from a file or a fetched record can
/// become a Connect `STRING` value without a copy.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// Wraps `bytes` if they are valid UTF-8; gives them back otherwise.
    pub fn from_utf8(bytes: Bytes) -> std::result::Result<ByteStr, Bytes> {
        if std::str::from_utf8(&bytes).is_ok() {
            Ok(ByteStr(bytes))
        } else {
            Err(bytes)
        }
    }
    /// The part of `bytes` that `text` borrows, without checking its UTF-8 again; `None`
    /// when `text` does not lie within `bytes`.
    pub fn slice_of(bytes: &Bytes, text: &str) -> Option<ByteStr> {
        let start = (text.as_ptr() as usize).checked_sub(bytes.as_ptr() as usize)?;
        (start + text.len() <= bytes.len()).then(|| ByteStr(bytes.slice(start..start + text.len())))
    }
    /// From a static string, without a copy.
    pub const fn from_static(s: &'static str) -> ByteStr {
        ByteStr(Bytes::from_static(s.as_bytes()))
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        // The invariant is checked on construction; this re-check is cheap next to any use
        // of the text and keeps the crate free of `unsafe`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
    /// Gives up the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        ByteStr(Bytes::from(s))
    }
}
impl From<&str> for ByteStr {
    fn from(s: &str) -> Self {
        ByteStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}
impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}
impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Connect value. `Null` stands for Java's `null`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// BOOLEAN.
    Boolean(bool),
    /// INT8.
    Int8(i8),
    /// INT16.
    Int16(i16),
    /// INT32.
    Int32(i32),
    /// INT64.
    Int64(i64),
    /// FLOAT32.
    Float32(f32),
    /// FLOAT64.
    Float64(f64),
    /// STRING.
    String(ByteStr),
    /// BYTES.
    Bytes(Bytes),
    /// ARRAY.
    Array(Vec<Value>),
    /// MAP, entries in order.
    Map(Vec<(Value, Value)>),
    /// STRUCT.
    Struct(Struct),
    /// Logical Decimal (BYTES underneath).
    Decimal(Decimal),
    /// Logical Date: days since 1970-01-01 (INT32 underneath).
    Date(i32),
    /// Logical Time: milliseconds since midnight (INT32 underneath).
    Time(i32),
    /// Logical Timestamp: milliseconds since the epoch (INT64 underneath).
    Timestamp(i64),
}

impl Value {
    /// A short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "BOOLEAN",
            Value::Int8(_) => "INT8",
            Value::Int16(_) => "INT16",
            Value::Int32(_) => "INT32",
            Value::Int64(_) => "INT64",
            Value::Float32(_) => "FLOAT32",
            Value::Float64(_) => "FLOAT64",
            Value::String(_) => "STRING",
            Value::Bytes(_) => "BYTES",
            Value::Array(_) => "ARRAY",
            Value::Map(_) => "MAP",
            Value::Struct(_) => "STRUCT",
            Value::Decimal(_) => "Decimal",
            Value::Date(_) => "Date",
            Value::Time(_) => "Time",
            Value::Timestamp(_) => "Timestamp",
        }
    }
    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// A string value from text.
    pub fn string(s: impl Into<ByteStr>) -> Value {
        Value::String(s.into())
    }
    /// The text of a `STRING` value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }
    /// The value of an integer of any width.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v.into()),
            Value::Int16(v) => Some(v.into()),
            Value::Int32(v) => Some(v.into()),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.into())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s.into())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int64(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int32(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

/// A struct value: a schema and one value per field.
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    schema: Schema,
    values: Vec<Value>,
}

impl Struct {
    /// An empty struct (all fields null) of a struct schema.
    pub fn new(schema: Schema) -> Result<Struct> {
        if schema.schema_type() != SchemaType::Struct {
            return Err(ConnectError::Data(format!(
                "a Struct needs a STRUCT schema, not {}",
                schema.schema_type()
            )));
        }
        let values = vec![Value::Null; schema.fields().len()];
        Ok(Struct { schema, values })
    }
    /// A struct with one value per field, in field order, each checked against its
    /// field's schema (faster than [`Struct::put`] per field when all values are at hand).
    pub fn from_values(schema: Schema, values: Vec<Value>) -> Result<Struct> {
        if schema.schema_type() != SchemaType::Struct {
            return Err(ConnectError::Data(format!(
                "a Struct needs a STRUCT schema, not {}",
                schema.schema_type()
            )));
        }
        if values.len() != schema.fields().len() {
            return Err(ConnectError::Data(format!(
                "{} values for a struct of {} fields",
                values.len(),
                schema.fields().len()
            )));
        }
        for (field, value) in schema.fields().iter().zip(&values) {
            field.schema().validate(value).map_err(|e| match e {
                ConnectError::Data(msg) => {
                    ConnectError::Data(format!("field \"{}\": {msg}", field.name()))
                }
                other => other,
            })?;
        }
        Ok(Struct { schema, values })
    }
    /// The struct's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }
    /// Sets a field, checking the value against the field's schema.
    pub fn put(&mut self, field: &str, value: Value) -> Result<&mut Self> {
        let f = self.schema.field(field).ok_or_else(|| {
            ConnectError::Data(format!("\"{field}\" is not a field of this struct"))
        })?;
        f.schema().validate(&value).map_err(|e| match e {
            ConnectError::Data(msg) => ConnectError::Data(format!("field \"{field}\": {msg}")),
            other => other,
        })?;
        let index = f.index();
        self.values[index] = value;
        Ok(self)
    }
    /// Builder-style [`Struct::put`].
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Result<Self> {
        self.put(field, value.into())?;
        Ok(self)
    }
    /// A field's value (`Null` when unset); `None` if there is no such field.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.schema.field(field).map(|f| &self.values[f.index()])
    }
    /// The field values in schema order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }
    /// Checks that every required field is set.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in self.schema.fields().iter().zip(&self.values) {
            field
                .schema()
                .validate(value)
                .map_err(|e| ConnectError::Data(format!("field \"{}\": {e}", field.name())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_str_slices_only_text_within_its_bytes() {
        let bytes = Bytes::from_static("{\"name\":\"é\"}".as_bytes());
        let text = std::str::from_utf8(&bytes[9..11]).unwrap();
        let s = ByteStr::slice_of(&bytes, text).unwrap();
        assert_eq!(s.as_str(), "é");
        assert_eq!(
            s.as_bytes().as_ptr(),
            bytes[9..].as_ptr(),
            "shares the buffer"
        );
        assert!(ByteStr::slice_of(&bytes, &String::from("é")).is_none());
        assert!(ByteStr::slice_of(&bytes.slice(..10), text).is_none());
    }

    fn user_schema() -> Schema {
        SchemaBuilder::struct_()
            .name("com.example.User")
            .version(1)
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .build()
    }

    #[test]
    fn struct_put_checks_types() {
        let mut s = Struct::new(user_schema()).unwrap();
        s.put("id", Value::Int32(1)).unwrap();
        let err = s.put("id", Value::from("x")).unwrap_err().to_string();
        assert!(err.contains("field \"id\""), "{err}");
        assert!(s.put("nope", Value::Null).is_err());
        assert!(s.validate().is_err(), "tags is required and unset");
        s.put("tags", Value::Array(vec!["a".into()])).unwrap();
        s.validate().unwrap();
        assert_eq!(s.get("name"), Some(&Value::Null));
    }

    #[test]
    fn logical_values_need_their_schema() {
        let date = logical::date_schema();
        date.validate(&Value::Date(3)).unwrap();
        assert!(date.validate(&Value::Int32(3)).is_err());
        assert!(Schema::int32().validate(&Value::Date(3)).is_err());
    }

    #[test]
    fn byte_str_rejects_invalid_utf8() {
        assert!(ByteStr::from_utf8(Bytes::from_static(b"\xff\xfe")).is_err());
        assert_eq!(
            ByteStr::from_utf8(Bytes::from_static(b"h\xc3\xa9"))
                .unwrap()
                .as_str(),
            "hé"
        );
    }
}
