//! The publication and the replication slot, managed over an ordinary SQL connection: the
//! publication made to fit `publication.autocreate.mode`, the slot's state, and dropping the
//! slot. Creating the slot is a replication command ([`super::replication`]), since only
//! that exports the snapshot that matches the slot's consistent point.

use std::time::Duration;

use sqlx::postgres::PgConnection;

use super::config::{CdcConfig, PublicationMode};
use crate::catalog::{TableId, list_tables, quote_ident};
use crate::connection::{Endpoint, Retry};
use crate::error::{Error, Result};

/// Whether the publication exists, and whether it is `FOR ALL TABLES`. `$1`: its name.
const PUBLICATION: &str = include_str!("sql/publication.sql");
/// The slot's plugin, database and WAL status. `$1`: its name.
const SLOT: &str = include_str!("sql/slot.sql");
/// `$1`: the slot's name.
const DROP_SLOT: &str = include_str!("sql/drop_slot.sql");

/// SQLSTATE `object_in_use`: the slot is still held by a replication connection.
pub(super) const SLOT_IN_USE: &str = "55006";
/// SQLSTATE `undefined_object`: there is no such slot.
pub(super) const NO_SUCH_SLOT: &str = "42704";

/// A slot as `pg_replication_slots` shows it.
#[derive(Debug, Clone, Copy)]
pub(super) struct SlotState {
    /// The server invalidated the slot (`max_slot_wal_keep_size`): changes are gone.
    pub(super) lost: bool,
}

/// The slot's state; `None` if there is no such slot, an error if it is not a pgoutput
/// slot.
pub(super) async fn slot_state(sql: &mut PgConnection, slot: &str) -> Result<Option<SlotState>> {
    let row: Option<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(SLOT)
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

pub(super) async fn drop_slot(sql: &mut PgConnection, slot: &str) -> Result<()> {
    sqlx::query(DROP_SLOT)
        .bind(slot)
        .execute(&mut *sql)
        .await
        .map_err(|e| Error::db(format!("dropping replication slot \"{slot}\""), e))?;
    Ok(())
}

/// Drops the slot once the replication connection that held it is gone (`slot.drop.on.stop`),
/// waiting up to about five seconds for the server to release it; a slot that is already
/// gone is fine.
pub(super) async fn drop_slot_when_released(endpoint: &Endpoint, slot: &str) -> Result<()> {
    // The server releases the slot once it sees the replication connection close.
    let mut conn = endpoint.connect("ferry-cdc-stop", Retry::ONCE).await?;
    for attempt in 0..50 {
        match drop_slot(&mut conn, slot).await {
            Ok(()) => {
                tracing::info!(slot = %slot, "replication slot dropped (slot.drop.on.stop)");
                break;
            }
            Err(e) if e.sqlstate().as_deref() == Some(SLOT_IN_USE) && attempt < 49 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) if e.sqlstate().as_deref() == Some(NO_SUCH_SLOT) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes the publication fit `publication.autocreate.mode`: created when missing (for all
/// tables, or for the captured ones), its table list replaced with the captured tables in
/// `filtered` mode. With `disabled` it must exist.
pub(super) async fn ensure_publication(sql: &mut PgConnection, config: &CdcConfig) -> Result<()> {
    let name = &config.publication;
    let exists: Option<(bool,)> = sqlx::query_as(PUBLICATION)
        .bind(name)
        .fetch_optional(&mut *sql)
        .await
        .map_err(|e| Error::db("reading the publication", e))?;
    let create = |tables: &[TableId]| {
        let list: Vec<String> = tables.iter().map(TableId::quoted).collect();
        list.join(", ")
    };
    let statement = match (config.publication_mode, exists) {
        (PublicationMode::Disabled, None) => {
            return Err(Error::Schema(format!(
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
                .await?
                .into_iter()
                .filter(|t| config.captures(&t.schema, &t.table))
                .collect();
            if tables.is_empty() {
                return Err(Error::Schema(
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
    tracing::info!(connector = %config.connector, %statement, "publication");
    sqlx::query(&statement)
        .execute(&mut *sql)
        .await
        .map_err(|e| Error::db(format!("creating publication \"{name}\""), e))?;
    Ok(())
}
