//! The JDBC-style source's config: Confluent JdbcSourceConnector's keys.

use std::time::Duration;

use ferry_api::config::{Bool, Int, Key, List, Long, Opt, Str, Validator};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConnectError, Importance};

use crate::config as common;
use crate::connection::{Endpoint, Retry};
use crate::types::mapping::{NumericMapping, Profile, TimestampGranularity};

pub(crate) const MODE: Key<Str> = Key::required(
    "mode",
    Importance::High,
    "The mode for updating a table each time it is polled: bulk (the whole table each time), incrementing (a strictly incrementing column finds new rows), timestamp (a timestamp column finds new and modified rows), timestamp+incrementing (both: new and modified rows, exactly once).",
)
.with_validator(Validator::OneOf(&[
    "bulk",
    "incrementing",
    "timestamp",
    "timestamp+incrementing",
]));
pub(crate) const INCREMENTING_COLUMN: Key<Str> = Key::new(
    "incrementing.column.name",
    "",
    Importance::Medium,
    "The name of the strictly incrementing column to use to detect new rows.",
);
pub(crate) const TIMESTAMP_COLUMN: Key<List> = Key::<List>::new(
    "timestamp.column.name",
    &[],
    Importance::Medium,
    "Comma separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL function.",
);
pub(crate) const TIMESTAMP_DELAY: Key<Long> = Key::new(
    "timestamp.delay.interval.ms",
    0,
    Importance::High,
    "How long to wait after a row with certain timestamp appears before we include it in the result, to give transactions with earlier timestamps time to complete.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const TIMESTAMP_INITIAL: Key<Opt<Long>> = Key::optional(
    "timestamp.initial",
    Importance::Low,
    "The epoch timestamp in milliseconds used for initial queries that use timestamp criteria. Use -1 to use the current time. If not specified, all data will be retrieved.",
);
pub(crate) const VALIDATE_NON_NULL: Key<Bool> = Key::new(
    "validate.non.null",
    true,
    Importance::Low,
    "By default, the connector checks that the incrementing and timestamp columns are NOT NULL. Disable to skip that check.",
);
pub(crate) const TABLE_WHITELIST: Key<List> = Key::<List>::new(
    "table.whitelist",
    &[],
    Importance::Medium,
    "List of tables to include in copying (table or schema.table). Use a comma-separated list to specify multiple tables.",
);
pub(crate) const TABLE_INCLUDE_LIST: Key<List> = Key::<List>::new(
    "table.include.list",
    &[],
    Importance::Medium,
    "The newer name of table.whitelist.",
);
pub(crate) const TABLE_BLACKLIST: Key<List> = Key::<List>::new(
    "table.blacklist",
    &[],
    Importance::Medium,
    "List of tables to exclude from copying.",
);
pub(crate) const TABLE_EXCLUDE_LIST: Key<List> = Key::<List>::new(
    "table.exclude.list",
    &[],
    Importance::Medium,
    "The newer name of table.blacklist.",
);
pub(crate) const TABLE_TYPES: Key<List> = Key::<List>::new(
    "table.types",
    &["TABLE"],
    Importance::Low,
    "The types of tables to include in copying: TABLE, VIEW, MATERIALIZED VIEW, PARTITIONED TABLE.",
)
.with_validator(Validator::OneOfIgnoreCase(&[
    "TABLE",
    "VIEW",
    "MATERIALIZED VIEW",
    "PARTITIONED TABLE",
]));
pub(crate) const SCHEMA_PATTERN: Key<Opt<Str>> = Key::optional(
    "schema.pattern",
    Importance::Medium,
    "Schema pattern to fetch table metadata from the database (SQL LIKE: % and _ are wildcards). Unset: every schema but the system ones.",
);
pub(crate) const QUERY: Key<Str> = Key::new(
    "query",
    "",
    Importance::Medium,
    "If specified, the query to perform to select new or updated rows instead of whole tables. Its incrementing and timestamp criteria are added around it.",
);
pub(crate) const QUERY_SUFFIX: Key<Str> = Key::new(
    "query.suffix",
    "",
    Importance::Low,
    "Suffix to append at the end of the generated query.",
);
pub(crate) const TOPIC_PREFIX: Key<Str> = Key::required(
    "topic.prefix",
    Importance::High,
    "Prefix to prepend to table names to generate the name of the Kafka topic to publish data to, or in the case of a custom query, the full name of the topic to publish to.",
);
pub(crate) const POLL_INTERVAL: Key<Int> = Key::new(
    "poll.interval.ms",
    5000,
    Importance::High,
    "Frequency in ms to poll for new data in each table.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const BATCH_MAX_ROWS: Key<Int> = Key::new(
    "batch.max.rows",
    100,
    Importance::Low,
    "Maximum number of rows to include in a single batch when polling for new data.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const TABLE_POLL_INTERVAL: Key<Long> = Key::new(
    "table.poll.interval.ms",
    60_000,
    Importance::Low,
    "Frequency in ms to poll for new or removed tables, which may result in updated task configurations to start polling for data in added tables or stop polling for data in removed tables.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const NUMERIC_MAPPING: Key<Opt<Str>> = Key::optional(
    "numeric.mapping",
    Importance::Low,
    "Map NUMERIC values by precision and optionally scale to integral or decimal types: none (Decimal; unconstrained numeric as exact text), precision_only (numeric(p,0) to INT8..INT64), best_fit (also to FLOAT64 when not integral).",
)
.with_validator(Validator::OneOf(&[
    "none",
    "precision_only",
    "best_fit",
    "best_fit_eager_double",
]));
pub(crate) const NUMERIC_PRECISION_MAPPING: Key<Bool> = Key::new(
    "numeric.precision.mapping",
    false,
    Importance::Low,
    "Deprecated: numeric.mapping=precision_only.",
);
pub(crate) const TIMESTAMP_GRANULARITY: Key<Str> = Key::new(
    "timestamp.granularity",
    "connect_logical",
    Importance::Low,
    "How timestamps are represented: connect_logical (Connect Timestamp, milliseconds), nanos_long (INT64 nanoseconds), nanos_string (nanoseconds as text), nanos_iso_datetime_string (yyyy-MM-dd'T'HH:mm:ss.n). The last three keep microseconds.",
)
.with_validator(Validator::OneOf(&[
    "connect_logical",
    "nanos_long",
    "nanos_string",
    "nanos_iso_datetime_string",
]));
pub(crate) const DB_TIMEZONE: Key<Str> = Key::new(
    "db.timezone",
    "UTC",
    Importance::Medium,
    "Name of the time zone of timestamp columns without a zone. Ferry supports UTC only.",
)
.with_validator(Validator::OneOfIgnoreCase(&["UTC", "Z", "Etc/UTC", "GMT"]));
pub(crate) const QUOTE_IDENTIFIERS: Key<Str> = Key::new(
    "quote.sql.identifiers",
    "always",
    Importance::Medium,
    "When to quote table names, column names and other identifiers in SQL statements: always or never.",
)
.with_validator(Validator::OneOfIgnoreCase(&["always", "never"]));
/// Set by the connector in each task config: the tables of that task.
pub(crate) const TASK_TABLES: Key<List> = Key::<List>::new(
    "tables",
    &[],
    Importance::Low,
    "Set by the connector in each task's config: the tables that task reads.",
);

pub(crate) fn config_def() -> ConfigDef {
    common::connection_def()
        .declare(&MODE)
        .declare(&INCREMENTING_COLUMN)
        .declare(&TIMESTAMP_COLUMN)
        .declare(&TIMESTAMP_DELAY)
        .declare(&TIMESTAMP_INITIAL)
        .declare(&VALIDATE_NON_NULL)
        .declare(&TABLE_WHITELIST)
        .declare(&TABLE_INCLUDE_LIST)
        .declare(&TABLE_BLACKLIST)
        .declare(&TABLE_EXCLUDE_LIST)
        .declare(&TABLE_TYPES)
        .declare(&SCHEMA_PATTERN)
        .declare(&QUERY)
        .declare(&QUERY_SUFFIX)
        .declare(&TOPIC_PREFIX)
        .declare(&POLL_INTERVAL)
        .declare(&BATCH_MAX_ROWS)
        .declare(&TABLE_POLL_INTERVAL)
        .declare(&NUMERIC_MAPPING)
        .declare(&NUMERIC_PRECISION_MAPPING)
        .declare(&TIMESTAMP_GRANULARITY)
        .declare(&DB_TIMEZONE)
        .declare(&QUOTE_IDENTIFIERS)
        .declare(&TASK_TABLES)
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
    let mode = match parsed.value(&MODE)? {
        "incrementing" => Mode::Incrementing,
        "timestamp" => Mode::Timestamp,
        "timestamp+incrementing" => Mode::TimestampIncrementing,
        _ => Mode::Bulk,
    };
    let mut include = parsed.value(&TABLE_WHITELIST)?.to_vec();
    include.extend_from_slice(parsed.value(&TABLE_INCLUDE_LIST)?);
    let mut exclude = parsed.value(&TABLE_BLACKLIST)?.to_vec();
    exclude.extend_from_slice(parsed.value(&TABLE_EXCLUDE_LIST)?);
    let relkinds = parsed
        .value(&TABLE_TYPES)?
        .iter()
        .map(|t| match t.to_ascii_uppercase().as_str() {
            "VIEW" => 'v',
            "MATERIALIZED VIEW" => 'm',
            "PARTITIONED TABLE" => 'p',
            _ => 'r',
        })
        .collect();
    let numeric = match parsed.value(&NUMERIC_MAPPING)? {
        Some("best_fit") | Some("best_fit_eager_double") => NumericMapping::BestFit,
        Some("precision_only") => NumericMapping::PrecisionOnly,
        Some(_) => NumericMapping::None,
        None if parsed.value(&NUMERIC_PRECISION_MAPPING)? => NumericMapping::PrecisionOnly,
        None => NumericMapping::None,
    };
    let timestamps = match parsed.value(&TIMESTAMP_GRANULARITY)? {
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
        incrementing_column: parsed.value(&INCREMENTING_COLUMN)?.to_string(),
        timestamp_columns: parsed.value(&TIMESTAMP_COLUMN)?.to_vec(),
        timestamp_delay: Duration::from_millis(parsed.value(&TIMESTAMP_DELAY)?.max(0) as u64),
        timestamp_initial: parsed.value(&TIMESTAMP_INITIAL)?,
        validate_non_null: parsed.value(&VALIDATE_NON_NULL)?,
        include,
        exclude,
        relkinds,
        schema_pattern: parsed
            .value(&SCHEMA_PATTERN)?
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        query: parsed.value(&QUERY)?.to_string(),
        query_suffix: parsed.value(&QUERY_SUFFIX)?.to_string(),
        topic_prefix: parsed.value(&TOPIC_PREFIX)?.to_string(),
        poll_interval: Duration::from_millis(parsed.value(&POLL_INTERVAL)?.max(1) as u64),
        batch_max_rows: parsed.value(&BATCH_MAX_ROWS)?.max(1) as usize,
        table_poll_interval: Duration::from_millis(
            parsed.value(&TABLE_POLL_INTERVAL)?.max(1) as u64
        ),
        profile: Profile::Jdbc {
            numeric,
            timestamps,
        },
        quote: parsed
            .value(&QUOTE_IDENTIFIERS)?
            .eq_ignore_ascii_case("always"),
        task_tables: parsed.value(&TASK_TABLES)?.to_vec(),
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
            INCREMENTING_COLUMN.name(),
            "must be given in incrementing and timestamp+incrementing modes",
        ));
    }
    if c.mode.timestamp() && c.timestamp_columns.is_empty() {
        issues.push(issue(
            TIMESTAMP_COLUMN.name(),
            "must be given in timestamp and timestamp+incrementing modes",
        ));
    }
    if !c.include.is_empty() && !c.exclude.is_empty() {
        issues.push(issue(
            TABLE_BLACKLIST.name(),
            "cannot be given together with table.whitelist (table.include.list)",
        ));
    }
    if !c.query.trim().is_empty() && (!c.include.is_empty() || !c.exclude.is_empty()) {
        issues.push(issue(
            QUERY.name(),
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
