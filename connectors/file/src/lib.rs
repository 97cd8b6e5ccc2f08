//! File connectors, compatible with Kafka's `FileStreamSource` and `FileStreamSink`: the
//! same class names, config keys and source offsets (`{"filename": ...}` /
//! `{"position": ...}`), so configs and offsets carry over.
//!
//! Ferry's source also tails: lines appended to the file are picked up as they come
//! (file-system notifications, with a polling fallback), and a truncated or rotated file
//! is followed the way `tail -F` follows it, see [`source`].

pub mod sink;
pub mod source;

use ferry_api::{ConnectorPlugin, PluginInfo};

/// The version of this crate's connectors.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The file source plugin.
pub const FILE_SOURCE: ConnectorPlugin = ConnectorPlugin::Source {
    info: PluginInfo {
        class: "org.apache.kafka.connect.file.FileStreamSourceConnector",
        aliases: &["FileStreamSource", "FileStreamSourceConnector"],
        version: VERSION,
    },
    connector: || Box::new(source::FileSourceConnector::default()),
    task: || Box::new(source::FileSourceTask::default()),
};

/// The file sink plugin.
pub const FILE_SINK: ConnectorPlugin = ConnectorPlugin::Sink {
    info: PluginInfo {
        class: "org.apache.kafka.connect.file.FileStreamSinkConnector",
        aliases: &["FileStreamSink", "FileStreamSinkConnector"],
        version: VERSION,
    },
    connector: || Box::new(sink::FileSinkConnector::default()),
    task: || Box::new(sink::FileSinkTask::default()),
};
