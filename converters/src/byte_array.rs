//! [`ByteArrayConverter`]: Kafka Connect's `org.apache.kafka.connect.converters.ByteArrayConverter`.

use bytes::Bytes;
use ferry_api::{ConfigMap, ConnectError, Converter, Result, Schema, SchemaType, Value};

/// Passes record bytes through unchanged: BYTES values become the record's bytes (shared, not
/// copied), and record bytes come back as an optional BYTES value.
///
/// Ferry extension: a STRING value (with a STRING schema or none) is written as its UTF-8
/// bytes, where Kafka would fail. Any other schema type or value is an error naming the type.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    /// A converter.
    pub fn new() -> Self {
        ByteArrayConverter
    }
}

impl Converter for ByteArrayConverter {
    fn configure(&mut self, _config: &ConfigMap, _is_key: bool) -> Result<()> {
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>> {
        if let Some(s) = schema
            && !matches!(s.schema_type(), SchemaType::Bytes | SchemaType::String)
        {
            return Err(ConnectError::Data(format!(
                "Invalid schema type for ByteArrayConverter: {}",
                s.schema_type()
            )));
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            Value::String(s) => Ok(Some(s.as_bytes().clone())),
            other => Err(ConnectError::Data(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                other.kind()
            ))),
        }
    }

    fn to_connect(&self, _topic: &str, data: Option<&Bytes>) -> Result<(Option<Schema>, Value)> {
        let value = data.map_or(Value::Null, |b| Value::Bytes(b.clone()));
        Ok((Some(Schema::optional_bytes()), value))
    }
}

#[cfg(test)]
mod tests {
    use ferry_api::logical::{self, Decimal};

    use super::*;

    #[test]
    fn bytes_pass_through_without_a_copy() {
        let data = Bytes::from_static(b"\xde\xad\xbe\xef");
        let c = ByteArrayConverter;
        let out = c
            .from_connect("t", Some(&Schema::bytes()), &Value::Bytes(data.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(out.as_ptr(), data.as_ptr());
        let (schema, value) = c.to_connect("t", Some(&out)).unwrap();
        assert_eq!(schema, Some(Schema::optional_bytes()));
        assert_eq!(value, Value::Bytes(data));
        assert_eq!(
            c.to_connect("t", None).unwrap(),
            (Some(Schema::optional_bytes()), Value::Null)
        );
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
    }

    #[test]
    fn strings_are_written_as_utf8() {
        let out = ByteArrayConverter
            .from_connect("t", Some(&Schema::string()), &Value::from("héllo"))
            .unwrap()
            .unwrap();
        assert_eq!(&out[..], "héllo".as_bytes());
    }

    #[test]
    fn other_types_are_rejected_by_name() {
        let c = ByteArrayConverter;
        let err = c
            .from_connect("t", Some(&Schema::int32()), &Value::Int32(1))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid schema type for ByteArrayConverter: INT32"
        );
        let err = c.from_connect("t", None, &Value::Int64(1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ByteArrayConverter is not compatible with objects of type INT64"
        );
        let decimal = Value::Decimal(Decimal::from_i128(1025, 2));
        let err = c
            .from_connect("t", Some(&logical::decimal_schema(2)), &decimal)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ByteArrayConverter is not compatible with objects of type Decimal"
        );
    }
}
