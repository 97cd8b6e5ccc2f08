//! `PostgresSource` (accepts `io.confluent.connect.jdbc.JdbcSourceConnector`): reads tables
//! or a custom query with Confluent's JDBC source keys and offsets.
//!
//! Modes: `bulk` (the whole table each `poll.interval.ms`), `incrementing` (rows with a
//! larger `incrementing.column.name`), `timestamp` (rows with a later
//! `timestamp.column.name`, up to `timestamp.delay.interval.ms` ago), and
//! `timestamp+incrementing` (both: new and updated rows, none twice). Rows are read with
//! binary `COPY (SELECT ...) TO STDOUT`, one record per row, the value a struct named after
//! the table, to the topic `topic.prefix` + table name (or `topic.prefix` for a query).
//!
//! The connector lists the tables (`table.whitelist` / `table.include.list`,
//! `table.blacklist` / `table.exclude.list`, `schema.pattern`, `table.types`) and spreads
//! them over `tasks.max` tasks; every `table.poll.interval.ms` it lists them again and asks
//! the runtime to reconfigure the tasks when the set changed.

mod config;
mod querier;
mod task;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferry_api::{ConfigMap, Connector, ConnectorContext, Result};
use sqlx::postgres::PgConnection;

pub use task::PostgresSourceTask;

use crate::catalog::{TableId, list_tables};
use config::SourceConfig;

/// The source connector: table discovery and task assignment.
#[derive(Debug, Default)]
pub struct PostgresSourceConnector {
    config: ConfigMap,
    parsed: Option<SourceConfig>,
    tables: Arc<Mutex<Vec<TableId>>>,
    monitor: Option<tokio::task::JoinHandle<()>>,
}

/// SQL `LIKE` (`%`, `_`) as a match.
fn like(pattern: &str, text: &str) -> bool {
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex_lite::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex_lite::Regex::new(&re).is_ok_and(|r| r.is_match(text))
}

/// Whether a list entry (`table`, `schema.table` or `database.schema.table`) names `id`.
fn names(entry: &str, id: &TableId) -> bool {
    let parsed = TableId::parse(entry, "");
    if parsed.schema.is_empty() {
        parsed.table == id.table
    } else {
        parsed == *id
    }
}

fn select_tables(config: &SourceConfig, all: Vec<TableId>) -> Vec<TableId> {
    all.into_iter()
        .filter(|t| {
            config
                .schema_pattern
                .as_deref()
                .is_none_or(|p| like(p, &t.schema))
        })
        .filter(|t| config.include.is_empty() || config.include.iter().any(|e| names(e, t)))
        .filter(|t| !config.exclude.iter().any(|e| names(e, t)))
        .collect()
}

async fn discover(conn: &mut PgConnection, config: &SourceConfig) -> crate::Result<Vec<TableId>> {
    Ok(select_tables(
        config,
        list_tables(conn, &config.relkinds).await?,
    ))
}

#[async_trait]
impl Connector for PostgresSourceConnector {
    crate::connector::config_methods!(config);

    async fn start(
        &mut self,
        context: Arc<dyn ConnectorContext>,
        config: &ConfigMap,
    ) -> Result<()> {
        let parsed = config::parse(config)?;
        self.config = config.clone();
        if parsed.query.trim().is_empty() {
            let mut conn = parsed
                .endpoint
                .connect(
                    &format!("ferry-source-{}", parsed.connector),
                    parsed.connect_retry,
                )
                .await?;
            let tables = discover(&mut conn, &parsed).await?;
            tracing::info!(connector = %parsed.connector, tables = tables.len(), "tables found");
            *self.tables.lock().unwrap_or_else(|e| e.into_inner()) = tables;
            let shared = self.tables.clone();
            let monitor_config = parsed.clone();
            self.monitor = Some(tokio::spawn(async move {
                let mut conn = Some(conn);
                loop {
                    tokio::time::sleep(monitor_config.table_poll_interval).await;
                    if conn.is_none() {
                        conn = monitor_config
                            .endpoint
                            .connect(
                                &format!("ferry-source-{}", monitor_config.connector),
                                crate::connection::Retry::ONCE,
                            )
                            .await
                            .map_err(|e| tracing::warn!(connector = %monitor_config.connector, error = %e, "table monitor cannot connect"))
                            .ok();
                    }
                    let Some(c) = conn.as_mut() else { continue };
                    match discover(c, &monitor_config).await {
                        Ok(found) => {
                            let changed = {
                                let mut current = shared.lock().unwrap_or_else(|e| e.into_inner());
                                let changed = *current != found;
                                if changed {
                                    *current = found.clone();
                                }
                                changed
                            };
                            if changed {
                                tracing::info!(connector = %monitor_config.connector, tables = found.len(),
                                    "the set of tables changed; reconfiguring the tasks");
                                context.request_task_reconfiguration();
                            }
                        }
                        Err(e) => {
                            tracing::warn!(connector = %monitor_config.connector, error = %e, "listing tables failed");
                            conn = None;
                        }
                    }
                }
            }));
        }
        self.parsed = Some(parsed);
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        let Some(parsed) = &self.parsed else {
            return Ok(Vec::new());
        };
        if !parsed.query.trim().is_empty() {
            return Ok(vec![self.config.clone()]);
        }
        let tables = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if tables.is_empty() {
            tracing::warn!(connector = %parsed.connector, "no tables to read (yet): no tasks");
            return Ok(Vec::new());
        }
        let groups = max_tasks.clamp(1, tables.len());
        // Contiguous groups, as Kafka's ConnectorUtils.groupPartitions.
        let per = tables.len() / groups;
        let extra = tables.len() % groups;
        let mut out = Vec::with_capacity(groups);
        let mut at = 0;
        for g in 0..groups {
            let n = per + usize::from(g < extra);
            let names: Vec<String> = tables[at..at + n]
                .iter()
                .map(|t| {
                    format!(
                        "{}.{}",
                        crate::catalog::quote_ident(&t.schema),
                        crate::catalog::quote_ident(&t.table)
                    )
                })
                .collect();
            at += n;
            let mut c = self.config.clone();
            c.insert(config::TASK_TABLES.to_string(), names.join(","));
            out.push(c);
        }
        Ok(out)
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(m) = self.monitor.take() {
            m.abort();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists() {
        let t = TableId::new("sales", "orders");
        assert!(names("orders", &t));
        assert!(names("sales.orders", &t));
        assert!(names("db.sales.orders", &t));
        assert!(!names("other.orders", &t));
        assert!(like("sal%", "sales") && like("s_les", "sales") && !like("s_l", "sales"));
    }
}
