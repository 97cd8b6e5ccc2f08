//! Who is who, and in what state: the ids of tasks, the states a task reports, the states a
//! connector is asked to be in, and what a restart covers. A leaf module: the worker, the
//! herders, the stores and REST all speak these words, and it imports none of them.

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

/// What `POST /connectors/{name}/restart` covers (KIP-745); also what the config topic's
/// `restart-connector-<name>` records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestartRequest {
    /// Restart the tasks too.
    pub include_tasks: bool,
    /// Only restart instances that failed.
    pub only_failed: bool,
}
