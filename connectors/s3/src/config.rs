//! Every config key of the S3 sink, declared once, with Confluent's names and defaults; and
//! the parsed, typed form the task works with.

use std::time::Duration;

use ferry_api::config::{Bool, Class, Int, Key, List, Long, Opt, Password, Str, Validator};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConfigValue, ConnectError, Importance};

use crate::format::{AvroCodec, FormatKind, ParquetCodec};
use crate::partitioner::{PartitionerConfig, PartitionerKind, TimestampSource};
use crate::schema::Compatibility;

use Importance::{High, Low, Medium};

/// S3's smallest part (except the last one of an upload).
pub(crate) const MIN_PART_SIZE: i32 = 5 << 20;
const DEFAULT_PART_SIZE: i32 = 25 << 20;

// connector

pub(crate) const FORMAT_CLASS: Key<Class> = Key::required(
    "format.class",
    High,
    "The format class to use when writing data to the store: io.confluent.connect.s3.format.json.JsonFormat, io.confluent.connect.s3.format.avro.AvroFormat, io.confluent.connect.s3.format.parquet.ParquetFormat, io.confluent.connect.s3.format.bytearray.ByteArrayFormat (or their short names), or Ferry's StringFormat (an extension: one text line per record).",
)
.with_validator(Validator::custom("JsonFormat, AvroFormat, ParquetFormat, ByteArrayFormat or StringFormat (full io.confluent.connect.s3.format names or short ones)", check_format));
pub(crate) const FLUSH_SIZE: Key<Int> = Key::required(
    "flush.size",
    High,
    "Number of records written to store before invoking file commits.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const ROTATE_INTERVAL_MS: Key<Long> = Key::new(
    "rotate.interval.ms",
    -1,
    High,
    "The time interval in milliseconds to invoke file commits, measured on record timestamps (the partitioner's timestamp.extractor): a file is committed when a record's timestamp is this far past the timestamp of the file's first record. Needs a time-based partitioner. -1 disables it.",
);
pub(crate) const ROTATE_SCHEDULE_INTERVAL_MS: Key<Long> = Key::new(
    "rotate.schedule.interval.ms",
    -1,
    Medium,
    "The time interval in milliseconds to periodically invoke file commits, on the wall clock, aligned to the start of the day in `timezone`. Files are then committed even when no new records arrive, but this breaks exactly-once (a replay may cut files elsewhere). -1 disables it.",
);
pub(crate) const ROTATE_FILE_ON_PARTITION_CHANGE: Key<Bool> = Key::new(
    "rotate.file.on.partition.change",
    true,
    Low,
    "With rotate.interval.ms: whether a record that belongs to another encoded partition than the previous record commits the open files.",
);
pub(crate) const SCHEMA_COMPATIBILITY: Key<Str> = Key::new(
    "schema.compatibility",
    "NONE",
    High,
    "The schema compatibility rule to use when the connector is observing schema changes: NONE (any change rotates the file), BACKWARD and FULL (records with an older schema version are projected onto the file's newer schema; a newer version rotates), FORWARD (records with a newer version are projected onto the file's older schema; an older version rotates).",
)
.with_validator(Validator::OneOfIgnoreCase(&[
    "NONE", "BACKWARD", "FORWARD", "FULL",
]));
pub(crate) const RETRY_BACKOFF_MS: Key<Long> = Key::new(
    "retry.backoff.ms",
    5000,
    Low,
    "How long to wait before writing a partition again after its upload failed with a transient error once the S3 client's own retries were used up; the partition is then rewound to the first record of its open files, so no object is lost or duplicated.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const ZERO_PAD_WIDTH: Key<Int> = Key::new(
    "filename.offset.zero.pad.width",
    10,
    Low,
    "Width to zero pad offsets in store's filenames if offsets are too short in order to provide fixed width filenames that can be ordered by simple lexicographic sorting.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const AVRO_CODEC: Key<Str> = Key::new(
    "avro.codec",
    "null",
    Low,
    "The Avro compression codec to be used for output files: null, deflate, snappy or zstandard.",
)
.with_validator(Validator::OneOf(&[
    "null",
    "deflate",
    "snappy",
    "zstandard",
]));
pub(crate) const PARQUET_CODEC: Key<Str> = Key::new(
    "parquet.codec",
    "snappy",
    Low,
    "The Parquet compression codec to be used for output files: snappy, gzip, zstd or none (none writes uncompressed files named .parquet).",
)
.with_validator(Validator::OneOfIgnoreCase(&[
    "none",
    "uncompressed",
    "snappy",
    "gzip",
    "zstd",
]));
pub(crate) const CONNECT_META_DATA: Key<Bool> = Key::new(
    "connect.meta.data",
    true,
    Low,
    "Allow connect converter to add its metadata to the output schema (Avro: connect.name, connect.version, connect.type, connect.parameters...).",
);
pub(crate) const JSON_DECIMAL_FORMAT: Key<Str> = Key::new(
    "json.decimal.format",
    "BASE64",
    Medium,
    "How JsonFormat writes Decimals: BASE64 (the unscaled bytes, as Kafka's JsonConverter) or NUMERIC.",
)
.with_validator(Validator::OneOfIgnoreCase(&["BASE64", "NUMERIC"]));
pub(crate) const BYTEARRAY_EXTENSION: Key<Str> = Key::new(
    "format.bytearray.extension",
    ".bin",
    Low,
    "Output file extension for ByteArrayFormat.",
);
pub(crate) const BYTEARRAY_SEPARATOR: Key<Opt<Str>> = Key::optional(
    "format.bytearray.separator",
    Low,
    "String inserted between records for ByteArrayFormat (and StringFormat); default a newline. Escapes such as \\n are understood. An input record that contains the separator will look like multiple records in the output object.",
);
pub(crate) const BEHAVIOR_ON_NULL_VALUES: Key<Str> = Key::new(
    "behavior.on.null.values",
    "fail",
    Low,
    "How to handle records with a null value (tombstones): ignore (skip them; their offsets commit) or fail (fail the task, naming the record). Confluent's write (tombstones stored as keys only, which needs store.kafka.keys) is refused: Ferry does not store keys yet.",
)
.with_validator(Validator::custom("ignore or fail", |v| match v {
    ConfigValue::String(s) if s.eq_ignore_ascii_case("ignore") || s.eq_ignore_ascii_case("fail") => Ok(()),
    ConfigValue::String(s) if s.eq_ignore_ascii_case("write") => Err("ignore or fail (write stores tombstones as keys only and needs store.kafka.keys=true, which Ferry does not support yet)".into()),
    _ => Err("one of ignore, fail".into()),
}));
pub(crate) const STORE_KAFKA_KEYS: Key<Bool> = Key::new(
    "store.kafka.keys",
    false,
    Low,
    "Whether to store Kafka keys in separate files. Not supported by Ferry yet: true is refused.",
)
.with_validator(Validator::custom(
    "false (not supported yet)",
    |v| match v {
        ConfigValue::Boolean(true) => {
            Err("false (storing keys in separate files is not supported yet)".into())
        }
        _ => Ok(()),
    },
));
pub(crate) const STORE_KAFKA_HEADERS: Key<Bool> = Key::new(
    "store.kafka.headers",
    false,
    Low,
    "Whether to store Kafka headers in separate files. Not supported by Ferry yet: true is refused.",
)
.with_validator(Validator::custom("false (not supported yet)", |v| match v {
    ConfigValue::Boolean(true) => {
        Err("false (storing headers in separate files is not supported yet)".into())
    }
    _ => Ok(()),
}));

// storage

pub(crate) const STORAGE_CLASS: Key<Class> = Key::new(
    "storage.class",
    "io.confluent.connect.s3.storage.S3Storage",
    Low,
    "The underlying storage layer; only io.confluent.connect.s3.storage.S3Storage exists (Confluent requires the key, Ferry defaults it).",
)
.with_validator(Validator::custom("io.confluent.connect.s3.storage.S3Storage", check_storage));
pub(crate) const STORE_URL: Key<Opt<Str>> = Key::optional(
    "store.url",
    High,
    "Store's connection URL: the endpoint of an S3-compatible store (MinIO, moto, ...), e.g. http://127.0.0.1:9000. Unset: AWS's endpoint for s3.region.",
);
pub(crate) const TOPICS_DIR: Key<Str> = Key::new(
    "topics.dir",
    "topics",
    High,
    "Top level directory to store the data ingested from Kafka.",
);
pub(crate) const DIRECTORY_DELIM: Key<Str> = Key::new(
    "directory.delim",
    "/",
    Medium,
    "Directory delimiter pattern.",
);
pub(crate) const FILE_DELIM: Key<Str> =
    Key::new("file.delim", "+", Medium, "File delimiter pattern.");

// partitioner

pub(crate) const PARTITIONER_CLASS: Key<Class> = Key::new(
    "partitioner.class",
    "io.confluent.connect.storage.partitioner.DefaultPartitioner",
    High,
    "The partitioner to use when writing data to the store: DefaultPartitioner (partition=N), FieldPartitioner (partition.field.name), TimeBasedPartitioner (path.format, partition.duration.ms, locale, timezone, timestamp.extractor), HourlyPartitioner or DailyPartitioner; full io.confluent.connect.storage.partitioner names or short ones.",
)
.with_validator(Validator::custom("DefaultPartitioner, FieldPartitioner, TimeBasedPartitioner, HourlyPartitioner or DailyPartitioner (full io.confluent.connect.storage.partitioner names or short ones)", check_partitioner));
pub(crate) const PARTITION_FIELD_NAME: Key<List> = Key::<List>::new(
    "partition.field.name",
    &[],
    Medium,
    "The name of the partitioning field(s) when FieldPartitioner is used; dotted names reach into nested structs.",
);
pub(crate) const PARTITION_DURATION_MS: Key<Long> = Key::new(
    "partition.duration.ms",
    -1,
    Medium,
    "The duration of a partition milliseconds used by TimeBasedPartitioner.",
);
pub(crate) const PATH_FORMAT: Key<Str> = Key::new(
    "path.format",
    "",
    Medium,
    "This configuration is used to set the format of the data directories when partitioning with TimeBasedPartitioner, as a Joda-Time pattern: 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH.",
);
pub(crate) const LOCALE: Key<Str> = Key::new(
    "locale",
    "",
    Medium,
    "The locale to use when partitioning with TimeBasedPartitioner (e.g. en, en_US). Month and day names (MMM, EEE) are written in English.",
);
pub(crate) const TIMEZONE: Key<Str> = Key::new(
    "timezone",
    "",
    Medium,
    "The timezone to use when partitioning with TimeBasedPartitioner (e.g. UTC, America/Los_Angeles).",
)
.with_validator(Validator::custom("a time zone ID such as UTC or America/Los_Angeles", check_timezone));
pub(crate) const TIMESTAMP_EXTRACTOR: Key<Str> = Key::new(
    "timestamp.extractor",
    "Wallclock",
    Medium,
    "The extractor that gets the timestamp for records when partitioning with TimeBasedPartitioner: Wallclock (processing time), Record (the record's timestamp) or RecordField (timestamp.field of the value).",
)
.with_validator(Validator::custom("Wallclock, Record or RecordField", check_extractor));
pub(crate) const TIMESTAMP_FIELD: Key<Str> = Key::new(
    "timestamp.field",
    "timestamp",
    Medium,
    "The record field to be used as timestamp by the RecordField timestamp extractor (dotted names reach into nested structs).",
);

// S3

pub(crate) const BUCKET: Key<Str> = Key::required("s3.bucket.name", High, "The S3 Bucket.")
    .with_validator(Validator::NonEmptyString);
pub(crate) const REGION: Key<Str> = Key::new(
    "s3.region",
    "us-west-2",
    Medium,
    "The AWS region to be used the connector.",
)
.with_validator(Validator::NonEmptyString);
pub(crate) const PART_SIZE: Key<Int> = Key::new(
    "s3.part.size",
    DEFAULT_PART_SIZE,
    High,
    "The Part Size in S3 Multi-part Uploads. An open file keeps at most about two parts in memory (one uploading while the next fills), plus, for Parquet, its current row group of about a part's size.",
)
.with_validator(Validator::at_least(MIN_PART_SIZE as f64));
pub(crate) const COMPRESSION_TYPE: Key<Str> = Key::new(
    "s3.compression.type",
    "none",
    Low,
    "Compression type for files written to S3: none or gzip. Applied when using JsonFormat, ByteArrayFormat or StringFormat.",
)
.with_validator(Validator::OneOf(&["none", "gzip"]));
pub(crate) const COMPRESSION_LEVEL: Key<Int> = Key::new(
    "s3.compression.level",
    -1,
    Low,
    "Compression level for files written to S3 (-1 the default, 0-9). Applied when using JsonFormat, ByteArrayFormat or StringFormat.",
)
.with_validator(Validator::between(-1.0, 9.0));
pub(crate) const PART_RETRIES: Key<Int> = Key::new(
    "s3.part.retries",
    3,
    Medium,
    "Maximum number of retry attempts for failed requests. Zero means no retries. The S3 client retries transient errors (HTTP 500, 503, throttling, timeouts, broken connections) only.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const S3_RETRY_BACKOFF_MS: Key<Long> = Key::new(
    "s3.retry.backoff.ms",
    200,
    Low,
    "How long to wait in milliseconds before attempting the first retry of a failed S3 request. Upon a failure, this connector may wait up to twice as long as the previous wait, up to the maximum number of retries.",
)
.with_validator(Validator::at_least(0.0));
pub(crate) const OBJECT_TAGGING: Key<Bool> = Key::new(
    "s3.object.tagging",
    false,
    Low,
    "Tag S3 objects with start and end offsets, as well as record count.",
);
pub(crate) const OBJECT_TAGGING_EXTRA_KV: Key<List> = Key::<List>::new(
    "s3.object.tagging.extra.kv",
    &[],
    Low,
    "Additional S3 tag key value pairs (key:value, comma separated).",
)
.with_validator(Validator::custom(
    "a list of key:value pairs",
    check_tagging_kv,
));
pub(crate) const TAGGING_ERROR_BEHAVIOR: Key<Str> = Key::new(
    "s3.object.behavior.on.tagging.error",
    "ignore",
    Low,
    "How to handle S3 object tagging error: ignore or fail.",
)
.with_validator(Validator::OneOfIgnoreCase(&["ignore", "fail"]));
pub(crate) const PATH_STYLE_ACCESS: Key<Bool> = Key::new(
    "s3.path.style.access.enabled",
    true,
    Low,
    "Path-style addressing (http://host/bucket/key) instead of virtual-hosted style (http://bucket.host/key). Most S3-compatible stores need it.",
);
pub(crate) const ACCESS_KEY_ID: Key<Opt<Password>> = Key::optional(
    "aws.access.key.id",
    High,
    "The AWS access key ID. Unset: the standard AWS credential chain (environment, profile, web identity, ECS/EC2 instance roles).",
);
pub(crate) const SECRET_ACCESS_KEY: Key<Opt<Password>> = Key::optional(
    "aws.secret.access.key",
    High,
    "The secret access key, with aws.access.key.id.",
);
pub(crate) const SSEA_NAME: Key<Str> = Key::new(
    "s3.ssea.name",
    "",
    Low,
    "The S3 Server Side Encryption Algorithm: AES256 or aws:kms; empty for none.",
)
.with_validator(Validator::OneOf(&["", "AES256", "aws:kms"]));
pub(crate) const SSE_KMS_KEY_ID: Key<Str> = Key::new(
    "s3.sse.kms.key.id",
    "",
    Low,
    "The AWS KMS key for server side encryption with s3.ssea.name aws:kms.",
);
pub(crate) const ACL_CANNED: Key<Opt<Str>> = Key::optional(
    "s3.acl.canned",
    Low,
    "An S3 canned ACL header value to apply when writing objects (private, public-read, bucket-owner-full-control, ...).",
);

fn check_format(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::Class(c) | ConfigValue::String(c) if FormatKind::from_class(c).is_none() => {
            Err(format!("one of {}", FormatKind::CLASSES.join(", ")))
        }
        _ => Ok(()),
    }
}

fn check_partitioner(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::Class(c) | ConfigValue::String(c)
            if PartitionerKind::from_class(c).is_none() =>
        {
            Err(format!("one of {}", PartitionerKind::CLASSES.join(", ")))
        }
        _ => Ok(()),
    }
}

fn check_storage(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::Class(c) | ConfigValue::String(c)
            if !matches!(
                c.as_str(),
                "io.confluent.connect.s3.storage.S3Storage" | "S3Storage"
            ) =>
        {
            Err("io.confluent.connect.s3.storage.S3Storage (the only storage)".into())
        }
        _ => Ok(()),
    }
}

fn check_extractor(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::String(c) if TimestampSource::from_name(c).is_none() => Err(
            "Wallclock, Record or RecordField (or their TimeBasedPartitioner$...TimestampExtractor class names)"
                .into(),
        ),
        _ => Ok(()),
    }
}

fn check_timezone(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::String(z) if !z.is_empty() && crate::partitioner::time_zone(z).is_err() => {
            Err("a time zone ID such as UTC or America/Los_Angeles".into())
        }
        _ => Ok(()),
    }
}

fn check_tagging_kv(v: &ConfigValue) -> Result<(), String> {
    match v {
        ConfigValue::List(items) if items.iter().any(|kv| kv.split(':').count() != 2) => {
            Err("a list of key:value pairs".into())
        }
        _ => Ok(()),
    }
}

/// The declaration of every key.
pub(crate) fn config_def() -> ConfigDef {
    ConfigDef::new()
        // connector
        .declare(&FORMAT_CLASS)
        .declare(&FLUSH_SIZE)
        .declare(&ROTATE_INTERVAL_MS)
        .declare(&ROTATE_SCHEDULE_INTERVAL_MS)
        .declare(&ROTATE_FILE_ON_PARTITION_CHANGE)
        .declare(&SCHEMA_COMPATIBILITY)
        .declare(&RETRY_BACKOFF_MS)
        .declare(&ZERO_PAD_WIDTH)
        .declare(&AVRO_CODEC)
        .declare(&PARQUET_CODEC)
        .declare(&CONNECT_META_DATA)
        .declare(&JSON_DECIMAL_FORMAT)
        .declare(&BYTEARRAY_EXTENSION)
        .declare(&BYTEARRAY_SEPARATOR)
        .declare(&BEHAVIOR_ON_NULL_VALUES)
        .declare(&STORE_KAFKA_KEYS)
        .declare(&STORE_KAFKA_HEADERS)
        // storage
        .declare(&STORAGE_CLASS)
        .declare(&STORE_URL)
        .declare(&TOPICS_DIR)
        .declare(&DIRECTORY_DELIM)
        .declare(&FILE_DELIM)
        // partitioner
        .declare(&PARTITIONER_CLASS)
        .declare(&PARTITION_FIELD_NAME)
        .declare(&PARTITION_DURATION_MS)
        .declare(&PATH_FORMAT)
        .declare(&LOCALE)
        .declare(&TIMEZONE)
        .declare(&TIMESTAMP_EXTRACTOR)
        .declare(&TIMESTAMP_FIELD)
        // S3
        .declare(&BUCKET)
        .declare(&REGION)
        .declare(&PART_SIZE)
        .declare(&COMPRESSION_TYPE)
        .declare(&COMPRESSION_LEVEL)
        .declare(&PART_RETRIES)
        .declare(&S3_RETRY_BACKOFF_MS)
        .declare(&OBJECT_TAGGING)
        .declare(&OBJECT_TAGGING_EXTRA_KV)
        .declare(&TAGGING_ERROR_BEHAVIOR)
        .declare(&PATH_STYLE_ACCESS)
        .declare(&ACCESS_KEY_ID)
        .declare(&SECRET_ACCESS_KEY)
        .declare(&SSEA_NAME)
        .declare(&SSE_KMS_KEY_ID)
        .declare(&ACL_CANNED)
}

/// Problems that involve more than one key (the per-key checks are in [`config_def`]).
pub(crate) fn cross_key_issues(config: &ConfigMap) -> Vec<ConfigIssue> {
    match S3SinkConfig::parse(config) {
        Err(ConfigProblem::Issues(issues)) => issues,
        _ => Vec::new(),
    }
}

#[derive(Debug)]
pub(crate) enum ConfigProblem {
    Issues(Vec<ConfigIssue>),
    /// A key read that [`config_def`] does not declare as read: a bug, not a user's mistake.
    Undeclared(ConnectError),
}

impl From<ConnectError> for ConfigProblem {
    fn from(e: ConnectError) -> Self {
        ConfigProblem::Undeclared(e)
    }
}

impl From<ConfigProblem> for ConnectError {
    fn from(p: ConfigProblem) -> Self {
        match p {
            ConfigProblem::Issues(issues) => ConnectError::Config(
                issues
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ConfigProblem::Undeclared(e) => e,
        }
    }
}

/// Where the objects go and how the client talks to the store.
#[derive(Debug, Clone)]
pub(crate) struct StorageConfig {
    pub(crate) bucket: String,
    pub(crate) region: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) path_style: bool,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) part_size: usize,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) sse: Option<String>,
    pub(crate) sse_kms_key_id: Option<String>,
    pub(crate) acl: Option<String>,
}

/// Object tagging (`s3.object.tagging`).
#[derive(Debug, Clone)]
pub(crate) struct Tagging {
    pub(crate) extra: Vec<(String, String)>,
    pub(crate) fail_on_error: bool,
}

/// Line compression of JSON/ByteArray/String files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip { level: u32 },
}

/// The parsed config of a task.
#[derive(Debug, Clone)]
pub(crate) struct S3SinkConfig {
    pub(crate) format: FormatKind,
    pub(crate) flush_size: u64,
    pub(crate) rotate_interval_ms: Option<i64>,
    pub(crate) rotate_schedule_interval_ms: Option<i64>,
    /// `timezone`, for the days that `rotate.schedule.interval.ms` is aligned to.
    pub(crate) schedule_zone: jiff::tz::TimeZone,
    pub(crate) rotate_on_partition_change: bool,
    pub(crate) compatibility: Compatibility,
    pub(crate) retry_backoff: Duration,
    pub(crate) zero_pad_width: usize,
    pub(crate) avro_codec: AvroCodec,
    pub(crate) parquet_codec: ParquetCodec,
    pub(crate) connect_meta_data: bool,
    pub(crate) decimal_numeric: bool,
    pub(crate) bytearray_extension: String,
    pub(crate) line_separator: Vec<u8>,
    pub(crate) ignore_null_values: bool,
    pub(crate) compression: Compression,
    pub(crate) topics_dir: String,
    pub(crate) directory_delim: String,
    pub(crate) file_delim: String,
    pub(crate) partitioner: PartitionerConfig,
    pub(crate) storage: StorageConfig,
    pub(crate) tagging: Option<Tagging>,
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some('0') => out.push(0),
            Some('\\') => out.push(b'\\'),
            Some(other) => {
                out.push(b'\\');
                let mut buf = [0; 4];
                out.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
            None => out.push(b'\\'),
        }
    }
    out
}

impl S3SinkConfig {
    /// Parses and checks a connector or task config.
    pub(crate) fn parse(config: &ConfigMap) -> Result<S3SinkConfig, ConfigProblem> {
        let parsed = config_def().parse(config).map_err(ConfigProblem::Issues)?;
        let mut issues = Vec::new();
        let issue = |key: &str, value: Option<String>, message: String| ConfigIssue {
            key: key.to_string(),
            value,
            message,
        };

        // Validators have checked these names.
        let format =
            FormatKind::from_class(parsed.value(&FORMAT_CLASS)?).unwrap_or(FormatKind::Json);
        let kind = PartitionerKind::from_class(parsed.value(&PARTITIONER_CLASS)?)
            .unwrap_or(PartitionerKind::Default);
        let timezone = parsed.value(&TIMEZONE)?;
        let partitioner = match PartitionerConfig::new(
            kind,
            parsed.value(&PARTITION_FIELD_NAME)?,
            parsed.value(&PARTITION_DURATION_MS)?,
            parsed.value(&PATH_FORMAT)?,
            parsed.value(&LOCALE)?,
            timezone,
            parsed.value(&TIMESTAMP_EXTRACTOR)?,
            parsed.value(&TIMESTAMP_FIELD)?,
            parsed.value(&DIRECTORY_DELIM)?,
        ) {
            Ok(p) => Some(p),
            Err((key, value, message)) => {
                issues.push(issue(key, value, message));
                None
            }
        };

        let rotate_interval_ms = Some(parsed.value(&ROTATE_INTERVAL_MS)?).filter(|v| *v > 0);
        let rotate_schedule_interval_ms =
            Some(parsed.value(&ROTATE_SCHEDULE_INTERVAL_MS)?).filter(|v| *v > 0);
        if rotate_schedule_interval_ms.is_some() && timezone.is_empty() {
            issues.push(issue(
                TIMEZONE.name(),
                None,
                format!(
                    "timezone configuration must be set when using {}",
                    ROTATE_SCHEDULE_INTERVAL_MS.name()
                ),
            ));
        }
        let sse = Some(parsed.value(&SSEA_NAME)?)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let access_key = parsed.value(&ACCESS_KEY_ID)?.filter(|s| !s.is_empty());
        let secret_key = parsed.value(&SECRET_ACCESS_KEY)?.filter(|s| !s.is_empty());
        let credentials = match (access_key, secret_key) {
            (Some(a), Some(s)) => Some((a.to_string(), s.to_string())),
            (None, None) => None,
            (Some(_), None) => {
                issues.push(issue(
                    SECRET_ACCESS_KEY.name(),
                    None,
                    format!("must be set together with {}", ACCESS_KEY_ID.name()),
                ));
                None
            }
            (None, Some(_)) => {
                issues.push(issue(
                    ACCESS_KEY_ID.name(),
                    None,
                    format!("must be set together with {}", SECRET_ACCESS_KEY.name()),
                ));
                None
            }
        };
        let endpoint = parsed
            .value(&STORE_URL)?
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(url) = &endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            issues.push(issue(
                STORE_URL.name(),
                Some(url.clone()),
                "expected an http:// or https:// URL".into(),
            ));
        }
        if !issues.is_empty() {
            return Err(ConfigProblem::Issues(issues));
        }
        let Some(partitioner) = partitioner else {
            return Err(ConfigProblem::Issues(issues));
        };
        if rotate_interval_ms.is_some() && partitioner.timestamps().is_none() {
            tracing::warn!(
                "{} is set but the partitioner is not time-based: it is ignored",
                ROTATE_INTERVAL_MS.name()
            );
        }
        let compression = match parsed.value(&COMPRESSION_TYPE)? {
            "gzip" => Compression::Gzip {
                // -1: gzip's own default level.
                level: u32::try_from(parsed.value(&COMPRESSION_LEVEL)?).unwrap_or(6),
            },
            _ => Compression::None,
        };
        let tagging = if parsed.value(&OBJECT_TAGGING)? {
            Some(Tagging {
                extra: parsed
                    .value(&OBJECT_TAGGING_EXTRA_KV)?
                    .iter()
                    .filter_map(|kv| kv.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect(),
                fail_on_error: parsed
                    .value(&TAGGING_ERROR_BEHAVIOR)?
                    .eq_ignore_ascii_case("fail"),
            })
        } else {
            None
        };
        Ok(S3SinkConfig {
            format,
            flush_size: parsed.value(&FLUSH_SIZE)?.max(1) as u64,
            rotate_interval_ms,
            rotate_schedule_interval_ms,
            schedule_zone: crate::partitioner::time_zone(timezone)
                .unwrap_or(jiff::tz::TimeZone::UTC),
            rotate_on_partition_change: parsed.value(&ROTATE_FILE_ON_PARTITION_CHANGE)?,
            compatibility: Compatibility::from_name(parsed.value(&SCHEMA_COMPATIBILITY)?),
            retry_backoff: Duration::from_millis(parsed.value(&RETRY_BACKOFF_MS)?.max(0) as u64),
            zero_pad_width: parsed.value(&ZERO_PAD_WIDTH)?.max(0) as usize,
            avro_codec: AvroCodec::from_name(parsed.value(&AVRO_CODEC)?),
            parquet_codec: ParquetCodec::from_name(parsed.value(&PARQUET_CODEC)?),
            connect_meta_data: parsed.value(&CONNECT_META_DATA)?,
            decimal_numeric: parsed
                .value(&JSON_DECIMAL_FORMAT)?
                .eq_ignore_ascii_case("NUMERIC"),
            bytearray_extension: parsed.value(&BYTEARRAY_EXTENSION)?.to_string(),
            // Whitespace matters here, so the raw value, not the trimmed one; unset is a
            // newline.
            line_separator: config
                .get(BYTEARRAY_SEPARATOR.name())
                .map(|s| unescape(s))
                .unwrap_or_else(|| b"\n".to_vec()),
            ignore_null_values: parsed
                .value(&BEHAVIOR_ON_NULL_VALUES)?
                .eq_ignore_ascii_case("ignore"),
            compression,
            topics_dir: parsed.value(&TOPICS_DIR)?.to_string(),
            directory_delim: parsed.value(&DIRECTORY_DELIM)?.to_string(),
            file_delim: parsed.value(&FILE_DELIM)?.to_string(),
            partitioner,
            storage: StorageConfig {
                bucket: parsed.value(&BUCKET)?.to_string(),
                region: parsed.value(&REGION)?.to_string(),
                endpoint,
                path_style: parsed.value(&PATH_STYLE_ACCESS)?,
                credentials,
                part_size: parsed.value(&PART_SIZE)?.max(MIN_PART_SIZE) as usize,
                retries: parsed.value(&PART_RETRIES)?.max(0) as u32,
                retry_backoff: Duration::from_millis(
                    parsed.value(&S3_RETRY_BACKOFF_MS)?.max(0) as u64
                ),
                sse,
                sse_kms_key_id: Some(parsed.value(&SSE_KMS_KEY_ID)?)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                acl: parsed
                    .value(&ACL_CANNED)?
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            },
            tagging,
        })
    }
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

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("s3.bucket.name", "b"),
            (
                "format.class",
                "io.confluent.connect.s3.format.json.JsonFormat",
            ),
            ("flush.size", "3"),
        ]
    }

    #[test]
    fn confluent_defaults() {
        let c = S3SinkConfig::parse(&map(&minimal())).unwrap();
        assert_eq!(c.format, FormatKind::Json);
        assert_eq!(c.flush_size, 3);
        assert_eq!(c.topics_dir, "topics");
        assert_eq!(c.storage.part_size, 25 << 20);
        assert_eq!(c.storage.region, "us-west-2");
        assert_eq!(c.storage.retries, 3);
        assert_eq!(c.storage.retry_backoff, Duration::from_millis(200));
        assert_eq!(c.retry_backoff, Duration::from_millis(5000));
        assert_eq!(c.zero_pad_width, 10);
        assert_eq!(c.line_separator, b"\n");
        assert!(c.storage.path_style);
        assert!(c.tagging.is_none());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let issues = config_def().validate(&map(&[
            ("format.class", "CsvFormat"),
            ("flush.size", "0"),
            ("s3.part.size", "1024"),
            ("partitioner.class", "Nope"),
            ("s3.compression.type", "lz4"),
        ]));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "format.class",
                "flush.size",
                "partitioner.class",
                "s3.bucket.name",
                "s3.part.size",
                "s3.compression.type"
            ],
            "{issues:?}"
        );
    }

    #[test]
    fn cross_key_rules() {
        let mut c = minimal();
        c.push(("rotate.schedule.interval.ms", "1000"));
        c.push(("aws.access.key.id", "AKIA"));
        let issues = cross_key_issues(&map(&c));
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert_eq!(text.len(), 2, "{text:?}");
        assert!(text[0].contains("timezone"), "{text:?}");
        assert!(text[1].contains("aws.secret.access.key"), "{text:?}");
    }

    #[test]
    fn secrets_are_passwords() {
        let def = config_def();
        for key in [ACCESS_KEY_ID.name(), SECRET_ACCESS_KEY.name()] {
            assert_eq!(
                def.key(key).unwrap().ty,
                ferry_api::ConfigType::Password,
                "{key}"
            );
        }
        let masked = def.mask(&map(&[("aws.secret.access.key", "s3cr3t")]));
        assert_eq!(masked["aws.secret.access.key"], "[hidden]");
    }

    #[test]
    fn separator_keeps_whitespace_and_escapes() {
        let mut c = minimal();
        c.push(("format.bytearray.separator", "\\r\\n "));
        let parsed = S3SinkConfig::parse(&map(&c)).unwrap();
        assert_eq!(parsed.line_separator, b"\r\n ");
    }
}
