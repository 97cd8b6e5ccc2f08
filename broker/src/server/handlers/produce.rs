//! Produce: a request's batches are checked (format v2, no transactional or control batches,
//! the sequence numbers of idempotent producers) and appended to the log as they arrived.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;
use uuid::Uuid;

use super::{Refusal, error_code, s, topic_name, topics_by_id};
use crate::server::Shared;
use crate::server::producers::{SeqCheck, SeqError, last_seq, lock_partition};
use ferry_log::PartitionLog;
use ferry_record::{self as record, LOG_OVERHEAD};

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

/// The partition's answer to an append at `base_offset`.
fn appended(
    index: i32,
    base_offset: i64,
    log: &PartitionLog,
) -> produce_response::PartitionProduceResponse {
    let mut p = partition_error(index, 0, None);
    p.base_offset = base_offset;
    p.log_start_offset = log.log_start_offset();
    p
}

/// The producer fields of each batch in `records`; a refusal when one is not a v2 batch, is
/// corrupt, or belongs to a transaction.
fn batch_infos(records: &Bytes) -> Result<Vec<BatchInfo>, Refusal> {
    let mut infos = Vec::with_capacity(1);
    for batch in record::batches(records.clone()) {
        // magic is at byte 16 of a batch; anything below 2 is the legacy message format
        let batch = match batch {
            Ok(b) if b.magic() < record::MAGIC_V2 => {
                return Err((
                    E::UnsupportedForMessageFormat.code(),
                    format!("message format v{} (magic < 2) is not supported", b.magic()),
                ));
            }
            Ok(b) => b,
            Err(e) => {
                if records.len() > 16 && (records[16] as i8) < record::MAGIC_V2 {
                    return Err((
                        E::UnsupportedForMessageFormat.code(),
                        "message format v0/v1 (magic < 2) is not supported".into(),
                    ));
                }
                return Err((E::CorruptMessage.code(), e.to_string()));
            }
        };
        if batch.is_transactional() || batch.is_control() {
            return Err((
                E::InvalidRecord.code(),
                "transactional batches are not supported yet".into(),
            ));
        }
        infos.push(BatchInfo {
            producer_id: batch.producer_id(),
            epoch: batch.producer_epoch(),
            first_seq: batch.base_sequence(),
            count: batch.last_offset_delta() + 1,
        });
    }
    Ok(infos)
}

/// (topic name, topic id, [(partition, records)]) taken out of a produce request.
type ProduceTopic = (String, Uuid, Vec<(i32, Option<Bytes>)>);

pub(super) fn produce(sh: &Shared, req: ProduceRequest, version: i16) -> Option<ProduceResponse> {
    let ProduceRequest {
        acks,
        topic_data,
        transactional_id,
        ..
    } = req;
    let transactional = transactional_id.is_some();
    drop(transactional_id);
    let by_id = if version >= 13 {
        topics_by_id(sh)
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
    let infos = match batch_infos(&records) {
        Ok(infos) => infos,
        Err((code, message)) => return partition_error(index, code, Some(message)),
    };
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
            return appended(index, base_offset, &log);
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
        Ok(info) => appended(index, info.base_offset, log),
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

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use crate::server::testing::*;

    #[tokio::test]
    async fn produce_refuses_old_formats_unknown_partitions_and_bad_acks() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        let mut old = BytesMut::from(&batch(1, None, 0)[..]);
        old[16] = 1; // magic 1
        let r = c.request(7, produce("t", 0, 1, old.freeze())).await;
        assert_eq!(produce_result(r).0, E::UnsupportedForMessageFormat.code());
        let r = c.request(7, produce("t", 5, 1, batch(1, None, 0))).await;
        assert_eq!(produce_result(r).0, E::UnknownTopicOrPartition.code());
        let r = c.request(7, produce("nope", 0, 1, batch(1, None, 0))).await;
        assert_eq!(produce_result(r).0, E::UnknownTopicOrPartition.code());
        let r = c.request(7, produce("t", 0, 2, batch(1, None, 0))).await;
        assert_eq!(produce_result(r).0, E::InvalidRequiredAcks.code());
        let mut bad_crc = BytesMut::from(&batch(1, None, 0)[..]);
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 0xff;
        let r = c.request(7, produce("t", 0, 1, bad_crc.freeze())).await;
        assert_eq!(produce_result(r).0, E::CorruptMessage.code());
        assert_eq!(b.log.partition("t", 0).unwrap().log_end_offset(), 0);
        b.shutdown().await;
    }

    #[tokio::test]
    async fn idempotent_producers_get_kafkas_sequence_semantics() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        let init = c
            .request(4, {
                let mut r = InitProducerIdRequest::default();
                r.transactional_id = None;
                r
            })
            .await;
        assert_eq!(init.error_code, 0);
        let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
        assert!(pid >= 0);
        let send = |seq: i32, n: usize| produce("t", 0, -1, batch(n, Some((pid, epoch, seq)), 0));
        assert_eq!(produce_result(c.request(9, send(0, 3)).await), (0, 0));
        // the same batch again (a retry): success with the original offset, nothing appended
        assert_eq!(produce_result(c.request(9, send(0, 3)).await), (0, 0));
        assert_eq!(b.log.partition("t", 0).unwrap().log_end_offset(), 3);
        // a gap
        let r = c.request(9, send(5, 1)).await;
        assert_eq!(produce_result(r).0, E::OutOfOrderSequenceNumber.code());
        assert_eq!(produce_result(c.request(9, send(3, 2)).await), (0, 3));
        // an older epoch after a bump
        let mut bump = InitProducerIdRequest::default();
        bump.transactional_id = None;
        bump.producer_id = ProducerId(pid);
        bump.producer_epoch = epoch;
        let bumped = c.request(4, bump).await;
        assert_eq!(
            (bumped.producer_id.0, bumped.producer_epoch),
            (pid, epoch + 1)
        );
        let r = c
            .request(
                9,
                produce("t", 0, -1, batch(1, Some((pid, epoch + 1, 0)), 0)),
            )
            .await;
        assert_eq!(produce_result(r), (0, 5));
        let r = c.request(9, send(5, 1)).await;
        assert_eq!(produce_result(r).0, E::InvalidProducerEpoch.code());
        // transactions are refused clearly
        let mut txn = InitProducerIdRequest::default();
        txn.transactional_id = Some(TransactionalId(s("tx")));
        let r = c.request(4, txn).await;
        assert_ne!(r.error_code, 0);
        b.shutdown().await;
    }

    #[tokio::test]
    async fn a_retry_after_a_restart_is_still_a_duplicate() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        let (pid, epoch) = (12345i64, 0i16);
        let send = |seq: i32, n: usize| produce("t", 0, -1, batch(n, Some((pid, epoch, seq)), 0));
        c.request(9, send(0, 2)).await;
        c.request(9, send(2, 3)).await;
        // a second server on the same log has no producer state in memory
        let again = b.restarted().await;
        let mut c2 = again.client().await;
        assert_eq!(produce_result(c2.request(9, send(2, 3)).await), (0, 2));
        assert_eq!(b.log.partition("t", 0).unwrap().log_end_offset(), 5);
        let r = c2.request(9, send(9, 1)).await;
        assert_eq!(produce_result(r).0, E::OutOfOrderSequenceNumber.code());
        assert_eq!(produce_result(c2.request(9, send(5, 1)).await), (0, 5));
        again.shutdown().await;
        b.shutdown().await;
    }
}
