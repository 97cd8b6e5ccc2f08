//! The file source: emits each line of a file (or of standard input) as a record.
//!
//! # Offsets
//! Source partition `{"filename": <file>}`, source offset `{"position": <byte offset just
//! past the line and its terminator>}`, as Kafka's `FileStreamSourceTask` writes them. Kafka
//! counts Java chars but skips bytes on restart; Ferry counts bytes, which agrees with
//! Kafka's offsets for ASCII files. With no `file`, standard input is read and offsets are
//! not tracked (`{"filename": null}` / `{"position": null}`), as in Kafka.
//!
//! # Tailing, truncation and rotation
//! At the end of the file the task waits for more: a file-system notification (`notify`)
//! wakes it at once, and it re-checks the file every second in any case (the polling
//! fallback, also used where notifications are unavailable). A last line without its
//! terminator is held back until the terminator arrives.
//!
//! Like `tail -F`, and unlike Kafka's `FileStreamSource` (which stops seeing anything):
//! - **rotation** (the path now names another file, e.g. after `mv in.log in.log.1` and a
//!   new `in.log`): what remains of the old file is read to its end (an unterminated last
//!   line is emitted as it is), then the new file is read from its start;
//! - **truncation** (the file is shorter than the position read so far, e.g. after
//!   `truncate -s 0` or `> in.log`): reading restarts at the start of the file;
//! - a file that does not exist (yet) is waited for;
//! - on restart, a committed position beyond the end of the file means the file was
//!   truncated or replaced while the worker was down: reading starts at 0, with a warning.
//!
//! Lines are split at `\n`; a `\r` before it is dropped too. A line that is valid UTF-8 is a
//! `STRING` value; any other line is passed on as `BYTES`, never dropped.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use ferry_api::config::{ConfigIssue, Int, Key, List, Opt, Str, Validator};
use ferry_api::{
    ByteStr, ConfigDef, ConfigMap, ConfigValue, ConnectError, Connector, ConnectorContext,
    Importance, Result, Schema, SourceMap, SourceRecord, SourceTask, SourceTaskContext, Value,
};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// Config key: the file to read; standard input when absent.
pub const FILE_CONFIG: Key<Opt<Str>> = Key::optional(
    "file",
    Importance::High,
    "Source filename. If not specified, the standard input will be used",
);
/// Config key: the topic to write to.
pub const TOPIC_CONFIG: Key<List> =
    Key::required("topic", Importance::High, "The topic to publish data to").with_validator(
        Validator::custom("exactly one topic name", |v| match v {
            ConfigValue::List(topics) if topics.len() == 1 && !topics[0].is_empty() => Ok(()),
            _ => Err("exactly one topic name".into()),
        }),
    );
/// Config key: the most lines one poll returns.
pub const BATCH_SIZE_CONFIG: Key<Int> = Key::new(
    "batch.size",
    DEFAULT_BATCH_SIZE,
    Importance::Low,
    "The maximum number of records the source task can read from the file each time it is polled",
)
.with_validator(Validator::at_least(1.0));
/// Default of [`BATCH_SIZE_CONFIG`], as Kafka's.
pub const DEFAULT_BATCH_SIZE: i32 = 2000;

/// Read sizes grow from the first to the largest while reads keep filling the buffer, so an
/// idle tail costs little memory and a large file is read in big gulps.
const FIRST_READ: usize = 64 << 10;
const LARGEST_READ: usize = 1 << 20;
/// How long one poll waits for new data before returning empty-handed.
const IDLE_WAIT: Duration = Duration::from_millis(1000);
/// Without notifications, how often the file is re-checked.
const POLL_FALLBACK: Duration = Duration::from_millis(200);

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .declare(&FILE_CONFIG)
        .declare(&TOPIC_CONFIG)
        .declare(&BATCH_SIZE_CONFIG)
}

/// Kafka's `FileStreamSourceConnector`: one task, whatever `tasks.max` says.
#[derive(Debug, Default)]
pub struct FileSourceConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for FileSourceConnector {
    fn version(&self) -> &'static str {
        crate::VERSION
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, config: &ConfigMap) -> Vec<ConfigIssue> {
        config_def().validate(config)
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, config: &ConfigMap) -> Result<()> {
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone()])
    }
}

/// The open file being read.
#[derive(Debug)]
struct OpenFile {
    file: File,
    inode: u64,
    device: u64,
}

/// What [`FileSourceTask::fill`] found.
enum Fill {
    /// Bytes were read.
    Read,
    /// Nothing new.
    Nothing,
    /// The input ended for good (standard input closed), or the file was replaced: what is
    /// buffered, an unterminated last line included, is all there is of it.
    End,
}

enum Input {
    File {
        path: PathBuf,
        open: Option<OpenFile>,
        /// Notifications for the file's directory; `None` when unavailable.
        events: Option<mpsc::Receiver<()>>,
        _watcher: Option<notify::RecommendedWatcher>,
    },
    Stdin(tokio::io::Stdin),
}

/// Kafka's `FileStreamSourceTask`, tailing.
#[derive(Default)]
pub struct FileSourceTask {
    input: Option<Input>,
    topic: Option<Arc<str>>,
    batch_size: usize,
    partition: SourceMap,
    track_offsets: bool,
    string_schema: Option<Schema>,
    bytes_schema: Option<Schema>,
    /// Bytes read but not yet emitted; starts at a line start.
    buf: BytesMut,
    /// File position of `buf[0]`.
    position: u64,
    /// Standard input is closed.
    eof: bool,
    /// The file was replaced; `buf` holds the rest of the old one.
    rotated: bool,
    /// Size of the next buffer reservation.
    chunk: usize,
}

impl std::fmt::Debug for FileSourceTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSourceTask")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SourceTask for FileSourceTask {
    async fn start(&mut self, context: SourceTaskContext, config: &ConfigMap) -> Result<()> {
        let parsed = config_def().parse_for_use(config)?;
        let topic = parsed
            .value(&TOPIC_CONFIG)?
            .first()
            .cloned()
            .ok_or_else(|| ConnectError::Config("key \"topic\": missing".into()))?;
        self.topic = Some(Arc::from(topic));
        self.batch_size = parsed.value(&BATCH_SIZE_CONFIG)?.max(1) as usize;
        self.string_schema = Some(Schema::string());
        self.bytes_schema = Some(Schema::bytes());
        match parsed.value(&FILE_CONFIG)?.filter(|f| !f.is_empty()) {
            None => {
                self.partition = SourceMap::single("filename", Value::Null);
                self.track_offsets = false;
                self.input = Some(Input::Stdin(tokio::io::stdin()));
            }
            Some(file) => {
                let path = PathBuf::from(file);
                self.partition = SourceMap::single("filename", Value::from(file));
                self.track_offsets = true;
                let committed = match context.offset_reader().offset(&self.partition).await? {
                    None => 0,
                    Some(offset) => match offset.get("position") {
                        Some(Value::Int64(p)) if *p >= 0 => *p as u64,
                        Some(Value::Null) | None => 0,
                        Some(other) => {
                            return Err(ConnectError::Data(format!(
                                "committed offset of file {file} has a position of type {}, expected INT64",
                                other.kind()
                            )));
                        }
                    },
                };
                let (open, position) = open_at(&path, committed)?;
                if open.is_none() {
                    tracing::info!(file = %path.display(), "file does not exist yet: waiting for it");
                }
                self.position = position;
                let (events, watcher) = watch(&path);
                tracing::info!(file = %path.display(), position, "file source started");
                self.input = Some(Input::File {
                    path,
                    open,
                    events,
                    _watcher: watcher,
                });
            }
        }
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<SourceRecord>> {
        let deadline = tokio::time::Instant::now() + IDLE_WAIT;
        loop {
            let records = self.take_lines(self.rotated || self.eof);
            if !records.is_empty() {
                return Ok(records);
            }
            if self.eof {
                tokio::time::sleep(IDLE_WAIT).await;
                return Ok(Vec::new());
            }
            match self.fill().await? {
                Fill::Read | Fill::End => continue,
                Fill::Nothing => {}
            }
            // Nothing new: wait for a notification or the fallback tick, within the deadline.
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let remaining = deadline - now;
            match &mut self.input {
                Some(Input::File {
                    events: Some(rx), ..
                }) => {
                    let _ = tokio::time::timeout(remaining.min(IDLE_WAIT), rx.recv()).await;
                }
                _ => tokio::time::sleep(remaining.min(POLL_FALLBACK)).await,
            }
        }
    }
}

impl FileSourceTask {
    /// Reads more input into `buf`, and notices truncation and rotation.
    async fn fill(&mut self) -> Result<Fill> {
        self.chunk = self.chunk.clamp(FIRST_READ, LARGEST_READ);
        if self.buf.capacity() - self.buf.len() < self.chunk / 4 {
            self.buf.reserve(self.chunk);
        }
        let spare = self.buf.capacity() - self.buf.len();
        match &mut self.input {
            None => Err(ConnectError::Other(
                "file source polled before start".into(),
            )),
            Some(Input::Stdin(stdin)) => {
                let n = stdin
                    .read_buf(&mut self.buf)
                    .await
                    .map_err(|e| ConnectError::io("reading standard input", e))?;
                if n == 0 {
                    self.eof = true;
                    return Ok(Fill::End);
                }
                Ok(Fill::Read)
            }
            Some(Input::File { path, open, .. }) => {
                let Some(of) = open else {
                    let (file, position) = open_at(path, 0)?;
                    *open = file;
                    self.position = position;
                    return Ok(if open.is_some() {
                        Fill::Read
                    } else {
                        Fill::Nothing
                    });
                };
                let n = read_into(&mut of.file, &mut self.buf)
                    .map_err(|e| ConnectError::io(format!("reading {}", path.display()), e))?;
                if n == spare {
                    self.chunk *= 2;
                }
                if n > 0 {
                    return Ok(Fill::Read);
                }
                // At the end of the open file: was it truncated, or replaced?
                let position = self.position + self.buf.len() as u64;
                match std::fs::metadata(&*path) {
                    Ok(meta) if meta.ino() != of.inode || meta.dev() != of.device => {
                        tracing::info!(file = %path.display(), position, "file was replaced (rotated): reading the new file from its start");
                        let (file, _) = open_at(path, 0)?;
                        *open = file;
                        // What is buffered is the rest of the old file; positions restart at
                        // 0 once it is emitted.
                        self.rotated = true;
                        Ok(Fill::End)
                    }
                    Ok(meta) if meta.len() < position => {
                        tracing::warn!(file = %path.display(), position, length = meta.len(), "file was truncated: reading it again from its start");
                        self.buf.clear();
                        let (file, _) = open_at(path, 0)?;
                        *open = file;
                        self.position = 0;
                        Ok(Fill::Read)
                    }
                    Ok(_) => Ok(Fill::Nothing),
                    // The file was moved away and not (yet) replaced: wait for a new one.
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(Fill::Nothing),
                    Err(e) => Err(ConnectError::io(format!("checking {}", path.display()), e)),
                }
            }
        }
    }

    /// Emits up to `batch.size` complete lines from `buf`; with `to_end`, an unterminated
    /// last line too.
    fn take_lines(&mut self, to_end: bool) -> Vec<SourceRecord> {
        let mut count = 0;
        let mut end = 0;
        for nl in memchr::memchr_iter(b'\n', &self.buf) {
            count += 1;
            end = nl + 1;
            if count == self.batch_size {
                break;
            }
        }
        let tail = to_end && count < self.batch_size && end < self.buf.len();
        if tail {
            end = self.buf.len();
        }
        let drained = end == self.buf.len();
        let mut records = Vec::with_capacity(count + usize::from(tail));
        if end > 0 {
            let chunk: Bytes = self.buf.split_to(end).freeze();
            let mut start = 0;
            while start < chunk.len() {
                let nl = memchr::memchr(b'\n', &chunk[start..]).map(|i| start + i);
                let next = nl.map_or(chunk.len(), |i| i + 1);
                let mut line_end = nl.unwrap_or(chunk.len());
                if line_end > start && chunk[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                let line = chunk.slice(start..line_end);
                records.push(self.record(line, self.position + next as u64));
                start = next;
            }
            self.position += end as u64;
        }
        if self.rotated && to_end && drained {
            // The old file is fully emitted; positions now count in the new file.
            self.rotated = false;
            self.position = 0;
        }
        records
    }

    fn record(&self, line: Bytes, position: u64) -> SourceRecord {
        let (schema, value) = match ByteStr::from_utf8(line) {
            Ok(text) => (self.string_schema.clone(), Value::String(text)),
            Err(bytes) => (self.bytes_schema.clone(), Value::Bytes(bytes)),
        };
        let offset = if self.track_offsets {
            SourceMap::single("position", Value::Int64(position as i64))
        } else {
            SourceMap::single("position", Value::Null)
        };
        SourceRecord::new(
            self.partition.clone(),
            offset,
            self.topic.clone().unwrap_or_else(|| Arc::from("")),
            schema,
            value,
        )
    }
}

/// Opens `path` and seeks to `position`; `None` when the file does not exist yet. A
/// position beyond the end means the file was truncated or replaced: start at 0.
fn open_at(path: &Path, position: u64) -> Result<(Option<OpenFile>, u64)> {
    use std::io::{Seek, SeekFrom};
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((None, 0)),
        Err(e) => return Err(ConnectError::io(format!("opening {}", path.display()), e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| ConnectError::io(format!("reading metadata of {}", path.display()), e))?;
    let mut position = position;
    if position > meta.len() {
        tracing::warn!(file = %path.display(), committed = position, length = meta.len(),
            "committed position is beyond the end of the file (truncated or replaced): reading from its start");
        position = 0;
    }
    let mut file = file;
    file.seek(SeekFrom::Start(position))
        .map_err(|e| ConnectError::io(format!("seeking in {}", path.display()), e))?;
    Ok((
        Some(OpenFile {
            file,
            inode: meta.ino(),
            device: meta.dev(),
        }),
        position,
    ))
}

/// One `read` into the spare capacity of `buf`. Reads of a regular file come from the page
/// cache and are short, so they run on the async task itself.
fn read_into(file: &mut File, buf: &mut BytesMut) -> std::io::Result<usize> {
    let len = buf.len();
    let spare = buf.capacity() - len;
    buf.resize(len + spare, 0);
    let result = loop {
        match file.read(&mut buf[len..]) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let n = *result.as_ref().unwrap_or(&0);
    buf.truncate(len + n);
    result
}

/// Watches the file's directory (to see the file appended to, created, renamed). Returns no
/// receiver when notifications are unavailable; the task then polls.
fn watch(
    path: &Path,
) -> (
    Option<mpsc::Receiver<()>>,
    Option<notify::RecommendedWatcher>,
) {
    use notify::Watcher;
    let (tx, rx) = mpsc::channel(1);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A full channel already holds a wake-up: coalesce.
            let _ = tx.try_send(());
        }
    });
    match watcher {
        Ok(mut w) => match w.watch(&dir, notify::RecursiveMode::NonRecursive) {
            Ok(()) => (Some(rx), Some(w)),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "file notifications unavailable: polling instead");
                (None, None)
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "file notifications unavailable: polling instead");
            (None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::OffsetReader;

    struct Offsets(Option<SourceMap>);

    #[async_trait]
    impl OffsetReader for Offsets {
        async fn offset(&self, _partition: &SourceMap) -> Result<Option<SourceMap>> {
            Ok(self.0.clone())
        }
    }

    fn config(file: &Path, batch: usize) -> ConfigMap {
        [
            ("file", file.display().to_string()),
            ("topic", "t".to_string()),
            ("batch.size", batch.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    async fn started(file: &Path, batch: usize, committed: Option<i64>) -> FileSourceTask {
        let mut task = FileSourceTask::default();
        let offsets = Offsets(committed.map(|p| SourceMap::single("position", Value::Int64(p))));
        task.start(
            SourceTaskContext::new(Arc::new(offsets)),
            &config(file, batch),
        )
        .await
        .unwrap();
        task
    }

    fn lines(records: &[SourceRecord]) -> Vec<(String, i64)> {
        records
            .iter()
            .map(|r| {
                let text = match &r.value {
                    Value::String(s) => s.to_string(),
                    Value::Bytes(b) => format!("{b:?}"),
                    other => panic!("unexpected {other:?}"),
                };
                let pos = r
                    .source_offset
                    .get("position")
                    .and_then(Value::as_i64)
                    .unwrap();
                (text, pos)
            })
            .collect()
    }

    #[tokio::test]
    async fn emits_lines_with_kafka_offsets_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.txt");
        std::fs::write(&file, "a\r\nbb\nccc\npartial").unwrap();
        let mut task = started(&file, 2, None).await;
        let first = task.poll().await.unwrap();
        assert_eq!(lines(&first), [("a".into(), 3), ("bb".into(), 6)]);
        assert_eq!(
            first[0].source_partition.get("filename"),
            Some(&Value::from(file.to_str().unwrap()))
        );
        assert_eq!(lines(&task.poll().await.unwrap()), [("ccc".into(), 10)]);
        // The unterminated line waits for its terminator.
        assert!(task.poll().await.unwrap().is_empty());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        std::io::Write::write_all(&mut f, b" line\n").unwrap();
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            [("partial line".into(), 23)]
        );
    }

    #[tokio::test]
    async fn resumes_at_the_committed_position_or_restarts_when_shorter() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.txt");
        std::fs::write(&file, "a\nb\nc\n").unwrap();
        let mut task = started(&file, 10, Some(4)).await;
        assert_eq!(lines(&task.poll().await.unwrap()), [("c".into(), 6)]);
        let mut task = started(&file, 10, Some(600)).await;
        assert_eq!(lines(&task.poll().await.unwrap()).len(), 3);
    }

    #[tokio::test]
    async fn invalid_utf8_is_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.bin");
        std::fs::write(&file, b"\xff\xfe\n").unwrap();
        let mut task = started(&file, 10, None).await;
        let records = task.poll().await.unwrap();
        assert_eq!(
            records[0].value,
            Value::Bytes(Bytes::from_static(b"\xff\xfe"))
        );
        assert_eq!(records[0].value_schema, Some(Schema::bytes()));
    }

    #[tokio::test]
    async fn follows_rotation_with_the_old_tail_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.log");
        std::fs::write(&file, "old1\nold-tail").unwrap();
        let mut task = started(&file, 10, None).await;
        assert_eq!(lines(&task.poll().await.unwrap()), [("old1".into(), 5)]);
        std::fs::rename(&file, dir.path().join("in.log.1")).unwrap();
        std::fs::write(&file, "new1\n").unwrap();
        assert_eq!(
            lines(&task.poll().await.unwrap()),
            [("old-tail".into(), 13)]
        );
        assert_eq!(lines(&task.poll().await.unwrap()), [("new1".into(), 5)]);
    }

    #[tokio::test]
    async fn rereads_a_truncated_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.log");
        std::fs::write(&file, "first line\n").unwrap();
        let mut task = started(&file, 10, None).await;
        assert_eq!(task.poll().await.unwrap().len(), 1);
        std::fs::write(&file, "x\n").unwrap();
        assert_eq!(lines(&task.poll().await.unwrap()), [("x".into(), 2)]);
    }

    #[test]
    fn topic_must_be_one_name() {
        let mut c = config(Path::new("/tmp/x"), 1);
        c.insert("topic".into(), "a,b".into());
        let issues = config_def().validate(&c);
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0].to_string().contains("exactly one topic"),
            "{}",
            issues[0]
        );
    }

    /// Kafka's FileStreamSource offsets: `{"filename": <file>}` / `{"position": <long>}`;
    /// reading standard input (no `file`), both are null and nothing is tracked; a
    /// committed position that is not a long is an error, as in Kafka.
    #[tokio::test]
    async fn offsets_without_a_file_are_null_and_a_position_must_be_a_long() {
        let mut stdin = FileSourceTask::default();
        let mut c = config(Path::new("/tmp/x"), 1);
        c.remove("file");
        stdin
            .start(SourceTaskContext::new(Arc::new(Offsets(None))), &c)
            .await
            .unwrap();
        let r = stdin.record(Bytes::from_static(b"line"), 5);
        assert_eq!(
            r.source_partition,
            SourceMap::single("filename", Value::Null)
        );
        assert_eq!(r.source_offset, SourceMap::single("position", Value::Null));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("in.txt");
        std::fs::write(&file, "a\n").unwrap();
        let mut task = FileSourceTask::default();
        let text = SourceMap::single("position", Value::from("4"));
        let err = task
            .start(
                SourceTaskContext::new(Arc::new(Offsets(Some(text)))),
                &config(&file, 1),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("expected INT64"), "{err}");
    }
}
