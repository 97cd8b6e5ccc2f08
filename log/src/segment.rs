//! One segment: a `.log` file of whole v2 batches, its sparse `.index` and `.timeindex`.
//!
//! Writers append under the partition's writer lock; readers use `pread` up to the committed
//! size, which only grows after a complete write, so they never see a partial batch.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::{Bytes, BytesMut};

use crate::error::{IoContext, Result};
use ferry_record::layout::{
    BASE_OFFSET_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET, check_batch, get_i32,
    get_i64,
};
use ferry_record::{BATCH_HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2};

/// Size of one `.index` entry: relative offset u32 + position u32, big-endian (as Kafka).
const INDEX_ENTRY_SIZE: usize = 8;
/// Size of one `.timeindex` entry: timestamp i64 + relative offset u32, big-endian (as Kafka).
/// Here the timestamp is the largest timestamp of the batches *before* that offset, so a
/// lookup can start at the last entry below the target timestamp.
const TIME_INDEX_ENTRY_SIZE: usize = 12;
/// Kafka's `RecordBatch.NO_TIMESTAMP`.
pub(crate) const NO_TIMESTAMP: i64 = -1;

/// Read size when walking batch headers.
const SCAN_CHUNK: usize = 64 * 1024;
/// Read size when locating an offset (the index is at most `index.interval.bytes` behind).
const LOCATE_CHUNK: usize = 16 * 1024;

pub(crate) fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
pub(crate) fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// File name stem for a base offset: 20 digits, zero-padded, as Kafka.
pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// The fields of a batch header that the log needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchInfo {
    /// Byte position in the segment.
    pub(crate) position: u64,
    /// Total size in bytes.
    pub(crate) size: u64,
    pub(crate) base_offset: i64,
    pub(crate) last_offset: i64,
    pub(crate) max_timestamp: i64,
}

/// What the scan callback wants next.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// How a scan ended.
#[derive(Debug)]
pub(crate) struct ScanEnd {
    /// Position after the last good batch visited (where a stop or corruption happened).
    pub(crate) position: u64,
    /// Why the scan stopped early because of bad data, if it did.
    pub(crate) corrupt: Option<String>,
}

/// Walks the batches of `file` in `[start, end)`, calling `f` with each batch's header info.
/// With `verify`, each batch is read whole and its CRC checked. Framing errors, CRC errors and
/// errors returned by `f` end the scan with `corrupt` set; I/O errors are returned.
pub(crate) fn scan(
    file: &File,
    path: &Path,
    start: u64,
    end: u64,
    verify: bool,
    chunk: usize,
    mut f: impl FnMut(&BatchInfo) -> std::result::Result<Flow, String>,
) -> Result<ScanEnd> {
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_pos = start;
    let mut pos = start;
    let done = |pos, reason: Option<String>| {
        Ok(ScanEnd {
            position: pos,
            corrupt: reason,
        })
    };
    loop {
        if pos >= end {
            return done(pos, None);
        }
        let off = (pos - buf_pos) as usize;
        let avail = buf.len().saturating_sub(off);
        let reaches_end = buf_pos + buf.len() as u64 >= end;
        let need = if avail >= LOG_OVERHEAD {
            let len = get_i32(&buf[off..], 8);
            if len < (BATCH_HEADER_SIZE - LOG_OVERHEAD) as i32 {
                return done(pos, Some(format!("invalid batchLength {len}")));
            }
            LOG_OVERHEAD + len as usize
        } else {
            BATCH_HEADER_SIZE
        };
        let need_in_buf = if verify {
            need
        } else {
            need.min(BATCH_HEADER_SIZE)
        };
        if avail < need_in_buf && !reaches_end {
            let len = (chunk.max(need_in_buf) as u64).min(end - pos) as usize;
            buf.clear();
            buf.resize(len, 0);
            file.read_exact_at(&mut buf, pos).at(path)?;
            buf_pos = pos;
            continue;
        }
        if pos + need as u64 > end {
            return done(
                pos,
                Some(format!(
                    "truncated batch: needs {need} bytes, {} left in the file",
                    end - pos
                )),
            );
        }
        let h = &buf[off..];
        if h[16] as i8 != MAGIC_V2 {
            return done(pos, Some(format!("magic {}", h[16] as i8)));
        }
        if verify {
            if let Err(ferry_record::Error::CorruptBatch { reason, .. }) =
                check_batch(&h[..need], 0)
            {
                return done(pos, Some(reason));
            }
        } else if get_i32(h, LAST_OFFSET_DELTA_OFFSET) < 0 {
            return done(pos, Some("negative lastOffsetDelta".to_owned()));
        }
        let base_offset = get_i64(h, BASE_OFFSET_OFFSET);
        let info = BatchInfo {
            position: pos,
            size: need as u64,
            base_offset,
            last_offset: base_offset + i64::from(get_i32(h, LAST_OFFSET_DELTA_OFFSET)),
            max_timestamp: get_i64(h, MAX_TIMESTAMP_OFFSET),
        };
        match f(&info) {
            Ok(Flow::Continue) => pos += need as u64,
            Ok(Flow::Stop) => return done(pos, None),
            Err(reason) => return done(pos, Some(reason)),
        }
    }
}

/// In-memory copy of the sparse offset and time indexes; persisted lazily (on roll, flush
/// and close) and rebuilt from the log after a crash.
#[derive(Debug, Default)]
pub(crate) struct OffsetIndex {
    /// (offset - segment base, byte position, largest timestamp before this batch); offsets
    /// and positions strictly increasing, timestamps non-decreasing.
    entries: Vec<(u32, u32, i64)>,
    /// How many entries are in the file.
    persisted: usize,
}

impl OffsetIndex {
    /// Position to start scanning for `relative_offset`.
    fn lookup(&self, relative_offset: u32) -> u64 {
        let i = self.entries.partition_point(|e| e.0 <= relative_offset);
        if i == 0 {
            0
        } else {
            u64::from(self.entries[i - 1].1)
        }
    }

    /// Position to start scanning for the first batch with a timestamp >= `timestamp`.
    fn lookup_time(&self, timestamp: i64) -> u64 {
        let i = self.entries.partition_point(|e| e.2 < timestamp);
        if i == 0 {
            0
        } else {
            u64::from(self.entries[i - 1].1)
        }
    }

    pub(crate) fn last(&self) -> Option<(u32, u32, i64)> {
        self.entries.last().copied()
    }

    pub(crate) fn push(&mut self, relative_offset: u32, position: u32, max_ts_before: i64) {
        if let Some(&(o, p, t)) = self.entries.last()
            && (relative_offset <= o || position <= p || max_ts_before < t)
        {
            return;
        }
        self.entries
            .push((relative_offset, position, max_ts_before));
    }

    /// Parses the index files; `None` if they are inconsistent with each other or with a log
    /// of `log_size` bytes.
    fn parse(data: &[u8], time_data: &[u8], log_size: u64) -> Option<OffsetIndex> {
        if !data.len().is_multiple_of(INDEX_ENTRY_SIZE)
            || data.len() / INDEX_ENTRY_SIZE != time_data.len() / TIME_INDEX_ENTRY_SIZE
            || !time_data.len().is_multiple_of(TIME_INDEX_ENTRY_SIZE)
        {
            return None;
        }
        let mut entries = Vec::with_capacity(data.len() / INDEX_ENTRY_SIZE);
        for (e, t) in data
            .chunks_exact(INDEX_ENTRY_SIZE)
            .zip(time_data.chunks_exact(TIME_INDEX_ENTRY_SIZE))
        {
            let rel = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
            let pos = u32::from_be_bytes([e[4], e[5], e[6], e[7]]);
            let ts = get_i64(t, 0);
            let trel = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
            if u64::from(pos) >= log_size || trel != rel {
                return None;
            }
            if let Some(&(o, p, ts0)) = entries.last()
                && (rel <= o || pos <= p || ts < ts0)
            {
                return None;
            }
            entries.push((rel, pos, ts));
        }
        let persisted = entries.len();
        Some(OffsetIndex { entries, persisted })
    }
}

/// A segment of a partition log.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    index_path: PathBuf,
    timeindex_path: PathBuf,
    file: File,
    /// Bytes of complete batches; readers never look beyond.
    size: AtomicU64,
    index: RwLock<OffsetIndex>,
    /// Writes not yet fsynced.
    dirty: AtomicBool,
    /// Largest batch maxTimestamp in the segment (`NO_TIMESTAMP` when empty).
    max_timestamp: AtomicI64,
    /// Wall-clock ms of the first append since this process opened the segment, 0 if none
    /// (for `segment.ms`).
    first_append_ms: AtomicI64,
}

impl Segment {
    /// The first batch at or after byte `start` (below `size`) for which `matches` holds,
    /// and where the scan ended (with the damage found, if any). Shared by offset and
    /// timestamp lookups.
    fn find_batch(
        &self,
        start: u64,
        size: u64,
        matches: impl Fn(&BatchInfo) -> bool,
    ) -> Result<(Option<BatchInfo>, ScanEnd)> {
        let mut found: Option<BatchInfo> = None;
        let end = scan(
            &self.file,
            &self.log_path,
            start,
            size,
            false,
            LOCATE_CHUNK,
            |b| {
                if matches(b) {
                    found = Some(*b);
                    Ok(Flow::Stop)
                } else {
                    Ok(Flow::Continue)
                }
            },
        )?;
        Ok((found, end))
    }

    pub(crate) fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
        let stem = file_stem(base_offset);
        (
            dir.join(format!("{stem}.log")),
            dir.join(format!("{stem}.index")),
            dir.join(format!("{stem}.timeindex")),
        )
    }

    /// Creates an empty segment (truncating leftovers with the same name).
    pub(crate) fn create(dir: &Path, base_offset: i64) -> Result<Segment> {
        let (log_path, index_path, timeindex_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)
            .at(&log_path)?;
        File::create(&index_path).at(&index_path)?;
        File::create(&timeindex_path).at(&timeindex_path)?;
        Ok(Segment {
            base_offset,
            log_path,
            index_path,
            timeindex_path,
            file,
            size: AtomicU64::new(0),
            index: RwLock::new(OffsetIndex::default()),
            dirty: AtomicBool::new(false),
            max_timestamp: AtomicI64::new(NO_TIMESTAMP),
            first_append_ms: AtomicI64::new(0),
        })
    }

    /// Opens an existing segment with its index; a missing or inconsistent index is rebuilt
    /// by scanning batch headers. Does not verify CRCs (see [`Segment::recover_tail`]).
    pub(crate) fn open(dir: &Path, base_offset: i64, index_interval: u32) -> Result<Segment> {
        Self::open_inner(dir, base_offset, index_interval, true)
    }

    /// Opens a segment whose index files were removed on purpose (after compaction).
    pub(crate) fn open_reindex(
        dir: &Path,
        base_offset: i64,
        index_interval: u32,
    ) -> Result<Segment> {
        Self::open_inner(dir, base_offset, index_interval, false)
    }

    fn open_inner(
        dir: &Path,
        base_offset: i64,
        index_interval: u32,
        warn: bool,
    ) -> Result<Segment> {
        let (log_path, index_path, timeindex_path) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .at(&log_path)?;
        let size = file.metadata().at(&log_path)?.len();
        let read = |p: &Path| match std::fs::read(p) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).at(p),
        };
        let index = match (read(&index_path)?, read(&timeindex_path)?) {
            (Some(data), Some(time_data)) => OffsetIndex::parse(&data, &time_data, size),
            _ => None,
        };
        // Also for an empty segment: a crash right after a roll can leave the `.log` without
        // its index files, and a later flush must find them.
        let rebuild = index.is_none();
        let seg = Segment {
            base_offset,
            log_path,
            index_path,
            timeindex_path,
            file,
            size: AtomicU64::new(size),
            index: RwLock::new(index.unwrap_or_default()),
            dirty: AtomicBool::new(false),
            max_timestamp: AtomicI64::new(NO_TIMESTAMP),
            first_append_ms: AtomicI64::new(0),
        };
        if rebuild {
            if warn && size > 0 {
                tracing::warn!(
                    file = %seg.index_path.display(),
                    "offset or time index missing or corrupt, rebuilding it from the log"
                );
            }
            seg.rebuild_index(index_interval)?;
        } else {
            // The largest timestamp: from the last index entry, scan the tail headers.
            let (start, mut max_ts) = match read_lock(&seg.index).last() {
                Some((_, pos, ts)) => (u64::from(pos), ts),
                None => (0, NO_TIMESTAMP),
            };
            scan(
                &seg.file,
                &seg.log_path,
                start,
                size,
                false,
                SCAN_CHUNK,
                |b| {
                    max_ts = max_ts.max(b.max_timestamp);
                    Ok(Flow::Continue)
                },
            )?;
            seg.max_timestamp.store(max_ts, Ordering::Release);
        }
        Ok(seg)
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub(crate) fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Largest record timestamp in the segment (`NO_TIMESTAMP` when empty).
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp.load(Ordering::Acquire)
    }

    /// Wall-clock ms of the first append in this process, 0 if none.
    pub(crate) fn first_append_ms(&self) -> i64 {
        self.first_append_ms.load(Ordering::Acquire)
    }

    /// Rebuilds the in-memory index by scanning headers, and rewrites the index file.
    /// Stops (without truncating) at the first framing error.
    fn rebuild_index(&self, index_interval: u32) -> Result<()> {
        let mut index = OffsetIndex::default();
        let mut since = 0u64;
        let mut max_ts = NO_TIMESTAMP;
        let end = scan(
            &self.file,
            &self.log_path,
            0,
            self.size(),
            false,
            SCAN_CHUNK,
            |b| {
                if since > u64::from(index_interval) {
                    let rel = (b.base_offset - self.base_offset) as u32;
                    index.push(rel, b.position as u32, max_ts);
                    since = 0;
                }
                since += b.size;
                max_ts = max_ts.max(b.max_timestamp);
                Ok(Flow::Continue)
            },
        )?;
        if let Some(reason) = end.corrupt {
            tracing::warn!(
                file = %self.log_path.display(),
                position = end.position,
                %reason,
                "bad batch while rebuilding the index of a segment"
            );
        }
        *write_lock(&self.index) = index;
        self.max_timestamp.store(max_ts, Ordering::Release);
        self.rewrite_index_file()
    }

    fn encode_index(entries: &[(u32, u32, i64)]) -> (Vec<u8>, Vec<u8>) {
        let mut data = Vec::with_capacity(entries.len() * INDEX_ENTRY_SIZE);
        let mut time = Vec::with_capacity(entries.len() * TIME_INDEX_ENTRY_SIZE);
        for (o, p, t) in entries {
            data.extend_from_slice(&o.to_be_bytes());
            data.extend_from_slice(&p.to_be_bytes());
            time.extend_from_slice(&t.to_be_bytes());
            time.extend_from_slice(&o.to_be_bytes());
        }
        (data, time)
    }

    fn rewrite_index_file(&self) -> Result<()> {
        let mut index = write_lock(&self.index);
        let (data, time) = Self::encode_index(&index.entries);
        std::fs::write(&self.index_path, &data).at(&self.index_path)?;
        std::fs::write(&self.timeindex_path, &time).at(&self.timeindex_path)?;
        index.persisted = index.entries.len();
        Ok(())
    }

    /// Writes the index entries not yet in the index file.
    pub(crate) fn flush_index(&self) -> Result<()> {
        let mut index = write_lock(&self.index);
        if index.persisted == index.entries.len() {
            return Ok(());
        }
        let (data, time) = Self::encode_index(&index.entries[index.persisted..]);
        for (path, bytes, entry_size) in [
            (&self.index_path, &data, INDEX_ENTRY_SIZE),
            (&self.timeindex_path, &time, TIME_INDEX_ENTRY_SIZE),
        ] {
            let f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .at(path)?;
            f.write_all_at(bytes, (index.persisted * entry_size) as u64)
                .at(path)?;
        }
        index.persisted = index.entries.len();
        Ok(())
    }

    /// fsyncs the log if there were writes since the last sync. With `indexes`, also writes
    /// and fsyncs the index files; without, they stay as they are (they are rebuilt from the
    /// log after a crash, so the `flush.messages` / `flush.ms` path skips them).
    pub(crate) fn sync(&self, indexes: bool) -> Result<()> {
        if indexes {
            self.flush_index()?;
        }
        if self.dirty.swap(false, Ordering::AcqRel) {
            self.file.sync_data().at(&self.log_path)?;
        }
        if indexes {
            for p in [&self.index_path, &self.timeindex_path] {
                File::open(p).and_then(|f| f.sync_all()).at(p)?;
            }
        }
        Ok(())
    }

    /// Whether there are writes not yet fsynced.
    pub(crate) fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Verifies the batches from the last index entry to the end of the file (CRC included)
    /// and truncates the file at the first torn or corrupt batch. If the batch at the index
    /// entry itself is bad, the whole segment is rescanned. Returns the next offset after
    /// the last good batch (the base offset for an empty segment).
    pub(crate) fn recover_tail(&self, index_interval: u32) -> Result<i64> {
        let (mut start, mut next_offset, mut max_ts_start) = {
            let index = read_lock(&self.index);
            match index.last() {
                Some((rel, pos, ts)) => (u64::from(pos), self.base_offset + i64::from(rel), ts),
                None => (0, self.base_offset, NO_TIMESTAMP),
            }
        };
        loop {
            let size = self.size();
            let mut since = 0u64;
            let mut next = next_offset;
            let mut max_ts = max_ts_start;
            let mut new_entries = Vec::new();
            let end = scan(
                &self.file,
                &self.log_path,
                start,
                size,
                true,
                SCAN_CHUNK,
                |b| {
                    // The active segment is never compacted, so its offsets have no gaps:
                    // a base offset other than the next one is damage (the field is not
                    // covered by the CRC).
                    if b.base_offset != next {
                        return Err(format!(
                            "batch base offset {} is not the expected {next}",
                            b.base_offset
                        ));
                    }
                    if b.last_offset - self.base_offset > i64::from(u32::MAX) {
                        return Err(format!(
                            "offset {} too far from the segment base",
                            b.last_offset
                        ));
                    }
                    if since > u64::from(index_interval) && b.position > start {
                        let rel = (b.base_offset - self.base_offset) as u32;
                        new_entries.push((rel, b.position as u32, max_ts));
                        since = 0;
                    }
                    since += b.size;
                    max_ts = max_ts.max(b.max_timestamp);
                    next = b.last_offset + 1;
                    Ok(Flow::Continue)
                },
            )?;
            if end.corrupt.is_some() && end.position == start && start > 0 {
                // The indexed batch itself is bad: the index cannot be trusted. Full rescan.
                tracing::warn!(
                    file = %self.log_path.display(),
                    position = start,
                    "batch at the last index entry is bad, rescanning the whole segment"
                );
                *write_lock(&self.index) = OffsetIndex::default();
                start = 0;
                next_offset = self.base_offset;
                max_ts_start = NO_TIMESTAMP;
                continue;
            }
            {
                let mut index = write_lock(&self.index);
                for (o, p, t) in new_entries {
                    index.push(o, p, t);
                }
            }
            self.max_timestamp.store(max_ts, Ordering::Release);
            if let Some(reason) = end.corrupt {
                tracing::warn!(
                    file = %self.log_path.display(),
                    position = end.position,
                    file_size = size,
                    %reason,
                    "truncating log segment at a torn or corrupt batch"
                );
                self.truncate_to(end.position)?;
            }
            return Ok(next);
        }
    }

    /// Cuts the log at `position` (a batch boundary) and drops index entries beyond it.
    pub(crate) fn truncate_to(&self, position: u64) -> Result<()> {
        self.file.set_len(position).at(&self.log_path)?;
        self.size.store(position, Ordering::Release);
        {
            let mut index = write_lock(&self.index);
            let keep = index.entries.partition_point(|e| u64::from(e.1) < position);
            index.entries.truncate(keep);
        }
        self.rewrite_index_file()
    }

    /// Appends whole, validated batches at the end (one `pwrite`). `index_entries` are
    /// (absolute offset, position, largest timestamp before) for the new batches that get an
    /// index entry; `max_timestamp` is the largest timestamp of the new batches. The new
    /// bytes become visible to readers when this returns.
    pub(crate) fn append(
        &self,
        data: &[u8],
        index_entries: &[(i64, u64, i64)],
        max_timestamp: i64,
    ) -> Result<()> {
        let pos = self.size();
        if let Err(e) = self.file.write_all_at(data, pos) {
            // Best effort: drop a partial write so that the file holds whole batches only.
            let _ = self.file.set_len(pos);
            return Err(e).at(&self.log_path);
        }
        self.dirty.store(true, Ordering::Release);
        if !index_entries.is_empty() {
            let mut index = write_lock(&self.index);
            for &(offset, position, ts) in index_entries {
                index.push((offset - self.base_offset) as u32, position as u32, ts);
            }
        }
        self.max_timestamp
            .fetch_max(max_timestamp, Ordering::AcqRel);
        if pos == 0 || self.first_append_ms() == 0 {
            self.first_append_ms
                .store(ferry_record::now_ms(), Ordering::Release);
        }
        self.size.store(pos + data.len() as u64, Ordering::Release);
        Ok(())
    }

    /// [`Segment::read_into`] a new buffer; `None` if the segment has no such batch.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        high_watermark: i64,
    ) -> Result<Option<Bytes>> {
        let mut buf = Vec::new();
        let found = self.read_into(offset, max_bytes, high_watermark, &mut buf)?;
        Ok(found.then(|| Bytes::from(buf)))
    }

    /// Reads whole batches starting with the one that contains `offset` (or the first one
    /// after it), up to `max_bytes` but at least one batch, not including batches at or
    /// beyond `high_watermark`, into `buf` (which then holds exactly them; its allocation and
    /// initialised bytes are reused, so a reused buffer is not zeroed again). `false` (and
    /// `buf` untouched) if the segment has no such batch.
    pub(crate) fn read_into(
        &self,
        offset: i64,
        max_bytes: usize,
        high_watermark: i64,
        buf: &mut Vec<u8>,
    ) -> Result<bool> {
        let size = self.size();
        let rel = (offset - self.base_offset).clamp(0, i64::from(u32::MAX)) as u32;
        let start = read_lock(&self.index).lookup(rel);
        let (first, end) = self.find_batch(start, size, |b| b.last_offset >= offset)?;
        if let Some(reason) = end.corrupt {
            // Only older segments can get here (the tail is verified on open): report it.
            tracing::warn!(
                file = %self.log_path.display(),
                position = end.position,
                %reason,
                "corrupt batch while reading; skipping the rest of the segment"
            );
        }
        let Some(first) = first else {
            return Ok(false);
        };
        if first.base_offset >= high_watermark {
            return Ok(false);
        }
        let len = (max_bytes as u64)
            .max(first.size)
            .min(size - first.position) as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        self.file
            .read_exact_at(&mut buf[..len], first.position)
            .at(&self.log_path)?;
        // Keep whole batches below the high watermark; the first one always fits.
        let mut end = first.size as usize;
        while end + LOG_OVERHEAD <= len {
            let batch_len = get_i32(&buf[end..], 8);
            let next_end = end + LOG_OVERHEAD + batch_len.max(0) as usize;
            if batch_len <= 0
                || next_end > len
                || get_i64(&buf[end..], BASE_OFFSET_OFFSET) >= high_watermark
            {
                break;
            }
            end = next_end;
        }
        buf.truncate(end);
        Ok(true)
    }

    /// The first record with timestamp >= `timestamp`: (its offset, its timestamp), or `None`
    /// if every record of the segment is older. Compressed batches are decompressed to find
    /// the record; one that cannot be decoded answers its base offset.
    pub(crate) fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        if self.max_timestamp() < timestamp {
            return Ok(None);
        }
        let size = self.size();
        let start = read_lock(&self.index).lookup_time(timestamp);
        let (found, _) = self.find_batch(start, size, |b| b.max_timestamp >= timestamp)?;
        let Some(b) = found else { return Ok(None) };
        let mut buf = BytesMut::zeroed(b.size as usize);
        self.file
            .read_exact_at(&mut buf, b.position)
            .at(&self.log_path)?;
        let batch = ferry_record::RecordBatch::parse(buf.freeze())?;
        for r in batch.records() {
            match r {
                Ok(r) if r.timestamp >= timestamp => return Ok(Some((r.offset, r.timestamp))),
                Ok(_) => {}
                Err(e) if batch.compression() == 0 => return Err(e.into()),
                Err(_) => break,
            }
        }
        Ok(Some((b.base_offset, b.max_timestamp)))
    }

    /// Removes the index files (before the log file is replaced by a compacted one).
    pub(crate) fn delete_index_files(&self) -> Result<()> {
        for p in [&self.index_path, &self.timeindex_path] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(p),
            }
        }
        Ok(())
    }

    /// Deletes the files (the open handle keeps working for readers that hold it).
    pub(crate) fn delete_files(&self) -> Result<()> {
        for p in [&self.log_path, &self.index_path, &self.timeindex_path] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(p),
            }
        }
        Ok(())
    }
}
