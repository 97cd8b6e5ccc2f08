//! Kafka's record formats, without I/O: the RecordBatch v2 (magic 2) codec with its CRC-32C,
//! varints and compression codecs, Kafka's murmur2 key partitioner, and the records of
//! `__consumer_offsets`. Both sides of the wire use it: the log engine and the broker, and the
//! runtime's log clients. No async runtime, no sockets, no files.
//!
//! Hand-written for the hot path: building writes into one buffer, reading yields
//! [`bytes::Bytes`] slices of the input (no per-record allocation).

mod batch;
mod builder;
mod compression;
pub mod consumer_offsets;
mod error;
mod murmur2;
mod varint;

pub use error::{Error, Result};

/// The wall clock as a record timestamp: milliseconds since the Unix epoch (0 if the clock is
/// set before 1970). The one clock of every crate that stamps records, commits or statuses.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Byte positions inside a v2 batch header, and checks of raw batches: for a log that indexes
/// and validates batches without decoding their records.
pub mod layout {
    pub use crate::batch::{
        BASE_OFFSET_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, RECORDS_COUNT_OFFSET,
        check_batch, check_frame, get_i32, get_i64,
    };
}
pub use batch::{
    BATCH_HEADER_SIZE, Batches, Header, HeaderIter, Headers, LOG_OVERHEAD, MAGIC_V2, Record,
    RecordBatch, Records, batches, next_sequence, set_base_offset, set_producer,
};
pub use builder::RecordBatchBuilder;
pub use compression::MAX_DECOMPRESSED_SIZE;
#[cfg(any(test, feature = "test-util"))]
pub use compression::compress_batch;
pub use murmur2::{murmur2, partition_for_key};

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    /// Two records, hand-encoded from the Kafka protocol spec ("Record Batch" in
    /// kafka.apache.org/documentation/#recordbatch); the CRC-32C was computed independently
    /// (bitwise, polynomial 0x82F63B78) over attributes..end.
    #[test]
    fn producer_stamps_keep_batches_valid_and_count_sequences() {
        let batch = |n: usize| {
            let mut b = RecordBatchBuilder::new(1_000);
            for i in 0..n {
                b.append(1_000 + i as i64, None, Some(b"v"), &[]);
            }
            b.finish()
        };
        let mut buf = batch(3).to_vec();
        buf.extend_from_slice(&batch(2));
        let next = set_producer(&mut buf, 42, 7, i32::MAX - 3).unwrap();
        assert_eq!(next, 1, "3 + 2 records from MAX-3 wrap to 1");
        let parsed: Vec<RecordBatch> = batches(Bytes::from(buf.clone()))
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(parsed.len(), 2);
        for b in &parsed {
            assert!(b.crc_valid());
            assert_eq!((b.producer_id(), b.producer_epoch()), (42, 7));
        }
        assert_eq!(parsed[0].base_sequence(), i32::MAX - 3);
        assert_eq!(parsed[1].base_sequence(), i32::MAX);
        assert_eq!(next_sequence(5, 3), 8);
        // A torn buffer is refused whole.
        let before = buf.clone();
        let cut = buf.len() - 1;
        assert!(set_producer(&mut buf[..cut], 1, 1, 0).is_err());
        assert_eq!(buf, before);
    }

    const GOLDEN: &str = concat!(
        "0000000000000000", // baseOffset 0
        "00000049",         // batchLength 73 = 85 - 12
        "ffffffff",         // partitionLeaderEpoch -1
        "02",               // magic
        "c94861d8",         // crc
        "0000",             // attributes
        "00000001",         // lastOffsetDelta 1
        "00000000000003e8", // baseTimestamp 1000
        "00000000000003ed", // maxTimestamp 1005
        "ffffffffffffffff", // producerId -1
        "ffff",             // producerEpoch -1
        "ffffffff",         // baseSequence -1
        "00000002",         // records count
        // record 0: length 8, attrs 0, tsDelta 0, offsetDelta 0, key "k", value "v", 0 headers
        "10",
        "00",
        "00",
        "00",
        "026b",
        "0276",
        "00",
        // record 1: length 14, attrs 0, tsDelta 5, offsetDelta 1, key null, value "hello",
        // 1 header: key "h", value null
        "1c",
        "00",
        "0a",
        "02",
        "01",
        "0a68656c6c6f",
        "02",
        "0268",
        "01",
    );

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn golden_batch() -> Bytes {
        let mut b = RecordBatchBuilder::new(1000);
        b.append(1000, Some(b"k"), Some(b"v"), &[]);
        b.append(1005, None, Some(b"hello"), &[("h", None)]);
        assert_eq!(b.len(), 2);
        assert_eq!(b.estimated_size(), 85);
        b.finish()
    }

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn golden_bytes() {
        assert_eq!(golden_batch().to_vec(), unhex(GOLDEN));
    }

    #[test]
    fn parse_golden() {
        let batch = RecordBatch::parse(Bytes::from(unhex(GOLDEN))).unwrap();
        assert!(batch.crc_valid());
        batch.validate().unwrap();
        assert_eq!(batch.base_offset(), 0);
        assert_eq!(batch.last_offset(), 1);
        assert_eq!(batch.count(), 2);
        assert_eq!(batch.max_timestamp(), 1005);
        assert_eq!(batch.compression(), 0);
        assert_eq!(batch.producer_id(), -1);
        let recs: Vec<Record> = batch.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].offset, 0);
        assert_eq!(recs[0].timestamp, 1000);
        assert_eq!(recs[0].key.as_deref(), Some(&b"k"[..]));
        assert_eq!(recs[0].value.as_deref(), Some(&b"v"[..]));
        assert!(recs[0].headers.is_empty());
        assert_eq!(recs[1].offset, 1);
        assert_eq!(recs[1].timestamp, 1005);
        assert_eq!(recs[1].key, None);
        assert_eq!(recs[1].value.as_deref(), Some(&b"hello"[..]));
        let hs: Vec<Header> = recs[1].headers.iter().collect();
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].key_str(), Some("h"));
        assert_eq!(hs[0].value, None);
    }

    #[test]
    fn zero_copy_slices() {
        let data = golden_batch();
        let batch = RecordBatch::parse(data.clone()).unwrap();
        let rec = batch.records().next().unwrap().unwrap();
        let v = rec.value.unwrap();
        let range = data.as_ptr_range();
        assert!(
            range.contains(&v.as_ptr()),
            "value must point into the input buffer"
        );
    }

    #[test]
    fn base_offset_rewrite_keeps_crc() {
        let mut v = golden_batch().to_vec();
        set_base_offset(&mut v, 42);
        let batch = RecordBatch::parse(Bytes::from(v)).unwrap();
        assert!(batch.crc_valid());
        assert_eq!(batch.base_offset(), 42);
        assert_eq!(batch.last_offset(), 43);
        let offsets: Vec<i64> = batch.records().map(|r| r.unwrap().offset).collect();
        assert_eq!(offsets, [42, 43]);
    }

    #[test]
    fn concatenated_batches() {
        let mut all = Vec::new();
        for i in 0..3i64 {
            let mut b = RecordBatchBuilder::new(i);
            for j in 0..=i {
                b.append(i + j, Some(format!("k{j}").as_bytes()), Some(b"x"), &[]);
            }
            let mut v = b.finish().to_vec();
            set_base_offset(&mut v, i * 10);
            all.extend_from_slice(&v);
        }
        let got: Vec<RecordBatch> = batches(Bytes::from(all.clone()))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2].base_offset(), 20);
        assert_eq!(got[2].count(), 3);
        // A truncated tail yields the complete batches, then one error.
        all.truncate(all.len() - 1);
        let got: Vec<_> = batches(Bytes::from(all)).collect();
        assert_eq!(got.len(), 3);
        assert!(got[0].is_ok() && got[1].is_ok());
        assert!(matches!(got[2], Err(Error::CorruptBatch { .. })));
    }

    #[test]
    fn empty_batch_and_empty_fields() {
        let b = RecordBatchBuilder::new(5);
        assert!(b.is_empty());
        let batch = RecordBatch::parse(b.finish()).unwrap();
        assert_eq!(batch.count(), 0);
        assert_eq!(batch.last_offset_delta(), -1);
        assert_eq!(batch.records().count(), 0);

        let mut b = RecordBatchBuilder::new(5);
        b.append(4, Some(b""), None, &[("", Some(b""))]);
        let batch = RecordBatch::parse(b.finish()).unwrap();
        let r = batch.records().next().unwrap().unwrap();
        assert_eq!(r.timestamp, 4); // negative delta
        assert_eq!(r.key.as_deref(), Some(&b""[..]));
        assert_eq!(r.value, None);
        let h: Vec<Header> = r.headers.iter().collect();
        assert_eq!(h[0].value.as_deref(), Some(&b""[..]));
    }

    #[test]
    fn record_size_matches() {
        let mut b = RecordBatchBuilder::new(0);
        for i in 0..300i64 {
            let key = vec![7u8; i as usize];
            let before = b.estimated_size();
            let predicted = b.record_size(i * 1000, Some(&key), Some(b"v"), &[("a", Some(b"b"))]);
            b.append(i * 1000, Some(&key), Some(b"v"), &[("a", Some(b"b"))]);
            assert_eq!(b.estimated_size() - before, predicted);
        }
        let batch = RecordBatch::parse(b.finish()).unwrap();
        assert_eq!(batch.records().filter(|r| r.is_ok()).count(), 300);
    }

    #[test]
    fn compressed_batches_decode_like_uncompressed_ones() {
        let mut b = RecordBatchBuilder::new(1000);
        for i in 0..500i64 {
            let key = format!("key-{}", i % 37);
            let value = (i % 9 != 0).then(|| format!("value {i} {}", "x".repeat(i as usize % 50)));
            b.append(
                1000 + i,
                Some(key.as_bytes()),
                value.as_deref().map(str::as_bytes),
                &[("h", Some(b"v")), ("n", None)],
            );
        }
        let plain = b.finish();
        let want: Vec<Record> = RecordBatch::parse(plain.clone())
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect();
        for codec in 1..=4 {
            let batch = RecordBatch::parse(compress_batch(&plain, codec)).unwrap();
            assert_eq!(batch.compression(), codec);
            batch.validate().unwrap();
            let got: Vec<Record> = batch.records().map(Result::unwrap).collect();
            assert_eq!(got, want, "codec {codec}");
        }
    }

    #[test]
    fn corrupt_or_unknown_compression_is_a_typed_error() {
        // The golden batch's plain records section relabelled as gzip: not a gzip stream.
        let mut v = golden_batch().to_vec();
        v[22] = 1;
        let mut it = RecordBatch::parse(Bytes::from(v.clone()))
            .unwrap()
            .records();
        assert!(matches!(it.next(), Some(Err(Error::CorruptBatch { .. }))));
        assert!(it.next().is_none());
        v[22] = 5; // no such codec
        let mut it = RecordBatch::parse(Bytes::from(v)).unwrap().records();
        assert!(matches!(
            it.next(),
            Some(Err(Error::UnsupportedCompression { codec: 5, .. }))
        ));
        assert!(it.next().is_none());
        // Every truncation and a flipped byte anywhere in a compressed section: an error or
        // (for damage the codec cannot detect) other records, never a panic. A cut that
        // only drops a trailer (lz4's end mark) may still decode every record.
        let plain = golden_batch();
        let want: Vec<Record> = RecordBatch::parse(plain.clone())
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect();
        for codec in 1..=4 {
            let c = compress_batch(&plain, codec);
            for cut in BATCH_HEADER_SIZE..c.len() {
                let mut t = c[..cut].to_vec();
                let len = (cut - LOG_OVERHEAD) as i32;
                t[8..12].copy_from_slice(&len.to_be_bytes());
                let batch = RecordBatch::parse(Bytes::from(t)).unwrap();
                let got: Result<Vec<Record>, _> = batch.records().collect();
                assert!(
                    got.is_err() || got.as_ref().unwrap() == &want,
                    "codec {codec} cut {cut}: {got:?}"
                );
            }
            for at in BATCH_HEADER_SIZE..c.len() {
                let mut t = c.to_vec();
                t[at] ^= 0x5a;
                let batch = RecordBatch::parse(Bytes::from(t)).unwrap();
                let _ = batch.records().count();
            }
        }
    }

    /// Golden batches written by librdkafka 2.16 (confluent-kafka 2.16.1) with
    /// `compression.type` gzip, snappy (raw block), lz4 (frame) and zstd against `ferry
    /// broker`, copied from its segment files (testdata/README.md). Each log holds a batch of
    /// 4 records (offsets 0–3; librdkafka sent lz4's uncompressed, smaller that way), then one
    /// of 1000 (offsets 4–1003).
    #[test]
    fn golden_batches_from_librdkafka_decode() {
        let fixtures: [(&str, &[u8]); 4] = [
            ("gzip", include_bytes!("testdata/gzip.bin")),
            ("snappy", include_bytes!("testdata/snappy.bin")),
            ("lz4", include_bytes!("testdata/lz4.bin")),
            ("zstd", include_bytes!("testdata/zstd.bin")),
        ];
        for (codec, (name, data)) in (1i16..).zip(fixtures) {
            let bs: Vec<RecordBatch> = batches(Bytes::from_static(data))
                .map(Result::unwrap)
                .collect();
            assert_eq!(bs.len(), 2, "{name}");
            assert_eq!(
                bs[0].compression(),
                if name == "lz4" { 0 } else { codec },
                "{name}"
            );
            assert_eq!(bs[1].compression(), codec, "{name}");
            let recs: Vec<Record> = bs
                .iter()
                .flat_map(|b| {
                    b.validate().unwrap();
                    b.records()
                })
                .map(Result::unwrap)
                .collect();
            assert_eq!(recs.len(), 1004, "{name}");
            let kv = |r: &Record| {
                (
                    r.key.as_deref().map(<[u8]>::to_vec),
                    r.value.as_deref().map(<[u8]>::to_vec),
                )
            };
            assert_eq!(kv(&recs[0]), (Some(b"k1".to_vec()), Some(b"v1".to_vec())));
            let hs: Vec<Header> = recs[0].headers.iter().collect();
            assert_eq!(hs.len(), 2);
            assert_eq!(
                (hs[0].key_str(), hs[0].value.as_deref()),
                (Some("h1"), Some(&b"x"[..]))
            );
            assert_eq!(
                (hs[1].key_str(), hs[1].value.as_deref()),
                (Some("h2"), None)
            );
            let hello = format!("hello {name} ").repeat(3);
            assert_eq!(
                kv(&recs[1]),
                (Some(b"k2".to_vec()), Some(hello.into_bytes()))
            );
            assert_eq!(
                kv(&recs[2]),
                (Some(b"k3".to_vec()), None),
                "{name}: tombstone"
            );
            assert_eq!(kv(&recs[3]), (None, Some(Vec::new())));
            for (i, r) in recs[4..].iter().enumerate() {
                assert_eq!(r.offset, 4 + i as i64);
                let key = format!("key-{}", i % 50);
                let value = format!(
                    "value {i} of a longer record to make the batch span blocks {}",
                    i * 7
                );
                assert_eq!(
                    kv(r),
                    (Some(key.into_bytes()), Some(value.into_bytes())),
                    "{name} {i}"
                );
                assert!(
                    r.timestamp >= bs[1].base_timestamp() && r.timestamp <= bs[1].max_timestamp()
                );
            }
        }
    }

    /// Byte-for-byte agreement with the `kafka-protocol` crate's encoder, and both decoders
    /// reading each other's batches.
    #[test]
    fn agrees_with_kafka_protocol_crate() {
        use kafka_protocol::indexmap::IndexMap;
        use kafka_protocol::protocol::StrBytes;
        use kafka_protocol::records::{
            Compression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder,
            RecordEncodeOptions, TimestampType,
        };

        struct R {
            ts: i64,
            key: Option<&'static [u8]>,
            value: Option<Vec<u8>>,
            headers: Vec<(&'static str, Option<&'static [u8]>)>,
        }
        let long = vec![b'v'; 300]; // multi-byte varint lengths
        let rs = vec![
            R {
                ts: 1_700_000_000_000,
                key: Some(b"key"),
                value: Some(b"value".to_vec()),
                headers: vec![],
            },
            R {
                ts: 1_699_999_999_000,
                key: None,
                value: None,
                headers: vec![("a", Some(b"1")), ("b", None)],
            },
            R {
                ts: 1_700_000_100_000,
                key: Some(b""),
                value: Some(long),
                headers: vec![("ctx", Some(b""))],
            },
        ];
        let min_ts = rs.iter().map(|r| r.ts).min().unwrap();

        let mut ours = RecordBatchBuilder::new(min_ts);
        for r in &rs {
            ours.append(r.ts, r.key, r.value.as_deref(), &r.headers);
        }
        let ours = ours.finish();

        let krecords: Vec<KRecord> = rs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut headers = IndexMap::new();
                for (k, v) in &r.headers {
                    headers.insert(StrBytes::from_static_str(k), v.map(Bytes::from_static));
                }
                KRecord {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: -1,
                    producer_id: -1,
                    producer_epoch: -1,
                    timestamp_type: TimestampType::Creation,
                    offset: i as i64,
                    sequence: i as i32 - 1, // baseSequence -1 (offset - sequence constant)
                    timestamp: r.ts,
                    key: r.key.map(Bytes::from_static),
                    value: r.value.clone().map(Bytes::from),
                    headers,
                }
            })
            .collect();
        let mut theirs = bytes::BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut theirs, &krecords, &options).unwrap();
        assert_eq!(ours.to_vec(), theirs.to_vec());

        // Their decoder reads ours (with an assigned base offset).
        let mut v = ours.to_vec();
        set_base_offset(&mut v, 1000);
        let mut buf = Bytes::from(v.clone());
        let set = RecordBatchDecoder::decode(&mut buf).unwrap();
        assert_eq!(set.records.len(), 3);
        for (i, (k, r)) in set.records.iter().zip(&rs).enumerate() {
            assert_eq!(k.offset, 1000 + i as i64);
            assert_eq!(k.timestamp, r.ts);
            assert_eq!(k.key.as_deref(), r.key);
            assert_eq!(k.value.as_deref(), r.value.as_deref());
            assert_eq!(k.headers.len(), r.headers.len());
        }
        // Ours reads theirs.
        let batch = RecordBatch::parse(theirs.freeze()).unwrap();
        batch.validate().unwrap();
        let got: Vec<Record> = batch.records().collect::<Result<_, _>>().unwrap();
        for (g, r) in got.iter().zip(&rs) {
            assert_eq!(g.timestamp, r.ts);
            assert_eq!(g.key.as_deref(), r.key);
            assert_eq!(g.value.as_deref(), r.value.as_deref());
            let hs: Vec<(String, Option<Vec<u8>>)> = g
                .headers
                .iter()
                .map(|h| (h.key_str().unwrap().to_owned(), h.value.map(|v| v.to_vec())))
                .collect();
            let want: Vec<(String, Option<Vec<u8>>)> = r
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(|v| v.to_vec())))
                .collect();
            assert_eq!(hs, want);
        }
    }

    #[test]
    fn garbage_never_panics() {
        let golden = unhex(GOLDEN);
        // Every truncation.
        for n in 0..golden.len() {
            let r = RecordBatch::parse(Bytes::from(golden[..n].to_vec()));
            assert!(r.is_err(), "truncated to {n} must fail");
        }
        // Every single-byte corruption of the record area and header: parse/validate/iterate
        // must not panic; the CRC must catch changes after the crc field.
        for i in 0..golden.len() {
            for x in [0x00u8, 0x01, 0x7f, 0x80, 0xff] {
                let mut v = golden.clone();
                if v[i] == x {
                    continue;
                }
                v[i] = x;
                if let Ok(b) = RecordBatch::parse(Bytes::from(v)) {
                    if i >= 21 {
                        assert!(b.validate().is_err(), "byte {i} = {x:#x}");
                    }
                    for r in b.records() {
                        let _ = r.map(|r| r.headers.iter().count());
                    }
                }
            }
        }
        // Pseudo-random garbage.
        let mut seed = 0x1234_5678_u64;
        for _ in 0..2000 {
            let len = (seed % 200) as usize;
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push(seed as u8);
            }
            if len > 20 {
                v[16] = 2; // get past the magic check sometimes
            }
            for b in batches(Bytes::from(v)).flatten() {
                let _ = b.validate();
                for r in b.records() {
                    let _ = r.map(|r| r.headers.iter().count());
                }
            }
        }
    }

    /// The v2 batch header as Kafka's `DefaultRecordBatch` lays it out (the byte positions
    /// below are the protocol spec's, written out here rather than taken from this crate):
    /// each field, given a distinct value, reads back through its accessor.
    #[test]
    fn v2_header_fields_sit_at_kafkas_byte_positions() {
        let mut v = unhex(GOLDEN);
        let mut put = |at: usize, bytes: &[u8]| v[at..at + bytes.len()].copy_from_slice(bytes);
        put(0, &0x0102_0304_0506_0708_i64.to_be_bytes()); // baseOffset
        put(12, &0x1112_1314_i32.to_be_bytes()); // partitionLeaderEpoch
        put(27, &0x2122_2324_2526_2728_i64.to_be_bytes()); // baseTimestamp
        put(35, &0x3132_3334_3536_3738_i64.to_be_bytes()); // maxTimestamp
        put(43, &0x4142_4344_4546_4748_i64.to_be_bytes()); // producerId
        put(51, &0x5152_i16.to_be_bytes()); // producerEpoch
        put(53, &0x6162_6364_i32.to_be_bytes()); // baseSequence
        let crc = crc32c::crc32c(&v[21..]);
        v[17..21].copy_from_slice(&crc.to_be_bytes());
        let b = RecordBatch::parse(Bytes::from(v)).unwrap();
        b.validate().unwrap();
        assert_eq!(b.base_offset(), 0x0102_0304_0506_0708);
        assert_eq!(
            b.size_in_bytes(),
            12 + 73,
            "batchLength at 8 counts from byte 12"
        );
        assert_eq!(b.partition_leader_epoch(), 0x1112_1314);
        assert_eq!(b.magic(), 2, "magic at 16");
        assert_eq!(b.crc(), crc);
        assert_eq!(b.attributes(), 0, "attributes at 21");
        assert_eq!(b.last_offset_delta(), 1, "lastOffsetDelta at 23");
        assert_eq!(b.base_timestamp(), 0x2122_2324_2526_2728);
        assert_eq!(b.max_timestamp(), 0x3132_3334_3536_3738);
        assert_eq!(b.producer_id(), 0x4142_4344_4546_4748);
        assert_eq!(b.producer_epoch(), 0x5152);
        assert_eq!(b.base_sequence(), 0x6162_6364);
        assert_eq!(b.count(), 2, "records count at 57");
        assert_eq!(BATCH_HEADER_SIZE, 61, "records start at 61");
        assert_eq!(LOG_OVERHEAD, 12);
    }

    /// The CRC is a CRC-32C (Castagnoli) of the bytes from attributes (21) to the end of the
    /// batch: baseOffset, batchLength, partitionLeaderEpoch and magic are outside it, so a
    /// broker assigns offsets and leader epochs without recomputing it.
    #[test]
    fn crc32c_covers_attributes_to_the_end_of_the_batch() {
        let golden = unhex(GOLDEN);
        assert_eq!(golden[17..21], crc32c::crc32c(&golden[21..]).to_be_bytes());
        for outside in (0..8).chain(12..16) {
            let mut v = golden.clone();
            v[outside] ^= 0x5a;
            let b = RecordBatch::parse(Bytes::from(v)).unwrap();
            assert!(b.crc_valid(), "byte {outside} is not covered");
        }
        for inside in [21, 22, 23, 57, 60, 61, golden.len() - 1] {
            let mut v = golden.clone();
            v[inside] ^= 0x01;
            let b = RecordBatch::parse(Bytes::from(v)).unwrap();
            assert!(!b.crc_valid(), "byte {inside} is covered");
        }
    }

    /// Kafka's attribute bits: 0–2 the codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), 3 the
    /// timestamp type (1 = LogAppendTime: every record's timestamp is the batch's
    /// maxTimestamp), 4 transactional, 5 control (transaction markers).
    #[test]
    fn attribute_bits_are_kafkas() {
        let with_attributes = |attributes: i16| {
            let mut v = unhex(GOLDEN);
            v[21..23].copy_from_slice(&attributes.to_be_bytes());
            let crc = crc32c::crc32c(&v[21..]);
            v[17..21].copy_from_slice(&crc.to_be_bytes());
            RecordBatch::parse(Bytes::from(v)).unwrap()
        };
        for codec in 0..=4 {
            assert_eq!(with_attributes(codec).compression(), codec);
        }
        let b = with_attributes(0x0008);
        assert!(b.is_log_append_time() && !b.is_transactional() && !b.is_control());
        let timestamps: Vec<i64> = b.records().map(|r| r.unwrap().timestamp).collect();
        assert_eq!(
            timestamps,
            [1005, 1005],
            "LogAppendTime: the batch's maxTimestamp"
        );
        let b = with_attributes(0x0010);
        assert!(b.is_transactional() && !b.is_control() && !b.is_log_append_time());
        let b = with_attributes(0x0030);
        assert!(b.is_transactional() && b.is_control());
        assert_eq!(b.compression(), 0);
        let timestamps: Vec<i64> = with_attributes(0)
            .records()
            .map(|r| r.unwrap().timestamp)
            .collect();
        assert_eq!(
            timestamps,
            [1000, 1005],
            "CreateTime: baseTimestamp + delta"
        );
    }
}
