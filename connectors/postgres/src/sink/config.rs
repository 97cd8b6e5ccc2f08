//! The sink's config: Confluent JdbcSinkConnector's keys, plus `exactly.once`.

use std::time::Duration;

use ferry_api::config::{Default, Validator};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConfigType, ConfigValue, Importance};

use crate::config::{self as common, boolean, list, long, string};
use crate::connection::{Endpoint, Retry};
use crate::error::Result;

pub(crate) const INSERT_MODE: &str = "insert.mode";
pub(crate) const BATCH_SIZE: &str = "batch.size";
/// Ferry's own: how long records wait for a batch to fill before they are written anyway.
pub(crate) const BATCH_LINGER: &str = "batch.linger.ms";
pub(crate) const DELETE_ENABLED: &str = "delete.enabled";
pub(crate) const TABLE_NAME_FORMAT: &str = "table.name.format";
pub(crate) const PK_MODE: &str = "pk.mode";
pub(crate) const PK_FIELDS: &str = "pk.fields";
pub(crate) const FIELDS_WHITELIST: &str = "fields.whitelist";
pub(crate) const AUTO_CREATE: &str = "auto.create";
pub(crate) const AUTO_EVOLVE: &str = "auto.evolve";
pub(crate) const QUOTE_IDENTIFIERS: &str = "quote.sql.identifiers";
pub(crate) const DB_TIMEZONE: &str = "db.timezone";
pub(crate) const MAX_RETRIES: &str = "max.retries";
pub(crate) const RETRY_BACKOFF: &str = "retry.backoff.ms";
pub(crate) const EXACTLY_ONCE: &str = "exactly.once";
pub(crate) const OFFSETS_TABLE: &str = "exactly.once.offsets.table";

/// Default of [`OFFSETS_TABLE`].
pub(crate) const DEFAULT_OFFSETS_TABLE: &str = "public.ferry_sink_offsets";

pub(crate) fn config_def() -> ConfigDef {
    common::connection_def()
        .define(
            INSERT_MODE,
            ConfigType::String,
            Default::Value(ConfigValue::String("insert".into())),
            Importance::High,
            "The insertion mode to use: insert (plain inserts), upsert (INSERT .. ON CONFLICT DO UPDATE on the primary key), or update (UPDATE of existing rows by primary key).",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["insert", "upsert", "update"]))
        .define(
            BATCH_SIZE,
            ConfigType::Int,
            Default::Value(ConfigValue::Int(3000)),
            Importance::Medium,
            "Specifies how many records to attempt to batch together for insertion into the destination table, when possible. Each batch is one transaction.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            BATCH_LINGER,
            ConfigType::Long,
            Default::Value(ConfigValue::Long(100)),
            Importance::Low,
            "How long records given to the task may wait for more to fill a batch of batch.size before they are written anyway (Ferry's own; 0 writes each delivery as Kafka Connect does). Offsets are never committed ahead of written rows.",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            DELETE_ENABLED,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Medium,
            "Whether to treat null record values as deletes. Requires pk.mode to be record_key.",
        )
        .define(
            TABLE_NAME_FORMAT,
            ConfigType::String,
            Default::Value(ConfigValue::String("${topic}".into())),
            Importance::Medium,
            "A format string for the destination table name, which may contain '${topic}' as a placeholder for the originating topic name. 'schema.table' names a schema.",
        )
        .with_validator(Validator::NonEmptyString)
        .define(
            PK_MODE,
            ConfigType::String,
            Default::Value(ConfigValue::String("none".into())),
            Importance::High,
            "The primary key mode: none, kafka (__connect_topic, __connect_partition, __connect_offset), record_key (fields of the record key), record_value (fields of the record value).",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["none", "kafka", "record_key", "record_value"]))
        .define(
            PK_FIELDS,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "List of comma-separated primary key field names. For kafka: the three column names (default __connect_topic,__connect_partition,__connect_offset); record_key with a primitive key: the one column name; record_key/record_value with a struct: the fields to use (empty: all).",
        )
        .define(
            FIELDS_WHITELIST,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "List of comma-separated record value field names. If empty, all fields from the record value are used.",
        )
        .define(
            AUTO_CREATE,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Medium,
            "Whether to automatically create the destination table based on record schema if it is found to be missing by issuing CREATE.",
        )
        .define(
            AUTO_EVOLVE,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Medium,
            "Whether to automatically add columns in the table schema when found to be missing relative to the record schema by issuing ALTER.",
        )
        .define(
            QUOTE_IDENTIFIERS,
            ConfigType::String,
            Default::Value(ConfigValue::String("always".into())),
            Importance::Medium,
            "When to quote table names, column names and other identifiers in SQL statements: always or never.",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["always", "never"]))
        .define(
            DB_TIMEZONE,
            ConfigType::String,
            Default::Value(ConfigValue::String("UTC".into())),
            Importance::Medium,
            "Name of the time zone used for timestamp columns without a zone. Ferry supports UTC only.",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["UTC", "Z", "Etc/UTC", "GMT"]))
        .define(
            MAX_RETRIES,
            ConfigType::Int,
            Default::Value(ConfigValue::Int(10)),
            Importance::Medium,
            "The maximum number of times to retry on errors before failing the task.",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            RETRY_BACKOFF,
            ConfigType::Int,
            Default::Value(ConfigValue::Int(3000)),
            Importance::Medium,
            "The time in milliseconds to wait following an error before a retry attempt is made.",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            EXACTLY_ONCE,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Medium,
            "Ferry: store the consumed offsets in exactly.once.offsets.table in the same transaction as the rows, and resume from them, so that each record is written exactly once even after a crash.",
        )
        .define(
            OFFSETS_TABLE,
            ConfigType::String,
            Default::Value(ConfigValue::String(DEFAULT_OFFSETS_TABLE.into())),
            Importance::Low,
            "Ferry: the table (created if missing) that keeps the offsets of exactly.once sinks, one row per connector, topic and partition.",
        )
        .with_validator(Validator::NonEmptyString)
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
            key: DELETE_ENABLED.into(),
            value: Some("true".into()),
            message: "deletes need pk.mode=record_key".into(),
        });
    }
    if parsed.insert_mode != InsertMode::Insert && parsed.pk_mode == PkMode::None {
        issues.push(ConfigIssue {
            key: PK_MODE.into(),
            value: Some("none".into()),
            message: format!(
                "insert.mode={} needs a primary key: set pk.mode to kafka, record_key or record_value",
                if parsed.insert_mode == InsertMode::Upsert { "upsert" } else { "update" }
            ),
        });
    }
    if parsed.pk_mode == PkMode::Kafka && !matches!(parsed.pk_fields.len(), 0 | 3) {
        issues.push(ConfigIssue {
            key: PK_FIELDS.into(),
            value: Some(parsed.pk_fields.join(",")),
            message: "pk.mode=kafka takes three column names (topic, partition, offset) or none"
                .into(),
        });
    }
    issues
}

pub(crate) fn parse(config: &ConfigMap) -> Result<SinkConfig, ferry_api::ConnectError> {
    let parsed = config_def().parse_for_use(config)?;
    let (endpoint, connect_retry) = common::connection(&parsed)?;
    let insert_mode = match string(&parsed, INSERT_MODE).to_ascii_lowercase().as_str() {
        "upsert" => InsertMode::Upsert,
        "update" => InsertMode::Update,
        _ => InsertMode::Insert,
    };
    let pk_mode = match string(&parsed, PK_MODE).to_ascii_lowercase().as_str() {
        "kafka" => PkMode::Kafka,
        "record_key" => PkMode::RecordKey,
        "record_value" => PkMode::RecordValue,
        _ => PkMode::None,
    };
    let mut pk_fields = list(&parsed, PK_FIELDS);
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
        batch_size: long(&parsed, BATCH_SIZE).max(1) as usize,
        batch_linger: Duration::from_millis(long(&parsed, BATCH_LINGER).max(0) as u64),
        delete_enabled: boolean(&parsed, DELETE_ENABLED),
        table_name_format: string(&parsed, TABLE_NAME_FORMAT),
        pk_mode,
        pk_fields,
        fields_whitelist: list(&parsed, FIELDS_WHITELIST),
        auto_create: boolean(&parsed, AUTO_CREATE),
        auto_evolve: boolean(&parsed, AUTO_EVOLVE),
        quote: string(&parsed, QUOTE_IDENTIFIERS).eq_ignore_ascii_case("always"),
        max_retries: long(&parsed, MAX_RETRIES).max(0) as u32,
        retry_backoff: Duration::from_millis(long(&parsed, RETRY_BACKOFF).max(0) as u64),
        exactly_once: boolean(&parsed, EXACTLY_ONCE),
        offsets_table: string(&parsed, OFFSETS_TABLE),
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
