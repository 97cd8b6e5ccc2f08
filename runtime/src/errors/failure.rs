//! A failed operation as the error policy sees it: the stage, the class, the error and the
//! consumed record.

use std::sync::Arc;

use ferry_api::{ConnectError, ConsumedRecord};

/// Where in the pipeline an operation failed (Kafka's `Stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    KeyConverter,
    ValueConverter,
    TaskPut,
}

impl Stage {
    pub(super) fn name(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::TaskPut => "TASK_PUT",
        }
    }
}

/// The consumed record an operation failed on: where it was in the log, and its bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Consumed {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) record: ConsumedRecord,
}

/// One failed operation.
#[derive(Debug)]
pub(crate) struct Failure<'a> {
    pub(crate) stage: Stage,
    /// The class that was executing (a converter, the connector).
    pub(crate) class: &'a str,
    pub(crate) error: &'a ConnectError,
    /// The record, for sinks (sources have no consumed record).
    pub(crate) record: Option<&'a Consumed>,
}

/// The Java class Kafka Connect would name for `error` (DLQ headers, logs).
pub(super) fn java_exception(error: &ConnectError) -> &'static str {
    match error {
        ConnectError::Data(_) => "org.apache.kafka.connect.errors.DataException",
        ConnectError::Retriable(_) => "org.apache.kafka.connect.errors.RetriableException",
        ConnectError::Config(_) => "org.apache.kafka.common.config.ConfigException",
        ConnectError::Io { .. } | ConnectError::Other(_) => {
            "org.apache.kafka.connect.errors.ConnectException"
        }
    }
}
