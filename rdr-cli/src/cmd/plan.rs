//! `rdr plan check|run|drill`: rdr_core::plan's reports as tables, JSON
//! and Prometheus metrics.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use rdr_core::ops::metrics::write_atomically;
use rdr_core::plan::{
    Plan, PlanDrillOptions, PlanDrillReport, PlanReport, PlanRunOptions, PlanRunReport,
    prometheus_text,
};
use rdr_core::time::{format_duration, now_ns};

use crate::cli::{Args, PlanCommand};
use crate::exit;

pub fn run(args: &Args, cmd: &PlanCommand) -> Result<i32> {
    let cache = (!args.no_cache)
        .then(rdr_core::Storage::default_cache_dir)
        .flatten();
    match cmd {
        PlanCommand::Check(a) => {
            let plan = load(&a.file)?;
            let r = rdr_core::plan::check(&plan, cache.as_deref(), now_ns());
            metrics(a.prometheus.as_deref(), &r, None)?;
            if args.output.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_check(&r);
            }
            Ok(if r.ok { 0 } else { exit::UNHEALTHY })
        }
        PlanCommand::Run(a) => {
            let plan = load(&a.file)?;
            let opts = PlanRunOptions {
                service: a.service.clone(),
                force: a.force,
                cache,
            };
            let r = rdr_core::plan::run(&plan, &opts)?;
            metrics(a.prometheus.as_deref(), &r.check, Some(&r))?;
            if args.output.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_run(&r);
            }
            Ok(match (r.ok(), r.in_policy()) {
                (false, _) => exit::FATAL,
                (true, false) => exit::UNHEALTHY,
                (true, true) => 0,
            })
        }
        PlanCommand::Drill(a) => {
            let plan = load(&a.file)?;
            let opts = PlanDrillOptions {
                up_to_tier: a.tier,
                from: a.from.clone(),
                scratch_parent: a.scratch.clone(),
                cache,
            };
            let r = rdr_core::plan::drill(&plan, &opts)?;
            if args.output.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_drill(&r);
            }
            Ok(if r.ok { 0 } else { exit::DRILL_FAILED })
        }
    }
}

fn load(file: &PathBuf) -> Result<Plan> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the plan {}", file.display()))?;
    Ok(Plan::parse(&text, &file.display().to_string())?)
}

fn metrics(path: Option<&Path>, r: &PlanReport, run: Option<&PlanRunReport>) -> Result<()> {
    if let Some(p) = path {
        write_atomically(p, &prometheus_text(r, run))
            .with_context(|| format!("writing metrics to {}", p.display()))?;
    }
    Ok(())
}

fn secs(s: u64) -> String {
    format_duration(Duration::from_secs(s))
}

fn print_check(r: &PlanReport) {
    println!("repository  site              reachable  append-only  last check");
    for repo in &r.repositories {
        let check = repo.last_check.as_ref().map_or("never".to_owned(), |c| {
            format!(
                "{} ago, {}",
                secs(c.age_secs),
                if c.ok { "passed" } else { "FAILED" }
            )
        });
        println!(
            "{:<11} {:<17} {:<10} {:<12} {check}",
            repo.name,
            repo.site,
            if repo.reachable { "yes" } else { "NO" },
            repo.append_only
                .map_or("?", |a| if a { "yes" } else { "no" }),
        );
    }
    println!();
    println!("tier  service      copy        site              newest        RPO     state");
    for s in &r.services {
        for c in &s.copies {
            let (newest, state) = match (c.reachable, c.age_secs) {
                (false, _) => ("-".to_owned(), "UNREACHABLE"),
                (true, None) => ("none".to_owned(), "MISSING"),
                (true, Some(age)) => (
                    format!("{} ago", secs(age)),
                    if c.fresh { "fresh" } else { "STALE" },
                ),
            };
            println!(
                "{:<5} {:<12} {:<11} {:<17} {:<13} {:<7} {state}{}",
                s.tier,
                s.name,
                c.repository,
                c.site,
                newest,
                secs(s.rpo_secs),
                if c.immutable { ", immutable" } else { "" }
            );
        }
        let drill = s.last_drill.as_ref().map_or("never".to_owned(), |d| {
            format!(
                "{} ago from {}: {}, {} against an RTO of {}",
                secs(d.record.age_secs),
                d.repository,
                if d.record.ok { "passed" } else { "FAILED" },
                format_duration(Duration::from_secs_f64(d.achieved_secs)),
                secs(s.rto_secs)
            )
        });
        let rule = &s.rule_321;
        println!(
            "      {}: last drill {drill}; 3-2-1 {} (fresh copies {}, sites {}, off-site {}, immutable {})",
            s.name,
            if rule.ok { "ok" } else { "NOT MET" },
            rule.copies,
            rule.sites,
            rule.off_site,
            rule.immutable
        );
    }
    for p in &r.problems {
        eprintln!("problem: {p}");
    }
    if r.ok {
        println!("plan: in policy");
    } else {
        println!("plan: {} problem(s)", r.problems.len());
    }
}

fn print_run(r: &PlanRunReport) {
    for s in &r.services {
        for st in &s.steps {
            println!(
                "{:<12} {:<7} {:<11} {} {}",
                s.name,
                st.step,
                st.repository,
                if st.ok { "ok:" } else { "FAILED:" },
                st.detail
            );
        }
    }
    for st in &r.prunes {
        println!(
            "{:<12} {:<7} {:<11} {} {}",
            "",
            st.step,
            st.repository,
            if st.ok { "ok:" } else { "FAILED:" },
            st.detail
        );
    }
    println!();
    print_check(&r.check);
}

fn print_drill(r: &PlanDrillReport) {
    println!("tier  service      from        snapshot  time      RTO       back after  result");
    for s in &r.services {
        let t = |x: f64| format_duration(Duration::from_secs_f64(x));
        println!(
            "{:<5} {:<12} {:<11} {:<9} {:<9} {:<9} {:<11} {}",
            s.tier,
            s.name,
            s.repository,
            s.snapshot.map_or("-".to_owned(), |id| id.short()),
            t(s.seconds),
            secs(s.rto_secs),
            t(s.cumulative_secs),
            if s.ok { "ok" } else { "FAILED" }
        );
        for e in &s.errors {
            eprintln!("{}: {e}", s.name);
        }
    }
    let tiers: Vec<String> = r
        .tiers
        .iter()
        .map(|(t, c)| {
            format!(
                "tier {t} back after {}",
                format_duration(Duration::from_secs_f64(*c))
            )
        })
        .collect();
    println!("{}", tiers.join("; "));
}
