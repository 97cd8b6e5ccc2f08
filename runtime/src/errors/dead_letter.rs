//! The dead letter queue of a sink task (`errors.deadletterqueue.*`): failed records are
//! appended, as they were consumed, to a topic created on first use, optionally with Kafka's
//! `__connect.errors.*` headers saying where they came from and why they failed.

use std::sync::Arc;

use bytes::Bytes;
use ferry_api::{ConnectError, TopicPartition};
use ferry_record::{RecordBatchBuilder, now_ms, partition_for_key};
use tokio::sync::OnceCell;

use super::failure::{Consumed, Failure, java_exception};
use crate::log::{Log, NewTopic, ensure_topic};

/// Kafka's DLQ context header names.
mod headers {
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

pub(super) struct DeadLetterQueue {
    topic: Arc<str>,
    context_headers: bool,
    log: Arc<dyn Log>,
    partitions: OnceCell<u32>,
    default_partitions: u32,
}

impl DeadLetterQueue {
    pub(super) fn new(
        topic: Arc<str>,
        context_headers: bool,
        log: Arc<dyn Log>,
        default_partitions: u32,
    ) -> DeadLetterQueue {
        DeadLetterQueue {
            topic,
            context_headers,
            log,
            partitions: OnceCell::new(),
            default_partitions,
        }
    }

    /// The topic's name.
    pub(super) fn topic(&self) -> &Arc<str> {
        &self.topic
    }

    /// Appends `record` as it was consumed, with the context headers when asked for.
    pub(super) async fn write(
        &self,
        task: &str,
        connector: &str,
        failure: &Failure<'_>,
        consumed: &Consumed,
    ) -> Result<(), ConnectError> {
        let dlq = self;
        let record = &consumed.record;
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
                (headers::TOPIC.to_string(), text(consumed.topic.to_string())),
                (
                    headers::PARTITION.to_string(),
                    text(consumed.partition.to_string()),
                ),
                (
                    headers::OFFSET.to_string(),
                    text(consumed.offset.to_string()),
                ),
                (headers::CONNECTOR.to_string(), text(connector.to_string())),
                (
                    headers::TASK.to_string(),
                    text(task.rsplit('-').next().unwrap_or("0").to_string()),
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
        tracing::debug!(task, dlq = %dlq.topic, offset = consumed.offset, "record sent to the dead letter queue");
        Ok(())
    }
}
