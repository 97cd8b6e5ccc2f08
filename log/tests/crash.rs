//! Crash tests: a writer *process* (`ferry-log-tool crash-writer`) appends to a data
//! directory and records each acknowledged append in a side file after `append` returned
//! (with `flush.messages=1`: after its fsync). The test kills it with SIGKILL at random
//! points, sometimes damages the unacknowledged tail of the active segment (a cut at a random
//! byte, garbage appended, a flipped byte: what a torn write or a lost page leaves), then
//! either reopens the log in-process and checks it, or lets the next writer recover it.
//!
//! The checks after a kill: every acknowledged append is readable with the content the
//! writer gave it (values are a function of the offset), batch boundaries included; offsets
//! are contiguous from 0; the log ends exactly where the valid prefix of the active segment
//! ends (nothing after the torn point is served, and the file is cut there); reads at the
//! end are empty and beyond it out of range; the next append gets the next offset.
//!
//! What "acknowledged" survives: with the default flush policy an append is in the page
//! cache when it returns, which survives `kill -9` (not a power loss); with
//! `flush.messages=1` it is also on disk. Both must survive these tests.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Rng, base_of, batch_at, read_and_check, seed, segment_files, valid_prefix};
use ferry_log::Error;
use ferry_log::{LogConfig, LogManager};

const TOOL: &str = env!("CARGO_BIN_EXE_ferry-log-tool");

fn spawn_writer(data: &Path, acks: &Path, mode: &str, seed: u64) -> Child {
    Command::new(TOOL)
        .arg("crash-writer")
        .arg(data)
        .arg(acks)
        .arg(mode)
        .arg(seed.to_string())
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferry-log-tool")
}

/// Acknowledged appends (base, last), complete lines only.
fn read_acks(path: &Path) -> Vec<(i64, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = text.rfind('\n').map_or("", |i| &text[..=i]);
    complete
        .lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').expect("ack line");
            (a.parse().expect("base"), b.parse().expect("last"))
        })
        .collect()
}

/// Damages the active segment after the end of the last acknowledged batch (or leaves it
/// alone). Returns what was done, for the failure message.
fn damage_tail(partition_dir: &Path, last_acked: i64, rng: &mut Rng) -> String {
    let Some(active) = segment_files(partition_dir).pop() else {
        return "no segment".to_owned();
    };
    let data = std::fs::read(&active).expect("read segment");
    let (_, _, found) = valid_prefix(&data, base_of(&active));
    // Bytes before `keep` hold acknowledged batches and must not be touched.
    let keep = found
        .iter()
        .take_while(|(_, last, _)| *last <= last_acked)
        .last()
        .map_or(0, |(_, _, end)| *end);
    let tail = data.len() - keep;
    let what = match rng.below(4) {
        0 => "none".to_owned(),
        1 => {
            let cut = keep + rng.below(tail as u64 + 1) as usize;
            std::fs::write(&active, &data[..cut]).expect("cut");
            format!("cut at byte {cut} of {}", data.len())
        }
        2 => {
            let garbage: Vec<u8> = (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect();
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&active)
                .expect("open");
            f.write_all(&garbage).expect("garbage");
            format!("{} bytes of garbage appended", garbage.len())
        }
        _ if tail > 0 => {
            let at = keep + rng.below(tail as u64) as usize;
            let mut d = data.clone();
            d[at] ^= 1 << rng.below(8);
            std::fs::write(&active, &d).expect("flip");
            format!("bit flipped at byte {at} of {}", data.len())
        }
        _ => "none (empty tail)".to_owned(),
    };
    format!("{}: {what}", active.display())
}

/// Reopens the log in-process and checks it against the acknowledgements and the files.
fn check(data: &Path, acks: &[(i64, i64)], rng: &mut Rng, context: &str) {
    let partition_dir = data.join("crash-0");
    // What recovery must find: older segments are whole; the active one is cut after its
    // valid prefix.
    let segments = segment_files(&partition_dir);
    let expected = segments.last().map(|active| {
        let bytes = std::fs::read(active).expect("read segment");
        let (len, next, _) = valid_prefix(&bytes, base_of(active));
        (active.clone(), len as u64, next)
    });
    let last_acked = acks.last().map_or(-1, |a| a.1);

    let mut config = LogConfig::new(data);
    config.retention_check_interval = Duration::from_secs(3600);
    let m = LogManager::open(config).expect("reopen after kill");
    let Some(_) = m.topic("crash") else {
        assert!(
            acks.is_empty(),
            "{context}: topic missing but appends were acknowledged"
        );
        return;
    };
    let p = m.partition("crash", 0).expect("partition");
    let leo = p.log_end_offset();
    assert!(
        leo > last_acked,
        "{context}: log end {leo} lost acknowledged offset {last_acked}"
    );
    if let Some((active, len, next)) = &expected {
        assert_eq!(
            leo, *next,
            "{context}: log end vs the active segment's valid prefix"
        );
        let on_disk = std::fs::metadata(active).expect("segment").len();
        assert_eq!(
            on_disk,
            *len,
            "{context}: torn tail not cut from {}",
            active.display()
        );
    }

    let fetch = [1usize, 300, 4096, 64 << 10, 1 << 20][rng.below(5) as usize];
    let served = read_and_check(&p, fetch);
    eprintln!(
        "{context}: log end {leo}, {} batches, {} acknowledged appends, {} segments",
        served.batches.len(),
        acks.len(),
        segments.len()
    );
    let bases: HashSet<i64> = served.batches.iter().map(|b| b.0).collect();
    let lasts: HashSet<i64> = served.batches.iter().map(|b| b.1).collect();
    for &(base, last) in acks {
        assert!(
            bases.contains(&base) && lasts.contains(&last),
            "{context}: acknowledged append {base}..={last} is not served as written"
        );
    }
    assert!(p.read(leo, 1 << 20).expect("read at end").data.is_empty());
    assert!(matches!(
        p.read(leo + 1, 1 << 20),
        Err(Error::OffsetOutOfRange { .. })
    ));
    // Appends continue at the right offset (with content the next check accepts).
    let n = 1 + rng.below(5) as i64;
    let info = p.append(batch_at(leo, n)).expect("append after recovery");
    assert_eq!((info.base_offset, info.last_offset), (leo, leo + n - 1));
    drop(p);
    m.close().expect("close");
}

fn crash_cycles(mode: &str, default_seed: u64, kills: usize) {
    let seed = seed(default_seed);
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let data: PathBuf = dir.path().join("data");
    let acks_path = dir.path().join("acks");
    let (mut checked, mut acked_before_kill) = (0, 0);
    for round in 0..kills {
        let acks_before = read_acks(&acks_path).len();
        let mut child = spawn_writer(&data, &acks_path, mode, rng.next());
        // Two rounds in three wait until the writer is appending (so that a loaded machine
        // does not turn every kill into a kill during start-up); the third may kill it
        // anywhere, recovery and topic creation included.
        if round % 3 != 0 {
            for _ in 0..1000 {
                if read_acks(&acks_path).len() > acks_before
                    || child.try_wait().is_ok_and(|s| s.is_some())
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("round {round}: writer exited early with {status}: {err}");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        let acks = read_acks(&acks_path);
        if acks.len() > acks_before {
            acked_before_kill += 1;
        }
        // Usually the kill lands after the last append was acknowledged, leaving no
        // unacknowledged tail to damage. Pretend that the last 0..=3 appends were cut short
        // by the crash instead (forget their acknowledgements): the damage below may then
        // hit them, as a torn write would.
        let forget = (rng.below(4) as usize).min(acks.len().saturating_sub(acks_before));
        let acks = acks[..acks.len() - forget].to_vec();
        let lines: String = acks.iter().map(|(b, l)| format!("{b} {l}\n")).collect();
        std::fs::write(&acks_path, lines).expect("rewrite acks");
        let last_acked = acks.last().map_or(-1, |a| a.1);
        let mut damage = damage_tail(&data.join("crash-0"), last_acked, &mut rng);
        damage.push_str(&format!(" ({forget} acknowledgements forgotten)"));
        // Every other round the next writer process does the recovery itself.
        if round % 2 == 1 || round + 1 == kills {
            let context = format!("seed {seed}, round {round}, {damage}");
            check(&data, &acks, &mut rng, &context);
            checked += 1;
        }
    }
    assert!(checked >= kills / 2);
    assert!(
        acked_before_kill >= kills / 2,
        "the writer acknowledged appends in only {acked_before_kill} of {kills} rounds"
    );
}

#[test]
fn kill9_with_default_flush_policy() {
    crash_cycles("default", 1, 12);
}

#[test]
fn kill9_with_fsync_per_append() {
    crash_cycles("fsync", 2, 8);
}

/// A writer killed while a second process holds the directory gets a clear error, and a
/// restart right after `kill -9` always gets the lock (the OS drops it with the process).
#[test]
fn lock_released_by_kill9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let acks = dir.path().join("acks");
    let mut child = spawn_writer(&data, &acks, "default", 5);
    // Wait until it holds the lock (it acknowledged something).
    for _ in 0..500 {
        if !read_acks(&acks).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let e = LogManager::open(LogConfig::new(&data)).expect_err("second open");
    assert!(matches!(e, Error::DataDirLocked { .. }), "{e}");
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let m = LogManager::open(LogConfig::new(&data)).expect("open after kill -9");
    assert!(m.topic("crash").is_some());
}
