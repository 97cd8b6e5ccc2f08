//! `exactly.once`: the next offset of each partition, kept in `exactly.once.offsets.table`
//! and written in the same transaction as the rows, so the table and the offsets never
//! disagree. The table's name comes from the config, so its statements are built here.

use std::collections::HashMap;

use ferry_api::TopicPartition;
use sqlx::Row;
use sqlx::postgres::PgConnection;

use super::config::SinkConfig;
use crate::catalog::TableId;
use crate::error::{Error, Result};

/// The offsets table, unqualified names being in `public`.
pub(super) fn table(config: &SinkConfig) -> TableId {
    TableId::parse(&config.offsets_table, "public")
}

/// Creates the offsets table if it does not exist.
pub(super) async fn ensure_table(conn: &mut PgConnection, config: &SinkConfig) -> Result<()> {
    let table = table(config);
    let sql = format!(
        "CREATE TABLE IF NOT EXISTS {} (connector text NOT NULL, topic text NOT NULL, \
         \"partition\" integer NOT NULL, next_offset bigint NOT NULL, \
         PRIMARY KEY (connector, topic, \"partition\"))",
        table.quoted()
    );
    sqlx::query(&sql)
        .execute(&mut *conn)
        .await
        .map_err(|e| Error::db(format!("creating the offsets table {table}"), e))?;
    Ok(())
}

/// The next offsets this connector stored, per partition.
pub(super) async fn load(
    conn: &mut PgConnection,
    config: &SinkConfig,
) -> Result<HashMap<TopicPartition, i64>> {
    let table = table(config);
    let rows = sqlx::query(&format!(
        "SELECT topic, \"partition\", next_offset FROM {} WHERE connector = $1",
        table.quoted()
    ))
    .bind(&config.connector)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::db(format!("reading offsets from {table}"), e))?;
    let mut stored = HashMap::new();
    for row in rows {
        let topic: String = row
            .try_get(0)
            .map_err(|e| Error::db("reading offsets", e))?;
        let partition: i32 = row
            .try_get(1)
            .map_err(|e| Error::db("reading offsets", e))?;
        let next: i64 = row
            .try_get(2)
            .map_err(|e| Error::db("reading offsets", e))?;
        stored.insert(TopicPartition::new(topic, partition), next);
    }
    Ok(stored)
}

/// Stores the next offset of each partition, inside the caller's transaction.
pub(super) async fn store(
    conn: &mut PgConnection,
    config: &SinkConfig,
    offsets: &HashMap<TopicPartition, i64>,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let table = table(config);
    let topics: Vec<String> = offsets.keys().map(|tp| tp.topic.to_string()).collect();
    let partitions: Vec<i32> = offsets.keys().map(|tp| tp.partition).collect();
    let next: Vec<i64> = offsets.values().copied().collect();
    let sql = format!(
        "INSERT INTO {} (connector, topic, \"partition\", next_offset) \
         SELECT $1, * FROM unnest($2::text[], $3::int4[], $4::int8[]) \
         ON CONFLICT (connector, topic, \"partition\") DO UPDATE SET next_offset = EXCLUDED.next_offset",
        table.quoted()
    );
    sqlx::query(&sql)
        .bind(&config.connector)
        .bind(&topics)
        .bind(&partitions)
        .bind(&next)
        .execute(&mut *conn)
        .await
        .map_err(|e| Error::db(format!("storing offsets in {table}"), e))?;
    Ok(())
}
