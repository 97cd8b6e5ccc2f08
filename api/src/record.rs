//! Records as source tasks emit them and sink tasks receive them.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::data::{Schema, Value};

/// A source partition or source offset: a small ordered map of string keys to primitive
/// values (`{"filename": "/tmp/in.txt"}`, `{"position": 1234}`). Immutable and cheap to clone.
///
/// Member order is kept, because Kafka Connect compares offset keys by their serialized JSON
/// bytes.
#[derive(Clone, Default)]
pub struct SourceMap(Arc<[(Cow<'static, str>, Value)]>);

impl PartialEq for SourceMap {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl SourceMap {
    /// A map with one entry.
    pub fn single(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> SourceMap {
        SourceMap(Arc::from(vec![(key.into(), value.into())]))
    }
    /// The entries, in order.
    pub fn entries(&self) -> &[(Cow<'static, str>, Value)] {
        &self.0
    }
    /// A value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<Cow<'static, str>>> FromIterator<(K, Value)> for SourceMap {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        SourceMap(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v))
                .collect::<Vec<_>>()
                .into(),
        )
    }
}

impl fmt::Debug for SourceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

/// A record header: a key and a value with an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// The header key.
    pub key: String,
    /// The value's schema, if known.
    pub schema: Option<Schema>,
    /// The value.
    pub value: Value,
}

/// A topic and a partition number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A record produced by a source task.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Where in the source system the record comes from (e.g. `{"filename": ...}`).
    pub source_partition: SourceMap,
    /// How far into that partition the record is (e.g. `{"position": ...}`); committed once
    /// the record is durable in the log.
    pub source_offset: SourceMap,
    /// Destination topic.
    pub topic: Arc<str>,
    /// Destination partition; `None` lets the producer pick one (by key hash, else sticky).
    pub kafka_partition: Option<i32>,
    /// Key schema.
    pub key_schema: Option<Schema>,
    /// Key.
    pub key: Value,
    /// Value schema.
    pub value_schema: Option<Schema>,
    /// Value.
    pub value: Value,
    /// Record timestamp in ms since the epoch; `None` means "now" at append time.
    pub timestamp: Option<i64>,
    /// Headers.
    pub headers: Vec<Header>,
}

/// A record's bytes as the sink's consumer read them from the log (Kafka Connect keeps the
/// same in its `InternalSinkRecord`): what the dead letter queue writes back when the record
/// fails, whatever converters and transforms made of it. Slices of the fetched batch, so
/// carrying it copies nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsumedRecord {
    /// The key bytes.
    pub key: Option<Bytes>,
    /// The value bytes.
    pub value: Option<Bytes>,
    /// The headers, keys and value bytes.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// The record's timestamp in ms since the epoch.
    pub timestamp: Option<i64>,
}

impl SourceRecord {
    /// A record with no key, no explicit partition, no timestamp and no headers.
    pub fn new(
        source_partition: SourceMap,
        source_offset: SourceMap,
        topic: Arc<str>,
        value_schema: Option<Schema>,
        value: Value,
    ) -> Self {
        SourceRecord {
            source_partition,
            source_offset,
            topic,
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Vec::new(),
        }
    }
}

/// A record delivered to a sink task.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// Source topic.
    pub topic: Arc<str>,
    /// Partition in that topic.
    pub kafka_partition: i32,
    /// Offset in that partition.
    pub kafka_offset: i64,
    /// Record timestamp in ms since the epoch.
    pub timestamp: Option<i64>,
    /// Key schema.
    pub key_schema: Option<Schema>,
    /// Key.
    pub key: Value,
    /// Value schema.
    pub value_schema: Option<Schema>,
    /// Value.
    pub value: Value,
    /// Headers.
    pub headers: Vec<Header>,
    /// The record as it was read from the log, before converters and transforms; set by the
    /// runtime on every record it delivers, `None` on records a task makes itself.
    pub original: Option<ConsumedRecord>,
}
