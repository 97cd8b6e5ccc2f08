//! The Kafka-protocol client keeps the same `Log` contract as the embedded log, against a
//! real `ferry broker` process.

mod common;

use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferry_runtime::log::{KafkaLog, conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_client_keeps_the_log_contract_against_ferry_broker() {
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let addr = broker.addr.clone();
    let log = KafkaLog::connect(std::slice::from_ref(&addr), "conformance")
        .await
        .expect("connect");
    conformance::run_all(Arc::new(log), "kafka").await;
    drop(broker);
}

/// `ferry standalone` with `bootstrap.servers` moves a file through `ferry broker`, and a
/// restart resumes from the offsets stored there.
#[test]
fn standalone_runs_against_ferry_broker() {
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let addr = broker.addr.clone();
    let input = ws.path("in.txt");
    let output = ws.path("out.txt");
    append(&input, "one\ntwo\n");
    let worker = ws.write(
        "worker.yaml",
        &format!(
            "bootstrap.servers: {addr}\nvalue.converter: StringConverter\noffset.flush.interval.ms: 200\nlisteners: http://127.0.0.1:0\n"
        ),
    );
    let (source, sink) = ws.file_pipeline(&input, &output, "remote");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run1");
    assert!(
        wait_until(Duration::from_secs(30), || line_count(&output) == 2),
        "{}",
        ws.log("run1")
    );
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    append(&input, "three\n");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run2");
    assert!(
        wait_until(Duration::from_secs(30), || line_count(&output) == 3),
        "{}",
        ws.log("run2")
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(terminate(&mut ferry, Duration::from_secs(20)).success());
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        "one\ntwo\nthree\n"
    );
    drop(broker);
}

/// Kafka's quickstart files, unchanged (`bootstrap.servers=localhost:9092`, REST on 8083,
/// offsets in /tmp/connect.offsets), against `ferry broker` on 9092. Uses fixed ports, so it
/// runs alone (see .config/nextest.toml).
#[test]
fn fixed_ports_kafka_quickstart_files_run_unchanged() {
    for port in [9092, 8083] {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is in use: this test needs it free"
        );
    }
    let ws = Workspace::new();
    let testdata = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config/testdata");
    for f in [
        "connect-standalone.properties",
        "connect-file-source.properties",
        "connect-file-sink.properties",
    ] {
        std::fs::copy(testdata.join(f), ws.path(f)).unwrap();
    }
    let _ = std::fs::remove_file("/tmp/connect.offsets");
    let log_file = std::fs::File::create(ws.path("broker.log")).unwrap();
    let mut broker = ferry()
        .args(["broker", "--listen", "127.0.0.1:9092", "--data-dir"])
        .arg(ws.path("broker-data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start ferry broker");
    assert!(wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect("127.0.0.1:9092").is_ok()
    }));
    append(&ws.path("test.txt"), "foo\nbar\n");
    let err = std::fs::File::create(ws.path("run.log")).unwrap();
    let mut worker = ferry()
        .current_dir(ws.dir.path())
        .args([
            "standalone",
            "connect-standalone.properties",
            "connect-file-source.properties",
            "connect-file-sink.properties",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("start ferry standalone");
    let output = ws.path("test.sink.txt");
    let arrived = wait_until(Duration::from_secs(30), || line_count(&output) == 2);
    let stopped = terminate(&mut worker, Duration::from_secs(20));
    terminate(&mut broker, Duration::from_secs(20));
    assert!(arrived, "{}", ws.log("run"));
    assert!(stopped.success(), "{}", ws.log("run"));
    // JsonConverter with schemas: the sink decodes the envelope back to the line.
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "foo\nbar\n");
    let offsets = std::fs::read_to_string("/tmp/connect.offsets").unwrap_or_default();
    assert!(offsets.contains("local-file-source"), "{offsets}");
    let _ = std::fs::remove_file("/tmp/connect.offsets");
}
