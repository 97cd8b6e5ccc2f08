//! Streaming the slot: pgoutput messages are followed transaction by transaction, changes
//! already committed before a restart are skipped, batches go out at each commit (or when
//! full, or when the stream is idle), and the slot is told what is durable: on the
//! server's request, after `commit`, and every `status.update.interval.ms`.

use std::sync::Arc;
use std::time::Duration;

use ferry_api::SourceRecord;
use sqlx::Connection;
use tokio::time::Instant;

use super::envelope::TableSchema;
use super::offset::{OpenTx, Position};
use super::pgoutput::{self, Message, Relation};
use super::reader::{End, Reader};
use super::replication::{Event, Lsn, ReplicationConnection};
use crate::catalog::{TableId, table_info};
use crate::types::PgType;

/// How long the stream waits for data before handing over what it has.
const STREAM_WAIT: Duration = Duration::from_millis(50);

impl Reader {
    /// Streams from the position the slot was started at until `poll` goes away or the
    /// session fails.
    pub(super) async fn stream(&mut self, repl: &mut ReplicationConnection) -> End {
        match self.stream_inner(repl).await {
            Ok(()) => End::Closed,
            Err(e) => e,
        }
    }

    async fn stream_inner(&mut self, repl: &mut ReplicationConnection) -> Result<(), End> {
        let (skip_commit, skip_event) = match self.position {
            Position::Streaming { commit, event, .. } => (commit, Some(event)),
            _ => (Lsn(0), None),
        };
        let mut resume = self.position.confirmable();
        let mut open: Option<OpenTx> = None;
        let mut received = resume;
        let mut idle = resume;
        let mut batch: Vec<SourceRecord> = Vec::new();
        let mut last_status = Instant::now();
        let status_interval = self.config.status_interval;
        loop {
            let event = tokio::select! {
                e = repl.next(STREAM_WAIT) => e.map_err(End::from)?,
                _ = self.shared.committed.notified() => {
                    self.confirm(repl, received, open.is_some(), idle, false).await?;
                    last_status = Instant::now();
                    continue;
                }
            };
            match event {
                None => self.send(&mut batch).await?,
                Some(Event::Keepalive { end, reply }) => {
                    received = received.max(end);
                    if open.is_none() && batch.is_empty() {
                        idle = idle.max(end);
                    }
                    if reply {
                        self.confirm(repl, received, open.is_some(), idle, false)
                            .await?;
                        last_status = Instant::now();
                    }
                }
                Some(Event::Data { start, end, data }) => {
                    received = received.max(end);
                    let message = pgoutput::decode(data).map_err(|e| End::Fatal(e.to_string()))?;
                    match message {
                        Message::Begin {
                            final_lsn,
                            commit_time,
                            xid,
                        } => {
                            open = Some(OpenTx {
                                xid,
                                commit: final_lsn,
                                commit_time,
                                events: 0,
                                resume,
                            });
                        }
                        Message::Commit { end_lsn, .. } => {
                            open = None;
                            resume = end_lsn;
                            idle = idle.max(end_lsn);
                            self.send(&mut batch).await?;
                        }
                        Message::Relation(r) => self.relation(r).await?,
                        Message::Insert { .. }
                        | Message::Update { .. }
                        | Message::Delete { .. } => {
                            let Some(tx) = open.as_mut() else {
                                return Err(End::Fatal("a change outside a transaction".into()));
                            };
                            let event = tx.events;
                            tx.events += 1;
                            let tx = *tx;
                            let seen = skip_event.is_some_and(|e| {
                                tx.commit < skip_commit || (tx.commit == skip_commit && event <= e)
                            });
                            if seen {
                                continue;
                            }
                            self.change(message, start, tx, event, &mut batch)?;
                            self.position = Position::Streaming {
                                resume: tx.resume,
                                commit: tx.commit,
                                event,
                            };
                            if batch.len() >= self.config.max_batch {
                                self.send(&mut batch).await?;
                            }
                        }
                        Message::Truncate { relations } => {
                            tracing::info!(connector = %self.config.connector, tables = relations.len(),
                                "TRUNCATE is not captured (Debezium's truncate events are off by default)");
                            if let Some(tx) = open.as_mut() {
                                tx.events += 1;
                            }
                        }
                        Message::Other(_) => {}
                    }
                }
            }
            if last_status.elapsed() >= status_interval {
                self.confirm(repl, received, open.is_some(), idle, false)
                    .await?;
                last_status = Instant::now();
            }
        }
    }

    /// The table of a Relation message: its schema from the catalog (base types of domains,
    /// the key from the relation's replica identity), or `None` when it is not captured.
    async fn relation(&mut self, relation: Relation) -> Result<(), End> {
        if !self.config.captures(&relation.schema, &relation.table) {
            self.tables.insert(relation.id, None);
            return Ok(());
        }
        let mut sql = self.sql().await.map_err(End::from)?;
        let id = TableId::new(relation.schema.clone(), relation.table.clone());
        let info = table_info(&mut sql, &id).await.map_err(End::from)?;
        let _ = sql.close().await;
        let columns: Vec<(String, PgType, bool)> = relation
            .columns
            .iter()
            .map(|c| {
                let pg = info
                    .as_ref()
                    .and_then(|i| i.column(&c.name))
                    .map(|col| col.pg.clone())
                    .unwrap_or_else(|| {
                        PgType::new(c.type_oid, c.typmod, format!("oid {}", c.type_oid))
                    });
                (c.name.clone(), pg, c.key)
            })
            .collect();
        let schema = TableSchema::new(
            &self.config.prefix,
            &relation.schema,
            &relation.table,
            columns,
            self.config.profile,
            &self.source,
        );
        self.tables.insert(relation.id, Some(Arc::new(schema)));
        Ok(())
    }

    /// Sends a status update confirming what is durable.
    async fn confirm(
        &mut self,
        repl: &mut ReplicationConnection,
        received: Lsn,
        open: bool,
        idle: Lsn,
        reply: bool,
    ) -> Result<(), End> {
        let committed = self
            .context
            .offset_reader()
            .offset(&self.partition)
            .await
            .map_err(|e| End::Transient(e.to_string()))?;
        let committed = Position::from_offset(committed.as_ref());
        let mut flush = committed.confirmable();
        if !open && committed == self.position && committed != Position::Nothing {
            // Everything emitted is durable and no transaction is half read.
            flush = flush.max(idle);
        }
        let flush = flush.max(self.flushed);
        repl.status(received.max(flush), flush, reply)
            .await
            .map_err(End::from)?;
        if flush > self.flushed {
            tracing::debug!(connector = %self.config.connector, flushed = %flush, "confirmed flush LSN");
        }
        self.flushed = flush;
        Ok(())
    }
}
