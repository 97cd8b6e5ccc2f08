//! Kafka Connect's error handling (KIP-298, KIP-610), per task: what happens when a record
//! fails in a converter, or when a sink task reports one it could not write.
//!
//! - `errors.retry.timeout` / `errors.retry.delay.max.ms`: a retriable failure is tried
//!   again, with exponential backoff from 300 ms up to the maximum delay, until the timeout
//!   (0: never retried, -1: retried forever).
//! - `errors.tolerance`: `none` (default) fails the task on the first failed record; `all`
//!   skips it and carries on.
//! - `errors.log.enable` / `errors.log.include.messages`: tolerated failures are logged,
//!   optionally with the record's key, value and headers.
//! - `errors.deadletterqueue.topic.name` (sinks only): tolerated records are appended, as
//!   they were consumed, to this topic, created if missing; with
//!   `errors.deadletterqueue.context.headers.enable` they carry Kafka's
//!   `__connect.errors.*` headers saying where they came from and why they failed.
//!
//! [`ErrorHandler`] makes those decisions; [`ErrantReporter`] offers them to sink tasks
//! through `SinkTaskContext::errant_record_reporter`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::config::{Default, Validator};
use ferry_api::{
    ConfigDef, ConfigMap, ConfigType, ConfigValue, ConnectError, ConnectorType, Converter,
    ErrantRecordReporter, Importance, SinkRecord, TopicPartition, Value,
};
use ferry_broker::record::{RecordBatchBuilder, partition_for_key};
use tokio::sync::OnceCell;

use crate::log::{Log, NewTopic, ensure_topic, now_ms};

pub(crate) const TOLERANCE: &str = "errors.tolerance";
pub(crate) const RETRY_TIMEOUT: &str = "errors.retry.timeout";
pub(crate) const RETRY_DELAY_MAX: &str = "errors.retry.delay.max.ms";
pub(crate) const LOG_ENABLE: &str = "errors.log.enable";
pub(crate) const LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
pub(crate) const DLQ_TOPIC: &str = "errors.deadletterqueue.topic.name";
pub(crate) const DLQ_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
pub(crate) const DLQ_CONTEXT_HEADERS: &str = "errors.deadletterqueue.context.headers.enable";

/// Kafka's DLQ context header names.
pub(crate) mod headers {
    pub(crate) const TOPIC: &str = "__connect.errors.topic";
    pub(crate) const PARTITION: &str = "__connect.errors.partition";
    pub(crate) const OFFSET: &str = "__connect.errors.offset";
    pub(crate) const CONNECTOR: &str = "__connect.errors.connector.name";
    pub(crate) const TASK: &str = "__connect.errors.task.id";
    pub(crate) const STAGE: &str = "__connect.errors.stage";
    pub(crate) const CLASS: &str = "__connect.errors.class.name";
    pub(crate) const EXCEPTION: &str = "__connect.errors.exception.class.name";
    pub(crate) const MESSAGE: &str = "__connect.errors.exception.message";
    pub(crate) const STACKTRACE: &str = "__connect.errors.exception.stacktrace";
}

/// The first pause between retries (Kafka's `RetryWithToleranceOperator`).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(300);

/// The `errors.*` keys of a connector of `kind` (the dead letter queue is for sinks).
pub fn config_def(kind: ConnectorType) -> ConfigDef {
    let def = ConfigDef::new()
        .define(
            RETRY_TIMEOUT,
            ConfigType::Long,
            Default::Value(ConfigValue::Long(0)),
            Importance::Medium,
            "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
        )
        .with_validator(Validator::at_least(-1.0))
        .define(
            RETRY_DELAY_MAX,
            ConfigType::Long,
            Default::Value(ConfigValue::Long(60_000)),
            Importance::Medium,
            "The maximum duration in milliseconds between consecutive retry attempts. Jitter will be added to the delay once this limit is reached to prevent thundering herd issues.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            TOLERANCE,
            ConfigType::String,
            Default::Value(ConfigValue::String("none".into())),
            Importance::Medium,
            "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["none", "all"]))
        .define(
            LOG_ENABLE,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Medium,
            "If true, write each error and the details of the failed operation and problematic record to the Connect application log.",
        )
        .define(
            LOG_INCLUDE_MESSAGES,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Medium,
            "Whether to include in the log the Connect record that resulted in a failure. For sink records, the topic, partition, offset, and timestamp will be logged.",
        );
    if kind == ConnectorType::Source {
        return def;
    }
    def.define(
        DLQ_TOPIC,
        ConfigType::String,
        Default::Value(ConfigValue::String(String::new())),
        Importance::Medium,
        "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ.",
    )
    .define(
        DLQ_REPLICATION_FACTOR,
        ConfigType::Short,
        Default::Value(ConfigValue::Short(3)),
        Importance::Medium,
        "Replication factor used to create the dead letter queue topic when it doesn't already exist. Accepted for compatibility: Ferry creates the topic with the log's default replication.",
    )
    .with_validator(Validator::Custom(|v| match v {
        ConfigValue::Short(n) if *n == 0 || *n < -1 => {
            Err("a positive replication factor, or -1 for the broker's default".into())
        }
        _ => Ok(()),
    }))
    .define(
        DLQ_CONTEXT_HEADERS,
        ConfigType::Boolean,
        Default::Value(ConfigValue::Boolean(false)),
        Importance::Medium,
        "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys will start with __connect.errors.",
    )
}

/// Where in the pipeline an operation failed (Kafka's `Stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    KeyConverter,
    ValueConverter,
    TaskPut,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::TaskPut => "TASK_PUT",
        }
    }
}

/// The consumed record an operation failed on, as it was in the log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Consumed {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: Option<i64>,
    pub(crate) key: Option<Bytes>,
    pub(crate) value: Option<Bytes>,
    pub(crate) headers: Vec<(String, Option<Bytes>)>,
}

/// One failed operation.
#[derive(Debug)]
pub(crate) struct Failure<'a> {
    pub(crate) stage: Stage,
    /// The class that was executing (a converter, the connector).
    pub(crate) class: &'a str,
    pub(crate) error: &'a ConnectError,
    /// The record, for sinks (sources have no consumed record).
    pub(crate) record: Option<&'a Consumed>,
}

struct DeadLetterQueue {
    topic: Arc<str>,
    context_headers: bool,
    log: Arc<dyn Log>,
    partitions: OnceCell<u32>,
    default_partitions: u32,
}

/// A task's error policy.
pub(crate) struct ErrorHandler {
    task: String,
    connector: String,
    tolerate_all: bool,
    /// `None`: retry forever.
    retry_timeout: Option<Duration>,
    retry_delay_max: Duration,
    log: bool,
    log_messages: bool,
    dlq: Option<DeadLetterQueue>,
}

impl std::fmt::Debug for ErrorHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorHandler")
            .field("task", &self.task)
            .field("tolerate_all", &self.tolerate_all)
            .field("dlq", &self.dlq.as_ref().map(|d| d.topic.clone()))
            .finish_non_exhaustive()
    }
}

fn java_exception(error: &ConnectError) -> &'static str {
    match error {
        ConnectError::Data(_) => "org.apache.kafka.connect.errors.DataException",
        ConnectError::Retriable(_) => "org.apache.kafka.connect.errors.RetriableException",
        ConnectError::Config(_) => "org.apache.kafka.common.config.ConfigException",
        ConnectError::Io { .. } | ConnectError::Other(_) => {
            "org.apache.kafka.connect.errors.ConnectException"
        }
    }
}

impl ErrorHandler {
    /// The policy of `config` (a validated connector config) for task `task`.
    pub(crate) fn new(
        kind: ConnectorType,
        config: &ConfigMap,
        task: String,
        log: Arc<dyn Log>,
        default_partitions: u32,
    ) -> Result<ErrorHandler, ConnectError> {
        let parsed = config_def(kind).parse_for_use(config)?;
        let long = |k: &str| parsed.long(k).ok().flatten().unwrap_or(0);
        let boolean = |k: &str| parsed.boolean(k).ok().flatten().unwrap_or(false);
        let timeout = long(RETRY_TIMEOUT);
        let dlq_topic = match kind {
            ConnectorType::Sink => parsed
                .string(DLQ_TOPIC)
                .ok()
                .flatten()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Arc::<str>::from),
            ConnectorType::Source => None,
        };
        Ok(ErrorHandler {
            task,
            connector: config.get("name").cloned().unwrap_or_default(),
            tolerate_all: parsed
                .string(TOLERANCE)
                .ok()
                .flatten()
                .is_some_and(|t| t.eq_ignore_ascii_case("all")),
            retry_timeout: (timeout >= 0).then(|| Duration::from_millis(timeout as u64)),
            retry_delay_max: Duration::from_millis(long(RETRY_DELAY_MAX).max(1) as u64),
            log: boolean(LOG_ENABLE),
            log_messages: boolean(LOG_INCLUDE_MESSAGES),
            dlq: dlq_topic.map(|topic| DeadLetterQueue {
                topic,
                context_headers: boolean(DLQ_CONTEXT_HEADERS),
                log,
                partitions: OnceCell::new(),
                default_partitions,
            }),
        })
    }

    /// Runs `op`, trying again while it fails with a retriable error and
    /// `errors.retry.timeout` allows.
    pub(crate) async fn retry<T>(
        &self,
        mut op: impl FnMut() -> Result<T, ConnectError>,
    ) -> Result<T, ConnectError> {
        // The clock is read from the first failure on: this runs for every record and stage.
        let mut deadline = None;
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            match op() {
                Err(e) if e.is_retriable() => {
                    let now = tokio::time::Instant::now();
                    let deadline =
                        *deadline.get_or_insert_with(|| self.retry_timeout.map(|t| now + t));
                    let wait = match deadline {
                        Some(d) if now >= d => return Err(e),
                        Some(d) => delay.min(d - now),
                        None => delay,
                    };
                    tracing::debug!(task = %self.task, error = %e, ?wait, "retrying a failed operation");
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(self.retry_delay_max);
                }
                other => return other,
            }
        }
    }

    /// Decides about a failed operation: `Ok` means the record is skipped (tolerated,
    /// logged and dead-lettered as configured); `Err` means the task must fail.
    pub(crate) async fn handle(&self, failure: Failure<'_>) -> Result<(), ConnectError> {
        if !self.tolerate_all {
            return Err(match failure.error {
                ConnectError::Data(m) => ConnectError::Data(m.clone()),
                ConnectError::Config(m) => ConnectError::Config(m.clone()),
                other => ConnectError::Other(other.to_string()),
            });
        }
        if self.log {
            let record = failure.record;
            let where_ = record.map_or_else(
                String::new,
                |r| {
                    format!(
                        ", where consumed record is {{topic='{}', partition={}, offset={}, timestamp={}}}",
                        r.topic,
                        r.partition,
                        r.offset,
                        r.timestamp.unwrap_or(-1)
                    )
                },
            );
            let message = if self.log_messages {
                record
                    .map(|r| {
                        format!(
                            "; key={:?}, value={:?}, headers={:?}",
                            r.key.as_deref().map(String::from_utf8_lossy),
                            r.value.as_deref().map(String::from_utf8_lossy),
                            r.headers
                                .iter()
                                .map(|(k, _)| k.as_str())
                                .collect::<Vec<_>>()
                        )
                    })
                    .unwrap_or_default()
            } else {
                String::new()
            };
            tracing::error!(task = %self.task, stage = failure.stage.name(), class = failure.class,
                error = %failure.error,
                "Error encountered in task {}. Executing stage '{}' with class '{}'{where_}{message}.",
                self.task, failure.stage.name(), failure.class);
        }
        if let (Some(dlq), Some(record)) = (&self.dlq, failure.record) {
            self.dead_letter(dlq, &failure, record).await?;
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        dlq: &DeadLetterQueue,
        failure: &Failure<'_>,
        record: &Consumed,
    ) -> Result<(), ConnectError> {
        let log = dlq.log.clone();
        let topic = dlq.topic.clone();
        let partitions = *dlq
            .partitions
            .get_or_try_init(|| async {
                ensure_topic(
                    log.as_ref(),
                    NewTopic {
                        name: topic.to_string(),
                        partitions: dlq.default_partitions,
                        configs: std::collections::BTreeMap::new(),
                    },
                )
                .await
            })
            .await
            .map_err(|e| {
                ConnectError::Other(format!(
                    "creating the dead letter queue topic '{}': {e}",
                    dlq.topic
                ))
            })?;
        let mut headers: Vec<(String, Option<Bytes>)> = record.headers.clone();
        if dlq.context_headers {
            let text = |s: String| Some(Bytes::from(s));
            headers.extend([
                (headers::TOPIC.to_string(), text(record.topic.to_string())),
                (
                    headers::PARTITION.to_string(),
                    text(record.partition.to_string()),
                ),
                (headers::OFFSET.to_string(), text(record.offset.to_string())),
                (headers::CONNECTOR.to_string(), text(self.connector.clone())),
                (
                    headers::TASK.to_string(),
                    text(self.task.rsplit('-').next().unwrap_or("0").to_string()),
                ),
                (
                    headers::STAGE.to_string(),
                    text(failure.stage.name().to_string()),
                ),
                (headers::CLASS.to_string(), text(failure.class.to_string())),
                (
                    headers::EXCEPTION.to_string(),
                    text(java_exception(failure.error).to_string()),
                ),
                (
                    headers::MESSAGE.to_string(),
                    text(failure.error.to_string()),
                ),
                (
                    headers::STACKTRACE.to_string(),
                    text(format!(
                        "{}: {}",
                        java_exception(failure.error),
                        failure.error
                    )),
                ),
            ]);
        }
        let partition = match &record.key {
            Some(k) => partition_for_key(k, partitions) as i32,
            None => 0,
        };
        let now = now_ms();
        let mut batch = RecordBatchBuilder::new(now);
        let header_refs: Vec<(&str, Option<&[u8]>)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        batch.append(
            record.timestamp.unwrap_or(now),
            record.key.as_deref(),
            record.value.as_deref(),
            &header_refs,
        );
        let tp = TopicPartition::new(dlq.topic.clone(), partition);
        dlq.log.append(&tp, batch.finish()).await.map_err(|e| {
            ConnectError::Other(format!(
                "writing to the dead letter queue topic '{}': {e}",
                dlq.topic
            ))
        })?;
        tracing::debug!(task = %self.task, dlq = %dlq.topic, offset = record.offset, "record sent to the dead letter queue");
        Ok(())
    }
}

/// A sink task's errant record reporter: a reported record goes to its task's
/// [`ErrorHandler`] with the bytes it was consumed with (found in the batches of recent
/// fetches), or, if those are gone, serialized again with the connector's converters.
pub(crate) struct ErrantReporter {
    pub(crate) handler: Arc<ErrorHandler>,
    pub(crate) key: Box<dyn Converter>,
    pub(crate) value: Box<dyn Converter>,
    pub(crate) class: String,
    pub(crate) fetched: std::sync::Mutex<RecentFetches>,
}

/// The raw batches of the latest fetches, newest last, up to [`RecentFetches::KEPT_BYTES`]
/// (always the latest fetch): a task that gathers records over several deliveries reports
/// them after later fetches came.
#[derive(Default)]
pub(crate) struct RecentFetches {
    batches: std::collections::VecDeque<(TopicPartition, Bytes)>,
    bytes: usize,
}

impl RecentFetches {
    const KEPT_BYTES: usize = 8 << 20;
}

impl ErrantReporter {
    /// Keeps the batches of a new fetch for the reports that refer to them.
    pub(crate) fn add_fetched(&self, batches: Vec<(TopicPartition, Bytes)>) {
        if batches.is_empty() {
            return;
        }
        let mut recent = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
        let keep = batches.len();
        for (tp, data) in batches {
            recent.bytes += data.len();
            recent.batches.push_back((tp, data));
        }
        while recent.bytes > RecentFetches::KEPT_BYTES && recent.batches.len() > keep {
            if let Some((_, data)) = recent.batches.pop_front() {
                recent.bytes -= data.len();
            }
        }
    }

    fn original(&self, record: &SinkRecord) -> Option<Consumed> {
        let recent = self.fetched.lock().unwrap_or_else(|e| e.into_inner());
        let partition =
            recent.batches.iter().rev().filter(|(tp, _)| {
                tp.partition == record.kafka_partition && tp.topic == record.topic
            });
        for (tp, data) in partition {
            for batch in ferry_broker::record::batches(data.clone()) {
                let batch = batch.ok()?;
                if batch.next_offset() <= record.kafka_offset {
                    continue;
                }
                if batch.base_offset() > record.kafka_offset {
                    break;
                }
                for r in batch.records() {
                    let r = r.ok()?;
                    if r.offset == record.kafka_offset {
                        return Some(crate::worker::sink_consumed(tp, &r));
                    }
                }
            }
        }
        None
    }
}

#[async_trait]
impl ErrantRecordReporter for ErrantReporter {
    async fn report(&self, record: &SinkRecord, error: &ConnectError) -> ferry_api::Result<()> {
        if let Some(consumed) = self.original(record) {
            return self
                .handler
                .handle(Failure {
                    stage: Stage::TaskPut,
                    class: &self.class,
                    error,
                    record: Some(&consumed),
                })
                .await;
        }
        let topic = record.topic.as_ref();
        let consumed = Consumed {
            topic: record.topic.clone(),
            partition: record.kafka_partition,
            offset: record.kafka_offset,
            timestamp: record.timestamp,
            key: self
                .key
                .from_connect(topic, record.key_schema.as_ref(), &record.key)
                .ok()
                .flatten(),
            value: self
                .value
                .from_connect(topic, record.value_schema.as_ref(), &record.value)
                .ok()
                .flatten(),
            headers: record
                .headers
                .iter()
                .map(|h| {
                    let v = match &h.value {
                        Value::Null => None,
                        Value::String(s) => Some(s.as_bytes().clone()),
                        Value::Bytes(b) => Some(b.clone()),
                        other => Some(Bytes::from(ferry_converters::json::to_schemaless_json(
                            other,
                        ))),
                    };
                    (h.key.clone(), v)
                })
                .collect(),
        };
        self.handler
            .handle(Failure {
                stage: Stage::TaskPut,
                class: &self.class,
                error,
                record: Some(&consumed),
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_are_validated() {
        let issues = config_def(ConnectorType::Sink).validate(&map(&[
            ("errors.tolerance", "some"),
            ("errors.retry.timeout", "-2"),
            ("errors.deadletterqueue.topic.replication.factor", "0"),
        ]));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "errors.retry.timeout",
                "errors.tolerance",
                "errors.deadletterqueue.topic.replication.factor"
            ]
        );
        assert!(config_def(ConnectorType::Source).key(DLQ_TOPIC).is_none());
    }

    #[tokio::test]
    async fn retries_until_the_timeout() {
        let log: Arc<dyn Log> = Arc::new(
            crate::log::EmbeddedLog::open(ferry_broker::log::LogConfig::new(
                tempfile::tempdir().unwrap().path(),
            ))
            .unwrap(),
        );
        let handler = ErrorHandler::new(
            ConnectorType::Source,
            &map(&[
                ("name", "c"),
                ("errors.retry.timeout", "500"),
                ("errors.retry.delay.max.ms", "100"),
            ]),
            "c-0".into(),
            log,
            1,
        )
        .unwrap();
        let started = std::time::Instant::now();
        let mut calls = 0;
        let result: Result<(), _> = handler
            .retry(|| {
                calls += 1;
                Err(ConnectError::Retriable("busy".into()))
            })
            .await;
        assert!(result.is_err());
        assert!(
            started.elapsed() >= Duration::from_millis(450),
            "{:?}",
            started.elapsed()
        );
        assert!((4..=8).contains(&calls), "{calls} calls");
        let mut calls = 0;
        let ok = handler
            .retry(|| {
                calls += 1;
                if calls < 2 {
                    Err(ConnectError::Retriable("busy".into()))
                } else {
                    Ok(7)
                }
            })
            .await
            .unwrap();
        assert_eq!(ok, 7);
        // Not tolerated by default: the original error comes back.
        let e = ConnectError::Data("bad".into());
        let err = handler
            .handle(Failure {
                stage: Stage::ValueConverter,
                class: "x",
                error: &e,
                record: None,
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "bad");
    }
}
