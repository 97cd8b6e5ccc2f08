//! Writing rows: tables made or widened to fit (`auto.create`, `auto.evolve`), rows encoded
//! as binary COPY, and the statements of each insert mode.
//!
//! - insert: `COPY table FROM STDIN (FORMAT binary)`.
//! - upsert: COPY into a session-temporary staging table, then `INSERT ... SELECT ... ON
//!   CONFLICT (key) DO UPDATE`.
//! - update: COPY into staging, then `UPDATE ... FROM staging`.
//! - deletes: the keys are COPYed into staging, then `DELETE ... USING staging`.
//!
//! Columns whose type has no binary encoder here (enums, intervals, network types, ...) go
//! through staging as `text` and are cast to the column type by the final statement.

use std::collections::HashMap;

use bytes::BytesMut;
use ferry_api::{SinkRecord, Value};
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgDatabaseError};

use super::config::{InsertMode, SinkConfig};
use super::rows::{Field, Shape, sql_type};
use crate::catalog::{ColumnInfo, TableId, TableInfo, quote_ident, table_info};
use crate::copy::{CopyWriter, copy_in};
use crate::error::{Error, Result};
use crate::types::PgType;
use crate::types::binary::encode::{encode, text_of};

/// Rows of one table and shape, all written the same way.
#[derive(Debug)]
pub(crate) struct Group<'r> {
    pub(crate) table: TableId,
    pub(crate) shape: Shape,
    pub(crate) records: Vec<&'r SinkRecord>,
    pub(crate) delete: bool,
}

/// A record that could not be encoded, and why.
pub(crate) type Rejected<'r> = (&'r SinkRecord, Error);

/// One group, encoded and ready to send.
#[derive(Debug)]
pub(crate) struct Encoded {
    sql_copy: String,
    apply: Option<String>,
    data: BytesMut,
    rows: usize,
}

/// The table metadata and staging tables of one connection.
#[derive(Debug, Default)]
pub(crate) struct Tables {
    tables: HashMap<TableId, TableInfo>,
    /// Staging table per (table, columns, delete): created once per connection.
    stages: HashMap<(TableId, Vec<String>, bool), String>,
}

impl Tables {
    /// Forgets cached metadata (after a reconnect, or when a table changed under us).
    pub(crate) fn forget(&mut self) {
        self.tables.clear();
        self.stages.clear();
    }

    /// Forgets one table's metadata.
    pub(crate) fn forget_table(&mut self, id: &TableId) {
        self.tables.remove(id);
        self.stages.retain(|(t, _, _), _| t != id);
    }

    /// The table, created or evolved to hold `shape` as the config allows; `None` when that
    /// needs the catalog and there is no connection.
    async fn ensure(
        &mut self,
        conn: Option<&mut PgConnection>,
        config: &SinkConfig,
        id: &TableId,
        shape: &Shape,
    ) -> Result<Option<&TableInfo>> {
        let known = match self.tables.get(id) {
            Some(info) => shape.fields.iter().all(|f| info.column(&f.name).is_some()),
            None => false,
        };
        if !known {
            let Some(conn) = conn else {
                return Ok(None);
            };
            let info = match table_info(conn, id).await? {
                Some(info) => info,
                None if config.auto_create => {
                    create_table(conn, config, id, shape).await?;
                    table_info(conn, id).await?.ok_or_else(|| {
                        Error::Schema(format!("table {id} was created but cannot be found"))
                    })?
                }
                None => {
                    return Err(Error::Schema(format!(
                        "table {id} does not exist (dropped?) and auto.create is false"
                    )));
                }
            };
            let missing: Vec<&Field> = shape
                .fields
                .iter()
                .filter(|f| info.column(&f.name).is_none())
                .collect();
            let info = if missing.is_empty() {
                info
            } else if config.auto_evolve {
                evolve_table(conn, config, id, &missing).await?;
                table_info(conn, id).await?.ok_or_else(|| {
                    Error::Schema(format!("table {id} disappeared while it was altered"))
                })?
            } else {
                let names: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::Schema(format!(
                    "table {id} has no column {} for the record fields of that name, and auto.evolve is false",
                    names.join(", ")
                )));
            };
            self.forget_table(id);
            self.tables.insert(id.clone(), info);
        }
        self.tables
            .get(id)
            .map(Some)
            .ok_or_else(|| Error::Schema(format!("table {id} is not known")))
    }

    /// Encodes a group into COPY data and the statements that apply it. Records that do
    /// not fit are left out and returned with the reason. Without a connection, `None` if
    /// the table or its staging table is not known yet.
    pub(crate) async fn encode<'r>(
        &mut self,
        mut conn: Option<&mut PgConnection>,
        config: &SinkConfig,
        group: &Group<'r>,
    ) -> Result<Option<(Encoded, Vec<Rejected<'r>>)>> {
        let Some(info) = self
            .ensure(conn.as_deref_mut(), config, &group.table, &group.shape)
            .await?
        else {
            return Ok(None);
        };
        let info = info.clone();
        let fields: Vec<&Field> = if group.delete {
            group.shape.key_fields().collect()
        } else {
            group.shape.fields.iter().collect()
        };
        let columns: Vec<(&Field, &ColumnInfo)> = fields
            .iter()
            .filter_map(|f| info.column(&f.name).map(|c| (*f, c)))
            .collect();
        if !group.delete {
            // A NOT NULL column without default that no record field fills cannot be written.
            if let Some(c) = info.columns.iter().find(|c| {
                c.not_null && !c.has_default && !columns.iter().any(|(_, col)| col.name == c.name)
            }) {
                return Err(Error::Data(format!(
                    "table {}: column \"{}\" ({}) is NOT NULL without a default, and the records have no field \"{}\"",
                    info.id, c.name, c.pg.name, c.name
                )));
            }
        }
        let all_native = columns.iter().all(|(_, c)| c.pg.kind.is_native());
        let direct = !group.delete && config.insert_mode == InsertMode::Insert && all_native;
        // The type each column's values are encoded as: its own, or text for the server to
        // cast.
        let text = PgType::new(crate::types::oid::TEXT, -1, "text");
        let targets: Vec<&PgType> = columns
            .iter()
            .map(|(_, c)| if c.pg.kind.is_native() { &c.pg } else { &text })
            .collect();
        let mut rejected = Vec::new();
        let mut writer = CopyWriter::new(group.records.len() * 64);
        let mut rows = 0;
        for record in &group.records {
            let start = writer.len();
            writer.row(columns.len());
            let mut failure = None;
            for ((field, column), target) in columns.iter().zip(&targets) {
                let value = Shape::value(field, record);
                if value.is_null() {
                    if column.not_null && !group.delete {
                        failure = Some(format!(
                            "column \"{}\" ({}) is NOT NULL and the record's \"{}\" is null",
                            column.name, column.pg.name, field.name
                        ));
                        break;
                    }
                    writer.null();
                    continue;
                }
                let out = writer.begin_field();
                if let Err(e) = encode(&value, field.schema.as_ref(), target, out) {
                    writer.cancel_field();
                    failure = Some(format!(
                        "column \"{}\" ({}): {e}",
                        column.name, column.pg.name
                    ));
                    break;
                }
                writer.end_field();
            }
            match failure {
                None => rows += 1,
                Some(reason) => {
                    writer.truncate(start);
                    rejected.push((
                        *record,
                        Error::Data(format!(
                            "record {}-{}@{} does not fit table {}: {reason}",
                            record.topic, record.kafka_partition, record.kafka_offset, info.id
                        )),
                    ));
                }
            }
        }
        let column_list = |prefix: &str, cast: bool| -> String {
            columns
                .iter()
                .map(|(_, c)| {
                    let name = format!("{prefix}{}", ident(config, &c.name));
                    if cast && !c.pg.kind.is_native() {
                        format!("{name}::{}", c.pg.name)
                    } else {
                        name
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let target = table_name(config, &info.id);
        if direct {
            let sql_copy = copy_in(&format!("{target} ({})", column_list("", false)));
            return Ok(Some((
                Encoded {
                    sql_copy,
                    apply: None,
                    data: writer.finish(),
                    rows,
                },
                rejected,
            )));
        }
        let Some(stage) = self
            .stage(conn, config, &info, &columns, group.delete)
            .await?
        else {
            return Ok(None);
        };
        let sql_copy = copy_in(&stage);
        let keys: Vec<&ColumnInfo> = columns
            .iter()
            .filter(|(f, _)| f.key)
            .map(|(_, c)| *c)
            .collect();
        let others: Vec<&ColumnInfo> = columns
            .iter()
            .filter(|(f, _)| !f.key)
            .map(|(_, c)| *c)
            .collect();
        let key_match = keys
            .iter()
            .map(|c| format!("t.{0} = s.{0}", ident(config, &c.name)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let apply = if group.delete {
            format!("DELETE FROM {target} AS t USING {stage} AS s WHERE {key_match}")
        } else {
            match config.insert_mode {
                InsertMode::Insert => format!(
                    "INSERT INTO {target} ({}) SELECT {} FROM {stage}",
                    column_list("", false),
                    column_list("", true)
                ),
                InsertMode::Upsert => {
                    let conflict = keys
                        .iter()
                        .map(|c| ident(config, &c.name))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let action = if others.is_empty() {
                        "DO NOTHING".to_string()
                    } else {
                        format!(
                            "DO UPDATE SET {}",
                            others
                                .iter()
                                .map(|c| format!("{0} = EXCLUDED.{0}", ident(config, &c.name)))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    format!(
                        "INSERT INTO {target} ({}) SELECT {} FROM {stage} ON CONFLICT ({conflict}) {action}",
                        column_list("", false),
                        column_list("", true)
                    )
                }
                InsertMode::Update => {
                    if others.is_empty() {
                        format!("SELECT 1 FROM {stage} LIMIT 0")
                    } else {
                        format!(
                            "UPDATE {target} AS t SET {} FROM {stage} AS s WHERE {key_match}",
                            others
                                .iter()
                                .map(|c| {
                                    let cast = if c.pg.kind.is_native() {
                                        String::new()
                                    } else {
                                        format!("::{}", c.pg.name)
                                    };
                                    format!("{0} = s.{0}{cast}", ident(config, &c.name))
                                })
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                }
            }
        };
        Ok(Some((
            Encoded {
                sql_copy,
                apply: Some(apply),
                data: writer.finish(),
                rows,
            },
            rejected,
        )))
    }

    /// The staging table for these columns, created on first use in this session. Its rows
    /// vanish at each commit. `None` if it is not known and there is no connection.
    async fn stage(
        &mut self,
        conn: Option<&mut PgConnection>,
        config: &SinkConfig,
        info: &TableInfo,
        columns: &[(&Field, &ColumnInfo)],
        delete: bool,
    ) -> Result<Option<String>> {
        let names: Vec<String> = columns.iter().map(|(_, c)| c.name.clone()).collect();
        let key = (info.id.clone(), names, delete);
        if let Some(name) = self.stages.get(&key) {
            return Ok(Some(name.clone()));
        }
        let Some(conn) = conn else {
            return Ok(None);
        };
        let name = format!("ferry_stage_{}", self.stages.len() + 1);
        let defs: Vec<String> = columns
            .iter()
            .map(|(_, c)| {
                let ty = if c.pg.kind.is_native() {
                    c.pg.name.clone()
                } else {
                    "text".to_string()
                };
                format!("{} {ty}", ident(config, &c.name))
            })
            .collect();
        let sql = format!(
            "CREATE TEMPORARY TABLE IF NOT EXISTS {name} ({}) ON COMMIT DELETE ROWS",
            defs.join(", ")
        );
        sqlx::query(&sql)
            .execute(&mut *conn)
            .await
            .map_err(|e| Error::db(format!("creating the staging table for {}", info.id), e))?;
        self.stages.insert(key, name.clone());
        Ok(Some(name))
    }
}

impl Encoded {
    /// Rows in the COPY data.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Sends the data and applies it, inside the caller's transaction.
    pub(crate) async fn execute(self, conn: &mut PgConnection, table: &TableId) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let context = || format!("writing to table {table}");
        let mut copy = conn
            .copy_in_raw(&self.sql_copy)
            .await
            .map_err(|e| Error::db(context(), e))?;
        if let Err(e) = copy.send(self.data).await {
            let _ = copy.abort("send failed").await;
            return Err(Error::db(context(), e));
        }
        copy.finish().await.map_err(|e| Error::db(context(), e))?;
        if let Some(apply) = &self.apply {
            sqlx::query(apply)
                .execute(&mut *conn)
                .await
                .map_err(|e| Error::db(context(), e))?;
        }
        Ok(())
    }
}

fn ident(config: &SinkConfig, name: &str) -> String {
    if config.quote {
        quote_ident(name)
    } else {
        name.to_string()
    }
}

fn table_name(config: &SinkConfig, id: &TableId) -> String {
    format!("{}.{}", ident(config, &id.schema), ident(config, &id.table))
}

async fn create_table(
    conn: &mut PgConnection,
    config: &SinkConfig,
    id: &TableId,
    shape: &Shape,
) -> Result<()> {
    let mut defs = Vec::new();
    for f in &shape.fields {
        let Some(schema) = &f.schema else {
            return Err(Error::Schema(format!(
                "cannot create table {id}: field \"{}\" has no schema (auto.create needs records with schemas)",
                f.name
            )));
        };
        let ty = sql_type(schema).ok_or_else(|| {
            Error::Schema(format!(
                "cannot create table {id}: no column type for field \"{}\" of type {}",
                f.name,
                schema.schema_type()
            ))
        })?;
        let not_null = if f.key || !schema.is_optional() {
            " NOT NULL"
        } else {
            ""
        };
        let default = schema
            .default_value()
            .and_then(default_literal)
            .map(|d| format!(" DEFAULT {d}"))
            .unwrap_or_default();
        defs.push(format!(
            "{} {ty}{not_null}{default}",
            ident(config, &f.name)
        ));
    }
    let keys: Vec<String> = shape.key_fields().map(|f| ident(config, &f.name)).collect();
    if !keys.is_empty() {
        defs.push(format!("PRIMARY KEY ({})", keys.join(", ")));
    }
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} ({})",
        table_name(config, id),
        defs.join(", ")
    );
    tracing::info!(table = %id, %sql, "creating table (auto.create)");
    sqlx::query(&sql)
        .execute(&mut *conn)
        .await
        .map_err(|e| Error::db(format!("creating table {id}"), e))?;
    Ok(())
}

async fn evolve_table(
    conn: &mut PgConnection,
    config: &SinkConfig,
    id: &TableId,
    missing: &[&Field],
) -> Result<()> {
    let mut adds = Vec::new();
    for f in missing {
        let Some(schema) = &f.schema else {
            return Err(Error::Schema(format!(
                "cannot add column \"{}\" to table {id}: the field has no schema",
                f.name
            )));
        };
        let default = schema.default_value().and_then(default_literal);
        if !schema.is_optional() && default.is_none() {
            return Err(Error::Schema(format!(
                "cannot add column \"{}\" to table {id}: the field is not optional and has no default value",
                f.name
            )));
        }
        let ty = sql_type(schema).ok_or_else(|| {
            Error::Schema(format!(
                "cannot add column \"{}\" to table {id}: no column type for {}",
                f.name,
                schema.schema_type()
            ))
        })?;
        let default = default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default();
        adds.push(format!(
            "ADD COLUMN {} {ty}{default}",
            ident(config, &f.name)
        ));
    }
    let sql = format!("ALTER TABLE {} {}", table_name(config, id), adds.join(", "));
    tracing::info!(table = %id, %sql, "adding columns (auto.evolve)");
    let mut tx = conn
        .begin()
        .await
        .map_err(|e| Error::db(format!("altering table {id}"), e))?;
    sqlx::query(&sql)
        .execute(&mut *tx)
        .await
        .map_err(|e| Error::db(format!("altering table {id}"), e))?;
    tx.commit()
        .await
        .map_err(|e| Error::db(format!("altering table {id}"), e))?;
    Ok(())
}

/// A schema's default value as a column default: strings quoted, numbers and booleans in
/// their text form, anything else left out.
fn default_literal(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(crate::catalog::quote_literal(s.as_str())),
        Value::Boolean(_)
        | Value::Int8(_)
        | Value::Int16(_)
        | Value::Int32(_)
        | Value::Int64(_)
        | Value::Float32(_)
        | Value::Float64(_)
        | Value::Decimal(_) => text_of(value, None),
        _ => None,
    }
}

/// A database error described for users: the server's message, detail and column.
pub(crate) fn describe_db_error(e: &Error) -> String {
    if let Error::Db {
        source: sqlx::Error::Database(db),
        ..
    } = e
        && let Some(pg) = db.try_downcast_ref::<PgDatabaseError>()
    {
        let mut text = pg.message().to_string();
        if let Some(column) = pg.column() {
            text = format!("column \"{column}\": {text}");
        }
        if let Some(detail) = pg.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        return text;
    }
    e.to_string()
}

/// Whether a failed write may succeed without the offending record (a data or constraint
/// problem, not a connection or schema one).
pub(crate) fn is_record_error(e: &Error) -> bool {
    e.sqlstate().is_some_and(|code| {
        code.starts_with("22") || code.starts_with("23") || code == "42804" || code == "P0001"
    })
}

/// Whether a table or column was dropped or renamed under us.
pub(crate) fn is_schema_gone(e: &Error) -> bool {
    e.sqlstate()
        .is_some_and(|code| matches!(code.as_str(), "42P01" | "42703"))
}

#[cfg(test)]
mod tests {
    use ferry_api::logical::Decimal;

    use super::*;

    #[test]
    fn column_defaults_from_schema_defaults() {
        assert_eq!(default_literal(&Value::Boolean(true)), Some("true".into()));
        assert_eq!(default_literal(&Value::Int16(-7)), Some("-7".into()));
        assert_eq!(default_literal(&Value::Float64(1.5)), Some("1.5".into()));
        assert_eq!(
            default_literal(&Value::Decimal(Decimal::from_i128(-1025, 2))),
            Some("-10.25".into())
        );
        assert_eq!(
            default_literal(&Value::from("it's")),
            Some("'it''s'".into())
        );
        // Only scalars have a text form a column default can take.
        assert_eq!(default_literal(&Value::Date(0)), None);
        assert_eq!(default_literal(&Value::Null), None);
    }
}
