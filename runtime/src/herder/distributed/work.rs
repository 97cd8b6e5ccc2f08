//! Starting and stopping the connectors and tasks assigned to this worker, acting on
//! config changes, and reporting statuses.

use std::sync::{Arc, Mutex};

use ferry_api::ConfigMap;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{
    Internal, RECONFIGURE_BACKOFF, RunningConn, RunningTask, State, StatusWrite, status_of,
};
use crate::herder::RestartRequest;
use crate::lifecycle::{TargetState, TaskId, TaskState};
use crate::storage::configs::ConfigChange;
use crate::storage::statuses::{State as StatusState, Status, StatusSnapshot, StatusStore};

/// What to report once work has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stopped {
    /// UNASSIGNED (revoked, shutting down), unless another worker reported it since.
    Unassigned,
    /// DESTROYED, a tombstone (its connector was deleted, or the task no longer exists).
    Destroyed,
    /// Nothing: it starts again at once.
    Quiet,
}

/// Whether this worker may overwrite `current` with a status of `generation`: it is its
/// own, or older (Kafka Connect's `putSafe`), so a slow worker never hides the status the
/// new owner of a task reported.
fn may_overwrite(current: Option<&Status>, worker_id: &str, generation: i32) -> bool {
    current.is_none_or(|c| c.worker_id == worker_id || c.generation <= generation)
}

/// Writes statuses in the order they were queued (one key's history stays in order), so
/// that neither the herder nor a task waits for the broker.
pub(super) async fn write_statuses(
    store: Arc<StatusStore>,
    mut rx: mpsc::UnboundedReceiver<StatusWrite>,
) {
    while let Some(write) = rx.recv().await {
        let result = match &write {
            StatusWrite::Connector(name, status) => store.put_connector(name, status).await,
            StatusWrite::Task(id, status) => store.put_task(id, status).await,
        };
        if let Err(e) = result {
            tracing::warn!(status = ?write, error = %e, "cannot write a status");
        }
    }
}

/// Reports a task's state changes (RUNNING, PAUSED, FAILED) until the task ends.
async fn report(
    view: Arc<Mutex<StatusSnapshot>>,
    writer: mpsc::UnboundedSender<StatusWrite>,
    id: TaskId,
    worker_id: String,
    generation: i32,
    mut state: watch::Receiver<TaskState>,
) {
    let mut last: Option<(StatusState, Option<String>)> = None;
    loop {
        let reported = match state.borrow_and_update().clone() {
            TaskState::Running => Some((StatusState::Running, None)),
            TaskState::Paused => Some((StatusState::Paused, None)),
            TaskState::Failed(trace) => Some((StatusState::Failed, Some(trace))),
            TaskState::Starting | TaskState::Stopped => None,
        };
        if let Some(now) = reported
            && last.as_ref() != Some(&now)
        {
            let status = status_of(now.0, now.1.clone(), &worker_id, generation);
            view.lock()
                .unwrap_or_else(|e| e.into_inner())
                .tasks
                .insert(id.clone(), status.clone());
            let _ = writer.send(StatusWrite::Task(id.clone(), status));
            last = Some(now);
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

impl State {
    fn new_status(&self, state: StatusState, trace: Option<String>) -> Status {
        status_of(state, trace, &self.worker_id, self.group.generation)
    }

    pub(super) fn put_connector_status(
        &self,
        name: &str,
        state: StatusState,
        trace: Option<String>,
    ) {
        let status = self.new_status(state, trace);
        {
            let mut view = self.status_view.lock().unwrap_or_else(|e| e.into_inner());
            if state == StatusState::Unassigned
                && !may_overwrite(
                    view.connectors.get(name),
                    &self.worker_id,
                    status.generation,
                )
            {
                return;
            }
            if state == StatusState::Destroyed {
                view.connectors.remove(name);
            } else {
                view.connectors.insert(name.to_string(), status.clone());
            }
        }
        let _ = self
            .status_writer
            .send(StatusWrite::Connector(name.to_string(), status));
    }

    pub(super) fn put_task_status(&self, id: &TaskId, state: StatusState, trace: Option<String>) {
        let status = self.new_status(state, trace);
        {
            let mut view = self.status_view.lock().unwrap_or_else(|e| e.into_inner());
            if state == StatusState::Unassigned
                && !may_overwrite(view.tasks.get(id), &self.worker_id, status.generation)
            {
                return;
            }
            if state == StatusState::Destroyed {
                view.tasks.remove(id);
            } else {
                view.tasks.insert(id.clone(), status.clone());
            }
        }
        let _ = self
            .status_writer
            .send(StatusWrite::Task(id.clone(), status));
    }

    /// Starts what the assignment gives this worker and it does not run yet. Source tasks
    /// start after the offset store has read what any previous owner committed.
    pub(super) async fn start_assigned(&mut self) {
        let connectors: Vec<String> = self
            .group
            .assigned
            .connectors
            .iter()
            .filter(|c| !self.connectors.contains_key(*c))
            .cloned()
            .collect();
        for name in connectors {
            self.start_connector(&name).await;
        }
        let tasks: Vec<TaskId> = self
            .group
            .assigned
            .tasks
            .iter()
            .filter(|t| !self.tasks.contains_key(*t))
            .cloned()
            .collect();
        if tasks.is_empty() {
            return;
        }
        if let Err(e) = self.offsets.refresh().await {
            tracing::warn!(error = %e, "cannot read the offset topic; tasks start from the offsets known so far");
        }
        for id in tasks {
            self.start_task(&id);
        }
    }

    /// Starts a connector instance as its target state says, and generates its task
    /// configs. Failures are reported (FAILED), not returned.
    pub(super) async fn start_connector(&mut self, name: &str) {
        if self.connectors.contains_key(name) {
            return;
        }
        let Some(config) = self.view.config(name).cloned() else {
            return;
        };
        let target = self.view.target(name);
        if target == TargetState::Stopped {
            self.connectors.insert(
                name.to_string(),
                RunningConn {
                    instance: None,
                    failure: None,
                    config,
                },
            );
            self.put_connector_status(name, StatusState::Stopped, None);
            return;
        }
        match self.worker.start_connector(&config).await {
            Ok(instance) => {
                self.connectors.insert(
                    name.to_string(),
                    RunningConn {
                        instance: Some(instance),
                        failure: None,
                        config,
                    },
                );
                let state = if target == TargetState::Paused {
                    StatusState::Paused
                } else {
                    StatusState::Running
                };
                self.put_connector_status(name, state, None);
                self.reconfigure(name).await;
            }
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "connector FAILED to start");
                self.connectors.insert(
                    name.to_string(),
                    RunningConn {
                        instance: None,
                        failure: Some(e.to_string()),
                        config,
                    },
                );
                self.put_connector_status(name, StatusState::Failed, Some(e.to_string()));
            }
        }
    }

    /// Stops a connector instance (not its tasks) and forgets it; reports `how`.
    pub(super) async fn stop_connector(&mut self, name: &str, how: Stopped) {
        let Some(c) = self.connectors.remove(name) else {
            return;
        };
        if let Some(instance) = c.instance {
            self.worker.stop_connector(instance).await;
        }
        self.reconfigure_at.remove(name);
        self.written_tasks.remove(name);
        match how {
            Stopped::Unassigned => self.put_connector_status(name, StatusState::Unassigned, None),
            Stopped::Destroyed => self.put_connector_status(name, StatusState::Destroyed, None),
            Stopped::Quiet => {}
        }
    }

    /// Generates the connector's task configs; when they differ from the committed ones,
    /// the leader writes them, another worker hands them to the leader.
    pub(super) async fn reconfigure(&mut self, name: &str) {
        if self.view.target(name) == TargetState::Stopped {
            return;
        }
        let generated = match self.connectors.get(name).and_then(|c| c.instance.as_ref()) {
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
                self.put_connector_status(name, StatusState::Failed, Some(e.to_string()));
                return;
            }
        };
        if self.view.tasks(name) == tasks.as_slice() || self.written_tasks.get(name) == Some(&tasks)
        {
            return;
        }
        if self.group.is_leader {
            match self.configs.put_tasks(name, &tasks).await {
                Ok(_) => {
                    tracing::info!(connector = %name, tasks = tasks.len(), "task configs stored");
                    self.written_tasks.insert(name.to_string(), tasks);
                }
                Err(e) => {
                    tracing::warn!(connector = %name, error = %e, "storing task configs failed; retrying");
                    self.reconfigure_at
                        .insert(name.to_string(), Instant::now() + RECONFIGURE_BACKOFF);
                }
            }
        } else {
            self.forward_tasks(name, tasks);
        }
    }

    /// Hands task configs to the leader (`POST /connectors/{name}/tasks`) in the
    /// background; the result comes back as [`Internal::Forwarded`].
    fn forward_tasks(&mut self, name: &str, tasks: Vec<ConfigMap>) {
        if let Some(again) = self.forwarding.get_mut(name) {
            *again = true;
            return;
        }
        let Some(leader) = self.group.leader_url.clone() else {
            self.reconfigure_at
                .insert(name.to_string(), Instant::now() + RECONFIGURE_BACKOFF);
            return;
        };
        self.forwarding.insert(name.to_string(), false);
        let url = format!(
            "{}/connectors/{}/tasks?forward=true",
            leader.trim_end_matches('/'),
            crate::rest_path::segment(name)
        );
        let http = self.http.clone();
        let done = self.internal.clone();
        let connector = name.to_string();
        tokio::spawn(async move {
            let result = match http
                .post(&url)
                .json(&tasks)
                .timeout(std::time::Duration::from_secs(30))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => {
                    let status = r.status();
                    Err(format!(
                        "{url}: {status} {}",
                        r.text().await.unwrap_or_default()
                    ))
                }
                Err(e) => Err(format!("{url}: {e}")),
            };
            let _ = done.send(Internal::Forwarded(connector, result));
        });
    }

    /// Starts one task as its connector's target state says.
    pub(super) fn start_task(&mut self, id: &TaskId) {
        let Some(config) = self.view.config(&id.connector) else {
            return;
        };
        let tasks = self.view.tasks(&id.connector);
        let target = self.view.target(&id.connector);
        if id.task >= tasks.len() || target == TargetState::Stopped {
            // Its configs are not committed (yet): a later rebalance sorts it out.
            return;
        }
        match self.worker.start_task(config, tasks, id.task, target) {
            Ok(handle) => {
                let reporter = tokio::spawn(report(
                    self.status_view.clone(),
                    self.status_writer.clone(),
                    id.clone(),
                    self.worker_id.clone(),
                    self.group.generation,
                    handle.watch_state(),
                ));
                self.tasks
                    .insert(id.clone(), RunningTask { handle, reporter });
            }
            Err(e) => {
                tracing::error!(task = %id, error = %e, "task FAILED to start");
                self.put_task_status(id, StatusState::Failed, Some(e.to_string()));
            }
        }
    }

    /// Stops tasks (signalled together, then each awaited: they flush and commit); reports
    /// `how` for each.
    pub(super) async fn stop_tasks(&mut self, ids: &[TaskId], how: Stopped) {
        let running: Vec<(TaskId, RunningTask)> = ids
            .iter()
            .filter_map(|id| self.tasks.remove_entry(id))
            .collect();
        for (_, t) in &running {
            t.handle.stop();
        }
        let timeout = self.worker.config().shutdown_timeout();
        for (id, t) in running {
            t.handle.join(timeout).await;
            // Its last state change is written before what follows.
            let _ = t.reporter.await;
            match how {
                Stopped::Unassigned => self.put_task_status(&id, StatusState::Unassigned, None),
                Stopped::Destroyed => self.put_task_status(&id, StatusState::Destroyed, None),
                Stopped::Quiet => {}
            }
        }
    }

    /// Stops everything this worker runs, reporting `how`.
    pub(super) async fn stop_everything(&mut self, how: Stopped) {
        let tasks: Vec<TaskId> = self.tasks.keys().cloned().collect();
        self.stop_tasks(&tasks, how).await;
        let names: Vec<String> = self.connectors.keys().cloned().collect();
        for name in names {
            self.stop_connector(&name, how).await;
        }
    }

    /// Restarts one task this worker runs.
    pub(super) async fn restart_local_task(&mut self, id: &TaskId) {
        self.put_task_status(id, StatusState::Restarting, None);
        self.stop_tasks(std::slice::from_ref(id), Stopped::Quiet)
            .await;
        if let Err(e) = self.offsets.refresh().await {
            tracing::warn!(error = %e, "cannot read the offset topic");
        }
        self.start_task(id);
        tracing::info!(task = %id, "task restarted");
    }

    /// The tasks of `connector` this worker runs.
    fn local_tasks(&self, connector: &str) -> Vec<TaskId> {
        self.tasks
            .keys()
            .filter(|t| t.connector == connector)
            .cloned()
            .collect()
    }

    /// Acts on what changed in the config topic (in order; the view already holds all of
    /// it). A change in the set of connectors or of their task counts needs a rebalance.
    pub(super) async fn on_config_changes(&mut self, changes: Vec<ConfigChange>) {
        for change in changes {
            match change {
                ConfigChange::Connector(name) => {
                    let changed = self
                        .connectors
                        .get(&name)
                        .is_some_and(|c| Some(&c.config) != self.view.config(&name));
                    if changed {
                        tracing::info!(connector = %name, "connector config changed: restarting it");
                        self.stop_connector(&name, Stopped::Quiet).await;
                        self.start_connector(&name).await;
                    }
                }
                ConfigChange::Removed(name) => {
                    let tasks = self.local_tasks(&name);
                    self.stop_tasks(&tasks, Stopped::Destroyed).await;
                    self.stop_connector(&name, Stopped::Destroyed).await;
                }
                ConfigChange::Target(name) => self.apply_target(&name).await,
                ConfigChange::Tasks(name) => {
                    // A new generation of task configs: the local tasks stop; those still
                    // assigned here start again with the new configs.
                    let count = self.view.tasks(&name).len();
                    let (gone, kept): (Vec<TaskId>, Vec<TaskId>) = self
                        .local_tasks(&name)
                        .into_iter()
                        .partition(|t| t.task >= count);
                    if !gone.is_empty() || !kept.is_empty() {
                        tracing::info!(connector = %name, tasks = count, "new task configs: restarting the local tasks");
                    }
                    self.stop_tasks(&gone, Stopped::Destroyed).await;
                    self.stop_tasks(&kept, Stopped::Quiet).await;
                    self.written_tasks.remove(&name);
                }
                ConfigChange::Restart(name, request) => self.restart_local(&name, request).await,
            }
        }
        let counts = self.view.task_counts();
        if counts != self.known_counts {
            self.known_counts = counts;
            self.rejoin("connectors or their task counts changed");
        } else if self.group.joined && !self.group.rebalancing {
            // Tasks stopped for new configs are still assigned here.
            self.start_assigned().await;
        }
    }

    /// Applies a new target state to the local connector instance and tasks.
    async fn apply_target(&mut self, name: &str) {
        let target = self.view.target(name);
        for id in self.local_tasks(name) {
            if let Some(t) = self.tasks.get(&id) {
                match target {
                    TargetState::Paused => t.handle.set_paused(true),
                    TargetState::Started => t.handle.set_paused(false),
                    // Stopped: the task configs were emptied in the same write.
                    TargetState::Stopped => {}
                }
            }
        }
        if !self.connectors.contains_key(name) {
            return;
        }
        match target {
            TargetState::Stopped => {
                self.stop_connector(name, Stopped::Quiet).await;
                self.start_connector(name).await;
            }
            TargetState::Started | TargetState::Paused => {
                let running = self
                    .connectors
                    .get(name)
                    .is_some_and(|c| c.instance.is_some());
                if running {
                    let state = if target == TargetState::Paused {
                        StatusState::Paused
                    } else {
                        StatusState::Running
                    };
                    self.put_connector_status(name, state, None);
                } else {
                    // Resumed from STOPPED (or after a failure): a fresh instance, which
                    // generates the task configs again.
                    self.stop_connector(name, Stopped::Quiet).await;
                    self.start_connector(name).await;
                }
            }
        }
        tracing::info!(connector = %name, target = target.as_str(), "target state applied");
    }

    /// A restart request (KIP-745) for what this worker runs.
    async fn restart_local(&mut self, name: &str, request: RestartRequest) {
        let failed = self.connectors.get(name).map(|c| c.failure.is_some());
        if let Some(failed) = failed
            && (!request.only_failed || failed)
        {
            self.put_connector_status(name, StatusState::Restarting, None);
            self.stop_connector(name, Stopped::Quiet).await;
            self.start_connector(name).await;
            tracing::info!(connector = %name, "connector restarted");
        }
        if request.include_tasks {
            for id in self.local_tasks(name) {
                let failed = self
                    .tasks
                    .get(&id)
                    .is_some_and(|t| matches!(t.handle.state(), TaskState::Failed(_)));
                if !request.only_failed || failed {
                    self.restart_local_task(&id).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_overwritten_only_by_its_owner_or_a_newer_generation() {
        let by = |worker: &str, generation: i32| Status {
            state: StatusState::Running,
            trace: None,
            worker_id: worker.into(),
            generation,
        };
        assert!(may_overwrite(None, "a:1", 1));
        assert!(may_overwrite(Some(&by("a:1", 9)), "a:1", 1));
        assert!(may_overwrite(Some(&by("b:1", 3)), "a:1", 3));
        assert!(!may_overwrite(Some(&by("b:1", 4)), "a:1", 3));
    }
}
