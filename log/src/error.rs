//! The one error type of `ferry-log`.

use std::path::PathBuf;

/// Everything that can go wrong in the log engine.
///
/// Messages carry the offending values (topic, partition, offset, file, byte position).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed on a file or directory.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// Input that should be one or more Kafka v2 record batches is not.
    #[error("corrupt record batch at byte {position}: {reason}")]
    CorruptBatch {
        /// Byte position of the batch (or record) inside the input.
        position: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A batch uses a compression codec this build cannot decode.
    #[error("unsupported compression codec {codec} in record batch (attributes {attributes:#06x})")]
    UnsupportedCompression {
        /// The codec id (attributes & 7).
        codec: i16,
        /// The batch attributes.
        attributes: i16,
    },

    /// The data directory is locked by another live process.
    #[error(
        "data directory {} is in use by another process (lock file {} is held); \
         stop the other process or choose another data directory",
        dir.display(),
        dir.join(".lock").display()
    )]
    DataDirLocked {
        /// The data directory.
        dir: PathBuf,
    },

    /// A topic with this name already exists.
    #[error("topic '{0}' already exists")]
    TopicAlreadyExists(String),

    /// No topic with this name exists.
    #[error("unknown topic '{0}'")]
    UnknownTopic(String),

    /// The topic exists but not this partition.
    #[error("unknown partition {partition} of topic '{topic}' (it has {partitions} partitions)")]
    UnknownPartition {
        /// Topic name.
        topic: String,
        /// The requested partition.
        partition: i32,
        /// How many partitions the topic has.
        partitions: u32,
    },

    /// The topic name breaks Kafka's naming rules.
    #[error("invalid topic name '{name}': {reason}")]
    InvalidTopicName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },

    /// A configuration value (broker or topic level) is invalid.
    #[error("invalid config {key}={value}: {reason}")]
    InvalidConfig {
        /// The config key.
        key: String,
        /// The value given.
        value: String,
        /// What was expected.
        reason: String,
    },

    /// A fetch or lookup asked for an offset outside the log.
    #[error(
        "offset {offset} is out of range for {topic}-{partition} \
         (log start offset {log_start}, log end offset {log_end})"
    )]
    OffsetOutOfRange {
        /// Topic name.
        topic: String,
        /// Partition.
        partition: i32,
        /// The requested offset.
        offset: i64,
        /// First offset in the log.
        log_start: i64,
        /// Next offset to be written.
        log_end: i64,
    },

    /// An append was larger than the topic allows.
    #[error("append of {size} bytes to {topic}-{partition} exceeds max.message.bytes ({max})")]
    RecordTooLarge {
        /// Topic name.
        topic: String,
        /// Partition.
        partition: i32,
        /// Size of the offending batch.
        size: usize,
        /// The limit.
        max: usize,
    },

    /// Stored topic metadata could not be read.
    #[error("corrupt topic metadata in {}: {reason}", path.display())]
    CorruptMetadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The log manager was closed, or the topic deleted, while this handle was in use.
    #[error("log for {0} is closed")]
    Closed(String),
}

impl From<ferry_record::Error> for Error {
    fn from(e: ferry_record::Error) -> Error {
        match e {
            ferry_record::Error::CorruptBatch { position, reason } => {
                Error::CorruptBatch { position, reason }
            }
            ferry_record::Error::UnsupportedCompression { codec, attributes } => {
                Error::UnsupportedCompression { codec, attributes }
            }
            // The record crate's errors are non_exhaustive; a new kind of bad input is still
            // a corrupt batch to the log.
            other => Error::CorruptBatch {
                position: 0,
                reason: other.to_string(),
            },
        }
    }
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
