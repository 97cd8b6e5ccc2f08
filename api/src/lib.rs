//! `ferry-api`: everything a Ferry connector author depends on, and nothing else.
//!
//! - Connect's data model: [`Schema`] and [`Value`], with the logical types
//!   Decimal, Date, Time and Timestamp ([`logical`]).
//! - Records: [`SourceRecord`] (what a source task emits) and [`SinkRecord`] (what a sink
//!   task receives), with source partitions and offsets as [`SourceMap`]s.
//! - Plugins: the [`Connector`], [`SourceTask`] and [`SinkTask`] traits, the [`Converter`]
//!   trait, and [`ConnectorPlugin`], the one value a connector crate exports.
//! - Configuration: [`ConfigDef`] declares each key once (type, default, importance, doc,
//!   validator); that declaration drives parsing, validation and documentation.
//! - Java's text of Connect data ([`java_text`]): `Double.toString` and `String.valueOf` of
//!   a value, byte for byte, for converters and sinks that must print what Kafka prints.
#![warn(missing_docs)]

pub mod config;
mod connector;
mod converter;
pub mod data;
mod error;
pub mod java_text;
pub mod logical;
mod record;

pub use config::{
    ConfigDef, ConfigIssue, ConfigKey, ConfigMap, ConfigValue, Default as ConfigDefault,
    Importance, ParsedConfig, Type as ConfigType, Validator,
};
pub use connector::{
    Connector, ConnectorContext, ConnectorPlugin, ConnectorType, ErrantRecordReporter,
    OffsetReader, PluginInfo, SinkTask, SinkTaskContext, SourceTask, SourceTaskContext,
};
pub use converter::Converter;
pub use data::{ByteStr, Field, Schema, SchemaBuilder, SchemaType, Struct, Value};
pub use error::{ConnectError, Result};
pub use record::{ConsumedRecord, Header, SinkRecord, SourceMap, SourceRecord, TopicPartition};
