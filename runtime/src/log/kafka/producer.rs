//! The producer of [`KafkaLog`](super::KafkaLog): appends are batched with a linger, like
//! Kafka's producer, and made idempotent.
//!
//! One sender task owns everything in flight (Kafka's `Sender` thread). `append` hands it
//! the caller's encoded batches and waits for the offset. The sender waits up to `linger.ms`
//! from the first queued append (not at all once a partition has `batch.size` bytes
//! queued), then sends one Produce request per leader broker carrying, for every partition,
//! everything queued for it (up to `max.request.size` per partition), and waits for all of
//! them. What arrives meanwhile is sent next round, so under load batches grow by themselves
//! while a round is in flight. One round at a time means at most one request in flight per
//! partition, as Kafka Connect configures its producers
//! (`max.in.flight.requests.per.connection=1`): order holds per partition through retries.
//!
//! Idempotence (`enable.idempotence`, default on as in Kafka 3+): the sender gets a
//! producer id and epoch (InitProducerId) and stamps each batch with them and a sequence
//! number per partition, counting records (`ferry_record::set_producer`). A
//! partition's next sequence only moves on when the broker acknowledged the batch, and a
//! retried batch goes out again with the same producer id, epoch and sequence, so a retry of
//! a batch the broker did append (the response was lost: a disconnect, a timeout) is
//! recognised as a duplicate and answered with the first append's offset instead of being
//! written twice. A broker that lost the producer's state (OUT_OF_ORDER_SEQUENCE_NUMBER,
//! UNKNOWN_PRODUCER_ID) makes the sender bump its epoch (KIP-360: InitProducerId with the
//! current id and epoch; a new id if that is refused) and restart every partition at
//! sequence 0; that is the one case where a batch appended just before the broker lost its
//! state could be written again (Kafka's producer has the same window). Brokers that do not
//! offer InitProducerId get plain appends (logged once).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferry_api::TopicPartition;
use ferry_record::set_producer;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{InitProducerIdRequest, ProduceRequest, ProducerId};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::connection::Connection;
use super::{Client, KafkaError, REQUEST_TIMEOUT_MS, RETRIES, RETRY_BACKOFF, cap, name, retriable};
use crate::log::{LogError, Result};

/// Kafka's `linger.ms` default since Kafka 4.0.
pub(crate) const DEFAULT_LINGER: Duration = Duration::from_millis(5);
/// Kafka's `batch.size` default.
pub(crate) const DEFAULT_BATCH_SIZE: usize = 16_384;
/// Kafka's `max.request.size` default: the most bytes one request carries per partition.
pub(crate) const DEFAULT_MAX_REQUEST_SIZE: usize = 1_048_576;

const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const DUPLICATE_SEQUENCE_NUMBER: i16 = 46;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const UNKNOWN_PRODUCER_ID: i16 = 59;

/// How [`KafkaLog`](super::KafkaLog) produces (Kafka producer config names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `linger.ms`: how long the first queued append waits for others to share its request.
    pub linger: Duration,
    /// `batch.size`: a partition with this many bytes queued is sent without lingering.
    pub batch_size: usize,
    /// `max.request.size`: the most bytes of one partition in one request (an append larger
    /// than this still goes, alone).
    pub max_request_size: usize,
    /// `enable.idempotence`: producer id, epoch and sequence numbers on every batch.
    pub idempotence: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            linger: DEFAULT_LINGER,
            batch_size: DEFAULT_BATCH_SIZE,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            idempotence: true,
        }
    }
}

/// One `append` call waiting for its offset.
struct Pending {
    /// Frozen between rounds so that a request can share it without a copy; unique again
    /// (and so mutable without a copy) once the request that carried it is answered.
    data: Bytes,
    records: i32,
    attempts: usize,
    reply: oneshot::Sender<Result<i64>>,
}

/// The handle `append` uses; the sender task ends when it is dropped.
#[derive(Debug)]
pub(super) struct Producer {
    queue: mpsc::UnboundedSender<(TopicPartition, Pending)>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("bytes", &self.data.len())
            .field("records", &self.records)
            .finish()
    }
}

impl Producer {
    pub(super) fn start(client: Arc<Client>, config: ProducerConfig) -> Producer {
        let (queue, rx) = mpsc::unbounded_channel();
        tokio::spawn(Sender::new(client, config).run(rx));
        Producer { queue }
    }

    /// Queues `batches` (whole v2 batches) for `tp` and waits for the offset of its first
    /// record.
    pub(super) async fn append(&self, tp: &TopicPartition, batches: Bytes) -> Result<i64> {
        let records = count_records(&batches)?;
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            data: batches,
            records,
            attempts: 0,
            reply,
        };
        self.queue
            .send((tp.clone(), pending))
            .map_err(|_| KafkaError::Unavailable("the producer has stopped".into()))?;
        rx.await.map_err(|_| {
            KafkaError::Unavailable(format!("the producer stopped before {tp} was acknowledged"))
        })?
    }
}

/// Records in whole batches (the records count of each batch header).
fn count_records(data: &[u8]) -> Result<i32> {
    let corrupt = |why: &str| LogError::Corrupt(format!("append: {why}"));
    let mut pos = 0;
    let mut records = 0i32;
    while pos < data.len() {
        if data.len() < pos + 61 {
            return Err(corrupt("a batch header is cut short"));
        }
        let len =
            i32::from_be_bytes([data[pos + 8], data[pos + 9], data[pos + 10], data[pos + 11]]);
        let count = i32::from_be_bytes([
            data[pos + 57],
            data[pos + 58],
            data[pos + 59],
            data[pos + 60],
        ]);
        let size = usize::try_from(len).map_err(|_| corrupt("negative batch length"))? + 12;
        if data.len() < pos + size {
            return Err(corrupt("a batch is cut short"));
        }
        records = records.saturating_add(count.max(0));
        pos += size;
    }
    if pos == 0 {
        return Err(corrupt("no batches"));
    }
    Ok(records)
}

#[derive(Default)]
struct PartitionState {
    queue: VecDeque<Pending>,
    /// Sequence of the next record (idempotence); advanced on acknowledgement only.
    next_seq: i32,
}

/// Producer id and epoch; `None` when the broker has no idempotence to offer.
type Identity = Option<(i64, i16)>;

struct Sender {
    client: Arc<Client>,
    config: ProducerConfig,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    /// `None` until the first round needs it.
    identity: Option<Identity>,
}

/// What happened to one partition's share of a round.
enum Outcome {
    Acked(i64),
    Retry(KafkaError),
    Fail(KafkaError),
    Fence(KafkaError),
}

impl Sender {
    fn new(client: Arc<Client>, config: ProducerConfig) -> Sender {
        Sender {
            client,
            config,
            partitions: BTreeMap::new(),
            identity: None,
        }
    }

    fn queued(&self) -> bool {
        self.partitions.values().any(|p| !p.queue.is_empty())
    }

    fn enqueue(&mut self, tp: TopicPartition, p: Pending) {
        self.partitions.entry(tp).or_default().queue.push_back(p);
    }

    fn full(&self) -> bool {
        self.partitions
            .values()
            .any(|p| p.queue.iter().map(|q| q.data.len()).sum::<usize>() >= self.config.batch_size)
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<(TopicPartition, Pending)>) {
        let mut open = true;
        while open || self.queued() {
            if !self.queued() {
                match rx.recv().await {
                    Some((tp, p)) => self.enqueue(tp, p),
                    None => break,
                }
            }
            // Linger: give other appends the chance to share this round.
            let deadline = Instant::now() + self.config.linger;
            while open && !self.full() {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((tp, p))) => self.enqueue(tp, p),
                    Ok(None) => open = false,
                    Err(_) => break,
                }
            }
            // Everything already waiting joins too (it arrived during the last round).
            while let Ok((tp, p)) = rx.try_recv() {
                self.enqueue(tp, p);
            }
            self.round().await;
        }
    }

    /// The producer identity, asked for on first use. A broker that does not offer
    /// InitProducerId gets plain appends; any other failure is an error (the round waits).
    async fn identity(&mut self) -> Result<Identity, KafkaError> {
        if !self.config.idempotence {
            return Ok(None);
        }
        if let Some(id) = self.identity {
            return Ok(id);
        }
        match self.init_producer_id(None).await {
            Ok(id) => {
                self.identity = Some(id);
                Ok(id)
            }
            Err(KafkaError::Unsupported { addr, .. }) => {
                tracing::warn!(
                    broker = %addr,
                    "the broker does not offer InitProducerId: producing without idempotence"
                );
                self.identity = Some(None);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Counts a failed attempt against every queued append, failing those out of retries.
    fn fail_attempt(&mut self, e: &KafkaError) {
        for (tp, state) in &mut self.partitions {
            let queued = std::mem::take(&mut state.queue);
            for mut p in queued {
                p.attempts += 1;
                if p.attempts >= RETRIES {
                    tracing::warn!(partition = %tp, error = %e, "produce failed");
                    let _ = p.reply.send(Err(e.clone().into()));
                } else {
                    state.queue.push_back(p);
                }
            }
        }
    }

    /// InitProducerId; `current` asks for an epoch bump of an existing id (KIP-360).
    async fn init_producer_id(&self, current: Option<(i64, i16)>) -> Result<Identity, KafkaError> {
        let conn = self.client.any_connection().await?;
        let (pid, epoch) = current.unwrap_or((-1, -1));
        let request = InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(-1)
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch);
        let (response, _) = conn.send(request, cap::INIT_PRODUCER_ID).await?;
        if response.error_code != 0 {
            return Err(KafkaError::Broker {
                what: "InitProducerId".into(),
                code: response.error_code,
            });
        }
        tracing::debug!(
            producer_id = response.producer_id.0,
            epoch = response.producer_epoch,
            "idempotent producer identity"
        );
        Ok(Some((response.producer_id.0, response.producer_epoch)))
    }

    /// A new epoch (or a new id) after the broker lost this producer's state; every
    /// partition starts again at sequence 0.
    async fn fence(&mut self) {
        let current = self.identity.flatten();
        let bumped = match self.init_producer_id(current).await {
            Ok(id) => Ok(id),
            Err(_) if current.is_some() => self.init_producer_id(None).await,
            Err(e) => Err(e),
        };
        match bumped {
            Ok(id) => {
                tracing::info!(old = ?current, new = ?id, "producer epoch bumped; sequences restart");
                self.identity = Some(id);
            }
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId failed; will retry");
                self.identity = None;
            }
        }
        for p in self.partitions.values_mut() {
            p.next_seq = 0;
        }
    }

    /// Sends what is queued, one request per leader, and settles every partition.
    async fn round(&mut self) {
        let identity = match self.identity().await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(error = %e, "InitProducerId failed; will retry");
                self.fail_attempt(&e);
                tokio::time::sleep(RETRY_BACKOFF).await;
                return;
            }
        };
        // Take each partition's share: queued appends in order, up to max.request.size.
        let mut shares: Vec<(TopicPartition, Vec<Pending>, Bytes)> = Vec::new();
        for (tp, state) in &mut self.partitions {
            let mut taken = Vec::new();
            let mut bytes = 0;
            while let Some(p) = state.queue.front() {
                if !taken.is_empty() && bytes + p.data.len() > self.config.max_request_size {
                    break;
                }
                bytes += p.data.len();
                taken.extend(state.queue.pop_front());
            }
            if taken.is_empty() {
                continue;
            }
            let mut seq = state.next_seq;
            if let Some((pid, epoch)) = identity {
                for p in &mut taken {
                    let mut data = BytesMut::from(std::mem::take(&mut p.data));
                    // Framing was checked on append, so this cannot fail.
                    seq = set_producer(&mut data, pid, epoch, seq).unwrap_or(seq);
                    p.data = data.freeze();
                }
            }
            let records = if taken.len() == 1 {
                taken[0].data.clone()
            } else {
                let mut all = BytesMut::with_capacity(bytes);
                for p in &taken {
                    all.extend_from_slice(&p.data);
                }
                all.freeze()
            };
            shares.push((tp.clone(), taken, records));
        }
        self.partitions
            .retain(|_, s| !s.queue.is_empty() || s.next_seq != 0);
        if shares.is_empty() {
            return;
        }
        let outcomes = self.send(&shares).await;
        let mut fence = false;
        let mut backoff = false;
        for ((tp, taken, _), outcome) in shares.into_iter().zip(outcomes) {
            let state = self.partitions.entry(tp.clone()).or_default();
            match outcome {
                Outcome::Acked(base) => {
                    let mut offset = base;
                    let mut seq = state.next_seq;
                    for p in taken {
                        seq = ferry_record::next_sequence(seq, p.records);
                        let _ = p.reply.send(Ok(if base >= 0 { offset } else { -1 }));
                        offset += i64::from(p.records);
                    }
                    if identity.is_some() {
                        state.next_seq = seq;
                    }
                }
                Outcome::Retry(e) | Outcome::Fence(e)
                    if taken.iter().all(|p| p.attempts + 1 < RETRIES) =>
                {
                    fence |= matches!(&e, KafkaError::Broker { code, .. } if fenced(*code));
                    backoff = true;
                    tracing::debug!(partition = %tp, error = %e, "produce will be retried");
                    for mut p in taken.into_iter().rev() {
                        p.attempts += 1;
                        state.queue.push_front(p);
                    }
                }
                Outcome::Retry(e) | Outcome::Fence(e) | Outcome::Fail(e) => {
                    tracing::warn!(partition = %tp, error = %e, "produce failed");
                    for p in taken {
                        let _ = p.reply.send(Err(e.clone().into()));
                    }
                }
            }
        }
        if fence {
            self.fence().await;
        }
        if backoff {
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
    }

    /// One Produce request per leader, concurrently; an outcome per share, in order.
    async fn send(&self, shares: &[(TopicPartition, Vec<Pending>, Bytes)]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = (0..shares.len()).map(|_| None).collect();
        let mut by_leader: HashMap<String, (Arc<Connection>, Vec<usize>)> = HashMap::new();
        for (i, (tp, _, _)) in shares.iter().enumerate() {
            match self.client.leader(tp).await {
                Ok(conn) => by_leader
                    .entry(conn.addr().to_string())
                    .or_insert_with(|| (conn, Vec::new()))
                    .1
                    .push(i),
                Err(e) => outcomes[i] = Some(classify(e)),
            }
        }
        let mut requests = tokio::task::JoinSet::new();
        for (conn, indexes) in by_leader.into_values() {
            let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
            for &i in &indexes {
                let (tp, _, records) = &shares[i];
                topics.entry(&tp.topic).or_default().push(
                    PartitionProduceData::default()
                        .with_index(tp.partition)
                        .with_records(Some(records.clone())),
                );
            }
            let request = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(REQUEST_TIMEOUT_MS)
                .with_topic_data(
                    topics
                        .into_iter()
                        .map(|(t, ps)| {
                            TopicProduceData::default()
                                .with_name(name(t))
                                .with_partition_data(ps)
                        })
                        .collect(),
                );
            let keys: Vec<(usize, TopicPartition)> =
                indexes.iter().map(|&i| (i, shares[i].0.clone())).collect();
            requests.spawn(async move { (keys, conn.send(request, cap::PRODUCE).await) });
        }
        let mut refresh = Vec::new();
        while let Some(joined) = requests.join_next().await {
            let Ok((keys, response)) = joined else {
                continue;
            };
            let response = match response {
                Ok((r, _)) => r,
                Err(e) => {
                    for (i, tp) in keys {
                        refresh.push(tp.topic.clone());
                        outcomes[i] = Some(Outcome::Retry(e.clone()));
                    }
                    continue;
                }
            };
            for (i, tp) in keys {
                let found = response
                    .responses
                    .iter()
                    .filter(|t| t.name.0.as_str() == &*tp.topic)
                    .flat_map(|t| t.partition_responses.iter())
                    .find(|p| p.index == tp.partition);
                outcomes[i] = Some(match found {
                    None => Outcome::Retry(KafkaError::Codec(format!(
                        "the Produce response has no answer for {tp}"
                    ))),
                    Some(p) if p.error_code == 0 => Outcome::Acked(p.base_offset),
                    // An older duplicate than the broker caches: it was written, offset unknown.
                    Some(p) if p.error_code == DUPLICATE_SEQUENCE_NUMBER => Outcome::Acked(-1),
                    Some(p) => {
                        if retriable(p.error_code) {
                            refresh.push(tp.topic.clone());
                        }
                        classify(KafkaError::Broker {
                            what: format!(
                                "producing to {tp}{}",
                                p.error_message
                                    .as_ref()
                                    .map(|m| format!(" ({})", m.as_str()))
                                    .unwrap_or_default()
                            ),
                            code: p.error_code,
                        })
                    }
                });
            }
        }
        refresh.sort();
        refresh.dedup();
        for topic in refresh {
            let _ = self.client.refresh(Some(&[&topic])).await;
        }
        outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| Outcome::Retry(KafkaError::Unavailable("no answer".into())))
            })
            .collect()
    }
}

fn fenced(code: i16) -> bool {
    matches!(
        code,
        OUT_OF_ORDER_SEQUENCE_NUMBER | UNKNOWN_PRODUCER_ID | INVALID_PRODUCER_EPOCH
    )
}

fn classify(e: KafkaError) -> Outcome {
    match &e {
        KafkaError::Broker { code, .. } if fenced(*code) => Outcome::Fence(e),
        KafkaError::Broker { code, .. } if retriable(*code) => Outcome::Retry(e),
        KafkaError::Broker { .. } | KafkaError::Codec(_) | KafkaError::Unsupported { .. } => {
            Outcome::Fail(e)
        }
        KafkaError::Connect { .. } | KafkaError::Disconnected(_) | KafkaError::Unavailable(_) => {
            Outcome::Retry(e)
        }
    }
}
