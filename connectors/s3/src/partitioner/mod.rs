//! Partitioners: which directory (the "encoded partition") a record's object goes to, as
//! Confluent's storage partitioners compute it.
//!
//! - Default: `partition=<kafka partition>`.
//! - Field: `<field>=<value>` for each of `partition.field.name` (INT*, STRING, BOOLEAN
//!   fields of a struct value), joined by `directory.delim`.
//! - TimeBased: the start of the record's time bucket (`partition.duration.ms`, aligned in
//!   `timezone`), formatted with the Joda-Time pattern `path.format`; the time comes from
//!   `timestamp.extractor`. Hourly and Daily are TimeBased with a fixed pattern and duration.

mod joda;

use ferry_api::{SchemaType, SinkRecord, Value, logical};
use jiff::Timestamp;
use jiff::tz::TimeZone;

pub(crate) use joda::Pattern;

/// A record the partitioner cannot place (Confluent's `PartitionException`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct PartitionError(pub(crate) String);

/// The partitioner classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionerKind {
    Default,
    Field,
    TimeBased,
    Hourly,
    Daily,
}

const PACKAGE: &str = "io.confluent.connect.storage.partitioner.";

impl PartitionerKind {
    pub(crate) const CLASSES: &'static [&'static str] = &[
        "io.confluent.connect.storage.partitioner.DefaultPartitioner",
        "io.confluent.connect.storage.partitioner.FieldPartitioner",
        "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
        "io.confluent.connect.storage.partitioner.HourlyPartitioner",
        "io.confluent.connect.storage.partitioner.DailyPartitioner",
    ];

    /// The kind of a full or short class name.
    pub(crate) fn from_class(class: &str) -> Option<PartitionerKind> {
        let short = class.trim().strip_prefix(PACKAGE).unwrap_or(class.trim());
        Some(match short {
            "DefaultPartitioner" => PartitionerKind::Default,
            "FieldPartitioner" => PartitionerKind::Field,
            "TimeBasedPartitioner" => PartitionerKind::TimeBased,
            "HourlyPartitioner" => PartitionerKind::Hourly,
            "DailyPartitioner" => PartitionerKind::Daily,
            _ => return None,
        })
    }
}

/// Where a time-based partitioner takes a record's time from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TimestampSource {
    /// Processing time.
    Wallclock,
    /// The record's timestamp.
    Record,
    /// A field of the value (dotted path).
    RecordField(String),
}

impl TimestampSource {
    /// Validates an extractor name (the field name is filled in later).
    pub(crate) fn from_name(name: &str) -> Option<TimestampSource> {
        let short = name
            .trim()
            .strip_prefix("io.confluent.connect.storage.partitioner.TimeBasedPartitioner$")
            .map(|s| s.strip_suffix("TimestampExtractor").unwrap_or(s))
            .unwrap_or(name.trim());
        Some(match short {
            "Wallclock" => TimestampSource::Wallclock,
            "Record" => TimestampSource::Record,
            "RecordField" => TimestampSource::RecordField(String::new()),
            _ => return None,
        })
    }

    /// Whether the time depends on the records only (so a replay cuts files the same way).
    pub(crate) fn is_deterministic(&self) -> bool {
        !matches!(self, TimestampSource::Wallclock)
    }

    /// The record's time in ms since the epoch.
    pub(crate) fn extract(&self, record: &SinkRecord, now_ms: i64) -> Result<i64, PartitionError> {
        match self {
            TimestampSource::Wallclock => Ok(now_ms),
            TimestampSource::Record => record.timestamp.ok_or_else(|| {
                PartitionError(format!(
                    "Unable to determine timestamp using timestamp.extractor Record for the record at offset {} of {}-{}: it has no timestamp",
                    record.kafka_offset, record.topic, record.kafka_partition
                ))
            }),
            TimestampSource::RecordField(field) => field_timestamp(record, field),
        }
    }
}

fn field_timestamp(record: &SinkRecord, field: &str) -> Result<i64, PartitionError> {
    let bad = |why: String| {
        PartitionError(format!(
            "Error extracting timestamp from record field {field} of the record at offset {} of {}-{}: {why}",
            record.kafka_offset, record.topic, record.kafka_partition
        ))
    };
    let value = match &record.value {
        Value::Struct(_) | Value::Map(_) => {
            nested_value(&record.value, field).ok_or_else(|| bad("no such field".into()))?
        }
        other => {
            return Err(bad(format!(
                "the value is a {}, not a struct or map",
                other.kind()
            )));
        }
    };
    match value {
        Value::Timestamp(ms) => Ok(*ms),
        Value::Int32(n) => Ok(i64::from(*n)),
        Value::Int64(n) => Ok(*n),
        Value::Int8(n) => Ok(i64::from(*n)),
        Value::Int16(n) => Ok(i64::from(*n)),
        Value::String(s) => parse_timestamp_text(s.as_str()).ok_or_else(|| {
            bad(format!(
                "\"{}\" is neither epoch milliseconds nor an ISO-8601 date-time",
                s.as_str()
            ))
        }),
        Value::Null => Err(bad("the field is null".into())),
        other => Err(bad(format!("unsupported type {}", other.kind()))),
    }
}

/// Epoch milliseconds as digits, or an ISO-8601 date, date-time or instant (a date-time
/// without an offset is read as UTC), as Joda's `ISODateTimeFormat.dateTimeParser` reads them
/// in a UTC JVM.
pub(crate) fn parse_timestamp_text(text: &str) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty()
        && digits.len() <= 19
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = t.parse::<i64>()
    {
        return Some(n);
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned_datetime(TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        return d
            .to_zoned_datetime(TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

/// A field of a struct (or an entry of a string-keyed map), following a dotted path.
fn nested_value<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    for part in path.split('.') {
        current = match current {
            Value::Struct(s) => s.get(part)?,
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(part))
                .map(|(_, v)| v)?,
            _ => return None,
        };
    }
    Some(current)
}

/// A time zone by ID (`UTC`, `America/Los_Angeles`, `+02:00`).
pub(crate) fn time_zone(id: &str) -> Result<TimeZone, String> {
    let id = id.trim();
    if id.eq_ignore_ascii_case("UTC") || id == "Z" {
        return Ok(TimeZone::UTC);
    }
    if let Some(offset) = parse_fixed_offset(id) {
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(id).map_err(|e| e.to_string())
}

fn parse_fixed_offset(id: &str) -> Option<jiff::tz::Offset> {
    let (sign, rest) = match id.as_bytes().first()? {
        b'+' => (1, &id[1..]),
        b'-' => (-1, &id[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if rest.len() == 4 => (rest[..2].parse().ok()?, rest[2..].parse().ok()?),
        None => (rest.parse().ok()?, 0),
    };
    jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// The time-based part of a partitioner.
#[derive(Debug, Clone)]
pub(crate) struct TimeBuckets {
    duration_ms: i64,
    pattern: Pattern,
    zone: TimeZone,
    source: TimestampSource,
}

impl TimeBuckets {
    /// The bucket start of `timestamp`, as Confluent's `TimeBasedPartitioner.getPartition`:
    /// truncated in local time, then back to UTC.
    fn bucket_start(&self, timestamp: i64) -> i64 {
        let local = timestamp + offset_ms(&self.zone, timestamp);
        // Java's `/` truncates toward zero.
        let truncated = (local / self.duration_ms) * self.duration_ms;
        local_to_utc(&self.zone, truncated)
    }

    pub(crate) fn source(&self) -> &TimestampSource {
        &self.source
    }
}

fn offset_ms(zone: &TimeZone, utc_ms: i64) -> i64 {
    match Timestamp::from_millisecond(utc_ms) {
        Ok(ts) => i64::from(zone.to_offset(ts).seconds()) * 1000,
        Err(_) => 0,
    }
}

fn next_transition(zone: &TimeZone, utc_ms: i64) -> i64 {
    Timestamp::from_millisecond(utc_ms)
        .ok()
        .and_then(|ts| zone.following(ts).next())
        .map(|t| t.timestamp().as_millisecond())
        .unwrap_or(utc_ms)
}

/// Joda's `DateTimeZone.convertLocalToUTC(local, strict = false)`.
fn local_to_utc(zone: &TimeZone, local: i64) -> i64 {
    let offset_local = offset_ms(zone, local);
    let mut offset = offset_ms(zone, local - offset_local);
    if offset_local != offset && offset_local < 0 {
        let next_local = next_transition(zone, local - offset_local);
        let next_adjusted = next_transition(zone, local - offset);
        if next_local != next_adjusted {
            offset = offset_local;
        }
    }
    local - offset
}

/// A configured partitioner.
#[derive(Debug, Clone)]
pub(crate) struct PartitionerConfig {
    kind: PartitionerKind,
    fields: Vec<String>,
    time: Option<TimeBuckets>,
    delim: String,
}

type Problem = (&'static str, Option<String>, String);

impl PartitionerConfig {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        kind: PartitionerKind,
        fields: &[String],
        duration_ms: i64,
        path_format: &str,
        locale: &str,
        timezone: &str,
        extractor: &str,
        timestamp_field: &str,
        delim: &str,
    ) -> Result<PartitionerConfig, Problem> {
        use crate::config::{
            LOCALE, PARTITION_DURATION_MS, PARTITION_FIELD_NAME, PATH_FORMAT, TIMESTAMP_FIELD,
            TIMEZONE,
        };
        let mut config = PartitionerConfig {
            kind,
            fields: Vec::new(),
            time: None,
            delim: delim.to_string(),
        };
        let hour = 3_600_000;
        let (duration_ms, path_format) = match kind {
            PartitionerKind::Default => return Ok(config),
            PartitionerKind::Field => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect();
                if fields.is_empty() {
                    return Err((
                        PARTITION_FIELD_NAME.name(),
                        None,
                        "FieldPartitioner needs at least one field name".into(),
                    ));
                }
                if let Some(bad) = fields
                    .iter()
                    .find(|f| f.split('.').any(|p| p.trim().is_empty()))
                {
                    return Err((
                        PARTITION_FIELD_NAME.name(),
                        Some(bad.clone()),
                        "Field name cannot contain an empty or whitespace-only path segment".into(),
                    ));
                }
                config.fields = fields;
                return Ok(config);
            }
            PartitionerKind::Hourly => (
                hour,
                format!("'year'=YYYY{delim}'month'=MM{delim}'day'=dd{delim}'hour'=HH"),
            ),
            PartitionerKind::Daily => (
                24 * hour,
                format!("'year'=YYYY{delim}'month'=MM{delim}'day'=dd"),
            ),
            PartitionerKind::TimeBased => {
                if duration_ms <= 0 {
                    return Err((
                        PARTITION_DURATION_MS.name(),
                        Some(duration_ms.to_string()),
                        "TimeBasedPartitioner needs a positive partition duration".into(),
                    ));
                }
                let mut p = path_format.to_string();
                if p.trim().is_empty() || p == delim {
                    return Err((
                        PATH_FORMAT.name(),
                        Some(p),
                        "Path format cannot be empty.".into(),
                    ));
                }
                if !delim.is_empty() && p.ends_with(delim) {
                    p.truncate(p.len() - delim.len());
                }
                (duration_ms, p)
            }
        };
        if locale.trim().is_empty() {
            return Err((
                LOCALE.name(),
                None,
                "Locale cannot be empty (e.g. en or en_US).".into(),
            ));
        }
        if timezone.trim().is_empty() {
            return Err((
                TIMEZONE.name(),
                None,
                "Timezone cannot be empty (e.g. UTC).".into(),
            ));
        }
        let zone =
            time_zone(timezone).map_err(|e| (TIMEZONE.name(), Some(timezone.to_string()), e))?;
        let pattern = Pattern::parse(&path_format)
            .map_err(|e| (PATH_FORMAT.name(), Some(path_format.clone()), e))?;
        let language = locale.trim().split(['_', '-']).next().unwrap_or("");
        if pattern.has_text() && !language.eq_ignore_ascii_case("en") {
            return Err((
                LOCALE.name(),
                Some(locale.to_string()),
                "month and day names (MMM, EEE, a, G, z) are only written in English: use locale en, or numeric fields"
                    .into(),
            ));
        }
        let mut source =
            TimestampSource::from_name(extractor).unwrap_or(TimestampSource::Wallclock);
        if let TimestampSource::RecordField(f) = &mut source {
            if timestamp_field.trim().is_empty() {
                return Err((
                    TIMESTAMP_FIELD.name(),
                    None,
                    "the RecordField extractor needs a field name".into(),
                ));
            }
            *f = timestamp_field.trim().to_string();
        }
        config.time = Some(TimeBuckets {
            duration_ms,
            pattern,
            zone,
            source,
        });
        Ok(config)
    }

    /// The time buckets of a time-based partitioner.
    pub(crate) fn timestamps(&self) -> Option<&TimeBuckets> {
        self.time.as_ref()
    }

    /// Whether the same records always get the same encoded partition.
    pub(crate) fn is_deterministic(&self) -> bool {
        self.time
            .as_ref()
            .is_none_or(|t| t.source.is_deterministic())
    }

    /// The encoded partition of a record (`now_ms` is the wall clock of this write).
    pub(crate) fn encode(
        &self,
        record: &SinkRecord,
        now_ms: i64,
    ) -> Result<String, PartitionError> {
        match self.kind {
            PartitionerKind::Default => Ok(format!("partition={}", record.kafka_partition)),
            PartitionerKind::Field => self.encode_fields(record),
            PartitionerKind::TimeBased | PartitionerKind::Hourly | PartitionerKind::Daily => {
                let Some(time) = &self.time else {
                    return Err(PartitionError(
                        "time-based partitioner without a time config".into(),
                    ));
                };
                let ts = time.source.extract(record, now_ms)?;
                Ok(time.pattern.format(time.bucket_start(ts), &time.zone))
            }
        }
    }

    fn encode_fields(&self, record: &SinkRecord) -> Result<String, PartitionError> {
        let Value::Struct(_) = &record.value else {
            return Err(PartitionError(format!(
                "Error encoding partition: FieldPartitioner needs a struct value, the record at offset {} of {}-{} has a {}",
                record.kafka_offset,
                record.topic,
                record.kafka_partition,
                record.value.kind()
            )));
        };
        let schema = record.value_schema.as_ref();
        let mut out = String::new();
        for name in &self.fields {
            if !out.is_empty() {
                out.push_str(&self.delim);
            }
            let field_schema = schema.and_then(|s| nested_schema(s, name)).ok_or_else(|| {
                PartitionError(format!("Field '{name}' is not present in the schema."))
            })?;
            let value = nested_value(&record.value, name).unwrap_or(&Value::Null);
            if value.is_null() {
                out.push_str(name);
                out.push_str("=null");
                continue;
            }
            let text = match (field_schema.schema_type(), value) {
                (
                    SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 | SchemaType::Int64,
                    v,
                ) if v.as_i64().is_some() => v.as_i64().map(|n| n.to_string()).unwrap_or_default(),
                (SchemaType::String, Value::String(s)) => s.as_str().to_string(),
                (SchemaType::Boolean, Value::Boolean(b)) => b.to_string(),
                (ty, _) => {
                    let name_of = field_schema
                        .name()
                        .filter(|n| logical::is_logical(n))
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default();
                    return Err(PartitionError(format!(
                        "Error encoding partition: type {ty}{name_of} of field '{name}' is not supported as a partition key"
                    )));
                }
            };
            out.push_str(name);
            out.push('=');
            out.push_str(&text);
        }
        Ok(out)
    }
}

fn nested_schema<'a>(schema: &'a ferry_api::Schema, path: &str) -> Option<&'a ferry_api::Schema> {
    let mut current = schema;
    for part in path.split('.') {
        current = current.field(part)?.schema();
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{Schema, SchemaBuilder, Struct};

    fn record(value_schema: Option<Schema>, value: Value, timestamp: Option<i64>) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 3,
            kafka_offset: 7,
            timestamp,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            headers: Vec::new(),
            original: None,
        }
    }

    fn time_based(format: &str, duration: i64, tz: &str, extractor: &str) -> PartitionerConfig {
        PartitionerConfig::new(
            PartitionerKind::TimeBased,
            &[],
            duration,
            format,
            "en",
            tz,
            extractor,
            "ts",
            "/",
        )
        .unwrap()
    }

    #[test]
    fn default_and_field() {
        let schema = SchemaBuilder::struct_()
            .field("region", Schema::string())
            .field("n", Schema::int32())
            .field("ok", Schema::optional_boolean())
            .field(
                "inner",
                SchemaBuilder::struct_().field("x", Schema::int64()).build(),
            )
            .build();
        let inner = Struct::new(schema.field("inner").unwrap().schema().clone())
            .unwrap()
            .with("x", Value::Int64(-5))
            .unwrap();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("region", "eu")
            .unwrap()
            .with("n", 42)
            .unwrap()
            .with("inner", Value::Struct(inner))
            .unwrap();
        let r = record(Some(schema), Value::Struct(value), None);
        let default = PartitionerConfig::new(
            PartitionerKind::Default,
            &[],
            -1,
            "",
            "",
            "",
            "Wallclock",
            "",
            "/",
        )
        .unwrap();
        assert_eq!(default.encode(&r, 0).unwrap(), "partition=3");
        let fields: Vec<String> = ["region", "n", "ok", "inner.x"].map(String::from).to_vec();
        let field = PartitionerConfig::new(
            PartitionerKind::Field,
            &fields,
            -1,
            "",
            "",
            "",
            "Wallclock",
            "",
            "/",
        )
        .unwrap();
        assert_eq!(
            field.encode(&r, 0).unwrap(),
            "region=eu/n=42/ok=null/inner.x=-5"
        );
        let missing = PartitionerConfig::new(
            PartitionerKind::Field,
            &["nope".to_string()],
            -1,
            "",
            "",
            "",
            "Wallclock",
            "",
            "/",
        )
        .unwrap();
        assert!(missing.encode(&r, 0).unwrap_err().0.contains("'nope'"));
        let schemaless = record(None, Value::from("x"), None);
        assert!(field.encode(&schemaless, 0).is_err());
    }

    #[test]
    fn time_based_buckets_in_the_time_zone() {
        // 2024-03-10T09:30:00Z, the day US clocks move forward (10:00Z).
        let ts = 1_710_063_000_000;
        let r = record(None, Value::Null, Some(ts));
        let hourly = time_based(
            "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
            3_600_000,
            "UTC",
            "Record",
        );
        assert_eq!(
            hourly.encode(&r, 0).unwrap(),
            "year=2024/month=03/day=10/hour=09"
        );
        let la = time_based(
            "'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH",
            3_600_000,
            "America/Los_Angeles",
            "Record",
        );
        assert_eq!(
            la.encode(&r, 0).unwrap(),
            "year=2024/month=03/day=10/hour=01"
        );
        let daily_la = time_based("YYYY-MM-dd", 86_400_000, "America/Los_Angeles", "Record");
        assert_eq!(daily_la.encode(&r, 0).unwrap(), "2024-03-10");
        // 15-minute buckets, wall clock.
        let quarter = time_based("HH:mm", 900_000, "UTC", "Wallclock");
        assert_eq!(quarter.encode(&r, ts + 20 * 60_000).unwrap(), "09:45");
        let no_ts = record(None, Value::Null, None);
        assert!(hourly.encode(&no_ts, 0).is_err());
    }

    #[test]
    fn record_field_timestamps() {
        let schema = SchemaBuilder::struct_()
            .field("ts", logical::timestamp_schema())
            .field("s", Schema::string())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("ts", Value::Timestamp(1_700_000_000_000))
            .unwrap()
            .with("s", "2023-11-14T22:13:20Z")
            .unwrap();
        let r = record(Some(schema), Value::Struct(value), None);
        let p = time_based("YYYYMMddHHmmss", 1000, "UTC", "RecordField");
        assert_eq!(p.encode(&r, 0).unwrap(), "20231114221320");
        let by_text = PartitionerConfig::new(
            PartitionerKind::TimeBased,
            &[],
            1000,
            "YYYYMMddHHmmss",
            "en",
            "UTC",
            "RecordField",
            "s",
            "/",
        )
        .unwrap();
        assert_eq!(by_text.encode(&r, 0).unwrap(), "20231114221320");
        assert_eq!(
            parse_timestamp_text("1700000000000"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_timestamp_text("2023-11-14"), Some(1_699_920_000_000));
        assert_eq!(
            parse_timestamp_text("2023-11-14T23:13:20+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_timestamp_text("yesterday"), None);
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = |kind, duration, format: &str, locale: &str, tz: &str| {
            PartitionerConfig::new(kind, &[], duration, format, locale, tz, "Record", "ts", "/")
                .unwrap_err()
                .0
        };
        assert_eq!(
            err(PartitionerKind::TimeBased, -1, "YYYY", "en", "UTC"),
            "partition.duration.ms"
        );
        assert_eq!(
            err(PartitionerKind::TimeBased, 1000, "", "en", "UTC"),
            "path.format"
        );
        assert_eq!(err(PartitionerKind::Hourly, -1, "", "", "UTC"), "locale");
        assert_eq!(err(PartitionerKind::Daily, -1, "", "en", ""), "timezone");
        assert_eq!(
            err(PartitionerKind::Daily, -1, "", "en", "Mars/Olympus"),
            "timezone"
        );
        assert_eq!(
            err(PartitionerKind::TimeBased, 1000, "MMM", "de", "UTC"),
            "locale"
        );
        assert_eq!(
            err(PartitionerKind::Field, -1, "", "", ""),
            "partition.field.name"
        );
    }
}
