//! What a task runner is given, and the helpers the source and sink runners share: the
//! task's state reports, its pause/stop controls, its converters and its error policy.

use std::sync::Arc;

use ferry_api::{ConfigMap, ConnectError, ConnectorType};
use tokio::sync::watch;

use super::WorkerConfig;
use super::active_topics::ActiveTopics;
use crate::errors::ErrorHandler;
use crate::lifecycle::{TargetState, TaskId, TaskState};
use crate::log::Log;
use crate::plugins;

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
    pub(super) async fn hold_until_started(&self) -> bool {
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
    pub(crate) fn error_handler(&self, kind: ConnectorType) -> Result<ErrorHandler, ConnectError> {
        ErrorHandler::new(
            kind,
            &self.connector_config,
            self.id.to_string(),
            self.log.clone(),
            self.worker.default_partitions(),
        )
    }
}

pub(super) fn converter_for(
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
