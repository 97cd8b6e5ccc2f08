//! One worker's membership of the `connect` group (Kafka's `WorkerCoordinator`): joins with
//! its metadata, computes the assignment when it leads, syncs, and keeps track of what it
//! runs. The distributed herder drives it: [`Coordinator::rebalance`] whenever a rebalance is
//! needed (at start, after [`Coordinator::heartbeat`] reports one, after revocations, when a
//! delay ends), and a heartbeat every `heartbeat.interval.ms` in between.
//!
//! Protocol flow per rebalance:
//! 1. JoinGroup with this worker's URL, config offset and current allocation, offering the
//!    protocols of `connect.protocol`.
//! 2. The leader decodes every member's metadata. If a member has read the config topic
//!    further than the leader, every member gets `CONFIG_MISMATCH` and the newest offset (the
//!    leader must catch up and rejoin). Otherwise it runs [`assign`] (incremental protocols)
//!    or a fresh full assignment (eager).
//! 3. SyncGroup; the worker applies its assignment to what it runs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::assignor::{AssignorInput, Member, MemberAssignment, Work, assign};
use super::protocol::{
    Assignment, CONFIG_MISMATCH, ConnectProtocol, InternalTopics, NO_ERROR, PROTOCOL_TYPE,
    ProtocolError, TOPICS_MISMATCH, WorkerMetadata,
};
use crate::log::{GroupError, Log, LogError};

/// Settings of the group membership (worker config names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSettings {
    /// `group.id`.
    pub group_id: String,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `rebalance.timeout.ms`.
    pub rebalance_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval: Duration,
    /// `connect.protocol`.
    pub protocol: ConnectProtocol,
    /// `scheduled.rebalance.max.delay.ms`.
    pub max_delay: Duration,
}

impl GroupSettings {
    /// Kafka Connect's defaults for `group_id`.
    pub fn new(group_id: &str) -> GroupSettings {
        GroupSettings {
            group_id: group_id.to_string(),
            session_timeout: Duration::from_millis(10_000),
            rebalance_timeout: Duration::from_millis(60_000),
            heartbeat_interval: Duration::from_millis(3_000),
            protocol: ConnectProtocol::Sessioned,
            max_delay: Duration::from_millis(300_000),
        }
    }
}

/// Errors of the membership.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The log (broker) failed.
    #[error("group '{group}': {source}")]
    Log {
        /// The group.
        group: String,
        /// What failed.
        #[source]
        source: LogError,
    },
    /// A member's metadata or the assignment could not be decoded.
    #[error("group '{group}': {source}")]
    Protocol {
        /// The group.
        group: String,
        /// What failed.
        #[source]
        source: ProtocolError,
    },
    /// The coordinator chose a protocol that is not a Connect protocol (a worker with a
    /// different `connect.protocol` family, or a non-Connect member in the group).
    #[error("group '{group}': the coordinator chose protocol '{protocol}', not a Connect protocol")]
    UnknownProtocol {
        /// The group.
        group: String,
        /// The protocol name.
        protocol: String,
    },
    /// Rebalancing kept failing.
    #[error("group '{group}': no stable generation after {attempts} attempts: {last}")]
    Unstable {
        /// The group.
        group: String,
        /// Attempts made.
        attempts: usize,
        /// The last failure.
        last: String,
    },
}

type Result<T, E = CoordinatorError> = std::result::Result<T, E>;

/// The result of one completed rebalance, for this worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebalanced {
    /// The generation joined.
    pub generation: i32,
    /// This worker's member id.
    pub member_id: String,
    /// Whether this worker leads the group.
    pub is_leader: bool,
    /// The protocol in use.
    pub protocol: ConnectProtocol,
    /// The assignment as received (with the leader's id and URL and the config offset).
    pub assignment: Assignment,
    /// What this worker should run now (for eager: the whole assignment).
    pub running: Work,
}

impl Rebalanced {
    /// `CONFIG_MISMATCH`: read the config topic up to `assignment.config_offset`, then
    /// rebalance again.
    pub fn config_mismatch(&self) -> bool {
        self.assignment.error == CONFIG_MISMATCH
    }

    /// Work was revoked: stop it, then rebalance again at once so it can move.
    pub fn needs_rejoin(&self) -> bool {
        !self.assignment.revoked_connectors.is_empty() || !self.assignment.revoked_tasks.is_empty()
    }

    /// The group's internal topics, when the leader refused this worker because its own
    /// differ ([`TOPICS_MISMATCH`]): the worker must not run in this group.
    pub fn refused_for(&self) -> Option<&InternalTopics> {
        (self.assignment.error == TOPICS_MISMATCH)
            .then_some(self.assignment.topics.as_ref())
            .flatten()
    }

    /// Rebalance again after this long (lost work is being held back), if set.
    pub fn rejoin_after(&self) -> Option<Duration> {
        u64::try_from(self.assignment.delay_ms)
            .ok()
            .filter(|d| *d > 0)
            .map(Duration::from_millis)
    }
}

/// Background heartbeats of one generation ([`Coordinator::start_heartbeats`]); stopped
/// when dropped.
#[derive(Debug)]
pub struct Heartbeats {
    task: tokio::task::JoinHandle<()>,
    rejoin: tokio::sync::watch::Receiver<Option<String>>,
}

impl Heartbeats {
    /// Waits until a rebalance is needed; returns why.
    pub async fn rejoin_needed(&mut self) -> String {
        loop {
            if let Some(reason) = self.rejoin.borrow_and_update().clone() {
                return reason;
            }
            if self.rejoin.changed().await.is_err() {
                return "heartbeats stopped".into();
            }
        }
    }
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the leader remembers between its rounds.
#[derive(Debug, Default)]
struct LeaderState {
    previous: BTreeMap<String, Work>,
    lost_since: Option<Instant>,
    /// Each member's REST URL in the last round.
    urls: BTreeMap<String, String>,
}

/// One worker's group membership.
pub struct Coordinator {
    log: Arc<dyn Log>,
    settings: GroupSettings,
    url: String,
    member_id: String,
    generation: i32,
    /// What this worker runs.
    running: Work,
    /// The last assignment received (its leader fields go into the allocation).
    last: Option<Assignment>,
    leader: LeaderState,
    /// Whether this worker led the last round.
    leading: bool,
    /// This worker's internal topics, sent with its metadata (Ferry's extension).
    topics: Option<InternalTopics>,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("group", &self.settings.group_id)
            .field("member_id", &self.member_id)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Attempts of one [`Coordinator::rebalance`] call before giving up.
const ATTEMPTS: usize = 10;

impl Coordinator {
    /// A worker (REST URL `url`) that has not joined yet.
    pub fn new(log: Arc<dyn Log>, settings: GroupSettings, url: &str) -> Coordinator {
        Coordinator {
            log,
            settings,
            url: url.to_string(),
            member_id: String::new(),
            generation: -1,
            running: Work::default(),
            last: None,
            leader: LeaderState::default(),
            leading: false,
            topics: None,
        }
    }

    /// Sends `topics` with this worker's metadata; as leader, refuses members whose
    /// internal topics differ ([`Rebalanced::refused_for`]).
    pub fn with_internal_topics(mut self, topics: InternalTopics) -> Coordinator {
        self.topics = Some(topics);
        self
    }

    /// As leader of the last round: who runs what, as `(REST URL, work)` per member (to
    /// find the worker running a task). `None` unless this worker led the last round.
    pub fn owners(&self) -> Option<Vec<(String, Work)>> {
        if !self.leading {
            return None;
        }
        Some(
            self.leader
                .previous
                .iter()
                .filter_map(|(id, work)| Some((self.leader.urls.get(id)?.clone(), work.clone())))
                .collect(),
        )
    }

    /// The member id (empty before the first join).
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// The current generation (-1 before the first join).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// What this worker runs according to the assignments received.
    pub fn running(&self) -> &Work {
        &self.running
    }

    /// The settings.
    pub fn settings(&self) -> &GroupSettings {
        &self.settings
    }

    fn log_err(&self, source: LogError) -> CoordinatorError {
        CoordinatorError::Log {
            group: self.settings.group_id.clone(),
            source,
        }
    }

    fn protocol_err(&self, source: ProtocolError) -> CoordinatorError {
        CoordinatorError::Protocol {
            group: self.settings.group_id.clone(),
            source,
        }
    }

    fn metadata(&self, config_offset: i64) -> WorkerMetadata {
        let allocation = self.last.as_ref().map(|last| Assignment {
            version: self.settings.protocol.version().max(1),
            error: NO_ERROR,
            leader: last.leader.clone(),
            leader_url: last.leader_url.clone(),
            config_offset: last.config_offset,
            connectors: self.running.connectors.iter().cloned().collect(),
            tasks: self.running.tasks.iter().cloned().collect(),
            revoked_connectors: Vec::new(),
            revoked_tasks: Vec::new(),
            delay_ms: 0,
            topics: None,
        });
        WorkerMetadata {
            url: self.url.clone(),
            config_offset,
            allocation,
            topics: self.topics.clone(),
        }
    }

    /// Runs one rebalance to completion: join, assign when leading, sync. `config_offset` is
    /// how far this worker has read the config topic, `connectors` the connectors (with
    /// their task counts) in its view of it, used when it leads. Rejoins by itself when the
    /// coordinator asks to (a rebalance started meanwhile, unknown member id).
    ///
    /// Before calling it with the eager protocol, stop everything: eager assignments are
    /// whole, not incremental.
    pub async fn rebalance(
        &mut self,
        config_offset: i64,
        connectors: &BTreeMap<String, usize>,
    ) -> Result<Rebalanced> {
        let mut last_error = String::new();
        for _ in 0..ATTEMPTS {
            match self.try_rebalance(config_offset, connectors).await {
                Ok(r) => return Ok(r),
                Err(CoordinatorError::Log {
                    source: LogError::Group(e),
                    ..
                }) => {
                    if matches!(e, GroupError::UnknownMember { .. }) {
                        self.member_id.clear();
                    }
                    tracing::debug!(group = %self.settings.group_id, error = %e, "rejoining");
                    last_error = e.to_string();
                }
                Err(e) => return Err(e),
            }
        }
        Err(CoordinatorError::Unstable {
            group: self.settings.group_id.clone(),
            attempts: ATTEMPTS,
            last: last_error,
        })
    }

    async fn try_rebalance(
        &mut self,
        config_offset: i64,
        connectors: &BTreeMap<String, usize>,
    ) -> Result<Rebalanced> {
        let metadata = self.metadata(config_offset);
        let joined = self
            .log
            .join_group(
                &self.settings.group_id,
                PROTOCOL_TYPE,
                &self.member_id,
                self.settings.session_timeout,
                self.settings.rebalance_timeout,
                &self.settings.protocol.join_protocols(&metadata),
            )
            .await
            .map_err(|e| self.log_err(e))?;
        self.member_id = joined.member_id.clone();
        self.generation = joined.generation;
        let protocol = ConnectProtocol::from_protocol_name(&joined.protocol).ok_or_else(|| {
            CoordinatorError::UnknownProtocol {
                group: self.settings.group_id.clone(),
                protocol: joined.protocol.clone(),
            }
        })?;
        self.leading = joined.is_leader();
        let assignments = if joined.is_leader() {
            self.lead(&joined.members, protocol, config_offset, connectors)?
        } else {
            Vec::new()
        };
        let bytes = self
            .log
            .sync_group(
                &self.settings.group_id,
                joined.generation,
                &joined.member_id,
                &assignments,
            )
            .await
            .map_err(|e| self.log_err(e))?;
        let assignment = Assignment::decode(&bytes).map_err(|e| self.protocol_err(e))?;
        if assignment.error == NO_ERROR {
            self.running = if protocol.is_incremental() {
                self.running.apply(&MemberAssignment {
                    assigned: Work::assigned_in(&assignment),
                    revoked: Work::revoked_in(&assignment),
                })
            } else {
                Work::assigned_in(&assignment)
            };
            self.last = Some(assignment.clone());
        }
        Ok(Rebalanced {
            generation: joined.generation,
            member_id: joined.member_id,
            is_leader: joined.leader == self.member_id,
            protocol,
            assignment,
            running: self.running.clone(),
        })
    }

    /// The leader's part: every member's assignment bytes.
    fn lead(
        &mut self,
        members: &[crate::log::GroupMember],
        protocol: ConnectProtocol,
        config_offset: i64,
        connectors: &BTreeMap<String, usize>,
    ) -> Result<Vec<(String, Bytes)>> {
        let mut decoded = Vec::with_capacity(members.len());
        let mut refused = Vec::new();
        for m in members {
            let (_, meta) =
                WorkerMetadata::decode(&m.metadata).map_err(|e| self.protocol_err(e))?;
            // A member with other internal topics reads another config topic: its offsets
            // mean nothing here, and it must not run this group's work.
            match (&self.topics, &meta.topics) {
                (Some(mine), Some(theirs)) if mine != theirs => {
                    tracing::error!(
                        group = %self.settings.group_id,
                        member = %m.member_id,
                        url = %meta.url,
                        differences = %theirs.differences(mine).join("; "),
                        "refusing a worker whose internal topics are not the group's"
                    );
                    refused.push(m.member_id.clone());
                }
                _ => decoded.push((m.member_id.clone(), meta)),
            }
        }
        let version = protocol.version();
        let refusals: Vec<(String, Bytes)> = refused
            .iter()
            .map(|id| {
                let a = Assignment {
                    version,
                    error: TOPICS_MISMATCH,
                    leader: self.member_id.clone(),
                    leader_url: self.url.clone(),
                    config_offset,
                    topics: self.topics.clone(),
                    ..Assignment::default()
                };
                (id.clone(), a.encode())
            })
            .collect();
        let max_offset = decoded
            .iter()
            .map(|(_, m)| m.config_offset)
            .max()
            .unwrap_or(config_offset);
        if max_offset > config_offset {
            tracing::info!(
                group = %self.settings.group_id,
                leader_offset = config_offset,
                max_offset,
                "a member has read the config topic further than the leader: CONFIG_MISMATCH"
            );
            return Ok(decoded
                .iter()
                .map(|(id, _)| {
                    let a = Assignment {
                        version,
                        error: CONFIG_MISMATCH,
                        leader: self.member_id.clone(),
                        leader_url: self.url.clone(),
                        config_offset: max_offset,
                        ..Assignment::default()
                    };
                    (id.clone(), a.encode())
                })
                .chain(refusals)
                .collect());
        }
        let incremental = protocol.is_incremental();
        let input = AssignorInput {
            members: decoded
                .iter()
                .map(|(id, meta)| Member {
                    id: id.clone(),
                    url: meta.url.clone(),
                    owned: if incremental {
                        meta.allocation
                            .as_ref()
                            .map(Work::assigned_in)
                            .unwrap_or_default()
                    } else {
                        Work::default()
                    },
                })
                .collect(),
            connectors: connectors.clone(),
            previous: if incremental {
                self.leader.previous.clone()
            } else {
                BTreeMap::new()
            },
            lost_for: self.leader.lost_since.map(|t| t.elapsed()),
            max_delay: if incremental {
                self.settings.max_delay
            } else {
                Duration::ZERO
            },
        };
        let output = assign(&input);
        if output.held_back.is_empty() {
            self.leader.lost_since = None;
        } else if self.leader.lost_since.is_none() {
            self.leader.lost_since = Some(Instant::now());
        }
        self.leader.previous = output.next.clone();
        self.leader.urls = decoded
            .iter()
            .map(|(id, meta)| (id.clone(), meta.url.clone()))
            .collect();
        Ok(decoded
            .iter()
            .map(|(id, _)| {
                let a = if incremental {
                    output.to_protocol(id, version, &self.member_id, &self.url, config_offset)
                } else {
                    let full = output.next.get(id).cloned().unwrap_or_default();
                    Assignment {
                        version: 0,
                        error: NO_ERROR,
                        leader: self.member_id.clone(),
                        leader_url: self.url.clone(),
                        config_offset,
                        connectors: full.connectors.into_iter().collect(),
                        tasks: full.tasks.into_iter().collect(),
                        ..Assignment::default()
                    }
                };
                (id.clone(), a.encode())
            })
            .chain(refusals)
            .collect())
    }

    /// One heartbeat. `Err` with [`LogError::Group`] inside means: rebalance now.
    pub async fn heartbeat(&self) -> Result<()> {
        self.log
            .heartbeat(&self.settings.group_id, self.generation, &self.member_id)
            .await
            .map_err(|e| self.log_err(e))
    }

    /// Heartbeats for the current generation in a background task, every
    /// `heartbeat.interval.ms`, until the coordinator asks for a rebalance or heartbeats
    /// have failed for a whole `session.timeout.ms` (the membership is then lost); see
    /// [`Heartbeats::rejoin_needed`]. Start it after each [`rebalance`](Self::rebalance)
    /// (dropping the previous one), so the group sees this worker alive while the herder
    /// starts and stops work.
    pub fn start_heartbeats(&self) -> Heartbeats {
        let log = self.log.clone();
        let group = self.settings.group_id.clone();
        let member = self.member_id.clone();
        let generation = self.generation;
        let interval = self.settings.heartbeat_interval;
        let session = self.settings.session_timeout;
        let (tx, rx) = tokio::sync::watch::channel(None);
        let task = tokio::spawn(async move {
            let mut last_ok = Instant::now();
            loop {
                tokio::time::sleep(interval).await;
                match log.heartbeat(&group, generation, &member).await {
                    Ok(()) => last_ok = Instant::now(),
                    Err(LogError::Group(e)) => {
                        let _ = tx.send(Some(e.to_string()));
                        return;
                    }
                    Err(e) if last_ok.elapsed() >= session => {
                        let _ = tx.send(Some(format!(
                            "no successful heartbeat for a whole session timeout: {e}"
                        )));
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(group = %group, error = %e, "heartbeat failed; retrying");
                    }
                }
            }
        });
        Heartbeats { task, rejoin: rx }
    }

    /// Whether a heartbeat error asks for a rebalance (rather than being a broker failure).
    pub fn must_rejoin(error: &CoordinatorError) -> bool {
        matches!(
            error,
            CoordinatorError::Log {
                source: LogError::Group(_),
                ..
            }
        )
    }

    /// Leaves the group (work should be stopped first); a later
    /// [`rebalance`](Self::rebalance) joins as a new member with nothing running.
    pub async fn leave(&mut self) -> Result<()> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let result = self
            .log
            .leave_group(&self.settings.group_id, &self.member_id)
            .await
            .map_err(|e| self.log_err(e));
        self.member_id.clear();
        self.generation = -1;
        self.running = Work::default();
        self.last = None;
        self.leading = false;
        result
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use ferry_api::TopicPartition;

    use super::*;
    use crate::log::{FetchedPartition, GroupMember, JoinResult, NewTopic};

    /// A group of which this worker is the leader, with one other member whose metadata is
    /// fixed; records what the leader hands out.
    struct FakeGroup {
        other: WorkerMetadata,
        handed_out: Mutex<Vec<(String, Bytes)>>,
        /// Heartbeats answered before REBALANCE_IN_PROGRESS.
        heartbeats_until_rebalance: Mutex<usize>,
    }

    fn nothing<T>() -> crate::log::Result<T> {
        Err(LogError::Unsupported("fake".into()))
    }

    #[async_trait]
    impl Log for FakeGroup {
        async fn create_topic(&self, _: NewTopic) -> crate::log::Result<()> {
            nothing()
        }
        async fn partition_count(&self, _: &str) -> crate::log::Result<Option<u32>> {
            nothing()
        }
        async fn topics(&self) -> crate::log::Result<Vec<String>> {
            nothing()
        }
        async fn append(&self, _: &TopicPartition, _: Bytes) -> crate::log::Result<i64> {
            nothing()
        }
        async fn fetch(
            &self,
            _: &[(TopicPartition, i64)],
            _: usize,
            _: Duration,
        ) -> crate::log::Result<Vec<FetchedPartition>> {
            nothing()
        }
        async fn offset_range(&self, _: &TopicPartition) -> crate::log::Result<(i64, i64)> {
            nothing()
        }
        async fn commit_offsets(
            &self,
            _: &str,
            _: &[(TopicPartition, i64)],
        ) -> crate::log::Result<()> {
            nothing()
        }
        async fn committed_offsets(
            &self,
            _: &str,
            _: &[TopicPartition],
        ) -> crate::log::Result<HashMap<TopicPartition, i64>> {
            nothing()
        }
        async fn close(&self) -> crate::log::Result<()> {
            Ok(())
        }
        async fn join_group(
            &self,
            _: &str,
            protocol_type: &str,
            _: &str,
            _: Duration,
            _: Duration,
            protocols: &[(String, Bytes)],
        ) -> crate::log::Result<JoinResult> {
            assert_eq!(protocol_type, "connect");
            let (name, mine) = protocols[0].clone();
            let version = ConnectProtocol::from_protocol_name(&name)
                .unwrap()
                .version();
            Ok(JoinResult {
                generation: 4,
                member_id: "me".into(),
                leader: "me".into(),
                protocol: name,
                members: vec![
                    GroupMember {
                        member_id: "me".into(),
                        metadata: mine,
                    },
                    GroupMember {
                        member_id: "other".into(),
                        metadata: self.other.encode(version),
                    },
                ],
            })
        }
        async fn heartbeat(&self, group: &str, _: i32, _: &str) -> crate::log::Result<()> {
            let mut left = self.heartbeats_until_rebalance.lock().unwrap();
            if *left == 0 {
                return Err(GroupError::RebalanceInProgress {
                    group: group.to_string(),
                }
                .into());
            }
            *left -= 1;
            Ok(())
        }
        async fn sync_group(
            &self,
            _: &str,
            _: i32,
            member_id: &str,
            assignments: &[(String, Bytes)],
        ) -> crate::log::Result<Bytes> {
            *self.handed_out.lock().unwrap() = assignments.to_vec();
            Ok(assignments
                .iter()
                .find(|(m, _)| m == member_id)
                .map(|(_, b)| b.clone())
                .unwrap_or_default())
        }
    }

    fn coordinator(other_offset: i64, protocol: ConnectProtocol) -> (Coordinator, Arc<FakeGroup>) {
        let fake = Arc::new(FakeGroup {
            other: WorkerMetadata {
                url: "http://other:8083/".into(),
                config_offset: other_offset,
                allocation: None,
                topics: None,
            },
            handed_out: Mutex::new(Vec::new()),
            heartbeats_until_rebalance: Mutex::new(3),
        });
        let settings = GroupSettings {
            protocol,
            ..GroupSettings::new("g")
        };
        (
            Coordinator::new(fake.clone(), settings, "http://me:8083/"),
            fake,
        )
    }

    fn decoded(fake: &FakeGroup) -> BTreeMap<String, Assignment> {
        fake.handed_out
            .lock()
            .unwrap()
            .iter()
            .map(|(m, b)| (m.clone(), Assignment::decode(b).unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn the_leader_shares_the_work_and_applies_its_own_part() {
        let (mut c, fake) = coordinator(5, ConnectProtocol::Sessioned);
        let connectors = BTreeMap::from([("x".to_string(), 2), ("y".to_string(), 2)]);
        let r = c.rebalance(5, &connectors).await.unwrap();
        assert!(r.is_leader);
        assert_eq!(r.protocol, ConnectProtocol::Sessioned);
        assert_eq!((r.generation, c.member_id()), (4, "me"));
        let all = decoded(&fake);
        assert_eq!(all.len(), 2);
        for a in all.values() {
            assert_eq!((a.version, a.error, a.config_offset), (2, NO_ERROR, 5));
            assert_eq!(
                (a.leader.as_str(), a.leader_url.as_str()),
                ("me", "http://me:8083/")
            );
            assert_eq!((a.connectors.len(), a.tasks.len()), (1, 2));
        }
        assert_eq!(c.running().tasks.len(), 2);
        assert_eq!(r.running, *c.running());
        assert!(!r.needs_rejoin() && !r.config_mismatch() && r.rejoin_after().is_none());
        // The next join reports what it runs as its allocation.
        let meta = c.metadata(5);
        assert_eq!(
            meta.allocation.map(|a| Work::assigned_in(&a)),
            Some(c.running().clone())
        );
    }

    #[tokio::test]
    async fn a_leader_behind_the_config_topic_answers_config_mismatch() {
        let (mut c, fake) = coordinator(9, ConnectProtocol::Compatible);
        let r = c
            .rebalance(5, &BTreeMap::from([("x".to_string(), 1)]))
            .await
            .unwrap();
        assert!(r.config_mismatch());
        assert_eq!(r.assignment.config_offset, 9);
        assert!(c.running().is_empty());
        assert!(
            decoded(&fake)
                .values()
                .all(|a| a.error == CONFIG_MISMATCH && a.version == 1)
        );
    }

    #[tokio::test]
    async fn background_heartbeats_report_a_rebalance() {
        let (mut c, fake) = coordinator(0, ConnectProtocol::Sessioned);
        c.settings.heartbeat_interval = Duration::from_millis(5);
        c.rebalance(0, &BTreeMap::new()).await.unwrap();
        let mut beats = c.start_heartbeats();
        let reason = tokio::time::timeout(Duration::from_secs(5), beats.rejoin_needed())
            .await
            .unwrap();
        assert!(reason.contains("rebalancing"), "{reason}");
        assert_eq!(*fake.heartbeats_until_rebalance.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_member_with_other_internal_topics_is_refused_and_gets_no_work() {
        let topics = |config: &str| InternalTopics {
            config: config.into(),
            offset: "connect-offsets".into(),
            status: "connect-status".into(),
        };
        let fake = Arc::new(FakeGroup {
            other: WorkerMetadata {
                url: "http://other:8083/".into(),
                // Far ahead in its own config topic: no CONFIG_MISMATCH for the leader.
                config_offset: 99,
                allocation: None,
                topics: Some(topics("other-configs")),
            },
            handed_out: Mutex::new(Vec::new()),
            heartbeats_until_rebalance: Mutex::new(3),
        });
        let mut c = Coordinator::new(fake.clone(), GroupSettings::new("g"), "http://me:8083/")
            .with_internal_topics(topics("connect-configs"));
        let r = c
            .rebalance(5, &BTreeMap::from([("x".to_string(), 2)]))
            .await
            .unwrap();
        assert!(!r.config_mismatch() && r.refused_for().is_none());
        assert_eq!(c.running().tasks.len(), 2, "the leader runs everything");
        let all = decoded(&fake);
        let other = &all["other"];
        assert_eq!(other.error, TOPICS_MISMATCH);
        assert_eq!(other.topics, Some(topics("connect-configs")));
        assert!(other.tasks.is_empty() && other.connectors.is_empty());
        let owners = c.owners().unwrap();
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].0, "http://me:8083/");
        // What the refused worker sees.
        let seen = Rebalanced {
            generation: 4,
            member_id: "other".into(),
            is_leader: false,
            protocol: ConnectProtocol::Sessioned,
            assignment: other.clone(),
            running: Work::default(),
        };
        assert_eq!(seen.refused_for(), Some(&topics("connect-configs")));
    }

    #[tokio::test]
    async fn eager_assignments_are_whole() {
        let (mut c, fake) = coordinator(0, ConnectProtocol::Eager);
        let r = c
            .rebalance(0, &BTreeMap::from([("x".to_string(), 3)]))
            .await
            .unwrap();
        assert_eq!(r.protocol, ConnectProtocol::Eager);
        let all = decoded(&fake);
        assert!(all.values().all(|a| a.version == 0));
        let tasks: usize = all.values().map(|a| a.tasks.len()).sum();
        assert_eq!(tasks, 3);
        assert_eq!(c.running().tasks.len(), all["me"].tasks.len());
    }
}
