//! Running a sink task: fetch from the assigned partitions (consumer group
//! `connect-<connector>`) → converters → `SinkTask::put` → on each commit interval
//! `pre_commit` (which flushes) → the offsets the task reported durable are committed.
//!
//! Standalone assignment: the partitions of the subscribed topics, sorted, are dealt to the
//! connector's tasks round-robin; a new partition (or, with `topics.regex`, a new topic) is
//! picked up within [`METADATA_REFRESH`]. Where no offset was committed, consumption starts
//! at the earliest offset (Kafka Connect's `auto.offset.reset=earliest`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_api::{
    ByteStr, ConnectError, ConnectorType, ConsumedRecord, Converter, ErrantRecordReporter, Header,
    SinkRecord, SinkTask, SinkTaskContext, TopicPartition, Value,
};
use ferry_record::batches;
use tokio::time::Instant;

use super::TaskSetup;
use super::topic_regex::TopicRegex;
use crate::errors::{Consumed, ErrantReporter, ErrorHandler, Failure, Stage};
use crate::lifecycle::TaskState;
use crate::log::{Log, LogError, NewTopic, ensure_topic};

/// How often subscribed topics are re-checked for new partitions and topics.
const METADATA_REFRESH: Duration = Duration::from_secs(5);
/// Longest wait of one fetch, so that stop requests are seen promptly.
const MAX_FETCH_WAIT: Duration = Duration::from_millis(500);
/// Pause after a retriable `put` error before the same records are delivered again.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Context {
    assignment: Mutex<Vec<TopicPartition>>,
    resets: Mutex<Vec<(TopicPartition, i64)>>,
    commit_requested: AtomicBool,
    /// The pause the task asked for before its records come again.
    retry_after: Mutex<Option<Duration>>,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
}

impl SinkTaskContext for Context {
    fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    fn reset_offset(&self, partition: TopicPartition, offset: i64) {
        self.resets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((partition, offset));
    }
    fn request_commit(&self) {
        self.commit_requested.store(true, Ordering::Release);
    }
    fn timeout(&self, timeout: Duration) {
        *self.retry_after.lock().unwrap_or_else(|e| e.into_inner()) = Some(timeout);
    }
    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        self.reporter.clone()
    }
}

enum Subscription {
    Topics(Vec<String>),
    Regex(TopicRegex),
}

pub(crate) async fn run(setup: TaskSetup, mut task: Box<dyn SinkTask>, index: usize, count: usize) {
    let result = execute(&setup, task.as_mut(), index, count).await;
    if let Err(e) = task.stop().await {
        tracing::warn!(task = %setup.id, error = %e, "sink task stop failed");
    }
    setup.set_state(match result {
        Ok(()) => TaskState::Stopped,
        Err(e) => TaskState::Failed(e.to_string()),
    });
}

struct Consumer<'a> {
    setup: &'a TaskSetup,
    log: Arc<dyn Log>,
    group: String,
    subscription: Subscription,
    index: usize,
    count: usize,
    context: Arc<Context>,
    /// Next offset to deliver, per assigned partition.
    positions: HashMap<TopicPartition, i64>,
    /// Offsets committed last, to skip commits that change nothing.
    committed: HashMap<TopicPartition, i64>,
    key: Box<dyn Converter>,
    value: Box<dyn Converter>,
    errors: Arc<ErrorHandler>,
    key_class: String,
    value_class: String,
}

async fn execute(
    setup: &TaskSetup,
    task: &mut dyn SinkTask,
    index: usize,
    count: usize,
) -> Result<(), ConnectError> {
    let topics = super::config::sink_topics(&setup.connector_config);
    let subscription = if topics.is_empty() {
        let pattern = setup
            .connector_config
            .get("topics.regex")
            .map(|s| s.trim())
            .unwrap_or("");
        Subscription::Regex(
            TopicRegex::new(pattern)
                .map_err(|e| ConnectError::Config(format!("topics.regex \"{pattern}\": {e}")))?,
        )
    } else {
        Subscription::Topics(topics)
    };
    let errors = Arc::new(setup.error_handler(ConnectorType::Sink)?);
    let reporter = Arc::new(ErrantReporter {
        handler: errors.clone(),
        key: setup.converter(true)?,
        value: setup.converter(false)?,
        class: setup
            .connector_config
            .get("connector.class")
            .cloned()
            .unwrap_or_default(),
    });
    let context = Arc::new(Context {
        reporter: Some(reporter),
        ..Context::default()
    });
    let mut consumer = Consumer {
        setup,
        log: setup.log.clone(),
        group: format!("connect-{}", setup.id.connector),
        subscription,
        index,
        count,
        context,
        positions: HashMap::new(),
        committed: HashMap::new(),
        key: setup.converter(true)?,
        value: setup.converter(false)?,
        errors,
        key_class: setup.converter_class(true),
        value_class: setup.converter_class(false),
    };
    task.start(consumer.context.clone(), &setup.task_config)
        .await?;
    setup.set_state(TaskState::Running);
    consumer.refresh_assignment(task).await?;

    let interval = setup.worker.offset_flush_interval();
    let mut next_commit = Instant::now() + interval;
    let mut next_refresh = Instant::now() + METADATA_REFRESH;
    let fetch_bytes = setup.worker.fetch_bytes();
    let outcome: Result<(), ConnectError> = async {
        loop {
            if setup.stopping() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= next_commit
                || consumer
                    .context
                    .commit_requested
                    .swap(false, Ordering::AcqRel)
            {
                consumer.commit(task).await?;
                next_commit = Instant::now() + interval;
            }
            if now >= next_refresh {
                consumer.refresh_assignment(task).await?;
                next_refresh = Instant::now() + METADATA_REFRESH;
            }
            if setup.paused() {
                consumer.commit(task).await?;
                setup.wait_while_paused().await;
                continue;
            }
            consumer.apply_resets();
            if consumer.positions.is_empty() {
                tokio::time::sleep(MAX_FETCH_WAIT).await;
                continue;
            }
            let wait = next_commit
                .saturating_duration_since(Instant::now())
                .min(MAX_FETCH_WAIT);
            let (records, advanced) = consumer.fetch(fetch_bytes, wait).await?;
            // Empty deliveries too, as Kafka Connect makes them: a task that buffers (the
            // Postgres sink's batches, S3's scheduled rotation) acts on time passing.
            match task.put(records).await {
                Ok(()) => consumer.positions.extend(advanced),
                Err(e) if e.is_retriable() => {
                    // Positions stay: the same records come again after the pause (the
                    // task's own, when it asked for one with `SinkTaskContext::timeout`).
                    tracing::warn!(task = %setup.id, error = %e, "put failed, redelivering");
                    let pause = consumer
                        .context
                        .retry_after
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take()
                        .unwrap_or(RETRY_BACKOFF);
                    tokio::time::sleep(pause).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    .await;
    let final_commit = consumer.commit(task).await;
    let assigned: Vec<TopicPartition> = consumer.positions.keys().cloned().collect();
    if let Err(e) = task.close(&assigned).await {
        tracing::warn!(task = %setup.id, error = %e, "sink task close failed");
    }
    outcome?;
    final_commit
}

impl Consumer<'_> {
    fn log_err(&self, e: LogError) -> ConnectError {
        ConnectError::Other(format!("task {}: {e}", self.setup.id))
    }

    /// Recomputes this task's partitions; opens new ones at their committed offsets.
    async fn refresh_assignment(&mut self, task: &mut dyn SinkTask) -> Result<(), ConnectError> {
        let topics: Vec<String> = match &self.subscription {
            Subscription::Topics(t) => t.clone(),
            Subscription::Regex(r) => {
                let mut all = self.log.topics().await.map_err(|e| self.log_err(e))?;
                all.retain(|t| r.matches(t) && !t.starts_with("__"));
                all
            }
        };
        let mut all_partitions = Vec::new();
        for topic in &topics {
            // Subscribing creates a missing topic, as a Kafka consumer does against a broker
            // with auto.create.topics.enable.
            let n = ensure_topic(
                self.log.as_ref(),
                NewTopic {
                    name: topic.clone(),
                    partitions: self.setup.worker.default_partitions(),
                    configs: Default::default(),
                },
            )
            .await
            .map_err(|e| self.log_err(e))?;
            for p in 0..n as i32 {
                all_partitions.push(TopicPartition::new(topic.as_str(), p));
            }
        }
        all_partitions.sort();
        let mine: Vec<TopicPartition> = all_partitions
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, tp)| tp)
            .collect();
        let new: Vec<TopicPartition> = mine
            .iter()
            .filter(|tp| !self.positions.contains_key(*tp))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        for tp in &new {
            self.setup
                .topics
                .record(&self.setup.id.connector, &tp.topic);
        }
        let committed = self
            .log
            .committed_offsets(&self.group, &new)
            .await
            .map_err(|e| self.log_err(e))?;
        for tp in &new {
            let position = match committed.get(tp) {
                Some(offset) => *offset,
                None => {
                    self.log
                        .offset_range(tp)
                        .await
                        .map_err(|e| self.log_err(e))?
                        .0
                }
            };
            tracing::info!(task = %self.setup.id, partition = %tp, position, "partition assigned");
            self.positions.insert(tp.clone(), position);
        }
        *self
            .context
            .assignment
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = mine;
        task.open(&new).await
    }

    fn apply_resets(&mut self) {
        let resets = std::mem::take(
            &mut *self
                .context
                .resets
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (tp, offset) in resets {
            if let Some(pos) = self.positions.get_mut(&tp) {
                tracing::info!(task = %self.setup.id, partition = %tp, offset, "offset reset by the task");
                *pos = offset;
            }
        }
    }

    /// Fetches and converts the next records; returns them and the positions after them.
    async fn fetch(
        &mut self,
        max_bytes: usize,
        wait: Duration,
    ) -> Result<(Vec<SinkRecord>, Vec<(TopicPartition, i64)>), ConnectError> {
        let request: Vec<(TopicPartition, i64)> = self
            .positions
            .iter()
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        let fetched = match self.log.fetch(&request, max_bytes, wait).await {
            Ok(f) => f,
            Err(LogError::OffsetOutOfRange {
                partition,
                offset,
                log_start,
                ..
            }) => {
                tracing::warn!(task = %self.setup.id, %partition, offset, log_start,
                    "committed offset is no longer in the log: resuming at the earliest offset");
                self.positions.insert(partition, log_start);
                return Ok((Vec::new(), Vec::new()));
            }
            Err(e) => return Err(self.log_err(e)),
        };
        let mut records = Vec::new();
        let mut advanced = Vec::new();
        for f in fetched {
            if f.batches.is_empty() {
                continue;
            }
            let mut position = self.positions.get(&f.partition).copied().unwrap_or(0);
            for batch in batches(f.batches) {
                let batch = batch
                    .map_err(|e| ConnectError::Other(format!("reading {}: {e}", f.partition)))?;
                for record in batch.records() {
                    let record = record.map_err(|e| {
                        ConnectError::Other(format!("reading {}: {e}", f.partition))
                    })?;
                    if record.offset < position {
                        continue;
                    }
                    let offset = record.offset;
                    match self.convert(&f.partition, &record).await {
                        Ok(r) => records.push(r),
                        Err((stage, e)) => {
                            // Tolerated (errors.tolerance=all): skipped, logged and
                            // dead-lettered as configured; otherwise the task fails.
                            let consumed = Consumed {
                                topic: f.partition.topic.clone(),
                                partition: f.partition.partition,
                                offset: record.offset,
                                record: original(&record),
                            };
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
                                    record: Some(&consumed),
                                })
                                .await?;
                        }
                    }
                    position = offset + 1;
                }
                position = position.max(batch.next_offset());
            }
            advanced.push((f.partition, position));
        }
        Ok((records, advanced))
    }

    /// Converts a fetched record, with `errors.retry.timeout` retries; a failure says in
    /// which stage.
    async fn convert(
        &self,
        tp: &TopicPartition,
        record: &ferry_record::Record,
    ) -> Result<SinkRecord, (Stage, ConnectError)> {
        let topic = &tp.topic;
        let at = |what: &str, e: ConnectError| {
            ConnectError::Data(format!(
                "task {}: converting the {what} of the record at offset {} of {tp} failed: {e}",
                self.setup.id, record.offset
            ))
        };
        let (key_schema, key) = self
            .errors
            .retry(|| self.key.to_connect(topic, record.key.as_ref()))
            .await
            .map_err(|e| (Stage::KeyConverter, at("key", e)))?;
        let (value_schema, value) = self
            .errors
            .retry(|| self.value.to_connect(topic, record.value.as_ref()))
            .await
            .map_err(|e| (Stage::ValueConverter, at("value", e)))?;
        let headers = record
            .headers
            .iter()
            .map(|h| Header {
                key: h.key_str().unwrap_or_default().to_string(),
                schema: None,
                value: match h.value.clone() {
                    None => Value::Null,
                    Some(v) => match ByteStr::from_utf8(v) {
                        Ok(s) => Value::String(s),
                        Err(b) => Value::Bytes(b),
                    },
                },
            })
            .collect();
        Ok(SinkRecord {
            topic: topic.clone(),
            kafka_partition: tp.partition,
            kafka_offset: record.offset,
            timestamp: (record.timestamp >= 0).then_some(record.timestamp),
            key_schema,
            key,
            value_schema,
            value,
            headers,
            original: Some(original(record)),
        })
    }

    /// Asks the task what is durable and commits it for the group.
    async fn commit(&mut self, task: &mut dyn SinkTask) -> Result<(), ConnectError> {
        if self.positions.is_empty() {
            return Ok(());
        }
        let durable = task.pre_commit(self.positions.clone()).await?;
        let changed: Vec<(TopicPartition, i64)> = durable
            .into_iter()
            .filter(|(tp, o)| self.positions.contains_key(tp) && self.committed.get(tp) != Some(o))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        self.log
            .commit_offsets(&self.group, &changed)
            .await
            .map_err(|e| self.log_err(e))?;
        tracing::debug!(task = %self.setup.id, partitions = changed.len(), "sink offsets committed");
        self.committed.extend(changed);
        Ok(())
    }
}

/// A fetched record's bytes, delivered with it for the dead letter queue (slices of the
/// fetched batch: nothing is copied).
fn original(record: &ferry_record::Record) -> ConsumedRecord {
    ConsumedRecord {
        key: record.key.clone(),
        value: record.value.clone(),
        headers: record
            .headers
            .iter()
            .map(|h| (h.key_str().unwrap_or_default().to_string(), h.value.clone()))
            .collect(),
        timestamp: (record.timestamp >= 0).then_some(record.timestamp),
    }
}
