//! Test and benchmark driver for the log engine (not a user-facing tool).
//!
//! ```text
//! ferry-log-tool crash-writer DIR ACK_FILE default|fsync SEED
//!     Appends batches to topic `crash` forever. After each append returns (with `fsync`:
//!     after its fsync, `flush.messages=1`), writes "BASE LAST\n" to ACK_FILE. Record values
//!     are a function of their offset (see `value_for`), so a checker can verify content.
//!     Meant to be killed with SIGKILL (log/tests/crash.rs).
//! ferry-log-tool append DIR BYTES PARTITIONS default|fsync
//!     Appends BYTES (split over PARTITIONS writer threads) of 100-byte records in 16 KiB
//!     batches to a new topic `bench`; prints `bytes=.. records=.. secs=..`.
//! ferry-log-tool read DIR FETCH_BYTES [reuse]
//!     Reads every partition of `bench` from offset 0 with fetches of FETCH_BYTES (one thread
//!     per partition); prints `bytes=.. records=.. secs=..`. `PartitionLog::read` (a new
//!     `Bytes` per fetch), or with `reuse` `PartitionLog::read_into` one reused buffer.
//! ferry-log-tool fill DIR BYTES [SEGMENT_BYTES]
//!     Appends BYTES with the default flush policy, prints `filled`, then sleeps until killed.
//! ferry-log-tool recover DIR
//!     Opens the data directory (recovery after a kill) and prints `secs=.. log_end=.. bytes=..`.
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_log::Result;
use ferry_log::{LogConfig, LogManager, PartitionLog};
use ferry_record::{BATCH_HEADER_SIZE, LOG_OVERHEAD, RecordBatchBuilder, batches};

/// Timestamp of offset 0 in the crash writer's records; offset `o` has `CRASH_TS + o`.
const CRASH_TS: i64 = 1_700_000_000_000;
const BENCH_BATCH_BYTES: usize = 16 * 1024;
const BENCH_RECORD_BYTES: usize = 100;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["crash-writer", dir, ack, mode, seed] => crash_writer(dir, ack, mode, seed),
        ["append", dir, bytes, partitions, mode] => bench_append(dir, bytes, partitions, mode),
        ["read", dir, fetch] => bench_read(dir, fetch, false),
        ["read", dir, fetch, "reuse"] => bench_read(dir, fetch, true),
        ["fill", dir, bytes] => fill(dir, bytes, None),
        ["fill", dir, bytes, segment] => fill(dir, bytes, Some(segment)),
        ["recover", dir] => recover(dir),
        _ => {
            eprintln!("usage: see the module docs of log/src/bin/ferry-log-tool.rs");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry-log-tool: {e}");
            ExitCode::FAILURE
        }
    }
}

fn num(s: &str) -> Result<u64> {
    s.parse().map_err(|_| ferry_log::Error::InvalidConfig {
        key: "argument".to_owned(),
        value: s.to_owned(),
        reason: "expected a number".to_owned(),
    })
}

fn io_err(path: &str, e: std::io::Error) -> ferry_log::Error {
    ferry_log::Error::Io {
        path: PathBuf::from(path),
        source: e,
    }
}

fn manager(dir: &str) -> Result<LogManager> {
    let mut config = LogConfig::new(dir);
    config.retention_check_interval = Duration::from_secs(24 * 3600);
    LogManager::open(config)
}

/// The value of the crash writer's record at `offset`: the offset in text, then 0..300
/// bytes of a pattern that depends on it. `log/tests/crash.rs` has the same function.
fn value_for(offset: i64) -> Vec<u8> {
    let mut v = format!("{offset:012}|").into_bytes();
    let len = (offset as u64).wrapping_mul(2_654_435_761) % 300;
    v.extend((0..len).map(|i| b'a' + ((offset as u64 + i) % 26) as u8));
    v
}

/// Small xorshift PRNG: the writer needs no crate for randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn crash_writer(dir: &str, ack_path: &str, mode: &str, seed: &str) -> Result<()> {
    let m = manager(dir)?;
    if m.topic("crash").is_none() {
        let mut configs = BTreeMap::from([
            ("segment.bytes".to_owned(), (512u64 << 10).to_string()),
            ("index.interval.bytes".to_owned(), "1024".to_owned()),
        ]);
        if mode == "fsync" {
            configs.insert("flush.messages".to_owned(), "1".to_owned());
        }
        m.create_topic("crash", 1, configs)?;
    }
    let p = m.partition("crash", 0)?;
    let mut ack = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(ack_path)
        .map_err(|e| io_err(ack_path, e))?;
    let mut rng = Rng(num(seed)?.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = Instant::now();
    let mut written = 0u64;
    loop {
        // Mostly small appends; sometimes a large multi-batch one (up to ~1 MiB), which a
        // SIGKILL can cut short inside the kernel's copy, leaving a torn tail.
        let batches_in_append = if rng.below(8) == 0 {
            1 + rng.below(64)
        } else {
            1 + rng.below(3)
        };
        let base = p.log_end_offset();
        let mut next = base;
        let mut buf = Vec::new();
        for _ in 0..batches_in_append {
            let records = 1 + rng.below(if batches_in_append > 3 { 80 } else { 12 });
            let mut b = RecordBatchBuilder::new(CRASH_TS + next);
            for _ in 0..records {
                let key = format!("k{}", next % 13);
                b.append(
                    CRASH_TS + next,
                    Some(key.as_bytes()),
                    Some(&value_for(next)),
                    &[],
                );
                next += 1;
            }
            buf.extend_from_slice(&b.finish());
        }
        written += buf.len() as u64;
        let info = p.append(buf)?;
        if info.base_offset != base || info.last_offset != next - 1 {
            eprintln!(
                "append got offsets {}..={}, expected {base}..={}",
                info.base_offset,
                info.last_offset,
                next - 1
            );
            std::process::exit(3);
        }
        ack.write_all(format!("{} {}\n", info.base_offset, info.last_offset).as_bytes())
            .map_err(|e| io_err(ack_path, e))?;
        // At most ~64 MB/s, so that a test run does not fill the disk.
        let allowed = start.elapsed().as_millis() as u64 * 64 * 1024;
        if written > allowed {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One 16 KiB batch of 100-byte records (no key), as in benches/append.rs.
fn bench_batch() -> (Vec<u8>, u64) {
    let value = [b'x'; BENCH_RECORD_BYTES];
    let mut b = RecordBatchBuilder::with_capacity(CRASH_TS, BENCH_BATCH_BYTES);
    while b.estimated_size() + b.record_size(CRASH_TS, None, Some(&value), &[]) <= BENCH_BATCH_BYTES
    {
        b.append(CRASH_TS, None, Some(&value), &[]);
    }
    let n = b.len() as u64;
    (b.finish().to_vec(), n)
}

/// Appends `bytes` to `p` in bench batches; returns (bytes, records).
fn append_loop(p: &PartitionLog, bytes: u64) -> Result<(u64, u64)> {
    let (mut buf, n) = bench_batch();
    let (mut done, mut records) = (0u64, 0u64);
    while done < bytes {
        p.append(&mut buf[..])?;
        done += buf.len() as u64;
        records += n;
    }
    Ok((done, records))
}

fn bench_append(dir: &str, bytes: &str, partitions: &str, mode: &str) -> Result<()> {
    let (bytes, partitions) = (num(bytes)?, num(partitions)? as u32);
    let m = manager(dir)?;
    let mut configs = BTreeMap::new();
    if mode == "fsync" {
        configs.insert("flush.messages".to_owned(), "1".to_owned());
    }
    m.create_topic("bench", partitions, configs)?;
    let logs: Vec<Arc<PartitionLog>> = (0..partitions as i32)
        .map(|i| m.partition("bench", i))
        .collect::<Result<_>>()?;
    let per = bytes / u64::from(partitions);
    let start = Instant::now();
    let totals = std::thread::scope(|s| {
        let handles: Vec<_> = logs
            .iter()
            .map(|p| s.spawn(move || append_loop(p, per)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect::<Result<Vec<_>>>()
    })?;
    let secs = start.elapsed().as_secs_f64();
    let (b, r) = totals
        .iter()
        .fold((0, 0), |(b, r), (b2, r2)| (b + b2, r + r2));
    println!("bytes={b} records={r} secs={secs:.6}");
    // Not timed: the clean close fsyncs everything.
    m.close()
}

/// Reads `p` from its start with fetches of `fetch` bytes; returns (bytes, records).
/// A consumer-side walk of the batch headers counts records (they are not decoded).
fn read_loop(p: &PartitionLog, fetch: usize, reuse: bool) -> Result<(u64, u64)> {
    let (mut offset, end) = (p.log_start_offset(), p.log_end_offset());
    let (mut bytes, mut records) = (0u64, 0u64);
    let mut buf = Vec::new();
    while offset < end {
        if reuse {
            p.read_into(offset, fetch, &mut buf)?;
            bytes += buf.len() as u64;
            let mut pos = 0;
            while pos + BATCH_HEADER_SIZE <= buf.len() {
                let h = &buf[pos..];
                let be32 = |at: usize| i32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
                let base = i64::from_be_bytes(h[..8].try_into().unwrap_or_default());
                records += be32(57).max(0) as u64;
                offset = base + i64::from(be32(23)) + 1;
                pos += LOG_OVERHEAD + be32(8).max(0) as usize;
            }
        } else {
            let r = p.read(offset, fetch)?;
            bytes += r.data.len() as u64;
            for b in batches(r.data) {
                let b = b?;
                records += b.count().max(0) as u64;
                offset = b.next_offset();
            }
        }
    }
    Ok((bytes, records))
}

fn bench_read(dir: &str, fetch: &str, reuse: bool) -> Result<()> {
    let fetch = num(fetch)? as usize;
    let m = manager(dir)?;
    let meta = m
        .topic("bench")
        .ok_or_else(|| ferry_log::Error::UnknownTopic("bench".to_owned()))?;
    let logs: Vec<Arc<PartitionLog>> = (0..meta.partitions as i32)
        .map(|i| m.partition("bench", i))
        .collect::<Result<_>>()?;
    let start = Instant::now();
    let totals = std::thread::scope(|s| {
        let handles: Vec<_> = logs
            .iter()
            .map(|p| s.spawn(move || read_loop(p, fetch, reuse)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect::<Result<Vec<_>>>()
    })?;
    let secs = start.elapsed().as_secs_f64();
    let (b, r) = totals
        .iter()
        .fold((0, 0), |(b, r), (b2, r2)| (b + b2, r + r2));
    println!("bytes={b} records={r} secs={secs:.6}");
    Ok(())
}

fn fill(dir: &str, bytes: &str, segment: Option<&str>) -> Result<()> {
    let bytes = num(bytes)?;
    let m = manager(dir)?;
    let mut configs = BTreeMap::new();
    if let Some(s) = segment {
        configs.insert("segment.bytes".to_owned(), num(s)?.to_string());
    }
    m.create_topic("bench", 1, configs)?;
    let p = m.partition("bench", 0)?;
    append_loop(&p, bytes)?;
    println!(
        "filled log_end={} segments={}",
        p.log_end_offset(),
        p.segment_count()
    );
    std::io::stdout().flush().map_err(|e| io_err("stdout", e))?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn recover(dir: &str) -> Result<()> {
    let start = Instant::now();
    let m = manager(dir)?;
    let secs = start.elapsed().as_secs_f64();
    let p = m.partition("bench", 0)?;
    println!(
        "secs={secs:.6} log_end={} bytes={} segments={}",
        p.log_end_offset(),
        p.size_in_bytes(),
        p.segment_count()
    );
    Ok(())
}
