//! The set of topics in one data directory.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::config::LogConfig;
use crate::error::{Error, IoContext, Result};
use crate::partition::{PartitionLog, partition_dir};
use crate::segment::{read_lock, write_lock};
use ferry_record::now_ms;

const LOCK_FILE: &str = ".lock";
const CLEAN_SHUTDOWN_FILE: &str = ".clean_shutdown";
const TOPIC_META_SUFFIX: &str = ".topic.json";
/// Upper bound on partitions per topic, against typos that would create a million files.
pub const MAX_PARTITIONS: u32 = 100_000;

/// A topic as stored in the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Number of partitions, numbered `0..partitions`.
    pub partitions: u32,
    /// Topic config overrides, with Kafka's names (`cleanup.policy`, `retention.ms`, ...).
    pub configs: BTreeMap<String, String>,
}

/// A topic whose metadata file could not be used at open: see [`LogManager::damaged_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedTopic {
    /// Topic name (from the metadata file's name).
    pub name: String,
    /// The metadata file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl DamagedTopic {
    fn error(&self) -> Error {
        Error::CorruptMetadata {
            path: self.path.clone(),
            reason: format!(
                "{}; topic '{}' is unavailable and its data untouched until the file is \
                 repaired (or the topic deleted)",
                self.reason, self.name
            ),
        }
    }
}

/// The metadata file: the metadata plus a CRC-32C of its compact JSON, so that damage that
/// still parses (a changed digit in `retention.ms`) is caught. Files without the checksum
/// (older ones, or repaired by hand) are accepted as they are.
#[derive(Debug, Serialize, Deserialize)]
struct MetadataFile {
    #[serde(flatten)]
    meta: TopicMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crc32c: Option<u32>,
}

fn metadata_crc(meta: &TopicMetadata) -> Result<u32> {
    let data = serde_json::to_vec(meta).map_err(|e| Error::CorruptMetadata {
        path: PathBuf::from(format!("{}{TOPIC_META_SUFFIX}", meta.name)),
        reason: e.to_string(),
    })?;
    Ok(crc32c::crc32c(&data))
}

#[derive(Debug)]
struct Topic {
    meta: TopicMetadata,
    partitions: Vec<Arc<PartitionLog>>,
}

/// The log engine of one data directory: topics, their partitions, and the directory lock.
///
/// `Send + Sync`; share it through `Arc`. Dropping it (or [`LogManager::close`]) flushes every
/// partition and marks the shutdown clean.
#[derive(Debug)]
pub struct LogManager {
    config: LogConfig,
    topics: Arc<RwLock<BTreeMap<String, Arc<Topic>>>>,
    /// Topics whose metadata file is damaged, by name (not in `topics`).
    damaged: RwLock<BTreeMap<String, DamagedTopic>>,
    /// Serialises create/delete (file work) without blocking lookups.
    admin: Mutex<()>,
    /// The background thread (retention, compaction, `flush.ms`) and its stop signal.
    background: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
    /// Holds the advisory lock on `<data_dir>/.lock` while open.
    _lock: File,
    closed: AtomicBool,
}

/// Checks Kafka's topic naming rules.
pub fn validate_topic_name(name: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidTopicName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("the name is empty");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if name.len() > 249 {
        return bad("longer than 249 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

impl LogManager {
    /// Opens (creating if needed) and locks the data directory, then loads every topic,
    /// recovering partitions after an unclean shutdown.
    ///
    /// A second process (or a second `LogManager` in this process) gets
    /// [`Error::DataDirLocked`] naming the directory. The OS drops the lock when the process
    /// dies, so a restart after `kill -9` works.
    pub fn open(config: LogConfig) -> Result<LogManager> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).at(&dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .at(&lock_path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(Error::DataDirLocked { dir }),
            Err(std::fs::TryLockError::Error(e)) => return Err(e).at(&lock_path),
        }

        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        if clean {
            std::fs::remove_file(&marker).at(&marker)?;
            sync_dir(&dir)?;
        } else {
            tracing::info!(dir = %dir.display(), "no clean shutdown marker, recovering logs");
        }

        let mut topics = BTreeMap::new();
        let mut damaged = BTreeMap::new();
        let mut partition_dirs = Vec::new();
        for entry in std::fs::read_dir(&dir).at(&dir)? {
            let entry = entry.at(&dir)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if let Some(topic) = name.strip_suffix(TOPIC_META_SUFFIX) {
                match read_metadata(&path, topic, &config) {
                    Ok(meta) => {
                        topics.insert(meta.name.clone(), meta);
                    }
                    Err(Error::CorruptMetadata { path, reason }) => {
                        let d = DamagedTopic {
                            name: topic.to_owned(),
                            path,
                            reason,
                        };
                        tracing::error!(
                            file = %d.path.display(),
                            topic = %d.name,
                            reason = %d.reason,
                            "topic metadata file is damaged: the topic stays unavailable, its \
                             data untouched, until the file is repaired and the broker restarted"
                        );
                        damaged.insert(d.name.clone(), d);
                    }
                    Err(e) => return Err(e),
                }
            } else if name.ends_with(".tmp") {
                std::fs::remove_file(&path).at(&path)?;
            } else if entry.file_type().at(&path)?.is_dir() {
                partition_dirs.push(name.to_owned());
            }
        }
        let mut loaded = BTreeMap::new();
        for (name, meta) in topics {
            let topic = open_topic(&config, meta)?;
            loaded.insert(name, Arc::new(topic));
        }
        for d in partition_dirs {
            let known = d.rsplit_once('-').is_some_and(|(t, p)| {
                damaged.contains_key(t)
                    || loaded.get(t).is_some_and(|topic| {
                        p.parse::<u32>().is_ok_and(|p| p < topic.meta.partitions)
                    })
            });
            if !known {
                tracing::warn!(
                    dir = %dir.join(&d).display(),
                    "directory belongs to no known topic partition; ignored"
                );
            }
        }
        tracing::info!(
            dir = %dir.display(),
            topics = loaded.len(),
            clean_shutdown = clean,
            "log manager opened"
        );
        let topics = Arc::new(RwLock::new(loaded));
        let (stop_tx, stop_rx) = mpsc::channel();
        let handle = {
            let topics = Arc::downgrade(&topics);
            let interval = config.retention_check_interval;
            std::thread::Builder::new()
                .name("ferry-log-maintenance".to_owned())
                .spawn(move || background_loop(topics, interval, stop_rx))
                .at(&dir)?
        };
        Ok(LogManager {
            config,
            topics,
            damaged: RwLock::new(damaged),
            admin: Mutex::new(()),
            background: Mutex::new(Some((stop_tx, handle))),
            _lock: lock,
            closed: AtomicBool::new(false),
        })
    }

    /// Runs one round of the background work now, on every partition: `flush.ms` flushes,
    /// retention (`retention.ms` / `retention.bytes`) and compaction. The background thread
    /// does this every `retention_check_interval`.
    pub fn run_maintenance(&self) -> Result<()> {
        maintain(&self.all_partitions(), now_ms(), true)
    }

    /// The configuration this manager was opened with.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed(self.config.data_dir.display().to_string()));
        }
        Ok(())
    }

    /// Creates a topic with `partitions` partitions and Kafka-named config overrides.
    /// Durable when this returns (metadata written to a temp file, renamed, directory synced).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        configs: BTreeMap<String, String>,
    ) -> Result<()> {
        validate_topic_name(name)?;
        if partitions == 0 || partitions > MAX_PARTITIONS {
            return Err(Error::InvalidConfig {
                key: "partitions".to_owned(),
                value: partitions.to_string(),
                reason: format!("expected 1..={MAX_PARTITIONS}"),
            });
        }
        // Validate configs before touching the disk.
        self.config.defaults.with_overrides(&configs)?;
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        if read_lock(&self.topics).contains_key(name) {
            return Err(Error::TopicAlreadyExists(name.to_owned()));
        }
        // Its partition directories hold data that a repaired metadata file brings back.
        if let Some(d) = read_lock(&self.damaged).get(name) {
            return Err(d.error());
        }
        let meta = TopicMetadata {
            name: name.to_owned(),
            partitions,
            configs,
        };
        let dir = &self.config.data_dir;
        // Leftovers of an earlier topic with this name (crash during delete) go first.
        for p in 0..partitions {
            let pd = partition_dir(dir, name, p as i32);
            if pd.exists() {
                tracing::warn!(dir = %pd.display(), "removing leftover partition directory");
                std::fs::remove_dir_all(&pd).at(&pd)?;
            }
        }
        let topic = open_topic(&self.config, meta.clone())?;
        write_metadata(dir, &meta)?;
        write_lock(&self.topics).insert(name.to_owned(), Arc::new(topic));
        tracing::info!(topic = name, partitions, "created topic");
        Ok(())
    }

    /// Replaces a topic's config overrides with `configs` (all of them: a key not in
    /// `configs` goes back to the broker default, as Kafka's AlterConfigs). Validated first;
    /// durable when this returns (metadata written as by `create_topic`); every partition
    /// uses the new settings from its next operation on.
    pub fn alter_topic_configs(&self, name: &str, configs: BTreeMap<String, String>) -> Result<()> {
        let config = self.config.defaults.with_overrides(&configs)?;
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let old = self.existing_topic(name)?;
        let meta = TopicMetadata {
            configs,
            ..old.meta.clone()
        };
        write_metadata(&self.config.data_dir, &meta)?;
        for p in &old.partitions {
            p.set_config(config.clone());
        }
        write_lock(&self.topics).insert(
            name.to_owned(),
            Arc::new(Topic {
                meta,
                partitions: old.partitions.clone(),
            }),
        );
        tracing::info!(topic = name, "altered topic configs");
        Ok(())
    }

    /// Grows a topic to `partitions` partitions (Kafka's CreatePartitions; a topic never
    /// shrinks). The new partition directories are created first and the metadata written
    /// last, so a crash in between leaves only empty directories that the next attempt
    /// removes. Existing partitions and their handles are untouched.
    pub fn create_partitions(&self, name: &str, partitions: u32) -> Result<()> {
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let old = self.existing_topic(name)?;
        let current = old.meta.partitions;
        if partitions <= current || partitions > MAX_PARTITIONS {
            return Err(Error::InvalidConfig {
                key: "partitions".to_owned(),
                value: partitions.to_string(),
                reason: format!(
                    "topic '{name}' has {current} partitions; expected more than {current} and \
                     at most {MAX_PARTITIONS} (partitions can only be added)"
                ),
            });
        }
        let dir = &self.config.data_dir;
        let config = self.config.defaults.with_overrides(&old.meta.configs)?;
        let mut all = old.partitions.clone();
        for p in current..partitions {
            let pd = partition_dir(dir, name, p as i32);
            if pd.exists() {
                tracing::warn!(dir = %pd.display(), "removing leftover partition directory");
                std::fs::remove_dir_all(&pd).at(&pd)?;
            }
            all.push(Arc::new(PartitionLog::open(
                pd,
                name,
                p as i32,
                config.clone(),
            )?));
        }
        let meta = TopicMetadata {
            partitions,
            ..old.meta.clone()
        };
        write_metadata(dir, &meta)?;
        write_lock(&self.topics).insert(
            name.to_owned(),
            Arc::new(Topic {
                meta,
                partitions: all,
            }),
        );
        tracing::info!(
            topic = name,
            from = current,
            to = partitions,
            "added partitions"
        );
        Ok(())
    }

    fn existing_topic(&self, name: &str) -> Result<Arc<Topic>> {
        if let Some(t) = read_lock(&self.topics).get(name) {
            return Ok(t.clone());
        }
        Err(match read_lock(&self.damaged).get(name) {
            Some(d) => d.error(),
            None => Error::UnknownTopic(name.to_owned()),
        })
    }

    /// Deletes a topic and its data. Handles to its partitions stop accepting appends.
    pub fn delete_topic(&self, name: &str) -> Result<()> {
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let topic = write_lock(&self.topics).remove(name);
        let Some(topic) = topic else {
            return self.delete_damaged_topic(name);
        };
        for p in &topic.partitions {
            p.close();
        }
        let dir = &self.config.data_dir;
        let meta_path = dir.join(format!("{name}{TOPIC_META_SUFFIX}"));
        std::fs::remove_file(&meta_path).at(&meta_path)?;
        sync_dir(dir)?;
        for p in &topic.partitions {
            std::fs::remove_dir_all(p.dir()).at(p.dir())?;
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(())
    }

    /// Deletes the metadata file and every `<name>-<n>` partition directory of a topic whose
    /// metadata file is damaged (the partition count in it cannot be trusted).
    fn delete_damaged_topic(&self, name: &str) -> Result<()> {
        let Some(d) = write_lock(&self.damaged).remove(name) else {
            return Err(Error::UnknownTopic(name.to_owned()));
        };
        let dir = &self.config.data_dir;
        match std::fs::remove_file(&d.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).at(&d.path),
        }
        sync_dir(dir)?;
        for entry in std::fs::read_dir(dir).at(dir)? {
            let path = entry.at(dir)?.path();
            let is_partition = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.rsplit_once('-'))
                .is_some_and(|(t, p)| t == name && p.parse::<u32>().is_ok());
            if is_partition && path.is_dir() {
                std::fs::remove_dir_all(&path).at(&path)?;
            }
        }
        tracing::info!(topic = name, "deleted topic with damaged metadata");
        Ok(())
    }

    /// Topics whose metadata file (`<data_dir>/<topic>.topic.json`) could not be used when
    /// the directory was opened: unreadable, not JSON, wrong checksum, invalid values. Such a
    /// topic is not served ([`LogManager::partition`] answers [`Error::CorruptMetadata`]),
    /// cannot be created again, and its partition directories are left exactly as they are:
    /// repairing the file and reopening brings every batch back. Deleting it removes them.
    pub fn damaged_topics(&self) -> Vec<DamagedTopic> {
        read_lock(&self.damaged).values().cloned().collect()
    }

    /// A topic's metadata, if it exists.
    pub fn topic(&self, name: &str) -> Option<TopicMetadata> {
        read_lock(&self.topics).get(name).map(|t| t.meta.clone())
    }

    /// All topics, sorted by name.
    pub fn topics(&self) -> Vec<TopicMetadata> {
        read_lock(&self.topics)
            .values()
            .map(|t| t.meta.clone())
            .collect()
    }

    /// The log of one partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<PartitionLog>> {
        let topics = read_lock(&self.topics);
        let Some(t) = topics.get(topic) else {
            return Err(match read_lock(&self.damaged).get(topic) {
                Some(d) => d.error(),
                None => Error::UnknownTopic(topic.to_owned()),
            });
        };
        usize::try_from(partition)
            .ok()
            .and_then(|p| t.partitions.get(p))
            .cloned()
            .ok_or_else(|| Error::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                partitions: t.meta.partitions,
            })
    }

    /// Every partition log of every topic.
    pub fn all_partitions(&self) -> Vec<Arc<PartitionLog>> {
        read_lock(&self.topics)
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Flushes every partition (index files written, data fsynced).
    pub fn flush(&self) -> Result<()> {
        for p in self.all_partitions() {
            p.flush()?;
        }
        Ok(())
    }

    /// Stops appends, flushes every partition and writes the clean-shutdown marker, so the
    /// next open skips recovery work. Idempotent; also done by `Drop`.
    pub fn close(&self) -> Result<()> {
        let _admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.stop_background();
        let partitions = self.all_partitions();
        for p in &partitions {
            p.close();
        }
        for p in &partitions {
            p.flush()?;
        }
        let dir = &self.config.data_dir;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        File::create(&marker)
            .and_then(|f| f.sync_all())
            .at(&marker)?;
        sync_dir(dir)?;
        tracing::info!(dir = %dir.display(), "log manager closed cleanly");
        Ok(())
    }
}

impl LogManager {
    /// Test helper: drop without flushing or writing the clean-shutdown marker, as a crash.
    #[cfg(test)]
    pub(crate) fn crash(self) {
        self.closed.store(true, Ordering::Release);
        self.stop_background();
    }

    fn stop_background(&self) {
        let bg = self
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((stop, handle)) = bg {
            let _ = stop.send(());
            if handle.join().is_err() {
                tracing::error!("log maintenance thread panicked");
            }
        }
    }
}

/// One round of maintenance over `partitions`; `full` includes retention and compaction.
fn maintain(partitions: &[Arc<PartitionLog>], now_ms: i64, full: bool) -> Result<()> {
    let mut first_error = None;
    for p in partitions {
        let run = || -> Result<()> {
            p.flush_if_due()?;
            if full {
                p.enforce_retention(now_ms)?;
                p.compact(now_ms)?;
            }
            Ok(())
        };
        if let Err(e) = run() {
            tracing::error!(
                topic = p.topic(),
                partition = p.partition(),
                error = %e,
                "log maintenance failed"
            );
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn background_loop(
    topics: std::sync::Weak<RwLock<BTreeMap<String, Arc<Topic>>>>,
    interval: Duration,
    stop: mpsc::Receiver<()>,
) {
    // Ticks often enough for `flush.ms`; retention and compaction run every `interval`.
    let tick = interval.min(Duration::from_millis(100));
    let mut last_full = Instant::now();
    loop {
        match stop.recv_timeout(tick) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let Some(topics) = topics.upgrade() else {
            return;
        };
        let partitions: Vec<Arc<PartitionLog>> = read_lock(&topics)
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect();
        drop(topics);
        let full = last_full.elapsed() >= interval;
        if full {
            last_full = Instant::now();
        }
        // Errors are logged inside.
        let _ = maintain(&partitions, now_ms(), full);
    }
}

impl Drop for LogManager {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "closing the log manager failed; next open will recover");
        }
    }
}

fn open_topic(config: &LogConfig, meta: TopicMetadata) -> Result<Topic> {
    let topic_config = config.defaults.with_overrides(&meta.configs)?;
    let mut partitions = Vec::with_capacity(meta.partitions as usize);
    for p in 0..meta.partitions as i32 {
        let dir = partition_dir(&config.data_dir, &meta.name, p);
        partitions.push(Arc::new(PartitionLog::open(
            dir,
            &meta.name,
            p,
            topic_config.clone(),
        )?));
    }
    Ok(Topic { meta, partitions })
}

/// Reads and checks a topic metadata file: JSON, checksum, name (valid and equal to the
/// file's), partition count, configs. Every failure but an I/O error is `CorruptMetadata`.
fn read_metadata(path: &Path, file_topic: &str, config: &LogConfig) -> Result<TopicMetadata> {
    let corrupt = |reason: String| Error::CorruptMetadata {
        path: path.to_path_buf(),
        reason,
    };
    let data = std::fs::read(path).at(path)?;
    let file: MetadataFile = serde_json::from_slice(&data).map_err(|e| corrupt(e.to_string()))?;
    let meta = file.meta;
    if let Some(stored) = file.crc32c {
        let computed = metadata_crc(&meta)?;
        if stored != computed {
            return Err(corrupt(format!(
                "checksum mismatch: stored {stored}, computed {computed}"
            )));
        }
    }
    validate_topic_name(&meta.name).map_err(|e| corrupt(e.to_string()))?;
    if meta.name != file_topic {
        return Err(corrupt(format!("names topic '{}'", meta.name)));
    }
    if meta.partitions == 0 || meta.partitions > MAX_PARTITIONS {
        return Err(corrupt(format!(
            "{} partitions, expected 1..={MAX_PARTITIONS}",
            meta.partitions
        )));
    }
    config
        .defaults
        .with_overrides(&meta.configs)
        .map_err(|e| corrupt(e.to_string()))?;
    Ok(meta)
}

fn write_metadata(dir: &Path, meta: &TopicMetadata) -> Result<()> {
    let path = dir.join(format!("{}{TOPIC_META_SUFFIX}", meta.name));
    let tmp = dir.join(format!("{}{TOPIC_META_SUFFIX}.tmp", meta.name));
    let file = MetadataFile {
        meta: meta.clone(),
        crc32c: Some(metadata_crc(meta)?),
    };
    let data = serde_json::to_vec_pretty(&file).map_err(|e| Error::CorruptMetadata {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let mut f = File::create(&tmp).at(&tmp)?;
    f.write_all(&data).at(&tmp)?;
    f.sync_all().at(&tmp)?;
    std::fs::rename(&tmp, &path).at(&path)?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::{Bytes, BytesMut};

    use super::*;
    use crate::{DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_RETENTION_MS};
    use ferry_record::{RecordBatch, RecordBatchBuilder, batches};

    pub(crate) fn batch(first: u64, n: u64) -> BytesMut {
        let mut b = RecordBatchBuilder::new(1_000 + first as i64);
        for i in first..first + n {
            let v = format!("value-{i:06}");
            b.append(
                1_000 + i as i64,
                Some(format!("k{}", i % 7).as_bytes()),
                Some(v.as_bytes()),
                &[],
            );
        }
        b.finish_mut()
    }

    fn config(dir: &Path, segment_bytes: u64) -> LogConfig {
        let mut c = LogConfig::new(dir);
        c.defaults.segment_bytes = segment_bytes;
        c.defaults.index_interval_bytes = 100;
        c
    }

    /// All record values from `offset` to the end, following reads.
    fn read_all(p: &PartitionLog, mut offset: i64, max_bytes: usize) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        loop {
            let r = p.read(offset, max_bytes).unwrap();
            if r.data.is_empty() {
                return out;
            }
            for b in batches(r.data) {
                let b = b.unwrap();
                assert!(b.crc_valid());
                for rec in b.records() {
                    let rec = rec.unwrap();
                    if rec.offset >= offset {
                        let v = String::from_utf8(rec.value.unwrap().to_vec()).unwrap();
                        out.push((rec.offset, v));
                    }
                }
                offset = b.next_offset();
            }
        }
    }

    fn expected(from: u64, to: u64) -> Vec<(i64, String)> {
        (from..to)
            .map(|i| (i as i64, format!("value-{i:06}")))
            .collect()
    }

    /// Appends batches of 1..=5 records until `total` records; returns batch end offsets.
    fn fill(p: &PartitionLog, total: u64) -> Vec<u64> {
        let mut ends = Vec::new();
        let mut next = 0;
        while next < total {
            let n = (next % 5 + 1).min(total - next);
            let info = p.append(batch(next, n)).unwrap();
            assert_eq!(info.base_offset, next as i64);
            assert_eq!(info.last_offset, (next + n - 1) as i64);
            next += n;
            ends.push(next);
        }
        ends
    }

    #[test]
    fn append_read_across_rolls_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let m = LogManager::open(config(dir.path(), 1024)).unwrap();
            m.create_topic("t", 2, BTreeMap::new()).unwrap();
            let p = m.partition("t", 1).unwrap();
            fill(&p, 500);
            assert!(p.segment_count() > 5, "segments: {}", p.segment_count());
            assert_eq!(p.log_end_offset(), 500);
            assert_eq!(read_all(&p, 0, 1 << 20), expected(0, 500));
            assert_eq!(read_all(&p, 0, 1), expected(0, 500));
            assert_eq!(read_all(&p, 333, 700), expected(333, 500));
            // A single small read returns exactly one whole batch.
            let r = p.read(101, 1).unwrap();
            let bs: Vec<RecordBatch> = batches(r.data).map(|b| b.unwrap()).collect();
            assert_eq!(bs.len(), 1);
            assert!(bs[0].base_offset() <= 101 && bs[0].last_offset() >= 101);
            assert_eq!(r.high_watermark, 500);
            m.close().unwrap();
        }
        // Clean reopen.
        let m = LogManager::open(config(dir.path(), 1024)).unwrap();
        let p = m.partition("t", 1).unwrap();
        assert_eq!(p.log_end_offset(), 500);
        assert_eq!(read_all(&p, 0, 4096), expected(0, 500));
        assert_eq!(p.append(batch(500, 3)).unwrap().base_offset, 500);
        m.crash();
        // Unclean reopen.
        let m = LogManager::open(config(dir.path(), 1024)).unwrap();
        let p = m.partition("t", 1).unwrap();
        assert_eq!(p.log_end_offset(), 503);
        assert_eq!(read_all(&p, 0, 4096), expected(0, 503));
        assert_eq!(m.partition("t", 0).unwrap().log_end_offset(), 0);
    }

    #[test]
    fn altered_configs_apply_at_once_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let over = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        {
            let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
            m.create_topic("t", 2, over(&[("retention.ms", "1000")]))
                .unwrap();
            let p = m.partition("t", 1).unwrap();
            p.append(batch(0, 3)).unwrap();
            // max.message.bytes takes effect on the next append, on every partition.
            m.alter_topic_configs("t", over(&[("max.message.bytes", "40")]))
                .unwrap();
            assert!(matches!(
                p.append(batch(3, 3)),
                Err(Error::RecordTooLarge { max: 40, .. })
            ));
            assert_eq!(p.config().retention_ms, Some(DEFAULT_RETENTION_MS));
            assert_eq!(m.partition("t", 0).unwrap().config().max_message_bytes, 40);
            assert_eq!(
                m.topic("t").unwrap().configs,
                over(&[("max.message.bytes", "40")])
            );
            // A bad value changes nothing.
            let e = m
                .alter_topic_configs("t", over(&[("segment.bytes", "big")]))
                .unwrap_err();
            assert!(e.to_string().contains("segment.bytes=big"), "{e}");
            assert!(matches!(
                m.alter_topic_configs("nope", BTreeMap::new()),
                Err(Error::UnknownTopic(_))
            ));
            m.alter_topic_configs("t", over(&[("cleanup.policy", "compact")]))
                .unwrap();
            m.crash();
        }
        let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
        assert_eq!(
            m.topic("t").unwrap().configs,
            over(&[("cleanup.policy", "compact")])
        );
        let p = m.partition("t", 1).unwrap();
        assert!(p.config().cleanup_policy.compact);
        assert_eq!(p.config().max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(read_all(&p, 0, 4096), expected(0, 3));
    }

    #[test]
    fn partitions_are_added_never_removed_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
            m.create_topic("t", 1, BTreeMap::new()).unwrap();
            let p0 = m.partition("t", 0).unwrap();
            p0.append(batch(0, 3)).unwrap();
            // A leftover directory of a crashed earlier attempt is replaced.
            std::fs::create_dir_all(dir.path().join("t-2")).unwrap();
            std::fs::write(dir.path().join("t-2/junk"), b"x").unwrap();
            m.create_partitions("t", 3).unwrap();
            assert_eq!(m.topic("t").unwrap().partitions, 3);
            assert!(!dir.path().join("t-2/junk").exists());
            // The old handle still serves and appends.
            assert_eq!(p0.append(batch(3, 2)).unwrap().base_offset, 3);
            let p2 = m.partition("t", 2).unwrap();
            assert_eq!(p2.append(batch(0, 1)).unwrap().base_offset, 0);
            for bad in [3, 2, MAX_PARTITIONS + 1] {
                let e = m.create_partitions("t", bad).unwrap_err();
                assert!(e.to_string().contains("can only be added"), "{e}");
            }
            assert!(matches!(
                m.create_partitions("nope", 4),
                Err(Error::UnknownTopic(_))
            ));
            m.crash();
        }
        let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
        assert_eq!(m.topic("t").unwrap().partitions, 3);
        assert_eq!(
            read_all(&m.partition("t", 0).unwrap(), 0, 4096),
            expected(0, 5)
        );
        assert_eq!(m.partition("t", 2).unwrap().log_end_offset(), 1);
        assert_eq!(m.partition("t", 1).unwrap().log_end_offset(), 0);
    }

    #[test]
    fn offsets_out_of_range_and_log_end() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
        m.create_topic("t", 1, BTreeMap::new()).unwrap();
        let p = m.partition("t", 0).unwrap();
        assert!(p.read(0, 100).unwrap().data.is_empty());
        p.append(batch(0, 3)).unwrap();
        assert!(p.read(3, 100).unwrap().data.is_empty());
        let e = p.read(4, 100).unwrap_err();
        assert!(matches!(
            e,
            Error::OffsetOutOfRange {
                offset: 4,
                log_start: 0,
                log_end: 3,
                ..
            }
        ));
        assert!(e.to_string().contains("t-0"), "{e}");
        assert!(matches!(
            p.read(-1, 100),
            Err(Error::OffsetOutOfRange { .. })
        ));
    }

    #[test]
    fn bad_appends_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
        m.create_topic("t", 1, BTreeMap::new()).unwrap();
        let p = m.partition("t", 0).unwrap();
        p.append(batch(0, 2)).unwrap();
        // Good batch followed by a corrupted one: nothing from this append is written.
        let mut two = batch(2, 2).to_vec();
        let mut bad = batch(4, 2).to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        two.extend_from_slice(&bad);
        assert!(matches!(p.append(two), Err(Error::CorruptBatch { .. })));
        assert!(p.append(vec![1u8, 2, 3]).is_err());
        assert!(p.append(Vec::new()).is_err());
        let empty = RecordBatchBuilder::new(0).finish_mut();
        assert!(p.append(empty).is_err());
        assert_eq!(p.log_end_offset(), 2);
        assert_eq!(p.size_in_bytes(), batch(0, 2).len() as u64);
        // Multi-batch append works and gets consecutive offsets.
        let mut two = batch(2, 2).to_vec();
        two.extend_from_slice(&batch(4, 3));
        let info = p.append(two).unwrap();
        assert_eq!((info.base_offset, info.last_offset), (2, 6));
        assert_eq!(read_all(&p, 0, 1 << 20), expected(0, 7));
        // A Bytes from the builder converts without copy.
        let b = RecordBatchBuilder::new(0);
        let mut b2 = b.clone();
        b2.append(0, None, Some(b"x"), &[]);
        p.append(BytesMut::from(b2.finish())).unwrap();
        assert_eq!(p.log_end_offset(), 8);
    }

    #[test]
    fn truncated_tail_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 1 << 20);
        let ends;
        {
            let m = LogManager::open(cfg.clone()).unwrap();
            m.create_topic("t", 1, BTreeMap::new()).unwrap();
            let p = m.partition("t", 0).unwrap();
            ends = fill(&p, 60);
            m.close().unwrap();
        }
        let log = dir.path().join("t-0").join("00000000000000000000.log");
        let index = dir.path().join("t-0").join("00000000000000000000.index");
        let original = std::fs::read(&log).unwrap();
        let original_index = std::fs::read(&index).unwrap();
        // Byte position where each batch ends.
        let mut bounds = Vec::new();
        let mut pos = 0;
        for b in batches(Bytes::from(original.clone())) {
            pos += b.unwrap().size_in_bytes();
            bounds.push(pos);
        }
        assert_eq!(bounds.len(), ends.len());
        let mut seed = 7u64;
        let mut cuts: Vec<usize> = (0..40)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as usize % original.len()
            })
            .collect();
        cuts.extend([0, 1, 11, 12, 60, 61, original.len() - 1]);
        cuts.extend(bounds.iter().take(5));
        for cut in cuts {
            std::fs::write(&log, &original[..cut]).unwrap();
            std::fs::write(&index, &original_index).unwrap();
            let m = LogManager::open(cfg.clone()).unwrap();
            let p = m.partition("t", 0).unwrap();
            let complete = bounds.iter().take_while(|&&b| b <= cut).count();
            let leo = if complete == 0 { 0 } else { ends[complete - 1] };
            assert_eq!(p.log_end_offset(), leo as i64, "cut at {cut}");
            assert_eq!(read_all(&p, 0, 1000), expected(0, leo), "cut at {cut}");
            // Appending continues at the right offset.
            assert_eq!(p.append(batch(leo, 1)).unwrap().base_offset, leo as i64);
            m.crash();
        }
    }

    #[test]
    fn garbage_tail_and_deleted_index() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 1 << 20);
        {
            let m = LogManager::open(cfg.clone()).unwrap();
            m.create_topic("t", 1, BTreeMap::new()).unwrap();
            fill(&m.partition("t", 0).unwrap(), 100);
            m.crash();
        }
        let log = dir.path().join("t-0").join("00000000000000000000.log");
        let index = dir.path().join("t-0").join("00000000000000000000.index");
        let good_len = std::fs::metadata(&log).unwrap().len();
        for garbage in [vec![0u8; 100], vec![0xffu8; 5], (0..=255u8).collect()] {
            let mut f = OpenOptions::new().append(true).open(&log).unwrap();
            f.write_all(&garbage).unwrap();
            drop(f);
            let m = LogManager::open(cfg.clone()).unwrap();
            let p = m.partition("t", 0).unwrap();
            assert_eq!(p.log_end_offset(), 100);
            assert_eq!(std::fs::metadata(&log).unwrap().len(), good_len);
            assert_eq!(read_all(&p, 37, 300), expected(37, 100));
            m.crash();
        }
        // Deleted and corrupt index files are rebuilt.
        for bad_index in [None, Some(vec![1u8, 2, 3]), Some(vec![0xff; 16])] {
            match &bad_index {
                None => std::fs::remove_file(&index).unwrap(),
                Some(data) => std::fs::write(&index, data).unwrap(),
            }
            let m = LogManager::open(cfg.clone()).unwrap();
            let p = m.partition("t", 0).unwrap();
            assert_eq!(p.log_end_offset(), 100);
            assert_eq!(read_all(&p, 0, 300), expected(0, 100));
            assert_eq!(read_all(&p, 77, 1), expected(77, 100));
            m.close().unwrap();
            assert!(std::fs::metadata(&index).unwrap().len() > 8);
        }
    }

    #[test]
    fn data_dir_lock() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(LogConfig::new(dir.path())).unwrap();
        let e = LogManager::open(LogConfig::new(dir.path())).unwrap_err();
        assert!(matches!(e, Error::DataDirLocked { .. }));
        let msg = e.to_string();
        assert!(msg.contains(&dir.path().display().to_string()), "{msg}");
        assert!(msg.contains("another process"), "{msg}");
        drop(m);
        LogManager::open(LogConfig::new(dir.path())).unwrap();
    }

    #[test]
    fn topics_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig::new(dir.path());
        let compact: BTreeMap<String, String> =
            [("cleanup.policy".to_string(), "compact".to_string())].into();
        {
            let m = LogManager::open(cfg.clone()).unwrap();
            m.create_topic("connect-offsets", 25, compact.clone())
                .unwrap();
            m.create_topic("a.b_c-D", 1, BTreeMap::new()).unwrap();
            assert!(matches!(
                m.create_topic("a.b_c-D", 1, BTreeMap::new()),
                Err(Error::TopicAlreadyExists(_))
            ));
            for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(250)] {
                assert!(
                    matches!(
                        m.create_topic(bad, 1, BTreeMap::new()),
                        Err(Error::InvalidTopicName { .. })
                    ),
                    "{bad}"
                );
            }
            assert!(m.create_topic("z", 0, BTreeMap::new()).is_err());
            let bad_cfg: BTreeMap<String, String> = [("retention.ms".into(), "x".into())].into();
            assert!(matches!(
                m.create_topic("z", 1, bad_cfg),
                Err(Error::InvalidConfig { .. })
            ));
            assert!(m.topic("z").is_none());
            assert!(matches!(
                m.partition("connect-offsets", 25),
                Err(Error::UnknownPartition {
                    partition: 25,
                    partitions: 25,
                    ..
                })
            ));
            assert!(matches!(
                m.partition("nope", 0),
                Err(Error::UnknownTopic(_))
            ));
            let p = m.partition("a.b_c-D", 0).unwrap();
            p.append(batch(0, 1)).unwrap();
            m.delete_topic("a.b_c-D").unwrap();
            assert!(matches!(p.append(batch(0, 1)), Err(Error::Closed(_))));
            assert!(!dir.path().join("a.b_c-D-0").exists());
            assert!(matches!(
                m.delete_topic("a.b_c-D"),
                Err(Error::UnknownTopic(_))
            ));
            m.create_topic("a.b_c-D", 2, BTreeMap::new()).unwrap();
            assert_eq!(m.partition("a.b_c-D", 0).unwrap().log_end_offset(), 0);
        }
        let m = LogManager::open(cfg).unwrap();
        let names: Vec<String> = m.topics().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["a.b_c-D", "connect-offsets"]);
        let t = m.topic("connect-offsets").unwrap();
        assert_eq!(t.partitions, 25);
        assert_eq!(t.configs, compact);
        assert!(
            m.partition("connect-offsets", 3)
                .unwrap()
                .config()
                .cleanup_policy
                .compact
        );
    }

    /// A batch of `n` records with timestamps `ts, ts+1, ...`.
    fn batch_at(first: u64, n: u64, ts: i64) -> BytesMut {
        let mut b = RecordBatchBuilder::new(ts);
        for i in 0..n {
            let v = format!("value-{:06}", first + i);
            b.append(ts + i as i64, Some(b"k"), Some(v.as_bytes()), &[]);
        }
        b.finish_mut()
    }

    #[test]
    fn list_offsets_by_time_looks_inside_compressed_batches() {
        use crate::{OffsetSpec, TimestampOffset};
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(config(dir.path(), 1 << 20)).unwrap();
        m.create_topic("z", 1, BTreeMap::new()).unwrap();
        let p = m.partition("z", 0).unwrap();
        for codec in 1..=4i16 {
            let base = 1000 * i64::from(codec);
            let plain = batch_at(0, 10, base);
            let b = BytesMut::from(ferry_record::compress_batch(&plain, codec));
            p.append(b).unwrap();
        }
        for codec in 1..=4i64 {
            // Record 7 of the codec's batch has timestamp 1000 * codec + 7.
            let got = p
                .list_offset(OffsetSpec::Timestamp(1000 * codec + 7))
                .unwrap();
            let want = TimestampOffset {
                offset: (codec - 1) * 10 + 7,
                timestamp: 1000 * codec + 7,
            };
            assert_eq!(got, Some(want), "codec {codec}");
        }
    }

    #[test]
    fn list_offsets_by_time_across_segments_and_reopen() {
        use crate::{OffsetSpec, TimestampOffset};
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), 2048);
        let check = |p: &PartitionLog| {
            let at = |t| p.list_offset(OffsetSpec::from_kafka(t)).unwrap();
            assert_eq!(
                at(-2),
                Some(TimestampOffset {
                    offset: 0,
                    timestamp: -1
                })
            );
            assert_eq!(
                at(-1),
                Some(TimestampOffset {
                    offset: 300,
                    timestamp: -1
                })
            );
            // Record i has timestamp 10_000 + 10 * (i / 3) + i % 3.
            assert_eq!(
                at(0),
                Some(TimestampOffset {
                    offset: 0,
                    timestamp: 10_000
                })
            );
            for i in [0u64, 1, 2, 3, 150, 151, 152, 299] {
                let ts = 10_000 + 10 * (i / 3) as i64 + (i % 3) as i64;
                assert_eq!(
                    at(ts),
                    Some(TimestampOffset {
                        offset: i as i64,
                        timestamp: ts
                    }),
                    "record {i}"
                );
            }
            // Between batches: the next batch's first record.
            assert_eq!(at(10_005).map(|t| t.offset), Some(3));
            assert_eq!(at(20_000), None);
        };
        {
            let m = LogManager::open(cfg.clone()).unwrap();
            m.create_topic("t", 1, BTreeMap::new()).unwrap();
            let p = m.partition("t", 0).unwrap();
            for b in 0..100u64 {
                p.append(batch_at(b * 3, 3, 10_000 + 10 * b as i64))
                    .unwrap();
            }
            assert!(p.segment_count() > 3);
            check(&p);
            m.close().unwrap();
        }
        let m = LogManager::open(cfg.clone()).unwrap();
        check(&m.partition("t", 0).unwrap());
        // Deleted time indexes are rebuilt.
        drop(m);
        for e in std::fs::read_dir(dir.path().join("t-0")).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "timeindex") {
                std::fs::remove_file(path).unwrap();
            }
        }
        let m = LogManager::open(cfg).unwrap();
        check(&m.partition("t", 0).unwrap());
    }

    #[test]
    fn retention_by_time_and_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(config(dir.path(), 1024)).unwrap();
        let now = now_ms();
        let by_time: BTreeMap<String, String> = [("retention.ms".into(), "60000".into())].into();
        m.create_topic("time", 1, by_time).unwrap();
        let by_bytes: BTreeMap<String, String> = [
            ("retention.bytes".into(), "3000".into()),
            ("retention.ms".into(), "-1".into()),
        ]
        .into();
        m.create_topic("bytes", 1, by_bytes).unwrap();
        let compact: BTreeMap<String, String> = [
            ("cleanup.policy".into(), "compact".into()),
            ("retention.ms".into(), "1".into()),
        ]
        .into();
        m.create_topic("compact", 1, compact).unwrap();

        let t = m.partition("time", 0).unwrap();
        // 50 old batches (2 hours ago), then 50 recent ones.
        for i in 0..100u64 {
            let ts = if i < 50 { now - 7_200_000 } else { now };
            t.append(batch_at(i * 2, 2, ts)).unwrap();
        }
        let b = m.partition("bytes", 0).unwrap();
        let c = m.partition("compact", 0).unwrap();
        for i in 0..100u64 {
            b.append(batch_at(i * 2, 2, now)).unwrap();
            c.append(batch_at(i * 2, 2, now - 7_200_000)).unwrap();
        }
        let (t_segs, c_segs) = (t.segment_count(), c.segment_count());
        m.run_maintenance().unwrap();

        // Only whole segments of old records went; the first kept one holds offset 100 or less.
        let start = t.log_start_offset();
        assert!(start > 0 && start <= 100, "start {start}");
        assert!(t.segment_count() < t_segs);
        assert!(!t.read(start, 100).unwrap().data.is_empty());
        assert!(matches!(
            t.read(0, 100),
            Err(Error::OffsetOutOfRange { .. })
        ));
        assert_eq!(read_all(&t, start, 4096).len() as i64, 200 - start);

        let size = b.size_in_bytes();
        assert!((3000..3000 + 1024).contains(&size), "size {size}");
        assert!(b.log_start_offset() > 0);
        assert_eq!(b.log_end_offset(), 200);

        // cleanup.policy=compact alone: retention does not delete.
        assert_eq!(c.segment_count(), c_segs);
        assert_eq!(c.log_start_offset(), 0);

        // Files are gone and a reopen agrees.
        let start_b = b.log_start_offset();
        drop((t, b, c));
        drop(m);
        let m = LogManager::open(config(dir.path(), 1024)).unwrap();
        assert_eq!(m.partition("time", 0).unwrap().log_start_offset(), start);
        assert_eq!(m.partition("bytes", 0).unwrap().log_start_offset(), start_b);
    }

    #[test]
    fn segment_ms_rolls_and_flush_policies() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(LogConfig::new(dir.path())).unwrap();
        let cfgs: BTreeMap<String, String> = [
            ("segment.ms".into(), "1".into()),
            ("flush.messages".into(), "1".into()),
        ]
        .into();
        m.create_topic("t", 1, cfgs).unwrap();
        let p = m.partition("t", 0).unwrap();
        p.append(batch(0, 1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        p.append(batch(1, 1)).unwrap();
        assert_eq!(p.segment_count(), 2);
        let cfgs: BTreeMap<String, String> = [("flush.ms".into(), "0".into())].into();
        m.create_topic("f", 1, cfgs).unwrap();
        let f = m.partition("f", 0).unwrap();
        f.append(batch(0, 1)).unwrap();
        m.run_maintenance().unwrap();
        assert_eq!(read_all(&f, 0, 100), expected(0, 1));
    }

    /// (offset, key, value) of every record from `offset` on.
    type Rec = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

    /// Every batch of the partition as stored.
    fn stored_batches(p: &PartitionLog) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut offset = p.log_start_offset();
        loop {
            let r = p.read(offset, 1 << 20).unwrap();
            if r.data.is_empty() {
                return out;
            }
            for b in batches(r.data) {
                let b = b.unwrap();
                offset = b.next_offset();
                out.push(b);
            }
        }
    }

    fn read_records(p: &PartitionLog, mut offset: i64) -> Vec<Rec> {
        let mut out = Vec::new();
        loop {
            let r = p.read(offset, 1000).unwrap();
            if r.data.is_empty() {
                return out;
            }
            for b in batches(r.data) {
                let b = b.unwrap();
                assert!(b.crc_valid());
                for rec in b.records() {
                    let rec = rec.unwrap();
                    if rec.offset >= offset {
                        out.push((
                            rec.offset,
                            rec.key.map(|k| k.to_vec()),
                            rec.value.map(|v| v.to_vec()),
                        ));
                    }
                }
                offset = b.next_offset();
            }
        }
    }

    fn keyed_batch(records: &[(u8, Option<u16>)], ts: i64) -> BytesMut {
        let mut b = RecordBatchBuilder::new(ts);
        for (k, v) in records {
            let key = [b'k', *k];
            let value = v.map(|v| v.to_be_bytes());
            b.append(
                ts,
                Some(&key),
                value.as_ref().map(|v| &v[..]),
                &[("h", Some(b"x"))],
            );
        }
        b.finish_mut()
    }

    #[test]
    fn compaction_keeps_latest_per_key_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(config(dir.path(), 600)).unwrap();
        let cfgs: BTreeMap<String, String> = [
            ("cleanup.policy".into(), "compact".into()),
            ("delete.retention.ms".into(), "100000".into()),
        ]
        .into();
        m.create_topic("c", 1, cfgs).unwrap();
        let p = m.partition("c", 0).unwrap();
        let now = now_ms();
        let mut model: Vec<Rec> = Vec::new();
        let mut n = 0u16;
        for round in 0..40u16 {
            let mut recs = Vec::new();
            for j in 0..3u8 {
                let key = (round as u8 * 3 + j) % 5;
                // Key 4 gets a tombstone now and then; old tombstones expire.
                let value = if key == 4 && round % 4 == 0 {
                    None
                } else {
                    Some(n)
                };
                recs.push((key, value));
                n += 1;
            }
            let ts = if round < 20 { now - 200_000 } else { now };
            // Every other batch is compressed, cycling through the four codecs (tombstone
            // rounds included).
            let batch = keyed_batch(&recs, ts);
            let batch = if round % 2 == 0 {
                BytesMut::from(ferry_record::compress_batch(
                    &batch,
                    (round / 2 % 4 + 1) as i16,
                ))
            } else {
                batch
            };
            let info = p.append(batch).unwrap();
            for (i, (k, v)) in recs.iter().enumerate() {
                model.push((
                    info.base_offset + i as i64,
                    Some(vec![b'k', *k]),
                    v.map(|v| v.to_be_bytes().to_vec()),
                ));
            }
        }
        // Keyless records are refused on a compacted topic.
        let mut keyless = RecordBatchBuilder::new(now);
        keyless.append(now, None, Some(b"v"), &[]);
        let keyless = keyless.finish_mut();
        let keyless_gzip = BytesMut::from(ferry_record::compress_batch(&keyless, 1));
        assert!(matches!(p.append(keyless), Err(Error::CorruptBatch { .. })));
        assert!(matches!(
            p.append(keyless_gzip),
            Err(Error::CorruptBatch { .. })
        ));
        let compressed_before: Vec<i64> = stored_batches(&p)
            .iter()
            .filter(|b| b.compression() != 0)
            .map(RecordBatch::base_offset)
            .collect();
        assert_eq!(compressed_before.len(), 20);
        let before = p.size_in_bytes();
        let segs = p.segment_count();
        assert!(segs > 4);
        assert!(p.compact(now).unwrap() > 0);
        assert!(p.size_in_bytes() < before);
        assert_eq!(p.segment_count(), segs);
        assert_eq!(p.log_end_offset(), 120);
        assert_eq!(p.log_start_offset(), 0);
        let got = read_records(&p, 0);
        check_compacted(&p, &model, &got);
        // Compressed batches were compacted too: some lost records (rewritten uncompressed,
        // same base offset) or went away; the active segment's stay compressed.
        let after = stored_batches(&p);
        let active_base = p.segments().last().unwrap().base_offset();
        let rewritten = after
            .iter()
            .filter(|b| b.compression() == 0 && compressed_before.contains(&b.base_offset()))
            .count();
        let compressed_after: Vec<i64> = after
            .iter()
            .filter(|b| b.compression() != 0)
            .map(RecordBatch::base_offset)
            .collect();
        assert!(rewritten > 0 || compressed_after.len() < compressed_before.len());
        // Below the active segment, only the latest record of each key (over the cleaned
        // segments) is left: compressed records replaced older values, compressed tombstones
        // deleted them.
        let mut latest_cleaned: std::collections::HashMap<&Option<Vec<u8>>, i64> =
            Default::default();
        for r in model.iter().filter(|r| r.0 < active_base) {
            latest_cleaned.insert(&r.1, r.0);
        }
        for r in got.iter().filter(|r| r.0 < active_base) {
            assert_eq!(latest_cleaned.get(&r.1), Some(&r.0), "stale record {}", r.0);
        }
        assert!(
            compressed_before
                .iter()
                .filter(|&&o| o >= active_base)
                .all(|o| compressed_after.contains(o))
        );
        // Reading from an offset that compaction removed starts at the next kept record.
        let r = read_records(&p, 1);
        assert!(r.first().is_some_and(|r| r.0 >= 1));
        // Compacting again changes nothing; a reopen (with rebuilt indexes) agrees.
        p.compact(now).unwrap();
        assert_eq!(read_records(&p, 0), got);
        drop(p);
        m.crash();
        let m = LogManager::open(config(dir.path(), 600)).unwrap();
        let p = m.partition("c", 0).unwrap();
        assert_eq!(read_records(&p, 0), got);
        assert_eq!(
            p.append(keyed_batch(&[(1, Some(1))], now))
                .unwrap()
                .base_offset,
            120
        );
        // Old tombstones (timestamp older than delete.retention.ms) are gone.
        assert!(
            got.iter()
                .filter(|r| r.2.is_none())
                .all(|r| r.0 >= 60 || r.0 >= p.segments().last().unwrap().base_offset())
        );
    }

    /// Compaction invariants against the full history `model`: every record read is the
    /// model's record at that offset; offsets increase; the latest record of each key is there
    /// (tombstones too, unless expired); the active segment is untouched.
    fn check_compacted(p: &PartitionLog, model: &[Rec], got: &[Rec]) {
        let start = p.log_start_offset();
        let by_offset: std::collections::HashMap<i64, &Rec> =
            model.iter().map(|r| (r.0, r)).collect();
        for w in got.windows(2) {
            assert!(w[0].0 < w[1].0);
        }
        for r in got {
            assert_eq!(by_offset.get(&r.0), Some(&r), "record at {}", r.0);
        }
        let mut latest: std::collections::HashMap<&Option<Vec<u8>>, &Rec> = Default::default();
        for r in model {
            latest.insert(&r.1, r);
        }
        let got_offsets: std::collections::HashSet<i64> = got.iter().map(|r| r.0).collect();
        for r in latest.values() {
            if r.0 >= start && r.2.is_some() {
                assert!(got_offsets.contains(&r.0), "latest record {} missing", r.0);
            }
        }
        let active_base = p.segments().last().unwrap().base_offset();
        for r in model.iter().filter(|r| r.0 >= active_base) {
            assert!(
                got_offsets.contains(&r.0),
                "active segment record {} missing",
                r.0
            );
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// Records, and the codec of the batch (0 none, 1–4 gzip, snappy, lz4, zstd).
        Append(Vec<(u8, Option<u16>)>, i16),
        Maintain,
        Reopen {
            clean: bool,
        },
        Read {
            offset: u16,
            max_bytes: u16,
        },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (
                proptest::collection::vec((0u8..6, proptest::option::weighted(0.9, any::<u16>())), 1..8),
                prop_oneof![3 => Just(0i16), 1 => 1i16..=4],
            )
                .prop_map(|(recs, codec)| Op::Append(recs, codec)),
            1 => Just(Op::Maintain),
            1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
            2 => (any::<u16>(), 1u16..3000).prop_map(|(offset, max_bytes)| Op::Read { offset, max_bytes }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

        /// Random appends, rolls (small segments), retention, compaction, clean and unclean
        /// reopens, checked against an in-memory model of every record ever appended.
        #[test]
        fn log_matches_model(ops in proptest::collection::vec(op(), 1..60), compact in proptest::prelude::any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let cfg = config(dir.path(), 700);
            let topic_cfg: BTreeMap<String, String> = if compact {
                [("cleanup.policy".into(), "compact".into())].into()
            } else {
                [("retention.bytes".into(), "2000".into()), ("retention.ms".into(), "-1".into())].into()
            };
            let mut m = LogManager::open(cfg.clone()).unwrap();
            m.create_topic("p", 1, topic_cfg).unwrap();
            let mut model: Vec<Rec> = Vec::new();
            let now = now_ms();
            for op in ops {
                let p = m.partition("p", 0).unwrap();
                match op {
                    Op::Append(recs, codec) => {
                        let batch = keyed_batch(&recs, now);
                        let batch = if codec == 0 {
                            batch
                        } else {
                            BytesMut::from(ferry_record::compress_batch(&batch, codec))
                        };
                        let info = p.append(batch).unwrap();
                        proptest::prop_assert_eq!(info.base_offset, model.len() as i64);
                        for (i, (k, v)) in recs.iter().enumerate() {
                            model.push((info.base_offset + i as i64, Some(vec![b'k', *k]), v.map(|v| v.to_be_bytes().to_vec())));
                        }
                    }
                    Op::Maintain => {
                        p.enforce_retention(now).unwrap();
                        p.compact(now).unwrap();
                    }
                    Op::Reopen { clean } => {
                        drop(p);
                        if clean { drop(m) } else { m.crash() }
                        m = LogManager::open(cfg.clone()).unwrap();
                    }
                    Op::Read { offset, max_bytes } => {
                        let offset = i64::from(offset) % (model.len() as i64 + 2);
                        match p.read(offset, usize::from(max_bytes)) {
                            Ok(r) => {
                                proptest::prop_assert_eq!(r.high_watermark, model.len() as i64);
                                if offset < model.len() as i64 {
                                    let first = batches(r.data).next().unwrap().unwrap();
                                    proptest::prop_assert!(first.last_offset() >= offset);
                                } else {
                                    proptest::prop_assert!(r.data.is_empty());
                                }
                            }
                            Err(Error::OffsetOutOfRange { .. }) => {
                                proptest::prop_assert!(offset < p.log_start_offset() || offset > model.len() as i64);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                let p = m.partition("p", 0).unwrap();
                proptest::prop_assert_eq!(p.log_end_offset(), model.len() as i64);
            }
            let p = m.partition("p", 0).unwrap();
            let start = p.log_start_offset();
            let got = read_records(&p, start);
            if compact {
                proptest::prop_assert_eq!(start, 0);
                check_compacted(&p, &model, &got);
            } else {
                let want: Vec<Rec> = model.iter().filter(|r| r.0 >= start).cloned().collect();
                proptest::prop_assert_eq!(got, want);
                // Retention keeps at least retention.bytes.
                let size = p.size_in_bytes();
                proptest::prop_assert!(size >= 2000 || start == 0);
            }
        }
    }

    #[test]
    fn background_thread_enforces_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path(), 1024);
        cfg.retention_check_interval = Duration::from_millis(20);
        let m = LogManager::open(cfg).unwrap();
        let cfgs: BTreeMap<String, String> = [("retention.ms".into(), "1000".into())].into();
        m.create_topic("t", 1, cfgs).unwrap();
        let p = m.partition("t", 0).unwrap();
        for i in 0..50 {
            p.append(batch_at(i * 2, 2, now_ms() - 10_000)).unwrap();
        }
        p.append(batch_at(100, 2, now_ms())).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while p.segment_count() > 1 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(p.segment_count(), 1);
        assert_eq!(p.log_start_offset(), p.segments()[0].base_offset());
        assert_eq!(p.log_end_offset(), 102);
    }

    #[tokio::test]
    async fn wait_for_wakes_on_append() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(LogManager::open(LogConfig::new(dir.path())).unwrap());
        m.create_topic("t", 1, BTreeMap::new()).unwrap();
        let p = m.partition("t", 0).unwrap();
        let t0 = std::time::Instant::now();
        assert_eq!(p.wait_for(0, Duration::from_millis(50)).await, 0);
        assert!(t0.elapsed() >= Duration::from_millis(50));
        let p2 = p.clone();
        let waiter = tokio::spawn(async move { p2.wait_for(0, Duration::from_secs(10)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        p.append(batch(0, 2)).unwrap();
        let leo = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leo, 2);
        // Already satisfied: returns at once.
        assert_eq!(p.wait_for(1, Duration::from_secs(10)).await, 2);
    }

    #[test]
    fn concurrent_readers_see_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(LogManager::open(config(dir.path(), 8192)).unwrap());
        m.create_topic("t", 1, BTreeMap::new()).unwrap();
        let p = m.partition("t", 0).unwrap();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let mut offset = 0;
                    while offset < 2000 {
                        let r = p.read(offset, 3000).unwrap();
                        for b in batches(r.data) {
                            let b = b.unwrap();
                            assert!(b.crc_valid());
                            assert!(b.last_offset() < r.high_watermark);
                            offset = b.next_offset();
                        }
                    }
                })
            })
            .collect();
        fill(&p, 2000);
        for r in readers {
            r.join().unwrap();
        }
    }
}
