//! The CDC task. A background reader does the snapshot and the streaming and hands batches
//! to `poll`; `commit` (called once the runtime has committed offsets) wakes it to confirm
//! the committed position to the slot.
//!
//! Offsets (source partition `{"server": <topic.prefix>}`), Debezium's keys where they
//! exist:
//! - snapshot: `{"snapshot": true, "last_snapshot_record": <bool>, "lsn": <consistent
//!   point>, "lsn_resume": <consistent point>, "ts_usec": ...}`;
//! - streaming: `{"lsn": <the change>, "lsn_commit": <its transaction's commit>,
//!   "lsn_resume": <end of the transaction before>, "event": <position in its transaction>,
//!   "txId": ..., "ts_usec": <commit time>}`.
//!
//! The slot's confirmed flush LSN only moves to the `lsn_resume` of the committed offset
//! (or, once everything emitted is committed and no transaction is open, to the end of the
//! last transaction seen), so after a crash streaming restarts at `lsn_resume` and the
//! changes up to the committed `(lsn_commit, event)` are skipped: nothing is lost, and what
//! repeats is what was in the log but not yet committed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::{
    ConfigMap, ConnectError, Schema, SourceMap, SourceRecord, SourceTask, SourceTaskContext, Value,
};
use futures_util::TryStreamExt;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Row};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::config::{self, CdcConfig, PublicationMode, SnapshotMode};
use super::envelope::{SourceInfo, TableSchema, source_schema};
use super::pgoutput::{self, Cell, Message, Relation};
use super::replication::{Event, Lsn, ReplicationConnection, ReplicationError};
use crate::catalog::{TableId, list_tables, quote_ident, table_info};
use crate::connection::Retry;
use crate::copy::CopyReader;
use crate::error::Error;
use crate::types::calendar::PG_EPOCH_MICROS;
use crate::types::{Kind, PgType, PgValue, binary, text};

const QUEUED_BATCHES: usize = 4;
const POLL_WAIT: Duration = Duration::from_millis(500);
/// How long the stream waits for data before handing over what it has.
const STREAM_WAIT: Duration = Duration::from_millis(50);

type Batch = Result<Vec<SourceRecord>, ConnectError>;

/// What the reader and the task share.
#[derive(Debug, Default)]
struct Shared {
    /// Woken by `commit`: offsets were committed, confirm them.
    committed: Notify,
}

/// The CDC task.
#[derive(Debug, Default)]
pub struct PostgresCdcTask {
    rx: Option<mpsc::Receiver<Batch>>,
    reader: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
    /// With `slot.drop.on.stop`: where the slot to drop is.
    drop_slot: Option<(crate::connection::Endpoint, String)>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[async_trait]
impl SourceTask for PostgresCdcTask {
    async fn start(
        &mut self,
        context: SourceTaskContext,
        config: &ConfigMap,
    ) -> ferry_api::Result<()> {
        let config = config::parse(config)?;
        let partition = SourceMap::single("server", Value::from(config.prefix.as_str()));
        let committed = context.offset_reader().offset(&partition).await?;
        let position = Position::from_offset(committed.as_ref());
        tracing::info!(connector = %config.connector, slot = %config.slot, ?position, "starting change data capture");
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        self.rx = Some(rx);
        if config.drop_slot_on_stop {
            self.drop_slot = Some((config.endpoint.clone(), config.slot.clone()));
        }
        let reader = Reader {
            config,
            context,
            partition,
            shared: self.shared.clone(),
            tx,
            position,
            tables: HashMap::new(),
            source: source_schema(),
            flushed: Lsn(0),
        };
        self.reader = Some(tokio::spawn(reader.run()));
        Ok(())
    }

    async fn poll(&mut self) -> ferry_api::Result<Vec<SourceRecord>> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(ConnectError::Other("the CDC task was not started".into()));
        };
        match tokio::time::timeout(POLL_WAIT, rx.recv()).await {
            Err(_) => Ok(Vec::new()),
            Ok(Some(batch)) => batch,
            Ok(None) => Err(ConnectError::Other("the change reader stopped".into())),
        }
    }

    async fn commit(&mut self) -> ferry_api::Result<()> {
        self.shared.committed.notify_one();
        Ok(())
    }

    async fn stop(&mut self) -> ferry_api::Result<()> {
        self.rx = None;
        if let Some(reader) = self.reader.take() {
            reader.abort();
            let _ = reader.await;
        }
        if let Some((endpoint, slot)) = self.drop_slot.take() {
            // The server releases the slot once it sees the replication connection close.
            let mut conn = endpoint
                .connect(
                    "ferry-cdc-stop",
                    Retry {
                        attempts: 1,
                        backoff: Duration::ZERO,
                    },
                )
                .await?;
            for attempt in 0..50 {
                match drop_slot(&mut conn, &slot).await {
                    Ok(()) => {
                        tracing::info!(slot = %slot, "replication slot dropped (slot.drop.on.stop)");
                        break;
                    }
                    Err(e) if e.sqlstate().as_deref() == Some("55006") && attempt < 49 => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) if e.sqlstate().as_deref() == Some("42704") => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

/// Where the task is, from its committed offset (at start) or what it emitted (later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Position {
    /// Nothing committed.
    #[default]
    Nothing,
    /// A snapshot was under way; `done` when its last record was committed.
    Snapshot { lsn: Lsn, done: bool },
    /// Streaming: restart at `resume`, skip changes up to `(commit, event)`.
    Streaming {
        resume: Lsn,
        commit: Lsn,
        event: u64,
    },
}

impl Position {
    fn from_offset(offset: Option<&SourceMap>) -> Position {
        let Some(o) = offset else {
            return Position::Nothing;
        };
        let get = |k: &str| o.get(k).and_then(Value::as_i64).map(|v| v as u64);
        if o.get("snapshot") == Some(&Value::Boolean(true)) {
            return Position::Snapshot {
                lsn: Lsn(get("lsn_resume").or(get("lsn")).unwrap_or(0)),
                done: o.get("last_snapshot_record") == Some(&Value::Boolean(true)),
            };
        }
        match (get("lsn_resume"), get("lsn_commit"), get("event")) {
            (Some(resume), Some(commit), Some(event)) => Position::Streaming {
                resume: Lsn(resume),
                commit: Lsn(commit),
                event,
            },
            // An offset without Ferry's keys (e.g. Debezium's): resume at its commit.
            _ => Position::Streaming {
                resume: Lsn(get("lsn_commit").or(get("lsn")).unwrap_or(0)),
                commit: Lsn(0),
                event: 0,
            },
        }
    }

    /// The LSN that can be confirmed once this position is durable.
    fn confirmable(self) -> Lsn {
        match self {
            Position::Nothing => Lsn(0),
            Position::Snapshot { lsn, .. } => lsn,
            Position::Streaming { resume, .. } => resume,
        }
    }
}

/// An open transaction while streaming.
#[derive(Debug, Clone, Copy)]
struct OpenTx {
    xid: u32,
    commit: Lsn,
    commit_time: i64,
    events: u64,
    resume: Lsn,
}

struct Reader {
    config: CdcConfig,
    context: SourceTaskContext,
    partition: SourceMap,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Batch>,
    /// What was emitted last (or committed, at start).
    position: Position,
    tables: HashMap<u32, Option<Arc<TableSchema>>>,
    source: Schema,
    flushed: Lsn,
}

/// Why a session ended.
enum End {
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
        // 55006: the slot is still held by a previous connection (e.g. of a killed
        // worker), which the server releases shortly.
        if e.is_transient() || e.code() == Some("55006") {
            End::Transient(e.to_string())
        } else {
            End::Fatal(e.to_string())
        }
    }
}

impl Reader {
    async fn run(mut self) {
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

    async fn sql(&self) -> Result<PgConnection, Error> {
        self.config
            .endpoint
            .connect(
                &format!("ferry-cdc-{}", self.config.connector),
                Retry {
                    attempts: 1,
                    backoff: Duration::ZERO,
                },
            )
            .await
    }

    /// One connection's life: publication, slot, snapshot if due, then streaming.
    async fn session(&mut self) -> End {
        let mut sql = match self.sql().await {
            Ok(c) => c,
            Err(e) => return e.into(),
        };
        if let Err(e) = self.ensure_publication(&mut sql).await {
            return e;
        }
        let slot = match slot_state(&mut sql, &self.config.slot).await {
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
                if let Err(e) = drop_slot(&mut sql, &self.config.slot).await {
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
            if e.code() == Some("42704") {
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

    async fn ensure_publication(&self, sql: &mut PgConnection) -> Result<(), End> {
        let name = &self.config.publication;
        let exists: Option<(bool,)> =
            sqlx::query_as("SELECT puballtables FROM pg_publication WHERE pubname = $1")
                .bind(name)
                .fetch_optional(&mut *sql)
                .await
                .map_err(|e| End::from(Error::db("reading the publication", e)))?;
        let create = |tables: &[TableId]| {
            let list: Vec<String> = tables.iter().map(TableId::quoted).collect();
            list.join(", ")
        };
        let statement = match (self.config.publication_mode, exists) {
            (PublicationMode::Disabled, None) => {
                return Err(End::Fatal(format!(
                    "publication \"{name}\" does not exist and publication.autocreate.mode is disabled"
                )));
            }
            (PublicationMode::Disabled, Some(_)) | (PublicationMode::AllTables, Some(_)) => {
                return Ok(());
            }
            (PublicationMode::AllTables, None) => {
                format!("CREATE PUBLICATION {} FOR ALL TABLES", quote_ident(name))
            }
            (PublicationMode::Filtered, existing) => {
                let tables: Vec<TableId> = list_tables(sql, &['r', 'p'])
                    .await
                    .map_err(End::from)?
                    .into_iter()
                    .filter(|t| self.config.captures(&t.schema, &t.table))
                    .collect();
                if tables.is_empty() {
                    return Err(End::Fatal(
                        "publication.autocreate.mode=filtered, but no table matches table.include.list / schema.include.list".into(),
                    ));
                }
                match existing {
                    None => format!(
                        "CREATE PUBLICATION {} FOR TABLE {}",
                        quote_ident(name),
                        create(&tables)
                    ),
                    Some((true,)) => return Ok(()),
                    Some((false,)) => format!(
                        "ALTER PUBLICATION {} SET TABLE {}",
                        quote_ident(name),
                        create(&tables)
                    ),
                }
            }
        };
        tracing::info!(connector = %self.config.connector, %statement, "publication");
        sqlx::query(&statement)
            .execute(&mut *sql)
            .await
            .map_err(|e| End::from(Error::db(format!("creating publication \"{name}\""), e)))?;
        Ok(())
    }

    async fn send(&self, batch: &mut Vec<SourceRecord>) -> Result<(), End> {
        if batch.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(batch);
        self.tx.send(Ok(records)).await.map_err(|_| End::Closed)
    }

    /// The consistent snapshot: every captured table of the publication, read in the
    /// slot's exported snapshot.
    async fn snapshot(
        &mut self,
        sql: &mut PgConnection,
        snapshot: &str,
        point: Lsn,
    ) -> Result<(), End> {
        let started = Instant::now();
        let db = |e: sqlx::Error| End::from(Error::db("taking the snapshot", e));
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *sql)
            .await
            .map_err(db)?;
        sqlx::query(&format!(
            "SET TRANSACTION SNAPSHOT {}",
            crate::catalog::quote_literal(snapshot)
        ))
        .execute(&mut *sql)
        .await
        .map_err(db)?;
        let rows = sqlx::query("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2")
            .bind(&self.config.publication)
            .fetch_all(&mut *sql)
            .await
            .map_err(db)?;
        let mut tables = Vec::new();
        for r in rows {
            let schema: String = r.try_get(0).map_err(db)?;
            let table: String = r.try_get(1).map_err(db)?;
            if self.config.captures(&schema, &table) {
                tables.push(TableId::new(schema, table));
            }
        }
        let ts_ms = now_ms();
        let mut batch: Vec<SourceRecord> = Vec::new();
        let mut held: Option<(Arc<TableSchema>, Struct)> = None;
        let mut count = 0usize;
        for id in &tables {
            let Some(info) = table_info(sql, id).await.map_err(End::from)? else {
                continue;
            };
            let columns: Vec<(String, PgType, bool)> = info
                .columns
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        c.pg.clone(),
                        info.primary_key.contains(&c.name),
                    )
                })
                .collect();
            let schema = Arc::new(TableSchema::new(
                &self.config.prefix,
                &id.schema,
                &id.table,
                columns,
                self.config.profile,
                &self.source,
            ));
            let select: Vec<String> = info
                .columns
                .iter()
                .map(|c| match &c.pg.kind {
                    Kind::Array(_) if !c.pg.kind.is_native() => {
                        format!("{}::text[]", quote_ident(&c.name))
                    }
                    k if !k.is_native() => format!("{}::text", quote_ident(&c.name)),
                    _ => quote_ident(&c.name),
                })
                .collect();
            let kinds: Vec<Kind> = schema
                .columns
                .iter()
                .map(|c| read_kind(&c.pg.kind))
                .collect();
            let copy = format!(
                "COPY (SELECT {} FROM {}) TO STDOUT (FORMAT binary)",
                select.join(", "),
                id.quoted()
            );
            let mut stream = sql.copy_out_raw(&copy).await.map_err(db)?;
            let mut reader = CopyReader::new();
            while let Some(chunk) = stream.try_next().await.map_err(db)? {
                reader.push(&chunk);
                while let Some(tuple) = reader.next_tuple().map_err(End::from)? {
                    let mut values = Vec::with_capacity(kinds.len());
                    for (i, kind) in kinds.iter().enumerate() {
                        let pg = match tuple.field(i) {
                            None => PgValue::Null,
                            Some(raw) => binary::decode(kind, raw).map_err(|e| {
                                End::Fatal(format!(
                                    "snapshot of {id}: column \"{}\": {e}",
                                    schema.columns[i].name
                                ))
                            })?,
                        };
                        values.push(
                            schema.columns[i]
                                .convert(pg)
                                .map_err(|e| End::Fatal(format!("snapshot of {id}: {e}")))?,
                        );
                    }
                    let row = schema.row(values).map_err(End::Fatal)?;
                    if let Some((s, r)) = held.take() {
                        self.snapshot_record(&s, r, point, ts_ms, false, &mut batch)?;
                    }
                    held = Some((schema.clone(), row));
                    count += 1;
                    if batch.len() >= self.config.max_batch {
                        self.send(&mut batch).await?;
                    }
                }
            }
        }
        if let Some((s, r)) = held.take() {
            self.snapshot_record(&s, r, point, ts_ms, true, &mut batch)?;
        }
        self.send(&mut batch).await?;
        sqlx::query("COMMIT").execute(&mut *sql).await.map_err(db)?;
        tracing::info!(connector = %self.config.connector, tables = tables.len(), rows = count,
            elapsed_ms = started.elapsed().as_millis() as u64, "snapshot done");
        Ok(())
    }

    fn snapshot_record(
        &self,
        schema: &TableSchema,
        row: Struct,
        point: Lsn,
        ts_ms: i64,
        last: bool,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), End> {
        let offset: SourceMap = [
            ("snapshot", Value::Boolean(true)),
            ("last_snapshot_record", Value::Boolean(last)),
            ("lsn", Value::Int64(point.0 as i64)),
            ("lsn_resume", Value::Int64(point.0 as i64)),
            ("ts_usec", Value::Int64(ts_ms * 1000)),
        ]
        .into_iter()
        .collect();
        let key = schema.key(row.values());
        let info = SourceInfo {
            prefix: &self.config.prefix,
            database: &self.config.endpoint.database,
            ts_ms,
            snapshot: if last { "last" } else { "true" },
            tx_id: None,
            lsn: Some(point.0 as i64),
            sequence: None,
        };
        schema
            .records(
                &self.partition,
                &offset,
                "r",
                key,
                None,
                Some(row),
                &self.source,
                info,
                false,
                now_ms(),
                out,
            )
            .map_err(End::Fatal)
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

    async fn stream(&mut self, repl: &mut ReplicationConnection) -> End {
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

    fn decode_row(
        &self,
        schema: &TableSchema,
        cells: &[Cell],
        fill: Option<&[Value]>,
    ) -> Result<Vec<Value>, End> {
        let mut values = Vec::with_capacity(schema.columns.len());
        for (i, column) in schema.columns.iter().enumerate() {
            let kind = read_kind(&column.pg.kind);
            let pg = match cells.get(i) {
                None | Some(Cell::Null) => PgValue::Null,
                Some(Cell::Unchanged) => {
                    values.push(fill.and_then(|f| f.get(i).cloned()).unwrap_or(Value::Null));
                    continue;
                }
                Some(Cell::Text(t)) => {
                    let s = std::str::from_utf8(t).map_err(|_| {
                        End::Fatal(format!(
                            "column \"{}\": text that is not UTF-8",
                            column.name
                        ))
                    })?;
                    text::decode(&kind, s).map_err(|e| {
                        End::Fatal(format!(
                            "table {}.{}: column \"{}\": {e}",
                            schema.schema, schema.table, column.name
                        ))
                    })?
                }
                Some(Cell::Binary(b)) => binary::decode(&kind, b)
                    .map_err(|e| End::Fatal(format!("column \"{}\": {e}", column.name)))?,
            };
            values.push(column.convert(pg).map_err(|e| {
                End::Fatal(format!("table {}.{}: {e}", schema.schema, schema.table))
            })?);
        }
        Ok(values)
    }

    fn change(
        &self,
        message: Message,
        lsn: Lsn,
        tx: OpenTx,
        event: u64,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), End> {
        let relation = match &message {
            Message::Insert { relation, .. }
            | Message::Update { relation, .. }
            | Message::Delete { relation, .. } => *relation,
            _ => return Ok(()),
        };
        let schema = match self.tables.get(&relation) {
            Some(Some(s)) => s.clone(),
            Some(None) => return Ok(()),
            None => {
                return Err(End::Fatal(format!(
                    "a change of relation {relation} before its Relation message"
                )));
            }
        };
        let offset: SourceMap = [
            ("lsn", Value::Int64(lsn.0 as i64)),
            ("lsn_commit", Value::Int64(tx.commit.0 as i64)),
            ("lsn_resume", Value::Int64(tx.resume.0 as i64)),
            ("event", Value::Int64(event as i64)),
            ("txId", Value::Int64(i64::from(tx.xid))),
            ("ts_usec", Value::Int64(tx.commit_time + PG_EPOCH_MICROS)),
        ]
        .into_iter()
        .collect();
        let sequence = format!("[\"{}\",\"{}\"]", tx.resume.0, lsn.0);
        let info = SourceInfo {
            prefix: &self.config.prefix,
            database: &self.config.endpoint.database,
            ts_ms: (tx.commit_time + PG_EPOCH_MICROS).div_euclid(1000),
            snapshot: "false",
            tx_id: Some(i64::from(tx.xid)),
            lsn: Some(lsn.0 as i64),
            sequence: Some(&sequence),
        };
        let now = now_ms();
        let tombstones = self.config.tombstones;
        let emit = |op: &str,
                    key: Option<ferry_api::Struct>,
                    before: Option<ferry_api::Struct>,
                    after: Option<ferry_api::Struct>,
                    tombstone: bool,
                    out: &mut Vec<SourceRecord>| {
            schema
                .records(
                    &self.partition,
                    &offset,
                    op,
                    key,
                    before,
                    after,
                    &self.source,
                    info,
                    tombstone,
                    now,
                    out,
                )
                .map_err(End::Fatal)
        };
        match message {
            Message::Insert { new, .. } => {
                let values = self.decode_row(&schema, &new, None)?;
                let key = schema.key(&values);
                emit(
                    "c",
                    key,
                    None,
                    Some(schema.row(values).map_err(End::Fatal)?),
                    false,
                    out,
                )
            }
            Message::Update { old, new, .. } => {
                let old_values = match &old {
                    Some(cells) => Some(self.decode_row(&schema, cells, None)?),
                    None => None,
                };
                let values = self.decode_row(&schema, &new, old_values.as_deref())?;
                let key = schema.key(&values);
                let old_key = old_values.as_ref().and_then(|v| schema.key(v));
                let before = match old_values {
                    Some(v) => Some(schema.row(v).map_err(End::Fatal)?),
                    None => None,
                };
                let after = schema.row(values).map_err(End::Fatal)?;
                match old_key {
                    // The key changed: a delete of the old key, then a create (Debezium's).
                    Some(k) if Some(&k) != key.as_ref() => {
                        emit("d", Some(k), before, None, tombstones, out)?;
                        emit("c", key, None, Some(after), false, out)
                    }
                    _ => emit("u", key, before, Some(after), false, out),
                }
            }
            Message::Delete { old, .. } => {
                let values = self.decode_row(&schema, &old, None)?;
                let key = schema.key(&values);
                let before = schema.row(values).map_err(End::Fatal)?;
                let tombstone = tombstones && key.is_some();
                emit("d", key, Some(before), None, tombstone, out)
            }
            _ => Ok(()),
        }
    }
}

use ferry_api::Struct;

/// The kind values of a column arrive as: natively decoded, or text.
fn read_kind(kind: &Kind) -> Kind {
    match kind {
        Kind::Array(_) if !kind.is_native() => Kind::Array(Box::new(Kind::Text)),
        k if !k.is_native() => Kind::Text,
        k => k.clone(),
    }
}

/// A slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, Copy)]
struct SlotState {
    lost: bool,
}

async fn slot_state(sql: &mut PgConnection, slot: &str) -> Result<Option<SlotState>, Error> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT plugin::text, database::text, wal_status FROM pg_replication_slots WHERE slot_name = $1",
    )
    .bind(slot)
    .fetch_optional(&mut *sql)
    .await
    .map_err(|e| Error::db(format!("reading replication slot \"{slot}\""), e))?;
    match row {
        None => Ok(None),
        Some((plugin, _, _)) if plugin.as_deref() != Some("pgoutput") => {
            Err(Error::Schema(format!(
                "replication slot \"{slot}\" exists but uses the plugin {plugin:?}, not pgoutput"
            )))
        }
        Some((_, _, wal_status)) => Ok(Some(SlotState {
            lost: wal_status.as_deref() == Some("lost"),
        })),
    }
}

async fn drop_slot(sql: &mut PgConnection, slot: &str) -> Result<(), Error> {
    sqlx::query("SELECT pg_drop_replication_slot($1)")
        .bind(slot)
        .execute(&mut *sql)
        .await
        .map_err(|e| Error::db(format!("dropping replication slot \"{slot}\""), e))?;
    Ok(())
}
