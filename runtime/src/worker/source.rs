//! Running a source task: `poll()` → converters → record batches per partition → log
//! append → the batch's source offsets become committable → committed to the offset store
//! every `offset.flush.interval.ms` and at shutdown.
//!
//! The poll loop and the appends run on two tokio tasks joined by a bounded channel: while
//! the channel is full (the log is behind), `poll()` is not called (back-pressure). A poll's
//! source offsets travel with the last of its batches, and appends happen in order, so an
//! offset becomes committable only when every record up to it is durable in the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferry_api::{
    ConnectError, ConnectorType, Converter, Header, OffsetReader, SourceMap, SourceRecord,
    SourceTask, SourceTaskContext, TopicPartition, Value,
};
use ferry_record::{RecordBatchBuilder, partition_for_key};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::TaskSetup;
use crate::errors::{ErrorHandler, Failure, Stage};
use crate::lifecycle::TaskState;
use crate::log::{Log, NewTopic, ensure_topic};
use crate::storage::OffsetStore;
use ferry_converters::json::to_schemaless_json;
use ferry_record::now_ms;

/// How many polls' worth of batches may wait for the log before `poll()` pauses (besides
/// those of the append under way, which may hold as many again, merged).
const IN_FLIGHT_POLLS: usize = 8;
/// Queued polls are merged into one append per partition up to this many bytes (half of
/// Kafka's default `max.request.size`).
const MERGED_APPEND_BYTES: usize = 512 * 1024;
/// Pause after a retriable poll error.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);

/// Batches of one poll, in append order; `offsets` become committable after the last one.
struct Produce {
    batches: Vec<(TopicPartition, BytesMut)>,
    offsets: Vec<(SourceMap, SourceMap)>,
}

impl Produce {
    /// Appends `later`'s batches after this one's, partition by partition, so that each
    /// partition's records keep their order; its offsets supersede this one's.
    fn merge(&mut self, later: Produce) {
        for (tp, data) in later.batches {
            match self.batches.iter_mut().find(|(t, _)| *t == tp) {
                Some((_, into)) => into.extend_from_slice(&data),
                None => self.batches.push((tp, data)),
            }
        }
        merge_offsets(&mut self.offsets, later.offsets);
    }
}

/// Offsets whose records are durable, not yet committed.
type Committable = Arc<Mutex<Vec<(SourceMap, SourceMap)>>>;

pub(crate) async fn run(
    setup: TaskSetup,
    mut task: Box<dyn SourceTask>,
    reader: Arc<dyn OffsetReader>,
    offsets: Arc<OffsetStore>,
) {
    let result = execute(&setup, task.as_mut(), reader, &offsets).await;
    if let Err(e) = task.stop().await {
        tracing::warn!(task = %setup.id, error = %e, "source task stop failed");
    }
    setup.set_state(match result {
        Ok(()) => TaskState::Stopped,
        Err(e) => TaskState::Failed(e.to_string()),
    });
}

async fn execute(
    setup: &TaskSetup,
    task: &mut dyn SourceTask,
    reader: Arc<dyn OffsetReader>,
    offsets: &OffsetStore,
) -> Result<(), ConnectError> {
    let mut encoder = Encoder {
        key: setup.converter(true)?,
        value: setup.converter(false)?,
        log: setup.log.clone(),
        partitions: Vec::new(),
        default_partitions: setup.worker.default_partitions(),
        batch_size: setup.worker.batch_size(),
        sticky: 0,
        task: setup.id.to_string(),
        topics: setup.topics.clone(),
        connector: setup.id.connector.clone(),
        errors: setup.error_handler(ConnectorType::Source)?,
        key_class: setup.converter_class(true),
        value_class: setup.converter_class(false),
    };
    task.start(SourceTaskContext::new(reader), &setup.task_config)
        .await?;
    setup.set_state(TaskState::Running);

    let committable: Committable = Arc::default();
    let (tx, rx) = mpsc::channel::<Produce>(IN_FLIGHT_POLLS);
    let mut producer = tokio::spawn(produce(setup.log.clone(), rx, committable.clone()));
    let interval = setup.worker.offset_flush_interval();
    let mut next_commit = Instant::now() + interval;

    let outcome: Result<(), ConnectError> = async {
        loop {
            if setup.stopping() {
                return Ok(());
            }
            if producer.is_finished() {
                break;
            }
            if setup.paused() {
                // Commit what is durable, then wait without polling.
                commit(setup, task, offsets, &committable).await;
                setup.wait_while_paused().await;
                continue;
            }
            if Instant::now() >= next_commit {
                commit(setup, task, offsets, &committable).await;
                next_commit = Instant::now() + interval;
            }
            let records = match task.poll().await {
                Ok(records) => records,
                Err(e) if e.is_retriable() => {
                    tracing::warn!(task = %setup.id, error = %e, "poll failed, retrying");
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if records.is_empty() {
                continue;
            }
            let produce = encoder.encode(records).await?;
            if tx.send(produce).await.is_err() {
                break;
            }
        }
        Ok(())
    }
    .await;
    // Let the producer finish what was handed over, then commit what became durable.
    drop(tx);
    let produced = match (&mut producer).await {
        Ok(r) => r,
        Err(e) => Err(ConnectError::Other(format!(
            "producer of task {} panicked: {e}",
            setup.id
        ))),
    };
    commit(setup, task, offsets, &committable).await;
    outcome?;
    produced
}

/// Appends batches in order; after a poll's last batch, its offsets become committable.
/// Polls that queued up while an append was under way go out together, one append per
/// partition: each append waits for its acknowledgement (a Kafka-protocol log lingers
/// `producer.linger.ms` first), so appending poll by poll would cap a task at one poll per
/// round trip.
async fn produce(
    log: Arc<dyn Log>,
    mut rx: mpsc::Receiver<Produce>,
    committable: Committable,
) -> Result<(), ConnectError> {
    while let Some(mut p) = rx.recv().await {
        let mut bytes: usize = p.batches.iter().map(|(_, d)| d.len()).sum();
        while bytes < MERGED_APPEND_BYTES {
            let Ok(next) = rx.try_recv() else { break };
            bytes += next.batches.iter().map(|(_, d)| d.len()).sum::<usize>();
            p.merge(next);
        }
        for (tp, data) in p.batches {
            log.append(&tp, data.freeze())
                .await
                .map_err(|e| ConnectError::Other(format!("appending to {tp}: {e}")))?;
        }
        let mut c = committable.lock().unwrap_or_else(|e| e.into_inner());
        merge_offsets(&mut c, p.offsets);
    }
    Ok(())
}

/// Keeps the latest offset per source partition.
fn merge_offsets(into: &mut Vec<(SourceMap, SourceMap)>, offsets: Vec<(SourceMap, SourceMap)>) {
    for (partition, offset) in offsets {
        merge_offset(into, partition, offset);
    }
}

fn merge_offset(into: &mut Vec<(SourceMap, SourceMap)>, partition: SourceMap, offset: SourceMap) {
    // Most tasks have one source partition, usually the one seen last.
    match into.iter_mut().rev().find(|(p, _)| *p == partition) {
        Some(slot) => slot.1 = offset,
        None => into.push((partition, offset)),
    }
}

/// Writes the committable offsets; on failure they stay for the next attempt.
async fn commit(
    setup: &TaskSetup,
    task: &mut dyn SourceTask,
    offsets: &OffsetStore,
    committable: &Committable,
) {
    let pending = std::mem::take(&mut *committable.lock().unwrap_or_else(|e| e.into_inner()));
    if pending.is_empty() {
        return;
    }
    let name = setup.id.connector.as_str();
    let entries: Vec<(&str, &SourceMap, Option<&SourceMap>)> =
        pending.iter().map(|(p, o)| (name, p, Some(o))).collect();
    match offsets.put(&entries).await {
        Ok(()) => {
            tracing::debug!(task = %setup.id, partitions = pending.len(), "source offsets committed");
            if let Err(e) = task.commit().await {
                tracing::warn!(task = %setup.id, error = %e, "source task commit hook failed");
            }
        }
        Err(e) => {
            tracing::error!(task = %setup.id, error = %e, "committing source offsets failed; will retry");
            let mut c = committable.lock().unwrap_or_else(|e| e.into_inner());
            let newer = std::mem::replace(&mut *c, pending);
            merge_offsets(&mut c, newer);
        }
    }
}

/// Turns polled records into record batches, one buffer per destination partition.
struct Encoder {
    key: Box<dyn Converter>,
    value: Box<dyn Converter>,
    log: Arc<dyn Log>,
    /// Known partition counts of destination topics.
    partitions: Vec<(Arc<str>, u32)>,
    default_partitions: u32,
    batch_size: usize,
    /// Rotates the partition of records without key or partition, per poll (sticky).
    sticky: u32,
    task: String,
    /// Where a destination topic seen for the first time is recorded.
    topics: super::ActiveTopics,
    connector: String,
    /// `errors.*`: a record whose conversion fails is skipped when tolerated.
    errors: ErrorHandler,
    key_class: String,
    value_class: String,
}

struct Pending {
    tp: TopicPartition,
    done: BytesMut,
    open: Option<RecordBatchBuilder>,
}

impl Encoder {
    async fn partition_count(&mut self, topic: &Arc<str>) -> Result<u32, ConnectError> {
        if let Some((_, n)) = self.partitions.iter().find(|(t, _)| t == topic) {
            return Ok(*n);
        }
        let n = ensure_topic(
            self.log.as_ref(),
            NewTopic {
                name: topic.to_string(),
                partitions: self.default_partitions,
                configs: Default::default(),
            },
        )
        .await
        .map_err(|e| ConnectError::Other(format!("topic '{topic}': {e}")))?;
        self.partitions.push((topic.clone(), n));
        self.topics.record(&self.connector, topic);
        Ok(n)
    }

    async fn encode(&mut self, records: Vec<SourceRecord>) -> Result<Produce, ConnectError> {
        let now = now_ms();
        self.sticky = self.sticky.wrapping_add(1);
        let mut pending: Vec<Pending> = Vec::new();
        let mut offsets: Vec<(SourceMap, SourceMap)> = Vec::new();
        let mut headers_buf: Vec<(String, Option<Bytes>)> = Vec::new();
        for record in records {
            let topic = &record.topic;
            let (key, value) = match self.convert(&record).await {
                Ok(kv) => kv,
                Err((stage, e)) => {
                    let class = if stage == Stage::KeyConverter {
                        &self.key_class
                    } else {
                        &self.value_class
                    };
                    self.errors
                        .handle(Failure {
                            stage,
                            class,
                            error: &e,
                            record: None,
                        })
                        .await?;
                    // Skipped, but handled: its offset is committed with the others.
                    merge_offset(&mut offsets, record.source_partition, record.source_offset);
                    continue;
                }
            };
            let count = self.partition_count(topic).await?;
            let partition = match (record.kafka_partition, &key) {
                (Some(p), _) => {
                    if p < 0 || p as u32 >= count {
                        return Err(ConnectError::Data(format!(
                            "task {}: record for partition {p} of topic '{topic}', which has {count} partitions",
                            self.task
                        )));
                    }
                    p
                }
                (None, Some(k)) => partition_for_key(k, count) as i32,
                (None, None) => (self.sticky % count) as i32,
            };
            headers_buf.clear();
            for h in &record.headers {
                headers_buf.push((h.key.clone(), header_bytes(h)));
            }
            let headers: Vec<(&str, Option<&[u8]>)> = headers_buf
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            let timestamp = record.timestamp.unwrap_or(now);

            let slot = match pending
                .iter()
                .position(|p| p.tp.partition == partition && p.tp.topic == *topic)
            {
                Some(i) => i,
                None => {
                    pending.push(Pending {
                        tp: TopicPartition::new(topic.clone(), partition),
                        done: BytesMut::new(),
                        open: None,
                    });
                    pending.len() - 1
                }
            };
            let p = &mut pending[slot];
            let builder = p.open.get_or_insert_with(|| {
                RecordBatchBuilder::with_capacity(timestamp, self.batch_size)
            });
            let full = !builder.is_empty()
                && builder.estimated_size()
                    + builder.record_size(timestamp, key.as_deref(), value.as_deref(), &headers)
                    > self.batch_size;
            if full && let Some(batch) = p.open.take() {
                append_batch(&mut p.done, batch);
            }
            p.open
                .get_or_insert_with(|| {
                    RecordBatchBuilder::with_capacity(timestamp, self.batch_size)
                })
                .append(timestamp, key.as_deref(), value.as_deref(), &headers);
            drop(headers);
            merge_offset(&mut offsets, record.source_partition, record.source_offset);
        }
        let batches = pending
            .into_iter()
            .map(|mut p| {
                if let Some(open) = p.open.take() {
                    append_batch(&mut p.done, open);
                }
                (p.tp, p.done)
            })
            .collect();
        Ok(Produce { batches, offsets })
    }

    /// The key and value bytes of a record, with `errors.retry.timeout` retries; a failure
    /// says in which stage.
    async fn convert(
        &self,
        record: &SourceRecord,
    ) -> Result<(Option<Bytes>, Option<Bytes>), (Stage, ConnectError)> {
        let topic = &record.topic;
        let key = self
            .errors
            .retry(|| {
                self.key
                    .from_connect(topic, record.key_schema.as_ref(), &record.key)
            })
            .await
            .map_err(|e| (Stage::KeyConverter, self.conversion_error("key", topic, e)))?;
        let value = self
            .errors
            .retry(|| {
                self.value
                    .from_connect(topic, record.value_schema.as_ref(), &record.value)
            })
            .await
            .map_err(|e| {
                (
                    Stage::ValueConverter,
                    self.conversion_error("value", topic, e),
                )
            })?;
        Ok((key, value))
    }

    fn conversion_error(&self, what: &str, topic: &str, e: ConnectError) -> ConnectError {
        ConnectError::Data(format!(
            "task {}: converting the {what} of a record for topic '{topic}' failed: {e}",
            self.task
        ))
    }
}

/// Adds a finished batch to a partition's buffer (without a copy for the first one).
fn append_batch(done: &mut BytesMut, batch: RecordBatchBuilder) {
    if done.is_empty() {
        *done = batch.finish_mut();
    } else {
        done.extend_from_slice(&batch.finish_mut());
    }
}

/// Header values are written as UTF-8 text, raw bytes, or schemaless JSON.
fn header_bytes(h: &Header) -> Option<Bytes> {
    match &h.value {
        Value::Null => None,
        Value::String(s) => Some(s.as_bytes().clone()),
        Value::Bytes(b) => Some(b.clone()),
        other => Some(Bytes::from(to_schemaless_json(other))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use ferry_api::{ConfigMap, Schema};
    use tokio::sync::{Semaphore, watch};

    use super::*;
    use crate::lifecycle::TaskId;
    use crate::log::{FetchedPartition, LogError};
    use crate::worker::WorkerConfig;

    /// A log whose appends wait for permits.
    struct GatedLog {
        gate: Semaphore,
        /// Records appended.
        appended: AtomicUsize,
        /// Append calls.
        appends: AtomicUsize,
    }

    /// Records in concatenated v2 record batches (the count is the header's last field).
    fn records_in(mut batches: &[u8]) -> usize {
        let mut n = 0;
        while batches.len() >= 61 {
            let len = i32::from_be_bytes(batches[8..12].try_into().unwrap()) as usize;
            n += i32::from_be_bytes(batches[57..61].try_into().unwrap()) as usize;
            batches = &batches[(12 + len).min(batches.len())..];
        }
        n
    }

    #[async_trait]
    impl Log for GatedLog {
        async fn create_topic(&self, _topic: NewTopic) -> crate::log::Result<()> {
            Ok(())
        }
        async fn partition_count(&self, _topic: &str) -> crate::log::Result<Option<u32>> {
            Ok(Some(1))
        }
        async fn topics(&self) -> crate::log::Result<Vec<String>> {
            Ok(vec!["t".into()])
        }
        async fn append(&self, _tp: &TopicPartition, batches: Bytes) -> crate::log::Result<i64> {
            self.gate.acquire().await.expect("gate").forget();
            self.appends.fetch_add(1, Ordering::SeqCst);
            Ok(self
                .appended
                .fetch_add(records_in(&batches), Ordering::SeqCst) as i64)
        }
        async fn fetch(
            &self,
            _p: &[(TopicPartition, i64)],
            _max: usize,
            _wait: Duration,
        ) -> crate::log::Result<Vec<FetchedPartition>> {
            Err(LogError::Corrupt("not used".into()))
        }
        async fn offset_range(&self, _tp: &TopicPartition) -> crate::log::Result<(i64, i64)> {
            Ok((0, 0))
        }
        async fn commit_offsets(
            &self,
            _g: &str,
            _o: &[(TopicPartition, i64)],
        ) -> crate::log::Result<()> {
            Ok(())
        }
        async fn committed_offsets(
            &self,
            _g: &str,
            _p: &[TopicPartition],
        ) -> crate::log::Result<HashMap<TopicPartition, i64>> {
            Ok(HashMap::new())
        }
        async fn close(&self) -> crate::log::Result<()> {
            Ok(())
        }
    }

    /// Emits one record per poll, forever.
    struct Counting(Arc<AtomicUsize>);

    #[async_trait]
    impl SourceTask for Counting {
        async fn start(
            &mut self,
            _c: SourceTaskContext,
            _config: &ConfigMap,
        ) -> ferry_api::Result<()> {
            Ok(())
        }
        async fn poll(&mut self) -> ferry_api::Result<Vec<SourceRecord>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Ok(vec![SourceRecord::new(
                SourceMap::single("p", Value::Int64(0)),
                SourceMap::single("n", Value::Int64(n as i64)),
                Arc::from("t"),
                Some(Schema::string()),
                Value::from("x"),
            )])
        }
    }

    #[tokio::test]
    async fn poll_is_not_called_while_the_log_is_behind() {
        let dir = tempfile::tempdir().unwrap();
        let worker_map: ConfigMap = [("value.converter", "StringConverter")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let worker = WorkerConfig::parse(&worker_map).unwrap();
        let log = Arc::new(GatedLog {
            gate: Semaphore::new(0),
            appended: AtomicUsize::new(0),
            appends: AtomicUsize::new(0),
        });
        let offsets = Arc::new(OffsetStore::file(&dir.path().join("o")).unwrap());
        let (stop_tx, stop_rx) = watch::channel(crate::worker::TargetState::Started);
        let (state_tx, _state_rx) = watch::channel(TaskState::Starting);
        let setup = TaskSetup {
            id: TaskId {
                connector: "c".into(),
                task: 0,
            },
            connector_config: ConfigMap::new(),
            task_config: ConfigMap::new(),
            log: log.clone(),
            worker,
            control: stop_rx,
            state: state_tx,
            topics: Default::default(),
        };
        let polls = Arc::new(AtomicUsize::new(0));
        let reader = offsets.reader("c");
        let handle = tokio::spawn(run(
            setup,
            Box::new(Counting(polls.clone())),
            reader,
            offsets.clone(),
        ));

        tokio::time::sleep(Duration::from_millis(300)).await;
        let blocked = polls.load(Ordering::SeqCst);
        // One merged append (at most IN_FLIGHT_POLLS + 1 polls) is under way, IN_FLIGHT_POLLS
        // wait in the channel, one waits to be sent: nothing more.
        assert!(
            blocked <= 2 * IN_FLIGHT_POLLS + 2,
            "{blocked} polls while the log was stuck"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            polls.load(Ordering::SeqCst),
            blocked,
            "polled while blocked"
        );

        // Once the log catches up, polling resumes; on stop the durable offsets commit.
        log.gate.add_permits(1_000_000);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(polls.load(Ordering::SeqCst) > blocked + 10);
        stop_tx.send(crate::worker::TargetState::Stopped).unwrap();
        handle.await.unwrap();
        let committed = offsets
            .get("c", &SourceMap::single("p", Value::Int64(0)))
            .and_then(|o| o.get("n").and_then(Value::as_i64))
            .unwrap();
        let appended = log.appended.load(Ordering::SeqCst);
        assert_eq!(committed as usize + 1, appended);
        // The polls that queued while the log was stuck went out merged.
        let appends = log.appends.load(Ordering::SeqCst);
        assert!(
            appends < appended,
            "{appends} appends for {appended} records"
        );
    }

    /// Source record headers have no header converter: a STRING value is its UTF-8 bytes,
    /// BYTES its bytes, null a null header value, and anything else the internal JSON text
    /// (which for numbers and booleans is the text Kafka's `SimpleHeaderConverter` writes).
    #[test]
    fn header_values_are_text_raw_bytes_or_internal_json() {
        let bytes = |value: Value| {
            header_bytes(&Header {
                key: "h".into(),
                schema: None,
                value,
            })
        };
        assert_eq!(bytes(Value::from("héllo")), Some(Bytes::from("héllo")));
        assert_eq!(
            bytes(Value::Bytes(Bytes::from_static(b"\xff\x00"))),
            Some(Bytes::from_static(b"\xff\x00"))
        );
        assert_eq!(bytes(Value::Null), None);
        assert_eq!(bytes(Value::Int32(42)), Some(Bytes::from("42")));
        assert_eq!(bytes(Value::Boolean(true)), Some(Bytes::from("true")));
        assert_eq!(bytes(Value::Float64(1.0e7)), Some(Bytes::from("1.0E7")));
        assert_eq!(
            bytes(Value::Array(vec![Value::Int32(1), Value::from("a")])),
            Some(Bytes::from(r#"[1,"a"]"#))
        );
    }
}
