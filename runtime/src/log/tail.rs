//! Following a topic as it grows: how a distributed worker sees what the other workers
//! write to the internal topics (Kafka Connect's `KafkaBasedLog` work thread).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferry_api::TopicPartition;
use tokio::sync::mpsc;

use super::{Log, LogError};

/// How long one fetch waits for new records.
const MAX_WAIT: Duration = Duration::from_millis(500);
/// Pause after a failed fetch (the broker is away) before the next one.
const RETRY_BACKOFF: Duration = Duration::from_millis(250);
/// Batches read ahead of the consumer.
const READ_AHEAD: usize = 16;

/// One keyed record read by a [`Tail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its key.
    pub key: Bytes,
    /// Its value (`None`: a tombstone).
    pub value: Option<Bytes>,
}

/// Reads the partitions of one topic from given offsets, forever, in a background task;
/// [`recv`](Tail::recv) hands over what arrived, in offset order per partition. Fetch
/// failures (a broker away) are retried; the task ends when the `Tail` is dropped.
#[derive(Debug)]
pub struct Tail {
    rx: mpsc::Receiver<Vec<TailRecord>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Tail {
    /// Follows `topic`, partition `i` from offset `from[i]`.
    pub fn start(log: Arc<dyn Log>, topic: &str, from: Vec<i64>) -> Tail {
        let (tx, rx) = mpsc::channel(READ_AHEAD);
        let positions: Vec<(TopicPartition, i64)> = from
            .into_iter()
            .enumerate()
            .map(|(p, o)| (TopicPartition::new(topic, p as i32), o.max(0)))
            .collect();
        let task = tokio::spawn(follow(log, positions, tx));
        Tail { rx, task }
    }

    /// The next records; `None` only if the reading task ended.
    pub async fn recv(&mut self) -> Option<Vec<TailRecord>> {
        self.rx.recv().await
    }

    /// Records already read, without waiting.
    pub fn try_recv(&mut self) -> Option<Vec<TailRecord>> {
        self.rx.try_recv().ok()
    }
}

async fn follow(
    log: Arc<dyn Log>,
    mut positions: Vec<(TopicPartition, i64)>,
    tx: mpsc::Sender<Vec<TailRecord>>,
) {
    let topic = positions
        .first()
        .map(|(tp, _)| tp.topic.to_string())
        .unwrap_or_default();
    let mut failing = false;
    loop {
        let fetched = match log.fetch(&positions, 1 << 20, MAX_WAIT).await {
            Ok(f) => {
                if failing {
                    tracing::info!(topic, "reading the topic again");
                    failing = false;
                }
                f
            }
            Err(LogError::OffsetOutOfRange {
                partition,
                log_start,
                ..
            }) => {
                if let Some(slot) = positions.iter_mut().find(|(tp, _)| *tp == partition) {
                    tracing::warn!(%partition, from = slot.1, log_start, "offset no longer in the log: reading on from the log start");
                    slot.1 = log_start;
                }
                continue;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(topic, error = %e, "cannot read the topic; retrying");
                    failing = true;
                }
                tokio::time::sleep(RETRY_BACKOFF).await;
                continue;
            }
        };
        let mut records = Vec::new();
        for f in fetched {
            let Some(slot) = positions.iter_mut().find(|(tp, _)| *tp == f.partition) else {
                continue;
            };
            if f.batches.is_empty() {
                continue;
            }
            for batch in ferry_record::batches(f.batches) {
                let batch = match batch {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(partition = %f.partition, offset = slot.1, error = %e, "unreadable batch in an internal topic: skipping it");
                        break;
                    }
                };
                for record in batch.records() {
                    let Ok(record) = record else { continue };
                    if record.offset < slot.1 {
                        continue;
                    }
                    if let Some(key) = record.key {
                        records.push(TailRecord {
                            partition: f.partition.partition,
                            offset: record.offset,
                            key,
                            value: record.value,
                        });
                    }
                }
                slot.1 = slot.1.max(batch.next_offset());
            }
        }
        if !records.is_empty() && tx.send(records).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EmbeddedLog, NewTopic};
    use ferry_log::LogConfig;
    use ferry_record::RecordBatchBuilder;

    #[tokio::test]
    async fn a_tail_sees_records_as_they_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn Log> = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        log.create_topic(NewTopic {
            name: "t".into(),
            partitions: 2,
            configs: Default::default(),
        })
        .await
        .unwrap();
        let write = |p: i32, key: &'static str| {
            let log = log.clone();
            async move {
                let mut b = RecordBatchBuilder::new(0);
                b.append(0, Some(key.as_bytes()), Some(b"v"), &[]);
                b.append(0, None, Some(b"unkeyed"), &[]);
                log.append(&TopicPartition::new("t", p), b.finish())
                    .await
                    .unwrap();
            }
        };
        write(0, "old").await;
        let mut tail = Tail::start(log.clone(), "t", vec![1, 0]);
        write(1, "a").await;
        write(0, "b").await;
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let batch = tokio::time::timeout(Duration::from_secs(5), tail.recv())
                .await
                .unwrap()
                .unwrap();
            seen.extend(batch);
        }
        seen.sort_by_key(|r| r.partition);
        assert_eq!(
            seen.iter()
                .map(|r| (r.partition, r.offset, &r.key[..]))
                .collect::<Vec<_>>(),
            vec![(0, 2, &b"b"[..]), (1, 0, &b"a"[..])]
        );
    }
}
