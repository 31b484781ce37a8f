//! `status`: is every backup fresh, and did the last check and drill pass?
//! Per snapshot group, the newest snapshot's age against the recovery
//! point objective (RPO); the newest check and drill records; the
//! repository's size. Reads only snapshot files, records and pack sizes
//! (no index, no lock), so it is cheap enough to run every few minutes
//! for metrics ([`super::metrics`]).

use std::time::Duration;

use serde_json::{Value, json};

use crate::error::Result;
use crate::format::record::{Record, RecordKind};
use crate::id::SnapshotId;
use crate::ops::select::{GroupBy, GroupKey, SnapshotFilter};
use crate::repo::{RecordEntry, Repository};
use crate::time::{format_duration, now_ns, rfc3339_ns};

/// Settings of a status report.
#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// A group whose newest snapshot is older than this is stale.
    pub rpo: Option<Duration>,
    /// RPOs for particular groups; the first rule matching a group's
    /// newest snapshot applies, else `rpo`.
    pub rpo_rules: Vec<RpoRule>,
    /// A last passing check older than this is a problem.
    pub check_max_age: Option<Duration>,
    /// A last passing drill older than this is a problem.
    pub drill_max_age: Option<Duration>,
    /// Which fields make a group (default: host, paths and tags).
    pub group_by: GroupBy,
    /// Which snapshots count.
    pub filter: SnapshotFilter,
    /// "Now" in ns since the epoch (default: the clock).
    pub now: Option<i64>,
}

impl Default for StatusOptions {
    fn default() -> Self {
        Self {
            rpo: None,
            rpo_rules: Vec::new(),
            check_max_age: None,
            drill_max_age: None,
            group_by: GroupBy {
                host: true,
                paths: true,
                tags: true,
            },
            filter: SnapshotFilter::default(),
            now: None,
        }
    }
}

/// One snapshot group's freshness.
#[derive(Debug, Clone)]
pub struct GroupStatus {
    /// The group.
    pub key: GroupKey,
    /// Snapshots in it.
    pub snapshots: usize,
    /// Its newest snapshot.
    pub latest: SnapshotId,
    /// That snapshot's time (ns).
    pub latest_time: i64,
    /// That snapshot's logical size (bytes of all its files).
    pub latest_size: u64,
    /// Age of the newest snapshot.
    pub age: Duration,
    /// Older than the RPO.
    pub stale: bool,
    /// The RPO the group is held to.
    pub rpo: Option<Duration>,
    /// The newest snapshot was made by `repair snapshots`: data is lost
    /// from it (a problem until a new backup replaces it).
    pub degraded: bool,
    /// The newest drill of one of the group's snapshots, and the newest
    /// that passed: a drill of another group never counts for this one.
    pub drill: (Option<Record>, Option<Record>),
}

/// An RPO for the groups a selector matches, as `status --rpo` takes it:
/// `host=db1,paths=/appdb.sql:15m` (keys `host`, `paths`, `tags`; each
/// listed path and tag must be among the group's), or a bare duration
/// for every group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpoRule {
    /// The group's host.
    pub host: Option<String>,
    /// Paths the group's snapshots back up (all of these).
    pub paths: Vec<String>,
    /// Tags the group's snapshots carry (all of these).
    pub tags: Vec<String>,
    /// The RPO.
    pub rpo: Duration,
}

impl RpoRule {
    /// Parses `[SELECTOR:]DURATION`.
    ///
    /// # Errors
    /// A message naming the text when the selector or duration is bad.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let (selector, duration) = match s.rsplit_once(':') {
            Some((sel, d)) => (sel, d),
            None => ("", s),
        };
        let mut rule = Self {
            rpo: crate::time::parse_duration(duration.trim())
                .map_err(|e| format!("rpo {s:?}: {e}"))?,
            ..Self::default()
        };
        for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                format!("rpo {s:?}: {part:?} is not KEY=VALUE (host, paths, tags)")
            })?;
            match k.trim() {
                "host" => rule.host = Some(v.to_owned()),
                "path" | "paths" => rule.paths.push(v.trim_end_matches('/').to_owned()),
                "tag" | "tags" => rule.tags.push(v.to_owned()),
                other => {
                    return Err(format!(
                        "rpo {s:?}: unknown key {other:?} (host, paths, tags)"
                    ));
                }
            }
        }
        Ok(rule)
    }

    /// Whether the rule has no selector (it holds for every group).
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.host.is_none() && self.paths.is_empty() && self.tags.is_empty()
    }

    fn matches(&self, s: &crate::format::snapshot::Snapshot) -> bool {
        self.host.as_ref().is_none_or(|h| *h == s.hostname)
            && self
                .paths
                .iter()
                .all(|p| s.paths.iter().any(|sp| sp.trim_end_matches('/') == p))
            && self.tags.iter().all(|t| s.tags.contains(t))
    }
}

/// What `status` found.
#[derive(Debug, Clone)]
pub struct StatusReport {
    /// When the report was made (ns).
    pub now: i64,
    /// The RPO applied.
    pub rpo: Option<Duration>,
    /// Each group, in group order.
    pub groups: Vec<GroupStatus>,
    /// The newest check record, and the newest that passed.
    pub check: (Option<Record>, Option<Record>),
    /// The newest drill record, and the newest that passed.
    pub drill: (Option<Record>, Option<Record>),
    /// Bytes of all packs in storage.
    pub repository_size: u64,
    /// Snapshot and record files that do not decode (`check` names them).
    pub unreadable: Vec<String>,
    /// What makes the status fail: stale groups, a failed last check or
    /// drill, or ones older than their limit. Empty means healthy.
    pub problems: Vec<String>,
}

/// Builds the status report.
///
/// # Errors
/// Storage errors.
pub fn status(repo: &Repository, opts: &StatusOptions) -> Result<StatusReport> {
    let now = opts.now.unwrap_or_else(now_ns);
    let (snaps, bad_snaps) = repo.snapshots_readable()?;
    let (records, bad_records) = repo.records()?;
    let repository_size = repo.pack_sizes()?.values().sum();
    let snaps: Vec<_> = snaps
        .into_iter()
        .filter(|(_, s)| opts.filter.matches(s))
        .collect();
    let mut report = StatusReport {
        now,
        rpo: opts.rpo,
        groups: Vec::new(),
        check: last_of(&records, RecordKind::Check),
        drill: last_of(&records, RecordKind::Drill),
        repository_size,
        unreadable: bad_snaps
            .iter()
            .map(|(_, e)| e.to_string())
            .chain(bad_records.iter().map(|(_, e)| e.to_string()))
            .collect(),
        problems: Vec::new(),
    };
    for (key, members) in opts.group_by.group(snaps) {
        let Some((id, newest)) = members.iter().max_by_key(|(id, s)| (s.time, *id)) else {
            continue;
        };
        let age = age(now, newest.time);
        let rpo = opts
            .rpo_rules
            .iter()
            .find(|r| r.matches(newest))
            .map(|r| r.rpo)
            .or(opts.rpo);
        let stale = rpo.is_some_and(|rpo| age > rpo);
        if let (true, Some(rpo)) = (stale, rpo) {
            report.problems.push(format!(
                "{}: the newest snapshot ({}) is {} old, older than the RPO of {}",
                describe(&key),
                id.short(),
                format_duration(age),
                format_duration(rpo)
            ));
        }
        if newest.is_degraded() {
            report.problems.push(format!(
                "{}: the newest snapshot ({}) was repaired and is degraded: data was lost from it; take a new backup",
                describe(&key),
                id.short()
            ));
        }
        let ids: std::collections::HashSet<SnapshotId> = members.iter().map(|(i, _)| *i).collect();
        let drilled: Vec<RecordEntry> = records
            .iter()
            .filter(|(_, r)| r.drill.as_ref().is_some_and(|d| ids.contains(&d.snapshot)))
            .cloned()
            .collect();
        report.groups.push(GroupStatus {
            key,
            snapshots: members.len(),
            latest: *id,
            latest_time: newest.time,
            latest_size: newest.summary.bytes_total,
            age,
            stale,
            rpo,
            degraded: newest.is_degraded(),
            drill: last_of(&drilled, RecordKind::Drill),
        });
    }
    if report.groups.is_empty() && (opts.rpo.is_some() || !opts.rpo_rules.is_empty()) {
        report
            .problems
            .push("no snapshot matches: nothing is backed up within the RPO".into());
    }
    judge(&mut report, RecordKind::Check, opts.check_max_age);
    if report.groups.is_empty() {
        judge(&mut report, RecordKind::Drill, opts.drill_max_age);
    } else {
        judge_group_drills(&mut report, opts.drill_max_age);
    }
    Ok(report)
}

/// Drills judged group by group: a group's last drill failed, or none of
/// its snapshots passed one within `max_age`.
fn judge_group_drills(report: &mut StatusReport, max_age: Option<Duration>) {
    let mut problems = Vec::new();
    for g in &report.groups {
        let (last, passed) = &g.drill;
        if let Some(l) = last.as_ref().filter(|l| !l.ok) {
            let why = l.errors.first().map_or(String::new(), |e| format!(": {e}"));
            problems.push(format!(
                "{}: the last drill ({} on {}) failed{why}",
                describe(&g.key),
                rfc3339_ns(l.end),
                l.hostname
            ));
        }
        if let Some(max) = max_age {
            match passed {
                None => problems.push(format!(
                    "{}: no drill of this group has passed yet (limit {})",
                    describe(&g.key),
                    format_duration(max)
                )),
                Some(p) if age(report.now, p.end) > max => problems.push(format!(
                    "{}: the last passing drill is {} old, older than the limit of {}",
                    describe(&g.key),
                    format_duration(age(report.now, p.end)),
                    format_duration(max)
                )),
                Some(_) => {}
            }
        }
    }
    report.problems.extend(problems);
}

fn age(now: i64, then: i64) -> Duration {
    Duration::from_nanos(u64::try_from(now.saturating_sub(then)).unwrap_or(0))
}

/// The newest record of `kind`, and the newest that passed.
fn last_of(records: &[RecordEntry], kind: RecordKind) -> (Option<Record>, Option<Record>) {
    let mut newest_first = records
        .iter()
        .rev()
        .map(|(_, r)| r)
        .filter(|r| r.kind == kind);
    let last = newest_first.clone().next().cloned();
    (last, newest_first.find(|r| r.ok).cloned())
}

/// Adds problems for a failed last check or drill, or a last pass older
/// than `max_age`.
fn judge(report: &mut StatusReport, kind: RecordKind, max_age: Option<Duration>) {
    let (last, passed) = match kind {
        RecordKind::Check => &report.check,
        RecordKind::Drill => &report.drill,
    };
    let name = kind.name();
    let mut problems = Vec::new();
    if let Some(l) = last.as_ref().filter(|l| !l.ok) {
        let why = l.errors.first().map_or(String::new(), |e| format!(": {e}"));
        problems.push(format!(
            "the last {name} ({} on {}) failed{why}",
            rfc3339_ns(l.end),
            l.hostname
        ));
    }
    if let Some(max) = max_age {
        match passed {
            None => problems.push(format!(
                "no {name} has passed yet (limit {})",
                format_duration(max)
            )),
            Some(p) if age(report.now, p.end) > max => problems.push(format!(
                "the last passing {name} is {} old, older than the limit of {}",
                format_duration(age(report.now, p.end)),
                format_duration(max)
            )),
            Some(_) => {}
        }
    }
    report.problems.extend(problems);
}

/// A group for messages: `host h, paths [/a], tags [t]`.
#[must_use]
pub fn describe(key: &GroupKey) -> String {
    let s = key.to_string();
    if s.is_empty() {
        "all snapshots".into()
    } else {
        s
    }
}

impl StatusReport {
    /// No stale group, no failed or overdue check or drill.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// The report as JSON (documented in the README).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let rec = |r: &Option<Record>| {
            r.as_ref().map(|r| {
                json!({
                    "time": rfc3339_ns(r.end),
                    "age_seconds": age(self.now, r.end).as_secs(),
                    "passed": r.ok,
                    "host": r.hostname,
                    "seconds": (r.end - r.start) as f64 / 1e9,
                    "errors": r.errors,
                    "read_data": r.check.as_ref().map(|c| c.read_data.clone()),
                    "snapshot": r.drill.as_ref().map(|d| d.snapshot.to_hex()),
                    "total_seconds": r.drill.as_ref().map(|d| d.total),
                })
            })
        };
        json!({
            "healthy": self.healthy(),
            "time": rfc3339_ns(self.now),
            "rpo_seconds": self.rpo.map(|d| d.as_secs()),
            "repository_size_bytes": self.repository_size,
            "groups": self.groups.iter().map(|g| json!({
                "host": g.key.host, "paths": g.key.paths, "tags": g.key.tags,
                "snapshots": g.snapshots, "latest": g.latest.to_hex(),
                "latest_time": rfc3339_ns(g.latest_time),
                "latest_size_bytes": g.latest_size,
                "age_seconds": g.age.as_secs(), "stale": g.stale,
                "rpo_seconds": g.rpo.map(|d| d.as_secs()),
                "degraded": g.degraded,
                "last_drill": rec(&g.drill.0),
                "last_passing_drill": rec(&g.drill.1),
            })).collect::<Vec<_>>(),
            "last_check": rec(&self.check.0),
            "last_passing_check": rec(&self.check.1),
            "last_drill": rec(&self.drill.0),
            "last_passing_drill": rec(&self.drill.1),
            "unreadable": self.unreadable,
            "problems": self.problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::{CheckRecord, DrillRecord};
    use crate::ops::backup::{BackupOptions, BackupSource, backup};
    use crate::ops::progress::NoProgress;
    use crate::repo::{InitOptions, test_repo};

    const H: i64 = 3_600_000_000_000;

    fn snap(repo: &Repository, host: &str, time: i64) -> SnapshotId {
        let opts = BackupOptions {
            host: host.into(),
            time: Some(time),
            ..BackupOptions::default()
        };
        let src = BackupSource::Stream {
            reader: Box::new(&b"data"[..]),
            filename: "db.sql".into(),
        };
        backup(repo, src, &opts, &NoProgress).unwrap().id.unwrap()
    }

    fn record(repo: &Repository, kind: RecordKind, end: i64, ok: bool) {
        drill_of(repo, kind, end, ok, SnapshotId::default());
    }

    fn drill_of(repo: &Repository, kind: RecordKind, end: i64, ok: bool, snapshot: SnapshotId) {
        let errors = if ok {
            vec![]
        } else {
            vec!["pack 12: missing".to_owned()]
        };
        let mut r = Record::new(kind, end - H / 60, end, &errors);
        match kind {
            RecordKind::Check => r.check = Some(CheckRecord::default()),
            RecordKind::Drill => {
                r.drill = Some(DrillRecord {
                    snapshot,
                    ..DrillRecord::default()
                });
            }
        }
        repo.save_record(&r).unwrap();
    }

    #[test]
    fn stale_groups_and_failed_drills_are_problems() {
        let repo = test_repo(&InitOptions::default());
        let now = 1_000 * H;
        let db1 = snap(&repo, "db1", now - 2 * H);
        snap(&repo, "db2", now - 30 * H);
        snap(&repo, "db2", now - 50 * H);
        let opts = StatusOptions {
            rpo: Some(Duration::from_secs(24 * 3600)),
            now: Some(now),
            ..StatusOptions::default()
        };
        let r = status(&repo, &opts).unwrap();
        assert_eq!(r.groups.len(), 2);
        assert!(!r.groups[0].stale && r.groups[1].stale);
        assert_eq!(r.groups[1].snapshots, 2);
        assert_eq!(r.groups[1].age, Duration::from_secs(30 * 3600));
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("db2") && r.problems[0].contains("1d6h"));
        assert!(r.repository_size > 0);

        drill_of(&repo, RecordKind::Drill, now - 3 * H, true, db1);
        drill_of(&repo, RecordKind::Drill, now - H, false, db1);
        record(&repo, RecordKind::Check, now - H, true);
        let opts = StatusOptions {
            rpo: Some(Duration::from_secs(40 * 3600)),
            check_max_age: Some(Duration::from_secs(1800)),
            ..opts
        };
        let r = status(&repo, &opts).unwrap();
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(
            r.problems[0].contains("passing check is 1h old"),
            "{:?}",
            r.problems
        );
        assert!(r.problems[1].contains("last drill") && r.problems[1].contains("pack 12"));
        assert!(r.problems[1].contains("db1"), "{:?}", r.problems);
        assert_eq!(r.drill.1.as_ref().unwrap().end, now - 3 * H);
        let j = r.to_json();
        assert_eq!(j["healthy"], false);
        assert_eq!(j["last_drill"]["passed"], false);
        assert_eq!(j["last_passing_drill"]["age_seconds"], 3 * 3600);
    }

    #[test]
    fn drills_and_rpos_count_per_group() {
        let repo = test_repo(&InitOptions::default());
        let now = 1_000 * H;
        snap(&repo, "db1", now - 2 * H);
        let web = snap(&repo, "web", now - 2 * H);
        // drilling web's small snapshot does not drill db1
        drill_of(&repo, RecordKind::Drill, now - H, true, web);
        let opts = StatusOptions {
            drill_max_age: Some(Duration::from_secs(24 * 3600)),
            rpo_rules: vec![RpoRule::parse("host=db1:1h").unwrap()],
            rpo: Some(Duration::from_secs(24 * 3600)),
            now: Some(now),
            ..StatusOptions::default()
        };
        let r = status(&repo, &opts).unwrap();
        let db1 = &r.groups[0];
        assert_eq!(db1.key.host.as_deref(), Some("db1"));
        assert!(db1.drill.0.is_none() && db1.stale, "{db1:?}");
        assert_eq!(db1.rpo, Some(Duration::from_secs(3600)));
        assert!(r.groups[1].drill.1.is_some() && !r.groups[1].stale);
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("db1") && p.contains("no drill of this group"))
        );
        assert!(
            r.problems
                .iter()
                .any(|p| p.contains("db1") && p.contains("RPO of 1h"))
        );
        let j = r.to_json();
        assert_eq!(j["groups"][1]["last_drill"]["passed"], true);
        assert_eq!(j["groups"][0]["rpo_seconds"], 3600);
        // the rule syntax
        let rule = RpoRule::parse("host=db1,paths=/srv/a:b/,tags=pg:15m").unwrap();
        assert_eq!(rule.paths, ["/srv/a:b"]);
        assert_eq!((rule.tags.len(), rule.rpo), (1, Duration::from_secs(900)));
        assert!(RpoRule::parse("24h").unwrap().is_default());
        assert!(RpoRule::parse("disk=x:1h").is_err() && RpoRule::parse("host=a:soon").is_err());
    }

    #[test]
    fn an_empty_repository_is_stale_only_with_an_rpo() {
        let repo = test_repo(&InitOptions::default());
        let r = status(&repo, &StatusOptions::default()).unwrap();
        assert!(r.healthy());
        let opts = StatusOptions {
            rpo: Some(Duration::from_secs(60)),
            ..StatusOptions::default()
        };
        assert!(!status(&repo, &opts).unwrap().healthy());
    }
}
