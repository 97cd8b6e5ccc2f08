//! Where things are: Metadata (the broker, the topics and their partitions; unknown topics are
//! created on request when `auto.create.topics.enable` allows it) and FindCoordinator (the node
//! of a group's coordinator: always this broker).

use std::collections::{BTreeMap, HashMap};

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;

use super::{error_code, s, topic_id, topic_name, topics_by_id};
use crate::coordinator::OFFSETS_TOPIC;
use crate::server::Shared;
use ferry_log::TopicMetadata;

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

pub(super) fn metadata(sh: &Shared, req: MetadataRequest, version: i16) -> MetadataResponse {
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
            let by_id = if topics.iter().any(|t| t.name.is_none()) {
                topics_by_id(sh)
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

pub(super) fn find_coordinator(
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

#[cfg(test)]
mod tests {
    use crate::server::testing::*;

    #[tokio::test]
    async fn metadata_auto_creates_topics_and_reports_invalid_names() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        // auto-creation through Metadata, and a topic error for an invalid name
        let mut md = MetadataRequest::default();
        md.topics = Some(vec![
            {
                let mut t = metadata_request::MetadataRequestTopic::default();
                t.name = Some(TopicName(s("auto")));
                t
            },
            {
                let mut t = metadata_request::MetadataRequestTopic::default();
                t.name = Some(TopicName(s("bad name!")));
                t
            },
        ]);
        let r = c.request(12, md).await;
        assert_eq!(
            (r.topics[0].error_code, r.topics[0].partitions.len()),
            (0, 2)
        );
        assert_eq!(r.topics[1].error_code, E::InvalidTopicException.code());
        b.shutdown().await;
    }
}
