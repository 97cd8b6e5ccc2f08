//! The crate's error type, and which database errors are worth retrying.

use ferry_api::ConnectError;

/// Errors of the Postgres connectors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `connection.url` (or the Debezium host keys) cannot be used.
    #[error("invalid connection.url \"{url}\": {reason}")]
    Url {
        /// The URL given (without its password).
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A database call failed.
    #[error("{context}: {source}")]
    Db {
        /// What was being done, naming the table or the server.
        context: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The replication protocol failed.
    #[error("{0}")]
    Replication(String),
    /// A value does not fit its column or schema.
    #[error("{0}")]
    Data(String),
    /// A table, column or slot is not as the config expects.
    #[error("{0}")]
    Schema(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A database error with what was being done.
    pub(crate) fn db(context: impl Into<String>, source: sqlx::Error) -> Error {
        Error::Db {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying the same operation later may succeed (the server is down or
    /// restarting, the network failed, a transaction was chosen as a deadlock victim).
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::Db { source, .. } => is_transient(source),
            Error::Replication(_) => false,
            _ => false,
        }
    }

    /// The SQLSTATE of a database error.
    pub(crate) fn sqlstate(&self) -> Option<String> {
        match self {
            Error::Db { source, .. } => sqlstate(source),
            _ => None,
        }
    }
}

/// The SQLSTATE of a driver error, if the server sent one.
pub(crate) fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether a driver error is a connection or transient server failure.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(_) => sqlstate(e).is_some_and(|code| {
            // 08: connection exception; 57P01-57P03: the server shuts down or starts;
            // 53300: too many connections; 40001/40P01: serialization failure, deadlock.
            code.starts_with("08")
                || matches!(
                    code.as_str(),
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
                )
        }),
        _ => false,
    }
}

impl From<Error> for ConnectError {
    fn from(e: Error) -> ConnectError {
        match e {
            Error::Url { .. } => ConnectError::Config(e.to_string()),
            Error::Data(msg) => ConnectError::Data(msg),
            e if e.is_transient() => ConnectError::Retriable(e.to_string()),
            e => ConnectError::Other(e.to_string()),
        }
    }
}
