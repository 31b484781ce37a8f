//! Reading a plan file: TOML into raw structures that remember where each
//! value was, then validation into [`Plan`] with errors naming the line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::{Credentials, Plan, RepositorySpec, Service, Source};
use crate::ops::policy::{KeepCount, KeepDuration, Policy};

/// A plan file that does not parse or validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct PlanError {
    /// The file (as given).
    pub file: String,
    /// 1-based line of the offending key or value.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl From<PlanError> for crate::Error {
    fn from(e: PlanError) -> Self {
        crate::Error::InvalidInput(e.to_string())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    production_site: Spanned<String>,
    check_max_age: Option<Spanned<String>>,
    drill_max_age: Option<Spanned<String>>,
    #[serde(default)]
    repositories: BTreeMap<Spanned<String>, RawRepository>,
    #[serde(default)]
    services: BTreeMap<Spanned<String>, RawService>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRepository {
    location: Spanned<String>,
    site: Spanned<String>,
    #[serde(default)]
    immutable: bool,
    password_file: Option<Spanned<PathBuf>>,
    password_command: Option<Spanned<String>>,
    identity_file: Option<Spanned<PathBuf>>,
    env_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    tier: Spanned<i64>,
    rpo: Spanned<String>,
    rto: Spanned<String>,
    interval: Option<Spanned<String>>,
    paths: Option<Spanned<Vec<PathBuf>>>,
    #[serde(default)]
    excludes: Vec<String>,
    command: Option<Spanned<Vec<String>>>,
    filename: Option<String>,
    host: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    retention: Option<Spanned<RawRetention>>,
    health_command: Option<String>,
    copies: Spanned<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    keep_last: Option<u32>,
    keep_hourly: Option<u32>,
    keep_daily: Option<u32>,
    keep_weekly: Option<u32>,
    keep_monthly: Option<u32>,
    keep_yearly: Option<u32>,
    keep_within: Option<Spanned<String>>,
}

/// Turns spans into line numbers.
struct Lines<'a> {
    text: &'a str,
    file: &'a str,
}

impl Lines<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> PlanError {
        let at = span.start.min(self.text.len());
        PlanError {
            file: self.file.to_owned(),
            line: self.text[..at].matches('\n').count() + 1,
            message: message.into(),
        }
    }

    fn duration(&self, v: &Spanned<String>, what: &str) -> Result<Duration, PlanError> {
        let d = crate::time::parse_duration(v.get_ref())
            .map_err(|e| self.err(v.span(), format!("{what}: {e}")))?;
        if d.is_zero() {
            return Err(self.err(v.span(), format!("{what} must be longer than 0")));
        }
        Ok(d)
    }

    fn name(&self, v: &Spanned<String>, what: &str) -> Result<String, PlanError> {
        let n = v.get_ref();
        let ok = !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(self.err(
                v.span(),
                format!("{what} name {n:?}: use letters, digits, '-', '_' and '.'"),
            ));
        }
        Ok(n.clone())
    }
}

impl Plan {
    /// Parses and validates a plan; `file` names it in errors.
    ///
    /// # Errors
    /// [`PlanError`] naming the line: TOML syntax, an unknown key, a
    /// missing one, a bad duration or tier, a copy that names no
    /// repository, a service with no or two sources, a repository with two
    /// credential sources.
    pub fn parse(text: &str, file: &str) -> Result<Self, PlanError> {
        let lines = Lines { text, file };
        let raw: RawPlan = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            lines.err(span, e.message().trim().to_owned())
        })?;
        let max_age = |v: &Option<Spanned<String>>, what: &str| {
            v.as_ref().map(|v| lines.duration(v, what)).transpose()
        };
        let mut plan = Plan {
            production_site: raw.production_site.get_ref().clone(),
            check_max_age: max_age(&raw.check_max_age, "check_max_age")?,
            drill_max_age: max_age(&raw.drill_max_age, "drill_max_age")?,
            repositories: Vec::new(),
            services: Vec::new(),
        };
        for (name, r) in raw.repositories {
            plan.repositories.push(repository(&lines, &name, r)?);
        }
        for (name, s) in raw.services {
            let service = service(&lines, &name, s, &plan)?;
            plan.services.push(service);
        }
        if plan.services.is_empty() {
            return Err(lines.err(0..0, "the plan has no [services.NAME] table"));
        }
        plan.services
            .sort_by(|a, b| (a.tier, &a.name).cmp(&(b.tier, &b.name)));
        Ok(plan)
    }
}

fn repository(
    lines: &Lines<'_>,
    name: &Spanned<String>,
    r: RawRepository,
) -> Result<RepositorySpec, PlanError> {
    let n = lines.name(name, "repository")?;
    let mut sources = Vec::new();
    if let Some(f) = r.password_file {
        sources.push((f.span(), Credentials::PasswordFile(f.into_inner())));
    }
    if let Some(c) = r.password_command {
        sources.push((c.span(), Credentials::PasswordCommand(c.into_inner())));
    }
    if let Some(f) = r.identity_file {
        sources.push((f.span(), Credentials::IdentityFile(f.into_inner())));
    }
    if sources.len() > 1 {
        return Err(lines.err(
            sources[1].0.clone(),
            format!(
                "repository {n}: give one of password_file, password_command and identity_file"
            ),
        ));
    }
    crate::Location::parse(r.location.get_ref())
        .map_err(|e| lines.err(r.location.span(), format!("repository {n}: location: {e}")))?;
    if r.site.get_ref().is_empty() {
        return Err(lines.err(r.site.span(), format!("repository {n}: empty site")));
    }
    Ok(RepositorySpec {
        name: n,
        location: r.location.into_inner(),
        site: r.site.into_inner(),
        immutable: r.immutable,
        credentials: sources.pop().map_or(Credentials::Environment, |(_, c)| c),
        env_file: r.env_file,
    })
}

fn service(
    lines: &Lines<'_>,
    name: &Spanned<String>,
    s: RawService,
    plan: &Plan,
) -> Result<Service, PlanError> {
    let n = lines.name(name, "service")?;
    let tier = u8::try_from(*s.tier.get_ref())
        .ok()
        .filter(|t| (1..=9).contains(t))
        .ok_or_else(|| {
            lines.err(
                s.tier.span(),
                format!("service {n}: tier {} is not 1..9", s.tier.get_ref()),
            )
        })?;
    let what = |k: &str| format!("service {n}: {k}");
    let rpo = lines.duration(&s.rpo, &what("rpo"))?;
    let rto = lines.duration(&s.rto, &what("rto"))?;
    let interval = match &s.interval {
        Some(v) => lines.duration(v, &what("interval"))?,
        None => rpo / 2,
    };
    let source = match (s.paths, s.command) {
        (Some(p), None) if !p.get_ref().is_empty() => Source::Paths {
            paths: p.into_inner(),
            excludes: s.excludes,
        },
        (None, Some(c)) if !c.get_ref().is_empty() => Source::Command {
            argv: c.into_inner(),
            filename: s.filename.unwrap_or_else(|| n.clone()),
        },
        (Some(_), Some(c)) => {
            return Err(lines.err(c.span(), what("give paths or command, not both")));
        }
        (Some(v), None) => return Err(lines.err(v.span(), what("paths is empty"))),
        (None, Some(v)) => return Err(lines.err(v.span(), what("command is empty"))),
        (None, None) => {
            return Err(lines.err(name.span(), what("give paths = [...] or command = [...]")));
        }
    };
    let mut copies: Vec<String> = Vec::new();
    for c in s.copies.get_ref() {
        if plan.repository(c.get_ref()).is_none() {
            return Err(lines.err(
                c.span(),
                what(&format!(
                    "copy {:?} is not a repository of the plan ([repositories.{}] is missing)",
                    c.get_ref(),
                    c.get_ref()
                )),
            ));
        }
        if copies.contains(c.get_ref()) {
            return Err(lines.err(c.span(), what(&format!("copy {:?} twice", c.get_ref()))));
        }
        copies.push(c.get_ref().clone());
    }
    if copies.is_empty() {
        return Err(lines.err(s.copies.span(), what("copies is empty")));
    }
    let retention = s
        .retention
        .map(|r| retention(lines, r, &what("retention")))
        .transpose()?;
    Ok(Service {
        name: n,
        tier,
        rpo,
        rto,
        interval,
        source,
        host: s.host,
        tags: s.tags,
        retention,
        health_command: s.health_command,
        copies,
    })
}

fn retention(lines: &Lines<'_>, r: Spanned<RawRetention>, what: &str) -> Result<Policy, PlanError> {
    let span = r.span();
    let r = r.into_inner();
    let count = |c: Option<u32>| c.filter(|n| *n > 0).map_or(KeepCount::None, KeepCount::N);
    let within = r
        .keep_within
        .map(|w| {
            KeepDuration::parse(w.get_ref())
                .map_err(|e| lines.err(w.span(), format!("{what}: keep_within: {e}")))
        })
        .transpose()?;
    let p = Policy {
        last: count(r.keep_last),
        hourly: count(r.keep_hourly),
        daily: count(r.keep_daily),
        weekly: count(r.keep_weekly),
        monthly: count(r.keep_monthly),
        yearly: count(r.keep_yearly),
        within,
        ..Policy::default()
    };
    if p.is_empty() {
        return Err(lines.err(
            span,
            format!("{what} keeps nothing: give keep_last, keep_daily, ..."),
        ));
    }
    Ok(p)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
