//! The file sink: appends each record's value to a file, one per line (Kafka's
//! `FileStreamSink`). At-least-once: after a crash, the lines written since the last
//! committed offset are written again.
//!
//! Values are written as text: a STRING as its UTF-8 bytes, BYTES as they are, anything
//! else as Java's `String.valueOf` prints it (`Struct{a=1,b=x}`, `[1, 2.0]`, `{k=v}`,
//! `1.0E7`, a Timestamp as `java.util.Date.toString()` in UTC), and a null value as `null`,
//! as Kafka's `PrintStream.println` does. The text is [`ferry_api::java_text::write_value`]'s,
//! the same as Ferry's StringConverter writes.

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
                    ferry_api::java_text::write_value(&mut self.line, other);
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

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferry_api::logical::{self, Decimal};
    use ferry_api::{Schema, SchemaBuilder, Struct};

    use super::*;

    struct NoContext;

    impl SinkTaskContext for NoContext {
        fn assignment(&self) -> Vec<TopicPartition> {
            Vec::new()
        }
        fn reset_offset(&self, _partition: TopicPartition, _offset: i64) {}
        fn request_commit(&self) {}
    }

    fn record(value: Value) -> SinkRecord {
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: 0,
            timestamp: None,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
            headers: Vec::new(),
            original: None,
        }
    }

    /// The lines the sink writes for `values`.
    async fn lines(values: Vec<Value>) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut config = ConfigMap::new();
        config.insert("file".into(), path.to_str().unwrap().into());
        let mut task = FileSinkTask::default();
        task.start(Arc::new(NoContext), &config).await.unwrap();
        task.put(values.into_iter().map(record).collect())
            .await
            .unwrap();
        task.stop().await.unwrap();
        std::fs::read(&path).unwrap()
    }

    #[tokio::test]
    async fn values_are_printed_as_java_prints_them() {
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("b", Schema::optional_string())
            .field("c", Schema::optional_string())
            .field("at", logical::timestamp_schema())
            .build();
        let s = Struct::new(schema)
            .unwrap()
            .with("a", 1)
            .unwrap()
            .with("b", "x")
            .unwrap()
            .with("at", Value::Timestamp(1_700_000_000_123))
            .unwrap();
        let out = lines(vec![
            "text".into(),
            Value::Bytes(Bytes::from_static(b"\xffraw")),
            Value::Null,
            Value::Struct(s),
            Value::Array(vec![Value::Int64(1), Value::Float64(2.0)]),
            Value::Map(vec![("k".into(), "v".into())]),
            Value::Decimal(Decimal::parse("10.20").unwrap()),
            // Java's float text, not Rust's: these were `10000000.0`, `1e-7`, `inf` and
            // `1e20` before the sink used ferry_api::java_text.
            Value::Float64(1.0e7),
            Value::Float64(1.0e-7),
            Value::Float64(f64::INFINITY),
            Value::Float32(1.0e20),
            // java.util.Date's text, not the number of days / milliseconds (were `10000`
            // and `1700000000123`).
            Value::Date(10_000),
            Value::Timestamp(1_700_000_000_123),
            // Nested bytes in base64, not raw (were `[raw]`).
            Value::Array(vec![Value::Bytes(Bytes::from_static(b"raw"))]),
        ])
        .await;
        let mut expected = b"text\n\xffraw\nnull\n".to_vec();
        expected.extend_from_slice(
            "Struct{a=1,b=x,at=Tue Nov 14 22:13:20 UTC 2023}\n\
             [1, 2.0]\n\
             {k=v}\n\
             10.20\n\
             1.0E7\n\
             1.0E-7\n\
             Infinity\n\
             1.0E20\n\
             Mon May 19 00:00:00 UTC 1997\n\
             Tue Nov 14 22:13:20 UTC 2023\n\
             [cmF3]\n"
                .as_bytes(),
        );
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(out, expected);
    }
}
