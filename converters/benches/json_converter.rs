//! Serialize and deserialize of one record with the JsonConverter, as the Postgres
//! connectors' benchmark uses it: a row of (bigint, text(50), numeric(12,2), timestamptz) as
//! a struct, with the `{"schema":...,"payload":...}` envelope and without it.
//!
//! `cargo bench -p ferry-converters --bench json_converter`

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferry_api::logical::{self, Decimal};
use ferry_api::{ConfigMap, Converter, Schema, SchemaBuilder, Struct, Value};
use ferry_converters::JsonConverter;

fn row_schema() -> Schema {
    SchemaBuilder::struct_()
        .name("bench.public.src")
        .field("id", Schema::int64())
        .field("name", Schema::string())
        .field("amount", logical::decimal_schema(2))
        .field("at", logical::timestamp_schema())
        .build()
}

fn row(schema: &Schema, id: i64) -> Value {
    let mut s = Struct::new(schema.clone()).expect("a struct schema");
    let name = format!("{:x<50}", format!("name-{id}"));
    let amount = Decimal::parse(&format!("{}.{:02}", id % 1000, id % 100)).expect("a decimal");
    s.put("id", Value::Int64(id)).expect("id");
    s.put("name", Value::from(name.as_str())).expect("name");
    s.put("amount", Value::Decimal(amount)).expect("amount");
    s.put("at", Value::Timestamp(1_704_067_200_000 + id))
        .expect("at");
    Value::Struct(s)
}

fn converter(schemas_enable: bool) -> JsonConverter {
    let mut config = ConfigMap::new();
    config.insert("schemas.enable".into(), schemas_enable.to_string());
    let mut c = JsonConverter::new();
    c.configure(&config, false).expect("a valid config");
    c
}

fn bench(c: &mut Criterion) {
    let schema = row_schema();
    let value = row(&schema, 123_456);
    for (label, schemas_enable) in [("envelope", true), ("schemaless", false)] {
        let conv = converter(schemas_enable);
        let bytes: Bytes = conv
            .from_connect("t", Some(&schema), &value)
            .expect("serializes")
            .expect("not a tombstone");
        let mut group = c.benchmark_group(format!("json_converter/{label}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("serialize", |b| {
            b.iter(|| conv.from_connect("t", Some(black_box(&schema)), black_box(&value)))
        });
        group.bench_function("deserialize", |b| {
            b.iter(|| conv.to_connect("t", Some(black_box(&bytes))))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
