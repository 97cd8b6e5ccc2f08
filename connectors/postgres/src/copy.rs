//! Postgres' binary COPY format: a reader for `COPY ... TO STDOUT (FORMAT binary)` (the
//! sources' bulk reads) and a writer for `COPY ... FROM STDIN (FORMAT binary)` (the sink).
//!
//! The stream is a signature, flags and a header extension, then one tuple per row (a
//! 16-bit field count, then per field a 32-bit length, -1 for null, and the value's binary
//! form), then a field count of -1.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The statement that streams the rows of `query` out in this format.
pub(crate) fn copy_out(query: &str) -> String {
    format!("COPY ({query}) TO STDOUT (FORMAT binary)")
}

/// The statement that streams rows in this format into `target` (a table, optionally
/// followed by its column list).
pub(crate) fn copy_in(target: &str) -> String {
    format!("COPY {target} FROM STDIN (FORMAT binary)")
}

/// Reads tuples from COPY chunks as they arrive.
#[derive(Debug, Default)]
pub(crate) struct CopyReader {
    buf: BytesMut,
    header_done: bool,
    finished: bool,
    fields: Vec<Option<(usize, usize)>>,
}

/// One tuple: its bytes and each field's range in them (`None` for null).
#[derive(Debug)]
pub(crate) struct Tuple<'a> {
    data: Bytes,
    fields: &'a [Option<(usize, usize)>],
}

impl Tuple<'_> {
    pub(crate) fn len(&self) -> usize {
        self.fields.len()
    }
    /// The bytes of field `i`, `None` for null.
    pub(crate) fn field(&self, i: usize) -> Option<&[u8]> {
        self.fields
            .get(i)
            .copied()
            .flatten()
            .map(|(start, len)| &self.data[start..start + len])
    }
}

impl CopyReader {
    pub(crate) fn new() -> CopyReader {
        CopyReader::default()
    }

    /// Adds a chunk of the COPY stream.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete tuple, if the buffered bytes hold one.
    pub(crate) fn next_tuple(&mut self) -> Result<Option<Tuple<'_>>> {
        let bad = |what: &str| Error::Replication(format!("malformed binary COPY data: {what}"));
        if !self.header_done {
            if self.buf.len() < SIGNATURE.len() + 8 {
                return Ok(None);
            }
            if &self.buf[..SIGNATURE.len()] != SIGNATURE {
                return Err(bad("bad signature"));
            }
            let ext = u32::from_be_bytes([self.buf[15], self.buf[16], self.buf[17], self.buf[18]])
                as usize;
            if self.buf.len() < 19 + ext {
                return Ok(None);
            }
            self.buf.advance(19 + ext);
            self.header_done = true;
        }
        if self.finished || self.buf.len() < 2 {
            return Ok(None);
        }
        let count = i16::from_be_bytes([self.buf[0], self.buf[1]]);
        if count == -1 {
            self.finished = true;
            self.buf.advance(2);
            return Ok(None);
        }
        if count < 0 {
            return Err(bad("negative field count"));
        }
        self.fields.clear();
        let mut at = 2;
        for _ in 0..count {
            let Some(len) = self.buf.get(at..at + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len < 0 {
                self.fields.push(None);
            } else {
                let len = len as usize;
                if self.buf.len() < at + len {
                    return Ok(None);
                }
                self.fields.push(Some((at, len)));
                at += len;
            }
        }
        let data = self.buf.split_to(at).freeze();
        Ok(Some(Tuple {
            data,
            fields: &self.fields,
        }))
    }
}

/// Builds a binary COPY stream.
#[derive(Debug)]
pub(crate) struct CopyWriter {
    buf: BytesMut,
    length_at: usize,
}

impl CopyWriter {
    /// A stream with its header written.
    pub(crate) fn new(capacity: usize) -> CopyWriter {
        let mut buf = BytesMut::with_capacity(capacity.max(32));
        buf.put_slice(SIGNATURE);
        buf.put_i32(0);
        buf.put_i32(0);
        CopyWriter { buf, length_at: 0 }
    }

    /// Starts a tuple of `fields` fields.
    pub(crate) fn row(&mut self, fields: usize) {
        self.buf.put_i16(fields as i16);
    }

    /// Writes a null field.
    pub(crate) fn null(&mut self) {
        self.buf.put_i32(-1);
    }

    /// Starts a non-null field; write its bytes into [`CopyWriter::buf`], then call
    /// [`CopyWriter::end_field`].
    pub(crate) fn begin_field(&mut self) -> &mut BytesMut {
        self.length_at = self.buf.len();
        self.buf.put_i32(0);
        &mut self.buf
    }

    /// Patches the length of the field begun last.
    pub(crate) fn end_field(&mut self) {
        let len = (self.buf.len() - self.length_at - 4) as i32;
        self.buf[self.length_at..self.length_at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Drops a field begun but not finished (its value could not be encoded).
    pub(crate) fn cancel_field(&mut self) {
        self.buf.truncate(self.length_at);
    }

    /// The bytes so far (to undo a partly written row).
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Cuts the stream back to `len` bytes.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// The finished stream, with its trailer.
    pub(crate) fn finish(mut self) -> BytesMut {
        self.buf.put_i16(-1);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_output_reads_back_in_any_chunking() {
        let mut w = CopyWriter::new(0);
        for i in 0..3i32 {
            w.row(2);
            w.begin_field().put_i32(i);
            w.end_field();
            if i == 1 {
                w.null();
            } else {
                w.begin_field().put_slice(b"text");
                w.end_field();
            }
        }
        let bytes = w.finish();
        for chunk in [1usize, 3, 7, bytes.len()] {
            let mut r = CopyReader::new();
            let mut seen = Vec::new();
            for part in bytes.chunks(chunk) {
                r.push(part);
                while let Some(t) = r.next_tuple().unwrap() {
                    assert_eq!(t.len(), 2);
                    let v = i32::from_be_bytes(t.field(0).unwrap().try_into().unwrap());
                    seen.push((v, t.field(1).map(<[u8]>::to_vec)));
                }
            }
            assert!(r.finished, "chunk {chunk}");
            assert_eq!(
                seen,
                vec![
                    (0, Some(b"text".to_vec())),
                    (1, None),
                    (2, Some(b"text".to_vec()))
                ]
            );
        }
    }
}
