//! The Kafka APIs the broker answers: one function per API, a decoded request in, a response
//! body out. [`handle`] dispatches a request to the function of its API; the functions live in
//! one module per API family, as Kafka groups them:
//!
//! | module | APIs |
//! |---|---|
//! | `metadata` | Metadata, FindCoordinator: where topics, partitions and coordinators are |
//! | `produce` | Produce (with the sequence checks of idempotent producers) |
//! | `fetch` | Fetch, ListOffsets: reading the log |
//! | `topics` | CreateTopics, DeleteTopics, CreatePartitions |
//! | `configs` | DescribeConfigs, AlterConfigs, IncrementalAlterConfigs |
//! | `groups` | JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups, DescribeGroups, DeleteGroups |
//! | `offsets` | OffsetCommit, OffsetFetch, OffsetDelete: the offsets a group commits |
//! | `transactions` | InitProducerId (the transaction coordinator's API; idempotent producers get their id from it) |
//!
//! ApiVersions is answered from the codec's own table (`protocol::api_versions_response`).
//!
//! Where the next APIs go: the transaction coordinator's AddPartitionsToTxn, AddOffsetsToTxn,
//! EndTxn, DescribeTransactions and ListTransactions in `transactions`, next to InitProducerId;
//! TxnOffsetCommit in `offsets`, next to OffsetCommit (the group coordinator stores both);
//! DescribeAcls, CreateAcls and DeleteAcls in a new `acls`; SaslHandshake and SaslAuthenticate in
//! a new `sasl` (they change what the connection may do, so `connection.rs` keeps that state
//! and passes it in). A new API is declared to the codec (`protocol::SUPPORTED_APIS` and
//! `protocol::supported_versions`), answered by a function in its family's module, dispatched
//! by its arm in [`handle`], and given a default request in this module's every-version test.
//!
//! What the families share lives here: the one mapping of log-engine errors to Kafka error
//! codes ([`error_code`]), the broker's topic ids ([`topic_id`]), and how a refused resource
//! of a request is reported and logged ([`Refusal`], [`refused`]).

mod configs;
mod fetch;
mod groups;
mod metadata;
mod offsets;
mod produce;
mod topics;
mod transactions;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::Shared;
use crate::protocol::{Request, api_versions_response};

fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn topic_name(v: &str) -> TopicName {
    TopicName(s(v))
}

/// Why one resource of a request (a topic, a config resource) was refused: the Kafka error
/// code, and a message for the client that names the offending value.
type Refusal = (i16, String);

/// A log-engine error as a refusal.
fn refusal(e: &ferry_log::Error) -> Refusal {
    (error_code(e), e.to_string())
}

/// The error code and message of a refused resource, `None` when `result` is `Ok` (the
/// answer keeps its defaults). A refusal is logged at info: the client is told, the broker is
/// fine.
fn refused(api: &str, resource: &str, result: Result<(), Refusal>) -> Option<(i16, StrBytes)> {
    let (code, message) = result.err()?;
    tracing::info!(resource, error = %message, "{api} refused");
    Some((code, s(message)))
}

/// The names that occur more than once among `names`, in the order of their repetitions.
fn repeated<'a>(names: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    names.filter(|n| !seen.insert(*n)).collect()
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

/// Every topic by its id, for the request versions that name topics by id.
fn topics_by_id(sh: &Shared) -> HashMap<Uuid, String> {
    sh.log
        .topics()
        .into_iter()
        .map(|m| (topic_id(&m.name), m.name))
        .collect()
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
        RequestKind::Metadata(r) => metadata::metadata(sh, r, v).into(),
        RequestKind::FindCoordinator(r) => metadata::find_coordinator(sh, r, v).into(),
        RequestKind::Produce(r) => return produce::produce(sh, r, v).map(Into::into),
        RequestKind::Fetch(r) => fetch::fetch(sh, r, v).await.into(),
        RequestKind::ListOffsets(r) => fetch::list_offsets(sh, r, v).into(),
        RequestKind::CreateTopics(r) => topics::create_topics(sh, r, v).into(),
        RequestKind::DeleteTopics(r) => topics::delete_topics(sh, r, v).into(),
        RequestKind::CreatePartitions(r) => topics::create_partitions(sh, r).into(),
        RequestKind::DescribeConfigs(r) => configs::describe_configs(sh, r, v).into(),
        RequestKind::AlterConfigs(r) => configs::alter_configs(sh, r).into(),
        RequestKind::IncrementalAlterConfigs(r) => configs::incremental_alter_configs(sh, r).into(),
        RequestKind::JoinGroup(r) => groups::join_group(sh, r, v, client_id, peer).await.into(),
        RequestKind::SyncGroup(r) => groups::sync_group(sh, r, v).await.into(),
        RequestKind::Heartbeat(r) => groups::heartbeat(sh, r).into(),
        RequestKind::LeaveGroup(r) => groups::leave_group(sh, r, v).into(),
        RequestKind::ListGroups(r) => groups::list_groups(sh, r).into(),
        RequestKind::DescribeGroups(r) => groups::describe_groups(sh, r).into(),
        RequestKind::DeleteGroups(r) => groups::delete_groups(sh, r).into(),
        RequestKind::OffsetCommit(r) => offsets::offset_commit(sh, r, v).into(),
        RequestKind::OffsetFetch(r) => offsets::offset_fetch(sh, r, v).into(),
        RequestKind::OffsetDelete(r) => offsets::offset_delete(sh, r).into(),
        RequestKind::InitProducerId(r) => transactions::init_producer_id(sh, r).into(),
        other => {
            // decode_request only lets SUPPORTED_APIS through; this is a bug if reached.
            tracing::error!(request = ?other, "no handler for a supported API");
            return None;
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::protocol::SUPPORTED_APIS;
    use crate::server::testing::*;

    fn default_request(api: ApiKey) -> RequestKind {
        match api {
            ApiKey::Produce => {
                let mut r = ProduceRequest::default();
                r.acks = 1;
                r.into()
            }
            ApiKey::Fetch => FetchRequest::default().into(),
            ApiKey::ListOffsets => ListOffsetsRequest::default().into(),
            ApiKey::Metadata => MetadataRequest::default().into(),
            ApiKey::OffsetCommit => OffsetCommitRequest::default().into(),
            ApiKey::OffsetFetch => OffsetFetchRequest::default().into(),
            ApiKey::FindCoordinator => FindCoordinatorRequest::default().into(),
            ApiKey::JoinGroup => JoinGroupRequest::default().into(),
            ApiKey::Heartbeat => HeartbeatRequest::default().into(),
            ApiKey::LeaveGroup => LeaveGroupRequest::default().into(),
            ApiKey::SyncGroup => SyncGroupRequest::default().into(),
            ApiKey::DescribeGroups => DescribeGroupsRequest::default().into(),
            ApiKey::ListGroups => ListGroupsRequest::default().into(),
            ApiKey::ApiVersions => ApiVersionsRequest::default().into(),
            ApiKey::CreateTopics => CreateTopicsRequest::default().into(),
            ApiKey::DeleteTopics => DeleteTopicsRequest::default().into(),
            ApiKey::InitProducerId => InitProducerIdRequest::default().into(),
            ApiKey::DescribeConfigs => DescribeConfigsRequest::default().into(),
            ApiKey::AlterConfigs => AlterConfigsRequest::default().into(),
            ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::default().into(),
            ApiKey::CreatePartitions => CreatePartitionsRequest::default().into(),
            ApiKey::DeleteGroups => DeleteGroupsRequest::default().into(),
            ApiKey::OffsetDelete => OffsetDeleteRequest::default().into(),
            other => panic!("no default request for {other:?}"),
        }
    }

    #[tokio::test]
    async fn every_api_answers_at_every_version() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        for &api in SUPPORTED_APIS {
            let range = crate::protocol::supported_versions(api).unwrap();
            for v in range.min..=range.max {
                c.call(api, v, default_request(api)).await;
            }
        }
        b.shutdown().await;
    }
}
