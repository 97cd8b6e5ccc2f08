//! Kafka's record formats of committed offsets in `__consumer_offsets`, so that tools which
//! read that topic understand Ferry's and Ferry reads Kafka's.
//!
//! - key `OffsetCommitKey` v1: int16 version = 1, string group, string topic, int32 partition
//!   (version 0 has the same layout; version 2 is group metadata, not an offset).
//! - value `OffsetCommitValue` v3: int16 version = 3, int64 offset, int32 leader epoch,
//!   string metadata, int64 commit timestamp. Versions 0–2 are read too (v0: offset, metadata,
//!   timestamp; v1: + expire timestamp; v2: offset, metadata, timestamp). A null value is a
//!   tombstone (the offset was deleted).
//!
//! Strings are int16 length + UTF-8, as everywhere in Kafka's internal formats.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The internal topic of committed offsets, as in Kafka.
pub const TOPIC: &str = "__consumer_offsets";

/// The partition of [`TOPIC`] that holds `group`'s offsets, as Kafka's `partitionFor`:
/// `Utils.abs(groupId.hashCode()) % partitions`, where `Utils.abs` is the absolute value
/// and 0 for `i32::MIN` (not the sign bit cleared: the two differ for negative hashes).
pub fn partition_for_group(group: &str, partitions: u32) -> i32 {
    let h = group.encode_utf16().fold(0i32, |h, c| {
        h.wrapping_mul(31).wrapping_add(i32::from(c as i16))
    });
    let abs = if h == i32::MIN { 0 } else { h.unsigned_abs() };
    (abs % partitions.max(1)) as i32
}

/// A malformed key or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed __consumer_offsets record: {0}")]
pub struct FormatError(pub &'static str);

/// A decoded offset-commit key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetKey {
    /// The consumer group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
}

/// A decoded offset-commit value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, -1 if unknown.
    pub leader_epoch: i32,
    /// The client's metadata string.
    pub metadata: String,
    /// When the offset was committed (ms since the epoch).
    pub commit_timestamp: i64,
}

fn put_string(buf: &mut BytesMut, s: &str) {
    let len = s.len().min(i16::MAX as usize);
    buf.put_i16(len as i16);
    buf.put_slice(&s.as_bytes()[..len]);
}

fn get_string(buf: &mut Bytes) -> Result<String, FormatError> {
    if buf.remaining() < 2 {
        return Err(FormatError("truncated string"));
    }
    let len = buf.get_i16();
    if len < 0 {
        return Ok(String::new()); // null string
    }
    let len = len as usize;
    if buf.remaining() < len {
        return Err(FormatError("truncated string"));
    }
    String::from_utf8(buf.split_to(len).to_vec()).map_err(|_| FormatError("non-UTF-8 string"))
}

fn get_i64(buf: &mut Bytes) -> Result<i64, FormatError> {
    if buf.remaining() < 8 {
        return Err(FormatError("truncated value"));
    }
    Ok(buf.get_i64())
}

/// `OffsetCommitKey` v1.
pub fn encode_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut buf = BytesMut::with_capacity(10 + group.len() + topic.len());
    buf.put_i16(1);
    put_string(&mut buf, group);
    put_string(&mut buf, topic);
    buf.put_i32(partition);
    buf.freeze()
}

/// `OffsetCommitValue` v3.
pub fn encode_value(value: &OffsetValue) -> Bytes {
    let mut buf = BytesMut::with_capacity(24 + value.metadata.len());
    buf.put_i16(3);
    buf.put_i64(value.offset);
    buf.put_i32(value.leader_epoch);
    put_string(&mut buf, &value.metadata);
    buf.put_i64(value.commit_timestamp);
    buf.freeze()
}

/// Decodes a key; `Ok(None)` for records that are not offset commits (group metadata).
pub fn decode_key(mut key: Bytes) -> Result<Option<OffsetKey>, FormatError> {
    if key.remaining() < 2 {
        return Err(FormatError("truncated key"));
    }
    let version = key.get_i16();
    if !(0..=1).contains(&version) {
        return Ok(None);
    }
    let group = get_string(&mut key)?;
    let topic = get_string(&mut key)?;
    if key.remaining() < 4 {
        return Err(FormatError("truncated key"));
    }
    let partition = key.get_i32();
    Ok(Some(OffsetKey {
        group,
        topic,
        partition,
    }))
}

/// Decodes a value of any version 0–3 (later versions start like v3).
pub fn decode_value(mut value: Bytes) -> Result<OffsetValue, FormatError> {
    if value.remaining() < 2 {
        return Err(FormatError("truncated value"));
    }
    let version = value.get_i16();
    let offset = get_i64(&mut value)?;
    let leader_epoch = if version >= 3 {
        if value.remaining() < 4 {
            return Err(FormatError("truncated value"));
        }
        value.get_i32()
    } else {
        -1
    };
    let metadata = get_string(&mut value)?;
    let commit_timestamp = get_i64(&mut value)?;
    Ok(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's `GroupCoordinatorService.partitionFor` is `Utils.abs(groupId.hashCode()) %
    /// partitions`. `"abc".hashCode()` is 96354; `"my-group"` hashes to -1906497762, where the
    /// absolute value and clearing the sign bit give different partitions.
    #[test]
    fn group_partition_is_kafkas_utils_abs_of_the_hash() {
        assert_eq!(partition_for_group("abc", 50), 96354 % 50);
        assert_eq!(partition_for_group("anything", 1), 0);
        assert_eq!(partition_for_group("my-group", 50), 12);
        assert_eq!(partition_for_group("connect-local-file-sink", 50), 7);
        // "polygenelubricants".hashCode() is i32::MIN, whose Utils.abs is 0.
        assert_eq!(partition_for_group("polygenelubricants", 50), 0);
    }

    #[test]
    fn golden_bytes_are_kafkas() {
        let key = encode_key("g", "t", 3);
        assert_eq!(&key[..], &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]);
        assert_eq!(
            decode_key(key).unwrap(),
            Some(OffsetKey {
                group: "g".into(),
                topic: "t".into(),
                partition: 3
            })
        );
        let v = OffsetValue {
            offset: 42,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_timestamp: 7,
        };
        let bytes = encode_value(&v);
        assert_eq!(
            &bytes[..],
            &[
                0, 3, 0, 0, 0, 0, 0, 0, 0, 42, 255, 255, 255, 255, 0, 1, b'm', 0, 0, 0, 0, 0, 0, 0,
                7
            ]
        );
        assert_eq!(decode_value(bytes).unwrap(), v);
        // v1 (Kafka 0.10–2.0): offset, metadata, commit timestamp, expire timestamp
        let v1 = Bytes::from_static(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
        assert_eq!(decode_value(v1).unwrap().offset, 5);
        assert_eq!(
            decode_key(Bytes::from_static(&[0, 2, 0, 1, b'g'])),
            Ok(None)
        );
        assert!(decode_key(Bytes::from_static(&[0, 1, 0])).is_err());
        assert!(decode_value(Bytes::from_static(&[0, 3, 0])).is_err());
    }

    /// `OffsetCommitValue` v0 and v2 (Kafka before 2.1): offset, metadata, commit
    /// timestamp, no leader epoch; v1 adds an expire timestamp after them. All read with
    /// leader epoch -1.
    #[test]
    fn value_versions_0_to_2_have_no_leader_epoch() {
        #[rustfmt::skip]
        let v0 = [
            0, 0, // version 0
            0, 0, 0, 0, 0, 0, 0, 5, // offset 5
            0, 1, b'm', // metadata "m"
            0, 0, 0, 0, 0, 0, 0, 9, // commit timestamp 9
        ];
        let want = OffsetValue {
            offset: 5,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_timestamp: 9,
        };
        assert_eq!(decode_value(Bytes::copy_from_slice(&v0)).unwrap(), want);
        let mut v2 = v0;
        v2[1] = 2;
        assert_eq!(decode_value(Bytes::copy_from_slice(&v2)).unwrap(), want);
        let mut v1 = v0.to_vec();
        v1[1] = 1;
        v1.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 10]); // expire timestamp
        assert_eq!(decode_value(Bytes::from(v1)).unwrap(), want);
        // Key version 0 has version 1's layout.
        let key = [0, 0, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3];
        assert_eq!(
            decode_key(Bytes::copy_from_slice(&key)).unwrap(),
            Some(OffsetKey {
                group: "g".into(),
                topic: "t".into(),
                partition: 3
            })
        );
    }
}
