//! The background reader of the CDC task: one session per connection (publication, slot,
//! the snapshot when one is due, then streaming), reconnecting after transient failures
//! within `errors.max.retries`, and handing batches of records to `poll` through a channel.
//!
//! The reader's phases live in their own modules: [`super::snapshot`] and [`super::stream`]
//! read, [`super::events`] turns what they read into records.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_api::{ConnectError, Schema, SourceMap, SourceRecord, SourceTaskContext};
use sqlx::postgres::PgConnection;
use tokio::sync::{Notify, mpsc};

use super::config::{CdcConfig, SnapshotMode};
use super::envelope::{TableSchema, source_schema};
use super::offset::Position;
use super::replication::{Lsn, ReplicationConnection, ReplicationError};
use super::slot::{self, NO_SUCH_SLOT, SLOT_IN_USE, SlotState};
use crate::connection::Retry;
use crate::error::Error;

/// What the reader hands to `poll`: records, or the error that fails the task.
pub(super) type Batch = Result<Vec<SourceRecord>, ConnectError>;

/// What the reader and the task share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Woken by `commit`: offsets were committed, confirm them.
    pub(super) committed: Notify,
}

pub(super) struct Reader {
    pub(super) config: CdcConfig,
    pub(super) context: SourceTaskContext,
    pub(super) partition: SourceMap,
    pub(super) shared: Arc<Shared>,
    tx: mpsc::Sender<Batch>,
    /// What was emitted last (or committed, at start).
    pub(super) position: Position,
    /// The schema of each relation seen while streaming, `None` when it is not captured.
    pub(super) tables: HashMap<u32, Option<Arc<TableSchema>>>,
    /// The schema of the events' `source` block.
    pub(super) source: Schema,
    /// The flush LSN confirmed to the slot last.
    pub(super) flushed: Lsn,
}

/// Why a session ended.
pub(super) enum End {
    /// `poll` went away.
    Closed,
    /// Worth reconnecting.
    Transient(String),
    /// The task must fail.
    Fatal(String),
}

impl From<Error> for End {
    fn from(e: Error) -> End {
        if e.is_transient() {
            End::Transient(e.to_string())
        } else {
            End::Fatal(e.to_string())
        }
    }
}

impl From<ReplicationError> for End {
    fn from(e: ReplicationError) -> End {
        // The slot is still held by a previous connection (e.g. of a killed worker), which
        // the server releases shortly.
        if e.is_transient() || e.code() == Some(SLOT_IN_USE) {
            End::Transient(e.to_string())
        } else {
            End::Fatal(e.to_string())
        }
    }
}

impl Reader {
    pub(super) fn new(
        config: CdcConfig,
        context: SourceTaskContext,
        partition: SourceMap,
        shared: Arc<Shared>,
        tx: mpsc::Sender<Batch>,
        position: Position,
    ) -> Reader {
        Reader {
            config,
            context,
            partition,
            shared,
            tx,
            position,
            tables: HashMap::new(),
            source: source_schema(),
            flushed: Lsn(0),
        }
    }

    pub(super) async fn run(mut self) {
        let mut failures = 0u32;
        loop {
            match self.session().await {
                End::Closed => return,
                End::Fatal(e) => {
                    tracing::error!(connector = %self.config.connector, error = %e, "change data capture failed");
                    let _ = self.tx.send(Err(ConnectError::Other(e))).await;
                    return;
                }
                End::Transient(e) => {
                    failures += 1;
                    if self.config.max_retries.is_some_and(|max| failures > max) {
                        let _ = self
                            .tx
                            .send(Err(ConnectError::Other(format!(
                                "{e} (gave up after {} retries, errors.max.retries)",
                                failures - 1
                            ))))
                            .await;
                        return;
                    }
                    tracing::warn!(connector = %self.config.connector, error = %e, attempt = failures,
                        wait_ms = self.config.retry_wait.as_millis() as u64, "change data capture interrupted; reconnecting");
                    tokio::time::sleep(self.config.retry_wait).await;
                    if self.tx.is_closed() {
                        return;
                    }
                }
            }
        }
    }

    /// A new SQL (not replication) connection.
    pub(super) async fn sql(&self) -> Result<PgConnection, Error> {
        self.config
            .endpoint
            .connect(&format!("ferry-cdc-{}", self.config.connector), Retry::ONCE)
            .await
    }

    /// One connection's life: publication, slot, snapshot if due, then streaming.
    async fn session(&mut self) -> End {
        let mut sql = match self.sql().await {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        if let Err(e) = slot::ensure_publication(&mut sql, &self.config).await {
            return e.into();
        }
        let slot = match slot::slot_state(&mut sql, &self.config.slot).await {
            Ok(s) => s,
            Err(e) => return e.into(),
        };
        let mut repl = match ReplicationConnection::connect(
            &self.config.endpoint,
            &format!("ferry-cdc-{}", self.config.connector),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => return e.into(),
        };
        let needs_snapshot = match (self.position, slot) {
            (Position::Nothing, _) => {
                self.config.snapshot == SnapshotMode::Initial || slot.is_none()
            }
            (Position::Snapshot { done: false, .. }, _) => true,
            (_, None) => {
                return End::Fatal(format!(
                    "replication slot \"{}\" does not exist (was it dropped?), but the connector has a committed offset ({:?}): the changes since then cannot be read. To start over with a new snapshot, stop the connector and reset its offsets (DELETE /connectors/{}/offsets)",
                    self.config.slot, self.position, self.config.connector
                ));
            }
            (_, Some(SlotState { lost: true, .. })) => {
                return End::Fatal(format!(
                    "replication slot \"{}\" was invalidated by the server (max_slot_wal_keep_size): the changes since the committed offset are gone. Stop the connector and reset its offsets to start over",
                    self.config.slot
                ));
            }
            _ => false,
        };
        if needs_snapshot {
            if slot.is_some() {
                tracing::info!(connector = %self.config.connector, slot = %self.config.slot,
                    "dropping the slot to take a new consistent snapshot from a new one");
                if let Err(e) = slot::drop_slot(&mut sql, &self.config.slot).await {
                    return e.into();
                }
            }
            let export = self.config.snapshot == SnapshotMode::Initial;
            let (point, snapshot) = match repl.create_slot(&self.config.slot, export).await {
                Ok(r) => r,
                Err(e) => return e.into(),
            };
            tracing::info!(connector = %self.config.connector, slot = %self.config.slot, consistent_point = %point, "replication slot created");
            if let Some(name) = snapshot.filter(|_| export) {
                match self.snapshot(&mut sql, &name, point).await {
                    Ok(()) => {}
                    Err(e) => return e,
                }
            }
            self.position = Position::Snapshot {
                lsn: point,
                done: true,
            };
        }
        drop(sql);
        let start = self.position.confirmable();
        if let Err(e) = repl
            .start(&self.config.slot, start, &self.config.publication)
            .await
        {
            if e.code() == Some(NO_SUCH_SLOT) {
                return End::Fatal(format!(
                    "replication slot \"{}\" does not exist (was it dropped?): {e}",
                    self.config.slot
                ));
            }
            return e.into();
        }
        tracing::info!(connector = %self.config.connector, slot = %self.config.slot, start = %start, "streaming changes");
        self.stream(&mut repl).await
    }

    /// Hands the batch to `poll` (if it holds anything), leaving it empty.
    pub(super) async fn send(&self, batch: &mut Vec<SourceRecord>) -> Result<(), End> {
        if batch.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(batch);
        self.tx.send(Ok(records)).await.map_err(|_| End::Closed)
    }
}
