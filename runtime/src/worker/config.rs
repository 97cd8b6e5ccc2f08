//! The worker's config and the config every connector shares, declared once each with
//! Kafka Connect's names.

use std::path::PathBuf;
use std::time::Duration;

use ferry_api::config::{
    Bool, Class, ConfigIssue, Int, Key, List, Long, Opt, Shape, Str, Validator,
};
use ferry_api::{ConfigDef, ConfigMap, ConfigValue, Importance, ParsedConfig};

/// Default converter class when neither the worker nor the connector names one.
pub const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// Default of `status.storage.topic`.
pub const DEFAULT_STATUS_TOPIC: &str = "connect-status";
/// Default of `status.storage.partitions`.
pub const DEFAULT_STATUS_PARTITIONS: i32 = 5;

pub(crate) const BOOTSTRAP_SERVERS: Key<List> = Key::<List>::new(
    "bootstrap.servers",
    &[],
    Importance::High,
    "Kafka-compatible brokers to use instead of the embedded log. Empty: standalone uses its embedded log in data.dir.",
);
const DATA_DIR: Key<Str> = Key::new(
    "data.dir",
    "./ferry-data",
    Importance::High,
    "Directory of the embedded log (standalone). Locked by one process at a time.",
)
.with_validator(Validator::NonEmptyString);
const KEY_CONVERTER: Key<Class> = Key::new(
    "key.converter",
    DEFAULT_CONVERTER,
    Importance::High,
    "Converter class for record keys; its own settings use the prefix key.converter. (Kafka Connect requires it; Ferry defaults to JsonConverter.)",
);
const VALUE_CONVERTER: Key<Class> = Key::new(
    "value.converter",
    DEFAULT_CONVERTER,
    Importance::High,
    "Converter class for record values; its own settings use the prefix value.converter. (Kafka Connect requires it; Ferry defaults to JsonConverter.)",
);
const OFFSET_FILE: Key<Opt<Str>> = Key::optional(
    "offset.storage.file.filename",
    Importance::Medium,
    "Standalone: file that keeps source offsets. Unset: offsets live in offset.storage.topic of the log. Ferry's own format, not Java serialization.",
);
const OFFSET_TOPIC: Key<Str> = Key::new(
    "offset.storage.topic",
    "connect-offsets",
    Importance::Medium,
    "Compacted topic that keeps source offsets.",
)
.with_validator(Validator::NonEmptyString);
const CONFIG_TOPIC: Key<Str> = Key::new(
    "config.storage.topic",
    "connect-configs",
    Importance::Medium,
    "Compacted one-partition topic that keeps connector configs, task configs and target states.",
)
.with_validator(Validator::NonEmptyString);
const STATUS_TOPIC: Key<Str> = Key::new(
    "status.storage.topic",
    DEFAULT_STATUS_TOPIC,
    Importance::High,
    "Compacted topic that keeps connector and task statuses (distributed) and the topics each connector uses (KIP-558, every mode).",
)
.with_validator(Validator::NonEmptyString);
const STATUS_PARTITIONS: Key<Int> = Key::new(
    "status.storage.partitions",
    DEFAULT_STATUS_PARTITIONS,
    Importance::Low,
    "Partitions of the status topic when the worker creates it.",
)
.with_validator(Validator::at_least(1.0));
const REST_ADVERTISED_LISTENER: Key<Opt<Str>> = Key::optional(
    "rest.advertised.listener",
    Importance::Low,
    "Scheme other workers and clients use for this worker's REST API (only http is served).",
)
.with_validator(Validator::OneOfIgnoreCase(&["http"]));
const REST_ADVERTISED_HOST_NAME: Key<Opt<Str>> = Key::optional(
    "rest.advertised.host.name",
    Importance::Low,
    "Host name other workers and clients use for this worker's REST API.",
);
const REST_ADVERTISED_PORT: Key<Opt<Int>> = Key::optional(
    "rest.advertised.port",
    Importance::Low,
    "Port other workers and clients use for this worker's REST API.",
);
const OFFSET_PARTITIONS: Key<Int> = Key::new(
    "offset.storage.partitions",
    25,
    Importance::Low,
    "Partitions of the offset topic when the worker creates it.",
)
.with_validator(Validator::at_least(1.0));
const OFFSET_FLUSH_INTERVAL_MS: Key<Long> = Key::new(
    "offset.flush.interval.ms",
    60_000,
    Importance::Low,
    "How often source offsets are committed and sink tasks flushed.",
)
.with_validator(Validator::at_least(1.0));
const OFFSET_FLUSH_TIMEOUT_MS: Key<Long> = Key::new(
    "offset.flush.timeout.ms",
    5_000,
    Importance::Low,
    "How long a commit of source offsets may wait for outstanding records.",
)
.with_validator(Validator::at_least(0.0));
const SHUTDOWN_TIMEOUT_MS: Key<Long> = Key::new(
    "task.shutdown.graceful.timeout.ms",
    5_000,
    Importance::Low,
    "How long shutdown waits for each task to stop.",
)
.with_validator(Validator::at_least(0.0));
const PRODUCER_BATCH_SIZE: Key<Int> = Key::new(
    "producer.batch.size",
    16_384,
    Importance::Low,
    "Largest record batch, in bytes, the worker's producer builds (Kafka's batch.size).",
)
.with_validator(Validator::at_least(1.0));
const PRODUCER_LINGER_MS: Key<Long> = Key::new(
    "producer.linger.ms",
    5,
    Importance::Low,
    "How long an append to a Kafka cluster (bootstrap.servers) waits for others to share \
     its Produce request (Kafka's linger.ms; its default since Kafka 4.0).",
)
.with_validator(Validator::at_least(0.0));
const PRODUCER_IDEMPOTENCE: Key<Bool> = Key::new(
    "producer.enable.idempotence",
    true,
    Importance::Low,
    "Appends to a Kafka cluster (bootstrap.servers) carry a producer id and sequence \
     numbers, so that a retried append is never written twice (Kafka's \
     enable.idempotence).",
);
const FETCH_BYTES: Key<Int> = Key::new(
    "consumer.max.partition.fetch.bytes",
    1_048_576,
    Importance::Low,
    "Most bytes a sink task fetches from one partition at a time.",
)
.with_validator(Validator::at_least(1.0));
const NUM_PARTITIONS: Key<Int> = Key::new(
    "num.partitions",
    1,
    Importance::Low,
    "Partitions of topics created on first use (the embedded broker's auto.create.topics.enable).",
)
.with_validator(Validator::at_least(1.0));
const LISTENERS: Key<List> = Key::<List>::new(
    "listeners",
    &["http://127.0.0.1:8083"],
    Importance::Low,
    "REST listeners.",
);
const PLUGIN_PATH: Key<List> = Key::<List>::new(
    "plugin.path",
    &[],
    Importance::Low,
    "Accepted for compatibility; Ferry's plugins are built in.",
);

/// The worker config (`connect-standalone.properties` and friends).
pub fn worker_config_def() -> ConfigDef {
    ConfigDef::new()
        .declare(&BOOTSTRAP_SERVERS)
        .declare(&DATA_DIR)
        .declare(&KEY_CONVERTER)
        .declare(&VALUE_CONVERTER)
        .declare(&OFFSET_FILE)
        .declare(&OFFSET_TOPIC)
        .declare(&CONFIG_TOPIC)
        .declare(&STATUS_TOPIC)
        .declare(&STATUS_PARTITIONS)
        .declare(&REST_ADVERTISED_LISTENER)
        .declare(&REST_ADVERTISED_HOST_NAME)
        .declare(&REST_ADVERTISED_PORT)
        .declare(&OFFSET_PARTITIONS)
        .declare(&OFFSET_FLUSH_INTERVAL_MS)
        .declare(&OFFSET_FLUSH_TIMEOUT_MS)
        .declare(&SHUTDOWN_TIMEOUT_MS)
        .declare(&PRODUCER_BATCH_SIZE)
        .declare(&PRODUCER_LINGER_MS)
        .declare(&PRODUCER_IDEMPOTENCE)
        .declare(&FETCH_BYTES)
        .declare(&NUM_PARTITIONS)
        .declare(&LISTENERS)
        .declare(&PLUGIN_PATH)
}

/// A typed read of a key the config was parsed with; a key read that its def does not
/// declare is a bug, reported against that key rather than hidden behind a default.
pub(crate) fn read<'a, S: Shape>(
    parsed: &'a ParsedConfig,
    key: &Key<S>,
) -> Result<S::Out<'a>, Vec<ConfigIssue>> {
    parsed.value(key).map_err(|e| {
        vec![ConfigIssue {
            key: key.to_string(),
            value: None,
            message: e.to_string(),
        }]
    })
}

/// The worker config, parsed.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    parsed: ParsedConfig,
    bootstrap_servers: Vec<String>,
    data_dir: PathBuf,
    key_converter: String,
    value_converter: String,
    offset_file: Option<PathBuf>,
    offset_topic: String,
    config_topic: String,
    status_topic: String,
    status_partitions: u32,
    listeners: Vec<String>,
    advertised_listener: Option<String>,
    advertised_host_name: Option<String>,
    advertised_port: Option<i32>,
    offset_partitions: u32,
    offset_flush_interval: Duration,
    shutdown_timeout: Duration,
    batch_size: usize,
    linger: Duration,
    idempotence: bool,
    fetch_bytes: usize,
    default_partitions: u32,
}

impl WorkerConfig {
    /// Parses and validates a worker config.
    pub fn parse(config: &ConfigMap) -> Result<WorkerConfig, Vec<ConfigIssue>> {
        let parsed = worker_config_def().parse(config)?;
        let millis = |key: &Key<Long>, min: i64| -> Result<Duration, Vec<ConfigIssue>> {
            Ok(Duration::from_millis(read(&parsed, key)?.max(min) as u64))
        };
        Ok(WorkerConfig {
            bootstrap_servers: read(&parsed, &BOOTSTRAP_SERVERS)?.to_vec(),
            data_dir: PathBuf::from(read(&parsed, &DATA_DIR)?),
            key_converter: read(&parsed, &KEY_CONVERTER)?.to_string(),
            value_converter: read(&parsed, &VALUE_CONVERTER)?.to_string(),
            offset_file: read(&parsed, &OFFSET_FILE)?
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            offset_topic: read(&parsed, &OFFSET_TOPIC)?.to_string(),
            config_topic: read(&parsed, &CONFIG_TOPIC)?.to_string(),
            status_topic: read(&parsed, &STATUS_TOPIC)?.to_string(),
            status_partitions: read(&parsed, &STATUS_PARTITIONS)?.max(1) as u32,
            listeners: read(&parsed, &LISTENERS)?.to_vec(),
            advertised_listener: read(&parsed, &REST_ADVERTISED_LISTENER)?.map(str::to_string),
            advertised_host_name: read(&parsed, &REST_ADVERTISED_HOST_NAME)?.map(str::to_string),
            advertised_port: read(&parsed, &REST_ADVERTISED_PORT)?,
            offset_partitions: read(&parsed, &OFFSET_PARTITIONS)?.max(1) as u32,
            offset_flush_interval: millis(&OFFSET_FLUSH_INTERVAL_MS, 1)?,
            shutdown_timeout: millis(&SHUTDOWN_TIMEOUT_MS, 0)?,
            batch_size: read(&parsed, &PRODUCER_BATCH_SIZE)?.max(1) as usize,
            linger: millis(&PRODUCER_LINGER_MS, 0)?,
            idempotence: read(&parsed, &PRODUCER_IDEMPOTENCE)?,
            fetch_bytes: read(&parsed, &FETCH_BYTES)?.max(1) as usize,
            default_partitions: read(&parsed, &NUM_PARTITIONS)?.max(1) as u32,
            parsed,
        })
    }

    /// The map it came from.
    pub fn originals(&self) -> &ConfigMap {
        self.parsed.originals()
    }

    /// `bootstrap.servers`; empty for the embedded log.
    pub fn bootstrap_servers(&self) -> Vec<String> {
        self.bootstrap_servers.clone()
    }
    /// `data.dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }
    /// `key.converter` or `value.converter` class and its prefixed settings.
    pub fn converter(&self, is_key: bool) -> (String, ConfigMap) {
        let (key, class) = if is_key {
            (&KEY_CONVERTER, &self.key_converter)
        } else {
            (&VALUE_CONVERTER, &self.value_converter)
        };
        (
            class.clone(),
            self.parsed.originals_with_prefix(&format!("{key}.")),
        )
    }
    /// `offset.storage.file.filename`.
    pub fn offset_file(&self) -> Option<PathBuf> {
        self.offset_file.clone()
    }
    /// `offset.storage.topic`.
    pub fn offset_topic(&self) -> String {
        self.offset_topic.clone()
    }
    /// `config.storage.topic`.
    pub fn config_topic(&self) -> String {
        self.config_topic.clone()
    }
    /// The REST listeners (`listeners`).
    pub fn listeners(&self) -> Vec<String> {
        self.listeners.clone()
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
        self.status_topic.clone()
    }
    /// `status.storage.partitions`.
    pub fn status_partitions(&self) -> u32 {
        self.status_partitions
    }
    /// The URL other workers and clients use for this worker's REST API, as Kafka
    /// Connect's `RestServer.advertisedUrl`: `rest.advertised.listener`,
    /// `rest.advertised.host.name` and `rest.advertised.port` where set, the first listener
    /// otherwise (a listener on all interfaces advertises the machine's host name).
    pub fn advertised_url(&self) -> String {
        let first = self.listeners.first().map_or("", String::as_str);
        let (scheme, rest) = first
            .split_once("://")
            .map_or(("http", first), |(s, r)| (s, r));
        let hostport = rest.trim_end_matches('/');
        let (host, port) = hostport
            .rsplit_once(':')
            .map_or((hostport, "8083"), |(h, p)| (h, p));
        let scheme = self
            .advertised_listener
            .as_deref()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        let host = match self.advertised_host_name.as_deref().map(str::trim) {
            Some(h) if !h.is_empty() => h.to_string(),
            _ if host.is_empty() || host == "0.0.0.0" || host == "[::]" => local_host_name(),
            _ => host.to_string(),
        };
        let port = self
            .advertised_port
            .map_or_else(|| port.to_string(), |p| p.to_string());
        format!("{scheme}://{host}:{port}/")
    }
    /// `offset.storage.partitions`.
    pub fn offset_partitions(&self) -> u32 {
        self.offset_partitions
    }
    /// `offset.flush.interval.ms`.
    pub fn offset_flush_interval(&self) -> Duration {
        self.offset_flush_interval
    }
    /// `task.shutdown.graceful.timeout.ms`.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
    /// `producer.batch.size`.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
    /// The producer settings of a Kafka-protocol log: `producer.linger.ms`,
    /// `producer.batch.size`, `producer.enable.idempotence`.
    pub fn producer_config(&self) -> crate::log::ProducerConfig {
        crate::log::ProducerConfig {
            linger: self.linger,
            batch_size: self.batch_size,
            idempotence: self.idempotence,
            ..crate::log::ProducerConfig::default()
        }
    }
    /// `consumer.max.partition.fetch.bytes`.
    pub fn fetch_bytes(&self) -> usize {
        self.fetch_bytes
    }
    /// `num.partitions`.
    pub fn default_partitions(&self) -> u32 {
        self.default_partitions
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

const NAME: Key<Str> = Key::required(
    "name",
    Importance::High,
    "Globally unique name to use for this connector.",
)
.with_validator(Validator::custom(
    "a non-empty name without control characters",
    |v| match v {
        ConfigValue::String(s) if s.trim().is_empty() => Err("a non-empty name".into()),
        ConfigValue::String(s) if s.chars().any(char::is_control) => {
            Err("a name without control characters".into())
        }
        _ => Ok(()),
    },
));
const CONNECTOR_CLASS: Key<Str> = Key::required(
    "connector.class",
    Importance::High,
    "Name or alias of the class for this connector.",
)
.with_validator(Validator::NonEmptyString);
const TASKS_MAX: Key<Int> = Key::new(
    "tasks.max",
    1,
    Importance::High,
    "Maximum number of tasks to use for this connector.",
)
.with_validator(Validator::at_least(1.0));
const CONNECTOR_KEY_CONVERTER: Key<Opt<Class>> = Key::optional(
    "key.converter",
    Importance::Low,
    "Converter for keys; overrides the worker's.",
);
const CONNECTOR_VALUE_CONVERTER: Key<Opt<Class>> = Key::optional(
    "value.converter",
    Importance::Low,
    "Converter for values; overrides the worker's.",
);
const HEADER_CONVERTER: Key<Opt<Class>> = Key::optional(
    "header.converter",
    Importance::Low,
    "Accepted for compatibility; headers are written as UTF-8 text or raw bytes.",
);
const TRANSFORMS: Key<List> = Key::<List>::new(
    "transforms",
    &[],
    Importance::Low,
    "Aliases of the transformations to apply to records.",
)
.with_validator(Validator::custom(
    "none (transforms are not available yet)",
    |v| match v {
        ConfigValue::List(items) if !items.is_empty() => {
            Err("no transforms: single message transforms are not available in this version".into())
        }
        _ => Ok(()),
    },
));

/// The keys every connector config has (Kafka's `ConnectorConfig`, `SinkConnectorConfig`).
pub fn connector_config_def() -> ConfigDef {
    ConfigDef::new()
        .declare(&NAME)
        .declare(&CONNECTOR_CLASS)
        .declare(&TASKS_MAX)
        .declare(&CONNECTOR_KEY_CONVERTER)
        .declare(&CONNECTOR_VALUE_CONVERTER)
        .declare(&HEADER_CONVERTER)
        .declare(&TRANSFORMS)
}

const TOPICS: Key<List> = Key::<List>::new(
    "topics",
    &[],
    Importance::High,
    "List of topics to consume, separated by commas.",
);
const TOPICS_REGEX: Key<Str> = Key::new(
    "topics.regex",
    "",
    Importance::High,
    "Regular expression giving topics to consume. Only one of topics or topics.regex should be specified.",
);

/// The extra keys of sink connectors.
pub fn sink_config_def() -> ConfigDef {
    ConfigDef::new().declare(&TOPICS).declare(&TOPICS_REGEX)
}

/// The `topics` list of a sink config (empty when it subscribes with `topics.regex`).
pub fn sink_topics(config: &ConfigMap) -> Vec<String> {
    config
        .get(TOPICS.name())
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
        .get(TOPICS.name())
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    let regex = config
        .get(TOPICS_REGEX.name())
        .map(|s| s.trim())
        .filter(|s| !s.is_empty());
    match (topics, regex) {
        (None, None) => vec![ConfigIssue {
            key: TOPICS.to_string(),
            value: None,
            message: "must be given (or topics.regex): the topics to consume".into(),
        }],
        (Some(t), Some(_)) => vec![ConfigIssue {
            key: TOPICS.to_string(),
            value: Some(t.to_string()),
            message: "only one of topics and topics.regex may be given".into(),
        }],
        (None, Some(r)) => match crate::worker::topic_regex::TopicRegex::new(r) {
            Ok(_) => vec![],
            Err(e) => vec![ConfigIssue {
                key: TOPICS_REGEX.to_string(),
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

    /// Each default is written once, in its key's declaration; these are what it says.
    #[test]
    fn an_empty_config_reads_the_declared_defaults() {
        let w = parse(&[]);
        assert!(w.bootstrap_servers().is_empty());
        assert_eq!(w.data_dir(), PathBuf::from("./ferry-data"));
        assert_eq!(w.converter(true).0, DEFAULT_CONVERTER);
        assert_eq!(w.converter(false).0, DEFAULT_CONVERTER);
        assert_eq!(w.offset_file(), None);
        assert_eq!(w.offset_topic(), "connect-offsets");
        assert_eq!(w.config_topic(), "connect-configs");
        assert_eq!(w.status_topic(), DEFAULT_STATUS_TOPIC);
        assert_eq!(w.status_partitions(), 5);
        assert_eq!(w.offset_partitions(), 25);
        assert_eq!(w.offset_flush_interval(), Duration::from_secs(60));
        assert_eq!(w.shutdown_timeout(), Duration::from_secs(5));
        assert_eq!(w.fetch_bytes(), 1_048_576);
        assert_eq!(w.default_partitions(), 1);
        assert_eq!(w.listeners(), ["http://127.0.0.1:8083"]);
        assert_eq!(w.advertised_url(), "http://127.0.0.1:8083/");
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
