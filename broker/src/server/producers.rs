//! Idempotent producers: producer ids (InitProducerId) and per-partition sequence checks with
//! Kafka's semantics. Per (producer id, partition) the metadata of the last 5 batches is kept
//! (Kafka's `max.in.flight.requests.per.connection` limit for idempotence): a batch equal to
//! one of them is a duplicate and answered with the original offset and no error (as Kafka
//! does since 1.0; clients treat `DUPLICATE_SEQUENCE_NUMBER` the same way); a batch whose
//! first sequence is not the last sequence + 1 is `OUT_OF_ORDER_SEQUENCE_NUMBER`; an older
//! epoch is `INVALID_PRODUCER_EPOCH`.
//!
//! State lives in memory and is rebuilt from the tail of a partition (its last
//! [`RECOVERY_OFFSETS`] offsets) the first time the partition is produced to after a start,
//! as Kafka rebuilds it from the log: a retry of a batch appended just before a restart is
//! still a duplicate. A producer id not found there is accepted at any sequence (as Kafka does
//! once a producer's state has expired). Producer ids start at the wall-clock millisecond of
//! startup so ids handed out after a restart do not collide with earlier ones.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_log::PartitionLog;
use ferry_record::batches;

/// Batches remembered per producer and partition for duplicate detection.
const REMEMBERED_BATCHES: usize = 5;

/// How far back from the log end producer state is rebuilt after a start.
pub(crate) const RECOVERY_OFFSETS: i64 = 10_000;

type SharedPartition = Arc<Mutex<PartitionProducers>>;

#[derive(Debug)]
pub(crate) struct Producers {
    next_id: AtomicI64,
    partitions: Mutex<HashMap<(String, i32), SharedPartition>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Producers {
    pub(crate) fn new() -> Producers {
        let start = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(1);
        Producers {
            next_id: AtomicI64::new(start),
            partitions: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh producer id (epoch 0).
    pub(crate) fn new_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The producer state of one partition (rebuilt from the log's tail on first use); hold
    /// its lock across check, append and record.
    pub(crate) fn partition(&self, log: &PartitionLog) -> Arc<Mutex<PartitionProducers>> {
        let key = (log.topic().to_string(), log.partition());
        let mut map = lock(&self.partitions);
        if let Some(state) = map.get(&key) {
            return state.clone();
        }
        let state = SharedPartition::default();
        {
            // Locked before it is visible to other requests, recovered after the map is free.
            let mut guard = lock(&state);
            map.insert(key, state.clone());
            drop(map);
            guard.recover(log);
        }
        state
    }

    /// Forgets a deleted topic.
    pub(crate) fn forget_topic(&self, topic: &str) {
        lock(&self.partitions).retain(|(t, _), _| t != topic);
    }
}

pub(crate) fn lock_partition(p: &Mutex<PartitionProducers>) -> MutexGuard<'_, PartitionProducers> {
    lock(p)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMeta>,
}

/// Sequence state of the producers writing to one partition.
#[derive(Debug, Default)]
pub(crate) struct PartitionProducers {
    by_id: HashMap<i64, ProducerEntry>,
}

/// Outcome of a sequence check that is not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqCheck {
    /// Append it.
    Append,
    /// Already appended at this base offset: answer success without appending.
    Duplicate { base_offset: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SeqError {
    #[error(
        "out of order sequence number for producer {producer_id}: expected {expected}, got {got}"
    )]
    OutOfOrder {
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    #[error("producer {producer_id} epoch {got} is older than the current epoch {current}")]
    InvalidEpoch {
        producer_id: i64,
        current: i16,
        got: i16,
    },
}

/// The sequence after `seq` (sequences wrap from i32::MAX to 0).
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

/// The last sequence of a batch of `count` records starting at `first`.
pub(crate) fn last_seq(first: i32, count: i32) -> i32 {
    let last = i64::from(first) + i64::from(count) - 1;
    (last % (i64::from(i32::MAX) + 1)) as i32
}

impl PartitionProducers {
    /// Rebuilds the state from the idempotent batches among the last [`RECOVERY_OFFSETS`]
    /// offsets of `log`.
    fn recover(&mut self, log: &PartitionLog) {
        let end = log.log_end_offset();
        let mut offset = log.log_start_offset().max(end - RECOVERY_OFFSETS);
        let mut found = 0usize;
        while offset < end {
            let Ok(read) = log.read(offset, 1 << 20) else {
                break;
            };
            if read.data.is_empty() {
                break;
            }
            let before = offset;
            for batch in batches(read.data) {
                let Ok(b) = batch else { break };
                offset = b.next_offset();
                if b.producer_id() >= 0 {
                    let count = b.last_offset_delta() + 1;
                    let first = b.base_sequence();
                    self.record(
                        b.producer_id(),
                        b.producer_epoch(),
                        first,
                        last_seq(first, count),
                        b.base_offset(),
                    );
                    found += 1;
                }
            }
            if offset <= before {
                break;
            }
        }
        if found > 0 {
            tracing::debug!(
                topic = log.topic(),
                partition = log.partition(),
                batches = found,
                producers = self.by_id.len(),
                "rebuilt idempotent producer state from the log"
            );
        }
    }

    /// Checks one batch against the state (does not change it).
    pub(crate) fn check(
        &self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
    ) -> Result<SeqCheck, SeqError> {
        let Some(entry) = self.by_id.get(&producer_id) else {
            return Ok(SeqCheck::Append);
        };
        if epoch < entry.epoch {
            return Err(SeqError::InvalidEpoch {
                producer_id,
                current: entry.epoch,
                got: epoch,
            });
        }
        if epoch > entry.epoch {
            return if first_seq == 0 {
                Ok(SeqCheck::Append)
            } else {
                Err(SeqError::OutOfOrder {
                    producer_id,
                    expected: 0,
                    got: first_seq,
                })
            };
        }
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(SeqCheck::Duplicate {
                base_offset: dup.base_offset,
            });
        }
        let expected = entry
            .batches
            .back()
            .map_or(first_seq, |b| next_seq(b.last_seq));
        if first_seq != expected {
            return Err(SeqError::OutOfOrder {
                producer_id,
                expected,
                got: first_seq,
            });
        }
        Ok(SeqCheck::Append)
    }

    /// Records an appended batch.
    pub(crate) fn record(
        &mut self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        last_seq: i32,
        base_offset: i64,
    ) {
        let entry = self.by_id.entry(producer_id).or_insert(ProducerEntry {
            epoch,
            batches: VecDeque::new(),
        });
        if epoch != entry.epoch {
            entry.epoch = epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(BatchMeta {
            first_seq,
            last_seq,
            base_offset,
        });
        if entry.batches.len() > REMEMBERED_BATCHES {
            entry.batches.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_follow_kafka() {
        let mut p = PartitionProducers::default();
        assert_eq!(p.check(7, 0, 0, 9), Ok(SeqCheck::Append));
        p.record(7, 0, 0, 9, 100);
        assert_eq!(
            p.check(7, 0, 0, 9),
            Ok(SeqCheck::Duplicate { base_offset: 100 })
        );
        assert!(matches!(
            p.check(7, 0, 11, 12),
            Err(SeqError::OutOfOrder { expected: 10, .. })
        ));
        assert_eq!(p.check(7, 0, 10, 12), Ok(SeqCheck::Append));
        p.record(7, 0, 10, 12, 110);
        assert!(matches!(
            p.check(7, 1, 13, 13),
            Err(SeqError::OutOfOrder { expected: 0, .. })
        ));
        assert_eq!(p.check(7, 1, 0, 0), Ok(SeqCheck::Append));
        p.record(7, 1, 0, 0, 113);
        assert!(matches!(
            p.check(7, 0, 13, 13),
            Err(SeqError::InvalidEpoch { current: 1, .. })
        ));
        // only the last 5 batches are remembered
        for i in 1..=5 {
            p.record(7, 1, i, i, 113 + i64::from(i));
        }
        assert!(matches!(
            p.check(7, 1, 0, 0),
            Err(SeqError::OutOfOrder { .. })
        ));
        assert_eq!(last_seq(i32::MAX, 2), 0);
        assert_eq!(next_seq(i32::MAX), 0);
    }
}
