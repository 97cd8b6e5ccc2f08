//! `numeric` in Postgres' binary format ⇄ Connect's Decimal.
//!
//! The binary form is base-10000 digits: `ndigits`, `weight` (the power of 10000 of the
//! first digit), `sign` (positive, negative, NaN, ±Infinity), `dscale` (decimal digits after
//! the point), then the digits. Values whose unscaled integer fits an `i128` take a fast path
//! without text; others go through decimal text.

use bytes::{BufMut, BytesMut};
use ferry_api::logical::Decimal;

use super::{Numeric, TypeError};

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;
const PINF: u16 = 0xD000;
const NINF: u16 = 0xF000;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// Decodes a binary `numeric`.
pub(crate) fn decode(raw: &[u8]) -> Result<Numeric, TypeError> {
    let bad = || TypeError::new("malformed binary numeric");
    if raw.len() < 8 {
        return Err(bad());
    }
    let ndigits = u16::from_be_bytes([raw[0], raw[1]]) as usize;
    let weight = i16::from_be_bytes([raw[2], raw[3]]) as i32;
    let sign = u16::from_be_bytes([raw[4], raw[5]]);
    let dscale = u16::from_be_bytes([raw[6], raw[7]]) as i32;
    if raw.len() != 8 + 2 * ndigits {
        return Err(bad());
    }
    match sign {
        NAN => return Ok(Numeric::NaN),
        PINF => return Ok(Numeric::Infinity),
        NINF => return Ok(Numeric::NegativeInfinity),
        POSITIVE | NEGATIVE => {}
        _ => return Err(bad()),
    }
    let digits = raw[8..]
        .chunks_exact(2)
        .map(|c| i16::from_be_bytes([c[0], c[1]]) as i128);
    if let Some(unscaled) = fast_unscaled(digits.clone(), weight, dscale) {
        let unscaled = if sign == NEGATIVE {
            -unscaled
        } else {
            unscaled
        };
        return Ok(Numeric::Value(Decimal::from_i128(unscaled, dscale)));
    }
    // Slow path: decimal text.
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for (i, d) in digits.enumerate() {
        let power = weight - i as i32;
        let group = format!("{d:04}");
        if power >= 0 {
            int_part.push_str(&group);
        } else {
            frac_part.push_str(&group);
        }
    }
    // Groups between the last digit and the point (weight beyond ndigits) are zeros.
    for _ in ndigits as i32..=weight {
        int_part.push_str("0000");
    }
    // Leading zero groups of the fraction when weight < -1.
    let zeros = (-(weight + 1)).max(0) as usize;
    frac_part.insert_str(0, &"0000".repeat(zeros));
    frac_part.truncate(dscale as usize);
    while frac_part.len() < dscale as usize {
        frac_part.push('0');
    }
    let sign = if sign == NEGATIVE { "-" } else { "" };
    let int_part = if int_part.is_empty() { "0" } else { &int_part };
    let text = if frac_part.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    };
    Decimal::parse(&text)
        .map(Numeric::Value)
        .map_err(|e| TypeError::new(e.to_string()))
}

fn fast_unscaled(digits: impl Iterator<Item = i128>, weight: i32, dscale: i32) -> Option<i128> {
    let mut acc: i128 = 0;
    for (i, d) in digits.enumerate() {
        let exp = 4 * (weight - i as i32) + dscale;
        let term = if exp >= 0 {
            d.checked_mul(pow10(exp as u32)?)?
        } else {
            // Digits beyond dscale are zeros in a stored numeric.
            d / pow10((-exp) as u32)?
        };
        acc = acc.checked_add(term)?;
    }
    Some(acc)
}

/// Encodes a Decimal as a binary `numeric`.
pub(crate) fn encode(value: &Decimal, out: &mut BytesMut) {
    match value.unscaled_i128() {
        Some(unscaled) if (0..=38).contains(&value.scale()) || value.scale() < 0 => {
            if let Some(done) = encode_i128(unscaled, value.scale(), out) {
                return done;
            }
            encode_text(&value.to_plain_string(), out)
        }
        _ => encode_text(&value.to_plain_string(), out),
    }
}

fn encode_i128(unscaled: i128, scale: i32, out: &mut BytesMut) -> Option<()> {
    let negative = unscaled < 0;
    let (mut magnitude, dscale) = if scale < 0 {
        (
            unscaled
                .unsigned_abs()
                .checked_mul(10u128.checked_pow((-scale) as u32)?)?,
            0u32,
        )
    } else {
        (unscaled.unsigned_abs(), scale as u32)
    };
    // Align the fraction to whole base-10000 groups.
    let frac_groups = dscale.div_ceil(4);
    let pad = frac_groups * 4 - dscale;
    magnitude = magnitude.checked_mul(10u128.pow(pad))?;
    let mut groups: Vec<i16> = Vec::with_capacity(10);
    while magnitude > 0 {
        groups.push((magnitude % 10_000) as i16);
        magnitude /= 10_000;
    }
    // groups[0] is the least significant; its power is -frac_groups.
    let mut low = 0;
    while low < groups.len() && groups[low] == 0 {
        low += 1;
    }
    let sign = if negative && low < groups.len() {
        NEGATIVE
    } else {
        POSITIVE
    };
    if low == groups.len() {
        out.put_u16(0);
        out.put_i16(0);
        out.put_u16(POSITIVE);
        out.put_u16(dscale as u16);
        return Some(());
    }
    let ndigits = groups.len() - low;
    let weight = groups.len() as i32 - 1 - frac_groups as i32;
    out.put_u16(ndigits as u16);
    out.put_i16(weight as i16);
    out.put_u16(sign);
    out.put_u16(dscale as u16);
    for g in groups[low..].iter().rev() {
        out.put_i16(*g);
    }
    Some(())
}

/// Encodes plain decimal text (`-123.4500`).
fn encode_text(text: &str, out: &mut BytesMut) {
    let (negative, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let int_part = int_part.trim_start_matches('0');
    let dscale = frac_part.len();
    let mut int_digits = String::new();
    let lead = (4 - int_part.len() % 4) % 4;
    int_digits.push_str(&"0".repeat(lead));
    int_digits.push_str(int_part);
    let mut frac_digits = frac_part.to_string();
    frac_digits.push_str(&"0".repeat((4 - frac_part.len() % 4) % 4));
    let group = |s: &str| s.parse::<i16>().unwrap_or(0);
    let mut groups: Vec<i16> = int_digits
        .as_bytes()
        .chunks(4)
        .map(|c| group(std::str::from_utf8(c).unwrap_or("0")))
        .collect();
    let int_groups = groups.len() as i32;
    groups.extend(
        frac_digits
            .as_bytes()
            .chunks(4)
            .map(|c| group(std::str::from_utf8(c).unwrap_or("0"))),
    );
    let mut weight = int_groups - 1;
    let mut start = 0;
    while start < groups.len() && groups[start] == 0 {
        start += 1;
        weight -= 1;
    }
    let mut end = groups.len();
    while end > start && groups[end - 1] == 0 {
        end -= 1;
    }
    let digits = &groups[start..end];
    out.put_u16(digits.len() as u16);
    out.put_i16(if digits.is_empty() { 0 } else { weight as i16 });
    out.put_u16(if negative && !digits.is_empty() {
        NEGATIVE
    } else {
        POSITIVE
    });
    out.put_u16(dscale as u16);
    for d in digits {
        out.put_i16(*d);
    }
}

/// The number of decimal digits before the point of a decimal (for `numeric(p,s)` checks).
pub(crate) fn integer_digits(value: &Decimal) -> usize {
    // Checked for every numeric value written: count digits without formatting the decimal.
    if let Some(unscaled) = value.unscaled_i128() {
        return match unscaled.unsigned_abs().checked_ilog10() {
            None => 0,
            Some(log) => {
                usize::try_from(i64::from(log) + 1 - i64::from(value.scale())).unwrap_or(0)
            }
        };
    }
    integer_digits_of_text(value)
}

fn integer_digits_of_text(value: &Decimal) -> usize {
    let text = value.to_plain_string();
    let body = text.trim_start_matches('-');
    let int_part = body.split_once('.').map_or(body, |(i, _)| i);
    int_part.trim_start_matches('0').len()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn round_trip(text: &str) -> String {
        let d = Decimal::parse(text).unwrap();
        let mut buf = BytesMut::new();
        encode(&d, &mut buf);
        let mut slow = BytesMut::new();
        encode_text(&d.to_plain_string(), &mut slow);
        assert_eq!(buf, slow, "fast and slow encodings of {text} differ");
        match decode(&buf).unwrap() {
            Numeric::Value(v) => v.to_plain_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn known_binary_forms() {
        // SELECT numeric_send(12345.678): ndigits 3, weight 1, sign 0, dscale 3, 1 2345 6780
        let mut buf = BytesMut::new();
        encode(&Decimal::parse("12345.678").unwrap(), &mut buf);
        assert_eq!(
            &buf[..],
            &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]
        );
        assert_eq!(round_trip("0"), "0");
        assert_eq!(round_trip("-0.0010"), "-0.0010");
        assert_eq!(round_trip("100000000"), "100000000");
        assert_eq!(
            round_trip("-123456789012345678901234567890123456789012.123456789"),
            "-123456789012345678901234567890123456789012.123456789"
        );
        assert_eq!(decode(&[0, 0, 0, 0, 0xC0, 0, 0, 0]).unwrap(), Numeric::NaN);
        assert_eq!(integer_digits(&Decimal::parse("-0012.50").unwrap()), 2);
    }

    proptest! {
        #[test]
        fn decimals_round_trip(unscaled in any::<i64>(), scale in 0i32..20) {
            let d = Decimal::from_i128(i128::from(unscaled), scale);
            prop_assert_eq!(round_trip(&d.to_plain_string()), d.to_plain_string());
        }

        #[test]
        fn integer_digits_agree_with_the_decimal_text(unscaled in any::<i128>(), scale in -40i32..60) {
            let d = Decimal::from_i128(unscaled, scale);
            prop_assert_eq!(integer_digits(&d), integer_digits_of_text(&d), "{}", d.to_plain_string());
        }
    }
}
