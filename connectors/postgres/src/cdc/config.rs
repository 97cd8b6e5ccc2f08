//! The CDC source's config: Debezium PostgresConnector's keys.

use std::time::Duration;

use ferry_api::config::{Default, Validator};
use ferry_api::{
    ConfigDef, ConfigIssue, ConfigMap, ConfigType, ConfigValue, ConnectError, Importance,
};

use crate::config::{boolean, list, long, string};
use crate::connection::Endpoint;
use crate::types::mapping::{DecimalHandling, Profile, TimePrecision};

pub(crate) const HOSTNAME: &str = "database.hostname";
pub(crate) const PORT: &str = "database.port";
pub(crate) const USER: &str = "database.user";
pub(crate) const PASSWORD: &str = "database.password";
pub(crate) const DBNAME: &str = "database.dbname";
pub(crate) const SSLMODE: &str = "database.sslmode";
pub(crate) const TOPIC_PREFIX: &str = "topic.prefix";
pub(crate) const SERVER_NAME: &str = "database.server.name";
pub(crate) const PLUGIN_NAME: &str = "plugin.name";
pub(crate) const SLOT_NAME: &str = "slot.name";
pub(crate) const SLOT_DROP_ON_STOP: &str = "slot.drop.on.stop";
pub(crate) const PUBLICATION_NAME: &str = "publication.name";
pub(crate) const PUBLICATION_AUTOCREATE: &str = "publication.autocreate.mode";
pub(crate) const SNAPSHOT_MODE: &str = "snapshot.mode";
pub(crate) const TABLE_INCLUDE: &str = "table.include.list";
pub(crate) const TABLE_EXCLUDE: &str = "table.exclude.list";
pub(crate) const SCHEMA_INCLUDE: &str = "schema.include.list";
pub(crate) const SCHEMA_EXCLUDE: &str = "schema.exclude.list";
pub(crate) const DECIMAL_HANDLING: &str = "decimal.handling.mode";
pub(crate) const TIME_PRECISION: &str = "time.precision.mode";
pub(crate) const TOMBSTONES: &str = "tombstones.on.delete";
pub(crate) const STATUS_INTERVAL: &str = "status.update.interval.ms";
pub(crate) const MAX_BATCH: &str = "max.batch.size";
pub(crate) const MAX_RETRIES: &str = "errors.max.retries";
pub(crate) const RETRY_WAIT: &str = "retriable.restart.connector.wait.ms";

pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(HOSTNAME, ConfigType::String, Default::Required, Importance::High, "Resolvable hostname or IP address of the database server.")
        .with_validator(Validator::NonEmptyString)
        .define(PORT, ConfigType::Int, Default::Value(ConfigValue::Int(5432)), Importance::High, "Port of the database server.")
        .with_validator(Validator::between(1.0, 65535.0))
        .define(USER, ConfigType::String, Default::Value(ConfigValue::String("postgres".into())), Importance::High, "Name of the database user to be used when connecting to the database (needs the REPLICATION attribute, and to create the publication, ownership of the tables or superuser).")
        .define(PASSWORD, ConfigType::Password, Default::Null, Importance::High, "Password of the database user to be used when connecting to the database.")
        .define(DBNAME, ConfigType::String, Default::Required, Importance::High, "The name of the database from which the connector should capture changes.")
        .with_validator(Validator::NonEmptyString)
        .define(SSLMODE, ConfigType::String, Default::Value(ConfigValue::String("disable".into())), Importance::Medium, "Whether to use an encrypted connection. This build of Ferry connects without TLS: disable only.")
        .with_validator(Validator::OneOf(&["disable", "prefer", "allow"]))
        .define(TOPIC_PREFIX, ConfigType::String, Default::Null, Importance::High, "Topic prefix that identifies and provides a namespace for the particular database server/cluster that is capturing changes. Topics are <prefix>.<schema>.<table>; the source partition is {\"server\": <prefix>}.")
        .define(SERVER_NAME, ConfigType::String, Default::Null, Importance::Low, "Deprecated (Debezium 1.x): the topic prefix.")
        .define(PLUGIN_NAME, ConfigType::String, Default::Value(ConfigValue::String("pgoutput".into())), Importance::Medium, "The name of the Postgres logical decoding plugin installed on the server. Ferry supports the built-in pgoutput only.")
        .with_validator(Validator::OneOf(&["pgoutput"]))
        .define(SLOT_NAME, ConfigType::String, Default::Value(ConfigValue::String("debezium".into())), Importance::Medium, "The name of the Postgres logical decoding slot created for streaming changes from a plugin.")
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::String(s) if s.is_empty() || !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') => {
                Err("a slot name of lower case letters, digits and underscores".into())
            }
            _ => Ok(()),
        }))
        .define(SLOT_DROP_ON_STOP, ConfigType::Boolean, Default::Value(ConfigValue::Boolean(false)), Importance::Low, "Whether or not to drop the logical replication slot when the connector finishes orderly. Only for tests: changes made while the connector is stopped are then lost.")
        .define(PUBLICATION_NAME, ConfigType::String, Default::Value(ConfigValue::String("dbz_publication".into())), Importance::Low, "The name of the Postgres publication used for streaming changes.")
        .with_validator(Validator::NonEmptyString)
        .define(PUBLICATION_AUTOCREATE, ConfigType::String, Default::Value(ConfigValue::String("all_tables".into())), Importance::Low, "Applies only when streaming changes using pgoutput. all_tables: create a publication for all tables if it does not exist; disabled: the publication must exist; filtered: create (or update) it for the tables of table.include.list / schema.include.list.")
        .with_validator(Validator::OneOf(&["all_tables", "disabled", "filtered"]))
        .define(SNAPSHOT_MODE, ConfigType::String, Default::Value(ConfigValue::String("initial".into())), Importance::Medium, "The criteria for running a snapshot upon startup of the connector: initial (a consistent snapshot of the captured tables when no offset exists, then streaming), no_data (streaming only; never is a deprecated alias).")
        .with_validator(Validator::OneOf(&["initial", "no_data", "never"]))
        .define(TABLE_INCLUDE, ConfigType::List, Default::Value(ConfigValue::List(vec![])), Importance::High, "Regular expressions matching fully-qualified names (schema.table) of the tables whose changes are captured. Empty: all.")
        .define(TABLE_EXCLUDE, ConfigType::List, Default::Value(ConfigValue::List(vec![])), Importance::Medium, "Regular expressions matching fully-qualified names of tables not to capture.")
        .define(SCHEMA_INCLUDE, ConfigType::List, Default::Value(ConfigValue::List(vec![])), Importance::Medium, "Regular expressions matching the schemas whose tables are captured. Empty: all but the system schemas.")
        .define(SCHEMA_EXCLUDE, ConfigType::List, Default::Value(ConfigValue::List(vec![])), Importance::Medium, "Regular expressions matching schemas not to capture.")
        .define(DECIMAL_HANDLING, ConfigType::String, Default::Value(ConfigValue::String("precise".into())), Importance::Medium, "How numeric values are represented: precise (Decimal; numeric without a scale as io.debezium.data.VariableScaleDecimal), double (FLOAT64) or string.")
        .with_validator(Validator::OneOf(&["precise", "double", "string"]))
        .define(TIME_PRECISION, ConfigType::String, Default::Value(ConfigValue::String("adaptive".into())), Importance::Medium, "Time, date and timestamps can be represented with different kinds of precisions: adaptive (io.debezium.time types by column precision, microseconds kept), adaptive_time_microseconds, connect (Connect's logical types, milliseconds).")
        .with_validator(Validator::OneOf(&["adaptive", "adaptive_time_microseconds", "connect"]))
        .define(TOMBSTONES, ConfigType::Boolean, Default::Value(ConfigValue::Boolean(true)), Importance::Medium, "Whether delete operations should be represented by a delete event and a subsequent tombstone event (true) or only by a delete event (false).")
        .define(STATUS_INTERVAL, ConfigType::Int, Default::Value(ConfigValue::Int(10_000)), Importance::Low, "Frequency for sending replication connection status updates to the server, in milliseconds.")
        .with_validator(Validator::at_least(1.0))
        .define(MAX_BATCH, ConfigType::Int, Default::Value(ConfigValue::Int(2048)), Importance::Medium, "Maximum size of each batch of source records.")
        .with_validator(Validator::at_least(1.0))
        .define(MAX_RETRIES, ConfigType::Int, Default::Value(ConfigValue::Int(-1)), Importance::Low, "The maximum number of retries on connection errors before failing (-1 = no limit, 0 = disabled, > 0 = num of retries).")
        .with_validator(Validator::at_least(-1.0))
        .define(RETRY_WAIT, ConfigType::Long, Default::Value(ConfigValue::Long(10_000)), Importance::Low, "Time to wait before reconnecting after a retriable error, in milliseconds.")
        .with_validator(Validator::at_least(0.0))
}

/// `snapshot.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotMode {
    Initial,
    NoData,
}

/// `publication.autocreate.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublicationMode {
    AllTables,
    Disabled,
    Filtered,
}

/// The parsed CDC config.
#[derive(Debug, Clone)]
pub(crate) struct CdcConfig {
    pub(crate) connector: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) prefix: String,
    pub(crate) slot: String,
    pub(crate) drop_slot_on_stop: bool,
    pub(crate) publication: String,
    pub(crate) publication_mode: PublicationMode,
    pub(crate) snapshot: SnapshotMode,
    pub(crate) table_include: Vec<regex_lite::Regex>,
    pub(crate) table_exclude: Vec<regex_lite::Regex>,
    pub(crate) schema_include: Vec<regex_lite::Regex>,
    pub(crate) schema_exclude: Vec<regex_lite::Regex>,
    pub(crate) profile: Profile,
    pub(crate) tombstones: bool,
    pub(crate) status_interval: Duration,
    pub(crate) max_batch: usize,
    /// `None`: retry forever.
    pub(crate) max_retries: Option<u32>,
    pub(crate) retry_wait: Duration,
}

fn regexes(items: &[String]) -> Result<Vec<regex_lite::Regex>, String> {
    items
        .iter()
        .map(|p| regex_lite::Regex::new(&format!("^(?:{p})$")).map_err(|e| format!("\"{p}\": {e}")))
        .collect()
}

impl CdcConfig {
    /// Whether `schema.table` is captured.
    pub(crate) fn captures(&self, schema: &str, table: &str) -> bool {
        let full = format!("{schema}.{table}");
        let any = |list: &[regex_lite::Regex], s: &str| list.iter().any(|r| r.is_match(s));
        (self.schema_include.is_empty() || any(&self.schema_include, schema))
            && !any(&self.schema_exclude, schema)
            && (self.table_include.is_empty() || any(&self.table_include, &full))
            && !any(&self.table_exclude, &full)
    }
}

pub(crate) fn parse(config: &ConfigMap) -> Result<CdcConfig, ConnectError> {
    let parsed = config_def().parse_for_use(config)?;
    let prefix = parsed
        .string(TOPIC_PREFIX)
        .ok()
        .flatten()
        .or(parsed.string(SERVER_NAME).ok().flatten())
        .unwrap_or_default()
        .to_string();
    let re = |key: &str| {
        regexes(&list(&parsed, key)).map_err(|e| ConnectError::Config(format!("{key}: {e}")))
    };
    let retries = long(&parsed, MAX_RETRIES);
    Ok(CdcConfig {
        connector: config.get("name").cloned().unwrap_or_default(),
        endpoint: Endpoint {
            host: string(&parsed, HOSTNAME),
            port: long(&parsed, PORT) as u16,
            database: string(&parsed, DBNAME),
            user: string(&parsed, USER),
            password: parsed.string(PASSWORD).ok().flatten().map(str::to_string),
        },
        prefix,
        slot: string(&parsed, SLOT_NAME),
        drop_slot_on_stop: boolean(&parsed, SLOT_DROP_ON_STOP),
        publication: string(&parsed, PUBLICATION_NAME),
        publication_mode: match string(&parsed, PUBLICATION_AUTOCREATE).as_str() {
            "disabled" => PublicationMode::Disabled,
            "filtered" => PublicationMode::Filtered,
            _ => PublicationMode::AllTables,
        },
        snapshot: match string(&parsed, SNAPSHOT_MODE).as_str() {
            "no_data" | "never" => SnapshotMode::NoData,
            _ => SnapshotMode::Initial,
        },
        table_include: re(TABLE_INCLUDE)?,
        table_exclude: re(TABLE_EXCLUDE)?,
        schema_include: re(SCHEMA_INCLUDE)?,
        schema_exclude: re(SCHEMA_EXCLUDE)?,
        profile: Profile::Debezium {
            decimal: match string(&parsed, DECIMAL_HANDLING).as_str() {
                "double" => DecimalHandling::Double,
                "string" => DecimalHandling::String,
                _ => DecimalHandling::Precise,
            },
            time: match string(&parsed, TIME_PRECISION).as_str() {
                "adaptive_time_microseconds" => TimePrecision::AdaptiveTimeMicroseconds,
                "connect" => TimePrecision::Connect,
                _ => TimePrecision::Adaptive,
            },
        },
        tombstones: boolean(&parsed, TOMBSTONES),
        status_interval: Duration::from_millis(long(&parsed, STATUS_INTERVAL).max(1) as u64),
        max_batch: long(&parsed, MAX_BATCH).max(1) as usize,
        max_retries: (retries >= 0).then_some(retries as u32),
        retry_wait: Duration::from_millis(long(&parsed, RETRY_WAIT).max(0) as u64),
    })
}

/// Cross-key rules: a topic prefix; valid regular expressions.
pub(crate) fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
    let mut issues = config_def().validate(config);
    let given = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
    if !given(TOPIC_PREFIX) && !given(SERVER_NAME) {
        issues.push(ConfigIssue {
            key: TOPIC_PREFIX.into(),
            value: None,
            message:
                "missing required key: the prefix of the topic names (<prefix>.<schema>.<table>)"
                    .into(),
        });
    }
    for key in [TABLE_INCLUDE, TABLE_EXCLUDE, SCHEMA_INCLUDE, SCHEMA_EXCLUDE] {
        if let Some(v) = config.get(key) {
            let items: Vec<String> = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Err(e) = regexes(&items) {
                issues.push(ConfigIssue {
                    key: key.into(),
                    value: Some(v.clone()),
                    message: format!("expected regular expressions: {e}"),
                });
            }
        }
    }
    issues
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
    fn debezium_keys() {
        let m = map(&[
            ("database.hostname", "h"),
            ("database.dbname", "db"),
            ("topic.prefix", "srv"),
            ("table.include.list", "public\\.orders,inv\\..*"),
            ("snapshot.mode", "never"),
        ]);
        assert!(validate(&m).is_empty(), "{:?}", validate(&m));
        let c = parse(&m).unwrap();
        assert_eq!(c.snapshot, SnapshotMode::NoData);
        assert!(c.captures("public", "orders") && c.captures("inv", "items"));
        assert!(!c.captures("public", "orders2"));
        let bad = map(&[
            ("database.hostname", "h"),
            ("database.dbname", "db"),
            ("plugin.name", "wal2json"),
            ("table.include.list", "("),
        ]);
        let keys: Vec<String> = validate(&bad).into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["plugin.name", "topic.prefix", "table.include.list"]);
    }
}
