//! The standalone herder: one worker, connectors from files given on the command line,
//! the embedded log in `data.dir`.
//!
//! Everything is validated before anything starts: the worker config, then every connector
//! config (all problems of all files are reported together). Then the log is opened (and its
//! directory locked), connectors and tasks start, and the herder waits for SIGINT or SIGTERM,
//! on which tasks are stopped, flushed and committed, and the log closed cleanly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_api::{ConfigIssue, ConfigMap};
use ferry_broker::log::LogConfig;

use crate::config;
use crate::log::{EmbeddedLog, Log};
use crate::storage::OffsetStore;
use crate::worker::{self, RunningConnector, TaskHandle, Worker, WorkerConfig};

/// Why standalone mode could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    /// A config file could not be read or parsed.
    #[error("{0}")]
    ConfigFile(#[from] config::ConfigError),
    /// A config was read but is invalid; one line per problem, each naming the file.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The embedded log could not be opened.
    #[error("embedded log in {dir}: {source}")]
    Log {
        /// The data directory.
        dir: PathBuf,
        /// What failed.
        #[source]
        source: crate::log::LogError,
    },
    /// The offset store could not be opened.
    #[error(transparent)]
    Offsets(#[from] crate::storage::OffsetStoreError),
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
    if !worker.bootstrap_servers().is_empty() {
        return Err(StandaloneError::Invalid(vec![format!(
            "{}: key \"bootstrap.servers\": value \"{}\": an external Kafka cluster is not supported yet; remove the key to use the embedded log in data.dir",
            worker_file.display(),
            worker.bootstrap_servers().join(",")
        )]));
    }
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

/// A running standalone worker.
#[derive(Debug)]
pub struct Standalone {
    worker: Worker,
    log: Arc<EmbeddedLog>,
    connectors: Vec<(RunningConnector, Vec<TaskHandle>)>,
}

impl Standalone {
    /// Opens the log and the offset store and starts every connector and its tasks.
    pub async fn start(
        worker_config: WorkerConfig,
        connectors: Vec<ConfigMap>,
    ) -> Result<Standalone, StandaloneError> {
        let dir = worker_config.data_dir();
        let log = Arc::new(EmbeddedLog::open(LogConfig::new(&dir)).map_err(|source| {
            StandaloneError::Log {
                dir: dir.clone(),
                source,
            }
        })?);
        let dyn_log: Arc<dyn Log> = log.clone();
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
        let worker = Worker::new(worker_config, dyn_log, offsets);
        let mut running = Vec::new();
        for config in connectors {
            let name = config.get("name").cloned().unwrap_or_default();
            let connector = worker.start_connector(&config).await.map_err(|source| {
                StandaloneError::Connector {
                    name: name.clone(),
                    source,
                }
            })?;
            let tasks = worker
                .start_tasks(&connector)
                .await
                .map_err(|source| StandaloneError::Connector { name, source })?;
            running.push((connector, tasks));
        }
        Ok(Standalone {
            worker,
            log,
            connectors: running,
        })
    }

    /// The tasks that run.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskHandle> {
        self.connectors.iter().flat_map(|(_, tasks)| tasks.iter())
    }

    /// Stops every task (each flushes and commits), then the connectors, then closes the
    /// log cleanly.
    pub async fn shutdown(self) {
        let timeout = self.worker.config().shutdown_timeout();
        for (_, tasks) in &self.connectors {
            for t in tasks {
                t.stop();
            }
        }
        for (connector, tasks) in self.connectors {
            for t in tasks {
                t.join(timeout).await;
            }
            self.worker.stop_connector(connector).await;
        }
        if let Err(e) = self.log.close().await {
            tracing::error!(error = %e, "closing the embedded log failed");
        }
        tracing::info!("standalone worker stopped");
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
    fn duplicate_names_and_external_brokers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let w = dir.path().join("w.yaml");
        std::fs::write(&w, "data.dir: /tmp/x\n").unwrap();
        let c = dir.path().join("c.yaml");
        std::fs::write(&c, "name: a\nconnector.class: FileStreamSource\ntopic: t\n").unwrap();
        let err = load(&w, &[c.clone(), c.clone()]).unwrap_err().to_string();
        assert!(err.contains("same connector name"), "{err}");
        std::fs::write(&w, "bootstrap.servers: localhost:9092\n").unwrap();
        let err = load(&w, &[c]).unwrap_err().to_string();
        assert!(err.contains("bootstrap.servers"), "{err}");
    }
}
