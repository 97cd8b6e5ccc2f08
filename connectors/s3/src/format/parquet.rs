//! ParquetFormat: Parquet files whose schema follows the Connect schema as parquet-avro maps
//! Confluent's Avro schema (struct → group, optional → OPTIONAL, STRING → BINARY (String),
//! Date/Time/Timestamp/Decimal → their logical types, INT8/INT16 → INT32 with their bit
//! width), with the standard three-level LIST and MAP layouts.
//!
//! Values are shredded into columns here (definition and repetition levels, as in Dremel),
//! so the `parquet` crate is used without arrow. When the buffered values reach half of
//! `s3.part.size`, the row group is encoded on a thread of its own while the next one fills
//! (so encoding and the task's fetching and converting use two cores), which bounds what an
//! open file holds in memory to about one part of values.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferry_api::logical::{self, DATE, DECIMAL, TIME, TIMESTAMP};
use ferry_api::{Schema, SchemaType, SinkRecord, Value};
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::basic::{GzipLevel, ZstdLevel};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DoubleType, FloatType, Int32Type, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};

use super::{FormatError, Output, RecordWriter};

/// `parquet.codec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParquetCodec {
    None,
    Snappy,
    Gzip,
    Zstd,
}

impl ParquetCodec {
    pub(crate) fn from_name(name: &str) -> ParquetCodec {
        match name.trim().to_ascii_lowercase().as_str() {
            "none" | "uncompressed" => ParquetCodec::None,
            "gzip" => ParquetCodec::Gzip,
            "zstd" => ParquetCodec::Zstd,
            _ => ParquetCodec::Snappy,
        }
    }

    /// parquet-mr's `CompressionCodecName.getExtension`.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            ParquetCodec::None => "",
            ParquetCodec::Snappy => ".snappy",
            ParquetCodec::Gzip => ".gz",
            ParquetCodec::Zstd => ".zstd",
        }
    }

    fn compression(self) -> Compression {
        match self {
            ParquetCodec::None => Compression::UNCOMPRESSED,
            ParquetCodec::Snappy => Compression::SNAPPY,
            ParquetCodec::Gzip => Compression::GZIP(GzipLevel::default()),
            ParquetCodec::Zstd => Compression::ZSTD(ZstdLevel::default()),
        }
    }
}

/// Confluent's page size.
const PAGE_SIZE: usize = 64 * 1024;

/// Where a column chunk's dictionary gives up and the rest of the chunk is written plain.
/// Columns of few distinct values (enums, countries, flags) keep their dictionary; columns
/// of mostly distinct values (ids, timestamps, amounts) stop paying a hash lookup per value
/// early, instead of after parquet's default of 1 MiB (131072 distinct int64s, more than a
/// row group of a part's size holds, so they never fell back).
const DICTIONARY_PAGE_SIZE: usize = 128 * 1024;

/// A buffer the file writer owns a handle of; the bytes it writes are moved to [`Output`].
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn drain_into(&self, out: &mut Output) {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        out.write(&bytes);
    }
}

/// How a leaf column turns a Connect value into its physical value.
#[derive(Debug, Clone, Copy)]
enum Leaf {
    Bool,
    Int32,
    Int64,
    Float,
    Double,
    Bytes,
}

enum Values {
    Bool(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Float(Vec<f32>),
    Double(Vec<f64>),
    Bytes(ByteValues),
}

/// The BINARY values of a column, copied end to end into one buffer.
///
/// Copied, not shared: a record's strings are slices of the fetched batch (about
/// `consumer.max.partition.fetch.bytes`) they came in, and a row group that kept such slices
/// kept every batch its rows came from alive, several times the bytes it counted (582 MiB
/// peak RSS for 4 partitions in the 10 M-record bench).
#[derive(Default)]
struct ByteValues {
    data: Vec<u8>,
    /// Where each value ends in `data`.
    ends: Vec<usize>,
}

impl ByteValues {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn push(&mut self, value: &[u8]) {
        self.data.extend_from_slice(value);
        self.ends.push(self.data.len());
    }

    fn truncate(&mut self, n: usize) {
        if n < self.ends.len() {
            self.ends.truncate(n);
            self.data.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// The values as the column writer takes them (slices of one buffer), leaving this empty
    /// with room for as many bytes as before.
    fn take(&mut self) -> Vec<ByteArray> {
        let capacity = self.data.len();
        let data = Bytes::from(std::mem::replace(
            &mut self.data,
            Vec::with_capacity(capacity),
        ));
        let mut start = 0;
        let values = self
            .ends
            .iter()
            .map(|&end| {
                let value = ByteArray::from(data.slice(start..end));
                start = end;
                value
            })
            .collect();
        self.ends.clear();
        values
    }
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Bool(v) => v.len(),
            Values::Int32(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Double(v) => v.len(),
            Values::Bytes(v) => v.len(),
        }
    }
    fn truncate(&mut self, n: usize) {
        match self {
            Values::Bool(v) => v.truncate(n),
            Values::Int32(v) => v.truncate(n),
            Values::Int64(v) => v.truncate(n),
            Values::Float(v) => v.truncate(n),
            Values::Double(v) => v.truncate(n),
            Values::Bytes(v) => v.truncate(n),
        }
    }
}

struct Column {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
}

/// The shape of the schema, with the leaf columns numbered in order.
enum Node {
    Leaf {
        column: usize,
        optional: bool,
        leaf: Leaf,
    },
    Group {
        optional: bool,
        fields: Vec<Node>,
        leaves: Vec<usize>,
    },
    /// A list (items) or a map (key, value) under one repeated group.
    Repeated {
        optional: bool,
        map: bool,
        children: Vec<Node>,
        leaves: Vec<usize>,
    },
}

impl Node {
    fn leaves(&self) -> Vec<usize> {
        match self {
            Node::Leaf { column, .. } => vec![*column],
            Node::Group { leaves, .. } | Node::Repeated { leaves, .. } => leaves.clone(),
        }
    }
}

fn unsupported(what: String) -> FormatError {
    FormatError(format!("ParquetFormat cannot write {what}"))
}

/// Builds the Parquet type of `schema` named `name`, and its node.
fn build(
    name: &str,
    schema: &Schema,
    required: bool,
    columns: &mut Vec<Leaf>,
) -> Result<(TypePtr, Node), FormatError> {
    let optional = schema.is_optional() && !required;
    let repetition = if optional {
        Repetition::OPTIONAL
    } else {
        Repetition::REQUIRED
    };
    let logical_name = schema.name().filter(|n| logical::is_logical(n));
    let primitive =
        |physical: Physical, leaf: Leaf, lt: Option<LogicalType>, columns: &mut Vec<Leaf>| {
            let mut b = Type::primitive_type_builder(name, physical)
                .with_repetition(repetition)
                .with_logical_type(lt.clone());
            if let Some(LogicalType::Decimal(d)) = &lt {
                b = b.with_precision(d.precision).with_scale(d.scale);
            }
            let ty = b
                .build()
                .map_err(|e| unsupported(format!("field \"{name}\": {e}")))?;
            let column = columns.len();
            columns.push(leaf);
            Ok::<_, FormatError>((
                Arc::new(ty),
                Node::Leaf {
                    column,
                    optional,
                    leaf,
                },
            ))
        };
    match (schema.schema_type(), logical_name) {
        (SchemaType::Boolean, _) => primitive(Physical::BOOLEAN, Leaf::Bool, None, columns),
        (SchemaType::Int8, _) => primitive(
            Physical::INT32,
            Leaf::Int32,
            Some(LogicalType::integer(8, true)),
            columns,
        ),
        (SchemaType::Int16, _) => primitive(
            Physical::INT32,
            Leaf::Int32,
            Some(LogicalType::integer(16, true)),
            columns,
        ),
        (SchemaType::Int32, Some(DATE)) => primitive(
            Physical::INT32,
            Leaf::Int32,
            Some(LogicalType::Date),
            columns,
        ),
        (SchemaType::Int32, Some(TIME)) => primitive(
            Physical::INT32,
            Leaf::Int32,
            Some(LogicalType::time(true, TimeUnit::MILLIS)),
            columns,
        ),
        (SchemaType::Int32, _) => primitive(Physical::INT32, Leaf::Int32, None, columns),
        (SchemaType::Int64, Some(TIMESTAMP)) => primitive(
            Physical::INT64,
            Leaf::Int64,
            Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
            columns,
        ),
        (SchemaType::Int64, _) => primitive(Physical::INT64, Leaf::Int64, None, columns),
        (SchemaType::Float32, _) => primitive(Physical::FLOAT, Leaf::Float, None, columns),
        (SchemaType::Float64, _) => primitive(Physical::DOUBLE, Leaf::Double, None, columns),
        (SchemaType::String, _) => primitive(
            Physical::BYTE_ARRAY,
            Leaf::Bytes,
            Some(LogicalType::String),
            columns,
        ),
        (SchemaType::Bytes, Some(DECIMAL)) => {
            let scale = logical::decimal_scale(schema)?;
            let precision = schema
                .parameter("connect.decimal.precision")
                .and_then(|p| p.parse().ok())
                .unwrap_or(64);
            primitive(
                Physical::BYTE_ARRAY,
                Leaf::Bytes,
                Some(LogicalType::decimal(scale, precision)),
                columns,
            )
        }
        (SchemaType::Bytes, _) => primitive(Physical::BYTE_ARRAY, Leaf::Bytes, None, columns),
        (SchemaType::Struct, _) => {
            if schema.fields().is_empty() {
                return Err(unsupported(format!("the struct \"{name}\" without fields")));
            }
            let mut types = Vec::new();
            let mut nodes = Vec::new();
            for f in schema.fields() {
                let (t, n) = build(f.name(), f.schema(), false, columns)?;
                types.push(t);
                nodes.push(n);
            }
            let ty = Type::group_type_builder(name)
                .with_repetition(repetition)
                .with_fields(types)
                .build()
                .map_err(|e| unsupported(format!("struct \"{name}\": {e}")))?;
            let leaves = nodes.iter().flat_map(Node::leaves).collect();
            Ok((
                Arc::new(ty),
                Node::Group {
                    optional,
                    fields: nodes,
                    leaves,
                },
            ))
        }
        (SchemaType::Array, _) => {
            let item = schema
                .value_schema()
                .ok_or_else(|| unsupported(format!("the array \"{name}\" without item schema")))?;
            let (item_type, item_node) = build("element", item, false, columns)?;
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![item_type])
                .build()
                .map_err(|e| unsupported(format!("array \"{name}\": {e}")))?;
            let ty = Type::group_type_builder(name)
                .with_repetition(repetition)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()
                .map_err(|e| unsupported(format!("array \"{name}\": {e}")))?;
            let leaves = item_node.leaves();
            Ok((
                Arc::new(ty),
                Node::Repeated {
                    optional,
                    map: false,
                    children: vec![item_node],
                    leaves,
                },
            ))
        }
        (SchemaType::Map, _) => {
            let (Some(ks), Some(vs)) = (schema.key_schema(), schema.value_schema()) else {
                return Err(unsupported(format!(
                    "the map \"{name}\" without key or value schema"
                )));
            };
            let (kt, kn) = build("key", ks, true, columns)?;
            let (vt, vn) = build("value", vs, false, columns)?;
            let kv = Type::group_type_builder("key_value")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![kt, vt])
                .build()
                .map_err(|e| unsupported(format!("map \"{name}\": {e}")))?;
            let ty = Type::group_type_builder(name)
                .with_repetition(repetition)
                .with_logical_type(Some(LogicalType::Map))
                .with_fields(vec![Arc::new(kv)])
                .build()
                .map_err(|e| unsupported(format!("map \"{name}\": {e}")))?;
            let mut leaves = kn.leaves();
            leaves.extend(vn.leaves());
            Ok((
                Arc::new(ty),
                Node::Repeated {
                    optional,
                    map: true,
                    children: vec![kn, vn],
                    leaves,
                },
            ))
        }
    }
}

/// A row group being encoded on its own thread: it gives back the file it wrote to and its
/// columns, emptied, for the next row group to fill.
type Encoding = std::thread::JoinHandle<(
    SerializedFileWriter<Shared>,
    Vec<Column>,
    Result<(), FormatError>,
)>;

pub(super) struct ParquetWriter {
    root: Node,
    schema: Schema,
    leaves: Vec<Leaf>,
    /// The row group filling.
    columns: Vec<Column>,
    /// The file, while no row group is being encoded into it.
    file: Option<SerializedFileWriter<Shared>>,
    encoding: Option<Encoding>,
    /// The columns of the row group encoded last, emptied (their capacity kept).
    spare: Option<Vec<Column>>,
    sink: Shared,
    buffered: usize,
    row_group_bytes: usize,
    rows: usize,
}

fn empty_columns(leaves: &[Leaf]) -> Vec<Column> {
    leaves
        .iter()
        .map(|leaf| Column {
            values: match leaf {
                Leaf::Bool => Values::Bool(Vec::new()),
                Leaf::Int32 => Values::Int32(Vec::new()),
                Leaf::Int64 => Values::Int64(Vec::new()),
                Leaf::Float => Values::Float(Vec::new()),
                Leaf::Double => Values::Double(Vec::new()),
                Leaf::Bytes => Values::Bytes(ByteValues::default()),
            },
            def: Vec::new(),
            rep: Vec::new(),
        })
        .collect()
}

/// Encodes `columns` as the file's next row group, and empties them.
fn encode_row_group(
    file: &mut SerializedFileWriter<Shared>,
    columns: &mut [Column],
) -> Result<(), FormatError> {
    let err =
        |e: parquet::errors::ParquetError| FormatError(format!("writing a Parquet row group: {e}"));
    let mut rg = file.next_row_group().map_err(err)?;
    for column in columns {
        let Some(mut w) = rg.next_column().map_err(err)? else {
            return Err(FormatError(
                "Parquet schema has fewer columns than expected".into(),
            ));
        };
        let def = Some(column.def.as_slice());
        let rep = Some(column.rep.as_slice());
        match &mut column.values {
            Values::Bool(v) => w.typed::<BoolType>().write_batch(v, def, rep),
            Values::Int32(v) => w.typed::<Int32Type>().write_batch(v, def, rep),
            Values::Int64(v) => w.typed::<Int64Type>().write_batch(v, def, rep),
            Values::Float(v) => w.typed::<FloatType>().write_batch(v, def, rep),
            Values::Double(v) => w.typed::<DoubleType>().write_batch(v, def, rep),
            Values::Bytes(v) => w.typed::<ByteArrayType>().write_batch(&v.take(), def, rep),
        }
        .map_err(err)?;
        w.close().map_err(err)?;
        column.values.truncate(0);
        column.def.clear();
        column.rep.clear();
    }
    rg.close().map_err(err)?;
    Ok(())
}

impl ParquetWriter {
    pub(super) fn new(
        schema: &Schema,
        codec: ParquetCodec,
        row_group_bytes: usize,
    ) -> Result<ParquetWriter, FormatError> {
        if schema.schema_type() != SchemaType::Struct {
            return Err(unsupported(format!(
                "{} values: records must have struct values",
                schema.schema_type()
            )));
        }
        let root_name = schema
            .name()
            .map(|n| n.rsplit('.').next().unwrap_or(n))
            .unwrap_or("ConnectDefault");
        let mut leaves = Vec::new();
        let (ty, root) = build(root_name, schema, true, &mut leaves)?;
        let columns = empty_columns(&leaves);
        let props = WriterProperties::builder()
            .set_compression(codec.compression())
            .set_dictionary_enabled(true)
            .set_dictionary_page_size_limit(DICTIONARY_PAGE_SIZE)
            .set_data_page_size_limit(PAGE_SIZE)
            .set_created_by(format!("ferry-s3 version {}", crate::VERSION))
            .build();
        let sink = Shared::default();
        let file = SerializedFileWriter::new(sink.clone(), ty, Arc::new(props))
            .map_err(|e| FormatError(format!("starting a Parquet file: {e}")))?;
        Ok(ParquetWriter {
            root,
            schema: schema.clone(),
            leaves,
            columns,
            file: Some(file),
            encoding: None,
            spare: None,
            sink,
            buffered: 0,
            // Half: one row group encodes while the next fills.
            row_group_bytes: (row_group_bytes / 2).max(1 << 20),
            rows: 0,
        })
    }

    /// Waits for the row group being encoded, if any; what the file wrote goes to `out`.
    fn settle(&mut self, out: &mut Output) -> Result<(), FormatError> {
        if let Some(encoding) = self.encoding.take() {
            let (file, columns, result) = encoding.join().map_err(|_| {
                FormatError("encoding a Parquet row group: the encoder thread panicked".into())
            })?;
            self.file = Some(file);
            self.spare = Some(columns);
            result?;
        }
        self.sink.drain_into(out);
        Ok(())
    }

    /// Hands the buffered rows to an encoder thread, once the row group before them is
    /// encoded.
    fn flush_row_group(&mut self, out: &mut Output) -> Result<(), FormatError> {
        self.settle(out)?;
        if self.rows == 0 {
            return Ok(());
        }
        let Some(mut file) = self.file.take() else {
            return Err(FormatError("the Parquet file is already closed".into()));
        };
        let next = self
            .spare
            .take()
            .unwrap_or_else(|| empty_columns(&self.leaves));
        let mut columns = std::mem::replace(&mut self.columns, next);
        self.encoding = Some(std::thread::spawn(move || {
            let result = encode_row_group(&mut file, &mut columns);
            (file, columns, result)
        }));
        self.rows = 0;
        self.buffered = 0;
        Ok(())
    }
}

impl RecordWriter for ParquetWriter {
    fn write(&mut self, record: &SinkRecord, out: &mut Output) -> Result<(), FormatError> {
        let marks: Vec<(usize, usize)> = self
            .columns
            .iter()
            .map(|c| (c.values.len(), c.def.len()))
            .collect();
        let before = self.buffered;
        let mut shredder = Shredder {
            columns: &mut self.columns,
            bytes: 0,
        };
        let result =
            if let (Value::Struct(s), Node::Group { fields, .. }) = (&record.value, &self.root) {
                if s.values().len() == fields.len()
                    && s.schema().fields().len() == self.schema.fields().len()
                {
                    fields
                        .iter()
                        .zip(s.values())
                        .zip(self.schema.fields())
                        .try_for_each(|((node, v), f)| {
                            shredder.shred(node, v, 0, 0, 0).map_err(|e| {
                                FormatError(format!("field \"{}\": {}", f.name(), e.0))
                            })
                        })
                } else {
                    Err(FormatError("struct value has a different schema".into()))
                }
            } else {
                Err(FormatError(format!(
                    "a {} value is not a struct",
                    record.value.kind()
                )))
            };
        let added = shredder.bytes;
        if let Err(e) = result {
            for (column, (values, levels)) in self.columns.iter_mut().zip(marks) {
                column.values.truncate(values);
                column.def.truncate(levels);
                column.rep.truncate(levels);
            }
            self.buffered = before;
            return Err(FormatError(format!(
                "the record at offset {} of {}-{} cannot be written as Parquet: {}",
                record.kafka_offset, record.topic, record.kafka_partition, e.0
            )));
        }
        self.buffered += added;
        self.rows += 1;
        if self.buffered >= self.row_group_bytes {
            self.flush_row_group(out)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output) -> Result<(), FormatError> {
        self.flush_row_group(out)?;
        self.settle(out)?;
        if let Some(file) = self.file.take() {
            file.close()
                .map_err(|e| FormatError(format!("closing a Parquet file: {e}")))?;
        }
        self.sink.drain_into(out);
        Ok(())
    }
}

struct Shredder<'a> {
    columns: &'a mut [Column],
    /// Approximate bytes added (values plus levels).
    bytes: usize,
}

impl Shredder<'_> {
    fn nulls(&mut self, leaves: &[usize], def: i16, rep: i16) {
        for &c in leaves {
            self.columns[c].def.push(def);
            self.columns[c].rep.push(rep);
        }
        self.bytes += 4 * leaves.len();
    }

    /// Shreds `value` under `node`: `def` is the definition level where `node`'s parent is
    /// present, `rep` the repetition level of its first value, `depth` the repetition depth.
    fn shred(
        &mut self,
        node: &Node,
        value: &Value,
        def: i16,
        rep: i16,
        depth: i16,
    ) -> Result<(), FormatError> {
        match node {
            Node::Leaf {
                column,
                optional,
                leaf,
            } => {
                if value.is_null() {
                    if !*optional {
                        return Err(FormatError("null value for a required field".into()));
                    }
                    self.nulls(&[*column], def, rep);
                    return Ok(());
                }
                let col = &mut self.columns[*column];
                let mismatch = || {
                    FormatError(format!(
                        "a {} value does not match the field's schema",
                        value.kind()
                    ))
                };
                match (&mut col.values, leaf, value) {
                    (Values::Bool(v), Leaf::Bool, Value::Boolean(b)) => v.push(*b),
                    (Values::Int32(v), Leaf::Int32, Value::Int8(n)) => v.push(i32::from(*n)),
                    (Values::Int32(v), Leaf::Int32, Value::Int16(n)) => v.push(i32::from(*n)),
                    (
                        Values::Int32(v),
                        Leaf::Int32,
                        Value::Int32(n) | Value::Date(n) | Value::Time(n),
                    ) => v.push(*n),
                    (Values::Int64(v), Leaf::Int64, Value::Int64(n) | Value::Timestamp(n)) => {
                        v.push(*n)
                    }
                    (Values::Float(v), Leaf::Float, Value::Float32(n)) => v.push(*n),
                    (Values::Double(v), Leaf::Double, Value::Float64(n)) => v.push(*n),
                    (Values::Bytes(v), Leaf::Bytes, Value::String(s)) => {
                        self.bytes += s.len();
                        v.push(s.as_str().as_bytes());
                    }
                    (Values::Bytes(v), Leaf::Bytes, Value::Bytes(b)) => {
                        self.bytes += b.len();
                        v.push(b);
                    }
                    (Values::Bytes(v), Leaf::Bytes, Value::Decimal(d)) => {
                        self.bytes += d.unscaled_bytes().len();
                        v.push(d.unscaled_bytes());
                    }
                    _ => return Err(mismatch()),
                }
                col.def.push(def + i16::from(*optional));
                col.rep.push(rep);
                self.bytes += 12;
                Ok(())
            }
            Node::Group {
                optional,
                fields,
                leaves,
            } => {
                let Value::Struct(s) = value else {
                    if value.is_null() && *optional {
                        self.nulls(leaves, def, rep);
                        return Ok(());
                    }
                    return Err(FormatError(format!(
                        "a {} value is not a struct",
                        value.kind()
                    )));
                };
                if s.values().len() != fields.len() {
                    return Err(FormatError("struct value has a different schema".into()));
                }
                let d = def + i16::from(*optional);
                for (node, v) in fields.iter().zip(s.values()) {
                    self.shred(node, v, d, rep, depth)?;
                }
                Ok(())
            }
            Node::Repeated {
                optional,
                map,
                children,
                leaves,
            } => {
                if value.is_null() {
                    if !*optional {
                        return Err(FormatError("null value for a required field".into()));
                    }
                    self.nulls(leaves, def, rep);
                    return Ok(());
                }
                let d = def + i16::from(*optional);
                match (value, map) {
                    (Value::Array(items), false) => {
                        if items.is_empty() {
                            self.nulls(leaves, d, rep);
                        }
                        for (i, item) in items.iter().enumerate() {
                            let r = if i == 0 { rep } else { depth + 1 };
                            self.shred(&children[0], item, d + 1, r, depth + 1)?;
                        }
                        Ok(())
                    }
                    (Value::Map(entries), true) => {
                        if entries.is_empty() {
                            self.nulls(leaves, d, rep);
                        }
                        for (i, (k, v)) in entries.iter().enumerate() {
                            let r = if i == 0 { rep } else { depth + 1 };
                            self.shred(&children[0], k, d + 1, r, depth + 1)?;
                            self.shred(&children[1], v, d + 1, r, depth + 1)?;
                        }
                        Ok(())
                    }
                    _ => Err(FormatError(format!(
                        "a {} value does not match a {} field",
                        value.kind(),
                        if *map { "MAP" } else { "ARRAY" }
                    ))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::{ByteStr, SchemaBuilder, Struct};

    /// The schema of the rows of [`record`]: an id and a name.
    fn row_schema() -> Schema {
        SchemaBuilder::struct_()
            .name("t.Row")
            .field("id", Schema::int64())
            .field("name", Schema::string())
            .build()
    }

    fn record(schema: &Schema, name: Value, offset: i64) -> SinkRecord {
        let value = Struct::from_values(schema.clone(), vec![Value::Int64(offset), name]).unwrap();
        SinkRecord {
            topic: "t".into(),
            kafka_partition: 0,
            kafka_offset: offset,
            timestamp: None,
            key_schema: None,
            key: Value::Null,
            value_schema: Some(schema.clone()),
            value: Value::Struct(value),
            headers: Vec::new(),
            original: None,
        }
    }

    #[test]
    fn row_groups_keep_no_slice_of_the_fetched_batch() {
        let schema = row_schema();
        // The batch a record's strings were sliced from, as the JsonConverter shares it.
        let batch = Bytes::from(vec![b'x'; 1 << 20]);
        let mut writer = ParquetWriter::new(&schema, ParquetCodec::Snappy, 1 << 20).unwrap();
        let mut out = Output::new(crate::config::Compression::None);
        let name = Value::String(ByteStr::from_utf8(batch.slice(10..20)).unwrap());
        writer.write(&record(&schema, name, 0), &mut out).unwrap();
        assert!(writer.rows == 1 && writer.buffered > 0);
        assert!(
            batch.is_unique(),
            "the open row group still holds a slice of the fetched batch"
        );
        // A record that fails midway leaves the buffered values as they were.
        let bad = SinkRecord {
            value: Value::from("not a struct"),
            ..record(&schema, Value::from("y"), 1)
        };
        assert!(writer.write(&bad, &mut out).is_err());
        writer.finish(&mut out).unwrap();
        let bytes = Bytes::from(out.take(usize::MAX));
        let reader = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
        use parquet::file::reader::FileReader;
        let rows: Vec<String> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().to_string())
            .collect();
        assert_eq!(rows, vec![r#"{id: 0, name: "xxxxxxxxxx"}"#]);
    }

    /// Row groups encoded on their own threads come out whole, in order, and the same
    /// records give the same bytes (exactly once rewrites objects identically).
    #[test]
    fn row_groups_encoded_in_the_background_are_in_order_and_deterministic() {
        let schema = row_schema();
        let encode = || {
            // Row groups of 1 MiB of values (the least): about 8000 of these rows each.
            let mut writer = ParquetWriter::new(&schema, ParquetCodec::Snappy, 1 << 20).unwrap();
            let mut out = Output::new(crate::config::Compression::None);
            let mut bytes = Vec::new();
            for i in 0..30_000 {
                let name = Value::from(format!("{i:0100}").as_str());
                writer.write(&record(&schema, name, i), &mut out).unwrap();
                bytes.extend(out.take(usize::MAX));
            }
            writer.finish(&mut out).unwrap();
            bytes.extend(out.take(usize::MAX));
            Bytes::from(bytes)
        };
        let bytes = encode();
        assert_eq!(bytes, encode());
        use parquet::file::reader::FileReader;
        use parquet::record::RowAccessor;
        let reader = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
        assert!(reader.metadata().num_row_groups() >= 3);
        let ids: Vec<i64> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().get_long(0).unwrap())
            .collect();
        assert_eq!(ids, (0..30_000).collect::<Vec<i64>>());
    }
}
