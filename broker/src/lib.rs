//! Ferry's log engine: Kafka v2 record batches ([`record`]) stored in a durable, segmented,
//! partitioned log ([`log`]); and `ferry broker`, that log served over the Kafka wire
//! protocol ([`protocol`]: the codec without I/O, [`server`]: TCP and request handlers,
//! [`coordinator`]: consumer groups and committed offsets).

pub mod coordinator;
pub mod error;
pub mod log;
pub mod protocol;
pub mod record;
pub mod server;

pub use error::{Error, Result};
