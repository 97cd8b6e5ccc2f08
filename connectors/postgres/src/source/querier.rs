//! Reading one table (or the custom query) once: the columns from the catalog, a `COPY
//! (SELECT ...) TO STDOUT (FORMAT binary)` with the mode's criteria, each row decoded into
//! a record carrying its Confluent-compatible offset.
//!
//! Offsets (per table, source partition `{"protocol":"1","table":"db.schema.table"}`, or
//! `{"query":"query"}`):
//! - incrementing: `{"incrementing": <last id>}`;
//! - timestamp: `{"timestamp_nanos": <nanos in the second>, "timestamp": <epoch ms>}`;
//! - timestamp+incrementing: all three; bulk: `{}`.
//!
//! In timestamp mode rows that share a timestamp may be cut by a commit, so a row's offset
//! only moves to its timestamp once the next row has a later one (or the query ended): a
//! restart then reads such a group again rather than skipping part of it.

use std::sync::Arc;

use ferry_api::{Schema, SchemaBuilder, SourceMap, SourceRecord, Struct, Value};
use futures_util::TryStreamExt;
use sqlx::postgres::PgConnection;
use sqlx::{Column as _, Executor, Statement, TypeInfo as _};

use super::config::{Mode, SourceConfig};
use crate::catalog::{TableId, quote_ident, table_info};
use crate::copy::{CopyReader, copy_out};
use crate::error::{Error, Result};
use crate::types::calendar::format_timestamp;
use crate::types::mapping::Column;
use crate::types::{Kind, PgType, PgValue, binary};

/// The database's clock, in microseconds since the epoch.
const DATABASE_NOW: &str = include_str!("sql/database_now.sql");

/// What one querier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Table(TableId),
    Query(String),
}

/// Where a querier is: the last incrementing value and timestamp (microseconds) covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) incrementing: Option<i64>,
    pub(crate) timestamp: Option<i64>,
}

impl Position {
    /// From a committed Confluent-style offset.
    pub(crate) fn from_offset(offset: &SourceMap) -> Position {
        let get = |k: &str| offset.get(k).and_then(Value::as_i64);
        let timestamp = get("timestamp").map(|ms| {
            let nanos = get("timestamp_nanos").unwrap_or(ms.rem_euclid(1000) * 1_000_000);
            ms.div_euclid(1000) * 1_000_000 + nanos / 1000
        });
        Position {
            incrementing: get("incrementing"),
            timestamp,
        }
    }

    fn to_offset(self) -> SourceMap {
        let mut entries: Vec<(&'static str, Value)> = Vec::with_capacity(3);
        if let Some(t) = self.timestamp {
            entries.push((
                "timestamp_nanos",
                Value::Int64(t.rem_euclid(1_000_000) * 1000),
            ));
        }
        if let Some(i) = self.incrementing {
            entries.push(("incrementing", Value::Int64(i)));
        }
        if let Some(t) = self.timestamp {
            entries.push(("timestamp", Value::Int64(t.div_euclid(1000))));
        }
        entries.into_iter().collect()
    }
}

/// One table or query, and how far it has been read.
#[derive(Debug)]
pub(crate) struct Querier {
    pub(crate) target: Target,
    pub(crate) topic: Arc<str>,
    pub(crate) partition: SourceMap,
    pub(crate) position: Position,
    checked: bool,
}

/// A column as read: its mapping, the kind its values arrive as, and the cast the query
/// applies (to text, for types without a binary decoder).
struct ReadColumn {
    column: Column,
    kind: Kind,
    cast: Option<&'static str>,
}

impl Querier {
    pub(crate) fn new(target: Target, config: &SourceConfig, database: &str) -> Querier {
        let (topic, partition) = match &target {
            Target::Table(id) => (
                format!("{}{}", config.topic_prefix, id.table),
                [
                    ("protocol", Value::from("1")),
                    ("table", Value::from(format!("{database}.{id}"))),
                ]
                .into_iter()
                .collect(),
            ),
            Target::Query(q) => (
                config.topic_prefix.clone(),
                SourceMap::single("query", Value::from(q.as_str())),
            ),
        };
        Querier {
            target,
            topic: Arc::from(topic),
            partition,
            position: Position::default(),
            checked: false,
        }
    }

    fn ident(config: &SourceConfig, name: &str) -> String {
        if config.quote {
            quote_ident(name)
        } else {
            name.to_string()
        }
    }

    /// The columns of the target, mapped.
    async fn columns(
        &mut self,
        conn: &mut PgConnection,
        config: &SourceConfig,
    ) -> Result<(Vec<ReadColumn>, Option<String>)> {
        let infos: Vec<(String, PgType, bool)> = match &self.target {
            Target::Table(id) => {
                let info = table_info(conn, id).await?.ok_or_else(|| {
                    Error::Schema(format!("table {id} does not exist (was it dropped?)"))
                })?;
                info.columns
                    .into_iter()
                    .map(|c| (c.name, c.pg, !c.not_null))
                    .collect()
            }
            Target::Query(q) => {
                let sql = format!("SELECT * FROM ({q}) AS ferry_query LIMIT 0");
                let statement = (&mut *conn)
                    .prepare(&sql)
                    .await
                    .map_err(|e| Error::db("describing the query", e))?;
                statement
                    .columns()
                    .iter()
                    .map(|c| {
                        let info = c.type_info();
                        let oid = info.oid().map_or(0, |o| o.0);
                        (
                            c.name().to_string(),
                            PgType::new(oid, -1, info.name()),
                            true,
                        )
                    })
                    .collect()
            }
        };
        let columns = infos
            .into_iter()
            .map(|(name, pg, optional)| {
                // Types without a binary decoder are read as text.
                let (kind, cast) = pg.kind.read_as();
                let read = PgType {
                    kind: kind.clone(),
                    ..pg
                };
                ReadColumn {
                    column: Column::new(name, read, optional, config.profile),
                    kind,
                    cast,
                }
            })
            .collect();
        let name = match &self.target {
            Target::Table(id) => Some(id.table.clone()),
            Target::Query(_) => None,
        };
        Ok((columns, name))
    }

    /// Reads the rows that are new since [`Querier::position`] and hands them to `emit` in
    /// batches of at most `batch.max.rows`; the position advances as rows are read.
    pub(crate) async fn run<F, Fut>(
        &mut self,
        conn: &mut PgConnection,
        config: &SourceConfig,
        mut emit: F,
    ) -> Result<usize>
    where
        F: FnMut(Vec<SourceRecord>) -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let (columns, schema_name) = self.columns(conn, config).await?;
        let find = |name: &str| {
            columns
                .iter()
                .position(|c| c.column.name == name)
                .ok_or_else(|| {
                    Error::Schema(format!(
                        "{}: no column \"{name}\" (columns: {})",
                        self.describe(),
                        columns
                            .iter()
                            .map(|c| c.column.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
        };
        let inc_index = if config.mode.incrementing() {
            Some(find(&config.incrementing_column)?)
        } else {
            None
        };
        let ts_indexes: Vec<usize> = if config.mode.timestamp() {
            config
                .timestamp_columns
                .iter()
                .map(|c| find(c))
                .collect::<Result<_>>()?
        } else {
            Vec::new()
        };
        if !self.checked && config.validate_non_null {
            for i in inc_index.iter().chain(&ts_indexes) {
                let c = &columns[*i].column;
                if c.optional && matches!(self.target, Target::Table(_)) {
                    return Err(Error::Schema(format!(
                        "{}: column \"{}\" is nullable; the incrementing and timestamp columns must be NOT NULL (or set validate.non.null=false)",
                        self.describe(),
                        c.name
                    )));
                }
            }
        }
        if let Some(i) = inc_index {
            let kind = &columns[i].column.pg.kind;
            if !matches!(kind, Kind::Int2 | Kind::Int4 | Kind::Int8 | Kind::Numeric) {
                return Err(Error::Schema(format!(
                    "{}: the incrementing column \"{}\" is {}, not an integer",
                    self.describe(),
                    columns[i].column.name,
                    columns[i].column.pg.name
                )));
            }
        }
        for i in &ts_indexes {
            if !matches!(
                columns[*i].column.pg.kind,
                Kind::Timestamp | Kind::TimestampTz
            ) {
                return Err(Error::Schema(format!(
                    "{}: the timestamp column \"{}\" is {}, not a timestamp",
                    self.describe(),
                    columns[*i].column.name,
                    columns[*i].column.pg.name
                )));
            }
        }
        self.checked = true;
        if self.position.timestamp.is_none() && config.mode.timestamp() {
            self.position.timestamp = match config.timestamp_initial {
                Some(-1) => Some(database_now(conn).await?),
                Some(ms) => Some(ms.saturating_mul(1000)),
                None => None,
            };
        }

        let mut builder = SchemaBuilder::struct_();
        if let Some(name) = &schema_name {
            builder = builder.name(name.clone());
        }
        for c in &columns {
            builder = builder.field(c.column.name.clone(), c.column.schema.clone());
        }
        let schema = builder.build();
        let sql = self.sql(config, &columns, inc_index, &ts_indexes);
        tracing::debug!(querier = %self.describe(), %sql, "querying");

        let mut reader = CopyReader::new();
        let mut batch = Vec::with_capacity(config.batch_max_rows.min(10_000));
        let mut stream = conn
            .copy_out_raw(&sql)
            .await
            .map_err(|e| Error::db(format!("querying {}", self.describe()), e))?;
        let mut rows = 0usize;
        // Timestamp mode: the row read last, held back until the next row shows whether its
        // timestamp is complete.
        let timestamp_only = config.mode == Mode::Timestamp;
        let mut held: Option<(i64, Struct)> = None;
        let mut complete = self.position;
        loop {
            let chunk = stream
                .try_next()
                .await
                .map_err(|e| Error::db(format!("reading {}", self.describe()), e))?;
            let Some(chunk) = chunk else { break };
            reader.push(&chunk);
            while let Some(tuple) = reader.next_tuple()? {
                if tuple.len() != columns.len() {
                    return Err(Error::Schema(format!(
                        "{}: a row has {} columns, {} were expected (did the table change?)",
                        self.describe(),
                        tuple.len(),
                        columns.len()
                    )));
                }
                let mut values = Vec::with_capacity(columns.len());
                let mut incrementing = None;
                let mut timestamp = None;
                for (i, c) in columns.iter().enumerate() {
                    let pg = match tuple.field(i) {
                        None => PgValue::Null,
                        Some(raw) => binary::decode(&c.kind, raw).map_err(|e| {
                            Error::Data(format!(
                                "{}: column \"{}\": {e}",
                                self.describe(),
                                c.column.name
                            ))
                        })?,
                    };
                    if Some(i) == inc_index {
                        incrementing = incrementing_value(&pg);
                    }
                    if timestamp.is_none() && ts_indexes.contains(&i) {
                        timestamp = match pg {
                            PgValue::Timestamp(t) | PgValue::TimestampTz(t) => Some(t),
                            _ => None,
                        };
                    }
                    let value = c
                        .column
                        .convert(pg)
                        .map_err(|e| Error::Data(format!("{}: {e}", self.describe())))?;
                    values.push(value);
                }
                let row = Struct::from_values(schema.clone(), values)
                    .map_err(|e| Error::Data(format!("{}: {e}", self.describe())))?;
                rows += 1;
                if inc_index.is_some() {
                    self.position.incrementing = incrementing.or(self.position.incrementing);
                }
                if !ts_indexes.is_empty() {
                    self.position.timestamp = timestamp.or(self.position.timestamp);
                }
                if timestamp_only {
                    let ts = self.position.timestamp.unwrap_or(i64::MIN);
                    if let Some((held_ts, held_row)) = held.take() {
                        if ts > held_ts {
                            complete.timestamp = Some(held_ts);
                        }
                        batch.push(self.record(&schema, held_row, complete));
                    }
                    held = Some((ts, row));
                } else {
                    batch.push(self.record(&schema, row, self.position));
                }
                if batch.len() >= config.batch_max_rows
                    && !emit(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(config.batch_max_rows.min(10_000)),
                    ))
                    .await
                {
                    return Ok(rows);
                }
            }
        }
        if let Some((held_ts, held_row)) = held.take() {
            complete.timestamp = Some(held_ts);
            batch.push(self.record(&schema, held_row, complete));
        }
        if !batch.is_empty() {
            emit(batch).await;
        }
        Ok(rows)
    }

    fn record(&self, schema: &Schema, row: Struct, position: Position) -> SourceRecord {
        SourceRecord::new(
            self.partition.clone(),
            position.to_offset(),
            self.topic.clone(),
            Some(schema.clone()),
            Value::Struct(row),
        )
    }

    /// `table public.t` or `the query`, for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.target {
            Target::Table(id) => format!("table {id}"),
            Target::Query(_) => "the query".to_string(),
        }
    }

    fn sql(
        &self,
        config: &SourceConfig,
        columns: &[ReadColumn],
        inc_index: Option<usize>,
        ts_indexes: &[usize],
    ) -> String {
        let select: Vec<String> = columns
            .iter()
            .map(|c| {
                let name = Self::ident(config, &c.column.name);
                match c.cast {
                    Some(cast) => format!("{name}::{cast}"),
                    None => name,
                }
            })
            .collect();
        let from = match &self.target {
            Target::Table(id) => format!(
                "{}.{}",
                Self::ident(config, &id.schema),
                Self::ident(config, &id.table)
            ),
            Target::Query(q) => format!("({q}) AS ferry_query"),
        };
        let ts_expr = match ts_indexes {
            [] => String::new(),
            [one] => Self::ident(config, &columns[*one].column.name),
            many => format!(
                "COALESCE({})",
                many.iter()
                    .map(|i| Self::ident(config, &columns[*i].column.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let ts_type = ts_indexes
            .first()
            .map(|i| columns[*i].column.pg.kind.clone());
        let ts_literal = |micros: i64| match ts_type {
            Some(Kind::TimestampTz) => format!("'{}+00'::timestamptz", format_timestamp(micros, 6)),
            _ => format!("'{}'::timestamp", format_timestamp(micros, 6)),
        };
        let end = match ts_type {
            Some(Kind::TimestampTz) => format!(
                "(now() - interval '{} milliseconds')",
                config.timestamp_delay.as_millis()
            ),
            _ => format!(
                "((now() AT TIME ZONE 'UTC') - interval '{} milliseconds')",
                config.timestamp_delay.as_millis()
            ),
        };
        let inc = inc_index.map(|i| Self::ident(config, &columns[i].column.name));
        let (criteria, order) = match config.mode {
            Mode::Bulk => (String::new(), String::new()),
            Mode::Incrementing => {
                let inc = inc.unwrap_or_default();
                let criteria = match self.position.incrementing {
                    Some(i) => format!(" WHERE {inc} > {i}"),
                    None => String::new(),
                };
                (criteria, format!(" ORDER BY {inc} ASC"))
            }
            Mode::Timestamp => {
                let criteria = match self.position.timestamp {
                    Some(t) => {
                        format!(" WHERE {ts_expr} > {} AND {ts_expr} < {end}", ts_literal(t))
                    }
                    None => format!(" WHERE {ts_expr} < {end}"),
                };
                (criteria, format!(" ORDER BY {ts_expr} ASC"))
            }
            Mode::TimestampIncrementing => {
                let inc = inc.unwrap_or_default();
                let criteria = match (self.position.timestamp, self.position.incrementing) {
                    (Some(t), Some(i)) => format!(
                        " WHERE {ts_expr} < {end} AND (({ts_expr} = {lit} AND {inc} > {i}) OR {ts_expr} > {lit})",
                        lit = ts_literal(t)
                    ),
                    (Some(t), None) => format!(
                        " WHERE {ts_expr} < {end} AND {ts_expr} >= {}",
                        ts_literal(t)
                    ),
                    (None, _) => format!(" WHERE {ts_expr} < {end}"),
                };
                (criteria, format!(" ORDER BY {ts_expr}, {inc} ASC"))
            }
        };
        let suffix = if config.query_suffix.trim().is_empty() {
            String::new()
        } else {
            format!(" {}", config.query_suffix.trim())
        };
        copy_out(&format!(
            "SELECT {} FROM {from}{criteria}{order}{suffix}",
            select.join(", ")
        ))
    }
}

fn incrementing_value(v: &PgValue) -> Option<i64> {
    match v {
        PgValue::Int2(i) => Some(i64::from(*i)),
        PgValue::Int4(i) => Some(i64::from(*i)),
        PgValue::Int8(i) => Some(*i),
        PgValue::Numeric(crate::types::Numeric::Value(d)) if d.scale() == 0 => {
            d.unscaled_i128().and_then(|v| i64::try_from(v).ok())
        }
        _ => None,
    }
}

/// The database's current time, in microseconds since the epoch.
async fn database_now(conn: &mut PgConnection) -> Result<i64> {
    let row: (i64,) = sqlx::query_as(DATABASE_NOW)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::db("reading the database time", e))?;
    Ok(row.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_in_confluent_shape() {
        let p = Position {
            incrementing: Some(42),
            timestamp: Some(1_700_000_000_123_456),
        };
        let offset = p.to_offset();
        let keys: Vec<&str> = offset.entries().iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(keys, ["timestamp_nanos", "incrementing", "timestamp"]);
        assert_eq!(
            offset.get("timestamp"),
            Some(&Value::Int64(1_700_000_000_123))
        );
        assert_eq!(
            offset.get("timestamp_nanos"),
            Some(&Value::Int64(123_456_000))
        );
        assert_eq!(Position::from_offset(&offset), p);
        // An offset written by Confluent's connector without nanos.
        let old: SourceMap = [("timestamp", Value::Int64(1500))].into_iter().collect();
        assert_eq!(Position::from_offset(&old).timestamp, Some(1_500_000));
    }
}
