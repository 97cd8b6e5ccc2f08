//! Damaged files in a data directory: segment, index and topic metadata files cut at random
//! bytes, overwritten with garbage, bit-flipped or deleted. The log must never panic, must
//! report the damage, and must keep serving every batch the damage did not touch.
//!
//! What "no batch lost" means for each file:
//! - `.index` / `.timeindex`: nothing is lost; the index is rebuilt from the log.
//! - a `.log` segment damaged at byte P: the batches before P are served. In the active (last)
//!   segment recovery truncates at the first bad batch, as Kafka does (later batches in that
//!   segment are lost with it); in older segments reads skip from the bad batch to the next
//!   segment. Every other segment is served in full.
//! - `<topic>.topic.json`: nothing is lost. A file that is not exactly what was written
//!   (checked by parsing, validating and a CRC-32C) makes the topic unavailable, reported by
//!   `damaged_topics()` and by `CorruptMetadata` errors naming the file; its partition
//!   directories are not touched, other topics work, and `create_topic` refuses the name (it
//!   would otherwise clear leftover partition directories). Restoring the file brings every
//!   batch back.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Rng, base_of, batch_at, key_for, seed, segment_files, valid_prefix, value_for};
use ferry_log::Error;
use ferry_log::{LogConfig, LogManager, PartitionLog};
use ferry_record::batches;

fn config(dir: &Path) -> LogConfig {
    let mut c = LogConfig::new(dir);
    c.retention_check_interval = Duration::from_secs(3600);
    c
}

/// Fills partition `p` with batches of the crash writer's content up to about `bytes`.
fn fill(p: &PartitionLog, bytes: u64, rng: &mut Rng) {
    while p.size_in_bytes() < bytes {
        let n = 1 + rng.below(20) as i64;
        p.append(batch_at(p.log_end_offset(), n)).expect("append");
    }
}

/// Every batch served when reading `p` from its start to its end, following offsets
/// forward: (base, last) of those whose CRC and content are right. Batches from damaged
/// parts may be served with a bad CRC (Kafka serves what is on disk and leaves the CRC
/// check to the consumer); they are skipped here.
fn served_batches(p: &PartitionLog) -> BTreeSet<(i64, i64)> {
    let mut good = BTreeSet::new();
    let (mut offset, end) = (p.log_start_offset(), p.log_end_offset());
    while offset < end {
        let r = p.read(offset, 64 << 10).expect("read");
        if r.data.is_empty() {
            break;
        }
        let mut next = offset + 1;
        for b in batches(r.data) {
            let Ok(b) = b else { break };
            next = next.max(b.next_offset());
            if !b.crc_valid() {
                continue;
            }
            let ok = b.records().enumerate().all(|(i, rec)| {
                rec.is_ok_and(|rec| {
                    let o = b.base_offset() + i as i64;
                    rec.offset == o
                        && rec.key.as_deref() == Some(&key_for(o)[..])
                        && rec.value.as_deref() == Some(&value_for(o)[..])
                })
            });
            if ok {
                good.insert((b.base_offset(), b.last_offset()));
            }
        }
        offset = next;
    }
    good
}

/// (base, last) of the whole batches of a segment file before byte `limit`.
fn batches_before(data: &[u8], base: i64, limit: usize) -> Vec<(i64, i64)> {
    let (_, _, found) = valid_prefix(data, base);
    found
        .into_iter()
        .filter(|b| b.2 <= limit)
        .map(|b| (b.0, b.1))
        .collect()
}

/// One random fault in `path`; returns (what was done, first byte position damaged, or
/// `usize::MAX` if the file's data is intact).
fn damage(path: &Path, rng: &mut Rng) -> (String, usize) {
    let data = std::fs::read(path).expect("read");
    let len = data.len();
    let at = if len == 0 {
        0
    } else {
        rng.below(len as u64) as usize
    };
    match rng.below(5) {
        0 => {
            std::fs::write(path, &data[..at]).expect("cut");
            (format!("cut at byte {at} of {len}"), at)
        }
        1 if len > 0 => {
            let mut d = data;
            d[at] ^= 1 << rng.below(8);
            std::fs::write(path, &d).expect("flip");
            (format!("bit flipped at byte {at} of {len}"), at)
        }
        2 => {
            let n = 1 + rng.below(64) as usize;
            let mut d = data;
            for byte in &mut d[at..(at + n).min(len)] {
                *byte = rng.next() as u8;
            }
            std::fs::write(path, &d).expect("garbage");
            (format!("{n} garbage bytes at {at} of {len}"), at)
        }
        3 => {
            std::fs::remove_file(path).expect("delete");
            ("deleted".to_owned(), 0)
        }
        _ => {
            let mut d = data;
            d.extend((0..1 + rng.below(100)).map(|_| rng.next() as u8));
            std::fs::write(path, &d).expect("append garbage");
            ("garbage appended".to_owned(), len)
        }
    }
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            files.insert(path.clone(), std::fs::read(&path).expect("read"));
        }
    }
    files
}

fn restore(dir: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) {
    let partition_dir = dir.join("t-0");
    for entry in std::fs::read_dir(&partition_dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if !files.contains_key(&path) {
            std::fs::remove_file(&path).expect("remove");
        }
    }
    for (path, data) in files {
        std::fs::write(path, data).expect("restore");
    }
}

/// Random damage to one segment or index file of a multi-segment partition, 60 times, each
/// on a fresh copy of the original files.
#[test]
fn damaged_segment_and_index_files() {
    let seed = seed(3);
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let m = LogManager::open(config(dir.path())).expect("open");
        let configs = BTreeMap::from([
            ("segment.bytes".to_owned(), "20000".to_owned()),
            ("index.interval.bytes".to_owned(), "500".to_owned()),
        ]);
        m.create_topic("t", 1, configs).expect("create");
        let p = m.partition("t", 0).expect("partition");
        fill(&p, 120_000, &mut rng);
        assert!(p.segment_count() >= 5);
        m.close().expect("close");
    }
    let original = snapshot(dir.path());
    let partition_dir = dir.path().join("t-0");
    let segments = segment_files(&partition_dir);
    let all: BTreeSet<(i64, i64)> = segments
        .iter()
        .flat_map(|s| batches_before(&original[s], base_of(s), usize::MAX))
        .collect();
    let files: Vec<&PathBuf> = original
        .keys()
        .filter(|p| p.starts_with(&partition_dir))
        .collect();
    for round in 0..60 {
        restore(dir.path(), &original);
        let file = files[rng.below(files.len() as u64) as usize].clone();
        let (what, at) = damage(&file, &mut rng);
        let context = format!("seed {seed}, round {round}: {} {what}", file.display());
        // What must still be served.
        let mut expected = all.clone();
        if file.extension().is_some_and(|e| e == "log") {
            let base = base_of(&file);
            let data = &original[&file];
            let kept: BTreeSet<_> = batches_before(data, base, at).into_iter().collect();
            for b in batches_before(data, base, usize::MAX) {
                if !kept.contains(&b) {
                    expected.remove(&b);
                }
            }
        }
        let m = LogManager::open(config(dir.path())).unwrap_or_else(|e| panic!("{context}: {e}"));
        let p = m.partition("t", 0).expect("partition");
        let served = served_batches(&p);
        let missing: Vec<_> = expected.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "{context}: batches not served: {missing:?}"
        );
        // Appends continue after the log end.
        let leo = p.log_end_offset();
        let info = p.append(batch_at(leo, 2)).expect("append after damage");
        assert_eq!(info.base_offset, leo, "{context}");
        drop(p);
        m.close().expect("close");
    }
}

/// Random damage to a topic metadata file, 80 times: never a panic, never a lost batch.
#[test]
fn damaged_topic_metadata() {
    let seed = seed(4);
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let victim_configs = BTreeMap::from([
        ("cleanup.policy".to_owned(), "compact,delete".to_owned()),
        ("retention.ms".to_owned(), "604800000".to_owned()),
        ("segment.bytes".to_owned(), "8000".to_owned()),
    ]);
    {
        let m = LogManager::open(config(dir.path())).expect("open");
        m.create_topic("good", 1, BTreeMap::new()).expect("create");
        m.create_topic("victim", 3, victim_configs.clone())
            .expect("create");
        fill(&m.partition("good", 0).expect("p"), 20_000, &mut rng);
        for i in 0..3 {
            fill(&m.partition("victim", i).expect("p"), 30_000, &mut rng);
        }
        m.close().expect("close");
    }
    let meta_path = dir.path().join("victim.topic.json");
    let original_meta = std::fs::read(&meta_path).expect("metadata");
    assert!(String::from_utf8_lossy(&original_meta).contains("crc32c"));
    let data_before = snapshot(&dir.path().join("victim-1"));
    let read_victim = |m: &LogManager| -> Vec<BTreeSet<(i64, i64)>> {
        (0..3)
            .map(|i| served_batches(&m.partition("victim", i).expect("partition")))
            .collect()
    };
    let expected = {
        let m = LogManager::open(config(dir.path())).expect("open");
        read_victim(&m)
    };
    let (mut quarantined, mut loaded) = (0, 0);
    for round in 0..80 {
        std::fs::write(&meta_path, &original_meta).expect("restore");
        let (what, _) = damage(&meta_path, &mut rng);
        let context = format!("seed {seed}, round {round}: {what}");
        {
            let m = LogManager::open(config(dir.path()))
                .unwrap_or_else(|e| panic!("{context}: open failed: {e}"));
            assert!(!served_batches(&m.partition("good", 0).expect("good")).is_empty());
            match m.topic("victim") {
                Some(meta) => {
                    // Only damage that changed nothing the file says (whitespace, the
                    // checksum's key) may load, and then with the original values.
                    assert_eq!(meta.partitions, 3, "{context}");
                    assert_eq!(meta.configs, victim_configs, "{context}");
                    assert_eq!(read_victim(&m), expected, "{context}");
                    loaded += 1;
                }
                None if what == "deleted" => {
                    // A missing file is a topic deleted half-way (delete removes the
                    // metadata first): the topic is gone; its directories are left until
                    // the name is created again.
                    assert!(m.damaged_topics().is_empty(), "{context}");
                }
                None => {
                    let damaged = m.damaged_topics();
                    assert_eq!(damaged.len(), 1, "{context}");
                    assert_eq!(damaged[0].name, "victim");
                    assert_eq!(damaged[0].path, meta_path);
                    let e = m.partition("victim", 0).expect_err("unavailable");
                    assert!(matches!(e, Error::CorruptMetadata { .. }), "{context}: {e}");
                    assert!(e.to_string().contains("victim.topic.json"), "{e}");
                    let e = m
                        .create_topic("victim", 1, BTreeMap::new())
                        .expect_err("create over damaged");
                    assert!(matches!(e, Error::CorruptMetadata { .. }), "{context}: {e}");
                    quarantined += 1;
                }
            }
            m.close().expect("close");
        }
        assert_eq!(
            snapshot(&dir.path().join("victim-1")),
            data_before,
            "{context}: partition data changed"
        );
    }
    assert!(
        quarantined > 40,
        "only {quarantined} of 80 damages detected"
    );
    eprintln!("{quarantined} quarantined, {loaded} loaded unchanged");
    // Repairing the file brings everything back.
    std::fs::write(&meta_path, &original_meta).expect("restore");
    let m = LogManager::open(config(dir.path())).expect("open");
    assert_eq!(read_victim(&m), expected);
    assert!(m.damaged_topics().is_empty());
}

/// Deleting a topic whose metadata is damaged removes its files; the name can be reused.
#[test]
fn delete_topic_with_damaged_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let m = LogManager::open(config(dir.path())).expect("open");
        m.create_topic("a", 2, BTreeMap::new()).expect("create");
        m.create_topic("a-1", 1, BTreeMap::new()).expect("create");
        m.partition("a", 1)
            .expect("p")
            .append(batch_at(0, 3))
            .expect("append");
        m.partition("a-1", 0)
            .expect("p")
            .append(batch_at(0, 3))
            .expect("append");
    }
    std::fs::write(
        dir.path().join("a.topic.json"),
        b"{\"name\": \"a\", \"partitions\": ",
    )
    .unwrap();
    let m = LogManager::open(config(dir.path())).expect("open");
    assert_eq!(m.damaged_topics().len(), 1);
    m.delete_topic("a").expect("delete damaged");
    assert!(!dir.path().join("a-0").exists() && !dir.path().join("a-1").exists());
    assert!(!dir.path().join("a.topic.json").exists());
    // The other topic, whose name starts the same way, is intact.
    assert_eq!(m.partition("a-1", 0).expect("p").log_end_offset(), 3);
    assert!(dir.path().join("a-1-0").exists());
    m.create_topic("a", 1, BTreeMap::new())
        .expect("create again");
    assert!(matches!(m.delete_topic("zzz"), Err(Error::UnknownTopic(_))));
}

/// A crash right after a roll can leave a `.log` without its index files.
#[test]
fn empty_segment_without_index_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let m = LogManager::open(config(dir.path())).expect("open");
        m.create_topic("t", 1, BTreeMap::new()).expect("create");
        m.partition("t", 0)
            .expect("p")
            .append(batch_at(0, 3))
            .expect("append");
    }
    let pd = dir.path().join("t-0");
    let empty = pd.join(format!("{:020}.log", 3));
    std::fs::write(&empty, b"").unwrap();
    let m = LogManager::open(config(dir.path())).expect("open");
    let p = m.partition("t", 0).expect("p");
    assert_eq!(p.log_end_offset(), 3);
    assert_eq!(p.append(batch_at(3, 1)).expect("append").base_offset, 3);
    m.flush().expect("flush finds the index files");
    m.close().expect("close");
    assert!(pd.join(format!("{:020}.index", 3)).exists());
}
