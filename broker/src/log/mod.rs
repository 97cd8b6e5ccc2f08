//! A durable, segmented, partitioned log in a data directory.
//!
//! Layout: `<data_dir>/<topic>-<partition>/<base offset, 20 digits>.log|.index`, topic
//! metadata in `<data_dir>/<topic>.topic.json`, the advisory lock `<data_dir>/.lock` and the
//! clean-shutdown marker `<data_dir>/.clean_shutdown`.
//!
//! Durability: by default nothing is fsynced explicitly (Kafka's default `flush.messages` /
//! `flush.ms`): an acknowledged append survives `kill -9` of the process (the data is in the
//! page cache) but not necessarily a power loss. Set `flush.messages=1` for fsync per append.

mod cleaner;
mod config;
mod manager;
mod partition;
mod segment;

pub use config::{
    CleanupPolicy, DEFAULT_DELETE_RETENTION_MS, DEFAULT_INDEX_INTERVAL_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RETENTION_CHECK_INTERVAL, DEFAULT_RETENTION_MS,
    DEFAULT_SEGMENT_BYTES, DEFAULT_SEGMENT_MS, KNOWN_TOPIC_CONFIGS, LogConfig, TopicConfig,
};
pub use manager::{LogManager, MAX_PARTITIONS, TopicMetadata, validate_topic_name};
pub use partition::{AppendInfo, OffsetSpec, PartitionLog, ReadResult, TimestampOffset};
