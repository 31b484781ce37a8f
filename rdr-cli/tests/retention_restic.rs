//! `forget` against restic itself (Debian's restic): the same irregular
//! timelines backed up with both tools, every policy option alone and in
//! combination, and rdr must keep exactly the snapshots restic keeps.
//!
//! The timelines hold bursts, gaps of minutes to years, same-second
//! duplicates, tags, the hours around DST changes (in three zones, one with
//! a 30-minute shift) and snapshots dated in the future (a host whose clock
//! runs ahead). Each timeline lives in one zone, and `forget` runs there
//! (`TZ`); restic buckets by each snapshot's recorded UTC offset, rdr by the
//! zone of the host running `forget`, which agree when a group was written
//! in one zone (docs/usage.md says so). Snapshots are compared by time and
//! tags: duplicates share both, so which of two equal ones a tool keeps is
//! not observable.
//!
//! restic before 0.16 (Debian 12 has 0.14) lacks one rule that restic
//! 0.16 added (restic PR #4366) and rdr has: when a count rule still has
//! counts left at the oldest snapshot, that snapshot is kept. Against such a
//! restic, the one snapshot rdr may keep beyond restic's set is the group's
//! oldest; everything else must agree.
//!
//! restic is found on PATH or at `RDR_TEST_RESTIC`; `RDR_SKIP_RESTIC=1`
//! skips the test where it cannot be installed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;
use rdr_core::jiff::Timestamp;
use rdr_core::jiff::tz::TimeZone;

const RESTIC_PASSWORD: &str = "restic test password";

/// Zones and, for each, instants around its DST changes of 2026 (UTC).
const ZONES: [(&str, &str, &[&str]); 3] = [
    (
        "berlin",
        "Europe/Berlin",
        &[
            "2026-03-29T00:30:00Z",
            "2026-03-29T01:30:00Z",
            "2026-10-25T00:15:00Z",
            "2026-10-25T00:45:00Z",
            "2026-10-25T01:15:00Z",
        ],
    ),
    (
        "newyork",
        "America/New_York",
        &[
            "2026-03-08T06:59:59Z",
            "2026-03-08T07:00:00Z",
            "2026-11-01T05:30:00Z",
            "2026-11-01T06:30:00Z",
        ],
    ),
    (
        "lordhowe",
        "Australia/Lord_Howe",
        &[
            "2026-04-04T14:45:00Z",
            "2026-04-04T15:15:00Z",
            "2026-10-03T15:20:00Z",
            "2026-10-03T15:40:00Z",
        ],
    ),
];

/// Every option alone (some with two values), then combinations.
const POLICIES: &[&[&str]] = &[
    &["--keep-last", "1"],
    &["--keep-last", "5"],
    &["--keep-hourly", "3"],
    &["--keep-daily", "4"],
    &["--keep-weekly", "3"],
    &["--keep-monthly", "4"],
    &["--keep-yearly", "2"],
    &["--keep-within", "3d"],
    &["--keep-within", "1m"],
    &["--keep-within", "1y2m5d"],
    &["--keep-within", "36h"],
    &["--keep-within-hourly", "2d"],
    &["--keep-within-daily", "10d"],
    &["--keep-within-weekly", "2m"],
    &["--keep-within-monthly", "1y"],
    &["--keep-within-yearly", "5y"],
    &["--keep-tag", "a"],
    &["--keep-tag", "a,b"],
    &[
        "--keep-last",
        "2",
        "--keep-daily",
        "3",
        "--keep-weekly",
        "2",
        "--keep-monthly",
        "6",
        "--keep-yearly",
        "3",
    ],
    &[
        "--keep-within",
        "7d",
        "--keep-monthly",
        "3",
        "--keep-tag",
        "b",
    ],
    &[
        "--keep-within-daily",
        "7d",
        "--keep-within-weekly",
        "1m",
        "--keep-within-monthly",
        "1y",
    ],
    &[
        "--keep-hourly",
        "10",
        "--keep-within",
        "12h",
        "--keep-yearly",
        "1",
    ],
    &[
        "--keep-daily",
        "30",
        "--keep-weekly",
        "10",
        "--keep-tag",
        "a",
        "--keep-tag",
        "b",
    ],
];

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One timeline: (Unix seconds, tags), in no particular order.
fn timeline(seed: u64, dst: &[&str], now: i64) -> Vec<(i64, Vec<&'static str>)> {
    let mut rng = Rng(seed);
    let tags = |rng: &mut Rng| match rng.below(4) {
        0 => vec!["a"],
        1 => vec!["b"],
        2 => vec!["a", "b"],
        _ => vec![],
    };
    let mut out = Vec::new();
    // backwards from a recent snapshot: bursts, days, weeks, months, years
    let mut t = now - 3600 - i64::try_from(rng.below(3 * 86_400)).unwrap();
    for _ in 0..22 {
        let tg = tags(&mut rng);
        if rng.below(6) == 0 {
            out.push((t, tg.clone())); // a same-second duplicate
        }
        out.push((t, tg));
        let gap = match rng.below(10) {
            0..=2 => 60 + rng.below(3 * 3600),
            3..=5 => 3600 + rng.below(3 * 86_400),
            6 | 7 => 86_400 + rng.below(40 * 86_400),
            8 => 30 * 86_400 + rng.below(200 * 86_400),
            _ => 365 * 86_400 + rng.below(2 * 365 * 86_400),
        };
        t -= i64::try_from(gap).unwrap();
    }
    // untagged: restic resolves a wall time repeated by a DST change to one
    // instant, so two of these may become one same-second duplicate
    for s in dst {
        let ts: Timestamp = s.parse().unwrap();
        out.push((ts.as_second(), vec![]));
    }
    // a host whose clock runs ahead: hours and years into the future
    out.push((now + 3 * 3600, vec![]));
    out.push((now + 2 * 365 * 86_400, vec!["b"]));
    out
}

fn restic_bin() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RDR_TEST_RESTIC") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("restic"))
        .find(|p| p.is_file())
}

/// Whether this restic keeps the oldest snapshot when counts are left
/// (0.16 and later).
fn restic_keeps_oldest(version: &str) -> bool {
    let v = version.split_whitespace().nth(1).unwrap_or("0.0");
    let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (0, 16)
}

fn restic(bin: &Path, repo: &Path, tz: &str, args: &[&str]) -> String {
    let o = Command::new(bin)
        .env_clear()
        .env("RESTIC_PASSWORD", RESTIC_PASSWORD)
        .env("RESTIC_REPOSITORY", repo)
        .env("RESTIC_CACHE_DIR", repo.with_extension("cache"))
        .env("TZ", tz)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "restic {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Kept snapshots of a `forget --json` answer as sorted (UTC s, tags).
fn kept(groups: &serde_json::Value) -> Vec<(i64, Vec<String>)> {
    let mut out: Vec<(i64, Vec<String>)> = groups
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["keep"].as_array().cloned().unwrap_or_default())
        .map(|s| {
            let t: Timestamp = s["time"].as_str().unwrap().parse().unwrap();
            let mut tags: Vec<String> = s["tags"]
                .as_array()
                .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            tags.sort();
            (t.as_second(), tags)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn forget_keeps_exactly_what_restic_keeps() {
    if std::env::var_os("RDR_SKIP_RESTIC").is_some() {
        eprintln!("RDR_SKIP_RESTIC set: the differential test against restic is skipped");
        return;
    }
    let bin = restic_bin().expect(
        "restic not found: install Debian's restic (scripts/system-packages.sh does), \
         set RDR_TEST_RESTIC, or RDR_SKIP_RESTIC=1",
    );
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), b"retention").unwrap();
    let rrepo = env.path("restic-repo");
    restic(&bin, &rrepo, "UTC", &["init", "-q"]);
    let now = Timestamp::now().as_second();

    std::thread::scope(|scope| {
        for (seed, (host, zone, dst)) in ZONES.iter().enumerate() {
            let (env, src, rrepo, bin) = (&env, &src, &rrepo, &bin);
            scope.spawn(move || {
                let tz = TimeZone::get(zone).unwrap();
                let tl = timeline(0x9e37_79b9_7f4a_7c15 ^ (seed as u64 + 1), dst, now);
                for (t, tags) in &tl {
                    // restic takes local wall time in TZ, as a user types it
                    let local = Timestamp::from_second(*t).unwrap().to_zoned(tz.clone());
                    let time = local.strftime("%Y-%m-%d %H:%M:%S").to_string();
                    let mut a = vec!["backup", "-q", "--host", host, "--time", &time];
                    for tag in tags {
                        a.extend(["--tag", tag]);
                    }
                    a.push(src.to_str().unwrap());
                    restic(bin, rrepo, zone, &a);
                }
                // rdr gets the instants restic recorded (an ambiguous wall
                // time is restic's to resolve), in UTC
                let snaps: serde_json::Value = serde_json::from_str(&restic(
                    bin,
                    rrepo,
                    zone,
                    &["snapshots", "--json", "--host", host],
                ))
                .unwrap();
                assert_eq!(snaps.as_array().unwrap().len(), tl.len());
                for s in snaps.as_array().unwrap() {
                    let t: Timestamp = s["time"].as_str().unwrap().parse().unwrap();
                    let time = t.strftime("%Y-%m-%d %H:%M:%S").to_string();
                    let mut a = vec!["backup", "-q", "--host", host, "--time", &time];
                    let tags: Vec<&str> = s["tags"]
                        .as_array()
                        .map(|a| a.iter().map(|t| t.as_str().unwrap()).collect())
                        .unwrap_or_default();
                    for tag in &tags {
                        a.extend(["--tag", tag]);
                    }
                    a.push(src.to_str().unwrap());
                    env.ok(&a);
                }
            });
        }
    });

    let version = restic(&bin, &rrepo, "UTC", &["version"]);
    let keeps_oldest = restic_keeps_oldest(&version);
    let oldest: BTreeMap<&str, (i64, Vec<String>)> = ZONES
        .iter()
        .map(|(host, zone, _)| {
            let a = ["snapshots", "--json", "--host", host];
            let v: serde_json::Value =
                serde_json::from_str(&restic(&bin, &rrepo, zone, &a)).unwrap();
            let all = kept(&serde_json::json!([{ "keep": v }]));
            (*zone, all[0].clone())
        })
        .collect();
    let mut failures = Vec::new();
    let mut compared = BTreeMap::new();
    std::thread::scope(|scope| {
        let handles: Vec<_> = ZONES
            .iter()
            .map(|(host, zone, _)| {
                let (env, rrepo, bin) = (&env, &rrepo, &bin);
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for p in POLICIES {
                        let mut a = vec!["forget", "--dry-run", "--json", "--host", host];
                        let mut r = vec!["--no-lock"];
                        a.extend_from_slice(p);
                        // a dry run needs no lock (restic's exclusive one
                        // would refuse the other zones' threads)
                        r.extend_from_slice(&a);
                        let theirs: serde_json::Value =
                            serde_json::from_str(&restic(bin, rrepo, zone, &r)).unwrap();
                        a.push("--allow-empty");
                        let o = env.cmd(&a).env("TZ", zone).output().unwrap();
                        assert!(o.status.success(), "rdr {a:?}: {o:?}");
                        let ours: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                        out.push((p.join(" "), kept(&theirs), kept(&ours["groups"])));
                    }
                    (*zone, out)
                })
            })
            .collect();
        for h in handles {
            let (zone, results) = h.join().unwrap();
            for (policy, theirs, ours) in results {
                compared.insert((zone, policy.clone()), theirs.len());
                let mut expect = theirs.clone();
                if !keeps_oldest && ours.len() == theirs.len() + 1 {
                    // the oldest-snapshot rule of restic 0.16
                    expect.push(oldest[zone].clone());
                    expect.sort();
                }
                if expect != ours {
                    failures.push(format!(
                        "TZ={zone} forget {policy}\n  restic keeps {theirs:?}\n  rdr keeps    {ours:?}"
                    ));
                }
            }
        }
    });
    assert_eq!(compared.len(), ZONES.len() * POLICIES.len());
    // the cases discriminate: some policies keep few snapshots, some many
    assert!(compared.values().any(|&n| n <= 3) && compared.values().any(|&n| n >= 15));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A restic repository (made by restic) and a Borg one (its layout) are
/// named as such, not reported as a wrong password; exit 1, not 12.
#[test]
fn another_tools_repository_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let rdr = |repo: &Path| {
        Command::new(env!("CARGO_BIN_EXE_rdr"))
            .env_clear()
            .env("RDR_PASSWORD", "rdr password")
            .arg("-r")
            .arg(repo)
            .arg("snapshots")
            .output()
            .unwrap()
    };
    if std::env::var_os("RDR_SKIP_RESTIC").is_none() {
        let bin =
            restic_bin().expect("restic not found (see forget_keeps_exactly_what_restic_keeps)");
        let repo = dir.path().join("restic-repo");
        restic(&bin, &repo, "UTC", &["init"]);
        let o = rdr(&repo);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("is a restic repository"), "{err}");
        assert!(!err.contains("wrong password"), "{err}");
    }
    let borg = dir.path().join("borg-repo");
    std::fs::create_dir_all(borg.join("data/0")).unwrap();
    std::fs::write(
        borg.join("README"),
        "This is a Borg Backup repository.\nSee https://borgbackup.readthedocs.io/\n",
    )
    .unwrap();
    std::fs::write(
        borg.join("config"),
        "[repository]\nversion = 1\nsegments_per_dir = 1000\nmax_segment_size = 524288000\nappend_only = 0\nstorage_quota = 0\nadditional_free_space = 0\nid = 00\nkey = \n",
    )
    .unwrap();
    let o = rdr(&borg);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is a Borg repository"), "{err}");
}
