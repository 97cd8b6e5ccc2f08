//! Helpers of the Postgres end-to-end tests: the database named by `DATABASE_URL`, unique
//! names per test, `psql`, and the REST API of a running worker.
#![allow(dead_code, unreachable_pub)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::common::*;

pub const LIMIT: Duration = Duration::from_secs(30);

/// The test database (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// A name no other test (or earlier run) uses: `prefix_<pid>_<n>_<nanos>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

/// Runs SQL with `psql` (stopping at the first error); returns the unaligned output.
pub fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .arg(database_url())
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Like [`psql`], but returns the error text instead of panicking.
pub fn try_psql(sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .arg(database_url())
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql])
        .output()
        .expect("run psql");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

/// A schema of its own for one test, dropped (with everything in it) at the end.
pub struct TestSchema(pub String);

impl TestSchema {
    pub fn new(prefix: &str) -> TestSchema {
        let name = unique(prefix);
        psql(&format!("CREATE SCHEMA {name}"));
        TestSchema(name)
    }
    /// `schema.table`.
    pub fn table(&self, table: &str) -> String {
        format!("{}.{table}", self.0)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let _ = try_psql(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0));
    }
}

/// The REST URL a worker logged (`listeners: http://127.0.0.1:0`).
pub fn rest_url(ws: &Workspace, log: &str) -> String {
    let mut url = String::new();
    let ok = wait_until(LIMIT, || {
        match ws
            .log(log)
            .lines()
            .find_map(|l| l.split("REST API listening on ").nth(1))
        {
            Some(u) => {
                url = u.trim().to_string();
                true
            }
            None => false,
        }
    });
    assert!(ok, "no REST address in the log:\n{}", ws.log(log));
    url
}

/// GETs a REST path as JSON.
pub fn get_json(url: &str) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .get(url)
        .timeout(Duration::from_secs(20))
        .send()
        .and_then(|r| r.json())
        .unwrap_or(serde_json::Value::Null)
}

/// POSTs to a REST path; returns the status code.
pub fn post(url: &str) -> u16 {
    reqwest::blocking::Client::new()
        .post(url)
        .timeout(Duration::from_secs(20))
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The state of task 0 of a connector (`RUNNING`, `FAILED`, ...) and its trace.
pub fn task_state(rest: &str, connector: &str) -> (String, String) {
    let status = get_json(&format!("{rest}/connectors/{connector}/status"));
    let task = &status["tasks"][0];
    (
        task["state"].as_str().unwrap_or("").to_string(),
        task["trace"].as_str().unwrap_or("").to_string(),
    )
}

/// Waits for a query to return `expected`; panics with the last answer and the log.
pub fn wait_for_sql(ws: &Workspace, log: &str, sql: &str, expected: &str) {
    let mut last = String::new();
    let ok = wait_until(LIMIT, || {
        last = try_psql(sql).unwrap_or_else(|e| e);
        last == expected
    });
    assert!(
        ok,
        "{sql}\nexpected: {expected}\n     got: {last}\nlog:\n{}",
        ws.log(log)
    );
}

/// A replication slot and publication of one test, dropped at the end (a leaked slot
/// keeps WAL forever). Declare it before the worker process, so the worker is gone first.
pub struct TestSlot {
    pub slot: String,
    pub publication: String,
}

impl TestSlot {
    pub fn new(prefix: &str) -> TestSlot {
        TestSlot {
            slot: unique(&format!("{prefix}_slot")),
            publication: unique(&format!("{prefix}_pub")),
        }
    }

    /// Whether the slot exists now.
    pub fn exists(&self) -> bool {
        psql(&format!(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{}'",
            self.slot
        )) == "1"
    }

    /// Drops the slot (waiting for a walsender that still holds it to let go).
    pub fn drop_slot(&self) {
        let sql = format!(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{}'",
            self.slot
        );
        let _ = wait_until(Duration::from_secs(10), || try_psql(&sql).is_ok());
    }
}

impl Drop for TestSlot {
    fn drop(&mut self) {
        self.drop_slot();
        let _ = try_psql(&format!("DROP PUBLICATION IF EXISTS {}", self.publication));
    }
}

/// A PostgreSQL server of one test's own (initdb into a temporary directory, a free
/// loopback port, `wal_level=logical`), for tests that stop, crash or restart the server
/// without disturbing the shared one. Runs as the `postgres` user when the tests run as
/// root (initdb refuses root). Stopped and removed when dropped.
pub struct PrivatePostgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: std::path::PathBuf,
}

fn pg_bin() -> std::path::PathBuf {
    let root = std::path::Path::new("/usr/lib/postgresql");
    let mut versions: Vec<u32> = std::fs::read_dir(root)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    root.join(versions.last().map_or("15".to_string(), u32::to_string))
        .join("bin")
}

fn as_postgres(program: &std::path::Path) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl PrivatePostgres {
    pub fn start() -> PrivatePostgres {
        let dir = tempfile::Builder::new()
            .prefix("ferry-pg-")
            .tempdir()
            .expect("temp dir");
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status();
        let bin = pg_bin();
        let data = dir.path().join("data");
        let out = as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"])
            .arg(&data)
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        std::fs::write(
            data.join("postgresql.auto.conf"),
            format!(
                "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 wal_level = logical\nmax_replication_slots = 8\nmax_wal_senders = 8\nfsync = on\n",
                dir.path().display()
            ),
        )
        .expect("write config");
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status();
        let pg = PrivatePostgres { dir, port, bin };
        pg.ctl(&["start", "-w", "-t", "30"]);
        pg
    }

    fn ctl(&self, args: &[&str]) {
        let data = self.dir.path().join("data");
        let out = as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(&data)
            .args(["-l"])
            .arg(self.dir.path().join("server.log"))
            .args(args)
            .output()
            .expect("pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL on this server.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .arg(self.url())
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql])
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).to_string())
        }
    }

    /// Stops the server: `fast` (a clean shutdown) or `immediate` (as after a crash).
    pub fn stop(&self, mode: &str) {
        self.ctl(&["stop", "-w", "-m", mode]);
    }

    /// Starts the server again.
    pub fn restart_after_stop(&self) {
        self.ctl(&["start", "-w", "-t", "30"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(&data)
            .args(["stop", "-m", "immediate"])
            .output();
    }
}

/// Produces `lines` (values, no keys) to `topic` with kcat.
pub fn kcat_produce(broker: &str, topic: &str, lines: &[String]) {
    use std::io::Write;
    let mut child = Command::new("kcat")
        .args(["-b", broker, "-t", topic, "-P", "-z", "none"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("kcat (tests/setup.sh installs it)");
    let mut stdin = child.stdin.take().expect("stdin");
    for l in lines {
        writeln!(stdin, "{l}").expect("write to kcat");
    }
    drop(stdin);
    assert!(child.wait().expect("kcat").success(), "kcat produce failed");
}

/// Consumes `count` records of `topic` with kcat, formatted by `format` (kcat's `-f`).
pub fn kcat_consume(broker: &str, topic: &str, count: usize, format: &str) -> String {
    let out = Command::new("kcat")
        .args([
            "-b",
            broker,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
        ])
        .args(["-c", &count.to_string(), "-f", format])
        .output()
        .expect("kcat");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A worker config against `ferry broker` at `addr`.
pub fn broker_worker(ws: &Workspace, addr: &str) -> std::path::PathBuf {
    ws.write(
        "worker.yaml",
        &format!(
            "bootstrap.servers: {addr}\nkey.converter: org.apache.kafka.connect.storage.StringConverter\n\
             value.converter: org.apache.kafka.connect.storage.StringConverter\n\
             offset.flush.interval.ms: 200\nlisteners: http://127.0.0.1:0\n"
        ),
    )
}
