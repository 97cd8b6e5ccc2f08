//! `ferry distributed` end to end: real worker processes of one group and a real `ferry
//! broker` on loopback (free ports), driven through the REST API. Workers use
//! `session.timeout.ms` 1500, `heartbeat.interval.ms` 300 and
//! `scheduled.rebalance.max.delay.ms` 0 (fast failover, as tests/bench/distributed.sh measures
//! it), and their configs are
//! `configs/distributed.yaml` with those keys (and the addresses) replaced.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Process, Workspace, append, ferry, free_port, terminate, wait_until};
use reqwest::blocking::Client;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(30);

/// The keys of `configs/distributed.yaml` the tests replace.
const FAST_GROUP: &[(&str, &str)] = &[
    ("session.timeout.ms", "1500"),
    ("heartbeat.interval.ms", "300"),
    ("scheduled.rebalance.max.delay.ms", "0"),
    ("offset.flush.interval.ms", "200"),
];

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// `configs/distributed.yaml` with `replace` applied (a key's line is replaced; keys it
/// does not have are appended).
fn example_config(replace: &[(&str, String)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/distributed.yaml");
    let text = fs::read_to_string(&path).expect("configs/distributed.yaml");
    let mut out = String::new();
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let key = line.split(':').next().unwrap_or("").trim();
        match replace.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => {
                out.push_str(&format!("{k}: {v}\n"));
                used.insert(*k);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in replace {
        if !used.contains(k) {
            out.push_str(&format!("{k}: {v}\n"));
        }
    }
    out
}

fn spawn_broker(ws: &Workspace, addr: &str, log: &str) -> Process {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ws.path(&format!("{log}.log")))
        .expect("broker log");
    let child = ferry()
        .args([
            "broker",
            "--listen",
            addr,
            "--num-partitions",
            "1",
            "--data-dir",
        ])
        .arg(ws.path("broker-data"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("start ferry broker");
    assert!(
        wait_until(LIMIT, || std::net::TcpStream::connect(addr).is_ok()),
        "broker did not listen; log:\n{}",
        ws.log(log)
    );
    Process(child)
}

/// One `ferry distributed` process.
struct Worker {
    process: Process,
    url: String,
    log: String,
}

/// A broker and the workers of one group.
struct Cluster {
    ws: Workspace,
    broker: Option<Process>,
    broker_addr: String,
    workers: Vec<Worker>,
    started: usize,
}

impl Cluster {
    fn start(workers: usize) -> Cluster {
        let ws = Workspace::new();
        let broker_addr = format!("127.0.0.1:{}", free_port());
        let broker = Some(spawn_broker(&ws, &broker_addr, "broker"));
        let mut c = Cluster {
            ws,
            broker,
            broker_addr,
            workers: Vec::new(),
            started: 0,
        };
        for _ in 0..workers {
            c.add_worker(&[]);
        }
        c
    }

    /// The config file of the next worker, with `extra` replaced too.
    fn worker_config(&self, extra: &[(&str, &str)]) -> PathBuf {
        let mut replace: Vec<(&str, String)> = vec![
            ("bootstrap.servers", self.broker_addr.clone()),
            ("listeners", "http://127.0.0.1:0".into()),
            // Topics created by sources and sinks: 3 partitions, for sinks of 3 tasks.
            ("num.partitions", "3".into()),
        ];
        replace.extend(FAST_GROUP.iter().map(|(k, v)| (*k, v.to_string())));
        for (k, v) in extra {
            replace.retain(|(key, _)| key != k);
            replace.push((k, v.to_string()));
        }
        self.ws.write(
            &format!("worker{}.yaml", self.started),
            &example_config(&replace),
        )
    }

    /// Starts a worker and waits until its REST API answers; returns its index.
    fn add_worker(&mut self, extra: &[(&str, &str)]) -> usize {
        let config = self.worker_config(extra);
        let log = format!("worker{}", self.started);
        self.started += 1;
        let process = self.spawn(&config, &log);
        let url = self.rest_url(&log);
        self.workers.push(Worker { process, url, log });
        self.workers.len() - 1
    }

    fn spawn(&self, config: &Path, log: &str) -> Process {
        let err = fs::File::create(self.ws.path(&format!("{log}.log"))).expect("log file");
        Process(
            ferry()
                .arg("distributed")
                .arg(config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .expect("start ferry distributed"),
        )
    }

    fn rest_url(&self, log: &str) -> String {
        let mut url = String::new();
        let found = wait_until(LIMIT, || {
            match self
                .ws
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
        assert!(found, "no REST address in the log:\n{}", self.ws.log(log));
        url
    }

    fn url(&self, i: usize) -> &str {
        &self.workers[i].url
    }

    /// Every log, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for w in &self.workers {
            out.push_str(&format!(
                "==== {}\n{}\n",
                w.log,
                tail(&self.ws.log(&w.log), 60)
            ));
        }
        out.push_str(&format!(
            "==== broker\n{}\n",
            tail(&self.ws.log("broker"), 20)
        ));
        out
    }

    /// Whether worker `i` led the group in its last assignment (from its log).
    fn is_leader(&self, i: usize) -> bool {
        self.ws
            .log(&self.workers[i].log)
            .lines()
            .rev()
            .find(|l| l.contains("assignment applied"))
            .is_some_and(|l| l.contains("leader=true"))
    }

    fn kill_9(&mut self, i: usize) -> Worker {
        let mut w = self.workers.remove(i);
        w.process.kill().expect("kill -9");
        let _ = w.process.wait();
        w
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.process.kill();
        }
        if let Some(b) = self.broker.as_mut() {
            let _ = terminate(b, LIMIT);
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A REST call; answers the status and the JSON body (`Null` when empty).
fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let http = client();
    let mut request = match method {
        "GET" => http.get(url),
        "POST" => http.post(url),
        "PUT" => http.put(url),
        "DELETE" => http.delete(url),
        other => panic!("method {other}"),
    };
    if let Some(b) = body {
        request = request.json(&b);
    }
    let response = request
        .send()
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response.text().unwrap_or_default();
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, value)
}

/// A write, retried while the group rebalances (409), as Kafka Connect's clients do.
fn write(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let (status, value) = call(method, url, body.clone());
        // A rebalance's 409 says "momentarily" or "conflicting operation"; a name taken is
        // a 409 too, and final.
        let message = value["message"].as_str().unwrap_or("");
        let retry = status == 409
            && (message.contains("momentarily") || message.contains("conflicting operation"));
        if !retry || Instant::now() > deadline {
            return (status, value);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create(worker: &str, name: &str, config: Value) {
    let (status, body) = write(
        "POST",
        &format!("{worker}/connectors"),
        Some(json!({"name": name, "config": config})),
    );
    assert_eq!(status, 201, "creating {name} on {worker}: {body}");
}

/// `GET /connectors?expand=status` as `connector -> (connector state, [(task state,
/// worker)])`.
type Statuses = BTreeMap<String, (String, Vec<(String, String)>)>;

fn statuses(worker: &str) -> Statuses {
    let (status, body) = call("GET", &format!("{worker}/connectors?expand=status"), None);
    assert_eq!(status, 200, "{body}");
    let mut out = Statuses::new();
    for (name, entry) in body.as_object().cloned().unwrap_or_default() {
        let s = &entry["status"];
        let tasks = s["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["state"].as_str().unwrap_or("").to_string(),
                    t["worker_id"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.insert(
            name,
            (
                s["connector"]["state"].as_str().unwrap_or("").to_string(),
                tasks,
            ),
        );
    }
    out
}

/// Whether every connector of `expected` (name → task count) and all its tasks run.
fn all_running(s: &Statuses, expected: &BTreeMap<String, usize>) -> bool {
    expected.iter().all(|(name, tasks)| {
        s.get(name).is_some_and(|(c, ts)| {
            c == "RUNNING" && ts.len() == *tasks && ts.iter().all(|(t, _)| t == "RUNNING")
        })
    })
}

/// Waits until every worker reports every connector and task RUNNING, the same way.
fn wait_all_running(cluster: &Cluster, expected: &BTreeMap<String, usize>) -> Statuses {
    let mut last = Statuses::new();
    let ok = wait_until(LIMIT, || {
        let views: Vec<Statuses> = (0..cluster.workers.len())
            .map(|i| statuses(cluster.url(i)))
            .collect();
        last = views[0].clone();
        all_running(&last, expected) && views.iter().all(|v| *v == last)
    });
    assert!(
        ok,
        "not all running on every worker: {last:?}\n{}",
        cluster.logs()
    );
    last
}

/// Appends `<prefix>-<n:06>` lines to each file every few ms until stopped; returns the
/// count written to each.
struct Appender {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Appender {
    fn start(files: Vec<(PathBuf, String)>) -> Appender {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while !flag.load(Ordering::Relaxed) {
                for (file, prefix) in &files {
                    append(file, &format!("{prefix}-{n:06}\n"));
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            n
        });
        Appender {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map_or(0, |t| t.join().expect("appender"))
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The numbers of the `<prefix>-<n:06>` tokens in `file`, anywhere in a line: a line torn
/// by `kill -9` may have the next write glued to it.
fn tokens(file: &Path, prefix: &str) -> BTreeSet<usize> {
    let text = fs::read_to_string(file).unwrap_or_default();
    let marker = format!("{prefix}-");
    let mut out = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(&marker) {
        rest = &rest[at + marker.len()..];
        let digits: String = rest.chars().take(6).collect();
        if digits.len() == 6
            && digits.chars().all(|c| c.is_ascii_digit())
            && let Ok(n) = digits.parse()
        {
            out.insert(n);
        }
    }
    out
}

/// A file source and a file sink through one topic per pair: `in<i>` → `t<i>` → `out<i>`.
fn file_pipelines(
    cluster: &Cluster,
    pairs: usize,
) -> (Vec<(PathBuf, PathBuf)>, BTreeMap<String, usize>) {
    let mut files = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..pairs {
        let input = cluster.ws.path(&format!("in{i}.txt"));
        let output = cluster.ws.path(&format!("out{i}.txt"));
        fs::write(&input, "").unwrap();
        let on = cluster.url(i % cluster.workers.len()).to_string();
        create(
            &on,
            &format!("src{i}"),
            json!({"connector.class": "FileStreamSource", "file": input, "topic": format!("t{i}")}),
        );
        let on = cluster.url((i + 1) % cluster.workers.len()).to_string();
        create(
            &on,
            &format!("sink{i}"),
            json!({"connector.class": "FileStreamSink", "file": output, "topics": format!("t{i}")}),
        );
        expected.insert(format!("src{i}"), 1);
        expected.insert(format!("sink{i}"), 1);
        files.push((input, output));
    }
    (files, expected)
}

/// Waits until every output holds every line written to its input.
fn wait_complete(cluster: &Cluster, files: &[(PathBuf, PathBuf)], written: usize, limit: Duration) {
    let mut missing = Vec::new();
    let ok = wait_until(limit, || {
        missing = files
            .iter()
            .enumerate()
            .filter_map(|(i, (_, out))| {
                let have = tokens(out, &format!("s{i}"));
                let lost: Vec<usize> = (0..written).filter(|n| !have.contains(n)).collect();
                (!lost.is_empty()).then(|| (i, lost.len(), lost.first().copied()))
            })
            .collect();
        missing.is_empty()
    });
    assert!(
        ok,
        "lines missing (pipeline, count, first): {missing:?}\n{}",
        cluster.logs()
    );
}

#[test]
fn six_connectors_on_three_workers_run_and_every_worker_reports_the_same() {
    let cluster = Cluster::start(3);
    // Three sources, each to a topic of 3 partitions; three sinks of 3 tasks, one per
    // partition. Created through every worker: the followers forward to the leader.
    let mut expected = BTreeMap::new();
    for i in 0..3 {
        let input = cluster.ws.path(&format!("in{i}.txt"));
        fs::write(
            &input,
            (0..30)
                .map(|n| format!("s{i}-{n:06}\n"))
                .collect::<String>(),
        )
        .unwrap();
        let topic = format!("t{i}");
        let (status, body) = call("GET", &format!("{}/connectors/none", cluster.url(i)), None);
        assert_eq!(status, 404, "{body}");
        create(
            cluster.url(i),
            &format!("src{i}"),
            json!({"connector.class": "FileStreamSource", "file": input, "topic": topic}),
        );
        create(
            cluster.url((i + 1) % 3),
            &format!("sink{i}"),
            json!({
                "connector.class": "FileStreamSink",
                "file": cluster.ws.path(&format!("out{i}.txt")),
                "topics": topic,
                "tasks.max": "3",
            }),
        );
        expected.insert(format!("src{i}"), 1);
        expected.insert(format!("sink{i}"), 3);
    }
    let s = wait_all_running(&cluster, &expected);
    // The work is shared: every worker runs some of the 12 tasks, none more than 5.
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for (_, tasks) in s.values() {
        for (_, worker) in tasks {
            *per_worker.entry(worker.clone()).or_default() += 1;
        }
    }
    assert_eq!(per_worker.len(), 3, "{per_worker:?}");
    assert!(
        per_worker.values().all(|n| (3..=5).contains(n)),
        "{per_worker:?}"
    );
    // Every worker answers the same for the details too.
    for i in 0..3 {
        let (status, info) = call("GET", &format!("{}/connectors/sink1", cluster.url(i)), None);
        assert_eq!(status, 200);
        assert_eq!(info["tasks"].as_array().map(Vec::len), Some(3), "{info}");
        assert_eq!(info["type"], "sink");
        let (_, tasks) = call(
            "GET",
            &format!("{}/connectors/sink1/tasks", cluster.url(i)),
            None,
        );
        assert_eq!(tasks.as_array().map(Vec::len), Some(3), "{tasks}");
    }
    // The data flows: 30 lines per pipeline, split over three sink tasks.
    let files: Vec<(PathBuf, PathBuf)> = (0..3)
        .map(|i| {
            (
                cluster.ws.path(&format!("in{i}.txt")),
                cluster.ws.path(&format!("out{i}.txt")),
            )
        })
        .collect();
    wait_complete(&cluster, &files, 30, LIMIT);
    // A name that exists is refused, through a follower too.
    let (status, body) = write(
        "POST",
        &format!("{}/connectors", cluster.url(2)),
        Some(
            json!({"name": "src0", "config": {"connector.class": "FileStreamSource", "topic": "x"}}),
        ),
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("already exists"),
        "{body}"
    );
}

#[test]
fn kill_9_of_a_worker_moves_its_tasks_and_the_output_misses_no_line() {
    let mut cluster = Cluster::start(3);
    let (files, expected) = file_pipelines(&cluster, 3);
    let before = wait_all_running(&cluster, &expected);
    let appender = Appender::start(
        files
            .iter()
            .enumerate()
            .map(|(i, (input, _))| (input.clone(), format!("s{i}")))
            .collect(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    // Kill the worker running the most tasks.
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for (_, tasks) in before.values() {
        for (_, w) in tasks {
            *load.entry(w.clone()).or_default() += 1;
        }
    }
    let victim_id = load
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(w, _)| w.clone())
        .expect("a busy worker");
    let victim = (0..cluster.workers.len())
        .find(|&i| cluster.url(i).contains(&victim_id))
        .expect("the victim's index");
    let killed = cluster.kill_9(victim);
    let killed_at = Instant::now();
    // Its tasks run on the survivors.
    let mut moved = Statuses::new();
    let ok = wait_until(LIMIT, || {
        moved = statuses(cluster.url(0));
        all_running(&moved, &expected)
            && moved
                .values()
                .all(|(_, ts)| ts.iter().all(|(_, w)| !killed.url.contains(w.as_str())))
    });
    assert!(
        ok,
        "tasks did not move off the killed worker: {moved:?}\n{}",
        cluster.logs()
    );
    let moved_in = killed_at.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    let written = appender.finish();
    wait_complete(&cluster, &files, written, LIMIT);
    assert!(
        moved_in < Duration::from_secs(15),
        "failover took {moved_in:?}"
    );
}

#[test]
fn a_fourth_worker_takes_a_share_and_nothing_stops_longer_than_one_rebalance() {
    let mut cluster = Cluster::start(3);
    let mut expected = BTreeMap::new();
    for i in 0..4 {
        create(
            cluster.url(i % 3),
            &format!("sink{i}"),
            json!({
                "connector.class": "FileStreamSink",
                "file": cluster.ws.path(&format!("out{i}.txt")),
                "topics": format!("t{i}"),
                "tasks.max": "3",
            }),
        );
        expected.insert(format!("sink{i}"), 3);
    }
    let before = wait_all_running(&cluster, &expected);
    // Watch the statuses while the fourth worker joins.
    let url = cluster.url(0).to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let watching = stop.clone();
    let watcher = std::thread::spawn(move || {
        let mut samples: Vec<(Instant, Statuses)> = Vec::new();
        while !watching.load(Ordering::Relaxed) {
            samples.push((Instant::now(), statuses(&url)));
            std::thread::sleep(Duration::from_millis(50));
        }
        samples
    });
    std::thread::sleep(Duration::from_millis(300));
    let new = cluster.add_worker(&[]);
    let new_id = cluster
        .url(new)
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let ok = wait_until(LIMIT, || {
        let s = statuses(cluster.url(0));
        let on_new = s
            .values()
            .flat_map(|(_, ts)| ts.iter())
            .filter(|(state, w)| state == "RUNNING" && *w == new_id)
            .count();
        all_running(&s, &expected) && on_new == 3
    });
    assert!(
        ok,
        "the fourth worker did not get its share of 12 tasks\n{}",
        cluster.logs()
    );
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let samples = watcher.join().expect("watcher");
    // Per task: tasks that stayed where they were never stopped; moved ones were down for
    // less than one rebalance (a heartbeat to notice, revoke, rejoin, start: well under 5 s).
    for (name, (_, tasks)) in &before {
        for (n, (_, owner)) in tasks.iter().enumerate() {
            let mut down_since: Option<Instant> = None;
            let mut longest = Duration::ZERO;
            let mut moved = false;
            for (at, s) in &samples {
                let (state, worker) = &s[name].1[n];
                if worker != owner {
                    moved = true;
                }
                match (state == "RUNNING", down_since) {
                    (false, None) => down_since = Some(*at),
                    (true, Some(since)) => {
                        longest = longest.max(*at - since);
                        down_since = None;
                    }
                    _ => {}
                }
            }
            assert!(down_since.is_none(), "{name}-{n} did not run again");
            if moved {
                assert!(
                    longest < Duration::from_secs(5),
                    "{name}-{n} was down {longest:?}"
                );
            } else {
                assert_eq!(longest, Duration::ZERO, "{name}-{n} stopped without moving");
            }
        }
    }
}

#[test]
fn a_broker_away_for_10_s_loses_nothing() {
    let mut cluster = Cluster::start(3);
    let (files, expected) = file_pipelines(&cluster, 2);
    wait_all_running(&cluster, &expected);
    let appender = Appender::start(
        files
            .iter()
            .enumerate()
            .map(|(i, (input, _))| (input.clone(), format!("s{i}")))
            .collect(),
    );
    std::thread::sleep(Duration::from_millis(1000));
    let mut broker = cluster.broker.take().expect("broker");
    let status = terminate(&mut broker, LIMIT);
    assert!(status.success(), "broker exit: {status:?}");
    std::thread::sleep(Duration::from_secs(10));
    cluster.broker = Some(spawn_broker(&cluster.ws, &cluster.broker_addr, "broker"));
    std::thread::sleep(Duration::from_millis(1500));
    let written = appender.finish();
    wait_complete(&cluster, &files, written, Duration::from_secs(40));
    wait_all_running(&cluster, &expected);
    for w in &mut cluster.workers {
        assert!(matches!(w.process.try_wait(), Ok(None)), "{} exited", w.log);
    }
}

#[test]
fn a_worker_with_other_internal_topics_is_refused_with_a_clear_message() {
    let mut cluster = Cluster::start(1);
    create(
        cluster.url(0),
        "sink",
        json!({"connector.class": "FileStreamSink", "file": cluster.ws.path("out.txt"), "topics": "t"}),
    );
    let expected = BTreeMap::from([("sink".to_string(), 1)]);
    wait_all_running(&cluster, &expected);
    let config = cluster.worker_config(&[("config.storage.topic", "other-configs")]);
    let mut odd = cluster.spawn(&config, "odd");
    let exited = wait_until(LIMIT, || matches!(odd.try_wait(), Ok(Some(_))));
    let log = cluster.ws.log("odd");
    assert!(exited, "the odd worker kept running:\n{log}");
    let status = odd.try_wait().ok().flatten().expect("exit status");
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(
            "config.storage.topic is 'other-configs' here but 'ferry-configs' in the group"
        ),
        "{log}"
    );
    // The group is unharmed.
    assert!(all_running(&statuses(cluster.url(0)), &expected));
    cluster.add_worker(&[]);
    wait_all_running(&cluster, &expected);
}

#[test]
fn rest_writes_on_a_follower_are_forwarded_to_the_leader() {
    let cluster = Cluster::start(2);
    assert!(wait_until(LIMIT, || cluster.is_leader(0) != cluster.is_leader(1)));
    let follower = if cluster.is_leader(0) { 1 } else { 0 };
    let f = cluster.url(follower).to_string();
    let leader = cluster.url(1 - follower).to_string();
    let input = cluster.ws.path("in.txt");
    fs::write(
        &input,
        (0..20).map(|n| format!("s0-{n:06}\n")).collect::<String>(),
    )
    .unwrap();
    create(
        &f,
        "src",
        json!({"connector.class": "FileStreamSource", "file": input, "topic": "t"}),
    );
    create(
        &f,
        "sink",
        json!({"connector.class": "FileStreamSink", "file": cluster.ws.path("out.txt"), "topics": "t", "tasks.max": "2"}),
    );
    let expected = BTreeMap::from([("sink".to_string(), 2), ("src".to_string(), 1)]);
    wait_all_running(&cluster, &expected);
    let files = [(input.clone(), cluster.ws.path("out.txt"))];
    wait_complete(&cluster, &files, 20, LIMIT);
    // PUT config (update) through the follower.
    let (status, body) = write(
        "PUT",
        &format!("{f}/connectors/sink/config"),
        Some(
            json!({"connector.class": "FileStreamSink", "file": cluster.ws.path("out.txt"), "topics": "t", "tasks.max": "1"}),
        ),
    );
    assert_eq!(status, 200, "{body}");
    wait_all_running(
        &cluster,
        &BTreeMap::from([("sink".to_string(), 1), ("src".to_string(), 1)]),
    );
    // Pause and resume through the follower.
    let (status, body) = write("PUT", &format!("{f}/connectors/sink/pause"), None);
    assert_eq!(status, 202, "{body}");
    assert!(wait_until(LIMIT, || {
        [&f, &leader].iter().all(|u| {
            statuses(u)
                .get("sink")
                .is_some_and(|(c, ts)| c == "PAUSED" && ts.iter().all(|(t, _)| t == "PAUSED"))
        })
    }));
    let (status, _) = write("PUT", &format!("{f}/connectors/sink/resume"), None);
    assert_eq!(status, 202);
    wait_all_running(
        &cluster,
        &BTreeMap::from([("sink".to_string(), 1), ("src".to_string(), 1)]),
    );
    // Restart with tasks (KIP-745) through the follower: the plan answers at once.
    let (status, plan) = write(
        "POST",
        &format!("{f}/connectors/sink/restart?includeTasks=true"),
        None,
    );
    assert_eq!(status, 202, "{plan}");
    assert_eq!(plan["connector"]["state"], "RESTARTING", "{plan}");
    wait_all_running(
        &cluster,
        &BTreeMap::from([("sink".to_string(), 1), ("src".to_string(), 1)]),
    );
    // Stop, then offsets (KIP-875): reset through the follower deletes the group's offsets.
    let (status, _) = write("PUT", &format!("{f}/connectors/sink/stop"), None);
    assert_eq!(status, 204);
    assert!(wait_until(LIMIT, || {
        statuses(&f)
            .get("sink")
            .is_some_and(|(c, ts)| c == "STOPPED" && ts.is_empty())
    }));
    let (_, offsets) = call("GET", &format!("{f}/connectors/sink/offsets"), None);
    let committed: i64 = offsets["offsets"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(|e| e["offset"]["kafka_offset"].as_i64())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(committed, 20, "{offsets}");
    let (status, body) = write("DELETE", &format!("{f}/connectors/sink/offsets"), None);
    assert_eq!(status, 200, "{body}");
    let (_, offsets) = call("GET", &format!("{leader}/connectors/sink/offsets"), None);
    assert_eq!(offsets, json!({"offsets": []}));
    // Resumed, the sink starts again from the log start: every line comes a second time.
    let (status, _) = write("PUT", &format!("{f}/connectors/sink/resume"), None);
    assert_eq!(status, 202);
    let out = cluster.ws.path("out.txt");
    assert!(
        wait_until(LIMIT, || common::line_count(&out) == 40),
        "{} lines\n{}",
        common::line_count(&out),
        cluster.logs()
    );
    // Delete through the follower: gone everywhere.
    let (status, body) = write("DELETE", &format!("{f}/connectors/sink"), None);
    assert_eq!(status, 204, "{body}");
    assert!(wait_until(LIMIT, || {
        [&f, &leader]
            .iter()
            .all(|u| call("GET", &format!("{u}/connectors/sink"), None).0 == 404)
    }));
    // The follower forwarded (its log says so at debug level only; the leader stored).
    assert!(
        cluster
            .ws
            .log(&cluster.workers[1 - follower].log)
            .contains("connector config stored")
    );
    assert!(
        !cluster
            .ws
            .log(&cluster.workers[follower].log)
            .contains("connector config stored")
    );
}

/// A helper binary check: `ferry distributed` with a bad config fails before connecting.
#[test]
fn a_bad_distributed_config_is_refused_before_anything_starts() {
    let ws = Workspace::new();
    let config = ws.write(
        "bad.yaml",
        "bootstrap.servers: 127.0.0.1:1\nheartbeat.interval.ms: 5000\nsession.timeout.ms: 1000\nconnect.protocol: cooperative\n",
    );
    let out = common::run_to_end(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .arg("distributed")
            .arg(&config),
        LIMIT,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for key in ["group.id", "connect.protocol"] {
        assert!(
            err.contains(&format!("key \"{key}\"")),
            "{key} not named: {err}"
        );
    }
    assert!(err.contains("bad.yaml"), "{err}");
}
