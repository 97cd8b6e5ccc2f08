//! The JDBC-style source's config: Confluent JdbcSourceConnector's keys.

use std::time::Duration;

use ferry_api::config::{Default, Validator};
use ferry_api::{
    ConfigDef, ConfigIssue, ConfigMap, ConfigType, ConfigValue, ConnectError, Importance,
};

use crate::config::{self as common, boolean, list, long, string};
use crate::connection::{Endpoint, Retry};
use crate::types::mapping::{NumericMapping, Profile, TimestampGranularity};

pub(crate) const MODE: &str = "mode";
pub(crate) const INCREMENTING_COLUMN: &str = "incrementing.column.name";
pub(crate) const TIMESTAMP_COLUMN: &str = "timestamp.column.name";
pub(crate) const TIMESTAMP_DELAY: &str = "timestamp.delay.interval.ms";
pub(crate) const TIMESTAMP_INITIAL: &str = "timestamp.initial";
pub(crate) const VALIDATE_NON_NULL: &str = "validate.non.null";
pub(crate) const TABLE_WHITELIST: &str = "table.whitelist";
pub(crate) const TABLE_INCLUDE_LIST: &str = "table.include.list";
pub(crate) const TABLE_BLACKLIST: &str = "table.blacklist";
pub(crate) const TABLE_EXCLUDE_LIST: &str = "table.exclude.list";
pub(crate) const TABLE_TYPES: &str = "table.types";
pub(crate) const SCHEMA_PATTERN: &str = "schema.pattern";
pub(crate) const QUERY: &str = "query";
pub(crate) const QUERY_SUFFIX: &str = "query.suffix";
pub(crate) const TOPIC_PREFIX: &str = "topic.prefix";
pub(crate) const POLL_INTERVAL: &str = "poll.interval.ms";
pub(crate) const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub(crate) const TABLE_POLL_INTERVAL: &str = "table.poll.interval.ms";
pub(crate) const NUMERIC_MAPPING: &str = "numeric.mapping";
pub(crate) const NUMERIC_PRECISION_MAPPING: &str = "numeric.precision.mapping";
pub(crate) const TIMESTAMP_GRANULARITY: &str = "timestamp.granularity";
pub(crate) const DB_TIMEZONE: &str = "db.timezone";
pub(crate) const QUOTE_IDENTIFIERS: &str = "quote.sql.identifiers";
/// Set by the connector in each task config: the tables of that task.
pub(crate) const TASK_TABLES: &str = "tables";

pub(crate) fn config_def() -> ConfigDef {
    common::connection_def()
        .define(
            MODE,
            ConfigType::String,
            Default::Required,
            Importance::High,
            "The mode for updating a table each time it is polled: bulk (the whole table each time), incrementing (a strictly incrementing column finds new rows), timestamp (a timestamp column finds new and modified rows), timestamp+incrementing (both: new and modified rows, exactly once).",
        )
        .with_validator(Validator::OneOf(&["bulk", "incrementing", "timestamp", "timestamp+incrementing"]))
        .define(
            INCREMENTING_COLUMN,
            ConfigType::String,
            Default::Value(ConfigValue::String(String::new())),
            Importance::Medium,
            "The name of the strictly incrementing column to use to detect new rows.",
        )
        .define(
            TIMESTAMP_COLUMN,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "Comma separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL function.",
        )
        .define(
            TIMESTAMP_DELAY,
            ConfigType::Long,
            Default::Value(ConfigValue::Long(0)),
            Importance::High,
            "How long to wait after a row with certain timestamp appears before we include it in the result, to give transactions with earlier timestamps time to complete.",
        )
        .with_validator(Validator::at_least(0.0))
        .define(
            TIMESTAMP_INITIAL,
            ConfigType::Long,
            Default::Null,
            Importance::Low,
            "The epoch timestamp in milliseconds used for initial queries that use timestamp criteria. Use -1 to use the current time. If not specified, all data will be retrieved.",
        )
        .define(
            VALIDATE_NON_NULL,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(true)),
            Importance::Low,
            "By default, the connector checks that the incrementing and timestamp columns are NOT NULL. Disable to skip that check.",
        )
        .define(
            TABLE_WHITELIST,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "List of tables to include in copying (table or schema.table). Use a comma-separated list to specify multiple tables.",
        )
        .define(
            TABLE_INCLUDE_LIST,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "The newer name of table.whitelist.",
        )
        .define(
            TABLE_BLACKLIST,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "List of tables to exclude from copying.",
        )
        .define(
            TABLE_EXCLUDE_LIST,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Medium,
            "The newer name of table.blacklist.",
        )
        .define(
            TABLE_TYPES,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec!["TABLE".into()])),
            Importance::Low,
            "The types of tables to include in copying: TABLE, VIEW, MATERIALIZED VIEW, PARTITIONED TABLE.",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["TABLE", "VIEW", "MATERIALIZED VIEW", "PARTITIONED TABLE"]))
        .define(
            SCHEMA_PATTERN,
            ConfigType::String,
            Default::Null,
            Importance::Medium,
            "Schema pattern to fetch table metadata from the database (SQL LIKE: % and _ are wildcards). Unset: every schema but the system ones.",
        )
        .define(
            QUERY,
            ConfigType::String,
            Default::Value(ConfigValue::String(String::new())),
            Importance::Medium,
            "If specified, the query to perform to select new or updated rows instead of whole tables. Its incrementing and timestamp criteria are added around it.",
        )
        .define(
            QUERY_SUFFIX,
            ConfigType::String,
            Default::Value(ConfigValue::String(String::new())),
            Importance::Low,
            "Suffix to append at the end of the generated query.",
        )
        .define(
            TOPIC_PREFIX,
            ConfigType::String,
            Default::Required,
            Importance::High,
            "Prefix to prepend to table names to generate the name of the Kafka topic to publish data to, or in the case of a custom query, the full name of the topic to publish to.",
        )
        .define(
            POLL_INTERVAL,
            ConfigType::Int,
            Default::Value(ConfigValue::Int(5000)),
            Importance::High,
            "Frequency in ms to poll for new data in each table.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            BATCH_MAX_ROWS,
            ConfigType::Int,
            Default::Value(ConfigValue::Int(100)),
            Importance::Low,
            "Maximum number of rows to include in a single batch when polling for new data.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            TABLE_POLL_INTERVAL,
            ConfigType::Long,
            Default::Value(ConfigValue::Long(60_000)),
            Importance::Low,
            "Frequency in ms to poll for new or removed tables, which may result in updated task configurations to start polling for data in added tables or stop polling for data in removed tables.",
        )
        .with_validator(Validator::at_least(1.0))
        .define(
            NUMERIC_MAPPING,
            ConfigType::String,
            Default::Null,
            Importance::Low,
            "Map NUMERIC values by precision and optionally scale to integral or decimal types: none (Decimal; unconstrained numeric as exact text), precision_only (numeric(p,0) to INT8..INT64), best_fit (also to FLOAT64 when not integral).",
        )
        .with_validator(Validator::OneOf(&["none", "precision_only", "best_fit", "best_fit_eager_double"]))
        .define(
            NUMERIC_PRECISION_MAPPING,
            ConfigType::Boolean,
            Default::Value(ConfigValue::Boolean(false)),
            Importance::Low,
            "Deprecated: numeric.mapping=precision_only.",
        )
        .define(
            TIMESTAMP_GRANULARITY,
            ConfigType::String,
            Default::Value(ConfigValue::String("connect_logical".into())),
            Importance::Low,
            "How timestamps are represented: connect_logical (Connect Timestamp, milliseconds), nanos_long (INT64 nanoseconds), nanos_string (nanoseconds as text), nanos_iso_datetime_string (yyyy-MM-dd'T'HH:mm:ss.n). The last three keep microseconds.",
        )
        .with_validator(Validator::OneOf(&["connect_logical", "nanos_long", "nanos_string", "nanos_iso_datetime_string"]))
        .define(
            DB_TIMEZONE,
            ConfigType::String,
            Default::Value(ConfigValue::String("UTC".into())),
            Importance::Medium,
            "Name of the time zone of timestamp columns without a zone. Ferry supports UTC only.",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["UTC", "Z", "Etc/UTC", "GMT"]))
        .define(
            QUOTE_IDENTIFIERS,
            ConfigType::String,
            Default::Value(ConfigValue::String("always".into())),
            Importance::Medium,
            "When to quote table names, column names and other identifiers in SQL statements: always or never.",
        )
        .with_validator(Validator::OneOfIgnoreCase(&["always", "never"]))
        .define(
            TASK_TABLES,
            ConfigType::List,
            Default::Value(ConfigValue::List(vec![])),
            Importance::Low,
            "Set by the connector in each task's config: the tables that task reads.",
        )
}

/// `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    pub(crate) fn incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }
    pub(crate) fn timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

/// The parsed source config.
#[derive(Debug, Clone)]
pub(crate) struct SourceConfig {
    pub(crate) connector: String,
    pub(crate) endpoint: Endpoint,
    pub(crate) connect_retry: Retry,
    pub(crate) mode: Mode,
    pub(crate) incrementing_column: String,
    pub(crate) timestamp_columns: Vec<String>,
    pub(crate) timestamp_delay: Duration,
    pub(crate) timestamp_initial: Option<i64>,
    pub(crate) validate_non_null: bool,
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) relkinds: Vec<char>,
    pub(crate) schema_pattern: Option<String>,
    pub(crate) query: String,
    pub(crate) query_suffix: String,
    pub(crate) topic_prefix: String,
    pub(crate) poll_interval: Duration,
    pub(crate) batch_max_rows: usize,
    pub(crate) table_poll_interval: Duration,
    pub(crate) profile: Profile,
    pub(crate) quote: bool,
    pub(crate) task_tables: Vec<String>,
}

pub(crate) fn parse(config: &ConfigMap) -> Result<SourceConfig, ConnectError> {
    let parsed = config_def().parse_for_use(config)?;
    let (endpoint, connect_retry) = common::connection(&parsed)?;
    let mode = match string(&parsed, MODE).as_str() {
        "incrementing" => Mode::Incrementing,
        "timestamp" => Mode::Timestamp,
        "timestamp+incrementing" => Mode::TimestampIncrementing,
        _ => Mode::Bulk,
    };
    let mut include = list(&parsed, TABLE_WHITELIST);
    include.extend(list(&parsed, TABLE_INCLUDE_LIST));
    let mut exclude = list(&parsed, TABLE_BLACKLIST);
    exclude.extend(list(&parsed, TABLE_EXCLUDE_LIST));
    let relkinds = list(&parsed, TABLE_TYPES)
        .iter()
        .map(|t| match t.to_ascii_uppercase().as_str() {
            "VIEW" => 'v',
            "MATERIALIZED VIEW" => 'm',
            "PARTITIONED TABLE" => 'p',
            _ => 'r',
        })
        .collect();
    let numeric = match parsed.string(NUMERIC_MAPPING).ok().flatten() {
        Some("best_fit") | Some("best_fit_eager_double") => NumericMapping::BestFit,
        Some("precision_only") => NumericMapping::PrecisionOnly,
        Some(_) => NumericMapping::None,
        None if boolean(&parsed, NUMERIC_PRECISION_MAPPING) => NumericMapping::PrecisionOnly,
        None => NumericMapping::None,
    };
    let timestamps = match string(&parsed, TIMESTAMP_GRANULARITY).as_str() {
        "nanos_long" => TimestampGranularity::NanosLong,
        "nanos_string" => TimestampGranularity::NanosString,
        "nanos_iso_datetime_string" => TimestampGranularity::NanosIsoDatetimeString,
        _ => TimestampGranularity::ConnectLogical,
    };
    Ok(SourceConfig {
        connector: config.get("name").cloned().unwrap_or_default(),
        endpoint,
        connect_retry,
        mode,
        incrementing_column: string(&parsed, INCREMENTING_COLUMN),
        timestamp_columns: list(&parsed, TIMESTAMP_COLUMN),
        timestamp_delay: Duration::from_millis(long(&parsed, TIMESTAMP_DELAY).max(0) as u64),
        timestamp_initial: parsed.long(TIMESTAMP_INITIAL).ok().flatten(),
        validate_non_null: boolean(&parsed, VALIDATE_NON_NULL),
        include,
        exclude,
        relkinds,
        schema_pattern: parsed
            .string(SCHEMA_PATTERN)
            .ok()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        query: string(&parsed, QUERY),
        query_suffix: string(&parsed, QUERY_SUFFIX),
        topic_prefix: string(&parsed, TOPIC_PREFIX),
        poll_interval: Duration::from_millis(long(&parsed, POLL_INTERVAL).max(1) as u64),
        batch_max_rows: long(&parsed, BATCH_MAX_ROWS).max(1) as usize,
        table_poll_interval: Duration::from_millis(long(&parsed, TABLE_POLL_INTERVAL).max(1) as u64),
        profile: Profile::Jdbc {
            numeric,
            timestamps,
        },
        quote: string(&parsed, QUOTE_IDENTIFIERS).eq_ignore_ascii_case("always"),
        task_tables: list(&parsed, TASK_TABLES),
    })
}

/// Cross-key rules, as Confluent's: the mode's columns are given; a query excludes table
/// lists; whitelist and blacklist exclude each other.
pub(crate) fn validate(config: &ConfigMap) -> Vec<ConfigIssue> {
    let mut issues = config_def().validate(config);
    if !issues.is_empty() {
        return issues;
    }
    let Ok(c) = parse(config) else {
        return issues;
    };
    let issue = |key: &str, message: &str| ConfigIssue {
        key: key.to_string(),
        value: config.get(key).cloned(),
        message: message.to_string(),
    };
    if c.mode.incrementing() && c.incrementing_column.is_empty() {
        issues.push(issue(
            INCREMENTING_COLUMN,
            "must be given in incrementing and timestamp+incrementing modes",
        ));
    }
    if c.mode.timestamp() && c.timestamp_columns.is_empty() {
        issues.push(issue(
            TIMESTAMP_COLUMN,
            "must be given in timestamp and timestamp+incrementing modes",
        ));
    }
    if !c.include.is_empty() && !c.exclude.is_empty() {
        issues.push(issue(
            TABLE_BLACKLIST,
            "cannot be given together with table.whitelist (table.include.list)",
        ));
    }
    if !c.query.trim().is_empty() && (!c.include.is_empty() || !c.exclude.is_empty()) {
        issues.push(issue(
            QUERY,
            "cannot be given together with table.whitelist or table.blacklist",
        ));
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
    fn mode_needs_its_columns() {
        let base = [
            ("connection.url", "jdbc:postgresql://h/db"),
            ("topic.prefix", "pg-"),
        ];
        let mut m = map(&base);
        m.insert("mode".into(), "timestamp+incrementing".into());
        let keys: Vec<String> = validate(&m).into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["incrementing.column.name", "timestamp.column.name"]);
        m.insert("mode".into(), "sometimes".into());
        assert_eq!(validate(&m)[0].key, "mode");
        let mut m = map(&base);
        m.insert("mode".into(), "bulk".into());
        m.insert("query".into(), "SELECT 1".into());
        m.insert("table.whitelist".into(), "t".into());
        assert_eq!(validate(&m)[0].key, "query");
    }
}
