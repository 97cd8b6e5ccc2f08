//! Riding out a broker that is away for a while: [`RetryingLog`] retries the calls that
//! failed with [`LogError::Unavailable`] (no broker reachable, connection dropped) until the
//! broker answers or a deadline passes, as a Kafka producer retries for
//! `delivery.timeout.ms` and a consumer keeps polling. Other errors pass through at once.
//!
//! An append retried after the connection dropped may have been written already: the
//! record is then in the log twice (at-least-once, as with a Kafka producer without
//! idempotence).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::TopicPartition;
use tokio::time::Instant;

use super::{FetchedPartition, JoinResult, Log, LogError, NewTopic, Result};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A [`Log`] that retries unavailability; group membership calls are not retried (the
/// coordinator has its own rules for them).
pub struct RetryingLog {
    inner: Arc<dyn Log>,
    retry_for: Duration,
}

impl std::fmt::Debug for RetryingLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryingLog")
            .field("retry_for", &self.retry_for)
            .finish_non_exhaustive()
    }
}

impl RetryingLog {
    /// Retries calls to `inner` for up to `retry_for` each.
    pub fn new(inner: Arc<dyn Log>, retry_for: Duration) -> RetryingLog {
        RetryingLog { inner, retry_for }
    }

    async fn retry<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let deadline = Instant::now() + self.retry_for;
        let mut backoff = FIRST_BACKOFF;
        let mut warned = false;
        loop {
            match call().await {
                Err(LogError::Unavailable(e)) if Instant::now() + backoff < deadline => {
                    if !warned {
                        tracing::warn!(call = what, error = %e, retry_for = ?self.retry_for, "broker unavailable; retrying");
                        warned = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                other => {
                    if warned && other.is_ok() {
                        tracing::info!(call = what, "broker available again");
                    }
                    return other;
                }
            }
        }
    }
}

#[async_trait]
impl Log for RetryingLog {
    async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        self.retry("create topic", || self.inner.create_topic(topic.clone()))
            .await
    }
    async fn create_topic_replicated(
        &self,
        topic: NewTopic,
        replication_factor: i16,
    ) -> Result<()> {
        self.retry("create topic", || {
            self.inner
                .create_topic_replicated(topic.clone(), replication_factor)
        })
        .await
    }
    async fn partition_count(&self, topic: &str) -> Result<Option<u32>> {
        self.retry("metadata", || self.inner.partition_count(topic))
            .await
    }
    async fn topics(&self) -> Result<Vec<String>> {
        self.retry("metadata", || self.inner.topics()).await
    }
    async fn append(&self, partition: &TopicPartition, batches: Bytes) -> Result<i64> {
        self.retry("produce", || self.inner.append(partition, batches.clone()))
            .await
    }
    async fn fetch(
        &self,
        partitions: &[(TopicPartition, i64)],
        max_bytes: usize,
        max_wait: Duration,
    ) -> Result<Vec<FetchedPartition>> {
        self.retry("fetch", || {
            self.inner.fetch(partitions, max_bytes, max_wait)
        })
        .await
    }
    async fn offset_range(&self, partition: &TopicPartition) -> Result<(i64, i64)> {
        self.retry("list offsets", || self.inner.offset_range(partition))
            .await
    }
    async fn commit_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        self.retry("offset commit", || {
            self.inner.commit_offsets(group, offsets)
        })
        .await
    }
    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.retry("offset fetch", || {
            self.inner.committed_offsets(group, partitions)
        })
        .await
    }
    async fn delete_offsets(&self, group: &str, partitions: &[TopicPartition]) -> Result<()> {
        self.retry("offset delete", || {
            self.inner.delete_offsets(group, partitions)
        })
        .await
    }
    async fn group_offsets(&self, group: &str) -> Result<HashMap<TopicPartition, i64>> {
        self.retry("offset fetch", || self.inner.group_offsets(group))
            .await
    }
    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
    async fn join_group(
        &self,
        group: &str,
        protocol_type: &str,
        member_id: &str,
        session_timeout: Duration,
        rebalance_timeout: Duration,
        protocols: &[(String, Bytes)],
    ) -> Result<JoinResult> {
        self.inner
            .join_group(
                group,
                protocol_type,
                member_id,
                session_timeout,
                rebalance_timeout,
                protocols,
            )
            .await
    }
    async fn sync_group(
        &self,
        group: &str,
        generation: i32,
        member_id: &str,
        assignments: &[(String, Bytes)],
    ) -> Result<Bytes> {
        self.inner
            .sync_group(group, generation, member_id, assignments)
            .await
    }
    async fn heartbeat(&self, group: &str, generation: i32, member_id: &str) -> Result<()> {
        self.inner.heartbeat(group, generation, member_id).await
    }
    async fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        self.inner.leave_group(group, member_id).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Unavailable for the first `failures` calls of `offset_range`, then fine.
    struct Flaky {
        failures: usize,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl Log for Flaky {
        async fn create_topic(&self, _: NewTopic) -> Result<()> {
            Err(LogError::Remote("refused".into()))
        }
        async fn partition_count(&self, _: &str) -> Result<Option<u32>> {
            Ok(None)
        }
        async fn topics(&self) -> Result<Vec<String>> {
            Ok(vec![])
        }
        async fn append(&self, _: &TopicPartition, _: Bytes) -> Result<i64> {
            Err(LogError::Unavailable("down".into()))
        }
        async fn fetch(
            &self,
            _: &[(TopicPartition, i64)],
            _: usize,
            _: Duration,
        ) -> Result<Vec<FetchedPartition>> {
            Ok(vec![])
        }
        async fn offset_range(&self, _: &TopicPartition) -> Result<(i64, i64)> {
            if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
                Err(LogError::Unavailable("down".into()))
            } else {
                Ok((0, 7))
            }
        }
        async fn commit_offsets(&self, _: &str, _: &[(TopicPartition, i64)]) -> Result<()> {
            Ok(())
        }
        async fn committed_offsets(
            &self,
            _: &str,
            _: &[TopicPartition],
        ) -> Result<HashMap<TopicPartition, i64>> {
            Ok(HashMap::new())
        }
        async fn close(&self) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unavailability_is_retried_until_the_deadline_other_errors_are_not() {
        let flaky = Arc::new(Flaky {
            failures: 3,
            calls: AtomicUsize::new(0),
        });
        let log = RetryingLog::new(flaky.clone(), Duration::from_secs(10));
        let tp = TopicPartition::new("t", 0);
        assert_eq!(log.offset_range(&tp).await.unwrap(), (0, 7));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 4);
        // Never available: gives up after the deadline with the last error.
        let started = Instant::now();
        let err = log.append(&tp, Bytes::new()).await.unwrap_err();
        assert!(matches!(err, LogError::Unavailable(_)), "{err}");
        assert!(
            started.elapsed() >= Duration::from_secs(9),
            "{:?}",
            started.elapsed()
        );
        // Not an unavailability: no retry.
        let err = log
            .create_topic(NewTopic {
                name: "x".into(),
                partitions: 1,
                configs: Default::default(),
            })
            .await
            .unwrap_err();
        assert!(matches!(err, LogError::Remote(_)), "{err}");
    }
}
