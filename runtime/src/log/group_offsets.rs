//! Consumer-group offsets of the embedded log, kept in the compacted topic
//! `__consumer_offsets` in Kafka's own record formats (`OffsetCommitKey` version 1,
//! `OffsetCommitValue` version 3), so that tools which read that topic understand it.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ferry_api::TopicPartition;

use super::{LogError, Result};

/// The internal topic, as in Kafka.
pub(crate) const TOPIC: &str = "__consumer_offsets";

/// `(group, partition) → next offset to consume`.
pub(crate) type GroupOffsets = HashMap<(String, TopicPartition), i64>;

fn put_string(buf: &mut BytesMut, s: &str) {
    buf.put_i16(s.len() as i16);
    buf.put_slice(s.as_bytes());
}

fn get_string(buf: &mut Bytes) -> Result<String> {
    if buf.remaining() < 2 {
        return Err(LogError::Corrupt(
            "truncated string in __consumer_offsets".into(),
        ));
    }
    let len = buf.get_i16();
    let len = usize::try_from(len)
        .map_err(|_| LogError::Corrupt("negative string length in __consumer_offsets".into()))?;
    if buf.remaining() < len {
        return Err(LogError::Corrupt(
            "truncated string in __consumer_offsets".into(),
        ));
    }
    let bytes = buf.split_to(len);
    String::from_utf8(bytes.to_vec())
        .map_err(|_| LogError::Corrupt("non-UTF-8 string in __consumer_offsets".into()))
}

/// Kafka's `OffsetCommitKey` v1: version, group, topic, partition.
pub(crate) fn encode_key(group: &str, tp: &TopicPartition) -> Bytes {
    let mut buf = BytesMut::with_capacity(10 + group.len() + tp.topic.len());
    buf.put_i16(1);
    put_string(&mut buf, group);
    put_string(&mut buf, &tp.topic);
    buf.put_i32(tp.partition);
    buf.freeze()
}

/// Kafka's `OffsetCommitValue` v3: version, offset, leader epoch, metadata, commit time.
pub(crate) fn encode_value(offset: i64, commit_timestamp: i64) -> Bytes {
    let mut buf = BytesMut::with_capacity(26);
    buf.put_i16(3);
    buf.put_i64(offset);
    buf.put_i32(-1);
    put_string(&mut buf, "");
    buf.put_i64(commit_timestamp);
    buf.freeze()
}

/// Decodes an offset-commit key; `None` for other record kinds (group metadata, version 2).
pub(crate) fn decode_key(mut key: Bytes) -> Result<Option<(String, TopicPartition)>> {
    if key.remaining() < 2 {
        return Err(LogError::Corrupt(
            "truncated key in __consumer_offsets".into(),
        ));
    }
    let version = key.get_i16();
    if !(0..=1).contains(&version) {
        return Ok(None);
    }
    let group = get_string(&mut key)?;
    let topic = get_string(&mut key)?;
    if key.remaining() < 4 {
        return Err(LogError::Corrupt(
            "truncated key in __consumer_offsets".into(),
        ));
    }
    let partition = key.get_i32();
    Ok(Some((group, TopicPartition::new(topic, partition))))
}

/// The offset of an offset-commit value (any version: the offset follows the version).
pub(crate) fn decode_value(mut value: Bytes) -> Result<i64> {
    if value.remaining() < 10 {
        return Err(LogError::Corrupt(
            "truncated value in __consumer_offsets".into(),
        ));
    }
    let _version = value.get_i16();
    Ok(value.get_i64())
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
