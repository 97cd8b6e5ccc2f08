//! The worker's config and the config every connector shares, declared once each with
//! Kafka Connect's names.

use std::path::PathBuf;
use std::time::Duration;

use ferry_api::config::{ConfigIssue, Default, Validator};
use ferry_api::{ConfigDef, ConfigMap, ConfigType, ConfigValue, Importance, ParsedConfig};

/// Default converter class when neither the worker nor the connector names one.
pub const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Default of `status.storage.topic`.
pub const DEFAULT_STATUS_TOPIC: &str = "connect-status";
/// Default of `status.storage.partitions`.
pub const DEFAULT_STATUS_PARTITIONS: i32 = 5;

/// The worker config (`connect-standalone.properties` and friends).
pub fn worker_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            "bootstrap.servers",
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::High,
            "Kafka-compatible brokers to use instead of the embedded log. Empty: standalone uses its embedded log in data.dir.",
        )
        .define(
            "data.dir",
            ConfigType::String,
            Default::Value(ConfigValue::String("./ferry-data".into())),
            Importance::High,
            "Directory of the embedded log (standalone). Locked by one process at a time.",
        )
        .with_validator(Validator::NonEmptyString)
        .define(
            "key.converter",
            ConfigType::Class,
            Default::Value(ConfigValue::Class(DEFAULT_CONVERTER.into())),
            Importance::High,
            "Converter class for record keys; its own settings use the prefix key.converter. (Kafka Connect requires it; Ferry defaults to JsonConverter.)",
        )
        .define(
            "value.converter",
            ConfigType::Class,
            Default::Value(ConfigValue::Class(DEFAULT_CONVERTER.into())),
            Importance::High,
            "Converter class for record values; its own settings use the prefix value.converter. (Kafka Connect requires it; Ferry defaults to JsonConverter.)",
        )
        .define(
            "offset.storage.file.filename",
            ConfigType::String,
            Default::Null,
            Importance::Medium,
            "Standalone: file that keeps source offsets. Unset: offsets live in offset.storage.topic of the log. Ferry's own format, not Java serialization.",
        )
        .define(
            "offset.storage.topic",
            ConfigType::String,
            Default::Value(ConfigValue::String("connect-offsets".into())),
            Importance::Medium,
            "Compacted topic that keeps source offsets.",
        )
        .with_validator(Validator::NonEmptyString)
        .define(
            "config.storage.topic",
            ConfigType::String,
            Default::Value(ConfigValue::String("connect-configs".into())),
            Importance::Medium,
            "Compacted one-partition topic that keeps connector configs, task configs and target states.",
        )
        .with_validator(Validator::NonEmptyString)
        .define(
            "status.storage.topic",
            ConfigType::String,
            Default::Value(ConfigValue::String(DEFAULT_STATUS_TOPIC.into())),
            Importance::High,
            "Compacted topic that keeps connector and task statuses (distributed) and the topics each connector uses (KIP-558, every mode).",
        )
        .with_validator(Validator::NonEmptyString)
        .define(
            "status.storage.partitions",
            ConfigType::Int,
            Default::Value(ConfigValue::Int(DEFAULT_STATUS_PARTITIONS)),
            Importance::Low,
            "Partitions of the status topic when the worker creates it.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "rest.advertised.listener",
            ConfigType::String,
            Default::Null,
            Importance::Low,
            "Scheme other workers and clients use for this worker's REST API (only http is served).",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["http"]))
        .define(
            "rest.advertised.host.name",
            ConfigType::String,
            Default::Null,
            Importance::Low,
            "Host name other workers and clients use for this worker's REST API.",
        )
        .define(
            "rest.advertised.port",
            ConfigType::Int,
            Default::Null,
            Importance::Low,
            "Port other workers and clients use for this worker's REST API.",
        )
        .define(
            "offset.storage.partitions",
            ConfigType::Int,
            Default::Value(ConfigValue::Int(25)),
            Importance::Low,
            "Partitions of the offset topic when the worker creates it.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "offset.flush.interval.ms",
            ConfigType::Long,
            Default::Value(ConfigValue::Long(60_000)),
            Importance::Low,
            "How often source offsets are committed and sink tasks flushed.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "offset.flush.timeout.ms",
            ConfigType::Long,
            Default::Value(ConfigValue::Long(5_000)),
            Importance::Low,
            "How long a commit of source offsets may wait for outstanding records.",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            "task.shutdown.graceful.timeout.ms",
            ConfigType::Long,
            Default::Value(ConfigValue::Long(5_000)),
            Importance::Low,
            "How long shutdown waits for each task to stop.",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            "producer.batch.size",
            ConfigType::Int,
            Default::Value(ConfigValue::Int(16_384)),
            Importance::Low,
            "Largest record batch, in bytes, the worker's producer builds (Kafka's batch.size).",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "producer.linger.ms",
            ConfigType::Long,
            Default::Value(ConfigValue::Long(5)),
            Importance::Low,
            "How long an append to a Kafka cluster (bootstrap.servers) waits for others to share \
             its Produce request (Kafka's linger.ms; its default since Kafka 4.0).",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            "producer.enable.idempotence",
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(true)),
            Importance::Low,
            "Appends to a Kafka cluster (bootstrap.servers) carry a producer id and sequence \
             numbers, so that a retried append is never written twice (Kafka's \
             enable.idempotence).",
        )
        .define(
            "consumer.max.partition.fetch.bytes",
            ConfigType::Int,
            Default::Value(ConfigValue::Int(1_048_576)),
            Importance::Low,
            "Most bytes a sink task fetches from one partition at a time.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "num.partitions",
            ConfigType::Int,
            Default::Value(ConfigValue::Int(1)),
            Importance::Low,
            "Partitions of topics created on first use (the embedded broker's auto.create.topics.enable).",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "listeners",
            ConfigType::List,
            Default::Value(ConfigValue::List(vec!["http://127.0.0.1:8083".into()])),
            Importance::Low,
            "REST listeners.",
        )
        .define(
            "plugin.path",
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Low,
            "Accepted for compatibility; Ferry's plugins are built in.",
        )
}

/// The worker config, parsed.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    parsed: ParsedConfig,
}

impl WorkerConfig {
    /// Parses and validates a worker config.
    pub fn parse(config: &ConfigMap) -> Result<WorkerConfig, Vec<ConfigIssue>> {
        Ok(WorkerConfig {
            parsed: worker_config_def().parse(config)?,
        })
    }

    /// The map it came from.
    pub fn originals(&self) -> &ConfigMap {
        self.parsed.originals()
    }

    fn string(&self, key: &str) -> Option<String> {
        self.parsed.string(key).ok().flatten().map(str::to_string)
    }
    fn long(&self, key: &str) -> i64 {
        self.parsed.long(key).ok().flatten().unwrap_or(0)
    }

    /// `bootstrap.servers`; empty for the embedded log.
    pub fn bootstrap_servers(&self) -> Vec<String> {
        self.parsed
            .list("bootstrap.servers")
            .ok()
            .flatten()
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }
    /// `data.dir`.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(
            self.string("data.dir")
                .unwrap_or_else(|| "./ferry-data".into()),
        )
    }
    /// `key.converter` or `value.converter` class and its prefixed settings.
    pub fn converter(&self, is_key: bool) -> (String, ConfigMap) {
        let key = if is_key {
            "key.converter"
        } else {
            "value.converter"
        };
        (
            self.string(key).unwrap_or_else(|| DEFAULT_CONVERTER.into()),
            self.parsed.originals_with_prefix(&format!("{key}.")),
        )
    }
    /// `offset.storage.file.filename`.
    pub fn offset_file(&self) -> Option<PathBuf> {
        self.string("offset.storage.file.filename")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    }
    /// `offset.storage.topic`.
    pub fn offset_topic(&self) -> String {
        self.string("offset.storage.topic")
            .unwrap_or_else(|| "connect-offsets".into())
    }
    /// `config.storage.topic`.
    pub fn config_topic(&self) -> String {
        self.string("config.storage.topic")
            .unwrap_or_else(|| "connect-configs".into())
    }
    /// The REST listeners (`listeners`).
    pub fn listeners(&self) -> Vec<String> {
        self.parsed
            .list("listeners")
            .ok()
            .flatten()
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    }
    /// This worker's id, `host:port` of its advertised REST address, as Kafka Connect's.
    pub fn worker_id(&self) -> String {
        let url = self.advertised_url();
        url.split_once("://")
            .map_or(url.as_str(), |(_, rest)| rest)
            .trim_end_matches('/')
            .to_string()
    }
    /// `status.storage.topic`.
    pub fn status_topic(&self) -> String {
        self.string("status.storage.topic")
            .unwrap_or_else(|| DEFAULT_STATUS_TOPIC.into())
    }
    /// `status.storage.partitions`.
    pub fn status_partitions(&self) -> u32 {
        self.long("status.storage.partitions").max(1) as u32
    }
    /// The URL other workers and clients use for this worker's REST API, as Kafka
    /// Connect's `RestServer.advertisedUrl`: `rest.advertised.listener`,
    /// `rest.advertised.host.name` and `rest.advertised.port` where set, the first listener
    /// otherwise (a listener on all interfaces advertises the machine's host name).
    pub fn advertised_url(&self) -> String {
        let first = self.listeners().into_iter().next().unwrap_or_default();
        let (scheme, rest) = first
            .split_once("://")
            .map_or(("http", first.as_str()), |(s, r)| (s, r));
        let hostport = rest.trim_end_matches('/');
        let (host, port) = hostport
            .rsplit_once(':')
            .map_or((hostport, "8083"), |(h, p)| (h, p));
        let scheme = self
            .string("rest.advertised.listener")
            .map_or_else(|| scheme.to_ascii_lowercase(), |s| s.to_ascii_lowercase());
        let host = match self.string("rest.advertised.host.name") {
            Some(h) if !h.trim().is_empty() => h.trim().to_string(),
            _ if host.is_empty() || host == "0.0.0.0" || host == "[::]" => local_host_name(),
            _ => host.to_string(),
        };
        let port = self
            .parsed
            .int("rest.advertised.port")
            .ok()
            .flatten()
            .map_or_else(|| port.to_string(), |p| p.to_string());
        format!("{scheme}://{host}:{port}/")
    }
    /// `offset.storage.partitions`.
    pub fn offset_partitions(&self) -> u32 {
        self.long("offset.storage.partitions").max(1) as u32
    }
    /// `offset.flush.interval.ms`.
    pub fn offset_flush_interval(&self) -> Duration {
        Duration::from_millis(self.long("offset.flush.interval.ms").max(1) as u64)
    }
    /// `task.shutdown.graceful.timeout.ms`.
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.long("task.shutdown.graceful.timeout.ms").max(0) as u64)
    }
    /// `producer.batch.size`.
    pub fn batch_size(&self) -> usize {
        self.long("producer.batch.size").max(1) as usize
    }
    /// The producer settings of a Kafka-protocol log: `producer.linger.ms`,
    /// `producer.batch.size`, `producer.enable.idempotence`.
    pub fn producer_config(&self) -> crate::log::ProducerConfig {
        crate::log::ProducerConfig {
            linger: Duration::from_millis(self.long("producer.linger.ms").max(0) as u64),
            batch_size: self.batch_size(),
            idempotence: self
                .parsed
                .boolean("producer.enable.idempotence")
                .ok()
                .flatten()
                .unwrap_or(true),
            ..crate::log::ProducerConfig::default()
        }
    }
    /// `consumer.max.partition.fetch.bytes`.
    pub fn fetch_bytes(&self) -> usize {
        self.long("consumer.max.partition.fetch.bytes").max(1) as usize
    }
    /// `num.partitions`.
    pub fn default_partitions(&self) -> u32 {
        self.long("num.partitions").max(1) as u32
    }
}

/// This machine's host name (`/etc/hostname`, `HOSTNAME`), `localhost` when unknown.
fn local_host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The keys every connector config has (Kafka's `ConnectorConfig`, `SinkConnectorConfig`).
pub fn connector_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            "name",
            ConfigType::String,
            Default::Required,
            Importance::High,
            "Globally unique name to use for this connector.",
        )
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::String(s) if s.trim().is_empty() => Err("a non-empty name".into()),
            ConfigValue::String(s) if s.chars().any(char::is_control) => {
                Err("a name without control characters".into())
            }
            _ => Ok(()),
        }))
        .define(
            "connector.class",
            ConfigType::String,
            Default::Required,
            Importance::High,
            "Name or alias of the class for this connector.",
        )
        .with_validator(Validator::NonEmptyString)
        .define(
            "tasks.max",
            ConfigType::Int,
            Default::Value(ConfigValue::Int(1)),
            Importance::High,
            "Maximum number of tasks to use for this connector.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            "key.converter",
            ConfigType::Class,
            Default::Null,
            Importance::Low,
            "Converter for keys; overrides the worker's.",
        )
        .define(
            "value.converter",
            ConfigType::Class,
            Default::Null,
            Importance::Low,
            "Converter for values; overrides the worker's.",
        )
        .define(
            "header.converter",
            ConfigType::Class,
            Default::Null,
            Importance::Low,
            "Accepted for compatibility; headers are written as UTF-8 text or raw bytes.",
        )
        .define(
            "transforms",
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Low,
            "Aliases of the transformations to apply to records.",
        )
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::List(items) if !items.is_empty() => Err(
                "no transforms: single message transforms are not available in this version".into(),
            ),
            _ => Ok(()),
        }))
}

/// The extra keys of sink connectors.
pub fn sink_config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            "topics",
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::High,
            "List of topics to consume, separated by commas.",
        )
        .define(
            "topics.regex",
            ConfigType::String,
            Default::Value(ConfigValue::String(String::new())),
            Importance::High,
            "Regular expression giving topics to consume. Only one of topics or topics.regex should be specified.",
        )
}

/// The `topics` list of a sink config (empty when it subscribes with `topics.regex`).
pub fn sink_topics(config: &ConfigMap) -> Vec<String> {
    config
        .get("topics")
        .map(|t| {
            t.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Cross-key rules of a sink config: exactly one of `topics` / `topics.regex`.
pub fn validate_sink_topics(config: &ConfigMap) -> Vec<ConfigIssue> {
    let topics = config
        .get("topics")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let regex = config
        .get("topics.regex")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    match (topics, regex) {
        (None, None) => vec![ConfigIssue {
            key: "topics".into(),
            value: None,
            message: "must be given (or topics.regex): the topics to consume".into(),
        }],
        (Some(t), Some(_)) => vec![ConfigIssue {
            key: "topics".into(),
            value: Some(t.to_string()),
            message: "only one of topics and topics.regex may be given".into(),
        }],
        (None, Some(r)) => match crate::worker::topic_regex::TopicRegex::new(r) {
            Ok(_) => vec![],
            Err(e) => vec![ConfigIssue {
                key: "topics.regex".into(),
                value: Some(r.to_string()),
                message: format!("expected a regular expression: {e}"),
            }],
        },
        (Some(_), None) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kv: &[(&str, &str)]) -> WorkerConfig {
        let map: ConfigMap = kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WorkerConfig::parse(&map).unwrap()
    }

    /// Kafka Connect's `RestServer.advertisedUrl`: the advertised keys win over the
    /// listener; the worker id is the advertised `host:port`.
    #[test]
    fn the_advertised_url_honours_the_rest_advertised_keys() {
        let w = parse(&[("listeners", "http://127.0.0.1:18083")]);
        assert_eq!(w.advertised_url(), "http://127.0.0.1:18083/");
        assert_eq!(w.worker_id(), "127.0.0.1:18083");
        let w = parse(&[
            ("listeners", "http://0.0.0.0:8083"),
            ("rest.advertised.host.name", "worker-1.example.com"),
            ("rest.advertised.port", "9083"),
            ("rest.advertised.listener", "HTTP"),
        ]);
        assert_eq!(w.advertised_url(), "http://worker-1.example.com:9083/");
        assert_eq!(w.worker_id(), "worker-1.example.com:9083");
        // All interfaces: the machine's name, never 0.0.0.0.
        let w = parse(&[("listeners", "http://0.0.0.0:8083")]);
        assert!(
            !w.advertised_url().contains("0.0.0.0"),
            "{}",
            w.advertised_url()
        );
        let bad = WorkerConfig::parse(
            &[("rest.advertised.listener".to_string(), "https".to_string())].into(),
        );
        assert!(bad.is_err(), "only http is served");
    }

    #[test]
    fn producer_settings_default_to_kafkas_and_can_be_changed() {
        assert_eq!(
            parse(&[]).producer_config(),
            crate::log::ProducerConfig::default()
        );
        let c = parse(&[
            ("producer.linger.ms", "20"),
            ("producer.batch.size", "65536"),
            ("producer.enable.idempotence", "false"),
        ])
        .producer_config();
        assert_eq!(c.linger, Duration::from_millis(20));
        assert_eq!(c.batch_size, 65536);
        assert!(!c.idempotence);
        let map: ConfigMap = [("producer.linger.ms".to_string(), "-1".to_string())]
            .into_iter()
            .collect();
        assert!(WorkerConfig::parse(&map).is_err());
    }
}
