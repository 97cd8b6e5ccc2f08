//! Consumer-group offsets beyond commit and fetch: deleting them (OffsetDelete, API key 47,
//! how KIP-875 resets a sink connector) and listing all of a group's (OffsetFetch with no
//! topics).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ferry_api::TopicPartition;
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{
    GroupId, OffsetDeleteRequest, OffsetFetchRequest, OffsetFetchResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{KafkaError, KafkaLog, RETRIES, RETRY_BACKOFF, cap, name, retriable};
use crate::log::Result;

/// Newest OffsetDelete version this client was written for.
const OFFSET_DELETE: i16 = 0;
/// `GROUP_ID_NOT_FOUND`: the group has no offsets at all.
const GROUP_ID_NOT_FOUND: i16 = 69;

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

impl KafkaLog {
    /// OffsetDelete for `partitions` of `group`; a group without offsets is fine.
    pub(super) async fn offset_delete(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        if partitions.is_empty() {
            return Ok(());
        }
        let mut topics: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(tp.partition);
        }
        let request = OffsetDeleteRequest::default()
            .with_group_id(group_id(group))
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetDeleteRequestTopic::default()
                            .with_name(name(&t))
                            .with_partitions(
                                ps.into_iter()
                                    .map(|p| {
                                        OffsetDeleteRequestPartition::default()
                                            .with_partition_index(p)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let mut last = None;
        for _ in 0..RETRIES {
            let conn = self.client.coordinator(group).await?;
            let (response, _) = conn.send(request.clone(), OFFSET_DELETE).await?;
            match response.error_code {
                0 => {}
                GROUP_ID_NOT_FOUND => return Ok(()),
                code if retriable(code) => {
                    last = Some(KafkaError::Broker {
                        what: format!("deleting offsets of group {group}"),
                        code,
                    });
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                code => {
                    return Err(KafkaError::Broker {
                        what: format!("deleting offsets of group {group}"),
                        code,
                    }
                    .into());
                }
            }
            for t in &response.topics {
                for p in &t.partitions {
                    if p.error_code != 0 {
                        return Err(KafkaError::Broker {
                            what: format!(
                                "deleting the offset of group {group} for {}-{}",
                                t.name.0.as_str(),
                                p.partition_index
                            ),
                            code: p.error_code,
                        }
                        .into());
                    }
                }
            }
            return Ok(());
        }
        Err(last
            .unwrap_or_else(|| KafkaError::Unavailable(format!("deleting offsets of {group}")))
            .into())
    }

    /// Every committed offset of `group` (OffsetFetch with no topics).
    pub(super) async fn offset_fetch_all(
        &self,
        group: &str,
    ) -> Result<HashMap<TopicPartition, i64>> {
        let request = OffsetFetchRequest::default()
            .with_group_id(group_id(group))
            .with_topics(None);
        let conn = self.client.coordinator(group).await?;
        let (response, _) = conn.send(request, cap::OFFSET_FETCH).await?;
        if response.error_code != 0 && response.error_code != GROUP_ID_NOT_FOUND {
            return Err(KafkaError::Broker {
                what: format!("fetching committed offsets of group {group}"),
                code: response.error_code,
            }
            .into());
        }
        Ok(committed(&response))
    }
}

/// The committed offsets an OffsetFetch response carries; partitions without one (offset -1,
/// or a per-partition error) are left out.
pub(super) fn committed(response: &OffsetFetchResponse) -> HashMap<TopicPartition, i64> {
    let mut out = HashMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            if p.error_code == 0 && p.committed_offset >= 0 {
                out.insert(
                    TopicPartition::new(t.name.0.as_str(), p.partition_index),
                    p.committed_offset,
                );
            }
        }
    }
    out
}
