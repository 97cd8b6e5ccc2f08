//! Group membership with the classic group protocol (JoinGroup / SyncGroup / Heartbeat /
//! LeaveGroup), as Kafka Connect's `WorkerCoordinator` speaks it.
//!
//! JoinGroup and SyncGroup answers wait until the rebalance completes, and a broker answers
//! a connection's requests in order, so every group request goes over a pooled connection
//! of its own (the fetch pool) rather than the shared one: a pending join never holds up
//! produce, fetch or another member's heartbeat.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};

use super::connection::Connection;
use super::{Client, KafkaError, RETRIES, RETRY_BACKOFF};
use crate::log::{GroupError, GroupMember, JoinResult, LogError, Result};

/// Newest version of each group API this client was written for.
const JOIN_GROUP: i16 = 7;
const SYNC_GROUP: i16 = 5;
const HEARTBEAT: i16 = 4;
const LEAVE_GROUP: i16 = 4;

const MEMBER_ID_REQUIRED: i16 = 79;
const UNKNOWN_MEMBER_ID: i16 = 25;
const ILLEGAL_GENERATION: i16 = 22;
const REBALANCE_IN_PROGRESS: i16 = 27;

/// Coordinator moved or is loading: find it again and retry.
fn coordinator_error(code: i16) -> bool {
    matches!(code, 14..=16)
}

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Kafka's names for the codes group calls meet, for error messages.
fn group_error_name(code: i16) -> &'static str {
    match code {
        15 => "COORDINATOR_NOT_AVAILABLE",
        16 => "NOT_COORDINATOR",
        22 => "ILLEGAL_GENERATION",
        23 => "INCONSISTENT_GROUP_PROTOCOL",
        24 => "INVALID_GROUP_ID",
        25 => "UNKNOWN_MEMBER_ID",
        26 => "INVALID_SESSION_TIMEOUT",
        27 => "REBALANCE_IN_PROGRESS",
        30 => "GROUP_AUTHORIZATION_FAILED",
        79 => "MEMBER_ID_REQUIRED",
        81 => "GROUP_MAX_SIZE_REACHED",
        82 => "FENCED_INSTANCE_ID",
        _ => "see Kafka's protocol error codes",
    }
}

/// The typed error for `code`, or a broker error naming it.
fn group_error(group: &str, member: &str, generation: i32, what: &str, code: i16) -> LogError {
    match code {
        REBALANCE_IN_PROGRESS => GroupError::RebalanceInProgress {
            group: group.to_string(),
        }
        .into(),
        UNKNOWN_MEMBER_ID => GroupError::UnknownMember {
            group: group.to_string(),
            member: member.to_string(),
        }
        .into(),
        ILLEGAL_GENERATION => GroupError::IllegalGeneration {
            group: group.to_string(),
            generation,
        }
        .into(),
        code => KafkaError::Broker {
            what: format!(
                "{what} for member '{member}' of group '{group}' ({})",
                group_error_name(code)
            ),
            code,
        }
        .into(),
    }
}

impl Client {
    /// A connection of its own to `group`'s coordinator; give it back with
    /// `return_fetch_connection`.
    async fn group_connection(&self, group: &str) -> Result<Arc<Connection>, KafkaError> {
        let shared = self.coordinator(group).await?;
        self.fetch_connection(shared.addr()).await
    }

    /// Sends one group request built for the negotiated version; retries when the
    /// coordinator moved or the connection dropped. Returns the response and its version.
    async fn group_call<R: Request>(
        &self,
        group: &str,
        cap: i16,
        build: impl Fn(i16) -> R,
        error_code: impl Fn(&R::Response) -> i16,
    ) -> Result<R::Response, KafkaError> {
        let mut last = None;
        for _ in 0..RETRIES {
            let conn = match self.group_connection(group).await {
                Ok(c) => c,
                Err(e @ (KafkaError::Disconnected(_) | KafkaError::Connect { .. })) => {
                    last = Some(e);
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Err(KafkaError::Broker { what, code }) if coordinator_error(code) => {
                    last = Some(KafkaError::Broker { what, code });
                    tokio::time::sleep(RETRY_BACKOFF).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let version = conn.version::<R>(cap)?;
            let response = conn.send_version(build(version), version).await;
            self.return_fetch_connection(conn);
            match response {
                Ok(r) if coordinator_error(error_code(&r)) => {
                    last = Some(KafkaError::Broker {
                        what: format!("request {} for group '{group}'", R::KEY),
                        code: error_code(&r),
                    });
                }
                Ok(r) => return Ok(r),
                Err(e @ KafkaError::Disconnected(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        Err(last.unwrap_or_else(|| {
            KafkaError::Unavailable(format!("no coordinator for group '{group}'"))
        }))
    }

    pub(super) async fn group_join(
        &self,
        group: &str,
        protocol_type: &str,
        member_id: &str,
        session_timeout: Duration,
        rebalance_timeout: Duration,
        protocols: &[(String, Bytes)],
    ) -> Result<JoinResult> {
        let mut member_id = member_id.to_string();
        for _ in 0..RETRIES {
            let build = |version: i16| {
                let mut r = JoinGroupRequest::default()
                    .with_group_id(group_id(group))
                    .with_session_timeout_ms(millis(session_timeout))
                    .with_member_id(str_bytes(&member_id))
                    .with_protocol_type(str_bytes(protocol_type))
                    .with_protocols(
                        protocols
                            .iter()
                            .map(|(name, metadata)| {
                                JoinGroupRequestProtocol::default()
                                    .with_name(str_bytes(name))
                                    .with_metadata(metadata.clone())
                            })
                            .collect(),
                    );
                if version >= 1 {
                    r = r.with_rebalance_timeout_ms(millis(rebalance_timeout));
                }
                r
            };
            let response = self
                .group_call(group, JOIN_GROUP, build, |r| r.error_code)
                .await?;
            match response.error_code {
                0 => {
                    return Ok(JoinResult {
                        generation: response.generation_id,
                        member_id: response.member_id.as_str().to_string(),
                        leader: response.leader.as_str().to_string(),
                        protocol: response
                            .protocol_name
                            .as_ref()
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_default(),
                        members: response
                            .members
                            .iter()
                            .map(|m| GroupMember {
                                member_id: m.member_id.as_str().to_string(),
                                metadata: m.metadata.clone(),
                            })
                            .collect(),
                    });
                }
                // Kafka ≥ 2.2 hands out the member id first and asks to join again with it.
                MEMBER_ID_REQUIRED => member_id = response.member_id.as_str().to_string(),
                // The previous generation is still completing: join again.
                REBALANCE_IN_PROGRESS => tokio::time::sleep(RETRY_BACKOFF).await,
                code => return Err(group_error(group, &member_id, -1, "JoinGroup", code)),
            }
        }
        Err(KafkaError::Unavailable(format!(
            "JoinGroup for group '{group}' did not complete after {RETRIES} attempts"
        ))
        .into())
    }

    pub(super) async fn group_sync(
        &self,
        group: &str,
        generation: i32,
        member_id: &str,
        assignments: &[(String, Bytes)],
    ) -> Result<Bytes> {
        let build = |_version: i16| {
            SyncGroupRequest::default()
                .with_group_id(group_id(group))
                .with_generation_id(generation)
                .with_member_id(str_bytes(member_id))
                .with_assignments(
                    assignments
                        .iter()
                        .map(|(member, bytes)| {
                            SyncGroupRequestAssignment::default()
                                .with_member_id(str_bytes(member))
                                .with_assignment(bytes.clone())
                        })
                        .collect(),
                )
        };
        let response = self
            .group_call(group, SYNC_GROUP, build, |r| r.error_code)
            .await?;
        match response.error_code {
            0 => Ok(response.assignment),
            code => Err(group_error(group, member_id, generation, "SyncGroup", code)),
        }
    }

    pub(super) async fn group_heartbeat(
        &self,
        group: &str,
        generation: i32,
        member_id: &str,
    ) -> Result<()> {
        let build = |_version: i16| {
            HeartbeatRequest::default()
                .with_group_id(group_id(group))
                .with_generation_id(generation)
                .with_member_id(str_bytes(member_id))
        };
        let response = self
            .group_call(group, HEARTBEAT, build, |r| r.error_code)
            .await?;
        match response.error_code {
            0 => Ok(()),
            code => Err(group_error(group, member_id, generation, "Heartbeat", code)),
        }
    }

    pub(super) async fn group_leave(&self, group: &str, member_id: &str) -> Result<()> {
        let build = |version: i16| {
            let r = LeaveGroupRequest::default().with_group_id(group_id(group));
            if version >= 3 {
                r.with_members(vec![
                    MemberIdentity::default().with_member_id(str_bytes(member_id)),
                ])
            } else {
                r.with_member_id(str_bytes(member_id))
            }
        };
        let response = self
            .group_call(group, LEAVE_GROUP, build, |r| r.error_code)
            .await?;
        let code = match response.error_code {
            0 => response
                .members
                .iter()
                .map(|m| m.error_code)
                .find(|c| *c != 0)
                .unwrap_or(0),
            code => code,
        };
        match code {
            // Gone already (session expired, or left before): the goal is reached.
            0 | UNKNOWN_MEMBER_ID => Ok(()),
            code => Err(group_error(group, member_id, -1, "LeaveGroup", code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_answers_become_typed_errors() {
        let e = |code| group_error("g", "m", 7, "Heartbeat", code);
        assert!(matches!(
            e(27),
            LogError::Group(GroupError::RebalanceInProgress { group }) if group == "g"
        ));
        assert!(matches!(
            e(25),
            LogError::Group(GroupError::UnknownMember { member, .. }) if member == "m"
        ));
        assert!(matches!(
            e(22),
            LogError::Group(GroupError::IllegalGeneration { generation: 7, .. })
        ));
        let other = e(23).to_string();
        assert!(
            other.contains("INCONSISTENT_GROUP_PROTOCOL") && other.contains("'g'"),
            "{other}"
        );
        assert!(coordinator_error(16) && coordinator_error(14) && !coordinator_error(27));
        assert_eq!(millis(Duration::from_secs(u64::MAX)), i32::MAX);
    }
}
