//! `ferry broker` against Kafka clients nobody here wrote: kafka-python, confluent-kafka
//! (librdkafka) and kcat, each driven by a script in `tests/kafka_clients/`. Every test starts
//! the real binary on a free loopback port with its own data directory.
//!
//! The clients are installed by `tests/setup.sh`. A missing client fails the test with the
//! command that installs it (these tests never skip silently).

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::{Workspace, ferry, terminate, wait_until};

const SCRIPT_LIMIT: Duration = Duration::from_secs(120);
const INSTALL: &str =
    "run tests/setup.sh (apt-get install -y kcat; pip install confluent-kafka kafka-python)";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/kafka_clients")
}

/// Fails with install instructions when a client is missing.
fn require_python_module(module: &str, package: &str) {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "Python module `{module}` is missing: `pip install {package}`, or {INSTALL}"
    );
}

fn require_kcat() {
    let ok = Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "`kcat` is missing: `apt-get update && apt-get install -y kcat`, or {INSTALL}"
    );
}

/// A running `ferry broker` with its workspace (data dir and log file).
struct Broker {
    ws: Workspace,
    child: Child,
    addr: String,
}

impl Broker {
    fn start(args: &[&str]) -> Broker {
        let ws = Workspace::new();
        let mut broker = Broker {
            child: spawn_broker(&ws, &free_addr(), args),
            addr: String::new(),
            ws,
        };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&mut self) {
        // the address is in the command line we gave; recover it from the log line
        let ready = wait_until(Duration::from_secs(20), || {
            self.ws.log("broker").contains("listening (Kafka protocol)")
        });
        assert!(ready, "broker did not start:\n{}", self.ws.log("broker"));
        let log = self.ws.log("broker");
        let addr = log
            .lines()
            .find(|l| l.contains("listening (Kafka protocol)"))
            .and_then(|l| l.split("addr=").nth(1))
            .map(|a| a.trim().to_string())
            .expect("listen address in the log");
        assert!(
            TcpStream::connect(&addr).is_ok(),
            "cannot connect to {addr}"
        );
        self.addr = addr;
    }

    /// SIGTERM, wait for a clean exit, start again on the same data dir and port.
    fn restart(&mut self) {
        let status = terminate(&mut self.child, Duration::from_secs(15));
        assert!(
            status.success(),
            "broker exited with {status}:\n{}",
            self.ws.log("broker")
        );
        let _ = std::fs::rename(self.ws.path("broker.log"), self.ws.path("broker-1.log"));
        self.child = spawn_broker(&self.ws, &self.addr, &[]);
        self.wait_ready();
    }

    /// Runs a client script with a time limit; panics with its output if it fails.
    fn run_script(&self, script: &str, args: &[&str]) -> String {
        let out = run_limited(
            Command::new("python3")
                .arg(scripts().join(script))
                .arg(&self.addr)
                .args(args),
            SCRIPT_LIMIT,
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && stdout.contains("OK"),
            "{script} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}\nbroker log (tail):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            tail(&self.ws.log("broker"), 40)
        );
        stdout
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").to_string()
}

fn spawn_broker(ws: &Workspace, addr: &str, args: &[&str]) -> Child {
    let log = std::fs::File::create(ws.path("broker.log")).expect("log file");
    ferry()
        .args(["broker", "--listen", addr, "--data-dir"])
        .arg(ws.path("data"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start ferry broker")
}

fn run_limited(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3 (is it installed?)");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for the client script"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("client script did not finish within {limit:?}");
        }
    }
}

#[test]
fn kafka_python_json_producer_and_consumer() {
    require_python_module("kafka", "kafka-python");
    let broker = Broker::start(&["--num-partitions", "3"]);
    let out = broker.run_script("kafka_python_json.py", &["kp-json", "500"]);
    assert!(out.contains("OK 500"), "{out}");
}

#[test]
fn confluent_kafka_idempotent_producer() {
    require_python_module("confluent_kafka", "confluent-kafka");
    let broker = Broker::start(&["--num-partitions", "2"]);
    let out = broker.run_script("confluent_idempotent.py", &["ck-idem", "5000"]);
    assert!(out.contains("OK 5000"), "{out}");
}

#[test]
fn confluent_kafka_group_rebalances_across_two_processes() {
    require_python_module("confluent_kafka", "confluent-kafka");
    let broker = Broker::start(&[]);
    broker.run_script("confluent_group.py", &["ck-group", "4"]);
    let log = broker.ws.log("broker");
    assert!(log.contains("rebalance complete"), "{log}");
}

#[test]
fn confluent_admin_alters_topic_configs_and_adds_partitions() {
    require_python_module("confluent_kafka", "confluent-kafka");
    let broker = Broker::start(&[]);
    let out = broker.run_script("confluent_admin.py", &["ck-admin"]);
    assert!(out.contains("OK"), "{out}");
    // The changes are durable: after a restart the topic still has them.
    let mut broker = broker;
    broker.restart();
    let out = broker.run_script("kafka_python_admin.py", &["kp-admin"]);
    assert!(out.contains("OK"), "{out}");
    let meta = std::fs::read_to_string(broker.ws.path("data/ck-admin.topic.json"))
        .expect("topic metadata file");
    assert!(
        meta.contains("\"partitions\": 3") && meta.contains("retention.bytes"),
        "{meta}"
    );
}

#[test]
fn kcat_every_codec_and_a_consumer_group() {
    require_kcat();
    let broker = Broker::start(&["--num-partitions", "3"]);
    broker.run_script("kcat_codecs.py", &["kcat"]);
}

#[test]
fn committed_offsets_survive_a_restart() {
    require_kcat();
    let mut broker = Broker::start(&[]);
    // kcat_codecs.py's group part commits; after a restart the same group reads nothing old.
    broker.run_script("kcat_codecs.py", &["restart"]);
    broker.restart();
    let log = broker.ws.log("broker");
    assert!(
        log.contains("loaded committed offsets") && !log.contains("groups=0"),
        "offsets were not reloaded:\n{log}"
    );
    let out = run_limited(
        Command::new("kcat").args([
            "-b",
            &broker.addr,
            "-G",
            "restart-kcat-group",
            "-X",
            "auto.offset.reset=earliest",
            "-e",
            "-q",
            "-f",
            "%s\n",
            "restart-group",
        ]),
        SCRIPT_LIMIT,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        0,
        "the group re-read records it had committed"
    );
}

#[test]
fn auto_create_can_be_disabled() {
    require_kcat();
    let broker = Broker::start(&["--auto-create-topics", "false"]);
    let out = run_limited(
        Command::new("kcat").args(["-b", &broker.addr, "-L", "-t", "nope", "-m", "5"]),
        SCRIPT_LIMIT,
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Unknown topic") || text.contains("UNKNOWN_TOPIC"),
        "{text}"
    );
    assert!(!broker.ws.path("data").join("nope-0").exists());
}
