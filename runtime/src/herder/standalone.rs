//! The standalone herder: one worker, connectors from files given on the command line,
//! the embedded log in `data.dir`.
//!
//! Everything is validated before anything starts: the worker config, then every connector
//! config (all problems of all files are reported together). Then the log is opened (and its
//! directory locked), connectors and tasks start, and the herder waits for SIGINT or SIGTERM,
//! on which tasks are stopped, flushed and committed, and the log closed cleanly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_api::{ConfigIssue, ConfigMap, ConnectorType};
use ferry_broker::log::LogConfig;
use tokio::sync::{mpsc, oneshot};

use super::{
    AlterRequest, ConnectorInfo, ConnectorOffsets, ConnectorStatus, Herder, HerderError, Request,
    RestartRequest, StateInfo,
};
use crate::config;
use crate::log::{EmbeddedLog, KafkaLog, Log};
use crate::plugins;
use crate::storage::{ConfigStore, ConfigStoreError, OffsetStore};
use crate::worker::{
    self, RunningConnector, TargetState, TaskHandle, TaskId, TaskState, Worker, WorkerConfig,
};

/// Why standalone mode could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    /// A config file could not be read or parsed.
    #[error("{0}")]
    ConfigFile(#[from] config::ConfigError),
    /// A config was read but is invalid; one line per problem, each naming the file.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The log could not be opened.
    #[error("log at {dir}: {source}")]
    Log {
        /// The data directory, or the bootstrap servers.
        dir: String,
        /// What failed.
        #[source]
        source: crate::log::LogError,
    },
    /// The offset store could not be opened.
    #[error(transparent)]
    Offsets(#[from] crate::storage::OffsetStoreError),
    /// The config store could not be read or written.
    #[error(transparent)]
    Configs(#[from] ConfigStoreError),
    /// A connector failed to start.
    #[error("connector '{name}' failed to start: {source}")]
    Connector {
        /// The connector.
        name: String,
        /// What failed.
        #[source]
        source: ferry_api::ConnectError,
    },
}

fn issues_in(file: &Path, issues: Vec<ConfigIssue>) -> Vec<String> {
    issues
        .into_iter()
        .map(|i| format!("{}: {i}", file.display()))
        .collect()
}

/// Reads and checks the worker config and the connector configs; nothing is started.
pub fn load(
    worker_file: &Path,
    connector_files: &[PathBuf],
) -> Result<(WorkerConfig, Vec<ConfigMap>), StandaloneError> {
    let worker_map = config::resolve(&config::load_file(worker_file)?)
        .map_err(|e| e.with_origin(worker_file.display()))?;
    let worker = WorkerConfig::parse(&worker_map)
        .map_err(|issues| StandaloneError::Invalid(issues_in(worker_file, issues)))?;
    let mut problems = Vec::new();
    let mut connectors = Vec::new();
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for file in connector_files {
        let map = match config::load_file(file)
            .and_then(|m| config::resolve(&m).map_err(|e| e.with_origin(file.display())))
        {
            Ok(m) => m,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let issues = worker::validate_connector(&worker, &map);
        if !issues.is_empty() {
            problems.extend(issues_in(file, issues));
            continue;
        }
        let name = map.get("name").cloned().unwrap_or_default();
        if let Some((_, other)) = names.iter().find(|(n, _)| *n == name) {
            problems.push(format!(
                "{}: key \"name\": value \"{name}\": the same connector name is used by {}",
                file.display(),
                other.display()
            ));
            continue;
        }
        names.push((name, file.clone()));
        connectors.push(map);
    }
    if problems.is_empty() {
        Ok((worker, connectors))
    } else {
        Err(StandaloneError::Invalid(problems))
    }
}

/// A running standalone worker: the herder task and what it owns.
#[derive(Debug)]
pub struct Standalone {
    herder: Herder,
    stop: oneshot::Sender<()>,
    join: tokio::task::JoinHandle<()>,
}

impl Standalone {
    /// Opens the log, the offset and config stores, restores the connectors stored in the
    /// config topic, applies the connector files given (a file's config wins over a stored
    /// one of the same name), and starts everything.
    pub async fn start(
        worker_config: WorkerConfig,
        connectors: Vec<ConfigMap>,
    ) -> Result<Standalone, StandaloneError> {
        let bootstrap = worker_config.bootstrap_servers();
        let dyn_log: Arc<dyn Log> = if bootstrap.is_empty() {
            let dir = worker_config.data_dir();
            let log =
                EmbeddedLog::open(LogConfig::new(&dir)).map_err(|source| StandaloneError::Log {
                    dir: dir.display().to_string(),
                    source,
                })?;
            Arc::new(log)
        } else {
            let log = KafkaLog::connect_with(
                &bootstrap,
                &format!("ferry-{}", worker_config.worker_id()),
                worker_config.producer_config(),
            )
            .await
            .map_err(|source| StandaloneError::Log {
                dir: format!("bootstrap.servers={}", bootstrap.join(",")),
                source,
            })?;
            tracing::info!(bootstrap = %bootstrap.join(","), "using the Kafka cluster named by bootstrap.servers");
            Arc::new(log)
        };
        let log = dyn_log.clone();
        let offsets = Arc::new(match worker_config.offset_file() {
            Some(path) => OffsetStore::file(&path)?,
            None => {
                OffsetStore::topic(
                    dyn_log.clone(),
                    &worker_config.offset_topic(),
                    worker_config.offset_partitions(),
                )
                .await?
            }
        });
        let (configs, stored) =
            ConfigStore::open(dyn_log.clone(), &worker_config.config_topic()).await?;
        let worker_id = worker_config.worker_id();
        let worker = Worker::new(worker_config, dyn_log, offsets.clone());
        let mut state = State {
            worker,
            log,
            offsets,
            configs,
            connectors: BTreeMap::new(),
            worker_id,
        };
        for (name, stored) in stored {
            state.connectors.insert(
                name.clone(),
                Conn::new(stored.config, stored.target, stored.tasks),
            );
            tracing::info!(connector = %name, target = stored.target.as_str(), "connector restored from the config topic");
        }
        for config in connectors {
            let name = config.get("name").cloned().unwrap_or_default();
            match state.connectors.get_mut(&name) {
                Some(c) if c.config != config => {
                    tracing::info!(connector = %name, "connector given on the command line is also stored: using the file's config");
                    c.config = config.clone();
                    state.configs.put_connector(&name, &config).await?;
                }
                Some(_) => {}
                None => {
                    state.configs.put_connector(&name, &config).await?;
                    state
                        .connectors
                        .insert(name, Conn::new(config, TargetState::Started, Vec::new()));
                }
            }
        }
        let names: Vec<String> = state.connectors.keys().cloned().collect();
        for name in names {
            state.start_connector(&name).await;
        }
        let (tx, rx) = mpsc::channel(64);
        let (stop, stop_rx) = oneshot::channel();
        let join = tokio::spawn(state.run(rx, stop_rx));
        Ok(Standalone {
            herder: Herder::new(tx),
            stop,
            join,
        })
    }

    /// The handle through which REST and the CLI ask for changes.
    pub fn herder(&self) -> Herder {
        self.herder.clone()
    }

    /// Stops every task (each flushes and commits), then the connectors, then closes the
    /// log cleanly. Requests still queued are answered "shutting down".
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "the herder task failed");
        }
        tracing::info!("standalone worker stopped");
    }
}

/// One connector as the herder tracks it.
struct Conn {
    config: ConfigMap,
    target: TargetState,
    kind: Option<ConnectorType>,
    instance: Option<RunningConnector>,
    /// Why the connector instance failed, if it did.
    failure: Option<String>,
    task_configs: Vec<ConfigMap>,
    tasks: Vec<TaskHandle>,
}

impl Conn {
    fn new(config: ConfigMap, target: TargetState, task_configs: Vec<ConfigMap>) -> Conn {
        let kind = config
            .get("connector.class")
            .and_then(|c| plugins::connector(c.trim()))
            .map(|p| p.connector_type());
        Conn {
            config,
            target,
            kind,
            instance: None,
            failure: None,
            task_configs,
            tasks: Vec::new(),
        }
    }
}

struct State {
    worker: Worker,
    log: Arc<dyn Log>,
    offsets: Arc<OffsetStore>,
    configs: ConfigStore,
    connectors: BTreeMap<String, Conn>,
    worker_id: String,
}

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

fn internal(e: impl std::fmt::Display) -> HerderError {
    HerderError::Internal(e.to_string())
}

impl State {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>, mut stop: oneshot::Receiver<()>) {
        loop {
            tokio::select! {
                request = rx.recv() => match request {
                    Some(r) => self.handle(r).await,
                    None => break,
                },
                _ = &mut stop => break,
            }
        }
        rx.close();
        while let Ok(request) = rx.try_recv() {
            request.fail(HerderError::ShuttingDown);
        }
        let names: Vec<String> = self.connectors.keys().cloned().collect();
        // Signal every task first so they stop in parallel, then wait for each.
        for c in self.connectors.values() {
            for t in &c.tasks {
                t.stop();
            }
        }
        for name in names {
            self.stop_connector(&name).await;
        }
        if let Err(e) = self.log.close().await {
            tracing::error!(error = %e, "closing the log failed");
        }
    }

    async fn handle(&mut self, request: Request) {
        match request {
            Request::Connectors(reply) => {
                let _ = reply.send(Ok(self.connectors.keys().cloned().collect()));
            }
            Request::Info(name, reply) => {
                let _ = reply.send(self.info(&name));
            }
            Request::PutConfig {
                name,
                config,
                allow_replace,
                reply,
            } => {
                let _ = reply.send(self.put_config(&name, config, allow_replace).await);
            }
            Request::Delete(name, reply) => {
                let _ = reply.send(self.delete(&name).await);
            }
            Request::Status(name, reply) => {
                let _ = reply.send(self.status(&name));
            }
            Request::TaskConfigs(name, reply) => {
                let result = self
                    .connectors
                    .get(&name)
                    .ok_or_else(|| not_found(&name))
                    .map(|c| {
                        c.task_configs
                            .iter()
                            .enumerate()
                            .map(|(task, config)| {
                                (
                                    TaskId {
                                        connector: name.clone(),
                                        task,
                                    },
                                    config.clone(),
                                )
                            })
                            .collect()
                    });
                let _ = reply.send(result);
            }
            Request::SetTarget(name, target, reply) => {
                let _ = reply.send(self.set_target(&name, target).await);
            }
            Request::Restart(name, request, reply) => {
                let _ = reply.send(self.restart(&name, request).await);
            }
            Request::RestartTask(id, reply) => {
                let _ = reply.send(self.restart_task(&id).await);
            }
            Request::Offsets(name, reply) => {
                let _ = reply.send(self.offsets(&name).await);
            }
            Request::Topics(name, reset, reply) => {
                let result = if self.connectors.contains_key(&name) {
                    let topics = self.worker.active_topics().topics(&name);
                    if reset {
                        self.worker.active_topics().reset(&name);
                    }
                    Ok(topics)
                } else {
                    Err(not_found(&name))
                };
                let _ = reply.send(result);
            }
            Request::AllStatuses(reply) => {
                let statuses = self
                    .connectors
                    .keys()
                    .filter_map(|name| self.status(name).ok())
                    .collect();
                let _ = reply.send(Ok(statuses));
            }
            Request::AlterOffsets(name, request, reply) => {
                let _ = reply.send(self.alter_offsets(&name, request).await);
            }
            Request::Validate(config, reply) => {
                let _ = reply.send(Ok(worker::validate_connector(
                    self.worker.config(),
                    &config,
                )));
            }
        }
    }

    fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError> {
        let c = self.connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(ConnectorInfo {
            name: name.to_string(),
            config: c.config.clone(),
            tasks: (0..c.task_configs.len())
                .map(|task| TaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: c.kind,
        })
    }

    fn state(&self, state: &'static str, trace: Option<String>) -> StateInfo {
        StateInfo {
            state,
            trace,
            worker_id: self.worker_id.clone(),
        }
    }

    fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        let c = self.connectors.get(name).ok_or_else(|| not_found(name))?;
        let connector = match (&c.failure, c.target, &c.instance) {
            (Some(trace), _, _) => self.state("FAILED", Some(trace.clone())),
            (None, TargetState::Stopped, _) => self.state("STOPPED", None),
            (None, TargetState::Paused, _) => self.state("PAUSED", None),
            (None, TargetState::Started, Some(_)) => self.state("RUNNING", None),
            (None, TargetState::Started, None) => self.state("UNASSIGNED", None),
        };
        let tasks = c
            .tasks
            .iter()
            .map(|t| {
                let info = match t.state() {
                    TaskState::Starting => self.state("UNASSIGNED", None),
                    TaskState::Running => self.state("RUNNING", None),
                    TaskState::Paused => self.state("PAUSED", None),
                    TaskState::Stopped => self.state("UNASSIGNED", None),
                    TaskState::Failed(trace) => self.state("FAILED", Some(trace)),
                };
                (t.id().task, info)
            })
            .collect();
        Ok(ConnectorStatus {
            name: name.to_string(),
            connector,
            tasks,
            kind: c.kind,
        })
    }

    /// Starts the connector instance and its tasks, as its target state says. Failures are
    /// recorded (status FAILED), not returned: the worker keeps running.
    async fn start_connector(&mut self, name: &str) {
        let Some(c) = self.connectors.get_mut(name) else {
            return;
        };
        c.failure = None;
        if c.target == TargetState::Stopped {
            return;
        }
        let instance = match self.worker.start_connector(&c.config).await {
            Ok(i) => i,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "connector FAILED to start");
                c.failure = Some(e.to_string());
                return;
            }
        };
        let task_configs = match self.worker.task_configs(&instance) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "connector FAILED to make task configs");
                c.failure = Some(e.to_string());
                c.instance = Some(instance);
                return;
            }
        };
        if task_configs != c.task_configs {
            if let Err(e) = self.configs.put_tasks(name, &task_configs).await {
                tracing::error!(connector = %name, error = %e, "storing task configs failed");
            }
            c.task_configs = task_configs;
        }
        c.instance = Some(instance);
        match self
            .worker
            .start_tasks(&c.config, &c.task_configs, c.target)
        {
            Ok(tasks) => c.tasks = tasks,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "tasks FAILED to start");
                c.failure = Some(e.to_string());
            }
        }
    }

    /// Stops the connector's tasks (waiting for each to flush and commit) and its instance.
    async fn stop_connector(&mut self, name: &str) {
        let timeout = self.worker.config().shutdown_timeout();
        let Some(c) = self.connectors.get_mut(name) else {
            return;
        };
        let tasks = std::mem::take(&mut c.tasks);
        for t in &tasks {
            t.stop();
        }
        for t in tasks {
            t.join(timeout).await;
        }
        if let Some(instance) = c.instance.take() {
            self.worker.stop_connector(instance).await;
        }
    }

    async fn put_config(
        &mut self,
        name: &str,
        mut config: ConfigMap,
        allow_replace: bool,
    ) -> Result<(bool, ConnectorInfo), HerderError> {
        match config.get("name") {
            Some(n) if n != name => {
                return Err(HerderError::BadRequest(format!(
                    "Connector name configuration ({n}) doesn't match connector name in the URL ({name})"
                )));
            }
            Some(_) => {}
            None => {
                config.insert("name".into(), name.to_string());
            }
        }
        let exists = self.connectors.contains_key(name);
        if exists && !allow_replace {
            return Err(HerderError::AlreadyExists(name.to_string()));
        }
        let issues = worker::validate_connector(self.worker.config(), &config);
        if !issues.is_empty() {
            return Err(HerderError::InvalidConfig(issues));
        }
        self.configs
            .put_connector(name, &config)
            .await
            .map_err(internal)?;
        if exists {
            self.stop_connector(name).await;
            if let Some(c) = self.connectors.get_mut(name) {
                let target = c.target;
                let tasks = std::mem::take(&mut c.task_configs);
                *c = Conn::new(config, target, tasks);
            }
        } else {
            self.connectors.insert(
                name.to_string(),
                Conn::new(config, TargetState::Started, Vec::new()),
            );
        }
        tracing::info!(connector = %name, created = !exists, "connector config stored");
        self.start_connector(name).await;
        Ok((!exists, self.info(name)?))
    }

    async fn delete(&mut self, name: &str) -> Result<(), HerderError> {
        if !self.connectors.contains_key(name) {
            return Err(not_found(name));
        }
        self.stop_connector(name).await;
        self.configs
            .delete_connector(name)
            .await
            .map_err(internal)?;
        self.connectors.remove(name);
        self.worker.active_topics().reset(name);
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    async fn set_target(&mut self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let c = self
            .connectors
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        let previous = c.target;
        if previous == target {
            return Ok(());
        }
        self.configs
            .put_target_state(name, target)
            .await
            .map_err(internal)?;
        c.target = target;
        match (previous, target) {
            (_, TargetState::Stopped) => {
                self.stop_connector(name).await;
                // A stopped connector has no tasks (KIP-875).
                self.configs.put_tasks(name, &[]).await.map_err(internal)?;
                if let Some(c) = self.connectors.get_mut(name) {
                    c.task_configs.clear();
                }
            }
            (TargetState::Stopped, _) => self.start_connector(name).await,
            (_, paused) => {
                for t in &c.tasks {
                    t.set_paused(paused == TargetState::Paused);
                }
            }
        }
        tracing::info!(connector = %name, target = target.as_str(), "connector target state changed");
        Ok(())
    }

    async fn restart(
        &mut self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStatus, HerderError> {
        let c = self.connectors.get(name).ok_or_else(|| not_found(name))?;
        if c.target == TargetState::Stopped {
            return Err(HerderError::BadState(format!(
                "Connector {name} is stopped: resume it instead of restarting it"
            )));
        }
        let connector_failed = c.failure.is_some();
        let failed_tasks: Vec<usize> = c
            .tasks
            .iter()
            .filter(|t| matches!(t.state(), TaskState::Failed(_)))
            .map(|t| t.id().task)
            .collect();
        let restart_connector = !request.only_failed || connector_failed;
        if request.include_tasks && restart_connector && !request.only_failed {
            // Everything: stop and start the whole connector.
            self.stop_connector(name).await;
            self.start_connector(name).await;
        } else {
            if restart_connector {
                let instance = self
                    .connectors
                    .get_mut(name)
                    .and_then(|c| c.instance.take());
                if let Some(instance) = instance {
                    self.worker.stop_connector(instance).await;
                }
                self.restart_instance(name).await;
            }
            if request.include_tasks {
                for task in failed_tasks {
                    self.restart_task(&TaskId {
                        connector: name.to_string(),
                        task,
                    })
                    .await?;
                }
            }
        }
        self.status(name)
    }

    /// Starts a fresh connector instance without touching the tasks.
    async fn restart_instance(&mut self, name: &str) {
        let Some(c) = self.connectors.get_mut(name) else {
            return;
        };
        c.failure = None;
        match self.worker.start_connector(&c.config).await {
            Ok(instance) => c.instance = Some(instance),
            Err(e) => c.failure = Some(e.to_string()),
        }
    }

    async fn restart_task(&mut self, id: &TaskId) -> Result<(), HerderError> {
        let timeout = self.worker.config().shutdown_timeout();
        let c = self
            .connectors
            .get_mut(&id.connector)
            .ok_or_else(|| not_found(&id.connector))?;
        let Some(index) = c.tasks.iter().position(|t| t.id().task == id.task) else {
            return Err(HerderError::NotFound(format!("Task {id} not found")));
        };
        let old = c.tasks.remove(index);
        old.stop();
        old.join(timeout).await;
        let handle = self
            .worker
            .start_task(&c.config, &c.task_configs, id.task, c.target)
            .map_err(internal)?;
        c.tasks.insert(index, handle);
        tracing::info!(task = %id, "task restarted");
        Ok(())
    }

    async fn alter_offsets(
        &mut self,
        name: &str,
        request: Option<AlterRequest>,
    ) -> Result<(), HerderError> {
        let c = self.connectors.get(name).ok_or_else(|| not_found(name))?;
        if c.target != TargetState::Stopped || c.instance.is_some() || !c.tasks.is_empty() {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
            )));
        }
        let is_sink = c.kind == Some(ConnectorType::Sink);
        let request = match request {
            Some(r) => r,
            None => match self.offsets(name).await? {
                ConnectorOffsets::Source(entries) => {
                    AlterRequest::Source(entries.into_iter().map(|(p, _)| (p, None)).collect())
                }
                ConnectorOffsets::Sink(entries) => {
                    AlterRequest::Sink(entries.into_iter().map(|(t, p, _)| (t, p, None)).collect())
                }
            },
        };
        match request {
            AlterRequest::Source(entries) if !is_sink => {
                let puts: Vec<(&str, &ferry_api::SourceMap, Option<&ferry_api::SourceMap>)> =
                    entries.iter().map(|(p, o)| (name, p, o.as_ref())).collect();
                self.offsets.put(&puts).await.map_err(internal)?;
            }
            AlterRequest::Sink(entries) if is_sink => {
                // A reset partition goes back to the log start, where a sink without a
                // committed offset begins (Kafka Connect's `auto.offset.reset=earliest`).
                let log: &dyn Log = self.log.as_ref();
                let mut commits = Vec::with_capacity(entries.len());
                for (topic, partition, offset) in entries {
                    let tp = ferry_api::TopicPartition::new(topic.as_str(), partition);
                    let offset = match offset {
                        Some(o) => o,
                        None => log.offset_range(&tp).await.map_err(internal)?.0,
                    };
                    commits.push((tp, offset));
                }
                log.commit_offsets(&format!("connect-{name}"), &commits)
                    .await
                    .map_err(internal)?;
            }
            _ => {
                return Err(HerderError::BadRequest(format!(
                    "The offsets given do not fit connector {name}, a {} connector",
                    if is_sink { "sink" } else { "source" }
                )));
            }
        }
        tracing::info!(connector = %name, "connector offsets altered");
        Ok(())
    }

    async fn offsets(&mut self, name: &str) -> Result<ConnectorOffsets, HerderError> {
        let c = self.connectors.get(name).ok_or_else(|| not_found(name))?;
        let (kind, config) = (c.kind, c.config.clone());
        match kind {
            Some(ConnectorType::Source) | None => Ok(ConnectorOffsets::Source(
                self.offsets.connector_offsets(name),
            )),
            Some(ConnectorType::Sink) => {
                let log: &dyn Log = self.log.as_ref();
                let mut partitions = Vec::new();
                let mut topics = worker::config::sink_topics(&config);
                if topics.is_empty()
                    && let Some(Ok(regex)) = config
                        .get("topics.regex")
                        .map(|r| worker::topic_regex::TopicRegex::new(r.trim()))
                {
                    topics = log.topics().await.map_err(internal)?;
                    topics.retain(|t| regex.matches(t) && !t.starts_with("__"));
                }
                for topic in topics {
                    let n = log
                        .partition_count(&topic)
                        .await
                        .map_err(internal)?
                        .unwrap_or(0);
                    for p in 0..n as i32 {
                        partitions.push(ferry_api::TopicPartition::new(topic.as_str(), p));
                    }
                }
                let committed = log
                    .committed_offsets(&format!("connect-{name}"), &partitions)
                    .await
                    .map_err(internal)?;
                let mut offsets: Vec<(String, i32, i64)> = committed
                    .into_iter()
                    .map(|(tp, o)| (tp.topic.to_string(), tp.partition, o))
                    .collect();
                offsets.sort();
                Ok(ConnectorOffsets::Sink(offsets))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example in configs/ loads and validates.
    #[test]
    fn example_configs_are_valid() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let (worker, connectors) = load(
            &root.join("standalone.yaml"),
            &[root.join("file-source.yaml"), root.join("file-sink.yaml")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(worker.data_dir(), PathBuf::from("./ferry-data"));
        assert_eq!(connectors.len(), 2);
        assert_eq!(connectors[0]["connector.class"], "FileStreamSource");
    }

    #[test]
    fn duplicate_connector_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w.yaml");
        std::fs::write(&w, "data.dir: /tmp/x\n").unwrap();
        let c = dir.path().join("c.yaml");
        std::fs::write(&c, "name: a\nconnector.class: FileStreamSource\ntopic: t\n").unwrap();
        let err = load(&w, &[c.clone(), c.clone()]).unwrap_err().to_string();
        assert!(err.contains("same connector name"), "{err}");
    }
}
