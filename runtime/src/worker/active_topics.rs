//! The topics each connector uses (Kafka Connect's active topics, KIP-558).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::statuses::{StatusStore, StatusStoreError, TopicStatus};

/// The topics each connector has used since it was created or its set was last reset
/// (Kafka Connect's active topics, KIP-558): a source's destination topics, a sink's
/// assigned ones. With a status store ([`ActiveTopics::stored_in`]) each topic seen for the
/// first time is recorded there as `status-topic-<topic>:connector-<name>`, so the sets
/// survive restarts and every worker of a group sees them; the herder feeds back what the
/// status topic holds ([`ActiveTopics::observe`]). Without one they live in memory only.
#[derive(Debug, Clone, Default)]
pub struct ActiveTopics {
    inner: Arc<TopicsInner>,
    /// The task recording through this handle (a handle per task).
    task: i32,
}

#[derive(Debug, Default)]
struct TopicsInner {
    sets: Mutex<BTreeMap<String, BTreeSet<String>>>,
    store: Option<Arc<StatusStore>>,
}

impl ActiveTopics {
    /// Sets kept in `store`, starting from what it holds (`(connector, topic)` pairs).
    pub fn stored_in(
        store: Arc<StatusStore>,
        known: impl IntoIterator<Item = (String, String)>,
    ) -> ActiveTopics {
        let topics = ActiveTopics {
            inner: Arc::new(TopicsInner {
                sets: Default::default(),
                store: Some(store),
            }),
            task: 0,
        };
        for (connector, topic) in known {
            topics.observe(&connector, &topic, true);
        }
        topics
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, BTreeSet<String>>> {
        self.inner.sets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The same sets, recording as task `task`.
    pub(crate) fn for_task(&self, task: usize) -> ActiveTopics {
        ActiveTopics {
            inner: self.inner.clone(),
            task: i32::try_from(task).unwrap_or(i32::MAX),
        }
    }

    /// Records that `connector` uses `topic` (called once per topic and task, not per
    /// record); a topic new to the set is written to the status store in the background.
    pub fn record(&self, connector: &str, topic: &str) {
        let new = self
            .lock()
            .entry(connector.to_string())
            .or_default()
            .insert(topic.to_string());
        if !new {
            return;
        }
        tracing::debug!(connector, topic, "active topic recorded");
        if let Some(store) = self.inner.store.clone() {
            let status = TopicStatus {
                topic: topic.to_string(),
                connector: connector.to_string(),
                task: self.task,
                discover_timestamp: ferry_record::now_ms(),
            };
            tokio::spawn(async move {
                if let Err(e) = store.put_topic(&status).await {
                    tracing::warn!(connector = %status.connector, topic = %status.topic, error = %e, "cannot record an active topic");
                }
            });
        }
    }

    /// Applies what the status topic says: `connector` uses `topic` (`present`), or its
    /// record was reset.
    pub fn observe(&self, connector: &str, topic: &str, present: bool) {
        let mut sets = self.lock();
        if present {
            sets.entry(connector.to_string())
                .or_default()
                .insert(topic.to_string());
        } else if let Some(set) = sets.get_mut(connector) {
            set.remove(topic);
            if set.is_empty() {
                sets.remove(connector);
            }
        }
    }

    /// The topics `connector` uses, sorted.
    pub fn topics(&self, connector: &str) -> Vec<String> {
        self.lock()
            .get(connector)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets the topics of `connector` (tombstones in the status store, when kept there);
    /// returns the set before.
    pub async fn reset(&self, connector: &str) -> Result<Vec<String>, StatusStoreError> {
        let topics: Vec<String> = self
            .lock()
            .remove(connector)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        if let Some(store) = &self.inner.store {
            for topic in &topics {
                store.delete_topic(topic, connector).await?;
            }
        }
        Ok(topics)
    }
}
