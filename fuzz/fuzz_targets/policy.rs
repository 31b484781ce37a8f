//! Retention: any policy applied to any timeline (times anywhere in the
//! representable range, duplicates, future dates, tags) in a zone with DST
//! gives one verdict per snapshot, never panics, keeps exactly the newest
//! `last` snapshots by the last rule, and gives a reason for every keep.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rdr_core::jiff::tz::TimeZone;
use rdr_core::ops::policy::{KeepCount, KeepDuration, Policy, PolicyInput, apply};

/// Parsing the zone costs more than a run of the policy: once.
static BERLIN: LazyLock<TimeZone> =
    LazyLock::new(|| TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC));

fn count(u: &mut Unstructured<'_>) -> Result<KeepCount> {
    Ok(match u.int_in_range(0u8..=3)? {
        0 | 1 => KeepCount::None,
        2 => KeepCount::N(u.int_in_range(1..=20)?),
        _ => KeepCount::Unlimited,
    })
}

fn duration(u: &mut Unstructured<'_>) -> Result<Option<KeepDuration>> {
    if u.arbitrary::<bool>()? {
        return Ok(None);
    }
    Ok(Some(KeepDuration {
        years: u.int_in_range(0..=3)?,
        months: u.int_in_range(0..=30)?,
        days: u.int_in_range(0..=400)?,
        hours: u.int_in_range(0..=100)?,
    }))
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let tags = ["a", "b", "c"];
    let policy = Policy {
        last: count(&mut u)?,
        hourly: count(&mut u)?,
        daily: count(&mut u)?,
        weekly: count(&mut u)?,
        monthly: count(&mut u)?,
        yearly: count(&mut u)?,
        within: duration(&mut u)?,
        within_hourly: duration(&mut u)?,
        within_daily: duration(&mut u)?,
        within_weekly: duration(&mut u)?,
        within_monthly: duration(&mut u)?,
        within_yearly: duration(&mut u)?,
        tags: if u.arbitrary::<bool>()? {
            vec![vec![tags[u.choose_index(3)?].to_string()]]
        } else {
            Vec::new()
        },
    };
    let now: i64 = u.arbitrary()?;
    let mut snaps = Vec::new();
    let mut t: i64 = u.arbitrary()?;
    while !u.is_empty() && snaps.len() < 64 {
        // mostly small steps (bursts, hours, days), sometimes anywhere
        let step: i64 = match u.int_in_range(0u8..=3)? {
            0 => 0,
            1 => i64::from(u.int_in_range(0u32..=86_400)?) * 1_000_000_000,
            2 => i64::from(u.int_in_range(0u32..=40_000_000)?) * 1_000_000_000,
            _ => u.arbitrary()?,
        };
        t = t.wrapping_sub(step);
        let mut st = Vec::new();
        for tag in tags {
            if u.arbitrary::<bool>()? {
                st.push(tag.to_string());
            }
        }
        snaps.push(PolicyInput { time: t, tags: st });
    }
    let verdicts = apply(&snaps, &policy, &BERLIN, now);
    assert_eq!(verdicts.len(), snaps.len());
    for v in &verdicts {
        assert_eq!(v.keep, !v.reasons.is_empty(), "{v:?}");
    }
    if let KeepCount::N(n) = policy.last {
        let kept = verdicts
            .iter()
            .filter(|v| v.reasons.iter().any(|r| r.starts_with("last")))
            .count();
        assert_eq!(kept, snaps.len().min(n as usize));
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
