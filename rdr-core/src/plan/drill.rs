//! `plan drill`: the services restored one after the other in tier order,
//! each from the copy named (the realistic case: the off-site one, with
//! the primary site gone), each against its RTO, with the cumulative time
//! so the report says when each tier would be back. Each service's clock
//! starts before its repository is opened. Every drill is recorded in the
//! repository it restored from.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;

use super::{Plan, Service};
use crate::id::SnapshotId;
use crate::ops::drill::DrillOptions;
use crate::ops::progress::NoProgress;
use crate::time::now_ns;

/// Settings of a plan drill.
#[derive(Debug, Clone, Default)]
pub struct PlanDrillOptions {
    /// Drill tiers 1 to this one (default: all).
    pub up_to_tier: Option<u8>,
    /// Restore from this repository (default: each service's first copy).
    pub from: Option<String>,
    /// Where scratch directories are made (default: the temp directory).
    pub scratch_parent: Option<PathBuf>,
    /// Local cache for remote repositories (a lost site has none: leave
    /// it out to measure a cold recovery).
    pub cache: Option<PathBuf>,
}

/// One service's drill.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceDrill {
    /// The service.
    pub name: String,
    /// Its tier.
    pub tier: u8,
    /// The copy it was restored from.
    pub repository: String,
    /// The snapshot restored.
    pub snapshot: Option<SnapshotId>,
    /// Passed: restored, verified, healthy, within the RTO.
    pub ok: bool,
    /// Recovery time achieved (s), opening the repository included.
    pub seconds: f64,
    /// The RTO (s).
    pub rto_secs: u64,
    /// Time from the start of the plan drill to this service being back.
    pub cumulative_secs: f64,
    /// What went wrong.
    pub errors: Vec<String>,
    /// The drill's own report (`rdr-drill-report/1`), when it ran.
    pub report: Option<Value>,
}

/// What a plan drill found.
#[derive(Debug, Clone, Serialize)]
pub struct PlanDrillReport {
    /// The copy named, if one was.
    pub from: Option<String>,
    /// Per service, in the order drilled.
    pub services: Vec<ServiceDrill>,
    /// Per tier: when its last service was back (s from the start).
    pub tiers: Vec<(u8, f64)>,
    /// Every service passed.
    pub ok: bool,
}

/// Drills the plan's services (see the module docs).
///
/// # Errors
/// [`crate::Error::NotFound`] when `from` names no repository of the plan.
pub fn drill(plan: &Plan, opts: &PlanDrillOptions) -> crate::Result<PlanDrillReport> {
    if let Some(f) = &opts.from
        && plan.repository(f).is_none()
    {
        return Err(crate::Error::NotFound(format!(
            "no repository {f} in the plan"
        )));
    }
    let mut out = PlanDrillReport {
        from: opts.from.clone(),
        services: Vec::new(),
        tiers: Vec::new(),
        ok: true,
    };
    let mut cumulative = 0.0;
    for service in &plan.services {
        if opts.up_to_tier.is_some_and(|t| service.tier > t) {
            continue;
        }
        let mut d = drill_service(plan, service, opts);
        cumulative += d.seconds;
        d.cumulative_secs = cumulative;
        out.ok &= d.ok;
        match out.tiers.last_mut() {
            Some((t, c)) if *t == service.tier => *c = cumulative,
            _ => out.tiers.push((service.tier, cumulative)),
        }
        out.services.push(d);
    }
    Ok(out)
}

fn drill_service(plan: &Plan, service: &Service, opts: &PlanDrillOptions) -> ServiceDrill {
    let started = (Instant::now(), now_ns());
    let from = opts
        .from
        .clone()
        .unwrap_or_else(|| service.copies[0].clone());
    let mut d = ServiceDrill {
        name: service.name.clone(),
        tier: service.tier,
        repository: from.clone(),
        snapshot: None,
        ok: false,
        seconds: 0.0,
        rto_secs: service.rto.as_secs(),
        cumulative_secs: 0.0,
        errors: Vec::new(),
        report: None,
    };
    if let Err(e) = restore(plan, service, opts, &from, started, &mut d) {
        d.errors.push(e);
        d.seconds = started.0.elapsed().as_secs_f64();
    }
    d
}

fn restore(
    plan: &Plan,
    service: &Service,
    opts: &PlanDrillOptions,
    from: &str,
    started: (Instant, i64),
    d: &mut ServiceDrill,
) -> Result<(), String> {
    if !service.copies.iter().any(|c| c == from) {
        return Err(format!("the plan keeps no copy of it in {from}"));
    }
    let spec = plan.repository(from).ok_or("no such repository")?;
    let repo =
        super::open_repository(spec, opts.cache.as_deref()).map_err(|e| format!("{from}: {e}"))?;
    let filter = service.filter();
    let (snaps, _) = repo.snapshots_readable().map_err(|e| e.to_string())?;
    let (id, snap) = snaps
        .into_iter()
        .filter(|(_, s)| filter.matches(s))
        .max_by_key(|(id, s)| (s.time, *id))
        .ok_or_else(|| format!("{from} holds no snapshot of it"))?;
    d.snapshot = Some(id);
    let dopts = DrillOptions {
        scratch_parent: opts
            .scratch_parent
            .clone()
            .unwrap_or_else(std::env::temp_dir),
        health_cmd: service.health_command.clone(),
        rto: Some(service.rto),
        started: Some(started),
        ..DrillOptions::default()
    };
    let r = crate::ops::drill::drill(&repo, id, &snap, &dopts, &NoProgress)
        .map_err(|e| e.to_string())?;
    // a record the storage refuses does not change the outcome
    let _ = repo.save_record(&r.record());
    d.ok = r.passed();
    d.seconds = r.total;
    d.errors.clone_from(&r.errors);
    d.report = Some(r.to_json());
    Ok(())
}
