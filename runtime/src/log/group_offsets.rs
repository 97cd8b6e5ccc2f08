//! Consumer-group offsets of the embedded log, kept in the compacted topic
//! `__consumer_offsets` in Kafka's own record formats (`OffsetCommitKey` version 1,
//! `OffsetCommitValue` version 3), so that tools which read that topic understand it.
//!
//! The formats live in [`ferry_record::consumer_offsets`], shared with `ferry broker`'s
//! group coordinator (same topic, same bytes); this module adapts them to the runtime's types.

use std::collections::HashMap;

use bytes::Bytes;
use ferry_api::TopicPartition;
use ferry_record::consumer_offsets::{self as offsets, OffsetValue};

use super::{LogError, Result};

/// The internal topic, as in Kafka.
pub(crate) const TOPIC: &str = offsets::TOPIC;

/// `(group, partition) → next offset to consume`.
pub(crate) type GroupOffsets = HashMap<(String, TopicPartition), i64>;

fn corrupt(e: offsets::FormatError) -> LogError {
    LogError::Corrupt(format!("{e} in {TOPIC}"))
}

/// Kafka's `OffsetCommitKey` v1: version, group, topic, partition.
pub(crate) fn encode_key(group: &str, tp: &TopicPartition) -> Bytes {
    offsets::encode_key(group, &tp.topic, tp.partition)
}

/// Kafka's `OffsetCommitValue` v3: version, offset, leader epoch, metadata, commit time.
pub(crate) fn encode_value(offset: i64, commit_timestamp: i64) -> Bytes {
    offsets::encode_value(&OffsetValue {
        offset,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp,
    })
}

/// Decodes an offset-commit key; `None` for other record kinds (group metadata, version 2).
pub(crate) fn decode_key(key: Bytes) -> Result<Option<(String, TopicPartition)>> {
    Ok(offsets::decode_key(key)
        .map_err(corrupt)?
        .map(|k| (k.group, TopicPartition::new(k.topic, k.partition))))
}

/// The offset of an offset-commit value (versions 0–3).
pub(crate) fn decode_value(value: Bytes) -> Result<i64> {
    Ok(offsets::decode_value(value).map_err(corrupt)?.offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_bytes_are_kafkas() {
        let tp = TopicPartition::new("t", 3);
        let key = encode_key("g", &tp);
        assert_eq!(
            &key[..],
            &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3],
            "version 1, group, topic, partition"
        );
        assert_eq!(decode_key(key).unwrap(), Some(("g".to_string(), tp)));
        let value = encode_value(42, 7);
        assert_eq!(value.len(), 2 + 8 + 4 + 2 + 8);
        assert_eq!(decode_value(value).unwrap(), 42);
        assert!(decode_key(Bytes::from_static(&[0, 1, 0])).is_err());
    }
}
