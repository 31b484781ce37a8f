//! The forget policy against a deliberately simple reference written here,
//! rule by rule, from restic's documentation rather than its loop:
//!
//! * a count rule keeps the newest snapshot of each of the N newest
//!   buckets, and the oldest snapshot when fewer than N buckets exist;
//! * a within-bucket rule keeps the newest snapshot of each bucket, without
//!   a count and without the oldest-snapshot clause, among the snapshots
//!   strictly newer than (reference − duration), where the reference is the
//!   newest snapshot dated before now (all are within when there is none);
//! * durations are subtracted as Go's `AddDate` does (restic): the day of a
//!   month that has no such day overflows into the next month;
//! * `within` keeps those snapshots; a tag rule keeps snapshots with all
//!   its tags.
//!
//! Buckets are computed here from a fixed UTC offset (so the reference
//! needs no time-zone database): civil fields by Howard Hinnant's
//! days-from-civil algorithm, ISO weeks by the Thursday rule.

use proptest::prelude::*;
use rdr_core::jiff::tz::{Offset, TimeZone};
use rdr_core::ops::policy::{KeepCount, KeepDuration, Policy, PolicyInput, apply};

const HOUR_NS: i64 = 3_600_000_000_000;

/// (year, month, day, hour) of Unix seconds `s` in UTC.
fn civil(s: i64) -> (i64, i64, i64, i64) {
    let days = s.div_euclid(86_400);
    let hour = s.rem_euclid(86_400) / 3600;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, hour)
}

/// ISO (year, week) of Unix seconds `s` in UTC: the week's Thursday decides.
fn iso_week(s: i64) -> (i64, i64) {
    let days = s.div_euclid(86_400);
    let weekday = (days + 3).rem_euclid(7); // 0 = Monday (1970-01-01 was a Thursday)
    let thursday = days - weekday + 3;
    let (y, _, _, _) = civil(thursday * 86_400);
    let jan1 = days_from_civil(y, 1, 1);
    (y, (thursday - jan1) / 7 + 1)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Clone, Copy, Debug)]
enum B {
    Each,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

fn bucket(b: B, local_s: i64, idx: usize) -> (i64, i64, i64, i64) {
    let (y, m, d, h) = civil(local_s);
    match b {
        B::Each => (idx as i64, 0, 0, 0),
        B::Hour => (y, m, d, h),
        B::Day => (y, m, d, 0),
        B::Week => {
            let (wy, w) = iso_week(local_s);
            (wy, w, 0, 0)
        }
        B::Month => (y, m, 0, 0),
        B::Year => (y, 0, 0, 0),
    }
}

/// Newest of each bucket among `cands` (indexes, newest first), limited to
/// `limit` buckets; plus, when `oldest` is set, the oldest of `cands` if the
/// limit was not used up.
fn bucket_rule(
    cands: &[usize],
    local: &[i64],
    b: B,
    limit: Option<usize>,
    oldest: bool,
    keep: &mut [bool],
) {
    let mut seen: Vec<(i64, i64, i64, i64)> = Vec::new();
    for (nr, &i) in cands.iter().enumerate() {
        let k = bucket(b, local[i], nr);
        if seen.last() != Some(&k) {
            if limit.is_some_and(|l| seen.len() >= l) {
                break;
            }
            seen.push(k);
            keep[i] = true;
        }
    }
    if let (Some(&o), true) = (cands.last(), oldest && limit.is_none_or(|l| seen.len() < l)) {
        keep[o] = true;
    }
}

/// `newest - d`, in seconds, for a fixed-offset zone; a day past the
/// target month's end counts on into the next month.
fn cutoff(newest_local: i64, d: &KeepDuration) -> i64 {
    let (y, m, day, _) = civil(newest_local);
    let secs_of_day = newest_local.rem_euclid(86_400);
    let months = y * 12 + (m - 1) - i64::from(d.years) * 12 - i64::from(d.months);
    let (ny, nm) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let days = days_from_civil(ny, nm, 1) + day - 1 - i64::from(d.days);
    days * 86_400 + secs_of_day - i64::from(d.hours) * 3600
}

fn reference(snaps: &[PolicyInput], p: &Policy, offset_s: i64, now: i64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..snaps.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(snaps[i].time));
    let local: Vec<i64> = snaps
        .iter()
        .map(|s| s.time.div_euclid(1_000_000_000) + offset_s)
        .collect();
    let exact: Vec<i64> = snaps
        .iter()
        .map(|s| s.time + offset_s * 1_000_000_000)
        .collect();
    let mut keep = vec![false; snaps.len()];
    let newest = order.iter().copied().find(|&i| snaps[i].time < now);
    let within_of = |d: &KeepDuration| -> Vec<usize> {
        let c = newest.map_or(i128::MIN, |n| {
            i128::from(cutoff(local[n], d)) * 1_000_000_000
                + i128::from(exact[n].rem_euclid(1_000_000_000))
        });
        order
            .iter()
            .copied()
            .filter(|&i| i128::from(exact[i]) > c)
            .collect()
    };
    for (count, b) in [
        (p.last, B::Each),
        (p.hourly, B::Hour),
        (p.daily, B::Day),
        (p.weekly, B::Week),
        (p.monthly, B::Month),
        (p.yearly, B::Year),
    ] {
        match count {
            KeepCount::None => {}
            KeepCount::N(n) => bucket_rule(&order, &local, b, Some(n as usize), true, &mut keep),
            KeepCount::Unlimited => bucket_rule(&order, &local, b, None, true, &mut keep),
        }
    }
    for (d, b) in [
        (p.within_hourly, B::Hour),
        (p.within_daily, B::Day),
        (p.within_weekly, B::Week),
        (p.within_monthly, B::Month),
        (p.within_yearly, B::Year),
    ] {
        if let Some(d) = d {
            bucket_rule(&within_of(&d), &local, b, None, false, &mut keep);
        }
    }
    if let Some(d) = &p.within {
        for i in within_of(d) {
            keep[i] = true;
        }
    }
    for set in &p.tags {
        for (i, s) in snaps.iter().enumerate() {
            if set.iter().all(|t| s.tags.contains(t)) {
                keep[i] = true;
            }
        }
    }
    keep
}

fn count() -> impl Strategy<Value = KeepCount> {
    prop_oneof![
        3 => Just(KeepCount::None),
        3 => (1u32..6).prop_map(KeepCount::N),
        1 => Just(KeepCount::Unlimited),
    ]
}

fn duration() -> impl Strategy<Value = Option<KeepDuration>> {
    prop_oneof![
        3 => Just(None),
        2 => (0i32..2, 0i32..3, 0i32..20, 0i32..48).prop_map(|(years, months, days, hours)| {
            let d = KeepDuration { years, months, days, hours };
            (!d.is_zero()).then_some(d)
        }),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        (count(), count(), count(), count(), count(), count()),
        (
            duration(),
            duration(),
            duration(),
            duration(),
            duration(),
            duration(),
        ),
        proptest::collection::vec(proptest::sample::subsequence(vec!["a", "b"], 1..=2), 0..2),
    )
        .prop_map(
            |((last, hourly, daily, weekly, monthly, yearly), (w, wh, wd, ww, wm, wy), tags)| {
                Policy {
                    last,
                    hourly,
                    daily,
                    weekly,
                    monthly,
                    yearly,
                    within: w,
                    within_hourly: wh,
                    within_daily: wd,
                    within_weekly: ww,
                    within_monthly: wm,
                    within_yearly: wy,
                    tags: tags
                        .into_iter()
                        .map(|s| s.into_iter().map(String::from).collect())
                        .collect(),
                }
            },
        )
}

fn snapshots() -> impl Strategy<Value = Vec<PolicyInput>> {
    // Either years of snapshots, or a dense cluster around a new year (where
    // ISO weeks and calendar years disagree); distinct times (ties have no
    // defined order in the reference).
    let new_year = 1_767_225_600i64 * 1_000_000_000; // 2026-01-01T00:00:00Z
    (
        prop_oneof![Just(60_000i64), Just(2_000), Just(300)],
        -400i64..200,
    )
        .prop_flat_map(move |(span_h, shift_h)| {
            let start = new_year + shift_h * HOUR_NS - span_h * HOUR_NS / 2;
            proptest::collection::btree_set(0i64..span_h * 4, 0..40).prop_flat_map(
                move |quarters| {
                    let n = quarters.len();
                    (
                        Just(quarters),
                        proptest::collection::vec(
                            proptest::sample::subsequence(vec!["a", "b", "c"], 0..=3),
                            n,
                        ),
                        proptest::collection::vec(0i64..900_000_000_000, n),
                    )
                        .prop_map(move |(q, tags, jitter)| {
                            q.into_iter()
                                .zip(tags)
                                .zip(jitter)
                                .map(|((q, tags), j)| PolicyInput {
                                    time: start + q * HOUR_NS / 4 + j / 1000,
                                    tags: tags.into_iter().map(String::from).collect(),
                                })
                                .collect()
                        })
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn policy_matches_the_reference(
        snaps in snapshots(),
        p in policy(),
        offset_h in -11i32..13,
        now_pick in 0usize..60,
    ) {
        let tz = TimeZone::fixed(Offset::from_hours(i8::try_from(offset_h).unwrap()).unwrap());
        // now: after every snapshot, or at one of them (those at and after
        // it are dated in the future)
        let now = snaps.get(now_pick).map_or(i64::MAX, |s| s.time);
        let got: Vec<bool> = apply(&snaps, &p, &tz, now).iter().map(|v| v.keep).collect();
        let want = reference(&snaps, &p, i64::from(offset_h) * 3600, now);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn verdicts_explain_every_kept_snapshot() {
    let snaps: Vec<PolicyInput> = (0..50)
        .map(|i| PolicyInput {
            time: 1_767_225_600_000_000_000 + i * 7 * HOUR_NS,
            tags: if i % 10 == 0 {
                vec!["prod".into()]
            } else {
                vec![]
            },
        })
        .collect();
    let p = Policy {
        daily: KeepCount::N(3),
        tags: vec![vec!["prod".into()]],
        ..Policy::default()
    };
    for v in apply(&snaps, &p, &TimeZone::UTC, i64::MAX) {
        assert_eq!(v.keep, !v.reasons.is_empty());
    }
}
