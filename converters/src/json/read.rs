//! Turns parsed JSON into Connect schemas and values, as Kafka's
//! `JsonConverter.asConnectSchema` and `convertToConnect` do, but strictly: a payload that does
//! not fit its schema is an error naming the field, the expected type and what was found
//! (Kafka silently truncates numbers and turns wrong types into 0 or null).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use ferry_api::logical::{self, Decimal};
use ferry_api::{ByteStr, ConnectError, Result, Schema, SchemaBuilder, SchemaType, Struct, Value};

use super::parse::{Json, JsonStr, Member, is_integral};
use super::path::Path;
use super::write::{MILLIS_PER_DAY, default_of};

/// Standard base64; padding optional on read.
const BASE64_READ: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How values are read.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReadOptions<'b> {
    /// `replace.null.with.default`.
    pub(super) replace_null_with_default: bool,
    /// The record bytes the JSON was parsed from, so strings without escapes can share them.
    pub(super) src: Option<&'b Bytes>,
}

/// A STRING value from a JSON string, sharing the record's buffer when possible.
fn string_value(s: &JsonStr<'_>, src: Option<&Bytes>) -> Value {
    match (&s.text, src) {
        (std::borrow::Cow::Borrowed(text), Some(src)) => {
            Value::String(ByteStr::slice_of(src, text).unwrap_or_else(|| ByteStr::from(*text)))
        }
        (std::borrow::Cow::Borrowed(text), None) => Value::String(ByteStr::from(*text)),
        (std::borrow::Cow::Owned(text), _) => Value::String(ByteStr::from(text.clone())),
    }
}

/// The members of an object with repeated keys merged as Jackson's `ObjectNode` does:
/// first position, last value.
fn object_entries<'j, 'a>(members: &'j [Member<'a>]) -> Vec<(&'j str, &'j Json<'a>)> {
    let mut out: Vec<(&'j str, &'j Json<'a>)> = Vec::with_capacity(members.len());
    if members.len() <= 8 {
        for m in members {
            match out.iter_mut().find(|(k, _)| *k == m.key) {
                Some(slot) => slot.1 = &m.value,
                None => out.push((&m.key, &m.value)),
            }
        }
    } else {
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(members.len());
        for m in members {
            match index.entry(&m.key) {
                Entry::Occupied(e) => out[*e.get()].1 = &m.value,
                Entry::Vacant(e) => {
                    e.insert(out.len());
                    out.push((&m.key, &m.value));
                }
            }
        }
    }
    out
}

fn parse_i64(number: &str) -> Option<i64> {
    if is_integral(number) {
        number.parse().ok()
    } else {
        None
    }
}

/// A value read without a schema: integers → INT64, other numbers → FLOAT64, objects →
/// MAP with STRING keys (member order kept), arrays → ARRAY.
pub(super) fn read_schemaless(
    json: &Json<'_>,
    src: Option<&Bytes>,
    path: &Path<'_>,
) -> Result<Value> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) if is_integral(n) => Value::Int64(
            n.parse()
                .map_err(|_| path.read_error(format!("the integer {n} does not fit an INT64")))?,
        ),
        Json::Number(n) => Value::Float64(
            n.parse()
                .map_err(|_| path.read_error(format!("{n} is not a number")))?,
        ),
        Json::Str(s) => string_value(s, src),
        Json::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| read_schemaless(item, src, &Path::Index(path, i)))
                .collect::<Result<_>>()?,
        ),
        Json::Object(members) => Value::Map(
            object_entries(members)
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    Ok((
                        Value::String(ByteStr::from(k)),
                        read_schemaless(v, src, &Path::Index(path, i))?,
                    ))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

fn expected(path: &Path<'_>, what: &str, found: &Json<'_>) -> ConnectError {
    path.read_error(format!("expected {what}, found {}", found.describe()))
}

fn article(ty: SchemaType) -> &'static str {
    match ty {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64 => "an",
        _ => "a",
    }
}

fn read_int(json: &Json<'_>, ty: SchemaType, path: &Path<'_>) -> Result<i64> {
    let (min, max) = match ty {
        SchemaType::Int8 => (i64::from(i8::MIN), i64::from(i8::MAX)),
        SchemaType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        SchemaType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    // Described only on the error path: this runs for every integer of every record.
    let what = || format!("{} {ty} number", article(ty));
    match json {
        Json::Number(n) if is_integral(n) => match parse_i64(n) {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(path.read_error(format!("expected {}, found {n} (out of range)", what()))),
        },
        other => Err(expected(path, &what(), other)),
    }
}

fn read_float<F: std::str::FromStr>(
    json: &Json<'_>,
    ty: SchemaType,
    nan: F,
    inf: F,
    neg_inf: F,
    path: &Path<'_>,
) -> Result<F> {
    let what = || format!("a {ty} number");
    match json {
        Json::Number(n) => n.parse().map_err(|_| expected(path, &what(), json)),
        // Jackson writes non-finite floats as these strings.
        Json::Str(s) => match &*s.text {
            "NaN" => Ok(nan),
            "Infinity" => Ok(inf),
            "-Infinity" => Ok(neg_inf),
            _ => Err(expected(path, &what(), json)),
        },
        other => Err(expected(path, &what(), other)),
    }
}

fn read_base64(json: &Json<'_>, what: &str, path: &Path<'_>) -> Result<Vec<u8>> {
    match json {
        Json::Str(s) => BASE64_READ.decode(s.text.as_bytes()).map_err(|e| {
            path.read_error(format!("expected {what}, found {}: {e}", json.describe()))
        }),
        other => Err(expected(path, what, other)),
    }
}

/// `d` with the given scale if that changes no digit (`1.5` → `1.50` for scale 2).
fn rescale(d: Decimal, scale: i32) -> Decimal {
    let from = d.scale();
    if from == scale {
        return d;
    }
    let digits = Decimal::from_unscaled_bytes(d.unscaled_bytes(), 0).to_plain_string();
    let text = if from < scale {
        let Some(extra) = usize::try_from(i64::from(scale) - i64::from(from))
            .ok()
            .filter(|&e| e <= 1000)
        else {
            return d;
        };
        format!("{digits}{}E{}", "0".repeat(extra), -i64::from(scale))
    } else {
        let Ok(drop) = usize::try_from(i64::from(from) - i64::from(scale)) else {
            return d;
        };
        let (negative, magnitude) = match digits.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, digits.as_str()),
        };
        if magnitude == "0" {
            format!("0E{}", -i64::from(scale))
        } else if drop < magnitude.len() && magnitude.bytes().rev().take(drop).all(|b| b == b'0') {
            let kept = &magnitude[..magnitude.len() - drop];
            format!(
                "{}{kept}E{}",
                if negative { "-" } else { "" },
                -i64::from(scale)
            )
        } else {
            return d;
        }
    };
    Decimal::parse(&text).unwrap_or(d)
}

fn read_decimal(schema: &Schema, json: &Json<'_>, path: &Path<'_>) -> Result<Value> {
    let what = "a number or a base64 string (Decimal)";
    match json {
        Json::Number(n) => {
            let d = Decimal::parse(n).map_err(|e| path.read_error(e))?;
            Ok(Value::Decimal(match logical::decimal_scale(schema) {
                Ok(scale) => rescale(d, scale),
                Err(_) => d,
            }))
        }
        Json::Str(_) => {
            let scale = logical::decimal_scale(schema).map_err(|e| path.read_error(e))?;
            let bytes = read_base64(json, what, path)?;
            Ok(Value::Decimal(Decimal::from_unscaled_bytes(&bytes, scale)))
        }
        other => Err(expected(path, what, other)),
    }
}

/// A value read with a schema (Kafka's `convertToConnect` with a non-null schema). `None`
/// is a missing struct member, which reads like `null`.
pub(super) fn read_value(
    schema: &Schema,
    json: Option<&Json<'_>>,
    o: &ReadOptions<'_>,
    path: &Path<'_>,
) -> Result<Value> {
    let json = match json {
        None | Some(Json::Null) => {
            if o.replace_null_with_default
                && let Some(default) = default_of(schema)
            {
                return Ok(default.clone());
            }
            if schema.is_optional() {
                return Ok(Value::Null);
            }
            return Err(path.read_error(format!(
                "null value for a required {} field",
                schema.schema_type()
            )));
        }
        Some(json) => json,
    };
    if let Some(name) = schema.name() {
        match name {
            logical::DECIMAL => return read_decimal(schema, json, path),
            logical::DATE => {
                let days = read_int(json, SchemaType::Int32, path)?;
                return Ok(Value::Date(days as i32));
            }
            logical::TIME => {
                let ms = read_int(json, SchemaType::Int32, path)? as i32;
                if !(0..=MILLIS_PER_DAY).contains(&ms) {
                    return Err(path.read_error(format!(
                        "a Time value must be between 0 and {MILLIS_PER_DAY} milliseconds, not {ms}"
                    )));
                }
                return Ok(Value::Time(ms));
            }
            logical::TIMESTAMP => {
                return Ok(Value::Timestamp(read_int(json, SchemaType::Int64, path)?));
            }
            _ => {}
        }
    }
    let ty = schema.schema_type();
    Ok(match ty {
        SchemaType::Boolean => match json {
            Json::Bool(b) => Value::Boolean(*b),
            other => return Err(expected(path, "a BOOLEAN (true or false)", other)),
        },
        SchemaType::Int8 => Value::Int8(read_int(json, ty, path)? as i8),
        SchemaType::Int16 => Value::Int16(read_int(json, ty, path)? as i16),
        SchemaType::Int32 => Value::Int32(read_int(json, ty, path)? as i32),
        SchemaType::Int64 => Value::Int64(read_int(json, ty, path)?),
        SchemaType::Float32 => Value::Float32(read_float(
            json,
            ty,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            path,
        )?),
        SchemaType::Float64 => Value::Float64(read_float(
            json,
            ty,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            path,
        )?),
        SchemaType::String => match json {
            Json::Str(s) => string_value(s, o.src),
            other => return Err(expected(path, "a STRING", other)),
        },
        SchemaType::Bytes => Value::Bytes(Bytes::from(read_base64(
            json,
            "a base64 string (BYTES)",
            path,
        )?)),
        SchemaType::Array => match json {
            Json::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let p = Path::Index(path, i);
                        match schema.value_schema() {
                            Some(s) => read_value(s, Some(item), o, &p),
                            None => read_schemaless(item, o.src, &p),
                        }
                    })
                    .collect::<Result<_>>()?,
            ),
            other => return Err(expected(path, "a JSON array (ARRAY)", other)),
        },
        SchemaType::Map => read_map(schema, json, o, path)?,
        SchemaType::Struct => match json {
            Json::Object(members) => {
                let mut s = Struct::new(schema.clone())?;
                for (i, field) in schema.fields().iter().enumerate() {
                    // Members usually come in schema order: try that position first.
                    let member = match members.get(i) {
                        Some(m) if m.key == field.name() => Some(&m.value),
                        _ => json.get(field.name()),
                    };
                    let p = Path::Field(path, field.name());
                    let v = read_value(field.schema(), member, o, &p)?;
                    if !v.is_null() {
                        s.put(field.name(), v).map_err(|e| p.read_error(e))?;
                    }
                }
                Value::Struct(s)
            }
            other => return Err(expected(path, "a JSON object (STRUCT)", other)),
        },
    })
}

fn read_entry(
    schema: Option<&Schema>,
    json: &Json<'_>,
    o: &ReadOptions<'_>,
    path: &Path<'_>,
) -> Result<Value> {
    match schema {
        Some(s) => read_value(s, Some(json), o, path),
        None => read_schemaless(json, o.src, path),
    }
}

fn read_map(
    schema: &Schema,
    json: &Json<'_>,
    o: &ReadOptions<'_>,
    path: &Path<'_>,
) -> Result<Value> {
    let key_schema = schema.key_schema();
    let string_keys = key_schema.is_none_or(|k| k.schema_type() == SchemaType::String);
    if string_keys {
        let Json::Object(members) = json else {
            return Err(expected(path, "a JSON object (MAP with STRING keys)", json));
        };
        return Ok(Value::Map(
            object_entries(members)
                .into_iter()
                .enumerate()
                .map(|(i, (k, v))| {
                    let p = Path::Index(path, i);
                    Ok((
                        Value::String(ByteStr::from(k)),
                        read_entry(schema.value_schema(), v, o, &p)?,
                    ))
                })
                .collect::<Result<_>>()?,
        ));
    }
    let key_type = key_schema
        .map(Schema::schema_type)
        .unwrap_or(SchemaType::String);
    let Json::Array(entries) = json else {
        return Err(expected(
            path,
            &format!("a JSON array of [key, value] pairs (MAP with {key_type} keys)"),
            json,
        ));
    };
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let p = Path::Index(path, i);
        match entry {
            Json::Array(pair) if pair.len() == 2 => out.push((
                read_entry(key_schema, &pair[0], o, &p)?,
                read_entry(schema.value_schema(), &pair[1], o, &p)?,
            )),
            other => return Err(expected(&p, "a [key, value] pair", other)),
        }
    }
    Ok(Value::Map(out))
}

fn schema_error(message: impl Into<String>) -> ConnectError {
    ConnectError::Data(format!("JSON schema: {}", message.into()))
}

/// The parts of a schema read from JSON, kept so the builder can be made twice (once to
/// read the default value with, once for the result).
struct Parts {
    ty: SchemaType,
    items: Option<Schema>,
    keys: Option<Schema>,
    values: Option<Schema>,
    fields: Vec<(String, Schema)>,
    optional: bool,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
    parameters: Vec<(String, String)>,
}

impl Parts {
    fn builder(&self) -> SchemaBuilder {
        let mut b = match (self.ty, &self.items, &self.keys, &self.values) {
            (SchemaType::Array, Some(items), _, _) => SchemaBuilder::array(items.clone()),
            (SchemaType::Map, _, Some(k), Some(v)) => SchemaBuilder::map(k.clone(), v.clone()),
            (ty, ..) => SchemaBuilder::new(ty),
        };
        for (name, schema) in &self.fields {
            b = b.field(name.clone(), schema.clone());
        }
        b = b.set_optional(self.optional);
        if let Some(name) = &self.name {
            b = b.name(name.clone());
        }
        if let Some(version) = self.version {
            b = b.version(version);
        }
        if let Some(doc) = &self.doc {
            b = b.doc(doc.clone());
        }
        for (k, v) in &self.parameters {
            b = b.parameter(k.clone(), v.clone());
        }
        b
    }
}

fn required_schema(json: Option<&Json<'_>>, o: &ReadOptions<'_>, missing: &str) -> Result<Schema> {
    match json {
        None | Some(Json::Null) => Err(schema_error(missing)),
        Some(j) => read_schema(j, o)?.ok_or_else(|| schema_error(missing)),
    }
}

/// A schema from its JSON form (Kafka's `asConnectSchema`); JSON `null` is no schema.
pub(super) fn read_schema(json: &Json<'_>, o: &ReadOptions<'_>) -> Result<Option<Schema>> {
    if let Json::Null = json {
        return Ok(None);
    }
    let ty = match json.get("type") {
        Some(Json::Str(s)) => match &*s.text {
            "boolean" => SchemaType::Boolean,
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" => SchemaType::Float32,
            "double" => SchemaType::Float64,
            "bytes" => SchemaType::Bytes,
            "string" => SchemaType::String,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            other => return Err(schema_error(format!("Unknown schema type: {other}"))),
        },
        _ => {
            return Err(schema_error(format!(
                "Schema must contain 'type' field (found {})",
                json.describe()
            )));
        }
    };
    let mut parts = Parts {
        ty,
        items: None,
        keys: None,
        values: None,
        fields: Vec::new(),
        optional: matches!(json.get("optional"), Some(Json::Bool(true))),
        name: match json.get("name") {
            Some(Json::Str(s)) => Some(s.text.to_string()),
            _ => None,
        },
        // Java's `intValue()` of a long keeps the low 32 bits.
        version: match json.get("version") {
            Some(Json::Number(n)) => parse_i64(n).map(|v| v as i32),
            _ => None,
        },
        doc: match json.get("doc") {
            Some(Json::Str(s)) => Some(s.text.to_string()),
            _ => None,
        },
        parameters: Vec::new(),
    };
    match ty {
        SchemaType::Array => {
            parts.items = Some(required_schema(
                json.get("items"),
                o,
                "Array schema did not specify the element type",
            )?);
        }
        SchemaType::Map => {
            parts.keys = Some(required_schema(
                json.get("keys"),
                o,
                "Map schema did not specify the key type",
            )?);
            parts.values = Some(required_schema(
                json.get("values"),
                o,
                "Map schema did not specify the value type",
            )?);
        }
        SchemaType::Struct => {
            let Some(Json::Array(fields)) = json.get("fields") else {
                return Err(schema_error(
                    "Struct schema's \"fields\" argument is not an array.",
                ));
            };
            for field in fields {
                let Some(Json::Str(name)) = field.get("field") else {
                    return Err(schema_error(
                        "Struct schema's field name not specified properly",
                    ));
                };
                if parts.fields.iter().any(|(n, _)| *n == name.text) {
                    return Err(schema_error(format!(
                        "Cannot create field because of field name duplication {}",
                        name.text
                    )));
                }
                let schema = required_schema(Some(field), o, "Struct field has no schema")?;
                parts.fields.push((name.text.to_string(), schema));
            }
        }
        _ => {}
    }
    if let Some(Json::Object(params)) = json.get("parameters") {
        for (k, v) in object_entries(params) {
            match v {
                Json::Str(s) => parts.parameters.push((k.to_string(), s.text.to_string())),
                _ => return Err(schema_error("Schema parameters must have string values.")),
            }
        }
    }
    let mut builder = parts.builder();
    if let Some(default) = json.get("default") {
        let plain = parts.builder().build();
        let value = read_value(&plain, Some(default), o, &Path::Default(&Path::Root))
            .map_err(|e| schema_error(e.to_string()))?;
        if !value.is_null() {
            builder = builder.default_value(value);
        }
    }
    Ok(Some(builder.build()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse::parse;

    #[test]
    fn rescales_decimals_without_losing_digits() {
        let d = |t: &str| Decimal::parse(t).unwrap();
        assert_eq!(rescale(d("1.5"), 2), d("1.50"));
        assert_eq!(rescale(d("-1.5"), 4), d("-1.5000"));
        assert_eq!(rescale(d("1.500"), 1), d("1.5"));
        assert_eq!(rescale(d("-12.300"), 1), d("-12.3"));
        assert_eq!(rescale(d("1.55"), 1), d("1.55"), "would lose a digit: kept");
        assert_eq!(rescale(d("0.000"), 1), d("0.0"));
        assert_eq!(rescale(d("1E+3"), 0), d("1000"));
        assert_eq!(rescale(d("1000"), -2), d("10E+2"));
        assert_eq!(rescale(d("7"), 2).scale(), 2);
    }

    #[test]
    fn object_entries_merge_repeated_keys_like_jackson() {
        let j = parse(br#"{"a":1,"b":2,"a":3}"#).unwrap().unwrap();
        let Json::Object(m) = &j else { panic!() };
        let e = object_entries(m);
        assert_eq!(
            e,
            vec![("a", &Json::Number("3")), ("b", &Json::Number("2"))]
        );
        let many: String = (0..20).map(|i| format!("\"k{}\":{i},", i % 10)).collect();
        let text = format!("{{{}\"z\":0}}", many);
        let j = parse(text.as_bytes()).unwrap().unwrap();
        let Json::Object(m) = &j else { panic!() };
        let e = object_entries(m);
        assert_eq!(e.len(), 11);
        assert_eq!(e[0], ("k0", &Json::Number("10")));
    }
}
