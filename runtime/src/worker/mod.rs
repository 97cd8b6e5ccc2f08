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
use tokio::sync::watch;

pub use config::WorkerConfig;

use crate::log::Log;
use crate::plugins;
use crate::storage::OffsetStore;

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
/// assigned ones. Kept in memory: a restarted worker starts with empty sets.
#[derive(Debug, Clone, Default)]
pub struct ActiveTopics(
    Arc<std::sync::Mutex<std::collections::BTreeMap<String, std::collections::BTreeSet<String>>>>,
);

impl ActiveTopics {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    > {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
    /// Records that `connector` uses `topic` (called once per topic and task, not per
    /// record).
    pub fn record(&self, connector: &str, topic: &str) {
        let mut map = self.lock();
        let set = map.entry(connector.to_string()).or_default();
        if !set.contains(topic) {
            set.insert(topic.to_string());
            tracing::debug!(connector, topic, "active topic recorded");
        }
    }
    /// The topics `connector` uses, sorted.
    pub fn topics(&self, connector: &str) -> Vec<String> {
        self.lock()
            .get(connector)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
    /// Forgets the topics of `connector`.
    pub fn reset(&self, connector: &str) {
        self.lock().remove(connector);
    }
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

struct LoggingContext {
    name: String,
    reconfigure: Option<tokio::sync::mpsc::UnboundedSender<String>>,
}

impl ConnectorContext for LoggingContext {
    fn request_task_reconfiguration(&self) {
        tracing::info!(connector = %self.name, "connector asked for task reconfiguration");
        if let Some(tx) = &self.reconfigure {
            let _ = tx.send(self.name.clone());
        }
    }
    fn raise_error(&self, error: ConnectError) {
        tracing::error!(connector = %self.name, %error, "connector FAILED");
    }
}

/// Runs connectors and tasks against one log and one offset store.
#[derive(Debug, Clone)]
pub struct Worker {
    config: WorkerConfig,
    log: Arc<dyn Log>,
    offsets: Arc<OffsetStore>,
    topics: ActiveTopics,
    /// Where connectors' reconfiguration requests go (the herder), by connector name.
    reconfigure: Option<tokio::sync::mpsc::UnboundedSender<String>>,
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
            reconfigure: None,
        }
    }

    /// Sends the names of connectors that ask for task reconfiguration to `tx`.
    pub fn on_reconfigure(&mut self, tx: tokio::sync::mpsc::UnboundedSender<String>) {
        self.reconfigure = Some(tx);
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
        let context = Arc::new(LoggingContext {
            name: name.clone(),
            reconfigure: self.reconfigure.clone(),
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
            topics: self.topics.clone(),
        };
        let join = match plugin {
            ferry_api::ConnectorPlugin::Source { task: new_task, .. } => {
                let reader = self.offsets.reader(&name);
                let offsets = self.offsets.clone();
                tokio::spawn(source::run(setup, new_task(), reader, offsets))
            }
            ferry_api::ConnectorPlugin::Sink { task: new_task, .. } => {
                tokio::spawn(sink::run(setup, new_task(), task, count))
            }
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
