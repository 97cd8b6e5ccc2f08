//! Ferry's log engine: Kafka v2 record batches ([`record`]) stored in a durable, segmented,
//! partitioned log ([`log`]). The Kafka-protocol server and group coordinator come later.

pub mod error;
pub mod log;
pub mod record;

pub use error::{Error, Result};
