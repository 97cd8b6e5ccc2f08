//! HTTP-level tests of the REST API and the `ferry connectors` CLI, against the real
//! `ferry standalone` binary (REST on port 0; the bound address is read from its log).

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Process, Workspace, ferry, run_to_end, terminate, wait_until};
use reqwest::blocking::Client;
use serde_json::{Value, json};

const LIMIT: Duration = Duration::from_secs(20);

/// A running worker and its REST base URL.
struct Worker {
    child: Process,
    url: String,
}

impl Worker {
    fn start(ws: &Workspace, log: &str) -> Worker {
        // tests/common sets `listeners: http://127.0.0.1:0`.
        let worker = ws.worker_config("");
        let child = ws.standalone(&[worker.as_path()], log);
        let mut url = String::new();
        let ok = wait_until(LIMIT, || {
            let text = ws.log(log);
            match text
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
        Worker { child, url }
    }

    fn stop(mut self) {
        let status = terminate(&mut self.child, LIMIT);
        assert!(status.success(), "worker exit: {status:?}");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Sends a request; returns the status and the body as JSON (`null` when empty).
fn call(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client().request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().expect("send request");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, json)
}

fn raw(method: &str, url: &str, body: Vec<u8>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let resp = client()
        .request(method, url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .expect("send request");
    let status = resp.status().as_u16();
    let text = resp.text().expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

fn assert_error(got: (u16, Value), status: u16, contains: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error_code"], status, "{}", got.1);
    let message = got.1["message"].as_str().unwrap_or_default();
    assert!(message.contains(contains), "{message:?} lacks {contains:?}");
}

fn source_config(ws: &Workspace, file: &Path) -> Value {
    let _ = ws;
    json!({
        "connector.class": "FileStreamSource",
        "file": file.display().to_string(),
        "topic": "rest-topic",
        "tasks.max": "1",
    })
}

/// Waits until the connector's status (and its tasks) reach `state`.
fn wait_state(url: &str, name: &str, state: &str, tasks: Option<&str>) -> Value {
    let mut last = Value::Null;
    let ok = wait_until(LIMIT, || {
        let (code, body) = call("GET", &format!("{url}/connectors/{name}/status"), None);
        last = body.clone();
        code == 200
            && body["connector"]["state"] == state
            && tasks.is_none_or(|t| {
                body["tasks"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x["state"] == t))
            })
    });
    assert!(ok, "{name} never reached {state}/{tasks:?}: {last}");
    last
}

#[test]
fn every_endpoint_answers_with_kafka_connect_bodies_and_codes() {
    let ws = Workspace::new();
    let input = ws.write("in.txt", "one\ntwo\nthree\n");
    let out = ws.path("out.txt");
    let w = Worker::start(&ws, "worker");
    let u = w.url.clone();

    // Root, health, the OpenAPI document.
    let (code, root) = call("GET", &format!("{u}/"), None);
    assert_eq!(code, 200);
    assert!(root["version"].is_string() && root["commit"].is_string());
    assert!(root["kafka_cluster_id"].is_string());
    assert_eq!(
        call("GET", &format!("{u}/health"), None).1["status"],
        "healthy"
    );
    let (code, doc) = call("GET", &format!("{u}/openapi.json"), None);
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    // Plugins.
    let (code, plugins) = call("GET", &format!("{u}/connector-plugins"), None);
    assert_eq!(code, 200);
    let plugins = plugins.as_array().unwrap();
    assert!(
        plugins
            .iter()
            .all(|p| p["type"] == "source" || p["type"] == "sink")
    );
    assert!(
        plugins
            .iter()
            .any(|p| p["class"] == "org.apache.kafka.connect.file.FileStreamSourceConnector")
    );
    let (_, all) = call(
        "GET",
        &format!("{u}/connector-plugins?connectorsOnly=false"),
        None,
    );
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|p| p["type"] == "converter")
    );
    let (code, keys) = call(
        "GET",
        &format!("{u}/connector-plugins/FileStreamSource/config"),
        None,
    );
    assert_eq!(code, 200);
    assert!(keys.as_array().unwrap().iter().any(|k| k["name"] == "file"));
    assert_error(
        call("GET", &format!("{u}/connector-plugins/NoSuch/config"), None),
        404,
        "NoSuch",
    );

    // Validate: a good config, a bad one, a mismatched class.
    let (code, v) = call(
        "PUT",
        &format!("{u}/connector-plugins/FileStreamSource/config/validate"),
        Some(json!({"name": "v", "file": "/tmp/x", "topic": "t"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["error_count"], 0, "{v}");
    assert_eq!(
        v["name"],
        "org.apache.kafka.connect.file.FileStreamSourceConnector"
    );
    let (code, v) = call(
        "PUT",
        &format!("{u}/connector-plugins/FileStreamSink/config/validate"),
        Some(json!({"name": "v", "tasks.max": "zero"})),
    );
    assert_eq!(code, 200);
    assert!(v["error_count"].as_u64().unwrap() >= 2, "{v}");
    let tasks_max = v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["definition"]["name"] == "tasks.max")
        .expect("tasks.max described");
    assert_eq!(tasks_max["value"]["value"], "zero");
    assert!(!tasks_max["value"]["errors"].as_array().unwrap().is_empty());
    assert_error(
        call(
            "PUT",
            &format!("{u}/connector-plugins/FileStreamSink/config/validate"),
            Some(json!({"connector.class": "FileStreamSource"})),
        ),
        400,
        "does not match",
    );

    // Create: 201 with Location; the same name again is 409; invalid configs are 400.
    let resp = client()
        .post(format!("{u}/connectors"))
        .json(&json!({"name": "src", "config": source_config(&ws, &input)}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(resp.headers()["location"], "/connectors/src");
    let info: Value = resp.json().unwrap();
    assert_eq!(info["name"], "src");
    assert_eq!(info["type"], "source");
    assert_eq!(info["config"]["name"], "src");
    assert_error(
        call(
            "POST",
            &format!("{u}/connectors"),
            Some(json!({"name": "src", "config": source_config(&ws, &input)})),
        ),
        409,
        "src",
    );
    assert_error(
        call(
            "POST",
            &format!("{u}/connectors"),
            Some(json!({"name": "bad", "config": {"connector.class": "FileStreamSource"}})),
        ),
        400,
        "topic",
    );
    assert_error(
        call(
            "POST",
            &format!("{u}/connectors"),
            Some(
                json!({"name": "bad", "config": {"connector.class": "NoSuchConnector", "topic": "t"}}),
            ),
        ),
        400,
        "NoSuchConnector",
    );
    assert_error(
        raw("POST", &format!("{u}/connectors"), b"{\"name\": ".to_vec()),
        400,
        "Malformed JSON",
    );
    assert_error(
        raw("PUT", &format!("{u}/connectors/x/config"), b"[1,2".to_vec()),
        400,
        "Malformed JSON",
    );
    let mut big = b"{\"k\":\"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
    big.extend(b"\"}");
    assert_error(
        raw("PUT", &format!("{u}/connectors/x/config"), big),
        413,
        "",
    );

    // PUT config creates (201) and updates (200); a sink joins the source.
    let sink = json!({"connector.class": "FileStreamSink", "file": out.display().to_string(), "topics": "rest-topic"});
    let (code, body) = call(
        "PUT",
        &format!("{u}/connectors/sink/config"),
        Some(sink.clone()),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["type"], "sink");
    let (code, body) = call(
        "PUT",
        &format!("{u}/connectors/sink/config"),
        Some(sink.clone()),
    );
    assert_eq!(code, 200, "{body}");
    assert_error(
        call(
            "PUT",
            &format!("{u}/connectors/sink/config"),
            Some(json!({"name": "other", "connector.class": "FileStreamSink", "topics": "t"})),
        ),
        400,
        "doesn't match",
    );
    assert!(wait_until(LIMIT, || std::fs::read_to_string(&out)
        .unwrap_or_default()
        == "one\ntwo\nthree\n"));

    // Lists, expansions, info, config, status, tasks.
    assert_eq!(
        call("GET", &format!("{u}/connectors"), None).1,
        json!(["sink", "src"])
    );
    let (_, expanded) = call(
        "GET",
        &format!("{u}/connectors?expand=status&expand=info"),
        None,
    );
    assert_eq!(expanded["src"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(expanded["sink"]["info"]["type"], "sink");
    let (_, only_status) = call("GET", &format!("{u}/connectors?expand=status"), None);
    assert!(only_status["src"].get("info").is_none());
    let (code, body) = call("GET", &format!("{u}/connectors/src"), None);
    assert_eq!(code, 200);
    assert_eq!(body["tasks"], json!([{"connector": "src", "task": 0}]));
    let (_, config) = call("GET", &format!("{u}/connectors/src/config"), None);
    assert_eq!(config["topic"], "rest-topic");
    let status = wait_state(&u, "src", "RUNNING", Some("RUNNING"));
    assert_eq!(status["type"], "source");
    assert!(
        status["connector"]["worker_id"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        !status["connector"]["worker_id"]
            .as_str()
            .unwrap()
            .ends_with(":0")
    );
    let (_, tasks) = call("GET", &format!("{u}/connectors/src/tasks"), None);
    assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
    assert!(tasks[0]["config"].is_object());
    let (code, task) = call("GET", &format!("{u}/connectors/src/tasks/0/status"), None);
    assert_eq!(code, 200);
    assert_eq!(task["id"], 0);
    assert_eq!(task["state"], "RUNNING");
    assert_error(
        call("GET", &format!("{u}/connectors/src/tasks/9/status"), None),
        404,
        "src-9",
    );
    assert_error(
        call("GET", &format!("{u}/connectors/src/tasks/x/status"), None),
        404,
        "",
    );
    assert_error(
        call("GET", &format!("{u}/connectors/nope"), None),
        404,
        "nope",
    );
    assert_error(
        call("GET", &format!("{u}/connectors/nope/status"), None),
        404,
        "nope",
    );

    // PATCH merges.
    let (code, body) = call(
        "PATCH",
        &format!("{u}/connectors/sink/config"),
        Some(json!({"errors.log.enable": "true"})),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["config"]["errors.log.enable"], "true");
    assert_eq!(body["config"]["topics"], "rest-topic");

    // Restarts: 204 for the instance alone, 202 with a status when tasks are included.
    assert_eq!(
        call("POST", &format!("{u}/connectors/src/restart"), None).0,
        204
    );
    let (code, body) = call(
        "POST",
        &format!("{u}/connectors/src/restart?includeTasks=true"),
        None,
    );
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["name"], "src");
    let (code, _) = call(
        "POST",
        &format!("{u}/connectors/src/restart?includeTasks=true&onlyFailed=true"),
        None,
    );
    assert_eq!(code, 202);
    assert_eq!(
        call("POST", &format!("{u}/connectors/src/tasks/0/restart"), None).0,
        204
    );
    assert_error(
        call("POST", &format!("{u}/connectors/src/tasks/5/restart"), None),
        404,
        "",
    );
    assert_error(
        call("POST", &format!("{u}/connectors/nope/restart"), None),
        404,
        "nope",
    );
    wait_state(&u, "src", "RUNNING", Some("RUNNING"));

    // Pause, resume, stop: visible in /status.
    assert_eq!(
        call("PUT", &format!("{u}/connectors/src/pause"), None).0,
        202
    );
    wait_state(&u, "src", "PAUSED", Some("PAUSED"));
    assert_eq!(
        call("PUT", &format!("{u}/connectors/src/resume"), None).0,
        202
    );
    wait_state(&u, "src", "RUNNING", Some("RUNNING"));

    // Offsets: readable in any state, writable only when STOPPED (KIP-875).
    let (code, offsets) = call("GET", &format!("{u}/connectors/src/offsets"), None);
    assert_eq!(code, 200);
    assert!(offsets["offsets"].is_array());
    assert!(wait_until(LIMIT, || {
        call("GET", &format!("{u}/connectors/src/offsets"), None).1["offsets"][0]["offset"]["position"]
            .is_number()
    }));
    let (_, offsets) = call("GET", &format!("{u}/connectors/src/offsets"), None);
    assert_eq!(
        offsets["offsets"][0]["partition"]["filename"],
        input.display().to_string()
    );
    assert_error(
        call("DELETE", &format!("{u}/connectors/src/offsets"), None),
        400,
        "STOPPED",
    );
    assert!(wait_until(LIMIT, || {
        call("GET", &format!("{u}/connectors/sink/offsets"), None).1["offsets"][0]["offset"]["kafka_offset"]
            .is_number()
    }));
    let (_, sink_offsets) = call("GET", &format!("{u}/connectors/sink/offsets"), None);
    assert_eq!(
        sink_offsets["offsets"][0]["partition"]["kafka_topic"],
        "rest-topic"
    );
    assert!(sink_offsets["offsets"][0]["offset"]["kafka_offset"].is_number());
    // Resetting a stopped sink's offsets deletes the group's committed offsets (KIP-875):
    // none are listed, and the sink starts over from the log start when resumed.
    let lines_before = common::line_count(&out);
    assert_eq!(
        call("PUT", &format!("{u}/connectors/sink/stop"), None).0,
        204
    );
    wait_state(&u, "sink", "STOPPED", None);
    let (code, body) = call("DELETE", &format!("{u}/connectors/sink/offsets"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        call("GET", &format!("{u}/connectors/sink/offsets"), None).1,
        json!({"offsets": []})
    );
    assert_eq!(
        call("PUT", &format!("{u}/connectors/sink/resume"), None).0,
        202
    );
    assert!(
        wait_until(LIMIT, || common::line_count(&out) >= 2 * lines_before),
        "the reset sink did not deliver again from the start"
    );
    assert!(wait_until(LIMIT, || {
        call("GET", &format!("{u}/connectors/sink/offsets"), None).1["offsets"][0]["offset"]["kafka_offset"]
            .is_number()
    }));

    assert_eq!(
        call("PUT", &format!("{u}/connectors/src/stop"), None).0,
        204
    );
    let stopped = wait_state(&u, "src", "STOPPED", None);
    assert_eq!(stopped["tasks"], json!([]));
    let (code, body) = call(
        "PATCH",
        &format!("{u}/connectors/src/offsets"),
        Some(
            json!({"offsets": [{"partition": {"filename": input.display().to_string()}, "offset": {"position": 4}}]}),
        ),
    );
    assert_eq!(code, 200, "{body}");
    assert!(body["message"].as_str().unwrap().contains("altered"));
    let (_, offsets) = call("GET", &format!("{u}/connectors/src/offsets"), None);
    assert_eq!(offsets["offsets"][0]["offset"]["position"], 4);
    assert_error(
        call(
            "PATCH",
            &format!("{u}/connectors/src/offsets"),
            Some(json!({"offsets": [{"partition": 3}]})),
        ),
        400,
        "",
    );
    let (code, body) = call("DELETE", &format!("{u}/connectors/src/offsets"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        call("GET", &format!("{u}/connectors/src/offsets"), None).1["offsets"],
        json!([])
    );
    assert_error(
        call("POST", &format!("{u}/connectors/src/restart"), None),
        409,
        "stopped",
    );
    assert_eq!(
        call("PUT", &format!("{u}/connectors/src/resume"), None).0,
        202
    );
    wait_state(&u, "src", "RUNNING", Some("RUNNING"));

    // Active topics (KIP-558): what each connector used; a reset forgets them.
    let (code, topics) = call("GET", &format!("{u}/connectors/src/topics"), None);
    assert_eq!(code, 200);
    assert_eq!(topics, json!({"src": {"topics": ["rest-topic"]}}));
    assert_eq!(
        call("GET", &format!("{u}/connectors/sink/topics"), None).1,
        json!({"sink": {"topics": ["rest-topic"]}})
    );
    assert_eq!(
        call("PUT", &format!("{u}/connectors/sink/topics/reset"), None).0,
        202
    );
    assert_eq!(
        call("GET", &format!("{u}/connectors/sink/topics"), None).1,
        json!({"sink": {"topics": []}})
    );
    assert_error(
        call("GET", &format!("{u}/connectors/nope/topics"), None),
        404,
        "nope",
    );

    // Loggers.
    let (code, loggers) = call("GET", &format!("{u}/admin/loggers"), None);
    assert_eq!(code, 200);
    assert_eq!(loggers["root"]["level"], "INFO");
    let (code, changed) = call(
        "PUT",
        &format!("{u}/admin/loggers/ferry_runtime::worker"),
        Some(json!({"level": "DEBUG"})),
    );
    assert_eq!(code, 200);
    assert_eq!(changed, json!(["ferry_runtime::worker"]));
    assert_eq!(
        call(
            "GET",
            &format!("{u}/admin/loggers/ferry_runtime::worker"),
            None
        )
        .1["level"],
        "DEBUG"
    );
    let (code, _) = call(
        "PUT",
        &format!("{u}/admin/loggers/ferry_runtime::rest?scope=cluster"),
        Some(json!({"level": "WARN"})),
    );
    assert_eq!(code, 204);
    assert_error(
        call(
            "PUT",
            &format!("{u}/admin/loggers/x?scope=galaxy"),
            Some(json!({"level": "WARN"})),
        ),
        400,
        "galaxy",
    );
    assert_error(
        call("GET", &format!("{u}/admin/loggers/nope"), None),
        404,
        "nope",
    );
    assert_error(
        call(
            "PUT",
            &format!("{u}/admin/loggers/root"),
            Some(json!({"level": "LOUD"})),
        ),
        400,
        "LOUD",
    );

    // Unknown routes and methods.
    assert_error(call("GET", &format!("{u}/no/such/route"), None), 404, "");
    assert_error(
        call("DELETE", &format!("{u}/connector-plugins"), None),
        405,
        "",
    );
    assert_error(
        call("POST", &format!("{u}/connectors/src/pause"), None),
        405,
        "",
    );

    // Delete.
    assert_eq!(call("DELETE", &format!("{u}/connectors/src"), None).0, 204);
    assert_error(
        call("DELETE", &format!("{u}/connectors/src"), None),
        404,
        "src",
    );
    assert_error(
        call("GET", &format!("{u}/connectors/src"), None),
        404,
        "src",
    );
    assert_eq!(
        call("GET", &format!("{u}/connectors"), None).1,
        json!(["sink"])
    );
    w.stop();
}

#[test]
fn connectors_created_over_rest_survive_a_restart_with_their_state() {
    let ws = Workspace::new();
    let input = ws.write("in.txt", "a\n");
    let w = Worker::start(&ws, "first");
    let (code, body) = call(
        "POST",
        &format!("{}/connectors", w.url),
        Some(json!({"name": "kept", "config": source_config(&ws, &input)})),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = call(
        "POST",
        &format!("{}/connectors", w.url),
        Some(
            json!({"name": "paused", "config": source_config(&ws, &input), "initial_state": "PAUSED"}),
        ),
    );
    assert_eq!(code, 201, "{body}");
    let (code, body) = call(
        "POST",
        &format!("{}/connectors", w.url),
        Some(
            json!({"name": "stopped", "config": source_config(&ws, &input), "initial_state": "STOPPED"}),
        ),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["tasks"], json!([]), "{body}");
    wait_state(&w.url, "paused", "PAUSED", Some("PAUSED"));
    wait_state(&w.url, "stopped", "STOPPED", None);
    wait_state(&w.url, "kept", "RUNNING", Some("RUNNING"));
    // Created in their initial state (KIP-980): never running in between.
    let log = ws.log("first");
    assert!(!log.contains("task=paused-0 state=Running"), "{log}");
    assert!(!log.contains("task=stopped-0"), "{log}");
    let (code, _) = call("PUT", &format!("{}/connectors/kept/stop", w.url), None);
    assert_eq!(code, 204);
    w.stop();

    let w = Worker::start(&ws, "second");
    assert_eq!(
        call("GET", &format!("{}/connectors", w.url), None).1,
        json!(["kept", "paused", "stopped"])
    );
    wait_state(&w.url, "kept", "STOPPED", None);
    wait_state(&w.url, "stopped", "STOPPED", None);
    // Active topics are kept in the status topic: still known after the restart, before
    // the stopped connector ran again.
    assert_eq!(
        call("GET", &format!("{}/connectors/kept/topics", w.url), None).1,
        json!({"kept": {"topics": ["rest-topic"]}})
    );
    wait_state(&w.url, "paused", "PAUSED", None);
    let (_, config) = call("GET", &format!("{}/connectors/kept/config", w.url), None);
    assert_eq!(config["file"], input.display().to_string());
    assert_eq!(
        call("PUT", &format!("{}/connectors/kept/resume", w.url), None).0,
        202
    );
    wait_state(&w.url, "kept", "RUNNING", Some("RUNNING"));
    w.stop();
}

#[test]
fn bad_requests_never_wedge_the_worker() {
    let ws = Workspace::new();
    let w = Worker::start(&ws, "worker");
    let u = &w.url;
    for (method, path, body) in [
        ("POST", "/connectors", &b"null"[..]),
        ("POST", "/connectors", b"{\"name\":\"\",\"config\":{}}"),
        (
            "POST",
            "/connectors",
            b"{\"name\":\"a\\u0007b\",\"config\":{}}",
        ),
        (
            "POST",
            "/connectors",
            b"{\"name\":\"n\",\"config\":{\"x\":{\"y\":1}}}",
        ),
        ("PUT", "/connectors/%FF%FE/config", b"{}"),
        ("PATCH", "/connectors/none/offsets", b"{\"offsets\":[]}"),
        ("PUT", "/admin/loggers/x", b"{}"),
        ("PUT", "/connector-plugins/Nope/config/validate", b"{}"),
        (
            "GET",
            "/connectors/x/tasks/99999999999999999999999/status",
            b"",
        ),
    ] {
        let (code, body) = raw(method, &format!("{u}{path}"), body.to_vec());
        assert!((400..500).contains(&code), "{method} {path}: {code} {body}");
        assert_eq!(body["error_code"], code);
    }
    assert_eq!(
        call("GET", &format!("{u}/connectors"), None),
        (200, json!([]))
    );
    w.stop();
}

/// Runs `ferry connectors --url URL ARGS...`; returns exit code, stdout, stderr.
fn cli(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = run_to_end(
        ferry().arg("connectors").arg("--url").arg(url).args(args),
        Duration::from_secs(60),
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_connectors_cli_drives_the_api_with_tables_json_and_exit_codes() {
    let ws = Workspace::new();
    let input = ws.write("in.txt", "x\ny\n");
    let w = Worker::start(&ws, "worker");
    let u = w.url.as_str();
    let conn = ws.write(
        "conn.yaml",
        &format!(
            "name: cli-src\nconnector:\n  class: FileStreamSource\nfile: {}\ntopic: cli-topic\n",
            input.display()
        ),
    );

    let (code, out, err) = cli(u, &["plugins"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("CLASS"), "{out}");
    assert!(out.contains("FileStreamSourceConnector"), "{out}");
    let (code, out, _) = cli(u, &["plugins", "--all", "-o", "json"]);
    assert_eq!(code, 0);
    let plugins: Value = serde_json::from_str(&out).unwrap();
    assert!(
        plugins
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["type"] == "converter")
    );

    let (code, out, err) = cli(u, &["validate", "-f", conn.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("valid"), "{out}");
    let bad = ws.write(
        "bad.yaml",
        "name: b\nconnector.class: FileStreamSink\ntasks.max: zero\n",
    );
    let (code, out, err) = cli(u, &["validate", "-f", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("tasks.max"), "{out}");
    assert!(err.contains("error"), "{err}");

    let (code, out, err) = cli(u, &["create", "-f", conn.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cli-src"), "{out}");
    let (code, _, err) = cli(u, &["create", "-f", conn.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("already exists") && err.contains("409"),
        "{err}"
    );

    wait_state(u, "cli-src", "RUNNING", Some("RUNNING"));
    let (code, out, _) = cli(u, &["list"]);
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().starts_with("NAME"), "{out}");
    assert!(
        out.contains("cli-src") && out.contains("RUNNING") && out.contains("1/1"),
        "{out}"
    );
    let (code, out, _) = cli(u, &["status", "cli-src", "-o", "json"]);
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["connector"]["state"], "RUNNING");
    let (code, out, _) = cli(u, &["get", "cli-src"]);
    assert_eq!(code, 0);
    assert!(out.contains("cli-topic"), "{out}");

    let updated = ws.write(
        "conn2.json",
        &format!(
            "{{\"name\":\"cli-src\",\"config\":{{\"connector.class\":\"FileStreamSource\",\"file\":\"{}\",\"topic\":\"cli-topic-2\"}}}}",
            input.display()
        ),
    );
    let (code, out, err) = cli(u, &["update", "-f", updated.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = cli(u, &["get", "cli-src", "-o", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["config"]["topic"],
        "cli-topic-2"
    );

    assert_eq!(cli(u, &["pause", "cli-src"]).0, 0);
    wait_state(u, "cli-src", "PAUSED", Some("PAUSED"));
    assert_eq!(cli(u, &["resume", "cli-src"]).0, 0);
    wait_state(u, "cli-src", "RUNNING", Some("RUNNING"));
    let (code, out, _) = cli(u, &["restart", "cli-src", "--include-tasks"]);
    assert_eq!(code, 0);
    assert!(out.contains("connector"), "{out}");
    assert_eq!(cli(u, &["restart", "cli-src", "--task", "0"]).0, 0);
    assert!(wait_until(LIMIT, || cli(u, &["offsets", "get", "cli-src"])
        .1
        .contains("position")));
    let (code, _, err) = cli(u, &["offsets", "reset", "cli-src"]);
    assert_eq!(code, 1);
    assert!(err.contains("STOPPED"), "{err}");
    assert_eq!(cli(u, &["stop", "cli-src"]).0, 0);
    wait_state(u, "cli-src", "STOPPED", None);
    let (code, out, err) = cli(u, &["offsets", "reset", "cli-src"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reset"), "{out}");
    let (_, out, _) = cli(u, &["offsets", "get", "cli-src", "-o", "json"]);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["offsets"],
        json!([])
    );
    assert_eq!(cli(u, &["delete", "cli-src"]).0, 0);

    let (code, _, err) = cli(u, &["get", "cli-src"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found") && err.contains("404"), "{err}");
    assert_eq!(cli(u, &["no-such-command"]).0, 2);
    assert_eq!(cli(u, &["create"]).0, 2);
    let (code, _, err) = cli("http://127.0.0.1:1", &["list"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot reach"), "{err}");
    w.stop();
}

/// Runs a Python script of tests/rest_clients/ with a time limit; the packages it needs
/// come from tests/setup.sh.
fn python(script: &str, args: &[&str], module: &str, limit: Duration) {
    let probe = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "python3 cannot import {module}: run tests/setup.sh first"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/rest_clients")
        .join(script);
    let out = run_to_end(
        std::process::Command::new("python3").arg(path).args(args),
        limit,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
}

#[test]
fn a_kafka_connect_client_from_pypi_drives_the_api() {
    let ws = Workspace::new();
    let input = ws.write("in.txt", "p\nq\n");
    let w = Worker::start(&ws, "worker");
    python(
        "kafka_connect_py.py",
        &[&w.url, input.to_str().unwrap()],
        "kafka_connect",
        Duration::from_secs(120),
    );
    w.stop();
}

#[test]
fn schemathesis_finds_no_server_errors_in_the_openapi_document() {
    let ws = Workspace::new();
    let w = Worker::start(&ws, "worker");
    python(
        "schemathesis_fuzz.py",
        &[&w.url, "25"],
        "schemathesis",
        Duration::from_secs(300),
    );
    w.stop();
}
