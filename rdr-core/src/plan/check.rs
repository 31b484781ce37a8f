//! `plan check`: what the repositories hold, against what the plan
//! promises. Every repository is opened once, all at the same time; one
//! that cannot be reached is a failing copy, and the check goes on.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::{Plan, RepositorySpec, Service};
use crate::format::record::{Record, RecordKind};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::{RecordEntry, Repository};
use crate::time::format_duration;

/// A check or drill record, briefly.
#[derive(Debug, Clone, Serialize)]
pub struct RecordSummary {
    /// When it ended (ns since the epoch).
    pub time: i64,
    /// Seconds since then.
    pub age_secs: u64,
    /// Whether it passed.
    pub ok: bool,
    /// The host that ran it.
    pub host: String,
    /// Its first error.
    pub first_error: Option<String>,
}

/// The last drill of a service.
#[derive(Debug, Clone, Serialize)]
pub struct DrillSummary {
    /// The copy it restored from.
    pub repository: String,
    /// The snapshot restored.
    pub snapshot: SnapshotId,
    /// The record.
    pub record: RecordSummary,
    /// The recovery time achieved (s).
    pub achieved_secs: f64,
    /// Whether that is within the service's RTO.
    pub within_rto: bool,
}

/// One copy of one service.
#[derive(Debug, Clone, Serialize)]
pub struct CopyStatus {
    /// The repository's name in the plan.
    pub repository: String,
    /// Its site.
    pub site: String,
    /// Whether it could be opened.
    pub reachable: bool,
    /// The service's snapshots there.
    pub snapshots: usize,
    /// The newest of them.
    pub newest: Option<SnapshotId>,
    /// Its time (ns).
    pub newest_time: Option<i64>,
    /// Its age (s).
    pub age_secs: Option<u64>,
    /// Reachable, with a snapshot no older than the RPO.
    pub fresh: bool,
    /// Declared immutable and append-only in fact.
    pub immutable: bool,
    /// The last drill from this copy.
    pub last_drill: Option<DrillSummary>,
}

/// The 3-2-1 rule, counted over the fresh copies.
#[derive(Debug, Clone, Serialize)]
pub struct Rule321 {
    /// Fresh copies (at least 2).
    pub copies: usize,
    /// Distinct sites among them (at least 2).
    pub sites: usize,
    /// Those off the production site (at least 1).
    pub off_site: usize,
    /// Immutable ones (at least 1).
    pub immutable: usize,
    /// All four hold.
    pub ok: bool,
}

/// One service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// Its tier.
    pub tier: u8,
    /// RPO (s).
    pub rpo_secs: u64,
    /// RTO (s).
    pub rto_secs: u64,
    /// Its copies, in plan order.
    pub copies: Vec<CopyStatus>,
    /// The newest drill from any copy.
    pub last_drill: Option<DrillSummary>,
    /// 3-2-1.
    pub rule_321: Rule321,
    /// What is out of policy.
    pub problems: Vec<String>,
}

/// One repository.
#[derive(Debug, Clone, Serialize)]
pub struct RepositoryStatus {
    /// Its name in the plan.
    pub name: String,
    /// Where it is.
    pub location: String,
    /// Its site.
    pub site: String,
    /// Declared immutable in the plan.
    pub immutable_declared: bool,
    /// Created append-only (`None`: not reachable).
    pub append_only: Option<bool>,
    /// Whether it could be opened.
    pub reachable: bool,
    /// Why not.
    pub error: Option<String>,
    /// Its last check.
    pub last_check: Option<RecordSummary>,
    /// What is out of policy.
    pub problems: Vec<String>,
}

/// Everything `plan check` found.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// When (ns).
    pub now: i64,
    /// The production site.
    pub production_site: String,
    /// Every repository.
    pub repositories: Vec<RepositoryStatus>,
    /// Every service, in tier order.
    pub services: Vec<ServiceStatus>,
    /// Every problem, repositories' then services'.
    pub problems: Vec<String>,
    /// Nothing is out of policy.
    pub ok: bool,
}

/// What one repository holds, read once.
pub(super) struct Holdings {
    pub(super) snapshots: Vec<(SnapshotId, Snapshot)>,
    pub(super) records: Vec<RecordEntry>,
    pub(super) append_only: bool,
}

/// Opens every repository of the plan at once and reads its snapshots and
/// records; an error per repository that could not be.
pub(super) fn gather(
    plan: &Plan,
    cache: Option<&Path>,
) -> Vec<Result<(Repository, Holdings), String>> {
    std::thread::scope(|s| {
        let jobs: Vec<_> = plan
            .repositories
            .iter()
            .map(|spec| s.spawn(move || holdings(spec, cache)))
            .collect();
        jobs.into_iter()
            .map(|j| j.join().unwrap_or_else(|_| Err("panicked".into())))
            .collect()
    })
}

fn holdings(spec: &RepositorySpec, cache: Option<&Path>) -> Result<(Repository, Holdings), String> {
    let read = || -> crate::Result<(Repository, Holdings)> {
        let repo = super::open_repository(spec, cache)?;
        let (snapshots, _) = repo.snapshots_readable()?;
        let (records, _) = repo.records()?;
        let append_only = repo.append_only();
        let h = Holdings {
            snapshots,
            records,
            append_only,
        };
        Ok((repo, h))
    };
    read().map_err(|e| e.to_string())
}

fn secs(d: i64) -> u64 {
    u64::try_from(d.max(0)).unwrap_or(0) / 1_000_000_000
}

fn summary(r: &Record, now: i64) -> RecordSummary {
    RecordSummary {
        time: r.end,
        age_secs: secs(now - r.end),
        ok: r.ok,
        host: r.hostname.clone(),
        first_error: r.errors.first().cloned(),
    }
}

fn newest(records: &[RecordEntry], kind: RecordKind) -> Option<&Record> {
    records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind == kind)
        .max_by_key(|r| r.end)
}

/// Compares the plan with the repositories (see the module docs).
#[must_use]
pub fn check(plan: &Plan, cache: Option<&Path>, now: i64) -> PlanReport {
    let held = gather(plan, cache);
    report(plan, &held, now)
}

pub(super) fn report(
    plan: &Plan,
    held: &[Result<(Repository, Holdings), String>],
    now: i64,
) -> PlanReport {
    let mut out = PlanReport {
        now,
        production_site: plan.production_site.clone(),
        repositories: Vec::new(),
        services: Vec::new(),
        problems: Vec::new(),
        ok: false,
    };
    for (spec, h) in plan.repositories.iter().zip(held) {
        let r = repository_status(plan, spec, h.as_ref().map(|(_, h)| h), now);
        out.problems.extend(
            r.problems
                .iter()
                .map(|p| format!("repository {}: {p}", r.name)),
        );
        out.repositories.push(r);
    }
    for service in &plan.services {
        let s = service_status(plan, service, held, now);
        out.problems.extend(
            s.problems
                .iter()
                .map(|p| format!("service {}: {p}", s.name)),
        );
        out.services.push(s);
    }
    out.ok = out.problems.is_empty();
    out
}

fn repository_status(
    plan: &Plan,
    spec: &RepositorySpec,
    h: Result<&Holdings, &String>,
    now: i64,
) -> RepositoryStatus {
    let mut r = RepositoryStatus {
        name: spec.name.clone(),
        location: spec.location.clone(),
        site: spec.site.clone(),
        immutable_declared: spec.immutable,
        append_only: None,
        reachable: h.is_ok(),
        error: h.err().cloned(),
        last_check: None,
        problems: Vec::new(),
    };
    let h = match h {
        Ok(h) => h,
        Err(e) => {
            r.problems.push(format!("unreachable: {e}"));
            return r;
        }
    };
    r.append_only = Some(h.append_only);
    if spec.immutable && !h.append_only {
        r.problems.push(
            "declared immutable, but it was not created append-only (`rdr init --append-only`)"
                .into(),
        );
    }
    let last = newest(&h.records, RecordKind::Check);
    r.last_check = last.map(|l| summary(l, now));
    if let Some(l) = last.filter(|l| !l.ok) {
        let why = l.errors.first().map_or(String::new(), |e| format!(": {e}"));
        r.problems.push(format!("the last check failed{why}"));
    }
    if let Some(max) = plan.check_max_age {
        let passed = h
            .records
            .iter()
            .map(|(_, r)| r)
            .filter(|r| r.kind == RecordKind::Check && r.ok)
            .max_by_key(|r| r.end);
        match passed {
            None => r.problems.push("no check has passed yet".into()),
            Some(p) if secs(now - p.end) > max.as_secs() => r.problems.push(format!(
                "the last passing check is {} old, older than check_max_age {}",
                format_duration(Duration::from_secs(secs(now - p.end))),
                format_duration(max)
            )),
            Some(_) => {}
        }
    }
    r
}

fn service_status(
    plan: &Plan,
    service: &Service,
    held: &[Result<(Repository, Holdings), String>],
    now: i64,
) -> ServiceStatus {
    let mut s = ServiceStatus {
        name: service.name.clone(),
        tier: service.tier,
        rpo_secs: service.rpo.as_secs(),
        rto_secs: service.rto.as_secs(),
        copies: Vec::new(),
        last_drill: None,
        rule_321: Rule321 {
            copies: 0,
            sites: 0,
            off_site: 0,
            immutable: 0,
            ok: false,
        },
        problems: Vec::new(),
    };
    for name in &service.copies {
        let Some(i) = plan.repositories.iter().position(|r| &r.name == name) else {
            continue;
        };
        let c = copy_status(
            &plan.repositories[i],
            service,
            held[i].as_ref(),
            now,
            &mut s.problems,
        );
        s.copies.push(c);
    }
    s.last_drill = s
        .copies
        .iter()
        .filter_map(|c| c.last_drill.clone())
        .max_by_key(|d| d.record.time);
    judge_drill(plan, service, &mut s);
    let fresh: Vec<&CopyStatus> = s.copies.iter().filter(|c| c.fresh).collect();
    let sites: BTreeSet<&str> = fresh.iter().map(|c| c.site.as_str()).collect();
    let r = &mut s.rule_321;
    r.copies = fresh.len();
    r.sites = sites.len();
    r.off_site = fresh
        .iter()
        .filter(|c| c.site != plan.production_site)
        .count();
    r.immutable = fresh.iter().filter(|c| c.immutable).count();
    r.ok = r.copies >= 2 && r.sites >= 2 && r.off_site >= 1 && r.immutable >= 1;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let rule = [
        (
            r.copies < 2,
            format!(
                "3-2-1: {}, at least 2 needed",
                plural(r.copies, "fresh copy", "fresh copies")
            ),
        ),
        (
            r.sites < 2,
            format!(
                "3-2-1: fresh copies on {}, at least 2 needed",
                plural(r.sites, "site", "sites")
            ),
        ),
        (
            r.off_site < 1,
            format!(
                "3-2-1: no fresh copy off the production site {}",
                plan.production_site
            ),
        ),
        (r.immutable < 1, "3-2-1: no fresh immutable copy".to_owned()),
    ];
    s.problems
        .extend(rule.into_iter().filter(|(bad, _)| *bad).map(|(_, m)| m));
    s
}

fn copy_status(
    spec: &RepositorySpec,
    service: &Service,
    h: Result<&(Repository, Holdings), &String>,
    now: i64,
    problems: &mut Vec<String>,
) -> CopyStatus {
    let mut c = CopyStatus {
        repository: spec.name.clone(),
        site: spec.site.clone(),
        reachable: h.is_ok(),
        snapshots: 0,
        newest: None,
        newest_time: None,
        age_secs: None,
        fresh: false,
        immutable: false,
        last_drill: None,
    };
    let Ok((_, h)) = h else {
        problems.push(format!("copy {}: unreachable", spec.name));
        return c;
    };
    c.immutable = spec.immutable && h.append_only;
    let filter = service.filter();
    let mine: Vec<&(SnapshotId, Snapshot)> = h
        .snapshots
        .iter()
        .filter(|(_, s)| filter.matches(s))
        .collect();
    c.snapshots = mine.len();
    let Some((id, snap)) = mine.iter().max_by_key(|(id, s)| (s.time, *id)).copied() else {
        problems.push(format!("copy {}: no snapshot of this service", spec.name));
        return c;
    };
    let age = secs(now - snap.time);
    c.newest = Some(*id);
    c.newest_time = Some(snap.time);
    c.age_secs = Some(age);
    c.fresh = age <= service.rpo.as_secs();
    if !c.fresh {
        problems.push(format!(
            "copy {}: the newest snapshot ({}) is {} old, older than the RPO of {}",
            spec.name,
            id.short(),
            format_duration(Duration::from_secs(age)),
            format_duration(service.rpo)
        ));
    }
    let ids: BTreeSet<SnapshotId> = mine.iter().map(|(id, _)| *id).collect();
    c.last_drill = h
        .records
        .iter()
        .map(|(_, r)| r)
        .filter(|r| r.kind == RecordKind::Drill)
        .filter_map(|r| r.drill.as_ref().map(|d| (r, d)))
        .filter(|(_, d)| ids.contains(&d.snapshot))
        .max_by_key(|(r, _)| r.end)
        .map(|(r, d)| DrillSummary {
            repository: spec.name.clone(),
            snapshot: d.snapshot,
            record: summary(r, now),
            achieved_secs: d.total,
            within_rto: d.total <= service.rto.as_secs_f64(),
        });
    c
}

fn judge_drill(plan: &Plan, service: &Service, s: &mut ServiceStatus) {
    match &s.last_drill {
        None => {
            if plan.drill_max_age.is_some() {
                s.problems.push("no drill of this service yet".into());
            }
        }
        Some(d) => {
            if !d.record.ok {
                let why = d
                    .record
                    .first_error
                    .as_ref()
                    .map_or(String::new(), |e| format!(": {e}"));
                s.problems.push(format!(
                    "the last drill (from {}) failed{why}",
                    d.repository
                ));
            } else if !d.within_rto {
                s.problems.push(format!(
                    "the last drill (from {}) took {}, over the RTO of {}",
                    d.repository,
                    format_duration(Duration::from_secs_f64(d.achieved_secs)),
                    format_duration(service.rto)
                ));
            }
            if let Some(max) = plan.drill_max_age
                && d.record.age_secs > max.as_secs()
            {
                s.problems.push(format!(
                    "the last drill is {} old, older than drill_max_age {}",
                    format_duration(Duration::from_secs(d.record.age_secs)),
                    format_duration(max)
                ));
            }
        }
    }
}
