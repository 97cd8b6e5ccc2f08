//! Reading the log: Fetch (with long polling; records go out as the log stored them) and
//! ListOffsets (an offset by position or by timestamp).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;

use super::{error_code, topic_name, topics_by_id};
use crate::server::Shared;
use ferry_log::{OffsetSpec, PartitionLog};

struct FetchSlot {
    topic: usize,
    log: Option<Arc<PartitionLog>>,
    offset: i64,
    max_bytes: usize,
}

/// A partition answered without records: its offsets as the log has them now.
fn without_records(pd: &mut fetch_response::PartitionData, log: &PartitionLog, error_code: i16) {
    pd.error_code = error_code;
    pd.high_watermark = log.log_end_offset();
    pd.last_stable_offset = pd.high_watermark;
    pd.log_start_offset = log.log_start_offset();
    pd.records = Some(Bytes::new());
}

pub(super) async fn fetch(sh: &Shared, req: FetchRequest, version: i16) -> FetchResponse {
    let mut resp = FetchResponse::default();
    if req.session_id != 0 {
        // No incremental fetch sessions (KIP-227): the client falls back to full fetches.
        resp.error_code = E::FetchSessionIdNotFound.code();
        return resp;
    }
    let by_id = if version >= 13 {
        topics_by_id(sh)
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
                without_records(pd, log, 0);
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
                    without_records(pd, log, error_code(&e));
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

pub(super) fn list_offsets(
    sh: &Shared,
    req: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use bytes::BytesMut;

    use crate::server::testing::*;

    #[tokio::test]
    async fn produced_batches_are_fetched_byte_for_byte_compressed_or_not() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        let plain = batch(3, None, 0);
        let gzip = batch(2, None, 1); // attributes say gzip: stored as is, never decompressed
        let zstd = batch(4, None, 4);
        for (v, data, base) in [(3, &plain, 0), (9, &gzip, 3), (12, &zstd, 5)] {
            let r = c.request(v, produce("t", 0, -1, data.clone())).await;
            assert_eq!(produce_result(r), (0, base));
        }
        for v in [4i16, 11, 12, 13, 16, 18] {
            let (err, hw, records) = fetched(c.request(v, fetch("t", 0, 0, 1)).await);
            assert_eq!((err, hw), (0, 9), "fetch v{v}");
            let mut expected = BytesMut::new();
            for (data, base) in [(&plain, 0i64), (&gzip, 3), (&zstd, 5)] {
                let mut d = BytesMut::from(&data[..]);
                d[..8].copy_from_slice(&base.to_be_bytes());
                d[12..16].copy_from_slice(&0i32.to_be_bytes()); // leader epoch stamped by the broker
                expected.extend_from_slice(&d);
            }
            assert_eq!(records, expected.freeze(), "fetch v{v}");
        }
        // out of range
        let (err, _, _) = fetched(c.request(12, fetch("t", 100, 0, 1)).await);
        assert_eq!(err, E::OffsetOutOfRange.code());
        b.shutdown().await;
    }

    #[tokio::test]
    async fn fetch_long_polls_until_data_arrives_or_max_wait() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        let started = Instant::now();
        let (err, _, records) = fetched(c.request(12, fetch("t", 0, 300, 1)).await);
        assert!((err, records.len()) == (0, 0));
        assert!(
            started.elapsed() >= Duration::from_millis(280),
            "waited max_wait_ms"
        );
        let mut producer = b.client().await;
        let poll = tokio::spawn(async move {
            let started = Instant::now();
            let r = fetched(c.request(12, fetch("t", 0, 10_000, 1)).await);
            (r, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        producer
            .request(9, produce("t", 0, 1, batch(2, None, 0)))
            .await;
        let ((err, hw, records), waited) = poll.await.unwrap();
        assert_eq!((err, hw), (0, 2));
        assert!(!records.is_empty());
        assert!(
            waited < Duration::from_secs(5),
            "answered when data arrived, not at max_wait"
        );
        b.shutdown().await;
    }

    #[tokio::test]
    async fn list_offsets_by_position_and_timestamp() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        c.request(9, produce("t", 0, 1, batch(3, None, 0))).await;
        let list = |ts: i64| {
            let mut p = list_offsets_request::ListOffsetsPartition::default();
            p.partition_index = 0;
            p.timestamp = ts;
            let mut t = list_offsets_request::ListOffsetsTopic::default();
            t.name = TopicName(s("t"));
            t.partitions.push(p);
            let mut r = ListOffsetsRequest::default();
            r.topics.push(t);
            r
        };
        for (v, ts, want) in [
            (1i16, -2i64, 0i64),
            (7, -1, 3),
            (10, 1_700_000_000_001, 1),
            (5, 1_800_000_000_000, -1),
        ] {
            let r = c.request(v, list(ts)).await;
            let p = &r.topics[0].partitions[0];
            assert_eq!(
                (p.error_code, p.offset),
                (0, want),
                "ListOffsets v{v} at {ts}"
            );
        }
        b.shutdown().await;
    }
}
