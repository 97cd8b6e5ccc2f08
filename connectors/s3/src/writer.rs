//! One Kafka partition's open files, and when they are committed (Confluent's
//! `TopicPartitionWriter`).
//!
//! Records go to one open file per encoded partition. All open files of the Kafka partition
//! are committed (uploaded, whole) together when:
//! - `flush.size` records were written since the last commit (after the record that reaches
//!   it);
//! - with `rotate.interval.ms` and a time-based partitioner: a record's timestamp is that far
//!   past the first timestamp since the last commit, or (with
//!   `rotate.file.on.partition.change`) it goes to another encoded partition than the
//!   record before it — the record then goes into the next files;
//! - the record's schema cannot go into its file (`schema.compatibility`);
//! - `rotate.schedule.interval.ms` passed on the wall clock (also without new records).
//!
//! Only then does the offset after the last record become committable. Files are named by
//! their first offset, and every decision above depends on the records alone (unless the
//! wall clock is used), so after a crash the records replayed from the committed offset
//! produce the same objects with the same contents: exactly once.

use std::collections::{HashMap, VecDeque};

use ferry_api::{Schema, SinkRecord, TopicPartition};

use crate::config::S3SinkConfig;
use crate::format::{self, FormatError, Output, RecordWriter};
use crate::partitioner::PartitionError;
use crate::schema::{self, Decision};
use crate::slots::{Slot, UploadSlots};
use crate::storage::{Storage, StorageError};

/// Parts of one file uploading at once (each also holds one of the task's upload slots), so
/// that one partition's file can use slots other partitions leave free.
const PARTS_IN_FLIGHT_PER_FILE: usize = 2;

type PartUpload = tokio::task::JoinHandle<Result<aws_sdk_s3::types::CompletedPart, StorageError>>;

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The record cannot be placed or encoded (bad data): it goes to the errant record
    /// reporter (the dead letter queue with `errors.tolerance=all`), or fails the task.
    #[error(transparent)]
    Partition(#[from] PartitionError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("{0}")]
    Schema(String),
    /// A tombstone with `behavior.on.null.values=fail`: fails the task, as Confluent's
    /// `ConnectException` does (never dead-lettered).
    #[error("{0}")]
    NullValue(String),
    /// Ending a file failed (not the fault of one record).
    #[error("{0}")]
    Finish(FormatError),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl WriteError {
    /// Whether the record itself is at fault, so that reporting it and going on is sound:
    /// nothing of it was written.
    pub(crate) fn is_record_error(&self) -> bool {
        matches!(
            self,
            WriteError::Partition(_) | WriteError::Format(_) | WriteError::Schema(_)
        )
    }
}

struct OpenFile {
    key: String,
    schema: Option<Schema>,
    writer: Box<dyn RecordWriter>,
    out: Output,
    upload: Option<MultipartState>,
    start_offset: i64,
    end_offset: i64,
    records: u64,
}

/// A multipart upload under way. Full parts are uploaded in the background (up to
/// [`PARTS_IN_FLIGHT_PER_FILE`] at once, each in an upload slot) while the next one fills, so
/// encoding and uploading overlap.
struct MultipartState {
    id: String,
    parts: Vec<aws_sdk_s3::types::CompletedPart>,
    /// Parts being uploaded, oldest (lowest number) first.
    in_flight: VecDeque<PartUpload>,
    next_number: i32,
}

impl MultipartState {
    /// Waits for the oldest part in flight, if any.
    async fn settle_oldest(&mut self) -> Result<(), StorageError> {
        if let Some(handle) = self.in_flight.pop_front() {
            let part = handle.await.map_err(|e| StorageError {
                transient: true,
                message: format!("part upload task ended: {e}"),
            })??;
            self.parts.push(part);
        }
        Ok(())
    }

    /// Waits for every part in flight.
    async fn settle(&mut self) -> Result<(), StorageError> {
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Abandons the upload: the parts in flight are cancelled (their slots free), the
    /// upload aborted.
    async fn abandon(mut self, storage: &Storage, key: &str) {
        for handle in self.in_flight.drain(..) {
            handle.abort();
        }
        storage.abort_upload(key, &self.id).await;
    }
}

/// A commit whose files are being finished (last part, completion, tags) in the
/// background while the next records are encoded.
struct PendingCommit {
    task: tokio::task::JoinHandle<Result<(), WriteError>>,
    /// The first record of the commit: where to rewind if it fails.
    start: i64,
    /// The offset that becomes committable once it succeeded.
    next_offset: i64,
}

/// The writer of one Kafka partition.
pub(crate) struct PartitionWriter {
    tp: TopicPartition,
    /// Open files by encoded partition, and the order they were opened in.
    files: HashMap<String, OpenFile>,
    order: Vec<String>,
    /// Records written since the last commit.
    record_count: u64,
    /// Offset of the first record since the last commit: where to rewind after a failure.
    batch_start: Option<i64>,
    base_timestamp: Option<i64>,
    current_encoded: Option<String>,
    last_offset: Option<i64>,
    offset_to_commit: Option<i64>,
    next_scheduled_rotation: Option<i64>,
    /// After a failed upload: records are ignored until the partition is replayed from here.
    replay_from: Option<i64>,
    /// At most one commit finishing in the background, so that memory stays bounded.
    pending: Option<PendingCommit>,
    /// The first record of a background commit that failed: where to rewind.
    failed_start: Option<i64>,
}

impl std::fmt::Debug for PartitionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionWriter")
            .field("tp", &self.tp)
            .field("open_files", &self.order)
            .field("record_count", &self.record_count)
            .finish_non_exhaustive()
    }
}

impl PartitionWriter {
    pub(crate) fn new(tp: TopicPartition, config: &S3SinkConfig, now_ms: i64) -> Self {
        let mut w = PartitionWriter {
            tp,
            files: HashMap::new(),
            order: Vec::new(),
            record_count: 0,
            batch_start: None,
            base_timestamp: None,
            current_encoded: None,
            last_offset: None,
            offset_to_commit: None,
            next_scheduled_rotation: None,
            replay_from: None,
            pending: None,
            failed_start: None,
        };
        w.schedule_rotation(config, now_ms);
        w
    }

    fn schedule_rotation(&mut self, config: &S3SinkConfig, now_ms: i64) {
        let Some(period) = config.rotate_schedule_interval_ms else {
            return;
        };
        self.next_scheduled_rotation = Some(next_time_adjusted_by_day(
            now_ms,
            period,
            &config.schedule_zone,
        ));
    }

    /// The offset to commit, if files were committed since the last call.
    pub(crate) fn take_offset_to_commit(&mut self) -> Option<i64> {
        self.offset_to_commit.take()
    }

    /// Passes over a record that is not written (an ignored tombstone, a record handed to
    /// the errant record reporter): its offset commits with the files open now, or at once
    /// when none are. Replaying from any committed offset skips it again, so the objects
    /// stay the same.
    pub(crate) fn skip(&mut self, offset: i64) {
        self.last_offset = Some(offset);
        if self.record_count == 0 {
            match &mut self.pending {
                Some(pending) => pending.next_offset = offset + 1,
                None => self.offset_to_commit = Some(offset + 1),
            }
        }
    }

    /// Where to rewind after a failure: the first record not yet in a complete object.
    pub(crate) fn rewind_point(&self) -> Option<i64> {
        self.failed_start
            .or(self.pending.as_ref().map(|p| p.start))
            .or(self.batch_start)
    }

    /// Takes the result of the background commit if it has ended, without waiting.
    pub(crate) async fn poll_pending(&mut self) -> Result<(), WriteError> {
        if self.pending.as_ref().is_some_and(|p| p.task.is_finished()) {
            self.settle_pending().await?;
        }
        Ok(())
    }

    /// Waits for the background commit, if any; its offset then becomes committable.
    async fn settle_pending(&mut self) -> Result<(), WriteError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let result = match pending.task.await {
            Ok(result) => result,
            Err(e) => Err(StorageError {
                transient: true,
                message: format!("committing files of {}: the task ended: {e}", self.tp),
            }
            .into()),
        };
        match result {
            Ok(()) => {
                self.offset_to_commit = Some(pending.next_offset);
                tracing::info!(partition = %self.tp, next_offset = pending.next_offset, "files committed");
                Ok(())
            }
            Err(e) => {
                self.failed_start = Some(pending.start);
                Err(e)
            }
        }
    }

    /// Writes one record (committing files first or after it when a rule says so).
    pub(crate) async fn write(
        &mut self,
        record: &SinkRecord,
        config: &S3SinkConfig,
        storage: &Storage,
        slots: &UploadSlots,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        if let Some(from) = self.replay_from {
            if record.kafka_offset != from {
                return Ok(());
            }
            self.replay_from = None;
        }
        if record.value.is_null() && config.ignore_null_values {
            self.skip(record.kafka_offset);
            return Ok(());
        }
        if record.value.is_null() {
            return Err(WriteError::NullValue(format!(
                "Null valued records are not writeable with current behavior.on.null.values 'settings: the record at offset {} of {} has a null value (set behavior.on.null.values=ignore to skip tombstones)",
                record.kafka_offset, self.tp
            )));
        }
        let timestamps = config.partitioner.timestamps();
        let timestamp = match timestamps {
            Some(t) => Some(t.source().extract(record, now_ms)?),
            None => None,
        };
        let encoded = config.partitioner.encode(record, now_ms)?;
        loop {
            if self.base_timestamp.is_none() {
                self.base_timestamp = timestamp;
            }
            if self.rotate_on_time(config, &encoded, timestamp, now_ms) {
                tracing::info!(partition = %self.tp, encoded = %encoded, "rotating files on time");
                self.commit(config, storage, slots, now_ms).await?;
                continue;
            }
            let file_schema = self.files.get(&encoded).map(|f| f.schema.as_ref());
            let projected;
            let record = match file_schema {
                None => record,
                Some(file_schema) => {
                    let decision = config
                        .compatibility
                        .decide(record.value_schema.as_ref(), file_schema)
                        .map_err(|e| {
                            WriteError::Schema(format!(
                                "the record at offset {} of {}: {e}",
                                record.kafka_offset, self.tp
                            ))
                        })?;
                    match (decision, file_schema, record.value_schema.as_ref()) {
                        (Decision::Rotate, _, _) if self.record_count > 0 => {
                            tracing::info!(partition = %self.tp, encoded = %encoded, "rotating files on a schema change");
                            self.commit(config, storage, slots, now_ms).await?;
                            continue;
                        }
                        (Decision::Keep, Some(fs), Some(rs)) if fs != rs => {
                            let value = schema::project(rs, &record.value, fs).map_err(|e| {
                                WriteError::Schema(format!(
                                    "the record at offset {} of {} cannot be projected onto the file's schema: {e}",
                                    record.kafka_offset, self.tp
                                ))
                            })?;
                            projected = SinkRecord {
                                value_schema: Some(fs.clone()),
                                value,
                                ..record.clone()
                            };
                            &projected
                        }
                        _ => record,
                    }
                }
            };
            self.append(record, &encoded, config, storage, slots)
                .await?;
            break;
        }
        if self.record_count >= config.flush_size {
            self.commit(config, storage, slots, now_ms).await?;
        }
        Ok(())
    }

    fn rotate_on_time(
        &self,
        config: &S3SinkConfig,
        encoded: &str,
        timestamp: Option<i64>,
        now_ms: i64,
    ) -> bool {
        if self.record_count == 0 {
            return false;
        }
        let periodic = match (config.rotate_interval_ms, config.partitioner.timestamps()) {
            (Some(interval), Some(_)) => {
                let elapsed = matches!((self.base_timestamp, timestamp), (Some(base), Some(ts)) if ts - base >= interval);
                elapsed
                    || (config.rotate_on_partition_change
                        && self
                            .current_encoded
                            .as_deref()
                            .is_some_and(|c| c != encoded))
            }
            _ => false,
        };
        periodic || self.next_scheduled_rotation.is_some_and(|at| now_ms >= at)
    }

    async fn append(
        &mut self,
        record: &SinkRecord,
        encoded: &str,
        config: &S3SinkConfig,
        storage: &Storage,
        slots: &UploadSlots,
    ) -> Result<(), WriteError> {
        if !self.files.contains_key(encoded) {
            let key = self.object_key(config, encoded, record.kafka_offset);
            let schema = record.value_schema.clone();
            if config.format.needs_schema() && schema.is_none() {
                return Err(FormatError(format!(
                    "the record at offset {} of {} has no value schema; {:?} needs one (e.g. JsonConverter with schemas.enable=true)",
                    record.kafka_offset, self.tp, config.format
                ))
                .into());
            }
            let (writer, out) = format::new_writer(config, &key, schema.as_ref()).map_err(|e| {
                FormatError(format!(
                    "the record at offset {} of {}: {e}",
                    record.kafka_offset, self.tp
                ))
            })?;
            tracing::debug!(partition = %self.tp, key = %key, "opening file");
            self.files.insert(
                encoded.to_string(),
                OpenFile {
                    key,
                    schema,
                    writer,
                    out,
                    upload: None,
                    start_offset: record.kafka_offset,
                    end_offset: record.kafka_offset,
                    records: 0,
                },
            );
            self.order.push(encoded.to_string());
        }
        let Some(file) = self.files.get_mut(encoded) else {
            return Ok(());
        };
        if let Err(e) = file.writer.write(record, &mut file.out) {
            // A file is named by its first record: one that failed does not name it.
            if file.records == 0 {
                self.files.remove(encoded);
                self.order.retain(|o| o != encoded);
            }
            return Err(e.into());
        }
        file.end_offset = record.kafka_offset;
        file.records += 1;
        self.record_count += 1;
        self.batch_start.get_or_insert(record.kafka_offset);
        self.current_encoded = Some(encoded.to_string());
        self.last_offset = Some(record.kafka_offset);
        let part_size = config.storage.part_size;
        while file.out.buffered() >= part_size {
            // Waits here while the task's uploads fill every slot: the store's pace bounds
            // what is buffered, not the records'.
            let slot = slots.take().await;
            let part = file.out.take(part_size);
            upload_part(storage, file, part, slot).await?;
        }
        Ok(())
    }

    fn object_key(&self, config: &S3SinkConfig, encoded: &str, offset: i64) -> String {
        let d = &config.directory_delim;
        let name = format!(
            "{topic}{f}{partition}{f}{offset:0width$}{ext}",
            topic = self.tp.topic,
            f = config.file_delim,
            partition = self.tp.partition,
            width = config.zero_pad_width,
            ext = config.format.extension(config),
        );
        let dir = format!("{}{d}{encoded}", self.tp.topic);
        if config.topics_dir.trim().is_empty() {
            format!("{dir}{d}{name}")
        } else {
            format!("{}{d}{dir}{d}{name}", config.topics_dir)
        }
    }

    /// Commits on the wall clock (`rotate.schedule.interval.ms`), also without new records.
    pub(crate) async fn tick(
        &mut self,
        config: &S3SinkConfig,
        storage: &Storage,
        slots: &UploadSlots,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        if self.replay_from.is_some() {
            return Ok(());
        }
        if self.record_count == 0 {
            if self.next_scheduled_rotation.is_some_and(|at| now_ms >= at) {
                self.schedule_rotation(config, now_ms);
            }
            return Ok(());
        }
        if self.next_scheduled_rotation.is_some_and(|at| now_ms >= at) {
            tracing::info!(partition = %self.tp, "rotating files on schedule");
            self.commit(config, storage, slots, now_ms).await?;
        }
        Ok(())
    }

    /// Commits every open file: their last parts, completions and tags go on in the
    /// background (after the previous commit of this partition has ended, each file in an
    /// upload slot); the offset after the last record becomes committable once all of them
    /// are complete in S3.
    async fn commit(
        &mut self,
        config: &S3SinkConfig,
        storage: &Storage,
        slots: &UploadSlots,
        now_ms: i64,
    ) -> Result<(), WriteError> {
        self.settle_pending().await?;
        let order = std::mem::take(&mut self.order);
        let (start, last, records) = (self.batch_start, self.last_offset, self.record_count);
        self.record_count = 0;
        self.batch_start = None;
        self.base_timestamp = None;
        self.schedule_rotation(config, now_ms);
        let Some(last) = last else {
            self.files.clear();
            return Ok(());
        };
        tracing::debug!(partition = %self.tp, files = order.len(), records, next_offset = last + 1, "committing files");
        // Each file is finished in the background as soon as it has a slot, so a commit of
        // more files than slots waits for its own first files, never for itself.
        let mut handles = Vec::with_capacity(order.len());
        for encoded in &order {
            if let Some(file) = self.files.remove(encoded) {
                let slot = slots.take().await;
                handles.push(tokio::spawn(finish_file(
                    file,
                    slot,
                    storage.clone(),
                    config.tagging.clone(),
                )));
            }
        }
        self.files.clear();
        let tp = self.tp.clone();
        let task = tokio::spawn(async move {
            let mut outcome = Ok(());
            for handle in handles {
                let result = handle.await.unwrap_or_else(|e| {
                    Err(StorageError {
                        transient: true,
                        message: format!("committing a file of {tp}: the task ended: {e}"),
                    }
                    .into())
                });
                if outcome.is_ok() {
                    outcome = result;
                }
            }
            outcome
        });
        self.pending = Some(PendingCommit {
            task,
            start: start.unwrap_or(last),
            next_offset: last + 1,
        });
        Ok(())
    }

    /// Drops every open file (aborting started uploads); after a failure, also ignores
    /// records until the partition is replayed from the last commit.
    pub(crate) async fn abort(&mut self, storage: &Storage, replay: bool) {
        let rewind = self.rewind_point();
        // A background commit cleans up after itself when it fails; one that succeeds wrote
        // objects that the replay writes again, identical.
        if let Some(pending) = self.pending.take()
            && let Ok(Ok(())) = pending.task.await
            && !replay
        {
            self.offset_to_commit = Some(pending.next_offset);
        }
        self.failed_start = None;
        for encoded in std::mem::take(&mut self.order) {
            if let Some(mut file) = self.files.remove(&encoded)
                && let Some(state) = file.upload.take()
            {
                state.abandon(storage, &file.key).await;
            }
        }
        self.files.clear();
        self.record_count = 0;
        self.batch_start = None;
        self.base_timestamp = None;
        self.current_encoded = None;
        if replay {
            self.replay_from = rewind;
        }
    }
}

/// Uploads the next part of `file` in the background, in `slot` (freed when the upload
/// ends), after waiting for the file's oldest part if it has too many in flight.
async fn upload_part(
    storage: &Storage,
    file: &mut OpenFile,
    part: Vec<u8>,
    slot: Slot,
) -> Result<(), StorageError> {
    if file.upload.is_none() {
        let id = storage.create_upload(&file.key).await?;
        file.upload = Some(MultipartState {
            id,
            parts: Vec::new(),
            in_flight: VecDeque::new(),
            next_number: 1,
        });
    }
    let Some(state) = file.upload.as_mut() else {
        return Ok(());
    };
    while state.in_flight.len() >= PARTS_IN_FLIGHT_PER_FILE {
        state.settle_oldest().await?;
    }
    let number = state.next_number;
    state.next_number += 1;
    let (storage, key, id) = (storage.clone(), file.key.clone(), state.id.clone());
    state.in_flight.push_back(tokio::spawn(async move {
        let _slot = slot;
        storage.upload_part(&key, &id, number, part.into()).await
    }));
    Ok(())
}

/// Finishes and completes a committed file in `slot`; on failure its upload is aborted.
async fn finish_file(
    file: OpenFile,
    slot: Slot,
    storage: Storage,
    tagging: Option<crate::config::Tagging>,
) -> Result<(), WriteError> {
    // Encoding what the format kept (Parquet's last row group) is CPU work: off the
    // runtime's threads, which run the task's `put`.
    let finished = tokio::task::spawn_blocking(move || {
        let mut file = file;
        let result = format::finish(file.writer.as_mut(), &mut file.out);
        (file, result)
    })
    .await;
    let (mut file, finished) = finished.map_err(|e| StorageError {
        transient: false,
        message: format!("finishing a file: the encoding task ended: {e}"),
    })?;
    let result = match finished {
        Ok(()) => commit_file(&mut file, slot, tagging.as_ref(), &storage).await,
        Err(e) => Err(WriteError::Finish(e)),
    };
    match &result {
        Ok(()) => tracing::debug!(key = %file.key, records = file.records, "file committed"),
        Err(_) => {
            if let Some(state) = file.upload.take() {
                state.abandon(&storage, &file.key).await;
            }
        }
    }
    result
}

/// Completes a finished `file` in `slot`: its last bytes, its completion and tags.
async fn commit_file(
    file: &mut OpenFile,
    slot: Slot,
    tagging: Option<&crate::config::Tagging>,
    storage: &Storage,
) -> Result<(), WriteError> {
    let rest = file.out.take(usize::MAX);
    match file.upload.take() {
        None => {
            storage.put_object(&file.key, rest.into()).await?;
            drop(slot);
        }
        Some(state) => {
            file.upload = Some(state);
            if rest.is_empty() {
                drop(slot);
            } else {
                upload_part(storage, file, rest, slot).await?;
            }
            if let Some(mut state) = file.upload.take() {
                let done = match state.settle().await {
                    Ok(()) => {
                        storage
                            .complete_upload(&file.key, &state.id, state.parts.clone())
                            .await
                    }
                    Err(e) => Err(e),
                };
                if let Err(e) = done {
                    file.upload = Some(state);
                    return Err(e.into());
                }
            }
        }
    }
    if let Some(tagging) = tagging {
        let mut tags = vec![
            ("startOffset".to_string(), file.start_offset.to_string()),
            ("endOffset".to_string(), file.end_offset.to_string()),
            ("recordCount".to_string(), file.records.to_string()),
        ];
        tags.extend(tagging.extra.iter().cloned());
        if let Err(e) = storage.tag(&file.key, &tags).await {
            if tagging.fail_on_error {
                return Err(e.into());
            }
            tracing::warn!(key = %file.key, error = %e, "object not tagged");
        }
    }
    Ok(())
}

/// Confluent's `DateTimeUtils.getNextTimeAdjustedByDay`: the next multiple of `period` after
/// `now` counted from the start of the day in `zone`, but no later than the next midnight.
fn next_time_adjusted_by_day(now_ms: i64, period: i64, zone: &jiff::tz::TimeZone) -> i64 {
    let Ok(ts) = jiff::Timestamp::from_millisecond(now_ms) else {
        return now_ms + period;
    };
    let zoned = ts.to_zoned_datetime(zone.clone());
    let (Ok(start), Ok(tomorrow)) = (
        zoned.start_of_day(),
        zoned.tomorrow().and_then(|t| t.start_of_day()),
    ) else {
        return now_ms + period;
    };
    let start_ms = start.timestamp().as_millisecond();
    let day_ms = tomorrow.timestamp().as_millisecond() - start_ms;
    let next = ((now_ms - start_ms) / period + 1) * period;
    start_ms + next.min(day_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_rotation_is_aligned_to_the_day() {
        let utc = jiff::tz::TimeZone::UTC;
        // 2024-01-07T05:04:03Z, hourly → 06:00.
        let now = 1_704_603_843_000;
        assert_eq!(
            next_time_adjusted_by_day(now, 3_600_000, &utc),
            1_704_607_200_000
        );
        // A 5-hour period at 22:00 ends at midnight, not at 01:00.
        let late = 1_704_664_800_000; // 2024-01-07T22:00:00Z
        assert_eq!(
            next_time_adjusted_by_day(late, 5 * 3_600_000, &utc),
            1_704_672_000_000
        );
    }

    fn config(pairs: &[(&str, &str)]) -> S3SinkConfig {
        let base = [
            ("s3.bucket.name", "b"),
            ("flush.size", "3"),
            (
                "format.class",
                "io.confluent.connect.s3.format.json.JsonFormat",
            ),
        ];
        let map: ferry_api::ConfigMap = base
            .iter()
            .chain(pairs)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        S3SinkConfig::parse(&map).unwrap()
    }

    /// Object keys as Confluent's S3 sink names them:
    /// `<topics.dir>/<topic>/<encoded partition>/<topic>+<kafka partition>+<first offset, zero
    /// padded to 10>.<extension>`, the extension saying the format and its compression.
    #[test]
    fn object_keys_are_confluents() {
        let key = |pairs: &[(&str, &str)], partition: i32, offset: i64| {
            let c = config(pairs);
            let w = PartitionWriter::new(TopicPartition::new("orders", partition), &c, 0);
            w.object_key(&c, &format!("partition={partition}"), offset)
        };
        assert_eq!(
            key(&[], 0, 0),
            "topics/orders/partition=0/orders+0+0000000000.json"
        );
        assert_eq!(
            key(&[], 3, 12345),
            "topics/orders/partition=3/orders+3+0000012345.json"
        );
        let ends = |pairs: &[(&str, &str)]| {
            let k = key(pairs, 0, 0);
            k.strip_prefix("topics/orders/partition=0/orders+0+0000000000")
                .unwrap()
                .to_string()
        };
        let avro = "io.confluent.connect.s3.format.avro.AvroFormat";
        let parquet = "io.confluent.connect.s3.format.parquet.ParquetFormat";
        let bytes = "io.confluent.connect.s3.format.bytearray.ByteArrayFormat";
        assert_eq!(ends(&[("s3.compression.type", "gzip")]), ".json.gz");
        assert_eq!(ends(&[("format.class", avro)]), ".avro");
        assert_eq!(ends(&[("format.class", parquet)]), ".snappy.parquet");
        assert_eq!(
            ends(&[("format.class", parquet), ("parquet.codec", "gzip")]),
            ".gz.parquet"
        );
        assert_eq!(
            ends(&[("format.class", parquet), ("parquet.codec", "zstd")]),
            ".zstd.parquet"
        );
        assert_eq!(
            ends(&[("format.class", parquet), ("parquet.codec", "none")]),
            ".parquet"
        );
        assert_eq!(ends(&[("format.class", bytes)]), ".bin");
        assert_eq!(
            ends(&[("format.class", bytes), ("s3.compression.type", "gzip")]),
            ".bin.gz"
        );
        assert_eq!(ends(&[("format.class", "StringFormat")]), ".txt");
        assert_eq!(
            key(
                &[
                    ("topics.dir", ""),
                    ("file.delim", "-"),
                    ("filename.offset.zero.pad.width", "3")
                ],
                1,
                12345
            ),
            "orders/partition=1/orders-1-12345.json"
        );
    }
}
