//! Shared helpers of the log engine's integration tests.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use bytes::Bytes;
use ferry_log::PartitionLog;
use ferry_record::{RecordBatchBuilder, batches};

/// Timestamp of offset 0 in the crash writer's records (`ferry-log-tool crash-writer`).
pub const CRASH_TS: i64 = 1_700_000_000_000;

/// The value of the crash writer's record at `offset`; same function as in
/// `src/bin/ferry-log-tool.rs`.
pub fn value_for(offset: i64) -> Vec<u8> {
    let mut v = format!("{offset:012}|").into_bytes();
    let len = (offset as u64).wrapping_mul(2_654_435_761) % 300;
    v.extend((0..len).map(|i| b'a' + ((offset as u64 + i) % 26) as u8));
    v
}

/// The key of the crash writer's record at `offset`.
pub fn key_for(offset: i64) -> Vec<u8> {
    format!("k{}", offset % 13).into_bytes()
}

/// A batch of `n` records for offsets `first..first + n`, as the crash writer builds them.
pub fn batch_at(first: i64, n: i64) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new(CRASH_TS + first);
    for o in first..first + n {
        b.append(CRASH_TS + o, Some(&key_for(o)), Some(&value_for(o)), &[]);
    }
    b.finish().to_vec()
}

/// Small xorshift PRNG (deterministic per seed).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Seed from `FERRY_TEST_SEED` if set, else `default`; printed so that a failure can be
/// replayed.
pub fn seed(default: u64) -> u64 {
    let seed = std::env::var("FERRY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    eprintln!("seed {seed} (set FERRY_TEST_SEED to replay)");
    seed
}

/// What a full read of a crash-writer partition found.
#[derive(Debug, Default)]
pub struct Served {
    /// (base offset, last offset) of every batch, in order.
    pub batches: Vec<(i64, i64)>,
    /// Offset after the last record served.
    pub end: i64,
}

/// Reads `p` from offset 0 to its end with fetches of `fetch` bytes and checks that batches
/// are whole (CRC), contiguous from 0, and that every record has the crash writer's content
/// for its offset. Panics with the offending offset otherwise.
pub fn read_and_check(p: &PartitionLog, fetch: usize) -> Served {
    let mut served = Served::default();
    let end = p.log_end_offset();
    while served.end < end {
        let r = p.read(served.end, fetch).expect("read");
        assert!(
            !r.data.is_empty(),
            "empty read at {} < log end {end}",
            served.end
        );
        for b in batches(r.data) {
            let b = b.expect("served batch frames");
            assert!(
                b.crc_valid(),
                "served batch at {} has a bad CRC",
                b.base_offset()
            );
            assert_eq!(b.base_offset(), served.end, "batches are not contiguous");
            for (i, rec) in b.records().enumerate() {
                let rec = rec.expect("record");
                let o = rec.offset;
                assert_eq!(o, b.base_offset() + i as i64, "record offsets in a batch");
                assert_eq!(rec.timestamp, CRASH_TS + o, "timestamp at offset {o}");
                assert_eq!(
                    rec.key.as_deref(),
                    Some(&key_for(o)[..]),
                    "key at offset {o}"
                );
                assert_eq!(
                    rec.value.as_deref(),
                    Some(&value_for(o)[..]),
                    "value at offset {o}"
                );
            }
            served.batches.push((b.base_offset(), b.last_offset()));
            served.end = b.next_offset();
        }
    }
    assert_eq!(served.end, end, "served past the log end");
    served
}

/// The `.log` files of a partition directory, sorted by base offset.
pub fn segment_files(partition_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(partition_dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Base offset from a segment file name.
pub fn base_of(segment: &Path) -> i64 {
    segment
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("segment name")
}

/// The valid prefix of a segment file as recovery must find it: whole batches with a good
/// CRC, magic 2 and base offsets contiguous from the segment's base. Returns
/// (byte length of the prefix, next offset after it, batches (base, last, end position)).
pub fn valid_prefix(data: &[u8], base: i64) -> (usize, i64, Vec<(i64, i64, usize)>) {
    let mut pos = 0;
    let mut next = base;
    let mut found = Vec::new();
    for b in batches(Bytes::copy_from_slice(data)) {
        let Ok(b) = b else { break };
        if b.magic() != 2 || !b.crc_valid() || b.base_offset() != next || b.validate().is_err() {
            break;
        }
        pos += b.size_in_bytes();
        next = b.next_offset();
        found.push((b.base_offset(), b.last_offset(), pos));
    }
    (pos, next, found)
}
