//! "The log", as the runtime sees it: one trait, [`Log`], with two implementations: the
//! embedded engine ([`EmbeddedLog`], in-process calls into `ferry-log`, used by standalone
//! mode) and a Kafka-protocol client ([`KafkaLog`], over the network, for distributed mode and
//! any Kafka-compatible cluster, `ferry broker` included). Both pass the same conformance
//! suite ([`conformance`]). [`RetryingLog`] wraps either to ride out a broker that restarts;
//! [`Tail`] follows a topic as it grows (the internal topics in distributed mode).
//!
//! Records travel as encoded Kafka v2 record batches ([`ferry_record`]): a batch is
//! encoded once by the producer side and handed to the log as bytes, and fetched batches are
//! decoded in place.

#[doc(hidden)]
pub mod conformance;
mod embedded;
mod group_offsets;
mod kafka;
mod retry;
mod tail;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::TopicPartition;

pub use embedded::EmbeddedLog;
pub use kafka::{KafkaError, KafkaLog, ProducerConfig};
pub use retry::RetryingLog;
pub use tail::{Tail, TailRecord};

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
    Storage(#[from] ferry_log::Error),
    /// Fetched bytes are not valid record batches.
    #[error(transparent)]
    Record(#[from] ferry_record::Error),
    /// Records could not be encoded or decoded.
    #[error("{0}")]
    Corrupt(String),
    /// A remote broker failed.
    #[error("{0}")]
    Remote(String),
    /// No broker could be reached, or the connection dropped: worth retrying later (a
    /// broker restarting), unlike [`LogError::Remote`].
    #[error("{0}")]
    Unavailable(String),
    /// The group coordinator refused a group membership call; the member should rejoin.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// This log cannot do what was asked (e.g. group membership in the embedded log).
    #[error("{0}")]
    Unsupported(String),
}

/// Answers of the group coordinator that tell a member to rejoin the group (classic
/// group protocol); other refusals are [`LogError::Remote`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// `REBALANCE_IN_PROGRESS`: the group is rebalancing; rejoin with the same member id.
    #[error("group '{group}' is rebalancing; the member must rejoin")]
    RebalanceInProgress {
        /// The group.
        group: String,
    },
    /// `UNKNOWN_MEMBER_ID`: the coordinator does not know the member (its session expired,
    /// or it left); rejoin with an empty member id.
    #[error("group '{group}' has no member '{member}'; it must rejoin with a new member id")]
    UnknownMember {
        /// The group.
        group: String,
        /// The member id used.
        member: String,
    },
    /// `ILLEGAL_GENERATION`: the generation is not the group's current one; rejoin.
    #[error("generation {generation} is not the current generation of group '{group}'")]
    IllegalGeneration {
        /// The group.
        group: String,
        /// The generation used.
        generation: i32,
    },
}

/// One member of a group, as JoinGroup reports the members to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    /// Its member id.
    pub member_id: String,
    /// Its metadata for the chosen protocol.
    pub metadata: Bytes,
}

/// The answer to JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    /// The group's new generation.
    pub generation: i32,
    /// This member's id (assigned by the coordinator on the first join).
    pub member_id: String,
    /// The leader's member id.
    pub leader: String,
    /// The protocol the coordinator chose.
    pub protocol: String,
    /// Every member with its metadata; empty unless this member is the leader.
    pub members: Vec<GroupMember>,
}

impl JoinResult {
    /// Whether this member leads the group (and must compute the assignments).
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader
    }
}

fn no_groups(call: &str) -> LogError {
    LogError::Unsupported(format!(
        "{call}: group membership is unsupported by the embedded log; it needs a Kafka-protocol \
         log (set bootstrap.servers)"
    ))
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

    /// Creates a topic with `replication_factor` replicas per partition (-1: the broker's
    /// default); [`LogError::TopicExists`] if it exists. The default ignores the factor (a
    /// log without replicas, like the embedded one).
    async fn create_topic_replicated(
        &self,
        topic: NewTopic,
        replication_factor: i16,
    ) -> Result<()> {
        let _ = replication_factor;
        self.create_topic(topic).await
    }

    /// Deletes the committed offsets of `group` for `partitions` (Kafka's OffsetDelete), so
    /// that a consumer of the group starts those partitions as if it never committed. A
    /// group or partition without offsets is fine. The default answers
    /// [`LogError::Unsupported`].
    async fn delete_offsets(&self, group: &str, partitions: &[TopicPartition]) -> Result<()> {
        let _ = (group, partitions);
        Err(LogError::Unsupported(
            "deleting consumer group offsets is unsupported by this log".into(),
        ))
    }

    /// Every committed offset of `group` (an OffsetFetch for all partitions). The default
    /// answers [`LogError::Unsupported`].
    async fn group_offsets(&self, group: &str) -> Result<HashMap<TopicPartition, i64>> {
        let _ = group;
        Err(LogError::Unsupported(
            "listing a group's committed offsets is unsupported by this log".into(),
        ))
    }

    /// Joins (or rejoins) `group` with the classic group protocol (JoinGroup): `member_id`
    /// is empty on the first join, and the id from the last [`JoinResult`] on a rejoin;
    /// `protocols` are `(name, metadata)` in preference order. Waits until the coordinator
    /// completes the rebalance (every member rejoined, or `rebalance_timeout` passed), so
    /// the call can take that long. [`GroupError::UnknownMember`] asks for a join with an
    /// empty id. The default (the embedded log) answers [`LogError::Unsupported`].
    async fn join_group(
        &self,
        group: &str,
        protocol_type: &str,
        member_id: &str,
        session_timeout: Duration,
        rebalance_timeout: Duration,
        protocols: &[(String, Bytes)],
    ) -> Result<JoinResult> {
        let _ = (
            group,
            protocol_type,
            member_id,
            session_timeout,
            rebalance_timeout,
            protocols,
        );
        Err(no_groups("JoinGroup"))
    }

    /// Completes a join (SyncGroup): the leader passes every member's assignment as
    /// `(member id, bytes)`, the others pass none; returns this member's assignment. Waits
    /// for the leader's SyncGroup. [`GroupError`] when a new rebalance started meanwhile.
    /// The default answers [`LogError::Unsupported`].
    async fn sync_group(
        &self,
        group: &str,
        generation: i32,
        member_id: &str,
        assignments: &[(String, Bytes)],
    ) -> Result<Bytes> {
        let _ = (group, generation, member_id, assignments);
        Err(no_groups("SyncGroup"))
    }

    /// Keeps the membership alive (Heartbeat; call every `heartbeat.interval.ms`).
    /// [`GroupError::RebalanceInProgress`] means: rejoin now. The default answers
    /// [`LogError::Unsupported`].
    async fn heartbeat(&self, group: &str, generation: i32, member_id: &str) -> Result<()> {
        let _ = (group, generation, member_id);
        Err(no_groups("Heartbeat"))
    }

    /// Leaves the group at once (LeaveGroup), so it rebalances without waiting for the
    /// session to time out. Leaving as a member the coordinator no longer knows succeeds.
    /// The default answers [`LogError::Unsupported`].
    async fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        let _ = (group, member_id);
        Err(no_groups("LeaveGroup"))
    }
}

impl std::fmt::Debug for dyn Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

/// Reads `partition` from `from` (or its start, if later) to its current end, handing each
/// keyed record's key and value (`None` for a tombstone) to `apply`; returns the offset after
/// the last record read. How the internal topics are loaded.
pub async fn read_to_end(
    log: &dyn Log,
    partition: &TopicPartition,
    from: i64,
    mut apply: impl FnMut(Bytes, Option<Bytes>),
) -> Result<i64> {
    read_records_to_end(log, partition, from, |_, key, value| apply(key, value)).await
}

/// [`read_to_end`], also handing over each record's offset.
pub async fn read_records_to_end(
    log: &dyn Log,
    partition: &TopicPartition,
    from: i64,
    mut apply: impl FnMut(i64, Bytes, Option<Bytes>),
) -> Result<i64> {
    let (start, end) = log.offset_range(partition).await?;
    let mut next = from.max(start);
    while next < end {
        let fetched = log
            .fetch(&[(partition.clone(), next)], 1 << 20, Duration::ZERO)
            .await?;
        let Some(f) = fetched.into_iter().next().filter(|f| !f.batches.is_empty()) else {
            break;
        };
        for batch in ferry_record::batches(f.batches) {
            let batch = batch?;
            for record in batch.records() {
                let record = record?;
                if record.offset < next {
                    continue;
                }
                if let Some(key) = record.key {
                    apply(record.offset, key, record.value);
                }
            }
            next = next.max(batch.next_offset());
        }
    }
    Ok(next)
}

/// Creates `topic` unless it exists; returns its partition count. Creating concurrently
/// with another caller is fine.
pub async fn ensure_topic(log: &dyn Log, topic: NewTopic) -> Result<u32> {
    ensure_topic_replicated(log, topic, -1).await
}

/// [`ensure_topic`] with `replication_factor` replicas (-1: the broker's default) when it
/// creates the topic.
pub async fn ensure_topic_replicated(
    log: &dyn Log,
    topic: NewTopic,
    replication_factor: i16,
) -> Result<u32> {
    if let Some(n) = log.partition_count(&topic.name).await? {
        return Ok(n);
    }
    let name = topic.name.clone();
    match log.create_topic_replicated(topic, replication_factor).await {
        Ok(()) | Err(LogError::TopicExists(_)) => {}
        Err(e) => return Err(e),
    }
    log.partition_count(&name)
        .await?
        .ok_or(LogError::UnknownTopic(name))
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use ferry_log::LogConfig;

    #[tokio::test]
    async fn the_embedded_log_has_no_group_membership() {
        let dir = tempfile::tempdir().unwrap();
        let log = EmbeddedLog::open(LogConfig::new(dir.path())).unwrap();
        let joined = log
            .join_group(
                "g",
                "connect",
                "",
                Duration::from_secs(10),
                Duration::from_secs(10),
                &[],
            )
            .await;
        assert!(
            matches!(&joined, Err(LogError::Unsupported(m)) if m.contains("embedded")),
            "{joined:?}"
        );
        assert!(matches!(
            log.heartbeat("g", 1, "m").await,
            Err(LogError::Unsupported(_))
        ));
        assert!(matches!(
            log.sync_group("g", 1, "m", &[]).await,
            Err(LogError::Unsupported(_))
        ));
        assert!(matches!(
            log.leave_group("g", "m").await,
            Err(LogError::Unsupported(_))
        ));
    }
}
