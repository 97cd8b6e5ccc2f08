//! Postgres column types → Connect schemas, and decoded values → Connect values, under the
//! rules of one connector family. The table in this crate's README documents both.
//!
//! A column's mapping is worked out once (when a table's columns are read) into a
//! [`Column`]: its Connect schema and a [`Conv`], so converting a value is one match on a
//! small enum.

use ferry_api::logical::{self, Decimal};
use ferry_api::{Schema, SchemaBuilder, SchemaType, Struct, Value};

use super::calendar::format_timestamp;
use super::{Kind, Numeric, PgType, PgValue, TypeError, format_uuid};

/// Confluent JDBC source's `numeric.mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumericMapping {
    /// `numeric(p,s)` → Decimal(s); unconstrained `numeric` → STRING (exact text).
    None,
    /// `numeric(p,0)` with p < 19 → the smallest INT that fits; others → FLOAT64.
    BestFit,
    /// `numeric(p,0)` with p < 19 → INT; others as `None`.
    PrecisionOnly,
}

/// Confluent JDBC source's `timestamp.granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampGranularity {
    /// Connect Timestamp: milliseconds.
    ConnectLogical,
    /// INT64 nanoseconds since the epoch.
    NanosLong,
    /// Nanoseconds since the epoch as a STRING.
    NanosString,
    /// `yyyy-MM-dd'T'HH:mm:ss.nnnnnnnnn` as a STRING.
    NanosIsoDatetimeString,
}

/// Debezium's `decimal.handling.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalHandling {
    Precise,
    Double,
    String,
}

/// Debezium's `time.precision.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimePrecision {
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

/// Which connector's type rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// The JDBC-style source (Confluent's JdbcSourceConnector rules).
    Jdbc {
        numeric: NumericMapping,
        timestamps: TimestampGranularity,
    },
    /// The CDC source (Debezium's PostgresConnector rules).
    Debezium {
        decimal: DecimalHandling,
        time: TimePrecision,
    },
}

/// How a decoded value becomes a Connect value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Conv {
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// Connect Decimal with this scale (values are rescaled to it).
    Decimal(i32),
    /// Debezium's VariableScaleDecimal struct.
    VariableDecimal(Schema),
    /// numeric as FLOAT64.
    NumericDouble,
    /// Text of any value (numeric text, timetz, uuid, json, ...).
    String,
    Bytes,
    /// Connect Date: days.
    Date,
    /// INT32 days (Debezium's Date).
    DaysInt32,
    /// Connect Time: milliseconds.
    TimeMillis,
    /// INT32 milliseconds (Debezium's Time).
    TimeMillisInt32,
    /// INT64 microseconds (Debezium's MicroTime).
    TimeMicros,
    /// Connect Timestamp: milliseconds.
    TimestampMillis,
    /// INT64 milliseconds (Debezium's Timestamp).
    TimestampMillisInt64,
    /// INT64 microseconds (Debezium's MicroTimestamp).
    TimestampMicros,
    /// INT64 nanoseconds.
    TimestampNanos,
    /// Nanoseconds as text.
    TimestampNanosString,
    /// `yyyy-MM-ddTHH:mm:ss.nnnnnnnnn`.
    TimestampIsoNanos,
    /// ISO-8601 with zone, as Debezium's ZonedTimestamp / ZonedTime.
    Zoned,
    Array(Box<Conv>),
}

/// One column: its name, Postgres type and Connect mapping.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) pg: PgType,
    pub(crate) optional: bool,
    pub(crate) schema: Schema,
    pub(crate) conv: Conv,
}

impl Column {
    pub(crate) fn new(name: String, pg: PgType, optional: bool, profile: Profile) -> Column {
        let (schema, conv) = map_type(profile, &pg, &pg.kind, optional);
        Column {
            name,
            pg,
            optional,
            schema,
            conv,
        }
    }

    /// Converts a decoded value of this column; errors name the column.
    pub(crate) fn convert(&self, value: PgValue) -> Result<Value, TypeError> {
        convert(&self.conv, value).map_err(|e| {
            TypeError::new(format!(
                "column \"{}\" ({}): {}",
                self.name, self.pg.name, e.0
            ))
        })
    }
}

fn builder(ty: SchemaType, optional: bool) -> SchemaBuilder {
    SchemaBuilder::new(ty).set_optional(optional)
}

fn named(ty: SchemaType, name: &str, optional: bool) -> Schema {
    builder(ty, optional).name(name).version(1).build()
}

/// The Connect schema and conversion of a column type (or an array element type).
fn map_type(profile: Profile, pg: &PgType, kind: &Kind, optional: bool) -> (Schema, Conv) {
    use SchemaType as T;
    let plain = |ty: T, conv: Conv| (builder(ty, optional).build(), conv);
    match kind {
        Kind::Bool => plain(T::Boolean, Conv::Bool),
        Kind::Int2 => plain(T::Int16, Conv::Int16),
        Kind::Int4 => plain(T::Int32, Conv::Int32),
        Kind::Int8 | Kind::Oid => plain(T::Int64, Conv::Int64),
        Kind::Float4 => plain(T::Float32, Conv::Float32),
        Kind::Float8 => plain(T::Float64, Conv::Float64),
        Kind::Numeric => map_numeric(profile, pg, optional),
        Kind::Text | Kind::Other => plain(T::String, Conv::String),
        Kind::Bytea => plain(T::Bytes, Conv::Bytes),
        Kind::Uuid => match profile {
            Profile::Jdbc { .. } => plain(T::String, Conv::String),
            Profile::Debezium { .. } => (
                named(T::String, "io.debezium.data.Uuid", optional),
                Conv::String,
            ),
        },
        Kind::Json | Kind::Jsonb => match profile {
            Profile::Jdbc { .. } => plain(T::String, Conv::String),
            Profile::Debezium { .. } => (
                named(T::String, "io.debezium.data.Json", optional),
                Conv::String,
            ),
        },
        Kind::Date => match profile {
            Profile::Debezium {
                time: TimePrecision::Adaptive | TimePrecision::AdaptiveTimeMicroseconds,
                ..
            } => (
                named(T::Int32, "io.debezium.time.Date", optional),
                Conv::DaysInt32,
            ),
            _ => (
                logical::date_builder().set_optional(optional).build(),
                Conv::Date,
            ),
        },
        Kind::Time => match profile {
            Profile::Debezium {
                time: TimePrecision::Adaptive,
                ..
            } if pg.time_precision() <= 3 => (
                named(T::Int32, "io.debezium.time.Time", optional),
                Conv::TimeMillisInt32,
            ),
            Profile::Debezium {
                time: TimePrecision::Adaptive | TimePrecision::AdaptiveTimeMicroseconds,
                ..
            } => (
                named(T::Int64, "io.debezium.time.MicroTime", optional),
                Conv::TimeMicros,
            ),
            _ => (
                logical::time_builder().set_optional(optional).build(),
                Conv::TimeMillis,
            ),
        },
        Kind::TimeTz => match profile {
            Profile::Jdbc { .. } => plain(T::String, Conv::Zoned),
            Profile::Debezium { .. } => (
                named(T::String, "io.debezium.time.ZonedTime", optional),
                Conv::Zoned,
            ),
        },
        Kind::Timestamp => match profile {
            Profile::Jdbc { timestamps, .. } => jdbc_timestamp(timestamps, optional),
            Profile::Debezium {
                time: TimePrecision::Connect,
                ..
            } => jdbc_timestamp(TimestampGranularity::ConnectLogical, optional),
            Profile::Debezium { .. } if pg.time_precision() <= 3 => (
                named(T::Int64, "io.debezium.time.Timestamp", optional),
                Conv::TimestampMillisInt64,
            ),
            Profile::Debezium { .. } => (
                named(T::Int64, "io.debezium.time.MicroTimestamp", optional),
                Conv::TimestampMicros,
            ),
        },
        Kind::TimestampTz => match profile {
            Profile::Jdbc { timestamps, .. } => jdbc_timestamp(timestamps, optional),
            Profile::Debezium { .. } => (
                named(T::String, "io.debezium.time.ZonedTimestamp", optional),
                Conv::Zoned,
            ),
        },
        Kind::Array(elem) => {
            let (item, conv) = map_type(profile, pg, elem, true);
            (
                SchemaBuilder::array(item).set_optional(optional).build(),
                Conv::Array(Box::new(conv)),
            )
        }
    }
}

fn jdbc_timestamp(granularity: TimestampGranularity, optional: bool) -> (Schema, Conv) {
    match granularity {
        TimestampGranularity::ConnectLogical => (
            logical::timestamp_builder().set_optional(optional).build(),
            Conv::TimestampMillis,
        ),
        TimestampGranularity::NanosLong => (
            builder(SchemaType::Int64, optional).build(),
            Conv::TimestampNanos,
        ),
        TimestampGranularity::NanosString => (
            builder(SchemaType::String, optional).build(),
            Conv::TimestampNanosString,
        ),
        TimestampGranularity::NanosIsoDatetimeString => (
            builder(SchemaType::String, optional).build(),
            Conv::TimestampIsoNanos,
        ),
    }
}

fn map_numeric(profile: Profile, pg: &PgType, optional: bool) -> (Schema, Conv) {
    let ps = pg.numeric_precision_scale();
    let plain = |ty: SchemaType, conv: Conv| (builder(ty, optional).build(), conv);
    match profile {
        Profile::Jdbc { numeric, .. } => {
            let int = match (numeric, ps) {
                (NumericMapping::BestFit | NumericMapping::PrecisionOnly, Some((p, 0)))
                    if p < 19 =>
                {
                    Some(match p {
                        ..3 => (SchemaType::Int8, Conv::Int8),
                        3..5 => (SchemaType::Int16, Conv::Int16),
                        5..10 => (SchemaType::Int32, Conv::Int32),
                        _ => (SchemaType::Int64, Conv::Int64),
                    })
                }
                _ => None,
            };
            if let Some((ty, conv)) = int {
                return plain(ty, conv);
            }
            match (numeric, ps) {
                (NumericMapping::BestFit, _) => plain(SchemaType::Float64, Conv::NumericDouble),
                (_, Some((_, scale))) => (
                    logical::decimal_builder(scale)
                        .set_optional(optional)
                        .build(),
                    Conv::Decimal(scale),
                ),
                (_, None) => plain(SchemaType::String, Conv::String),
            }
        }
        Profile::Debezium { decimal, .. } => match (decimal, ps) {
            (DecimalHandling::Double, _) => plain(SchemaType::Float64, Conv::NumericDouble),
            (DecimalHandling::String, _) => plain(SchemaType::String, Conv::String),
            (DecimalHandling::Precise, Some((p, scale))) => (
                logical::decimal_builder(scale)
                    .parameter("connect.decimal.precision", p.to_string())
                    .set_optional(optional)
                    .build(),
                Conv::Decimal(scale),
            ),
            (DecimalHandling::Precise, None) => {
                let schema = SchemaBuilder::struct_()
                    .name("io.debezium.data.VariableScaleDecimal")
                    .version(1)
                    .doc("Variable scaled decimal")
                    .field("scale", Schema::int32())
                    .field("value", Schema::bytes())
                    .set_optional(optional)
                    .build();
                (schema.clone(), Conv::VariableDecimal(schema))
            }
        },
    }
}

fn millis(micros: i64) -> i64 {
    match micros {
        i64::MAX | i64::MIN => micros,
        m => m.div_euclid(1000),
    }
}

/// Rescales a decimal to `scale` (exactly; an error if digits would be lost).
fn rescale(d: Decimal, scale: i32) -> Result<Decimal, TypeError> {
    if d.scale() == scale {
        return Ok(d);
    }
    let text = d.to_plain_string();
    let (int_part, frac) = text.split_once('.').unwrap_or((&text, ""));
    let want = scale.max(0) as usize;
    if frac.len() > want && frac[want..].bytes().any(|b| b != b'0') {
        return Err(TypeError::new(format!(
            "{text} has more than {scale} digits after the point"
        )));
    }
    let mut frac = frac[..frac.len().min(want)].to_string();
    while frac.len() < want {
        frac.push('0');
    }
    let rescaled = if frac.is_empty() {
        int_part.to_string()
    } else {
        format!("{int_part}.{frac}")
    };
    Decimal::parse(&rescaled).map_err(|e| TypeError::new(e.to_string()))
}

/// Converts a decoded value.
pub(crate) fn convert(conv: &Conv, value: PgValue) -> Result<Value, TypeError> {
    use PgValue as P;
    let mismatch = |v: &PgValue| TypeError::new(format!("unexpected value {v:?} for {conv:?}"));
    Ok(match (conv, value) {
        (_, P::Null) => Value::Null,
        (Conv::Bool, P::Bool(b)) => Value::Boolean(b),
        (Conv::Int16, P::Int2(v)) => Value::Int16(v),
        (Conv::Int32, P::Int4(v)) => Value::Int32(v),
        (Conv::Int64, P::Int8(v)) => Value::Int64(v),
        (Conv::Int8 | Conv::Int16 | Conv::Int32 | Conv::Int64, P::Numeric(n)) => {
            let Numeric::Value(d) = &n else {
                return Err(TypeError::new(format!("{n} does not fit an integer")));
            };
            let v = d
                .unscaled_i128()
                .filter(|_| d.scale() == 0)
                .ok_or_else(|| TypeError::new(format!("{n} is not an integer")))?;
            let out_of_range = || TypeError::new(format!("{n} is out of range"));
            match conv {
                Conv::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
                Conv::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
                Conv::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
                _ => Value::Int64(i64::try_from(v).map_err(|_| out_of_range())?),
            }
        }
        (Conv::Float32, P::Float4(v)) => Value::Float32(v),
        (Conv::Float64, P::Float8(v)) => Value::Float64(v),
        (Conv::Decimal(scale), P::Numeric(Numeric::Value(d))) => {
            Value::Decimal(rescale(d, *scale)?)
        }
        (Conv::Decimal(_), P::Numeric(special)) => {
            return Err(TypeError::new(format!(
                "{special} cannot be represented as a Decimal"
            )));
        }
        (Conv::VariableDecimal(schema), P::Numeric(Numeric::Value(d))) => {
            let s = Struct::new(schema.clone())
                .and_then(|s| s.with("scale", Value::Int32(d.scale())))
                .and_then(|s| {
                    s.with(
                        "value",
                        Value::Bytes(bytes::Bytes::copy_from_slice(d.unscaled_bytes())),
                    )
                })
                .map_err(|e| TypeError::new(e.to_string()))?;
            Value::Struct(s)
        }
        (Conv::VariableDecimal(_), P::Numeric(special)) => {
            return Err(TypeError::new(format!(
                "{special} cannot be represented as a VariableScaleDecimal"
            )));
        }
        (Conv::NumericDouble, P::Numeric(n)) => Value::Float64(match n {
            Numeric::Value(d) => d.to_plain_string().parse().unwrap_or(f64::NAN),
            Numeric::NaN => f64::NAN,
            Numeric::Infinity => f64::INFINITY,
            Numeric::NegativeInfinity => f64::NEG_INFINITY,
        }),
        (Conv::String, v) => Value::from(text_of(v).map_err(|v| mismatch(&v))?),
        (Conv::Bytes, P::Bytes(b)) => Value::Bytes(b),
        (Conv::Date, P::Date(d)) => Value::Date(d),
        (Conv::DaysInt32, P::Date(d)) => Value::Int32(d),
        (Conv::TimeMillis, P::Time(t)) => Value::Time((t / 1000) as i32),
        (Conv::TimeMillisInt32, P::Time(t)) => Value::Int32((t / 1000) as i32),
        (Conv::TimeMicros, P::Time(t)) => Value::Int64(t),
        (Conv::TimestampMillis, P::Timestamp(t) | P::TimestampTz(t)) => Value::Timestamp(millis(t)),
        (Conv::TimestampMillisInt64, P::Timestamp(t) | P::TimestampTz(t)) => {
            Value::Int64(millis(t))
        }
        (Conv::TimestampMicros, P::Timestamp(t) | P::TimestampTz(t)) => Value::Int64(t),
        (Conv::TimestampNanos, P::Timestamp(t) | P::TimestampTz(t)) => {
            Value::Int64(t.saturating_mul(1000))
        }
        (Conv::TimestampNanosString, P::Timestamp(t) | P::TimestampTz(t)) => {
            Value::from((i128::from(t) * 1000).to_string())
        }
        (Conv::TimestampIsoNanos, P::Timestamp(t) | P::TimestampTz(t)) => {
            Value::from(format_timestamp(t, 9))
        }
        (Conv::Zoned, P::TimestampTz(t)) => Value::from(zoned_timestamp(t)),
        (Conv::Zoned, P::TimeTz(t, offset)) => Value::from(zoned_time(t, offset)),
        (Conv::Array(item), P::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|v| convert(item, v))
                .collect::<Result<_, _>>()?,
        ),
        (_, v) => return Err(mismatch(&v)),
    })
}

/// The text of a value read as STRING; gives the value back if it has no text form here.
fn text_of(value: PgValue) -> Result<String, PgValue> {
    Ok(match value {
        PgValue::Text(s) | PgValue::Json(s) => s,
        PgValue::Numeric(n) => n.to_string(),
        PgValue::Uuid(u) => format_uuid(&u),
        PgValue::TimeTz(t, offset) => zoned_time(t, offset),
        PgValue::TimestampTz(t) => zoned_timestamp(t),
        PgValue::Bool(b) => b.to_string(),
        PgValue::Int2(v) => v.to_string(),
        PgValue::Int4(v) => v.to_string(),
        PgValue::Int8(v) => v.to_string(),
        other => return Err(other),
    })
}

/// Fraction digits trimmed of trailing zeros, as Java's ISO formatters print them.
fn trim_fraction(mut s: String) -> String {
    if let Some(dot) = s.rfind('.') {
        let keep = s.trim_end_matches('0').len();
        s.truncate(if keep == dot + 1 { dot } else { keep });
    }
    s
}

/// ISO-8601 in UTC with a `Z`, as Debezium's ZonedTimestamp.
pub(crate) fn zoned_timestamp(micros: i64) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        m => format!("{}Z", trim_fraction(format_timestamp(m, 6))),
    }
}

fn zoned_time(micros: i64, offset_secs: i32) -> String {
    let time = trim_fraction(super::calendar::format_time(micros, 6));
    if offset_secs == 0 {
        return format!("{time}Z");
    }
    let sign = if offset_secs < 0 { '-' } else { '+' };
    let abs = offset_secs.unsigned_abs();
    format!("{time}{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::oid;

    const JDBC: Profile = Profile::Jdbc {
        numeric: NumericMapping::None,
        timestamps: TimestampGranularity::ConnectLogical,
    };
    const DEBEZIUM: Profile = Profile::Debezium {
        decimal: DecimalHandling::Precise,
        time: TimePrecision::Adaptive,
    };

    fn col(profile: Profile, oid: u32, typmod: i32) -> Column {
        Column::new("c".into(), PgType::new(oid, typmod, "t"), true, profile)
    }

    #[test]
    fn jdbc_mapping() {
        let c = col(JDBC, oid::NUMERIC, ((10 << 16) | 2) + 4);
        assert_eq!(c.schema.name(), Some(logical::DECIMAL));
        let v = c
            .convert(PgValue::Numeric(Numeric::Value(
                Decimal::parse("1.5").unwrap(),
            )))
            .unwrap();
        assert_eq!(v, Value::Decimal(Decimal::parse("1.50").unwrap()));
        let c = col(JDBC, oid::NUMERIC, -1);
        assert_eq!(c.schema.schema_type(), SchemaType::String);
        let c = col(JDBC, oid::TIMESTAMPTZ, -1);
        assert_eq!(
            c.convert(PgValue::TimestampTz(1_500)).unwrap(),
            Value::Timestamp(1)
        );
        let err = col(JDBC, oid::NUMERIC, ((10 << 16) | 2) + 4)
            .convert(PgValue::Numeric(Numeric::NaN))
            .unwrap_err();
        assert!(err.0.starts_with("column \"c\""), "{err}");
        let best = Profile::Jdbc {
            numeric: NumericMapping::BestFit,
            timestamps: TimestampGranularity::NanosIsoDatetimeString,
        };
        let c = col(best, oid::NUMERIC, (4 << 16) + 4);
        assert_eq!(c.schema.schema_type(), SchemaType::Int16);
        assert_eq!(
            col(best, oid::TIMESTAMP, -1)
                .convert(PgValue::Timestamp(1))
                .unwrap(),
            Value::from("1970-01-01T00:00:00.000001000")
        );
    }

    #[test]
    fn debezium_mapping() {
        let c = col(DEBEZIUM, oid::TIMESTAMP, -1);
        assert_eq!(c.schema.name(), Some("io.debezium.time.MicroTimestamp"));
        let c = col(DEBEZIUM, oid::TIMESTAMPTZ, -1);
        assert_eq!(
            c.convert(PgValue::TimestampTz(1_500_000)).unwrap(),
            Value::from("1970-01-01T00:00:01.5Z")
        );
        let c = col(DEBEZIUM, oid::NUMERIC, -1);
        assert_eq!(
            c.schema.name(),
            Some("io.debezium.data.VariableScaleDecimal")
        );
        let c = col(DEBEZIUM, oid::TIME, 3);
        assert_eq!(c.schema.name(), Some("io.debezium.time.Time"));
        let c = col(DEBEZIUM, oid::UUID, -1);
        assert_eq!(c.schema.name(), Some("io.debezium.data.Uuid"));
    }
}
