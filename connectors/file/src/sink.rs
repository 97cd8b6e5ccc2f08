//! The file sink: appends each record's value to a file, one per line (Kafka's
//! `FileStreamSink`). At-least-once: after a crash, the lines written since the last
//! committed offset are written again.
//!
//! Values are written as text: a STRING as its UTF-8 bytes, BYTES as they are, anything
//! else in the form Java's `toString` gives (`Struct{a=1,b=x}`, `[1, 2]`, `{k=v}`), and a
//! null value as `null`, as Kafka's `PrintStream.println` does.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::sync::Arc;

use async_trait::async_trait;
use ferry_api::config::{Key, Opt, Str};
use ferry_api::{
    ConfigDef, ConfigMap, ConnectError, Connector, ConnectorContext, Importance, Result,
    SinkRecord, SinkTask, SinkTaskContext, TopicPartition, Value,
};

/// Config key: the file to append to; standard output when absent.
pub const FILE_CONFIG: Key<Opt<Str>> = Key::optional(
    "file",
    Importance::High,
    "Destination filename. If not specified, the standard output will be used",
);

const BUFFER: usize = 128 << 10;

fn config_def() -> ConfigDef {
    ConfigDef::new().declare(&FILE_CONFIG)
}

/// Kafka's `FileStreamSinkConnector`: `tasks.max` identical tasks.
#[derive(Debug, Default)]
pub struct FileSinkConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for FileSinkConnector {
    fn version(&self) -> &'static str {
        crate::VERSION
    }

    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, _ctx: Arc<dyn ConnectorContext>, config: &ConfigMap) -> Result<()> {
        self.config = config.clone();
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }
}

/// Kafka's `FileStreamSinkTask`.
#[derive(Default)]
pub struct FileSinkTask {
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    name: String,
    line: Vec<u8>,
}

impl std::fmt::Debug for FileSinkTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSinkTask")
            .field("file", &self.name)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl SinkTask for FileSinkTask {
    async fn start(&mut self, _ctx: Arc<dyn SinkTaskContext>, config: &ConfigMap) -> Result<()> {
        let parsed = config_def().parse_for_use(config)?;
        let writer: Box<dyn Write + Send> = match parsed
            .value(&FILE_CONFIG)?
            .filter(|f| !f.is_empty())
        {
            None => {
                self.name = "standard output".into();
                Box::new(std::io::stdout())
            }
            Some(path) => {
                self.name = path.to_string();
                let file: File = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| ConnectError::io(format!("opening {path} for appending"), e))?;
                Box::new(file)
            }
        };
        self.out = Some(BufWriter::with_capacity(BUFFER, writer));
        Ok(())
    }

    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()> {
        let Some(out) = self.out.as_mut() else {
            return Err(ConnectError::Other("file sink used before start".into()));
        };
        for record in &records {
            let written = match &record.value {
                Value::String(s) => out.write_all(s.as_bytes()),
                Value::Bytes(b) => out.write_all(b),
                other => {
                    self.line.clear();
                    write_java_string(&mut self.line, other);
                    out.write_all(&self.line)
                }
            };
            written
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| ConnectError::io(format!("writing to {}", self.name), e))?;
        }
        // Hand each batch to the OS at once, as Kafka's sink does per record: lines show up
        // while the sink runs, and survive a crash of the process.
        out.flush()
            .map_err(|e| ConnectError::io(format!("writing to {}", self.name), e))
    }

    async fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.flush()
                .map_err(|e| ConnectError::io(format!("flushing {}", self.name), e))?;
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()
                .map_err(|e| ConnectError::io(format!("flushing {}", self.name), e))?;
        }
        Ok(())
    }
}

/// The text Java's `String.valueOf` gives for a Connect value.
fn write_java_string(out: &mut Vec<u8>, value: &Value) {
    use std::io::Write as _;
    let _ = match value {
        Value::Null => write!(out, "null"),
        Value::Boolean(v) => write!(out, "{v}"),
        Value::Int8(v) => write!(out, "{v}"),
        Value::Int16(v) => write!(out, "{v}"),
        Value::Int32(v) => write!(out, "{v}"),
        Value::Int64(v) => write!(out, "{v}"),
        Value::Float32(v) => write!(out, "{v:?}"),
        Value::Float64(v) => write!(out, "{v:?}"),
        Value::String(s) => out.write_all(s.as_bytes()),
        Value::Bytes(b) => out.write_all(b),
        Value::Decimal(d) => write!(out, "{d}"),
        Value::Date(v) | Value::Time(v) => write!(out, "{v}"),
        Value::Timestamp(v) => write!(out, "{v}"),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_java_string(out, item);
            }
            out.push(b']');
            Ok(())
        }
        Value::Map(entries) => {
            out.push(b'{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_java_string(out, k);
                out.push(b'=');
                write_java_string(out, v);
            }
            out.push(b'}');
            Ok(())
        }
        Value::Struct(s) => {
            out.extend_from_slice(b"Struct{");
            let mut first = true;
            for (field, v) in s.schema().fields().iter().zip(s.values()) {
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(field.name().as_bytes());
                out.push(b'=');
                write_java_string(out, v);
            }
            out.push(b'}');
            Ok(())
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{Schema, SchemaBuilder, Struct};

    #[test]
    fn java_string_forms() {
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::optional_string())
            .field("c", Schema::optional_string())
            .build();
        let s = Struct::new(schema)
            .unwrap()
            .with("a", 1)
            .unwrap()
            .with("b", "x")
            .unwrap();
        let mut out = Vec::new();
        write_java_string(&mut out, &Value::Struct(s));
        assert_eq!(out, b"Struct{a=1,b=x}");
        out.clear();
        write_java_string(
            &mut out,
            &Value::Array(vec![Value::Int64(1), Value::Float64(2.0)]),
        );
        assert_eq!(out, b"[1, 2.0]");
    }
}
