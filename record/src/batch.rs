//! Reading Kafka v2 record batches (magic 2) without copying.

use bytes::Bytes;

use super::compression::{MAX_DECOMPRESSED_SIZE, decompress};
use super::varint::{get_varint, get_varlong};
use crate::{Error, Result};

// Byte positions of the v2 batch header fields (Kafka's `DefaultRecordBatch`).
/// Position of baseOffset (int64).
pub const BASE_OFFSET_OFFSET: usize = 0;
pub(crate) const LENGTH_OFFSET: usize = 8;
pub(crate) const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub(crate) const MAGIC_OFFSET: usize = 16;
pub(crate) const CRC_OFFSET: usize = 17;
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;
/// Position of lastOffsetDelta (int32).
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub(crate) const BASE_TIMESTAMP_OFFSET: usize = 27;
/// Position of maxTimestamp (int64).
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub(crate) const PRODUCER_ID_OFFSET: usize = 43;
pub(crate) const PRODUCER_EPOCH_OFFSET: usize = 51;
pub(crate) const BASE_SEQUENCE_OFFSET: usize = 53;
/// Position of the record count (int32).
pub const RECORDS_COUNT_OFFSET: usize = 57;

/// Size of the fixed v2 batch header; records start here.
pub const BATCH_HEADER_SIZE: usize = 61;
/// Bytes before the part counted by `batchLength` (baseOffset + batchLength).
pub const LOG_OVERHEAD: usize = 12;
/// The only record format this crate reads and writes.
pub const MAGIC_V2: i8 = 2;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_MASK: i16 = 0x08;
const TRANSACTIONAL_MASK: i16 = 0x10;
const CONTROL_MASK: i16 = 0x20;

#[inline]
pub(crate) fn get_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
/// The big-endian int32 at `b[at..at + 4]`. Panics if `b` is too short.
#[inline]
pub fn get_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
/// The big-endian int64 at `b[at..at + 8]`. Panics if `b` is too short.
#[inline]
pub fn get_i64(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

/// Rewrites the baseOffset field of the batch starting at `buf[0]`.
///
/// The CRC does not cover baseOffset, so assigning offsets needs nothing else.
///
/// # Panics
/// If `buf` is shorter than 8 bytes.
pub fn set_base_offset(buf: &mut [u8], base_offset: i64) {
    buf[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Stamps an idempotent producer's identity on each of the complete batches in `buf`
/// (producerId, producerEpoch, and baseSequence counting up from `first_sequence` by each
/// batch's record count, wrapping at `i32::MAX` as Kafka does) and recomputes their CRCs,
/// which cover those fields. Returns the sequence after the last record.
///
/// # Errors
/// [`Error::CorruptBatch`] if `buf` is not a sequence of whole v2 batches (nothing is
/// changed then).
pub fn set_producer(
    buf: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    first_sequence: i32,
) -> Result<i32> {
    let mut pos = 0;
    while pos < buf.len() {
        pos += check_frame(&buf[pos..], pos)?;
    }
    let mut pos = 0;
    let mut seq = first_sequence;
    while pos < buf.len() {
        let size = (get_i32(&buf[pos..], LENGTH_OFFSET) as usize) + LOG_OVERHEAD;
        let batch = &mut buf[pos..pos + size];
        let count = get_i32(batch, RECORDS_COUNT_OFFSET);
        batch[PRODUCER_ID_OFFSET..PRODUCER_ID_OFFSET + 8]
            .copy_from_slice(&producer_id.to_be_bytes());
        batch[PRODUCER_EPOCH_OFFSET..PRODUCER_EPOCH_OFFSET + 2]
            .copy_from_slice(&producer_epoch.to_be_bytes());
        batch[BASE_SEQUENCE_OFFSET..BASE_SEQUENCE_OFFSET + 4].copy_from_slice(&seq.to_be_bytes());
        let crc = compute_crc(batch);
        batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        seq = next_sequence(seq, count);
        pos += size;
    }
    Ok(seq)
}

/// The sequence number after `count` records starting at `seq` (wraps to 0 past `i32::MAX`).
pub fn next_sequence(seq: i32, count: i32) -> i32 {
    let next = i64::from(seq) + i64::from(count.max(0));
    (next % (i64::from(i32::MAX) + 1)) as i32
}

/// CRC-32C of a complete batch, over attributes..end (what the crc field must hold).
///
/// # Panics
/// If `batch` is shorter than the batch header.
pub(crate) fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// Checks the framing of the batch at `buf[0..]` (header present, sane batchLength, magic 2)
/// and returns its total size in bytes. `position` is only used in error messages.
/// Does not check the CRC.
pub fn check_frame(buf: &[u8], position: usize) -> Result<usize> {
    let corrupt = |reason: String| Error::CorruptBatch { position, reason };
    if buf.len() < LOG_OVERHEAD {
        return Err(corrupt(format!(
            "truncated: {} bytes left, a batch needs at least {BATCH_HEADER_SIZE}",
            buf.len()
        )));
    }
    let batch_length = get_i32(buf, LENGTH_OFFSET);
    if batch_length < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
        return Err(corrupt(format!(
            "batchLength {batch_length} is smaller than the v2 header"
        )));
    }
    let size = LOG_OVERHEAD + batch_length as usize;
    if buf.len() < BATCH_HEADER_SIZE {
        return Err(corrupt(format!(
            "truncated: {} bytes left, a batch needs at least {BATCH_HEADER_SIZE}",
            buf.len()
        )));
    }
    let magic = buf[MAGIC_OFFSET] as i8;
    if magic != MAGIC_V2 {
        return Err(corrupt(format!("magic {magic}, only magic 2 is supported")));
    }
    if buf.len() < size {
        return Err(corrupt(format!(
            "truncated: batchLength says {size} bytes, only {} left",
            buf.len()
        )));
    }
    Ok(size)
}

/// Full validation of one complete batch (`batch` is exactly the batch): CRC and header sanity.
pub fn check_batch(batch: &[u8], position: usize) -> Result<()> {
    let corrupt = |reason: String| Error::CorruptBatch { position, reason };
    let stored = get_i32(batch, CRC_OFFSET) as u32;
    let computed = compute_crc(batch);
    if stored != computed {
        return Err(corrupt(format!(
            "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
        )));
    }
    let count = get_i32(batch, RECORDS_COUNT_OFFSET);
    let last_delta = get_i32(batch, LAST_OFFSET_DELTA_OFFSET);
    if count < 0 || last_delta < 0 {
        return Err(corrupt(format!(
            "negative record count {count} or lastOffsetDelta {last_delta}"
        )));
    }
    Ok(())
}

/// One v2 record batch, a cheap view over a shared buffer.
///
/// Construction checks the framing (length, magic); [`RecordBatch::crc_valid`] checks the
/// CRC; [`RecordBatch::records`] decodes the records lazily, yielding slices of the buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordBatch {
    data: Bytes,
}

impl std::fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordBatch")
            .field("base_offset", &self.base_offset())
            .field("last_offset", &self.last_offset())
            .field("count", &self.count())
            .field("size", &self.size_in_bytes())
            .finish()
    }
}

impl RecordBatch {
    /// Parses the batch at the start of `data`; bytes after it are ignored (use [`batches`]
    /// for concatenated batches). Checks framing but not the CRC.
    pub fn parse(data: Bytes) -> Result<RecordBatch> {
        let size = check_frame(&data, 0)?;
        Ok(RecordBatch {
            data: data.slice(..size),
        })
    }

    /// The whole batch, header included.
    pub fn as_bytes(&self) -> &Bytes {
        &self.data
    }

    /// The whole batch, header included.
    pub fn into_bytes(self) -> Bytes {
        self.data
    }

    /// Total size in bytes (12 + batchLength).
    pub fn size_in_bytes(&self) -> usize {
        self.data.len()
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        get_i64(&self.data, BASE_OFFSET_OFFSET)
    }

    /// Offset of the last record (`base_offset + lastOffsetDelta`).
    pub fn last_offset(&self) -> i64 {
        self.base_offset() + i64::from(self.last_offset_delta())
    }

    /// The lastOffsetDelta header field.
    pub fn last_offset_delta(&self) -> i32 {
        get_i32(&self.data, LAST_OFFSET_DELTA_OFFSET)
    }

    /// Offset following this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// The partitionLeaderEpoch header field.
    pub fn partition_leader_epoch(&self) -> i32 {
        get_i32(&self.data, PARTITION_LEADER_EPOCH_OFFSET)
    }

    /// The magic byte (always 2 for a parsed batch).
    pub fn magic(&self) -> i8 {
        self.data[MAGIC_OFFSET] as i8
    }

    /// The stored CRC.
    pub fn crc(&self) -> u32 {
        get_i32(&self.data, CRC_OFFSET) as u32
    }

    /// Whether the stored CRC matches the CRC-32C of attributes..end.
    pub fn crc_valid(&self) -> bool {
        self.crc() == compute_crc(&self.data)
    }

    /// The attributes header field.
    pub fn attributes(&self) -> i16 {
        get_i16(&self.data, ATTRIBUTES_OFFSET)
    }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes() & COMPRESSION_MASK
    }

    /// Whether record timestamps are LogAppendTime (all equal to `max_timestamp`).
    pub fn is_log_append_time(&self) -> bool {
        self.attributes() & TIMESTAMP_TYPE_MASK != 0
    }

    /// Transactional batch flag.
    pub fn is_transactional(&self) -> bool {
        self.attributes() & TRANSACTIONAL_MASK != 0
    }

    /// Control batch flag (transaction markers).
    pub fn is_control(&self) -> bool {
        self.attributes() & CONTROL_MASK != 0
    }

    /// The baseTimestamp header field.
    pub fn base_timestamp(&self) -> i64 {
        get_i64(&self.data, BASE_TIMESTAMP_OFFSET)
    }

    /// The maxTimestamp header field.
    pub fn max_timestamp(&self) -> i64 {
        get_i64(&self.data, MAX_TIMESTAMP_OFFSET)
    }

    /// The producerId header field (-1 without idempotence).
    pub fn producer_id(&self) -> i64 {
        get_i64(&self.data, PRODUCER_ID_OFFSET)
    }

    /// The producerEpoch header field.
    pub fn producer_epoch(&self) -> i16 {
        get_i16(&self.data, PRODUCER_EPOCH_OFFSET)
    }

    /// The baseSequence header field.
    pub fn base_sequence(&self) -> i32 {
        get_i32(&self.data, BASE_SEQUENCE_OFFSET)
    }

    /// Number of records (the header field).
    pub fn count(&self) -> i32 {
        get_i32(&self.data, RECORDS_COUNT_OFFSET)
    }

    /// Checks the CRC and header sanity; `Ok` means [`RecordBatch::records`] can be trusted
    /// to match what the producer wrote.
    pub fn validate(&self) -> Result<()> {
        check_batch(&self.data, 0)
    }

    /// Iterates over the records. Each item borrows nothing: keys, values and headers are
    /// [`Bytes`] slices of this batch's buffer (no copy).
    ///
    /// A compressed batch (gzip, snappy, lz4, zstd) is decompressed once, on the first
    /// `next()`, into one owned buffer of at most
    /// [`MAX_DECOMPRESSED_SIZE`](super::MAX_DECOMPRESSED_SIZE) bytes, and the records are
    /// slices of that buffer. Codec ids 5–7 yield one [`Error::UnsupportedCompression`];
    /// corrupt compressed data or malformed records yield one [`Error::CorruptBatch`], then
    /// the iterator ends.
    pub fn records(&self) -> Records {
        Records {
            data: self.data.clone(),
            pos: BATCH_HEADER_SIZE,
            remaining: self.count(),
            base_offset: self.base_offset(),
            base_timestamp: self.base_timestamp(),
            log_append_time: self.is_log_append_time().then(|| self.max_timestamp()),
            compression: self.compression(),
            attributes: self.attributes(),
            failed: false,
        }
    }
}

/// Iterates over concatenated batches in `data` (a fetch response, a segment chunk).
/// A truncated or malformed batch yields one error, then the iterator ends.
pub fn batches(data: Bytes) -> Batches {
    Batches {
        data,
        pos: 0,
        failed: false,
    }
}

/// Iterator returned by [`batches`].
#[derive(Debug, Clone)]
pub struct Batches {
    data: Bytes,
    pos: usize,
    failed: bool,
}

impl Iterator for Batches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.data.len() {
            return None;
        }
        match check_frame(&self.data[self.pos..], self.pos) {
            Ok(size) => {
                let batch = RecordBatch {
                    data: self.data.slice(self.pos..self.pos + size),
                };
                self.pos += size;
                Some(Ok(batch))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// One record of a batch. Keys, values and headers are slices of the batch buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (`baseOffset + offsetDelta`).
    pub offset: i64,
    /// Timestamp in ms (`baseTimestamp + timestampDelta`, or the batch's maxTimestamp for
    /// LogAppendTime batches).
    pub timestamp: i64,
    /// Key, `None` for a null key.
    pub key: Option<Bytes>,
    /// Value, `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers, already validated, decoded lazily.
    pub headers: Headers,
}

/// The headers of one record: a validated slice, iterated without allocation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    count: usize,
    data: Bytes,
}

impl Headers {
    /// The encoded headers (without the count), as stored in the record.
    pub fn raw(&self) -> &[u8] {
        &self.data
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates over the headers in order.
    pub fn iter(&self) -> HeaderIter {
        HeaderIter {
            data: self.data.clone(),
            pos: 0,
            remaining: self.count,
        }
    }
}

impl IntoIterator for &Headers {
    type Item = Header;
    type IntoIter = HeaderIter;
    fn into_iter(self) -> HeaderIter {
        self.iter()
    }
}

/// One record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key (UTF-8 in Kafka, not checked here).
    pub key: Bytes,
    /// Header value, `None` for null.
    pub value: Option<Bytes>,
}

impl Header {
    /// The key as UTF-8, if it is.
    pub fn key_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.key).ok()
    }
}

/// Iterator returned by [`Headers::iter`].
#[derive(Debug, Clone)]
pub struct HeaderIter {
    data: Bytes,
    pos: usize,
    remaining: usize,
}

impl Iterator for HeaderIter {
    type Item = Header;

    fn next(&mut self) -> Option<Header> {
        if self.remaining == 0 {
            return None;
        }
        // The region was validated by `parse_headers`; a failure here cannot happen, and
        // would just end the iteration.
        let (key, value) = read_header(&self.data, &mut self.pos)?;
        self.remaining -= 1;
        Some(Header {
            key: self.data.slice(key.0..key.1),
            value: value.map(|(a, b)| self.data.slice(a..b)),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

type Span = (usize, usize);

/// Reads a length-prefixed field; `Some(None)` for length -1.
#[inline]
fn read_field(buf: &[u8], pos: &mut usize) -> Option<Option<Span>> {
    let len = get_varint(buf, pos)?;
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let start = *pos;
    let end = start.checked_add(len)?;
    if end > buf.len() {
        return None;
    }
    *pos = end;
    Some(Some((start, end)))
}

#[inline]
fn read_header(buf: &[u8], pos: &mut usize) -> Option<(Span, Option<Span>)> {
    let key = read_field(buf, pos)??; // header keys are never null
    let value = read_field(buf, pos)?;
    Some((key, value))
}

/// Iterator returned by [`RecordBatch::records`].
#[derive(Debug, Clone)]
pub struct Records {
    /// The batch; for a compressed batch, after the first `next()`, its decompressed records.
    data: Bytes,
    pos: usize,
    remaining: i32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
    /// Codec id still to be undone on the first `next()` (0 once `data` holds plain records).
    compression: i16,
    attributes: i16,
    failed: bool,
}

impl Records {
    fn corrupt(&mut self, position: usize, reason: &str) -> Option<Result<Record>> {
        self.failed = true;
        Some(Err(Error::CorruptBatch {
            position,
            reason: reason.to_owned(),
        }))
    }
}

impl Iterator for Records {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.failed {
            return None;
        }
        if self.compression != 0 {
            let section = self.data.get(BATCH_HEADER_SIZE..).unwrap_or_default();
            match decompress(
                self.compression,
                self.attributes,
                section,
                MAX_DECOMPRESSED_SIZE,
            ) {
                Ok(records) => {
                    self.data = records;
                    self.pos = 0;
                    self.compression = 0;
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        if self.remaining <= 0 {
            if self.pos != self.data.len() {
                let pos = self.pos;
                return self.corrupt(pos, "bytes left after the declared record count");
            }
            return None;
        }
        let start = self.pos;
        let buf = &self.data[..];
        let mut pos = start;
        let Some(len) = get_varint(buf, &mut pos) else {
            return self.corrupt(start, "truncated record length");
        };
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|&e| e <= buf.len())
        else {
            return self.corrupt(start, "record length beyond the batch");
        };
        let rec = &buf[..end];
        pos += 1; // attributes (unused in v2)
        let parsed = (|| {
            let ts_delta = get_varlong(rec, &mut pos)?;
            let offset_delta = get_varint(rec, &mut pos)?;
            let key = read_field(rec, &mut pos)?;
            let value = read_field(rec, &mut pos)?;
            let header_count = usize::try_from(get_varint(rec, &mut pos)?).ok()?;
            let headers_start = pos;
            for _ in 0..header_count {
                read_header(rec, &mut pos)?;
            }
            (pos == end).then_some((
                ts_delta,
                offset_delta,
                key,
                value,
                header_count,
                headers_start,
            ))
        })();
        let Some((ts_delta, offset_delta, key, value, header_count, headers_start)) = parsed else {
            return self.corrupt(start, "malformed record");
        };
        self.pos = end;
        self.remaining -= 1;
        let data = &self.data;
        Some(Ok(Record {
            offset: self.base_offset + i64::from(offset_delta),
            timestamp: self
                .log_append_time
                .unwrap_or(self.base_timestamp.wrapping_add(ts_delta)),
            key: key.map(|(a, b)| data.slice(a..b)),
            value: value.map(|(a, b)| data.slice(a..b)),
            headers: Headers {
                count: header_count,
                data: if header_count == 0 {
                    Bytes::new()
                } else {
                    data.slice(headers_start..end)
                },
            },
        }))
    }
}
