//! Consumer group membership, answered by the group coordinator: JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, ListGroups, DescribeGroups and DeleteGroups.

use std::net::SocketAddr;

use kafka_protocol::messages::*;

use super::s;
use crate::coordinator::JoinArgs;
use crate::server::Shared;

pub(super) async fn join_group(
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

pub(super) async fn sync_group(
    sh: &Shared,
    req: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
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

pub(super) fn heartbeat(sh: &Shared, req: HeartbeatRequest) -> HeartbeatResponse {
    let mut resp = HeartbeatResponse::default();
    resp.error_code = sh
        .groups
        .heartbeat(&req.group_id, req.generation_id, &req.member_id);
    resp
}

pub(super) fn leave_group(sh: &Shared, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
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

pub(super) fn list_groups(sh: &Shared, req: ListGroupsRequest) -> ListGroupsResponse {
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

pub(super) fn describe_groups(sh: &Shared, req: DescribeGroupsRequest) -> DescribeGroupsResponse {
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

pub(super) fn delete_groups(sh: &Shared, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut resp = DeleteGroupsResponse::default();
    for gid in req.groups_names {
        let mut r = delete_groups_response::DeletableGroupResult::default();
        r.error_code = sh.groups.delete(&gid);
        r.group_id = gid;
        resp.results.push(r);
    }
    resp
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::server::testing::*;

    #[tokio::test]
    async fn consumer_group_over_the_wire_with_offsets() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        let mut fc = FindCoordinatorRequest::default();
        fc.key = s("g");
        let r = c.request(3, fc).await;
        assert_eq!((r.error_code, r.port), (0, i32::from(b.addr.port())));
        let mut join = JoinGroupRequest::default();
        join.group_id = GroupId(s("g"));
        join.session_timeout_ms = 1000;
        join.rebalance_timeout_ms = 5000;
        join.protocol_type = s("connect");
        let mut p = join_group_request::JoinGroupRequestProtocol::default();
        p.name = s("default");
        p.metadata = Bytes::from_static(b"worker-metadata");
        join.protocols.push(p);
        let j = c.request(9, join).await;
        assert_eq!((j.error_code, j.generation_id), (0, 1));
        assert_eq!(j.protocol_type.as_deref(), Some("connect"));
        let mut sync = SyncGroupRequest::default();
        sync.group_id = GroupId(s("g"));
        sync.generation_id = 1;
        sync.member_id = j.member_id.clone();
        sync.protocol_type = Some(s("connect"));
        sync.protocol_name = Some(s("default"));
        let mut a = sync_group_request::SyncGroupRequestAssignment::default();
        a.member_id = j.member_id.clone();
        a.assignment = Bytes::from_static(b"tasks");
        sync.assignments.push(a);
        let sg = c.request(5, sync).await;
        assert_eq!((sg.error_code, &sg.assignment[..]), (0, &b"tasks"[..]));
        let mut commit = OffsetCommitRequest::default();
        commit.group_id = GroupId(s("g"));
        commit.generation_id_or_member_epoch = 1;
        commit.member_id = j.member_id.clone();
        let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
        t.name = TopicName(s("t"));
        let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
        p.partition_index = 0;
        p.committed_offset = 42;
        t.partitions.push(p);
        commit.topics.push(t);
        let r = c.request(8, commit).await;
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
        for v in [1i16, 7, 8, 9] {
            let mut f = OffsetFetchRequest::default();
            if v >= 8 {
                let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
                g.group_id = GroupId(s("g"));
                g.topics = None;
                f.groups.push(g);
            } else {
                f.group_id = GroupId(s("g"));
                f.topics = None;
            }
            let r = c.request(v, f).await;
            let offset = if v >= 8 {
                r.groups[0].topics[0].partitions[0].committed_offset
            } else {
                r.topics[0].partitions[0].committed_offset
            };
            assert_eq!(offset, 42, "OffsetFetch v{v}");
        }
        let mut del = DeleteGroupsRequest::default();
        del.groups_names.push(GroupId(s("g")));
        let r = c.request(2, del.clone()).await;
        assert_eq!(r.results[0].error_code, E::NonEmptyGroup.code());
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(s("g"));
        let mut m = leave_group_request::MemberIdentity::default();
        m.member_id = j.member_id.clone();
        leave.members.push(m);
        let r = c.request(5, leave).await;
        assert_eq!((r.error_code, r.members[0].error_code), (0, 0));
        let r = c.request(2, del).await;
        assert_eq!(r.results[0].error_code, 0);
        b.shutdown().await;
    }
}
