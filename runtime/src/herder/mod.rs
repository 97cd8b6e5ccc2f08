//! Herders decide what runs where. Every change — from the command line, from REST — is a
//! request to the herder, which one task handles at a time and answers through a reply
//! channel ([`Herder`] is the cloneable handle). Requests still queued when the herder
//! stops are answered with [`HerderError::ShuttingDown`].
//!
//! Standalone ([`standalone`]): everything runs in this process. Distributed
//! ([`distributed`]): a worker of a group sharing connectors through the internal topics.

mod core;
pub mod distributed;
mod offsets;
pub mod standalone;

use ferry_api::{ConfigIssue, ConfigMap, ConnectorType, SourceMap};
use tokio::sync::{mpsc, oneshot};

pub use crate::lifecycle::RestartRequest;
use crate::lifecycle::{TargetState, TaskId};

/// Why a herder request failed. REST maps each kind to one status code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HerderError {
    /// No such connector or task (404).
    #[error("{0}")]
    NotFound(String),
    /// A connector with this name exists (409).
    #[error("Connector {0} already exists")]
    AlreadyExists(String),
    /// The config is invalid (400); one issue per key.
    #[error("Connector configuration is invalid and contains the following {} error(s):\n{}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    InvalidConfig(Vec<ConfigIssue>),
    /// The request is not allowed in the connector's current state (400/409).
    #[error("{0}")]
    BadState(String),
    /// The request itself is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The worker is stopping (503).
    #[error("the worker is shutting down")]
    ShuttingDown,
    /// Another worker must handle the request (distributed mode: the leader, or the worker
    /// running a task); REST forwards it to `url`. `None`: no leader is known yet (409).
    #[error("{message}")]
    Forward {
        /// The other worker's REST URL.
        url: Option<String>,
        /// Why (for logs and for the 409 when there is no URL).
        message: String,
    },
    /// A rebalance is under way or about to start: the worker's view may be stale (409;
    /// clients retry).
    #[error(
        "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"
    )]
    Rebalancing,
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

/// `Result` with [`HerderError`].
pub type Result<T, E = HerderError> = std::result::Result<T, E>;

/// A connector's config and tasks (`GET /connectors/{name}`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorInfo {
    /// Name.
    pub name: String,
    /// Config (passwords not masked; mask at the edge).
    pub config: ConfigMap,
    /// Its tasks.
    pub tasks: Vec<TaskId>,
    /// Source or sink, if its class is known.
    pub kind: Option<ConnectorType>,
}

/// One state as Kafka Connect reports it (`RUNNING`, `PAUSED`, `STOPPED`, `FAILED`,
/// `UNASSIGNED`, `RESTARTING`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateInfo {
    /// The state's name.
    pub state: &'static str,
    /// The failure's description, for `FAILED`.
    pub trace: Option<String>,
    /// The worker running it (`host:port`).
    pub worker_id: String,
}

/// A connector's status (`GET /connectors/{name}/status`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorStatus {
    /// Name.
    pub name: String,
    /// The connector instance's state.
    pub connector: StateInfo,
    /// Each task's state, by task number.
    pub tasks: Vec<(usize, StateInfo)>,
    /// Source or sink.
    pub kind: Option<ConnectorType>,
}

/// The committed offsets of a connector (KIP-875).
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectorOffsets {
    /// Source offsets: `(source partition, source offset)`.
    Source(Vec<(SourceMap, SourceMap)>),
    /// Sink consumer offsets: `(topic, partition, offset)`.
    Sink(Vec<(String, i32, i64)>),
}

/// Offsets to write for a stopped connector (`PATCH /connectors/{name}/offsets`); a `None`
/// offset resets that partition.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterRequest {
    /// Source partitions and their new offsets.
    Source(Vec<(SourceMap, Option<SourceMap>)>),
    /// Sink `(topic, partition, offset)`.
    Sink(Vec<(String, i32, Option<i64>)>),
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// A connector config as a herder stores it: the `name` key is the connector's name (added
/// when missing; a different one is refused, as Kafka Connect does).
pub(crate) fn named_config(name: &str, mut config: ConfigMap) -> Result<ConfigMap> {
    match config.get("name") {
        Some(n) if n != name => Err(HerderError::BadRequest(format!(
            "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(config),
        None => {
            config.insert("name".into(), name.to_string());
            Ok(config)
        }
    }
}

/// Source or sink, from the config's `connector.class`, if the class is known.
pub(crate) fn kind_of(config: &ConfigMap) -> Option<ConnectorType> {
    config
        .get("connector.class")
        .and_then(|c| crate::plugins::connector(c.trim()))
        .map(|p| p.connector_type())
}

impl Request {
    /// Answers the request with `error` without handling it.
    pub(crate) fn fail(self, error: HerderError) {
        match self {
            Request::Connectors(r) => drop(r.send(Err(error))),
            Request::Info(_, r) => drop(r.send(Err(error))),
            Request::PutConfig { reply, .. } => drop(reply.send(Err(error))),
            Request::PutTaskConfigs(_, _, r) => drop(r.send(Err(error))),
            Request::Delete(_, r) => drop(r.send(Err(error))),
            Request::Status(_, r) => drop(r.send(Err(error))),
            Request::TaskConfigs(_, r) => drop(r.send(Err(error))),
            Request::SetTarget(_, _, r) => drop(r.send(Err(error))),
            Request::Restart(_, _, r) => drop(r.send(Err(error))),
            Request::RestartTask(_, r) => drop(r.send(Err(error))),
            Request::Offsets(_, r) => drop(r.send(Err(error))),
            Request::Validate(_, r) => drop(r.send(Err(error))),
            Request::AlterOffsets(_, _, r) => drop(r.send(Err(error))),
            Request::AllStatuses(r) => drop(r.send(Err(error))),
            Request::Topics(_, _, r) => drop(r.send(Err(error))),
        }
    }
}

/// The requests a herder handles.
#[derive(Debug)]
pub(crate) enum Request {
    Connectors(Reply<Vec<String>>),
    Info(String, Reply<ConnectorInfo>),
    PutConfig {
        name: String,
        config: ConfigMap,
        allow_replace: bool,
        /// The target state of a new connector (`initial_state`), applied atomically.
        initial: Option<TargetState>,
        reply: Reply<(bool, ConnectorInfo)>,
    },
    PutTaskConfigs(String, Vec<ConfigMap>, Reply<()>),
    Delete(String, Reply<()>),
    Status(String, Reply<ConnectorStatus>),
    TaskConfigs(String, Reply<Vec<(TaskId, ConfigMap)>>),
    SetTarget(String, TargetState, Reply<()>),
    Restart(String, RestartRequest, Reply<ConnectorStatus>),
    RestartTask(TaskId, Reply<()>),
    Offsets(String, Reply<ConnectorOffsets>),
    Validate(ConfigMap, Reply<Vec<ConfigIssue>>),
    AlterOffsets(String, Option<AlterRequest>, Reply<()>),
    AllStatuses(Reply<Vec<ConnectorStatus>>),
    Topics(String, bool, Reply<Vec<String>>),
}

/// A handle to the herder; cheap to clone, usable from any task.
#[derive(Debug, Clone)]
pub struct Herder {
    tx: mpsc::Sender<Request>,
}

impl Herder {
    pub(crate) fn new(tx: mpsc::Sender<Request>) -> Herder {
        Herder { tx }
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| HerderError::ShuttingDown)?;
        rx.await.map_err(|_| HerderError::ShuttingDown)?
    }

    /// Names of all connectors, sorted.
    pub async fn connectors(&self) -> Result<Vec<String>> {
        self.ask(Request::Connectors).await
    }
    /// A connector's config and tasks.
    pub async fn connector_info(&self, name: &str) -> Result<ConnectorInfo> {
        self.ask(|r| Request::Info(name.to_string(), r)).await
    }
    /// Creates a connector, or replaces its config when `allow_replace`; returns whether
    /// it was created.
    pub async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
    ) -> Result<(bool, ConnectorInfo)> {
        self.ask(|reply| Request::PutConfig {
            name: name.to_string(),
            config,
            allow_replace,
            initial: None,
            reply,
        })
        .await
    }
    /// Creates a connector in `initial` state (`initial_state` of `POST /connectors`): it is
    /// stored with that target state, so it never runs before being resumed.
    pub async fn create_connector(
        &self,
        name: &str,
        config: ConfigMap,
        initial: TargetState,
    ) -> Result<ConnectorInfo> {
        self.ask(|reply| Request::PutConfig {
            name: name.to_string(),
            config,
            allow_replace: false,
            initial: Some(initial),
            reply,
        })
        .await
        .map(|(_, info)| info)
    }
    /// Stores new task configs for a connector (Kafka Connect's internal `POST
    /// /connectors/{name}/tasks`, by which a worker running a connector hands its task
    /// configs to the leader).
    pub async fn put_task_configs(&self, name: &str, tasks: Vec<ConfigMap>) -> Result<()> {
        self.ask(|r| Request::PutTaskConfigs(name.to_string(), tasks, r))
            .await
    }
    /// Stops and deletes a connector.
    pub async fn delete_connector(&self, name: &str) -> Result<()> {
        self.ask(|r| Request::Delete(name.to_string(), r)).await
    }
    /// A connector's status.
    pub async fn connector_status(&self, name: &str) -> Result<ConnectorStatus> {
        self.ask(|r| Request::Status(name.to_string(), r)).await
    }
    /// Every connector's status, sorted by name, in one request (`GET
    /// /connectors?expand=status`).
    pub async fn connector_statuses(&self) -> Result<Vec<ConnectorStatus>> {
        self.ask(Request::AllStatuses).await
    }
    /// The topics a connector uses (KIP-558); with `reset`, forgets them and returns the
    /// set before.
    pub async fn connector_topics(&self, name: &str, reset: bool) -> Result<Vec<String>> {
        self.ask(|r| Request::Topics(name.to_string(), reset, r))
            .await
    }
    /// A connector's task configs.
    pub async fn task_configs(&self, name: &str) -> Result<Vec<(TaskId, ConfigMap)>> {
        self.ask(|r| Request::TaskConfigs(name.to_string(), r))
            .await
    }
    /// Pauses, resumes or stops a connector.
    pub async fn set_target_state(&self, name: &str, target: TargetState) -> Result<()> {
        self.ask(|r| Request::SetTarget(name.to_string(), target, r))
            .await
    }
    /// Restarts a connector (and, as asked, its tasks); returns the status after.
    pub async fn restart_connector(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStatus> {
        self.ask(|r| Request::Restart(name.to_string(), request, r))
            .await
    }
    /// Restarts one task.
    pub async fn restart_task(&self, id: TaskId) -> Result<()> {
        self.ask(|r| Request::RestartTask(id, r)).await
    }
    /// A connector's committed offsets.
    pub async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets> {
        self.ask(|r| Request::Offsets(name.to_string(), r)).await
    }
    /// Alters (`Some`) or resets (`None`: every partition) the offsets of a STOPPED
    /// connector (KIP-875); any other state is [`HerderError::BadRequest`].
    pub async fn alter_offsets(&self, name: &str, request: Option<AlterRequest>) -> Result<()> {
        self.ask(|r| Request::AlterOffsets(name.to_string(), request, r))
            .await
    }
    /// Validates a connector config without creating anything.
    pub async fn validate(&self, config: ConfigMap) -> Result<Vec<ConfigIssue>> {
        self.ask(|r| Request::Validate(config, r)).await
    }
}
