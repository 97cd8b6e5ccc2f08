//! The embedded log: in-process calls into `ferry-broker`'s log engine.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use ferry_api::TopicPartition;
use ferry_log::{LogConfig, LogManager, PartitionLog};
use ferry_record::{RecordBatchBuilder, batches, now_ms};

use super::group_offsets::{self, GroupOffsets};
use super::{FetchedPartition, Log, LogError, NewTopic, Result};

/// The log engine of a local data directory, used in-process.
#[derive(Debug)]
pub struct EmbeddedLog {
    manager: LogManager,
    /// Committed consumer-group offsets, mirrored from `__consumer_offsets`.
    groups: Mutex<GroupOffsets>,
}

impl EmbeddedLog {
    /// Opens (and locks) the data directory, recovering it if the last shutdown was not
    /// clean, and loads committed group offsets.
    pub fn open(config: LogConfig) -> Result<EmbeddedLog> {
        let manager = LogManager::open(config)?;
        if manager.topic(group_offsets::TOPIC).is_none() {
            let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
            manager.create_topic(group_offsets::TOPIC, 1, configs)?;
        }
        let groups = load_group_offsets(&manager)?;
        Ok(EmbeddedLog {
            manager,
            groups: Mutex::new(groups),
        })
    }

    /// The engine underneath, for the built-in broker and for tools.
    pub fn manager(&self) -> &LogManager {
        &self.manager
    }

    fn partition(&self, tp: &TopicPartition) -> Result<Arc<PartitionLog>> {
        self.manager
            .partition(&tp.topic, tp.partition)
            .map_err(|e| match e {
                ferry_log::Error::UnknownTopic(t) => LogError::UnknownTopic(t),
                other => LogError::Storage(other),
            })
    }
}

fn load_group_offsets(manager: &LogManager) -> Result<GroupOffsets> {
    let mut offsets = GroupOffsets::new();
    let Some(meta) = manager.topic(group_offsets::TOPIC) else {
        return Ok(offsets);
    };
    for p in 0..meta.partitions as i32 {
        let log = manager.partition(group_offsets::TOPIC, p)?;
        let mut next = log.log_start_offset();
        loop {
            let read = log.read(next, 1 << 20)?;
            if read.data.is_empty() {
                break;
            }
            for batch in batches(read.data) {
                let batch = batch?;
                for record in batch.records() {
                    let record = record?;
                    next = record.offset + 1;
                    let Some(key) = record.key else { continue };
                    let Some(id) = group_offsets::decode_key(key)? else {
                        continue;
                    };
                    match record.value {
                        Some(value) => {
                            offsets.insert(id, group_offsets::decode_value(value)?);
                        }
                        None => {
                            offsets.remove(&id);
                        }
                    }
                }
                next = next.max(batch.next_offset());
            }
        }
    }
    Ok(offsets)
}

fn to_log_error(tp: &TopicPartition, e: ferry_log::Error) -> LogError {
    match e {
        ferry_log::Error::OffsetOutOfRange {
            offset,
            log_start,
            log_end,
            ..
        } => LogError::OffsetOutOfRange {
            partition: tp.clone(),
            offset,
            log_start,
            log_end,
        },
        ferry_log::Error::UnknownTopic(t) => LogError::UnknownTopic(t),
        other => LogError::Storage(other),
    }
}

#[async_trait]
impl Log for EmbeddedLog {
    async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        self.manager
            .create_topic(&topic.name, topic.partitions, topic.configs)
            .map_err(|e| match e {
                ferry_log::Error::TopicAlreadyExists(t) => LogError::TopicExists(t),
                other => LogError::Storage(other),
            })
    }

    async fn partition_count(&self, topic: &str) -> Result<Option<u32>> {
        Ok(self.manager.topic(topic).map(|m| m.partitions))
    }

    async fn topics(&self) -> Result<Vec<String>> {
        Ok(self.manager.topics().into_iter().map(|m| m.name).collect())
    }

    async fn append(&self, tp: &TopicPartition, batches: Bytes) -> Result<i64> {
        let log = self.partition(tp)?;
        // No copy when the caller handed over the only reference.
        let buf = BytesMut::from(batches);
        let info = log.append(buf).map_err(|e| to_log_error(tp, e))?;
        Ok(info.base_offset)
    }

    async fn fetch(
        &self,
        partitions: &[(TopicPartition, i64)],
        max_bytes: usize,
        max_wait: Duration,
    ) -> Result<Vec<FetchedPartition>> {
        let logs = partitions
            .iter()
            .map(|(tp, _)| self.partition(tp))
            .collect::<Result<Vec<_>>>()?;
        let read_all = || -> Result<(Vec<FetchedPartition>, bool)> {
            let mut out = Vec::with_capacity(partitions.len());
            let mut any = false;
            for ((tp, offset), log) in partitions.iter().zip(&logs) {
                let read = log
                    .read(*offset, max_bytes)
                    .map_err(|e| to_log_error(tp, e))?;
                any |= !read.data.is_empty();
                out.push(FetchedPartition {
                    partition: tp.clone(),
                    batches: read.data,
                    high_watermark: read.high_watermark,
                    log_start_offset: read.log_start_offset,
                });
            }
            Ok((out, any))
        };
        let (out, any) = read_all()?;
        if any || max_wait.is_zero() || partitions.is_empty() {
            return Ok(out);
        }
        // Nothing yet: wait for the first partition that gets data.
        let mut waits = tokio::task::JoinSet::new();
        for ((_, offset), log) in partitions.iter().zip(&logs) {
            let log = log.clone();
            let offset = *offset;
            waits.spawn(async move { log.wait_for(offset, max_wait).await });
        }
        let _ = waits.join_next().await;
        waits.abort_all();
        Ok(read_all()?.0)
    }

    async fn offset_range(&self, tp: &TopicPartition) -> Result<(i64, i64)> {
        let log = self.partition(tp)?;
        Ok((log.log_start_offset(), log.log_end_offset()))
    }

    async fn commit_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let mut builder = RecordBatchBuilder::new(now);
        for (tp, offset) in offsets {
            let key = group_offsets::encode_key(group, tp);
            let value = group_offsets::encode_value(*offset, now);
            builder.append(now, Some(&key), Some(&value), &[]);
        }
        let tp = TopicPartition::new(group_offsets::TOPIC, 0);
        self.append(&tp, builder.finish()).await?;
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for (tp, offset) in offsets {
            groups.insert((group.to_string(), tp.clone()), *offset);
        }
        Ok(())
    }

    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        let mut key = (group.to_string(), TopicPartition::new("", 0));
        let mut out = HashMap::new();
        for tp in partitions {
            key.1 = tp.clone();
            if let Some(offset) = groups.get(&key) {
                out.insert(tp.clone(), *offset);
            }
        }
        Ok(out)
    }

    async fn delete_offsets(&self, group: &str, partitions: &[TopicPartition]) -> Result<()> {
        if partitions.is_empty() {
            return Ok(());
        }
        // Tombstones in __consumer_offsets, as Kafka's OffsetDelete writes.
        let now = now_ms();
        let mut builder = RecordBatchBuilder::new(now);
        for tp in partitions {
            let key = group_offsets::encode_key(group, tp);
            builder.append(now, Some(&key), None, &[]);
        }
        let tp = TopicPartition::new(group_offsets::TOPIC, 0);
        self.append(&tp, builder.finish()).await?;
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for tp in partitions {
            groups.remove(&(group.to_string(), tp.clone()));
        }
        Ok(())
    }

    async fn group_offsets(&self, group: &str) -> Result<HashMap<TopicPartition, i64>> {
        let groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        Ok(groups
            .iter()
            .filter(|((g, _), _)| g == group)
            .map(|((_, tp), offset)| (tp.clone(), *offset))
            .collect())
    }

    async fn close(&self) -> Result<()> {
        Ok(self.manager.close()?)
    }
}
