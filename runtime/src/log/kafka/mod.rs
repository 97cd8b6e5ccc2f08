//! The log over the network: a Kafka-protocol client behind the [`Log`] trait, for
//! `ferry broker` or any Kafka-compatible cluster named by `bootstrap.servers`.
//!
//! Requests go to the partition leader (from Metadata), group offsets to the group
//! coordinator (FindCoordinator). Leadership changes and unknown topics refresh the metadata
//! and retry a bounded number of times. Record batches travel as the bytes the producer
//! encoded and the broker stored: nothing is re-encoded here.

mod connection;
mod group;
mod offsets;
mod producer;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use ferry_api::TopicPartition;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use self::connection::Connection;
use self::producer::Producer;
pub use self::producer::ProducerConfig;
use super::{FetchedPartition, JoinResult, Log, LogError, NewTopic, Result};

/// Errors of the Kafka client; they become [`LogError::Remote`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum KafkaError {
    /// The broker could not be reached.
    #[error("cannot connect to broker {addr}: {cause}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// Why.
        cause: String,
    },
    /// The connection dropped.
    #[error("connection to broker {0} closed")]
    Disconnected(String),
    /// The broker does not support an API this client needs.
    #[error("broker {addr} does not support API key {api} in a version Ferry speaks")]
    Unsupported {
        /// `host:port`.
        addr: String,
        /// The API key.
        api: i16,
    },
    /// A request or response could not be encoded or decoded.
    #[error("protocol error: {0}")]
    Codec(String),
    /// The broker answered with an error code.
    #[error("{what}: broker error {code} ({})", error_name(*.code))]
    Broker {
        /// What was asked.
        what: String,
        /// Kafka's error code.
        code: i16,
    },
    /// No broker could be reached or none knows the answer.
    #[error("{0}")]
    Unavailable(String),
}

/// Kafka's names of the error codes a Connect worker commonly meets.
fn error_name(code: i16) -> &'static str {
    match code {
        1 => "OFFSET_OUT_OF_RANGE",
        2 => "CORRUPT_MESSAGE",
        3 => "UNKNOWN_TOPIC_OR_PARTITION",
        5 => "LEADER_NOT_AVAILABLE",
        6 => "NOT_LEADER_OR_FOLLOWER",
        7 => "REQUEST_TIMED_OUT",
        10 => "MESSAGE_TOO_LARGE",
        14 => "COORDINATOR_LOAD_IN_PROGRESS",
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        17 => "INVALID_TOPIC_EXCEPTION",
        22 => "ILLEGAL_GENERATION",
        25 => "UNKNOWN_MEMBER_ID",
        27 => "REBALANCE_IN_PROGRESS",
        29 => "TOPIC_AUTHORIZATION_FAILED",
        30 => "GROUP_AUTHORIZATION_FAILED",
        35 => "UNSUPPORTED_VERSION",
        36 => "TOPIC_ALREADY_EXISTS",
        37 => "INVALID_PARTITIONS",
        38 => "INVALID_REPLICATION_FACTOR",
        41 => "NOT_CONTROLLER",
        87 => "INVALID_RECORD",
        _ => "see Kafka's protocol error codes",
    }
}

/// Error codes after which fresh metadata may help.
fn retriable(code: i16) -> bool {
    matches!(code, 3 | 5 | 6 | 7 | 14 | 15 | 16 | 41)
}

const RETRIES: usize = 5;
const RETRY_BACKOFF: Duration = Duration::from_millis(200);
const REQUEST_TIMEOUT_MS: i32 = 30_000;

/// Newest version of each API this client was written for.
mod cap {
    pub(super) const METADATA: i16 = 12;
    pub(super) const PRODUCE: i16 = 9;
    pub(super) const FETCH: i16 = 12;
    pub(super) const LIST_OFFSETS: i16 = 7;
    pub(super) const CREATE_TOPICS: i16 = 7;
    pub(super) const FIND_COORDINATOR: i16 = 3;
    pub(super) const OFFSET_COMMIT: i16 = 8;
    pub(super) const OFFSET_FETCH: i16 = 7;
    pub(super) const INIT_PRODUCER_ID: i16 = 4;
}

#[derive(Debug, Default)]
struct Cluster {
    brokers: HashMap<i32, String>,
    /// Leader broker per partition, by topic.
    topics: HashMap<String, Vec<i32>>,
    controller: Option<i32>,
    connections: HashMap<String, Arc<Connection>>,
    /// Idle connections for fetches. A broker answers a connection's requests in order, so
    /// a long-polling fetch would hold up everything behind it: each fetch in flight gets a
    /// connection of its own, like each Kafka consumer has.
    fetch_pool: HashMap<String, Vec<Arc<Connection>>>,
}

/// A Kafka-protocol client behind the [`Log`] trait.
#[derive(Debug)]
pub struct KafkaLog {
    client: Arc<Client>,
    producer: Producer,
}

/// Metadata, connections and the request helpers; shared with the producer's sender task.
#[derive(Debug)]
pub(crate) struct Client {
    bootstrap: Vec<String>,
    client_id: String,
    cluster: Mutex<Cluster>,
}

impl From<KafkaError> for LogError {
    fn from(e: KafkaError) -> Self {
        match e {
            // Worth retrying: the broker may be restarting.
            KafkaError::Connect { .. }
            | KafkaError::Disconnected(_)
            | KafkaError::Unavailable(_) => LogError::Unavailable(e.to_string()),
            e => LogError::Remote(e.to_string()),
        }
    }
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

impl KafkaLog {
    /// Connects to the first reachable bootstrap server and reads the cluster metadata;
    /// produces with Kafka's producer defaults ([`ProducerConfig::default`]).
    pub async fn connect(bootstrap: &[String], client_id: &str) -> Result<KafkaLog> {
        Self::connect_with(bootstrap, client_id, ProducerConfig::default()).await
    }

    /// [`KafkaLog::connect`] with producer settings (`linger.ms`, `batch.size`,
    /// `enable.idempotence`, ...).
    pub async fn connect_with(
        bootstrap: &[String],
        client_id: &str,
        producer: ProducerConfig,
    ) -> Result<KafkaLog> {
        if bootstrap.is_empty() {
            return Err(KafkaError::Unavailable("bootstrap.servers is empty".into()).into());
        }
        let client = Arc::new(Client {
            bootstrap: bootstrap.iter().map(|s| s.trim().to_string()).collect(),
            client_id: client_id.to_string(),
            cluster: Mutex::new(Cluster::default()),
        });
        client.refresh(None).await?;
        let producer = Producer::start(client.clone(), producer);
        Ok(KafkaLog { client, producer })
    }
}

impl Client {
    fn cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn connection(&self, addr: &str) -> Result<Arc<Connection>, KafkaError> {
        if let Some(c) = self
            .cluster()
            .connections
            .get(addr)
            .filter(|c| !c.is_closed())
        {
            return Ok(c.clone());
        }
        let conn = Arc::new(Connection::open(addr, &self.client_id).await?);
        tracing::debug!(broker = conn.addr(), "connected to broker");
        self.cluster()
            .connections
            .insert(addr.to_string(), conn.clone());
        Ok(conn)
    }

    async fn fetch_connection(&self, addr: &str) -> Result<Arc<Connection>, KafkaError> {
        let idle = self.cluster().fetch_pool.get_mut(addr).and_then(|pool| {
            pool.retain(|c| !c.is_closed());
            pool.pop()
        });
        match idle {
            Some(c) => Ok(c),
            None => Ok(Arc::new(Connection::open(addr, &self.client_id).await?)),
        }
    }

    fn return_fetch_connection(&self, conn: Arc<Connection>) {
        if !conn.is_closed() {
            self.cluster()
                .fetch_pool
                .entry(conn.addr().to_string())
                .or_default()
                .push(conn);
        }
    }

    /// A connection to any broker: known ones first, then the bootstrap list.
    async fn any_connection(&self) -> Result<Arc<Connection>, KafkaError> {
        let mut candidates: Vec<String> = self.cluster().brokers.values().cloned().collect();
        candidates.extend(self.bootstrap.iter().cloned());
        let mut last = None;
        for addr in candidates {
            match self.connection(&addr).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| KafkaError::Unavailable("no broker to connect to".into())))
    }

    async fn broker(&self, id: i32) -> Result<Arc<Connection>, KafkaError> {
        let addr = self.cluster().brokers.get(&id).cloned();
        match addr {
            Some(addr) => self.connection(&addr).await,
            None => Err(KafkaError::Unavailable(format!(
                "broker {id} is not in the metadata"
            ))),
        }
    }

    /// Reads metadata for `topics` (all topics when `None`).
    async fn refresh(&self, topics: Option<&[&str]>) -> Result<Vec<String>, KafkaError> {
        let conn = self.any_connection().await?;
        let request = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let (response, _) = conn.send(request, cap::METADATA).await?;
        let mut cluster = self.cluster();
        for b in &response.brokers {
            cluster
                .brokers
                .insert(b.node_id.0, format!("{}:{}", b.host.as_str(), b.port));
        }
        if response.controller_id.0 >= 0 {
            cluster.controller = Some(response.controller_id.0);
        }
        let mut found = Vec::new();
        for t in &response.topics {
            let Some(topic) = t.name.as_ref().map(|n| n.0.as_str().to_string()) else {
                continue;
            };
            if t.error_code != 0 {
                cluster.topics.remove(&topic);
                continue;
            }
            let mut leaders = vec![-1; t.partitions.len()];
            for p in &t.partitions {
                if let Some(slot) = usize::try_from(p.partition_index)
                    .ok()
                    .and_then(|i| leaders.get_mut(i))
                {
                    *slot = p.leader_id.0;
                }
            }
            cluster.topics.insert(topic.clone(), leaders);
            found.push(topic);
        }
        Ok(found)
    }

    async fn leader(&self, tp: &TopicPartition) -> Result<Arc<Connection>, KafkaError> {
        for attempt in 0..2 {
            let leader = self
                .cluster()
                .topics
                .get(&*tp.topic)
                .and_then(|l| l.get(usize::try_from(tp.partition).ok()?).copied());
            match leader {
                Some(id) if id >= 0 => return self.broker(id).await,
                _ if attempt == 0 => {
                    self.refresh(Some(&[&tp.topic])).await?;
                }
                _ => {}
            }
        }
        Err(KafkaError::Broker {
            what: format!("no leader for {tp}"),
            code: 3,
        })
    }

    async fn coordinator(&self, group: &str) -> Result<Arc<Connection>, KafkaError> {
        let conn = self.any_connection().await?;
        let request = FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(group.to_string()))
            .with_key_type(0);
        let (response, _) = conn.send(request, cap::FIND_COORDINATOR).await?;
        if response.error_code != 0 {
            return Err(KafkaError::Broker {
                what: format!("FindCoordinator for group {group}"),
                code: response.error_code,
            });
        }
        let addr = format!("{}:{}", response.host.as_str(), response.port);
        self.cluster()
            .brokers
            .insert(response.node_id.0, addr.clone());
        self.connection(&addr).await
    }

    async fn list_offset(&self, tp: &TopicPartition, timestamp: i64) -> Result<i64, KafkaError> {
        let mut last = None;
        for _ in 0..RETRIES {
            let conn = self.leader(tp).await?;
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![
                    ListOffsetsTopic::default()
                        .with_name(name(&tp.topic))
                        .with_partitions(vec![
                            ListOffsetsPartition::default()
                                .with_partition_index(tp.partition)
                                .with_current_leader_epoch(-1)
                                .with_timestamp(timestamp),
                        ]),
                ]);
            let (response, _) = conn.send(request, cap::LIST_OFFSETS).await?;
            let p = response
                .topics
                .first()
                .and_then(|t| t.partitions.first())
                .ok_or_else(|| KafkaError::Codec(format!("empty ListOffsets response for {tp}")))?;
            if p.error_code == 0 {
                return Ok(p.offset);
            }
            let e = KafkaError::Broker {
                what: format!("ListOffsets for {tp}"),
                code: p.error_code,
            };
            if !retriable(p.error_code) {
                return Err(e);
            }
            last = Some(e);
            tokio::time::sleep(RETRY_BACKOFF).await;
            self.refresh(Some(&[&tp.topic])).await?;
        }
        Err(last.unwrap_or_else(|| KafkaError::Unavailable(format!("ListOffsets for {tp}"))))
    }
}

/// Cuts a fetched buffer after its last complete record batch (brokers may return a partial
/// batch at the end when it does not fit the size limit).
fn complete_batches(data: Bytes) -> Bytes {
    let mut end = 0;
    while data.len() >= end + 12 {
        let len =
            i32::from_be_bytes([data[end + 8], data[end + 9], data[end + 10], data[end + 11]]);
        let Ok(len) = usize::try_from(len) else { break };
        let next = end + 12 + len;
        if next > data.len() {
            break;
        }
        end = next;
    }
    data.slice(..end)
}

#[async_trait]
impl Log for KafkaLog {
    async fn create_topic(&self, topic: NewTopic) -> Result<()> {
        self.create_topic_replicated(topic, -1).await
    }

    async fn create_topic_replicated(
        &self,
        topic: NewTopic,
        replication_factor: i16,
    ) -> Result<()> {
        let controller = self.client.cluster().controller;
        let conn = match controller {
            Some(id) => self.client.broker(id).await?,
            None => self.client.any_connection().await?,
        };
        let configs = topic
            .configs
            .iter()
            .map(|(k, v)| {
                CreatableTopicConfig::default()
                    .with_name(StrBytes::from_string(k.clone()))
                    .with_value(Some(StrBytes::from_string(v.clone())))
            })
            .collect();
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(REQUEST_TIMEOUT_MS)
            .with_topics(vec![
                CreatableTopic::default()
                    .with_name(name(&topic.name))
                    .with_num_partitions(topic.partitions as i32)
                    .with_replication_factor(replication_factor)
                    .with_configs(configs),
            ]);
        let (response, _) = conn.send(request, cap::CREATE_TOPICS).await?;
        let result = response
            .topics
            .first()
            .ok_or_else(|| KafkaError::Codec("empty CreateTopics response".into()))?;
        match result.error_code {
            0 => {
                self.client.refresh(Some(&[&topic.name])).await?;
                Ok(())
            }
            36 => Err(LogError::TopicExists(topic.name)),
            code => Err(KafkaError::Broker {
                what: format!(
                    "creating topic '{}'{}",
                    topic.name,
                    result
                        .error_message
                        .as_ref()
                        .map(|m| format!(" ({})", m.as_str()))
                        .unwrap_or_default()
                ),
                code,
            }
            .into()),
        }
    }

    async fn partition_count(&self, topic: &str) -> Result<Option<u32>> {
        if let Some(l) = self.client.cluster().topics.get(topic) {
            return Ok(Some(l.len() as u32));
        }
        self.client.refresh(Some(&[topic])).await?;
        Ok(self
            .client
            .cluster()
            .topics
            .get(topic)
            .map(|l| l.len() as u32))
    }

    async fn topics(&self) -> Result<Vec<String>> {
        let mut topics = self.client.refresh(None).await?;
        topics.sort();
        Ok(topics)
    }

    async fn append(&self, tp: &TopicPartition, batches: Bytes) -> Result<i64> {
        self.producer.append(tp, batches).await
    }

    async fn fetch(
        &self,
        partitions: &[(TopicPartition, i64)],
        max_bytes: usize,
        max_wait: Duration,
    ) -> Result<Vec<FetchedPartition>> {
        // One request per leader; run them concurrently.
        let mut by_leader: BTreeMap<String, Vec<(TopicPartition, i64)>> = BTreeMap::new();
        for (tp, offset) in partitions {
            let conn = self.client.leader(tp).await?;
            by_leader
                .entry(conn.addr().to_string())
                .or_default()
                .push((tp.clone(), *offset));
        }
        let mut requests = tokio::task::JoinSet::new();
        for (addr, parts) in by_leader {
            let conn = self.client.fetch_connection(&addr).await?;
            let mut topics: BTreeMap<Arc<str>, Vec<FetchPartition>> = BTreeMap::new();
            for (tp, offset) in &parts {
                topics.entry(tp.topic.clone()).or_default().push(
                    FetchPartition::default()
                        .with_partition(tp.partition)
                        .with_current_leader_epoch(-1)
                        .with_fetch_offset(*offset)
                        .with_last_fetched_epoch(-1)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(max_bytes.min(i32::MAX as usize) as i32),
                );
            }
            let request = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(max_wait.as_millis().min(i32::MAX as u128) as i32)
                .with_min_bytes(1)
                .with_max_bytes(i32::MAX)
                .with_isolation_level(0)
                .with_session_id(0)
                .with_session_epoch(-1)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, ps)| {
                            FetchTopic::default()
                                .with_topic(name(&t))
                                .with_partitions(ps)
                        })
                        .collect(),
                );
            requests.spawn(async move {
                let response = conn.send(request, cap::FETCH).await;
                (response, parts, conn)
            });
        }
        let mut out = Vec::with_capacity(partitions.len());
        while let Some(joined) = requests.join_next().await {
            let (response, parts, conn) =
                joined.map_err(|e| KafkaError::Unavailable(format!("fetch task failed: {e}")))?;
            self.client.return_fetch_connection(conn);
            let (response, _) = response?;
            if response.error_code != 0 {
                return Err(KafkaError::Broker {
                    what: "fetching".into(),
                    code: response.error_code,
                }
                .into());
            }
            for t in response.responses {
                let topic = t.topic.0.as_str().to_string();
                for p in t.partitions {
                    let tp = TopicPartition::new(topic.as_str(), p.partition_index);
                    match p.error_code {
                        0 => out.push(FetchedPartition {
                            partition: tp,
                            batches: complete_batches(p.records.unwrap_or_default()),
                            high_watermark: p.high_watermark,
                            log_start_offset: p.log_start_offset,
                        }),
                        1 => {
                            let offset =
                                parts.iter().find(|(x, _)| *x == tp).map_or(-1, |(_, o)| *o);
                            let log_start = self.client.list_offset(&tp, -2).await?;
                            let log_end = self.client.list_offset(&tp, -1).await?;
                            return Err(LogError::OffsetOutOfRange {
                                partition: tp,
                                offset,
                                log_start,
                                log_end,
                            });
                        }
                        code if retriable(code) => {
                            // Stale leadership: refresh, and report nothing this time.
                            self.client.refresh(Some(&[&topic])).await?;
                            out.push(FetchedPartition {
                                partition: tp,
                                batches: Bytes::new(),
                                high_watermark: -1,
                                log_start_offset: -1,
                            });
                        }
                        code => {
                            return Err(KafkaError::Broker {
                                what: format!("fetching {tp}"),
                                code,
                            }
                            .into());
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    async fn offset_range(&self, tp: &TopicPartition) -> Result<(i64, i64)> {
        let start = self.client.list_offset(tp, -2).await?;
        let end = self.client.list_offset(tp, -1).await?;
        Ok((start, end))
    }

    async fn commit_offsets(&self, group: &str, offsets: &[(TopicPartition, i64)]) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut topics: BTreeMap<Arc<str>, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for (tp, offset) in offsets {
            topics.entry(tp.topic.clone()).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(Some(StrBytes::from_static_str(""))),
            );
        }
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            // A "simple" commit outside group membership, accepted for groups without
            // active members.
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(StrBytes::from_static_str(""))
            .with_retention_time_ms(-1)
            .with_topics(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetCommitRequestTopic::default()
                            .with_name(name(&t))
                            .with_partitions(ps)
                    })
                    .collect(),
            );
        let conn = self.client.coordinator(group).await?;
        let (response, _) = conn.send(request, cap::OFFSET_COMMIT).await?;
        for t in &response.topics {
            for p in &t.partitions {
                if p.error_code != 0 {
                    return Err(KafkaError::Broker {
                        what: format!(
                            "committing offsets of group {group} for {}-{}",
                            t.name.0.as_str(),
                            p.partition_index
                        ),
                        code: p.error_code,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        if partitions.is_empty() {
            return Ok(HashMap::new());
        }
        let mut topics: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics
                .entry(tp.topic.clone())
                .or_default()
                .push(tp.partition);
        }
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.to_string())))
            .with_topics(Some(
                topics
                    .into_iter()
                    .map(|(t, ps)| {
                        OffsetFetchRequestTopic::default()
                            .with_name(name(&t))
                            .with_partition_indexes(ps)
                    })
                    .collect(),
            ));
        let conn = self.client.coordinator(group).await?;
        let (response, _) = conn.send(request, cap::OFFSET_FETCH).await?;
        if response.error_code != 0 {
            return Err(KafkaError::Broker {
                what: format!("fetching committed offsets of group {group}"),
                code: response.error_code,
            }
            .into());
        }
        Ok(offsets::committed(&response))
    }

    async fn delete_offsets(&self, group: &str, partitions: &[TopicPartition]) -> Result<()> {
        self.offset_delete(group, partitions).await
    }

    async fn group_offsets(&self, group: &str) -> Result<HashMap<TopicPartition, i64>> {
        self.offset_fetch_all(group).await
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
        self.client
            .group_join(
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
        self.client
            .group_sync(group, generation, member_id, assignments)
            .await
    }

    async fn heartbeat(&self, group: &str, generation: i32, member_id: &str) -> Result<()> {
        self.client
            .group_heartbeat(group, generation, member_id)
            .await
    }

    async fn leave_group(&self, group: &str, member_id: &str) -> Result<()> {
        self.client.group_leave(group, member_id).await
    }

    async fn close(&self) -> Result<()> {
        let mut cluster = self.client.cluster();
        cluster.connections.clear();
        cluster.fetch_pool.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_trailing_batches_are_cut() {
        let mut b = ferry_record::RecordBatchBuilder::new(0);
        b.append(0, None, Some(b"v"), &[]);
        let one = b.finish();
        let mut data = one.to_vec();
        data.extend_from_slice(&one);
        data.extend_from_slice(&one[..one.len() - 3]);
        let cut = complete_batches(Bytes::from(data));
        assert_eq!(cut.len(), one.len() * 2);
        assert_eq!(complete_batches(Bytes::from_static(&[0; 5])).len(), 0);
    }
}
