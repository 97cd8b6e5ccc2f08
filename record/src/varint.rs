//! Kafka's zigzag varints (`ByteUtils.writeVarint` / `writeVarlong`).

/// Appends `v` as a zigzag varint (at most 5 bytes).
#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i32) {
    put_uvarint(buf, ((v << 1) ^ (v >> 31)) as u32 as u64);
}

/// Appends `v` as a zigzag varlong (at most 10 bytes).
#[inline]
pub(crate) fn put_varlong(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

#[inline]
fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Encoded size of `v` as a zigzag varint.
#[inline]
pub(crate) fn varint_size(v: i32) -> usize {
    uvarint_size(((v << 1) ^ (v >> 31)) as u32 as u64)
}

/// Encoded size of `v` as a zigzag varlong.
#[inline]
pub(crate) fn varlong_size(v: i64) -> usize {
    uvarint_size(((v << 1) ^ (v >> 63)) as u64)
}

#[inline]
fn uvarint_size(v: u64) -> usize {
    // 1 byte per 7 bits, at least one byte.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Reads a zigzag varint at `buf[*pos..]`, advancing `pos`.
/// `None` if the input ends early or the varint is longer than 5 bytes.
#[inline]
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<i32> {
    // Like Kafka's `readVarint`, excess high bits of the fifth byte are dropped.
    let raw = get_uvarint(buf, pos, 5)? as u32;
    Some(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zigzag varlong at `buf[*pos..]`, advancing `pos`.
#[inline]
pub(crate) fn get_varlong(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let raw = get_uvarint(buf, pos, 10)?;
    Some(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

#[inline]
fn get_uvarint(buf: &[u8], pos: &mut usize, max_len: usize) -> Option<u64> {
    let mut value = 0u64;
    let mut shift = 0u32;
    for i in 0..max_len {
        let b = *buf.get(*pos + i)?;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            *pos += i + 1;
            return Some(value);
        }
        shift += 7;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_examples() {
        // From Kafka's ByteUtilsTest: zigzag mapping 0→0, -1→1, 1→2, -2→3, ...
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (-65, &[0x81, 0x01]),
            (8191, &[0xfe, 0x7f]),
            (-8192, &[0xff, 0x7f]),
            (8192, &[0x80, 0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (v, bytes) in cases {
            let mut buf = Vec::new();
            put_varint(&mut buf, *v);
            assert_eq!(&buf[..], *bytes, "{v}");
            assert_eq!(varint_size(*v), bytes.len());
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(*v));
            assert_eq!(pos, bytes.len());
        }
    }

    #[test]
    fn varlong_round_trip_and_limits() {
        for v in [0i64, 1, -1, 300, -300, i64::MAX, i64::MIN, 1 << 40] {
            let mut buf = Vec::new();
            put_varlong(&mut buf, v);
            assert_eq!(varlong_size(v), buf.len());
            let mut pos = 0;
            assert_eq!(get_varlong(&buf, &mut pos), Some(v));
        }
        // Truncated and over-long inputs are refused.
        let mut pos = 0;
        assert_eq!(get_varint(&[0x80], &mut pos), None);
        assert_eq!(
            get_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], &mut pos),
            None
        );
        assert_eq!(pos, 0);
    }

    /// Varlongs (the record's timestampDelta) from Kafka's `ByteUtilsTest`: the zigzag value
    /// in groups of 7 bits, least significant first, high bit set on all but the last byte.
    #[test]
    fn varlong_bytes_are_kafkas() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (300, &[0xd8, 0x04]),
            (-300, &[0xd7, 0x04]),
            (
                i64::MAX,
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
            (
                i64::MIN,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (v, bytes) in cases {
            let mut buf = Vec::new();
            put_varlong(&mut buf, *v);
            assert_eq!(&buf[..], *bytes, "{v}");
            let mut pos = 0;
            assert_eq!(get_varlong(bytes, &mut pos), Some(*v));
            assert_eq!(pos, bytes.len());
        }
    }
}
