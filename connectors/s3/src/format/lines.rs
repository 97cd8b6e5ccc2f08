//! Formats that write each value as it is, followed by `format.bytearray.separator`:
//! ByteArrayFormat (Confluent's: the raw bytes) and StringFormat (Ferry's extension: text).

use ferry_api::{SinkRecord, Value};

use super::{FormatError, Output, RecordWriter};

/// ByteArrayFormat: BYTES values as they are (STRING values as their UTF-8 bytes).
pub(super) struct ByteArrayWriter {
    separator: Vec<u8>,
}

impl ByteArrayWriter {
    pub(super) fn new(separator: Vec<u8>) -> Self {
        ByteArrayWriter { separator }
    }
}

impl RecordWriter for ByteArrayWriter {
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError> {
        let bytes: &[u8] = match &record.value {
            Value::Bytes(b) => b,
            Value::String(s) => s.as_bytes(),
            other => {
                return Err(FormatError(format!(
                    "ByteArrayFormat writes BYTES values (use the ByteArrayConverter); the record at offset {} of {}-{} has a {} value",
                    record.kafka_offset,
                    record.topic,
                    record.kafka_partition,
                    other.kind()
                )));
            }
        };
        out.write(bytes);
        out.write(&self.separator);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Output) -> Result<(), FormatError> {
        Ok(())
    }
}

/// StringFormat: STRING values as text, BYTES as UTF-8 text, numbers and booleans in their
/// decimal form.
pub(super) struct StringWriter {
    separator: Vec<u8>,
    text: String,
}

impl StringWriter {
    pub(super) fn new(separator: Vec<u8>) -> Self {
        StringWriter {
            separator,
            text: String::new(),
        }
    }
}

impl RecordWriter for StringWriter {
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError> {
        use std::fmt::Write as _;
        let refuse = |why: &str| {
            FormatError(format!(
                "StringFormat writes text values; the record at offset {} of {}-{} has {why}",
                record.kafka_offset, record.topic, record.kafka_partition
            ))
        };
        self.text.clear();
        let text: &str = match &record.value {
            Value::String(s) => s.as_str(),
            Value::Bytes(b) => {
                std::str::from_utf8(b).map_err(|_| refuse("BYTES that are not UTF-8"))?
            }
            Value::Boolean(v) => {
                let _ = write!(self.text, "{v}");
                &self.text
            }
            v @ (Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_)) => {
                let _ = write!(self.text, "{}", v.as_i64().unwrap_or_default());
                &self.text
            }
            Value::Float32(v) => {
                let _ = write!(self.text, "{v}");
                &self.text
            }
            Value::Float64(v) => {
                let _ = write!(self.text, "{v}");
                &self.text
            }
            Value::Decimal(d) => {
                let _ = write!(self.text, "{d}");
                &self.text
            }
            other => return Err(refuse(&format!("a {} value", other.kind()))),
        };
        out.write(text.as_bytes());
        out.write(&self.separator);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Output) -> Result<(), FormatError> {
        Ok(())
    }
}
