//! The worker: runs connectors and their tasks against a [`Log`].
//!
//! A herder decides what runs; the worker runs it. Each task runs on its own tokio task
//! with one state machine (running → stopping → stopped, or failed); `stop` only signals,
//! and [`TaskHandle::join`] waits, as Kafka Connect's `WorkerTask` does.

pub mod config;
mod sink;
mod source;

pub(crate) use sink::consumed as sink_consumed;
pub mod topic_regex;

use std::sync::Arc;
use std::time::Duration;

use ferry_api::{ConfigIssue, ConfigMap, ConnectError, ConnectorContext, ConnectorType};
use tokio::sync::{mpsc, watch};

pub use config::WorkerConfig;

use crate::log::Log;
use crate::plugins;
use crate::storage::OffsetStore;
use crate::storage::statuses::{StatusStore, StatusStoreError, TopicStatus};

/// A task's place in its lifecycle, as Kafka Connect reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Starting up.
    Starting,
    /// Running.
    Running,
    /// Paused on request: assigned, not processing.
    Paused,
    /// Stopped on request.
    Stopped,
    /// Failed; the message says why.
    Failed(String),
}

/// What a connector's tasks are asked to do (Kafka Connect's `TargetState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetState {
    /// Process records.
    #[default]
    Started,
    /// Stay assigned, process nothing; offsets are committed on entering.
    Paused,
    /// Shut down.
    Stopped,
}

impl TargetState {
    /// Kafka Connect's name (`STARTED`, `PAUSED`, `STOPPED`).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Started => "STARTED",
            TargetState::Paused => "PAUSED",
            TargetState::Stopped => "STOPPED",
        }
    }
}

/// The id of a task: connector name and task number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// Connector name.
    pub connector: String,
    /// Task number.
    pub task: usize,
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// A running task.
#[derive(Debug)]
pub struct TaskHandle {
    id: TaskId,
    control: watch::Sender<TargetState>,
    state: watch::Receiver<TaskState>,
    join: tokio::task::JoinHandle<()>,
}

impl TaskHandle {
    /// The task's id.
    pub fn id(&self) -> &TaskId {
        &self.id
    }
    /// The task's current state.
    pub fn state(&self) -> TaskState {
        self.state.borrow().clone()
    }
    /// A receiver of state changes.
    pub fn watch_state(&self) -> watch::Receiver<TaskState> {
        self.state.clone()
    }
    /// Asks the task to stop; returns at once.
    pub fn stop(&self) {
        let _ = self.control.send(TargetState::Stopped);
    }
    /// Pauses or resumes the task; returns at once.
    pub fn set_paused(&self, paused: bool) {
        let target = if paused {
            TargetState::Paused
        } else {
            TargetState::Started
        };
        self.control.send_if_modified(|t| {
            let change = *t != TargetState::Stopped && *t != target;
            if change {
                *t = target;
            }
            change
        });
    }
    /// Waits up to `timeout` for the task to finish; abandons it after that.
    pub async fn join(self, timeout: Duration) {
        let id = self.id.clone();
        let mut join = self.join;
        if tokio::time::timeout(timeout, &mut join).await.is_err() {
            tracing::warn!(task = %id, ?timeout, "task did not stop in time: abandoning it");
            join.abort();
        }
    }
}

/// The topics each connector has used since it was created or its set was last reset
/// (Kafka Connect's active topics, KIP-558): a source's destination topics, a sink's
/// assigned ones. With a status store ([`ActiveTopics::stored_in`]) each topic seen for the
/// first time is recorded there as `status-topic-<topic>:connector-<name>`, so the sets
/// survive restarts and every worker of a group sees them; the herder feeds back what the
/// status topic holds ([`ActiveTopics::observe`]). Without one they live in memory only.
#[derive(Debug, Clone, Default)]
pub struct ActiveTopics {
    inner: Arc<TopicsInner>,
    /// The task recording through this handle (a handle per task).
    task: i32,
}

#[derive(Debug, Default)]
struct TopicsInner {
    sets: std::sync::Mutex<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>,
    store: Option<Arc<StatusStore>>,
}

impl ActiveTopics {
    /// Sets kept in `store`, starting from what it holds (`(connector, topic)` pairs).
    pub fn stored_in(
        store: Arc<StatusStore>,
        known: impl IntoIterator<Item = (String, String)>,
    ) -> ActiveTopics {
        let topics = ActiveTopics {
            inner: Arc::new(TopicsInner {
                sets: Default::default(),
                store: Some(store),
            }),
            task: 0,
        };
        for (connector, topic) in known {
            topics.observe(&connector, &topic, true);
        }
        topics
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    > {
        self.inner.sets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The same sets, recording as task `task`.
    pub(crate) fn for_task(&self, task: usize) -> ActiveTopics {
        ActiveTopics {
            inner: self.inner.clone(),
            task: i32::try_from(task).unwrap_or(i32::MAX),
        }
    }

    /// Records that `connector` uses `topic` (called once per topic and task, not per
    /// record); a topic new to the set is written to the status store in the background.
    pub fn record(&self, connector: &str, topic: &str) {
        let new = self
            .lock()
            .entry(connector.to_string())
            .or_default()
            .insert(topic.to_string());
        if !new {
            return;
        }
        tracing::debug!(connector, topic, "active topic recorded");
        if let Some(store) = self.inner.store.clone() {
            let status = TopicStatus {
                topic: topic.to_string(),
                connector: connector.to_string(),
                task: self.task,
                discover_timestamp: ferry_record::now_ms(),
            };
            tokio::spawn(async move {
                if let Err(e) = store.put_topic(&status).await {
                    tracing::warn!(connector = %status.connector, topic = %status.topic, error = %e, "cannot record an active topic");
                }
            });
        }
    }

    /// Applies what the status topic says: `connector` uses `topic` (`present`), or its
    /// record was reset.
    pub fn observe(&self, connector: &str, topic: &str, present: bool) {
        let mut sets = self.lock();
        if present {
            sets.entry(connector.to_string())
                .or_default()
                .insert(topic.to_string());
        } else if let Some(set) = sets.get_mut(connector) {
            set.remove(topic);
            if set.is_empty() {
                sets.remove(connector);
            }
        }
    }

    /// The topics `connector` uses, sorted.
    pub fn topics(&self, connector: &str) -> Vec<String> {
        self.lock()
            .get(connector)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Forgets the topics of `connector` (tombstones in the status store, when kept there);
    /// returns the set before.
    pub async fn reset(&self, connector: &str) -> Result<Vec<String>, StatusStoreError> {
        let topics: Vec<String> = self
            .lock()
            .remove(connector)
            .map(|s| s.into_iter().collect())
            .unwrap_or_default();
        if let Some(store) = &self.inner.store {
            for topic in &topics {
                store.delete_topic(topic, connector).await?;
            }
        }
        Ok(topics)
    }
}

/// What a connector asks of the herder that runs it (through its `ConnectorContext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorEvent {
    /// `request_task_reconfiguration`: its task configs should be generated again.
    Reconfigure(String),
    /// `raise_error`: the connector failed; the message says why.
    Failed(String, String),
}

/// What every task runner gets.
pub(crate) struct TaskSetup {
    pub(crate) id: TaskId,
    pub(crate) connector_config: ConfigMap,
    pub(crate) task_config: ConfigMap,
    pub(crate) log: Arc<dyn Log>,
    pub(crate) worker: WorkerConfig,
    pub(crate) control: watch::Receiver<TargetState>,
    pub(crate) state: watch::Sender<TaskState>,
    pub(crate) topics: ActiveTopics,
}

impl TaskSetup {
    pub(crate) fn set_state(&self, state: TaskState) {
        match &state {
            TaskState::Failed(cause) => {
                tracing::error!(task = %self.id, %cause, "task FAILED");
            }
            other => tracing::info!(task = %self.id, state = ?other, "task state"),
        }
        let _ = self.state.send(state);
    }

    pub(crate) fn stopping(&self) -> bool {
        *self.control.borrow() == TargetState::Stopped
    }

    pub(crate) fn paused(&self) -> bool {
        *self.control.borrow() == TargetState::Paused
    }

    /// While paused: reports PAUSED, waits for resume or stop, reports RUNNING on resume.
    /// Returns whether the task was paused.
    pub(crate) async fn wait_while_paused(&self) -> bool {
        if !self.paused() {
            return false;
        }
        self.set_state(TaskState::Paused);
        let mut control = self.control.clone();
        let _ = control.wait_for(|t| *t != TargetState::Paused).await;
        if !self.stopping() {
            self.set_state(TaskState::Running);
        }
        true
    }

    /// Before the task starts: while paused, reports PAUSED and waits. Returns false (having
    /// reported STOPPED) when stopped before it started.
    async fn hold_until_started(&self) -> bool {
        if self.paused() {
            self.set_state(TaskState::Paused);
            let mut control = self.control.clone();
            let _ = control.wait_for(|t| *t != TargetState::Paused).await;
        }
        if self.stopping() {
            self.set_state(TaskState::Stopped);
            return false;
        }
        true
    }

    /// The key or value converter of this connector: its own if it names one, else the
    /// worker's, configured with the matching prefixed settings.
    pub(crate) fn converter(
        &self,
        is_key: bool,
    ) -> Result<Box<dyn ferry_api::Converter>, ConnectError> {
        converter_for(&self.worker, &self.connector_config, is_key)
    }

    /// The class name of the key or value converter, for error reports.
    pub(crate) fn converter_class(&self, is_key: bool) -> String {
        let key = if is_key {
            "key.converter"
        } else {
            "value.converter"
        };
        match self
            .connector_config
            .get(key)
            .filter(|c| !c.trim().is_empty())
        {
            Some(class) => class.trim().to_string(),
            None => self.worker.converter(is_key).0,
        }
    }

    /// This task's `errors.*` policy.
    pub(crate) fn error_handler(
        &self,
        kind: ConnectorType,
    ) -> Result<crate::errors::ErrorHandler, ConnectError> {
        crate::errors::ErrorHandler::new(
            kind,
            &self.connector_config,
            self.id.to_string(),
            self.log.clone(),
            self.worker.default_partitions(),
        )
    }
}

fn converter_for(
    worker: &WorkerConfig,
    connector_config: &ConfigMap,
    is_key: bool,
) -> Result<Box<dyn ferry_api::Converter>, ConnectError> {
    let key = if is_key {
        "key.converter"
    } else {
        "value.converter"
    };
    let (class, settings) = match connector_config.get(key).filter(|c| !c.trim().is_empty()) {
        Some(class) => {
            let prefix = format!("{key}.");
            let settings = connector_config
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|r| (r.to_string(), v.clone())))
                .collect();
            (class.trim().to_string(), settings)
        }
        None => worker.converter(is_key),
    };
    plugins::converter(&class, &settings, is_key)
        .map_err(|e| ConnectError::Config(format!("{key}: {e}")))
}

/// Checks a connector config without starting anything: common keys, the connector's own
/// keys, sink topics, and the converters. Every problem is reported.
pub fn validate_connector(worker: &WorkerConfig, config: &ConfigMap) -> Vec<ConfigIssue> {
    let mut issues = config::connector_config_def().validate(config);
    let Some(class) = config
        .get("connector.class")
        .filter(|c| !c.trim().is_empty())
    else {
        return issues;
    };
    let Some(plugin) = plugins::connector(class.trim()) else {
        issues.push(ConfigIssue {
            key: "connector.class".into(),
            value: Some(class.clone()),
            message: format!(
                "unknown connector class (known: {})",
                plugins::connector_names().join(", ")
            ),
        });
        return issues;
    };
    let connector = plugin.new_connector();
    issues.extend(connector.validate(config));
    issues.extend(crate::errors::config_def(plugin.connector_type()).validate(config));
    if plugin.connector_type() == ConnectorType::Sink {
        issues.extend(config::sink_config_def().validate(config));
        issues.extend(config::validate_sink_topics(config));
    }
    for is_key in [true, false] {
        if let Err(e) = converter_for(worker, config, is_key) {
            let key = if is_key {
                "key.converter"
            } else {
                "value.converter"
            };
            issues.push(ConfigIssue {
                key: key.into(),
                value: config.get(key).cloned(),
                message: e.to_string(),
            });
        }
    }
    issues
}

/// A connector that was started: its instance and the task configs it produced.
pub struct RunningConnector {
    name: String,
    connector: Box<dyn ferry_api::Connector>,
    kind: ConnectorType,
    config: ConfigMap,
}

impl std::fmt::Debug for RunningConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningConnector")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

struct Context {
    name: String,
    events: Option<mpsc::UnboundedSender<ConnectorEvent>>,
}

impl ConnectorContext for Context {
    fn request_task_reconfiguration(&self) {
        tracing::info!(connector = %self.name, "connector asked for task reconfiguration");
        if let Some(events) = &self.events {
            let _ = events.send(ConnectorEvent::Reconfigure(self.name.clone()));
        }
    }
    fn raise_error(&self, error: ConnectError) {
        tracing::error!(connector = %self.name, %error, "connector FAILED");
        if let Some(events) = &self.events {
            let _ = events.send(ConnectorEvent::Failed(self.name.clone(), error.to_string()));
        }
    }
}

/// Runs connectors and tasks against one log and one offset store.
#[derive(Debug, Clone)]
pub struct Worker {
    config: WorkerConfig,
    log: Arc<dyn Log>,
    offsets: Arc<OffsetStore>,
    topics: ActiveTopics,
    events: Option<mpsc::UnboundedSender<ConnectorEvent>>,
}

impl std::fmt::Debug for dyn Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Log")
    }
}

impl Worker {
    /// A worker over `log`, keeping source offsets in `offsets`.
    pub fn new(config: WorkerConfig, log: Arc<dyn Log>, offsets: Arc<OffsetStore>) -> Worker {
        Worker {
            config,
            log,
            offsets,
            topics: ActiveTopics::default(),
            events: None,
        }
    }

    /// Keeps the active topics in `topics` (e.g. [`ActiveTopics::stored_in`] a status store).
    pub fn with_active_topics(mut self, topics: ActiveTopics) -> Worker {
        self.topics = topics;
        self
    }

    /// Sends what connectors ask for (task reconfiguration, failure) to `events`.
    pub fn with_connector_events(
        mut self,
        events: mpsc::UnboundedSender<ConnectorEvent>,
    ) -> Worker {
        self.events = Some(events);
        self
    }

    /// The topics each connector uses.
    pub fn active_topics(&self) -> &ActiveTopics {
        &self.topics
    }

    /// The worker config.
    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Starts a connector instance (its config must have passed [`validate_connector`]).
    pub async fn start_connector(
        &self,
        config: &ConfigMap,
    ) -> Result<RunningConnector, ConnectError> {
        let name = config.get("name").cloned().unwrap_or_default();
        let class = config
            .get("connector.class")
            .map(|c| c.trim())
            .unwrap_or("");
        let plugin = plugins::connector(class)
            .ok_or_else(|| ConnectError::Config(format!("unknown connector class \"{class}\"")))?;
        let mut connector = plugin.new_connector();
        let context = Arc::new(Context {
            name: name.clone(),
            events: self.events.clone(),
        });
        connector.start(context, config).await?;
        tracing::info!(connector = %name, class = plugin.info().class, "connector started");
        Ok(RunningConnector {
            name,
            connector,
            kind: plugin.connector_type(),
            config: config.clone(),
        })
    }

    /// The task configs of a running connector (`tasks.max` at most).
    pub fn task_configs(&self, running: &RunningConnector) -> Result<Vec<ConfigMap>, ConnectError> {
        let max_tasks = running
            .config
            .get("tasks.max")
            .and_then(|t| t.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let mut configs = running.connector.task_configs(max_tasks)?;
        configs.truncate(max_tasks);
        Ok(configs)
    }

    /// Starts one task per task config, in `initial` state (started or paused).
    pub fn start_tasks(
        &self,
        connector_config: &ConfigMap,
        task_configs: &[ConfigMap],
        initial: TargetState,
    ) -> Result<Vec<TaskHandle>, ConnectError> {
        (0..task_configs.len())
            .map(|task| self.start_task(connector_config, task_configs, task, initial))
            .collect()
    }

    /// Starts task number `task` of a connector.
    pub fn start_task(
        &self,
        connector_config: &ConfigMap,
        task_configs: &[ConfigMap],
        task: usize,
        initial: TargetState,
    ) -> Result<TaskHandle, ConnectError> {
        let name = connector_config.get("name").cloned().unwrap_or_default();
        let class = connector_config
            .get("connector.class")
            .map(|c| c.trim())
            .unwrap_or("");
        let plugin = plugins::connector(class)
            .ok_or_else(|| ConnectError::Config(format!("unknown connector class \"{class}\"")))?;
        let count = task_configs.len();
        let task_config = task_configs
            .get(task)
            .cloned()
            .ok_or_else(|| ConnectError::Other(format!("connector {name} has no task {task}")))?;
        let id = TaskId {
            connector: name.clone(),
            task,
        };
        let (control_tx, control_rx) = watch::channel(initial);
        let (state_tx, state_rx) = watch::channel(TaskState::Starting);
        let setup = TaskSetup {
            id: id.clone(),
            connector_config: connector_config.clone(),
            task_config,
            log: self.log.clone(),
            worker: self.config.clone(),
            control: control_rx,
            state: state_tx,
            topics: self.topics.for_task(task),
        };
        // A task created paused (a connector created PAUSED, a paused connector's task
        // restarted) is not started until resumed, as Kafka Connect's WorkerTask: it never
        // reports RUNNING in between.
        let join = match plugin {
            ferry_api::ConnectorPlugin::Source { task: new_task, .. } => {
                let reader = self.offsets.reader(&name);
                let offsets = self.offsets.clone();
                tokio::spawn(async move {
                    if setup.hold_until_started().await {
                        source::run(setup, new_task(), reader, offsets).await;
                    }
                })
            }
            ferry_api::ConnectorPlugin::Sink { task: new_task, .. } => tokio::spawn(async move {
                if setup.hold_until_started().await {
                    sink::run(setup, new_task(), task, count).await;
                }
            }),
        };
        Ok(TaskHandle {
            id,
            control: control_tx,
            state: state_rx,
            join,
        })
    }

    /// Stops a connector instance (not its tasks).
    pub async fn stop_connector(&self, mut running: RunningConnector) {
        if let Err(e) = running.connector.stop().await {
            tracing::warn!(connector = %running.name, error = %e, "connector stop failed");
        }
        tracing::info!(connector = %running.name, "connector stopped");
    }
}
