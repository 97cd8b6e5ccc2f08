//! Log compaction (`cleanup.policy=compact`): keep the latest record per key.
//!
//! Works on whole non-active segments. Offsets never change: a batch that loses records is
//! re-encoded with its original base offset, offset deltas and lastOffsetDelta; a batch that
//! loses all of them is dropped; segments keep their base offset even when they become empty.
//!
//! Compressed batches (gzip, snappy, lz4, zstd) take part like any others: their records
//! enter the key map, and their tombstones and superseded records are removed. A compressed
//! batch that keeps all its records is copied as it is; one that loses some is rewritten
//! **uncompressed** (same base offset, offset deltas, lastOffsetDelta and record timestamps).
//! Kafka recompresses with the original codec; Ferry has no encoders (decoders only, to keep
//! the build small), so a compacted segment can grow back towards the uncompressed size of
//! its retained records. A compressed batch whose records cannot be decoded (corrupt data, a
//! codec id above 4) is kept whole with a `warn!`, as before decoding existed.
//! Control batches (transaction markers) are kept as they are.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::TopicConfig;
use crate::error::{IoContext, Result};
use crate::segment::{Segment, file_stem};
use ferry_record::{Record, RecordBatch, RecordBatchBuilder, batches, set_base_offset};

const READ_CHUNK: usize = 1 << 20;

/// Calls `f` with every batch of `seg`, in order.
fn for_each_batch(seg: &Segment, mut f: impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
    let mut offset = seg.base_offset();
    while let Some(data) = seg.read(offset, READ_CHUNK, i64::MAX)? {
        for batch in batches(data) {
            let batch = batch?;
            offset = batch.next_offset();
            f(batch)?;
        }
    }
    Ok(())
}

/// The records of a data batch, or `None` for a batch the cleaner leaves whole: control
/// batches, and compressed batches that fail to decode (`warn!`). A malformed uncompressed
/// batch is an error (as before compressed batches were decoded).
fn data_records(seg: &Segment, batch: &RecordBatch) -> Result<Option<Vec<Record>>> {
    if batch.is_control() {
        return Ok(None);
    }
    match batch.records().collect::<ferry_record::Result<Vec<_>>>() {
        Ok(records) => Ok(Some(records)),
        Err(e) if batch.compression() != 0 => {
            tracing::warn!(
                file = %seg.log_path().display(),
                base_offset = batch.base_offset(),
                error = %e,
                "compaction keeps a compressed batch it cannot decode as it is"
            );
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Latest offset of every key in `segments`.
pub(crate) fn key_map(segments: &[std::sync::Arc<Segment>]) -> Result<HashMap<Vec<u8>, i64>> {
    let mut map = HashMap::new();
    for seg in segments {
        for_each_batch(seg, |batch| {
            for r in data_records(seg, &batch)?.unwrap_or_default() {
                if let Some(k) = r.key {
                    map.insert(k.to_vec(), r.offset);
                }
            }
            Ok(())
        })?;
    }
    Ok(map)
}

/// Writes a compacted copy of `seg` to `<base>.log.cleaned` in `dir` and fsyncs it. `None` if
/// no record would be removed (nothing written).
pub(crate) fn clean_segment(
    seg: &Segment,
    dir: &Path,
    map: &HashMap<Vec<u8>, i64>,
    config: &TopicConfig,
    now_ms: i64,
) -> Result<Option<PathBuf>> {
    let tombstone_horizon = now_ms.saturating_sub(config.delete_retention_ms as i64);
    let mut out: Vec<u8> = Vec::new();
    let mut removed = 0usize;
    for_each_batch(seg, |batch| {
        let Some(records) = data_records(seg, &batch)? else {
            out.extend_from_slice(batch.as_bytes());
            return Ok(());
        };
        let base = batch.base_offset();
        let total = records.len();
        let kept: Vec<Record> = records
            .into_iter()
            .filter(|r| {
                let latest = r
                    .key
                    .as_ref()
                    .is_some_and(|k| map.get(k.as_ref()) == Some(&r.offset));
                let expired_tombstone = r.value.is_none() && r.timestamp < tombstone_horizon;
                latest && !expired_tombstone
            })
            .collect();
        removed += total - kept.len();
        if kept.len() == total {
            out.extend_from_slice(batch.as_bytes());
        } else if !kept.is_empty() {
            // Rewritten uncompressed, whatever the codec was (module doc).
            let mut b =
                RecordBatchBuilder::with_capacity(batch.base_timestamp(), batch.size_in_bytes());
            for r in &kept {
                b.append_raw(
                    (r.offset - base) as i32,
                    r.timestamp,
                    r.key.as_deref(),
                    r.value.as_deref(),
                    r.headers.len(),
                    r.headers.raw(),
                );
            }
            b.set_last_offset_delta(batch.last_offset_delta());
            let mut v = b.finish_mut();
            set_base_offset(&mut v, base);
            out.extend_from_slice(&v);
        }
        Ok(())
    })?;
    if removed == 0 {
        return Ok(None);
    }
    let path = dir.join(format!("{}.log.cleaned", file_stem(seg.base_offset())));
    let mut f = File::create(&path).at(&path)?;
    f.write_all(&out).at(&path)?;
    f.sync_all().at(&path)?;
    tracing::debug!(
        file = %seg.log_path().display(),
        removed,
        before = seg.size(),
        after = out.len(),
        "compacted log segment"
    );
    Ok(Some(path))
}
