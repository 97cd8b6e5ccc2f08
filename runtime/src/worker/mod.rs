//! The worker: runs connectors and their tasks against a [`Log`].
//!
//! A herder decides what runs; the worker runs it. Each task runs on its own tokio task
//! with one state machine (running → stopping → stopped, or failed); `stop` only signals,
//! and [`TaskHandle::join`] waits, as Kafka Connect's `WorkerTask` does.
//!
//! - [`task_setup`]: what a task runner is given; [`source`] and [`sink`]: the two runners.
//! - [`handle`]: the herder's handle of a running task.
//! - [`active_topics`]: the topics each connector uses (KIP-558).
//! - [`validate`]: checking a connector config before anything starts.

mod active_topics;
pub mod config;
mod handle;
mod sink;
mod source;
mod task_setup;
pub mod topic_regex;
mod validate;

use std::sync::Arc;

use ferry_api::{ConfigMap, ConnectError, ConnectorContext, ConnectorType};
use tokio::sync::{mpsc, watch};

pub use active_topics::ActiveTopics;
pub use config::WorkerConfig;
pub use handle::TaskHandle;
pub use validate::validate_connector;

use crate::lifecycle::{TargetState, TaskId, TaskState};
use crate::log::Log;
use crate::plugins;
use crate::storage::OffsetStore;
use task_setup::TaskSetup;

/// What a connector asks of the herder that runs it (through its `ConnectorContext`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorEvent {
    /// `request_task_reconfiguration`: its task configs should be generated again.
    Reconfigure(String),
    /// `raise_error`: the connector failed; the message says why.
    Failed(String, String),
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
