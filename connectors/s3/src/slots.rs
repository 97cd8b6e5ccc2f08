//! How many upload buffers a task may have in flight at once.
//!
//! Each slot stands for one buffer of about `s3.part.size` handed to the store: a part being
//! uploaded, or a committed file being finished (its last part or whole object, and for
//! Parquet its last row group). The task has one slot per Kafka partition it was given, so
//! that with the open files' own buffers its memory stays within about
//! `2 × partitions × s3.part.size` (plus a row group per Parquet file open or being
//! finished), however fast records come and however slowly the store takes them: a writer
//! that finds no free slot waits for an upload to end.
//!
//! Slots are taken only on the task's thread (in `put`, `pre_commit`), never by an upload
//! itself, and every holder ends without needing another slot, so waiting for one cannot
//! deadlock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Slots per Kafka partition.
const SLOTS_PER_PARTITION: usize = 1;
/// Slots of a task however few partitions it has: one part uploading while the next
/// file's commit starts.
const MIN_SLOTS: usize = 2;

/// Slots of a task that was given `partitions` partitions (none before the first).
fn slots_for(partitions: usize) -> usize {
    if partitions == 0 {
        0
    } else {
        (partitions * SLOTS_PER_PARTITION).max(MIN_SLOTS)
    }
}

/// The task's upload slots (cheap to clone; clones share them). None until partitions come.
#[derive(Debug, Clone)]
pub(crate) struct UploadSlots {
    semaphore: Arc<Semaphore>,
    /// Partitions given to the task so far; the slots created are derived from it.
    partitions: Arc<AtomicUsize>,
}

/// One slot, given back when dropped (when its upload ended, however it ended).
#[derive(Debug)]
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Default for UploadSlots {
    fn default() -> UploadSlots {
        UploadSlots {
            semaphore: Arc::new(Semaphore::new(0)),
            partitions: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl UploadSlots {
    /// Adds the slots of `partitions` newly assigned partitions. Slots are not taken back
    /// when partitions go: the bound is that of the most partitions the task had.
    pub(crate) fn add_partitions(&self, partitions: usize) {
        let before = self.partitions.fetch_add(partitions, Ordering::AcqRel);
        let added = slots_for(before + partitions) - slots_for(before);
        if added > 0 {
            self.semaphore.add_permits(added);
        }
    }

    /// Slots in all.
    pub(crate) fn total(&self) -> usize {
        slots_for(self.partitions.load(Ordering::Acquire))
    }

    /// Slots free now.
    #[cfg(test)]
    fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Takes a slot, waiting for an upload to end if none is free.
    pub(crate) async fn take(&self) -> Slot {
        let permit = self.semaphore.clone().acquire_owned().await;
        // Acquiring fails only on a closed semaphore, and nothing closes this one.
        Slot {
            _permit: permit.expect("upload slots are never closed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slot_per_partition_at_least_two() {
        let slots = UploadSlots::default();
        slots.add_partitions(1);
        assert_eq!(slots.total(), MIN_SLOTS);
        slots.add_partitions(3);
        assert_eq!(slots.total(), 4);
        slots.add_partitions(0);
        assert_eq!(slots.total(), 4);
        assert_eq!(slots.available(), 4);
    }

    #[tokio::test]
    async fn a_slot_is_free_again_once_its_holder_is_dropped() {
        let slots = UploadSlots::default();
        slots.add_partitions(2);
        let a = slots.take().await;
        let b = slots.take().await;
        assert_eq!(slots.available(), 0);
        // A third upload would wait: no slot is free until one ends.
        assert!(slots.semaphore.clone().try_acquire_owned().is_err());
        drop(a);
        assert_eq!(slots.available(), 1);
        let c = slots.take().await;
        drop((b, c));
        assert_eq!(slots.available(), 2);
    }
}
