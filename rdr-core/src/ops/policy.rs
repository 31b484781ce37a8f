//! The retention policy of `forget`, as a pure function: snapshots (time
//! and tags) + policy + time zone → keep or remove, with reasons.
//!
//! The algorithm is restic's documented one, so the same snapshot set and
//! policy keep the same snapshots:
//!
//! * snapshots are taken newest first;
//! * `keep_last`, `hourly` … `yearly`: for each rule with count left, a
//!   snapshot whose time bucket (the snapshot itself for `last`; local
//!   year-month-day-hour, year-month-day, ISO year-week, year-month, year)
//!   differs from the last bucket that rule kept is kept and uses one count;
//!   when the oldest snapshot is reached and a rule still has count left,
//!   it is kept too (the longest history the counts allow);
//! * `within D`: snapshots strictly newer than the reference time minus
//!   `D` are kept. The reference is the newest snapshot of the group dated
//!   before now (`now` is a parameter): snapshots dated in the future, as a
//!   host whose clock runs ahead writes them, are never the reference, so
//!   one of them cannot make the policy forget the rest. Measuring from a
//!   snapshot rather than from now means a host whose backups stopped is not
//!   emptied by the policy. When every snapshot is in the future, all are
//!   within. Future-dated snapshots are themselves within (they are newer
//!   than any cutoff) and count as the newest for the count rules;
//! * `within_hourly D` …: the same bucket rule without counts, restricted to
//!   snapshots within `D` of the reference (no oldest-snapshot clause);
//! * `tags`: a snapshot carrying every tag of one of the tag sets is kept.
//!
//! Buckets use the wall-clock time of the snapshot in the given time zone
//! (the CLI passes the zone of the host running `forget`: `TZ`, else
//! `/etc/localtime`). Durations are subtracted as restic (Go's
//! `time.AddDate`) does: in the reference's UTC offset, years and months
//! first with an overflowing day normalised forward (March 31 minus one
//! month is March 3, or March 2 in a leap year), then days, then hours.

use std::fmt;

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, Zoned};

/// A count of snapshots to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeepCount {
    /// Keep none by this rule.
    #[default]
    None,
    /// Keep this many.
    N(u32),
    /// Keep every bucket.
    Unlimited,
}

impl KeepCount {
    /// Parses a number or `unlimited`.
    ///
    /// # Errors
    /// A message for anything else.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("unlimited") || s == "-1" {
            return Ok(Self::Unlimited);
        }
        match s.parse::<u32>() {
            Ok(0) => Ok(Self::None),
            Ok(n) => Ok(Self::N(n)),
            Err(_) => Err(format!("{s:?} is not a count (a number or \"unlimited\")")),
        }
    }

    fn is_set(self) -> bool {
        self != Self::None
    }
}

/// A calendar duration such as `1y6m`, `7d`, `36h` (restic's syntax:
/// `y` years, `m` months, `d` days, `h` hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeepDuration {
    /// Years.
    pub years: i32,
    /// Months.
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Hours.
    pub hours: i32,
}

impl KeepDuration {
    /// Parses `[Ny][Nm][Nd][Nh]` (at least one part, any order).
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut d = Self::default();
        let mut num = String::new();
        let bad = || format!("{s:?} is not a duration like 7d, 24h, 1y6m");
        for c in s.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let n: i32 = num.parse().map_err(|_| bad())?;
            if n > 100_000 {
                return Err(bad());
            }
            num.clear();
            match c {
                'y' => d.years += n,
                'm' => d.months += n,
                'd' => d.days += n,
                'h' => d.hours += n,
                _ => return Err(bad()),
            }
        }
        if !num.is_empty() || s.is_empty() {
            return Err(bad());
        }
        Ok(d)
    }

    /// Whether all parts are zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// `t` minus this duration as Go's `t.AddDate(-y, -m, -d)` followed by
    /// `Add(-h hours)` computes it, in `t`'s UTC offset; `None` when out of
    /// range (then nothing is older).
    fn before(&self, t: &Zoned) -> Option<Timestamp> {
        let dt = t.datetime();
        let months = i64::from(dt.year()) * 12 + i64::from(dt.month())
            - 1
            - i64::from(self.years) * 12
            - i64::from(self.months);
        let year = i16::try_from(months.div_euclid(12)).ok()?;
        let month = i8::try_from(months.rem_euclid(12) + 1).ok()?;
        let first = jiff::civil::Date::new(year, month, 1).ok()?;
        let shift = i64::from(dt.day()) - 1 - i64::from(self.days);
        let date = first.checked_add(Span::new().try_days(shift).ok()?).ok()?;
        let ts = t.offset().to_timestamp(date.to_datetime(dt.time())).ok()?;
        ts.checked_sub(Span::new().try_hours(self.hours).ok()?).ok()
    }
}

impl fmt::Display for KeepDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0h");
        }
        for (n, u) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n != 0 {
                write!(f, "{n}{u}")?;
            }
        }
        Ok(())
    }
}

/// Which snapshots `forget` keeps. The default keeps nothing by itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// The newest N.
    pub last: KeepCount,
    /// The newest of each of the last N hours.
    pub hourly: KeepCount,
    /// … days.
    pub daily: KeepCount,
    /// … ISO weeks.
    pub weekly: KeepCount,
    /// … months.
    pub monthly: KeepCount,
    /// … years.
    pub yearly: KeepCount,
    /// Everything within this duration of the reference (the newest
    /// snapshot not dated in the future).
    pub within: Option<KeepDuration>,
    /// The newest of each hour within this duration.
    pub within_hourly: Option<KeepDuration>,
    /// … of each day.
    pub within_daily: Option<KeepDuration>,
    /// … of each ISO week.
    pub within_weekly: Option<KeepDuration>,
    /// … of each month.
    pub within_monthly: Option<KeepDuration>,
    /// … of each year.
    pub within_yearly: Option<KeepDuration>,
    /// Snapshots carrying all tags of any of these sets.
    pub tags: Vec<Vec<String>>,
}

impl Policy {
    /// Whether no rule is set (such a policy is refused by `forget`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.counts().iter().any(|(c, _, _)| c.is_set())
            && self.within.is_none()
            && self.withins().iter().all(|(d, _, _)| d.is_none())
            && self.tags.is_empty()
    }

    fn counts(&self) -> [(KeepCount, Bucket, &'static str); 6] {
        [
            (self.last, Bucket::Each, "last snapshot"),
            (self.hourly, Bucket::Hour, "hourly snapshot"),
            (self.daily, Bucket::Day, "daily snapshot"),
            (self.weekly, Bucket::Week, "weekly snapshot"),
            (self.monthly, Bucket::Month, "monthly snapshot"),
            (self.yearly, Bucket::Year, "yearly snapshot"),
        ]
    }

    fn withins(&self) -> [(Option<KeepDuration>, Bucket, &'static str); 5] {
        [
            (self.within_hourly, Bucket::Hour, "hourly within"),
            (self.within_daily, Bucket::Day, "daily within"),
            (self.within_weekly, Bucket::Week, "weekly within"),
            (self.within_monthly, Bucket::Month, "monthly within"),
            (self.within_yearly, Bucket::Year, "yearly within"),
        ]
    }
}

/// What the policy needs of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyInput {
    /// Snapshot time, ns since the Unix epoch.
    pub time: i64,
    /// Its tags.
    pub tags: Vec<String>,
}

/// The verdict on one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Kept or removed.
    pub keep: bool,
    /// Why it is kept (empty when removed).
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Each,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Bucket {
    fn of(self, t: &Zoned, nr: usize) -> i64 {
        let (y, m, d, h) = (
            i64::from(t.year()),
            i64::from(t.month()),
            i64::from(t.day()),
            i64::from(t.hour()),
        );
        match self {
            Self::Each => i64::try_from(nr).unwrap_or(i64::MAX),
            Self::Hour => y * 1_000_000 + m * 10_000 + d * 100 + h,
            Self::Day => y * 10_000 + m * 100 + d,
            Self::Week => {
                let w = t.date().iso_week_date();
                i64::from(w.year()) * 100 + i64::from(w.week())
            }
            Self::Month => y * 100 + m,
            Self::Year => y,
        }
    }
}

fn zoned(ns: i64, tz: &TimeZone) -> Zoned {
    Timestamp::from_nanosecond(i128::from(ns))
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
}

fn has_tags(have: &[String], want: &[String]) -> bool {
    want.iter().all(|t| have.contains(t))
}

/// Applies `policy` to one group of snapshots at time `now` (ns since the
/// Unix epoch; snapshots dated at or after it are never the reference of the
/// `within` rules). The verdicts are in the order of `snaps`. Ties in time
/// keep their input order.
#[must_use]
pub fn apply(snaps: &[PolicyInput], policy: &Policy, tz: &TimeZone, now: i64) -> Vec<Verdict> {
    let mut order: Vec<usize> = (0..snaps.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(snaps[i].time));
    let mut out = vec![
        Verdict {
            keep: false,
            reasons: Vec::new()
        };
        snaps.len()
    ];
    if order.is_empty() {
        return out;
    }
    // restic's findLatestTimestamp: the newest snapshot strictly before now
    let reference = order
        .iter()
        .map(|&i| snaps[i].time)
        .find(|&t| t < now)
        .map(|t| zoned(t, tz));
    let cutoff = |d: &KeepDuration| reference.as_ref().and_then(|r| d.before(r));
    let is_within = |d: &KeepDuration, t: &Zoned| cutoff(d).is_none_or(|c| t.timestamp() > c);

    let mut counts: Vec<(i64, Option<i64>, Bucket, &str)> = policy
        .counts()
        .into_iter()
        .filter(|(c, _, _)| c.is_set())
        .map(|(c, b, r)| {
            let left = match c {
                KeepCount::N(n) => i64::from(n),
                KeepCount::Unlimited | KeepCount::None => -1,
            };
            (left, None, b, r)
        })
        .collect();
    let mut withins: Vec<(KeepDuration, Option<i64>, Bucket, &str)> = policy
        .withins()
        .into_iter()
        .filter_map(|(d, b, r)| d.map(|d| (d, None, b, r)))
        .collect();
    let last_nr = order.len() - 1;

    for (nr, &i) in order.iter().enumerate() {
        let s = &snaps[i];
        let t = zoned(s.time, tz);
        let mut reasons = Vec::new();
        for set in &policy.tags {
            if has_tags(&s.tags, set) {
                reasons.push(format!("tag {}", set.join(",")));
            }
        }
        if let Some(d) = policy.within.as_ref().filter(|d| is_within(d, &t)) {
            reasons.push(format!("within {d}"));
        }
        for (left, last, bucket, reason) in &mut counts {
            if *left == 0 {
                continue;
            }
            let val = bucket.of(&t, nr);
            if Some(val) != *last || nr == last_nr {
                *last = Some(val);
                if *left > 0 {
                    *left -= 1;
                }
                reasons.push((*reason).to_owned());
            }
        }
        for (d, last, bucket, reason) in &mut withins {
            if !is_within(d, &t) {
                continue;
            }
            let val = bucket.of(&t, nr);
            if Some(val) != *last {
                *last = Some(val);
                reasons.push(format!("{reason} {d}"));
            }
        }
        out[i] = Verdict {
            keep: !reasons.is_empty(),
            reasons,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;
    const NOW: i64 = i64::MAX;

    fn at(s: &str) -> i64 {
        let ts: Timestamp = s.parse().unwrap();
        i64::try_from(ts.as_nanosecond()).unwrap()
    }

    fn inputs(times: &[&str]) -> Vec<PolicyInput> {
        times
            .iter()
            .map(|t| PolicyInput {
                time: at(t),
                tags: Vec::new(),
            })
            .collect()
    }

    fn kept(snaps: &[PolicyInput], p: &Policy, tz: &TimeZone) -> Vec<usize> {
        apply(snaps, p, tz, NOW)
            .iter()
            .enumerate()
            .filter(|(_, v)| v.keep)
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn parses_counts_and_durations() {
        assert_eq!(KeepCount::parse("7"), Ok(KeepCount::N(7)));
        assert_eq!(KeepCount::parse("unlimited"), Ok(KeepCount::Unlimited));
        assert_eq!(KeepCount::parse("0"), Ok(KeepCount::None));
        assert!(KeepCount::parse("x").is_err());
        let d = KeepDuration::parse("1y2m3d4h").unwrap();
        assert_eq!((d.years, d.months, d.days, d.hours), (1, 2, 3, 4));
        assert_eq!(d.to_string(), "1y2m3d4h");
        assert_eq!(KeepDuration::parse("7d").unwrap().to_string(), "7d");
        for bad in ["", "7", "d", "7w", "1.5d", "-1d"] {
            assert!(KeepDuration::parse(bad).is_err(), "{bad}");
        }
    }

    /// Golden case: one snapshot every 6 hours for 60 days, UTC.
    #[test]
    fn golden_every_six_hours() {
        let start = at("2026-01-01T00:00:00Z");
        let snaps: Vec<PolicyInput> = (0..240)
            .map(|i| PolicyInput {
                time: start + i * 6 * H,
                tags: Vec::new(),
            })
            .collect();
        let tz = TimeZone::UTC;
        let p = Policy {
            last: KeepCount::N(3),
            daily: KeepCount::N(7),
            weekly: KeepCount::N(4),
            monthly: KeepCount::N(12),
            ..Policy::default()
        };
        let k = kept(&snaps, &p, &tz);
        // last 3: 239, 238, 237. daily 7: the 18:00 snapshot of each of the
        // last 7 days: 239, 235, … 215. weekly 4 (ISO weeks end on Sunday
        // 18:00): 2026-03-01 is a Sunday → 239 (week 9), then Sundays
        // 02-22 (index 211), 02-15 (183), 02-08 (155). monthly 12: 239
        // (March), 02-28 18:00 (235), 01-31 18:00 (123), and the oldest
        // snapshot (0) because counts are left.
        let expect = vec![
            0, 123, 155, 183, 211, 215, 219, 223, 227, 231, 235, 237, 238, 239,
        ];
        assert_eq!(k, expect);
        let v = apply(&snaps, &p, &tz, NOW);
        assert_eq!(
            v[239].reasons,
            [
                "last snapshot",
                "daily snapshot",
                "weekly snapshot",
                "monthly snapshot"
            ]
        );
        assert_eq!(v[0].reasons, ["monthly snapshot"]);
        assert!(v[1].reasons.is_empty() && !v[1].keep);
    }

    #[test]
    fn golden_within_and_tags() {
        let mut snaps = inputs(&[
            "2026-03-10T12:00:00Z",
            "2026-03-09T12:00:00Z",
            "2026-03-03T12:00:01Z",
            "2026-03-03T12:00:00Z",
            "2026-02-01T00:00:00Z",
            "2026-02-01T01:00:00Z",
        ]);
        snaps[4].tags = vec!["prod".into(), "db".into()];
        let tz = TimeZone::UTC;
        let p = Policy {
            within: Some(KeepDuration::parse("7d").unwrap()),
            tags: vec![vec!["prod".into(), "db".into()]],
            ..Policy::default()
        };
        // within 7d of the newest (03-10 12:00): strictly after 03-03 12:00
        let v = apply(&snaps, &p, &tz, NOW);
        let k: Vec<bool> = v.iter().map(|v| v.keep).collect();
        assert_eq!(k, [true, true, true, false, true, false]);
        assert_eq!(v[0].reasons, ["within 7d"]);
        assert_eq!(v[4].reasons, ["tag prod,db"]);

        let p = Policy {
            within_daily: Some(KeepDuration::parse("30d").unwrap()),
            ..Policy::default()
        };
        let v = apply(&snaps, &p, &tz, NOW);
        let k: Vec<bool> = v.iter().map(|v| v.keep).collect();
        // newest of each day within 30d: 03-10, 03-09, 03-03 (12:00:01);
        // February is outside.
        assert_eq!(k, [true, true, true, false, false, false]);
        assert_eq!(v[1].reasons, ["daily within 30d"]);
    }

    #[test]
    fn buckets_follow_the_time_zone() {
        // 23:30 UTC and 00:30 UTC the next day are two UTC days but one
        // day in New York (18:30 and 19:30 EST).
        let snaps = inputs(&[
            "2026-01-05T23:30:00Z",
            "2026-01-06T00:30:00Z",
            "2026-01-04T12:00:00Z",
        ]);
        let p = Policy {
            daily: KeepCount::N(2),
            ..Policy::default()
        };
        assert_eq!(kept(&snaps, &p, &TimeZone::UTC), [0, 1]);
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(kept(&snaps, &p, &ny), [1, 2]);
        assert_eq!(apply(&snaps, &p, &ny, NOW)[2].reasons, ["daily snapshot"]);
    }

    #[test]
    fn empty_policy_and_group() {
        assert!(Policy::default().is_empty());
        assert!(apply(&[], &Policy::default(), &TimeZone::UTC, NOW).is_empty());
        let p = Policy {
            tags: vec![vec!["x".into()]],
            ..Policy::default()
        };
        assert!(!p.is_empty());
        assert_eq!(
            kept(&inputs(&["2026-01-01T00:00:00Z"]), &p, &TimeZone::UTC),
            Vec::<usize>::new()
        );
    }

    /// One snapshot from a host whose clock runs years ahead must not make
    /// `within 30d` forget the rest (issue: data loss from one clock).
    #[test]
    fn a_future_dated_snapshot_is_not_the_reference() {
        let snaps = inputs(&[
            "2026-11-01T10:00:00Z",
            "2026-11-20T10:00:00Z",
            "2026-12-01T10:00:00Z",
            "2031-01-01T00:00:00Z",
        ]);
        let now = at("2026-12-03T00:00:00Z");
        let p = Policy {
            within: Some(KeepDuration::parse("5d").unwrap()),
            ..Policy::default()
        };
        let keep = |p: &Policy, now| -> Vec<bool> {
            apply(&snaps, p, &TimeZone::UTC, now)
                .iter()
                .map(|v| v.keep)
                .collect()
        };
        // reference 12-01 10:00 (the newest before now): 12-01 and the
        // future one are within 5d
        assert_eq!(keep(&p, now), [false, false, true, true]);
        // every snapshot in the future: all are within
        assert_eq!(keep(&p, at("2020-01-01T00:00:00Z")), [true; 4]);
        let p = Policy {
            within_daily: Some(KeepDuration::parse("30d").unwrap()),
            ..Policy::default()
        };
        assert_eq!(keep(&p, now), [false, true, true, true]);
    }

    /// Months are subtracted as Go's `AddDate` does: the day overflows
    /// forward, in the reference's UTC offset.
    #[test]
    fn durations_subtract_as_go_adddate_does() {
        let utc = TimeZone::UTC;
        let before = |s: &str, dur: &str, tz: &TimeZone| {
            let d = KeepDuration::parse(dur).unwrap();
            d.before(&zoned(at(s), tz)).unwrap().to_string()
        };
        // March 31 − 1 month = "February 31" = March 3 (2026 is no leap year)
        assert_eq!(
            before("2026-03-31T12:00:00Z", "1m", &utc),
            "2026-03-03T12:00:00Z"
        );
        // 2024-02-29 − 1 year = "2023-02-29" = 2023-03-01
        assert_eq!(
            before("2024-02-29T00:00:00Z", "1y", &utc),
            "2023-03-01T00:00:00Z"
        );
        // across the start of summer time in Berlin: one day back keeps the
        // reference's offset (+02:00), so it is exactly 24 h
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            before("2026-03-29T10:00:00Z", "1d", &berlin),
            "2026-03-28T10:00:00Z"
        );
        assert_eq!(
            before("2026-01-10T00:00:00Z", "2d5h", &utc),
            "2026-01-07T19:00:00Z"
        );
    }
}
