//! The distributed herder (Kafka Connect's `DistributedHerder`): one worker of a group that
//! shares connectors and tasks through the broker's group coordinator and the three
//! internal topics.
//!
//! One task owns all of the worker's state and handles, one at a time: membership events
//! (a rebalance starting or completed, see [`membership`]), then requests (REST), then
//! what the internal topics say (other workers' writes, read by [`Tail`]s as the topics
//! grow), plus what connectors ask for and timers. Nothing is started or stopped while a
//! lock is held: the one lock (the status view shared with the task status reporters) is
//! only ever held for a copy or an update.
//!
//! - **Config topic**: every worker keeps a view of it ([`ConfigState`]); reads answer from
//!   that view. Writes (create, update, delete, pause/resume/stop, restart, offsets, task
//!   configs) are the leader's: another worker answers [`HerderError::Forward`] with the
//!   leader's URL and REST forwards the request. The leader writes, then reads the topic
//!   back before answering, so the answer reflects the write. A write while no leader is
//!   known or a rebalance is under way answers 409.
//! - **Assignments** are incremental (KIP-415): revoked work is stopped first (tasks flush
//!   and commit), then the worker rejoins at once so the work can move; assigned work is
//!   started once the view has read the config topic up to the assignment's offset.
//! - **Task configs** are generated where the connector runs, at start and when the
//!   connector asks (`request_task_reconfiguration`); the leader writes them (`task-*` then
//!   `commit-*`), another worker hands them to the leader (`POST
//!   /connectors/{name}/tasks`). A new generation stops the connector's local tasks; they
//!   start again with the new configs (after the rebalance when the task count changed).
//! - **Statuses** go to the status topic (with the group generation), written in order by
//!   one writer task so that a broker away never blocks the herder; every worker reads
//!   every worker's statuses, so any worker answers `GET .../status`.
//! - **Source offsets** live in the offset topic; the offset store is read to its end
//!   before tasks start, so a task moved here resumes where its previous owner committed.
//! - A worker whose internal topics differ from the group's is refused by the leader and
//!   stops with a message naming them ([`Distributed::failed`]).
//!
//! On shutdown, requests still queued are answered "shutting down", tasks are stopped
//! (each flushes and commits) and reported UNASSIGNED, then the worker leaves the group.

mod membership;
mod work;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::ConfigMap;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use self::membership::{Event, JoinView, Membership};
use super::core::{self, Backend, internal, not_found};
use super::{ConnectorStatus, Herder, HerderError, Request, RestartRequest, StateInfo};
use crate::lifecycle::{TargetState, TaskId, TaskState};
use crate::log::{KafkaLog, Log, LogError, RetryingLog, Tail, TailRecord};
use crate::storage::configs::ConfigState;
use crate::storage::statuses::{
    State as StatusState, StatusSnapshot, StatusStore, StatusStoreError,
};
use crate::storage::{ConfigStore, ConfigStoreError, OffsetStore, OffsetStoreError};
use crate::worker::{ActiveTopics, ConnectorEvent, RunningConnector, TaskHandle, Worker};
use crate::worker_group::{Coordinator, DistributedConfig, InternalTopics, Rebalanced, Work};

/// How long task-side calls ride out a broker that is away (Kafka's `delivery.timeout.ms`
/// default).
const TASK_RETRY_FOR: Duration = Duration::from_secs(120);
/// How long the herder's own calls (config writes and reads) wait for a broker that is away
/// before the request fails.
const HERDER_RETRY_FOR: Duration = Duration::from_secs(10);
/// Kafka Connect's `worker.sync.timeout.ms` default: how long a worker waits to read the
/// config topic up to an assignment's offset.
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause before handing task configs to the leader again after a failure.
const RECONFIGURE_BACKOFF: Duration = Duration::from_millis(250);

/// Why distributed mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// The worker config file could not be read or parsed.
    #[error("{0}")]
    ConfigFile(#[from] crate::config::ConfigError),
    /// The worker config is invalid; one line per problem, each naming the file.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The brokers could not be reached.
    #[error("cannot reach the brokers of bootstrap.servers={servers}: {source}")]
    Log {
        /// `bootstrap.servers`.
        servers: String,
        /// What failed.
        #[source]
        source: LogError,
    },
    /// The offset topic could not be opened or read.
    #[error(transparent)]
    Offsets(#[from] OffsetStoreError),
    /// The config topic could not be opened or read.
    #[error(transparent)]
    Configs(#[from] ConfigStoreError),
    /// The status topic could not be opened or read.
    #[error(transparent)]
    Statuses(#[from] StatusStoreError),
}

/// Reads and checks a distributed worker's config file; nothing is started.
pub fn load(worker_file: &std::path::Path) -> Result<DistributedConfig, DistributedError> {
    let map = crate::config::resolve(&crate::config::load_file(worker_file)?)
        .map_err(|e| e.with_origin(worker_file.display()))?;
    DistributedConfig::parse(&map).map_err(|issues| {
        DistributedError::Invalid(
            issues
                .into_iter()
                .map(|i| format!("{}: {i}", worker_file.display()))
                .collect(),
        )
    })
}

/// A running distributed worker: the herder task and what it owns.
#[derive(Debug)]
pub struct Distributed {
    herder: Herder,
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
    failed: watch::Receiver<Option<String>>,
}

impl Distributed {
    /// Connects to the brokers, creates the internal topics if missing (compacted; the
    /// config topic with one partition), reads them, and starts the herder, which joins the
    /// group. The REST API should already listen on the advertised URL (it goes into the
    /// group metadata: other workers forward requests there).
    pub async fn start(config: DistributedConfig) -> Result<Distributed, DistributedError> {
        let w = config.worker().clone();
        let servers = w.bootstrap_servers();
        let worker_id = w.worker_id();
        let kafka: Arc<dyn Log> = Arc::new(
            KafkaLog::connect_with(&servers, &format!("ferry-{worker_id}"), w.producer_config())
                .await
                .map_err(|source| DistributedError::Log {
                    servers: servers.join(","),
                    source,
                })?,
        );
        let task_log: Arc<dyn Log> = Arc::new(RetryingLog::new(kafka.clone(), TASK_RETRY_FOR));
        let herder_log: Arc<dyn Log> = Arc::new(RetryingLog::new(kafka.clone(), HERDER_RETRY_FOR));
        let offsets = Arc::new(
            OffsetStore::topic_replicated(
                task_log.clone(),
                &w.offset_topic(),
                w.offset_partitions(),
                config.replication_factor("offset"),
            )
            .await?,
        );
        let configs = ConfigStore::connect(
            herder_log.clone(),
            &w.config_topic(),
            config.replication_factor("config"),
        )
        .await?;
        let (statuses, snapshot) = StatusStore::open_replicated(
            task_log.clone(),
            &config.status_topic(),
            config.status_partitions(),
            config.replication_factor("status"),
        )
        .await?;
        let statuses = Arc::new(statuses);
        let mut view = ConfigState::new();
        configs.read(&mut view, |_| {}).await?;
        tracing::info!(
            topic = %w.config_topic(),
            offset = view.offset(),
            connectors = view.names().count(),
            "config topic read"
        );
        let config_tail = Tail::start(
            herder_log.clone(),
            &w.config_topic(),
            vec![view.next_offset()],
        );
        let status_tail = Tail::start(herder_log.clone(), statuses.topic(), statuses.positions());
        let topics = ActiveTopics::stored_in(statuses.clone(), snapshot.topics.keys().cloned());
        let (connector_events, connector_rx) = mpsc::unbounded_channel();
        let worker = Worker::new(w.clone(), task_log.clone(), offsets.clone())
            .with_active_topics(topics)
            .with_connector_events(connector_events);
        let url = w.advertised_url();
        let internal_topics = InternalTopics {
            config: w.config_topic(),
            offset: w.offset_topic(),
            status: config.status_topic(),
        };
        let coordinator = Coordinator::new(kafka.clone(), config.group_settings(), &url)
            .with_internal_topics(internal_topics.clone());
        let (member_tx, member_rx) = mpsc::channel(8);
        let membership = Membership::start(coordinator, member_tx);
        let (status_writer, status_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(work::write_statuses(statuses.clone(), status_rx));
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (failed_tx, failed) = watch::channel(None);
        tracing::info!(group = %config.group_id(), %url, worker = %worker_id, "distributed worker starting");
        let state = State {
            settings: config.group_settings(),
            worker,
            log: task_log,
            offsets,
            configs,
            status_view: Arc::new(Mutex::new(snapshot)),
            status_writer,
            known_counts: view.task_counts(),
            view,
            worker_id,
            url,
            internal_topics,
            membership: Some(membership),
            group: Group::default(),
            connectors: BTreeMap::new(),
            tasks: BTreeMap::new(),
            written_tasks: BTreeMap::new(),
            internal: internal_tx,
            http: reqwest::Client::new(),
            next_rejoin: None,
            reconfigure_at: BTreeMap::new(),
            forwarding: BTreeMap::new(),
            failed: failed_tx,
        };
        let (tx, rx) = mpsc::channel(64);
        let (stop, stop_rx) = oneshot::channel();
        let inputs = Inputs {
            requests: rx,
            stop: stop_rx,
            membership: member_rx,
            config_tail,
            status_tail,
            connector_events: connector_rx,
            internal: internal_rx,
            writer,
        };
        let join = tokio::spawn(state.run(inputs));
        Ok(Distributed {
            herder: Herder::new(tx),
            stop,
            join,
            failed,
        })
    }

    /// The handle through which REST asks for changes.
    pub fn herder(&self) -> Herder {
        self.herder.clone()
    }

    /// Resolves when the worker cannot go on in its group (its config disagrees with the
    /// group's), with the reason; the herder has stopped by then.
    pub async fn failed(&mut self) -> String {
        match self.failed.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            Err(_) => std::future::pending().await,
        }
    }

    /// Stops every task (each flushes and commits) and connector, leaves the group, and
    /// answers queued requests "shutting down".
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "the herder task failed");
        }
        tracing::info!("distributed worker stopped");
    }
}

/// What the herder loop waits on (outside [`State`], so that waiting on one does not borrow
/// the state the handlers change).
struct Inputs {
    requests: mpsc::Receiver<Request>,
    stop: oneshot::Receiver<()>,
    membership: mpsc::Receiver<Event>,
    config_tail: Tail,
    status_tail: Tail,
    connector_events: mpsc::UnboundedReceiver<ConnectorEvent>,
    internal: mpsc::UnboundedReceiver<Internal>,
    writer: tokio::task::JoinHandle<()>,
}

/// Results of work the herder started in the background.
#[derive(Debug)]
enum Internal {
    /// Task configs handed to the leader (or not).
    Forwarded(String, Result<(), String>),
}

/// The group membership as last known.
#[derive(Debug, Default)]
struct Group {
    /// An assignment was received (and this worker has not failed to rejoin since).
    joined: bool,
    /// A rebalance is under way or about to start.
    rebalancing: bool,
    generation: i32,
    is_leader: bool,
    leader_url: Option<String>,
    /// What the last assignments say this worker runs.
    assigned: Work,
    /// As leader: who runs what, by REST URL.
    owners: Vec<(String, Work)>,
    /// Since when rebalances have been failing (the broker is away).
    failing_since: Option<Instant>,
}

/// A connector instance this worker runs (or was assigned and failed to start).
struct RunningConn {
    instance: Option<RunningConnector>,
    failure: Option<String>,
    /// The config it was started with.
    config: ConfigMap,
}

/// A task this worker runs.
struct RunningTask {
    handle: TaskHandle,
    /// Writes the task's state changes to the status topic.
    reporter: tokio::task::JoinHandle<()>,
}

/// A status to write ([`work::write_statuses`]).
#[derive(Debug)]
enum StatusWrite {
    Connector(String, crate::storage::statuses::Status),
    Task(TaskId, crate::storage::statuses::Status),
}

struct State {
    settings: crate::worker_group::GroupSettings,
    worker: Worker,
    log: Arc<dyn Log>,
    offsets: Arc<OffsetStore>,
    configs: ConfigStore,
    /// Every status in the status topic, as read by the tail plus this worker's own writes.
    status_view: Arc<Mutex<StatusSnapshot>>,
    status_writer: mpsc::UnboundedSender<StatusWrite>,
    /// This worker's view of the config topic.
    view: ConfigState,
    worker_id: String,
    url: String,
    internal_topics: InternalTopics,
    membership: Option<Membership>,
    group: Group,
    connectors: BTreeMap<String, RunningConn>,
    tasks: BTreeMap<TaskId, RunningTask>,
    /// Every connector with its task count, as last acted on: a change needs a rebalance.
    known_counts: BTreeMap<String, usize>,
    /// Task configs this worker wrote or handed to the leader, not yet in the view (so
    /// that they are not sent twice).
    written_tasks: BTreeMap<String, Vec<ConfigMap>>,
    internal: mpsc::UnboundedSender<Internal>,
    http: reqwest::Client,
    /// When to rejoin because lost work is being held back (`scheduled.rebalance.max.delay.ms`).
    next_rejoin: Option<Instant>,
    /// Connectors whose task configs are to be generated again, and when.
    reconfigure_at: BTreeMap<String, Instant>,
    /// Connectors whose task configs are being handed to the leader; `true`: generate them
    /// again once that is done (the connector asked again meanwhile).
    forwarding: BTreeMap<String, bool>,
    failed: watch::Sender<Option<String>>,
}

impl State {
    async fn run(mut self, mut inputs: Inputs) {
        loop {
            let timer = self.next_timer();
            tokio::select! {
                biased;
                _ = &mut inputs.stop => break,
                Some(event) = inputs.membership.recv() => self.on_membership(event).await,
                Some(request) = inputs.requests.recv() => core::handle(&mut self, request).await,
                Some(records) = inputs.config_tail.recv() => self.on_config_records(records).await,
                Some(records) = inputs.status_tail.recv() => self.on_status_records(records),
                Some(event) = inputs.connector_events.recv() => self.on_connector_event(event).await,
                Some(done) = inputs.internal.recv() => self.on_internal(done).await,
                _ = tokio::time::sleep_until(timer) => self.on_timer().await,
            }
            if self.failed.borrow().is_some() {
                break;
            }
        }
        core::fail_pending(&mut inputs.requests);
        self.group.rebalancing = true;
        self.stop_everything(work::Stopped::Unassigned).await;
        if let Some(m) = self.membership.take() {
            m.leave().await;
        }
        // Let the status writer finish what was queued (bounded: the broker may be away).
        drop(self.status_writer);
        if tokio::time::timeout(Duration::from_secs(5), inputs.writer)
            .await
            .is_err()
        {
            tracing::warn!("statuses still unwritten at shutdown were dropped");
        }
        if let Err(e) = self.log.close().await {
            tracing::warn!(error = %e, "closing the log failed");
        }
    }

    fn next_timer(&self) -> Instant {
        let far = Instant::now() + Duration::from_secs(3600);
        let mut next = self.next_rejoin.unwrap_or(far);
        if let Some(at) = self.reconfigure_at.values().min() {
            next = next.min(*at);
        }
        if let Some(since) = self.group.failing_since {
            next = next.min(since + self.lost_after());
        }
        next
    }

    /// How long a worker that cannot rejoin keeps its work: after that another worker may
    /// run it (KAFKA-9184).
    fn lost_after(&self) -> Duration {
        self.settings.session_timeout + self.settings.max_delay
    }

    async fn on_timer(&mut self) {
        let now = Instant::now();
        if self.next_rejoin.is_some_and(|t| t <= now) {
            self.next_rejoin = None;
            self.rejoin("the delay for lost work ended");
        }
        let due: Vec<String> = self
            .reconfigure_at
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            self.reconfigure_at.remove(&name);
            self.reconfigure(&name).await;
        }
        if let Some(since) = self.group.failing_since
            && since + self.lost_after() <= now
        {
            self.group.failing_since = None;
            if !self.connectors.is_empty() || !self.tasks.is_empty() {
                tracing::warn!(
                    out_of_group_for = ?since.elapsed(),
                    "this worker could not rejoin its group for longer than session.timeout.ms + scheduled.rebalance.max.delay.ms: stopping its work, which other workers may run now"
                );
                // Reported nothing: the status topic is out of reach, and a late UNASSIGNED
                // would hide the status of the worker that runs the task by then.
                self.stop_everything(work::Stopped::Quiet).await;
            }
        }
    }

    fn rejoin(&mut self, reason: &str) {
        self.group.rebalancing = true;
        if let Some(m) = &self.membership {
            m.rejoin(reason);
        }
    }

    // -------------------------------------------------------------------------------
    // Membership

    async fn on_membership(&mut self, event: Event) {
        match event {
            Event::Joining { eager, reply } => {
                self.group.rebalancing = true;
                if eager {
                    self.stop_everything(work::Stopped::Unassigned).await;
                }
                let _ = reply.send(JoinView {
                    config_offset: self.view.offset(),
                    connectors: self.view.task_counts(),
                });
            }
            Event::Failed(reason) => {
                self.group.rebalancing = true;
                if self.group.failing_since.is_none() {
                    self.group.failing_since = Some(Instant::now());
                }
                tracing::debug!(%reason, "rebalance failed");
            }
            Event::Rebalanced(r, owners) => self.on_rebalanced(*r, owners).await,
        }
    }

    async fn on_rebalanced(&mut self, r: Rebalanced, owners: Option<Vec<(String, Work)>>) {
        self.group.failing_since = None;
        if let Some(group_topics) = r.refused_for() {
            let reason = format!(
                "this worker's config disagrees with group '{}' (leader {}): {}; every worker of a group must use the same config.storage.topic, offset.storage.topic and status.storage.topic",
                self.settings.group_id,
                r.assignment.leader_url,
                self.internal_topics.differences(group_topics).join("; ")
            );
            tracing::error!(%reason, "refused by the group");
            let _ = self.failed.send(Some(reason));
            return;
        }
        self.group.generation = r.generation;
        self.group.is_leader = r.is_leader;
        self.group.leader_url = Some(r.assignment.leader_url.clone()).filter(|u| !u.is_empty());
        self.group.owners = owners.unwrap_or_default();
        if r.config_mismatch() {
            tracing::info!(
                mine = self.view.offset(),
                group = r.assignment.config_offset,
                "the leader's config offset differs from this worker's: catching up and rejoining"
            );
            self.catch_up(r.assignment.config_offset).await;
            self.rejoin("config offset mismatch");
            return;
        }
        // Revocations first: stop, so that the work can start elsewhere.
        let revoked = Work::revoked_in(&r.assignment);
        let eager = !r.protocol.is_incremental();
        if !revoked.is_empty() {
            tracing::info!(
                connectors = revoked.connectors.len(),
                tasks = revoked.tasks.len(),
                "stopping revoked work"
            );
            let tasks: Vec<TaskId> = revoked.tasks.iter().cloned().collect();
            self.stop_tasks(&tasks, work::Stopped::Unassigned).await;
            for name in &revoked.connectors {
                self.stop_connector(name, work::Stopped::Unassigned).await;
            }
        }
        self.group.assigned = r.running.clone();
        if eager {
            // An eager assignment is whole: whatever runs and is not in it stops.
            let extra: Vec<TaskId> = self
                .tasks
                .keys()
                .filter(|t| !r.running.tasks.contains(*t))
                .cloned()
                .collect();
            self.stop_tasks(&extra, work::Stopped::Unassigned).await;
            let extra: Vec<String> = self
                .connectors
                .keys()
                .filter(|c| !r.running.connectors.contains(*c))
                .cloned()
                .collect();
            for name in extra {
                self.stop_connector(&name, work::Stopped::Unassigned).await;
            }
        }
        let rejoin_now = r.needs_rejoin();
        if self.view.offset() < r.assignment.config_offset
            && !self.catch_up(r.assignment.config_offset).await
        {
            tracing::error!(
                mine = self.view.offset(),
                group = r.assignment.config_offset,
                timeout = ?SYNC_TIMEOUT,
                topic = %self.internal_topics.config,
                "cannot read the config topic up to the assignment's offset: is this worker's config.storage.topic the group's? rejoining"
            );
            self.rejoin("config topic behind the assignment");
            return;
        }
        self.group.joined = true;
        self.group.rebalancing = rejoin_now;
        self.next_rejoin = r.rejoin_after().map(|d| Instant::now() + d);
        if rejoin_now {
            self.rejoin("revoked work was stopped");
        }
        tracing::info!(
            generation = r.generation,
            leader = r.is_leader,
            connectors = self.group.assigned.connectors.len(),
            tasks = self.group.assigned.tasks.len(),
            "assignment applied"
        );
        self.start_assigned().await;
    }

    /// Reads the config topic until the view reaches `offset` (bounded by
    /// [`SYNC_TIMEOUT`]); whether it did.
    async fn catch_up(&mut self, offset: i64) -> bool {
        let deadline = Instant::now() + SYNC_TIMEOUT;
        loop {
            if let Err(e) = self.read_config().await {
                tracing::warn!(error = %e, "reading the config topic failed");
            }
            if self.view.offset() >= offset {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // -------------------------------------------------------------------------------
    // The internal topics

    /// Reads the config topic to its end now and acts on what changed.
    async fn read_config(&mut self) -> Result<(), ConfigStoreError> {
        let mut changes = Vec::new();
        self.configs
            .read(&mut self.view, |c| changes.push(c))
            .await?;
        self.on_config_changes(changes).await;
        Ok(())
    }

    async fn on_config_records(&mut self, records: Vec<TailRecord>) {
        let mut changes = Vec::new();
        for r in records {
            // Records already read directly (after this worker's own writes) come again.
            if r.offset < self.view.next_offset() {
                continue;
            }
            let Ok(key) = std::str::from_utf8(&r.key) else {
                continue;
            };
            if let Some(change) = self.view.apply(r.offset, key, r.value.as_deref()) {
                changes.push(change);
            }
        }
        self.on_config_changes(changes).await;
    }

    fn on_status_records(&mut self, records: Vec<TailRecord>) {
        let topics = self.worker.active_topics();
        let mut view = self.status_view.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            let Ok(key) = std::str::from_utf8(&r.key) else {
                continue;
            };
            view.apply(key, r.value.as_deref());
            if let Some((topic, connector)) = key
                .strip_prefix("status-topic-")
                .and_then(|rest| rest.split_once(":connector-"))
            {
                topics.observe(connector, topic, r.value.is_some());
            }
        }
        // A late UNASSIGNED from a worker that ran something before this one (its write
        // was held up, e.g. while the broker was away) must not hide that it runs here.
        let stale = |s: Option<&crate::storage::statuses::Status>| {
            s.is_some_and(|s| s.state == StatusState::Unassigned && s.worker_id != self.worker_id)
        };
        let connectors: Vec<(String, StatusState)> = self
            .connectors
            .iter()
            .filter(|(name, c)| {
                c.instance.is_some() && c.failure.is_none() && stale(view.connectors.get(*name))
            })
            .map(|(name, _)| {
                let state = match self.view.target(name) {
                    TargetState::Paused => StatusState::Paused,
                    _ => StatusState::Running,
                };
                (name.clone(), state)
            })
            .collect();
        let tasks: Vec<(TaskId, StatusState)> = self
            .tasks
            .iter()
            .filter(|(id, _)| stale(view.tasks.get(*id)))
            .filter_map(|(id, t)| match t.handle.state() {
                TaskState::Running => Some((id.clone(), StatusState::Running)),
                TaskState::Paused => Some((id.clone(), StatusState::Paused)),
                _ => None,
            })
            .collect();
        drop(view);
        for (name, state) in connectors {
            tracing::info!(connector = %name, "another worker reported this connector UNASSIGNED: reporting it again");
            self.put_connector_status(&name, state, None);
        }
        for (id, state) in tasks {
            tracing::info!(task = %id, "another worker reported this task UNASSIGNED: reporting it again");
            self.put_task_status(&id, state, None);
        }
    }

    async fn on_connector_event(&mut self, event: ConnectorEvent) {
        match event {
            ConnectorEvent::Reconfigure(name) => self.reconfigure(&name).await,
            ConnectorEvent::Failed(name, cause) => {
                if let Some(c) = self.connectors.get_mut(&name) {
                    c.failure = Some(cause.clone());
                    self.put_connector_status(&name, StatusState::Failed, Some(cause));
                }
            }
        }
    }

    async fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Forwarded(name, result) => {
                let again = self.forwarding.remove(&name).unwrap_or(false);
                match result {
                    Ok(()) if again => self.reconfigure(&name).await,
                    Ok(()) => {}
                    Err(e) => {
                        tracing::info!(connector = %name, error = %e, "handing task configs to the leader failed; retrying");
                        self.reconfigure_at
                            .insert(name, Instant::now() + RECONFIGURE_BACKOFF);
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Backend for State {
    fn worker(&self) -> &Worker {
        &self.worker
    }

    fn offset_stores(&self) -> (&dyn Log, &OffsetStore) {
        (self.log.as_ref(), &self.offsets)
    }

    fn names(&self) -> Vec<String> {
        self.view.names().cloned().collect()
    }

    fn config(&self, name: &str) -> Option<&ConfigMap> {
        self.view.config(name)
    }

    fn task_configs(&self, name: &str) -> &[ConfigMap] {
        self.view.tasks(name)
    }

    fn target(&self, name: &str) -> TargetState {
        self.view.target(name)
    }

    fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        let config = self.view.config(name).ok_or_else(|| not_found(name))?;
        let view = self.status_view.lock().unwrap_or_else(|e| e.into_inner());
        let state = |s: Option<&crate::storage::statuses::Status>| match s {
            Some(s) => StateInfo {
                state: s.state.as_str(),
                trace: s.trace.clone(),
                worker_id: s.worker_id.clone(),
            },
            None => StateInfo {
                state: StatusState::Unassigned.as_str(),
                trace: None,
                worker_id: String::new(),
            },
        };
        let connector = state(view.connectors.get(name));
        let tasks = (0..self.view.tasks(name).len())
            .map(|task| {
                let id = TaskId {
                    connector: name.to_string(),
                    task,
                };
                (task, state(view.tasks.get(&id)))
            })
            .collect();
        Ok(ConnectorStatus {
            name: name.to_string(),
            connector,
            tasks,
            kind: super::kind_of(config),
        })
    }

    /// 409 while no assignment is in force (not joined yet, or rebalancing).
    fn writable(&self) -> Result<(), HerderError> {
        if !self.group.joined {
            return Err(HerderError::Forward {
                url: None,
                message: "this worker has not joined its group yet".into(),
            });
        }
        if self.group.rebalancing {
            return Err(HerderError::Rebalancing);
        }
        Ok(())
    }

    /// Only the leader writes the config topic: elsewhere, the request is forwarded.
    fn admit_write(&self) -> Result<(), HerderError> {
        self.writable()?;
        if self.group.is_leader {
            return Ok(());
        }
        Err(HerderError::Forward {
            url: self.group.leader_url.clone(),
            message: "this worker is not the leader".into(),
        })
    }

    /// KIP-875: offsets change only for a STOPPED connector (target state and no tasks).
    fn is_stopped(&self, name: &str) -> bool {
        self.view.target(name) == TargetState::Stopped && self.view.tasks(name).is_empty()
    }

    async fn put_config(
        &mut self,
        name: &str,
        config: ConfigMap,
        _exists: bool,
        initial: Option<TargetState>,
    ) -> Result<(), HerderError> {
        self.configs
            .put_connector_with(name, &config, initial)
            .await
            .map_err(internal)?;
        self.read_config().await.map_err(internal)
    }

    async fn put_task_configs(
        &mut self,
        name: &str,
        tasks: Vec<ConfigMap>,
    ) -> Result<(), HerderError> {
        if self.view.target(name) == TargetState::Stopped {
            // A connector stopped meanwhile has no tasks (KIP-875).
            return Ok(());
        }
        if self.view.tasks(name) == tasks.as_slice() {
            return Ok(());
        }
        self.configs
            .put_tasks(name, &tasks)
            .await
            .map_err(internal)?;
        self.read_config().await.map_err(internal)?;
        tracing::info!(connector = %name, tasks = tasks.len(), "task configs stored");
        Ok(())
    }

    async fn delete(&mut self, name: &str) -> Result<(), HerderError> {
        let tasks = self.view.tasks(name).len();
        self.configs
            .delete_connector(name)
            .await
            .map_err(internal)?;
        // Statuses of a deleted connector are tombstones (DESTROYED), as Kafka Connect's.
        self.put_connector_status(name, StatusState::Destroyed, None);
        for task in 0..tasks {
            self.put_task_status(
                &TaskId {
                    connector: name.to_string(),
                    task,
                },
                StatusState::Destroyed,
                None,
            );
        }
        if let Err(e) = self.worker.active_topics().reset(name).await {
            tracing::warn!(connector = %name, error = %e, "cannot reset the active topics of a deleted connector");
        }
        self.read_config().await.map_err(internal)
    }

    async fn set_target(&mut self, name: &str, target: TargetState) -> Result<(), HerderError> {
        match target {
            // No tasks, then STOPPED, in one write (KIP-875).
            TargetState::Stopped => self.configs.stop_connector(name).await,
            t => self.configs.put_target_state(name, t).await,
        }
        .map_err(internal)?;
        self.read_config().await.map_err(internal)
    }

    /// `POST /connectors/{name}/restart` (KIP-745): the leader writes a restart request to
    /// the config topic; the workers running the connector and its tasks act on it. The
    /// answer is the plan: what will restart shows RESTARTING.
    async fn restart(
        &mut self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStatus, HerderError> {
        let mut plan = Backend::status(self, name)?;
        let restarting = |s: &mut StateInfo, include: bool| {
            if include && (!request.only_failed || s.state == StatusState::Failed.as_str()) {
                s.state = StatusState::Restarting.as_str();
            }
        };
        restarting(&mut plan.connector, true);
        for (_, t) in &mut plan.tasks {
            restarting(t, request.include_tasks);
        }
        self.configs
            .put_restart(name, request)
            .await
            .map_err(internal)?;
        self.read_config().await.map_err(internal)?;
        Ok(plan)
    }

    /// `POST /connectors/{name}/tasks/{n}/restart`: by the worker running the task; the
    /// leader knows which one that is.
    async fn restart_task(&mut self, id: &TaskId) -> Result<(), HerderError> {
        if id.task >= self.view.tasks(&id.connector).len() {
            return Err(HerderError::NotFound(format!("Task {id} not found")));
        }
        if self.tasks.contains_key(id) {
            self.restart_local_task(id).await;
            return Ok(());
        }
        if !self.group.is_leader {
            return self.admit_write();
        }
        let owner = self
            .group
            .owners
            .iter()
            .find(|(_, w)| w.tasks.contains(id))
            .map(|(url, _)| url.clone());
        match owner {
            Some(url) if url != self.url => Err(HerderError::Forward {
                url: Some(url),
                message: format!("task {id} runs on another worker"),
            }),
            _ => Err(HerderError::Rebalancing),
        }
    }
}

/// How a status is worded for [`StatusWrite`].
fn status_of(
    state: StatusState,
    trace: Option<String>,
    worker_id: &str,
    generation: i32,
) -> crate::storage::statuses::Status {
    crate::storage::statuses::Status {
        state,
        trace,
        worker_id: worker_id.to_string(),
        generation,
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("worker", &self.worker_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// configs/distributed.yaml loads and validates (the end-to-end tests run it too, with
    /// their addresses and timeouts).
    #[test]
    fn the_example_config_is_valid() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/distributed.yaml");
        let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.group_id(), "ferry-cluster");
        assert_eq!(config.worker().config_topic(), "ferry-configs");
        assert_eq!(config.replication_factor("status"), -1);
        assert_eq!(config.worker().advertised_url(), "http://127.0.0.1:8083/");
    }

    /// Two workers in this process with one broker: a connector whose task count grows
    /// when it asks for reconfiguration, on the leader and on the follower (whose configs go
    /// to the leader through `POST /connectors/{name}/tasks`).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requested_reconfigurations_reach_the_config_topic_from_any_worker() {
        use crate::plugins::testing;
        use crate::rest::{self, Loggers, RestState};
        use ferry_broker::server::{Broker, BrokerConfig};
        use ferry_log::{LogConfig, LogManager};

        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(LogManager::open(LogConfig::new(dir.path())).unwrap());
        let broker = Broker::bind(BrokerConfig::new("127.0.0.1:0".parse().unwrap()), log)
            .await
            .unwrap();
        let broker_addr = broker.local_addr().unwrap();
        let (stop_broker, stopped) = oneshot::channel::<()>();
        let broker = tokio::spawn(broker.run(async move {
            let _ = stopped.await;
        }));
        let mut workers = Vec::new();
        let mut urls = Vec::new();
        for _ in 0..2 {
            let listener = rest::bind("http://127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let map: ConfigMap = [
                ("bootstrap.servers", broker_addr.to_string()),
                ("group.id", "g".into()),
                ("listeners", format!("http://127.0.0.1:{port}")),
                ("session.timeout.ms", "1500".into()),
                ("heartbeat.interval.ms", "300".into()),
                ("scheduled.rebalance.max.delay.ms", "0".into()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let d = Distributed::start(DistributedConfig::parse(&map).unwrap())
                .await
                .unwrap();
            let state = RestState::new(d.herder(), Loggers::new("info", None), "g");
            tokio::spawn(rest::serve(listener, state, std::future::pending()));
            urls.push(format!("http://127.0.0.1:{port}"));
            workers.push(d);
        }
        let http = reqwest::Client::new();
        // Two connectors: each worker runs one connector instance.
        for name in ["grow-a", "grow-b"] {
            testing::set_tasks(name, 1, false);
            let body = serde_json::json!({
                "name": name,
                "config": {"connector.class": testing::CLASS, "tasks.max": "6"},
            });
            let mut created = false;
            for _ in 0..200 {
                let r = http
                    .post(format!("{}/connectors", urls[0]))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                if r.status() == 201 {
                    created = true;
                    break;
                }
                assert_eq!(r.status(), 409, "{}", r.text().await.unwrap_or_default());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert!(created, "{name} not created");
        }
        let tasks_running = |herder: Herder, name: &'static str, n: usize| async move {
            for _ in 0..400 {
                if let Ok(s) = herder.connector_status(name).await
                    && s.connector.state == "RUNNING"
                    && s.tasks.len() == n
                    && s.tasks.iter().all(|(_, t)| t.state == "RUNNING")
                {
                    return Some(s);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            None
        };
        let a = tasks_running(workers[1].herder(), "grow-a", 1)
            .await
            .unwrap();
        let b = tasks_running(workers[1].herder(), "grow-b", 1)
            .await
            .unwrap();
        assert_ne!(
            a.connector.worker_id, b.connector.worker_id,
            "each worker runs one connector"
        );
        testing::set_tasks("grow-a", 4, true);
        testing::set_tasks("grow-b", 3, true);
        for herder in [workers[0].herder(), workers[1].herder()] {
            let a = tasks_running(herder.clone(), "grow-a", 4).await;
            assert!(a.is_some(), "grow-a did not get its 4 tasks");
            let b = tasks_running(herder.clone(), "grow-b", 3).await;
            assert!(b.is_some(), "grow-b did not get its 3 tasks");
        }
        for w in workers {
            w.shutdown().await;
        }
        let _ = stop_broker.send(());
        let _ = broker.await;
    }

    #[test]
    fn a_bad_file_names_itself_and_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.yaml");
        std::fs::write(&path, "session.timeout.ms: nope\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("w.yaml"), "{err}");
        assert!(
            err.contains("group.id") && err.contains("session.timeout.ms"),
            "{err}"
        );
    }
}
