//! What the database says about tables: names, columns, types, keys.

use std::fmt;

use sqlx::Row;
use sqlx::postgres::PgConnection;

use crate::error::{Error, Result};
use crate::types::PgType;

/// A table's columns in order: name, type OID and modifier (a domain's base type's), type
/// name, NOT NULL, whether it has a default, and its position in the primary key (0 when
/// not in it). `$1`, `$2`: the schema and table names.
const TABLE_COLUMNS: &str = include_str!("sql/table_columns.sql");
/// The schema and name of the tables of every schema but the system ones, without
/// partitions. `$1`: the `relkind`s wanted, as text.
const LIST_TABLES: &str = include_str!("sql/list_tables.sql");

/// A table's schema and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TableId {
    pub(crate) schema: String,
    pub(crate) table: String,
}

impl TableId {
    pub(crate) fn new(schema: impl Into<String>, table: impl Into<String>) -> TableId {
        TableId {
            schema: schema.into(),
            table: table.into(),
        }
    }

    /// Parses `table` or `schema.table` (a quoted part may contain dots); an unqualified
    /// name is in `default_schema`.
    pub(crate) fn parse(name: &str, default_schema: &str) -> TableId {
        let parts = split_qualified(name);
        match parts.as_slice() {
            [table] => TableId::new(default_schema, table.clone()),
            [.., schema, table] => TableId::new(schema.clone(), table.clone()),
            [] => TableId::new(default_schema, ""),
        }
    }

    /// `"schema"."table"`, for SQL.
    pub(crate) fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
}

/// `schema.table`, unquoted, for messages and names.
impl fmt::Display for TableId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

/// Splits `a.b.c` on dots outside double quotes, unquoting each part.
fn split_qualified(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    parts
}

/// Quotes an identifier for SQL (`"a""b"`).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for SQL (`'it''s'`).
pub(crate) fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A column as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnInfo {
    pub(crate) name: String,
    pub(crate) pg: PgType,
    pub(crate) not_null: bool,
    pub(crate) has_default: bool,
}

/// A table's columns (in order) and primary key columns (in key order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableInfo {
    pub(crate) id: TableId,
    pub(crate) columns: Vec<ColumnInfo>,
    pub(crate) primary_key: Vec<String>,
}

impl TableInfo {
    pub(crate) fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads a table's columns and key; `None` if there is no such table.
pub(crate) async fn table_info(conn: &mut PgConnection, id: &TableId) -> Result<Option<TableInfo>> {
    let context = || format!("reading the columns of table {id}");
    let rows = sqlx::query(TABLE_COLUMNS)
        .bind(&id.schema)
        .bind(&id.table)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::db(context(), e))?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(rows.len());
    let mut key: Vec<(i32, String)> = Vec::new();
    for row in rows {
        let get = |e: sqlx::Error| Error::db(context(), e);
        let name: String = row.try_get(0).map_err(get)?;
        let type_oid: i64 = row.try_get(1).map_err(get)?;
        let typmod: i32 = row.try_get(2).map_err(get)?;
        let type_name: String = row.try_get(3).map_err(get)?;
        let not_null: bool = row.try_get(4).map_err(get)?;
        let has_default: bool = row.try_get(5).map_err(get)?;
        let key_position: i32 = row.try_get(6).map_err(get)?;
        if key_position > 0 {
            key.push((key_position, name.clone()));
        }
        columns.push(ColumnInfo {
            name,
            pg: PgType::new(type_oid as u32, typmod, type_name),
            not_null,
            has_default,
        });
    }
    key.sort();
    Ok(Some(TableInfo {
        id: id.clone(),
        columns,
        primary_key: key.into_iter().map(|(_, n)| n).collect(),
    }))
}

/// The tables (of the given `pg_class.relkind`s) of every schema but the system ones.
pub(crate) async fn list_tables(
    conn: &mut PgConnection,
    relkinds: &[char],
) -> Result<Vec<TableId>> {
    let kinds: Vec<String> = relkinds.iter().map(|k| k.to_string()).collect();
    let rows = sqlx::query(LIST_TABLES)
        .bind(&kinds)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::db("listing tables", e))?;
    rows.into_iter()
        .map(|r| {
            Ok(TableId::new(
                r.try_get::<String, _>(0)
                    .map_err(|e| Error::db("listing tables", e))?,
                r.try_get::<String, _>(1)
                    .map_err(|e| Error::db("listing tables", e))?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        assert_eq!(TableId::parse("t", "public"), TableId::new("public", "t"));
        assert_eq!(TableId::parse("s.t", "public"), TableId::new("s", "t"));
        assert_eq!(
            TableId::parse("\"my.schema\".\"Ta\"\"ble\"", "public"),
            TableId::new("my.schema", "Ta\"ble")
        );
        assert_eq!(TableId::parse("db.s.t", "public"), TableId::new("s", "t"));
        assert_eq!(TableId::new("a", "b\"c").quoted(), "\"a\".\"b\"\"c\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
