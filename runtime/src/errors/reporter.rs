//! The errant record reporter a sink task gets through its context (KIP-610).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::{ConnectError, ConsumedRecord, Converter, ErrantRecordReporter, SinkRecord, Value};

use super::failure::{Consumed, Failure, Stage};
use super::handler::ErrorHandler;

/// A sink task's errant record reporter: a reported record goes to its task's
/// [`ErrorHandler`] with the bytes it was consumed with, which the runtime delivered with it
/// ([`SinkRecord::original`]); a record the task made itself is serialized with the
/// connector's converters instead.
pub(crate) struct ErrantReporter {
    pub(crate) handler: Arc<ErrorHandler>,
    pub(crate) key: Box<dyn Converter>,
    pub(crate) value: Box<dyn Converter>,
    pub(crate) class: String,
}

impl ErrantReporter {
    /// The bytes of a record that did not come from the log, as the converters write it.
    fn serialized(&self, record: &SinkRecord) -> ConsumedRecord {
        let topic = record.topic.as_ref();
        ConsumedRecord {
            key: self
                .key
                .from_connect(topic, record.key_schema.as_ref(), &record.key)
                .ok()
                .flatten(),
            value: self
                .value
                .from_connect(topic, record.value_schema.as_ref(), &record.value)
                .ok()
                .flatten(),
            headers: record
                .headers
                .iter()
                .map(|h| {
                    let v = match &h.value {
                        Value::Null => None,
                        Value::String(s) => Some(s.as_bytes().clone()),
                        Value::Bytes(b) => Some(b.clone()),
                        other => Some(Bytes::from(ferry_converters::to_schemaless_json(other))),
                    };
                    (h.key.clone(), v)
                })
                .collect(),
            timestamp: record.timestamp,
        }
    }
}

#[async_trait]
impl ErrantRecordReporter for ErrantReporter {
    async fn report(&self, record: &SinkRecord, error: &ConnectError) -> ferry_api::Result<()> {
        let consumed = Consumed {
            topic: record.topic.clone(),
            partition: record.kafka_partition,
            offset: record.kafka_offset,
            record: match &record.original {
                Some(original) => original.clone(),
                None => self.serialized(record),
            },
        };
        self.handler
            .handle(Failure {
                stage: Stage::TaskPut,
                class: &self.class,
                error,
                record: Some(&consumed),
            })
            .await
    }
}
