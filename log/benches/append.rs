//! Append throughput of the log engine vs. a plain `File::write_all` loop of the same bytes.
//!
//! 100-byte records in ~16 KiB batches, one partition. Two pairs, comparing like with like:
//! page cache (default flush policy vs. `write_all`), and fsync per
//! batch (`flush.messages=1` vs. `write_all` + `sync_data`). Old data is deleted outside the
//! timed region so the bench does not fill the disk. Also: decoding a batch's records.
//!
//! `cargo bench -p ferry-log --bench append`

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferry_log::{LogConfig, LogManager};
use ferry_record::{RecordBatch, RecordBatchBuilder};

const BATCH_BYTES: usize = 16 * 1024;
const RECORD_VALUE: usize = 100;
/// Delete old data every this many bytes (not timed).
const CLEANUP_EVERY: u64 = 256 << 20;

fn batch() -> Vec<u8> {
    let value = [b'x'; RECORD_VALUE];
    let mut b = RecordBatchBuilder::with_capacity(1_700_000_000_000, BATCH_BYTES);
    let mut ts = 1_700_000_000_000;
    while b.estimated_size() + b.record_size(ts, None, Some(&value), &[]) <= BATCH_BYTES {
        b.append(ts, None, Some(&value), &[]);
        ts += 1;
    }
    b.finish().to_vec()
}

fn bench_pair(c: &mut Criterion, name: &str, fsync: bool) {
    let batch = batch();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(batch.len() as u64));
    if fsync {
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(5));
    }

    // Set up once: criterion calls the closures once per sample, and a LogManager dropped
    // per sample would fsync on close and leave writeback running into the next sample.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LogConfig::new(dir.path());
    config.defaults.segment_bytes = 64 << 20;
    config.retention_check_interval = Duration::from_secs(3600);
    let m = LogManager::open(config).expect("open");
    let mut topic_cfg = BTreeMap::from([
        ("retention.bytes".to_owned(), (128u64 << 20).to_string()),
        ("retention.ms".to_owned(), "-1".to_owned()),
    ]);
    if fsync {
        topic_cfg.insert("flush.messages".to_owned(), "1".to_owned());
    }
    m.create_topic("bench", 1, topic_cfg).expect("create");
    let p = m.partition("bench", 0).expect("partition");
    let mut buf = batch.clone();
    let mut written = 0u64;
    group.bench_function("log_append", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut start = Instant::now();
            for _ in 0..iters {
                p.append(&mut buf[..]).expect("append");
                written += buf.len() as u64;
                if written >= CLEANUP_EVERY {
                    elapsed += start.elapsed();
                    m.run_maintenance().expect("retention");
                    written = 0;
                    start = Instant::now();
                }
            }
            elapsed + start.elapsed()
        });
    });

    let mut f = File::create(dir.path().join("plain.log")).expect("create");
    let mut written = 0u64;
    group.bench_function("file_write_all", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut start = Instant::now();
            for _ in 0..iters {
                f.write_all(&batch).expect("write");
                if fsync {
                    f.sync_data().expect("sync");
                }
                written += batch.len() as u64;
                if written >= CLEANUP_EVERY {
                    elapsed += start.elapsed();
                    f.set_len(0).expect("truncate");
                    f.seek(SeekFrom::Start(0)).expect("seek");
                    written = 0;
                    start = Instant::now();
                }
            }
            elapsed + start.elapsed()
        });
    });
    f.set_len(0).expect("truncate");
    let mut written = 0u64;
    group.bench_function("file_pwrite", |b| {
        use std::os::unix::fs::FileExt;
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut start = Instant::now();
            for _ in 0..iters {
                f.write_all_at(&batch, written).expect("write");
                if fsync {
                    f.sync_data().expect("sync");
                }
                written += batch.len() as u64;
                if written >= CLEANUP_EVERY {
                    elapsed += start.elapsed();
                    f.set_len(0).expect("truncate");
                    written = 0;
                    start = Instant::now();
                }
            }
            elapsed + start.elapsed()
        });
    });
    group.finish();
}

fn page_cache(c: &mut Criterion) {
    bench_pair(c, "append_16k_batches_page_cache", false);
}

fn fsync_per_batch(c: &mut Criterion) {
    bench_pair(c, "append_16k_batches_fsync", true);
}

fn decode(c: &mut Criterion) {
    let data = Bytes::from(batch());
    let count = RecordBatch::parse(data.clone()).expect("parse").count();
    let mut group = c.benchmark_group("decode_16k_batch");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("records", |b| {
        b.iter(|| {
            let batch = RecordBatch::parse(data.clone()).expect("parse");
            let mut n = 0usize;
            for r in batch.records() {
                n += r.expect("record").value.map_or(0, |v| v.len());
            }
            n
        })
    });
    group.bench_function("crc_check", |b| {
        b.iter(|| RecordBatch::parse(data.clone()).expect("parse").crc_valid())
    });
    group.finish();
}

/// Sequential fetches of 1 MiB from a 64 MiB partition (page cache), like a consumer.
fn read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = LogManager::open(LogConfig::new(dir.path())).expect("open");
    m.create_topic("bench", 1, BTreeMap::new()).expect("create");
    let p = m.partition("bench", 0).expect("partition");
    let mut buf = batch();
    while p.size_in_bytes() < 64 << 20 {
        p.append(&mut buf[..]).expect("append");
    }
    let end = p.log_end_offset();
    let mut group = c.benchmark_group("read_1mib_fetches");
    group.throughput(Throughput::Bytes(1 << 20));
    let mut offset = 0;
    group.bench_function("log_read", |b| {
        b.iter(|| {
            let r = p.read(offset, 1 << 20).expect("read");
            let last = ferry_record::batches(r.data.clone())
                .last()
                .and_then(|b| b.ok())
                .map_or(0, |b| b.next_offset());
            offset = if last >= end { 0 } else { last };
            r.data.len()
        })
    });
    group.finish();
}

criterion_group!(benches, page_cache, fsync_per_batch, decode, read);
criterion_main!(benches);
