//! Ferry's log engine: a durable, segmented, partitioned log of Kafka v2 record batches
//! ([`ferry_record`]) in a data directory. The embedded log of `ferry standalone` and the
//! storage of `ferry broker` are both this engine.
//!
//! Layout: `<data_dir>/<topic>-<partition>/<base offset, 20 digits>.log|.index`, topic
//! metadata in `<data_dir>/<topic>.topic.json`, the advisory lock `<data_dir>/.lock` and the
//! clean-shutdown marker `<data_dir>/.clean_shutdown`.
//!
//! Durability: by default nothing is fsynced explicitly (Kafka's default `flush.messages` /
//! `flush.ms`): an acknowledged append survives `kill -9` of the process (the data is in the
//! page cache) but not necessarily a power loss. Set `flush.messages=1` for fsync per append.
//!
//! Indexes: `.index` entries are (batch base offset - segment base, byte position) every
//! `index.interval.bytes`, big-endian u32 pairs as Kafka's (Kafka keys them by the append's
//! last offset; the base offset makes lookups land on the containing batch directly).
//! `.timeindex` entries are (largest timestamp before that batch, relative offset). Both are
//! kept in memory, written on roll / flush / close, and rebuilt from the log when missing or
//! inconsistent (entries beyond the log, non-monotonic, sizes that disagree).
//!
//! Recovery on open: every segment's index is checked; the last segment is verified from its
//! last index entry to the end (length, magic, CRC, base offsets contiguous) and truncated at
//! the first torn or corrupt batch, with a `warn!` naming the file and byte position. If the
//! batch at that index entry is itself bad, the whole segment is rescanned. Older segments are
//! not CRC-checked on open (Kafka checks from its recovery point; without explicit fsyncs the
//! OS's writeback is the only recovery point there is). The clean-shutdown marker only
//! records that `close()` ran; the tail check is cheap and runs either way.
//!
//! Recovery time: the active segment's index reaches its file only on roll, `flush()` and
//! `close()` (not on `flush.messages` / `flush.ms` fsyncs), so after `kill -9` the active
//! segment is CRC-checked from its start: time proportional to the active segment (at most
//! `segment.bytes`), not to the whole log. Measured in `tests/bench/log_engine.sh`.
//!
//! Topic metadata (`<topic>.topic.json`: name, partitions, configs and a CRC-32C of them) is
//! written to a temp file, fsynced and renamed, so a crash cannot leave it half-written. A
//! file damaged otherwise (unreadable, bad JSON, checksum mismatch, invalid values) does not
//! stop the data directory from opening: the topic is left out, listed by
//! [`LogManager::damaged_topics`], answered with [`Error::CorruptMetadata`]
//! naming the file, and its partition directories are not touched (no recovery, retention
//! or compaction runs on them; `create_topic` refuses the name), so repairing the file brings
//! back every batch. A file without a checksum (hand-repaired) is accepted if it is valid.
//!
//! Background work (thread `ferry-log-maintenance`): `flush.ms`, retention
//! (`retention.ms` by the newest record of a segment, `retention.bytes`; whole non-active
//! segments, oldest first) and compaction (`cleanup.policy=compact`, see `cleaner`).

mod cleaner;
mod config;
mod error;
mod manager;
mod partition;
mod segment;

pub use error::{Error, Result};

pub use config::{
    CleanupPolicy, DEFAULT_DELETE_RETENTION_MS, DEFAULT_INDEX_INTERVAL_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RETENTION_CHECK_INTERVAL, DEFAULT_RETENTION_MS,
    DEFAULT_SEGMENT_BYTES, DEFAULT_SEGMENT_MS, KNOWN_TOPIC_CONFIGS, LogConfig, TopicConfig,
};
pub use manager::{DamagedTopic, LogManager, MAX_PARTITIONS, TopicMetadata, validate_topic_name};
pub use partition::{AppendInfo, OffsetSpec, PartitionLog, ReadInfo, ReadResult, TimestampOffset};
