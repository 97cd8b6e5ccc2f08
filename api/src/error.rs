//! The one error type of connector code.

/// Errors raised by connectors, tasks, converters and transforms.
///
/// The runtime decides what happens next from the variant: [`ConnectError::Retriable`] is
/// retried (with backoff, per `errors.retry.timeout`), the others fail the record or the task
/// as `errors.tolerance` says.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A config value is missing or wrong.
    #[error("invalid config: {0}")]
    Config(String),
    /// A record's data cannot be handled (wrong type, cannot be converted).
    #[error("{0}")]
    Data(String),
    /// A transient failure; the same call may succeed later.
    #[error("retriable: {0}")]
    Retriable(String),
    /// An I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file or the peer.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl ConnectError {
    /// An I/O error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        ConnectError::Io {
            context: context.into(),
            source,
        }
    }
    /// Whether retrying may help.
    pub fn is_retriable(&self) -> bool {
        matches!(self, ConnectError::Retriable(_))
    }
}

/// `Result` with [`ConnectError`].
pub type Result<T, E = ConnectError> = std::result::Result<T, E>;
