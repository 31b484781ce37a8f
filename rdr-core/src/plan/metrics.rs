//! Prometheus textfile metrics of a plan check (and of the run before it),
//! labelled by service, repository and site; docs/plan.md lists them with
//! alert rules.

use super::{PlanReport, PlanRunReport};
use crate::ops::metrics::Family;

/// One number of a service, when it has one.
type ServiceValue = fn(&super::ServiceStatus) -> Option<f64>;

fn b(v: bool) -> f64 {
    f64::from(u8::from(v))
}

#[allow(clippy::cast_precision_loss)]
fn f(v: u64) -> f64 {
    v as f64
}

/// The metrics text of `report`, and of `run` when the check followed one.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn prometheus_text(report: &PlanReport, run: Option<&PlanRunReport>) -> String {
    let mut out = String::new();
    let mut m = Family { out: &mut out };
    m.header(
        "rdr_plan_repository_up",
        "1 when the repository could be opened.",
    );
    for r in &report.repositories {
        let l = [("repository", r.name.as_str()), ("site", r.site.as_str())];
        m.sample("rdr_plan_repository_up", &l, b(r.reachable));
    }
    m.header(
        "rdr_plan_repository_last_check_age_seconds",
        "Age of the repository's last check.",
    );
    for r in &report.repositories {
        if let Some(c) = &r.last_check {
            let l = [
                ("repository", r.name.as_str()),
                ("ok", if c.ok { "1" } else { "0" }),
            ];
            m.sample(
                "rdr_plan_repository_last_check_age_seconds",
                &l,
                f(c.age_secs),
            );
        }
    }
    m.header(
        "rdr_plan_copy_newest_snapshot_age_seconds",
        "Age of a service's newest snapshot in a copy.",
    );
    for s in &report.services {
        for c in &s.copies {
            if let Some(age) = c.age_secs {
                let l = [
                    ("service", s.name.as_str()),
                    ("repository", c.repository.as_str()),
                ];
                m.sample("rdr_plan_copy_newest_snapshot_age_seconds", &l, f(age));
            }
        }
    }
    m.header(
        "rdr_plan_copy_fresh",
        "1 when the copy is reachable and its newest snapshot is within the RPO.",
    );
    for s in &report.services {
        for c in &s.copies {
            let l = [
                ("service", s.name.as_str()),
                ("repository", c.repository.as_str()),
                ("site", c.site.as_str()),
            ];
            m.sample("rdr_plan_copy_fresh", &l, b(c.fresh));
        }
    }
    let per_service: [(&str, &str, ServiceValue); 6] = [
        ("rdr_plan_service_rpo_seconds", "The service's RPO.", |s| {
            Some(f(s.rpo_secs))
        }),
        ("rdr_plan_service_rto_seconds", "The service's RTO.", |s| {
            Some(f(s.rto_secs))
        }),
        (
            "rdr_plan_service_last_drill_seconds",
            "Recovery time achieved by the service's last drill.",
            |s| s.last_drill.as_ref().map(|d| d.achieved_secs),
        ),
        (
            "rdr_plan_service_last_drill_age_seconds",
            "Age of the service's last drill.",
            |s| s.last_drill.as_ref().map(|d| f(d.record.age_secs)),
        ),
        (
            "rdr_plan_service_rule_321",
            "1 when 3-2-1 holds over the fresh copies.",
            |s| Some(b(s.rule_321.ok)),
        ),
        (
            "rdr_plan_service_ok",
            "1 when nothing about the service is out of policy.",
            |s| Some(b(s.problems.is_empty())),
        ),
    ];
    for (name, help, value) in per_service {
        m.header(name, help);
        for s in &report.services {
            if let Some(v) = value(s) {
                let tier = s.tier.to_string();
                m.sample(name, &[("service", s.name.as_str()), ("tier", &tier)], v);
            }
        }
    }
    if let Some(run) = run {
        m.header(
            "rdr_plan_run_ok",
            "1 when every step of the service's last run succeeded.",
        );
        for s in &run.services {
            m.sample(
                "rdr_plan_run_ok",
                &[("service", s.name.as_str())],
                b(s.ok()),
            );
        }
        m.header(
            "rdr_plan_run_seconds",
            "How long the service's last run took.",
        );
        for s in &run.services {
            m.sample(
                "rdr_plan_run_seconds",
                &[("service", s.name.as_str())],
                s.seconds,
            );
        }
    }
    m.header(
        "rdr_plan_ok",
        "1 when nothing in the plan is out of policy.",
    );
    m.sample("rdr_plan_ok", &[], b(report.ok));
    m.header(
        "rdr_plan_timestamp_seconds",
        "When these metrics were written.",
    );
    m.sample("rdr_plan_timestamp_seconds", &[], report.now as f64 / 1e9);
    out
}
