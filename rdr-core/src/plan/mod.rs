//! The recovery plan: a TOML file (docs/plan.md) that says what is backed
//! up (services, each with a tier, an RPO, an RTO, a source, retention, a
//! health command and the copies it must have) and where (repositories,
//! each with a location, a site, credentials and whether it is immutable).
//!
//! [`Plan::parse`] validates the file with errors that name the line.
//! [`check`] compares the plan with what the repositories hold: freshness
//! against each RPO, the last check and drill against each RTO, and the
//! 3-2-1 rule. [`run`] backs up what is due, copies it, applies retention.
//! [`drill`] restores services in tier order, as after losing a site.

mod access;
mod check;
mod drill;
mod metrics;
mod parse;
mod run;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use access::open_repository;
pub use check::{
    CopyStatus, DrillSummary, PlanReport, RecordSummary, RepositoryStatus, Rule321, ServiceStatus,
    check,
};
pub use drill::{PlanDrillOptions, PlanDrillReport, ServiceDrill, drill};
pub use metrics::prometheus_text;
pub use parse::PlanError;
pub use run::{PlanRunOptions, PlanRunReport, ServiceRun, StepOutcome, run};

use crate::ops::policy::Policy;

/// A validated recovery plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The failure domain production runs in; a copy elsewhere is off-site.
    pub production_site: String,
    /// A passing check older than this is a problem (`None`: not judged).
    pub check_max_age: Option<Duration>,
    /// A passing drill older than this is a problem (`None`: not judged).
    pub drill_max_age: Option<Duration>,
    /// Repositories, in file order.
    pub repositories: Vec<RepositorySpec>,
    /// Services, in file order.
    pub services: Vec<Service>,
}

/// Where one copy lives and how to open it.
#[derive(Debug, Clone, Serialize)]
pub struct RepositorySpec {
    /// Its name in the plan.
    pub name: String,
    /// Repository location (as `-r` takes it).
    pub location: String,
    /// Failure domain (a building, a region, a provider).
    pub site: String,
    /// Promised to be immutable: created with `init --append-only`.
    pub immutable: bool,
    /// How to get the password or identity.
    #[serde(skip)]
    pub credentials: Credentials,
    /// `KEY=VALUE` lines for the storage (S3 keys, ...), read when it is
    /// opened; the process environment fills in the rest.
    #[serde(skip)]
    pub env_file: Option<PathBuf>,
}

/// Where a repository's password or identity comes from.
#[derive(Debug, Clone, Default)]
pub enum Credentials {
    /// The first line of this file.
    PasswordFile(PathBuf),
    /// The first line this shell command prints.
    PasswordCommand(String),
    /// An age identity file.
    IdentityFile(PathBuf),
    /// The variable `RDR_PASSWORD` (for tests and one-repository plans).
    #[default]
    Environment,
}

/// What a service backs up.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Files and directories.
    Paths {
        /// What to back up.
        paths: Vec<PathBuf>,
        /// Exclude patterns (as `backup --exclude`).
        excludes: Vec<String>,
    },
    /// A command's standard output (`pg_dump`), stored as one file.
    Command {
        /// Program and arguments.
        argv: Vec<String>,
        /// The file name in the snapshot.
        filename: String,
    },
}

/// One service of the plan.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its name; its snapshots carry it as a tag.
    pub name: String,
    /// 1 is restored first.
    pub tier: u8,
    /// Recovery point objective: the newest snapshot may be this old.
    pub rpo: Duration,
    /// Recovery time objective: a drill must finish within it.
    pub rto: Duration,
    /// A backup is due when the newest is this old (default: half the RPO).
    pub interval: Duration,
    /// What is backed up.
    pub source: Source,
    /// Host name of its snapshots (default: this host when backing up;
    /// any host when checking).
    pub host: Option<String>,
    /// More tags for its snapshots.
    pub tags: Vec<String>,
    /// Retention, applied to every copy that is not immutable.
    pub retention: Option<Policy>,
    /// Shell command run in the restored data by drills.
    pub health_command: Option<String>,
    /// Repository names; backups go to the first, copies to the others.
    pub copies: Vec<String>,
}

impl Plan {
    /// The repository named `name`.
    #[must_use]
    pub fn repository(&self, name: &str) -> Option<&RepositorySpec> {
        self.repositories.iter().find(|r| r.name == name)
    }
}

impl Service {
    /// The filter that selects this service's snapshots.
    #[must_use]
    pub fn filter(&self) -> crate::ops::select::SnapshotFilter {
        crate::ops::select::SnapshotFilter {
            hosts: self.host.iter().cloned().collect(),
            tags: vec![vec![self.name.clone()]],
            ..crate::ops::select::SnapshotFilter::default()
        }
    }

    /// The tags its backups get: its name, then its own.
    #[must_use]
    pub fn backup_tags(&self) -> Vec<String> {
        let mut t = vec![self.name.clone()];
        t.extend(self.tags.iter().filter(|x| **x != self.name).cloned());
        t
    }
}
