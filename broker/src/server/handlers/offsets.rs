//! The offsets a group commits, stored by the group coordinator in `__consumer_offsets`:
//! OffsetCommit, OffsetFetch and OffsetDelete.

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;

use super::{s, topic_id, topic_name};
use crate::coordinator::CommitOffset;
use crate::server::Shared;

pub(super) fn offset_commit(
    sh: &Shared,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
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

pub(super) fn offset_fetch(
    sh: &Shared,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
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

pub(super) fn offset_delete(sh: &Shared, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
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

#[cfg(test)]
mod tests {
    use crate::server::testing::*;

    #[tokio::test]
    async fn offset_delete_over_the_wire() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        let mut commit = OffsetCommitRequest::default();
        commit.group_id = GroupId(s("connect-sink"));
        commit.generation_id_or_member_epoch = -1;
        let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
        t.name = TopicName(s("t"));
        for (partition, offset) in [(0, 4), (1, 8)] {
            let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
            p.partition_index = partition;
            p.committed_offset = offset;
            t.partitions.push(p);
        }
        commit.topics.push(t);
        let r = c.request(8, commit).await;
        assert_eq!(r.topics[0].partitions[1].error_code, 0);
        let delete = |group: &str| {
            let mut d = OffsetDeleteRequest::default();
            d.group_id = GroupId(s(group));
            let mut t = offset_delete_request::OffsetDeleteRequestTopic::default();
            t.name = TopicName(s("t"));
            let mut p = offset_delete_request::OffsetDeleteRequestPartition::default();
            p.partition_index = 0;
            t.partitions.push(p);
            d.topics.push(t);
            d
        };
        let r = c.request(0, delete("connect-sink")).await;
        assert_eq!(r.error_code, 0);
        assert_eq!(
            (
                r.topics[0].name.0.as_str(),
                r.topics[0].partitions[0].error_code
            ),
            ("t", 0)
        );
        let mut f = OffsetFetchRequest::default();
        f.group_id = GroupId(s("connect-sink"));
        f.topics = None;
        let r = c.request(7, f).await;
        let left: Vec<(i32, i64)> = r.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.committed_offset))
            .collect();
        assert_eq!(left, vec![(1, 8)]);
        let r = c.request(0, delete("nobody")).await;
        assert_eq!(r.error_code, E::GroupIdNotFound.code());
        b.shutdown().await;
    }
}
