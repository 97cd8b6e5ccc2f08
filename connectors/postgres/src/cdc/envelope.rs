//! Debezium's change event shape: key `<prefix>.<schema>.<table>.Key` (the key columns),
//! value `<prefix>.<schema>.<table>.Envelope` with `before`, `after` (both
//! `<prefix>.<schema>.<table>.Value`), `source` (`io.debezium.connector.postgresql.Source`),
//! `op` (`r` read in the snapshot, `c` create, `u` update, `d` delete), `ts_ms` and
//! `transaction`; a tombstone (same key, null value) follows each delete.
//!
//! Non-key columns are optional in the Value schema whatever their nullability: pgoutput
//! leaves them out of key-only before images and of unchanged TOASTed values.

use std::sync::Arc;

use ferry_api::{Schema, SchemaBuilder, SchemaType, SourceMap, SourceRecord, Struct, Value};

use crate::types::PgType;
use crate::types::mapping::{Column, Profile};

/// The connector name in `source.connector`.
pub(crate) const CONNECTOR: &str = "postgresql";

/// The `source` block's schema.
pub(crate) fn source_schema() -> Schema {
    let snapshot = SchemaBuilder::new(SchemaType::String)
        .optional()
        .name("io.debezium.data.Enum")
        .version(1)
        .parameter("allowed", "true,last,false,incremental")
        .default_value(Value::from("false"))
        .build();
    SchemaBuilder::struct_()
        .name("io.debezium.connector.postgresql.Source")
        .field("version", Schema::string())
        .field("connector", Schema::string())
        .field("name", Schema::string())
        .field("ts_ms", Schema::int64())
        .field("snapshot", snapshot)
        .field("db", Schema::string())
        .field("sequence", Schema::optional_string())
        .field("schema", Schema::string())
        .field("table", Schema::string())
        .field("txId", Schema::optional_int64())
        .field("lsn", Schema::optional_int64())
        .field("xmin", Schema::optional_int64())
        .build()
}

fn transaction_schema() -> Schema {
    SchemaBuilder::struct_()
        .optional()
        .name("event.block")
        .version(1)
        .field("id", Schema::string())
        .field("total_order", Schema::int64())
        .field("data_collection_order", Schema::int64())
        .build()
}

/// One captured table: its columns, schemas and topic.
#[derive(Debug)]
pub(crate) struct TableSchema {
    pub(crate) schema: String,
    pub(crate) table: String,
    pub(crate) columns: Vec<Column>,
    key_indexes: Vec<usize>,
    key_schema: Option<Schema>,
    value_schema: Schema,
    envelope_schema: Schema,
    pub(crate) topic: Arc<str>,
}

/// Where a change happened, for the `source` block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceInfo<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) database: &'a str,
    /// Commit time (or snapshot time), ms since the epoch.
    pub(crate) ts_ms: i64,
    pub(crate) snapshot: &'static str,
    pub(crate) tx_id: Option<i64>,
    pub(crate) lsn: Option<i64>,
    pub(crate) sequence: Option<&'a str>,
}

impl TableSchema {
    /// `columns`: name, type, whether it is a key column.
    pub(crate) fn new(
        prefix: &str,
        schema: &str,
        table: &str,
        columns: Vec<(String, PgType, bool)>,
        profile: Profile,
        source: &Schema,
    ) -> TableSchema {
        let base = format!("{prefix}.{schema}.{table}");
        let mut mapped = Vec::with_capacity(columns.len());
        let mut key_indexes = Vec::new();
        for (i, (name, pg, key)) in columns.into_iter().enumerate() {
            if key {
                key_indexes.push(i);
            }
            mapped.push(Column::new(name, pg, !key, profile));
        }
        let mut value = SchemaBuilder::struct_()
            .name(format!("{base}.Value"))
            .optional();
        for c in &mapped {
            value = value.field(c.name.clone(), c.schema.clone());
        }
        let value_schema = value.build();
        let key_schema = (!key_indexes.is_empty()).then(|| {
            let mut key = SchemaBuilder::struct_().name(format!("{base}.Key"));
            for i in &key_indexes {
                key = key.field(mapped[*i].name.clone(), mapped[*i].schema.clone());
            }
            key.build()
        });
        let envelope_schema = SchemaBuilder::struct_()
            .name(format!("{base}.Envelope"))
            .version(1)
            .field("before", value_schema.clone())
            .field("after", value_schema.clone())
            .field("source", source.clone())
            .field("op", Schema::string())
            .field("ts_ms", Schema::optional_int64())
            .field("transaction", transaction_schema())
            .build();
        TableSchema {
            schema: schema.to_string(),
            table: table.to_string(),
            columns: mapped,
            key_indexes,
            key_schema,
            value_schema,
            envelope_schema,
            topic: Arc::from(base),
        }
    }

    /// A row struct from one value per column.
    pub(crate) fn row(&self, values: Vec<Value>) -> Result<Struct, String> {
        Struct::from_values(self.value_schema.clone(), values)
            .map_err(|e| format!("table {}.{}: {e}", self.schema, self.table))
    }

    /// The key struct of a row's values; `None` for a table without key.
    pub(crate) fn key(&self, values: &[Value]) -> Option<Struct> {
        let schema = self.key_schema.clone()?;
        let key: Vec<Value> = self
            .key_indexes
            .iter()
            .map(|i| values.get(*i).cloned().unwrap_or(Value::Null))
            .collect();
        Struct::from_values(schema, key).ok()
    }

    /// The change event (and, for a delete with tombstones, the tombstone after it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn records(
        &self,
        partition: &SourceMap,
        offset: &SourceMap,
        op: &str,
        key: Option<Struct>,
        before: Option<Struct>,
        after: Option<Struct>,
        source: &Schema,
        info: SourceInfo<'_>,
        tombstone: bool,
        now_ms: i64,
        out: &mut Vec<SourceRecord>,
    ) -> Result<(), String> {
        let source_value = Struct::from_values(
            source.clone(),
            vec![
                Value::from(crate::VERSION),
                Value::from(CONNECTOR),
                Value::from(info.prefix),
                Value::Int64(info.ts_ms),
                Value::from(info.snapshot),
                Value::from(info.database),
                info.sequence.map_or(Value::Null, Value::from),
                Value::from(self.schema.as_str()),
                Value::from(self.table.as_str()),
                info.tx_id.map_or(Value::Null, Value::Int64),
                info.lsn.map_or(Value::Null, Value::Int64),
                Value::Null,
            ],
        )
        .map_err(|e| e.to_string())?;
        let envelope = Struct::from_values(
            self.envelope_schema.clone(),
            vec![
                before.map_or(Value::Null, Value::Struct),
                after.map_or(Value::Null, Value::Struct),
                Value::Struct(source_value),
                Value::from(op),
                Value::Int64(now_ms),
                Value::Null,
            ],
        )
        .map_err(|e| e.to_string())?;
        let key_value = key.map_or(Value::Null, Value::Struct);
        let mut record = SourceRecord::new(
            partition.clone(),
            offset.clone(),
            self.topic.clone(),
            Some(self.envelope_schema.clone()),
            Value::Struct(envelope),
        );
        record.key_schema = self.key_schema.clone();
        record.key = key_value.clone();
        out.push(record);
        if tombstone {
            let mut t = SourceRecord::new(
                partition.clone(),
                offset.clone(),
                self.topic.clone(),
                None,
                Value::Null,
            );
            t.key_schema = self.key_schema.clone();
            t.key = key_value;
            out.push(t);
        }
        Ok(())
    }
}
