//! The source task: a background reader runs the task's queriers in turn (each table every
//! `poll.interval.ms`) and hands batches to `poll` through a small channel, so reading the
//! database overlaps with the runtime's converting and appending, and back-pressure reaches
//! the query when the log is behind.

use std::time::Duration;

use async_trait::async_trait;
use ferry_api::{ConfigMap, ConnectError, SourceRecord, SourceTask, SourceTaskContext};
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::config::{self, SourceConfig};
use super::querier::{Position, Querier, Target};
use crate::catalog::TableId;
use crate::error::Error;

/// Batches that may wait for `poll` while the reader goes on.
const QUEUED_BATCHES: usize = 4;
/// How long one `poll` waits for a batch before returning nothing.
const POLL_WAIT: Duration = Duration::from_millis(500);

type Batch = Result<Vec<SourceRecord>, ConnectError>;

/// The source task.
#[derive(Debug, Default)]
pub struct PostgresSourceTask {
    rx: Option<mpsc::Receiver<Batch>>,
    reader: Option<tokio::task::JoinHandle<()>>,
}

#[async_trait]
impl SourceTask for PostgresSourceTask {
    async fn start(
        &mut self,
        context: SourceTaskContext,
        config: &ConfigMap,
    ) -> ferry_api::Result<()> {
        let config = config::parse(config)?;
        let mut queriers = Vec::new();
        if !config.query.trim().is_empty() {
            queriers.push(Querier::new(
                Target::Query(config.query.clone()),
                &config,
                &config.endpoint.database,
            ));
        } else {
            for name in &config.task_tables {
                queriers.push(Querier::new(
                    Target::Table(TableId::parse(name, "public")),
                    &config,
                    &config.endpoint.database,
                ));
            }
        }
        for q in &mut queriers {
            if let Some(offset) = context.offset_reader().offset(&q.partition).await? {
                q.position = Position::from_offset(&offset);
                tracing::info!(connector = %config.connector, querier = %q.describe(),
                    position = ?q.position, "resuming from the committed offset");
            }
        }
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        self.rx = Some(rx);
        self.reader = Some(tokio::spawn(read(config, queriers, tx)));
        Ok(())
    }

    async fn poll(&mut self) -> ferry_api::Result<Vec<SourceRecord>> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(ConnectError::Other(
                "the source task was not started".into(),
            ));
        };
        match tokio::time::timeout(POLL_WAIT, rx.recv()).await {
            Err(_) => Ok(Vec::new()),
            Ok(Some(batch)) => batch,
            Ok(None) => Err(ConnectError::Other("the table reader stopped".into())),
        }
    }

    async fn stop(&mut self) -> ferry_api::Result<()> {
        self.rx = None;
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        Ok(())
    }
}

async fn connect(config: &SourceConfig) -> Result<PgConnection, Error> {
    config
        .endpoint
        .connect(
            &format!("ferry-source-{}", config.connector),
            config.connect_retry,
        )
        .await
}

/// The reader: runs each querier when it is due, until `poll` goes away.
async fn read(config: SourceConfig, mut queriers: Vec<Querier>, tx: mpsc::Sender<Batch>) {
    let mut due: Vec<Instant> = vec![Instant::now(); queriers.len()];
    let mut conn: Option<PgConnection> = None;
    loop {
        if queriers.is_empty() {
            // Nothing to read until the connector reconfigures the tasks.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            continue;
        }
        let (next, when) = due
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, t)| (i, *t))
            .unwrap_or((0, Instant::now()));
        tokio::time::sleep_until(when).await;
        if tx.is_closed() {
            return;
        }
        if conn.is_none() {
            match connect(&config).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    // The retry budget is spent: the task fails with the cause.
                    let _ = tx.send(Err(ConnectError::Other(e.to_string()))).await;
                    return;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let querier = &mut queriers[next];
        let started = Instant::now();
        let result = querier
            .run(c, &config, |batch| {
                let tx = tx.clone();
                async move { tx.send(Ok(batch)).await.is_ok() }
            })
            .await;
        due[next] = started + config.poll_interval;
        match result {
            Ok(rows) => {
                tracing::debug!(connector = %config.connector, querier = %querier.describe(), rows,
                    elapsed_ms = started.elapsed().as_millis() as u64, "query done");
            }
            Err(e) if e.is_transient() => {
                // The connection broke: reconnect (with the retry budget) and go on from
                // the rows already handed over.
                tracing::warn!(connector = %config.connector, error = %e, "query failed; reconnecting");
                conn = None;
                due[next] = Instant::now();
            }
            Err(e)
                if e.sqlstate().as_deref() == Some("42P01")
                    || matches!(e, Error::Schema(ref m) if m.contains("does not exist")) =>
            {
                if config.include.is_empty() {
                    // Discovered tables come and go: the connector's table monitor will
                    // reconfigure the tasks.
                    tracing::warn!(connector = %config.connector, querier = %querier.describe(), error = %e,
                        "the table is gone; no longer reading it");
                    queriers.remove(next);
                    due.remove(next);
                } else {
                    let _ = tx
                        .send(Err(ConnectError::Other(format!(
                            "{} is listed in table.whitelist but is gone: {e}",
                            querier.describe()
                        ))))
                        .await;
                    return;
                }
            }
            Err(e) => {
                let error = match ConnectError::from(e) {
                    ConnectError::Retriable(m) => ConnectError::Other(m),
                    other => other,
                };
                let _ = tx.send(Err(error)).await;
                if let Some(c) = conn.take() {
                    let _ = c.close().await;
                }
                return;
            }
        }
    }
}
