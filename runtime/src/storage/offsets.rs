//! Source offsets: which position of each source partition is covered by records already
//! durable in the log.
//!
//! Keys and values are Kafka Connect's bytes (docs/formats.md §5): key
//! `["<connector>",{<source partition>}]`, value `{<source offset>}`, both written by the
//! internal JsonConverter with schemas disabled; a null value deletes the offset. Lookups
//! compare serialized key bytes, as Kafka Connect does.
//!
//! Two backings, as in Kafka Connect standalone:
//! - [`OffsetStore::topic`]: the compacted offset topic (`offset.storage.topic`) of the log
//!   the worker uses; records go to partition `murmur2(key) % partitions` like a Kafka
//!   producer would send them.
//! - [`OffsetStore::file`]: the file named by `offset.storage.file.filename`. Ferry writes
//!   its own format there (a JSON array of `[key, value]` JSON texts, replaced atomically on
//!   each flush), not Java serialization: such a file cannot be shared with a Java worker.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::{ConnectError, OffsetReader, SourceMap, TopicPartition, Value};
use ferry_record::{RecordBatchBuilder, partition_for_key};

use crate::log::{Log, NewTopic, ensure_topic_replicated, read_to_end};
use ferry_converters::json::{from_schemaless_json, to_schemaless_json};
use ferry_record::now_ms;

/// Errors of the offset store.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    /// The log failed.
    #[error("offset topic '{topic}': {source}")]
    Log {
        /// The offset topic.
        topic: String,
        /// What failed.
        #[source]
        source: crate::log::LogError,
    },
    /// The offset file could not be read or written.
    #[error("offset file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The offset file is not in Ferry's format.
    #[error("offset file {}: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

type Result<T, E = OffsetStoreError> = std::result::Result<T, E>;

enum Backing {
    Topic {
        log: Arc<dyn Log>,
        topic: String,
        partitions: u32,
    },
    File {
        path: PathBuf,
    },
}

/// The worker's source offsets, read at start and then kept in memory; a distributed
/// worker [`refresh`](OffsetStore::refresh)es them with what other workers committed.
pub struct OffsetStore {
    backing: Backing,
    data: Mutex<HashMap<Bytes, Bytes>>,
    /// Next offset to read per partition of the offset topic.
    positions: Mutex<Vec<i64>>,
    /// Serialises writers so the file is never written by two flushes at once.
    write: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OffsetStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.backing {
            Backing::Topic { topic, .. } => format!("topic {topic}"),
            Backing::File { path } => format!("file {}", path.display()),
        };
        f.debug_struct("OffsetStore")
            .field("backing", &what)
            .finish()
    }
}

impl OffsetStore {
    /// Offsets in a compacted topic of `log`, created (with `partitions` partitions) if
    /// missing; reads the whole topic.
    pub async fn topic(log: Arc<dyn Log>, topic: &str, partitions: u32) -> Result<OffsetStore> {
        OffsetStore::topic_replicated(log, topic, partitions, -1).await
    }

    /// [`topic`](Self::topic), creating a missing topic with `replication_factor` replicas
    /// (-1: the broker's default).
    pub async fn topic_replicated(
        log: Arc<dyn Log>,
        topic: &str,
        partitions: u32,
        replication_factor: i16,
    ) -> Result<OffsetStore> {
        let err = |source| OffsetStoreError::Log {
            topic: topic.to_string(),
            source,
        };
        let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
        let partitions = ensure_topic_replicated(
            log.as_ref(),
            NewTopic {
                name: topic.to_string(),
                partitions,
                configs,
            },
            replication_factor,
        )
        .await
        .map_err(err)?;
        let store = OffsetStore {
            backing: Backing::Topic {
                log,
                topic: topic.to_string(),
                partitions,
            },
            data: Mutex::new(HashMap::new()),
            positions: Mutex::new(vec![0; partitions as usize]),
            write: tokio::sync::Mutex::new(()),
        };
        let read = store.refresh().await?;
        tracing::info!(topic, partitions, offsets = read, "source offsets loaded");
        Ok(store)
    }

    /// Reads what was written to the offset topic since the last read (by any worker), so
    /// that a task moved here resumes where the previous one committed (Kafka Connect reads
    /// the topic to its end before answering an offset lookup). Returns how many records it
    /// read; a file store reads nothing.
    pub async fn refresh(&self) -> Result<usize> {
        let Backing::Topic { log, topic, .. } = &self.backing else {
            return Ok(0);
        };
        // One reader at a time, and not while our own write is being applied.
        let _writer = self.write.lock().await;
        let from = self
            .positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut records = Vec::new();
        let mut next = Vec::with_capacity(from.len());
        for (p, offset) in from.into_iter().enumerate() {
            let tp = TopicPartition::new(topic.as_str(), p as i32);
            let end = read_to_end(log.as_ref(), &tp, offset, |key, value| {
                records.push((key, value));
            })
            .await
            .map_err(|source| OffsetStoreError::Log {
                topic: topic.clone(),
                source,
            })?;
            next.push(end);
        }
        let read = records.len();
        self.apply(records);
        *self.positions.lock().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(read)
    }

    /// Offsets in a local file; a missing file is an empty store.
    pub fn file(path: &Path) -> Result<OffsetStore> {
        let data = match std::fs::read(path) {
            Ok(bytes) if bytes.is_empty() => HashMap::new(),
            Ok(bytes) => {
                let entries: Vec<(String, Option<String>)> = serde_json::from_slice(&bytes)
                    .map_err(|e| OffsetStoreError::BadFile {
                        path: path.to_path_buf(),
                        reason: format!(
                            "not a Ferry offset file ({e}); Java-serialized files of Kafka Connect are not read"
                        ),
                    })?;
                entries
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (Bytes::from(k), Bytes::from(v))))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(source) => {
                return Err(OffsetStoreError::File {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        tracing::info!(file = %path.display(), offsets = data.len(), "source offsets loaded");
        Ok(OffsetStore {
            backing: Backing::File {
                path: path.to_path_buf(),
            },
            data: Mutex::new(data),
            positions: Mutex::new(Vec::new()),
            write: tokio::sync::Mutex::new(()),
        })
    }

    /// The committed offset of a connector's source partition.
    pub fn get(&self, connector: &str, partition: &SourceMap) -> Option<SourceMap> {
        let key = offset_key(connector, partition);
        let value = self
            .data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key[..])
            .cloned()?;
        match from_schemaless_json(&value) {
            Ok(Value::Map(entries)) => Some(
                entries
                    .into_iter()
                    .filter_map(|(k, v)| match k {
                        Value::String(s) => Some((s.as_str().to_string(), v)),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => {
                tracing::warn!(
                    connector,
                    "ignoring a stored source offset that is not a JSON object"
                );
                None
            }
        }
    }

    /// Every offset of one connector: `(source partition, source offset)`.
    pub fn connector_offsets(&self, connector: &str) -> Vec<(SourceMap, SourceMap)> {
        let data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (key, value) in data.iter() {
            let Ok(Value::Array(parts)) = from_schemaless_json(key) else {
                continue;
            };
            let [Value::String(name), Value::Map(partition)] = parts.as_slice() else {
                continue;
            };
            if name.as_str() != connector {
                continue;
            }
            let Ok(Value::Map(offset)) = from_schemaless_json(value) else {
                continue;
            };
            out.push((to_source_map(partition), to_source_map(&offset)));
        }
        out
    }

    /// Makes offsets durable: `(connector, source partition, offset)`; `None` deletes.
    pub async fn put(&self, entries: &[(&str, &SourceMap, Option<&SourceMap>)]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let _writer = self.write.lock().await;
        let encoded: Vec<(Bytes, Option<Bytes>)> = entries
            .iter()
            .map(|(connector, partition, offset)| {
                (
                    Bytes::from(offset_key(connector, partition)),
                    offset.map(|o| Bytes::from(to_schemaless_json(&source_map_value(o)))),
                )
            })
            .collect();
        match &self.backing {
            Backing::Topic {
                log,
                topic,
                partitions,
            } => {
                let now = now_ms();
                let mut per_partition: BTreeMap<u32, RecordBatchBuilder> = BTreeMap::new();
                for (key, value) in &encoded {
                    let p = partition_for_key(key, *partitions);
                    per_partition
                        .entry(p)
                        .or_insert_with(|| RecordBatchBuilder::new(now))
                        .append(now, Some(key), value.as_deref(), &[]);
                }
                for (p, builder) in per_partition {
                    let tp = TopicPartition::new(topic.as_str(), p as i32);
                    log.append(&tp, builder.finish()).await.map_err(|source| {
                        OffsetStoreError::Log {
                            topic: topic.clone(),
                            source,
                        }
                    })?;
                }
                self.apply(encoded);
            }
            Backing::File { path } => {
                let snapshot = {
                    let data = self.data.lock().unwrap_or_else(|e| e.into_inner());
                    let mut all = data.clone();
                    for (k, v) in &encoded {
                        match v {
                            Some(v) => all.insert(k.clone(), v.clone()),
                            None => all.remove(k),
                        };
                    }
                    all
                };
                write_file(path, &snapshot)?;
                self.apply(encoded);
            }
        }
        Ok(())
    }

    fn apply(&self, encoded: Vec<(Bytes, Option<Bytes>)>) {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        for (k, v) in encoded {
            match v {
                Some(v) => data.insert(k, v),
                None => data.remove(&k),
            };
        }
    }

    /// An [`OffsetReader`] for one connector's tasks.
    pub fn reader(self: &Arc<Self>, connector: &str) -> Arc<dyn OffsetReader> {
        Arc::new(ConnectorOffsets {
            store: self.clone(),
            connector: connector.to_string(),
        })
    }
}

fn write_file(path: &Path, data: &HashMap<Bytes, Bytes>) -> Result<()> {
    let io = |source| OffsetStoreError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut entries: Vec<(String, String)> = data
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect();
    entries.sort();
    let text = serde_json::to_vec(&entries).map_err(|e| io(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &text).map_err(io)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

fn source_map_value(map: &SourceMap) -> Value {
    Value::Map(
        map.entries()
            .iter()
            .map(|(k, v)| (Value::string(k.as_ref()), v.clone()))
            .collect(),
    )
}

fn to_source_map(entries: &[(Value, Value)]) -> SourceMap {
    entries
        .iter()
        .filter_map(|(k, v)| match k {
            Value::String(s) => Some((s.as_str().to_string(), v.clone())),
            _ => None,
        })
        .collect()
}

/// Kafka Connect's offset key bytes: `["<connector>",{<partition>}]`.
pub fn offset_key(connector: &str, partition: &SourceMap) -> Vec<u8> {
    to_schemaless_json(&Value::Array(vec![
        Value::string(connector),
        source_map_value(partition),
    ]))
}

struct ConnectorOffsets {
    store: Arc<OffsetStore>,
    connector: String,
}

#[async_trait]
impl OffsetReader for ConnectorOffsets {
    async fn offset(&self, partition: &SourceMap) -> ferry_api::Result<Option<SourceMap>> {
        Ok(self.store.get(&self.connector, partition))
    }
}

impl From<OffsetStoreError> for ConnectError {
    fn from(e: OffsetStoreError) -> Self {
        ConnectError::Other(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_are_kafka_connects() {
        let p = SourceMap::single("filename", Value::from("/tmp/in.txt"));
        assert_eq!(
            offset_key("local-file-source", &p),
            br#"["local-file-source",{"filename":"/tmp/in.txt"}]"#
        );
    }

    #[tokio::test]
    async fn file_store_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = OffsetStore::file(&path).unwrap();
        let p = SourceMap::single("filename", Value::from("a.txt"));
        let o = SourceMap::single("position", Value::Int64(1234));
        store.put(&[("c", &p, Some(&o))]).await.unwrap();
        let again = OffsetStore::file(&path).unwrap();
        assert_eq!(again.get("c", &p), Some(o.clone()));
        assert_eq!(again.get("other", &p), None);
        assert_eq!(again.connector_offsets("c"), vec![(p.clone(), o)]);
        again.put(&[("c", &p, None)]).await.unwrap();
        assert_eq!(OffsetStore::file(&path).unwrap().get("c", &p), None);
    }

    #[test]
    fn garbage_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.offsets");
        std::fs::write(&path, b"\xac\xed\x00\x05garbage").unwrap();
        let err = OffsetStore::file(&path).unwrap_err().to_string();
        assert!(err.contains("not a Ferry offset file"), "{err}");
    }

    /// Multi-key source partitions keep their members in the connector's order, and numbers
    /// print as Kafka's converter prints them: lookups compare these bytes.
    #[test]
    fn multi_key_partition_bytes_keep_member_order_and_java_numbers() {
        let p: SourceMap = [
            ("protocol", Value::from("1")),
            ("table", Value::from("db.public.t")),
            ("shard", Value::Int64(3)),
            ("ratio", Value::Float64(1.0)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            offset_key("jdbc", &p),
            br#"["jdbc",{"protocol":"1","table":"db.public.t","shard":3,"ratio":1.0}]"#
        );
    }

    /// Each put is one record of the offset topic: key `["<connector>",{partition}]`, value
    /// the offset as a JSON object, or a tombstone to delete it, in partition
    /// `toPositive(murmur2(key)) % partitions`. Partition 7 of 25 for this key was computed
    /// with Kafka's `Utils.murmur2`, apart from this crate.
    #[tokio::test]
    async fn topic_records_are_kafka_connects_in_the_murmur2_partition() {
        use crate::log::{EmbeddedLog, read_to_end};
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> =
            Arc::new(EmbeddedLog::open(ferry_log::LogConfig::new(dir.path())).unwrap());
        let store = OffsetStore::topic(log.clone(), "connect-offsets", 25)
            .await
            .unwrap();
        let p = SourceMap::single("filename", Value::from("/tmp/in.txt"));
        let o = SourceMap::single("position", Value::Int64(1234));
        store
            .put(&[("local-file-source", &p, Some(&o))])
            .await
            .unwrap();
        store.put(&[("local-file-source", &p, None)]).await.unwrap();
        let mut records = Vec::new();
        for partition in 0..25 {
            let tp = TopicPartition::new("connect-offsets", partition);
            read_to_end(log.as_ref(), &tp, 0, |k, v| records.push((partition, k, v)))
                .await
                .unwrap();
        }
        let key = br#"["local-file-source",{"filename":"/tmp/in.txt"}]"#;
        assert_eq!(
            records,
            [
                (
                    7,
                    Bytes::from_static(key),
                    Some(Bytes::from_static(br#"{"position":1234}"#))
                ),
                (7, Bytes::from_static(key), None),
            ]
        );
    }

    /// `offset.storage.file.filename` holds Ferry's own format, not Kafka's Java-serialized
    /// `HashMap<byte[], byte[]>`: a JSON array of `[key, value]` pairs, each the text of the
    /// offset topic's key and value, sorted by key; a deleted offset is left out. A `null`
    /// value is read as no offset.
    #[tokio::test]
    async fn offset_file_is_a_json_array_of_key_and_value_texts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let store = OffsetStore::file(&path).unwrap();
        let a = SourceMap::single("filename", Value::from("a.txt"));
        let b = SourceMap::single("filename", Value::from("b.txt"));
        let o = SourceMap::single("position", Value::Int64(1234));
        store
            .put(&[("c", &b, Some(&o)), ("c", &a, Some(&o))])
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"[["[\"c\",{\"filename\":\"a.txt\"}]","{\"position\":1234}"],["[\"c\",{\"filename\":\"b.txt\"}]","{\"position\":1234}"]]"#
        );
        store.put(&[("c", &b, None)]).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"[["[\"c\",{\"filename\":\"a.txt\"}]","{\"position\":1234}"]]"#
        );
        std::fs::write(
            &path,
            r#"[["[\"c\",{\"filename\":\"a.txt\"}]",null],["[\"c\",{\"filename\":\"b.txt\"}]","{\"position\":7}"]]"#,
        )
        .unwrap();
        let read = OffsetStore::file(&path).unwrap();
        assert_eq!(read.get("c", &a), None);
        assert_eq!(
            read.get("c", &b),
            Some(SourceMap::single("position", Value::Int64(7)))
        );
        // An empty file is an empty store, as Kafka treats a missing one.
        std::fs::write(&path, "").unwrap();
        assert!(
            OffsetStore::file(&path)
                .unwrap()
                .connector_offsets("c")
                .is_empty()
        );
    }
}
