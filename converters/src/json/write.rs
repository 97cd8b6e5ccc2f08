//! Writes Connect schemas and values as JSON text, byte for byte as Kafka's `JsonConverter`
//! (Jackson `writeValueAsBytes`, no pretty printer): no whitespace, members in the order
//! Kafka inserts them, Java number text, Jackson's string escapes and base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ferry_api::java_text::{write_double, write_float, write_long};
use ferry_api::logical::{self, Decimal};
use ferry_api::{Result, Schema, SchemaType, Value};

use super::path::Path;

/// Milliseconds in a day: the upper bound of a Time value.
pub(super) const MILLIS_PER_DAY: i32 = 24 * 60 * 60 * 1000;

/// How values are written.
#[derive(Debug, Clone, Copy)]
pub(super) struct WriteOptions {
    /// `decimal.format=NUMERIC`: Decimals as JSON numbers instead of base64 strings.
    pub(super) decimal_numeric: bool,
    /// `replace.null.with.default`.
    pub(super) replace_null_with_default: bool,
    /// Never fail: values that do not match their schema are written schemaless, required
    /// nulls as `null`, structs and logical values without a schema by their own schema or
    /// underlying value. Used for the worker's internal topics.
    pub(super) lenient: bool,
}

/// The JSON `type` name of a core type (`float`/`double` for FLOAT32/FLOAT64, as Kafka).
pub(super) fn type_name(ty: SchemaType) -> &'static str {
    match ty {
        SchemaType::Int8 => "int8",
        SchemaType::Int16 => "int16",
        SchemaType::Int32 => "int32",
        SchemaType::Int64 => "int64",
        SchemaType::Float32 => "float",
        SchemaType::Float64 => "double",
        SchemaType::Boolean => "boolean",
        SchemaType::String => "string",
        SchemaType::Bytes => "bytes",
        SchemaType::Array => "array",
        SchemaType::Map => "map",
        SchemaType::Struct => "struct",
    }
}

/// For each byte below 0x80: 0 if it is written as is, else the character after the
/// backslash (`u` for the `\u00XX` form). Jackson's `CharTypes.sOutputEscapes128`.
const ESCAPES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `s` as a JSON string the way Jackson's `UTF8JsonGenerator` does: `"` and `\\`
/// and control characters escaped (`\n`, `\t`, `\r`, `\b`, `\f`, others `\u00XX` with
/// upper-case hex); characters outside the Basic Multilingual Plane as an escaped UTF-16
/// surrogate pair (`😀` → `\uD83D\uDE00`; Jackson's `COMBINE_UNICODE_SURROGATES_IN_UTF8` is
/// off by default); everything else (`/`, DEL, other non-ASCII) as raw UTF-8.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let esc = ESCAPES[b as usize];
            if esc != 0 {
                out.extend_from_slice(&bytes[run..i]);
                out.push(b'\\');
                out.push(esc);
                if esc == b'u' {
                    out.extend_from_slice(b"00");
                    out.push(HEX_UPPER[(b >> 4) as usize]);
                    out.push(HEX_UPPER[(b & 0xf) as usize]);
                }
                run = i + 1;
            }
            i += 1;
        } else if b >= 0xF0 {
            // A four-byte sequence: a supplementary character.
            out.extend_from_slice(&bytes[run..i]);
            let c = (u32::from(b & 0x07) << 18)
                | (u32::from(bytes[i + 1] & 0x3F) << 12)
                | (u32::from(bytes[i + 2] & 0x3F) << 6)
                | u32::from(bytes[i + 3] & 0x3F);
            let v = c - 0x10000;
            write_u_escape(out, 0xD800 + (v >> 10));
            write_u_escape(out, 0xDC00 + (v & 0x3FF));
            i += 4;
            run = i;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

fn write_u_escape(out: &mut Vec<u8>, unit: u32) {
    out.extend_from_slice(b"\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX_UPPER[((unit >> shift) & 0xF) as usize]);
    }
}

/// Appends `bytes` as a JSON string in standard base64 with padding (Jackson's
/// `MIME_NO_LINEFEEDS` variant).
pub(super) fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.reserve(len + 2);
    out.push(b'"');
    let start = out.len();
    out.resize(start + len, 0);
    match STANDARD.encode_slice(bytes, &mut out[start..]) {
        Ok(written) => out.truncate(start + written),
        Err(_) => out.truncate(start), // cannot happen: the slice has the encoded length
    }
    out.push(b'"');
}

/// Jackson writes non-finite floats as strings (`QUOTE_NON_NUMERIC_NUMBERS` is on by default).
fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        write_double(out, v);
    } else {
        out.push(b'"');
        write_double(out, v);
        out.push(b'"');
    }
}

fn write_f32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        write_float(out, v);
    } else {
        out.push(b'"');
        write_float(out, v);
        out.push(b'"');
    }
}

/// The schema's default value (a `Null` default counts as none, like Java's `null`).
pub(super) fn default_of(schema: &Schema) -> Option<&Value> {
    schema.default_value().filter(|d| !d.is_null())
}

fn write_opt_schema(out: &mut Vec<u8>, schema: Option<&Schema>, o: &WriteOptions) -> Result<()> {
    match schema {
        Some(s) => write_schema(out, s, None, o),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// Appends the JSON form of `schema` (Kafka's `JsonConverter.asJsonSchema`), with a
/// trailing `"field":"<name>"` member for a struct field's schema.
pub(super) fn write_schema(
    out: &mut Vec<u8>,
    schema: &Schema,
    field: Option<&str>,
    o: &WriteOptions,
) -> Result<()> {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(type_name(schema.schema_type()).as_bytes());
    out.push(b'"');
    match schema.schema_type() {
        SchemaType::Array => {
            out.extend_from_slice(b",\"items\":");
            write_opt_schema(out, schema.value_schema(), o)?;
        }
        SchemaType::Map => {
            out.extend_from_slice(b",\"keys\":");
            write_opt_schema(out, schema.key_schema(), o)?;
            out.extend_from_slice(b",\"values\":");
            write_opt_schema(out, schema.value_schema(), o)?;
        }
        SchemaType::Struct => {
            out.extend_from_slice(b",\"fields\":[");
            for (i, f) in schema.fields().iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schema(out, f.schema(), Some(f.name()), o)?;
            }
            out.push(b']');
        }
        _ => {}
    }
    out.extend_from_slice(if schema.is_optional() {
        b",\"optional\":true"
    } else {
        b",\"optional\":false"
    });
    if let Some(name) = schema.name() {
        out.extend_from_slice(b",\"name\":");
        write_str(out, name);
    }
    if let Some(version) = schema.version() {
        out.extend_from_slice(b",\"version\":");
        write_long(out, i64::from(version));
    }
    if let Some(doc) = schema.doc() {
        out.extend_from_slice(b",\"doc\":");
        write_str(out, doc);
    }
    if !schema.parameters().is_empty() {
        out.extend_from_slice(b",\"parameters\":{");
        for (i, (k, v)) in schema.parameters().iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, k);
            out.push(b':');
            write_str(out, v);
        }
        out.push(b'}');
    }
    if let Some(default) = default_of(schema) {
        out.extend_from_slice(b",\"default\":");
        write_value(out, Some(schema), default, o, &Path::Default(&Path::Root))?;
    }
    if let Some(name) = field {
        out.extend_from_slice(b",\"field\":");
        write_str(out, name);
    }
    out.push(b'}');
    Ok(())
}

fn mismatch(schema: &Schema, value: &Value, path: &Path<'_>) -> ferry_api::ConnectError {
    let logical = schema
        .name()
        .filter(|n| logical::is_logical(n))
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    path.write_error(format!(
        "a {} value does not match the schema type {}{logical}",
        value.kind(),
        schema.schema_type()
    ))
}

/// Appends the JSON form of `value` (Kafka's `JsonConverter.convertToJson`).
pub(super) fn write_value(
    out: &mut Vec<u8>,
    schema: Option<&Schema>,
    value: &Value,
    o: &WriteOptions,
    path: &Path<'_>,
) -> Result<()> {
    let Some(schema) = schema else {
        return write_schemaless(out, value, o, path);
    };
    if value.is_null() {
        if o.replace_null_with_default
            && let Some(default) = default_of(schema)
        {
            return write_value(out, Some(schema), default, o, path);
        }
        if schema.is_optional() || o.lenient {
            out.extend_from_slice(b"null");
            return Ok(());
        }
        return Err(path.write_error(format!(
            "null value for a required {} field that has no default value",
            schema.schema_type()
        )));
    }
    if let Some(name) = schema.name().filter(|n| logical::is_logical(n)) {
        match (name, value) {
            (logical::DECIMAL, Value::Decimal(d)) => return write_decimal(out, schema, d, o, path),
            (logical::DATE, Value::Date(days)) => write_long(out, i64::from(*days)),
            (logical::TIME, Value::Time(ms)) => {
                if !(0..=MILLIS_PER_DAY).contains(ms) && !o.lenient {
                    return Err(path.write_error(format!(
                        "a Time value must be between 0 and {MILLIS_PER_DAY} milliseconds, not {ms}"
                    )));
                }
                write_long(out, i64::from(*ms));
            }
            (logical::TIMESTAMP, Value::Timestamp(ms)) => write_long(out, *ms),
            _ if o.lenient => return write_schemaless(out, value, o, path),
            _ => return Err(mismatch(schema, value, path)),
        }
        return Ok(());
    }
    match (schema.schema_type(), value) {
        (SchemaType::Int8, Value::Int8(v)) => write_long(out, i64::from(*v)),
        (SchemaType::Int16, Value::Int16(v)) => write_long(out, i64::from(*v)),
        (SchemaType::Int32, Value::Int32(v)) => write_long(out, i64::from(*v)),
        (SchemaType::Int64, Value::Int64(v)) => write_long(out, *v),
        (SchemaType::Float32, Value::Float32(v)) => write_f32(out, *v),
        (SchemaType::Float64, Value::Float64(v)) => write_f64(out, *v),
        (SchemaType::Boolean, Value::Boolean(b)) => {
            out.extend_from_slice(if *b { b"true" } else { b"false" })
        }
        (SchemaType::String, Value::String(s)) => write_str(out, s.as_str()),
        (SchemaType::Bytes, Value::Bytes(b)) => write_base64(out, b),
        (SchemaType::Array, Value::Array(items)) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, schema.value_schema(), item, o, &Path::Index(path, i))?;
            }
            out.push(b']');
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let object_mode = match schema.key_schema() {
                Some(k) => k.schema_type() == SchemaType::String,
                None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
            };
            if object_mode {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let entry = Path::Index(path, i);
                    write_object_key(out, schema.key_schema(), k, o, &entry)?;
                    out.push(b':');
                    write_value(out, schema.value_schema(), v, o, &entry)?;
                }
                out.push(b'}');
            } else {
                out.push(b'[');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let entry = Path::Index(path, i);
                    out.push(b'[');
                    write_value(out, schema.key_schema(), k, o, &entry)?;
                    out.push(b',');
                    write_value(out, schema.value_schema(), v, o, &entry)?;
                    out.push(b']');
                }
                out.push(b']');
            }
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            if s.schema() != schema && !o.lenient {
                return Err(path.write_error(
                    "the struct's schema does not match the schema it is written with",
                ));
            }
            write_struct(out, s, o, path)?;
        }
        _ if o.lenient => write_schemaless(out, value, o, path)?,
        _ => return Err(mismatch(schema, value, path)),
    }
    Ok(())
}

fn write_struct(
    out: &mut Vec<u8>,
    s: &ferry_api::Struct,
    o: &WriteOptions,
    path: &Path<'_>,
) -> Result<()> {
    out.push(b'{');
    for (i, (field, v)) in s.schema().fields().iter().zip(s.values()).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, field.name());
        out.push(b':');
        write_value(
            out,
            Some(field.schema()),
            v,
            o,
            &Path::Field(path, field.name()),
        )?;
    }
    out.push(b'}');
    Ok(())
}

/// A key of a map written as a JSON object: Kafka uses the text of the converted key
/// (`"null"` for an optional null key).
fn write_object_key(
    out: &mut Vec<u8>,
    key_schema: Option<&Schema>,
    key: &Value,
    o: &WriteOptions,
    path: &Path<'_>,
) -> Result<()> {
    match key {
        Value::String(s) => write_str(out, s.as_str()),
        Value::Null => {
            let default = key_schema
                .filter(|_| o.replace_null_with_default)
                .and_then(default_of);
            match default {
                Some(Value::String(s)) => write_str(out, s.as_str()),
                _ if key_schema.is_none_or(Schema::is_optional) || o.lenient => {
                    write_str(out, "null")
                }
                _ => return Err(path.write_error("null key for a required STRING key schema")),
            }
        }
        other => match key_schema {
            Some(ks) if !o.lenient => return Err(mismatch(ks, other, path)),
            _ => {
                // Lenient: the key's JSON text as a string.
                let mut text = Vec::new();
                write_schemaless(&mut text, other, o, path)?;
                write_str(out, &String::from_utf8_lossy(&text));
            }
        },
    }
    Ok(())
}

fn write_decimal(
    out: &mut Vec<u8>,
    schema: &Schema,
    d: &Decimal,
    o: &WriteOptions,
    path: &Path<'_>,
) -> Result<()> {
    if o.decimal_numeric {
        // Jackson writes a BigDecimal with `toString` (may be scientific, e.g. `1E-8`).
        out.extend_from_slice(d.to_string().as_bytes());
        return Ok(());
    }
    if !o.lenient {
        let scale = logical::decimal_scale(schema).map_err(|e| path.write_error(e))?;
        if d.scale() != scale {
            return Err(path.write_error(format!(
                "Decimal {d} has scale {}, but its schema has scale {scale}",
                d.scale()
            )));
        }
    }
    write_base64(out, d.unscaled_bytes());
    Ok(())
}

/// Appends a value that has no schema: the type comes from the value, as Kafka's
/// `ConnectSchema.schemaType(value.getClass())`. Maps whose keys are all strings become
/// objects, other maps arrays of `[key, value]` pairs. Structs and logical values need a
/// schema (Kafka fails on them too) unless writing leniently.
fn write_schemaless(
    out: &mut Vec<u8>,
    value: &Value,
    o: &WriteOptions,
    path: &Path<'_>,
) -> Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(v) => write_long(out, i64::from(*v)),
        Value::Int16(v) => write_long(out, i64::from(*v)),
        Value::Int32(v) => write_long(out, i64::from(*v)),
        Value::Int64(v) => write_long(out, *v),
        Value::Float32(v) => write_f32(out, *v),
        Value::Float64(v) => write_f64(out, *v),
        Value::String(s) => write_str(out, s.as_str()),
        Value::Bytes(b) => write_base64(out, b),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_schemaless(out, item, o, &Path::Index(path, i))?;
            }
            out.push(b']');
        }
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                out.push(b'{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k.as_str().unwrap_or_default());
                    out.push(b':');
                    write_schemaless(out, v, o, &Path::Index(path, i))?;
                }
                out.push(b'}');
            } else {
                out.push(b'[');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    let entry = Path::Index(path, i);
                    out.push(b'[');
                    write_schemaless(out, k, o, &entry)?;
                    out.push(b',');
                    write_schemaless(out, v, o, &entry)?;
                    out.push(b']');
                }
                out.push(b']');
            }
        }
        Value::Struct(s) if o.lenient => write_struct(out, s, o, path)?,
        Value::Decimal(d) if o.lenient => out.extend_from_slice(d.to_string().as_bytes()),
        Value::Date(v) | Value::Time(v) if o.lenient => write_long(out, i64::from(*v)),
        Value::Timestamp(v) if o.lenient => write_long(out, *v),
        Value::Struct(_)
        | Value::Decimal(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::Timestamp(_) => {
            return Err(path.write_error(format!(
                "a {} value needs a schema; JsonConverter cannot write it without one",
                value.kind()
            )));
        }
    }
    Ok(())
}

/// A rough upper estimate of the JSON length of `value`, to reserve the output once.
pub(super) fn estimate_value(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Date(_) | Value::Time(_) => 11,
        Value::Int64(_) | Value::Timestamp(_) => 20,
        Value::Float32(_) | Value::Float64(_) => 26,
        Value::String(s) => s.len() + s.len() / 8 + 2,
        Value::Bytes(b) => b.len().div_ceil(3) * 4 + 2,
        Value::Array(items) => 2 + items.iter().map(|v| estimate_value(v) + 1).sum::<usize>(),
        Value::Map(entries) => {
            2 + entries
                .iter()
                .map(|(k, v)| estimate_value(k) + estimate_value(v) + 4)
                .sum::<usize>()
        }
        Value::Struct(s) => {
            2 + s
                .schema()
                .fields()
                .iter()
                .zip(s.values())
                .map(|(f, v)| f.name().len() + 4 + estimate_value(v))
                .sum::<usize>()
        }
        Value::Decimal(d) => d.unscaled_bytes().len() * 3 + 8,
    }
}

/// A rough upper estimate of the JSON length of `schema`.
pub(super) fn estimate_schema(schema: &Schema) -> usize {
    let mut n = 48
        + schema.name().map_or(0, |s| s.len() + 10)
        + schema.doc().map_or(0, |s| s.len() + 10)
        + schema.version().map_or(0, |_| 20)
        + schema
            .parameters()
            .iter()
            .map(|(k, v)| k.len() + v.len() + 6)
            .sum::<usize>()
        + default_of(schema).map_or(0, |d| estimate_value(d) + 10);
    for f in schema.fields() {
        n += estimate_schema(f.schema()) + f.name().len() + 12;
    }
    n += schema.key_schema().map_or(0, estimate_schema);
    n += schema.value_schema().map_or(0, estimate_schema);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_like_jackson() {
        assert_eq!(s("plain"), r#""plain""#);
        assert_eq!(s("a\"b\\c/d"), r#""a\"b\\c/d""#);
        assert_eq!(s("\n\t\r\u{8}\u{c}"), r#""\n\t\r\b\f""#);
        assert_eq!(
            s("\u{0}\u{1}\u{1f}\u{7f}"),
            "\"\\u0000\\u0001\\u001F\u{7f}\""
        );
        assert_eq!(
            s("héllo ✓ 😀 \u{2028}\u{a0}\u{ffff}"),
            "\"héllo ✓ \\uD83D\\uDE00 \u{2028}\u{a0}\u{ffff}\""
        );
        assert_eq!(s("\u{10000}\u{10FFFF}x"), r#""\uD800\uDC00\uDBFF\uDFFFx""#);
        assert_eq!(s(""), r#""""#);
    }

    #[test]
    fn base64_is_standard_and_padded() {
        for (bytes, text) in [
            (&b""[..], r#""""#),
            (&b"\xde\xad\xbe\xef"[..], r#""3q2+7w==""#),
            (&b"test-string"[..], r#""dGVzdC1zdHJpbmc=""#),
            (&b"\xfb\xff"[..], r#""+/8=""#),
        ] {
            let mut out = Vec::new();
            write_base64(&mut out, bytes);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }

    #[test]
    fn non_finite_floats_are_quoted() {
        let mut out = Vec::new();
        write_f64(&mut out, f64::NAN);
        out.push(b',');
        write_f32(&mut out, f32::NEG_INFINITY);
        out.push(b',');
        write_f64(&mut out, 1.5);
        assert_eq!(String::from_utf8(out).unwrap(), r#""NaN","-Infinity",1.5"#);
    }
}
