//! The worker config keys of distributed mode, declared once with Kafka Connect's names
//! (`DistributedConfig`), on top of the worker config every mode shares
//! ([`worker_config_def`]).
//!
//! Differences from Kafka Connect (documented for users): the `*.replication.factor`
//! defaults are -1 (the broker's default, so a worker runs out of the box against the
//! single-node `ferry broker`; Kafka Connect's is 3); `bootstrap.servers` must name a
//! broker (there is no embedded log in distributed mode).

use std::time::Duration;

use ferry_api::config::{ConfigIssue, Int, Key, Short, Str, Validator};
use ferry_api::{ConfigDef, ConfigMap, ConfigValue, Importance};

use super::coordinator::GroupSettings;
use super::protocol::ConnectProtocol;
use crate::worker::config::{BOOTSTRAP_SERVERS, WorkerConfig, read, worker_config_def};

pub use crate::worker::config::{DEFAULT_STATUS_PARTITIONS, DEFAULT_STATUS_TOPIC};
/// Default of the `*.replication.factor` keys: the broker's default.
pub const DEFAULT_REPLICATION_FACTOR: i16 = -1;
/// Default of `session.timeout.ms`.
pub const DEFAULT_SESSION_TIMEOUT_MS: i32 = 10_000;
/// Default of `heartbeat.interval.ms`.
pub const DEFAULT_HEARTBEAT_INTERVAL_MS: i32 = 3_000;
/// Default of `rebalance.timeout.ms`.
pub const DEFAULT_REBALANCE_TIMEOUT_MS: i32 = 60_000;
/// Default of `scheduled.rebalance.max.delay.ms`.
pub const DEFAULT_MAX_DELAY_MS: i32 = 300_000;

const GROUP_ID: Key<Str> = Key::required(
    "group.id",
    Importance::High,
    "The group of workers this worker belongs to; workers with the same group.id share connectors and tasks.",
)
.with_validator(Validator::NonEmptyString);
const SESSION_TIMEOUT_MS: Key<Int> = Key::new(
    "session.timeout.ms",
    DEFAULT_SESSION_TIMEOUT_MS,
    Importance::High,
    "A worker that sends no heartbeat for this long is removed from the group and its work reassigned.",
)
.with_validator(Validator::at_least(1.0));
const HEARTBEAT_INTERVAL_MS: Key<Int> = Key::new(
    "heartbeat.interval.ms",
    DEFAULT_HEARTBEAT_INTERVAL_MS,
    Importance::High,
    "How often a worker heartbeats to the group coordinator; below session.timeout.ms (typically a third of it).",
)
.with_validator(Validator::at_least(1.0));
const REBALANCE_TIMEOUT_MS: Key<Int> = Key::new(
    "rebalance.timeout.ms",
    DEFAULT_REBALANCE_TIMEOUT_MS,
    Importance::Medium,
    "How long the coordinator waits for every worker to rejoin during a rebalance.",
)
.with_validator(Validator::at_least(1.0));
const MAX_DELAY_MS: Key<Int> = Key::new(
    "scheduled.rebalance.max.delay.ms",
    DEFAULT_MAX_DELAY_MS,
    Importance::Low,
    "How long the work of a departed worker is held back, waiting for it to return, before it is reassigned. 0 reassigns at once.",
)
.with_validator(Validator::at_least(0.0));
const CONNECT_PROTOCOL: Key<Str> = Key::new(
    "connect.protocol",
    "sessioned",
    Importance::Low,
    "Group protocol: eager (stop-the-world rebalances), compatible or sessioned (incremental cooperative).",
)
.with_validator(Validator::OneOfIgnoreCase(&["eager", "compatible", "sessioned"]));
const CONFIG_REPLICATION_FACTOR: Key<Short> = Key::new(
    "config.storage.replication.factor",
    DEFAULT_REPLICATION_FACTOR,
    Importance::Low,
    "Replication factor of the config topic when the worker creates it; -1: the broker's default (Kafka Connect's default is 3).",
)
.with_validator(Validator::custom("-1 (the broker's default) or at least 1", replication_factor));
const OFFSET_REPLICATION_FACTOR: Key<Short> = Key::new(
    "offset.storage.replication.factor",
    DEFAULT_REPLICATION_FACTOR,
    Importance::Low,
    "Replication factor of the offset topic when the worker creates it; -1: the broker's default (Kafka Connect's default is 3).",
)
.with_validator(Validator::custom("-1 (the broker's default) or at least 1", replication_factor));
const STATUS_REPLICATION_FACTOR: Key<Short> = Key::new(
    "status.storage.replication.factor",
    DEFAULT_REPLICATION_FACTOR,
    Importance::Low,
    "Replication factor of the status topic when the worker creates it; -1: the broker's default (Kafka Connect's default is 3).",
)
.with_validator(Validator::custom("-1 (the broker's default) or at least 1", replication_factor));

fn replication_factor(value: &ConfigValue) -> Result<(), String> {
    match value {
        ConfigValue::Short(-1) => Ok(()),
        ConfigValue::Short(n) if *n >= 1 => Ok(()),
        _ => Err("-1 (the broker's default) or at least 1".into()),
    }
}

/// The keys only distributed mode reads.
pub fn distributed_config_def() -> ConfigDef {
    ConfigDef::new()
        .declare(&GROUP_ID)
        .declare(&SESSION_TIMEOUT_MS)
        .declare(&HEARTBEAT_INTERVAL_MS)
        .declare(&REBALANCE_TIMEOUT_MS)
        .declare(&MAX_DELAY_MS)
        .declare(&CONNECT_PROTOCOL)
        .declare(&CONFIG_REPLICATION_FACTOR)
        .declare(&OFFSET_REPLICATION_FACTOR)
        .declare(&STATUS_REPLICATION_FACTOR)
}

/// A distributed worker's config, parsed and validated.
#[derive(Debug, Clone)]
pub struct DistributedConfig {
    worker: WorkerConfig,
    group: GroupSettings,
    config_replication_factor: i16,
    offset_replication_factor: i16,
    status_replication_factor: i16,
}

impl DistributedConfig {
    /// Parses and validates a worker config for distributed mode; reports every problem
    /// of the keys at once; how keys relate (heartbeat below session timeout, a broker named)
    /// is checked once each key is valid.
    pub fn parse(config: &ConfigMap) -> Result<DistributedConfig, Vec<ConfigIssue>> {
        let def = worker_config_def().merge(&distributed_config_def());
        let parsed = def.parse(config)?;
        let mut issues = Vec::new();
        if read(&parsed, &BOOTSTRAP_SERVERS)?
            .iter()
            .all(|s| s.trim().is_empty())
        {
            issues.push(ConfigIssue {
                key: BOOTSTRAP_SERVERS.to_string(),
                value: None,
                message: "distributed mode needs a broker: name at least one host:port".into(),
            });
        }
        let session = read(&parsed, &SESSION_TIMEOUT_MS)?;
        let heartbeat = read(&parsed, &HEARTBEAT_INTERVAL_MS)?;
        if heartbeat >= session {
            issues.push(ConfigIssue {
                key: HEARTBEAT_INTERVAL_MS.to_string(),
                value: Some(heartbeat.to_string()),
                message: format!("must be below {SESSION_TIMEOUT_MS} ({session})"),
            });
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        // Validators keep these at or above 0.
        let millis = |ms: i32| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        Ok(DistributedConfig {
            group: GroupSettings {
                group_id: read(&parsed, &GROUP_ID)?.to_string(),
                session_timeout: millis(session),
                rebalance_timeout: millis(read(&parsed, &REBALANCE_TIMEOUT_MS)?),
                heartbeat_interval: millis(heartbeat),
                // The validator admits only the protocols' names.
                protocol: ConnectProtocol::from_config(read(&parsed, &CONNECT_PROTOCOL)?)
                    .unwrap_or_default(),
                max_delay: millis(read(&parsed, &MAX_DELAY_MS)?),
            },
            config_replication_factor: read(&parsed, &CONFIG_REPLICATION_FACTOR)?,
            offset_replication_factor: read(&parsed, &OFFSET_REPLICATION_FACTOR)?,
            status_replication_factor: read(&parsed, &STATUS_REPLICATION_FACTOR)?,
            worker: WorkerConfig::parse(config)?,
        })
    }

    /// The config every mode shares.
    pub fn worker(&self) -> &WorkerConfig {
        &self.worker
    }

    /// `group.id`.
    pub fn group_id(&self) -> String {
        self.group.group_id.clone()
    }

    /// `status.storage.topic`.
    pub fn status_topic(&self) -> String {
        self.worker.status_topic()
    }

    /// `status.storage.partitions`.
    pub fn status_partitions(&self) -> u32 {
        self.worker.status_partitions()
    }

    /// `<config|offset|status>.storage.replication.factor` (`store` is `config`, `offset`
    /// or `status`); -1 is the broker's default.
    pub fn replication_factor(&self, store: &str) -> i16 {
        match store {
            "config" => self.config_replication_factor,
            "offset" => self.offset_replication_factor,
            "status" => self.status_replication_factor,
            _ => DEFAULT_REPLICATION_FACTOR,
        }
    }

    /// `connect.protocol`.
    pub fn protocol(&self) -> ConnectProtocol {
        self.group.protocol
    }

    /// The group membership settings.
    pub fn group_settings(&self) -> GroupSettings {
        self.group.clone()
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

    /// Kafka's `connect-distributed.properties`, as shipped.
    const EXAMPLE: &[(&str, &str)] = &[
        ("bootstrap.servers", "localhost:9092"),
        ("group.id", "connect-cluster"),
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("key.converter.schemas.enable", "true"),
        ("value.converter.schemas.enable", "true"),
        ("offset.storage.topic", "connect-offsets"),
        ("offset.storage.replication.factor", "1"),
        ("config.storage.topic", "connect-configs"),
        ("config.storage.replication.factor", "1"),
        ("status.storage.topic", "connect-status"),
        ("status.storage.replication.factor", "1"),
        ("offset.flush.interval.ms", "10000"),
    ];

    #[test]
    fn kafkas_example_config_parses_with_defaults() {
        let c = DistributedConfig::parse(&map(EXAMPLE)).unwrap();
        assert_eq!(c.group_id(), "connect-cluster");
        assert_eq!(c.status_topic(), "connect-status");
        assert_eq!(c.status_partitions(), 5);
        assert_eq!(c.replication_factor("status"), 1);
        assert_eq!(c.protocol(), ConnectProtocol::Sessioned);
        let g = c.group_settings();
        assert_eq!(g.session_timeout, Duration::from_secs(10));
        assert_eq!(g.heartbeat_interval, Duration::from_secs(3));
        assert_eq!(g.rebalance_timeout, Duration::from_secs(60));
        assert_eq!(g.max_delay, Duration::from_secs(300));
        assert_eq!(c.worker().offset_topic(), "connect-offsets");
        assert_eq!(
            c.worker().bootstrap_servers(),
            vec!["localhost:9092".to_string()]
        );
    }

    #[test]
    fn ferry_defaults_and_the_failover_settings() {
        let c = DistributedConfig::parse(&map(&[
            ("bootstrap.servers", "127.0.0.1:9092"),
            ("group.id", "g"),
            ("session.timeout.ms", "1500"),
            ("heartbeat.interval.ms", "300"),
            ("scheduled.rebalance.max.delay.ms", "0"),
            ("connect.protocol", "COMPATIBLE"),
        ]))
        .unwrap();
        assert_eq!(c.replication_factor("config"), -1);
        assert_eq!(c.protocol(), ConnectProtocol::Compatible);
        let g = c.group_settings();
        assert_eq!(g.session_timeout, Duration::from_millis(1500));
        assert_eq!(g.max_delay, Duration::ZERO);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = DistributedConfig::parse(&map(&[
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "1000"),
            ("connect.protocol", "cooperative"),
            ("status.storage.replication.factor", "0"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        for key in [
            "group.id",
            "connect.protocol",
            "status.storage.replication.factor",
        ] {
            assert!(keys.contains(&key), "{key} missing from {issues:?}");
        }
        // Cross-key checks need the keys to parse; check them on their own.
        let issues = DistributedConfig::parse(&map(&[
            ("group.id", "g"),
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "1000"),
        ]))
        .unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert!(keys.contains(&"bootstrap.servers"), "{issues:?}");
        assert!(keys.contains(&"heartbeat.interval.ms"), "{issues:?}");
    }
}
