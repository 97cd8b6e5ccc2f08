//! Connector, task and topic statuses in the compacted status topic
//! (`status.storage.topic`, `status.storage.partitions` partitions, default 5), with Kafka
//! Connect's keys and values (docs/formats.md §5, internal JsonConverter with schemas disabled;
//! Kafka's `KafkaStatusBackingStore`):
//!
//! | key | value |
//! |---|---|
//! | `status-connector-<name>` | `{"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":7}` |
//! | `status-task-<name>-<n>` | the same shape |
//! | `status-topic-<topic>:connector-<name>` | `{"topic":{"name":..,"connector":..,"task":0,"discoverTimestamp":<ms>}}` |
//!
//! A DESTROYED status is written as a tombstone, as is a reset of a topic status. Records go to
//! partition `murmur2(key) % partitions`, as a Kafka producer would send them, so each key's
//! history stays in one partition and the last record of a key is its status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferry_api::{TopicPartition, Value};
use ferry_record::{RecordBatchBuilder, partition_for_key};

use crate::lifecycle::TaskId;
use crate::log::{Log, LogError, NewTopic, ensure_topic_replicated, read_to_end};
use ferry_converters::json::{from_schemaless_json, to_schemaless_json};
use ferry_record::now_ms;

/// Default of `status.storage.partitions`.
pub const DEFAULT_PARTITIONS: u32 = 5;

/// Kafka Connect's `AbstractStatus.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not assigned to any worker yet.
    Unassigned,
    /// Running.
    Running,
    /// Paused.
    Paused,
    /// Failed; the status carries a trace.
    Failed,
    /// Deleted (written as a tombstone).
    Destroyed,
    /// Being restarted.
    Restarting,
    /// Stopped (KIP-875).
    Stopped,
}

impl State {
    /// All states.
    pub const ALL: [State; 7] = [
        State::Unassigned,
        State::Running,
        State::Paused,
        State::Failed,
        State::Destroyed,
        State::Restarting,
        State::Stopped,
    ];

    /// Kafka Connect's name (`RUNNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Unassigned => "UNASSIGNED",
            State::Running => "RUNNING",
            State::Paused => "PAUSED",
            State::Failed => "FAILED",
            State::Destroyed => "DESTROYED",
            State::Restarting => "RESTARTING",
            State::Stopped => "STOPPED",
        }
    }

    /// Parses Kafka Connect's name.
    pub fn parse(name: &str) -> Option<State> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The status of a connector or a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Its state.
    pub state: State,
    /// The failure's stack trace / description, for FAILED.
    pub trace: Option<String>,
    /// The worker reporting it (`host:port`).
    pub worker_id: String,
    /// The group generation in which it was reported.
    pub generation: i32,
}

/// A topic a connector has used (KIP-558).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    /// The topic.
    pub topic: String,
    /// The connector.
    pub connector: String,
    /// The task that used it.
    pub task: i32,
    /// When it was first seen, ms since the epoch.
    pub discover_timestamp: i64,
}

/// Everything in the status topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Connector statuses by name.
    pub connectors: BTreeMap<String, Status>,
    /// Task statuses by id.
    pub tasks: BTreeMap<TaskId, Status>,
    /// Topic statuses by `(connector, topic)`.
    pub topics: BTreeMap<(String, String), TopicStatus>,
}

impl StatusSnapshot {
    /// Applies one record of the status topic (later records win). Unknown keys and
    /// unreadable values are skipped, as Kafka Connect does.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>) {
        if let Some(name) = key.strip_prefix("status-connector-") {
            match value.and_then(parse_status) {
                Some(s) => {
                    self.connectors.insert(name.to_string(), s);
                }
                None if value.is_none() => {
                    self.connectors.remove(name);
                }
                None => tracing::warn!(key, "ignoring an unreadable connector status"),
            }
        } else if let Some(rest) = key.strip_prefix("status-task-") {
            // status-task-<name>-<n>: the name may contain '-', the number is after the last.
            let Some(id) = rest.rsplit_once('-').and_then(|(name, n)| {
                Some(TaskId {
                    connector: name.to_string(),
                    task: n.parse().ok()?,
                })
            }) else {
                tracing::warn!(key, "ignoring a task status with an invalid key");
                return;
            };
            match value.and_then(parse_status) {
                Some(s) => {
                    self.tasks.insert(id, s);
                }
                None if value.is_none() => {
                    self.tasks.remove(&id);
                }
                None => tracing::warn!(key, "ignoring an unreadable task status"),
            }
        } else if let Some(rest) = key.strip_prefix("status-topic-") {
            // Topic names cannot contain ':', so the first ":connector-" separates.
            let Some((topic, connector)) = rest.split_once(":connector-") else {
                tracing::warn!(key, "ignoring a topic status with an invalid key");
                return;
            };
            let k = (connector.to_string(), topic.to_string());
            match value.and_then(parse_topic_status) {
                Some(s) => {
                    self.topics.insert(k, s);
                }
                None if value.is_none() => {
                    self.topics.remove(&k);
                }
                None => tracing::warn!(key, "ignoring an unreadable topic status"),
            }
        }
    }
}

/// The status topic key of a connector.
pub fn connector_key(name: &str) -> String {
    format!("status-connector-{name}")
}

/// The status topic key of a task.
pub fn task_key(id: &TaskId) -> String {
    format!("status-task-{}-{}", id.connector, id.task)
}

/// The status topic key of a connector's topic.
pub fn topic_key(topic: &str, connector: &str) -> String {
    format!("status-topic-{topic}:connector-{connector}")
}

/// A status value's bytes; `None` (a tombstone) for DESTROYED.
pub fn encode_status(status: &Status) -> Option<Vec<u8>> {
    if status.state == State::Destroyed {
        return None;
    }
    Some(to_schemaless_json(&Value::Map(vec![
        (Value::from("state"), Value::from(status.state.as_str())),
        (
            Value::from("trace"),
            status.trace.as_deref().map_or(Value::Null, Value::from),
        ),
        (
            Value::from("worker_id"),
            Value::from(status.worker_id.as_str()),
        ),
        (Value::from("generation"), Value::Int32(status.generation)),
    ])))
}

/// A topic status value's bytes.
pub fn encode_topic_status(status: &TopicStatus) -> Vec<u8> {
    to_schemaless_json(&Value::Map(vec![(
        Value::from("topic"),
        Value::Map(vec![
            (Value::from("name"), Value::from(status.topic.as_str())),
            (
                Value::from("connector"),
                Value::from(status.connector.as_str()),
            ),
            (Value::from("task"), Value::Int32(status.task)),
            (
                Value::from("discoverTimestamp"),
                Value::Int64(status.discover_timestamp),
            ),
        ]),
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

fn parse_status(bytes: &[u8]) -> Option<Status> {
    let value = from_schemaless_json(bytes).ok()?;
    let state = State::parse(field(&value, "state")?.as_str()?)?;
    let trace = field(&value, "trace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let worker_id = field(&value, "worker_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let generation = field(&value, "generation")
        .and_then(Value::as_i64)
        .and_then(|g| i32::try_from(g).ok())
        .unwrap_or(-1);
    Some(Status {
        state,
        trace,
        worker_id,
        generation,
    })
}

fn parse_topic_status(bytes: &[u8]) -> Option<TopicStatus> {
    let value = from_schemaless_json(bytes).ok()?;
    let t = field(&value, "topic")?;
    Some(TopicStatus {
        topic: field(t, "name")?.as_str()?.to_string(),
        connector: field(t, "connector")?.as_str()?.to_string(),
        task: field(t, "task")
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0),
        discover_timestamp: field(t, "discoverTimestamp")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    })
}

/// Errors of the status store.
#[derive(Debug, thiserror::Error)]
#[error("status topic '{topic}': {source}")]
pub struct StatusStoreError {
    topic: String,
    #[source]
    source: LogError,
}

type Result<T, E = StatusStoreError> = std::result::Result<T, E>;

/// A typed view over the status topic.
pub struct StatusStore {
    log: Arc<dyn Log>,
    topic: String,
    partitions: u32,
    /// Next offset to read per partition, for [`StatusStore::read_new`].
    positions: Mutex<Vec<i64>>,
}

impl std::fmt::Debug for StatusStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusStore")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl StatusStore {
    /// Opens the status topic (creating it, compacted, with `partitions` partitions, if
    /// missing) and reads every status.
    pub async fn open(
        log: Arc<dyn Log>,
        topic: &str,
        partitions: u32,
    ) -> Result<(StatusStore, StatusSnapshot)> {
        StatusStore::open_replicated(log, topic, partitions, -1).await
    }

    /// [`open`](Self::open), creating a missing topic with `replication_factor` replicas
    /// (-1: the broker's default).
    pub async fn open_replicated(
        log: Arc<dyn Log>,
        topic: &str,
        partitions: u32,
        replication_factor: i16,
    ) -> Result<(StatusStore, StatusSnapshot)> {
        let partitions = ensure_topic_replicated(
            log.as_ref(),
            NewTopic {
                name: topic.to_string(),
                partitions: partitions.max(1),
                configs: BTreeMap::from([("cleanup.policy".into(), "compact".into())]),
            },
            replication_factor,
        )
        .await
        .map_err(|source| StatusStoreError {
            topic: topic.to_string(),
            source,
        })?;
        let store = StatusStore {
            log,
            topic: topic.to_string(),
            partitions,
            positions: Mutex::new(vec![0; partitions as usize]),
        };
        let mut snapshot = StatusSnapshot::default();
        store.read_new(&mut snapshot).await?;
        Ok((store, snapshot))
    }

    fn err(&self, source: LogError) -> StatusStoreError {
        StatusStoreError {
            topic: self.topic.clone(),
            source,
        }
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The next offset [`read_new`](Self::read_new) would read, per partition (where a
    /// [`Tail`](crate::log::Tail) of the topic starts).
    pub fn positions(&self) -> Vec<i64> {
        self.positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads the whole topic from its start.
    pub async fn read_all(&self) -> Result<StatusSnapshot> {
        let mut snapshot = StatusSnapshot::default();
        for p in 0..self.partitions as i32 {
            let tp = TopicPartition::new(self.topic.as_str(), p);
            self.read_partition(&tp, 0, &mut snapshot)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(snapshot)
    }

    /// Applies to `snapshot` what was written (by any worker) since the last call (or since
    /// [`open`](Self::open), which reads everything); returns how many records it read. One
    /// reader at a time: concurrent calls may apply records twice, out of order.
    pub async fn read_new(&self, snapshot: &mut StatusSnapshot) -> Result<usize> {
        let positions = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut read = 0;
        for (p, from) in positions.into_iter().enumerate() {
            let tp = TopicPartition::new(self.topic.as_str(), p as i32);
            let (next, n) = self
                .read_partition(&tp, from, snapshot)
                .await
                .map_err(|e| self.err(e))?;
            read += n;
            if let Some(slot) = self
                .positions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(p)
            {
                *slot = next;
            }
        }
        Ok(read)
    }

    /// Applies the records of `tp` from offset `from` to its end; returns the next offset
    /// and the number of records applied.
    async fn read_partition(
        &self,
        tp: &TopicPartition,
        from: i64,
        snapshot: &mut StatusSnapshot,
    ) -> Result<(i64, usize), LogError> {
        let mut applied = 0;
        let next = read_to_end(self.log.as_ref(), tp, from, |key, value| {
            if let Ok(key) = std::str::from_utf8(&key) {
                snapshot.apply(key, value.as_deref());
                applied += 1;
            }
        })
        .await?;
        Ok((next, applied))
    }

    async fn write(&self, key: String, value: Option<Vec<u8>>) -> Result<()> {
        let now = now_ms();
        let mut builder = RecordBatchBuilder::new(now);
        builder.append(now, Some(key.as_bytes()), value.as_deref(), &[]);
        let partition = partition_for_key(key.as_bytes(), self.partitions) as i32;
        let tp = TopicPartition::new(self.topic.as_str(), partition);
        self.log
            .append(&tp, builder.finish())
            .await
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Stores a connector's status (DESTROYED: a tombstone).
    pub async fn put_connector(&self, name: &str, status: &Status) -> Result<()> {
        self.write(connector_key(name), encode_status(status)).await
    }

    /// Stores a task's status (DESTROYED: a tombstone).
    pub async fn put_task(&self, id: &TaskId, status: &Status) -> Result<()> {
        self.write(task_key(id), encode_status(status)).await
    }

    /// Records that a connector used a topic.
    pub async fn put_topic(&self, status: &TopicStatus) -> Result<()> {
        self.write(
            topic_key(&status.topic, &status.connector),
            Some(encode_topic_status(status)),
        )
        .await
    }

    /// Forgets that a connector used a topic (a tombstone).
    pub async fn delete_topic(&self, topic: &str, connector: &str) -> Result<()> {
        self.write(topic_key(topic, connector), None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EmbeddedLog;
    use ferry_log::LogConfig;

    fn status(state: State, generation: i32) -> Status {
        Status {
            state,
            trace: None,
            worker_id: "host:8083".into(),
            generation,
        }
    }

    fn task(c: &str, n: usize) -> TaskId {
        TaskId {
            connector: c.into(),
            task: n,
        }
    }

    #[test]
    fn values_and_keys_are_kafka_connects_bytes() {
        assert_eq!(
            encode_status(&status(State::Running, 7)).unwrap(),
            br#"{"state":"RUNNING","trace":null,"worker_id":"host:8083","generation":7}"#
        );
        let failed = Status {
            trace: Some("boom\n\tat x".into()),
            ..status(State::Failed, 2)
        };
        assert_eq!(
            encode_status(&failed).unwrap(),
            br#"{"state":"FAILED","trace":"boom\n\tat x","worker_id":"host:8083","generation":2}"#
        );
        assert_eq!(encode_status(&status(State::Destroyed, 3)), None);
        assert_eq!(
            encode_topic_status(&TopicStatus {
                topic: "t".into(),
                connector: "c".into(),
                task: 0,
                discover_timestamp: 1700000000000,
            }),
            br#"{"topic":{"name":"t","connector":"c","task":0,"discoverTimestamp":1700000000000}}"#
        );
        assert_eq!(connector_key("my-conn"), "status-connector-my-conn");
        assert_eq!(task_key(&task("my-conn", 3)), "status-task-my-conn-3");
        assert_eq!(topic_key("t", "c"), "status-topic-t:connector-c");
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn snapshot_applies_records_in_order() {
        let mut s = StatusSnapshot::default();
        let running = encode_status(&status(State::Running, 1)).unwrap();
        s.apply("status-task-a-b-12", Some(&running));
        s.apply("status-connector-a-b", Some(&running));
        s.apply(
            "status-topic-t:connector-a-b",
            Some(br#"{"topic":{"name":"t","connector":"a-b","task":1,"discoverTimestamp":5}}"#),
        );
        assert_eq!(s.tasks[&task("a-b", 12)], status(State::Running, 1));
        assert_eq!(s.connectors["a-b"].generation, 1);
        assert_eq!(s.topics[&("a-b".to_string(), "t".to_string())].task, 1);
        // Garbage and unknown keys are skipped; tombstones delete.
        s.apply("status-task-x", Some(&running));
        s.apply("status-connector-a-b", Some(b"{not json"));
        s.apply("something-else", Some(&running));
        assert_eq!(s.connectors.len(), 1);
        s.apply("status-connector-a-b", None);
        s.apply("status-task-a-b-12", None);
        s.apply("status-topic-t:connector-a-b", None);
        assert_eq!(s, StatusSnapshot::default());
    }

    #[tokio::test]
    async fn round_trips_through_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        let (store, snapshot) =
            StatusStore::open(log.clone(), "connect-status", DEFAULT_PARTITIONS)
                .await
                .unwrap();
        assert_eq!(snapshot, StatusSnapshot::default());
        assert_eq!(
            log.partition_count("connect-status").await.unwrap(),
            Some(5)
        );

        store
            .put_connector("my-conn", &status(State::Running, 1))
            .await
            .unwrap();
        for n in 0..3 {
            store
                .put_task(&task("my-conn", n), &status(State::Running, 1))
                .await
                .unwrap();
        }
        let failed = Status {
            trace: Some("oops".into()),
            ..status(State::Failed, 2)
        };
        store.put_task(&task("my-conn", 1), &failed).await.unwrap();
        store
            .put_task(&task("my-conn", 2), &status(State::Destroyed, 2))
            .await
            .unwrap();
        store
            .put_connector("gone", &status(State::Paused, 1))
            .await
            .unwrap();
        store
            .put_connector("gone", &status(State::Destroyed, 2))
            .await
            .unwrap();
        let used = TopicStatus {
            topic: "orders".into(),
            connector: "my-conn".into(),
            task: 0,
            discover_timestamp: 42,
        };
        store.put_topic(&used).await.unwrap();
        store
            .put_topic(&TopicStatus {
                topic: "reset".into(),
                ..used.clone()
            })
            .await
            .unwrap();
        store.delete_topic("reset", "my-conn").await.unwrap();

        let (_, snapshot) = StatusStore::open(log.clone(), "connect-status", DEFAULT_PARTITIONS)
            .await
            .unwrap();
        assert_eq!(
            snapshot.connectors,
            BTreeMap::from([("my-conn".to_string(), status(State::Running, 1))])
        );
        assert_eq!(
            snapshot.tasks,
            BTreeMap::from([
                (task("my-conn", 0), status(State::Running, 1)),
                (task("my-conn", 1), failed),
            ])
        );
        assert_eq!(
            snapshot.topics,
            BTreeMap::from([(("my-conn".to_string(), "orders".to_string()), used)])
        );

        // Each key sits in its murmur2 partition, like a Kafka producer would put it.
        let key = connector_key("my-conn");
        let p = partition_for_key(key.as_bytes(), 5) as i32;
        let (_, end) = log
            .offset_range(&TopicPartition::new("connect-status", p))
            .await
            .unwrap();
        assert!(end >= 1);
        let tombstone_partition = partition_for_key(task_key(&task("my-conn", 2)).as_bytes(), 5);
        let fetched = log
            .fetch(
                &[(
                    TopicPartition::new("connect-status", tombstone_partition as i32),
                    0,
                )],
                1 << 20,
                std::time::Duration::ZERO,
            )
            .await
            .unwrap();
        let mut saw_tombstone = false;
        for batch in ferry_record::batches(fetched[0].batches.clone()) {
            for r in batch.unwrap().records() {
                let r = r.unwrap();
                if r.key.as_deref() == Some(task_key(&task("my-conn", 2)).as_bytes()) {
                    saw_tombstone |= r.value.is_none();
                }
            }
        }
        assert!(saw_tombstone, "DESTROYED is written as a tombstone");
    }

    #[tokio::test]
    async fn another_worker_sees_new_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        let (w1, _) = StatusStore::open(log.clone(), "s", 3).await.unwrap();
        let (w2, mut seen) = StatusStore::open(log.clone(), "s", 3).await.unwrap();
        assert_eq!(w2.read_new(&mut seen).await.unwrap(), 0);
        w1.put_connector("c", &status(State::Running, 1))
            .await
            .unwrap();
        w1.put_task(&task("c", 0), &status(State::Running, 1))
            .await
            .unwrap();
        assert_eq!(w2.read_new(&mut seen).await.unwrap(), 2);
        assert_eq!(seen.connectors["c"].state, State::Running);
        w1.put_task(&task("c", 0), &status(State::Failed, 2))
            .await
            .unwrap();
        assert_eq!(w2.read_new(&mut seen).await.unwrap(), 1);
        assert_eq!(seen.tasks[&task("c", 0)].state, State::Failed);
        assert_eq!(w2.read_new(&mut seen).await.unwrap(), 0);
        assert_eq!(seen, w2.read_all().await.unwrap());
    }
}
