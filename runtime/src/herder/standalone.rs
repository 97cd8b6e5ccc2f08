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
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::{ConfigIssue, ConfigMap, ConnectorType};
use ferry_log::LogConfig;
use tokio::sync::{mpsc, oneshot};

use super::core::{self, Backend, internal, not_found};
use super::{ConnectorStatus, Herder, HerderError, Request, StateInfo};
use crate::config;
use crate::lifecycle::{RestartRequest, TargetState, TaskId, TaskState};
use crate::log::{EmbeddedLog, KafkaLog, Log, RetryingLog};
use crate::storage::statuses::{StatusStore, StatusStoreError};
use crate::storage::{ConfigStore, ConfigStoreError, OffsetStore};
use crate::worker::{
    self, ActiveTopics, ConnectorEvent, RunningConnector, TaskHandle, Worker, WorkerConfig,
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
    /// The status store could not be read.
    #[error(transparent)]
    Statuses(#[from] StatusStoreError),
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
            // Ride out a broker that restarts, as a Kafka producer and consumer would.
            Arc::new(RetryingLog::new(Arc::new(log), Duration::from_secs(120)))
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
        // Active topics (KIP-558) are kept in the status topic, so they survive a restart.
        let (statuses, snapshot) = StatusStore::open(
            dyn_log.clone(),
            &worker_config.status_topic(),
            worker_config.status_partitions(),
        )
        .await?;
        let topics = ActiveTopics::stored_in(Arc::new(statuses), snapshot.topics.into_keys());
        let worker_id = worker_config.worker_id();
        let (events_tx, events) = mpsc::unbounded_channel();
        let worker = Worker::new(worker_config, dyn_log, offsets.clone())
            .with_active_topics(topics)
            .with_connector_events(events_tx);
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
        let join = tokio::spawn(state.run(rx, stop_rx, events));
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
        let kind = super::kind_of(&config);
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

impl State {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Request>,
        mut stop: oneshot::Receiver<()>,
        mut events: mpsc::UnboundedReceiver<ConnectorEvent>,
    ) {
        loop {
            tokio::select! {
                request = rx.recv() => match request {
                    Some(r) => core::handle(&mut self, r).await,
                    None => break,
                },
                Some(event) = events.recv() => self.on_connector_event(event).await,
                _ = &mut stop => break,
            }
        }
        core::fail_pending(&mut rx);
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

    /// What a running connector asked for: new task configs (`request_task_reconfiguration`,
    /// e.g. a source that found new tables), or to be reported failed.
    async fn on_connector_event(&mut self, event: ConnectorEvent) {
        match event {
            ConnectorEvent::Failed(name, cause) => {
                if let Some(c) = self.connectors.get_mut(&name) {
                    c.failure = Some(cause);
                }
            }
            ConnectorEvent::Reconfigure(name) => self.reconfigure(&name).await,
        }
    }

    /// Generates the task configs again; when they changed, stores them and restarts the
    /// tasks with them.
    async fn reconfigure(&mut self, name: &str) {
        let Some(c) = self.connectors.get(name) else {
            return;
        };
        if c.target == TargetState::Stopped {
            return;
        }
        let generated = match &c.instance {
            Some(instance) => self.worker.task_configs(instance),
            None => return,
        };
        let tasks = match generated {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "connector FAILED to make task configs");
                if let Some(c) = self.connectors.get_mut(name) {
                    c.failure = Some(e.to_string());
                }
                return;
            }
        };
        if c.task_configs == tasks {
            return;
        }
        if let Err(e) = self.configs.put_tasks(name, &tasks).await {
            tracing::error!(connector = %name, error = %e, "storing task configs failed");
            return;
        }
        let timeout = self.worker.config().shutdown_timeout();
        let Some(c) = self.connectors.get_mut(name) else {
            return;
        };
        let old = std::mem::take(&mut c.tasks);
        for t in &old {
            t.stop();
        }
        for t in old {
            t.join(timeout).await;
        }
        c.task_configs = tasks;
        match self
            .worker
            .start_tasks(&c.config, &c.task_configs, c.target)
        {
            Ok(started) => c.tasks = started,
            Err(e) => c.failure = Some(e.to_string()),
        }
        tracing::info!(connector = %name, tasks = c.task_configs.len(), "tasks reconfigured");
    }

    fn state(&self, state: &'static str, trace: Option<String>) -> StateInfo {
        StateInfo {
            state,
            trace,
            worker_id: self.worker_id.clone(),
        }
    }

    fn connector_status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
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
        self.connectors.keys().cloned().collect()
    }

    fn config(&self, name: &str) -> Option<&ConfigMap> {
        self.connectors.get(name).map(|c| &c.config)
    }

    fn task_configs(&self, name: &str) -> &[ConfigMap] {
        self.connectors
            .get(name)
            .map_or(&[], |c| c.task_configs.as_slice())
    }

    fn target(&self, name: &str) -> TargetState {
        self.connectors
            .get(name)
            .map(|c| c.target)
            .unwrap_or_default()
    }

    fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError> {
        self.connector_status(name)
    }

    fn is_stopped(&self, name: &str) -> bool {
        self.connectors.get(name).is_some_and(|c| {
            c.target == TargetState::Stopped && c.instance.is_none() && c.tasks.is_empty()
        })
    }

    async fn put_config(
        &mut self,
        name: &str,
        config: ConfigMap,
        exists: bool,
        initial: Option<TargetState>,
    ) -> Result<(), HerderError> {
        self.configs
            .put_connector_with(name, &config, initial)
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
                Conn::new(config, initial.unwrap_or_default(), Vec::new()),
            );
        }
        self.start_connector(name).await;
        Ok(())
    }

    async fn put_task_configs(&mut self, _: &str, _: Vec<ConfigMap>) -> Result<(), HerderError> {
        Err(HerderError::BadRequest(
            "a standalone worker does not accept task configs from elsewhere".into(),
        ))
    }

    async fn delete(&mut self, name: &str) -> Result<(), HerderError> {
        self.stop_connector(name).await;
        self.configs
            .delete_connector(name)
            .await
            .map_err(internal)?;
        self.connectors.remove(name);
        if let Err(e) = self.worker.active_topics().reset(name).await {
            tracing::warn!(connector = %name, error = %e, "cannot reset the active topics of a deleted connector");
        }
        Ok(())
    }

    async fn set_target(&mut self, name: &str, target: TargetState) -> Result<(), HerderError> {
        let c = self
            .connectors
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        let previous = c.target;
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
        Ok(())
    }

    async fn restart(
        &mut self,
        name: &str,
        request: RestartRequest,
    ) -> Result<ConnectorStatus, HerderError> {
        let c = self.connectors.get(name).ok_or_else(|| not_found(name))?;
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
        self.connector_status(name)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The connector examples of configs/, by connector.
    const EXAMPLES: &[(&str, &[&str])] = &[
        ("file", &["file-source.yaml", "file-sink.yaml"]),
        (
            "postgres",
            &[
                "postgres-source.yaml",
                "postgres-sink.yaml",
                "postgres-cdc.yaml",
            ],
        ),
        (
            "s3",
            &[
                "s3-sink-json.yaml",
                "s3-sink-avro-by-field.yaml",
                "s3-sink-parquet-hourly.yaml",
            ],
        ),
    ];

    /// The examples of one connector, loaded with configs/standalone.yaml the way
    /// `ferry standalone` loads them: parsed, then checked by `validate_connector`, which
    /// contacts nothing (no database or store needs to run).
    fn load_examples(connector: &str) -> (WorkerConfig, Vec<ConfigMap>) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let files: Vec<PathBuf> = EXAMPLES
            .iter()
            .find(|(c, _)| *c == connector)
            .map(|(_, files)| files.iter().map(|f| root.join(f)).collect())
            .unwrap_or_default();
        let (worker, connectors) =
            load(&root.join("standalone.yaml"), &files).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(connectors.len(), files.len());
        (worker, connectors)
    }

    #[test]
    fn file_examples_are_valid() {
        let (worker, connectors) = load_examples("file");
        assert_eq!(worker.data_dir(), PathBuf::from("./ferry-data"));
        assert_eq!(connectors[0]["connector.class"], "FileStreamSource");
    }

    #[test]
    fn postgres_examples_are_valid() {
        let (_, connectors) = load_examples("postgres");
        // Nested YAML keys arrive flattened.
        assert_eq!(connectors[0]["connection.user"], "postgres");
        assert_eq!(connectors[2]["database.hostname"], "127.0.0.1");
    }

    #[test]
    fn s3_examples_are_valid() {
        let (_, connectors) = load_examples("s3");
        assert_eq!(connectors[0]["s3.bucket.name"], "ferry-demo");
    }

    /// A new example in configs/ is named in [`EXAMPLES`], so the tests above check it.
    #[test]
    fn every_connector_example_is_checked() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
        let workers = ["standalone.yaml", "distributed.yaml"];
        for entry in std::fs::read_dir(&root).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".yaml") && !workers.contains(&name.as_str()) {
                assert!(
                    EXAMPLES
                        .iter()
                        .any(|(_, files)| files.contains(&name.as_str())),
                    "configs/{name} is not in EXAMPLES"
                );
            }
        }
    }

    /// `request_task_reconfiguration`: the connector's new task configs are stored and the
    /// tasks restarted with them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connector_asking_for_reconfiguration_gets_its_new_tasks() {
        use crate::plugins::testing;
        let dir = tempfile::tempdir().unwrap();
        let worker = WorkerConfig::parse(&ConfigMap::from([(
            "data.dir".to_string(),
            dir.path().display().to_string(),
        )]))
        .unwrap();
        let running = Standalone::start(worker, Vec::new()).await.unwrap();
        let herder = running.herder();
        testing::set_tasks("grows", 1, false);
        let config = ConfigMap::from([
            ("connector.class".to_string(), testing::CLASS.to_string()),
            ("tasks.max".to_string(), "5".to_string()),
        ]);
        herder
            .put_connector_config("grows", config, false)
            .await
            .unwrap();
        let running_tasks = |n: usize| {
            let herder = herder.clone();
            async move {
                for _ in 0..200 {
                    let status = herder.connector_status("grows").await.unwrap();
                    if status.tasks.len() == n
                        && status.tasks.iter().all(|(_, s)| s.state == "RUNNING")
                    {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                false
            }
        };
        assert!(running_tasks(1).await);
        testing::set_tasks("grows", 3, true);
        assert!(
            running_tasks(3).await,
            "the new task configs were not applied"
        );
        assert_eq!(herder.task_configs("grows").await.unwrap().len(), 3);
        running.shutdown().await;
        // Stored: a restart comes back with three tasks.
        let (_, stored) = {
            let log: Arc<dyn Log> =
                Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
            ConfigStore::open(log, "connect-configs").await.unwrap()
        };
        assert_eq!(stored["grows"].tasks.len(), 3);
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
