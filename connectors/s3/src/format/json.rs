//! JsonFormat: one JSON document per line, each value exactly as Kafka's `JsonConverter`
//! writes it with `schemas.enable=false` and the sink's `json.decimal.format` (Confluent's
//! JsonFormat configures its converter so): structs as objects, bytes and Decimals as base64
//! unless `json.decimal.format=NUMERIC`, Date/Time/Timestamp as their integers, maps with
//! string keys as objects and other maps as arrays of `[key, value]` pairs, numbers in Java's
//! text (`1.0`, `1.0E10`), NaN and infinities as the strings `"NaN"`, `"Infinity"`,
//! `"-Infinity"`, and a null that has a schema default as the default.
//!
//! The writing is `ferry_converters::JsonConverter`'s own, so the two cannot drift apart.

use ferry_api::{SinkRecord, Value};
use ferry_converters::json::{DecimalFormat, JsonConverter};

use super::{FormatError, Output, RecordWriter};

pub(super) struct JsonWriter {
    converter: JsonConverter,
    line: Vec<u8>,
}

impl JsonWriter {
    pub(super) fn new(decimal_numeric: bool) -> JsonWriter {
        let decimal_format = if decimal_numeric {
            DecimalFormat::Numeric
        } else {
            DecimalFormat::Base64
        };
        JsonWriter {
            converter: JsonConverter::new()
                .with_schemas_enabled(false)
                .with_decimal_format(decimal_format),
            line: Vec::with_capacity(1024),
        }
    }
}

impl RecordWriter for JsonWriter {
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError> {
        self.line.clear();
        // A struct carries its schema, so one without a record schema is written by its own.
        let schema = match (&record.value_schema, &record.value) {
            (Some(schema), _) => Some(schema),
            (None, Value::Struct(s)) => Some(s.schema()),
            (None, _) => None,
        };
        self.converter
            .write_payload(&mut self.line, schema, &record.value)?;
        self.line.push(b'\n');
        out.write(&self.line);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Output) -> Result<(), FormatError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferry_api::logical::{self, Decimal};
    use ferry_api::{Schema, SchemaBuilder, Struct};

    use super::*;
    use crate::config::Compression;

    /// The line written for `value` (of `schema`), without its newline.
    fn line(schema: Option<Schema>, value: Value, decimal_numeric: bool) -> String {
        try_line(schema, value, decimal_numeric).unwrap()
    }

    fn try_line(
        schema: Option<Schema>,
        value: Value,
        decimal_numeric: bool,
    ) -> Result<String, FormatError> {
        let record = SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 0,
            timestamp: None,
            key_schema: None,
            key: Value::Null,
            value_schema: schema,
            value,
            headers: Vec::new(),
            original: None,
        };
        let mut out = Output::new(Compression::None);
        JsonWriter::new(decimal_numeric).write(&record, &mut out)?;
        let mut text = String::from_utf8(out.take(usize::MAX)).unwrap();
        assert_eq!(text.pop(), Some('\n'));
        Ok(text)
    }

    fn json(value: Value) -> String {
        line(None, value, false)
    }

    #[test]
    fn values_as_json_converter_writes_them() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .field("score", Schema::float64())
            .build();
        let s = Struct::new(schema.clone())
            .unwrap()
            .with("id", 1)
            .unwrap()
            .with("name", "a\"b\n\u{1}")
            .unwrap()
            .with("score", Value::Float64(2.0))
            .unwrap();
        let expected = r#"{"id":1,"name":"a\"b\n\u0001","score":2.0}"#;
        assert_eq!(
            line(Some(schema), Value::Struct(s.clone()), false),
            expected
        );
        // Without a record schema, a struct is written with its own.
        assert_eq!(json(Value::Struct(s)), expected);
        assert_eq!(json(Value::Float64(1e10)), "1.0E10");
        assert_eq!(json(Value::Float64(1.5e-5)), "1.5E-5");
        assert_eq!(json(Value::Float32(0.1)), "0.1");
        assert_eq!(json(Value::Float32(3e10)), "3.0E10");
        assert_eq!(json(Value::Float64(-2.5e-7)), "-2.5E-7");
        assert_eq!(json(Value::Float64(1.25e300)), "1.25E300");
        assert_eq!(json(Value::Float64(-0.0)), "-0.0");
        assert_eq!(json(Value::Float64(1234567.5)), "1234567.5");
        assert_eq!(json(Value::Float64(f64::NEG_INFINITY)), "\"-Infinity\"");
        assert_eq!(json(Value::from("plain text")), "\"plain text\"");
        assert_eq!(json(Value::Float64(f64::NAN)), "\"NaN\"");
        assert_eq!(json(Value::Bytes(Bytes::from_static(b"hi"))), "\"aGk=\"");
        assert_eq!(
            json(Value::Map(vec![(Value::Int32(1), Value::from("x"))])),
            "[[1,\"x\"]]"
        );
        assert_eq!(
            json(Value::Map(vec![(Value::from("k"), Value::Null)])),
            "{\"k\":null}"
        );
        let d = Value::Decimal(Decimal::parse("12.34").unwrap());
        let decimal = Some(logical::decimal_schema(2));
        assert_eq!(line(decimal.clone(), d.clone(), false), "\"BNI=\"");
        assert_eq!(line(decimal, d, true), "12.34");
        assert_eq!(
            line(
                Some(logical::timestamp_schema()),
                Value::Timestamp(5),
                false
            ),
            "5"
        );
    }

    /// Where the S3 sink's own JSON writer (before it used JsonConverter's) printed other
    /// bytes than Kafka's JsonConverter: these values changed.
    #[test]
    fn values_the_old_writer_printed_unlike_json_converter() {
        // Characters outside the Basic Multilingual Plane: an escaped UTF-16 surrogate pair
        // as Jackson writes them (were raw UTF-8).
        assert_eq!(json("a😀b".into()), r#""a\uD83D\uDE00b""#);
        // A value exactly halfway between two shortest decimals: Java's even digit (were
        // 312985.13 and -8.339840063750243E14).
        // (Written as sums: the exact values have more digits than their shortest text.)
        assert_eq!(json(Value::Float32(312_985.0 + 0.125)), "312985.12");
        assert_eq!(
            json(Value::Float64(-833_984_006_375_024.0 - 0.25)),
            "-8.339840063750242E14"
        );
        // Subnormals with one shortest digit: Java's closest two digits (were 5.0E-324 and
        // 1.0E-45).
        assert_eq!(json(Value::Float64(5e-324)), "4.9E-324");
        assert_eq!(json(Value::Float32(1e-45)), "1.4E-45");
        // An empty map whose key schema is not STRING: an empty array of pairs (was {}).
        let int_keys = SchemaBuilder::map(Schema::int32(), Schema::string()).build();
        assert_eq!(line(Some(int_keys), Value::Map(Vec::new()), false), "[]");
        // A null key of an optional STRING key schema: the key "null" of an object (was
        // an array of pairs).
        let string_keys = SchemaBuilder::map(Schema::optional_string(), Schema::int32()).build();
        let map = Value::Map(vec![(Value::Null, Value::Int32(1)), ("k".into(), 2.into())]);
        assert_eq!(line(Some(string_keys), map, false), r#"{"null":1,"k":2}"#);
        // A null field with a schema default: the default, as replace.null.with.default
        // (true by default) says (was null).
        let schema = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::new(ferry_api::SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(7))
                    .build(),
            )
            .build();
        let s = Struct::new(schema.clone()).unwrap();
        assert_eq!(line(Some(schema), Value::Struct(s), false), r#"{"n":7}"#);
    }

    #[test]
    fn values_json_converter_refuses_are_format_errors() {
        // A required field left null (was written as null) and a logical value without a
        // schema (was written as its number): JsonConverter refuses both, so does the format.
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .build();
        let s = Struct::new(schema.clone()).unwrap();
        let err = try_line(Some(schema), Value::Struct(s), false).unwrap_err();
        assert!(
            err.to_string()
                .contains("null value for a required INT32 field"),
            "{err}"
        );
        let err = try_line(None, Value::Timestamp(5), false).unwrap_err();
        assert!(err.to_string().contains("needs a schema"), "{err}");
    }
}
