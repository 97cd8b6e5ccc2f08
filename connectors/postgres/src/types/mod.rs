//! Postgres types on the wire and their Connect counterparts.
//!
//! A column's type is a [`PgType`] (its [`Kind`] from the type OID, plus the type modifier
//! that carries `numeric(p,s)`, `varchar(n)` and time precisions). Values are decoded from
//! the binary format (query results, binary COPY) by [`binary`] and from the text format
//! (pgoutput) by [`text`] into a [`PgValue`], which [`mapping`] turns into a Connect value
//! under the rules of one connector (JDBC-style or Debezium-style). The sink goes the other
//! way: [`binary::encode`] writes a Connect value in the binary COPY format of a column.
//!
//! Types without a decoder here (enums, intervals, network addresses, ranges, user types)
//! are read as text: the sources cast them to `text` in their queries, and pgoutput sends
//! text anyway.

pub(crate) mod binary;
pub(crate) mod calendar;
pub(crate) mod json;
pub(crate) mod mapping;
pub(crate) mod numeric;
pub(crate) mod text;

use bytes::Bytes;
use ferry_api::logical::Decimal;

/// OIDs of the built-in types this crate knows (`pg_type.oid`, fixed across versions).
pub(crate) mod oid {
    pub(crate) const BOOL: u32 = 16;
    pub(crate) const BYTEA: u32 = 17;
    pub(crate) const CHAR: u32 = 18;
    pub(crate) const NAME: u32 = 19;
    pub(crate) const INT8: u32 = 20;
    pub(crate) const INT2: u32 = 21;
    pub(crate) const INT4: u32 = 23;
    pub(crate) const TEXT: u32 = 25;
    pub(crate) const OID: u32 = 26;
    pub(crate) const JSON: u32 = 114;
    pub(crate) const XML: u32 = 142;
    pub(crate) const FLOAT4: u32 = 700;
    pub(crate) const FLOAT8: u32 = 701;
    pub(crate) const BPCHAR: u32 = 1042;
    pub(crate) const VARCHAR: u32 = 1043;
    pub(crate) const DATE: u32 = 1082;
    pub(crate) const TIME: u32 = 1083;
    pub(crate) const TIMESTAMP: u32 = 1114;
    pub(crate) const TIMESTAMPTZ: u32 = 1184;
    pub(crate) const TIMETZ: u32 = 1266;
    pub(crate) const NUMERIC: u32 = 1700;
    pub(crate) const UUID: u32 = 2950;
    pub(crate) const JSONB: u32 = 3802;
}

/// What a type is, as far as decoding and mapping care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int2,
    Int4,
    Int8,
    /// `oid`: an unsigned 32-bit integer.
    Oid,
    Float4,
    Float8,
    Numeric,
    /// `text`, `varchar`, `bpchar`, `name`, `"char"`, `xml`.
    Text,
    Bytea,
    Date,
    Time,
    TimeTz,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
    Jsonb,
    /// An array of the element kind.
    Array(Box<Kind>),
    /// Anything else: read as text, written through a cast from text.
    Other,
}

impl Kind {
    /// The kind of a type OID (`Other` when unknown).
    pub(crate) fn of_oid(type_oid: u32) -> Kind {
        use oid::*;
        match type_oid {
            BOOL => Kind::Bool,
            BYTEA => Kind::Bytea,
            CHAR | NAME | TEXT | XML | BPCHAR | VARCHAR => Kind::Text,
            INT8 => Kind::Int8,
            INT2 => Kind::Int2,
            INT4 => Kind::Int4,
            OID => Kind::Oid,
            JSON => Kind::Json,
            FLOAT4 => Kind::Float4,
            FLOAT8 => Kind::Float8,
            DATE => Kind::Date,
            TIME => Kind::Time,
            TIMESTAMP => Kind::Timestamp,
            TIMESTAMPTZ => Kind::TimestampTz,
            TIMETZ => Kind::TimeTz,
            NUMERIC => Kind::Numeric,
            UUID => Kind::Uuid,
            JSONB => Kind::Jsonb,
            other => match array_element(other) {
                Some(elem) => Kind::Array(Box::new(Kind::of_oid(elem))),
                None => Kind::Other,
            },
        }
    }

    /// Whether values of this kind are decoded and encoded natively (not through text).
    pub(crate) fn is_native(&self) -> bool {
        match self {
            Kind::Other => false,
            Kind::Array(elem) => elem.is_native() && !matches!(**elem, Kind::Array(_)),
            _ => true,
        }
    }

    /// What a source reads values of this kind as: the kind itself when it is decoded
    /// natively, otherwise text (an array of text for an array), with the cast a query
    /// applies to the column to get that (`text`, `text[]`).
    pub(crate) fn read_as(&self) -> (Kind, Option<&'static str>) {
        match self {
            Kind::Array(_) if !self.is_native() => {
                (Kind::Array(Box::new(Kind::Text)), Some("text[]"))
            }
            k if !k.is_native() => (Kind::Text, Some("text")),
            k => (k.clone(), None),
        }
    }
}

/// The element OID of the built-in array types.
pub(crate) fn array_element(array_oid: u32) -> Option<u32> {
    use oid::*;
    Some(match array_oid {
        1000 => BOOL,
        1001 => BYTEA,
        1002 => CHAR,
        1003 => NAME,
        1016 => INT8,
        1005 => INT2,
        1007 => INT4,
        1009 => TEXT,
        1028 => OID,
        199 => JSON,
        143 => XML,
        1021 => FLOAT4,
        1022 => FLOAT8,
        1014 => BPCHAR,
        1015 => VARCHAR,
        1182 => DATE,
        1183 => TIME,
        1115 => TIMESTAMP,
        1185 => TIMESTAMPTZ,
        1270 => TIMETZ,
        1231 => NUMERIC,
        2951 => UUID,
        3807 => JSONB,
        _ => return None,
    })
}

/// A column type: OID, modifier and name as the catalog gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PgType {
    /// `pg_type.oid`.
    pub(crate) oid: u32,
    /// `atttypmod`: -1 when there is none.
    pub(crate) typmod: i32,
    /// `format_type(oid, typmod)`, e.g. `numeric(10,2)`, for messages and DDL.
    pub(crate) name: String,
    /// What it is.
    pub(crate) kind: Kind,
}

impl PgType {
    pub(crate) fn new(oid: u32, typmod: i32, name: impl Into<String>) -> PgType {
        PgType {
            oid,
            typmod,
            name: name.into(),
            kind: Kind::of_oid(oid),
        }
    }

    /// `(precision, scale)` of a constrained `numeric(p,s)`.
    pub(crate) fn numeric_precision_scale(&self) -> Option<(i32, i32)> {
        if self.typmod < 4 {
            return None;
        }
        let m = self.typmod - 4;
        // Postgres 15 allows negative scales: an 11-bit signed field.
        let scale = ((m & 0x7ff) ^ 1024) - 1024;
        Some(((m >> 16) & 0xffff, scale))
    }

    /// The declared length of `varchar(n)` / `char(n)`.
    pub(crate) fn char_length(&self) -> Option<i32> {
        (matches!(self.oid, oid::VARCHAR | oid::BPCHAR) && self.typmod >= 4)
            .then_some(self.typmod - 4)
    }

    /// The fractional-second precision of `time(p)`, `timestamp(p)` (6 when undeclared).
    pub(crate) fn time_precision(&self) -> i32 {
        if self.typmod >= 0 { self.typmod } else { 6 }
    }
}

/// A decoded Postgres value. Dates are days and timestamps microseconds since 1970-01-01;
/// infinities are kept as the extreme values Postgres uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PgValue {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Numeric),
    Text(String),
    Bytes(Bytes),
    /// Days since 1970-01-01 (`i32::MAX`/`MIN` for ±infinity).
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since midnight and the zone's offset in seconds east of UTC.
    TimeTz(i64, i32),
    /// Microseconds since 1970-01-01, no zone (`i64::MAX`/`MIN` for ±infinity).
    Timestamp(i64),
    /// Microseconds since 1970-01-01 UTC.
    TimestampTz(i64),
    Uuid([u8; 16]),
    /// `json` or `jsonb` text.
    Json(String),
    Array(Vec<PgValue>),
}

/// A `numeric` value: a decimal, or one of the special values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Numeric {
    Value(Decimal),
    NaN,
    Infinity,
    NegativeInfinity,
}

impl std::fmt::Display for Numeric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Numeric::Value(d) => f.write_str(&d.to_plain_string()),
            Numeric::NaN => f.write_str("NaN"),
            Numeric::Infinity => f.write_str("Infinity"),
            Numeric::NegativeInfinity => f.write_str("-Infinity"),
        }
    }
}

/// Why a value could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct TypeError(pub(crate) String);

impl TypeError {
    pub(crate) fn new(msg: impl Into<String>) -> TypeError {
        TypeError(msg.into())
    }
}

/// Formats a UUID in its canonical text form.
pub(crate) fn format_uuid(b: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

/// Parses a UUID from text (with or without dashes or braces).
pub(crate) fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'-' | b'{' | b'}'))
        .collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_modifiers() {
        // numeric(10,2): typmod ((10 << 16) | 2) + 4
        let t = PgType::new(oid::NUMERIC, ((10 << 16) | 2) + 4, "numeric(10,2)");
        assert_eq!(t.numeric_precision_scale(), Some((10, 2)));
        assert_eq!(
            PgType::new(oid::NUMERIC, -1, "numeric").numeric_precision_scale(),
            None
        );
        assert_eq!(
            PgType::new(oid::VARCHAR, 54, "varchar(50)").char_length(),
            Some(50)
        );
        assert_eq!(
            PgType::new(oid::TIMESTAMP, 3, "timestamp(3)").time_precision(),
            3
        );
        assert_eq!(Kind::of_oid(1007), Kind::Array(Box::new(Kind::Int4)));
        assert!(!Kind::of_oid(869).is_native());
        assert_eq!(Kind::Int4.read_as(), (Kind::Int4, None));
        assert_eq!(Kind::Other.read_as(), (Kind::Text, Some("text")));
        assert_eq!(
            Kind::Array(Box::new(Kind::Other)).read_as(),
            (Kind::Array(Box::new(Kind::Text)), Some("text[]"))
        );
    }

    #[test]
    fn uuids() {
        let text = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        let bytes = parse_uuid(text).unwrap();
        assert_eq!(format_uuid(&bytes), text);
        assert_eq!(
            parse_uuid("{A0EEBC999C0B4EF8BB6D6BB9BD380A11}"),
            Some(bytes)
        );
        assert_eq!(parse_uuid("nope"), None);
    }
}
