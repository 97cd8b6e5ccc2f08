//! Decoding pgoutput's logical replication messages (protocol version 1): Begin, Commit,
//! Relation, Insert, Update, Delete, Truncate; Origin and Type are read and ignored.

use bytes::{Buf, Bytes};

use super::replication::Lsn;

/// One column of a relation as pgoutput describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelationColumn {
    /// Part of the replica identity (the key sent with updates and deletes).
    pub(crate) key: bool,
    pub(crate) name: String,
    pub(crate) type_oid: u32,
    pub(crate) typmod: i32,
}

/// A table: sent before the first change of each table in a session, and after it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub(crate) id: u32,
    pub(crate) schema: String,
    pub(crate) table: String,
    /// `d` default, `n` nothing, `f` full, `i` index.
    pub(crate) replica_identity: u8,
    pub(crate) columns: Vec<RelationColumn>,
}

/// One column value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cell {
    Null,
    /// A TOASTed value that did not change (not sent).
    Unchanged,
    Text(Bytes),
    Binary(Bytes),
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Message {
    Begin {
        final_lsn: Lsn,
        /// Microseconds since 2000-01-01.
        commit_time: i64,
        xid: u32,
    },
    Commit {
        commit_lsn: Lsn,
        end_lsn: Lsn,
        commit_time: i64,
    },
    Relation(Relation),
    Insert {
        relation: u32,
        new: Vec<Cell>,
    },
    Update {
        relation: u32,
        /// The old key (`K`) or the whole old row (`O`, REPLICA IDENTITY FULL).
        old: Option<Vec<Cell>>,
        new: Vec<Cell>,
    },
    Delete {
        relation: u32,
        old: Vec<Cell>,
    },
    Truncate {
        relations: Vec<u32>,
    },
    /// Origin, Type, logical decoding messages: nothing to do.
    Other(u8),
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed pgoutput message: {0}")]
pub(crate) struct DecodeError(String);

fn need(buf: &Bytes, n: usize, what: &str) -> Result<(), DecodeError> {
    if buf.remaining() < n {
        Err(DecodeError(format!("{what} is cut short")))
    } else {
        Ok(())
    }
}

fn cstring(buf: &mut Bytes) -> Result<String, DecodeError> {
    let end = buf
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| DecodeError("unterminated string".into()))?;
    let s = String::from_utf8_lossy(&buf[..end]).into_owned();
    buf.advance(end + 1);
    Ok(s)
}

fn tuple(buf: &mut Bytes) -> Result<Vec<Cell>, DecodeError> {
    need(buf, 2, "tuple")?;
    let n = buf.get_i16();
    let mut cells = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        need(buf, 1, "tuple column")?;
        cells.push(match buf.get_u8() {
            b'n' => Cell::Null,
            b'u' => Cell::Unchanged,
            kind @ (b't' | b'b') => {
                need(buf, 4, "column length")?;
                let len = buf.get_i32();
                if len < 0 {
                    return Err(DecodeError("negative column length".into()));
                }
                need(buf, len as usize, "column value")?;
                let v = buf.split_to(len as usize);
                if kind == b't' {
                    Cell::Text(v)
                } else {
                    Cell::Binary(v)
                }
            }
            other => {
                return Err(DecodeError(format!(
                    "unknown column kind '{}'",
                    other as char
                )));
            }
        });
    }
    Ok(cells)
}

/// Decodes one message.
pub(crate) fn decode(mut buf: Bytes) -> Result<Message, DecodeError> {
    need(&buf, 1, "message")?;
    let tag = buf.get_u8();
    Ok(match tag {
        b'B' => {
            need(&buf, 20, "Begin")?;
            Message::Begin {
                final_lsn: Lsn(buf.get_u64()),
                commit_time: buf.get_i64(),
                xid: buf.get_u32(),
            }
        }
        b'C' => {
            need(&buf, 25, "Commit")?;
            let _flags = buf.get_u8();
            Message::Commit {
                commit_lsn: Lsn(buf.get_u64()),
                end_lsn: Lsn(buf.get_u64()),
                commit_time: buf.get_i64(),
            }
        }
        b'R' => {
            need(&buf, 4, "Relation")?;
            let id = buf.get_u32();
            let schema = cstring(&mut buf)?;
            let table = cstring(&mut buf)?;
            need(&buf, 3, "Relation")?;
            let replica_identity = buf.get_u8();
            let n = buf.get_i16();
            let mut columns = Vec::with_capacity(n.max(0) as usize);
            for _ in 0..n {
                need(&buf, 1, "Relation column")?;
                let flags = buf.get_u8();
                let name = cstring(&mut buf)?;
                need(&buf, 8, "Relation column")?;
                columns.push(RelationColumn {
                    key: flags & 1 != 0,
                    name,
                    type_oid: buf.get_u32(),
                    typmod: buf.get_i32(),
                });
            }
            Message::Relation(Relation {
                id,
                schema,
                table,
                replica_identity,
                columns,
            })
        }
        b'I' => {
            need(&buf, 5, "Insert")?;
            let relation = buf.get_u32();
            match buf.get_u8() {
                b'N' => Message::Insert {
                    relation,
                    new: tuple(&mut buf)?,
                },
                other => {
                    return Err(DecodeError(format!(
                        "Insert without a new tuple ('{}')",
                        other as char
                    )));
                }
            }
        }
        b'U' => {
            need(&buf, 5, "Update")?;
            let relation = buf.get_u32();
            let mut old = None;
            let mut kind = buf.get_u8();
            if matches!(kind, b'K' | b'O') {
                old = Some(tuple(&mut buf)?);
                need(&buf, 1, "Update")?;
                kind = buf.get_u8();
            }
            if kind != b'N' {
                return Err(DecodeError("Update without a new tuple".into()));
            }
            Message::Update {
                relation,
                old,
                new: tuple(&mut buf)?,
            }
        }
        b'D' => {
            need(&buf, 5, "Delete")?;
            let relation = buf.get_u32();
            match buf.get_u8() {
                b'K' | b'O' => Message::Delete {
                    relation,
                    old: tuple(&mut buf)?,
                },
                other => {
                    return Err(DecodeError(format!(
                        "Delete without an old tuple ('{}')",
                        other as char
                    )));
                }
            }
        }
        b'T' => {
            need(&buf, 5, "Truncate")?;
            let n = buf.get_u32() as usize;
            let _options = buf.get_u8();
            need(&buf, 4 * n, "Truncate")?;
            Message::Truncate {
                relations: (0..n).map(|_| buf.get_u32()).collect(),
            }
        }
        other => Message::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;

    #[test]
    fn relation_and_changes() {
        let mut b = BytesMut::new();
        b.put_u8(b'R');
        b.put_u32(16384);
        b.put_slice(b"public\0orders\0");
        b.put_u8(b'd');
        b.put_i16(2);
        b.put_u8(1);
        b.put_slice(b"id\0");
        b.put_u32(20);
        b.put_i32(-1);
        b.put_u8(0);
        b.put_slice(b"note\0");
        b.put_u32(25);
        b.put_i32(-1);
        let Message::Relation(r) = decode(b.freeze()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.schema.as_str(), r.table.as_str(), r.columns.len()),
            ("public", "orders", 2)
        );
        assert!(r.columns[0].key && !r.columns[1].key);

        let mut b = BytesMut::new();
        b.put_u8(b'U');
        b.put_u32(16384);
        b.put_u8(b'K');
        b.put_i16(2);
        b.put_u8(b't');
        b.put_i32(1);
        b.put_slice(b"1");
        b.put_u8(b'n');
        b.put_u8(b'N');
        b.put_i16(2);
        b.put_u8(b't');
        b.put_i32(1);
        b.put_slice(b"2");
        b.put_u8(b'u');
        assert_eq!(
            decode(b.freeze()).unwrap(),
            Message::Update {
                relation: 16384,
                old: Some(vec![Cell::Text(Bytes::from_static(b"1")), Cell::Null]),
                new: vec![Cell::Text(Bytes::from_static(b"2")), Cell::Unchanged],
            }
        );
        assert!(decode(Bytes::from_static(b"I\0\0")).is_err());
    }
}
