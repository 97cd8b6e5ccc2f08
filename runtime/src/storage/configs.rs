//! Connector configs, task configs and target states in the compacted config topic
//! (`config.storage.topic`, always one partition), with Kafka Connect's keys and values
//! (FORMATS.md §2, internal JsonConverter with schemas disabled):
//!
//! | key | value |
//! |---|---|
//! | `connector-<name>` | `{"properties":{...}}`; a tombstone deletes the connector |
//! | `task-<name>-<n>` | `{"properties":{...}}` |
//! | `commit-<name>` | `{"tasks":N}`: applies the task configs written before it |
//! | `target-state-<name>` | `{"state":"PAUSED","state.v2":"STOPPED"}` |

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use ferry_api::{ConfigMap, TopicPartition, Value};
use ferry_broker::record::RecordBatchBuilder;

use crate::converters::json::{from_schemaless_json, to_schemaless_json};
use crate::log::{Log, LogError, NewTopic, ensure_topic, now_ms, read_to_end};
use crate::worker::TargetState;

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
        let err = |source| ConfigStoreError {
            topic: topic.to_string(),
            source,
        };
        let partitions = ensure_topic(
            log.as_ref(),
            NewTopic {
                name: topic.to_string(),
                partitions: 1,
                configs: BTreeMap::from([("cleanup.policy".into(), "compact".into())]),
            },
        )
        .await
        .map_err(err)?;
        if partitions != 1 {
            return Err(err(LogError::Corrupt(format!(
                "the config topic must have exactly 1 partition, it has {partitions}"
            ))));
        }
        let store = ConfigStore {
            log,
            partition: TopicPartition::new(topic, 0),
        };
        let state = store.read_all().await.map_err(err)?;
        Ok((store, state))
    }

    async fn read_all(&self) -> Result<BTreeMap<String, StoredConnector>, LogError> {
        let mut connectors: BTreeMap<String, StoredConnector> = BTreeMap::new();
        let mut pending_tasks: HashMap<String, BTreeMap<usize, ConfigMap>> = HashMap::new();
        let mut targets: HashMap<String, TargetState> = HashMap::new();
        read_to_end(self.log.as_ref(), &self.partition, 0, |key, value| {
            if let Ok(key) = std::str::from_utf8(&key) {
                apply(
                    key,
                    value.as_ref(),
                    &mut connectors,
                    &mut pending_tasks,
                    &mut targets,
                );
            }
        })
        .await?;
        for (name, target) in targets {
            if let Some(c) = connectors.get_mut(&name) {
                c.target = target;
            }
        }
        Ok(connectors)
    }

    async fn write(&self, records: Vec<(String, Option<Vec<u8>>)>) -> Result<()> {
        let now = now_ms();
        let mut builder = RecordBatchBuilder::new(now);
        for (key, value) in &records {
            builder.append(now, Some(key.as_bytes()), value.as_deref(), &[]);
        }
        self.log
            .append(&self.partition, builder.finish())
            .await
            .map(|_| ())
            .map_err(|source| ConfigStoreError {
                topic: self.partition.topic.to_string(),
                source,
            })
    }

    /// Stores a connector's config.
    pub async fn put_connector(&self, name: &str, config: &ConfigMap) -> Result<()> {
        self.write(vec![(
            format!("connector-{name}"),
            Some(properties(config)),
        )])
        .await
    }

    /// Deletes a connector: tombstones for its config and target state.
    pub async fn delete_connector(&self, name: &str) -> Result<()> {
        self.write(vec![
            (format!("connector-{name}"), None),
            (format!("target-state-{name}"), None),
        ])
        .await
    }

    /// Stores a new generation of task configs, then the commit that applies them.
    pub async fn put_tasks(&self, name: &str, tasks: &[ConfigMap]) -> Result<()> {
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
        self.write(records).await
    }

    /// Stores a target state.
    pub async fn put_target_state(&self, name: &str, target: TargetState) -> Result<()> {
        // Older workers only know STARTED and PAUSED: STOPPED is written as PAUSED there.
        let v1 = match target {
            TargetState::Started => "STARTED",
            TargetState::Paused | TargetState::Stopped => "PAUSED",
        };
        let value = to_schemaless_json(&Value::Map(vec![
            (Value::from("state"), Value::from(v1)),
            (Value::from("state.v2"), Value::from(target.as_str())),
        ]));
        self.write(vec![(format!("target-state-{name}"), Some(value))])
            .await
    }
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

fn parse_properties(bytes: &Bytes) -> Option<ConfigMap> {
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

fn apply(
    key: &str,
    value: Option<&Bytes>,
    connectors: &mut BTreeMap<String, StoredConnector>,
    pending_tasks: &mut HashMap<String, BTreeMap<usize, ConfigMap>>,
    targets: &mut HashMap<String, TargetState>,
) {
    if let Some(name) = key.strip_prefix("connector-") {
        match value.and_then(parse_properties) {
            Some(config) => connectors.entry(name.to_string()).or_default().config = config,
            None => {
                connectors.remove(name);
                pending_tasks.remove(name);
            }
        }
    } else if let Some(rest) = key.strip_prefix("task-") {
        // task-<name>-<n>: the name may contain '-', the number is after the last one.
        let Some((name, n)) = rest.rsplit_once('-') else {
            return;
        };
        let (Ok(n), Some(config)) = (n.parse::<usize>(), value.and_then(parse_properties)) else {
            return;
        };
        pending_tasks
            .entry(name.to_string())
            .or_default()
            .insert(n, config);
    } else if let Some(name) = key.strip_prefix("commit-") {
        let count = value
            .and_then(|v| from_schemaless_json(v).ok())
            .and_then(|v| field(&v, "tasks").and_then(Value::as_i64));
        let (Some(count), Some(c)) = (count, connectors.get_mut(name)) else {
            return;
        };
        let tasks = pending_tasks.remove(name).unwrap_or_default();
        c.tasks = (0..count as usize)
            .filter_map(|i| tasks.get(&i).cloned())
            .collect();
    } else if let Some(name) = key.strip_prefix("target-state-") {
        let state = value
            .and_then(|v| from_schemaless_json(v).ok())
            .and_then(|v| {
                let s = field(&v, "state.v2")
                    .or_else(|| field(&v, "state"))?
                    .as_str()?
                    .to_string();
                Some(s)
            });
        let target = match state.as_deref() {
            Some("PAUSED") => TargetState::Paused,
            Some("STOPPED") => TargetState::Stopped,
            _ => TargetState::Started,
        };
        targets.insert(name.to_string(), target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EmbeddedLog;
    use ferry_broker::log::LogConfig;

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
}
