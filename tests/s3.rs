//! End-to-end tests of the S3 sink: records produced by a real Kafka client (confluent-kafka)
//! into `ferry broker`, moved by the real `ferry standalone` into a real S3-compatible server
//! (moto, started here on a free loopback port), and read back with boto3, fastavro, pyarrow
//! and duckdb (tests/s3/s3tool.py).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value as Json, json};

const START: Duration = Duration::from_secs(60);

fn tool_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/s3/s3tool.py")
}

/// Runs an s3tool.py subcommand; returns its standard output.
fn tool(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(tool_path())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run s3tool.py");
    assert!(
        out.status.success(),
        "s3tool.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A moto S3 server on a free loopback port, killed when dropped.
struct S3Server {
    _child: Process,
    url: String,
}

impl S3Server {
    fn start(ws: &Workspace) -> S3Server {
        let port = free_port();
        let log = fs::File::create(ws.path("moto.log")).expect("log file");
        let child = Process(
            Command::new("python3")
                .arg(tool_path())
                .args(["server", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start moto"),
        );
        let addr = format!("127.0.0.1:{port}");
        assert!(
            wait_until(Duration::from_secs(30), || std::net::TcpStream::connect(
                &addr
            )
            .is_ok()),
            "moto did not listen; log:\n{}",
            ws.log("moto")
        );
        S3Server {
            _child: child,
            url: format!("http://{addr}"),
        }
    }

    fn bucket(&self, name: &str) {
        tool(&["mkbucket", &self.url, name]);
    }

    fn dump(&self, bucket: &str) -> Vec<Object> {
        let text = tool(&["dump", &self.url, bucket]);
        let objects: Vec<Json> = serde_json::from_str(&text).expect("dump JSON");
        objects
            .into_iter()
            .map(|o| Object {
                key: o["key"].as_str().unwrap_or_default().to_string(),
                tags: o["tags"].clone(),
                records: o["records"].as_array().cloned().unwrap_or_default(),
            })
            .collect()
    }

    fn open_uploads(&self, bucket: &str) -> Vec<String> {
        serde_json::from_str(&tool(&["uploads", &self.url, bucket])).expect("uploads JSON")
    }
}

/// A fault-injecting proxy in front of the S3 server (tests/s3/fault_proxy.py).
struct FaultProxy {
    _child: Process,
    url: String,
    control: PathBuf,
}

impl FaultProxy {
    fn start(ws: &Workspace, upstream: &str) -> FaultProxy {
        let port = free_port();
        let control = ws.path("faults");
        fs::write(&control, "pass").unwrap();
        let log = fs::File::create(ws.path("proxy.log")).expect("log file");
        let child = Process(
            Command::new("python3")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/s3/fault_proxy.py"))
                .arg(port.to_string())
                .arg(upstream)
                .arg(&control)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start proxy"),
        );
        let addr = format!("127.0.0.1:{port}");
        assert!(
            wait_until(Duration::from_secs(20), || std::net::TcpStream::connect(
                &addr
            )
            .is_ok()),
            "proxy did not listen"
        );
        FaultProxy {
            _child: child,
            url: format!("http://{addr}"),
            control,
        }
    }

    fn set(&self, mode: &str) {
        fs::write(&self.control, mode).unwrap();
    }
}

#[derive(Debug, Clone)]
struct Object {
    key: String,
    tags: Json,
    records: Vec<Json>,
}

/// One record to produce.
struct Rec {
    partition: i32,
    timestamp: i64,
    value: Json,
}

/// Produces records with confluent-kafka (topic created with `partitions` partitions).
fn produce(ws: &Workspace, broker: &FerryBroker, topic: &str, partitions: i32, records: &[Rec]) {
    let file = ws.path(&format!("produce-{topic}.jsonl"));
    let mut text = String::new();
    for r in records {
        let v = match &r.value {
            Json::Null => Json::Null,
            Json::String(s) => Json::String(s.clone()),
            other => Json::String(other.to_string()),
        };
        text.push_str(&json!({"p": r.partition, "ts": r.timestamp, "v": v}).to_string());
        text.push('\n');
    }
    fs::write(&file, text).unwrap();
    tool(&[
        "produce",
        &broker.addr,
        topic,
        &file.to_string_lossy(),
        &partitions.to_string(),
    ]);
}

/// A JSON envelope (schema + payload) as Kafka's JsonConverter writes it.
fn envelope(schema: &Json, payload: Json) -> Json {
    json!({"schema": schema, "payload": payload})
}

/// The worker config: against `broker`, JSON values with schemas, REST on `rest_port`.
fn worker(ws: &Workspace, broker: &FerryBroker, rest_port: u16, extra: &str) -> PathBuf {
    ws.write(
        "worker.yaml",
        &format!(
            "bootstrap.servers: {}\nkey.converter: org.apache.kafka.connect.storage.StringConverter\nvalue.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\noffset.flush.interval.ms: 300\nlisteners: http://127.0.0.1:{rest_port}\n{extra}",
            broker.addr
        ),
    )
}

/// An S3 sink connector config.
fn sink(
    ws: &Workspace,
    name: &str,
    store: &str,
    bucket: &str,
    topics: &str,
    extra: &str,
) -> PathBuf {
    ws.write(
        &format!("{name}.yaml"),
        &format!(
            "name: {name}\nconnector.class: S3Sink\ntopics: {topics}\ns3.bucket.name: {bucket}\nstore.url: {store}\ns3.region: us-east-1\naws.access.key.id: test\naws.secret.access.key: test\n{extra}"
        ),
    )
}

fn keys(objects: &[Object]) -> Vec<String> {
    let mut k: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
    k.sort();
    k
}

/// Waits until the bucket holds exactly `n` objects; returns them.
fn wait_for_objects(
    s3: &S3Server,
    bucket: &str,
    n: usize,
    ws: &Workspace,
    log: &str,
) -> Vec<Object> {
    let mut last = Vec::new();
    let ok = wait_until(START, || {
        last = s3.dump(bucket);
        last.len() >= n
    });
    assert!(
        ok,
        "expected {n} objects, got {:?}; log:\n{}",
        keys(&last),
        ws.log(log)
    );
    last
}

fn connector_status(rest_port: u16, name: &str) -> Json {
    let url = format!("http://127.0.0.1:{rest_port}/connectors/{name}/status");
    reqwest::blocking::get(url)
        .ok()
        .and_then(|r| r.json().ok())
        .unwrap_or(Json::Null)
}

fn order_schema() -> Json {
    json!({"type": "struct", "name": "com.example.Order", "version": 1, "optional": false, "fields": [
        {"field": "id", "type": "int64", "optional": false},
        {"field": "region", "type": "string", "optional": false},
        {"field": "amount", "type": "double", "optional": false},
        {"field": "note", "type": "string", "optional": true}
    ]})
}

fn order(id: i64) -> Json {
    let region = ["eu", "us", "ap"][(id % 3) as usize];
    json!({"id": id, "region": region, "amount": id as f64 * 1.5,
           "note": if id % 2 == 0 { Json::Null } else { Json::String(format!("n{id}")) }})
}

fn orders(partitions: i32, per_partition: i64) -> (Vec<Rec>, Vec<Vec<Json>>) {
    let schema = order_schema();
    let mut recs = Vec::new();
    let mut by_partition = vec![Vec::new(); partitions as usize];
    let mut id = 0;
    for i in 0..per_partition {
        for p in 0..partitions {
            let value = order(id);
            recs.push(Rec {
                partition: p,
                timestamp: 1_700_000_000_000 + i * 1000,
                value: envelope(&schema, value.clone()),
            });
            by_partition[p as usize].push(value);
            id += 1;
        }
    }
    (recs, by_partition)
}

#[test]
fn json_lines_default_partitioner_exactly_once_across_a_restart() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("sink-bucket");
    let broker = FerryBroker::start(&ws);
    let (recs, expected) = orders(2, 7);
    produce(&ws, &broker, "orders", 2, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let conn = sink(
        &ws,
        "s3-json",
        &s3.url,
        "sink-bucket",
        "orders",
        "format.class: io.confluent.connect.s3.format.json.JsonFormat\nflush.size: 3\n",
    );
    let mut ferry = ws.standalone(&[&worker, &conn], "run1");
    let objects = wait_for_objects(&s3, "sink-bucket", 4, &ws, "run1");
    // The 7th record of each partition waits in an open file for two more.
    std::thread::sleep(Duration::from_millis(1500));
    let objects_now = s3.dump("sink-bucket");
    assert_eq!(objects_now.len(), 4, "{:?}", keys(&objects_now));
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    assert_eq!(
        keys(&objects),
        [
            "topics/orders/partition=0/orders+0+0000000000.json",
            "topics/orders/partition=0/orders+0+0000000003.json",
            "topics/orders/partition=1/orders+1+0000000000.json",
            "topics/orders/partition=1/orders+1+0000000003.json",
        ]
    );
    for o in &objects {
        let p: usize = if o.key.contains("partition=0") { 0 } else { 1 };
        let start: usize = o.key[o.key.len() - 15..o.key.len() - 5].parse().unwrap();
        assert_eq!(o.records, expected[p][start..start + 3], "{}", o.key);
    }

    // Restart: the open records are replayed from the committed offset, two more complete
    // the third file of each partition, and nothing is written twice.
    let (more, _) = orders(2, 2);
    let more: Vec<Rec> = more
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let id = 100 + i as i64;
            r.value = envelope(&order_schema(), order(id));
            r
        })
        .collect();
    produce(&ws, &broker, "orders", 2, &more);
    let mut ferry = ws.standalone(&[&worker, &conn], "run2");
    let objects = wait_for_objects(&s3, "sink-bucket", 6, &ws, "run2");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    assert_eq!(objects.len(), 6, "{:?}", keys(&objects));
    let third = objects
        .iter()
        .find(|o| o.key == "topics/orders/partition=1/orders+1+0000000006.json")
        .expect("third file of partition 1");
    assert_eq!(third.records[0], expected[1][6]);
    assert_eq!(third.records[1], order(101));
    assert_eq!(third.records[2], order(103));
    let total: usize = objects.iter().map(|o| o.records.len()).sum();
    assert_eq!(total, 18);
}

/// Every Connect type the formats map, as a JsonConverter schema, a payload, and what a
/// reader gives back (normalized by s3tool.py: timestamps as epoch ms, dates as epoch days,
/// decimals as text, bytes as base64).
fn rich_schema() -> Json {
    json!({"type": "struct", "name": "com.example.Reading", "version": 1, "optional": false, "fields": [
        {"field": "i8", "type": "int8", "optional": false},
        {"field": "i16", "type": "int16", "optional": false},
        {"field": "i32", "type": "int32", "optional": false},
        {"field": "i64", "type": "int64", "optional": false},
        {"field": "f32", "type": "float", "optional": false},
        {"field": "f64", "type": "double", "optional": false},
        {"field": "flag", "type": "boolean", "optional": false},
        {"field": "text", "type": "string", "optional": false},
        {"field": "blob", "type": "bytes", "optional": false},
        {"field": "maybe", "type": "string", "optional": true},
        {"field": "tags", "type": "array", "items": {"type": "string", "optional": false}, "optional": false},
        {"field": "counts", "type": "map", "keys": {"type": "string", "optional": false},
         "values": {"type": "int64", "optional": false}, "optional": false},
        {"field": "place", "type": "struct", "name": "com.example.Place", "optional": true, "fields": [
            {"field": "city", "type": "string", "optional": false},
            {"field": "zip", "type": "int32", "optional": true}]},
        {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
         "version": 1, "parameters": {"scale": "2"}, "optional": false},
        {"field": "day", "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1, "optional": false},
        {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, "optional": false},
        {"field": "tod", "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1, "optional": false}
    ]})
}

fn rich(i: i64) -> (Json, Json) {
    // price = (1234 + i) / 100, as the unscaled big-endian bytes in base64
    let unscaled = 1234 + i;
    let bytes = [(unscaled >> 8) as u8, unscaled as u8];
    let price_b64 = base64_of(&bytes);
    let payload = json!({
        "i8": (i % 100) as i8, "i16": 1000 + i, "i32": 100_000 + i, "i64": 10_000_000_000i64 + i,
        "f32": 0.5 + i as f64, "f64": 0.25 + i as f64, "flag": i % 2 == 0, "text": format!("text {i} ✓"),
        "blob": base64_of(format!("blob{i}").as_bytes()),
        "maybe": if i % 3 == 0 { Json::Null } else { json!(format!("m{i}")) },
        "tags": [format!("a{i}"), "b"], "counts": {"x": i, "y": 2 * i},
        "place": if i % 4 == 0 { Json::Null } else { json!({"city": format!("c{i}"), "zip": if i % 2 == 0 { Json::Null } else { json!(i) }}) },
        "price": price_b64, "day": 19000 + i, "at": 1_700_000_000_000i64 + i, "tod": 3_600_000 + i
    });
    let mut read = payload.clone();
    read["price"] = json!(format!("{}.{:02}", unscaled / 100, unscaled % 100));
    (payload, read)
}

fn base64_of(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The same records through Avro (each codec) and Parquet (each codec), read back with
/// fastavro, pyarrow and duckdb, compared field by field.
#[test]
fn avro_and_parquet_every_type_and_codec_read_back_by_other_tools() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("typed");
    let broker = FerryBroker::start(&ws);
    let schema = rich_schema();
    let n = 10;
    let mut recs = Vec::new();
    let mut expected = Vec::new();
    for i in 0..n {
        let (payload, read) = rich(i);
        recs.push(Rec {
            partition: 0,
            timestamp: 1_700_000_000_000,
            value: envelope(&schema, payload),
        });
        expected.push(read);
    }
    produce(&ws, &broker, "readings", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let mut files = vec![worker];
    let variants = [
        ("avro-null", "AvroFormat", "avro.codec: \"null\"", ".avro"),
        ("avro-deflate", "AvroFormat", "avro.codec: deflate", ".avro"),
        ("avro-snappy", "AvroFormat", "avro.codec: snappy", ".avro"),
        ("parquet-snappy", "ParquetFormat", "", ".snappy.parquet"),
        (
            "parquet-none",
            "ParquetFormat",
            "parquet.codec: none",
            ".parquet",
        ),
        (
            "parquet-gzip",
            "ParquetFormat",
            "parquet.codec: gzip",
            ".gz.parquet",
        ),
        (
            "parquet-zstd",
            "ParquetFormat",
            "parquet.codec: zstd",
            ".zstd.parquet",
        ),
    ];
    for (name, format, codec, _) in variants {
        files.push(sink(
            &ws,
            name,
            &s3.url,
            "typed",
            "readings",
            &format!(
                "format.class: io.confluent.connect.s3.format.{}.{format}\n{codec}\nflush.size: {n}\ntopics.dir: {name}\n",
                format.trim_end_matches("Format").to_lowercase()
            ),
        ));
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut ferry = ws.standalone(&refs, "run");
    let objects = wait_for_objects(&s3, "typed", variants.len(), &ws, "run");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    for (name, _, _, ext) in variants {
        let key = format!("{name}/readings/partition=0/readings+0+0000000000{ext}");
        let o = objects
            .iter()
            .find(|o| o.key == key)
            .unwrap_or_else(|| panic!("{key} missing: {:?}", keys(&objects)));
        assert_eq!(o.records.len(), n as usize, "{key}");
        for (got, want) in o.records.iter().zip(&expected) {
            let mut want = want.clone();
            let mut got = got.clone();
            // Floats: f32 values come back as the nearest double.
            assert_eq!(got["f32"].as_f64(), want["f32"].as_f64(), "{key}");
            got["f32"] = Json::Null;
            want["f32"] = Json::Null;
            // pyarrow reads Parquet maps as [key, value] pairs; Avro maps are objects.
            if let Some(pairs) = got["counts"].as_array() {
                let obj: serde_json::Map<String, Json> = pairs
                    .iter()
                    .map(|p| (p[0].as_str().unwrap().to_string(), p[1].clone()))
                    .collect();
                got["counts"] = Json::Object(obj);
            }
            assert_eq!(got, want, "{key}");
        }
    }
}

/// ByteArrayFormat writes the raw bytes, StringFormat (Ferry's extension) the text, one per
/// line; gzip compression and object tagging on top.
#[test]
fn bytearray_and_string_formats_with_gzip_and_tags() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("lines");
    let broker = FerryBroker::start(&ws);
    let recs: Vec<Rec> = (0..6)
        .map(|i| Rec {
            partition: 0,
            timestamp: 0,
            value: Json::String(format!("line {i} é")),
        })
        .collect();
    produce(&ws, &broker, "text", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let bytes = sink(
        &ws,
        "raw",
        &s3.url,
        "lines",
        "text",
        "format.class: ByteArrayFormat\nvalue.converter: org.apache.kafka.connect.converters.ByteArrayConverter\nflush.size: 3\ntopics.dir: raw\ns3.compression.type: gzip\n",
    );
    let text = sink(
        &ws,
        "text",
        &s3.url,
        "lines",
        "text",
        "format.class: StringFormat\nvalue.converter: org.apache.kafka.connect.storage.StringConverter\nflush.size: 3\ntopics.dir: txt\ns3.object.tagging: true\ns3.object.tagging.extra.kv: team:data,env:test\n",
    );
    let mut ferry = ws.standalone(&[&worker, &bytes, &text], "run");
    let objects = wait_for_objects(&s3, "lines", 4, &ws, "run");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    assert_eq!(
        keys(&objects),
        [
            "raw/text/partition=0/text+0+0000000000.bin.gz",
            "raw/text/partition=0/text+0+0000000003.bin.gz",
            "txt/text/partition=0/text+0+0000000000.txt",
            "txt/text/partition=0/text+0+0000000003.txt",
        ]
    );
    let raw = &objects
        .iter()
        .find(|o| o.key.ends_with("text+0+0000000003.bin.gz"))
        .unwrap()
        .records;
    let want: Vec<Json> = (3..6)
        .map(|i| Json::String(base64_of(format!("line {i} é").as_bytes())))
        .collect();
    assert_eq!(raw, &want);
    let txt = objects
        .iter()
        .find(|o| o.key.ends_with("text+0+0000000000.txt"))
        .unwrap();
    assert_eq!(
        txt.records,
        [json!("line 0 é"), json!("line 1 é"), json!("line 2 é")]
    );
    assert_eq!(
        txt.tags,
        json!({"startOffset": "0", "endOffset": "2", "recordCount": "3", "team": "data", "env": "test"})
    );
}

/// FieldPartitioner directories, and TimeBasedPartitioner on record time with
/// `rotate.interval.ms`: files are cut where record timestamps say, not by the clock.
#[test]
fn field_and_time_based_partitioners() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("parts");
    let broker = FerryBroker::start(&ws);
    let schema = order_schema();
    // 2024-01-07T05:00:00Z + i × 20 min: hours 05, 05, 05, 06, 06, 06, 07, 07
    let base = 1_704_603_600_000i64;
    let recs: Vec<Rec> = (0..8)
        .map(|i| Rec {
            partition: 0,
            timestamp: base + i * 20 * 60_000,
            value: envelope(&schema, order(i)),
        })
        .collect();
    produce(&ws, &broker, "events", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let by_field = sink(
        &ws,
        "by-field",
        &s3.url,
        "parts",
        "events",
        "format.class: JsonFormat\nflush.size: 4\ntopics.dir: field\npartitioner.class: io.confluent.connect.storage.partitioner.FieldPartitioner\npartition.field.name: region\n",
    );
    let hourly = sink(
        &ws,
        "hourly",
        &s3.url,
        "parts",
        "events",
        "format.class: JsonFormat\nflush.size: 1000\nrotate.interval.ms: 3600000\ntopics.dir: time\npartitioner.class: TimeBasedPartitioner\npath.format: \"'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH\"\npartition.duration.ms: 3600000\nlocale: en\ntimezone: UTC\ntimestamp.extractor: Record\n",
    );
    let daily_la = sink(
        &ws,
        "daily",
        &s3.url,
        "parts",
        "events",
        "format.class: JsonFormat\nflush.size: 3\ntopics.dir: daily\npartitioner.class: DailyPartitioner\nlocale: en_US\ntimezone: America/Los_Angeles\ntimestamp.extractor: Record\n",
    );
    let mut ferry = ws.standalone(&[&worker, &by_field, &hourly, &daily_la], "run");
    // field: flush.size 4 counts all regions → 2 commits × 3 regions = 6 objects;
    // hourly: hour 05 and 06 committed (07 stays open); daily: 2 files of 3.
    let objects = wait_for_objects(&s3, "parts", 10, &ws, "run");
    std::thread::sleep(Duration::from_millis(1000));
    let objects_later = s3.dump("parts");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    assert_eq!(keys(&objects), keys(&objects_later));
    assert_eq!(
        keys(&objects),
        [
            "daily/events/year=2024/month=01/day=06/events+0+0000000000.json",
            "daily/events/year=2024/month=01/day=06/events+0+0000000003.json",
            "field/events/region=ap/events+0+0000000002.json",
            "field/events/region=ap/events+0+0000000005.json",
            "field/events/region=eu/events+0+0000000000.json",
            "field/events/region=eu/events+0+0000000006.json",
            "field/events/region=us/events+0+0000000001.json",
            "field/events/region=us/events+0+0000000004.json",
            "time/events/year=2024/month=01/day=07/hour=05/events+0+0000000000.json",
            "time/events/year=2024/month=01/day=07/hour=06/events+0+0000000003.json",
        ]
    );
    let hour6 = objects.iter().find(|o| o.key.contains("hour=06")).unwrap();
    assert_eq!(hour6.records, [order(3), order(4), order(5)]);
    let eu = objects
        .iter()
        .find(|o| o.key.ends_with("region=eu/events+0+0000000000.json"))
        .unwrap();
    assert_eq!(eu.records, [order(0), order(3)]);
}

fn wait_for_task_state(rest: u16, name: &str, state: &str, ws: &Workspace, log: &str) -> Json {
    let mut status = Json::Null;
    let ok = wait_until(START, || {
        status = connector_status(rest, name);
        status["tasks"][0]["state"] == state
    });
    assert!(ok, "task never {state}: {status}; log:\n{}", ws.log(log));
    status
}

/// A missing bucket, and a store that denies access, fail the task with that message.
#[test]
fn missing_bucket_or_access_denied_fails_the_task() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("present");
    let proxy = FaultProxy::start(&ws, &s3.url);
    let broker = FerryBroker::start(&ws);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let missing = sink(
        &ws,
        "missing",
        &s3.url,
        "no-such-bucket",
        "t",
        "format.class: JsonFormat\nflush.size: 1\n",
    );
    proxy.set("403");
    let denied = sink(
        &ws,
        "denied",
        &proxy.url,
        "present",
        "t",
        "format.class: JsonFormat\nflush.size: 1\n",
    );
    let mut ferry = ws.standalone(&[&worker, &missing, &denied], "run");
    let status = wait_for_task_state(rest, "missing", "FAILED", &ws, "run");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("Non-existent S3 bucket: no-such-bucket"),
        "{status}"
    );
    let status = wait_for_task_state(rest, "denied", "FAILED", &ws, "run");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("Access denied to S3 bucket present"),
        "{status}"
    );
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
}

/// The store answers 503 for a while, in the middle of multipart uploads: the sink retries,
/// rewinds and writes the same objects again; in the end every record is in the bucket
/// exactly once and no upload is left open.
#[test]
fn a_store_answering_503_for_a_while_loses_and_duplicates_nothing() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("flaky");
    let proxy = FaultProxy::start(&ws, &s3.url);
    let broker = FerryBroker::start(&ws);
    // 20000 records of ~600 bytes: two objects of ~6 MB, each a 5 MB part and the rest.
    let n = 20_000;
    let (mut recs, _) = orders(2, n / 2);
    let pad = "x".repeat(520);
    for (i, r) in recs.iter_mut().enumerate() {
        let mut value = order(i as i64);
        value["note"] = json!(format!("{pad}{i}"));
        r.value = envelope(&order_schema(), value);
    }
    // The topic exists before the worker subscribes (which would create it with 1 partition).
    produce(&ws, &broker, "flaky", 2, &[]);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let conn = sink(
        &ws,
        "flaky",
        &proxy.url,
        "flaky",
        "flaky",
        "format.class: JsonFormat\nflush.size: 10000\ns3.part.size: 5242880\ns3.part.retries: 2\ns3.retry.backoff.ms: 50\nretry.backoff.ms: 500\n",
    );
    let mut ferry = ws.standalone(&[&worker, &conn], "run");
    wait_for_task_state(rest, "flaky", "RUNNING", &ws, "run");
    // The store fails every request while the records arrive, then recovers.
    proxy.set("503");
    produce(&ws, &broker, "flaky", 2, &recs);
    std::thread::sleep(Duration::from_secs(3));
    proxy.set("pass");
    wait_for_objects(&s3, "flaky", 2, &ws, "run");
    std::thread::sleep(Duration::from_millis(1000));
    let objects = s3.dump("flaky");
    let log = ws.log("run");
    assert!(
        log.contains("written again"),
        "no transient failure seen; log:\n{log}"
    );
    assert_eq!(
        connector_status(rest, "flaky")["tasks"][0]["state"],
        "RUNNING"
    );
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    let mut ids: Vec<i64> = objects
        .iter()
        .flat_map(|o| o.records.iter().map(|r| r["id"].as_i64().unwrap()))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..n).collect::<Vec<i64>>());
    assert_eq!(s3.open_uploads("flaky"), Vec::<String>::new());
}

/// `kill -9` of the worker at random moments while it uploads, several times, then a clean
/// run: every record is in the bucket exactly once.
#[test]
fn kill_9_during_uploads_then_every_record_is_in_the_bucket_exactly_once() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("crashy");
    let broker = FerryBroker::start(&ws);
    let n = 200_000;
    let (recs, _) = orders(4, n / 4);
    produce(&ws, &broker, "crashy", 4, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let conn = sink(
        &ws,
        "crashy",
        &s3.url,
        "crashy",
        "crashy",
        "format.class: ParquetFormat\nflush.size: 2500\n",
    );
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let total = (n / 2500) as usize;
    let mut killed_mid_work = 0;
    for round in 0..5 {
        let log = format!("kill{round}");
        let mut ferry = ws.standalone(&[&worker, &conn], &log);
        // Kill while objects are being written: after a random few of this run's commits, at
        // a random moment soon after.
        let commits = random(1, 4) as usize;
        assert!(
            wait_until(START, || ws.log(&log).matches("files committed").count()
                >= commits),
            "fewer than {commits} commits in round {round}; log:\n{}",
            ws.log(&log)
        );
        std::thread::sleep(Duration::from_millis(random(0, 50)));
        ferry.kill().expect("kill -9");
        let _ = ferry.wait();
        let present = s3.dump("crashy").len();
        eprintln!(
            "round {round}: killed after {} commits with {present} of {total} objects written",
            ws.log(&log).matches("files committed").count()
        );
        if present < total {
            killed_mid_work += 1;
        }
    }
    // The sink is fast enough to finish in one run's time: what matters is that kills came
    // while objects were still being written.
    assert!(
        killed_mid_work >= 2,
        "only {killed_mid_work} of 5 kills came while objects were still being written"
    );
    let mut ferry = ws.standalone(&[&worker, &conn], "final");
    let objects = wait_for_objects(&s3, "crashy", total, &ws, "final");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    let mut ids: Vec<i64> = objects
        .iter()
        .flat_map(|o| o.records.iter().map(|r| r["id"].as_i64().unwrap()))
        .collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "duplicates in {:?}", keys(&objects));
    assert_eq!(ids, (0..n).collect::<Vec<i64>>());
}

/// The example configs in configs/ run as they are, with only the store, bucket and topic
/// pointed at this test's (their other keys are what is exercised).
#[test]
fn example_configs_run() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("ferry-demo");
    let broker = FerryBroker::start(&ws);
    let schema = order_schema();
    let base = 1_704_603_600_000i64;
    let recs: Vec<Rec> = (0..1000)
        .map(|i| Rec {
            partition: 0,
            timestamp: base + i * 1000,
            value: envelope(&schema, order(i)),
        })
        .collect();
    produce(&ws, &broker, "orders", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let mut files = vec![worker];
    for name in [
        "s3-sink-json.yaml",
        "s3-sink-parquet-hourly.yaml",
        "s3-sink-avro-by-field.yaml",
    ] {
        let text = fs::read_to_string(configs.join(name)).unwrap();
        assert!(text.contains("store.url: http://127.0.0.1:5000"), "{name}");
        let text = text.replace("http://127.0.0.1:5000", &s3.url);
        files.push(ws.write(name, &text));
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let mut ferry = ws.standalone(&refs, "run");
    // json: 1 file of 1000; avro: 2 commits of 500 × 3 regions; parquet: 10000 records or
    // 10 minutes: records span 16 minutes, so the first 600 are committed.
    let objects = wait_for_objects(&s3, "ferry-demo", 8, &ws, "run");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    let k = keys(&objects);
    assert!(
        k.contains(&"topics/orders/partition=0/orders+0+0000000000.json".to_string()),
        "{k:?}"
    );
    assert!(
        k.contains(&"topics/orders/region=eu/orders+0+0000000000.avro".to_string()),
        "{k:?}"
    );
    assert!(
        k.contains(&"warehouse/orders/year=2024/month=01/day=07/hour=05/orders+0+0000000000.snappy.parquet".to_string()),
        "{k:?}"
    );
    let parquet = objects
        .iter()
        .find(|o| o.key.ends_with(".parquet"))
        .unwrap();
    assert_eq!(parquet.records.len(), 600);
    assert_eq!(parquet.records[599], order(599));
}

/// A bad S3 sink config is refused before anything starts, naming the key.
#[test]
fn bad_configs_are_refused_with_the_key() {
    let ws = Workspace::new();
    let worker = ws.worker_config("");
    for (extra, key) in [
        ("format.class: CsvFormat\nflush.size: 1\n", "format.class"),
        ("format.class: JsonFormat\n", "flush.size"),
        (
            "format.class: JsonFormat\nflush.size: 1\ns3.part.size: 1000\n",
            "s3.part.size",
        ),
        (
            "format.class: JsonFormat\nflush.size: 1\npartitioner.class: TimeBasedPartitioner\npath.format: YYYY\npartition.duration.ms: 1000\nlocale: en\n",
            "timezone",
        ),
        (
            "format.class: JsonFormat\nflush.size: 1\npartitioner.class: FieldPartitioner\n",
            "partition.field.name",
        ),
        (
            "format.class: JsonFormat\nflush.size: 1\nbehavior.on.null.values: write\n",
            "behavior.on.null.values",
        ),
    ] {
        let conn = ws.write(
            "bad.yaml",
            &format!("name: bad\nconnector.class: io.confluent.connect.s3.S3SinkConnector\ntopics: t\ns3.bucket.name: b\n{extra}"),
        );
        let out = run_to_end(
            ferry().arg("standalone").arg(&worker).arg(&conn),
            Duration::from_secs(20),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra}: {stderr}");
        assert!(stderr.contains(key), "{extra}: {stderr}");
        if extra.contains("write") {
            assert!(stderr.contains("store.kafka.keys"), "{stderr}");
        }
    }
}

/// Schema changes rotate files as `schema.compatibility` says: NONE on any change; BACKWARD
/// only for a newer version, an older record being projected onto the file's newer schema.
#[test]
fn schema_changes_rotate_files_by_schema_compatibility() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("schemas");
    let broker = FerryBroker::start(&ws);
    let v1 = json!({"type": "struct", "name": "com.example.User", "version": 1, "optional": false, "fields": [
        {"field": "id", "type": "int32", "optional": false}]});
    let v2 = json!({"type": "struct", "name": "com.example.User", "version": 2, "optional": false, "fields": [
        {"field": "id", "type": "int32", "optional": false},
        {"field": "email", "type": "string", "optional": true, "default": "none"}]});
    let values = [
        envelope(&v1, json!({"id": 0})),
        envelope(&v1, json!({"id": 1})),
        envelope(&v2, json!({"id": 2, "email": "a@b"})),
        envelope(&v2, json!({"id": 3, "email": "c@d"})),
        envelope(&v1, json!({"id": 4})),
    ];
    let recs: Vec<Rec> = values
        .into_iter()
        .map(|value| Rec {
            partition: 0,
            timestamp: 0,
            value,
        })
        .collect();
    produce(&ws, &broker, "users", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let none = sink(
        &ws,
        "none",
        &s3.url,
        "schemas",
        "users",
        "format.class: AvroFormat\nflush.size: 10\ntopics.dir: none\n",
    );
    let backward = sink(
        &ws,
        "backward",
        &s3.url,
        "schemas",
        "users",
        "format.class: AvroFormat\nflush.size: 3\ntopics.dir: backward\nschema.compatibility: BACKWARD\n",
    );
    let mut ferry = ws.standalone(&[&worker, &none, &backward], "run");
    let objects = wait_for_objects(&s3, "schemas", 4, &ws, "run");
    std::thread::sleep(Duration::from_millis(1000));
    let objects_later = s3.dump("schemas");
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    assert_eq!(keys(&objects), keys(&objects_later));
    let get = |key: &str| {
        objects
            .iter()
            .find(|o| o.key == key)
            .unwrap_or_else(|| panic!("{key} missing: {:?}", keys(&objects)))
            .records
            .clone()
    };
    assert_eq!(
        get("none/users/partition=0/users+0+0000000000.avro"),
        [json!({"id": 0}), json!({"id": 1})]
    );
    assert_eq!(
        get("none/users/partition=0/users+0+0000000002.avro"),
        [
            json!({"id": 2, "email": "a@b"}),
            json!({"id": 3, "email": "c@d"})
        ]
    );
    assert_eq!(
        get("backward/users/partition=0/users+0+0000000000.avro"),
        [json!({"id": 0}), json!({"id": 1})]
    );
    assert_eq!(
        get("backward/users/partition=0/users+0+0000000002.avro"),
        [
            json!({"id": 2, "email": "a@b"}),
            json!({"id": 3, "email": "c@d"}),
            json!({"id": 4, "email": "none"})
        ]
    );
}

fn committed_offset(rest: u16, name: &str) -> Option<i64> {
    let url = format!("http://127.0.0.1:{rest}/connectors/{name}/offsets");
    let body: Json = reqwest::blocking::get(url).ok()?.json().ok()?;
    body["offsets"][0]["offset"]["kafka_offset"].as_i64()
}

/// Tombstones: `behavior.on.null.values=fail` (the default) fails the task naming the
/// record; `ignore` skips them, and their offsets commit (also a tombstone that is the
/// partition's last record).
#[test]
fn tombstones_fail_the_task_by_default_and_are_skipped_with_ignore() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("fail");
    s3.bucket("ignore");
    let broker = FerryBroker::start(&ws);
    let schema = order_schema();
    let values = [Some(0), Some(1), None, Some(3), Some(4), None];
    let recs: Vec<Rec> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Rec {
            partition: 0,
            timestamp: 1_700_000_000_000 + i as i64,
            value: v.map_or(Json::Null, |id| envelope(&schema, order(id))),
        })
        .collect();
    produce(&ws, &broker, "deletes", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let failing = sink(
        &ws,
        "fails",
        &s3.url,
        "fail",
        "deletes",
        "format.class: JsonFormat\nflush.size: 2\n",
    );
    let ignoring = sink(
        &ws,
        "ignores",
        &s3.url,
        "ignore",
        "deletes",
        "format.class: JsonFormat\nflush.size: 2\nbehavior.on.null.values: ignore\n",
    );
    let mut ferry = ws.standalone(&[&worker, &failing, &ignoring], "run");
    let status = wait_for_task_state(rest, "fails", "FAILED", &ws, "run");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("Null valued records are not writeable")
            && trace.contains("offset 2 of deletes-0"),
        "{status}"
    );
    let objects = wait_for_objects(&s3, "ignore", 2, &ws, "run");
    assert_eq!(
        keys(&objects),
        [
            "topics/deletes/partition=0/deletes+0+0000000000.json",
            "topics/deletes/partition=0/deletes+0+0000000003.json",
        ]
    );
    assert_eq!(objects[0].records, [order(0), order(1)]);
    assert_eq!(objects[1].records, [order(3), order(4)]);
    // The trailing tombstone's offset commits too.
    assert!(
        wait_until(START, || committed_offset(rest, "ignores") == Some(6)),
        "committed {:?}; log:\n{}",
        committed_offset(rest, "ignores"),
        ws.log("run")
    );
    // The failed task wrote what came before the tombstone, and nothing after it.
    assert_eq!(
        keys(&s3.dump("fail")),
        ["topics/deletes/partition=0/deletes+0+0000000000.json"]
    );
    assert!(committed_offset(rest, "fails").is_none_or(|o| o <= 2));
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
}

/// Records the format cannot write (a schemaless value, a value that is no struct, for
/// Parquet) go to the errant record reporter: with `errors.tolerance=all` to the dead letter
/// queue with Connect's `__connect.errors.*` headers, the task going on and their offsets
/// committing; with the default tolerance the task fails naming the record and the cause.
#[test]
fn records_the_format_cannot_write_go_to_the_dead_letter_queue_or_fail_the_task() {
    let ws = Workspace::new();
    let s3 = S3Server::start(&ws);
    s3.bucket("tolerant");
    s3.bucket("strict");
    let broker = FerryBroker::start(&ws);
    let schema = order_schema();
    let schemaless = json!({"schema": null, "payload": {"id": 2}});
    let not_a_struct = json!({"schema": {"type": "string", "optional": false}, "payload": "five"});
    let values = [
        envelope(&schema, order(0)),
        envelope(&schema, order(1)),
        schemaless.clone(),
        envelope(&schema, order(3)),
        envelope(&schema, order(4)),
        not_a_struct.clone(),
        envelope(&schema, order(6)),
        envelope(&schema, order(7)),
    ];
    let recs: Vec<Rec> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Rec {
            partition: 0,
            timestamp: 1_700_000_000_000 + i as i64,
            value: v.clone(),
        })
        .collect();
    produce(&ws, &broker, "mixed", 1, &recs);
    let rest = free_port();
    let worker = worker(&ws, &broker, rest, "");
    let parquet =
        "format.class: io.confluent.connect.s3.format.parquet.ParquetFormat\nflush.size: 2\n";
    let tolerant = sink(
        &ws,
        "tolerant",
        &s3.url,
        "tolerant",
        "mixed",
        &format!(
            "{parquet}errors.tolerance: all\nerrors.deadletterqueue.topic.name: mixed-dlq\n\
             errors.deadletterqueue.context.headers.enable: true\n"
        ),
    );
    let strict = sink(&ws, "strict", &s3.url, "strict", "mixed", parquet);
    let mut ferry = ws.standalone(&[&worker, &tolerant, &strict], "run");

    let status = wait_for_task_state(rest, "strict", "FAILED", &ws, "run");
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default();
    assert!(
        trace.contains("offset 2 of mixed-0") && trace.contains("no value schema"),
        "{status}"
    );

    let objects = wait_for_objects(&s3, "tolerant", 3, &ws, "run");
    assert_eq!(
        keys(&objects),
        [
            "topics/mixed/partition=0/mixed+0+0000000000.snappy.parquet",
            "topics/mixed/partition=0/mixed+0+0000000003.snappy.parquet",
            "topics/mixed/partition=0/mixed+0+0000000006.snappy.parquet",
        ]
    );
    let by_key = |suffix: &str| {
        objects
            .iter()
            .find(|o| o.key.ends_with(suffix))
            .map(|o| o.records.clone())
            .unwrap_or_default()
    };
    assert_eq!(by_key("0000000000.snappy.parquet"), [order(0), order(1)]);
    assert_eq!(by_key("0000000003.snappy.parquet"), [order(3), order(4)]);
    assert_eq!(by_key("0000000006.snappy.parquet"), [order(6), order(7)]);
    assert!(
        wait_until(START, || committed_offset(rest, "tolerant") == Some(8)),
        "committed {:?}; log:\n{}",
        committed_offset(rest, "tolerant"),
        ws.log("run")
    );

    let dlq: Vec<Json> =
        serde_json::from_str(&tool(&["consume", &broker.addr, "mixed-dlq", "2"])).unwrap();
    assert_eq!(dlq.len(), 2, "{dlq:?}; log:\n{}", ws.log("run"));
    for (record, (offset, original, cause)) in dlq.iter().zip([
        (2, &schemaless, "no value schema"),
        (5, &not_a_struct, "must have struct values"),
    ]) {
        let h = &record["headers"];
        assert_eq!(h["__connect.errors.topic"], "mixed", "{record}");
        assert_eq!(h["__connect.errors.partition"], "0", "{record}");
        assert_eq!(h["__connect.errors.offset"], offset.to_string(), "{record}");
        assert_eq!(h["__connect.errors.stage"], "TASK_PUT", "{record}");
        let message = h["__connect.errors.exception.message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(cause), "{record}");
        // The dead letter keeps the bytes the record was consumed with.
        let value: Json =
            serde_json::from_str(record["value"].as_str().unwrap_or("null")).unwrap_or(Json::Null);
        assert_eq!(&value, original, "{record}");
    }
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
}
