//! Calendar arithmetic for Postgres dates and times: days since 1970-01-01 ⇄ civil dates
//! (proleptic Gregorian, as Postgres uses), and ISO-8601 text both ways.
//!
//! Postgres counts dates and timestamps from 2000-01-01; the wire values are shifted to the
//! Unix epoch here once, so every other module works in Unix days and microseconds.

/// Days from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Microseconds in a day.
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a civil date (year 0 is 1 BC).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_year(out: &mut String, year: i64) {
    use std::fmt::Write;
    if (0..=9999).contains(&year) {
        let _ = write!(out, "{year:04}");
    } else {
        let _ = write!(out, "{year:+05}");
    }
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (ISO-8601 extended years outside 0..9999).
pub(crate) fn format_date(days: i64) -> String {
    use std::fmt::Write;
    let (y, m, d) = civil_from_days(days);
    let mut out = String::with_capacity(10);
    push_year(&mut out, y);
    let _ = write!(out, "-{m:02}-{d:02}");
    out
}

/// `HH:MM:SS[.ffffff]` of microseconds since midnight; `digits` fractional digits (0, 3, 6
/// or 9, the last padding microseconds with zeros), trailing zeros kept.
pub(crate) fn format_time(micros: i64, digits: u32) -> String {
    use std::fmt::Write;
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let mut out = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    );
    match digits {
        0 => {}
        3 => {
            let _ = write!(out, ".{:03}", frac / 1000);
        }
        9 => {
            let _ = write!(out, ".{frac:06}000");
        }
        _ => {
            let _ = write!(out, ".{frac:06}");
        }
    }
    out
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` of microseconds since the epoch (no zone suffix).
pub(crate) fn format_timestamp(micros: i64, digits: u32) -> String {
    let days = micros.div_euclid(DAY_MICROS);
    let time = micros.rem_euclid(DAY_MICROS);
    format!("{}T{}", format_date(days), format_time(time, digits))
}

/// Microseconds since the epoch of ISO-8601 / Postgres text: `YYYY-MM-DD[ T]HH:MM:SS[.f]`
/// with an optional zone (`Z`, `+HH`, `+HH:MM`, `-HHMM`) and an optional ` BC`. Without a
/// zone the time is taken as UTC. `infinity` and `-infinity` give `i64::MAX` / `i64::MIN`.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    match text {
        "infinity" => return Some(i64::MAX),
        "-infinity" => return Some(i64::MIN),
        _ => {}
    }
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (text, false),
    };
    let split = body.find([' ', 'T'])?;
    let days = parse_date_parts(&body[..split], bc)?;
    let (micros, offset) = parse_time_with_zone(&body[split + 1..])?;
    Some(days * DAY_MICROS + micros - offset * 1_000_000)
}

/// Days since the epoch of `YYYY-MM-DD` (optionally ` BC`, or `±infinity`).
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    match text {
        "infinity" => return Some(i64::from(i32::MAX)),
        "-infinity" => return Some(i64::from(i32::MIN)),
        _ => {}
    }
    match text.strip_suffix(" BC") {
        Some(b) => parse_date_parts(b, true),
        None => parse_date_parts(text, false),
    }
}

fn parse_date_parts(text: &str, bc: bool) -> Option<i64> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let mut parts = rest.splitn(3, '-');
    let mut year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if negative {
        year = -year;
    }
    if bc {
        // Postgres writes 1 BC for astronomical year 0.
        year = 1 - year;
    }
    Some(days_from_civil(year, month, day))
}

/// Microseconds since midnight of `HH:MM[:SS[.f]]`.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, ':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let (s, frac) = match parts.next() {
        Some(sec) => match sec.split_once('.') {
            Some((s, f)) => (s.parse::<i64>().ok()?, parse_fraction(f)?),
            None => (sec.parse().ok()?, 0),
        },
        None => (0, 0),
    };
    if h > 24 || m > 59 || s > 60 {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1_000_000 + frac)
}

/// Microseconds of a fraction's digits (`5` → 500000), rounding beyond 6 digits down.
fn parse_fraction(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value = 0i64;
    for i in 0..6 {
        value = value * 10 + digits.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
    }
    Some(value)
}

/// A time of day with an optional zone; returns microseconds and the zone offset in seconds
/// east of UTC.
pub(crate) fn parse_time_with_zone(text: &str) -> Option<(i64, i64)> {
    if let Some(t) = text.strip_suffix('Z') {
        return Some((parse_time(t)?, 0));
    }
    let zone_at = text.rfind(['+', '-']);
    let Some(at) = zone_at else {
        return Some((parse_time(text)?, 0));
    };
    let time = parse_time(&text[..at])?;
    let sign = if text.as_bytes()[at] == b'-' { -1 } else { 1 };
    let zone = &text[at + 1..];
    let digits: String = zone.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, rest) = digits.split_at(digits.len().min(2));
    let (m, s) = rest.split_at(rest.len().min(2));
    let value = |p: &str| -> Option<i64> {
        if p.is_empty() {
            Some(0)
        } else {
            p.parse().ok()
        }
    };
    let offset = value(h)? * 3600 + value(m)? * 60 + value(s)?;
    Some((time, sign * offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for days in [-800_000i64, -719_468, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2000, 1, 1), i64::from(PG_EPOCH_DAYS));
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(-719_529), "-0001-12-31");
    }

    #[test]
    fn timestamps_parse_in_postgres_and_iso_forms() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2000-01-01 00:00:01.5+00"),
            Some(PG_EPOCH_MICROS + 1_500_000)
        );
        assert_eq!(
            parse_timestamp("2000-01-01T02:00:00+02:00"),
            Some(PG_EPOCH_MICROS)
        );
        assert_eq!(
            parse_timestamp("1999-12-31T19:00:00.000001-05"),
            Some(PG_EPOCH_MICROS + 1)
        );
        assert_eq!(
            parse_timestamp("2000-01-01T00:00:00Z"),
            Some(PG_EPOCH_MICROS)
        );
        assert_eq!(
            parse_timestamp("0001-01-01 00:00:00 BC"),
            Some(days_from_civil(0, 1, 1) * DAY_MICROS)
        );
        assert_eq!(parse_timestamp("infinity"), Some(i64::MAX));
        assert_eq!(parse_timestamp("2000-13-01 00:00:00"), None);
        assert_eq!(
            format_timestamp(PG_EPOCH_MICROS + 1, 6),
            "2000-01-01T00:00:00.000001"
        );
        assert_eq!(format_timestamp(-1, 3), "1969-12-31T23:59:59.999");
    }

    #[test]
    fn times_and_zones() {
        assert_eq!(parse_time("01:02:03.25"), Some(3_723_250_000));
        assert_eq!(parse_time("24:00:00"), Some(DAY_MICROS));
        assert_eq!(
            parse_time_with_zone("10:00:00+05:30"),
            Some((36_000_000_000, 19_800))
        );
        assert_eq!(format_time(3_723_250_000, 6), "01:02:03.250000");
        assert_eq!(format_time(3_723_250_000, 0), "01:02:03");
    }
}
