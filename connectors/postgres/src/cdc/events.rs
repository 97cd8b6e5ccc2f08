//! Debezium events from what the reader read: a snapshot row becomes a read (`r`) event;
//! a pgoutput INSERT, UPDATE or DELETE becomes a create, update or delete event (an update
//! that changes the key becomes a delete of the old key and a create of the new one, as
//! Debezium does), each with its offset and `source` block.

use ferry_api::{SourceMap, SourceRecord, Struct, Value};
use ferry_record::now_ms;

use super::envelope::{SourceInfo, TableSchema};
use super::offset::{OpenTx, change_offset, snapshot_offset};
use super::pgoutput::{Cell, Message};
use super::reader::{End, Reader};
use super::replication::Lsn;
use crate::types::{PgValue, binary, text};

impl Reader {
    /// The read event of one snapshot row; `last` for the snapshot's last row.
    pub(super) fn snapshot_record(
        &self,
        schema: &TableSchema,
        row: Struct,
        point: Lsn,
        ts_ms: i64,
        last: bool,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), End> {
        let offset = snapshot_offset(point, ts_ms, last);
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

    /// The events of one change (`message`, at `lsn`, the `event`-th of `tx`); nothing for
    /// a table that is not captured.
    pub(super) fn change(
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
        let offset: SourceMap = change_offset(lsn, &tx, event);
        let sequence = format!("[\"{}\",\"{}\"]", tx.resume.0, lsn.0);
        let info = SourceInfo {
            prefix: &self.config.prefix,
            database: &self.config.endpoint.database,
            ts_ms: tx.commit_time_unix_micros().div_euclid(1000),
            snapshot: "false",
            tx_id: Some(i64::from(tx.xid)),
            lsn: Some(lsn.0 as i64),
            sequence: Some(&sequence),
        };
        let now = now_ms();
        let tombstones = self.config.tombstones;
        let emit = |op: &str,
                    key: Option<Struct>,
                    before: Option<Struct>,
                    after: Option<Struct>,
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
                let values = decode_row(&schema, &new, None)?;
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
                    Some(cells) => Some(decode_row(&schema, cells, None)?),
                    None => None,
                };
                let values = decode_row(&schema, &new, old_values.as_deref())?;
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
                let values = decode_row(&schema, &old, None)?;
                let key = schema.key(&values);
                let before = schema.row(values).map_err(End::Fatal)?;
                let tombstone = tombstones && key.is_some();
                emit("d", key, Some(before), None, tombstone, out)
            }
            _ => Ok(()),
        }
    }
}

/// The values of a row from its pgoutput cells; an unchanged (TOASTed) cell takes its value
/// from `fill` (the old row), or null.
fn decode_row(
    schema: &TableSchema,
    cells: &[Cell],
    fill: Option<&[Value]>,
) -> Result<Vec<Value>, End> {
    let mut values = Vec::with_capacity(schema.columns.len());
    for (i, column) in schema.columns.iter().enumerate() {
        let (kind, _) = column.pg.kind.read_as();
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
        values.push(
            column.convert(pg).map_err(|e| {
                End::Fatal(format!("table {}.{}: {e}", schema.schema, schema.table))
            })?,
        );
    }
    Ok(values)
}
