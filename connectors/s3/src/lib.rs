//! The S3 sink: a drop-in for Confluent's S3 sink connector
//! (`io.confluent.connect.s3.S3SinkConnector`): the same config keys and defaults, the same
//! object names (`<topics.dir>/<topic>/<encoded partition>/<topic>+<partition>+<start
//! offset>.<ext>`), the same formats (JSON lines, Avro, Parquet, ByteArray; plus Ferry's
//! StringFormat) and partitioners, and the same exactly-once delivery: objects are named by
//! their first offset, cut by rules that depend on the records only, and consumer offsets are
//! committed only after the objects are complete in S3.
//!
//! Any S3-compatible store works through `store.url` (endpoint override, path-style
//! addressing by default) and the standard AWS credential chain (or `aws.access.key.id` /
//! `aws.secret.access.key`).
//!
//! Layout: `config` (every key), `partitioner` (directories), `format` (encoders),
//! `schema` (`schema.compatibility`), `storage` (the S3 client), `slots` (how many upload
//! buffers are in flight), `writer` (one Kafka partition's files and when they are
//! committed), `task` (the connector and its task).

mod config;
mod format;
mod partitioner;
mod schema;
mod slots;
mod storage;
mod task;
mod writer;

use ferry_api::{ConnectorPlugin, PluginInfo};

pub use task::{S3SinkConnector, S3SinkTask};

/// The version of this crate's connector.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The S3 sink plugin.
pub const S3_SINK: ConnectorPlugin = ConnectorPlugin::Sink {
    info: PluginInfo {
        class: "io.confluent.connect.s3.S3SinkConnector",
        aliases: &["S3Sink", "S3SinkConnector"],
        version: VERSION,
    },
    connector: || Box::new(S3SinkConnector::default()),
    task: || Box::new(S3SinkTask::default()),
};
