//! One function per API: a decoded request in, a response body out. Errors of the log engine
//! become Kafka error codes in one place ([`error_code`]).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::Shared;
use super::producers::{SeqCheck, SeqError, last_seq, lock_partition};
use crate::coordinator::{CommitOffset, JoinArgs, OFFSETS_TOPIC};
use ferry_log::{KNOWN_TOPIC_CONFIGS, OffsetSpec, PartitionLog, TopicConfig, TopicMetadata};
use crate::protocol::{Request, api_versions_response};
use ferry_record::{self as record, LOG_OVERHEAD};

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

/// A stable topic id derived from the name (the log engine keeps no ids): two FNV-1a 64-bit
/// hashes with different offsets, never the reserved ids 0 and 1. A topic re-created under
/// the same name keeps its id (Kafka would assign a new one).
pub(crate) fn topic_id(name: &str) -> Uuid {
    let fnv = |basis: u64| {
        name.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    let hi = fnv(0xcbf2_9ce4_8422_2325);
    let lo = fnv(0x6c62_272e_07bb_0142) | 2;
    Uuid::from_u64_pair(hi, lo)
}

/// The one mapping of log-engine errors to Kafka error codes.
pub(crate) fn error_code(e: &ferry_log::Error) -> i16 {
    use ferry_log::Error as L;
    match e {
        L::UnknownTopic(_) | L::UnknownPartition { .. } => E::UnknownTopicOrPartition.code(),
        L::TopicAlreadyExists(_) => E::TopicAlreadyExists.code(),
        L::InvalidTopicName { .. } => E::InvalidTopicException.code(),
        L::InvalidConfig { .. } => E::InvalidConfig.code(),
        L::OffsetOutOfRange { .. } => E::OffsetOutOfRange.code(),
        L::RecordTooLarge { .. } => E::MessageTooLarge.code(),
        L::CorruptBatch { .. } => E::CorruptMessage.code(),
        L::UnsupportedCompression { .. } => E::UnsupportedCompressionType.code(),
        L::Closed(_) => E::NotLeaderOrFollower.code(),
        _ => E::KafkaStorageError.code(),
    }
}

/// Answers one request; `None` for Produce with acks=0 (no response is sent).
pub(super) async fn handle(
    sh: &Arc<Shared>,
    req: Request,
    peer: SocketAddr,
) -> Option<ResponseKind> {
    let Request { header, body, .. } = req;
    let v = header.request_api_version;
    let client_id = header
        .client_id
        .as_ref()
        .map(|c| c.to_string())
        .unwrap_or_default();
    // The header's strings are slices of the request frame: drop them so that Produce's
    // records can become the frame's only owner (append without a copy).
    drop(header);
    Some(match body {
        RequestKind::ApiVersions(_) => api_versions_response(0).into(),
        RequestKind::Metadata(r) => metadata(sh, r, v).into(),
        RequestKind::Produce(r) => return produce(sh, r, v).map(Into::into),
        RequestKind::Fetch(r) => fetch(sh, r, v).await.into(),
        RequestKind::ListOffsets(r) => list_offsets(sh, r, v).into(),
        RequestKind::InitProducerId(r) => init_producer_id(sh, r).into(),
        RequestKind::CreateTopics(r) => create_topics(sh, r, v).into(),
        RequestKind::DeleteTopics(r) => delete_topics(sh, r, v).into(),
        RequestKind::CreatePartitions(r) => create_partitions(sh, r).into(),
        RequestKind::DescribeConfigs(r) => describe_configs(sh, r, v).into(),
        RequestKind::AlterConfigs(r) => alter_configs(sh, r).into(),
        RequestKind::IncrementalAlterConfigs(r) => incremental_alter_configs(sh, r).into(),
        RequestKind::FindCoordinator(r) => find_coordinator(sh, r, v).into(),
        RequestKind::JoinGroup(r) => join_group(sh, r, v, client_id, peer).await.into(),
        RequestKind::SyncGroup(r) => sync_group(sh, r, v).await.into(),
        RequestKind::Heartbeat(r) => heartbeat(sh, r).into(),
        RequestKind::LeaveGroup(r) => leave_group(sh, r, v).into(),
        RequestKind::OffsetCommit(r) => offset_commit(sh, r, v).into(),
        RequestKind::OffsetFetch(r) => offset_fetch(sh, r, v).into(),
        RequestKind::ListGroups(r) => list_groups(sh, r).into(),
        RequestKind::DescribeGroups(r) => describe_groups(sh, r).into(),
        RequestKind::DeleteGroups(r) => delete_groups(sh, r).into(),
        RequestKind::OffsetDelete(r) => offset_delete(sh, r).into(),
        other => {
            // decode_request only lets SUPPORTED_APIS through; this is a bug if reached.
            tracing::error!(request = ?other, "no handler for a supported API");
            return None;
        }
    })
}

// ---------------------------------------------------------------------------------------
// Metadata

fn broker(sh: &Shared) -> metadata_response::MetadataResponseBroker {
    let mut b = metadata_response::MetadataResponseBroker::default();
    b.node_id = BrokerId(sh.config.node_id);
    b.host = s(sh.advertised.0.clone());
    b.port = sh.advertised.1;
    b
}

fn topic_metadata(
    sh: &Shared,
    name: &str,
    meta: Result<TopicMetadata, i16>,
) -> metadata_response::MetadataResponseTopic {
    let mut t = metadata_response::MetadataResponseTopic::default();
    t.name = Some(topic_name(name));
    match meta {
        Ok(meta) => {
            t.topic_id = topic_id(name);
            t.is_internal = name == OFFSETS_TOPIC;
            let node = BrokerId(sh.config.node_id);
            t.partitions = (0..meta.partitions as i32)
                .map(|p| {
                    let mut part = metadata_response::MetadataResponsePartition::default();
                    part.partition_index = p;
                    part.leader_id = node;
                    part.leader_epoch = 0;
                    part.replica_nodes = vec![node];
                    part.isr_nodes = vec![node];
                    part
                })
                .collect();
        }
        Err(code) => t.error_code = code,
    }
    t
}

/// The topic, created first when auto-creation applies.
fn topic_or_create(sh: &Shared, name: &str, allow_create: bool) -> Result<TopicMetadata, i16> {
    if let Some(meta) = sh.log.topic(name) {
        return Ok(meta);
    }
    if !(allow_create && sh.config.auto_create_topics) {
        return Err(E::UnknownTopicOrPartition.code());
    }
    match sh
        .log
        .create_topic(name, sh.config.num_partitions, BTreeMap::new())
    {
        // The log manager logs the creation (one line per topic created).
        Ok(()) => tracing::debug!(topic = name, "topic auto-created on request"),
        Err(ferry_log::Error::TopicAlreadyExists(_)) => {}
        Err(e) => {
            tracing::info!(topic = name, error = %e, "cannot auto-create topic");
            return Err(error_code(&e));
        }
    }
    sh.log.topic(name).ok_or(E::UnknownTopicOrPartition.code())
}

fn metadata(sh: &Shared, req: MetadataRequest, version: i16) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    resp.brokers = vec![broker(sh)];
    if version >= 2 {
        resp.cluster_id = Some(s(sh.config.cluster_id.clone()));
    }
    if version >= 1 {
        resp.controller_id = BrokerId(sh.config.node_id);
    }
    let requested = match req.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(t),
    };
    resp.topics = match requested {
        None => sh
            .log
            .topics()
            .into_iter()
            .map(|m| topic_metadata(sh, &m.name.clone(), Ok(m)))
            .collect(),
        Some(topics) => {
            let by_id: HashMap<Uuid, String> = if topics.iter().any(|t| t.name.is_none()) {
                sh.log
                    .topics()
                    .into_iter()
                    .map(|m| (topic_id(&m.name), m.name))
                    .collect()
            } else {
                HashMap::new()
            };
            topics
                .into_iter()
                .map(|t| {
                    let name = match &t.name {
                        Some(n) => n.to_string(),
                        None => match by_id.get(&t.topic_id) {
                            Some(n) => n.clone(),
                            None => {
                                let mut r = metadata_response::MetadataResponseTopic::default();
                                r.topic_id = t.topic_id;
                                r.error_code = E::UnknownTopicId.code();
                                return r;
                            }
                        },
                    };
                    let meta = topic_or_create(sh, &name, req.allow_auto_topic_creation);
                    topic_metadata(sh, &name, meta)
                })
                .collect()
        }
    };
    resp
}

// ---------------------------------------------------------------------------------------
// Produce

/// Metadata of one batch of a produce request, copied out so that no reference to the
/// request's buffer outlives the parse.
#[derive(Debug, Clone, Copy)]
struct BatchInfo {
    producer_id: i64,
    epoch: i16,
    first_seq: i32,
    count: i32,
}

fn partition_error(
    index: i32,
    code: i16,
    message: Option<String>,
) -> produce_response::PartitionProduceResponse {
    let mut p = produce_response::PartitionProduceResponse::default();
    p.index = index;
    p.error_code = code;
    p.base_offset = -1;
    p.error_message = message.map(s);
    p
}

/// (topic name, topic id, [(partition, records)]) taken out of a produce request.
type ProduceTopic = (String, Uuid, Vec<(i32, Option<Bytes>)>);

fn produce(sh: &Shared, req: ProduceRequest, version: i16) -> Option<ProduceResponse> {
    let ProduceRequest {
        acks,
        topic_data,
        transactional_id,
        ..
    } = req;
    let transactional = transactional_id.is_some();
    drop(transactional_id);
    let by_id: HashMap<Uuid, String> = if version >= 13 {
        sh.log
            .topics()
            .into_iter()
            .map(|m| (topic_id(&m.name), m.name))
            .collect()
    } else {
        HashMap::new()
    };
    // Take names and record slices out of the request so that, once the rest is dropped, a
    // partition's records are the only reference to their buffer and append needs no copy.
    let work: Vec<ProduceTopic> = topic_data
        .into_iter()
        .map(|t| {
            let name = if version >= 13 {
                by_id.get(&t.topic_id).cloned().unwrap_or_default()
            } else {
                t.name.to_string()
            };
            let parts = t
                .partition_data
                .into_iter()
                .map(|p| (p.index, p.records))
                .collect();
            (name, t.topic_id, parts)
        })
        .collect();
    let mut resp = ProduceResponse::default();
    for (name, id, parts) in work {
        let mut t = produce_response::TopicProduceResponse::default();
        t.name = topic_name(&name);
        t.topic_id = id;
        for (index, records) in parts {
            let r = if !matches!(acks, -1..=1) {
                partition_error(index, E::InvalidRequiredAcks.code(), None)
            } else if transactional {
                partition_error(
                    index,
                    E::TransactionalIdAuthorizationFailed.code(),
                    Some("ferry broker does not support transactions yet".into()),
                )
            } else if name.is_empty() {
                partition_error(index, E::UnknownTopicId.code(), None)
            } else {
                produce_partition(sh, &name, index, records)
            };
            if r.error_code != 0 {
                tracing::debug!(topic = %name, partition = index, error_code = r.error_code, message = ?r.error_message, "produce refused");
            }
            t.partition_responses.push(r);
        }
        resp.responses.push(t);
    }
    (acks != 0).then_some(resp)
}

fn produce_partition(
    sh: &Shared,
    topic: &str,
    index: i32,
    records: Option<Bytes>,
) -> produce_response::PartitionProduceResponse {
    let log = match sh.log.partition(topic, index) {
        Ok(l) => l,
        Err(e) => return partition_error(index, error_code(&e), None),
    };
    let Some(records) = records.filter(|r| !r.is_empty()) else {
        return partition_error(index, E::CorruptMessage.code(), Some("no records".into()));
    };
    let mut infos = Vec::with_capacity(1);
    for batch in record::batches(records.clone()) {
        // magic is at byte 16 of a batch; anything below 2 is the legacy message format
        let batch = match batch {
            Ok(b) if b.magic() < record::MAGIC_V2 => {
                return partition_error(
                    index,
                    E::UnsupportedForMessageFormat.code(),
                    Some(format!(
                        "message format v{} (magic < 2) is not supported",
                        b.magic()
                    )),
                );
            }
            Ok(b) => b,
            Err(e) => {
                if records.len() > 16 && (records[16] as i8) < record::MAGIC_V2 {
                    return partition_error(
                        index,
                        E::UnsupportedForMessageFormat.code(),
                        Some("message format v0/v1 (magic < 2) is not supported".into()),
                    );
                }
                return partition_error(index, E::CorruptMessage.code(), Some(e.to_string()));
            }
        };
        if batch.is_transactional() || batch.is_control() {
            return partition_error(
                index,
                E::InvalidRecord.code(),
                Some("transactional batches are not supported yet".into()),
            );
        }
        infos.push(BatchInfo {
            producer_id: batch.producer_id(),
            epoch: batch.producer_epoch(),
            first_seq: batch.base_sequence(),
            count: batch.last_offset_delta() + 1,
        });
    }
    let Some(&first) = infos.first().filter(|b| b.producer_id >= 0) else {
        return append(&log, records, index);
    };
    let state = sh.producers.partition(&log);
    let mut state = lock_partition(&state);
    // Check the first batch against the state, the following ones against their predecessor.
    match state.check(
        first.producer_id,
        first.epoch,
        first.first_seq,
        last_seq(first.first_seq, first.count),
    ) {
        Ok(SeqCheck::Append) => {}
        Ok(SeqCheck::Duplicate { base_offset }) => {
            tracing::debug!(
                topic,
                partition = index,
                producer_id = first.producer_id,
                seq = first.first_seq,
                base_offset,
                "duplicate batch"
            );
            let mut p = partition_error(index, 0, None);
            p.base_offset = base_offset;
            p.log_start_offset = log.log_start_offset();
            return p;
        }
        Err(e) => {
            let code = match e {
                SeqError::OutOfOrder { .. } => E::OutOfOrderSequenceNumber.code(),
                SeqError::InvalidEpoch { .. } => E::InvalidProducerEpoch.code(),
            };
            return partition_error(index, code, Some(e.to_string()));
        }
    }
    for w in infos.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b.producer_id != a.producer_id
            || b.epoch != a.epoch
            || b.first_seq != last_seq(a.first_seq, a.count).wrapping_add(1).max(0)
        {
            return partition_error(
                index,
                E::OutOfOrderSequenceNumber.code(),
                Some("batches of one request are not in sequence".into()),
            );
        }
    }
    let resp = append(&log, records, index);
    if resp.error_code == 0 {
        let mut base = resp.base_offset;
        for b in &infos {
            state.record(
                b.producer_id,
                b.epoch,
                b.first_seq,
                last_seq(b.first_seq, b.count),
                base,
            );
            base += i64::from(b.count);
        }
    }
    resp
}

fn append(
    log: &PartitionLog,
    records: Bytes,
    index: i32,
) -> produce_response::PartitionProduceResponse {
    // No copy when `records` is the only reference to its buffer (see connection.rs).
    let mut data = BytesMut::from(records);
    // Stamp the partition leader epoch (0, as Metadata reports) like a Kafka leader does;
    // the field is outside the CRC.
    let mut pos = 0;
    while pos + LOG_OVERHEAD + 4 <= data.len() {
        let len =
            i32::from_be_bytes([data[pos + 8], data[pos + 9], data[pos + 10], data[pos + 11]]);
        data[pos + 12..pos + 16].copy_from_slice(&0i32.to_be_bytes());
        pos += LOG_OVERHEAD + usize::try_from(len).unwrap_or(usize::MAX / 2);
    }
    match log.append(data) {
        Ok(info) => {
            let mut p = partition_error(index, 0, None);
            p.base_offset = info.base_offset;
            p.log_start_offset = log.log_start_offset();
            p
        }
        Err(e) => {
            tracing::debug!(topic = log.topic(), partition = index, error = %e, "append refused");
            let code = match &e {
                ferry_log::Error::InvalidConfig { .. } => E::InvalidRecord.code(),
                e => error_code(e),
            };
            partition_error(index, code, Some(e.to_string()))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Fetch

struct FetchSlot {
    topic: usize,
    log: Option<Arc<PartitionLog>>,
    offset: i64,
    max_bytes: usize,
}

async fn fetch(sh: &Shared, req: FetchRequest, version: i16) -> FetchResponse {
    let mut resp = FetchResponse::default();
    if req.session_id != 0 {
        // No incremental fetch sessions (KIP-227): the client falls back to full fetches.
        resp.error_code = E::FetchSessionIdNotFound.code();
        return resp;
    }
    let by_id: HashMap<Uuid, String> = if version >= 13 {
        sh.log
            .topics()
            .into_iter()
            .map(|m| (topic_id(&m.name), m.name))
            .collect()
    } else {
        HashMap::new()
    };
    let mut slots = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let name = if version >= 13 {
            by_id.get(&t.topic_id).cloned()
        } else {
            Some(t.topic.to_string())
        };
        let mut rt = fetch_response::FetchableTopicResponse::default();
        rt.topic = topic_name(name.as_deref().unwrap_or_default());
        rt.topic_id = t.topic_id;
        for p in &t.partitions {
            let mut pd = fetch_response::PartitionData::default();
            pd.partition_index = p.partition;
            pd.high_watermark = -1;
            pd.last_stable_offset = -1;
            pd.log_start_offset = -1;
            pd.aborted_transactions = (req.isolation_level != 0).then(Vec::new);
            let log = match &name {
                None => {
                    pd.error_code = E::UnknownTopicId.code();
                    None
                }
                Some(n) => match sh.log.partition(n, p.partition) {
                    Ok(l) => Some(l),
                    Err(e) => {
                        pd.error_code = error_code(&e);
                        None
                    }
                },
            };
            rt.partitions.push(pd);
            slots.push(FetchSlot {
                topic: ti,
                log,
                offset: p.fetch_offset,
                max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
            });
        }
        resp.responses.push(rt);
    }
    let max_wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0);
    let deadline = Instant::now() + max_wait;
    loop {
        // Read every partition at its offset; stop at min_bytes, an error or the deadline.
        let mut total = 0usize;
        let mut any_error = false;
        let mut watch = Vec::new();
        let mut counters = vec![0usize; resp.responses.len()];
        for slot in &slots {
            let pi = counters[slot.topic];
            counters[slot.topic] += 1;
            let pd = &mut resp.responses[slot.topic].partitions[pi];
            let Some(log) = &slot.log else {
                any_error = true;
                continue;
            };
            let budget = if total == 0 {
                slot.max_bytes
            } else {
                slot.max_bytes.min(max_bytes.saturating_sub(total))
            };
            if budget == 0 && total > 0 {
                // response full: this partition reports its offsets and no records
                pd.error_code = 0;
                pd.high_watermark = log.log_end_offset();
                pd.last_stable_offset = pd.high_watermark;
                pd.log_start_offset = log.log_start_offset();
                pd.records = Some(Bytes::new());
                continue;
            }
            match log.read(slot.offset, budget.max(1)) {
                Ok(r) => {
                    pd.error_code = 0;
                    pd.high_watermark = r.high_watermark;
                    pd.last_stable_offset = r.high_watermark;
                    pd.log_start_offset = r.log_start_offset;
                    total += r.data.len();
                    watch.push((log.clone(), r.high_watermark));
                    pd.records = Some(r.data);
                }
                Err(e) => {
                    pd.error_code = error_code(&e);
                    pd.high_watermark = log.log_end_offset();
                    pd.last_stable_offset = pd.high_watermark;
                    pd.log_start_offset = log.log_start_offset();
                    pd.records = Some(Bytes::new());
                    any_error = true;
                }
            }
        }
        let now = Instant::now();
        if total >= min_bytes.max(1) || any_error || now >= deadline || watch.is_empty() {
            return resp;
        }
        // Long poll: wait until any partition grows, then read again.
        let remaining = deadline - now;
        let mut waits = tokio::task::JoinSet::new();
        for (log, leo) in watch {
            waits.spawn(async move { log.wait_for(leo, remaining).await });
        }
        let _ = waits.join_next().await;
        waits.abort_all();
    }
}

// ---------------------------------------------------------------------------------------
// ListOffsets

fn list_offsets(sh: &Shared, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
    let mut resp = ListOffsetsResponse::default();
    for t in req.topics {
        let mut rt = list_offsets_response::ListOffsetsTopicResponse::default();
        for p in t.partitions {
            let mut rp = list_offsets_response::ListOffsetsPartitionResponse::default();
            rp.partition_index = p.partition_index;
            rp.timestamp = -1;
            rp.offset = -1;
            if version >= 4 {
                rp.leader_epoch = 0;
            }
            let spec = match p.timestamp {
                -4 => OffsetSpec::Earliest, // earliest-local: everything is local
                -5 => OffsetSpec::Latest,   // latest-tiered: nothing is tiered
                -3 => {
                    rp.error_code = E::UnsupportedVersion.code();
                    rt.partitions.push(rp);
                    continue;
                }
                ts => OffsetSpec::from_kafka(ts),
            };
            match sh
                .log
                .partition(&t.name, p.partition_index)
                .and_then(|l| l.list_offset(spec))
            {
                Ok(Some(found)) => {
                    rp.offset = found.offset;
                    rp.timestamp = found.timestamp;
                }
                Ok(None) => {}
                Err(e) => rp.error_code = error_code(&e),
            }
            rt.partitions.push(rp);
        }
        rt.name = t.name;
        resp.topics.push(rt);
    }
    resp
}

// ---------------------------------------------------------------------------------------
// Producers

fn init_producer_id(sh: &Shared, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    if req.transactional_id.is_some() {
        tracing::info!(
            "InitProducerId with a transactional.id refused: transactions are not supported yet"
        );
        resp.error_code = E::TransactionalIdAuthorizationFailed.code();
        resp.producer_id = ProducerId(-1);
        resp.producer_epoch = -1;
        return resp;
    }
    // KIP-360: a known producer asks for an epoch bump; otherwise a fresh id.
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
    } else {
        resp.producer_id = ProducerId(sh.producers.new_id());
        resp.producer_epoch = 0;
    }
    resp
}

// ---------------------------------------------------------------------------------------
// Topics admin

fn create_topics(sh: &Shared, req: CreateTopicsRequest, version: i16) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    for t in req.topics {
        let name = t.name.to_string();
        let mut r = create_topics_response::CreatableTopicResult::default();
        r.name = t.name.clone();
        let fail =
            |r: &mut create_topics_response::CreatableTopicResult, code: i16, msg: String| {
                tracing::info!(topic = %r.name.as_str(), error = %msg, "CreateTopics refused");
                r.error_code = code;
                if version >= 1 {
                    r.error_message = Some(s(msg));
                }
            };
        let partitions = match (t.num_partitions, t.assignments.len()) {
            (-1, 0) => sh.config.num_partitions as i32,
            (-1, n) => n as i32,
            (n, _) => n,
        };
        let replication = match t.replication_factor {
            -1 => 1,
            n => n,
        };
        if replication != 1 {
            fail(
                &mut r,
                E::InvalidReplicationFactor.code(),
                format!(
                    "replication factor {} is not possible: ferry broker is a single node without replication (use 1 or -1)",
                    t.replication_factor
                ),
            );
        } else if partitions < 1 || partitions as u32 > ferry_log::MAX_PARTITIONS {
            fail(
                &mut r,
                E::InvalidPartitions.code(),
                format!(
                    "number of partitions {partitions} must be between 1 and {}",
                    ferry_log::MAX_PARTITIONS
                ),
            );
        } else if t.assignments.iter().any(|a| {
            a.broker_ids.iter().any(|b| b.0 != sh.config.node_id) || a.broker_ids.len() != 1
        }) {
            fail(
                &mut r,
                E::InvalidReplicaAssignment.code(),
                format!(
                    "replica assignments may only name broker {}",
                    sh.config.node_id
                ),
            );
        } else {
            let configs: BTreeMap<String, String> = t
                .configs
                .iter()
                .filter_map(|c| {
                    c.value
                        .as_ref()
                        .map(|v| (c.name.to_string(), v.to_string()))
                })
                .collect();
            let result = if req.validate_only {
                ferry_log::validate_topic_name(&name)
                    .and_then(|()| {
                        sh.log
                            .config()
                            .defaults
                            .with_overrides(&configs)
                            .map(|_| ())
                    })
                    .and_then(|()| match sh.log.topic(&name) {
                        Some(_) => Err(ferry_log::Error::TopicAlreadyExists(name.clone())),
                        None => Ok(()),
                    })
            } else {
                sh.log.create_topic(&name, partitions as u32, configs)
            };
            match result {
                Ok(()) => {
                    r.topic_id = topic_id(&name);
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                }
                Err(e) => fail(&mut r, error_code(&e), e.to_string()),
            }
        }
        if r.error_code != 0 {
            r.num_partitions = -1;
            r.replication_factor = -1;
        }
        if version >= 5 {
            r.configs = None;
        }
        resp.topics.push(r);
    }
    resp
}

fn delete_topics(sh: &Shared, req: DeleteTopicsRequest, version: i16) -> DeleteTopicsResponse {
    let mut resp = DeleteTopicsResponse::default();
    let mut targets: Vec<(Option<String>, Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.to_string()), Uuid::nil()))
        .collect();
    if version >= 6 {
        let by_id: HashMap<Uuid, String> = sh
            .log
            .topics()
            .into_iter()
            .map(|m| (topic_id(&m.name), m.name))
            .collect();
        targets.extend(req.topics.iter().map(|t| match &t.name {
            Some(n) => (Some(n.to_string()), t.topic_id),
            None => (by_id.get(&t.topic_id).cloned(), t.topic_id),
        }));
    }
    for (name, id) in targets {
        let mut r = delete_topics_response::DeletableTopicResult::default();
        r.topic_id = id;
        match name {
            None => r.error_code = E::UnknownTopicId.code(),
            Some(name) => {
                r.name = Some(topic_name(&name));
                if name == OFFSETS_TOPIC {
                    r.error_code = E::InvalidTopicException.code();
                    if version >= 5 {
                        r.error_message =
                            Some(s("the internal topic __consumer_offsets cannot be deleted"));
                    }
                } else {
                    match sh.log.delete_topic(&name) {
                        Ok(()) => {
                            sh.producers.forget_topic(&name);
                            if version >= 6 {
                                r.topic_id = topic_id(&name);
                            }
                        }
                        Err(e) => {
                            r.error_code = error_code(&e);
                            if version >= 5 {
                                r.error_message = Some(s(e.to_string()));
                            }
                        }
                    }
                }
            }
        }
        resp.responses.push(r);
    }
    resp
}

fn create_partitions(sh: &Shared, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let mut resp = CreatePartitionsResponse::default();
    let mut seen = std::collections::HashSet::new();
    let duplicates: std::collections::HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.to_string()))
        .map(|t| t.name.to_string())
        .collect();
    for t in req.topics {
        let name = t.name.to_string();
        let node = sh.config.node_id;
        let result: Result<(), (i16, String)> = if duplicates.contains(&name) {
            Err((
                E::InvalidRequest.code(),
                format!("topic '{name}' appears more than once in the request"),
            ))
        } else if name == OFFSETS_TOPIC {
            Err((
                E::InvalidPartitions.code(),
                format!("the partitions of the internal topic {OFFSETS_TOPIC} cannot change"),
            ))
        } else if let Some(bad) = t.assignments.as_ref().and_then(|a| {
            a.iter()
                .find(|a| a.broker_ids.len() != 1 || a.broker_ids[0].0 != node)
        }) {
            Err((
                E::InvalidReplicaAssignment.code(),
                format!(
                    "replica assignment {:?} is not possible: ferry broker is the single node {node}",
                    bad.broker_ids.iter().map(|b| b.0).collect::<Vec<_>>()
                ),
            ))
        } else {
            match sh.log.topic(&name) {
                None => Err((
                    E::UnknownTopicOrPartition.code(),
                    format!("unknown topic '{name}'"),
                )),
                Some(m) => {
                    let added = i64::from(t.count) - i64::from(m.partitions);
                    if t.count <= m.partitions as i32 || t.count as u32 > ferry_log::MAX_PARTITIONS
                    {
                        Err((
                            E::InvalidPartitions.code(),
                            format!(
                                "topic '{name}' has {} partitions; {} is not more (partitions can only be added, up to {})",
                                m.partitions,
                                t.count,
                                ferry_log::MAX_PARTITIONS
                            ),
                        ))
                    } else if t
                        .assignments
                        .as_ref()
                        .is_some_and(|a| a.len() as i64 != added)
                    {
                        Err((
                            E::InvalidReplicaAssignment.code(),
                            format!(
                                "{} replica assignments given for {added} new partitions",
                                t.assignments.as_ref().map_or(0, Vec::len)
                            ),
                        ))
                    } else if req.validate_only {
                        Ok(())
                    } else {
                        sh.log
                            .create_partitions(&name, t.count as u32)
                            .map_err(|e| (error_code(&e), e.to_string()))
                    }
                }
            }
        };
        let mut r = create_partitions_response::CreatePartitionsTopicResult::default();
        r.name = t.name;
        if let Err((code, msg)) = result {
            tracing::info!(topic = %name, error = %msg, "CreatePartitions refused");
            r.error_code = code;
            r.error_message = Some(s(msg));
        }
        resp.results.push(r);
    }
    resp
}

// ---------------------------------------------------------------------------------------
// Configs

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;

/// The effective default of a topic config, as Kafka names and formats it; `None` for the
/// accepted-but-ignored names without a known default.
fn topic_config_default(key: &str, d: &TopicConfig) -> Option<(String, i8)> {
    let long = |v: i64| Some((v.to_string(), TYPE_LONG));
    match key {
        "segment.bytes" => Some((d.segment_bytes.to_string(), TYPE_INT)),
        "segment.ms" => long(d.segment_ms as i64),
        "index.interval.bytes" => Some((d.index_interval_bytes.to_string(), TYPE_INT)),
        "flush.messages" => long(d.flush_messages.map_or(i64::MAX, |v| v as i64)),
        "flush.ms" => long(d.flush_ms.map_or(i64::MAX, |v| v as i64)),
        "retention.ms" => long(d.retention_ms.unwrap_or(-1)),
        "retention.bytes" => long(d.retention_bytes.map_or(-1, |v| v as i64)),
        "cleanup.policy" => {
            let mut v = Vec::new();
            if d.cleanup_policy.compact {
                v.push("compact");
            }
            if d.cleanup_policy.delete {
                v.push("delete");
            }
            Some((v.join(","), TYPE_LIST))
        }
        "delete.retention.ms" => long(d.delete_retention_ms as i64),
        "min.compaction.lag.ms" => long(d.min_compaction_lag_ms as i64),
        "max.message.bytes" => Some((d.max_message_bytes.to_string(), TYPE_INT)),
        "compression.type" => Some(("producer".into(), TYPE_STRING)),
        "message.timestamp.type" => Some(("CreateTime".into(), TYPE_STRING)),
        "min.insync.replicas" => Some(("1".into(), TYPE_INT)),
        "unclean.leader.election.enable" => Some(("false".into(), TYPE_BOOLEAN)),
        _ => None,
    }
}

fn config_entry(
    name: &str,
    value: String,
    source: i8,
    config_type: i8,
    version: i16,
    synonyms: bool,
) -> describe_configs_response::DescribeConfigsResourceResult {
    let mut c = describe_configs_response::DescribeConfigsResourceResult::default();
    c.name = s(name);
    c.value = Some(s(value.clone()));
    c.config_source = source;
    if version >= 3 {
        c.config_type = config_type;
    }
    if synonyms {
        let mut syn = describe_configs_response::DescribeConfigsSynonym::default();
        syn.name = s(name);
        syn.value = Some(s(value));
        syn.source = source;
        c.synonyms = vec![syn];
    }
    c
}

fn describe_configs(
    sh: &Shared,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    let synonyms = req.include_synonyms;
    for res in req.resources {
        let mut r = describe_configs_response::DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let wanted = |k: &str| {
            res.configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|w| w.as_str() == k))
        };
        match res.resource_type {
            RESOURCE_TOPIC => match sh.log.topic(&res.resource_name) {
                None => {
                    r.error_code = E::UnknownTopicOrPartition.code();
                    r.error_message =
                        Some(s(format!("unknown topic '{}'", res.resource_name.as_str())));
                }
                Some(meta) => {
                    let defaults = &sh.log.config().defaults;
                    for key in KNOWN_TOPIC_CONFIGS.iter().filter(|k| wanted(k)) {
                        let default = topic_config_default(key, defaults);
                        let entry = match (meta.configs.get(*key), default) {
                            (Some(v), d) => Some((
                                v.clone(),
                                SOURCE_DYNAMIC_TOPIC,
                                d.map_or(TYPE_STRING, |d| d.1),
                            )),
                            (None, Some((v, t))) => Some((v, SOURCE_DEFAULT, t)),
                            (None, None) => None,
                        };
                        if let Some((value, source, ty)) = entry {
                            r.configs
                                .push(config_entry(key, value, source, ty, version, synonyms));
                        }
                    }
                }
            },
            RESOURCE_BROKER => {
                let c = &sh.config;
                let entries = [
                    ("num.partitions", c.num_partitions.to_string(), TYPE_INT),
                    (
                        "auto.create.topics.enable",
                        c.auto_create_topics.to_string(),
                        TYPE_BOOLEAN,
                    ),
                    ("default.replication.factor", "1".to_string(), TYPE_INT),
                    (
                        "offsets.topic.replication.factor",
                        "1".to_string(),
                        TYPE_INT,
                    ),
                    (
                        "socket.request.max.bytes",
                        c.max_frame_size.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "group.min.session.timeout.ms",
                        c.group.min_session_timeout_ms.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "group.max.session.timeout.ms",
                        c.group.max_session_timeout_ms.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "group.initial.rebalance.delay.ms",
                        c.group.initial_rebalance_delay_ms.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "log.dirs",
                        sh.log.data_dir().display().to_string(),
                        TYPE_STRING,
                    ),
                ];
                for (k, v, t) in entries.into_iter().filter(|(k, _, _)| wanted(k)) {
                    r.configs.push(config_entry(
                        k,
                        v,
                        SOURCE_STATIC_BROKER,
                        t,
                        version,
                        synonyms,
                    ));
                }
            }
            other => {
                r.error_code = E::InvalidRequest.code();
                r.error_message = Some(s(format!("resource type {other} is not supported")));
            }
        }
        resp.results.push(r);
    }
    resp
}

/// Topic configs whose values are comma-separated lists (Kafka's LIST type): the only ones
/// IncrementalAlterConfigs may APPEND to or SUBTRACT from.
const LIST_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
];

/// Checks that the resource is an existing topic and the new overrides are valid, then (unless
/// `validate_only`) stores them. The error code and message of a refusal.
fn alter_topic_configs(
    sh: &Shared,
    resource_type: i8,
    name: &str,
    change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, (i16, String)>,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    if resource_type == RESOURCE_BROKER {
        return Err((
            E::InvalidRequest.code(),
            "broker configs of ferry broker are static (set them on the command line)".into(),
        ));
    }
    if resource_type != RESOURCE_TOPIC {
        return Err((
            E::InvalidRequest.code(),
            format!(
                "resource type {resource_type} is not supported; only topic configs can be altered"
            ),
        ));
    }
    let Some(meta) = sh.log.topic(name) else {
        return Err((
            E::UnknownTopicOrPartition.code(),
            format!("unknown topic '{name}'"),
        ));
    };
    let configs = change(&meta.configs)?;
    sh.log
        .config()
        .defaults
        .with_overrides(&configs)
        .map_err(|e| (error_code(&e), e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    sh.log
        .alter_topic_configs(name, configs)
        .map_err(|e| (error_code(&e), e.to_string()))
}

/// The names that occur more than once among `names`.
fn duplicate_names<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let dups: Vec<&str> = names.filter(|n| !seen.insert(*n)).collect();
    (!dups.is_empty()).then(|| format!("duplicate config keys: {}", dups.join(", ")))
}

/// AlterConfigs (the older, non-incremental API): the given configs replace all of a
/// topic's overrides; a key left out returns to its default.
fn alter_configs(sh: &Shared, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let configs: BTreeMap<String, String> = res
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        let dups = duplicate_names(res.configs.iter().map(|c| c.name.as_str()));
        let result = match dups {
            Some(msg) => Err((E::InvalidRequest.code(), msg)),
            None => alter_topic_configs(
                sh,
                res.resource_type,
                &name,
                |_| Ok(configs),
                req.validate_only,
            ),
        };
        let mut r = alter_configs_response::AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err((code, msg)) = result {
            tracing::info!(resource = %name, error = %msg, "AlterConfigs refused");
            r.error_code = code;
            r.error_message = Some(s(msg));
        }
        resp.responses.push(r);
    }
    resp
}

/// IncrementalAlterConfigs (KIP-339): SET, DELETE, APPEND and SUBTRACT on single keys, the
/// other overrides unchanged. All operations of one resource apply together or not at all.
fn incremental_alter_configs(
    sh: &Shared,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let ops = &res.configs;
        let change = |current: &BTreeMap<String, String>| {
            if let Some(msg) = duplicate_names(ops.iter().map(|c| c.name.as_str())) {
                return Err((E::InvalidRequest.code(), msg));
            }
            let defaults = &sh.log.config().defaults;
            let mut configs = current.clone();
            for op in ops {
                let key = op.name.to_string();
                let value = op.value.as_ref().map(|v| v.to_string());
                let invalid = |msg: String| Err((E::InvalidConfig.code(), msg));
                match op.config_operation {
                    SET => match value {
                        Some(v) => {
                            configs.insert(key, v);
                        }
                        None => return invalid(format!("SET of {key} needs a value")),
                    },
                    DELETE => {
                        configs.remove(&key);
                    }
                    APPEND | SUBTRACT => {
                        if !LIST_TOPIC_CONFIGS.contains(&key.as_str()) {
                            return invalid(format!(
                                "{key} is not a list config; APPEND and SUBTRACT apply only to {}",
                                LIST_TOPIC_CONFIGS.join(", ")
                            ));
                        }
                        let Some(v) = value else {
                            return invalid(format!("APPEND/SUBTRACT of {key} needs a value"));
                        };
                        let now = configs
                            .get(&key)
                            .cloned()
                            .or_else(|| topic_config_default(&key, defaults).map(|d| d.0))
                            .unwrap_or_default();
                        let mut items: Vec<String> = now
                            .split(',')
                            .map(str::trim)
                            .filter(|i| !i.is_empty())
                            .map(String::from)
                            .collect();
                        for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                            if op.config_operation == APPEND {
                                if !items.iter().any(|i| i == item) {
                                    items.push(item.to_string());
                                }
                            } else {
                                items.retain(|i| i != item);
                            }
                        }
                        if items.is_empty() && key == "cleanup.policy" {
                            return invalid(
                                "cleanup.policy cannot become empty: keep delete, compact or both"
                                    .into(),
                            );
                        }
                        configs.insert(key, items.join(","));
                    }
                    other => {
                        return Err((
                            E::InvalidRequest.code(),
                            format!("unknown config operation {other} for {key}"),
                        ));
                    }
                }
            }
            Ok(configs)
        };
        let result = alter_topic_configs(sh, res.resource_type, &name, change, req.validate_only);
        let mut r = incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err((code, msg)) = result {
            tracing::info!(resource = %name, error = %msg, "IncrementalAlterConfigs refused");
            r.error_code = code;
            r.error_message = Some(s(msg));
        }
        resp.responses.push(r);
    }
    resp
}

// ---------------------------------------------------------------------------------------
// Group coordinator

fn find_coordinator(
    sh: &Shared,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let mut resp = FindCoordinatorResponse::default();
    let (host, port) = (s(sh.advertised.0.clone()), sh.advertised.1);
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = find_coordinator_response::Coordinator::default();
                c.key = key;
                c.node_id = BrokerId(sh.config.node_id);
                c.host = host.clone();
                c.port = port;
                c
            })
            .collect();
    } else {
        resp.node_id = BrokerId(sh.config.node_id);
        resp.host = host;
        resp.port = port;
    }
    resp
}

async fn join_group(
    sh: &Shared,
    req: JoinGroupRequest,
    version: i16,
    client_id: String,
    peer: SocketAddr,
) -> JoinGroupResponse {
    let args = JoinArgs {
        group_id: req.group_id.to_string(),
        member_id: req.member_id.to_string(),
        group_instance_id: req.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id,
        client_host: format!("/{}", peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
    };
    let r = sh.groups.join(args).await;
    let mut resp = JoinGroupResponse::default();
    resp.error_code = r.error_code;
    resp.generation_id = r.generation_id;
    resp.member_id = s(r.member_id);
    resp.leader = s(r.leader);
    if version >= 7 {
        resp.protocol_type = r.protocol_type.map(s);
    }
    resp.protocol_name = match (r.protocol_name, version >= 7) {
        (Some(p), _) => Some(s(p)),
        (None, true) => None,
        (None, false) => Some(s("")),
    };
    resp.members = r
        .members
        .into_iter()
        .map(|m| {
            let mut jm = join_group_response::JoinGroupResponseMember::default();
            jm.member_id = s(m.member_id);
            if version >= 5 {
                jm.group_instance_id = m.group_instance_id.map(s);
            }
            jm.metadata = m.metadata;
            jm
        })
        .collect();
    resp
}

async fn sync_group(sh: &Shared, req: SyncGroupRequest, version: i16) -> SyncGroupResponse {
    let assignments = req
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let r = sh
        .groups
        .sync(
            &req.group_id,
            req.generation_id,
            &req.member_id,
            req.protocol_type.as_deref(),
            req.protocol_name.as_deref(),
            assignments,
        )
        .await;
    let mut resp = SyncGroupResponse::default();
    resp.error_code = r.error_code;
    resp.assignment = r.assignment;
    if version >= 5 {
        resp.protocol_type = r.protocol_type.map(s);
        resp.protocol_name = r.protocol_name.map(s);
    }
    resp
}

fn heartbeat(sh: &Shared, req: HeartbeatRequest) -> HeartbeatResponse {
    let mut resp = HeartbeatResponse::default();
    resp.error_code = sh
        .groups
        .heartbeat(&req.group_id, req.generation_id, &req.member_id);
    resp
}

fn leave_group(sh: &Shared, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let mut resp = LeaveGroupResponse::default();
    if version < 3 {
        let codes = sh.groups.leave(&req.group_id, &[req.member_id.to_string()]);
        resp.error_code = codes.0;
        if let Some(&c) = codes.1.first()
            && resp.error_code == 0
        {
            resp.error_code = c;
        }
    } else {
        let ids: Vec<String> = req
            .members
            .iter()
            .map(|m| m.member_id.to_string())
            .collect();
        let (code, per_member) = sh.groups.leave(&req.group_id, &ids);
        resp.error_code = code;
        resp.members = req
            .members
            .into_iter()
            .zip(per_member)
            .map(|(m, c)| {
                let mut r = leave_group_response::MemberResponse::default();
                r.member_id = m.member_id;
                r.group_instance_id = m.group_instance_id;
                r.error_code = c;
                r
            })
            .collect();
    }
    resp
}

fn offset_commit(sh: &Shared, req: OffsetCommitRequest, version: i16) -> OffsetCommitResponse {
    let mut commits = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            commits.push(CommitOffset {
                topic: t.name.to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 6 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p
                    .committed_metadata
                    .as_deref()
                    .unwrap_or_default()
                    .to_string(),
            });
        }
    }
    let codes = sh.groups.commit_offsets(
        &req.group_id,
        req.generation_id_or_member_epoch,
        &req.member_id,
        &commits,
    );
    let mut codes = codes.into_iter();
    let mut resp = OffsetCommitResponse::default();
    for t in req.topics {
        let mut rt = offset_commit_response::OffsetCommitResponseTopic::default();
        for p in t.partitions {
            let mut rp = offset_commit_response::OffsetCommitResponsePartition::default();
            rp.partition_index = p.partition_index;
            rp.error_code = codes.next().unwrap_or(E::UnknownServerError.code());
            rt.partitions.push(rp);
        }
        rt.name = t.name;
        rt.topic_id = t.topic_id;
        resp.topics.push(rt);
    }
    resp
}

fn offset_fetch(sh: &Shared, req: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    let lookup = |group: &str, topics: Option<Vec<(String, Vec<i32>)>>| {
        sh.groups.fetch_offsets(group, topics)
    };
    if version >= 8 {
        for g in req.groups {
            let topics = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name.to_string(), t.partition_indexes))
                    .collect()
            });
            let mut rg = offset_fetch_response::OffsetFetchResponseGroup::default();
            for (topic, parts) in lookup(&g.group_id, topics) {
                let mut rt = offset_fetch_response::OffsetFetchResponseTopics::default();
                rt.name = topic_name(&topic);
                if version >= 10 {
                    rt.topic_id = topic_id(&topic);
                }
                rt.partitions = parts
                    .into_iter()
                    .map(|o| {
                        let mut p = offset_fetch_response::OffsetFetchResponsePartitions::default();
                        p.partition_index = o.partition;
                        p.committed_offset = o.offset;
                        p.committed_leader_epoch = o.leader_epoch;
                        p.metadata = Some(s(o.metadata));
                        p
                    })
                    .collect();
                rg.topics.push(rt);
            }
            rg.group_id = g.group_id;
            resp.groups.push(rg);
        }
    } else {
        let topics = req.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name.to_string(), t.partition_indexes))
                .collect()
        });
        for (topic, parts) in lookup(&req.group_id, topics) {
            let mut rt = offset_fetch_response::OffsetFetchResponseTopic::default();
            rt.name = topic_name(&topic);
            rt.partitions = parts
                .into_iter()
                .map(|o| {
                    let mut p = offset_fetch_response::OffsetFetchResponsePartition::default();
                    p.partition_index = o.partition;
                    p.committed_offset = o.offset;
                    if version >= 5 {
                        p.committed_leader_epoch = o.leader_epoch;
                    }
                    p.metadata = Some(s(o.metadata));
                    p
                })
                .collect();
            resp.topics.push(rt);
        }
    }
    resp
}

fn list_groups(sh: &Shared, req: ListGroupsRequest) -> ListGroupsResponse {
    let mut resp = ListGroupsResponse::default();
    resp.groups = sh
        .groups
        .list()
        .into_iter()
        .filter(|g| {
            req.states_filter.is_empty()
                || req
                    .states_filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(g.state))
        })
        .filter(|_| {
            req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case("classic"))
        })
        .map(|g| {
            let mut l = list_groups_response::ListedGroup::default();
            l.group_id = GroupId(s(g.group_id));
            l.protocol_type = s(g.protocol_type);
            l.group_state = s(g.state);
            l.group_type = s("classic");
            l
        })
        .collect();
    resp
}

fn describe_groups(sh: &Shared, req: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    for gid in req.groups {
        let d = sh.groups.describe(&gid);
        let mut g = describe_groups_response::DescribedGroup::default();
        g.group_id = gid;
        g.group_state = s(d.state);
        g.protocol_type = s(d.protocol_type);
        g.protocol_data = s(d.protocol_name);
        g.members = d
            .members
            .into_iter()
            .map(|m| {
                let mut dm = describe_groups_response::DescribedGroupMember::default();
                dm.member_id = s(m.member_id);
                dm.group_instance_id = m.group_instance_id.map(s);
                dm.client_id = s(m.client_id);
                dm.client_host = s(m.client_host);
                dm.member_metadata = m.metadata;
                dm.member_assignment = m.assignment;
                dm
            })
            .collect();
        resp.groups.push(g);
    }
    resp
}

fn delete_groups(sh: &Shared, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut resp = DeleteGroupsResponse::default();
    for gid in req.groups_names {
        let mut r = delete_groups_response::DeletableGroupResult::default();
        r.error_code = sh.groups.delete(&gid);
        r.group_id = gid;
        resp.results.push(r);
    }
    resp
}

fn offset_delete(sh: &Shared, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    let partitions: Vec<(String, i32)> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.name.to_string(), p.partition_index))
        })
        .collect();
    let codes = match sh.groups.delete_offsets(&req.group_id, &partitions) {
        Ok(codes) => codes,
        Err(code) => {
            resp.error_code = code;
            return resp;
        }
    };
    let mut codes = codes.into_iter();
    for t in req.topics {
        let mut rt = offset_delete_response::OffsetDeleteResponseTopic::default();
        rt.partitions = t
            .partitions
            .iter()
            .map(|p| {
                let mut rp = offset_delete_response::OffsetDeleteResponsePartition::default();
                rp.partition_index = p.partition_index;
                rp.error_code = codes.next().unwrap_or(0);
                rp
            })
            .collect();
        rt.name = t.name;
        resp.topics.push(rt);
    }
    resp
}
