//! The sink's config: Confluent JdbcSinkConnector's keys, plus `exactly.once`.

use std::time::Duration;

use ferry_api::config::{Bool, Int, Key, List, Long, Str, Validator};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConnectError, Importance};

use crate::config as common;
use crate::connection::{Endpoint, Retry};

pub(crate) const INSERT_MODE: Key<Str> = Key::new(
    "insert.mode",
    "insert",
    Importance::High,
    "The insertion mode to use: insert (plain inserts), upsert (INSERT .. ON CONFLICT DO UPDATE on the primary key), or update (UPDATE of existing rows by primary key).",
)
.with_validator(Validator::OneOfIgnoreCase(&["insert", "upsert", "update"]));
pub(crate) const BATCH_SIZE: Key<Int> = Key::new(
    "batch.size",
    3000,
    Importance::Medium,
    "Specifies how many records to attempt to batch together for insertion into the destination table, when possible. Each batch is one transaction.",
)
.with_validator(Validator::at_least(1.0));
/// Ferry's own: how long records wait for a batch to fill before they are written anyway.
pub(crate) const BATCH_LINGER: Key<Long> = Key::new(
    "batch.linger.ms",
    100,
    Importance::Low,
    "How long records given to the task may wait for more to fill a batch of batch.size before they are written anyway (Ferry's own; 0 writes each delivery as Kafka Connect does). Offsets are never committed ahead of written rows.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const DELETE_ENABLED: Key<Bool> = Key::new(
    "delete.enabled",
    false,
    Importance::Medium,
    "Whether to treat null record values as deletes. Requires pk.mode to be record_key.",
);
pub(crate) const TABLE_NAME_FORMAT: Key<Str> = Key::new(
    "table.name.format",
    "${topic}",
    Importance::Medium,
    "A format string for the destination table name, which may contain '${topic}' as a placeholder for the originating topic name. 'schema.table' names a schema.",
)
.with_validator(Validator::NonEmptyString);
pub(crate) const PK_MODE: Key<Str> = Key::new(
    "pk.mode",
    "none",
    Importance::High,
    "The primary key mode: none, kafka (__connect_topic, __connect_partition, __connect_offset), record_key (fields of the record key), record_value (fields of the record value).",
)
.with_validator(Validator::OneOfIgnoreCase(&[
    "none",
    "kafka",
    "record_key",
    "record_value",
]));
pub(crate) const PK_FIELDS: Key<List> = Key::<List>::new(
    "pk.fields",
    &[],
    Importance::Medium,
    "List of comma-separated primary key field names. For kafka: the three column names (default __connect_topic,__connect_partition,__connect_offset); record_key with a primitive key: the one column name; record_key/record_value with a struct: the fields to use (empty: all).",
);
pub(crate) const FIELDS_WHITELIST: Key<List> = Key::<List>::new(
    "fields.whitelist",
    &[],
    Importance::Medium,
    "List of comma-separated record value field names. If empty, all fields from the record value are used.",
);
pub(crate) const AUTO_CREATE: Key<Bool> = Key::new(
    "auto.create",
    false,
    Importance::Medium,
    "Whether to automatically create the destination table based on record schema if it is found to be missing by issuing CREATE.",
);
pub(crate) const AUTO_EVOLVE: Key<Bool> = Key::new(
    "auto.evolve",
    false,
    Importance::Medium,
    "Whether to automatically add columns in the table schema when found to be missing relative to the record schema by issuing ALTER.",
);
pub(crate) const QUOTE_IDENTIFIERS: Key<Str> = Key::new(
    "quote.sql.identifiers",
    "always",
    Importance::Medium,
    "When to quote table names, column names and other identifiers in SQL statements: always or never.",
)
.with_validator(Validator::OneOfIgnoreCase(&["always", "never"]));
pub(crate) const DB_TIMEZONE: Key<Str> = Key::new(
    "db.timezone",
    "UTC",
    Importance::Medium,
    "Name of the time zone used for timestamp columns without a zone. Ferry supports UTC only.",
)
.with_validator(Validator::OneOfIgnoreCase(&["UTC", "Z", "Etc/UTC", "GMT"]));
pub(crate) const MAX_RETRIES: Key<Int> = Key::new(
    "max.retries",
    10,
    Importance::Medium,
    "The maximum number of times to retry on errors before failing the task.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const RETRY_BACKOFF: Key<Int> = Key::new(
    "retry.backoff.ms",
    3000,
    Importance::Medium,
    "The time in milliseconds to wait following an error before a retry attempt is made.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const EXACTLY_ONCE: Key<Bool> = Key::new(
    "exactly.once",
    false,
    Importance::Medium,
    "Ferry: store the consumed offsets in exactly.once.offsets.table in the same transaction as the rows, and resume from them, so that each record is written exactly once even after a crash.",
);
pub(crate) const OFFSETS_TABLE: Key<Str> = Key::new(
    "exactly.once.offsets.table",
    "public.ferry_sink_offsets",
    Importance::Low,
    "Ferry: the table (created if missing) that keeps the offsets of exactly.once sinks, one row per connector, topic and partition.",
)
.with_validator(Validator::NonEmptyString);

pub(crate) fn config_def() -> ConfigDef {
    common::connection_def()
        .declare(&INSERT_MODE)
        .declare(&BATCH_SIZE)
        .declare(&BATCH_LINGER)
        .declare(&DELETE_ENABLED)
        .declare(&TABLE_NAME_FORMAT)
        .declare(&PK_MODE)
        .declare(&PK_FIELDS)
        .declare(&FIELDS_WHITELIST)
        .declare(&AUTO_CREATE)
        .declare(&AUTO_EVOLVE)
        .declare(&QUOTE_IDENTIFIERS)
        .declare(&DB_TIMEZONE)
        .declare(&MAX_RETRIES)
        .declare(&RETRY_BACKOFF)
        .declare(&EXACTLY_ONCE)
        .declare(&OFFSETS_TABLE)
}

/// `insert.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertMode {
    Insert,
    Upsert,
    Update,
}

/// `pk.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

/// The parsed sink config.
#[derive(Debug, Clone)]
pub(crate) struct SinkConfig {
    pub(crate) connector: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) connect_retry: Retry,
    pub(crate) insert_mode: InsertMode,
    pub(crate) batch_size: usize,
    pub(crate) batch_linger: Duration,
    pub(crate) delete_enabled: bool,
    pub(crate) table_name_format: String,
    pub(crate) pk_mode: PkMode,
    pub(crate) pk_fields: Vec<String>,
    pub(crate) fields_whitelist: Vec<String>,
    pub(crate) auto_create: bool,
    pub(crate) auto_evolve: bool,
    pub(crate) quote: bool,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) exactly_once: bool,
    pub(crate) offsets_table: String,
}

/// Cross-key rules (Confluent's): deletes need record keys; upsert and update need a key.
pub(crate) fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
    let mut issues = config_def().validate(config);
    if !issues.is_empty() {
        return issues;
    }
    let Ok(parsed) = parse(config) else {
        return issues;
    };
    if parsed.delete_enabled && parsed.pk_mode != PkMode::RecordKey {
        issues.push(ConfigIssue {
            key: DELETE_ENABLED.to_string(),
            value: Some("true".into()),
            message: "deletes need pk.mode=record_key".into(),
        });
    }
    if parsed.insert_mode != InsertMode::Insert && parsed.pk_mode == PkMode::None {
        issues.push(ConfigIssue {
            key: PK_MODE.to_string(),
            value: Some("none".into()),
            message: format!(
                "insert.mode={} needs a primary key: set pk.mode to kafka, record_key or record_value",
                if parsed.insert_mode == InsertMode::Upsert { "upsert" } else { "update" }
            ),
        });
    }
    if parsed.pk_mode == PkMode::Kafka && !matches!(parsed.pk_fields.len(), 0 | 3) {
        issues.push(ConfigIssue {
            key: PK_FIELDS.to_string(),
            value: Some(parsed.pk_fields.join(",")),
            message: "pk.mode=kafka takes three column names (topic, partition, offset) or none"
                .into(),
        });
    }
    issues
}

pub(crate) fn parse(config: &ConfigMap) -> Result<SinkConfig, ConnectError> {
    let parsed = config_def().parse_for_use(config)?;
    let (endpoint, connect_retry) = common::connection(&parsed)?;
    let insert_mode = match parsed.value(&INSERT_MODE)?.to_ascii_lowercase().as_str() {
        "upsert" => InsertMode::Upsert,
        "update" => InsertMode::Update,
        _ => InsertMode::Insert,
    };
    let pk_mode = match parsed.value(&PK_MODE)?.to_ascii_lowercase().as_str() {
        "kafka" => PkMode::Kafka,
        "record_key" => PkMode::RecordKey,
        "record_value" => PkMode::RecordValue,
        _ => PkMode::None,
    };
    let mut pk_fields = parsed.value(&PK_FIELDS)?.to_vec();
    if pk_mode == PkMode::Kafka && pk_fields.is_empty() {
        pk_fields = ["__connect_topic", "__connect_partition", "__connect_offset"]
            .map(String::from)
            .to_vec();
    }
    Ok(SinkConfig {
        connector: config.get("name").cloned().unwrap_or_default(),
        endpoint,
        connect_retry,
        insert_mode,
        batch_size: parsed.value(&BATCH_SIZE)?.max(1) as usize,
        batch_linger: Duration::from_millis(parsed.value(&BATCH_LINGER)?.max(0) as u64),
        delete_enabled: parsed.value(&DELETE_ENABLED)?,
        table_name_format: parsed.value(&TABLE_NAME_FORMAT)?.to_string(),
        pk_mode,
        pk_fields,
        fields_whitelist: parsed.value(&FIELDS_WHITELIST)?.to_vec(),
        auto_create: parsed.value(&AUTO_CREATE)?,
        auto_evolve: parsed.value(&AUTO_EVOLVE)?,
        quote: parsed
            .value(&QUOTE_IDENTIFIERS)?
            .eq_ignore_ascii_case("always"),
        max_retries: parsed.value(&MAX_RETRIES)?.max(0) as u32,
        retry_backoff: Duration::from_millis(parsed.value(&RETRY_BACKOFF)?.max(0) as u64),
        exactly_once: parsed.value(&EXACTLY_ONCE)?,
        offsets_table: parsed.value(&OFFSETS_TABLE)?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn cross_key_rules() {
        let issues = validate(&map(&[
            ("connection.url", "jdbc:postgresql://h/db"),
            ("delete.enabled", "true"),
            ("insert.mode", "upsert"),
        ]));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["delete.enabled", "pk.mode"], "{issues:?}");
        let issues = validate(&map(&[("connection.url", "mysql://h/db")]));
        assert_eq!(issues[0].key, "connection.url");
        assert!(
            validate(&map(&[
                ("connection.url", "postgres://h/db"),
                ("pk.mode", "kafka")
            ]))
            .is_empty()
        );
    }
}
