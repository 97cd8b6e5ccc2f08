//! The connector and its task.
//!
//! `put` hands each record to its Kafka partition's [`PartitionWriter`], which uploads parts
//! as they fill and commits files by Confluent's rules (finishing them in the background).
//! `pre_commit` reports, per partition, only the offset after the last record whose file is
//! complete in S3, so the runtime commits consumer offsets after the upload, never before.
//!
//! When an upload fails after the client's own retries: a transient failure (5xx,
//! throttling, timeouts, connection errors) drops the partition's open files, rewinds the
//! partition to the first record since its last commit and waits `retry.backoff.ms`; the
//! same objects are then written again from the same records, so nothing is lost or
//! duplicated. Any other failure (access denied, bucket gone) fails the task with the
//! store's message.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use ferry_api::{
    ConfigDef, ConfigIssue, ConfigMap, ConnectError, Connector, ConnectorContext,
    ErrantRecordReporter, Result, SinkRecord, SinkTask, SinkTaskContext, TopicPartition,
};
use ferry_record::now_ms;

use crate::config::{S3SinkConfig, config_def, cross_key_issues};
use crate::slots::UploadSlots;
use crate::storage::Storage;
use crate::writer::{PartitionWriter, WriteError};

/// Confluent's `S3SinkConnector`: `tasks.max` identical tasks (the runtime spreads the
/// partitions over them).
#[derive(Debug, Default)]
pub struct S3SinkConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for S3SinkConnector {
    fn version(&self) -> &'static str {
        crate::VERSION
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, config: &ConfigMap) -> Vec<ConfigIssue> {
        let issues = config_def().validate(config);
        if issues.is_empty() {
            cross_key_issues(config)
        } else {
            issues
        }
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, config: &ConfigMap) -> Result<()> {
        let parsed = S3SinkConfig::parse(config)?;
        if !parsed.partitioner.is_deterministic() || parsed.rotate_schedule_interval_ms.is_some() {
            tracing::warn!(
                "the wall clock decides where files are cut (timestamp.extractor=Wallclock or rotate.schedule.interval.ms): after a crash, replayed records may land in other objects than before, so delivery is at-least-once"
            );
        }
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }
}

/// Confluent's `S3SinkTask`.
#[derive(Default)]
pub struct S3SinkTask {
    config: Option<S3SinkConfig>,
    storage: Option<Storage>,
    context: Option<Arc<dyn SinkTaskContext>>,
    writers: HashMap<TopicPartition, PartitionWriter>,
    /// Upload buffers in flight, one slot per partition: with the open files this bounds
    /// the task's memory (see `slots`).
    slots: UploadSlots,
}

impl std::fmt::Debug for S3SinkTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3SinkTask")
            .field("partitions", &self.writers.len())
            .finish_non_exhaustive()
    }
}

impl S3SinkTask {
    fn parts(
        &mut self,
    ) -> Result<(
        &S3SinkConfig,
        &Storage,
        &mut HashMap<TopicPartition, PartitionWriter>,
    )> {
        match (&self.config, &self.storage) {
            (Some(c), Some(s)) => Ok((c, s, &mut self.writers)),
            _ => Err(ConnectError::Other("S3 sink task used before start".into())),
        }
    }

    /// Turns a write failure into the task's answer: transient store failures rewind the
    /// partition; the rest fail the task.
    async fn handle(&mut self, tp: &TopicPartition, err: WriteError) -> Result<()> {
        let (config, storage, writers) = self.parts()?;
        let backoff = config.retry_backoff;
        let storage = storage.clone();
        let Some(writer) = writers.get_mut(tp) else {
            return Err(ConnectError::Other(err.to_string()));
        };
        match err {
            WriteError::Storage(e) if e.transient => {
                let rewind = writer.rewind_point();
                writer.abort(&storage, true).await;
                if let (Some(offset), Some(ctx)) = (rewind, &self.context) {
                    ctx.reset_offset(tp.clone(), offset);
                }
                tracing::warn!(partition = %tp, error = %e, rewind_to = ?rewind, backoff_ms = backoff.as_millis() as u64,
                    "upload failed after retries: the partition's open files are dropped and written again");
                tokio::time::sleep(backoff).await;
                Ok(())
            }
            WriteError::Storage(e) => {
                writer.abort(&storage, false).await;
                Err(ConnectError::Other(format!("S3 sink, partition {tp}: {e}")))
            }
            other => {
                writer.abort(&storage, false).await;
                Err(ConnectError::Data(format!(
                    "S3 sink, partition {tp}: {other}"
                )))
            }
        }
    }
}

#[async_trait]
impl SinkTask for S3SinkTask {
    async fn start(&mut self, context: Arc<dyn SinkTaskContext>, config: &ConfigMap) -> Result<()> {
        let parsed = S3SinkConfig::parse(config)?;
        let storage = Storage::new(&parsed.storage).await;
        storage
            .check_bucket()
            .await
            .map_err(|e| ConnectError::Other(e.message))?;
        tracing::info!(bucket = storage.bucket(), format = ?parsed.format, "S3 sink task started");
        self.config = Some(parsed);
        self.storage = Some(storage);
        let assigned = context.assignment();
        self.context = Some(context);
        self.open(&assigned).await
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let now = now_ms();
        for tp in partitions {
            self.writer(tp, now)?;
        }
        tracing::debug!(
            partitions = self.writers.len(),
            upload_slots = self.slots.total(),
            "partitions opened"
        );
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let now = now_ms();
        let reporter = self
            .context
            .as_ref()
            .and_then(|c| c.errant_record_reporter());
        // Records come in runs of one partition: one writer lookup per run, not per record.
        let mut rest = records.as_slice();
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .take_while(|r| {
                    r.kafka_partition == first.kafka_partition && r.topic == first.topic
                })
                .count();
            let (same_partition, tail) = rest.split_at(run);
            rest = tail;
            self.put_partition(same_partition, reporter.as_deref(), now)
                .await?;
        }
        self.tick(now).await
    }

    async fn pre_commit(
        &mut self,
        _offsets: HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.tick(now_ms()).await?;
        let (_, _, writers) = self.parts()?;
        let mut failed = Vec::new();
        for (tp, w) in writers.iter_mut() {
            if let Err(e) = w.poll_pending().await {
                failed.push((tp.clone(), e));
            }
        }
        for (tp, e) in failed {
            self.handle(&tp, e).await?;
        }
        let (_, _, writers) = self.parts()?;
        Ok(writers
            .iter_mut()
            .filter_map(|(tp, w)| w.take_offset_to_commit().map(|o| (tp.clone(), o)))
            .collect())
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let Some(storage) = self.storage.clone() else {
            return Ok(());
        };
        for tp in partitions {
            if let Some(mut w) = self.writers.remove(tp) {
                w.abort(&storage, false).await;
            }
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(storage) = self.storage.clone() {
            for (_, mut w) in self.writers.drain() {
                w.abort(&storage, false).await;
            }
        }
        Ok(())
    }
}

impl S3SinkTask {
    /// Writes records of one partition. A record the format or partitioner cannot take goes
    /// to the errant record reporter (Connect's `DataException`): with `errors.tolerance=all`
    /// it is dead-lettered and skipped; otherwise, or without a reporter, the task fails
    /// naming the record and the cause.
    async fn put_partition(
        &mut self,
        records: &[SinkRecord],
        reporter: Option<&dyn ErrantRecordReporter>,
        now: i64,
    ) -> Result<()> {
        let Some(first) = records.first() else {
            return Ok(());
        };
        let tp = TopicPartition::new(first.topic.clone(), first.kafka_partition);
        self.writer(&tp, now)?;
        let slots = self.slots.clone();
        let (config, storage, writers) = self.parts()?;
        let Some(writer) = writers.get_mut(&tp) else {
            return Ok(());
        };
        let mut failure = None;
        for record in records {
            match writer.write(record, config, storage, &slots, now).await {
                Ok(()) => {}
                Err(e) if e.is_record_error() => {
                    let error = ConnectError::Data(format!("S3 sink: {e}"));
                    let reported = match reporter {
                        Some(r) => r.report(record, &error).await,
                        None => Err(error),
                    };
                    if let Err(e) = reported {
                        writer.abort(storage, false).await;
                        return Err(e);
                    }
                    tracing::debug!(partition = %tp, offset = record.kafka_offset, "record reported as errant and skipped");
                    writer.skip(record.kafka_offset);
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        match failure {
            Some(e) => self.handle(&tp, e).await,
            None => Ok(()),
        }
    }

    /// Creates the writer of `tp` if it has none, with the partition's upload slot.
    fn writer(&mut self, tp: &TopicPartition, now: i64) -> Result<()> {
        let slots = self.slots.clone();
        let (config, _, writers) = self.parts()?;
        if !writers.contains_key(tp) {
            writers.insert(tp.clone(), PartitionWriter::new(tp.clone(), config, now));
            slots.add_partitions(1);
        }
        Ok(())
    }

    /// Scheduled rotations, which happen without records too.
    async fn tick(&mut self, now: i64) -> Result<()> {
        let slots = self.slots.clone();
        let (config, storage, writers) = self.parts()?;
        if config.rotate_schedule_interval_ms.is_none() {
            return Ok(());
        }
        let mut failed = None;
        for (tp, w) in writers.iter_mut() {
            if let Err(e) = w.tick(config, storage, &slots, now).await {
                failed = Some((tp.clone(), e));
                break;
            }
        }
        if let Some((tp, e)) = failed {
            self.handle(&tp, e).await?;
        }
        Ok(())
    }
}
