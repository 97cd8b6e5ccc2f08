//! Writing Kafka v2 record batches.

use bytes::{Bytes, BytesMut};

use super::batch::{
    ATTRIBUTES_OFFSET, BATCH_HEADER_SIZE, CRC_OFFSET, LOG_OVERHEAD, MAGIC_V2, compute_crc,
};
use super::varint::{put_varint, put_varlong, varint_size, varlong_size};

/// No producer id / epoch / sequence (non-idempotent producer), as Kafka writes them.
const NO_PRODUCER_ID: i64 = -1;
const NO_PRODUCER_EPOCH: i16 = -1;
const NO_SEQUENCE: i32 = -1;
/// What a producer writes in partitionLeaderEpoch (`RecordBatch.NO_PARTITION_LEADER_EPOCH`).
const NO_PARTITION_LEADER_EPOCH: i32 = -1;
/// Kafka's `RecordBatch.NO_TIMESTAMP`.
const NO_TIMESTAMP: i64 = -1;

/// Builds one uncompressed v2 record batch in a single buffer.
///
/// Records are encoded as they are appended; [`RecordBatchBuilder::finish`] fills in the
/// header (lengths, counts, timestamps, CRC). The baseOffset is 0 until the log assigns it.
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    buf: Vec<u8>,
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
    /// lastOffsetDelta to write; `None`: count - 1 (records numbered 0..count).
    last_offset_delta: Option<i32>,
}

impl RecordBatchBuilder {
    /// A builder whose timestamps are stored relative to `base_timestamp` (ms); use the first
    /// record's timestamp, as Kafka's producer does.
    pub fn new(base_timestamp: i64) -> Self {
        Self::with_capacity(base_timestamp, 1024)
    }

    /// Like [`RecordBatchBuilder::new`], reserving `capacity` bytes (e.g. `batch.size`).
    pub fn with_capacity(base_timestamp: i64, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity.max(BATCH_HEADER_SIZE));
        buf.resize(BATCH_HEADER_SIZE, 0);
        RecordBatchBuilder {
            buf,
            base_timestamp,
            max_timestamp: NO_TIMESTAMP,
            count: 0,
            last_offset_delta: None,
        }
    }

    /// Number of records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size in bytes the finished batch would have now (exact for uncompressed batches).
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Size in bytes a record would add to the batch, to decide whether it still fits.
    pub fn record_size(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        let body = self.body_size(timestamp_ms, key, value, headers);
        varint_size(body as i32) + body
    }

    fn body_size(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> usize {
        let mut size = 1 // attributes
            + varlong_size(timestamp_ms.wrapping_sub(self.base_timestamp))
            + varint_size(self.count)
            + field_size(key)
            + field_size(value)
            + varint_size(headers.len() as i32);
        for (k, v) in headers {
            size += field_size(Some(k.as_bytes())) + field_size(*v);
        }
        size
    }

    /// Appends a record with the next offset delta.
    ///
    /// # Panics
    /// If a key, value or header is larger than `i32::MAX` bytes, or the batch would hold more
    /// than `i32::MAX` records (neither can be sent to Kafka either).
    pub fn append(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) {
        let body = self.body_size(timestamp_ms, key, value, headers);
        let body_i32 = i32::try_from(body).expect("record larger than i32::MAX bytes");
        let buf = &mut self.buf;
        buf.reserve(body + 5);
        put_varint(buf, body_i32);
        buf.push(0); // record attributes
        put_varlong(buf, timestamp_ms.wrapping_sub(self.base_timestamp));
        put_varint(buf, self.count);
        put_field(buf, key);
        put_field(buf, value);
        put_varint(buf, headers.len() as i32);
        for (k, v) in headers {
            put_field(buf, Some(k.as_bytes()));
            put_field(buf, *v);
        }
        self.count = self
            .count
            .checked_add(1)
            .expect("more than i32::MAX records in one batch");
        if timestamp_ms > self.max_timestamp {
            self.max_timestamp = timestamp_ms;
        }
    }

    /// Re-encodes a record with a given offset delta and raw (already encoded) headers, for
    /// the compactor, which keeps offsets and headers as they were.
    pub fn append_raw(
        &mut self,
        offset_delta: i32,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        header_count: usize,
        raw_headers: &[u8],
    ) {
        let ts_delta = timestamp_ms.wrapping_sub(self.base_timestamp);
        let body = 1
            + varlong_size(ts_delta)
            + varint_size(offset_delta)
            + field_size(key)
            + field_size(value)
            + varint_size(header_count as i32)
            + raw_headers.len();
        let buf = &mut self.buf;
        put_varint(buf, body as i32);
        buf.push(0);
        put_varlong(buf, ts_delta);
        put_varint(buf, offset_delta);
        put_field(buf, key);
        put_field(buf, value);
        put_varint(buf, header_count as i32);
        buf.extend_from_slice(raw_headers);
        self.count += 1;
        if timestamp_ms > self.max_timestamp {
            self.max_timestamp = timestamp_ms;
        }
    }

    /// Overrides lastOffsetDelta (the compactor keeps the original batch's).
    pub fn set_last_offset_delta(&mut self, delta: i32) {
        self.last_offset_delta = Some(delta);
    }

    fn finish_vec(mut self) -> Vec<u8> {
        let len = self.buf.len();
        let h = &mut self.buf[..BATCH_HEADER_SIZE];
        h[0..8].copy_from_slice(&0i64.to_be_bytes()); // baseOffset
        h[8..12].copy_from_slice(&((len - LOG_OVERHEAD) as i32).to_be_bytes());
        h[12..16].copy_from_slice(&NO_PARTITION_LEADER_EPOCH.to_be_bytes());
        h[16] = MAGIC_V2 as u8;
        // 17..21 crc, below
        h[21..23].copy_from_slice(&0i16.to_be_bytes()); // attributes: no compression, CreateTime
        let last_delta = self.last_offset_delta.unwrap_or(self.count - 1);
        h[23..27].copy_from_slice(&last_delta.to_be_bytes()); // lastOffsetDelta
        let (base_ts, max_ts) = if self.count == 0 {
            (NO_TIMESTAMP, NO_TIMESTAMP)
        } else {
            (self.base_timestamp, self.max_timestamp)
        };
        h[27..35].copy_from_slice(&base_ts.to_be_bytes());
        h[35..43].copy_from_slice(&max_ts.to_be_bytes());
        h[43..51].copy_from_slice(&NO_PRODUCER_ID.to_be_bytes());
        h[51..53].copy_from_slice(&NO_PRODUCER_EPOCH.to_be_bytes());
        h[53..57].copy_from_slice(&NO_SEQUENCE.to_be_bytes());
        h[57..61].copy_from_slice(&self.count.to_be_bytes());
        debug_assert_eq!(ATTRIBUTES_OFFSET, 21);
        let crc = compute_crc(&self.buf);
        self.buf[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        self.buf
    }

    /// Completes the batch: header, counts, CRC. baseOffset is 0.
    pub fn finish(self) -> Bytes {
        Bytes::from(self.finish_vec())
    }

    /// Like [`RecordBatchBuilder::finish`], as a mutable buffer ready for
    /// the log engine's `PartitionLog::append` (no copy).
    pub fn finish_mut(self) -> BytesMut {
        BytesMut::from(Bytes::from(self.finish_vec()))
    }
}

#[inline]
fn field_size(f: Option<&[u8]>) -> usize {
    match f {
        None => 1,
        Some(b) => varint_size(b.len() as i32) + b.len(),
    }
}

#[inline]
fn put_field(buf: &mut Vec<u8>, f: Option<&[u8]>) {
    match f {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.extend_from_slice(b);
        }
    }
}
