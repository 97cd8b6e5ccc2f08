//! The one error type of `ferry-record`.

/// Input that is not what Kafka's record formats allow.
///
/// Messages carry the offending values (byte position, codec, attributes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
