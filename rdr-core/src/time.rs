//! UTC timestamps without a date library: formatting and parsing of the
//! forms the CLI shows and accepts. Pure code.

const NS: i64 = 1_000_000_000;

/// `YYYY-MM-DD HH:MM:SS` (UTC) for seconds since the Unix epoch.
#[must_use]
pub fn format_unix(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for nanoseconds since the epoch.
#[must_use]
pub fn format_ns(t: i64) -> String {
    format_unix(t.div_euclid(NS))
}

/// RFC 3339 with nanoseconds, for JSON output.
#[must_use]
pub fn rfc3339_ns(t: i64) -> String {
    let s = format_unix(t.div_euclid(NS)).replace(' ', "T");
    format!("{s}.{:09}Z", t.rem_euclid(NS))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or `YYYY-MM-DDTHH:MM:SS[Z]`
/// (all UTC) into nanoseconds since the epoch.
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_utc(s: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse time {s:?}: use YYYY-MM-DD HH:MM:SS (UTC)");
    let t = s.trim().trim_end_matches('Z');
    let (date, clock) = match t.split_once([' ', 'T']) {
        Some((d, c)) => (d, c),
        None => (t, "00:00:00"),
    };
    let num = |p: &str| p.parse::<i64>().map_err(|_| bad());
    let dp: Vec<&str> = date.split('-').collect();
    let cp: Vec<&str> = clock.split(':').collect();
    if dp.len() != 3 || !(2..=3).contains(&cp.len()) {
        return Err(bad());
    }
    let (y, mo, d) = (num(dp[0])?, num(dp[1])?, num(dp[2])?);
    let (h, mi) = (num(cp[0])?, num(cp[1])?);
    let sec = cp.get(2).map_or(Ok(0), |p| num(p))?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    if h < 0 || mi < 0 || sec < 0 {
        return Err(bad());
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec;
    secs.checked_mul(NS).ok_or_else(bad)
}

/// Now, in nanoseconds since the epoch.
#[must_use]
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Parses a duration such as `90s`, `15m`, `24h`, `7d`, `2w`, `1h30m` or
/// `0s` (units s, m = minutes, h, d = 24 h, w = 7 d; every number needs a
/// unit, so `24` is neither 24 s nor 24 h by accident). Used for `--grace`,
/// `--rpo`, `--rto` and the other time limits.
///
/// # Errors
/// A message naming the input when it is not such a duration.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{s:?} is not a duration (examples: 90s, 15m, 24h, 7d, 1h30m)");
    let mut total: u64 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit: u64 = match &rest[..unit_len] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(std::time::Duration::from_secs(total))
}

/// A duration as the largest units that fit, e.g. `1d2h`, `15m`, `42s`.
#[must_use]
pub fn format_duration(d: std::time::Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
        if secs >= unit {
            out.push_str(&format!("{}{name}", secs / unit));
            secs %= unit;
            if out.len() >= 4 {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(d("90s"), Ok(90));
        assert_eq!(d("0s"), Ok(0));
        assert_eq!(d("15m"), Ok(900));
        assert_eq!(d("24h"), Ok(86_400));
        assert_eq!(d("1h30m"), Ok(5400));
        assert_eq!(d("2w1d"), Ok(15 * 86_400));
        for bad in ["", "m", "15x", "90", "-5m", "1.5h", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        let f = |s| format_duration(std::time::Duration::from_secs(s));
        assert_eq!(f(42), "42s");
        assert_eq!(f(900), "15m");
        assert_eq!(f(93_784), "1d2h");
        assert_eq!(f(3_725), "1h2m");
    }

    #[test]
    fn formats() {
        assert_eq!(format_unix(0), "1970-01-01 00:00:00");
        assert_eq!(format_unix(1_763_769_600), "2025-11-22 00:00:00");
        assert_eq!(rfc3339_ns(1_500_000_001), "1970-01-01T00:00:01.500000001Z");
    }

    #[test]
    fn parses() {
        assert_eq!(parse_utc("2025-11-22").unwrap(), 1_763_769_600 * NS);
        assert_eq!(
            parse_utc("2025-11-22 01:02:03").unwrap(),
            (1_763_769_600 + 3723) * NS
        );
        assert_eq!(
            parse_utc("2025-11-22T01:02:03Z").unwrap(),
            (1_763_769_600 + 3723) * NS
        );
        assert!(parse_utc("yesterday").is_err());
        assert!(parse_utc("2025-13-01").is_err());
    }

    proptest::proptest! {
        #[test]
        fn format_parse_inverse(t in -9_000_000_000i64..9_000_000_000) {
            proptest::prop_assert_eq!(parse_utc(&format_unix(t)).unwrap(), t * NS);
        }
    }
}
