//! End-to-end tests of the Postgres connectors: the real `ferry standalone` binary against
//! the real PostgreSQL named by `DATABASE_URL` (tests/setup.sh makes sure it runs with
//! `wal_level=logical`). Each test works in a schema, slot and publication of its own, so
//! tests run in parallel and again.

mod common;
#[path = "postgres/support.rs"]
mod support;

use std::path::{Path, PathBuf};

use common::*;
use support::*;

/// A Connect JSON envelope (`schemas.enable=true`) of a struct value, one line.
fn envelope(fields: &str, payload: &str) -> String {
    format!(
        r#"{{"schema":{{"type":"struct","name":"row","optional":false,"fields":[{fields}]}},"payload":{payload}}}"#
    )
}

const ROW_FIELDS: &str = r#"{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true},{"field":"amount","type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},{"field":"at","type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp"}"#;

/// A file source whose lines become records as they are (StringConverter), read by the
/// Postgres sink as Connect JSON envelopes.
fn file_to_sink(ws: &Workspace, input: &Path, topic: &str, sink_extra: &str) -> (PathBuf, PathBuf) {
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: lines\nconnector.class: FileStreamSource\nfile: {}\ntopic: {topic}\n",
            input.display()
        ),
    );
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: pg-sink\nconnector.class: io.confluent.connect.jdbc.JdbcSinkConnector\n\
             connection.url: jdbc:{}\ntopics: {topic}\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\n\
             value.converter.schemas.enable: true\n{sink_extra}",
            database_url().replace("postgres://", "postgresql://")
        ),
    );
    (source, sink)
}

#[test]
fn sink_creates_the_table_and_upserts_rows() {
    let schema = TestSchema::new("sink_upsert");
    let ws = Workspace::new();
    let input = ws.path("rows.jsonl");
    // 10.00 is unscaled 1000 = 0x03e8, base64 "A+g="
    let lines = [
        envelope(
            ROW_FIELDS,
            r#"{"id":1,"name":"one","amount":"A+g=","at":1700000000123}"#,
        ),
        envelope(
            ROW_FIELDS,
            r#"{"id":2,"name":"two","amount":null,"at":null}"#,
        ),
        envelope(
            ROW_FIELDS,
            r#"{"id":1,"name":"uno","amount":"A+g=","at":1700000000123}"#,
        ),
    ];
    append(&input, &(lines.join("\n") + "\n"));
    let worker = ws.worker_config("");
    let (source, sink) = file_to_sink(
        &ws,
        &input,
        "rows",
        &format!(
            "table.name.format: {}.${{topic}}\nauto.create: true\ninsert.mode: upsert\npk.mode: record_value\npk.fields: id\n",
            schema.0
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    let table = schema.table("rows");
    wait_for_sql(
        &ws,
        "run",
        &format!(
            "SELECT string_agg(id || ':' || name || ':' || coalesce(amount::text, '-') || ':' || coalesce(at::text, '-'), ',' ORDER BY id) FROM {table}"
        ),
        "1:uno:10.00:2023-11-14 22:13:20.123,2:two:-:-",
    );
    assert_eq!(
        psql(&format!(
            "SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ', ' ORDER BY ordinal_position) \
             FROM information_schema.columns WHERE table_schema = '{}' AND table_name = 'rows'",
            schema.0
        )),
        "id bigint NO, name text YES, amount numeric YES, at timestamp without time zone YES"
    );
    // Schema evolution is refused without auto.evolve, and names the missing column.
    let wider = r#"{"field":"id","type":"int64","optional":false},{"field":"extra","type":"int32","optional":true}"#;
    append(&input, &(envelope(wider, r#"{"id":3,"extra":7}"#) + "\n"));
    let rest = rest_url(&ws, "run");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "pg-sink").0 == "FAILED"),
        "log:\n{}",
        ws.log("run")
    );
    let trace = task_state(&rest, "pg-sink").1;
    assert!(
        trace.contains("no column extra") && trace.contains("auto.evolve"),
        "{trace}"
    );
    let status = terminate(&mut ferry, LIMIT);
    assert!(status.success(), "{}", ws.log("run"));
}

/// `connection.url` of the test database in its JDBC form.
fn jdbc_url() -> String {
    let url = database_url();
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
        .unwrap_or(&url);
    match rest.split_once('@') {
        Some((user, hostdb)) => format!("jdbc:postgresql://{hostdb}?user={user}"),
        None => format!("jdbc:postgresql://{rest}"),
    }
}

fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn source_reads_new_rows_resumes_and_discovers_tables() {
    let schema = TestSchema::new("src_inc");
    psql(&format!(
        "CREATE TABLE {0}.a (id serial PRIMARY KEY, name text NOT NULL); \
         INSERT INTO {0}.a (name) VALUES ('a1'), ('a2'), ('a3')",
        schema.0
    ));
    let ws = Workspace::new();
    let out = ws.path("out.jsonl");
    let worker = ws.worker_config("");
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: pg-src\nconnector.class: io.confluent.connect.jdbc.JdbcSourceConnector\n\
             connection.url: {}\nmode: incrementing\nincrementing.column.name: id\n\
             topic.prefix: {}-\nschema.pattern: {}\npoll.interval.ms: 200\ntable.poll.interval.ms: 500\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: false\n",
            jdbc_url(),
            schema.0,
            schema.0
        ),
    );
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: out\nconnector.class: FileStreamSink\nfile: {}\ntopics.regex: {}-.*\n",
            out.display(),
            schema.0
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run1");
    assert!(
        wait_until(LIMIT, || line_count(&out) == 3),
        "log:\n{}",
        ws.log("run1")
    );
    assert_eq!(lines_of(&out)[0], r#"{"id":1,"name":"a1"}"#);
    psql(&format!(
        "INSERT INTO {}.a (name) VALUES ('a4'), ('a5')",
        schema.0
    ));
    assert!(
        wait_until(LIMIT, || line_count(&out) == 5),
        "log:\n{}",
        ws.log("run1")
    );
    // Committed on a clean stop; a restart reads only the rows added since.
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(terminate(&mut ferry, LIMIT).success());
    psql(&format!("INSERT INTO {}.a (name) VALUES ('a6')", schema.0));
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run2");
    assert!(
        wait_until(LIMIT, || line_count(&out) == 6),
        "log:\n{}",
        ws.log("run2")
    );
    // A new table is found by the table monitor and the tasks are reconfigured.
    psql(&format!(
        "CREATE TABLE {0}.b (id bigint PRIMARY KEY, v text); INSERT INTO {0}.b VALUES (10, 'b10')",
        schema.0
    ));
    assert!(
        wait_until(LIMIT, || line_count(&out) == 7),
        "log:\n{}",
        ws.log("run2")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    let lines = lines_of(&out);
    let mut sorted = lines.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7, "duplicates: {lines:?}");
    assert!(
        lines.contains(&r#"{"id":10,"v":"b10"}"#.to_string()),
        "{lines:?}"
    );
    assert!(
        ws.log("run2").contains("tasks reconfigured"),
        "{}",
        ws.log("run2")
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

/// A CDC connector config for one test's schema, slot and publication.
fn cdc_config(ws: &Workspace, slot: &TestSlot, schema: &TestSchema, extra: &str) -> PathBuf {
    cdc_config_at(
        ws,
        &database_url(),
        &slot.slot,
        &slot.publication,
        &schema.0,
        extra,
    )
}

/// A CDC connector config against the server at `url`.
fn cdc_config_at(
    ws: &Workspace,
    url: &str,
    slot: &str,
    publication: &str,
    schema: &str,
    extra: &str,
) -> PathBuf {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (user, hostdb) = rest.split_once('@').unwrap_or(("postgres", rest));
    let (hostport, db) = hostdb.split_once('/').unwrap_or((hostdb, "test"));
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    ws.write(
        "cdc.yaml",
        &format!(
            "name: cdc\nconnector.class: io.debezium.connector.postgresql.PostgresConnector\n\
             database.hostname: {host}\ndatabase.port: {port}\ndatabase.user: {user}\ndatabase.dbname: {db}\n\
             topic.prefix: {schema}\nslot.name: {slot}\npublication.name: {publication}\npublication.autocreate.mode: filtered\n\
             schema.include.list: {schema}\nstatus.update.interval.ms: 500\nretriable.restart.connector.wait.ms: 300\n\
             key.converter: org.apache.kafka.connect.json.JsonConverter\nkey.converter.schemas.enable: false\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: false\n{extra}"
        ),
    )
}

/// The file sink of a test's change topics (raw JSON per line; `null` for tombstones).
fn changes_sink(ws: &Workspace, schema: &str, out: &Path) -> PathBuf {
    ws.write(
        "changes.yaml",
        &format!(
            "name: changes\nconnector.class: FileStreamSink\nfile: {}\ntopics.regex: {}\\..*\n",
            out.display(),
            regex_escape(schema)
        ),
    )
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// The `op` of each change line (`-` for a tombstone).
fn ops(path: &Path) -> Vec<String> {
    lines_of(path)
        .iter()
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(serde_json::Value::Null) | Err(_) => "-".to_string(),
            // With schemas.enable (the JsonConverter default) the event is the payload.
            Ok(v) if v.get("payload").is_some() => match &v["payload"] {
                serde_json::Value::Null => "-".to_string(),
                p => p["op"].as_str().unwrap_or("?").to_string(),
            },
            Ok(v) => v["op"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

#[test]
fn cdc_snapshots_then_streams_changes_with_debezium_envelopes() {
    let slot = TestSlot::new("cdc_basic");
    let schema = TestSchema::new("cdc_basic");
    psql(&format!(
        "CREATE TABLE {0}.orders (id int PRIMARY KEY, note text, amount numeric(10,2), at timestamptz); \
         INSERT INTO {0}.orders VALUES (1, 'one', 1.50, '2024-01-02 03:04:05.123456+00'), (2, 'two', NULL, NULL)",
        schema.0
    ));
    let ws = Workspace::new();
    let out = ws.path("changes.jsonl");
    let worker = ws.worker_config("");
    let cdc = cdc_config(&ws, &slot, &schema, "");
    let sink = changes_sink(&ws, &schema.0, &out);
    let mut ferry = ws.standalone(&[&worker, &cdc, &sink], "run");
    assert!(
        wait_until(LIMIT, || line_count(&out) == 2),
        "snapshot; log:\n{}",
        ws.log("run")
    );
    assert_eq!(ops(&out), ["r", "r"]);
    let first: serde_json::Value = serde_json::from_str(&lines_of(&out)[0]).unwrap();
    assert_eq!(first["after"]["id"], 1);
    assert_eq!(first["after"]["at"], "2024-01-02T03:04:05.123456Z");
    assert_eq!(first["source"]["table"], "orders");
    assert_eq!(first["source"]["snapshot"], "true");
    psql(&format!(
        "INSERT INTO {0}.orders VALUES (3, 'three', 3.00, now()); \
         UPDATE {0}.orders SET note = 'uno' WHERE id = 1; \
         DELETE FROM {0}.orders WHERE id = 2",
        schema.0
    ));
    assert!(
        wait_until(LIMIT, || line_count(&out) == 6),
        "changes; got {:?}; log:\n{}",
        ops(&out),
        ws.log("run")
    );
    assert_eq!(ops(&out), ["r", "r", "c", "u", "d", "-"]);
    let update: serde_json::Value = serde_json::from_str(&lines_of(&out)[3]).unwrap();
    assert_eq!(update["after"]["note"], "uno");
    assert_eq!(update["source"]["schema"], schema.0.as_str());
    assert!(update["source"]["lsn"].as_i64().unwrap() > 0);
    assert!(update["source"]["txId"].as_i64().unwrap() > 0);
    let delete: serde_json::Value = serde_json::from_str(&lines_of(&out)[4]).unwrap();
    assert_eq!(delete["before"]["id"], 2);
    assert!(delete["after"].is_null());
    assert!(terminate(&mut ferry, LIMIT).success(), "{}", ws.log("run"));
    // The slot's confirmed position moved past the changes once they were committed.
    let confirmed = psql(&format!(
        "SELECT confirmed_flush_lsn > '0/0' FROM pg_replication_slots WHERE slot_name = '{}'",
        slot.slot
    ));
    assert_eq!(confirmed, "t");
}

/// The ids of the `c` (insert) events in a change file.
fn created_ids(path: &Path) -> std::collections::BTreeSet<i64> {
    lines_of(path)
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["op"] == "c")
        .filter_map(|v| v["after"]["id"].as_i64())
        .collect()
}

#[test]
fn cdc_loses_no_change_across_kill_9_and_a_postgres_crash() {
    const ROWS: i64 = 300;
    let pg = PrivatePostgres::start();
    pg.psql("CREATE SCHEMA crash; CREATE TABLE crash.t (id bigint PRIMARY KEY, v text)")
        .unwrap();
    let ws = Workspace::new();
    let out = ws.path("changes.jsonl");
    let worker = ws.worker_config("");
    let cdc = cdc_config_at(&ws, &pg.url(), "crash_slot", "crash_pub", "crash", "");
    let sink = changes_sink(&ws, "crash", &out);
    let mut ferry = ws.standalone(&[&worker, &cdc, &sink], "run1");
    assert!(
        wait_until(LIMIT, || ws.log("run1").contains("streaming changes")),
        "log:\n{}",
        ws.log("run1")
    );
    // One transaction per row, retried until it is in (the server goes away for a while).
    let url = pg.url();
    let writer = std::thread::spawn(move || {
        for id in 1..=ROWS {
            let sql = format!("INSERT INTO crash.t VALUES ({id}, 'v{id}') ON CONFLICT DO NOTHING");
            let ok = wait_until(std::time::Duration::from_secs(60), || {
                std::process::Command::new("psql")
                    .arg(&url)
                    .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", &sql])
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
            assert!(ok, "insert {id} never went through");
        }
    });
    assert!(
        wait_until(LIMIT, || created_ids(&out).len() >= 60),
        "{}",
        ws.log("run1")
    );
    // kill -9 of the worker mid-stream, and a restart.
    ferry.kill().unwrap();
    ferry.wait().unwrap();
    let mut ferry = ws.standalone(&[&worker, &cdc, &sink], "run2");
    assert!(
        wait_until(LIMIT, || created_ids(&out).len() >= 150),
        "{}",
        ws.log("run2")
    );
    // Postgres crashes (immediate shutdown) and comes back: the task reconnects.
    pg.stop("immediate");
    std::thread::sleep(std::time::Duration::from_millis(500));
    pg.restart_after_stop();
    writer.join().unwrap();
    let all: std::collections::BTreeSet<i64> = (1..=ROWS).collect();
    assert!(
        wait_until(LIMIT, || created_ids(&out) == all),
        "missing {:?}; log:\n{}",
        all.difference(&created_ids(&out)).collect::<Vec<_>>(),
        ws.log("run2")
    );
    assert!(
        ws.log("run2").contains("reconnecting"),
        "{}",
        ws.log("run2")
    );
    // The slot follows: once committed, the confirmed position reaches the last change.
    assert!(
        wait_until(LIMIT, || {
            pg
            .psql("SELECT confirmed_flush_lsn >= (SELECT max(lsn) FROM (SELECT pg_current_wal_lsn() - 100000 AS lsn) x) FROM pg_replication_slots WHERE slot_name = 'crash_slot'")
            .is_ok_and(|v| v == "t")
        }),
        "confirmed flush did not advance"
    );
    assert!(terminate(&mut ferry, LIMIT).success(), "{}", ws.log("run2"));
}

#[test]
fn cdc_fails_clearly_when_its_slot_is_lost() {
    let slot = TestSlot::new("cdc_lost");
    let schema = TestSchema::new("cdc_lost");
    psql(&format!(
        "CREATE TABLE {0}.t (id int PRIMARY KEY); INSERT INTO {0}.t VALUES (1)",
        schema.0
    ));
    let ws = Workspace::new();
    let out = ws.path("changes.jsonl");
    let worker = ws.worker_config("");
    let cdc = cdc_config(&ws, &slot, &schema, "");
    let sink = changes_sink(&ws, &schema.0, &out);
    let mut ferry = ws.standalone(&[&worker, &cdc, &sink], "run1");
    assert!(
        wait_until(LIMIT, || line_count(&out) == 1),
        "{}",
        ws.log("run1")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(terminate(&mut ferry, LIMIT).success());
    slot.drop_slot();
    assert!(!slot.exists());
    let mut ferry = ws.standalone(&[&worker, &cdc, &sink], "run2");
    let rest = rest_url(&ws, "run2");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "cdc").0 == "FAILED"),
        "{}",
        ws.log("run2")
    );
    let trace = task_state(&rest, "cdc").1;
    assert!(
        trace.contains(&format!(
            "replication slot \"{}\" does not exist",
            slot.slot
        )) && trace.contains("reset its offsets"),
        "{trace}"
    );
    // The connector did not quietly make a new slot and skip the changes.
    assert!(!slot.exists());
    assert!(terminate(&mut ferry, LIMIT).success());
}

const CHECKED_FIELDS: &str = r#"{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true},{"field":"qty","type":"int32","optional":true}"#;

fn checked_table(schema: &TestSchema) -> String {
    let table = schema.table("t");
    psql(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, name varchar(10) NOT NULL, qty int CHECK (qty >= 0))"
    ));
    table
}

fn pg_sink(topic: &str, table: &str, extra: &str) -> String {
    format!(
        "name: pg-sink\nconnector.class: PostgresSink\nconnection.url: {}\ntopics: {topic}\n\
         table.name.format: {table}\ninsert.mode: upsert\npk.mode: record_value\npk.fields: id\n\
         value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\n{extra}",
        jdbc_url()
    )
}

#[test]
fn sink_sends_records_that_do_not_fit_to_the_dead_letter_queue() {
    let schema = TestSchema::new("sink_dlq");
    let table = checked_table(&schema);
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let worker = broker_worker(&ws, &broker.addr);
    let sink = ws.write(
        "sink.yaml",
        &pg_sink(
            "rows",
            &table,
            "errors.tolerance: all\nerrors.log.enable: true\nerrors.deadletterqueue.topic.name: dlq\n\
             errors.deadletterqueue.context.headers.enable: true\n",
        ),
    );
    let lines = vec![
        envelope(CHECKED_FIELDS, r#"{"id":1,"name":"ok","qty":1}"#),
        envelope(
            CHECKED_FIELDS,
            r#"{"id":2,"name":"far too long a name","qty":1}"#,
        ),
        envelope(CHECKED_FIELDS, r#"{"id":3,"name":null,"qty":1}"#),
        envelope(CHECKED_FIELDS, r#"{"id":4,"name":"neg","qty":-1}"#),
        "this is not JSON".to_string(),
        envelope(CHECKED_FIELDS, r#"{"id":6,"name":"six","qty":6}"#),
    ];
    kcat_produce(&broker.addr, "rows", &lines);
    let mut ferry = ws.standalone(&[&worker, &sink], "run");
    wait_for_sql(
        &ws,
        "run",
        &format!("SELECT string_agg(id::text, ',' ORDER BY id) FROM {table}"),
        "1,6",
    );
    let dlq = kcat_consume(&broker.addr, "dlq", 4, "%o|%h|%s\\n");
    // Converter failures are dead-lettered as records are fetched, put failures as they are
    // written: order them by the offset they were consumed at.
    let mut records: Vec<&str> = dlq.lines().collect();
    let offset_of = |r: &str| {
        r.split("__connect.errors.offset=")
            .nth(1)
            .and_then(|t| t.split(',').next())
            .and_then(|o| o.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    records.sort_by_key(|r| offset_of(r));
    assert_eq!(records.len(), 4, "{dlq}\nlog:\n{}", ws.log("run"));
    assert_eq!(
        records.iter().map(|r| offset_of(r)).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    // Each keeps the bytes it was consumed with, and says where and why it failed.
    assert!(
        records[0].contains("__connect.errors.topic=rows"),
        "{}",
        records[0]
    );
    assert!(
        records[0].contains("__connect.errors.offset=1"),
        "{}",
        records[0]
    );
    assert!(
        records[0].contains("__connect.errors.stage=TASK_PUT"),
        "{}",
        records[0]
    );
    assert!(records[0].contains("column \"name\""), "{}", records[0]);
    assert!(records[0].ends_with(&lines[1]), "{}", records[0]);
    assert!(
        records[1].contains("column \"name\"") && records[1].contains("NOT NULL"),
        "{}",
        records[1]
    );
    assert!(
        records[2].contains("column \"qty\"") || records[2].contains("check constraint"),
        "{}",
        records[2]
    );
    assert!(
        records[3].contains("__connect.errors.stage=VALUE_CONVERTER"),
        "{}",
        records[3]
    );
    assert!(
        records[3].contains(
            "__connect.errors.exception.class.name=org.apache.kafka.connect.errors.DataException"
        ),
        "{}",
        records[3]
    );
    assert!(records[3].ends_with("this is not JSON"), "{}", records[3]);
    assert!(
        ws.log("run")
            .contains("Error encountered in task pg-sink-0"),
        "{}",
        ws.log("run")
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn sink_fails_naming_the_column_without_tolerance() {
    let schema = TestSchema::new("sink_strict");
    let table = checked_table(&schema);
    let ws = Workspace::new();
    let input = ws.path("rows.jsonl");
    append(
        &input,
        &format!(
            "{}\n{}\n",
            envelope(CHECKED_FIELDS, r#"{"id":1,"name":"ok","qty":1}"#),
            envelope(
                CHECKED_FIELDS,
                r#"{"id":2,"name":"far too long a name","qty":1}"#
            )
        ),
    );
    let worker = ws.worker_config("");
    let (source, _) = file_to_sink(&ws, &input, "rows", "");
    let sink = ws.write("pg.yaml", &pg_sink("rows", &table, ""));
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    let rest = rest_url(&ws, "run");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "pg-sink").0 == "FAILED"),
        "{}",
        ws.log("run")
    );
    let trace = task_state(&rest, "pg-sink").1;
    assert!(
        trace.contains("record rows-0@1")
            && trace.contains("column \"name\" (character varying(10))"),
        "{trace}"
    );
    // The batch is one transaction: the good record of it was not written either.
    assert_eq!(psql(&format!("SELECT count(*) FROM {table}")), "0");
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn sink_writes_each_record_exactly_once_across_kill_9() {
    const N: usize = 50_000;
    let schema = TestSchema::new("sink_eos");
    let table = schema.table("t");
    // No key: a record written twice would be a second row.
    psql(&format!(
        "CREATE TABLE {table} (id bigint NOT NULL, name text)"
    ));
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let worker = broker_worker(&ws, &broker.addr);
    // Small fetches: many small transactions, so the kills land between and within them.
    common::append(&worker, "consumer.max.partition.fetch.bytes: 8192\n");
    let fields = r#"{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true}"#;
    let lines: Vec<String> = (0..N)
        .map(|i| envelope(fields, &format!(r#"{{"id":{i},"name":"n{i}"}}"#)))
        .collect();
    kcat_produce(&broker.addr, "eos", &lines);
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: eos\nconnector.class: PostgresSink\nconnection.url: {}\ntopics: eos\ntable.name.format: {table}\n\
             exactly.once: true\nexactly.once.offsets.table: {}\nbatch.size: 500\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\n",
            jdbc_url(),
            schema.table("offsets")
        ),
    );
    let count = || {
        psql(&format!("SELECT count(*) FROM {table}"))
            .parse::<usize>()
            .unwrap_or(0)
    };
    let mut killed_midway = 0;
    for round in 0..4 {
        let log = format!("run{round}");
        let mut ferry = ws.standalone(&[&worker, &sink], &log);
        let before = count();
        assert!(
            wait_until(LIMIT, || count() > before || before == N),
            "no progress; log:\n{}",
            ws.log(&log)
        );
        ferry.kill().unwrap();
        ferry.wait().unwrap();
        let at_kill = count();
        if at_kill < N {
            killed_midway += 1;
        }
    }
    assert!(
        killed_midway >= 2,
        "the kills came too late to test anything"
    );
    let mut ferry = ws.standalone(&[&worker, &sink], "last");
    wait_for_sql(
        &ws,
        "last",
        &format!("SELECT count(*) || '/' || count(DISTINCT id) FROM {table}"),
        &format!("{N}/{N}"),
    );
    assert_eq!(
        psql(&format!(
            "SELECT next_offset FROM {} WHERE connector = 'eos'",
            schema.table("offsets")
        )),
        N.to_string()
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

/// A worker on `broker` with small fetches (a dozen records each) and the given offset
/// commit interval.
fn small_fetch_worker(ws: &Workspace, broker: &str, flush_ms: u64) -> PathBuf {
    ws.write(
        "worker.yaml",
        &format!(
            "bootstrap.servers: {broker}\nkey.converter: org.apache.kafka.connect.storage.StringConverter\n\
             value.converter: org.apache.kafka.connect.storage.StringConverter\n\
             offset.flush.interval.ms: {flush_ms}\nlisteners: http://127.0.0.1:0\n\
             consumer.max.partition.fetch.bytes: 8192\n"
        ),
    )
}

fn id_name_lines(ids: std::ops::Range<usize>) -> Vec<String> {
    let fields = r#"{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true}"#;
    ids.map(|i| envelope(fields, &format!(r#"{{"id":{i},"name":"n{i}"}}"#)))
        .collect()
}

#[test]
fn sink_gathers_the_records_of_several_fetches_into_one_transaction() {
    let schema = TestSchema::new("sink_gather");
    let table = schema.table("t");
    psql(&format!(
        "CREATE TABLE {table} (id bigint NOT NULL, name text)"
    ));
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    // No offset commit before the end: only batch.size and the stop write rows.
    let worker = small_fetch_worker(&ws, &broker.addr, 600_000);
    kcat_produce(&broker.addr, "gather", &id_name_lines(0..2050));
    let sink_config = |linger: &str| {
        format!(
            "name: gather\nconnector.class: PostgresSink\nconnection.url: {}\ntopics: gather\n\
             table.name.format: {table}\nbatch.size: 500\nbatch.linger.ms: {linger}\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\n",
            jdbc_url()
        )
    };
    let sink = ws.write("sink.yaml", &sink_config("600000"));
    let mut ferry = ws.standalone(&[&worker, &sink], "run");
    wait_for_sql(&ws, "run", &format!("SELECT count(*) FROM {table}"), "2000");
    // The last 50 wait for a full batch until the task stops, which writes them before it
    // commits their offsets.
    assert!(terminate(&mut ferry, LIMIT).success(), "{}", ws.log("run"));
    let transactions = format!(
        "SELECT count(*) || ' rows in ' || count(DISTINCT xmin::text) || ' transactions' FROM {table}"
    );
    assert_eq!(psql(&transactions), "2050 rows in 5 transactions");
    assert_eq!(
        psql(&format!(
            "SELECT count(*) FROM (SELECT xmin FROM {table} GROUP BY xmin HAVING count(*) = 500) b"
        )),
        "4"
    );
    // With a linger of a second, records that trickle in are written while more keep coming,
    // without waiting for a batch, and nothing before them again.
    ws.write("sink.yaml", &sink_config("1000"));
    let mut ferry = ws.standalone(&[&worker, &sink], "again");
    let mut kcat = std::process::Command::new("kcat")
        .args(["-b", &broker.addr, "-t", "gather", "-P", "-z", "none"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("kcat");
    let mut stdin = kcat.stdin.take().expect("stdin");
    let count = || psql(&format!("SELECT count(*) FROM {table}"));
    let mut written_while_trickling = false;
    for line in id_name_lines(2050..2110) {
        use std::io::Write;
        writeln!(stdin, "{line}").expect("write to kcat");
        stdin.flush().expect("flush kcat's stdin");
        std::thread::sleep(std::time::Duration::from_millis(50));
        written_while_trickling |= count() != "2050";
    }
    drop(stdin);
    assert!(kcat.wait().expect("kcat").success());
    assert!(
        written_while_trickling,
        "no row was written before the records stopped coming; log:\n{}",
        ws.log("again")
    );
    wait_for_sql(
        &ws,
        "again",
        &format!("SELECT count(*) || '/' || count(DISTINCT id) FROM {table}"),
        "2110/2110",
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn sink_commits_no_offset_ahead_of_its_rows_across_kill_9() {
    const N: usize = 20_000;
    let schema = TestSchema::new("sink_ahead");
    let table = schema.table("t");
    psql(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, name text)"
    ));
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    // Offsets commit every 100 ms while rows wait up to a second for a batch: an offset
    // committed for a pending row would lose that row at the kill.
    let worker = small_fetch_worker(&ws, &broker.addr, 100);
    kcat_produce(&broker.addr, "ahead", &id_name_lines(0..N));
    let sink = ws.write(
        "sink.yaml",
        &pg_sink("ahead", &table, "batch.size: 700\nbatch.linger.ms: 1000\n"),
    );
    let count = || {
        psql(&format!("SELECT count(*) FROM {table}"))
            .parse::<usize>()
            .unwrap_or(0)
    };
    let mut killed_midway = 0;
    for round in 0..4 {
        let log = format!("run{round}");
        let mut ferry = ws.standalone(&[&worker, &sink], &log);
        let before = count();
        assert!(
            wait_until(LIMIT, || count() > before || before == N),
            "no progress; log:\n{}",
            ws.log(&log)
        );
        ferry.kill().unwrap();
        ferry.wait().unwrap();
        if count() < N {
            killed_midway += 1;
        }
    }
    assert!(
        killed_midway >= 2,
        "the kills came too late to test anything"
    );
    let mut ferry = ws.standalone(&[&worker, &sink], "last");
    wait_for_sql(
        &ws,
        "last",
        &format!("SELECT count(*) || '/' || min(id) || '/' || max(id) FROM {table}"),
        &format!("{N}/0/{}", N - 1),
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn sink_retries_an_unreachable_database_then_fails_and_resumes_on_restart() {
    let pg = PrivatePostgres::start();
    pg.psql("CREATE TABLE t (id bigint PRIMARY KEY, name text)")
        .unwrap();
    pg.stop("fast");
    let ws = Workspace::new();
    let input = ws.path("rows.jsonl");
    let fields = r#"{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true}"#;
    append(
        &input,
        &format!("{}\n", envelope(fields, r#"{"id":1,"name":"one"}"#)),
    );
    let worker = ws.worker_config("");
    let (source, _) = file_to_sink(&ws, &input, "rows", "");
    let sink = ws.write(
        "pg.yaml",
        &format!(
            "name: pg-sink\nconnector.class: PostgresSink\nconnection.url: jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres\n\
             topics: rows\ntable.name.format: t\nmax.retries: 2\nretry.backoff.ms: 200\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\n",
            pg.port
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    let rest = rest_url(&ws, "run");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "pg-sink").0 == "FAILED"),
        "{}",
        ws.log("run")
    );
    let trace = task_state(&rest, "pg-sink").1;
    assert!(
        trace.contains(&format!("127.0.0.1:{}", pg.port))
            && trace.contains("refused")
            && trace.contains("gave up after 2 retries"),
        "{trace}"
    );
    assert_eq!(
        ws.log("run")
            .matches("writing to postgres failed; retrying")
            .count(),
        2
    );
    // Back up, a restart of the task writes the record.
    pg.restart_after_stop();
    assert_eq!(
        post(&format!("{rest}/connectors/pg-sink/tasks/0/restart")),
        204
    );
    let ok = wait_until(LIMIT, || {
        pg.psql("SELECT name FROM t").is_ok_and(|v| v == "one")
    });
    assert!(ok, "{}", ws.log("run"));
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn sink_fails_clearly_when_its_table_is_dropped() {
    let schema = TestSchema::new("sink_drop");
    let table = schema.table("t");
    psql(&format!(
        "CREATE TABLE {table} (id bigint PRIMARY KEY, name text)"
    ));
    let ws = Workspace::new();
    let input = ws.path("rows.jsonl");
    let fields = r#"{"field":"id","type":"int64","optional":false},{"field":"name","type":"string","optional":true}"#;
    append(
        &input,
        &format!("{}\n", envelope(fields, r#"{"id":1,"name":"one"}"#)),
    );
    let worker = ws.worker_config("");
    let (source, _) = file_to_sink(&ws, &input, "rows", "");
    let sink = ws.write("pg.yaml", &pg_sink("rows", &table, ""));
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    wait_for_sql(&ws, "run", &format!("SELECT count(*) FROM {table}"), "1");
    psql(&format!("DROP TABLE {table}"));
    append(
        &input,
        &format!("{}\n", envelope(fields, r#"{"id":2,"name":"two"}"#)),
    );
    let rest = rest_url(&ws, "run");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "pg-sink").0 == "FAILED"),
        "{}",
        ws.log("run")
    );
    let trace = task_state(&rest, "pg-sink").1;
    assert!(
        trace.contains(&format!(
            "table {table} does not exist (dropped?) and auto.create is false"
        )),
        "{trace}"
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn source_types_round_trip_through_the_sink() {
    let src = TestSchema::new("types_src");
    let dst = TestSchema::new("types_dst");
    psql(&format!(
        "CREATE TYPE {0}.mood AS ENUM ('happy', 'sad'); \
         CREATE TABLE {0}.t (id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, n numeric(12,3), \
           s varchar(20), b bool, raw bytea, d date, tm time, ts timestamp, tz timestamptz, u uuid, j jsonb, \
           ints int4[], texts text[], m {0}.mood); \
         INSERT INTO {0}.t VALUES \
           (1, -7, 9007199254740993, 1.5, -2.25e300, 123456789.125, 'héllo', true, '\\x00ff', '1999-12-31', \
            '23:59:58.123', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+00', \
            'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{\"a\": [1, 2]}}', '{{1,NULL,3}}', '{{x,\"y z\"}}', 'sad'), \
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        src.0
    ));
    let ws = Workspace::new();
    let worker = ws.worker_config("");
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: pg-src\nconnector.class: PostgresSource\nconnection.url: {}\nmode: incrementing\n\
             incrementing.column.name: id\ntopic.prefix: {}_\ntable.whitelist: {}.t\npoll.interval.ms: 200\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\n",
            jdbc_url(),
            src.0,
            src.0
        ),
    );
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: pg-sink\nconnector.class: PostgresSink\nconnection.url: {}\ntopics: {}_t\n\
             table.name.format: {}.t\nauto.create: true\ninsert.mode: upsert\npk.mode: record_value\npk.fields: id\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: true\n",
            jdbc_url(),
            src.0,
            dst.0
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    wait_for_sql(
        &ws,
        "run",
        &format!("SELECT count(*) FROM {}.t", dst.0),
        "2",
    );
    let columns = "id, i2, i8, f4, f8, n, s, b, raw, d, tm, ts, tz::timestamptz AT TIME ZONE 'UTC', u::text, j::text, ints, texts, m::text";
    let original = psql(&format!("SELECT {columns} FROM {}.t ORDER BY id", src.0));
    let copied = psql(&format!("SELECT {columns} FROM {}.t ORDER BY id", dst.0));
    assert_eq!(copied, original);
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn source_retries_an_unreachable_database_then_fails_and_resumes_on_restart() {
    let pg = PrivatePostgres::start();
    pg.psql("CREATE TABLE t (id serial PRIMARY KEY, v text NOT NULL); INSERT INTO t (v) VALUES ('a'), ('b')")
        .unwrap();
    let ws = Workspace::new();
    let out = ws.path("out.jsonl");
    let worker = ws.worker_config("");
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: pg-src\nconnector.class: PostgresSource\n\
             connection.url: jdbc:postgresql://127.0.0.1:{}/postgres?user=postgres\nmode: incrementing\n\
             incrementing.column.name: id\ntopic.prefix: p_\ntable.whitelist: t\npoll.interval.ms: 200\n\
             connection.attempts: 3\nconnection.backoff.ms: 200\n\
             value.converter: org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable: false\n",
            pg.port
        ),
    );
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: out\nconnector.class: FileStreamSink\nfile: {}\ntopics: p_t\n",
            out.display()
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    assert!(
        wait_until(LIMIT, || line_count(&out) == 2),
        "{}",
        ws.log("run")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    pg.stop("fast");
    let rest = rest_url(&ws, "run");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "pg-src").0 == "FAILED"),
        "{}",
        ws.log("run")
    );
    let trace = task_state(&rest, "pg-src").1;
    assert!(
        trace.contains(&format!("127.0.0.1:{}", pg.port)) && trace.contains("after 3 attempt(s)"),
        "{trace}"
    );
    assert!(
        ws.log("run")
            .contains("connecting to postgres failed; retrying")
    );
    pg.restart_after_stop();
    pg.psql("INSERT INTO t (v) VALUES ('c')").unwrap();
    assert_eq!(
        post(&format!("{rest}/connectors/pg-src/tasks/0/restart")),
        204
    );
    assert!(
        wait_until(LIMIT, || line_count(&out) == 3),
        "{}",
        ws.log("run")
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        lines_of(&out),
        [
            r#"{"id":1,"v":"a"}"#,
            r#"{"id":2,"v":"b"}"#,
            r#"{"id":3,"v":"c"}"#
        ]
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

#[test]
fn source_fails_clearly_when_a_listed_table_is_dropped() {
    let schema = TestSchema::new("src_drop");
    psql(&format!(
        "CREATE TABLE {0}.t (id int PRIMARY KEY); INSERT INTO {0}.t VALUES (1)",
        schema.0
    ));
    let ws = Workspace::new();
    let out = ws.path("out.jsonl");
    let worker = ws.worker_config("");
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: pg-src\nconnector.class: PostgresSource\nconnection.url: {}\nmode: bulk\n\
             topic.prefix: {}_\ntable.whitelist: {}.t\npoll.interval.ms: 200\ntable.poll.interval.ms: 3600000\n",
            jdbc_url(),
            schema.0,
            schema.0
        ),
    );
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: out\nconnector.class: FileStreamSink\nfile: {}\ntopics: {}_t\n",
            out.display(),
            schema.0
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    assert!(
        wait_until(LIMIT, || line_count(&out) >= 1),
        "{}",
        ws.log("run")
    );
    psql(&format!("DROP TABLE {}.t", schema.0));
    let rest = rest_url(&ws, "run");
    assert!(
        wait_until(LIMIT, || task_state(&rest, "pg-src").0 == "FAILED"),
        "{}",
        ws.log("run")
    );
    let trace = task_state(&rest, "pg-src").1;
    assert!(
        trace.contains(&format!(
            "table {}.t is listed in table.whitelist but is gone",
            schema.0
        )),
        "{trace}"
    );
    assert!(terminate(&mut ferry, LIMIT).success());
}

/// An example of configs/ with its demo names (schema `ferry_demo`, slot, publication, topic
/// prefix) replaced by this test's, so that it runs beside other tests.
fn example(ws: &Workspace, file: &str, schema: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    let text = std::fs::read_to_string(root.join(file)).expect("example config");
    let text = text
        .replace("ferry_demo_slot", &format!("{schema}_slot"))
        .replace("ferry_demo_publication", &format!("{schema}_pub"))
        .replace("ferry_demo", schema)
        .replace("topic.prefix: demo", &format!("topic.prefix: {schema}"))
        .replace("pg-orders", &format!("{schema}-orders"))
        .replace("topic.prefix: pg-", &format!("topic.prefix: {schema}-"))
        .replace(
            "jdbc:postgresql://127.0.0.1:5432/test?user=postgres",
            "@@URL@@",
        )
        .replace("url: jdbc:postgresql://127.0.0.1:5432/test", "url: @@URL@@")
        .replace("@@URL@@", &jdbc_url());
    ws.write(file, &text)
}

#[test]
fn example_configs_run() {
    let schema = TestSchema::new("demo");
    let slot = TestSlot {
        slot: format!("{}_slot", schema.0),
        publication: format!("{}_pub", schema.0),
    };
    psql(&format!(
        "CREATE TABLE {0}.orders (id serial PRIMARY KEY, item text NOT NULL, price numeric(10,2), \
           updated timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO {0}.orders (item, price) VALUES ('tea', 3.50), ('cake', 4.25)",
        schema.0
    ));
    let ws = Workspace::new();
    let worker = ws.worker_config("");
    let source = example(&ws, "postgres-source.yaml", &schema.0);
    let sink = example(&ws, "postgres-sink.yaml", &schema.0);
    let cdc = example(&ws, "postgres-cdc.yaml", &schema.0);
    let out = ws.path("changes.jsonl");
    let changes = changes_sink(&ws, &schema.0, &out);
    let mut ferry = ws.standalone(&[&worker, &source, &sink, &cdc, &changes], "run");
    wait_for_sql(
        &ws,
        "run",
        &format!(
            "SELECT string_agg(item || '=' || price, ',' ORDER BY id) FROM {}.orders_copy",
            schema.0
        ),
        "tea=3.50,cake=4.25",
    );
    // The CDC example sees the snapshot of orders and the sink's own table being filled.
    assert!(
        wait_until(LIMIT, || ops(&out).iter().filter(|o| *o == "r").count()
            >= 2),
        "{:?}\n{}",
        ops(&out),
        ws.log("run")
    );
    psql(&format!(
        "UPDATE {}.orders SET price = 5, updated = now() WHERE item = 'tea'",
        schema.0
    ));
    wait_for_sql(
        &ws,
        "run",
        &format!(
            "SELECT price FROM {}.orders_copy WHERE item = 'tea'",
            schema.0
        ),
        "5.00",
    );
    assert!(
        wait_until(LIMIT, || ops(&out).contains(&"u".to_string())),
        "{:?}",
        ops(&out)
    );
    assert!(terminate(&mut ferry, LIMIT).success(), "{}", ws.log("run"));
    drop(slot);
}
