//! Connector configs, task configs and target states in the compacted config topic
//! (`config.storage.topic`, always one partition), with Kafka Connect's keys and values
//! (docs/formats.md §5, internal JsonConverter with schemas disabled):
//!
//! | key | value |
//! |---|---|
//! | `connector-<name>` | `{"properties":{...}}`; a tombstone deletes the connector |
//! | `task-<name>-<n>` | `{"properties":{...}}` |
//! | `commit-<name>` | `{"tasks":N}`: applies the task configs written before it |
//! | `target-state-<name>` | `{"state":"PAUSED","state.v2":"STOPPED"}` |
//! | `restart-connector-<name>` | `{"include-tasks":true,"only-failed":false}` |
//!
//! [`ConfigState`] is a worker's view of the topic, built by applying its records in order
//! (Kafka's `ClusterConfigState`); a distributed worker keeps applying what other workers
//! write as the topic grows. Records a write puts together in one batch are applied
//! together: a connector created with a target state (`initial_state`) is never seen
//! without it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferry_api::{ConfigMap, TopicPartition, Value};
use ferry_record::RecordBatchBuilder;

use crate::lifecycle::{RestartRequest, TargetState};
use crate::log::{Log, LogError, NewTopic, ensure_topic_replicated, read_records_to_end};
use ferry_converters::json::{from_schemaless_json, to_schemaless_json};
use ferry_record::now_ms;

/// The stored state of one connector.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredConnector {
    /// Its config.
    pub config: ConfigMap,
    /// Its committed task configs.
    pub tasks: Vec<ConfigMap>,
    /// What it should be doing.
    pub target: TargetState,
}

/// What applying one record changed, for a herder to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChange {
    /// A connector was created or its config replaced.
    Connector(String),
    /// A connector was deleted.
    Removed(String),
    /// A connector's target state changed.
    Target(String),
    /// A new generation of a connector's task configs was committed.
    Tasks(String),
    /// A restart of a connector (and maybe its tasks) was asked for.
    Restart(String, RestartRequest),
}

/// A worker's view of the config topic.
#[derive(Debug, Clone, Default)]
pub struct ConfigState {
    /// The offset after the last record applied; -1 before any (Kafka's config offset, as
    /// sent in JoinGroup metadata and assignments).
    offset: i64,
    connectors: BTreeMap<String, ConfigMap>,
    /// Kept apart from `connectors`: a target state may be written before its connector.
    targets: HashMap<String, TargetState>,
    tasks: BTreeMap<String, Vec<ConfigMap>>,
    /// Task configs written but not yet committed.
    pending: HashMap<String, BTreeMap<usize, ConfigMap>>,
}

impl ConfigState {
    /// An empty view (nothing read yet).
    pub fn new() -> ConfigState {
        ConfigState {
            offset: -1,
            ..ConfigState::default()
        }
    }

    /// The offset after the last record applied, -1 before any.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The next offset to read.
    pub fn next_offset(&self) -> i64 {
        self.offset.max(0)
    }

    /// The connectors, by name.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.connectors.keys()
    }

    /// Whether `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.connectors.contains_key(name)
    }

    /// A connector's config.
    pub fn config(&self, name: &str) -> Option<&ConfigMap> {
        self.connectors.get(name)
    }

    /// A connector's target state (STARTED unless stored otherwise).
    pub fn target(&self, name: &str) -> TargetState {
        self.targets.get(name).copied().unwrap_or_default()
    }

    /// A connector's committed task configs.
    pub fn tasks(&self, name: &str) -> &[ConfigMap] {
        self.tasks.get(name).map_or(&[], Vec::as_slice)
    }

    /// Every connector with its number of committed tasks (what the leader assigns).
    pub fn task_counts(&self) -> BTreeMap<String, usize> {
        self.connectors
            .keys()
            .map(|n| (n.clone(), self.tasks(n).len()))
            .collect()
    }

    /// Every connector's stored state.
    pub fn stored(&self) -> BTreeMap<String, StoredConnector> {
        self.connectors
            .iter()
            .map(|(name, config)| {
                (
                    name.clone(),
                    StoredConnector {
                        config: config.clone(),
                        tasks: self.tasks(name).to_vec(),
                        target: self.target(name),
                    },
                )
            })
            .collect()
    }

    /// Applies the record at `offset`; returns what changed. Unknown keys and unreadable
    /// values are skipped, as Kafka Connect does.
    pub fn apply(&mut self, offset: i64, key: &str, value: Option<&[u8]>) -> Option<ConfigChange> {
        self.offset = self.offset.max(offset + 1);
        if let Some(name) = key.strip_prefix("connector-") {
            match value.and_then(parse_properties) {
                Some(config) => {
                    self.connectors.insert(name.to_string(), config);
                    Some(ConfigChange::Connector(name.to_string()))
                }
                None if value.is_some() => {
                    tracing::warn!(key, "ignoring an unreadable connector config");
                    None
                }
                None => {
                    self.pending.remove(name);
                    self.tasks.remove(name);
                    self.connectors
                        .remove(name)
                        .map(|_| ConfigChange::Removed(name.to_string()))
                }
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            // task-<name>-<n>: the name may contain '-', the number is after the last one.
            let (name, n) = rest.rsplit_once('-')?;
            let n = n.parse::<usize>().ok()?;
            let config = value.and_then(parse_properties)?;
            self.pending
                .entry(name.to_string())
                .or_default()
                .insert(n, config);
            None
        } else if let Some(name) = key.strip_prefix("commit-") {
            let count = value
                .and_then(|v| from_schemaless_json(v).ok())
                .and_then(|v| field(&v, "tasks").and_then(Value::as_i64))
                .and_then(|n| usize::try_from(n).ok())?;
            let pending = self.pending.remove(name).unwrap_or_default();
            let mut tasks = Vec::with_capacity(count);
            for i in 0..count {
                match pending.get(&i) {
                    Some(config) => tasks.push(config.clone()),
                    None => {
                        // Kafka Connect calls such a connector inconsistent: its tasks wait
                        // for a new generation of configs.
                        tracing::warn!(
                            connector = name,
                            task = i,
                            count,
                            "a task config of a committed generation is missing: the connector has no tasks until new ones are committed"
                        );
                        tasks.clear();
                        break;
                    }
                }
            }
            self.tasks.insert(name.to_string(), tasks);
            Some(ConfigChange::Tasks(name.to_string()))
        } else if let Some(name) = key.strip_prefix("target-state-") {
            let target = match value {
                None => {
                    self.targets.remove(name);
                    return None;
                }
                Some(v) => parse_target(name, v)?,
            };
            let previous = self.targets.insert(name.to_string(), target);
            // A target state written before its connector (`initial_state`) is no change:
            // the connector starts in it.
            (previous.unwrap_or_default() != target && self.connectors.contains_key(name))
                .then(|| ConfigChange::Target(name.to_string()))
        } else if let Some(name) = key.strip_prefix("restart-connector-") {
            let value = from_schemaless_json(value?).ok()?;
            let flag = |k: &str| matches!(field(&value, k), Some(Value::Boolean(true)));
            Some(ConfigChange::Restart(
                name.to_string(),
                RestartRequest {
                    include_tasks: flag("include-tasks"),
                    only_failed: flag("only-failed"),
                },
            ))
        } else {
            None
        }
    }
}

/// A target-state record's state, as Kafka's `KafkaConfigBackingStore` reads it: `state.v2`,
/// else `state`; a value that is not one of Kafka's names is logged and ignored (the
/// connector keeps its previous target state).
fn parse_target(name: &str, value: &[u8]) -> Option<TargetState> {
    let v = from_schemaless_json(value).ok()?;
    let state = field(&v, "state.v2")
        .filter(|s| !matches!(s, Value::Null))
        .or_else(|| field(&v, "state"));
    match state.and_then(Value::as_str) {
        Some("STARTED") => Some(TargetState::Started),
        Some("PAUSED") => Some(TargetState::Paused),
        Some("STOPPED") => Some(TargetState::Stopped),
        other => {
            tracing::error!(connector = name, state = ?other, "invalid target state in the config topic: ignored");
            None
        }
    }
}

/// A typed view over the config topic.
pub struct ConfigStore {
    log: Arc<dyn Log>,
    partition: TopicPartition,
}

impl std::fmt::Debug for ConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigStore")
            .field("topic", &self.partition.topic)
            .finish()
    }
}

/// Errors of the config store.
#[derive(Debug, thiserror::Error)]
#[error("config topic '{topic}': {source}")]
pub struct ConfigStoreError {
    topic: String,
    #[source]
    source: LogError,
}

type Result<T, E = ConfigStoreError> = std::result::Result<T, E>;

impl ConfigStore {
    /// Opens the config topic (creating it with one partition) and reads every connector.
    pub async fn open(
        log: Arc<dyn Log>,
        topic: &str,
    ) -> Result<(ConfigStore, BTreeMap<String, StoredConnector>)> {
        let store = ConfigStore::connect(log, topic, -1).await?;
        let mut state = ConfigState::new();
        store.read(&mut state, |_| {}).await?;
        Ok((store, state.stored()))
    }

    /// Opens the config topic, creating it (compacted, one partition, `replication_factor`:
    /// -1 for the broker's default) if missing; a topic with more than one partition is
    /// refused, as Kafka Connect does. Reads nothing.
    pub async fn connect(
        log: Arc<dyn Log>,
        topic: &str,
        replication_factor: i16,
    ) -> Result<ConfigStore> {
        let err = |source| ConfigStoreError {
            topic: topic.to_string(),
            source,
        };
        let partitions = ensure_topic_replicated(
            log.as_ref(),
            NewTopic {
                name: topic.to_string(),
                partitions: 1,
                configs: BTreeMap::from([("cleanup.policy".into(), "compact".into())]),
            },
            replication_factor,
        )
        .await
        .map_err(err)?;
        if partitions != 1 {
            return Err(err(LogError::Corrupt(format!(
                "the config topic must have exactly 1 partition, it has {partitions}"
            ))));
        }
        Ok(ConfigStore {
            log,
            partition: TopicPartition::new(topic, 0),
        })
    }

    /// The topic's one partition.
    pub fn partition(&self) -> &TopicPartition {
        &self.partition
    }

    fn err(&self, source: LogError) -> ConfigStoreError {
        ConfigStoreError {
            topic: self.partition.topic.to_string(),
            source,
        }
    }

    /// Applies to `state` every record from its offset to the topic's current end, handing
    /// each change to `changed`.
    pub async fn read(
        &self,
        state: &mut ConfigState,
        mut changed: impl FnMut(ConfigChange),
    ) -> Result<()> {
        let from = state.next_offset();
        read_records_to_end(
            self.log.as_ref(),
            &self.partition,
            from,
            |offset, key, value| {
                if let Ok(key) = std::str::from_utf8(&key)
                    && let Some(change) = state.apply(offset, key, value.as_deref())
                {
                    changed(change);
                }
            },
        )
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Appends records in one batch; returns the offset after the last one.
    async fn write(&self, records: Vec<(String, Option<Vec<u8>>)>) -> Result<i64> {
        let now = now_ms();
        let mut builder = RecordBatchBuilder::new(now);
        for (key, value) in &records {
            builder.append(now, Some(key.as_bytes()), value.as_deref(), &[]);
        }
        let base = self
            .log
            .append(&self.partition, builder.finish())
            .await
            .map_err(|e| self.err(e))?;
        Ok(base + records.len() as i64)
    }

    /// Stores a connector's config; with `initial`, its target state in the same batch,
    /// first, so the connector never exists without it. Returns the offset after the write.
    pub async fn put_connector_with(
        &self,
        name: &str,
        config: &ConfigMap,
        initial: Option<TargetState>,
    ) -> Result<i64> {
        let mut records = Vec::with_capacity(2);
        if let Some(target) = initial {
            records.push((format!("target-state-{name}"), Some(target_value(target))));
        }
        records.push((format!("connector-{name}"), Some(properties(config))));
        self.write(records).await
    }

    /// Stores a connector's config.
    pub async fn put_connector(&self, name: &str, config: &ConfigMap) -> Result<i64> {
        self.put_connector_with(name, config, None).await
    }

    /// Deletes a connector: tombstones for its config and target state.
    pub async fn delete_connector(&self, name: &str) -> Result<i64> {
        self.write(vec![
            (format!("connector-{name}"), None),
            (format!("target-state-{name}"), None),
        ])
        .await
    }

    /// Stores a new generation of task configs, then the commit that applies them.
    pub async fn put_tasks(&self, name: &str, tasks: &[ConfigMap]) -> Result<i64> {
        self.write(task_records(name, tasks)).await
    }

    /// Stores a target state.
    pub async fn put_target_state(&self, name: &str, target: TargetState) -> Result<i64> {
        self.write(vec![(
            format!("target-state-{name}"),
            Some(target_value(target)),
        )])
        .await
    }

    /// Stops a connector (KIP-875): no tasks, then the STOPPED target state, in one batch.
    pub async fn stop_connector(&self, name: &str) -> Result<i64> {
        let mut records = task_records(name, &[]);
        records.push((
            format!("target-state-{name}"),
            Some(target_value(TargetState::Stopped)),
        ));
        self.write(records).await
    }

    /// Asks the workers running a connector (and its tasks) to restart them (KIP-745).
    pub async fn put_restart(&self, name: &str, request: RestartRequest) -> Result<i64> {
        let value = to_schemaless_json(&Value::Map(vec![
            (
                Value::from("include-tasks"),
                Value::Boolean(request.include_tasks),
            ),
            (
                Value::from("only-failed"),
                Value::Boolean(request.only_failed),
            ),
        ]));
        self.write(vec![(format!("restart-connector-{name}"), Some(value))])
            .await
    }
}

fn task_records(name: &str, tasks: &[ConfigMap]) -> Vec<(String, Option<Vec<u8>>)> {
    let mut records: Vec<(String, Option<Vec<u8>>)> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("task-{name}-{i}"), Some(properties(t))))
        .collect();
    records.push((
        format!("commit-{name}"),
        Some(to_schemaless_json(&Value::Map(vec![(
            Value::from("tasks"),
            Value::Int32(tasks.len() as i32),
        )]))),
    ));
    records
}

fn target_value(target: TargetState) -> Vec<u8> {
    // Older workers only know STARTED and PAUSED: STOPPED is written as PAUSED there.
    let v1 = match target {
        TargetState::Started => "STARTED",
        TargetState::Paused | TargetState::Stopped => "PAUSED",
    };
    to_schemaless_json(&Value::Map(vec![
        (Value::from("state"), Value::from(v1)),
        (Value::from("state.v2"), Value::from(target.as_str())),
    ]))
}

fn properties(config: &ConfigMap) -> Vec<u8> {
    let props = config
        .iter()
        .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
        .collect();
    to_schemaless_json(&Value::Map(vec![(
        Value::from("properties"),
        Value::Map(props),
    )]))
}

fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn parse_properties(bytes: &[u8]) -> Option<ConfigMap> {
    let value = from_schemaless_json(bytes).ok()?;
    let Value::Map(entries) = field(&value, "properties")? else {
        return None;
    };
    Some(
        entries
            .iter()
            .filter_map(|(k, v)| {
                let k = k.as_str()?.to_string();
                let v = match v {
                    Value::Null => String::new(),
                    other => other.as_str()?.to_string(),
                };
                Some((k, v))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EmbeddedLog;
    use ferry_log::LogConfig;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_are_kafka_connects_bytes() {
        assert_eq!(
            properties(&map(&[("a", "1"), ("name", "x")])),
            br#"{"properties":{"a":"1","name":"x"}}"#
        );
        assert_eq!(
            target_value(TargetState::Stopped),
            br#"{"state":"PAUSED","state.v2":"STOPPED"}"#
        );
    }

    #[tokio::test]
    async fn round_trips_through_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        let (store, state) = ConfigStore::open(log.clone(), "connect-configs")
            .await
            .unwrap();
        assert!(state.is_empty());
        let config = map(&[("name", "my-conn"), ("connector.class", "FileStreamSource")]);
        store.put_connector("my-conn", &config).await.unwrap();
        store
            .put_tasks("my-conn", &[map(&[("t", "0")]), map(&[("t", "1")])])
            .await
            .unwrap();
        store
            .put_target_state("my-conn", TargetState::Stopped)
            .await
            .unwrap();
        store.put_connector("gone", &config).await.unwrap();
        store.delete_connector("gone").await.unwrap();
        let (_, state) = ConfigStore::open(log.clone(), "connect-configs")
            .await
            .unwrap();
        assert_eq!(state.len(), 1);
        let c = &state["my-conn"];
        assert_eq!(c.config, config);
        assert_eq!(c.tasks, vec![map(&[("t", "0")]), map(&[("t", "1")])]);
        assert_eq!(c.target, TargetState::Stopped);
    }

    /// A view follows the topic as it grows and reports each change once; offsets are
    /// Kafka's config offsets (the offset after the last record read).
    #[tokio::test]
    async fn a_view_follows_the_topic_and_reports_changes() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        let store = ConfigStore::connect(log.clone(), "cfg", -1).await.unwrap();
        let mut view = ConfigState::new();
        let mut changes = Vec::new();
        store.read(&mut view, |c| changes.push(c)).await.unwrap();
        assert_eq!((view.offset(), changes.len()), (-1, 0));

        let config = map(&[("name", "a"), ("connector.class", "FileStreamSource")]);
        let end = store
            .put_connector_with("a", &config, Some(TargetState::Paused))
            .await
            .unwrap();
        assert_eq!(end, 2);
        store.read(&mut view, |c| changes.push(c)).await.unwrap();
        assert_eq!(view.offset(), 2);
        // The target state was written first and applies from the start.
        assert_eq!(changes, vec![ConfigChange::Connector("a".into())]);
        assert_eq!(view.target("a"), TargetState::Paused);

        changes.clear();
        store.put_tasks("a", &[map(&[("t", "0")])]).await.unwrap();
        store
            .put_restart(
                "a",
                RestartRequest {
                    include_tasks: true,
                    only_failed: false,
                },
            )
            .await
            .unwrap();
        store.stop_connector("a").await.unwrap();
        store.read(&mut view, |c| changes.push(c)).await.unwrap();
        assert_eq!(
            changes,
            vec![
                ConfigChange::Tasks("a".into()),
                ConfigChange::Restart(
                    "a".into(),
                    RestartRequest {
                        include_tasks: true,
                        only_failed: false
                    }
                ),
                ConfigChange::Tasks("a".into()),
                ConfigChange::Target("a".into()),
            ]
        );
        assert!(view.tasks("a").is_empty());
        assert_eq!(view.target("a"), TargetState::Stopped);
        assert_eq!(view.task_counts(), BTreeMap::from([("a".to_string(), 0)]));

        changes.clear();
        store.delete_connector("a").await.unwrap();
        store.read(&mut view, |c| changes.push(c)).await.unwrap();
        assert_eq!(changes, vec![ConfigChange::Removed("a".into())]);
        assert!(!view.contains("a"));
        assert_eq!(view.target("a"), TargetState::Started);
    }

    #[tokio::test]
    async fn a_config_topic_with_two_partitions_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        log.create_topic(NewTopic {
            name: "cfg".into(),
            partitions: 2,
            configs: BTreeMap::new(),
        })
        .await
        .unwrap();
        let err = ConfigStore::connect(log, "cfg", -1).await.unwrap_err();
        assert!(err.to_string().contains("exactly 1 partition"), "{err}");
    }

    #[test]
    fn a_commit_with_a_missing_task_leaves_the_connector_without_tasks() {
        let mut view = ConfigState::new();
        let props = properties(&map(&[("name", "a")]));
        view.apply(0, "connector-a", Some(&props));
        view.apply(1, "task-a-1", Some(&props));
        view.apply(2, "commit-a", Some(br#"{"tasks":2}"#));
        assert!(view.tasks("a").is_empty());
        // Task names split at the last '-'.
        view.apply(3, "task-a-b-0", Some(&props));
        view.apply(4, "connector-a-b", Some(&props));
        view.apply(5, "commit-a-b", Some(br#"{"tasks":1}"#));
        assert_eq!(view.tasks("a-b").len(), 1);
        assert_eq!(view.offset(), 6);
    }

    /// What each write puts in the config topic, in order, key and value bytes as Kafka
    /// Connect writes them: task configs then their commit, target states (STOPPED also as
    /// PAUSED for older workers), restart requests, stops and deletions (tombstones).
    #[tokio::test]
    async fn written_records_are_kafka_connects_keys_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        let store = ConfigStore::connect(log.clone(), "cfg", -1).await.unwrap();
        let config = map(&[("name", "c")]);
        store
            .put_connector_with("c", &config, Some(TargetState::Paused))
            .await
            .unwrap();
        store
            .put_tasks("c", &[map(&[("t", "0")]), map(&[("t", "1")])])
            .await
            .unwrap();
        store
            .put_target_state("c", TargetState::Started)
            .await
            .unwrap();
        store
            .put_restart(
                "c",
                RestartRequest {
                    include_tasks: true,
                    only_failed: false,
                },
            )
            .await
            .unwrap();
        store.stop_connector("c").await.unwrap();
        store.delete_connector("c").await.unwrap();
        let mut records = Vec::new();
        read_records_to_end(log.as_ref(), store.partition(), 0, |_, k, v| {
            records.push((
                String::from_utf8(k.to_vec()).unwrap(),
                v.map(|v| String::from_utf8(v.to_vec()).unwrap()),
            ));
        })
        .await
        .unwrap();
        let r = |k: &str, v: Option<&str>| (k.to_string(), v.map(str::to_string));
        assert_eq!(
            records,
            [
                r(
                    "target-state-c",
                    Some(r#"{"state":"PAUSED","state.v2":"PAUSED"}"#)
                ),
                r("connector-c", Some(r#"{"properties":{"name":"c"}}"#)),
                r("task-c-0", Some(r#"{"properties":{"t":"0"}}"#)),
                r("task-c-1", Some(r#"{"properties":{"t":"1"}}"#)),
                r("commit-c", Some(r#"{"tasks":2}"#)),
                r(
                    "target-state-c",
                    Some(r#"{"state":"STARTED","state.v2":"STARTED"}"#)
                ),
                r(
                    "restart-connector-c",
                    Some(r#"{"include-tasks":true,"only-failed":false}"#)
                ),
                r("commit-c", Some(r#"{"tasks":0}"#)),
                r(
                    "target-state-c",
                    Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#)
                ),
                r("connector-c", None),
                r("target-state-c", None),
            ]
        );
    }

    /// Records other Kafka Connect workers write: `state` alone (workers before KIP-875),
    /// `state.v2` preferred when both are there, a null config value read as empty, restart
    /// flags that are missing read as false, and keys Ferry does not act on (`session-key`,
    /// `tasks-fencing-`, `logger-cluster-`) skipped without effect.
    #[test]
    fn reads_what_other_kafka_connect_workers_write() {
        let mut view = ConfigState::new();
        view.apply(
            0,
            "connector-c",
            Some(br#"{"properties":{"name":"c","file":null}}"#),
        );
        assert_eq!(view.config("c"), Some(&map(&[("name", "c"), ("file", "")])));
        view.apply(1, "target-state-c", Some(br#"{"state":"PAUSED"}"#));
        assert_eq!(view.target("c"), TargetState::Paused);
        view.apply(
            2,
            "target-state-c",
            Some(br#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
        );
        assert_eq!(view.target("c"), TargetState::Stopped);
        assert_eq!(
            view.apply(3, "restart-connector-c", Some(b"{}")),
            Some(ConfigChange::Restart(
                "c".into(),
                RestartRequest {
                    include_tasks: false,
                    only_failed: false
                }
            ))
        );
        for (key, value) in [
            (
                "session-key",
                &br#"{"key":"AAEC","algorithm":"HmacSHA256","creation-timestamp":1700000000000}"#[..],
            ),
            ("tasks-fencing-c", br#"{"task-count":2}"#),
            ("logger-cluster-org.example", br#"{"level":"DEBUG"}"#),
        ] {
            assert_eq!(view.apply(4, key, Some(value)), None, "{key}");
        }
        assert_eq!(view.target("c"), TargetState::Stopped);
        assert_eq!(view.offset(), 5);
    }

    /// Kafka's `KafkaConfigBackingStore` logs a target state whose name it does not know and
    /// keeps the previous one. A failing expectation: Ferry reads an unknown name as STARTED.
    #[test]
    fn an_unknown_target_state_is_ignored_as_kafka_does() {
        let mut view = ConfigState::new();
        view.apply(0, "connector-c", Some(br#"{"properties":{"name":"c"}}"#));
        view.apply(1, "target-state-c", Some(br#"{"state":"PAUSED"}"#));
        assert_eq!(view.target("c"), TargetState::Paused);
        let change = view.apply(
            2,
            "target-state-c",
            Some(br#"{"state":"PAUSED","state.v2":"HIBERNATING"}"#),
        );
        assert_eq!(change, None);
        assert_eq!(view.target("c"), TargetState::Paused);
    }
}
