//! `PostgresCdcSource` (accepts `io.debezium.connector.postgresql.PostgresConnector`):
//! change data capture with Debezium's keys and event envelope.
//!
//! On first start the task creates the publication (`publication.autocreate.mode`) and the
//! logical replication slot (`slot.name`, plugin `pgoutput`), and with `snapshot.mode=initial`
//! reads every captured table in the snapshot the slot exported, so the snapshot and the
//! stream meet exactly at the slot's consistent point. Then it streams the slot's changes
//! (INSERT, UPDATE, DELETE) as Debezium events keyed by primary key, with a tombstone after
//! each delete.
//!
//! The replication protocol is spoken by its own `replication` module (sqlx has no CopyBoth
//! support); a maintained crate that does it all (slot creation with an exported snapshot,
//! feedback under the caller's control) was not found: `pgwire-replication` is young and
//! owns its feedback loop, `pg_walstream` needs libpq, supabase's `etl` pulls a fork of
//! tokio-postgres. `postgres-protocol` (of rust-postgres) does the framing and the
//! authentication.
//!
//! The task's modules: `task` (the `SourceTask`), `reader` (the background session and its
//! reconnects), `slot` (publication and slot management), `snapshot`, `stream`, `events`
//! (rows and changes into Debezium events), `offset` (the offsets and what they resume),
//! `envelope` (the event schemas), `pgoutput` (the plugin's messages). Fixed SQL statements
//! are `.sql` files in `sql/`, next to the modules that run them.

mod config;
mod envelope;
mod events;
mod offset;
mod pgoutput;
mod reader;
mod replication;
mod slot;
mod snapshot;
mod stream;
mod task;

use std::sync::Arc;

use async_trait::async_trait;
use ferry_api::{ConfigMap, Connector, ConnectorContext, Result};

pub use task::PostgresCdcTask;

/// The CDC connector: one task (a slot is read by one connection).
#[derive(Debug, Default)]
pub struct PostgresCdcConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for PostgresCdcConnector {
    crate::connector::config_methods!(config);

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, config: &ConfigMap) -> Result<()> {
        config::parse(config)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, _max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone()])
    }
}
