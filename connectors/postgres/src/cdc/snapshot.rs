//! The consistent snapshot: every captured table of the publication, read with binary COPY
//! inside the snapshot the new slot exported, so the snapshot ends exactly where the slot's
//! stream begins. The last record read is marked as such in its offset and its `source`
//! block, so a snapshot cut short is taken again.

use std::sync::Arc;

use ferry_api::{SourceRecord, Struct};
use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::postgres::PgConnection;
use tokio::time::Instant;

use super::envelope::TableSchema;
use super::reader::{End, Reader};
use super::replication::Lsn;
use crate::catalog::{TableId, quote_ident, quote_literal, table_info};
use crate::copy::{CopyReader, copy_out};
use crate::error::Error;
use crate::types::{Kind, PgType, PgValue, binary};
use ferry_record::now_ms;

/// Opens the transaction that the exported snapshot is then set on.
const BEGIN: &str = include_str!("sql/snapshot_begin.sql");
/// The tables of the publication, in order. `$1`: its name.
const TABLES: &str = include_str!("sql/snapshot_tables.sql");
const COMMIT: &str = include_str!("sql/snapshot_commit.sql");

impl Reader {
    /// Reads the snapshot `snapshot` (exported by the slot created at `point`) on `sql`,
    /// sending its records in batches.
    pub(super) async fn snapshot(
        &mut self,
        sql: &mut PgConnection,
        snapshot: &str,
        point: Lsn,
    ) -> Result<(), End> {
        let started = Instant::now();
        let db = |e: sqlx::Error| End::from(Error::db("taking the snapshot", e));
        sqlx::query(BEGIN).execute(&mut *sql).await.map_err(db)?;
        sqlx::query(&format!(
            "SET TRANSACTION SNAPSHOT {}",
            quote_literal(snapshot)
        ))
        .execute(&mut *sql)
        .await
        .map_err(db)?;
        let rows = sqlx::query(TABLES)
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
                .map(|c| match c.pg.kind.read_as() {
                    (_, Some(cast)) => format!("{}::{cast}", quote_ident(&c.name)),
                    (_, None) => quote_ident(&c.name),
                })
                .collect();
            let kinds: Vec<Kind> = schema
                .columns
                .iter()
                .map(|c| c.pg.kind.read_as().0)
                .collect();
            let copy = copy_out(&format!(
                "SELECT {} FROM {}",
                select.join(", "),
                id.quoted()
            ));
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
        sqlx::query(COMMIT).execute(&mut *sql).await.map_err(db)?;
        tracing::info!(connector = %self.config.connector, tables = tables.len(), rows = count,
            elapsed_ms = started.elapsed().as_millis() as u64, "snapshot done");
        Ok(())
    }
}
