//! Shared helpers of the end-to-end tests: temporary workspaces, the `ferry` binary run as a
//! real process, and bounded waits.
#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `ferry` binary built for these tests.
pub fn ferry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.env("FERRY_LOG", "info");
    cmd
}

/// A temporary directory holding configs, data and the logs of the processes started.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::Builder::new()
                .prefix("ferry-e2e-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file in the workspace and returns its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, content).expect("write file");
        p
    }

    /// A standalone worker config with a short flush interval.
    pub fn worker_config(&self, extra: &str) -> PathBuf {
        let data = self.path("data");
        self.write(
            "worker.yaml",
            &format!(
                "data.dir: {}\nkey.converter: org.apache.kafka.connect.storage.StringConverter\nvalue.converter: org.apache.kafka.connect.storage.StringConverter\noffset.flush.interval.ms: 200\nlisteners: http://127.0.0.1:0\n{extra}",
                data.display()
            ),
        )
    }

    /// A file source and a file sink joined by `topic`.
    pub fn file_pipeline(&self, input: &Path, output: &Path, topic: &str) -> (PathBuf, PathBuf) {
        let source = self.write(
            "source.yaml",
            &format!(
                "name: src\nconnector.class: FileStreamSource\nfile: {}\ntopic: {topic}\nbatch.size: 5000\n",
                input.display()
            ),
        );
        let sink = self.write(
            "sink.yaml",
            &format!(
                "name: sink\nconnector.class: FileStreamSink\nfile: {}\ntopics: {topic}\n",
                output.display()
            ),
        );
        (source, sink)
    }

    /// Starts `ferry standalone` with these files; stderr goes to `<log>.log`.
    pub fn standalone(&self, files: &[&Path], log: &str) -> Process {
        let err = fs::File::create(self.path(&format!("{log}.log"))).expect("log file");
        Process(
            ferry()
                .arg("standalone")
                .args(files)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .expect("start ferry"),
        )
    }

    pub fn log(&self, log: &str) -> String {
        fs::read_to_string(self.path(&format!("{log}.log"))).unwrap_or_default()
    }
}

/// A child process that is killed when dropped, so a failing test leaves nothing running.
pub struct Process(pub Child);

impl std::ops::Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `ferry` to completion with a time limit.
pub fn run_to_end(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferry");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for ferry"),
        Err(_) => {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
            panic!("ferry did not exit within {limit:?}");
        }
    }
}

/// Sends SIGTERM and waits (bounded) for a clean exit.
pub fn terminate(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ferry did not stop within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `cond` until it holds or `limit` passes; returns whether it held.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    cond()
}

/// Number of complete lines in a file (0 if missing).
pub fn line_count(path: &Path) -> usize {
    fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// Appends text to a file.
pub fn append(path: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    f.write_all(text.as_bytes()).expect("append");
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `ferry broker` process on a free loopback port, its data in the workspace; stopped with
/// SIGTERM when dropped.
pub struct FerryBroker {
    pub child: Child,
    pub addr: String,
}

impl FerryBroker {
    pub fn start(ws: &Workspace) -> FerryBroker {
        let addr = format!("127.0.0.1:{}", free_port());
        let log_file = fs::File::create(ws.path("broker.log")).expect("log file");
        let child = ferry()
            .args(["broker", "--listen", &addr, "--data-dir"])
            .arg(ws.path("broker-data"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start ferry broker");
        assert!(
            wait_until(Duration::from_secs(20), || {
                std::net::TcpStream::connect(&addr).is_ok()
            }),
            "broker did not listen; log:\n{}",
            ws.log("broker")
        );
        FerryBroker { child, addr }
    }
}

impl Drop for FerryBroker {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(20));
    }
}
