//! Golden tests: exact bytes of Kafka Connect's Java JsonConverter (its envelope and payloads,
//! the JSON of the worker's internal topics, and the facts pinned by Kafka's
//! `JsonConverterTest`), plus round trips over generated schemas.

use bytes::Bytes;
use ferry_api::logical::{self, Decimal};
use ferry_api::{ConfigMap, Converter, Schema, SchemaBuilder, SchemaType, Struct, Value};
use proptest::prelude::*;

use super::{JsonConverter, from_schemaless_json, to_schemaless_json};

fn converter(props: &[(&str, &str)]) -> JsonConverter {
    let config: ConfigMap = props
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut c = JsonConverter::new();
    c.configure(&config, false).unwrap();
    c
}

fn schemaless() -> JsonConverter {
    converter(&[("schemas.enable", "false")])
}

fn write(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    let bytes = c.from_connect("topic", schema, value).unwrap().unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn write_err(c: &JsonConverter, schema: Option<&Schema>, value: &Value) -> String {
    c.from_connect("topic", schema, value)
        .unwrap_err()
        .to_string()
}

fn read(c: &JsonConverter, text: &str) -> (Option<Schema>, Value) {
    c.to_connect("topic", Some(&Bytes::copy_from_slice(text.as_bytes())))
        .unwrap()
}

fn read_err(c: &JsonConverter, text: &str) -> String {
    c.to_connect("topic", Some(&Bytes::copy_from_slice(text.as_bytes())))
        .unwrap_err()
        .to_string()
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn user_schema() -> Schema {
    SchemaBuilder::struct_()
        .name("com.example.User")
        .version(1)
        .field("id", Schema::int32())
        .field("name", Schema::optional_string())
        .field("tags", SchemaBuilder::array(Schema::string()).build())
        .field("score", Schema::float64())
        .field("amount", logical::decimal_schema(2))
        .build()
}

fn user() -> Value {
    let s = Struct::new(user_schema())
        .unwrap()
        .with("id", 1)
        .unwrap()
        .with("tags", Value::Array(vec!["a".into(), "b".into()]))
        .unwrap()
        .with("score", Value::Float64(1.0))
        .unwrap()
        .with("amount", Value::Decimal(Decimal::parse("10.25").unwrap()))
        .unwrap();
    Value::Struct(s)
}

const USER_JSON: &str = r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"},{"type":"double","optional":false,"field":"score"},{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"amount"}],"optional":false,"name":"com.example.User","version":1},"payload":{"id":1,"name":null,"tags":["a","b"],"score":1.0,"amount":"BAE="}}"#;

// ---- envelopes and payloads, exact bytes -----------------------------------------------

#[test]
fn golden_int64() {
    let c = JsonConverter::new();
    let text = r#"{"schema":{"type":"int64","optional":false},"payload":42}"#;
    assert_eq!(write(&c, Some(&Schema::int64()), &Value::Int64(42)), text);
    assert_eq!(read(&c, text), (Some(Schema::int64()), Value::Int64(42)));
}

#[test]
fn golden_user_struct_with_schema() {
    let c = JsonConverter::new();
    assert_eq!(write(&c, Some(&user_schema()), &user()), USER_JSON);
    assert_eq!(read(&c, USER_JSON), (Some(user_schema()), user()));
}

#[test]
fn golden_user_struct_without_schema() {
    let text = r#"{"id":1,"name":null,"tags":["a","b"],"score":1.0,"amount":"BAE="}"#;
    assert_eq!(write(&schemaless(), Some(&user_schema()), &user()), text);
    let numeric = converter(&[("schemas.enable", "false"), ("decimal.format", "NUMERIC")]);
    let text = r#"{"id":1,"name":null,"tags":["a","b"],"score":1.0,"amount":10.25}"#;
    assert_eq!(write(&numeric, Some(&user_schema()), &user()), text);
    // Read back schemaless: a map with INT64 / FLOAT64 numbers.
    assert_eq!(
        read(&numeric, text).1,
        map(vec![
            ("id", Value::Int64(1)),
            ("name", Value::Null),
            ("tags", Value::Array(vec!["a".into(), "b".into()])),
            ("score", Value::Float64(1.0)),
            ("amount", Value::Float64(10.25)),
        ])
    );
}

#[test]
fn golden_optional_bytes() {
    let c = JsonConverter::new();
    let text = r#"{"schema":{"type":"bytes","optional":true},"payload":"3q2+7w=="}"#;
    let value = Value::Bytes(Bytes::from_static(b"\xde\xad\xbe\xef"));
    assert_eq!(write(&c, Some(&Schema::optional_bytes()), &value), text);
    assert_eq!(read(&c, text), (Some(Schema::optional_bytes()), value));
}

#[test]
fn golden_nulls_and_tombstones() {
    for c in [JsonConverter::new(), schemaless()] {
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
        assert_eq!(c.to_connect("t", None).unwrap(), (None, Value::Null));
    }
    let c = JsonConverter::new();
    let s = Schema::optional_string();
    assert_eq!(
        write(&c, Some(&s), &Value::Null),
        r#"{"schema":{"type":"string","optional":true},"payload":null}"#
    );
    assert_eq!(write(&schemaless(), Some(&s), &Value::Null), "null");
    assert_eq!(
        write(&c, None, &Value::Boolean(true)),
        r#"{"schema":null,"payload":true}"#
    );
    assert_eq!(
        write_err(&c, Some(&Schema::string()), &Value::Null),
        "Conversion error: null value for a required STRING field that has no default value"
    );
    assert_eq!(
        read(&c, r#"{"schema":null,"payload":null}"#),
        (None, Value::Null)
    );
    // Kafka: empty bytes with schemas disabled are (null, null); with schemas, an error.
    assert_eq!(read(&schemaless(), ""), (None, Value::Null));
    assert!(read_err(&c, "").contains("Found empty input"));
}

#[test]
fn golden_defaults_replace_nulls() {
    // Kafka JsonConverterTest.serializeNullToDefault / serializeNullToNull / deserialize...
    let s = SchemaBuilder::new(SchemaType::String)
        .optional()
        .default_value("default".into())
        .build();
    let replacing = JsonConverter::new();
    let keeping = converter(&[("replace.null.with.default", "false")]);
    let with_default =
        r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":"default"}"#;
    let with_null =
        r#"{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}"#;
    assert_eq!(write(&replacing, Some(&s), &Value::Null), with_default);
    assert_eq!(write(&keeping, Some(&s), &Value::Null), with_null);
    assert_eq!(
        read(&replacing, with_null),
        (Some(s.clone()), "default".into())
    );
    assert_eq!(read(&keeping, with_null), (Some(s.clone()), Value::Null));

    let st = SchemaBuilder::struct_().field("field1", s).build();
    let empty = Value::Struct(Struct::new(st.clone()).unwrap());
    let field_default = r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":"default"}}"#;
    let field_null = r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":null}}"#;
    assert_eq!(write(&replacing, Some(&st), &empty), field_default);
    assert_eq!(write(&keeping, Some(&st), &empty), field_null);
    let filled = Value::Struct(
        Struct::new(st.clone())
            .unwrap()
            .with("field1", "default")
            .unwrap(),
    );
    assert_eq!(read(&replacing, field_null), (Some(st.clone()), filled));
    assert_eq!(read(&keeping, field_null), (Some(st), empty));
}

// ---- internal topics (schemas disabled) ------------------------------------------------

#[test]
fn golden_internal_topics() {
    let key = Value::Array(vec![
        "local-file-source".into(),
        map(vec![("filename", "/tmp/in.txt".into())]),
    ]);
    let key_json = br#"["local-file-source",{"filename":"/tmp/in.txt"}]"#;
    assert_eq!(to_schemaless_json(&key), key_json);
    assert_eq!(from_schemaless_json(key_json).unwrap(), key);

    let offset = map(vec![("position", Value::Int64(1234))]);
    assert_eq!(to_schemaless_json(&offset), br#"{"position":1234}"#);
    assert_eq!(
        from_schemaless_json(br#"{"position":1234}"#).unwrap(),
        offset
    );

    let commit = map(vec![("tasks", Value::Int32(2))]);
    assert_eq!(to_schemaless_json(&commit), br#"{"tasks":2}"#);
    assert_eq!(
        from_schemaless_json(br#"{"tasks":2}"#).unwrap(),
        map(vec![("tasks", Value::Int64(2))])
    );

    let status = map(vec![
        ("state", "RUNNING".into()),
        ("trace", Value::Null),
        ("worker_id", "host:8083".into()),
        ("generation", Value::Int32(7)),
    ]);
    let status_json = br#"{"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":7}"#;
    assert_eq!(to_schemaless_json(&status), status_json);

    let target = map(vec![
        ("state", "PAUSED".into()),
        ("state.v2", "STOPPED".into()),
    ]);
    assert_eq!(
        to_schemaless_json(&target),
        br#"{"state":"PAUSED","state.v2":"STOPPED"}"#
    );
    let connector = map(vec![(
        "properties",
        map(vec![("k", "v".into()), ("file", Value::Null)]),
    )]);
    assert_eq!(
        to_schemaless_json(&connector),
        br#"{"properties":{"k":"v","file":null}}"#
    );
    let no_file = Value::Array(vec!["c".into(), map(vec![("filename", Value::Null)])]);
    assert_eq!(to_schemaless_json(&no_file), br#"["c",{"filename":null}]"#);
    assert_eq!(to_schemaless_json(&Value::Null), b"null");
    assert_eq!(from_schemaless_json(b"").unwrap(), Value::Null);
    assert!(from_schemaless_json(b"{").is_err());

    // The internal converter is the JsonConverter with schemas disabled: same bytes.
    let c = schemaless();
    assert_eq!(write(&c, None, &key).as_bytes(), key_json);
    assert_eq!(
        read(&c, r#"["local-file-source",{"filename":"/tmp/in.txt"}]"#).1,
        key
    );
}

#[test]
fn internal_json_is_lenient_with_structs_and_logical_values() {
    let s = Struct::new(SchemaBuilder::struct_().field("a", Schema::int32()).build())
        .unwrap()
        .with("a", 1)
        .unwrap();
    let v = Value::Array(vec![
        Value::Struct(s),
        Value::Decimal(Decimal::parse("1.50").unwrap()),
        Value::Date(3),
        Value::Timestamp(-5),
        Value::Map(vec![(Value::Int32(1), Value::Boolean(false))]),
        Value::Float64(0.5),
        Value::Float32(f32::NAN),
    ]);
    assert_eq!(
        to_schemaless_json(&v),
        br#"[{"a":1},1.50,3,-5,[[1,false]],0.5,"NaN"]"#
    );
}

// ---- Kafka JsonConverterTest facts: reading --------------------------------------------

#[test]
fn kafka_primitives_to_connect() {
    let c = JsonConverter::new();
    let r = |t: &str| read(&c, t);
    assert_eq!(
        r(r#"{ "schema": { "type": "boolean" }, "payload": true }"#),
        (Some(Schema::boolean()), Value::Boolean(true))
    );
    assert_eq!(
        r(r#"{ "schema": { "type": "boolean", "optional": true }, "payload": null }"#),
        (Some(Schema::optional_boolean()), Value::Null)
    );
    let with_default = SchemaBuilder::new(SchemaType::Boolean)
        .default_value(Value::Boolean(true))
        .build();
    assert_eq!(
        r(r#"{ "schema": { "type": "boolean", "default": true }, "payload": null }"#),
        (Some(with_default), Value::Boolean(true))
    );
    let full = SchemaBuilder::new(SchemaType::Boolean)
        .name("bool")
        .version(2)
        .doc("the documentation")
        .parameter("foo", "bar")
        .build();
    assert_eq!(
        r(
            r#"{ "schema": { "type": "boolean", "optional": false, "name": "bool", "version": 2, "doc": "the documentation", "parameters": { "foo": "bar" }}, "payload": true }"#
        ),
        (Some(full), Value::Boolean(true))
    );
    for (ty, payload, schema, value) in [
        ("int8", "12", Schema::int8(), Value::Int8(12)),
        ("int16", "12", Schema::int16(), Value::Int16(12)),
        ("int32", "12", Schema::int32(), Value::Int32(12)),
        ("int64", "12", Schema::int64(), Value::Int64(12)),
        (
            "int64",
            "4398046511104",
            Schema::int64(),
            Value::Int64(4398046511104),
        ),
        ("int8", "0012", Schema::int8(), Value::Int8(12)),
        ("int16", "000123", Schema::int16(), Value::Int16(123)),
        ("int32", "000012345", Schema::int32(), Value::Int32(12345)),
        (
            "int64",
            "00000123456789",
            Schema::int64(),
            Value::Int64(123456789),
        ),
        ("float", "12.34", Schema::float32(), Value::Float32(12.34)),
        ("double", "12.34", Schema::float64(), Value::Float64(12.34)),
        (
            "string",
            "\"foo-bar-baz\"",
            Schema::string(),
            "foo-bar-baz".into(),
        ),
        (
            "bytes",
            "\"dGVzdC1zdHJpbmc=\"",
            Schema::bytes(),
            Value::Bytes(Bytes::from_static(b"test-string")),
        ),
    ] {
        let text = format!(r#"{{ "schema": {{ "type": "{ty}" }}, "payload": {payload} }}"#);
        assert_eq!(r(&text), (Some(schema), value), "{text}");
    }
}

#[test]
fn kafka_containers_to_connect() {
    let c = JsonConverter::new();
    let (s, v) = read(
        &c,
        r#"{ "schema": { "type": "array", "items": { "type" : "int32" } }, "payload": [1, 2, 3] }"#,
    );
    assert_eq!(s, Some(SchemaBuilder::array(Schema::int32()).build()));
    assert_eq!(v, Value::Array(vec![1.into(), 2.into(), 3.into()]));

    let (s, v) = read(
        &c,
        r#"{ "schema": { "type": "map", "keys": { "type" : "string" }, "values": { "type" : "int32" } }, "payload": { "key1": 12, "key2": 15} }"#,
    );
    assert_eq!(
        s,
        Some(SchemaBuilder::map(Schema::string(), Schema::int32()).build())
    );
    assert_eq!(v, map(vec![("key1", 12.into()), ("key2", 15.into())]));

    let (s, v) = read(
        &c,
        r#"{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, "payload": [ [1, 12], [2, 15] ] }"#,
    );
    assert_eq!(
        s,
        Some(SchemaBuilder::map(Schema::int32(), Schema::int32()).build())
    );
    assert_eq!(
        v,
        Value::Map(vec![(1.into(), 12.into()), (2.into(), 15.into())])
    );

    let schema = SchemaBuilder::struct_()
        .field("field1", Schema::boolean())
        .field("field2", Schema::string())
        .build();
    let expected = Struct::new(schema.clone())
        .unwrap()
        .with("field1", true)
        .unwrap()
        .with("field2", "string")
        .unwrap();
    assert_eq!(
        read(
            &c,
            r#"{ "schema": { "type": "struct", "fields": [{ "field": "field1", "type": "boolean" }, { "field": "field2", "type": "string" }] }, "payload": { "field1": true, "field2": "string" } }"#
        ),
        (Some(schema), Value::Struct(expected))
    );

    // A missing optional field reads as null.
    let schema = SchemaBuilder::struct_()
        .field("optional", Schema::optional_string())
        .field("required", Schema::string())
        .build();
    let expected = Struct::new(schema.clone())
        .unwrap()
        .with("required", "required")
        .unwrap();
    assert_eq!(
        read(
            &c,
            r#"{ "schema": { "type": "struct", "fields": [{ "field":"optional", "type": "string", "optional": true }, {  "field": "required", "type": "string" }] }, "payload": { "required": "required" } }"#
        ),
        (Some(schema), Value::Struct(expected))
    );
}

#[test]
fn kafka_schemaless_to_connect() {
    let c = JsonConverter::new();
    for (payload, value) in [
        ("null", Value::Null),
        ("true", Value::Boolean(true)),
        ("12", Value::Int64(12)),
        ("12.24", Value::Float64(12.24)),
        ("\"a string\"", "a string".into()),
        (
            "[1, \"2\", 3]",
            Value::Array(vec![Value::Int64(1), "2".into(), Value::Int64(3)]),
        ),
        (
            "{ \"field1\": 1, \"field2\": 2}",
            map(vec![
                ("field1", Value::Int64(1)),
                ("field2", Value::Int64(2)),
            ]),
        ),
        ("1e2", Value::Float64(100.0)),
    ] {
        let text = format!(r#"{{ "schema": null, "payload": {payload} }}"#);
        assert_eq!(read(&c, &text), (None, value), "{text}");
    }
    let s = schemaless();
    assert_eq!(read(&s, "true"), (None, Value::Boolean(true)));
    assert_eq!(
        read(&s, r#"{ "a": "", "b": null}"#),
        (None, map(vec![("a", "".into()), ("b", Value::Null)]))
    );
}

#[test]
fn kafka_logical_types_to_connect() {
    let c = JsonConverter::new();
    let d156 = Value::Decimal(Decimal::from_i128(156, 2));
    let dec = r#""type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1"#;
    assert_eq!(
        read(
            &c,
            &format!(
                r#"{{ "schema": {{ {dec}, "parameters": {{ "scale": "2" }} }}, "payload": "AJw=" }}"#
            )
        ),
        (Some(logical::decimal_schema(2)), d156.clone())
    );
    assert_eq!(
        read(
            &c,
            &format!(
                r#"{{ "schema": {{ {dec}, "optional": true, "parameters": {{ "scale": "2" }} }}, "payload": null }}"#
            )
        ),
        (
            Some(logical::decimal_builder(2).optional().build()),
            Value::Null
        )
    );
    assert_eq!(
        read(
            &c,
            &format!(
                r#"{{ "schema": {{ {dec}, "default": "AJw=", "parameters": {{ "scale": "2" }} }}, "payload": null }}"#
            )
        ),
        (
            Some(
                logical::decimal_builder(2)
                    .default_value(d156.clone())
                    .build()
            ),
            d156.clone()
        )
    );
    assert_eq!(
        read(
            &c,
            &format!(
                r#"{{ "schema": {{ {dec}, "parameters": {{ "scale": "2" }} }}, "payload": 1.56 }}"#
            )
        )
        .1,
        d156
    );
    assert_eq!(
        read(&c, &format!(r#"{{ "schema": {{ {dec}, "parameters": {{ "scale": "4" }} }}, "payload": 1.5600 }}"#)).1,
        Value::Decimal(Decimal::from_i128(15600, 4))
    );
    // Too many digits for a float64: kept exactly.
    assert_eq!(
        read(&c, &format!(r#"{{ "schema": {{ {dec}, "parameters": {{ "scale": "17" }} }}, "payload": 1.23456789123456789 }}"#)).1,
        Value::Decimal(Decimal::parse("1.23456789123456789").unwrap())
    );
    // Ferry: a number with fewer decimals is given the schema's scale.
    assert_eq!(
        read(
            &c,
            &format!(
                r#"{{ "schema": {{ {dec}, "parameters": {{ "scale": "2" }} }}, "payload": 2 }}"#
            )
        )
        .1,
        Value::Decimal(Decimal::from_i128(200, 2))
    );

    let date = r#""type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1"#;
    assert_eq!(
        read(
            &c,
            &format!(r#"{{ "schema": {{ {date} }}, "payload": 10000 }}"#)
        ),
        (Some(logical::date_schema()), Value::Date(10000))
    );
    assert_eq!(
        read(
            &c,
            &format!(r#"{{ "schema": {{ {date}, "optional": true }}, "payload": null }}"#)
        )
        .1,
        Value::Null
    );
    assert_eq!(
        read(
            &c,
            &format!(r#"{{ "schema": {{ {date}, "default": 0 }}, "payload": null }}"#)
        ),
        (
            Some(
                logical::date_builder()
                    .default_value(Value::Date(0))
                    .build()
            ),
            Value::Date(0)
        )
    );
    let time = r#""type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1"#;
    assert_eq!(
        read(
            &c,
            &format!(r#"{{ "schema": {{ {time} }}, "payload": 14400000 }}"#)
        ),
        (Some(logical::time_schema()), Value::Time(14_400_000))
    );
    let ts = r#""type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1"#;
    assert_eq!(
        read(
            &c,
            &format!(r#"{{ "schema": {{ {ts} }}, "payload": 4000000000 }}"#)
        ),
        (
            Some(logical::timestamp_schema()),
            Value::Timestamp(4_000_000_000)
        )
    );
    assert_eq!(
        read(
            &c,
            &format!(
                r#"{{ "schema": {{ {ts}, "optional": true, "default": 42 }}, "payload": null }}"#
            )
        )
        .1,
        Value::Timestamp(42)
    );
}

// ---- Kafka JsonConverterTest facts: writing --------------------------------------------

#[test]
fn kafka_schemas_to_json() {
    let c = JsonConverter::new();
    let payload_of = |schema: Schema, value: Value| write(&c, Some(&schema), &value);
    for (schema, value, text) in [
        (
            Schema::boolean(),
            Value::Boolean(true),
            r#"{"schema":{"type":"boolean","optional":false},"payload":true}"#,
        ),
        (
            Schema::optional_boolean(),
            Value::Boolean(true),
            r#"{"schema":{"type":"boolean","optional":true},"payload":true}"#,
        ),
        (
            SchemaBuilder::new(SchemaType::Boolean)
                .default_value(Value::Boolean(true))
                .build(),
            Value::Boolean(true),
            r#"{"schema":{"type":"boolean","optional":false,"default":true},"payload":true}"#,
        ),
        (
            SchemaBuilder::new(SchemaType::Boolean)
                .name("bool")
                .version(3)
                .doc("the documentation")
                .parameter("foo", "bar")
                .build(),
            Value::Boolean(true),
            r#"{"schema":{"type":"boolean","optional":false,"name":"bool","version":3,"doc":"the documentation","parameters":{"foo":"bar"}},"payload":true}"#,
        ),
        (
            Schema::int8(),
            Value::Int8(12),
            r#"{"schema":{"type":"int8","optional":false},"payload":12}"#,
        ),
        (
            Schema::int16(),
            Value::Int16(12),
            r#"{"schema":{"type":"int16","optional":false},"payload":12}"#,
        ),
        (
            Schema::int32(),
            Value::Int32(12),
            r#"{"schema":{"type":"int32","optional":false},"payload":12}"#,
        ),
        (
            Schema::int64(),
            Value::Int64(4398046511104),
            r#"{"schema":{"type":"int64","optional":false},"payload":4398046511104}"#,
        ),
        (
            Schema::float32(),
            Value::Float32(12.34),
            r#"{"schema":{"type":"float","optional":false},"payload":12.34}"#,
        ),
        (
            Schema::float64(),
            Value::Float64(12.34),
            r#"{"schema":{"type":"double","optional":false},"payload":12.34}"#,
        ),
        (
            Schema::float64(),
            Value::Float64(1.0e7),
            r#"{"schema":{"type":"double","optional":false},"payload":1.0E7}"#,
        ),
        (
            Schema::float64(),
            Value::Float64(f64::NAN),
            r#"{"schema":{"type":"double","optional":false},"payload":"NaN"}"#,
        ),
        (
            Schema::bytes(),
            Value::Bytes(Bytes::from_static(b"test-string")),
            r#"{"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="}"#,
        ),
        (
            Schema::string(),
            "test-string".into(),
            r#"{"schema":{"type":"string","optional":false},"payload":"test-string"}"#,
        ),
        (
            SchemaBuilder::array(Schema::int32()).build(),
            Value::Array(vec![1.into(), 2.into(), 3.into()]),
            r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2,3]}"#,
        ),
        (
            SchemaBuilder::map(Schema::string(), Schema::int32()).build(),
            map(vec![("key1", 12.into()), ("key2", 15.into())]),
            r#"{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"key1":12,"key2":15}}"#,
        ),
        (
            SchemaBuilder::map(Schema::int32(), Schema::int32()).build(),
            Value::Map(vec![(1.into(), 12.into()), (2.into(), 15.into())]),
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1,12],[2,15]]}"#,
        ),
        (
            logical::decimal_schema(2),
            Value::Decimal(Decimal::from_i128(156, 2)),
            r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}"#,
        ),
        (
            logical::date_schema(),
            Value::Date(10000),
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}"#,
        ),
        (
            logical::time_schema(),
            Value::Time(14_400_000),
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}"#,
        ),
        (
            logical::timestamp_schema(),
            Value::Timestamp(4_000_000_000),
            r#"{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}"#,
        ),
    ] {
        assert_eq!(payload_of(schema.clone(), value.clone()), text);
        if value != Value::Float64(f64::NAN) && !matches!(value, Value::Float64(v) if v.is_nan()) {
            assert_eq!(read(&c, text), (Some(schema), value), "{text}");
        }
    }
}

#[test]
fn kafka_numeric_decimals_to_json() {
    let c = converter(&[("decimal.format", "numeric")]);
    assert_eq!(
        write(
            &c,
            Some(&logical::decimal_schema(2)),
            &Value::Decimal(Decimal::from_i128(156, 2))
        ),
        r#"{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":1.56}"#
    );
    let text = write(
        &c,
        Some(&logical::decimal_schema(4)),
        &Value::Decimal(Decimal::from_i128(15600, 4)),
    );
    assert!(text.ends_with(r#""payload":1.5600}"#), "{text}");
    assert_eq!(
        read(&c, &text).1,
        Value::Decimal(Decimal::from_i128(15600, 4))
    );
    // BigDecimal.toString may use an exponent.
    let text = write(
        &c,
        Some(&logical::decimal_schema(8)),
        &Value::Decimal(Decimal::from_i128(1, 8)),
    );
    assert!(text.ends_with(r#""payload":1E-8}"#), "{text}");
    assert_eq!(read(&c, &text).1, Value::Decimal(Decimal::from_i128(1, 8)));
}

#[test]
fn kafka_schemaless_to_json() {
    let c = JsonConverter::new();
    assert_eq!(
        write(
            &c,
            None,
            &Value::Array(vec![1.into(), "string".into(), true.into()])
        ),
        r#"{"schema":null,"payload":[1,"string",true]}"#
    );
    assert_eq!(
        write(
            &c,
            None,
            &map(vec![
                ("key1", 12.into()),
                ("key2", "string".into()),
                ("key3", true.into())
            ])
        ),
        r#"{"schema":null,"payload":{"key1":12,"key2":"string","key3":true}}"#
    );
    assert_eq!(
        write(
            &c,
            None,
            &Value::Map(vec![
                ("string".into(), 12.into()),
                (52.into(), "string".into()),
                (false.into(), true.into()),
            ])
        ),
        r#"{"schema":null,"payload":[["string",12],[52,"string"],[false,true]]}"#
    );
    assert_eq!(write(&schemaless(), None, &Value::Boolean(true)), "true");
    assert_eq!(
        write_err(&c, None, &Value::Decimal(Decimal::from_i128(156, 2))),
        "Conversion error: a Decimal value needs a schema; JsonConverter cannot write it without one"
    );
}

// ---- error texts ------------------------------------------------------------------------

#[test]
fn write_errors_name_the_problem() {
    let c = JsonConverter::new();
    assert_eq!(
        write_err(&c, Some(&Schema::float64()), &Value::Boolean(true)),
        "Conversion error: a BOOLEAN value does not match the schema type FLOAT64"
    );
    let schema = SchemaBuilder::struct_()
        .field("tags", SchemaBuilder::array(Schema::string()).build())
        .build();
    let bad = Struct::new(schema.clone())
        .unwrap()
        .with("tags", Value::Array(vec!["a".into()]))
        .unwrap();
    let other = SchemaBuilder::struct_().field("x", Schema::int8()).build();
    assert_eq!(
        write_err(&c, Some(&other), &Value::Struct(bad)),
        "Conversion error: the struct's schema does not match the schema it is written with"
    );
    let arr = SchemaBuilder::array(Schema::string()).build();
    assert_eq!(
        write_err(
            &c,
            Some(&arr),
            &Value::Array(vec!["a".into(), Value::Int32(1)])
        ),
        "Conversion error for field \"[1]\": a INT32 value does not match the schema type STRING"
    );
    assert_eq!(
        write_err(
            &c,
            Some(&logical::decimal_schema(3)),
            &Value::Decimal(Decimal::from_i128(1, 2))
        ),
        "Conversion error: Decimal 0.01 has scale 2, but its schema has scale 3"
    );
    assert_eq!(
        write_err(&c, Some(&logical::date_schema()), &Value::Int32(1)),
        "Conversion error: a INT32 value does not match the schema type INT32 (org.apache.kafka.connect.data.Date)"
    );
    assert_eq!(
        write_err(&c, Some(&logical::time_schema()), &Value::Time(86_400_001)),
        "Conversion error: a Time value must be between 0 and 86400000 milliseconds, not 86400001"
    );
}

#[test]
fn read_errors_name_the_field_and_what_was_found() {
    let c = JsonConverter::new();
    let schema = r#"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},{"type":"struct","fields":[{"type":"int8","optional":false,"field":"n"}],"optional":true,"field":"inner"}],"optional":false}"#;
    let e = |payload: &str| read_err(&c, &format!(r#"{{"schema":{schema},"payload":{payload}}}"#));
    assert_eq!(
        e(r#"{"id":"x"}"#),
        "JSON payload for field \"id\": expected an INT32 number, found \"x\""
    );
    assert_eq!(
        e(r#"{"id":3000000000}"#),
        "JSON payload for field \"id\": expected an INT32 number, found 3000000000 (out of range)"
    );
    assert_eq!(
        e(r#"{"id":1.5}"#),
        "JSON payload for field \"id\": expected an INT32 number, found 1.5"
    );
    assert_eq!(
        e(r#"{}"#),
        "JSON payload for field \"id\": null value for a required INT32 field"
    );
    assert_eq!(
        e(r#"{"id":1,"tags":["a",2]}"#),
        "JSON payload for field \"tags[1]\": expected a STRING, found 2"
    );
    assert_eq!(
        e(r#"{"id":1,"inner":{"n":300}}"#),
        "JSON payload for field \"inner.n\": expected an INT8 number, found 300 (out of range)"
    );
    assert_eq!(
        e(r#"[1]"#),
        "JSON payload: expected a JSON object (STRUCT), found an array"
    );
    assert_eq!(
        read_err(
            &c,
            r#"{"schema":{"type":"bytes","optional":false},"payload":"**"}"#
        ),
        "JSON payload: expected a base64 string (BYTES), found \"**\": Invalid symbol 42, offset 0."
    );
    assert_eq!(
        read_err(&c, r#"{"schema":{"type":"boolean"},"payload":1}"#),
        "JSON payload: expected a BOOLEAN (true or false), found 1"
    );
    assert_eq!(
        read_err(
            &c,
            r#"{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":[[1]]}"#
        ),
        "JSON payload for field \"[0]\": expected a [key, value] pair, found an array"
    );
}

#[test]
fn envelope_and_schema_errors() {
    let c = JsonConverter::new();
    let prefix = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and \
                  may not contain additional fields. If you are trying to deserialize plain JSON \
                  data, set schemas.enable=false in your converter configuration. Found ";
    for (text, found) in [
        (r#"{"id":1}"#, r#"an object with the fields "id"."#),
        (
            r#"{"schema":null,"payload":1,"x":2}"#,
            r#"an object with the fields "schema", "payload", "x"."#,
        ),
        (
            r#"{"schema":null}"#,
            r#"an object with the fields "schema"."#,
        ),
        ("42", "42 (NUMBER)."),
        ("{}", "an empty object."),
    ] {
        assert_eq!(read_err(&c, text), format!("{prefix}{found}"), "{text}");
    }
    assert_eq!(
        read_err(&c, r#"{"schema":{"type":"int32"},"payload":1"#),
        "Converting byte[] to Kafka Connect data failed due to serialization error: unexpected end of input at byte 38"
    );
    for (schema, err) in [
        (
            r#"{"optional":true}"#,
            "JSON schema: Schema must contain 'type' field (found an object)",
        ),
        (
            r#"{"type":"int128"}"#,
            "JSON schema: Unknown schema type: int128",
        ),
        (
            r#"{"type":"array"}"#,
            "JSON schema: Array schema did not specify the element type",
        ),
        (
            r#"{"type":"map","values":{"type":"int8"}}"#,
            "JSON schema: Map schema did not specify the key type",
        ),
        (
            r#"{"type":"struct"}"#,
            "JSON schema: Struct schema's \"fields\" argument is not an array.",
        ),
        (
            r#"{"type":"struct","fields":[{"type":"int8"}]}"#,
            "JSON schema: Struct schema's field name not specified properly",
        ),
        (
            r#"{"type":"int8","parameters":{"a":1}}"#,
            "JSON schema: Schema parameters must have string values.",
        ),
        (
            r#"{"type":"int8","default":"x"}"#,
            "JSON schema: JSON payload for field \"default\": expected an INT8 number, found \"x\"",
        ),
    ] {
        assert_eq!(
            read_err(&c, &format!(r#"{{"schema":{schema},"payload":null}}"#)),
            err,
            "{schema}"
        );
    }
}

#[test]
fn config_is_validated() {
    let mut c = JsonConverter::new();
    let mut config = ConfigMap::new();
    config.insert("decimal.format".into(), "HEX".into());
    config.insert("schemas.enable".into(), "maybe".into());
    assert_eq!(
        c.configure(&config, false).unwrap_err().to_string(),
        "invalid config: key \"schemas.enable\": value \"maybe\": expected true or false (BOOLEAN); \
         key \"decimal.format\": value \"HEX\": expected one of BASE64, NUMERIC"
    );
    let c = converter(&[
        ("schemas.enable", "FALSE"),
        ("decimal.format", "Numeric"),
        ("replace.null.with.default", "false"),
        ("schemas.cache.size", "0"),
    ]);
    assert!(!c.schemas_enabled());
    assert_eq!(c.decimal_format(), super::DecimalFormat::Numeric);
    assert!(!c.replace_null_with_default());
}

// ---- behaviour beyond the goldens ---------------------------------------------------------

#[test]
fn strings_are_escaped_like_jackson_and_shared_on_read() {
    let c = JsonConverter::new();
    let text = write(&c, Some(&Schema::string()), &"a\"b\\c/d\n\u{1}é😀".into());
    assert_eq!(
        text,
        "{\"schema\":{\"type\":\"string\",\"optional\":false},\"payload\":\"a\\\"b\\\\c/d\\n\\u0001é\\uD83D\\uDE00\"}"
    );
    assert_eq!(read(&c, &text).1, "a\"b\\c/d\n\u{1}é😀".into());

    let data = Bytes::from_static(br#"{"schema":{"type":"string"},"payload":"shared"}"#);
    let (_, v) = c.to_connect("t", Some(&data)).unwrap();
    let Value::String(s) = v else { panic!() };
    assert_eq!(s.as_str(), "shared");
    let base = data.as_ptr() as usize;
    let at = s.as_bytes().as_ptr() as usize;
    assert!(
        at >= base && at < base + data.len(),
        "the string shares the record buffer"
    );
}

#[test]
fn non_finite_floats_round_trip() {
    let c = JsonConverter::new();
    for v in [f64::INFINITY, f64::NEG_INFINITY] {
        let text = write(&c, Some(&Schema::float64()), &Value::Float64(v));
        assert_eq!(read(&c, &text).1, Value::Float64(v));
    }
    let text = write(&c, Some(&Schema::float32()), &Value::Float32(f32::NAN));
    assert!(text.ends_with(r#""payload":"NaN"}"#));
    assert!(matches!(read(&c, &text).1, Value::Float32(v) if v.is_nan()));
}

#[test]
fn schemas_are_cached_by_text() {
    let c = JsonConverter::new();
    let (a, _) = read(&c, USER_JSON);
    let (b, _) = read(&c, USER_JSON);
    assert_eq!(a, b);
    let no_cache = converter(&[("schemas.cache.size", "0")]);
    assert_eq!(read(&no_cache, USER_JSON), read(&c, USER_JSON));
}

fn int_envelope(ty: &str, payload: &str) -> String {
    format!(r#"{{"schema":{{"type":"{ty}","optional":false}},"payload":{payload}}}"#)
}

#[test]
fn a_cached_schema_is_reused_not_parsed_again() {
    let c = JsonConverter::new();
    let (first, v1) = read(&c, USER_JSON);
    let (second, v2) = read(&c, USER_JSON);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first.is_same(&second), "the second read hit the cache");
    assert_eq!((v1, v2), (user(), user()));
    assert_eq!(c.cached_schemas(), (1, 0));

    let no_cache = converter(&[("schemas.cache.size", "0")]);
    let (a, _) = read(&no_cache, USER_JSON);
    let (b, _) = read(&no_cache, USER_JSON);
    assert!(!a.unwrap().is_same(&b.unwrap()), "size 0 caches nothing");
    assert_eq!(no_cache.cached_schemas(), (0, 0));
}

#[test]
fn a_different_schema_with_the_same_payload_is_a_miss() {
    let c = JsonConverter::new();
    for _ in 0..2 {
        assert_eq!(
            read(&c, &int_envelope("int64", "42")),
            (Some(Schema::int64()), Value::Int64(42))
        );
        assert_eq!(
            read(&c, &int_envelope("int32", "42")),
            (Some(Schema::int32()), Value::Int32(42))
        );
        // The most recent schema's text is a prefix of this one's up to the closing brace.
        let longer = r#"{"schema":{"type":"int32","optional":false,"name":"n"},"payload":42}"#;
        let (s, v) = read(&c, longer);
        assert_eq!(s.unwrap().name(), Some("n"));
        assert_eq!(v, Value::Int32(42));
    }
    assert_eq!(c.cached_schemas(), (3, 0));
}

#[test]
fn the_cache_evicts_the_least_recently_used_schema_at_its_size() {
    let c = converter(&[("schemas.cache.size", "2")]);
    let schema = |ty: &str| read(&c, &int_envelope(ty, "1")).0.unwrap();
    let a = schema("int64");
    let b = schema("int32");
    assert!(
        schema("int64").is_same(&a),
        "a hit makes int64 the most recent"
    );
    let _ = schema("int16");
    assert_eq!(c.cached_schemas(), (2, 0));
    assert!(schema("int64").is_same(&a), "int64 was kept");
    assert!(
        !schema("int32").is_same(&b),
        "int32 was evicted and parsed again"
    );
    assert_eq!(c.cached_schemas(), (2, 0));
}

#[test]
fn envelopes_read_the_same_whatever_their_spacing_and_schema_text() {
    let c = JsonConverter::new();
    let doc = r#"{"type":"int64","optional":false,"doc":"a \"}]\" [{ b"}"#;
    for text in [
        format!(r#"{{"schema":{doc},"payload":7}}"#),
        format!(r#"{{"schema": {doc} , "payload" : 7 }}  "#),
        format!(r#" {{ "schema" : {doc}, "payload": 7}}"#),
        format!(r#"{{"payload":7,"schema":{doc}}}"#),
    ] {
        let (s, v) = read(&c, &text);
        assert_eq!(s.unwrap().doc(), Some("a \"}]\" [{ b"), "{text}");
        assert_eq!(v, Value::Int64(7), "{text}");
    }
    // What the cache cannot vouch for still gets the general path's errors.
    let known = int_envelope("int64", "1");
    read(&c, &known);
    for (text, error) in [
        (
            r#"{"schema":{"type":"int64","optional":false},"payload":1,"x":2}"#,
            "may not contain additional fields",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false},"payload":1,"payload":"a"}"#,
            "expected an INT64 number, found \"a\"",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false},"payload":[1}"#,
            "serialization error",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false}},"payload":1}"#,
            "serialization error",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false}"#,
            "serialization error",
        ),
        (
            r#"{"schema":{"type":"int64","optional":false},"payload":"a"}"#,
            "expected an INT64 number, found \"a\"",
        ),
        (r#"{"schema":{"type":"int64""#, "serialization error"),
    ] {
        let err = read_err(&c, text);
        assert!(err.contains(error), "{text}: {err}");
    }
    let bad_utf8 = Bytes::from_static(b"{\"schema\":{\"type\":\"string\"},\"payload\":\"\xff\"}");
    read(&c, r#"{"schema":{"type":"string"},"payload":"ok"}"#);
    let err = c.to_connect("t", Some(&bad_utf8)).unwrap_err().to_string();
    assert!(err.contains("invalid UTF-8"), "{err}");
}

#[test]
fn written_schemas_are_cached_per_schema_object() {
    let c = JsonConverter::new();
    let value = user();
    let Value::Struct(st) = &value else {
        unreachable!()
    };
    let schema = st.schema().clone();
    assert_eq!(write(&c, Some(&schema), &value), USER_JSON);
    assert_eq!(
        write(&c, Some(&schema), &value),
        USER_JSON,
        "from the cache"
    );
    assert_eq!(c.cached_schemas(), (0, 1));
    // An equal schema built separately is another object: written again, same bytes.
    assert_eq!(write(&c, Some(&user_schema()), &user()), USER_JSON);
    assert_eq!(c.cached_schemas(), (0, 2));
    // A different schema with the same payload gets its own schema text.
    assert_eq!(
        write(&c, Some(&Schema::int32()), &Value::Int32(42)),
        int_envelope("int32", "42")
    );
    assert_eq!(
        write(&c, Some(&Schema::int64()), &Value::Int64(42)),
        int_envelope("int64", "42")
    );

    let small = converter(&[("schemas.cache.size", "2")]);
    let schemas: Vec<Schema> = (0..3)
        .map(|i| {
            SchemaBuilder::new(SchemaType::Int64)
                .name(format!("s{i}"))
                .build()
        })
        .collect();
    for _ in 0..2 {
        for (i, s) in schemas.iter().enumerate() {
            assert_eq!(
                write(&small, Some(s), &Value::Int64(1)),
                format!(
                    r#"{{"schema":{{"type":"int64","optional":false,"name":"s{i}"}},"payload":1}}"#
                )
            );
        }
    }
    assert_eq!(small.cached_schemas(), (0, 2));
    let none = converter(&[("schemas.cache.size", "0")]);
    assert_eq!(write(&none, Some(&schema), &value), USER_JSON);
    assert_eq!(none.cached_schemas(), (0, 0));
}

#[test]
fn schemas_cache_size_must_not_be_negative() {
    let mut c = JsonConverter::new();
    let mut config = ConfigMap::new();
    config.insert("schemas.cache.size".into(), "-1".into());
    assert_eq!(
        c.configure(&config, false).unwrap_err().to_string(),
        "invalid config: key \"schemas.cache.size\": value \"-1\": expected a value of at least 0"
    );
    config.insert("schemas.cache.size".into(), "many".into());
    let err = c.configure(&config, false).unwrap_err().to_string();
    assert!(
        err.contains("key \"schemas.cache.size\": value \"many\""),
        "{err}"
    );
    config.insert("schemas.cache.size".into(), "0".into());
    c.configure(&config, false).unwrap();
}

#[test]
fn container_defaults_are_written_in_the_schema() {
    let c = JsonConverter::new();
    let schema = SchemaBuilder::array(Schema::int32())
        .optional()
        .default_value(Value::Array(vec![1.into(), 2.into()]))
        .build();
    let text = write(&c, Some(&schema), &Value::Null);
    assert_eq!(
        text,
        r#"{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":true,"default":[1,2]},"payload":[1,2]}"#
    );
    assert_eq!(
        read(&c, &text),
        (Some(schema), Value::Array(vec![1.into(), 2.into()]))
    );
    let keys = SchemaBuilder::map(Schema::optional_string(), Schema::int8()).build();
    assert_eq!(
        write(
            &schemaless(),
            Some(&keys),
            &Value::Map(vec![(Value::Null, Value::Int8(1))])
        ),
        r#"{"null":1}"#
    );
}

// ---- round trips over generated schemas and values ----------------------------------------

/// A schema description that strategies can clone (SchemaBuilder is not Clone).
#[derive(Debug, Clone)]
enum GenType {
    Core(SchemaType),
    Decimal(i32),
    Date,
    Time,
    Timestamp,
    Array(Box<GenSchema>),
    Map(Box<GenSchema>, Box<GenSchema>),
    Struct(Vec<GenSchema>),
}

#[derive(Debug, Clone)]
struct GenSchema {
    ty: GenType,
    optional: bool,
    name: Option<String>,
    version: Option<i32>,
    doc: Option<String>,
}

fn build(g: &GenSchema) -> Schema {
    let (b, logical) = match &g.ty {
        GenType::Core(t) => (SchemaBuilder::new(*t), false),
        GenType::Decimal(scale) => (logical::decimal_builder(*scale), true),
        GenType::Date => (logical::date_builder(), true),
        GenType::Time => (logical::time_builder(), true),
        GenType::Timestamp => (logical::timestamp_builder(), true),
        GenType::Array(items) => (SchemaBuilder::array(build(items)), false),
        GenType::Map(k, v) => (SchemaBuilder::map(build(k), build(v)), false),
        GenType::Struct(fields) => (
            fields
                .iter()
                .enumerate()
                .fold(SchemaBuilder::struct_(), |b, (i, f)| {
                    b.field(format!("f{i}"), build(f))
                }),
            false,
        ),
    };
    let mut b = b.set_optional(g.optional);
    if !logical {
        if let Some(name) = &g.name {
            b = b.name(name.clone());
        }
        if let Some(version) = g.version {
            b = b.version(version);
        }
    }
    if let Some(doc) = &g.doc {
        b = b.doc(doc.clone());
    }
    b.build()
}

fn gen_schema() -> impl Strategy<Value = GenSchema> {
    let attrs = || {
        (
            any::<bool>(),
            proptest::option::of("[a-z][a-z.]{0,10}"),
            proptest::option::of(any::<i32>()),
            proptest::option::of(any::<String>()),
        )
    };
    let leaf_type = prop_oneof![
        Just(GenType::Core(SchemaType::Int8)),
        Just(GenType::Core(SchemaType::Int16)),
        Just(GenType::Core(SchemaType::Int32)),
        Just(GenType::Core(SchemaType::Int64)),
        Just(GenType::Core(SchemaType::Float32)),
        Just(GenType::Core(SchemaType::Float64)),
        Just(GenType::Core(SchemaType::Boolean)),
        Just(GenType::Core(SchemaType::String)),
        Just(GenType::Core(SchemaType::Bytes)),
        (-20i32..20).prop_map(GenType::Decimal),
        Just(GenType::Date),
        Just(GenType::Time),
        Just(GenType::Timestamp),
    ];
    let with = |ty: GenType,
                (optional, name, version, doc): (
        bool,
        Option<String>,
        Option<i32>,
        Option<String>,
    )| GenSchema {
        ty,
        optional,
        name,
        version,
        doc,
    };
    let leaf = (leaf_type, attrs()).prop_map(move |(t, a)| with(t, a));
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            (inner.clone(), attrs()).prop_map(move |(i, a)| with(GenType::Array(Box::new(i)), a)),
            (inner.clone(), inner.clone(), attrs())
                .prop_map(move |(k, v, a)| with(GenType::Map(Box::new(k), Box::new(v)), a)),
            (proptest::collection::vec(inner, 0..4), attrs())
                .prop_map(move |(f, a)| with(GenType::Struct(f), a)),
        ]
    })
}

fn non_null_value(s: &Schema) -> BoxedStrategy<Value> {
    match s.name() {
        Some(logical::DECIMAL) => {
            let scale = logical::decimal_scale(s).unwrap();
            return prop_oneof![
                any::<i64>().prop_map(move |u| Value::Decimal(Decimal::from_i128(u.into(), scale))),
                any::<i128>().prop_map(move |u| Value::Decimal(Decimal::from_i128(u, scale))),
            ]
            .boxed();
        }
        Some(logical::DATE) => return any::<i32>().prop_map(Value::Date).boxed(),
        Some(logical::TIME) => return (0..=86_400_000i32).prop_map(Value::Time).boxed(),
        Some(logical::TIMESTAMP) => return any::<i64>().prop_map(Value::Timestamp).boxed(),
        _ => {}
    }
    match s.schema_type() {
        SchemaType::Int8 => any::<i8>().prop_map(Value::Int8).boxed(),
        SchemaType::Int16 => any::<i16>().prop_map(Value::Int16).boxed(),
        SchemaType::Int32 => any::<i32>().prop_map(Value::Int32).boxed(),
        SchemaType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        SchemaType::Float32 => any::<f32>()
            .prop_filter("NaN != NaN", |v| !v.is_nan())
            .prop_map(Value::Float32)
            .boxed(),
        SchemaType::Float64 => any::<f64>()
            .prop_filter("NaN != NaN", |v| !v.is_nan())
            .prop_map(Value::Float64)
            .boxed(),
        SchemaType::Boolean => any::<bool>().prop_map(Value::Boolean).boxed(),
        SchemaType::String => any::<String>().prop_map(Value::from).boxed(),
        SchemaType::Bytes => proptest::collection::vec(any::<u8>(), 0..12)
            .prop_map(|b| Value::Bytes(Bytes::from(b)))
            .boxed(),
        SchemaType::Array => proptest::collection::vec(value_for(s.value_schema().unwrap()), 0..4)
            .prop_map(Value::Array)
            .boxed(),
        SchemaType::Map => {
            let key_schema = s.key_schema().unwrap();
            // Object keys are text: a null key would come back as "null", so none here.
            let keys = if key_schema.schema_type() == SchemaType::String {
                non_null_value(key_schema)
            } else {
                value_for(key_schema)
            };
            proptest::collection::vec((keys, value_for(s.value_schema().unwrap())), 0..4)
                .prop_map(|entries| {
                    // Repeated object keys merge on read; keep the first of each.
                    let mut out: Vec<(Value, Value)> = Vec::new();
                    for (k, v) in entries {
                        if !out.iter().any(|(seen, _)| *seen == k) {
                            out.push((k, v));
                        }
                    }
                    Value::Map(out)
                })
                .boxed()
        }
        SchemaType::Struct => {
            let schema = s.clone();
            s.fields()
                .iter()
                .map(|f| value_for(f.schema()))
                .collect::<Vec<_>>()
                .prop_map(move |values| {
                    let mut st = Struct::new(schema.clone()).unwrap();
                    for (f, v) in schema.fields().iter().zip(values) {
                        st.put(f.name(), v).unwrap();
                    }
                    Value::Struct(st)
                })
                .boxed()
        }
    }
}

fn value_for(s: &Schema) -> BoxedStrategy<Value> {
    if s.is_optional() {
        prop_oneof![1 => Just(Value::Null), 4 => non_null_value(s)].boxed()
    } else {
        non_null_value(s)
    }
}

fn schema_and_value() -> impl Strategy<Value = (Schema, Value)> {
    gen_schema()
        .prop_map(|g| build(&g))
        .prop_flat_map(|s| (Just(s.clone()), value_for(&s)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn schemaful_json_round_trips((schema, value) in schema_and_value()) {
        for c in [JsonConverter::new(), converter(&[("decimal.format", "NUMERIC")])] {
            let bytes = c.from_connect("t", Some(&schema), &value).unwrap().unwrap();
            let (s, v) = c.to_connect("t", Some(&bytes)).unwrap();
            prop_assert_eq!(s.as_ref(), Some(&schema));
            prop_assert_eq!(&v, &value);
            // What Jackson can parse, serde_json can parse: the output is valid JSON.
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        }
    }

    #[test]
    fn schemaless_internal_json_round_trips(value in schemaless_value()) {
        let bytes = to_schemaless_json(&value);
        prop_assert_eq!(from_schemaless_json(&bytes).unwrap(), value);
    }
}

/// Values whose schemaless form reads back identically: INT64, FLOAT64 (finite, with a
/// fraction so it is not read as an integer), strings, booleans, arrays, string-keyed maps.
fn schemaless_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Int64),
        (-1.0e15f64..1.0e15).prop_map(|f| Value::Float64(f.trunc() + 0.5)),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..5).prop_map(|m| {
                Value::Map(m.into_iter().map(|(k, v)| (Value::from(k), v)).collect())
            }),
        ]
    })
}

// Numbers: Java's number text is ferry_api::java_text's, whose golden test holds the JDK's
// output; here the JSON around it (non-finite values quoted, as Jackson does).

/// `testdata/jackson_strings.json` is the last line of ferry-api's
/// `src/java_text/testdata/JavaGolden.java` output.
#[test]
fn jackson_string_and_node_text() {
    let mut text: String = (0u8..0x80).map(char::from).collect();
    text.push_str("é✓😀\u{2028}\u{2029}\u{a0}\u{ffff}");
    let value = map(vec![
        ("schema", Value::Null),
        ("payload", text.into()),
        (
            "b",
            Value::Bytes(Bytes::from_static(b"\xde\xad\xbe\xef\xfb\xff")),
        ),
        (
            "arr",
            Value::Array(vec![Value::Null, Value::Float32(f32::NAN)]),
        ),
    ]);
    let golden = include_str!("testdata/jackson_strings.json").trim_end_matches('\n');
    assert_eq!(
        String::from_utf8(to_schemaless_json(&value)).unwrap(),
        golden
    );
    // Read back: bytes come back as their base64 text, the NaN float as the string "NaN".
    let Value::Map(mut expected) = value else {
        unreachable!()
    };
    expected[2].1 = "3q2+7/v/".into();
    expected[3].1 = Value::Array(vec![Value::Null, "NaN".into()]);
    assert_eq!(
        from_schemaless_json(golden.as_bytes()).unwrap(),
        Value::Map(expected)
    );
}

/// An empty converter config means Kafka's defaults: schemas enabled, decimals as BASE64,
/// nulls replaced by the schema's default, a schema cache of 1000 entries each way.
#[test]
fn an_empty_config_has_kafkas_defaults() {
    let c = converter(&[]);
    assert!(c.schemas_enabled());
    assert_eq!(c.decimal_format(), super::DecimalFormat::Base64);
    assert!(c.replace_null_with_default());
    let def = super::json_converter_config_def();
    assert!(matches!(
        def.key("schemas.cache.size").map(|k| &k.default),
        Some(ferry_api::ConfigDefault::Value(
            ferry_api::ConfigValue::Int(1000)
        ))
    ));
}
