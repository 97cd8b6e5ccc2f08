//! End-to-end tests of `ferry standalone`: the real binary, real files, real signals.

mod common;

use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

const START: Duration = Duration::from_secs(30);

#[test]
fn tails_a_file_into_another_and_stops_cleanly() {
    let ws = Workspace::new();
    let input = ws.path("in.txt");
    let output = ws.path("out.txt");
    append(&input, "one\ntwo\n");
    let worker = ws.worker_config("");
    let (source, sink) = ws.file_pipeline(&input, &output, "lines");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run1");

    assert!(
        wait_until(START, || line_count(&output) == 2),
        "first lines never arrived; log:\n{}",
        ws.log("run1")
    );
    // Lines appended later are picked up (tailing), including one written in two steps.
    append(&input, "three\nfo");
    std::thread::sleep(Duration::from_millis(300));
    append(&input, "ur\n");
    assert!(
        wait_until(START, || line_count(&output) == 4),
        "appended lines never arrived; log:\n{}",
        ws.log("run1")
    );
    let status = terminate(&mut ferry, Duration::from_secs(20));
    assert!(
        status.success(),
        "exit {status:?}; log:\n{}",
        ws.log("run1")
    );
    assert_eq!(
        fs::read_to_string(&output).unwrap(),
        "one\ntwo\nthree\nfour\n"
    );

    // A clean restart resumes from the committed offsets: nothing is repeated.
    append(&input, "five\n");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run2");
    assert!(
        wait_until(START, || line_count(&output) == 5),
        "log:\n{}",
        ws.log("run2")
    );
    std::thread::sleep(Duration::from_millis(500));
    let status = terminate(&mut ferry, Duration::from_secs(20));
    assert!(status.success());
    assert_eq!(
        fs::read_to_string(&output).unwrap(),
        "one\ntwo\nthree\nfour\nfive\n"
    );
}

#[test]
fn follows_rotation_and_truncation() {
    let ws = Workspace::new();
    let input = ws.path("app.log");
    let output = ws.path("out.txt");
    append(&input, "a1\na2\n");
    let worker = ws.worker_config("");
    let (source, sink) = ws.file_pipeline(&input, &output, "logs");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    assert!(
        wait_until(START, || line_count(&output) == 2),
        "{}",
        ws.log("run")
    );

    // Rotation: the file is renamed away and a new one takes its name.
    fs::rename(&input, ws.path("app.log.1")).unwrap();
    append(&input, "b1\n");
    assert!(
        wait_until(START, || line_count(&output) == 3),
        "rotated file not followed; log:\n{}",
        ws.log("run")
    );

    // Truncation: the file shrinks below the position read so far.
    append(&input, "b2 with a longer line\n");
    assert!(
        wait_until(START, || line_count(&output) == 4),
        "{}",
        ws.log("run")
    );
    fs::write(&input, "c\n").unwrap();
    assert!(
        wait_until(START, || line_count(&output) == 5),
        "truncated file not re-read; log:\n{}",
        ws.log("run")
    );
    terminate(&mut ferry, Duration::from_secs(20));
    assert_eq!(
        fs::read_to_string(&output).unwrap(),
        "a1\na2\nb1\nb2 with a longer line\nc\n"
    );
    let log = ws.log("run");
    assert!(log.contains("rotated"), "{log}");
    assert!(log.contains("truncated"), "{log}");
}

#[test]
fn lines_that_are_not_utf8_pass_through_as_bytes() {
    let ws = Workspace::new();
    let input = ws.path("in.bin");
    let output = ws.path("out.bin");
    fs::write(&input, b"ok\n\xff\xfe not utf-8 \xc3\x28\nend\n").unwrap();
    let worker = ws.worker_config("");
    let (source, sink) = ws.file_pipeline(&input, &output, "bin");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    assert!(
        wait_until(START, || line_count(&output) == 3),
        "{}",
        ws.log("run")
    );
    terminate(&mut ferry, Duration::from_secs(20));
    assert_eq!(fs::read(&output).unwrap(), fs::read(&input).unwrap());
}

#[test]
fn a_second_process_on_the_same_data_dir_is_refused() {
    let ws = Workspace::new();
    let input = ws.path("in.txt");
    let output = ws.path("out.txt");
    append(&input, "x\n");
    let worker = ws.worker_config("");
    let (source, sink) = ws.file_pipeline(&input, &output, "t");
    let mut first = ws.standalone(&[&worker, &source, &sink], "first");
    assert!(
        wait_until(START, || line_count(&output) == 1),
        "{}",
        ws.log("first")
    );
    let out = run_to_end(
        ferry().arg("standalone").arg(&worker).arg(&source),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("in use by another process"), "{stderr}");
    terminate(&mut first, Duration::from_secs(20));
}

/// Each bad input is refused before anything starts, with one line naming the file, the
/// key and what was expected, and a non-zero exit.
#[test]
fn bad_configs_are_refused_before_anything_starts() {
    let ws = Workspace::new();
    let worker = ws.worker_config("");
    let out_file = ws.path("never.txt");
    let sink_ok = format!(
        "name: s\nconnector.class: FileStreamSink\nfile: {}\ntopics: t\n",
        out_file.display()
    );
    let cases: Vec<(&str, String, Vec<&str>)> =
        vec![
        (
            "unknown-class.yaml",
            "name: x\nconnector.class: NoSuchConnector\ntopic: t\n".into(),
            vec!["unknown-class.yaml", "connector.class", "NoSuchConnector", "FileStreamSource"],
        ),
        (
            "missing-class.yaml",
            "name: x\ntopic: t\n".into(),
            vec!["missing-class.yaml", "connector.class", "missing required key"],
        ),
        (
            "missing-topic.yaml",
            "name: x\nconnector.class: FileStreamSource\nfile: /tmp/x\n".into(),
            vec!["missing-topic.yaml", "\"topic\"", "missing required key"],
        ),
        (
            "wrong-type.yaml",
            "name: x\nconnector.class: FileStreamSource\ntopic: t\ntasks.max: many\n".into(),
            vec!["wrong-type.yaml", "tasks.max", "many", "integer"],
        ),
        (
            "syntax.yaml",
            "name: x\nconnector.class: FileStreamSource\n  topic: [unclosed\n".into(),
            vec!["syntax.yaml:"],
        ),
        (
            "sink-no-topics.yaml",
            format!("name: s\nconnector.class: FileStreamSink\nfile: {}\n", out_file.display()),
            vec!["sink-no-topics.yaml", "topics"],
        ),
        (
            "bad-converter.yaml",
            format!("{sink_ok}value.converter: com.example.Nope\n"),
            vec!["bad-converter.yaml", "value.converter", "com.example.Nope"],
        ),
        (
            "bad-env.yaml",
            "name: x\nconnector.class: FileStreamSource\ntopic: ${env:FERRY_TEST_SURELY_UNSET}\n"
                .into(),
            vec!["bad-env.yaml", "FERRY_TEST_SURELY_UNSET"],
        ),
    ];
    for (name, content, expected) in cases {
        let file = ws.write(name, &content);
        let sink = ws.write("ok-sink.yaml", &sink_ok);
        let out = run_to_end(
            ferry().arg("standalone").arg(&worker).arg(&sink).arg(&file),
            Duration::from_secs(20),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(
            error_lines.len(),
            1,
            "{name}: one error line expected:\n{stderr}"
        );
        for e in expected {
            assert!(
                error_lines[0].contains(e),
                "{name}: `{e}` missing in: {stderr}"
            );
        }
        assert!(!out_file.exists(), "{name}: the sink started");
    }

    // An unreadable file.
    let out = run_to_end(
        ferry()
            .arg("standalone")
            .arg(&worker)
            .arg(ws.path("does-not-exist.yaml")),
        Duration::from_secs(20),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does-not-exist.yaml"), "{stderr}");
}

#[test]
fn kafka_quickstart_property_files_run() {
    let ws = Workspace::new();
    let input = ws.path("test.txt");
    let output = ws.path("test.sink.txt");
    append(&input, "foo\nbar\n");
    // connect-standalone.properties from Kafka's config/, minus bootstrap.servers (the
    // embedded log stands in for the broker) and with paths inside the workspace.
    let worker = ws.write(
        "connect-standalone.properties",
        &format!(
            "key.converter=org.apache.kafka.connect.json.JsonConverter\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n\
             key.converter.schemas.enable=true\n\
             value.converter.schemas.enable=true\n\
             offset.storage.file.filename={}\n\
             offset.flush.interval.ms=10000\n\
             listeners=http://127.0.0.1:0\n\
             data.dir={}\n\
             #plugin.path=\n",
            ws.path("connect.offsets").display(),
            ws.path("data").display()
        ),
    );
    let source = ws.write(
        "connect-file-source.properties",
        &format!(
            "name=local-file-source\nconnector.class=FileStreamSource\ntasks.max=1\nfile={}\ntopic=connect-test\n",
            input.display()
        ),
    );
    let sink = ws.write(
        "connect-file-sink.properties",
        &format!(
            "name=local-file-sink\nconnector.class=FileStreamSink\ntasks.max=1\nfile={}\ntopics=connect-test\n",
            output.display()
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    assert!(
        wait_until(START, || line_count(&output) == 2),
        "{}",
        ws.log("run")
    );
    let status = terminate(&mut ferry, Duration::from_secs(20));
    assert!(status.success());
    assert_eq!(fs::read_to_string(&output).unwrap(), "foo\nbar\n");
    // The offset file was written at shutdown and names the file and position.
    let offsets = fs::read_to_string(ws.path("connect.offsets")).unwrap();
    assert!(offsets.contains("local-file-source"), "{offsets}");
    assert!(offsets.contains("position"), "{offsets}");
}

/// A tiny deterministic generator, seeded from the clock (printed, to replay a failure).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn numbered_line(i: usize) -> String {
    format!("{i:07} the quick brown fox jumps over the lazy dog\n")
}

/// kill -9 at random moments while 1,000,000 lines flow; after the last restart the output
/// holds every line, in order, with repeats only where a run restarted from its last
/// committed offset (at-least-once).
#[test]
fn kill_9_at_random_moments_loses_no_line() {
    const LINES: usize = 1_000_000;
    let ws = Workspace::new();
    let input = ws.path("big.txt");
    let output = ws.path("out.txt");
    {
        let mut text = String::with_capacity(LINES * 52);
        for i in 0..LINES {
            text.push_str(&numbered_line(i));
        }
        fs::write(&input, text).unwrap();
    }
    let worker = ws.worker_config("");
    let (source, sink) = ws.file_pipeline(&input, &output, "big");
    let seed = std::env::var("FERRY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("kill -9 test seed: {seed} (set FERRY_TEST_SEED to replay)");
    let mut rng = Lcg(seed);
    let mut kills = 0;
    for round in 0..8 {
        let mut child = ws.standalone(&[&worker, &source, &sink], &format!("run{round}"));
        std::thread::sleep(Duration::from_millis(30 + rng.next(400)));
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
    }
    let mut child = ws.standalone(&[&worker, &source, &sink], "final");
    let done = wait_until(Duration::from_secs(120), || {
        fs::read(&output)
            .ok()
            .and_then(|b| {
                let end = b.len().checked_sub(1)?;
                let start = b[..end]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |i| i + 1);
                Some(b[start..].to_vec() == numbered_line(LINES - 1).into_bytes())
            })
            .unwrap_or(false)
    });
    terminate(&mut child, Duration::from_secs(20));
    assert!(
        done,
        "the last line never arrived; log:\n{}",
        ws.log("final")
    );

    let data = fs::read(&output).unwrap();
    let mut max_seen: i64 = -1;
    let mut repeats = 0usize;
    let mut torn = 0usize;
    let mut lines = data.split(|&c| c == b'\n').peekable();
    while let Some(line) = lines.next() {
        if lines.peek().is_none() {
            assert!(line.is_empty(), "output does not end with a newline");
            break;
        }
        let text = std::str::from_utf8(line).expect("utf-8 output");
        let whole = |t: &str| -> Option<i64> {
            let n: i64 = t.get(..7)?.parse().ok()?;
            (numbered_line(n as usize).trim_end() == t).then_some(n)
        };
        // A line torn by kill -9 has no newline, so the next line written (from the
        // restarted run) follows it directly: split the fragment off.
        let line_len = numbered_line(0).len() - 1;
        let text = match whole(text) {
            Some(_) => text,
            None => {
                let split = text.len().checked_sub(line_len).unwrap_or_else(|| {
                    panic!("short line {text:?} after line {max_seen} (seed {seed})")
                });
                let (fragment, rest) = text.split_at(split);
                let fragment_ok = match fragment.get(..7).and_then(|d| d.parse::<i64>().ok()) {
                    Some(n) => n <= max_seen + 1 && numbered_line(n as usize).starts_with(fragment),
                    None => fragment.bytes().all(|b| b.is_ascii_digit()),
                };
                assert!(
                    fragment_ok,
                    "unexpected text {fragment:?} after line {max_seen} (seed {seed})"
                );
                torn += 1;
                rest
            }
        };
        let n = whole(text).unwrap_or_else(|| {
            panic!("unexpected line {text:?} after line {max_seen} (seed {seed})")
        });
        assert!(
            n <= max_seen + 1,
            "line {n} follows line {max_seen}: lines are missing (seed {seed})"
        );
        if n <= max_seen {
            repeats += 1;
        }
        max_seen = max_seen.max(n);
    }
    assert_eq!(max_seen, LINES as i64 - 1, "seed {seed}");
    eprintln!(
        "kill -9 test: {kills} kills, {LINES} lines, {repeats} repeated lines ({:.2}%), {torn} torn lines",
        repeats as f64 * 100.0 / LINES as f64
    );
}

#[test]
fn help_shows_examples_and_version_prints() {
    let out = run_to_end(ferry().arg("--help"), Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("Examples:"), "{text}");
    assert!(
        text.contains("ferry standalone configs/standalone.yaml"),
        "{text}"
    );
    let out = run_to_end(ferry().arg("--version"), Duration::from_secs(10));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("ferry {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The worker's JsonConverter writes Kafka Connect's envelope into the log; a sink that
/// sets its own value.converter (StringConverter) sees those bytes as text.
#[test]
fn connector_converters_override_the_workers() {
    let ws = Workspace::new();
    let input = ws.path("in.txt");
    let raw = ws.path("raw.txt");
    let decoded = ws.path("decoded.txt");
    append(&input, "one\n");
    let worker = ws.write(
        "worker.yaml",
        &format!(
            "data.dir: {}\nkey.converter: JsonConverter\nvalue.converter: org.apache.kafka.connect.json.JsonConverter\noffset.flush.interval.ms: 200\nlisteners: http://127.0.0.1:0\n",
            ws.path("data").display()
        ),
    );
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: src\nconnector.class: FileStreamSource\nfile: {}\ntopic: j\n",
            input.display()
        ),
    );
    let raw_sink = ws.write(
        "raw.yaml",
        &format!(
            "name: raw\nconnector.class: FileStreamSink\nfile: {}\ntopics: j\nvalue.converter: StringConverter\n",
            raw.display()
        ),
    );
    let decoded_sink = ws.write(
        "decoded.yaml",
        &format!(
            "name: dec\nconnector.class: FileStreamSink\nfile: {}\ntopics: j\n",
            decoded.display()
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &raw_sink, &decoded_sink], "run");
    assert!(
        wait_until(START, || line_count(&raw) == 1 && line_count(&decoded) == 1),
        "{}",
        ws.log("run")
    );
    terminate(&mut ferry, Duration::from_secs(20));
    assert_eq!(
        fs::read_to_string(&raw).unwrap(),
        "{\"schema\":{\"type\":\"string\",\"optional\":false},\"payload\":\"one\"}\n"
    );
    assert_eq!(fs::read_to_string(&decoded).unwrap(), "one\n");
}

/// Offsets are committed on `offset.flush.interval.ms` (and at shutdown), not before: with a
/// long interval, a kill -9 loses the uncommitted progress and everything is delivered
/// again; with SIGTERM nothing is.
#[test]
fn offset_flush_interval_is_honoured() {
    let ws = Workspace::new();
    let input = ws.path("in.txt");
    let output = ws.path("out.txt");
    append(&input, "a\nb\nc\n");
    let worker = ws.write(
        "worker.yaml",
        &format!(
            "data.dir: {}\nvalue.converter: StringConverter\noffset.flush.interval.ms: 600000\nlisteners: http://127.0.0.1:0\n",
            ws.path("data").display()
        ),
    );
    let (source, sink) = ws.file_pipeline(&input, &output, "t");
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run1");
    assert!(
        wait_until(START, || line_count(&output) == 3),
        "{}",
        ws.log("run1")
    );
    ferry.kill().unwrap();
    ferry.wait().unwrap();
    // Nothing was committed: the source reads the file again (the log now holds a, b, c
    // twice) and the sink reads the log from its start.
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run2");
    assert!(
        wait_until(START, || line_count(&output) == 9),
        "{:?}\n{}",
        fs::read_to_string(&output),
        ws.log("run2")
    );
    terminate(&mut ferry, Duration::from_secs(20));
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run3");
    std::thread::sleep(Duration::from_millis(1500));
    terminate(&mut ferry, Duration::from_secs(20));
    assert_eq!(fs::read_to_string(&output).unwrap(), "a\nb\nc\n".repeat(3));
}

#[test]
fn sink_subscribes_with_topics_regex() {
    let ws = Workspace::new();
    let input = ws.path("in.txt");
    let output = ws.path("out.txt");
    append(&input, "r1\nr2\n");
    let worker = ws.worker_config("");
    let source = ws.write(
        "source.yaml",
        &format!(
            "name: src\nconnector.class: FileStreamSource\nfile: {}\ntopic: logs-app\n",
            input.display()
        ),
    );
    let sink = ws.write(
        "sink.yaml",
        &format!(
            "name: sink\nconnector.class: FileStreamSink\nfile: {}\ntopics.regex: logs-.*\n",
            output.display()
        ),
    );
    let mut ferry = ws.standalone(&[&worker, &source, &sink], "run");
    // The topic appears after the sink started: it is found on the next metadata refresh.
    assert!(
        wait_until(Duration::from_secs(30), || line_count(&output) == 2),
        "{}",
        ws.log("run")
    );
    terminate(&mut ferry, Duration::from_secs(20));
    assert_eq!(fs::read_to_string(&output).unwrap(), "r1\nr2\n");
}
