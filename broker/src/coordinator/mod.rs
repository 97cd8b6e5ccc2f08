//! The classic consumer-group coordinator (JoinGroup / SyncGroup / Heartbeat / LeaveGroup)
//! for any protocol type (`consumer`, `connect`, ...), and committed offsets stored in the
//! compacted topic `__consumer_offsets` in Kafka's formats
//! ([`ferry_record::consumer_offsets`]), reloaded on start.
//!
//! Group states as Kafka's: `Empty` → (join) `PreparingRebalance` → (every member rejoined,
//! or the rebalance timeout passed: stragglers are removed) `CompletingRebalance` → (leader's
//! SyncGroup) `Stable` → (a join, a leave or a session expiry) `PreparingRebalance` ...
//! JoinGroup and SyncGroup answers wait (the connection's task awaits a oneshot) until the
//! phase completes. A background timer ([`GroupCoordinator::run_timers`], every 50 ms) expires
//! members whose session timed out and completes rebalances whose timeout passed.
//!
//! Member ids are handed out on the first JoinGroup (`<client id>-<counter>-<random>`) without
//! the `MEMBER_ID_REQUIRED` round trip (allowed by the protocol; clients accept either).
//! Static membership (`group.instance.id`): a member rejoining under the same instance id
//! replaces the previous one at once (with a rebalance; Kafka skips that rebalance).
//!
//! All state sits behind one mutex, never held across an `.await`; offset commits append to
//! the log while holding it (a `pwrite`), which keeps the cache and the log in the same order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::error::ResponseError as E;
use tokio::sync::{oneshot, watch};

use ferry_log::LogManager;
use ferry_record::consumer_offsets::{
    OffsetValue, decode_key, decode_value, encode_key, encode_value, partition_for_group,
};
use ferry_record::{RecordBatchBuilder, batches, now_ms};

/// The internal topic of committed offsets, as in Kafka.
pub use ferry_record::consumer_offsets::TOPIC as OFFSETS_TOPIC;

/// Longest metadata string accepted with an offset (Kafka's `offset.metadata.max.bytes`).
pub const MAX_OFFSET_METADATA: usize = 4096;

const TICK: Duration = Duration::from_millis(50);

/// Group coordinator settings (Kafka's broker config names).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms` (Ferry: 1000; Kafka: 6000).
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (1800000).
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group waits
    /// for more members (Ferry: 0; Kafka: 3000).
    pub initial_rebalance_delay_ms: u64,
    /// Partitions of `__consumer_offsets` when it is created (Ferry: 1).
    pub offsets_topic_partitions: u32,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 1000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 0,
            offsets_topic_partitions: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl GroupState {
    fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
        }
    }
}

/// A JoinGroup request.
#[derive(Debug, Clone)]
pub struct JoinArgs {
    /// The group.
    pub group_id: String,
    /// Empty on the first join.
    pub member_id: String,
    /// `group.instance.id` (static membership), accepted and reported only.
    pub group_instance_id: Option<String>,
    /// The client id of the request header.
    pub client_id: String,
    /// The client's address, for DescribeGroups.
    pub client_host: String,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Rebalance timeout.
    pub rebalance_timeout_ms: i32,
    /// `consumer`, `connect`, ...
    pub protocol_type: String,
    /// (protocol name, member metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
}

/// A member as the leader sees it in the JoinGroup answer.
#[derive(Debug, Clone)]
pub struct JoinedMember {
    /// Member id.
    pub member_id: String,
    /// Static id, if any.
    pub group_instance_id: Option<String>,
    /// Metadata for the chosen protocol.
    pub metadata: Bytes,
}

/// The JoinGroup answer.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    /// Kafka error code.
    pub error_code: i16,
    /// The new generation.
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The chosen protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id.
    pub leader: String,
    /// This member's id.
    pub member_id: String,
    /// All members, for the leader only.
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    fn error(code: i16, member_id: &str) -> JoinResult {
        JoinResult {
            error_code: code,
            generation_id: -1,
            member_id: member_id.to_string(),
            ..JoinResult::default()
        }
    }
}

/// The SyncGroup answer.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    /// Kafka error code.
    pub error_code: i16,
    /// This member's assignment.
    pub assignment: Bytes,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The chosen protocol.
    pub protocol_name: Option<String>,
}

impl SyncResult {
    fn error(code: i16) -> SyncResult {
        SyncResult {
            error_code: code,
            ..SyncResult::default()
        }
    }
}

/// One offset to commit.
#[derive(Debug, Clone)]
pub struct CommitOffset {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next offset to consume.
    pub offset: i64,
    /// Leader epoch, -1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
}

/// A committed offset (offset -1: none).
#[derive(Debug, Clone)]
pub struct FetchedOffset {
    /// Partition.
    pub partition: i32,
    /// Next offset to consume, -1 if none is committed.
    pub offset: i64,
    /// Leader epoch, -1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata.
    pub metadata: String,
}

/// A group in ListGroups.
#[derive(Debug, Clone)]
pub struct ListedGroup {
    /// Group id.
    pub group_id: String,
    /// Protocol type, empty if the group only has offsets.
    pub protocol_type: String,
    /// State name.
    pub state: &'static str,
}

/// A member in DescribeGroups.
#[derive(Debug, Clone)]
pub struct DescribedMember {
    /// Member id.
    pub member_id: String,
    /// Static id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Metadata for the chosen protocol.
    pub metadata: Bytes,
    /// Current assignment.
    pub assignment: Bytes,
}

/// A group in DescribeGroups (`Dead` with no members if unknown, as Kafka answers).
#[derive(Debug, Clone)]
pub struct DescribedGroup {
    /// State name.
    pub state: &'static str,
    /// Protocol type.
    pub protocol_type: String,
    /// Chosen protocol (when stable).
    pub protocol_name: String,
    /// Members.
    pub members: Vec<DescribedMember>,
}

#[derive(Debug)]
struct Member {
    id: String,
    instance_id: Option<String>,
    client_id: String,
    client_host: String,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    protocols: Vec<(String, Bytes)>,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
    assignment: Bytes,
    last_heartbeat: Instant,
    order: u64,
}

impl Member {
    fn metadata(&self, protocol: Option<&str>) -> Bytes {
        protocol
            .and_then(|p| self.protocols.iter().find(|(n, _)| n == p))
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct Group {
    id: String,
    state: GroupState,
    generation: i32,
    protocol_type: Option<String>,
    protocol: Option<String>,
    leader: Option<String>,
    members: HashMap<String, Member>,
    rebalance_deadline: Option<Instant>,
    not_before: Option<Instant>,
}

impl Group {
    fn new(id: &str) -> Group {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: HashMap::new(),
            rebalance_deadline: None,
            not_before: None,
        }
    }

    /// Moves to PreparingRebalance (failing pending syncs).
    fn prepare_rebalance(&mut self, initial_delay: Duration, reason: &str) {
        if self.state == GroupState::PreparingRebalance {
            return;
        }
        tracing::info!(group = %self.id, generation = self.generation, reason, "preparing rebalance");
        for m in self.members.values_mut() {
            if let Some(tx) = m.sync_waiter.take() {
                let _ = tx.send(SyncResult::error(E::RebalanceInProgress.code()));
            }
        }
        let now = Instant::now();
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.not_before = (self.state == GroupState::Empty && !initial_delay.is_zero())
            .then(|| now + initial_delay);
        self.rebalance_deadline = Some(now + timeout.max(initial_delay));
        self.state = GroupState::PreparingRebalance;
    }

    /// Completes the join phase if every member has rejoined (or `force`, at the deadline:
    /// members that did not rejoin are removed).
    fn maybe_complete_join(&mut self, force: bool) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let all_joined = self.members.values().all(|m| m.join_waiter.is_some());
        let delayed = self.not_before.is_some_and(|t| Instant::now() < t);
        if !force && (!all_joined || delayed) {
            return;
        }
        let before = self.members.len();
        self.members.retain(|_, m| m.join_waiter.is_some());
        if self.members.len() < before {
            tracing::info!(group = %self.id, removed = before - self.members.len(), "members did not rejoin within the rebalance timeout");
        }
        self.generation += 1;
        self.rebalance_deadline = None;
        self.not_before = None;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.leader = None;
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        let mut order: Vec<&Member> = self.members.values().collect();
        order.sort_by_key(|m| m.order);
        // The protocol every member supports with the most first-choice votes.
        let candidates: Vec<&str> = order[0]
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| {
                order
                    .iter()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
            .collect();
        let protocol = candidates
            .iter()
            .max_by_key(|c| {
                let votes = order
                    .iter()
                    .filter(|m| {
                        m.protocols
                            .iter()
                            .find(|(p, _)| candidates.contains(&p.as_str()))
                            .is_some_and(|(p, _)| p == *c)
                    })
                    .count();
                // ties go to the earlier candidate
                (
                    votes,
                    usize::MAX - candidates.iter().position(|x| x == *c).unwrap_or(0),
                )
            })
            .map(|s| s.to_string());
        let leader = match &self.leader {
            Some(l) if self.members.contains_key(l) => l.clone(),
            _ => order[0].id.clone(),
        };
        let all: Vec<JoinedMember> = order
            .iter()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                group_instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol.as_deref()),
            })
            .collect();
        self.protocol = protocol;
        self.leader = Some(leader.clone());
        self.state = GroupState::CompletingRebalance;
        tracing::info!(group = %self.id, generation = self.generation, members = all.len(), protocol = ?self.protocol, %leader, "rebalance: join phase complete");
        let now = Instant::now();
        for m in self.members.values_mut() {
            m.last_heartbeat = now;
            m.assignment = Bytes::new();
            if let Some(tx) = m.join_waiter.take() {
                let _ = tx.send(JoinResult {
                    error_code: 0,
                    generation_id: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: self.protocol.clone(),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        all.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    fn remove_member(&mut self, id: &str, initial_delay: Duration, reason: &str) -> bool {
        let Some(mut m) = self.members.remove(id) else {
            return false;
        };
        if let Some(tx) = m.join_waiter.take() {
            let _ = tx.send(JoinResult::error(E::UnknownMemberId.code(), id));
        }
        if let Some(tx) = m.sync_waiter.take() {
            let _ = tx.send(SyncResult::error(E::UnknownMemberId.code()));
        }
        tracing::info!(group = %self.id, member = id, reason, "member removed");
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(initial_delay, reason);
                self.maybe_complete_join(false);
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(false),
            GroupState::Empty => {}
        }
        true
    }
}

#[derive(Debug, Default)]
struct State {
    groups: HashMap<String, Group>,
    offsets: HashMap<String, BTreeMap<(String, i32), OffsetValue>>,
    next_member: u64,
}

/// The group coordinator of one broker.
#[derive(Debug)]
pub struct GroupCoordinator {
    log: Arc<LogManager>,
    config: GroupConfig,
    state: Mutex<State>,
}

impl GroupCoordinator {
    /// Creates `__consumer_offsets` if needed (compacted) and loads the committed offsets.
    pub fn open(log: Arc<LogManager>, config: GroupConfig) -> ferry_log::Result<GroupCoordinator> {
        if log.topic(OFFSETS_TOPIC).is_none() {
            let configs = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
            match log.create_topic(
                OFFSETS_TOPIC,
                config.offsets_topic_partitions.max(1),
                configs,
            ) {
                Ok(()) | Err(ferry_log::Error::TopicAlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let coordinator = GroupCoordinator {
            log,
            config,
            state: Mutex::new(State::default()),
        };
        coordinator.load()?;
        Ok(coordinator)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn initial_delay(&self) -> Duration {
        Duration::from_millis(self.config.initial_rebalance_delay_ms)
    }

    fn load(&self) -> ferry_log::Result<()> {
        let partitions = self.log.topic(OFFSETS_TOPIC).map_or(0, |t| t.partitions);
        let mut state = self.lock();
        let mut loaded = 0usize;
        for p in 0..partitions as i32 {
            let log = self.log.partition(OFFSETS_TOPIC, p)?;
            let mut offset = log.log_start_offset();
            let end = log.log_end_offset();
            while offset < end {
                let read = log.read(offset, 1 << 20)?;
                if read.data.is_empty() {
                    break;
                }
                for batch in batches(read.data) {
                    let batch = match batch {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::warn!(partition = p, offset, error = %e, "skipping unreadable data in __consumer_offsets");
                            break;
                        }
                    };
                    let next = batch.next_offset();
                    for record in batch.records() {
                        let record = match record {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::warn!(partition = p, offset, error = %e, "skipping unreadable batch in __consumer_offsets");
                                break;
                            }
                        };
                        let Some(key) = record.key else { continue };
                        let key = match decode_key(key) {
                            Ok(Some(k)) => k,
                            Ok(None) => continue,
                            Err(e) => {
                                tracing::warn!(offset = record.offset, error = %e, "skipping record");
                                continue;
                            }
                        };
                        let group = state.offsets.entry(key.group).or_default();
                        match record.value.map(decode_value) {
                            None => {
                                group.remove(&(key.topic, key.partition));
                            }
                            Some(Ok(v)) => {
                                group.insert((key.topic, key.partition), v);
                                loaded += 1;
                            }
                            Some(Err(e)) => {
                                tracing::warn!(offset = record.offset, error = %e, "skipping record");
                            }
                        }
                    }
                    offset = offset.max(next);
                }
            }
        }
        state.offsets.retain(|_, o| !o.is_empty());
        tracing::info!(
            groups = state.offsets.len(),
            records = loaded,
            "loaded committed offsets from __consumer_offsets"
        );
        Ok(())
    }

    /// JoinGroup: waits until the join phase of the rebalance completes.
    pub async fn join(&self, args: JoinArgs) -> JoinResult {
        let rx = {
            let mut state = self.lock();
            let st = &mut *state;
            if args.session_timeout_ms < self.config.min_session_timeout_ms
                || args.session_timeout_ms > self.config.max_session_timeout_ms
            {
                return JoinResult::error(E::InvalidSessionTimeout.code(), &args.member_id);
            }
            if args.protocol_type.is_empty() || args.protocols.is_empty() {
                return JoinResult::error(E::InconsistentGroupProtocol.code(), &args.member_id);
            }
            if args.group_id.is_empty() {
                return JoinResult::error(E::InvalidGroupId.code(), &args.member_id);
            }
            let group = st
                .groups
                .entry(args.group_id.clone())
                .or_insert_with(|| Group::new(&args.group_id));
            if group.state != GroupState::Empty {
                let type_ok = group.protocol_type.as_deref() == Some(args.protocol_type.as_str());
                let common = args.protocols.iter().any(|(p, _)| {
                    group
                        .members
                        .values()
                        .filter(|m| m.id != args.member_id)
                        .all(|m| m.protocols.iter().any(|(q, _)| q == p))
                });
                if !type_ok || !common {
                    return JoinResult::error(E::InconsistentGroupProtocol.code(), &args.member_id);
                }
            }
            let member_id = if args.member_id.is_empty() {
                st.next_member += 1;
                let client = if args.client_id.is_empty() {
                    "member"
                } else {
                    &args.client_id
                };
                format!(
                    "{client}-{}-{:08x}",
                    st.next_member,
                    now_ms() as u32 ^ 0x5bd1_e995
                )
            } else if group.members.contains_key(&args.member_id) {
                args.member_id.clone()
            } else {
                return JoinResult::error(E::UnknownMemberId.code(), &args.member_id);
            };
            // A static member (group.instance.id) that restarted replaces its old incarnation
            // at once instead of waiting for the old session to time out.
            if let Some(instance) = &args.group_instance_id {
                let old = group
                    .members
                    .values()
                    .find(|m| m.instance_id.as_ref() == Some(instance) && m.id != member_id)
                    .map(|m| m.id.clone());
                if let Some(old) = old {
                    group.remove_member(
                        &old,
                        self.initial_delay(),
                        "replaced (same group.instance.id)",
                    );
                }
            }
            let (tx, rx) = oneshot::channel();
            let order = st.next_member;
            st.next_member += 1;
            let now = Instant::now();
            let member = group
                .members
                .entry(member_id.clone())
                .or_insert_with(|| Member {
                    id: member_id.clone(),
                    instance_id: None,
                    client_id: String::new(),
                    client_host: String::new(),
                    session_timeout: Duration::ZERO,
                    rebalance_timeout: Duration::ZERO,
                    protocols: Vec::new(),
                    join_waiter: None,
                    sync_waiter: None,
                    assignment: Bytes::new(),
                    last_heartbeat: now,
                    order,
                });
            member.instance_id = args.group_instance_id;
            member.client_id = args.client_id;
            member.client_host = args.client_host;
            member.session_timeout = Duration::from_millis(args.session_timeout_ms.max(0) as u64);
            member.rebalance_timeout = Duration::from_millis(
                args.rebalance_timeout_ms
                    .max(args.session_timeout_ms)
                    .max(0) as u64,
            );
            member.protocols = args.protocols;
            member.last_heartbeat = now;
            if let Some(old) = member.join_waiter.replace(tx) {
                let _ = old.send(JoinResult::error(E::RebalanceInProgress.code(), &member_id));
            }
            if group.state == GroupState::Empty {
                group.protocol_type = Some(args.protocol_type);
            }
            group.prepare_rebalance(self.initial_delay(), "member joined");
            group.maybe_complete_join(false);
            rx
        };
        rx.await
            .unwrap_or_else(|_| JoinResult::error(E::RebalanceInProgress.code(), ""))
    }

    /// SyncGroup: the leader hands out assignments; everybody waits for theirs.
    pub async fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> SyncResult {
        let rx = {
            let mut state = self.lock();
            let Some(group) = state.groups.get_mut(group_id) else {
                return SyncResult::error(E::UnknownMemberId.code());
            };
            if !group.members.contains_key(member_id) {
                return SyncResult::error(E::UnknownMemberId.code());
            }
            if generation != group.generation {
                return SyncResult::error(E::IllegalGeneration.code());
            }
            if protocol_type.is_some_and(|t| Some(t) != group.protocol_type.as_deref())
                || protocol_name.is_some_and(|p| Some(p) != group.protocol.as_deref())
            {
                return SyncResult::error(E::InconsistentGroupProtocol.code());
            }
            let ok = |g: &Group, assignment: Bytes| SyncResult {
                error_code: 0,
                assignment,
                protocol_type: g.protocol_type.clone(),
                protocol_name: g.protocol.clone(),
            };
            match group.state {
                GroupState::Empty => return SyncResult::error(E::UnknownMemberId.code()),
                GroupState::PreparingRebalance => {
                    return SyncResult::error(E::RebalanceInProgress.code());
                }
                GroupState::Stable => {
                    let a = group.members[member_id].assignment.clone();
                    return ok(group, a);
                }
                GroupState::CompletingRebalance => {}
            }
            let (tx, rx) = oneshot::channel();
            if let Some(m) = group.members.get_mut(member_id) {
                m.last_heartbeat = Instant::now();
                if let Some(old) = m.sync_waiter.replace(tx) {
                    let _ = old.send(SyncResult::error(E::RebalanceInProgress.code()));
                }
            }
            if group.leader.as_deref() == Some(member_id) {
                let mut assignments: HashMap<String, Bytes> = assignments.into_iter().collect();
                group.state = GroupState::Stable;
                let (ptype, pname) = (group.protocol_type.clone(), group.protocol.clone());
                for m in group.members.values_mut() {
                    m.assignment = assignments.remove(&m.id).unwrap_or_default();
                    if let Some(tx) = m.sync_waiter.take() {
                        let _ = tx.send(SyncResult {
                            error_code: 0,
                            assignment: m.assignment.clone(),
                            protocol_type: ptype.clone(),
                            protocol_name: pname.clone(),
                        });
                    }
                }
                tracing::info!(
                    group = group_id,
                    generation,
                    "rebalance complete: group is stable"
                );
            }
            rx
        };
        rx.await
            .unwrap_or_else(|_| SyncResult::error(E::RebalanceInProgress.code()))
    }

    /// Heartbeat: keeps the session alive and tells the member when to rejoin.
    pub fn heartbeat(&self, group_id: &str, generation: i32, member_id: &str) -> i16 {
        let mut state = self.lock();
        let Some(group) = state.groups.get_mut(group_id) else {
            return E::UnknownMemberId.code();
        };
        let (gen_now, st) = (group.generation, group.state);
        let Some(m) = group.members.get_mut(member_id) else {
            return E::UnknownMemberId.code();
        };
        if st == GroupState::Empty {
            return E::UnknownMemberId.code();
        }
        m.last_heartbeat = Instant::now();
        if st == GroupState::PreparingRebalance {
            return E::RebalanceInProgress.code();
        }
        if generation != gen_now {
            return E::IllegalGeneration.code();
        }
        0
    }

    /// LeaveGroup: (top-level code, one code per member id).
    pub fn leave(&self, group_id: &str, member_ids: &[String]) -> (i16, Vec<i16>) {
        let delay = self.initial_delay();
        let mut state = self.lock();
        let Some(group) = state.groups.get_mut(group_id) else {
            return (0, vec![E::UnknownMemberId.code(); member_ids.len()]);
        };
        let codes = member_ids
            .iter()
            .map(|id| {
                if group.remove_member(id, delay, "left the group") {
                    0
                } else {
                    E::UnknownMemberId.code()
                }
            })
            .collect();
        (0, codes)
    }

    /// The timer loop: session expiry and rebalance timeouts, until `stop` turns true.
    pub async fn run_timers(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => self.tick(),
                r = stop.changed() => if r.is_err() || *stop.borrow() { break },
            }
        }
    }

    fn tick(&self) {
        let delay = self.initial_delay();
        let now = Instant::now();
        let mut state = self.lock();
        for group in state.groups.values_mut() {
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    m.join_waiter.is_none()
                        && now.duration_since(m.last_heartbeat) > m.session_timeout
                })
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                group.remove_member(&id, delay, "session timed out");
            }
            if group.state == GroupState::PreparingRebalance {
                let force = group.rebalance_deadline.is_some_and(|d| now >= d);
                group.maybe_complete_join(force);
            }
        }
    }

    /// OffsetCommit: one error code per offset, in order.
    pub fn commit_offsets(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        commits: &[CommitOffset],
    ) -> Vec<i16> {
        let mut state = self.lock();
        let check = match state.groups.get_mut(group_id) {
            _ if group_id.is_empty() => E::InvalidGroupId.code(),
            None if generation < 0 => 0,
            None => E::IllegalGeneration.code(),
            Some(g) if generation < 0 && member_id.is_empty() => {
                if g.members.is_empty() {
                    0
                } else {
                    E::UnknownMemberId.code()
                }
            }
            Some(g) => match g.members.get_mut(member_id) {
                None => E::UnknownMemberId.code(),
                Some(_) if generation != g.generation => E::IllegalGeneration.code(),
                Some(_) if g.state == GroupState::CompletingRebalance => {
                    E::RebalanceInProgress.code()
                }
                Some(m) => {
                    m.last_heartbeat = Instant::now();
                    0
                }
            },
        };
        if check != 0 {
            return vec![check; commits.len()];
        }
        let ts = now_ms();
        let mut codes = Vec::with_capacity(commits.len());
        let mut builder = RecordBatchBuilder::new(ts);
        let mut accepted = Vec::new();
        for c in commits {
            if c.metadata.len() > MAX_OFFSET_METADATA {
                codes.push(E::OffsetMetadataTooLarge.code());
                continue;
            }
            let value = OffsetValue {
                offset: c.offset,
                leader_epoch: c.leader_epoch,
                metadata: c.metadata.clone(),
                commit_timestamp: ts,
            };
            let key = encode_key(group_id, &c.topic, c.partition);
            builder.append(ts, Some(&key), Some(&encode_value(&value)), &[]);
            accepted.push((c, value));
            codes.push(0);
        }
        if accepted.is_empty() {
            return codes;
        }
        if let Err(e) = self.append(group_id, builder) {
            tracing::warn!(group = group_id, error = %e, "cannot store committed offsets");
            return vec![E::CoordinatorNotAvailable.code(); commits.len()];
        }
        let group = state.offsets.entry(group_id.to_string()).or_default();
        for (c, value) in accepted {
            group.insert((c.topic.clone(), c.partition), value);
        }
        codes
    }

    fn append(&self, group_id: &str, builder: RecordBatchBuilder) -> ferry_log::Result<()> {
        let partitions = self.log.topic(OFFSETS_TOPIC).map_or(1, |t| t.partitions);
        let log = self
            .log
            .partition(OFFSETS_TOPIC, partition_for_group(group_id, partitions))?;
        log.append(builder.finish_mut())?;
        Ok(())
    }

    /// OffsetFetch: committed offsets of the requested partitions (all of the group's if
    /// `topics` is `None`), grouped by topic.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Vec<(String, Vec<FetchedOffset>)> {
        let state = self.lock();
        let committed = state.offsets.get(group_id);
        let fetched = |topic: &str, p: i32| {
            let v = committed.and_then(|o| o.get(&(topic.to_string(), p)));
            FetchedOffset {
                partition: p,
                offset: v.map_or(-1, |v| v.offset),
                leader_epoch: v.map_or(-1, |v| v.leader_epoch),
                metadata: v.map(|v| v.metadata.clone()).unwrap_or_default(),
            }
        };
        match topics {
            Some(topics) => topics
                .into_iter()
                .map(|(t, parts)| {
                    let offsets = parts.iter().map(|&p| fetched(&t, p)).collect();
                    (t, offsets)
                })
                .collect(),
            None => {
                let mut out: Vec<(String, Vec<FetchedOffset>)> = Vec::new();
                for (t, p) in committed.into_iter().flat_map(|o| o.keys()) {
                    if out.last().is_none_or(|(last, _)| last != t) {
                        out.push((t.clone(), Vec::new()));
                    }
                    if let Some((_, v)) = out.last_mut() {
                        v.push(fetched(t, *p));
                    }
                }
                out
            }
        }
    }

    /// OffsetDelete: forgets the committed offsets of `partitions` (tombstones in the
    /// offsets topic); one error code per partition, in order, or one for the whole request.
    /// Allowed for a group without members; a group with members answers `NON_EMPTY_GROUP`,
    /// or, for a consumer group, `GROUP_SUBSCRIBED_TO_TOPIC` for every partition (Kafka
    /// refuses only the topics the members subscribe to; this coordinator does not read
    /// subscriptions, so it refuses them all). Partitions without an offset succeed.
    pub fn delete_offsets(
        &self,
        group_id: &str,
        partitions: &[(String, i32)],
    ) -> Result<Vec<i16>, i16> {
        let mut state = self.lock();
        let members = state.groups.get(group_id).map(|g| {
            (
                !g.members.is_empty(),
                g.protocol_type.as_deref() == Some("consumer"),
            )
        });
        match members {
            None if !state.offsets.contains_key(group_id) => {
                return Err(E::GroupIdNotFound.code());
            }
            Some((true, true)) => {
                return Ok(vec![E::GroupSubscribedToTopic.code(); partitions.len()]);
            }
            Some((true, false)) => return Err(E::NonEmptyGroup.code()),
            _ => {}
        }
        let Some(committed) = state.offsets.get(group_id) else {
            return Ok(vec![0; partitions.len()]);
        };
        let present: Vec<&(String, i32)> = partitions
            .iter()
            .filter(|tp| committed.contains_key(*tp))
            .collect();
        if !present.is_empty() {
            let ts = now_ms();
            let mut builder = RecordBatchBuilder::new(ts);
            for (t, p) in &present {
                builder.append(ts, Some(&encode_key(group_id, t, *p)), None, &[]);
            }
            if let Err(e) = self.append(group_id, builder) {
                tracing::warn!(group = group_id, error = %e, "cannot delete committed offsets");
                return Err(E::CoordinatorNotAvailable.code());
            }
            if let Some(committed) = state.offsets.get_mut(group_id) {
                for tp in partitions {
                    committed.remove(tp);
                }
                if committed.is_empty() {
                    state.offsets.remove(group_id);
                }
            }
        }
        Ok(vec![0; partitions.len()])
    }

    /// ListGroups: groups with members, and groups known only by their offsets (Empty).
    pub fn list(&self) -> Vec<ListedGroup> {
        let state = self.lock();
        let mut out: Vec<ListedGroup> = state
            .groups
            .values()
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
            })
            .collect();
        for id in state.offsets.keys() {
            if !state.groups.contains_key(id) {
                out.push(ListedGroup {
                    group_id: id.clone(),
                    protocol_type: String::new(),
                    state: GroupState::Empty.name(),
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups for one group.
    pub fn describe(&self, group_id: &str) -> DescribedGroup {
        let state = self.lock();
        match state.groups.get(group_id) {
            None => DescribedGroup {
                state: if state.offsets.contains_key(group_id) {
                    "Empty"
                } else {
                    "Dead"
                },
                protocol_type: String::new(),
                protocol_name: String::new(),
                members: Vec::new(),
            },
            Some(g) => {
                let mut members: Vec<&Member> = g.members.values().collect();
                members.sort_by_key(|m| m.order);
                DescribedGroup {
                    state: g.state.name(),
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    protocol_name: if g.state == GroupState::Stable {
                        g.protocol.clone().unwrap_or_default()
                    } else {
                        String::new()
                    },
                    members: members
                        .into_iter()
                        .map(|m| DescribedMember {
                            member_id: m.id.clone(),
                            group_instance_id: m.instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            metadata: m.metadata(g.protocol.as_deref()),
                            assignment: m.assignment.clone(),
                        })
                        .collect(),
                }
            }
        }
    }

    /// DeleteGroups for one group: only an empty group; its offsets get tombstones.
    pub fn delete(&self, group_id: &str) -> i16 {
        let mut state = self.lock();
        if state
            .groups
            .get(group_id)
            .is_some_and(|g| !g.members.is_empty())
        {
            return E::NonEmptyGroup.code();
        }
        let had_group = state.groups.remove(group_id).is_some();
        let Some(offsets) = state.offsets.get(group_id) else {
            return if had_group {
                0
            } else {
                E::GroupIdNotFound.code()
            };
        };
        let ts = now_ms();
        let mut builder = RecordBatchBuilder::new(ts);
        for (t, p) in offsets.keys() {
            builder.append(ts, Some(&encode_key(group_id, t, *p)), None, &[]);
        }
        if let Err(e) = self.append(group_id, builder) {
            tracing::warn!(group = group_id, error = %e, "cannot delete group offsets");
            return E::CoordinatorNotAvailable.code();
        }
        state.offsets.remove(group_id);
        tracing::info!(group = group_id, "group deleted");
        0
    }
}

#[cfg(test)]
mod tests;
