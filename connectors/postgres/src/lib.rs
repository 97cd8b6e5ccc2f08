//! PostgreSQL connectors.
//!
//! - [`source`]: `PostgresSource`, a JDBC-style source (Confluent's `JdbcSourceConnector`
//!   keys and offsets): bulk, incrementing, timestamp and timestamp+incrementing queries of
//!   tables or of one custom query, with new tables discovered while it runs.
//! - [`cdc`]: `PostgresCdcSource`, change data capture (Debezium's `PostgresConnector` keys
//!   and envelope): a consistent snapshot, then the changes of a logical replication slot
//!   decoded from the built-in `pgoutput` plugin.
//! - [`sink`]: `PostgresSink` (Confluent's `JdbcSinkConnector` keys): insert, upsert or
//!   update with binary COPY, one transaction per batch, optionally exactly once.
//!
//! Queries go through `sqlx`; the CDC source speaks the streaming replication protocol
//! itself ([`cdc`] explains why). Values are decoded from and encoded to Postgres' wire
//! formats by the `types` module, whose mapping to Connect types the README documents.
//!
//! SQL: a statement whose text is fixed is a `.sql` file in a `sql/` folder next to the
//! module that runs it, loaded with `include_str!` into a named constant; a statement that
//! names tables or columns from the config or the catalog is built in code, where it is
//! used (the binary COPY statements by `copy_in` / `copy_out`).

mod catalog;
pub mod cdc;
mod config;
mod connection;
mod connector;
mod copy;
mod error;
pub mod sink;
pub mod source;
mod types;

pub use connection::Endpoint;
pub use error::{Error, Result};

/// The version of this crate's connectors.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

use ferry_api::{ConnectorPlugin, PluginInfo};

/// The JDBC-style Postgres source plugin.
pub const POSTGRES_SOURCE: ConnectorPlugin = ConnectorPlugin::Source {
    info: PluginInfo {
        class: "PostgresSource",
        aliases: &[
            "io.confluent.connect.jdbc.JdbcSourceConnector",
            "JdbcSourceConnector",
            "PostgresSourceConnector",
        ],
        version: VERSION,
    },
    connector: || Box::new(source::PostgresSourceConnector::default()),
    task: || Box::new(source::PostgresSourceTask::default()),
};

/// The CDC source plugin (Debezium-style).
pub const POSTGRES_CDC_SOURCE: ConnectorPlugin = ConnectorPlugin::Source {
    info: PluginInfo {
        class: "PostgresCdcSource",
        aliases: &[
            "io.debezium.connector.postgresql.PostgresConnector",
            "PostgresConnector",
            "PostgresCdcSourceConnector",
        ],
        version: VERSION,
    },
    connector: || Box::new(cdc::PostgresCdcConnector::default()),
    task: || Box::new(cdc::PostgresCdcTask::default()),
};

/// The Postgres sink plugin.
pub const POSTGRES_SINK: ConnectorPlugin = ConnectorPlugin::Sink {
    info: PluginInfo {
        class: "PostgresSink",
        aliases: &[
            "io.confluent.connect.jdbc.JdbcSinkConnector",
            "JdbcSinkConnector",
            "PostgresSinkConnector",
        ],
        version: VERSION,
    },
    connector: || Box::new(sink::PostgresSinkConnector::default()),
    task: || Box::new(sink::PostgresSinkTask::default()),
};
