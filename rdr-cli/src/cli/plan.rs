//! Arguments of `rdr plan` (docs/plan.md).

use std::path::PathBuf;

/// `rdr plan check|run|drill`.
#[derive(Debug, clap::Subcommand)]
pub enum PlanCommand {
    /// Compare the plan with the repositories: freshness against each RPO,
    /// the last check and drill against each RTO, 3-2-1 (exit 6 when out
    /// of policy).
    Check(PlanCheckArgs),
    /// Back up what is due into each service's first copy, copy to the
    /// others, apply retention, prune, then check and write the metrics.
    Run(PlanRunArgs),
    /// Restore the services in tier order from one copy, each against its
    /// RTO, with the cumulative recovery time (exit 5 when one fails).
    Drill(PlanDrillArgs),
}

/// Arguments of `rdr plan check`.
#[derive(Debug, clap::Args)]
pub struct PlanCheckArgs {
    /// The plan (TOML).
    pub file: PathBuf,
    /// Also write Prometheus textfile metrics here (atomically).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// Arguments of `rdr plan run`.
#[derive(Debug, clap::Args)]
pub struct PlanRunArgs {
    /// The plan (TOML).
    pub file: PathBuf,
    /// Only this service.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
    /// Back up even when no backup is due.
    #[arg(long)]
    pub force: bool,
    /// Write Prometheus textfile metrics here (atomically), also when a
    /// step failed.
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
}

/// Arguments of `rdr plan drill`.
#[derive(Debug, clap::Args)]
pub struct PlanDrillArgs {
    /// The plan (TOML).
    pub file: PathBuf,
    /// Drill tiers 1 to N (default: every tier).
    #[arg(long, value_name = "N")]
    pub tier: Option<u8>,
    /// Restore from this repository of the plan (default: each service's
    /// first copy); the realistic drill names the off-site one.
    #[arg(long, value_name = "REPOSITORY")]
    pub from: Option<String>,
    /// Make scratch directories here (default: the temp directory).
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
}
