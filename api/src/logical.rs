//! Connect's logical types: a core schema type plus a well-known schema name.
//!
//! | name | core type | [`Value`] variant |
//! |---|---|---|
//! | [`DECIMAL`] (parameter `scale`) | BYTES | [`Value::Decimal`] |
//! | [`DATE`] | INT32 | [`Value::Date`] (days since 1970-01-01) |
//! | [`TIME`] | INT32 | [`Value::Time`] (ms since midnight) |
//! | [`TIMESTAMP`] | INT64 | [`Value::Timestamp`] (ms since the epoch) |

use std::fmt;

use crate::data::{Schema, SchemaBuilder, SchemaType, Value};
use crate::error::{ConnectError, Result};

/// Schema name of the Decimal logical type.
pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
/// Schema name of the Date logical type.
pub const DATE: &str = "org.apache.kafka.connect.data.Date";
/// Schema name of the Time logical type.
pub const TIME: &str = "org.apache.kafka.connect.data.Time";
/// Schema name of the Timestamp logical type.
pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
/// The Decimal schema parameter that holds the scale.
pub const SCALE_PARAMETER: &str = "scale";

/// Whether `name` is one of the logical type names above.
pub fn is_logical(name: &str) -> bool {
    matches!(name, DECIMAL | DATE | TIME | TIMESTAMP)
}

/// A Decimal schema builder with the given scale.
pub fn decimal_builder(scale: i32) -> SchemaBuilder {
    SchemaBuilder::new(SchemaType::Bytes)
        .name(DECIMAL)
        .version(1)
        .parameter(SCALE_PARAMETER, scale.to_string())
}
/// A required Decimal schema with the given scale.
pub fn decimal_schema(scale: i32) -> Schema {
    decimal_builder(scale).build()
}
/// A Date schema builder.
pub fn date_builder() -> SchemaBuilder {
    SchemaBuilder::new(SchemaType::Int32).name(DATE).version(1)
}
/// A required Date schema.
pub fn date_schema() -> Schema {
    date_builder().build()
}
/// A Time schema builder.
pub fn time_builder() -> SchemaBuilder {
    SchemaBuilder::new(SchemaType::Int32).name(TIME).version(1)
}
/// A required Time schema.
pub fn time_schema() -> Schema {
    time_builder().build()
}
/// A Timestamp schema builder.
pub fn timestamp_builder() -> SchemaBuilder {
    SchemaBuilder::new(SchemaType::Int64)
        .name(TIMESTAMP)
        .version(1)
}
/// A required Timestamp schema.
pub fn timestamp_schema() -> Schema {
    timestamp_builder().build()
}

/// The scale declared by a Decimal schema.
pub fn decimal_scale(schema: &Schema) -> Result<i32> {
    schema
        .parameter(SCALE_PARAMETER)
        .ok_or_else(|| ConnectError::Data("Decimal schema has no \"scale\" parameter".into()))?
        .parse()
        .map_err(|_| ConnectError::Data("Decimal schema has a non-integer \"scale\"".into()))
}

/// An arbitrary-precision decimal: an unscaled integer (big-endian two's complement, minimal
/// length, as Java's `BigInteger.toByteArray`, which is also Connect's BYTES encoding of a
/// Decimal) and a scale. The value is `unscaled × 10^-scale`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Decimal {
    unscaled: Vec<u8>,
    scale: i32,
}

impl Decimal {
    /// From the two's complement big-endian bytes of the unscaled value.
    pub fn from_unscaled_bytes(bytes: &[u8], scale: i32) -> Decimal {
        Decimal {
            unscaled: minimal_twos_complement(bytes),
            scale,
        }
    }
    /// From an unscaled `i128`.
    pub fn from_i128(unscaled: i128, scale: i32) -> Decimal {
        Decimal::from_unscaled_bytes(&unscaled.to_be_bytes(), scale)
    }
    /// Parses decimal text such as `-12.340` or `1E-8`; the scale is the number of digits
    /// after the point (adjusted by an exponent), as Java's `new BigDecimal(String)`.
    pub fn parse(text: &str) -> Result<Decimal> {
        let bad = || ConnectError::Data(format!("\"{text}\" is not a decimal number"));
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i32>().map_err(|_| bad())?),
            None => (text, 0),
        };
        let (negative, digits) = match mantissa.as_bytes().first() {
            Some(b'-') => (true, &mantissa[1..]),
            Some(b'+') => (false, &mantissa[1..]),
            _ => (false, mantissa),
        };
        let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad());
        }
        let mut magnitude: Vec<u8> = vec![0];
        for c in int_part.bytes().chain(frac_part.bytes()) {
            if !c.is_ascii_digit() {
                return Err(bad());
            }
            mul_add(&mut magnitude, 10, c - b'0');
        }
        let scale = i32::try_from(frac_part.len())
            .ok()
            .and_then(|s| s.checked_sub(exponent))
            .ok_or_else(bad)?;
        Ok(Decimal {
            unscaled: from_magnitude(&magnitude, negative),
            scale,
        })
    }
    /// The unscaled value as minimal big-endian two's complement bytes.
    pub fn unscaled_bytes(&self) -> &[u8] {
        &self.unscaled
    }
    /// The scale.
    pub fn scale(&self) -> i32 {
        self.scale
    }
    /// The unscaled value, if it fits an `i128`.
    pub fn unscaled_i128(&self) -> Option<i128> {
        if self.unscaled.len() > 16 {
            return None;
        }
        let fill = if self.is_negative() { 0xff } else { 0 };
        let mut buf = [fill; 16];
        buf[16 - self.unscaled.len()..].copy_from_slice(&self.unscaled);
        Some(i128::from_be_bytes(buf))
    }
    fn is_negative(&self) -> bool {
        self.unscaled.first().is_some_and(|b| b & 0x80 != 0)
    }
    /// The decimal digits of the unscaled magnitude and its sign.
    fn digits(&self) -> (bool, String) {
        let negative = self.is_negative();
        // Most decimals fit 128 bits: format them natively, not by long division.
        if self.unscaled.len() <= 16 {
            let start: i128 = if negative { -1 } else { 0 };
            let v = self
                .unscaled
                .iter()
                .fold(start, |v, &b| (v << 8) | i128::from(b));
            return (negative, v.unsigned_abs().to_string());
        }
        let mut magnitude = if negative {
            negate(&self.unscaled)
        } else {
            self.unscaled.clone()
        };
        let mut out = Vec::new();
        while magnitude.iter().any(|&b| b != 0) {
            out.push(b'0' + div_small(&mut magnitude, 10));
        }
        if out.is_empty() {
            out.push(b'0');
        }
        out.reverse();
        (negative, String::from_utf8(out).unwrap_or_default())
    }
    /// Text without an exponent, as Java's `BigDecimal.toPlainString`.
    pub fn to_plain_string(&self) -> String {
        let (negative, digits) = self.digits();
        let sign = if negative { "-" } else { "" };
        let scale = self.scale;
        if scale <= 0 {
            let zeros = if digits == "0" { 0 } else { (-scale) as usize };
            return format!("{sign}{digits}{}", "0".repeat(zeros));
        }
        let scale = scale as usize;
        if digits.len() > scale {
            let (i, f) = digits.split_at(digits.len() - scale);
            format!("{sign}{i}.{f}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

/// Java's `BigDecimal.toString`: plain when the scale is not negative and the adjusted
/// exponent is at least -6, scientific (`1.23E-8`, `1E+3`) otherwise.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (negative, digits) = self.digits();
        let adjusted = -(self.scale as i64) + (digits.len() as i64 - 1);
        if self.scale >= 0 && adjusted >= -6 {
            return f.write_str(&self.to_plain_string());
        }
        let sign = if negative { "-" } else { "" };
        let (first, rest) = digits.split_at(1);
        let point = if rest.is_empty() { "" } else { "." };
        let exp_sign = if adjusted >= 0 { "+" } else { "" };
        write!(f, "{sign}{first}{point}{rest}E{exp_sign}{adjusted}")
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({self})")
    }
}

impl From<Decimal> for Value {
    fn from(d: Decimal) -> Self {
        Value::Decimal(d)
    }
}

fn minimal_twos_complement(bytes: &[u8]) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![0];
    }
    let negative = bytes[0] & 0x80 != 0;
    let fill = if negative { 0xff } else { 0 };
    let mut start = 0;
    while start + 1 < bytes.len()
        && bytes[start] == fill
        && (bytes[start + 1] & 0x80 != 0) == negative
    {
        start += 1;
    }
    bytes[start..].to_vec()
}

/// Two's complement negation of a big-endian byte string (used on negative values to get
/// the magnitude, and on magnitudes to get negative values).
fn negate(bytes: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = bytes.iter().map(|b| !b).collect();
    for b in out.iter_mut().rev() {
        let (v, overflow) = b.overflowing_add(1);
        *b = v;
        if !overflow {
            break;
        }
    }
    out
}

fn from_magnitude(magnitude: &[u8], negative: bool) -> Vec<u8> {
    // A leading zero byte keeps the sign bit clear before an optional negation.
    let mut m = Vec::with_capacity(magnitude.len() + 1);
    m.push(0);
    m.extend_from_slice(magnitude);
    let m = if negative && magnitude.iter().any(|&b| b != 0) {
        negate(&m)
    } else {
        m
    };
    minimal_twos_complement(&m)
}

fn mul_add(magnitude: &mut Vec<u8>, mul: u32, add: u8) {
    let mut carry = add as u32;
    for b in magnitude.iter_mut().rev() {
        let v = (*b as u32) * mul + carry;
        *b = (v & 0xff) as u8;
        carry = v >> 8;
    }
    while carry > 0 {
        magnitude.insert(0, (carry & 0xff) as u8);
        carry >>= 8;
    }
}

fn div_small(magnitude: &mut [u8], div: u32) -> u8 {
    let mut rem = 0u32;
    for b in magnitude.iter_mut() {
        let v = (rem << 8) | *b as u32;
        *b = (v / div) as u8;
        rem = v % div;
    }
    rem as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_bytes_match_java_biginteger() {
        // 10.25 → unscaled 1025 = 0x04 0x01 (docs/formats.md §7, Decimal).
        let d = Decimal::parse("10.25").unwrap();
        assert_eq!(d.unscaled_bytes(), &[0x04, 0x01]);
        assert_eq!(d.scale(), 2);
        assert_eq!(Decimal::from_i128(-1, 0).unscaled_bytes(), &[0xff]);
        assert_eq!(Decimal::from_i128(128, 0).unscaled_bytes(), &[0x00, 0x80]);
        assert_eq!(Decimal::from_i128(-129, 0).unscaled_bytes(), &[0xff, 0x7f]);
        assert_eq!(Decimal::from_i128(0, 3).unscaled_bytes(), &[0x00]);
        assert_eq!(Decimal::parse("-1.5").unwrap().unscaled_i128(), Some(-15));
    }

    #[test]
    fn decimal_text_matches_java_bigdecimal_to_string() {
        for (text, expect) in [
            ("10.20", "10.20"),
            ("-0.001", "-0.001"),
            ("0.00000001", "1E-8"),
            ("123", "123"),
            ("1E+3", "1E+3"),
            ("0", "0"),
            (
                "-12345678901234567890123456789012345678901234.5",
                "-12345678901234567890123456789012345678901234.5",
            ),
        ] {
            assert_eq!(Decimal::parse(text).unwrap().to_string(), expect, "{text}");
        }
        assert_eq!(Decimal::parse("1E+3").unwrap().to_plain_string(), "1000");
        // Either side of the 16 unscaled bytes that are formatted as an i128.
        for text in [
            "170141183460469231731687303715884105727",
            "-170141183460469231731687303715884105728",
            "170141183460469231731687303715884105728",
            "-170141183460469231731687303715884105729",
            "-1",
            "-256",
        ] {
            assert_eq!(Decimal::parse(text).unwrap().to_string(), text);
        }
        assert!(Decimal::parse("1.2.3").is_err());
        assert!(Decimal::parse("").is_err());
    }
}
