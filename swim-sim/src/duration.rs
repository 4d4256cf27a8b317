//! Durations in scenario files: `"250ms"`, `"1.5s"`, `"2m"`, `"10us"`, `"0"`.
//!
//! humantime's format has no fractions (`"1.5s"` is an error there), and scenario files are
//! much easier to read with them, so the parser is a few lines here instead.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A [`Duration`] that reads and writes as a string with a unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    /// `secs` seconds.
    pub const fn secs(secs: u64) -> Dur {
        Dur(Duration::from_secs(secs))
    }

    /// `millis` milliseconds.
    pub const fn millis(millis: u64) -> Dur {
        Dur(Duration::from_millis(millis))
    }
}

impl From<Duration> for Dur {
    fn from(d: Duration) -> Self {
        Dur(d)
    }
}

impl From<Dur> for Duration {
    fn from(d: Dur) -> Self {
        d.0
    }
}

/// Parse `"<number><unit>"` with unit `ns`, `us`, `ms`, `s`, `m` or `h` (`"0"` needs none).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| c.is_ascii_alphabetic())
        .ok_or_else(|| format!("`{s}`: missing unit (ns, us, ms, s, m, h)"))?;
    let (num, unit) = s.split_at(split);
    let value: f64 = num.trim().parse().map_err(|_| format!("`{s}`: `{num}` is not a number"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{s}`: must be a finite, non-negative number"));
    }
    let scale = match unit.trim() {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        u => return Err(format!("`{s}`: unknown unit `{u}` (ns, us, ms, s, m, h)")),
    };
    let secs = value * scale;
    if secs > 1e9 {
        return Err(format!("`{s}`: too long"));
    }
    Ok(Duration::from_nanos((secs * 1e9).round() as u64))
}

/// A rendering for people, rounded to three significant decimals: `"2m28.899s"` is
/// `"148.899s"`, `"1.5s"`, `"250ms"`.
pub fn format_duration(d: Duration) -> String {
    let exact = format_exact(d);
    if exact.len() <= 8 {
        return exact;
    }
    let n = d.as_nanos() as f64;
    if n >= 1e9 {
        format!("{:.3}s", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.3}ms", n / 1e6)
    } else {
        format!("{:.3}us", n / 1e3)
    }
}

/// The shortest exact rendering in one unit: `"1.5s"`, `"250ms"`, `"0"`.
pub fn format_exact(d: Duration) -> String {
    let n = d.as_nanos();
    if n == 0 {
        return "0".into();
    }
    for (unit, size) in
        [("h", 3_600_000_000_000u128), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)]
    {
        if n >= size {
            if n.is_multiple_of(size) {
                return format!("{}{unit}", n / size);
            }
            if unit == "s" || unit == "ms" || unit == "us" {
                let v = n as f64 / size as f64;
                // Up to three decimals when exact in the next unit.
                if n.is_multiple_of(size / 1000) {
                    let mut s = format!("{v:.3}");
                    while s.ends_with('0') {
                        s.pop();
                    }
                    return format!("{s}{unit}");
                }
            }
        }
    }
    format!("{n}ns")
}

/// Seconds with millisecond precision, for tables: `"1.582s"`.
pub fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_exact(self.0))
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s).map(Dur)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_exact(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => parse_duration(&s).map(Dur).map_err(serde::de::Error::custom),
            Raw::Int(0) => Ok(Dur(Duration::ZERO)),
            Raw::Int(n) => Err(serde::de::Error::custom(format!("duration {n} needs a unit, e.g. \"{n}s\""))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_fractions() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1 parsec").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1.5s", "250ms", "2m", "10us", "0", "1h", "1.25ms", "7ns"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_exact(d), s);
            assert_eq!(parse_duration(&format_exact(d)).unwrap(), d);
            assert_eq!(format_duration(d), s, "short ones print exactly");
        }
    }
}
