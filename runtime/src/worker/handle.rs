//! The handle a herder keeps of a running task: ask it to pause, resume or stop (each
//! returns at once), watch its state, and wait for it to finish (as Kafka Connect's
//! `WorkerTask.stop` / `awaitStop`).

use std::time::Duration;

use tokio::sync::watch;

use crate::lifecycle::{TargetState, TaskId, TaskState};

/// A running task.
#[derive(Debug)]
pub struct TaskHandle {
    pub(super) id: TaskId,
    pub(super) control: watch::Sender<TargetState>,
    pub(super) state: watch::Receiver<TaskState>,
    pub(super) join: tokio::task::JoinHandle<()>,
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
