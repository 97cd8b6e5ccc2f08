//! Every config key of the S3 sink, declared once, with Confluent's names and defaults; and
//! the parsed, typed form the task works with.

use std::time::Duration;

use ferry_api::config::{Default, Type, Validator};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConfigValue, ConnectError, Importance};

use crate::format::{AvroCodec, FormatKind, ParquetCodec};
use crate::partitioner::{PartitionerConfig, PartitionerKind, TimestampSource};
use crate::schema::Compatibility;

pub(crate) const FORMAT_CLASS: &str = "format.class";
pub(crate) const FLUSH_SIZE: &str = "flush.size";
pub(crate) const ROTATE_INTERVAL_MS: &str = "rotate.interval.ms";
pub(crate) const ROTATE_SCHEDULE_INTERVAL_MS: &str = "rotate.schedule.interval.ms";
pub(crate) const ROTATE_FILE_ON_PARTITION_CHANGE: &str = "rotate.file.on.partition.change";
pub(crate) const SCHEMA_COMPATIBILITY: &str = "schema.compatibility";
pub(crate) const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
pub(crate) const ZERO_PAD_WIDTH: &str = "filename.offset.zero.pad.width";
pub(crate) const AVRO_CODEC: &str = "avro.codec";
pub(crate) const PARQUET_CODEC: &str = "parquet.codec";
pub(crate) const CONNECT_META_DATA: &str = "connect.meta.data";
pub(crate) const JSON_DECIMAL_FORMAT: &str = "json.decimal.format";
pub(crate) const BYTEARRAY_EXTENSION: &str = "format.bytearray.extension";
pub(crate) const BYTEARRAY_SEPARATOR: &str = "format.bytearray.separator";
pub(crate) const BEHAVIOR_ON_NULL_VALUES: &str = "behavior.on.null.values";
pub(crate) const STORE_KAFKA_KEYS: &str = "store.kafka.keys";
pub(crate) const STORE_KAFKA_HEADERS: &str = "store.kafka.headers";

pub(crate) const STORAGE_CLASS: &str = "storage.class";
pub(crate) const STORE_URL: &str = "store.url";
pub(crate) const TOPICS_DIR: &str = "topics.dir";
pub(crate) const DIRECTORY_DELIM: &str = "directory.delim";
pub(crate) const FILE_DELIM: &str = "file.delim";

pub(crate) const PARTITIONER_CLASS: &str = "partitioner.class";
pub(crate) const PARTITION_FIELD_NAME: &str = "partition.field.name";
pub(crate) const PARTITION_DURATION_MS: &str = "partition.duration.ms";
pub(crate) const PATH_FORMAT: &str = "path.format";
pub(crate) const LOCALE: &str = "locale";
pub(crate) const TIMEZONE: &str = "timezone";
pub(crate) const TIMESTAMP_EXTRACTOR: &str = "timestamp.extractor";
pub(crate) const TIMESTAMP_FIELD: &str = "timestamp.field";

pub(crate) const BUCKET: &str = "s3.bucket.name";
pub(crate) const REGION: &str = "s3.region";
pub(crate) const PART_SIZE: &str = "s3.part.size";
pub(crate) const COMPRESSION_TYPE: &str = "s3.compression.type";
pub(crate) const COMPRESSION_LEVEL: &str = "s3.compression.level";
pub(crate) const PART_RETRIES: &str = "s3.part.retries";
pub(crate) const S3_RETRY_BACKOFF_MS: &str = "s3.retry.backoff.ms";
pub(crate) const OBJECT_TAGGING: &str = "s3.object.tagging";
pub(crate) const OBJECT_TAGGING_EXTRA_KV: &str = "s3.object.tagging.extra.kv";
pub(crate) const TAGGING_ERROR_BEHAVIOR: &str = "s3.object.behavior.on.tagging.error";
pub(crate) const PATH_STYLE_ACCESS: &str = "s3.path.style.access.enabled";
pub(crate) const ACCESS_KEY_ID: &str = "aws.access.key.id";
pub(crate) const SECRET_ACCESS_KEY: &str = "aws.secret.access.key";
pub(crate) const SSEA_NAME: &str = "s3.ssea.name";
pub(crate) const SSE_KMS_KEY_ID: &str = "s3.sse.kms.key.id";
pub(crate) const ACL_CANNED: &str = "s3.acl.canned";

/// S3's smallest part (except the last one of an upload).
pub(crate) const MIN_PART_SIZE: i32 = 5 << 20;
const DEFAULT_PART_SIZE: i32 = 25 << 20;

fn string(s: &str) -> Default {
    Default::Value(ConfigValue::String(s.to_string()))
}
fn long(n: i64) -> Default {
    Default::Value(ConfigValue::Long(n))
}
fn int(n: i32) -> Default {
    Default::Value(ConfigValue::Int(n))
}
fn boolean(b: bool) -> Default {
    Default::Value(ConfigValue::Boolean(b))
}

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
    use Importance::{High, Low, Medium};
    ConfigDef::new()
        // connector
        .define(FORMAT_CLASS, Type::Class, Default::Required, High,
            "The format class to use when writing data to the store: io.confluent.connect.s3.format.json.JsonFormat, io.confluent.connect.s3.format.avro.AvroFormat, io.confluent.connect.s3.format.parquet.ParquetFormat, io.confluent.connect.s3.format.bytearray.ByteArrayFormat (or their short names), or Ferry's StringFormat (an extension: one text line per record).")
        .with_validator(Validator::Custom(check_format))
        .define(FLUSH_SIZE, Type::Int, Default::Required, High,
            "Number of records written to store before invoking file commits.")
        .with_validator(Validator::at_least(1.0))
        .define(ROTATE_INTERVAL_MS, Type::Long, long(-1), High,
            "The time interval in milliseconds to invoke file commits, measured on record timestamps (the partitioner's timestamp.extractor): a file is committed when a record's timestamp is this far past the timestamp of the file's first record. Needs a time-based partitioner. -1 disables it.")
        .define(ROTATE_SCHEDULE_INTERVAL_MS, Type::Long, long(-1), Medium,
            "The time interval in milliseconds to periodically invoke file commits, on the wall clock, aligned to the start of the day in `timezone`. Files are then committed even when no new records arrive, but this breaks exactly-once (a replay may cut files elsewhere). -1 disables it.")
        .define(ROTATE_FILE_ON_PARTITION_CHANGE, Type::Boolean, boolean(true), Low,
            "With rotate.interval.ms: whether a record that belongs to another encoded partition than the previous record commits the open files.")
        .define(SCHEMA_COMPATIBILITY, Type::String, string("NONE"), High,
            "The schema compatibility rule to use when the connector is observing schema changes: NONE (any change rotates the file), BACKWARD and FULL (records with an older schema version are projected onto the file's newer schema; a newer version rotates), FORWARD (records with a newer version are projected onto the file's older schema; an older version rotates).")
        .with_validator(Validator::OneOfIgnoreCase(&["NONE", "BACKWARD", "FORWARD", "FULL"]))
        .define(RETRY_BACKOFF_MS, Type::Long, long(5000), Low,
            "How long to wait before writing a partition again after its upload failed with a transient error once the S3 client's own retries were used up; the partition is then rewound to the first record of its open files, so no object is lost or duplicated.")
        .with_validator(Validator::at_least(0.0))
        .define(ZERO_PAD_WIDTH, Type::Int, int(10), Low,
            "Width to zero pad offsets in store's filenames if offsets are too short in order to provide fixed width filenames that can be ordered by simple lexicographic sorting.")
        .with_validator(Validator::at_least(0.0))
        .define(AVRO_CODEC, Type::String, string("null"), Low,
            "The Avro compression codec to be used for output files: null, deflate, snappy or zstandard.")
        .with_validator(Validator::OneOf(&["null", "deflate", "snappy", "zstandard"]))
        .define(PARQUET_CODEC, Type::String, string("snappy"), Low,
            "The Parquet compression codec to be used for output files: snappy, gzip, zstd or none (none writes uncompressed files named .parquet).")
        .with_validator(Validator::OneOfIgnoreCase(&["none", "uncompressed", "snappy", "gzip", "zstd"]))
        .define(CONNECT_META_DATA, Type::Boolean, boolean(true), Low,
            "Allow connect converter to add its metadata to the output schema (Avro: connect.name, connect.version, connect.type, connect.parameters...).")
        .define(JSON_DECIMAL_FORMAT, Type::String, string("BASE64"), Medium,
            "How JsonFormat writes Decimals: BASE64 (the unscaled bytes, as Kafka's JsonConverter) or NUMERIC.")
        .with_validator(Validator::OneOfIgnoreCase(&["BASE64", "NUMERIC"]))
        .define(BYTEARRAY_EXTENSION, Type::String, string(".bin"), Low,
            "Output file extension for ByteArrayFormat.")
        .define(BYTEARRAY_SEPARATOR, Type::String, Default::Null, Low,
            "String inserted between records for ByteArrayFormat (and StringFormat); default a newline. Escapes such as \\n are understood. An input record that contains the separator will look like multiple records in the output object.")
        .define(BEHAVIOR_ON_NULL_VALUES, Type::String, string("fail"), Low,
            "How to handle records with a null value (tombstones): ignore (skip them; their offsets commit) or fail (fail the task, naming the record). Confluent's write (tombstones stored as keys only, which needs store.kafka.keys) is refused: Ferry does not store keys yet.")
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::String(s) if s.eq_ignore_ascii_case("ignore") || s.eq_ignore_ascii_case("fail") => Ok(()),
            ConfigValue::String(s) if s.eq_ignore_ascii_case("write") => Err("ignore or fail (write stores tombstones as keys only and needs store.kafka.keys=true, which Ferry does not support yet)".into()),
            _ => Err("one of ignore, fail".into()),
        }))
        .define(STORE_KAFKA_KEYS, Type::Boolean, boolean(false), Low,
            "Whether to store Kafka keys in separate files. Not supported by Ferry yet: true is refused.")
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::Boolean(true) => Err("false (storing keys in separate files is not supported yet)".into()),
            _ => Ok(()),
        }))
        .define(STORE_KAFKA_HEADERS, Type::Boolean, boolean(false), Low,
            "Whether to store Kafka headers in separate files. Not supported by Ferry yet: true is refused.")
        .with_validator(Validator::Custom(|v| match v {
            ConfigValue::Boolean(true) => Err("false (storing headers in separate files is not supported yet)".into()),
            _ => Ok(()),
        }))
        // storage
        .define(STORAGE_CLASS, Type::Class, string("io.confluent.connect.s3.storage.S3Storage"), Low,
            "The underlying storage layer; only io.confluent.connect.s3.storage.S3Storage exists (Confluent requires the key, Ferry defaults it).")
        .with_validator(Validator::Custom(check_storage))
        .define(STORE_URL, Type::String, Default::Null, High,
            "Store's connection URL: the endpoint of an S3-compatible store (MinIO, moto, ...), e.g. http://127.0.0.1:9000. Unset: AWS's endpoint for s3.region.")
        .define(TOPICS_DIR, Type::String, string("topics"), High,
            "Top level directory to store the data ingested from Kafka.")
        .define(DIRECTORY_DELIM, Type::String, string("/"), Medium, "Directory delimiter pattern.")
        .define(FILE_DELIM, Type::String, string("+"), Medium, "File delimiter pattern.")
        // partitioner
        .define(PARTITIONER_CLASS, Type::Class, string("io.confluent.connect.storage.partitioner.DefaultPartitioner"), High,
            "The partitioner to use when writing data to the store: DefaultPartitioner (partition=N), FieldPartitioner (partition.field.name), TimeBasedPartitioner (path.format, partition.duration.ms, locale, timezone, timestamp.extractor), HourlyPartitioner or DailyPartitioner; full io.confluent.connect.storage.partitioner names or short ones.")
        .with_validator(Validator::Custom(check_partitioner))
        .define(PARTITION_FIELD_NAME, Type::List, Default::Value(ConfigValue::List(Vec::new())), Medium,
            "The name of the partitioning field(s) when FieldPartitioner is used; dotted names reach into nested structs.")
        .define(PARTITION_DURATION_MS, Type::Long, long(-1), Medium,
            "The duration of a partition milliseconds used by TimeBasedPartitioner.")
        .define(PATH_FORMAT, Type::String, string(""), Medium,
            "This configuration is used to set the format of the data directories when partitioning with TimeBasedPartitioner, as a Joda-Time pattern: 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH.")
        .define(LOCALE, Type::String, string(""), Medium,
            "The locale to use when partitioning with TimeBasedPartitioner (e.g. en, en_US). Month and day names (MMM, EEE) are written in English.")
        .define(TIMEZONE, Type::String, string(""), Medium,
            "The timezone to use when partitioning with TimeBasedPartitioner (e.g. UTC, America/Los_Angeles).")
        .with_validator(Validator::Custom(check_timezone))
        .define(TIMESTAMP_EXTRACTOR, Type::String, string("Wallclock"), Medium,
            "The extractor that gets the timestamp for records when partitioning with TimeBasedPartitioner: Wallclock (processing time), Record (the record's timestamp) or RecordField (timestamp.field of the value).")
        .with_validator(Validator::Custom(check_extractor))
        .define(TIMESTAMP_FIELD, Type::String, string("timestamp"), Medium,
            "The record field to be used as timestamp by the RecordField timestamp extractor (dotted names reach into nested structs).")
        // S3
        .define(BUCKET, Type::String, Default::Required, High, "The S3 Bucket.")
        .with_validator(Validator::NonEmptyString)
        .define(REGION, Type::String, string("us-west-2"), Medium, "The AWS region to be used the connector.")
        .with_validator(Validator::NonEmptyString)
        .define(PART_SIZE, Type::Int, int(DEFAULT_PART_SIZE), High,
            "The Part Size in S3 Multi-part Uploads. An open file keeps at most about two parts in memory (one uploading while the next fills), plus, for Parquet, its current row group of about a part's size.")
        .with_validator(Validator::at_least(f64::from(MIN_PART_SIZE)))
        .define(COMPRESSION_TYPE, Type::String, string("none"), Low,
            "Compression type for files written to S3: none or gzip. Applied when using JsonFormat, ByteArrayFormat or StringFormat.")
        .with_validator(Validator::OneOf(&["none", "gzip"]))
        .define(COMPRESSION_LEVEL, Type::Int, int(-1), Low,
            "Compression level for files written to S3 (-1 the default, 0-9). Applied when using JsonFormat, ByteArrayFormat or StringFormat.")
        .with_validator(Validator::between(-1.0, 9.0))
        .define(PART_RETRIES, Type::Int, int(3), Medium,
            "Maximum number of retry attempts for failed requests. Zero means no retries. The S3 client retries transient errors (HTTP 500, 503, throttling, timeouts, broken connections) only.")
        .with_validator(Validator::at_least(0.0))
        .define(S3_RETRY_BACKOFF_MS, Type::Long, long(200), Low,
            "How long to wait in milliseconds before attempting the first retry of a failed S3 request. Upon a failure, this connector may wait up to twice as long as the previous wait, up to the maximum number of retries.")
        .with_validator(Validator::at_least(0.0))
        .define(OBJECT_TAGGING, Type::Boolean, boolean(false), Low,
            "Tag S3 objects with start and end offsets, as well as record count.")
        .define(OBJECT_TAGGING_EXTRA_KV, Type::List, Default::Value(ConfigValue::List(Vec::new())), Low,
            "Additional S3 tag key value pairs (key:value, comma separated).")
        .with_validator(Validator::Custom(check_tagging_kv))
        .define(TAGGING_ERROR_BEHAVIOR, Type::String, string("ignore"), Low,
            "How to handle S3 object tagging error: ignore or fail.")
        .with_validator(Validator::OneOfIgnoreCase(&["ignore", "fail"]))
        .define(PATH_STYLE_ACCESS, Type::Boolean, boolean(true), Low,
            "Path-style addressing (http://host/bucket/key) instead of virtual-hosted style (http://bucket.host/key). Most S3-compatible stores need it.")
        .define(ACCESS_KEY_ID, Type::Password, Default::Null, High,
            "The AWS access key ID. Unset: the standard AWS credential chain (environment, profile, web identity, ECS/EC2 instance roles).")
        .define(SECRET_ACCESS_KEY, Type::Password, Default::Null, High,
            "The secret access key, with aws.access.key.id.")
        .define(SSEA_NAME, Type::String, string(""), Low,
            "The S3 Server Side Encryption Algorithm: AES256 or aws:kms; empty for none.")
        .with_validator(Validator::OneOf(&["", "AES256", "aws:kms"]))
        .define(SSE_KMS_KEY_ID, Type::String, string(""), Low,
            "The AWS KMS key for server side encryption with s3.ssea.name aws:kms.")
        .define(ACL_CANNED, Type::String, Default::Null, Low,
            "An S3 canned ACL header value to apply when writing objects (private, public-read, bucket-owner-full-control, ...).")
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
}

impl From<ConfigProblem> for ConnectError {
    fn from(p: ConfigProblem) -> Self {
        let ConfigProblem::Issues(issues) = p;
        ConnectError::Config(
            issues
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
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
        let get_str = |k: &str| parsed.string(k).ok().flatten().unwrap_or("").to_string();
        let get_long = |k: &str| parsed.long(k).ok().flatten().unwrap_or(-1);
        let get_bool = |k: &str| parsed.boolean(k).ok().flatten().unwrap_or(false);
        let issue = |key: &str, value: Option<String>, message: String| ConfigIssue {
            key: key.to_string(),
            value,
            message,
        };

        // Validators have checked these names.
        let format = FormatKind::from_class(&get_str(FORMAT_CLASS)).unwrap_or(FormatKind::Json);
        let kind = PartitionerKind::from_class(&get_str(PARTITIONER_CLASS))
            .unwrap_or(PartitionerKind::Default);
        let partitioner = match PartitionerConfig::new(
            kind,
            parsed
                .list(PARTITION_FIELD_NAME)
                .ok()
                .flatten()
                .unwrap_or(&[]),
            get_long(PARTITION_DURATION_MS),
            &get_str(PATH_FORMAT),
            &get_str(LOCALE),
            &get_str(TIMEZONE),
            &get_str(TIMESTAMP_EXTRACTOR),
            &get_str(TIMESTAMP_FIELD),
            &get_str(DIRECTORY_DELIM),
        ) {
            Ok(p) => Some(p),
            Err((key, value, message)) => {
                issues.push(issue(key, value, message));
                None
            }
        };

        let rotate_interval_ms = Some(get_long(ROTATE_INTERVAL_MS)).filter(|v| *v > 0);
        let rotate_schedule_interval_ms =
            Some(get_long(ROTATE_SCHEDULE_INTERVAL_MS)).filter(|v| *v > 0);
        if rotate_schedule_interval_ms.is_some() && get_str(TIMEZONE).is_empty() {
            issues.push(issue(
                TIMEZONE,
                None,
                format!(
                    "timezone configuration must be set when using {ROTATE_SCHEDULE_INTERVAL_MS}"
                ),
            ));
        }
        let sse = Some(get_str(SSEA_NAME)).filter(|s| !s.is_empty());
        let access_key = parsed
            .string(ACCESS_KEY_ID)
            .ok()
            .flatten()
            .filter(|s| !s.is_empty());
        let secret_key = parsed
            .string(SECRET_ACCESS_KEY)
            .ok()
            .flatten()
            .filter(|s| !s.is_empty());
        let credentials = match (access_key, secret_key) {
            (Some(a), Some(s)) => Some((a.to_string(), s.to_string())),
            (None, None) => None,
            (Some(_), None) => {
                issues.push(issue(
                    SECRET_ACCESS_KEY,
                    None,
                    format!("must be set together with {ACCESS_KEY_ID}"),
                ));
                None
            }
            (None, Some(_)) => {
                issues.push(issue(
                    ACCESS_KEY_ID,
                    None,
                    format!("must be set together with {SECRET_ACCESS_KEY}"),
                ));
                None
            }
        };
        let endpoint = parsed
            .string(STORE_URL)
            .ok()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(url) = &endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            issues.push(issue(
                STORE_URL,
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
                "{ROTATE_INTERVAL_MS} is set but the partitioner is not time-based: it is ignored"
            );
        }
        let level = parsed.int(COMPRESSION_LEVEL).ok().flatten().unwrap_or(-1);
        let compression = match get_str(COMPRESSION_TYPE).as_str() {
            "gzip" => Compression::Gzip {
                level: if level < 0 { 6 } else { level as u32 },
            },
            _ => Compression::None,
        };
        let tagging = get_bool(OBJECT_TAGGING).then(|| Tagging {
            extra: parsed
                .list(OBJECT_TAGGING_EXTRA_KV)
                .ok()
                .flatten()
                .unwrap_or(&[])
                .iter()
                .filter_map(|kv| kv.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect(),
            fail_on_error: get_str(TAGGING_ERROR_BEHAVIOR).eq_ignore_ascii_case("fail"),
        });
        Ok(S3SinkConfig {
            format,
            flush_size: parsed.int(FLUSH_SIZE).ok().flatten().unwrap_or(1).max(1) as u64,
            rotate_interval_ms,
            rotate_schedule_interval_ms,
            schedule_zone: crate::partitioner::time_zone(&get_str(TIMEZONE))
                .unwrap_or(jiff::tz::TimeZone::UTC),
            rotate_on_partition_change: get_bool(ROTATE_FILE_ON_PARTITION_CHANGE),
            compatibility: Compatibility::from_name(&get_str(SCHEMA_COMPATIBILITY)),
            retry_backoff: Duration::from_millis(get_long(RETRY_BACKOFF_MS).max(0) as u64),
            zero_pad_width: parsed
                .int(ZERO_PAD_WIDTH)
                .ok()
                .flatten()
                .unwrap_or(10)
                .max(0) as usize,
            avro_codec: AvroCodec::from_name(&get_str(AVRO_CODEC)),
            parquet_codec: ParquetCodec::from_name(&get_str(PARQUET_CODEC)),
            connect_meta_data: get_bool(CONNECT_META_DATA),
            decimal_numeric: get_str(JSON_DECIMAL_FORMAT).eq_ignore_ascii_case("NUMERIC"),
            bytearray_extension: get_str(BYTEARRAY_EXTENSION),
            // Whitespace matters here, so the raw value, not the trimmed one.
            line_separator: config
                .get(BYTEARRAY_SEPARATOR)
                .map(|s| unescape(s))
                .unwrap_or_else(|| b"\n".to_vec()),
            ignore_null_values: get_str(BEHAVIOR_ON_NULL_VALUES).eq_ignore_ascii_case("ignore"),
            compression,
            topics_dir: get_str(TOPICS_DIR),
            directory_delim: get_str(DIRECTORY_DELIM),
            file_delim: get_str(FILE_DELIM),
            partitioner,
            storage: StorageConfig {
                bucket: get_str(BUCKET),
                region: get_str(REGION),
                endpoint,
                path_style: get_bool(PATH_STYLE_ACCESS),
                credentials,
                part_size: parsed
                    .int(PART_SIZE)
                    .ok()
                    .flatten()
                    .unwrap_or(DEFAULT_PART_SIZE)
                    .max(MIN_PART_SIZE) as usize,
                retries: parsed.int(PART_RETRIES).ok().flatten().unwrap_or(3).max(0) as u32,
                retry_backoff: Duration::from_millis(get_long(S3_RETRY_BACKOFF_MS).max(0) as u64),
                sse,
                sse_kms_key_id: Some(get_str(SSE_KMS_KEY_ID)).filter(|s| !s.is_empty()),
                acl: parsed
                    .string(ACL_CANNED)
                    .ok()
                    .flatten()
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
        for key in [ACCESS_KEY_ID, SECRET_ACCESS_KEY] {
            assert_eq!(def.key(key).unwrap().ty, Type::Password, "{key}");
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
