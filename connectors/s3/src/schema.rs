//! `schema.compatibility`: when a record's value schema differs from the schema of the file
//! it would go to, whether the file is rotated or the record is projected onto the file's
//! schema, as Confluent's `StorageSchemaCompatibility` and Connect's `SchemaProjector` decide.
//!
//! - NONE: any difference rotates the file.
//! - BACKWARD, FULL: a record whose schema has a higher version than the file's rotates the
//!   file (the new file gets the new schema); one with the same or a lower version is
//!   projected onto the file's schema (missing fields get their defaults).
//! - FORWARD: the opposite: a lower version rotates, a higher one is projected (fields the
//!   file does not know are dropped).
//!
//! In all but NONE a structural mismatch (types that cannot be promoted, different names or
//! parameters, a required field without default that the record lacks) also rotates.

use ferry_api::{ConnectError, Result, Schema, SchemaType, Struct, Value};

/// The `schema.compatibility` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compatibility {
    None,
    Backward,
    Forward,
    Full,
}

/// What to do with a record whose schema is not the file's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Write it into the current file (projected onto the file's schema when it differs).
    Keep,
    /// Commit the open files first; the record starts a new file with its own schema.
    Rotate,
}

impl Compatibility {
    pub(crate) fn from_name(name: &str) -> Compatibility {
        match name.trim().to_ascii_uppercase().as_str() {
            "BACKWARD" => Compatibility::Backward,
            "FORWARD" => Compatibility::Forward,
            "FULL" => Compatibility::Full,
            _ => Compatibility::None,
        }
    }

    /// Decides for a record with schema `record` and a file with schema `file`.
    pub(crate) fn decide(self, record: Option<&Schema>, file: Option<&Schema>) -> Result<Decision> {
        match (record, file) {
            (None, None) => Ok(Decision::Keep),
            (Some(r), Some(f)) if r == f => Ok(Decision::Keep),
            (None, Some(_)) | (Some(_), None) => Err(ConnectError::Data(
                "Switch between schema-based and schema-less data is not supported".into(),
            )),
            (Some(r), Some(f)) => {
                if self == Compatibility::None {
                    return Ok(Decision::Rotate);
                }
                let (Some(rv), Some(fv)) = (r.version(), f.version()) else {
                    return Err(ConnectError::Data(
                        format!(
                            "Schema version required for {self:?} compatibility (schema {})",
                            r.name().unwrap_or("without a name")
                        )
                        .replace("Backward", "BACKWARD")
                        .replace("Forward", "FORWARD")
                        .replace("Full", "FULL"),
                    ));
                };
                if !structurally_compatible(r, f) {
                    return Ok(Decision::Rotate);
                }
                let newer_record = match self {
                    Compatibility::Forward => rv < fv,
                    _ => rv > fv,
                };
                Ok(if newer_record {
                    Decision::Rotate
                } else {
                    Decision::Keep
                })
            }
        }
    }
}

fn promotable(from: SchemaType, to: SchemaType) -> bool {
    use SchemaType::*;
    let rank = |t| match t {
        Int8 => Some(0),
        Int16 => Some(1),
        Int32 => Some(2),
        Int64 => Some(3),
        Float32 => Some(4),
        Float64 => Some(5),
        _ => None,
    };
    matches!((rank(from), rank(to)), (Some(a), Some(b)) if a <= b)
}

fn structurally_compatible(record: &Schema, file: &Schema) -> bool {
    if record.schema_type() != file.schema_type()
        && !promotable(record.schema_type(), file.schema_type())
    {
        return false;
    }
    if record.name() != file.name() || record.parameters() != file.parameters() {
        return false;
    }
    if record.is_optional() && !file.is_optional() && file.default_value().is_none() {
        return false;
    }
    match record.schema_type() {
        SchemaType::Struct => {
            for field in record.fields() {
                if let Some(f) = file.field(field.name())
                    && !structurally_compatible(field.schema(), f.schema())
                {
                    return false;
                }
            }
            file.fields().iter().all(|f| {
                record.field(f.name()).is_some()
                    || f.schema().is_optional()
                    || f.schema().default_value().is_some()
            })
        }
        SchemaType::Array => match (record.value_schema(), file.value_schema()) {
            (Some(a), Some(b)) => structurally_compatible(a, b),
            _ => true,
        },
        SchemaType::Map => {
            let keys = match (record.key_schema(), file.key_schema()) {
                (Some(a), Some(b)) => structurally_compatible(a, b),
                _ => true,
            };
            keys && match (record.value_schema(), file.value_schema()) {
                (Some(a), Some(b)) => structurally_compatible(a, b),
                _ => true,
            }
        }
        _ => true,
    }
}

/// Connect's `SchemaProjector.project`: `value` (of schema `source`) as a value of `target`.
pub(crate) fn project(source: &Schema, value: &Value, target: &Schema) -> Result<Value> {
    if source == target {
        return Ok(value.clone());
    }
    if value.is_null() {
        return match target.default_value() {
            Some(d) => Ok(d.clone()),
            None if target.is_optional() => Ok(Value::Null),
            None => Err(ConnectError::Data(
                "cannot project a null value onto a required schema without a default".into(),
            )),
        };
    }
    match (source.schema_type(), target.schema_type()) {
        (SchemaType::Struct, SchemaType::Struct) => {
            let Value::Struct(s) = value else {
                return Err(ConnectError::Data(format!(
                    "a {} value does not match its STRUCT schema",
                    value.kind()
                )));
            };
            let mut out = Struct::new(target.clone())?;
            for field in target.fields() {
                let projected = match source.field(field.name()) {
                    Some(sf) => project(
                        sf.schema(),
                        s.get(field.name()).unwrap_or(&Value::Null),
                        field.schema(),
                    )?,
                    None => match field.schema().default_value() {
                        Some(d) => d.clone(),
                        None if field.schema().is_optional() => Value::Null,
                        None => {
                            return Err(ConnectError::Data(format!(
                                "required field \"{}\" is missing from the record's schema and has no default",
                                field.name()
                            )));
                        }
                    },
                };
                out.put(field.name(), projected)?;
            }
            Ok(Value::Struct(out))
        }
        (SchemaType::Array, SchemaType::Array) => {
            let (Value::Array(items), Some(si), Some(ti)) =
                (value, source.value_schema(), target.value_schema())
            else {
                return Ok(value.clone());
            };
            Ok(Value::Array(
                items
                    .iter()
                    .map(|v| project(si, v, ti))
                    .collect::<Result<_>>()?,
            ))
        }
        (SchemaType::Map, SchemaType::Map) => {
            let (Value::Map(entries), Some(sk), Some(sv), Some(tk), Some(tv)) = (
                value,
                source.key_schema(),
                source.value_schema(),
                target.key_schema(),
                target.value_schema(),
            ) else {
                return Ok(value.clone());
            };
            Ok(Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| Ok((project(sk, k, tk)?, project(sv, v, tv)?)))
                    .collect::<Result<_>>()?,
            ))
        }
        (from, to) if from == to => Ok(value.clone()),
        (_, to) => promote(value, to),
    }
}

fn promote(value: &Value, to: SchemaType) -> Result<Value> {
    let from = match value {
        Value::Int8(_) => SchemaType::Int8,
        Value::Int16(_) => SchemaType::Int16,
        Value::Int32(_) => SchemaType::Int32,
        Value::Int64(_) => SchemaType::Int64,
        Value::Float32(_) => SchemaType::Float32,
        Value::Float64(_) => SchemaType::Float64,
        _ => to,
    };
    if !promotable(from, to) {
        return Err(ConnectError::Data(format!(
            "cannot project a {} value onto {to}",
            value.kind()
        )));
    }
    let as_f64 = match value {
        Value::Int8(v) => f64::from(*v),
        Value::Int16(v) => f64::from(*v),
        Value::Int32(v) => f64::from(*v),
        Value::Int64(v) => *v as f64,
        Value::Float32(v) => f64::from(*v),
        Value::Float64(v) => *v,
        other => {
            return Err(ConnectError::Data(format!(
                "cannot promote a {} value to {to}",
                other.kind()
            )));
        }
    };
    let int = value.as_i64();
    Ok(match (to, int) {
        (SchemaType::Int16, Some(i)) => Value::Int16(i as i16),
        (SchemaType::Int32, Some(i)) => Value::Int32(i as i32),
        (SchemaType::Int64, Some(i)) => Value::Int64(i),
        (SchemaType::Float32, _) => Value::Float32(as_f64 as f32),
        (SchemaType::Float64, _) => Value::Float64(as_f64),
        _ => {
            return Err(ConnectError::Data(format!(
                "cannot promote a {} value to {to}",
                value.kind()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::SchemaBuilder;

    fn user(version: i32, id: Schema, email: bool) -> Schema {
        let mut b = SchemaBuilder::struct_()
            .name("User")
            .version(version)
            .field("id", id);
        if email {
            b = b.field(
                "email",
                SchemaBuilder::new(SchemaType::String)
                    .optional()
                    .default_value(Value::from("none"))
                    .build(),
            );
        }
        b.build()
    }

    #[test]
    fn decisions_by_mode() {
        let v1 = user(1, Schema::int32(), false);
        let v2 = user(2, Schema::int32(), true);
        let wide = user(2, Schema::int64(), false);
        use Compatibility::*;
        let keep = |c: Compatibility, r: &Schema, f: &Schema| c.decide(Some(r), Some(f)).unwrap();
        assert_eq!(keep(None, &v1, &v1), Decision::Keep);
        assert_eq!(keep(None, &v2, &v1), Decision::Rotate);
        // BACKWARD and FULL: a newer record rotates; an older one is projected.
        assert_eq!(keep(Backward, &v2, &v1), Decision::Rotate);
        assert_eq!(keep(Backward, &v1, &v2), Decision::Keep);
        assert_eq!(keep(Full, &v1, &v2), Decision::Keep);
        assert_eq!(keep(Backward, &v1, &wide), Decision::Keep);
        // FORWARD: the opposite.
        assert_eq!(keep(Forward, &v1, &v2), Decision::Rotate);
        assert_eq!(keep(Forward, &v2, &v1), Decision::Keep);
        // INT64 cannot narrow to INT32: a structural mismatch rotates whatever the versions.
        assert_eq!(keep(Forward, &wide, &v1), Decision::Rotate);
        assert!(Backward.decide(Option::None, Some(&v1)).is_err());
        let unversioned = SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .build();
        let err = Backward
            .decide(Some(&unversioned), Some(&v1))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("Schema version required for BACKWARD"),
            "{err}"
        );
    }

    #[test]
    fn projection_fills_defaults_drops_unknown_fields_and_promotes() {
        let v1 = user(1, Schema::int32(), false);
        let v2 = user(2, Schema::int32(), true);
        let wide = user(2, Schema::int64(), false);
        let old = Value::Struct(Struct::new(v1.clone()).unwrap().with("id", 7).unwrap());
        let Value::Struct(s) = project(&v1, &old, &v2).unwrap() else {
            panic!()
        };
        assert_eq!(s.get("email"), Some(&Value::from("none")));
        let Value::Struct(s) = project(&v1, &old, &wide).unwrap() else {
            panic!()
        };
        assert_eq!(s.get("id"), Some(&Value::Int64(7)));
        let new = Struct::new(v2.clone())
            .unwrap()
            .with("id", 9)
            .unwrap()
            .with("email", "a@b")
            .unwrap();
        let Value::Struct(s) = project(&v2, &Value::Struct(new), &v1).unwrap() else {
            panic!()
        };
        assert_eq!(s.values(), [Value::Int32(9)]);
        let wide_value = Struct::new(wide.clone())
            .unwrap()
            .with("id", Value::Int64(1 << 40))
            .unwrap();
        assert!(project(&wide, &Value::Struct(wide_value), &v1).is_err());
    }
}
