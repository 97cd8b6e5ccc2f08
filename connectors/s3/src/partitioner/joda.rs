//! Joda-Time `DateTimeFormat` patterns, as Confluent's `path.format` uses them
//! (`'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH`).
//!
//! Joda's letters differ from Java's `DateTimeFormatter` and from strftime: `Y` is the year
//! of era (not the week-based year, which is `x`), `e` the day-of-week number, `k` the
//! 1–24 clock hour. Quoted text is literal (`''` is a quote); other non-letters are literal.
//! Text fields (month and day names, AM/PM, era, zone abbreviations) are English.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    Field(char, usize),
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Vec<Token>);

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

impl Pattern {
    /// Parses a pattern; unknown letters are an error, as in Joda.
    pub(crate) fn parse(pattern: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\'' {
                // '' is a quote; 'text' is literal text, in which '' is a quote too.
                if chars.get(i + 1) == Some(&'\'') {
                    literal.push('\'');
                    i += 2;
                    continue;
                }
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(format!("unterminated quote in pattern \"{pattern}\"")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            literal.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            literal.push(ch);
                            i += 1;
                        }
                    }
                }
            } else if c.is_ascii_alphabetic() {
                if !"GCYxwey DMdaKhHkmsSzZE".contains(c) || c == ' ' {
                    return Err(format!("Illegal pattern component: {c} (in \"{pattern}\")"));
                }
                let mut n = 1;
                while chars.get(i + n) == Some(&c) {
                    n += 1;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                if c == 'z' && n >= 4 {
                    return Err(format!(
                        "long time zone names (zzzz) are not supported (in \"{pattern}\"); use z, Z, ZZ or ZZZ"
                    ));
                }
                tokens.push(Token::Field(c, n));
                i += n;
            } else {
                literal.push(c);
                i += 1;
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Pattern(tokens))
    }

    /// Whether the pattern writes any words (which depend on the locale).
    pub(crate) fn has_text(&self) -> bool {
        self.0.iter().any(|t| match t {
            Token::Field('M', n) => *n >= 3,
            Token::Field(c, _) => matches!(c, 'E' | 'a' | 'G' | 'z'),
            Token::Literal(_) => false,
        })
    }

    /// Formats an instant in `zone`.
    pub(crate) fn format(&self, utc_ms: i64, zone: &TimeZone) -> String {
        let Ok(ts) = Timestamp::from_millisecond(utc_ms) else {
            return String::new();
        };
        let z = ts.to_zoned_datetime(zone.clone());
        let mut out = String::new();
        for token in &self.0 {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Field(c, n) => write_field(&mut out, *c, *n, &z),
            }
        }
        out
    }
}

fn pad(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let digits = value.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

fn year(out: &mut String, year: i64, n: usize) {
    if n == 2 {
        pad(out, year.rem_euclid(100), 2);
    } else {
        pad(out, year, n);
    }
}

fn text(out: &mut String, full: &str, n: usize) {
    if n >= 4 {
        out.push_str(full);
    } else {
        out.push_str(&full[..3]);
    }
}

fn write_field(out: &mut String, c: char, n: usize, z: &jiff::ZonedDateTime) {
    let dt = z.datetime();
    let weekday_index = match dt.weekday() {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    };
    let hour = i64::from(dt.hour());
    match c {
        'G' => out.push_str(if dt.year() > 0 { "AD" } else { "BC" }),
        'C' => pad(out, i64::from(dt.year().abs()) / 100, n),
        'Y' => year(out, i64::from(dt.year().abs().max(1)), n),
        'y' => year(out, i64::from(dt.year()), n),
        'x' => year(out, i64::from(dt.date().iso_week_date().year()), n),
        'w' => pad(out, i64::from(dt.date().iso_week_date().week()), n),
        'e' => pad(out, weekday_index + 1, n),
        'E' => text(out, DAYS[weekday_index as usize], n),
        'D' => pad(out, i64::from(dt.day_of_year()), n),
        'M' if n >= 3 => text(out, MONTHS[(dt.month() - 1) as usize], n),
        'M' => pad(out, i64::from(dt.month()), n),
        'd' => pad(out, i64::from(dt.day()), n),
        'a' => out.push_str(if hour < 12 { "AM" } else { "PM" }),
        'K' => pad(out, hour % 12, n),
        'h' => pad(out, if hour % 12 == 0 { 12 } else { hour % 12 }, n),
        'H' => pad(out, hour, n),
        'k' => pad(out, if hour == 0 { 24 } else { hour }, n),
        'm' => pad(out, i64::from(dt.minute()), n),
        's' => pad(out, i64::from(dt.second()), n),
        'S' => {
            // The first n digits of the fraction of the second.
            let millis = format!("{:03}", dt.millisecond());
            let mut frac: String = millis.chars().take(n).collect();
            while frac.len() < n {
                frac.push('0');
            }
            out.push_str(&frac);
        }
        'z' => {
            let info = z.time_zone().to_offset_info(z.timestamp());
            out.push_str(info.abbreviation());
        }
        'Z' => {
            let seconds = z.offset().seconds();
            if n >= 3 {
                match z.time_zone().iana_name() {
                    Some(name) => out.push_str(name),
                    None => offset(out, seconds, true),
                }
            } else {
                offset(out, seconds, n == 2);
            }
        }
        _ => {}
    }
}

fn offset(out: &mut String, seconds: i32, colon: bool) {
    if seconds == 0 && !colon {
        out.push_str("+0000");
        return;
    }
    out.push(if seconds < 0 { '-' } else { '+' });
    let s = seconds.unsigned_abs();
    out.push_str(&format!("{:02}", s / 3600));
    if colon {
        out.push(':');
    }
    out.push_str(&format!("{:02}", (s % 3600) / 60));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(pattern: &str, ms: i64, zone: &str) -> String {
        let zone = super::super::time_zone(zone).unwrap();
        Pattern::parse(pattern).unwrap().format(ms, &zone)
    }

    // 2024-01-07T05:04:03.021Z, a Sunday; ISO week 1 of 2024.
    const T: i64 = 1_704_603_843_021;

    #[test]
    fn confluent_layouts() {
        assert_eq!(
            fmt("'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH", T, "UTC"),
            "year=2024/month=01/day=07/hour=05"
        );
        assert_eq!(fmt("YYYY/MM/dd/HH/mm", T, "UTC"), "2024/01/07/05/04");
        assert_eq!(fmt("'dt'=YYYY-MM-dd", T, "Asia/Tokyo"), "dt=2024-01-07");
    }

    #[test]
    fn every_field() {
        assert_eq!(fmt("yy y yyyy G C", T, "UTC"), "24 2024 2024 AD 20");
        assert_eq!(fmt("M MMM MMMM d D DDD", T, "UTC"), "1 Jan January 7 7 007");
        assert_eq!(fmt("E EEEE e x w", T, "UTC"), "Sun Sunday 7 2024 1");
        assert_eq!(
            fmt("H k K h a m s S SSS SSSS", T, "UTC"),
            "5 5 5 5 AM 4 3 0 021 0210"
        );
        assert_eq!(
            fmt("Z ZZ ZZZ z", T, "America/New_York"),
            "-0500 -05:00 America/New_York EST"
        );
        assert_eq!(fmt("HH", T - 5 * 3_600_000 - 4 * 60_000, "UTC"), "00");
        assert_eq!(
            fmt("kk hh a", T - 5 * 3_600_000 - 4 * 60_000, "UTC"),
            "24 12 AM"
        );
    }

    #[test]
    fn quotes_and_errors() {
        assert_eq!(fmt("'it''s' HH'h'", T, "UTC"), "it's 05h");
        assert_eq!(fmt("''HH''", T, "UTC"), "'05'");
        assert!(Pattern::parse("'open").is_err());
        assert!(Pattern::parse("YYYY-qq").unwrap_err().contains("q"));
        assert!(Pattern::parse("zzzz").is_err());
        assert!(Pattern::parse("MMM").unwrap().has_text());
        assert!(!Pattern::parse("'Month'=MM").unwrap().has_text());
    }
}
