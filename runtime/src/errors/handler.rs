//! A task's error policy (Kafka's `RetryWithToleranceOperator`): retries with backoff, then
//! tolerate (log, dead-letter) or fail.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{ConfigMap, ConnectError, ConnectorType};

use super::config::{
    DLQ_CONTEXT_HEADERS, DLQ_TOPIC, LOG_ENABLE, LOG_INCLUDE_MESSAGES, RETRY_DELAY_MAX,
    RETRY_TIMEOUT, TOLERANCE, config_def,
};
use super::dead_letter::DeadLetterQueue;
use super::failure::Failure;
use crate::log::Log;

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
            .field("dlq", &self.dlq.as_ref().map(|d| d.topic().clone()))
            .finish_non_exhaustive()
    }
}

/// The first pause between retries (Kafka's `RetryWithToleranceOperator`).
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(300);

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
        let timeout = parsed.value(&RETRY_TIMEOUT)?;
        let dlq_topic = match kind {
            ConnectorType::Sink => Some(parsed.value(&DLQ_TOPIC)?.trim())
                .filter(|t| !t.is_empty())
                .map(Arc::<str>::from),
            ConnectorType::Source => None,
        };
        let dlq = match dlq_topic {
            Some(topic) => Some(DeadLetterQueue::new(
                topic,
                parsed.value(&DLQ_CONTEXT_HEADERS)?,
                log,
                default_partitions,
            )),
            None => None,
        };
        Ok(ErrorHandler {
            task,
            connector: config.get("name").cloned().unwrap_or_default(),
            tolerate_all: parsed.value(&TOLERANCE)?.eq_ignore_ascii_case("all"),
            retry_timeout: (timeout >= 0).then(|| Duration::from_millis(timeout as u64)),
            retry_delay_max: Duration::from_millis(parsed.value(&RETRY_DELAY_MAX)?.max(1) as u64),
            log: parsed.value(&LOG_ENABLE)?,
            log_messages: parsed.value(&LOG_INCLUDE_MESSAGES)?,
            dlq,
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
                        r.record.timestamp.unwrap_or(-1)
                    )
                },
            );
            let message = if self.log_messages {
                record
                    .map(|r| {
                        format!(
                            "; key={:?}, value={:?}, headers={:?}",
                            r.record.key.as_deref().map(String::from_utf8_lossy),
                            r.record.value.as_deref().map(String::from_utf8_lossy),
                            r.record
                                .headers
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
            dlq.write(&self.task, &self.connector, &failure, record)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{Consumed, Stage};
    use bytes::Bytes;
    use ferry_api::TopicPartition;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn retries_until_the_timeout() {
        let log: Arc<dyn Log> = Arc::new(
            crate::log::EmbeddedLog::open(ferry_log::LogConfig::new(
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

    #[tokio::test]
    async fn dead_letters_carry_the_record_and_kafkas_context_headers() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> =
            Arc::new(crate::log::EmbeddedLog::open(ferry_log::LogConfig::new(dir.path())).unwrap());
        let record = Consumed {
            topic: Arc::from("orders"),
            partition: 2,
            offset: 41,
            record: ferry_api::ConsumedRecord {
                timestamp: Some(1_700_000_000_000),
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"{not json")),
                headers: vec![("h".into(), Some(Bytes::from_static(b"x")))],
            },
        };
        let error = ConnectError::Data("bad value".into());
        for (dlq, context) in [("dlq-context", "true"), ("dlq-plain", "false")] {
            let handler = ErrorHandler::new(
                ConnectorType::Sink,
                &map(&[
                    ("name", "my-sink"),
                    ("errors.tolerance", "all"),
                    ("errors.deadletterqueue.topic.name", dlq),
                    ("errors.deadletterqueue.context.headers.enable", context),
                ]),
                "my-sink-3".into(),
                log.clone(),
                1,
            )
            .unwrap();
            handler
                .handle(Failure {
                    stage: Stage::ValueConverter,
                    class: "org.apache.kafka.connect.json.JsonConverter",
                    error: &error,
                    record: Some(&record),
                })
                .await
                .unwrap();
        }
        let read = |topic: &'static str| {
            let log = log.clone();
            async move {
                let fetched = log
                    .fetch(
                        &[(TopicPartition::new(topic, 0), 0)],
                        1 << 20,
                        Duration::ZERO,
                    )
                    .await
                    .unwrap();
                let batch = ferry_record::batches(fetched[0].batches.clone())
                    .next()
                    .unwrap()
                    .unwrap();
                batch.records().next().unwrap().unwrap()
            }
        };
        let header_text = |r: &ferry_record::Record| -> Vec<(String, String)> {
            r.headers
                .iter()
                .map(|h| {
                    (
                        h.key_str().unwrap().to_string(),
                        String::from_utf8(h.value.unwrap().to_vec()).unwrap(),
                    )
                })
                .collect()
        };
        let with = read("dlq-context").await;
        assert_eq!(with.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(with.value.as_deref(), Some(&b"{not json"[..]));
        assert_eq!(with.timestamp, 1_700_000_000_000);
        let expected: Vec<(String, String)> = [
            ("h", "x"),
            ("__connect.errors.topic", "orders"),
            ("__connect.errors.partition", "2"),
            ("__connect.errors.offset", "41"),
            ("__connect.errors.connector.name", "my-sink"),
            ("__connect.errors.task.id", "3"),
            ("__connect.errors.stage", "VALUE_CONVERTER"),
            (
                "__connect.errors.class.name",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "__connect.errors.exception.class.name",
                "org.apache.kafka.connect.errors.DataException",
            ),
            ("__connect.errors.exception.message", "bad value"),
            (
                "__connect.errors.exception.stacktrace",
                "org.apache.kafka.connect.errors.DataException: bad value",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(header_text(&with), expected);
        let plain = read("dlq-plain").await;
        assert_eq!(header_text(&plain), expected[..1]);
        assert_eq!(plain.value.as_deref(), Some(&b"{not json"[..]));
        assert_eq!(
            [
                Stage::KeyConverter.name(),
                Stage::ValueConverter.name(),
                Stage::TaskPut.name()
            ],
            ["KEY_CONVERTER", "VALUE_CONVERTER", "TASK_PUT"]
        );
    }
}
