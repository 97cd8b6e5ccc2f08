//! The CDC source's config: Debezium PostgresConnector's keys.

use std::time::Duration;

use ferry_api::config::{Bool, Int, Key, List, Long, Opt, Password, Str, Validator};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConfigValue, ConnectError, Importance};

use crate::connection::Endpoint;
use crate::types::mapping::{DecimalHandling, Profile, TimePrecision};

use Importance::{High, Low, Medium};

pub(crate) const HOSTNAME: Key<Str> = Key::required(
    "database.hostname",
    High,
    "Resolvable hostname or IP address of the database server.",
)
.with_validator(Validator::NonEmptyString);
pub(crate) const PORT: Key<Int> =
    Key::new("database.port", 5432, High, "Port of the database server.")
        .with_validator(Validator::between(1.0, 65535.0));
pub(crate) const USER: Key<Str> = Key::new(
    "database.user",
    "postgres",
    High,
    "Name of the database user to be used when connecting to the database (needs the REPLICATION attribute, and to create the publication, ownership of the tables or superuser).",
);
pub(crate) const PASSWORD: Key<Opt<Password>> = Key::optional(
    "database.password",
    High,
    "Password of the database user to be used when connecting to the database.",
);
pub(crate) const DBNAME: Key<Str> = Key::required(
    "database.dbname",
    High,
    "The name of the database from which the connector should capture changes.",
)
.with_validator(Validator::NonEmptyString);
pub(crate) const SSLMODE: Key<Str> = Key::new(
    "database.sslmode",
    "disable",
    Medium,
    "Whether to use an encrypted connection. This build of Ferry connects without TLS: disable only.",
)
.with_validator(Validator::OneOf(&["disable", "prefer", "allow"]));
pub(crate) const TOPIC_PREFIX: Key<Opt<Str>> = Key::optional(
    "topic.prefix",
    High,
    "Topic prefix that identifies and provides a namespace for the particular database server/cluster that is capturing changes. Topics are <prefix>.<schema>.<table>; the source partition is {\"server\": <prefix>}.",
);
pub(crate) const SERVER_NAME: Key<Opt<Str>> = Key::optional(
    "database.server.name",
    Low,
    "Deprecated (Debezium 1.x): the topic prefix.",
);
pub(crate) const PLUGIN_NAME: Key<Str> = Key::new(
    "plugin.name",
    "pgoutput",
    Medium,
    "The name of the Postgres logical decoding plugin installed on the server. Ferry supports the built-in pgoutput only.",
)
.with_validator(Validator::OneOf(&["pgoutput"]));
pub(crate) const SLOT_NAME: Key<Str> = Key::new(
    "slot.name",
    "debezium",
    Medium,
    "The name of the Postgres logical decoding slot created for streaming changes from a plugin.",
)
.with_validator(Validator::custom(
    "lower case letters, digits and underscores",
    |v| match v {
        ConfigValue::String(s)
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Err("a slot name of lower case letters, digits and underscores".into())
        }
        _ => Ok(()),
    },
));
pub(crate) const SLOT_DROP_ON_STOP: Key<Bool> = Key::new(
    "slot.drop.on.stop",
    false,
    Low,
    "Whether or not to drop the logical replication slot when the connector finishes orderly. Only for tests: changes made while the connector is stopped are then lost.",
);
pub(crate) const PUBLICATION_NAME: Key<Str> = Key::new(
    "publication.name",
    "dbz_publication",
    Low,
    "The name of the Postgres publication used for streaming changes.",
)
.with_validator(Validator::NonEmptyString);
pub(crate) const PUBLICATION_AUTOCREATE: Key<Str> = Key::new(
    "publication.autocreate.mode",
    "all_tables",
    Low,
    "Applies only when streaming changes using pgoutput. all_tables: create a publication for all tables if it does not exist; disabled: the publication must exist; filtered: create (or update) it for the tables of table.include.list / schema.include.list.",
)
.with_validator(Validator::OneOf(&["all_tables", "disabled", "filtered"]));
pub(crate) const SNAPSHOT_MODE: Key<Str> = Key::new(
    "snapshot.mode",
    "initial",
    Medium,
    "The criteria for running a snapshot upon startup of the connector: initial (a consistent snapshot of the captured tables when no offset exists, then streaming), no_data (streaming only; never is a deprecated alias).",
)
.with_validator(Validator::OneOf(&["initial", "no_data", "never"]));
pub(crate) const TABLE_INCLUDE: Key<List> = Key::<List>::new(
    "table.include.list",
    &[],
    High,
    "Regular expressions matching fully-qualified names (schema.table) of the tables whose changes are captured. Empty: all.",
);
pub(crate) const TABLE_EXCLUDE: Key<List> = Key::<List>::new(
    "table.exclude.list",
    &[],
    Medium,
    "Regular expressions matching fully-qualified names of tables not to capture.",
);
pub(crate) const SCHEMA_INCLUDE: Key<List> = Key::<List>::new(
    "schema.include.list",
    &[],
    Medium,
    "Regular expressions matching the schemas whose tables are captured. Empty: all but the system schemas.",
);
pub(crate) const SCHEMA_EXCLUDE: Key<List> = Key::<List>::new(
    "schema.exclude.list",
    &[],
    Medium,
    "Regular expressions matching schemas not to capture.",
);
pub(crate) const DECIMAL_HANDLING: Key<Str> = Key::new(
    "decimal.handling.mode",
    "precise",
    Medium,
    "How numeric values are represented: precise (Decimal; numeric without a scale as io.debezium.data.VariableScaleDecimal), double (FLOAT64) or string.",
)
.with_validator(Validator::OneOf(&["precise", "double", "string"]));
pub(crate) const TIME_PRECISION: Key<Str> = Key::new(
    "time.precision.mode",
    "adaptive",
    Medium,
    "Time, date and timestamps can be represented with different kinds of precisions: adaptive (io.debezium.time types by column precision, microseconds kept), adaptive_time_microseconds, connect (Connect's logical types, milliseconds).",
)
.with_validator(Validator::OneOf(&[
    "adaptive",
    "adaptive_time_microseconds",
    "connect",
]));
pub(crate) const TOMBSTONES: Key<Bool> = Key::new(
    "tombstones.on.delete",
    true,
    Medium,
    "Whether delete operations should be represented by a delete event and a subsequent tombstone event (true) or only by a delete event (false).",
);
pub(crate) const STATUS_INTERVAL: Key<Int> = Key::new(
    "status.update.interval.ms",
    10_000,
    Low,
    "Frequency for sending replication connection status updates to the server, in milliseconds.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const MAX_BATCH: Key<Int> = Key::new(
    "max.batch.size",
    2048,
    Medium,
    "Maximum size of each batch of source records.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const MAX_RETRIES: Key<Int> = Key::new(
    "errors.max.retries",
    -1,
    Low,
    "The maximum number of retries on connection errors before failing (-1 = no limit, 0 = disabled, > 0 = num of retries).",
)
.with_validator(Validator::at_least(-1.0));
pub(crate) const RETRY_WAIT: Key<Long> = Key::new(
    "retriable.restart.connector.wait.ms",
    10_000,
    Low,
    "Time to wait before reconnecting after a retriable error, in milliseconds.",
)
.with_validator(Validator::at_least(0.0));

pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        .declare(&HOSTNAME)
        .declare(&PORT)
        .declare(&USER)
        .declare(&PASSWORD)
        .declare(&DBNAME)
        .declare(&SSLMODE)
        .declare(&TOPIC_PREFIX)
        .declare(&SERVER_NAME)
        .declare(&PLUGIN_NAME)
        .declare(&SLOT_NAME)
        .declare(&SLOT_DROP_ON_STOP)
        .declare(&PUBLICATION_NAME)
        .declare(&PUBLICATION_AUTOCREATE)
        .declare(&SNAPSHOT_MODE)
        .declare(&TABLE_INCLUDE)
        .declare(&TABLE_EXCLUDE)
        .declare(&SCHEMA_INCLUDE)
        .declare(&SCHEMA_EXCLUDE)
        .declare(&DECIMAL_HANDLING)
        .declare(&TIME_PRECISION)
        .declare(&TOMBSTONES)
        .declare(&STATUS_INTERVAL)
        .declare(&MAX_BATCH)
        .declare(&MAX_RETRIES)
        .declare(&RETRY_WAIT)
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
        .value(&TOPIC_PREFIX)?
        .or(parsed.value(&SERVER_NAME)?)
        .unwrap_or_default()
        .to_string();
    let re = |key: &Key<List>| -> Result<Vec<regex_lite::Regex>, ConnectError> {
        regexes(parsed.value(key)?).map_err(|e| ConnectError::Config(format!("{key}: {e}")))
    };
    let retries = parsed.value(&MAX_RETRIES)?;
    Ok(CdcConfig {
        connector: config.get("name").cloned().unwrap_or_default(),
        endpoint: Endpoint {
            host: parsed.value(&HOSTNAME)?.to_string(),
            port: parsed.value(&PORT)? as u16,
            database: parsed.value(&DBNAME)?.to_string(),
            user: parsed.value(&USER)?.to_string(),
            password: parsed.value(&PASSWORD)?.map(str::to_string),
        },
        prefix,
        slot: parsed.value(&SLOT_NAME)?.to_string(),
        drop_slot_on_stop: parsed.value(&SLOT_DROP_ON_STOP)?,
        publication: parsed.value(&PUBLICATION_NAME)?.to_string(),
        publication_mode: match parsed.value(&PUBLICATION_AUTOCREATE)? {
            "disabled" => PublicationMode::Disabled,
            "filtered" => PublicationMode::Filtered,
            _ => PublicationMode::AllTables,
        },
        snapshot: match parsed.value(&SNAPSHOT_MODE)? {
            "no_data" | "never" => SnapshotMode::NoData,
            _ => SnapshotMode::Initial,
        },
        table_include: re(&TABLE_INCLUDE)?,
        table_exclude: re(&TABLE_EXCLUDE)?,
        schema_include: re(&SCHEMA_INCLUDE)?,
        schema_exclude: re(&SCHEMA_EXCLUDE)?,
        profile: Profile::Debezium {
            decimal: match parsed.value(&DECIMAL_HANDLING)? {
                "double" => DecimalHandling::Double,
                "string" => DecimalHandling::String,
                _ => DecimalHandling::Precise,
            },
            time: match parsed.value(&TIME_PRECISION)? {
                "adaptive_time_microseconds" => TimePrecision::AdaptiveTimeMicroseconds,
                "connect" => TimePrecision::Connect,
                _ => TimePrecision::Adaptive,
            },
        },
        tombstones: parsed.value(&TOMBSTONES)?,
        status_interval: Duration::from_millis(parsed.value(&STATUS_INTERVAL)?.max(1) as u64),
        max_batch: parsed.value(&MAX_BATCH)?.max(1) as usize,
        max_retries: u32::try_from(retries).ok(),
        retry_wait: Duration::from_millis(parsed.value(&RETRY_WAIT)?.max(0) as u64),
    })
}

/// Cross-key rules: a topic prefix; valid regular expressions.
pub(crate) fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
    let mut issues = config_def().validate(config);
    let given = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
    if !given(TOPIC_PREFIX.name()) && !given(SERVER_NAME.name()) {
        issues.push(ConfigIssue {
            key: TOPIC_PREFIX.to_string(),
            value: None,
            message:
                "missing required key: the prefix of the topic names (<prefix>.<schema>.<table>)"
                    .into(),
        });
    }
    for key in [TABLE_INCLUDE, TABLE_EXCLUDE, SCHEMA_INCLUDE, SCHEMA_EXCLUDE] {
        if let Some(v) = config.get(key.name()) {
            let items: Vec<String> = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if let Err(e) = regexes(&items) {
                issues.push(ConfigIssue {
                    key: key.to_string(),
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
