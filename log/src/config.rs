//! Log configuration: broker-wide defaults and per-topic overrides with Kafka's names.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Kafka's `log.segment.bytes` default: 1 GiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
/// Kafka's `index.interval.bytes` default.
pub const DEFAULT_INDEX_INTERVAL_BYTES: u32 = 4096;
/// Kafka's `max.message.bytes` default (largest batch accepted by an append).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;
/// Kafka's `retention.ms` / `segment.ms` default: 7 days.
pub const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka's `segment.ms` default: 7 days.
pub const DEFAULT_SEGMENT_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Kafka's `delete.retention.ms` default: 1 day.
pub const DEFAULT_DELETE_RETENTION_MS: u64 = 24 * 60 * 60 * 1000;
/// Kafka's `log.retention.check.interval.ms` default: 5 minutes.
pub const DEFAULT_RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(300);

/// `cleanup.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanupPolicy {
    /// `delete`: old segments are removed by `retention.ms` / `retention.bytes`.
    pub delete: bool,
    /// `compact`: only the latest record per key is kept.
    pub compact: bool,
}

impl CleanupPolicy {
    /// `cleanup.policy=delete`, Kafka's default.
    pub const DELETE: CleanupPolicy = CleanupPolicy {
        delete: true,
        compact: false,
    };
    /// `cleanup.policy=compact`, as Kafka Connect's internal topics use.
    pub const COMPACT: CleanupPolicy = CleanupPolicy {
        delete: false,
        compact: true,
    };
}

/// Settings of one topic's log. Broker defaults live in [`LogConfig::defaults`]; each topic
/// may override them at creation with Kafka's topic config names (see
/// [`TopicConfig::with_overrides`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    /// `segment.bytes`: roll the active segment when an append would take it past this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment when its first batch is older than this.
    pub segment_ms: u64,
    /// `index.interval.bytes`: bytes between two sparse offset index entries.
    pub index_interval_bytes: u32,
    /// `flush.messages`: fsync after this many messages (batches here). `None`, the default,
    /// never fsyncs explicitly and relies on the OS, as Kafka does by default; durability
    /// against power loss then comes from the OS writeback, not from the append.
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync when the oldest unflushed append is this old. `None`: never (default).
    pub flush_ms: Option<u64>,
    /// `retention.ms`: delete segments whose newest record is older. `None` = unlimited (-1).
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete oldest segments while the log is larger. `None` = unlimited.
    pub retention_bytes: Option<u64>,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms`: records younger than this are not compacted.
    pub min_compaction_lag_ms: u64,
    /// `max.message.bytes`: largest batch an append accepts.
    pub max_message_bytes: usize,
}

impl Default for TopicConfig {
    fn default() -> Self {
        TopicConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: DEFAULT_SEGMENT_MS,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
            flush_messages: None,
            flush_ms: None,
            retention_ms: Some(DEFAULT_RETENTION_MS),
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::DELETE,
            delete_retention_ms: DEFAULT_DELETE_RETENTION_MS,
            min_compaction_lag_ms: 0,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

/// Kafka topic config names that are accepted and stored; the ones not listed in
/// [`TopicConfig`] have no effect on a single-node log (replication, remote storage, ...).
pub const KNOWN_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.format.version",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "expected a number"))
}

/// -1 means unlimited/never, any other negative is invalid.
fn parse_optional(key: &str, value: &str) -> Result<Option<u64>> {
    let v: i64 = parse_num(key, value)?;
    match v {
        -1 => Ok(None),
        v if v >= 0 => Ok(Some(v as u64)),
        _ => Err(invalid(key, value, "expected -1 or a non-negative number")),
    }
}

impl TopicConfig {
    /// These defaults with Kafka-named overrides applied. Unknown keys and bad values are
    /// refused, naming the key, the value and what was expected.
    pub fn with_overrides(&self, configs: &BTreeMap<String, String>) -> Result<TopicConfig> {
        let mut c = self.clone();
        for (key, value) in configs {
            let k = key.as_str();
            match k {
                "segment.bytes" => {
                    let v: u64 = parse_num(k, value)?;
                    if !(14..=i32::MAX as u64).contains(&v) {
                        return Err(invalid(k, value, "expected 14..=2147483647"));
                    }
                    c.segment_bytes = v;
                }
                "segment.ms" => {
                    let v: u64 = parse_num(k, value)?;
                    if v == 0 {
                        return Err(invalid(k, value, "expected at least 1"));
                    }
                    c.segment_ms = v;
                }
                "index.interval.bytes" => c.index_interval_bytes = parse_num(k, value)?,
                "flush.messages" => {
                    // Kafka's "never" is Long.MAX_VALUE; accept -1 too.
                    c.flush_messages = parse_optional(k, value)?.filter(|&v| v != i64::MAX as u64);
                    if c.flush_messages == Some(0) {
                        return Err(invalid(k, value, "expected at least 1"));
                    }
                }
                "flush.ms" => {
                    c.flush_ms = parse_optional(k, value)?.filter(|&v| v != i64::MAX as u64)
                }
                "retention.ms" => c.retention_ms = parse_optional(k, value)?.map(|v| v as i64),
                "retention.bytes" => c.retention_bytes = parse_optional(k, value)?,
                "delete.retention.ms" => c.delete_retention_ms = parse_num(k, value)?,
                "min.compaction.lag.ms" => c.min_compaction_lag_ms = parse_num(k, value)?,
                "max.message.bytes" => {
                    let v: usize = parse_num(k, value)?;
                    if v == 0 {
                        return Err(invalid(k, value, "expected at least 1"));
                    }
                    c.max_message_bytes = v;
                }
                "cleanup.policy" => {
                    let mut p = CleanupPolicy::default();
                    for part in value.split(',').map(str::trim) {
                        match part {
                            "delete" => p.delete = true,
                            "compact" => p.compact = true,
                            _ => {
                                return Err(invalid(
                                    k,
                                    value,
                                    "expected delete, compact or compact,delete",
                                ));
                            }
                        }
                    }
                    c.cleanup_policy = p;
                }
                _ if KNOWN_TOPIC_CONFIGS.contains(&k) => {}
                _ => return Err(invalid(k, value, "unknown topic config")),
            }
        }
        Ok(c)
    }
}

/// Configuration of a [`LogManager`](super::LogManager).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// The data directory (`data.dir`); created if missing, locked while open.
    pub data_dir: PathBuf,
    /// Defaults for every topic (Kafka's `log.*` broker settings).
    pub defaults: TopicConfig,
    /// How often the background thread checks retention, compaction and `flush.ms`
    /// (`log.retention.check.interval.ms`).
    pub retention_check_interval: Duration,
}

impl LogConfig {
    /// Kafka's defaults for everything, in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LogConfig {
            data_dir: data_dir.into(),
            defaults: TopicConfig::default(),
            retention_check_interval: DEFAULT_RETENTION_CHECK_INTERVAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn overrides() {
        let c = TopicConfig::default()
            .with_overrides(&map(&[
                ("cleanup.policy", "compact,delete"),
                ("segment.bytes", "1024"),
                ("retention.ms", "-1"),
                ("flush.messages", "1"),
                ("min.insync.replicas", "2"),
            ]))
            .unwrap();
        assert!(c.cleanup_policy.compact && c.cleanup_policy.delete);
        assert_eq!(c.segment_bytes, 1024);
        assert_eq!(c.retention_ms, None);
        assert_eq!(c.flush_messages, Some(1));
    }

    #[test]
    fn bad_values_name_key_and_value() {
        let e = TopicConfig::default()
            .with_overrides(&map(&[("segment.bytes", "big")]))
            .unwrap_err();
        assert!(e.to_string().contains("segment.bytes=big"), "{e}");
        let e = TopicConfig::default()
            .with_overrides(&map(&[("no.such.key", "1")]))
            .unwrap_err();
        assert!(e.to_string().contains("unknown topic config"), "{e}");
        assert!(
            TopicConfig::default()
                .with_overrides(&map(&[("cleanup.policy", "keep")]))
                .is_err()
        );
    }
}
