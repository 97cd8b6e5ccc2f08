//! Postgres' binary format (query results, binary COPY, pgoutput's binary mode): decoding
//! into [`PgValue`].

use bytes::Bytes;

use super::calendar::{PG_EPOCH_DAYS, PG_EPOCH_MICROS};
use super::{Kind, PgValue, TypeError, numeric};

fn fixed<const N: usize>(raw: &[u8], what: &str) -> Result<[u8; N], TypeError> {
    raw.try_into()
        .map_err(|_| TypeError::new(format!("a binary {what} has {} bytes, not {N}", raw.len())))
}

/// Decodes one non-null value of `kind` from its binary form. `Kind::Other` cannot be
/// decoded (the sources read such columns as text).
pub(crate) fn decode(kind: &Kind, raw: &[u8]) -> Result<PgValue, TypeError> {
    Ok(match kind {
        Kind::Bool => PgValue::Bool(fixed::<1>(raw, "bool")?[0] != 0),
        Kind::Int2 => PgValue::Int2(i16::from_be_bytes(fixed(raw, "int2")?)),
        Kind::Int4 => PgValue::Int4(i32::from_be_bytes(fixed(raw, "int4")?)),
        Kind::Int8 => PgValue::Int8(i64::from_be_bytes(fixed(raw, "int8")?)),
        Kind::Oid => PgValue::Int8(i64::from(u32::from_be_bytes(fixed(raw, "oid")?))),
        Kind::Float4 => PgValue::Float4(f32::from_be_bytes(fixed(raw, "float4")?)),
        Kind::Float8 => PgValue::Float8(f64::from_be_bytes(fixed(raw, "float8")?)),
        Kind::Numeric => PgValue::Numeric(numeric::decode(raw)?),
        Kind::Text | Kind::Other => PgValue::Text(utf8(raw)?),
        Kind::Json => PgValue::Json(utf8(raw)?),
        Kind::Jsonb => match raw.split_first() {
            Some((1, rest)) => PgValue::Json(utf8(rest)?),
            _ => return Err(TypeError::new("unknown binary jsonb version")),
        },
        Kind::Bytea => PgValue::Bytes(Bytes::copy_from_slice(raw)),
        Kind::Date => {
            let d = i32::from_be_bytes(fixed(raw, "date")?);
            PgValue::Date(match d {
                i32::MAX | i32::MIN => d,
                d => d.saturating_add(PG_EPOCH_DAYS),
            })
        }
        Kind::Time => PgValue::Time(i64::from_be_bytes(fixed(raw, "time")?)),
        Kind::TimeTz => {
            let b: [u8; 12] = fixed(raw, "timetz")?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            // Postgres stores the zone as seconds west of UTC.
            let west = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
            PgValue::TimeTz(micros, -west)
        }
        Kind::Timestamp => PgValue::Timestamp(timestamp(raw)?),
        Kind::TimestampTz => PgValue::TimestampTz(timestamp(raw)?),
        Kind::Uuid => PgValue::Uuid(fixed(raw, "uuid")?),
        Kind::Array(elem) => decode_array(elem, raw)?,
    })
}

fn timestamp(raw: &[u8]) -> Result<i64, TypeError> {
    let t = i64::from_be_bytes(fixed(raw, "timestamp")?);
    Ok(match t {
        i64::MAX | i64::MIN => t,
        t => t.saturating_add(PG_EPOCH_MICROS),
    })
}

fn utf8(raw: &[u8]) -> Result<String, TypeError> {
    String::from_utf8(raw.to_vec()).map_err(|_| TypeError::new("text that is not UTF-8"))
}

/// Reads an array: `ndim`, `has_null`, element OID, `ndim` × (length, lower bound), then
/// each element as a length (-1 for null) and its bytes. Several dimensions become nested
/// arrays.
fn decode_array(elem: &Kind, raw: &[u8]) -> Result<PgValue, TypeError> {
    let bad = || TypeError::new("malformed binary array");
    let word = |at: usize| -> Result<i32, TypeError> {
        raw.get(at..at + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(bad)
    };
    let ndim = word(0)?;
    if ndim == 0 {
        return Ok(PgValue::Array(Vec::new()));
    }
    if !(1..=6).contains(&ndim) {
        return Err(bad());
    }
    let mut dims = Vec::with_capacity(ndim as usize);
    for d in 0..ndim as usize {
        let len = word(12 + 8 * d)?;
        if len < 0 {
            return Err(bad());
        }
        dims.push(len as usize);
    }
    let mut at = 12 + 8 * ndim as usize;
    let total: usize = dims.iter().product();
    let mut flat = Vec::with_capacity(total.min(raw.len()));
    for _ in 0..total {
        let len = word(at)?;
        at += 4;
        if len < 0 {
            flat.push(PgValue::Null);
        } else {
            let end = at + len as usize;
            let bytes = raw.get(at..end).ok_or_else(bad)?;
            flat.push(decode(elem, bytes)?);
            at = end;
        }
    }
    Ok(nest(flat, &dims))
}

/// Shapes a flat element list into nested arrays of the given dimensions.
pub(crate) fn nest(flat: Vec<PgValue>, dims: &[usize]) -> PgValue {
    if dims.len() <= 1 {
        return PgValue::Array(flat);
    }
    let inner: usize = dims[1..].iter().product();
    let mut out = Vec::with_capacity(dims[0]);
    let mut it = flat.into_iter();
    for _ in 0..dims[0] {
        let chunk: Vec<PgValue> = it.by_ref().take(inner).collect();
        out.push(nest(chunk, &dims[1..]));
    }
    PgValue::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars() {
        assert_eq!(
            decode(&Kind::Int4, &[0, 0, 1, 0]).unwrap(),
            PgValue::Int4(256)
        );
        assert_eq!(
            decode(&Kind::Date, &0i32.to_be_bytes()).unwrap(),
            PgValue::Date(PG_EPOCH_DAYS)
        );
        assert_eq!(
            decode(&Kind::TimestampTz, &1i64.to_be_bytes()).unwrap(),
            PgValue::TimestampTz(PG_EPOCH_MICROS + 1)
        );
        assert_eq!(
            decode(&Kind::Jsonb, b"\x01{}").unwrap(),
            PgValue::Json("{}".into())
        );
        assert!(decode(&Kind::Int8, &[1, 2]).is_err());
    }

    #[test]
    fn arrays() {
        // int4[] {1,NULL}: ndim 1, has_null 1, oid 23, dim 2 lbound 1, then elements.
        let mut raw = Vec::new();
        for w in [1i32, 1, 23, 2, 1, 4, 7, -1] {
            raw.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(
            decode(&Kind::Array(Box::new(Kind::Int4)), &raw).unwrap(),
            PgValue::Array(vec![PgValue::Int4(7), PgValue::Null])
        );
        let mut empty = Vec::new();
        for w in [0i32, 0, 23] {
            empty.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(
            decode(&Kind::Array(Box::new(Kind::Int4)), &empty).unwrap(),
            PgValue::Array(vec![])
        );
    }
}

/// Encoding Connect values in the binary form of a column's type (the sink's COPY).
pub(crate) mod encode {
    use std::borrow::Cow;

    use bytes::{BufMut, BytesMut};
    use ferry_api::logical::Decimal;
    use ferry_api::{Schema, Value};

    use crate::types::calendar::{PG_EPOCH_DAYS, PG_EPOCH_MICROS, parse_date, parse_timestamp};
    use crate::types::{Kind, PgType, TypeError, numeric, parse_uuid};

    /// Debezium's temporal schema names, read by the sink so CDC records land in typed
    /// columns.
    const DBZ_DATE: &str = "io.debezium.time.Date";
    const DBZ_TIME: &str = "io.debezium.time.Time";
    const DBZ_MICRO_TIME: &str = "io.debezium.time.MicroTime";
    const DBZ_NANO_TIME: &str = "io.debezium.time.NanoTime";
    const DBZ_TIMESTAMP: &str = "io.debezium.time.Timestamp";
    const DBZ_MICRO_TIMESTAMP: &str = "io.debezium.time.MicroTimestamp";
    const DBZ_NANO_TIMESTAMP: &str = "io.debezium.time.NanoTimestamp";

    fn mismatch(value: &Value, pg: &PgType) -> TypeError {
        TypeError::new(format!(
            "a {} value cannot be written to a column of type {}",
            value.kind(),
            pg.name
        ))
    }

    fn int_value(value: &Value) -> Option<i64> {
        value.as_i64()
    }

    /// Microseconds since the epoch of a timestamp-like value.
    fn timestamp_micros(value: &Value, schema: Option<&Schema>) -> Option<i64> {
        let name = schema.and_then(Schema::name);
        Some(match (value, name) {
            (Value::Timestamp(ms), _) => ms.checked_mul(1000)?,
            (Value::Int64(v), Some(DBZ_MICRO_TIMESTAMP)) => *v,
            (Value::Int64(v), Some(DBZ_TIMESTAMP)) => v.checked_mul(1000)?,
            (Value::Int64(v), Some(DBZ_NANO_TIMESTAMP)) => v.div_euclid(1000),
            (Value::Date(d), _) => i64::from(*d) * 86_400_000_000,
            (Value::String(s), _) => parse_timestamp(s.as_str().trim())?,
            _ => return None,
        })
    }

    /// Writes `value` (non-null) in the binary form of `pg`. `schema` is the value's
    /// Connect schema when known (it tells Debezium's INT64 timestamps from plain ones).
    pub(crate) fn encode(
        value: &Value,
        schema: Option<&Schema>,
        pg: &PgType,
        out: &mut BytesMut,
    ) -> Result<(), TypeError> {
        encode_kind(value, schema, pg, &pg.kind, out)
    }

    fn encode_kind(
        value: &Value,
        schema: Option<&Schema>,
        pg: &PgType,
        kind: &Kind,
        out: &mut BytesMut,
    ) -> Result<(), TypeError> {
        let range = |v: i64| {
            TypeError::new(format!(
                "{v} is out of range for a column of type {}",
                pg.name
            ))
        };
        match kind {
            Kind::Bool => match value {
                Value::Boolean(b) => out.put_u8(u8::from(*b)),
                Value::String(s) if matches!(s.as_str(), "true" | "false") => {
                    out.put_u8(u8::from(s.as_str() == "true"))
                }
                _ => return Err(mismatch(value, pg)),
            },
            Kind::Int2 => {
                let v = int_value(value).ok_or_else(|| mismatch(value, pg))?;
                out.put_i16(i16::try_from(v).map_err(|_| range(v))?);
            }
            Kind::Int4 => {
                let v = int_value(value).ok_or_else(|| mismatch(value, pg))?;
                out.put_i32(i32::try_from(v).map_err(|_| range(v))?);
            }
            Kind::Int8 => out.put_i64(int_value(value).ok_or_else(|| mismatch(value, pg))?),
            Kind::Oid => {
                let v = int_value(value).ok_or_else(|| mismatch(value, pg))?;
                out.put_u32(u32::try_from(v).map_err(|_| range(v))?);
            }
            Kind::Float4 => match value {
                Value::Float32(f) => out.put_f32(*f),
                Value::Float64(f) => out.put_f32(*f as f32),
                v => match int_value(v) {
                    Some(i) => out.put_f32(i as f32),
                    None => return Err(mismatch(value, pg)),
                },
            },
            Kind::Float8 => match value {
                Value::Float32(f) => out.put_f64(f64::from(*f)),
                Value::Float64(f) => out.put_f64(*f),
                v => match int_value(v) {
                    Some(i) => out.put_f64(i as f64),
                    None => return Err(mismatch(value, pg)),
                },
            },
            Kind::Numeric => {
                let d =
                    match value {
                        Value::Decimal(d) => d.clone(),
                        Value::String(s) => Decimal::parse(s.as_str().trim())
                            .map_err(|_| TypeError::new(format!("\"{s}\" is not a number")))?,
                        Value::Float64(f) if f.is_finite() => Decimal::parse(&f.to_string())
                            .map_err(|e| TypeError::new(e.to_string()))?,
                        Value::Float32(f) if f.is_finite() => Decimal::parse(&f.to_string())
                            .map_err(|e| TypeError::new(e.to_string()))?,
                        v => match int_value(v) {
                            Some(i) => Decimal::from_i128(i128::from(i), 0),
                            None => return Err(mismatch(value, pg)),
                        },
                    };
                if let Some((precision, scale)) = pg.numeric_precision_scale() {
                    let digits = numeric::integer_digits(&d);
                    if precision > 0 && digits as i32 > precision - scale {
                        return Err(TypeError::new(format!(
                            "{} needs {digits} digits before the point; {} allows {}",
                            d.to_plain_string(),
                            pg.name,
                            (precision - scale).max(0)
                        )));
                    }
                }
                numeric::encode(&d, out);
            }
            Kind::Text | Kind::Json | Kind::Other => {
                let text = text_bytes(value, schema).ok_or_else(|| mismatch(value, pg))?;
                if let Some(max) = pg.char_length() {
                    // UTF-8: every byte but a continuation byte (0b10xx_xxxx) starts a char.
                    let chars = text.iter().filter(|&&b| (b as i8) >= -0x40).count();
                    if chars > max as usize {
                        return Err(TypeError::new(format!(
                            "a value of {chars} characters is longer than {} allows",
                            pg.name
                        )));
                    }
                }
                out.put_slice(&text);
            }
            Kind::Jsonb => {
                let text = text_bytes(value, schema).ok_or_else(|| mismatch(value, pg))?;
                out.put_u8(1);
                out.put_slice(&text);
            }
            Kind::Bytea => match value {
                Value::Bytes(b) => out.put_slice(b),
                Value::String(s) => out.put_slice(s.as_bytes()),
                Value::Decimal(d) => out.put_slice(d.unscaled_bytes()),
                _ => return Err(mismatch(value, pg)),
            },
            Kind::Uuid => {
                let text = value.as_str().ok_or_else(|| mismatch(value, pg))?;
                let bytes = parse_uuid(text)
                    .ok_or_else(|| TypeError::new(format!("\"{text}\" is not a UUID")))?;
                out.put_slice(&bytes);
            }
            Kind::Date => {
                let days: i64 = match (value, schema.and_then(Schema::name)) {
                    (Value::Date(d), _) => i64::from(*d),
                    (Value::Int32(d), Some(DBZ_DATE)) => i64::from(*d),
                    (Value::Timestamp(ms), _) => ms.div_euclid(86_400_000),
                    (Value::String(s), _) => parse_date(s.as_str().trim())
                        .ok_or_else(|| TypeError::new(format!("\"{s}\" is not a date")))?,
                    _ => return Err(mismatch(value, pg)),
                };
                let pg_days = days - i64::from(PG_EPOCH_DAYS);
                out.put_i32(i32::try_from(pg_days).map_err(|_| range(days))?);
            }
            Kind::Time => {
                let micros = match (value, schema.and_then(Schema::name)) {
                    (Value::Time(ms), _) => i64::from(*ms) * 1000,
                    (Value::Int32(ms), Some(DBZ_TIME)) => i64::from(*ms) * 1000,
                    (Value::Int64(us), Some(DBZ_MICRO_TIME)) => *us,
                    (Value::Int64(ns), Some(DBZ_NANO_TIME)) => ns / 1000,
                    (Value::String(s), _) => crate::types::calendar::parse_time(s.as_str().trim())
                        .ok_or_else(|| TypeError::new(format!("\"{s}\" is not a time")))?,
                    _ => return Err(mismatch(value, pg)),
                };
                out.put_i64(micros);
            }
            Kind::TimeTz => return Err(mismatch(value, pg)),
            Kind::Timestamp | Kind::TimestampTz => {
                let micros = timestamp_micros(value, schema).ok_or_else(|| mismatch(value, pg))?;
                let pg_micros = match micros {
                    i64::MAX | i64::MIN => micros,
                    m => m - PG_EPOCH_MICROS,
                };
                out.put_i64(pg_micros);
            }
            Kind::Array(elem) => {
                let Value::Array(items) = value else {
                    return Err(mismatch(value, pg));
                };
                let elem_oid = crate::types::array_element(pg.oid).unwrap_or(0);
                let item_schema = schema.and_then(Schema::value_schema);
                let elem_pg = PgType {
                    oid: elem_oid,
                    typmod: pg.typmod,
                    name: pg.name.trim_end_matches("[]").to_string(),
                    kind: (**elem).clone(),
                };
                let has_null = items.iter().any(Value::is_null);
                out.put_i32(i32::from(!items.is_empty()));
                out.put_i32(i32::from(has_null));
                out.put_u32(elem_oid);
                if !items.is_empty() {
                    out.put_i32(items.len() as i32);
                    out.put_i32(1);
                }
                for item in items {
                    if item.is_null() {
                        out.put_i32(-1);
                        continue;
                    }
                    let at = out.len();
                    out.put_i32(0);
                    encode_kind(item, item_schema, &elem_pg, elem, out)?;
                    let len = (out.len() - at - 4) as i32;
                    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// [`text_of`] as UTF-8 bytes, a string's own bytes borrowed (no copy, no UTF-8 check:
    /// this runs for every text value written).
    fn text_bytes<'v>(value: &'v Value, schema: Option<&Schema>) -> Option<Cow<'v, [u8]>> {
        match value {
            Value::String(s) => Some(Cow::Borrowed(s.as_bytes())),
            other => text_of(other, schema).map(|t| Cow::Owned(t.into_bytes())),
        }
    }

    /// The text written for a text-like column: strings as they are, numbers and other
    /// primitives in their usual text form.
    pub(crate) fn text_of(value: &Value, schema: Option<&Schema>) -> Option<String> {
        Some(match value {
            Value::String(s) => s.as_str().to_string(),
            Value::Boolean(b) => b.to_string(),
            Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
                value.as_i64()?.to_string()
            }
            Value::Float32(f) => f.to_string(),
            Value::Float64(f) => f.to_string(),
            Value::Decimal(d) => d.to_plain_string(),
            Value::Date(d) => crate::types::calendar::format_date(i64::from(*d)),
            Value::Timestamp(ms) => {
                format!(
                    "{}Z",
                    crate::types::calendar::format_timestamp(ms * 1000, 3)
                )
            }
            Value::Time(ms) => crate::types::calendar::format_time(i64::from(*ms) * 1000, 3),
            Value::Map(_) | Value::Array(_) | Value::Struct(_) => {
                let _ = schema;
                crate::types::json::to_json(value)
            }
            Value::Bytes(_) | Value::Null => return None,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::types::oid;

        fn encoded(value: &Value, pg: &PgType) -> Result<Vec<u8>, TypeError> {
            let mut out = BytesMut::new();
            encode(value, None, pg, &mut out).map(|()| out.to_vec())
        }

        #[test]
        fn varchar_lengths_count_characters_not_bytes() {
            let varchar3 = PgType::new(oid::VARCHAR, 3 + 4, "varchar(3)");
            assert_eq!(
                encoded(&Value::string("héé"), &varchar3).unwrap(),
                "héé".as_bytes()
            );
            let err = encoded(&Value::string("héél"), &varchar3).unwrap_err();
            assert!(err.to_string().contains("4 characters"), "{err}");
            assert_eq!(
                encoded(&Value::Int32(42), &varchar3).unwrap(),
                b"42".to_vec()
            );
        }

        #[test]
        fn numeric_precision_is_checked_before_the_point() {
            // numeric(5,2): typmod ((5 << 16) | 2) + 4; 3 digits before the point fit, 4 do not.
            let numeric52 = PgType::new(oid::NUMERIC, ((5 << 16) | 2) + 4, "numeric(5,2)");
            let fits = Decimal::parse("-999.99").unwrap();
            assert!(encoded(&Value::Decimal(fits), &numeric52).is_ok());
            let too_big = Decimal::parse("1000.5").unwrap();
            let err = encoded(&Value::Decimal(too_big), &numeric52).unwrap_err();
            assert!(err.to_string().contains("needs 4 digits"), "{err}");
        }
    }
}
