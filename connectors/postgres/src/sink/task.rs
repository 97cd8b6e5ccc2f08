//! The sink task: batches, transactions, retries, errant records, exactly-once offsets.
//!
//! Records given to `put` are gathered until `batch.size` of them are pending or the oldest
//! has waited `batch.linger.ms`, then written in one transaction per batch: a delivery of
//! the worker holds what one fetch returned (about a megabyte), and a transaction per
//! delivery spends much of its time committing. `pre_commit` writes what is pending and
//! never reports an offset past a row that is not written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use ferry_api::{ConfigMap, ConnectError, SinkRecord, SinkTask, SinkTaskContext, TopicPartition};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

use super::config::{self, InsertMode, SinkConfig};
use super::offsets;
use super::rows::{Shape, shape_of};
use super::writer::{self, Encoded, Group, Rejected, Tables};
use crate::catalog::TableId;
use crate::connection::Retry;
use crate::error::{Error, Result};

/// Lets one record's write fail without the rest of its transaction, when a batch is
/// written record by record to find the records that do not fit.
const SAVEPOINT: &str = include_str!("sql/savepoint.sql");
const ROLLBACK_TO_SAVEPOINT: &str = include_str!("sql/rollback_to_savepoint.sql");

/// The sink task.
#[derive(Default)]
pub struct PostgresSinkTask {
    config: Option<Arc<SinkConfig>>,
    context: Option<Arc<dyn SinkTaskContext>>,
    conn: Option<PgConnection>,
    tables: Tables,
    retries_left: u32,
    /// Records accepted by `put` and not yet written, in the order they came.
    pending: Vec<SinkRecord>,
    /// The batch before them, committing in the background.
    in_flight: Option<InFlight>,
    /// When the oldest pending record came.
    pending_since: Option<Instant>,
    /// The next offset `put` accepts per partition. Records before it are pending or
    /// written already: the runtime delivers them again after a retriable error, and with
    /// `exactly.once` a restarted task may see records the database has.
    accepted: HashMap<TopicPartition, i64>,
}

impl std::fmt::Debug for PostgresSinkTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSinkTask")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn connector_error(e: Error) -> ConnectError {
    e.into()
}

impl PostgresSinkTask {
    fn config(&self) -> Result<Arc<SinkConfig>, ConnectError> {
        self.config
            .clone()
            .ok_or_else(|| ConnectError::Other("the sink task was not started".into()))
    }

    async fn connection(&mut self, retry: Retry) -> Result<&mut PgConnection> {
        if self.conn.is_none() {
            let config = self
                .config
                .clone()
                .ok_or_else(|| Error::Schema("the sink task was not started".into()))?;
            let conn = config
                .endpoint
                .connect(&format!("ferry-sink-{}", config.connector), retry)
                .await?;
            self.tables.forget();
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| Error::Schema("no connection".into()))
    }

    /// Reports records that do not fit; an error means the task must fail. A function of
    /// the context alone, so it can run while a transaction holds the connection.
    async fn report(
        context: Option<&Arc<dyn SinkTaskContext>>,
        rejected: Vec<Rejected<'_>>,
    ) -> Result<(), ConnectError> {
        if rejected.is_empty() {
            return Ok(());
        }
        let reporter = context.and_then(|c| c.errant_record_reporter());
        for (record, error) in rejected {
            let error = ConnectError::Data(error.to_string());
            match &reporter {
                Some(r) => r.report(record, &error).await?,
                None => return Err(error),
            }
        }
        Ok(())
    }

    /// Takes the records not seen before into the pending batch.
    fn accept(&mut self, records: Vec<SinkRecord>) {
        // Records come in runs of one partition: one map lookup per run.
        let mut run: Option<(TopicPartition, i64)> = None;
        for record in records {
            let same = run.as_ref().is_some_and(|(tp, _)| {
                tp.partition == record.kafka_partition && tp.topic == record.topic
            });
            if !same {
                if let Some((tp, next)) = run.take() {
                    self.accepted.insert(tp, next);
                }
                let tp = TopicPartition::new(record.topic.clone(), record.kafka_partition);
                let next = self.accepted.get(&tp).copied().unwrap_or(i64::MIN);
                run = Some((tp, next));
            }
            let Some((_, next)) = run.as_mut() else {
                continue;
            };
            if record.kafka_offset < *next {
                continue;
            }
            *next = record.kafka_offset + 1;
            if self.pending.is_empty() {
                self.pending_since = Some(Instant::now());
            }
            self.pending.push(record);
        }
        if let Some((tp, next)) = run {
            self.accepted.insert(tp, next);
        }
    }

    /// Writes the pending records in batches of `batch.size`: all of them with `all`, else
    /// only full batches unless the oldest has waited `batch.linger.ms`. On an error the
    /// records not written stay pending.
    async fn write_pending(&mut self, all: bool) -> Result<(), ConnectError> {
        let config = self.config()?;
        let lingered = self
            .pending_since
            .is_some_and(|since| since.elapsed() >= config.batch_linger);
        let all = all || lingered;
        let mut wrote = false;
        while self.pending.len() >= config.batch_size || (all && !self.pending.is_empty()) {
            wrote = true;
            let n = self.pending.len().min(config.batch_size);
            let batch: Vec<SinkRecord> = self.pending.drain(..n).collect();
            // On an error the batch is pending again, in order.
            self.write_in_background(batch).await?;
        }
        if wrote {
            // What is left came with the latest deliveries.
            self.pending_since = (!self.pending.is_empty()).then(Instant::now);
        }
        Ok(())
    }

    /// The offsets that are safe to commit: each partition's next offset, or its first
    /// record not written.
    fn written_offsets(
        &self,
        mut offsets: HashMap<TopicPartition, i64>,
    ) -> HashMap<TopicPartition, i64> {
        let mut seen: Option<(&str, i32)> = None;
        let in_flight = self.in_flight.iter().flat_map(|f| &f.batch);
        for record in in_flight.chain(&self.pending) {
            if seen == Some((&record.topic, record.kafka_partition)) {
                continue;
            }
            seen = Some((&record.topic, record.kafka_partition));
            let tp = TopicPartition::new(record.topic.clone(), record.kafka_partition);
            if let Some(next) = offsets.get_mut(&tp) {
                *next = (*next).min(record.kafka_offset);
            }
        }
        offsets
    }

    /// Writes `records` (one batch) in one transaction, with retries as configured.
    async fn write_batch(
        &mut self,
        records: &[SinkRecord],
        report: bool,
    ) -> Result<(), ConnectError> {
        let config = self.config()?;
        let mut schema_retry = true;
        loop {
            let result = self.try_write(&config, records, report).await;
            match result {
                Ok(()) => {
                    self.retries_left = config.max_retries;
                    return Ok(());
                }
                Err(Failure::Report(e)) => return Err(e),
                Err(Failure::Db(e)) if e.is_transient() => {
                    self.conn = None;
                    self.tables.forget();
                    if self.retries_left == 0 {
                        return Err(ConnectError::Other(format!(
                            "{e} (gave up after {} retries, max.retries)",
                            config.max_retries
                        )));
                    }
                    self.retries_left -= 1;
                    tracing::warn!(connector = %config.connector, error = %e,
                        retries_left = self.retries_left, backoff_ms = config.retry_backoff.as_millis() as u64,
                        "writing to postgres failed; retrying");
                    if let Some(ctx) = &self.context {
                        ctx.timeout(config.retry_backoff);
                    }
                    return Err(ConnectError::Retriable(e.to_string()));
                }
                Err(Failure::Db(e)) if writer::is_schema_gone(&e) && schema_retry => {
                    // A table or column went away: read the catalog again (auto.create and
                    // auto.evolve may put it back) and try once more.
                    tracing::warn!(connector = %config.connector, error = %e, "a table changed under the sink; re-reading it");
                    self.tables.forget();
                    schema_retry = false;
                }
                Err(Failure::Db(e)) => {
                    return Err(match e {
                        Error::Db { .. } => ConnectError::Other(writer::describe_db_error(&e)),
                        other => connector_error(other),
                    });
                }
            }
        }
    }

    /// Encodes a batch, the tables made to fit first. The records that do not fit are
    /// reported with `report` (not when they were reported at an earlier attempt).
    async fn encode(
        &mut self,
        config: &SinkConfig,
        records: &[SinkRecord],
        report: bool,
    ) -> Result<Vec<(TableId, Encoded)>, Failure> {
        self.connection(Retry {
            attempts: 1,
            backoff: config.retry_backoff,
        })
        .await?;
        self.encode_with(config, records, report, true)
            .await?
            .ok_or_else(|| Failure::Db(Error::Schema("no connection".into())))
    }

    /// [`Self::encode`] with the connection there is: without one (it is committing the
    /// previous batch), `None` when a table is not known yet.
    async fn encode_with(
        &mut self,
        config: &SinkConfig,
        records: &[SinkRecord],
        report: bool,
        connected: bool,
    ) -> Result<Option<Vec<(TableId, Encoded)>>, Failure> {
        let (groups, mut rejected) = build_groups(config, records);
        let mut conn = if connected { self.conn.as_mut() } else { None };
        let mut encoded = Vec::with_capacity(groups.len());
        for group in &groups {
            let Some((e, bad)) = self
                .tables
                .encode(conn.as_deref_mut(), config, group)
                .await?
            else {
                return Ok(None);
            };
            rejected.extend(bad);
            encoded.push((group.table.clone(), e));
        }
        if report {
            // Reported before anything commits: without tolerance this fails the task and
            // the whole batch stays unwritten.
            Self::report(self.context.as_ref(), rejected)
                .await
                .map_err(Failure::Report)?;
        }
        Ok(Some(encoded))
    }

    async fn try_write(
        &mut self,
        config: &SinkConfig,
        records: &[SinkRecord],
        report: bool,
    ) -> Result<(), Failure> {
        let encoded = self.encode(config, records, report).await?;
        let offsets = batch_offsets(records);
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::Schema("no connection".into()))?;
        match commit_batch(conn, config, encoded, &offsets).await {
            Ok(rows) => {
                tracing::debug!(connector = %config.connector, rows, "batch written");
            }
            Err(e) if writer::is_record_error(&e) => {
                tracing::info!(connector = %config.connector, error = %writer::describe_db_error(&e),
                    "a batch failed on its data; writing its records one by one to find the bad ones");
                let (groups, _) = build_groups(config, records);
                self.write_one_by_one(config, &groups, &offsets).await?;
            }
            Err(e) => return Err(Failure::Db(e)),
        }
        Ok(())
    }

    /// Encodes a batch and commits it in the background, so that the runtime fetches and
    /// converts the next records meanwhile. What cannot start so is written in the
    /// foreground; on an error the batch goes back to the front of the pending records,
    /// behind an earlier batch that failed.
    async fn write_in_background(&mut self, batch: Vec<SinkRecord>) -> Result<(), ConnectError> {
        let rest = self.pending.len();
        let config = self.config()?;
        // Encoded while the previous batch commits, when its tables need no catalog lookup:
        // Postgres then need not wait for it.
        let early = match &self.in_flight {
            Some(_) => self
                .encode_with(&config, &batch, true, false)
                .await
                .transpose(),
            None => None,
        };
        // One transaction at a time, in order.
        let kept = match self.settle_batch().await {
            Ok(kept) => kept,
            Err(e) => {
                let at = self.pending.len() - rest;
                self.pending.splice(at..at, batch);
                return Err(e);
            }
        };
        let encoded = match early {
            // Not if the previous batch had to be written again: its connection (and the
            // staging tables the encoding names) may be gone.
            Some(encoded) if kept || matches!(encoded, Err(Failure::Report(_))) => encoded,
            // Its rejected records were reported already.
            Some(_) => self.encode(&config, &batch, false).await,
            None => self.encode(&config, &batch, true).await,
        };
        let result = self.commit_in_background(config, batch, encoded).await;
        result.map_err(|(batch, e)| {
            self.pending.splice(0..0, batch);
            e
        })
    }

    async fn commit_in_background(
        &mut self,
        config: Arc<SinkConfig>,
        batch: Vec<SinkRecord>,
        encoded: Result<Vec<(TableId, Encoded)>, Failure>,
    ) -> Result<(), (Vec<SinkRecord>, ConnectError)> {
        match encoded {
            Ok(encoded) => {
                let Some(mut conn) = self.conn.take() else {
                    return self
                        .write_batch(&batch, false)
                        .await
                        .map_err(|e| (batch, e));
                };
                let offsets = batch_offsets(&batch);
                let commit = tokio::spawn(async move {
                    let result = commit_batch(&mut conn, &config, encoded, &offsets).await;
                    // Logged as it commits, not when the task next looks (after a fetch that
                    // may wait for new records).
                    if let Ok(rows) = &result {
                        tracing::debug!(connector = %config.connector, rows, "batch written");
                    }
                    (conn, result)
                });
                self.in_flight = Some(InFlight { batch, commit });
                Ok(())
            }
            Err(Failure::Report(e)) => Err((batch, e)),
            // A reconnect or a changed table: the foreground path retries as configured.
            Err(Failure::Db(_)) => self.write_batch(&batch, true).await.map_err(|e| (batch, e)),
        }
    }

    /// Waits for the batch committing in the background. If it failed, it is written again
    /// in the foreground (record by record if its data was the problem); if that fails too,
    /// it goes back to the front of the pending records.
    async fn settle(&mut self) -> Result<(), ConnectError> {
        self.settle_batch().await.map(|_| ())
    }

    /// [`Self::settle`]; true if the connection and the tables known are as before (nothing
    /// was in flight, or it committed).
    async fn settle_batch(&mut self) -> Result<bool, ConnectError> {
        let Some(InFlight { batch, commit }) = self.in_flight.take() else {
            return Ok(true);
        };
        let config = self.config()?;
        let result = match commit.await {
            Ok((conn, result)) => {
                self.conn = Some(conn);
                result
            }
            Err(e) => Err(Error::Schema(format!("the background write stopped: {e}"))),
        };
        let e = match result {
            Ok(_) => {
                self.retries_left = config.max_retries;
                return Ok(true);
            }
            Err(e) => e,
        };
        if e.is_transient() {
            self.conn = None;
            self.tables.forget();
        }
        tracing::info!(connector = %config.connector, error = %writer::describe_db_error(&e),
            "a batch failed to commit; writing it again");
        // Its records that do not fit were reported when it was encoded.
        if let Err(e) = self.write_batch(&batch, false).await {
            self.pending.splice(0..0, batch);
            return Err(e);
        }
        Ok(false)
    }

    /// The slow path after a batch failed on its data: each record in a savepoint of one
    /// transaction; the ones the database refuses are reported and left out.
    async fn write_one_by_one(
        &mut self,
        config: &SinkConfig,
        groups: &[Group<'_>],
        offsets: &HashMap<TopicPartition, i64>,
    ) -> Result<(), Failure> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| Error::Schema("no connection".into()))?;
        let mut rejected = Vec::new();
        let mut tx = conn
            .begin()
            .await
            .map_err(|e| Error::db("beginning a transaction", e))?;
        for group in groups {
            for record in &group.records {
                let single = Group {
                    table: group.table.clone(),
                    shape: group.shape.clone(),
                    records: vec![*record],
                    delete: group.delete,
                };
                let (encoded, bad) = self
                    .tables
                    .encode(Some(&mut *tx), config, &single)
                    .await?
                    .ok_or_else(|| Error::Schema(format!("table {} is not known", group.table)))?;
                if !bad.is_empty() {
                    // Already reported by the batch's encoding.
                    continue;
                }
                sqlx::query(SAVEPOINT)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| Error::db("setting a savepoint", e))?;
                match encoded.execute(&mut tx, &group.table).await {
                    Ok(()) => {}
                    Err(e) if writer::is_record_error(&e) => {
                        sqlx::query(ROLLBACK_TO_SAVEPOINT)
                            .execute(&mut *tx)
                            .await
                            .map_err(|e| Error::db("rolling back to a savepoint", e))?;
                        rejected.push((
                            *record,
                            Error::Data(format!(
                                "record {}-{}@{} does not fit table {}: {}",
                                record.topic,
                                record.kafka_partition,
                                record.kafka_offset,
                                group.table,
                                writer::describe_db_error(&e)
                            )),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Reported before the commit, as in the batch path.
        Self::report(self.context.as_ref(), rejected)
            .await
            .map_err(Failure::Report)?;
        if config.exactly_once {
            offsets::store(&mut tx, config, offsets).await?;
        }
        tx.commit()
            .await
            .map_err(|e| Error::db("committing a transaction", e))?;
        Ok(())
    }
}

/// A batch whose transaction runs while the runtime fetches and converts the next records.
struct InFlight {
    batch: Vec<SinkRecord>,
    commit: tokio::task::JoinHandle<(PgConnection, Result<usize>)>,
}

/// One batch's transaction: the encoded groups, and the offsets with `exactly.once`.
/// Returns the rows written.
async fn commit_batch(
    conn: &mut PgConnection,
    config: &SinkConfig,
    encoded: Vec<(TableId, Encoded)>,
    offsets: &HashMap<TopicPartition, i64>,
) -> Result<usize> {
    let rows = encoded.iter().map(|(_, e)| e.rows()).sum();
    let mut tx = conn
        .begin()
        .await
        .map_err(|e| Error::db("beginning a transaction", e))?;
    for (table, e) in encoded {
        e.execute(&mut tx, &table).await?;
    }
    if config.exactly_once {
        offsets::store(&mut tx, config, offsets).await?;
    }
    tx.commit()
        .await
        .map_err(|e| Error::db("committing a transaction", e))?;
    Ok(rows)
}

/// Why a write did not happen: the database (maybe retriable), or a report that failed the
/// task.
enum Failure {
    Db(Error),
    Report(ConnectError),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Db(e)
    }
}

/// The next offset per partition after `records`.
fn batch_offsets(records: &[SinkRecord]) -> HashMap<TopicPartition, i64> {
    let mut out: HashMap<TopicPartition, i64> = HashMap::new();
    for r in records {
        let next = r.kafka_offset + 1;
        let slot = out
            .entry(TopicPartition::new(r.topic.clone(), r.kafka_partition))
            .or_insert(next);
        *slot = (*slot).max(next);
    }
    out
}

/// The table a record goes to (`table.name.format`).
fn table_for(config: &SinkConfig, topic: &str) -> TableId {
    TableId::parse(
        &config.table_name_format.replace("${topic}", topic),
        "public",
    )
}

/// Groups a batch into runs of one table, shape and operation. Upsert and update keep only
/// the last record of each key (the final state); insert keeps every record and the order
/// of inserts and deletes of one table.
fn build_groups<'r>(
    config: &SinkConfig,
    records: &'r [SinkRecord],
) -> (Vec<Group<'r>>, Vec<Rejected<'r>>) {
    let mut rejected = Vec::new();
    // Shapes and tables are few: records refer to them by index.
    let mut shapes: Vec<Shape> = Vec::new();
    let mut tables: Vec<(std::sync::Arc<str>, TableId)> = Vec::new();
    let mut planned: Vec<(usize, usize, &'r SinkRecord, bool)> = Vec::with_capacity(records.len());
    for record in records {
        let delete = record.value.is_null();
        if delete && !config.delete_enabled {
            tracing::debug!(topic = %record.topic, offset = record.kafka_offset, "skipping a tombstone (delete.enabled=false)");
            continue;
        }
        let shape = match shapes.iter().rposition(|s| s.fits(record)) {
            Some(i) => i,
            None => match shape_of(config, record) {
                Ok(s) => {
                    shapes.push(s);
                    shapes.len() - 1
                }
                Err(e) => {
                    rejected.push((record, e));
                    continue;
                }
            },
        };
        let table = match tables.iter().position(|(topic, _)| *topic == record.topic) {
            Some(i) => i,
            None => {
                tables.push((record.topic.clone(), table_for(config, &record.topic)));
                tables.len() - 1
            }
        };
        planned.push((table, shape, record, delete));
    }
    if config.insert_mode != InsertMode::Insert || config.delete_enabled {
        // Keep the last record per table and key.
        let mut seen: HashSet<(usize, String)> = HashSet::new();
        let mut kept = Vec::with_capacity(planned.len());
        for item in planned.into_iter().rev() {
            let shape = &shapes[item.1];
            let key: String = shape
                .key_fields()
                .map(|f| crate::types::json::to_json(&Shape::value(f, item.2)))
                .collect::<Vec<_>>()
                .join("\u{1}");
            if shape.key_fields().next().is_none() || seen.insert((item.0, key)) {
                kept.push(item);
            }
        }
        kept.reverse();
        planned = kept;
    }
    let mut groups: Vec<(usize, usize, bool, Vec<&'r SinkRecord>)> = Vec::new();
    for (table, shape, record, delete) in planned {
        // Join the latest group of this table if it has the same operation and shape.
        match groups.iter_mut().rev().find(|g| g.0 == table) {
            Some(g) if g.2 == delete && (delete || g.1 == shape) => g.3.push(record),
            _ => groups.push((table, shape, delete, vec![record])),
        }
    }
    let groups = groups
        .into_iter()
        .map(|(table, shape, delete, records)| Group {
            table: tables[table].1.clone(),
            shape: shapes[shape].clone(),
            records,
            delete,
        })
        .collect();
    (groups, rejected)
}

#[async_trait]
impl SinkTask for PostgresSinkTask {
    async fn start(
        &mut self,
        context: Arc<dyn SinkTaskContext>,
        config: &ConfigMap,
    ) -> ferry_api::Result<()> {
        let parsed = config::parse(config)?;
        self.retries_left = parsed.max_retries;
        self.config = Some(Arc::new(parsed));
        self.context = Some(context);
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> ferry_api::Result<()> {
        let config = self.config()?;
        if !config.exactly_once || partitions.is_empty() {
            return Ok(());
        }
        let conn = self.connection(config.connect_retry).await?;
        offsets::ensure_table(conn, &config).await?;
        let stored = offsets::load(conn, &config).await?;
        let table = offsets::table(&config);
        for tp in partitions {
            if let Some(next) = stored.get(tp) {
                tracing::info!(connector = %config.connector, partition = %tp, offset = next,
                    table = %table, "resuming from the offset stored with the rows (exactly.once)");
                if let Some(ctx) = &self.context {
                    ctx.reset_offset(tp.clone(), *next);
                }
                self.accepted.insert(tp.clone(), *next);
            }
        }
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> ferry_api::Result<()> {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|f| f.commit.is_finished())
        {
            self.settle().await?;
        }
        self.accept(records);
        self.write_pending(false).await
    }

    async fn pre_commit(
        &mut self,
        offsets: HashMap<TopicPartition, i64>,
    ) -> ferry_api::Result<HashMap<TopicPartition, i64>> {
        let written = match self.write_pending(true).await {
            Ok(()) => self.settle().await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {}
            // The rows stay pending for the next put; only what is written commits.
            Err(e) if e.is_retriable() => {
                tracing::warn!(error = %e, pending = self.pending.len(),
                    "pending rows not written at the offset commit; committing up to them");
            }
            Err(e) => return Err(e),
        }
        Ok(self.written_offsets(offsets))
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> ferry_api::Result<()> {
        let written = match self.write_pending(true).await {
            Ok(()) => self.settle().await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            // Their offsets were not committed: the next owner reads them again.
            tracing::warn!(error = %e, pending = self.pending.len(),
                "pending rows of closed partitions not written; they will be delivered again");
        }
        self.pending.retain(|r| {
            !partitions
                .iter()
                .any(|tp| tp.partition == r.kafka_partition && tp.topic == r.topic)
        });
        for tp in partitions {
            self.accepted.remove(tp);
        }
        Ok(())
    }

    async fn stop(&mut self) -> ferry_api::Result<()> {
        if let Err(e) = self.settle().await {
            tracing::warn!(error = %e, "the last batch was not written; it will be delivered again");
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
        Ok(())
    }
}
