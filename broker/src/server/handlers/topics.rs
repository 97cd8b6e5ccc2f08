//! Topic administration: CreateTopics, DeleteTopics and CreatePartitions, within what a single
//! node without replication can do.

use std::collections::{HashMap, HashSet};

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;
use uuid::Uuid;

use super::configs::overrides;
use super::{
    Refusal, error_code, refusal, refused, repeated, s, topic_id, topic_name, topics_by_id,
};
use crate::coordinator::OFFSETS_TOPIC;
use crate::server::Shared;

pub(super) fn create_topics(
    sh: &Shared,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    for t in req.topics {
        let name = t.name.to_string();
        let partitions = match (t.num_partitions, t.assignments.len()) {
            (-1, 0) => sh.config.num_partitions as i32,
            (-1, n) => n as i32,
            (n, _) => n,
        };
        let result = create_topic(sh, &t, partitions, req.validate_only);
        let mut r = create_topics_response::CreatableTopicResult::default();
        match refused("CreateTopics", &name, result) {
            None => {
                r.topic_id = topic_id(&name);
                r.num_partitions = partitions;
                r.replication_factor = 1;
            }
            Some((code, message)) => {
                r.error_code = code;
                if version >= 1 {
                    r.error_message = Some(message);
                }
                r.num_partitions = -1;
                r.replication_factor = -1;
            }
        }
        if version >= 5 {
            r.configs = None;
        }
        r.name = t.name;
        resp.topics.push(r);
    }
    resp
}

/// Checks one topic of a CreateTopics request and (unless `validate_only`) creates it.
fn create_topic(
    sh: &Shared,
    t: &create_topics_request::CreatableTopic,
    partitions: i32,
    validate_only: bool,
) -> Result<(), Refusal> {
    let node = sh.config.node_id;
    if !matches!(t.replication_factor, -1 | 1) {
        return Err((
            E::InvalidReplicationFactor.code(),
            format!(
                "replication factor {} is not possible: ferry broker is a single node without replication (use 1 or -1)",
                t.replication_factor
            ),
        ));
    }
    if partitions < 1 || partitions as u32 > ferry_log::MAX_PARTITIONS {
        return Err((
            E::InvalidPartitions.code(),
            format!(
                "number of partitions {partitions} must be between 1 and {}",
                ferry_log::MAX_PARTITIONS
            ),
        ));
    }
    if t.assignments
        .iter()
        .any(|a| a.broker_ids.iter().any(|b| b.0 != node) || a.broker_ids.len() != 1)
    {
        return Err((
            E::InvalidReplicaAssignment.code(),
            format!("replica assignments may only name broker {node}"),
        ));
    }
    let name = t.name.as_str();
    let configs = overrides(t.configs.iter().map(|c| (&c.name, c.value.as_ref())));
    if !validate_only {
        return sh
            .log
            .create_topic(name, partitions as u32, configs)
            .map_err(|e| refusal(&e));
    }
    ferry_log::validate_topic_name(name)
        .and_then(|()| {
            sh.log
                .config()
                .defaults
                .with_overrides(&configs)
                .map(|_| ())
        })
        .and_then(|()| match sh.log.topic(name) {
            Some(_) => Err(ferry_log::Error::TopicAlreadyExists(name.to_string())),
            None => Ok(()),
        })
        .map_err(|e| refusal(&e))
}

pub(super) fn delete_topics(
    sh: &Shared,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let mut resp = DeleteTopicsResponse::default();
    let mut targets: Vec<(Option<String>, Uuid)> = req
        .topic_names
        .iter()
        .map(|n| (Some(n.to_string()), Uuid::nil()))
        .collect();
    if version >= 6 {
        let by_id: HashMap<Uuid, String> = topics_by_id(sh);
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

pub(super) fn create_partitions(
    sh: &Shared,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut resp = CreatePartitionsResponse::default();
    let duplicates: HashSet<String> = repeated(req.topics.iter().map(|t| t.name.as_str()))
        .into_iter()
        .map(String::from)
        .collect();
    for t in req.topics {
        let name = t.name.to_string();
        let result = if duplicates.contains(&name) {
            Err((
                E::InvalidRequest.code(),
                format!("topic '{name}' appears more than once in the request"),
            ))
        } else {
            add_partitions(sh, &name, &t, req.validate_only)
        };
        let mut r = create_partitions_response::CreatePartitionsTopicResult::default();
        if let Some((code, message)) = refused("CreatePartitions", &name, result) {
            r.error_code = code;
            r.error_message = Some(message);
        }
        r.name = t.name;
        resp.results.push(r);
    }
    resp
}

/// Checks one topic of a CreatePartitions request and (unless `validate_only`) adds its new
/// partitions.
fn add_partitions(
    sh: &Shared,
    name: &str,
    t: &create_partitions_request::CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), Refusal> {
    let node = sh.config.node_id;
    if name == OFFSETS_TOPIC {
        return Err((
            E::InvalidPartitions.code(),
            format!("the partitions of the internal topic {OFFSETS_TOPIC} cannot change"),
        ));
    }
    if let Some(bad) = t.assignments.as_ref().and_then(|a| {
        a.iter()
            .find(|a| a.broker_ids.len() != 1 || a.broker_ids[0].0 != node)
    }) {
        return Err((
            E::InvalidReplicaAssignment.code(),
            format!(
                "replica assignment {:?} is not possible: ferry broker is the single node {node}",
                bad.broker_ids.iter().map(|b| b.0).collect::<Vec<_>>()
            ),
        ));
    }
    let Some(m) = sh.log.topic(name) else {
        return Err((
            E::UnknownTopicOrPartition.code(),
            format!("unknown topic '{name}'"),
        ));
    };
    let added = i64::from(t.count) - i64::from(m.partitions);
    if t.count <= m.partitions as i32 || t.count as u32 > ferry_log::MAX_PARTITIONS {
        return Err((
            E::InvalidPartitions.code(),
            format!(
                "topic '{name}' has {} partitions; {} is not more (partitions can only be added, up to {})",
                m.partitions,
                t.count,
                ferry_log::MAX_PARTITIONS
            ),
        ));
    }
    if let Some(a) = t.assignments.as_ref().filter(|a| a.len() as i64 != added) {
        return Err((
            E::InvalidReplicaAssignment.code(),
            format!(
                "{} replica assignments given for {added} new partitions",
                a.len()
            ),
        ));
    }
    if validate_only {
        return Ok(());
    }
    sh.log
        .create_partitions(name, t.count as u32)
        .map_err(|e| refusal(&e))
}

#[cfg(test)]
mod tests {
    use crate::server::testing::*;

    #[tokio::test]
    async fn create_topics_and_partitions_report_clear_errors() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        let r = create_topic(&mut c, "rf3", 1, 3).await;
        assert_eq!(r.error_code, E::InvalidReplicationFactor.code());
        assert!(r.error_message.unwrap().contains("replication"));
        assert_eq!(
            create_topic(&mut c, "ok", -1, -1).await.num_partitions,
            2,
            "num.partitions"
        );
        assert_eq!(
            create_topic(&mut c, "ok", 1, 1).await.error_code,
            E::TopicAlreadyExists.code()
        );
        assert_eq!(
            create_topic(&mut c, "bad/name", 1, 1).await.error_code,
            E::InvalidTopicException.code()
        );
        // CreatePartitions: 2 -> 4 works, shrinking and foreign replicas do not.
        for (count, broker, code) in [
            (4, None, 0),
            (3, None, E::InvalidPartitions.code()),
            (5, Some(7), E::InvalidReplicaAssignment.code()),
        ] {
            let mut cp = create_partitions_request::CreatePartitionsTopic::default();
            cp.name = TopicName(s("ok"));
            cp.count = count;
            cp.assignments = broker.map(|b| {
                let mut a = create_partitions_request::CreatePartitionsAssignment::default();
                a.broker_ids = vec![BrokerId(b)];
                vec![a]
            });
            let mut req = CreatePartitionsRequest::default();
            req.topics.push(cp);
            let r = c.request(3, req).await;
            assert_eq!(r.results[0].error_code, code, "{:?}", r.results[0]);
        }
        assert_eq!(b.log.topic("ok").unwrap().partitions, 4);
        b.shutdown().await;
    }

    #[tokio::test]
    async fn delete_topics_deletes_and_reports_unknown_topics() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
        c.request(9, produce("t", 0, 1, batch(3, None, 0))).await;
        let mut del = DeleteTopicsRequest::default();
        del.topic_names = vec![TopicName(s("t")), TopicName(s("missing"))];
        let r = c.request(5, del).await;
        assert_eq!(r.responses[0].error_code, 0);
        assert_eq!(r.responses[1].error_code, E::UnknownTopicOrPartition.code());
        assert!(b.log.topic("t").is_none());
        b.shutdown().await;
    }
}
