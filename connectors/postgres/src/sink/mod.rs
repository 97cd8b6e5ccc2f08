//! `PostgresSink` (accepts `io.confluent.connect.jdbc.JdbcSinkConnector`): writes records
//! into tables with Confluent's JDBC sink keys.
//!
//! Each `put` is cut into batches of `batch.size` records; a batch is one transaction:
//! binary COPY (directly, or through a staging table for upsert, update and deletes), plus,
//! with `exactly.once`, the next offset of each partition in `exactly.once.offsets.table`.
//! On restart such a task resumes from those offsets (`SinkTaskContext::reset_offset` in
//! `open`), so a record is never written twice, even after `kill -9`.
//!
//! A record that does not fit its table (a wrong type, a null in a NOT NULL column, a text
//! too long, a constraint it violates) is reported to the runtime's errant record reporter
//! with a message naming the column; with `errors.tolerance=all` the batch goes on without
//! it, otherwise the task fails with that message. A database that cannot be reached is
//! retried `max.retries` times, `retry.backoff.ms` apart, then the task fails with the
//! cause; a restart (REST) starts counting again.

mod config;
mod offsets;
mod rows;
mod task;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use ferry_api::{ConfigMap, Connector, ConnectorContext, Result};

pub use task::PostgresSinkTask;

/// The sink connector: validates and hands `tasks.max` copies of its config to its tasks.
#[derive(Debug, Default)]
pub struct PostgresSinkConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for PostgresSinkConnector {
    crate::connector::config_methods!(config);

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, config: &ConfigMap) -> Result<()> {
        config::parse(config)?;
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }
}
