//! Java's `Double.toString` and `Float.toString` text, which Jackson writes for JSON numbers
//! (and `Long.toString`, the integers').
//!
//! Java (JDK 19 and later) prints the shortest decimal that rounds back to the value, like
//! Rust's `{:e}`, with two differences handled here:
//! - the layout: plain (`100.5`, `0.001`, `1234567.0`) when `1e-3 <= |x| < 1e7`, otherwise
//!   computerized scientific notation (`1.0E7`, `1.0E-4`, `-1.5E10`); always at least one
//!   digit after the point;
//! - when the shortest decimal has a single digit, Java picks the *closest* decimal of one or
//!   two digits, so `f64::MIN_POSITIVE` subnormal `5e-324` prints as `4.9E-324`.
//!
//! Older JDKs (before 19, JDK-4511638) occasionally printed a longer, non-shortest digit
//! string; those outputs are not reproduced.

use std::fmt::{self, LowerExp, Write as _};
use std::str::FromStr;

/// A float type Java can print.
trait JavaFloat: Copy + LowerExp + FromStr + PartialEq {
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn is_zero(self) -> bool;
    fn abs(self) -> Self;
    /// `(m, q)` with `self == m × 2^q` for a finite, positive value.
    fn mantissa_exp(self) -> (u64, i32);
    /// The value as an integer, if it is one and below 10^7.
    fn small_integer(self) -> Option<i64>;
    /// Whether the value is subnormal (fewer significant bits than usual).
    fn is_subnormal(self) -> bool;
    /// Whether `self × 10^-k` is an integer, for `k < 0` (false otherwise).
    fn is_multiple_of_pow10(self, k: i32) -> bool {
        let (m, q) = self.mantissa_exp();
        k < 0 && m != 0 && m.trailing_zeros() as i32 + q - k >= 0
    }
}

macro_rules! java_float {
    ($t:ty, $bits:ty, $mant:expr, $bias:expr) => {
        impl JavaFloat for $t {
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn is_sign_negative(self) -> bool {
                <$t>::is_sign_negative(self)
            }
            fn is_zero(self) -> bool {
                self == 0.0
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn is_subnormal(self) -> bool {
                <$t>::is_subnormal(self)
            }
            fn small_integer(self) -> Option<i64> {
                (self < 1.0e7 && self.fract() == 0.0).then(|| self as i64)
            }
            fn mantissa_exp(self) -> (u64, i32) {
                let bits = self.to_bits();
                let frac = u64::from(bits & ((1 << $mant) - 1));
                let biased = ((bits >> $mant) & ((1 << (<$bits>::BITS - 1 - $mant)) - 1)) as i32;
                if biased == 0 {
                    (frac, 1 - $bias - $mant)
                } else {
                    (frac | (1 << $mant), biased - $bias - $mant)
                }
            }
        }
    };
}
java_float!(f32, u32, 23, 127);
java_float!(f64, u64, 52, 1023);

/// A small formatting buffer on the stack (float text never needs more than ~30 bytes).
struct StackBuf {
    buf: [u8; 48],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            buf: [0; 48],
            len: 0,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Decimal digits `d1 d2 ... dn` (no trailing zeros unless n == 1) and the exponent `e` of
/// `d1.d2...dn × 10^e`.
struct Digits {
    digits: [u8; 24],
    len: usize,
    exp: i32,
}

/// Splits Rust's `{:e}` text (`1.2345e-7`, `5e-324`) into digits and exponent.
fn split_exp_text(text: &[u8]) -> Option<Digits> {
    let e_at = text.iter().position(|&b| b == b'e')?;
    let exp = std::str::from_utf8(&text[e_at + 1..]).ok()?.parse().ok()?;
    let mut d = Digits {
        digits: [0; 24],
        len: 0,
        exp,
    };
    for &b in &text[..e_at] {
        if b.is_ascii_digit() {
            *d.digits.get_mut(d.len)? = b;
            d.len += 1;
        }
    }
    (d.len > 0).then_some(d)
}

/// `d` as Rust float text (`1.25e-3`), to parse it back.
fn digits_text(d: &Digits) -> StackBuf {
    let mut buf = StackBuf::new();
    let digits = &d.digits[..d.len];
    let _ = buf.write_str(std::str::from_utf8(&digits[..1]).unwrap_or("0"));
    if d.len > 1 {
        let _ = buf.write_str(".");
        let _ = buf.write_str(std::str::from_utf8(&digits[1..]).unwrap_or(""));
    }
    let _ = write!(buf, "e{}", d.exp);
    buf
}

/// `d` plus one unit in its last digit, without trailing zeros.
fn increment(mut d: Digits) -> Digits {
    let mut i = d.len;
    loop {
        if i == 0 {
            // 99..9 + 1 = 100..0
            d.digits[0] = b'1';
            d.len = 1;
            d.exp += 1;
            return d;
        }
        i -= 1;
        if d.digits[i] == b'9' {
            d.digits[i] = b'0';
        } else {
            d.digits[i] += 1;
            break;
        }
    }
    while d.len > 1 && d.digits[d.len - 1] == b'0' {
        d.len -= 1;
    }
    d
}

/// Java breaks a tie between two shortest decimals (the value exactly halfway between
/// them) towards the even last digit; Rust's shortest formatting rounds it up.
fn break_tie<F: JavaFloat>(x: F, d: Digits) -> Digits {
    let n = d.len;
    // Cheap necessary condition first: x must be a multiple of 10^(exp - n).
    if !x.is_multiple_of_pow10(d.exp - n as i32) {
        return d;
    }
    let mut buf = StackBuf::new();
    if write!(buf, "{x:.n$e}").is_err() {
        return d;
    }
    let Some(wide) = split_exp_text(buf.as_bytes()) else {
        return d;
    };
    if wide.len != n + 1 || wide.digits[n] != b'5' {
        return d;
    }
    // Exactly halfway only if x × 10^-k is an integer, k being the position of that 5
    // (impossible for k >= 0: x's lowest set bit would be too large for a tie).
    let k = wide.exp - n as i32;
    if k >= 0 || !x.is_multiple_of_pow10(k) {
        return d;
    }
    let lower = Digits {
        digits: wide.digits,
        len: n,
        exp: wide.exp,
    };
    let even = if (lower.digits[n - 1] - b'0').is_multiple_of(2) {
        lower
    } else {
        increment(lower)
    };
    match digits_text(&even).as_str().parse::<F>() {
        Ok(back) if back == x => even,
        _ => d,
    }
}

fn java_digits<F: JavaFloat>(x: F) -> Option<Digits> {
    let mut buf = StackBuf::new();
    write!(buf, "{x:e}").ok()?;
    let shortest = split_exp_text(buf.as_bytes())?;
    if shortest.len != 1 {
        return Some(break_tie(x, shortest));
    }
    // One digit: Java takes the closest decimal of length 1 or 2 that still rounds to x. A
    // second digit can only matter when x has very few significant bits (subnormals).
    if !x.is_subnormal() {
        return Some(shortest);
    }
    let mut two = StackBuf::new();
    write!(two, "{x:.1e}").ok()?;
    let candidate = split_exp_text(two.as_bytes())?;
    if candidate.len == 2 && candidate.digits[1] != b'0' && two.as_str().parse::<F>().ok()? == x {
        return Some(candidate);
    }
    Some(shortest)
}

fn write_java<F: JavaFloat>(out: &mut Vec<u8>, x: F) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if x.is_sign_negative() {
        out.push(b'-');
    }
    if x.is_infinite() {
        out.extend_from_slice(b"Infinity");
        return;
    }
    if x.is_zero() {
        out.extend_from_slice(b"0.0");
        return;
    }
    if let Some(int) = x.abs().small_integer() {
        // Fast path: an integer below 10^7 prints plainly (`100.0`).
        write_long(out, int);
        out.extend_from_slice(b".0");
        return;
    }
    let Some(d) = java_digits(x.abs()) else {
        // Unreachable for finite floats; keep the output valid rather than panic.
        out.extend_from_slice(b"0.0");
        return;
    };
    let digits = &d.digits[..d.len];
    if (-3..7).contains(&d.exp) {
        if d.exp >= 0 {
            let int_len = d.exp as usize + 1;
            if digits.len() > int_len {
                out.extend_from_slice(&digits[..int_len]);
                out.push(b'.');
                out.extend_from_slice(&digits[int_len..]);
            } else {
                out.extend_from_slice(digits);
                out.resize(out.len() + (int_len - digits.len()), b'0');
                out.extend_from_slice(b".0");
            }
        } else {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-d.exp - 1) as usize, b'0');
            out.extend_from_slice(digits);
        }
    } else {
        out.push(digits[0]);
        out.push(b'.');
        if digits.len() > 1 {
            out.extend_from_slice(&digits[1..]);
        } else {
            out.push(b'0');
        }
        out.push(b'E');
        write_long(out, i64::from(d.exp));
    }
}

/// Appends Java's `Double.toString(x)` (`NaN`, `Infinity` and `-Infinity` for non-finite
/// values, which JSON writers quote).
pub fn write_double(out: &mut Vec<u8>, x: f64) {
    write_java(out, x);
}

/// Appends Java's `Float.toString(x)`: the shortest digits of the `f32` itself (`0.1`, not
/// the `0.10000000149011612` of the same value as a double).
pub fn write_float(out: &mut Vec<u8>, x: f32) {
    write_java(out, x);
}

/// Appends Java's `Long.toString(v)` (the same text as Rust's `{v}`, without the
/// formatting machinery).
pub fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn java_double_to_string(x: f64) -> String {
        let mut out = Vec::new();
        write_double(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    fn java_float_to_string(x: f32) -> String {
        let mut out = Vec::new();
        write_float(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_like_java() {
        for (x, java) in [
            (1.0, "1.0"),
            (100.5, "100.5"),
            (1.0e7, "1.0E7"),
            (1.0e-4, "1.0E-4"),
            (0.001, "0.001"),
            (9999999.0, "9999999.0"),
            (1234567.125, "1234567.125"),
            (12.34, "12.34"),
            (0.1, "0.1"),
            (0.3, "0.3"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (1.0e21, "1.0E21"),
            (1.0e23, "1.0E23"),
            (123456789.0, "1.23456789E8"),
            (-1.5e10, "-1.5E10"),
            (f64::MAX, "1.7976931348623157E308"),
            (f64::MIN_POSITIVE, "2.2250738585072014E-308"),
            (5e-324, "4.9E-324"),
            (1.0e-3 * 0.5, "5.0E-4"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (2.0e-3, "0.002"),
            (4.35, "4.35"),
            (1.0e-5, "1.0E-5"),
        ] {
            assert_eq!(java_double_to_string(x), java, "{x:e}");
        }
    }

    #[test]
    fn floats_print_like_java() {
        for (x, java) in [
            (1.0f32, "1.0"),
            (12.34f32, "12.34"),
            (0.1f32, "0.1"),
            (1.0e10f32, "1.0E10"),
            (f32::MAX, "3.4028235E38"),
            (1e-45f32, "1.4E-45"),
            (3.4e-3f32, "0.0034"),
            (-0.0f32, "-0.0"),
            (f32::NAN, "NaN"),
            (16777216.0f32, "1.6777216E7"),
        ] {
            assert_eq!(java_float_to_string(x), java, "{x:e}");
        }
    }

    #[test]
    fn printed_doubles_parse_back() {
        let mut x = 1.0e-320f64;
        while x < 1.0e300 {
            for v in [x, -x, x * 1.2345678901, x / 3.0] {
                let text = java_double_to_string(v);
                assert_eq!(text.parse::<f64>().unwrap(), v, "{text}");
            }
            x *= 7.3;
        }
    }

    #[test]
    fn longs_print_like_java() {
        let mut out = Vec::new();
        for v in [0, 7, -7, 42, i64::MAX, i64::MIN] {
            out.clear();
            write_long(&mut out, v);
            assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
        }
    }

    /// Checks number text against the JDK's, lines of `kind\tbits-hex\ttext` (`d` for a
    /// double, `f` for a float; other kinds are skipped) as Jackson writes them: non-finite
    /// values quoted; returns the lines that differ.
    fn java_number_mismatches(text: &str) -> Vec<String> {
        let mut bad = Vec::new();
        let mut out = Vec::new();
        for line in text.lines() {
            let parts: Vec<&str> = line.split('\t').collect();
            out.clear();
            match parts[0] {
                "d" => write_double(
                    &mut out,
                    f64::from_bits(u64::from_str_radix(parts[1], 16).unwrap()),
                ),
                "f" => write_float(
                    &mut out,
                    f32::from_bits(u32::from_str_radix(parts[1], 16).unwrap()),
                ),
                _ => continue,
            }
            if out != parts[2].trim_matches('"').as_bytes() {
                bad.push(format!("{line} -> {}", String::from_utf8_lossy(&out)));
            }
        }
        bad
    }

    #[test]
    fn golden_java_number_text() {
        let sample = include_str!("testdata/jackson_numbers.tsv");
        assert!(sample.lines().count() > 4000);
        let bad = java_number_mismatches(sample);
        assert!(bad.is_empty(), "{bad:#?}");
        // The full output of testdata/JavaGolden.java, when given.
        if let Ok(path) = std::env::var("FERRY_JAVA_GOLDEN") {
            let bad = java_number_mismatches(&std::fs::read_to_string(path).unwrap());
            assert!(
                bad.is_empty(),
                "{} differ: {:#?}",
                bad.len(),
                &bad[..bad.len().min(20)]
            );
        }
    }
}
