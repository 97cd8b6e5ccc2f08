//! Output formats: how the records of one object are encoded.
//!
//! A [`RecordWriter`] encodes records into an [`Output`], which holds the bytes not yet
//! uploaded (optionally through gzip). The object's upload takes them out part by part, so
//! an open file holds less than a part in memory (Parquet also holds its current row group,
//! flushed when its values reach a part's size); the parts handed to uploads are bounded by
//! the task's upload slots.
//!
//! Every writer is deterministic: the same records give the same bytes (Avro's sync marker
//! comes from the object's name, gzip headers carry no time), so an object rewritten after a
//! crash is identical to the first one.

mod avro;
mod json;
mod lines;
mod parquet;

use std::io::Write;

use ferry_api::{ConnectError, Schema, SinkRecord};
use flate2::Compression as GzLevel;
use flate2::write::GzEncoder;

use crate::config::{Compression, S3SinkConfig};

pub(crate) use avro::AvroCodec;
pub(crate) use parquet::ParquetCodec;

/// A record a format cannot write (Connect's `DataException`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FormatError(pub(crate) String);

impl From<ConnectError> for FormatError {
    fn from(e: ConnectError) -> Self {
        FormatError(e.to_string())
    }
}

/// The `format.class` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormatKind {
    Json,
    Avro,
    Parquet,
    ByteArray,
    /// Ferry's extension: one text line per record.
    String,
}

impl FormatKind {
    pub(crate) const CLASSES: &'static [&'static str] = &[
        "io.confluent.connect.s3.format.json.JsonFormat",
        "io.confluent.connect.s3.format.avro.AvroFormat",
        "io.confluent.connect.s3.format.parquet.ParquetFormat",
        "io.confluent.connect.s3.format.bytearray.ByteArrayFormat",
        "StringFormat",
    ];

    /// The kind of a full or short class name.
    pub(crate) fn from_class(class: &str) -> Option<FormatKind> {
        let class = class.trim();
        let short = class.rsplit('.').next().unwrap_or(class);
        let full_ok = |package: &str| {
            !class.contains('.')
                || class == format!("io.confluent.connect.s3.format.{package}.{short}")
        };
        Some(match short {
            "JsonFormat" if full_ok("json") => FormatKind::Json,
            "AvroFormat" if full_ok("avro") => FormatKind::Avro,
            "ParquetFormat" if full_ok("parquet") => FormatKind::Parquet,
            "ByteArrayFormat" if full_ok("bytearray") => FormatKind::ByteArray,
            "StringFormat" if class == "StringFormat" => FormatKind::String,
            _ => return None,
        })
    }

    /// The object name's extension, as Confluent's `RecordWriterProvider.getExtension`.
    pub(crate) fn extension(self, config: &S3SinkConfig) -> String {
        let gz = match config.compression {
            Compression::Gzip { .. } => ".gz",
            Compression::None => "",
        };
        match self {
            FormatKind::Json => format!(".json{gz}"),
            FormatKind::Avro => ".avro".into(),
            FormatKind::Parquet => format!("{}.parquet", config.parquet_codec.extension()),
            FormatKind::ByteArray => format!("{}{gz}", config.bytearray_extension),
            FormatKind::String => format!(".txt{gz}"),
        }
    }

    /// Whether records must carry a value schema.
    pub(crate) fn needs_schema(self) -> bool {
        matches!(self, FormatKind::Avro | FormatKind::Parquet)
    }

    /// Whether `s3.compression.type` applies (the others compress inside the file).
    fn compresses_lines(self) -> bool {
        matches!(
            self,
            FormatKind::Json | FormatKind::ByteArray | FormatKind::String
        )
    }
}

/// The bytes of one object that have not been uploaded yet.
#[derive(Debug)]
pub(crate) struct Output {
    sink: Sink,
    /// Total bytes handed to the upload so far, plus what is buffered: the object's size.
    taken: u64,
}

#[derive(Debug)]
enum Sink {
    Plain(Vec<u8>),
    Gzip(GzEncoder<Vec<u8>>),
}

impl Output {
    fn new(compression: Compression) -> Output {
        let sink = match compression {
            Compression::None => Sink::Plain(Vec::new()),
            Compression::Gzip { level } => Sink::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .write(Vec::new(), GzLevel::new(level)),
            ),
        };
        Output { sink, taken: 0 }
    }

    /// Appends encoded bytes.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        match &mut self.sink {
            Sink::Plain(buf) => buf.extend_from_slice(bytes),
            // Writing into a Vec cannot fail.
            Sink::Gzip(gz) => {
                let _ = gz.write_all(bytes);
            }
        }
    }

    fn buffer(&mut self) -> &mut Vec<u8> {
        match &mut self.sink {
            Sink::Plain(buf) => buf,
            Sink::Gzip(gz) => gz.get_mut(),
        }
    }

    /// Bytes ready to upload.
    pub(crate) fn buffered(&mut self) -> usize {
        self.buffer().len()
    }

    /// Takes the first `n` buffered bytes (all of them if fewer).
    pub(crate) fn take(&mut self, n: usize) -> Vec<u8> {
        let buf = self.buffer();
        let n = n.min(buf.len());
        let rest = buf.split_off(n);
        let taken = std::mem::replace(buf, rest);
        self.taken += taken.len() as u64;
        taken
    }

    /// Ends compression; what is left is then all in the buffer.
    fn finish(&mut self) {
        if let Sink::Gzip(_) = &self.sink
            && let Sink::Gzip(gz) = std::mem::replace(&mut self.sink, Sink::Plain(Vec::new()))
        {
            // Finishing into a Vec cannot fail.
            let buf = gz.finish().unwrap_or_default();
            self.sink = Sink::Plain(buf);
        }
    }
}

/// Encodes the records of one object.
pub(crate) trait RecordWriter: Send {
    /// Encodes one record. On error nothing of the record was written.
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError>;

    /// Writes what the format keeps until the end (Avro's last block, Parquet's row group and
    /// footer).
    fn finish(&mut self, out: &mut Output) -> Result<(), FormatError>;
}

/// A new writer for one object, with the file schema of its first record.
pub(crate) fn new_writer(
    config: &S3SinkConfig,
    key: &str,
    schema: Option<&Schema>,
) -> Result<(Box<dyn RecordWriter>, Output), FormatError> {
    let format = config.format;
    let compression = if format.compresses_lines() {
        config.compression
    } else {
        Compression::None
    };
    let out = Output::new(compression);
    let writer: Box<dyn RecordWriter> = match format {
        FormatKind::Json => Box::new(json::JsonWriter::new(config.decimal_numeric)),
        FormatKind::ByteArray => {
            Box::new(lines::ByteArrayWriter::new(config.line_separator.clone()))
        }
        FormatKind::String => Box::new(lines::StringWriter::new(config.line_separator.clone())),
        FormatKind::Avro => Box::new(avro::AvroWriter::new(
            schema.ok_or_else(no_schema)?,
            config.avro_codec,
            config.connect_meta_data,
            key,
        )?),
        FormatKind::Parquet => Box::new(parquet::ParquetWriter::new(
            schema.ok_or_else(no_schema)?,
            config.parquet_codec,
            config.storage.part_size,
        )?),
    };
    Ok((writer, out))
}

fn no_schema() -> FormatError {
    FormatError(
        "this format needs records with a value schema (e.g. JsonConverter with schemas.enable=true, or Avro)"
            .into(),
    )
}

/// Finishes an object: the bytes still to upload.
pub(crate) fn finish(writer: &mut dyn RecordWriter, out: &mut Output) -> Result<(), FormatError> {
    writer.finish(out)?;
    out.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        assert_eq!(
            FormatKind::from_class("io.confluent.connect.s3.format.parquet.ParquetFormat"),
            Some(FormatKind::Parquet)
        );
        assert_eq!(FormatKind::from_class("AvroFormat"), Some(FormatKind::Avro));
        assert_eq!(
            FormatKind::from_class("StringFormat"),
            Some(FormatKind::String)
        );
        assert_eq!(
            FormatKind::from_class("io.confluent.connect.s3.format.avro.JsonFormat"),
            None
        );
        assert_eq!(FormatKind::from_class("CsvFormat"), None);
    }

    #[test]
    fn output_parts_and_gzip() {
        let mut out = Output::new(Compression::None);
        out.write(b"hello world");
        assert_eq!(out.take(5), b"hello");
        assert_eq!(out.buffered(), 6);
        out.finish();
        assert_eq!(out.take(100), b" world");
        let mut gz = Output::new(Compression::Gzip { level: 6 });
        gz.write(b"line\n");
        gz.finish();
        let bytes = gz.take(usize::MAX);
        let mut text = String::new();
        use std::io::Read;
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "line\n");
        // No time in the header: the same input gives the same object.
        let mut again = Output::new(Compression::Gzip { level: 6 });
        again.write(b"line\n");
        again.finish();
        assert_eq!(again.take(usize::MAX), bytes);
    }
}
