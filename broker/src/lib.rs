//! `ferry broker`: Ferry's log engine ([`ferry_log`]) served over the Kafka wire protocol
//! ([`protocol`]: the codec, without I/O; [`server`]: TCP and request handlers;
//! [`coordinator`]: consumer groups and committed offsets).

pub mod coordinator;
pub mod protocol;
pub mod server;
