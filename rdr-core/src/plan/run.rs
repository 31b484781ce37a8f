//! `plan run`: for each service, a backup into its first copy when one is
//! due, copies to the others, retention on the copies that are not
//! immutable; then one prune per repository that lost snapshots, then a
//! fresh check. A failing step is recorded and the run goes on: one
//! service's failure never stops another's backup.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::check::{Holdings, gather};
use super::{Plan, PlanReport, Service, Source};
use crate::error::Result;
use crate::ops::backup::{BackupOptions, BackupSource, ExcludeOptions, backup};
use crate::ops::copy::{CopyOptions, copy};
use crate::ops::forget::{ForgetOptions, forget};
use crate::ops::progress::NoProgress;
use crate::ops::prune::{PruneOptions, prune};
use crate::ops::select::GroupBy;
use crate::repo::{LockHolder, LockKind, Repository};
use crate::time::{format_duration, now_ns};

/// Settings of a run.
#[derive(Debug, Clone, Default)]
pub struct PlanRunOptions {
    /// Only this service.
    pub service: Option<String>,
    /// Back up even when not due.
    pub force: bool,
    /// Local cache for remote repositories.
    pub cache: Option<PathBuf>,
}

/// One step of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    /// `backup`, `copy`, `forget` or `prune`.
    pub step: &'static str,
    /// The repository it wrote to.
    pub repository: String,
    /// Whether it succeeded (a skipped step succeeded).
    pub ok: bool,
    /// What happened, or the error.
    pub detail: String,
}

/// One service's run.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRun {
    /// The service.
    pub name: String,
    /// Its steps, in order.
    pub steps: Vec<StepOutcome>,
    /// Seconds it took.
    pub seconds: f64,
}

impl ServiceRun {
    /// Every step succeeded.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }
}

/// What a run did, and the check after it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRunReport {
    /// Per service.
    pub services: Vec<ServiceRun>,
    /// The prunes after the services.
    pub prunes: Vec<StepOutcome>,
    /// The plan check after the run.
    pub check: PlanReport,
}

impl PlanRunReport {
    /// Every step succeeded (the check may still find problems).
    #[must_use]
    pub fn ok(&self) -> bool {
        self.services.iter().all(ServiceRun::ok) && self.prunes.iter().all(|p| p.ok)
    }

    /// The services that ran are in policy after the run (what the others
    /// lack does not count against a run of one service).
    #[must_use]
    pub fn in_policy(&self) -> bool {
        self.check
            .services
            .iter()
            .filter(|c| self.services.iter().any(|s| s.name == c.name))
            .all(|c| c.problems.is_empty())
    }
}

fn step(step: &'static str, repository: &str, r: Result<String>) -> StepOutcome {
    let (ok, detail) = match r {
        Ok(d) => (true, d),
        Err(e) => (false, e.to_string()),
    };
    StepOutcome {
        step,
        repository: repository.to_owned(),
        ok,
        detail,
    }
}

type Held = Result<(Repository, Holdings), String>;

/// Runs the plan (see the module docs).
///
/// # Errors
/// [`crate::Error::NotFound`] when `opts.service` names no service; every
/// other failure is a step of the report.
pub fn run(plan: &Plan, opts: &PlanRunOptions) -> Result<PlanRunReport> {
    if let Some(name) = &opts.service
        && !plan.services.iter().any(|s| &s.name == name)
    {
        return Err(crate::Error::NotFound(format!(
            "no service {name} in the plan"
        )));
    }
    let held = gather(plan, opts.cache.as_deref());
    let mut to_prune = vec![false; plan.repositories.len()];
    let mut services = Vec::new();
    for service in &plan.services {
        if opts.service.as_ref().is_some_and(|n| *n != service.name) {
            continue;
        }
        let started = Instant::now();
        let steps = run_service(plan, service, &held, opts.force, &mut to_prune);
        services.push(ServiceRun {
            name: service.name.clone(),
            steps,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let mut prunes = Vec::new();
    for (i, spec) in plan.repositories.iter().enumerate() {
        if let (true, Ok((repo, _))) = (to_prune[i], &held[i]) {
            prunes.push(step("prune", &spec.name, prune_repo(repo)));
        }
    }
    drop(held);
    let check = super::check(plan, opts.cache.as_deref(), now_ns());
    Ok(PlanRunReport {
        services,
        prunes,
        check,
    })
}

fn unreachable(why: &str) -> crate::Error {
    crate::Error::InvalidInput(format!("unreachable: {why}"))
}

fn run_service(
    plan: &Plan,
    service: &Service,
    held: &[Held],
    force: bool,
    to_prune: &mut [bool],
) -> Vec<StepOutcome> {
    let mut steps = Vec::new();
    // (every copy names a repository: the plan was validated)
    let copies: Vec<usize> = service
        .copies
        .iter()
        .filter_map(|c| plan.repositories.iter().position(|r| &r.name == c))
        .collect();
    let name = |i: usize| plan.repositories[i].name.as_str();
    let Some(&first) = copies.first() else {
        return steps;
    };
    let (src, h) = match &held[first] {
        Ok((repo, h)) => (repo, h),
        Err(why) => {
            steps.push(step("backup", name(first), Err(unreachable(why))));
            return steps;
        }
    };
    steps.push(step("backup", name(first), back_up(service, src, h, force)));
    for &i in &copies[1..] {
        let outcome = match &held[i] {
            Ok((dst, _)) => copy_service(service, src, dst),
            Err(why) => Err(unreachable(why)),
        };
        steps.push(step("copy", name(i), outcome));
    }
    let Some(policy) = &service.retention else {
        return steps;
    };
    for &i in &copies {
        let Ok((repo, _)) = &held[i] else {
            continue;
        };
        if plan.repositories[i].immutable || repo.append_only() {
            continue;
        }
        let opts = ForgetOptions {
            policy: policy.clone(),
            group_by: GroupBy::parse("host,paths").unwrap_or_default(),
            filter: service.filter(),
            time_zone: jiff::tz::TimeZone::system(),
            now: now_ns(),
            dry_run: false,
            allow_empty: false,
        };
        let outcome = repo
            .lock_to_delete(LockKind::Exclusive, &LockHolder::current(), "forget")
            .and_then(|lock| forget(repo, &opts, &lock));
        if let Ok(r) = &outcome
            && r.removed > 0
        {
            to_prune[i] = true;
        }
        steps.push(step(
            "forget",
            name(i),
            outcome.map(|r| format!("{} snapshots removed", r.removed)),
        ));
    }
    steps
}

fn back_up(service: &Service, repo: &Repository, h: &Holdings, force: bool) -> Result<String> {
    let filter = service.filter();
    let newest = h
        .snapshots
        .iter()
        .filter(|(_, s)| filter.matches(s))
        .map(|(_, s)| s.time)
        .max();
    let age = newest.map(|t| Duration::from_nanos(u64::try_from(now_ns() - t).unwrap_or(0)));
    if let (false, Some(age)) = (force, age)
        && age < service.interval
    {
        return Ok(format!(
            "not due: the newest snapshot is {} old (interval {})",
            format_duration(age),
            format_duration(service.interval)
        ));
    }
    let mut opts = BackupOptions {
        tags: service.backup_tags(),
        program_version: format!("rdr-core {} (plan)", env!("CARGO_PKG_VERSION")),
        ..BackupOptions::default()
    };
    if let Some(host) = &service.host {
        opts.host.clone_from(host);
    }
    let source = match &service.source {
        Source::Paths { paths, excludes } => {
            opts.excludes = ExcludeOptions {
                patterns: excludes.clone(),
                ..ExcludeOptions::default()
            };
            BackupSource::Paths(paths.clone())
        }
        Source::Command { argv, filename } => BackupSource::Command {
            filename: filename.clone(),
            argv: argv.clone(),
        },
    };
    let r = backup(repo, source, &opts, &NoProgress)?;
    let id = r.id.map_or_else(|| "no snapshot".into(), |id| id.short());
    let mut detail = format!("snapshot {id}, {} bytes", r.snapshot.summary.bytes_total);
    if !r.warnings.is_empty() {
        detail.push_str(&format!(", {} warnings", r.warnings.len()));
    }
    Ok(detail)
}

fn copy_service(service: &Service, src: &Repository, dst: &Repository) -> Result<String> {
    let opts = CopyOptions {
        filter: service.filter(),
        ..CopyOptions::default()
    };
    let r = copy(src, dst, &opts, &NoProgress)?;
    Ok(format!(
        "{} snapshots copied, {} already there",
        r.copied.len(),
        r.skipped.len()
    ))
}

fn prune_repo(repo: &Repository) -> Result<String> {
    let lock = repo.lock_to_delete(LockKind::Exclusive, &LockHolder::current(), "prune")?;
    let r = prune(repo, &PruneOptions::default(), &NoProgress, &lock)?;
    Ok(format!(
        "{} bytes deleted, {} bytes marked",
        r.deleted.bytes, r.marked.bytes
    ))
}
