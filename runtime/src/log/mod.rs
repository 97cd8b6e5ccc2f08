//! "The log", as the runtime sees it: one trait, [`Log`], with two implementations, the
//! embedded engine ([`EmbeddedLog`], in-process calls into `ferry-broker`, used by
//! standalone mode) and, later, a Kafka-protocol client (network, for distributed mode and
//! for any Kafka-compatible cluster). Both pass the same tests.
//!
//! Records travel as encoded Kafka v2 record batches ([`ferry_broker::record`]): a batch is
//! encoded once by the producer side and handed to the log as bytes, and fetched batches are
//! decoded in place.

#[doc(hidden)]
pub mod conformance;
mod embedded;
mod group_offsets;
mod kafka;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::TopicPartition;

pub use embedded::EmbeddedLog;
pub(crate) use embedded::now_ms;
pub use kafka::{KafkaError, KafkaLog};

/// Errors of [`Log`] calls. Messages name the topic, partition and offset involved.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The topic does not exist.
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),
    /// The topic exists already.
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    /// The offset is not in the partition's log.
    #[error(
        "offset {offset} is out of range for {partition} (log starts at {log_start}, ends at {log_end})"
    )]
    OffsetOutOfRange {
        /// The partition.
        partition: TopicPartition,
        /// The offset asked for.
        offset: i64,
        /// First offset in the log.
        log_start: i64,
        /// Next offset to be written.
        log_end: i64,
    },
    /// The storage engine failed.
    #[error(transparent)]
    Storage(#[from] ferry_broker::Error),
    /// Records could not be encoded or decoded.
    #[error("{0}")]
    Corrupt(String),
    /// A remote broker failed or could not be reached.
    #[error("{0}")]
    Remote(String),
}

/// `Result` with [`LogError`].
pub type Result<T, E = LogError> = std::result::Result<T, E>;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Number of partitions.
    pub partitions: u32,
    /// Topic configs with Kafka's names (`cleanup.policy`, `retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

/// The data fetched from one partition.
#[derive(Debug, Clone)]
pub struct FetchedPartition {
    /// The partition.
    pub partition: TopicPartition,
    /// Whole record batches; the first contains the requested offset. Empty when nothing
    /// new arrived within the wait.
    pub batches: Bytes,
    /// The offset after the last record in the partition.
    pub high_watermark: i64,
    /// The first offset in the partition.
    pub log_start_offset: i64,
}

/// The durable, partitioned log the runtime reads and writes.
#[async_trait]
pub trait Log: Send + Sync + 'static {
    /// Creates a topic; [`LogError::TopicExists`] if it exists.
    async fn create_topic(&self, topic: NewTopic) -> Result<()>;

    /// The number of partitions of `topic`, `None` if it does not exist.
    async fn partition_count(&self, topic: &str) -> Result<Option<u32>>;

    /// The names of all topics.
    async fn topics(&self) -> Result<Vec<String>>;

    /// Appends encoded record batches to a partition once they are durable (per the log's
    /// flush policy); returns the offset assigned to the first record.
    async fn append(&self, partition: &TopicPartition, batches: Bytes) -> Result<i64>;

    /// Fetches whole batches from each `(partition, offset)`, at most about `max_bytes` per
    /// partition; waits up to `max_wait` when none of them has data yet.
    async fn fetch(
        &self,
        partitions: &[(TopicPartition, i64)],
        max_bytes: usize,
        max_wait: Duration,
    ) -> Result<Vec<FetchedPartition>>;

    /// The first offset and the next offset to be written of a partition.
    async fn offset_range(&self, partition: &TopicPartition) -> Result<(i64, i64)>;

    /// Commits consumer-group offsets (the next offset to consume per partition).
    async fn commit_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()>;

    /// The committed offsets of `group` for `partitions` (absent when never committed).
    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>>;

    /// Flushes and closes the log; later calls fail.
    async fn close(&self) -> Result<()>;
}

/// Creates `topic` unless it exists; returns its partition count. Creating concurrently
/// with another caller is fine.
pub async fn ensure_topic(log: &dyn Log, topic: NewTopic) -> Result<u32> {
    if let Some(n) = log.partition_count(&topic.name).await? {
        return Ok(n);
    }
    let name = topic.name.clone();
    match log.create_topic(topic).await {
        Ok(()) | Err(LogError::TopicExists(_)) => {}
        Err(e) => return Err(e),
    }
    log.partition_count(&name)
        .await?
        .ok_or(LogError::UnknownTopic(name))
}
