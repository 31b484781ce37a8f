//! A drill's outcome: the JSON report (schema `rdr-drill-report/1`, in
//! docs/drill-report.md) and the record stored in the repository.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::HealthOutcome;
use crate::format::record::{DrillPhases, DrillRecord, Record, RecordKind};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::ops::record::new_record;
use crate::time::rfc3339_ns;

/// The schema name in every JSON report.
pub const SCHEMA: &str = "rdr-drill-report/1";

/// What a drill did, how long each phase took, and whether it passed.
#[derive(Debug, Clone)]
pub struct DrillReport {
    /// The snapshot restored.
    pub snapshot: SnapshotId,
    /// Its time (ns).
    pub snapshot_time: i64,
    /// Its host.
    pub snapshot_host: String,
    /// Its paths.
    pub snapshot_paths: Vec<String>,
    /// Its tags.
    pub snapshot_tags: Vec<String>,
    /// Where it was restored.
    pub target: PathBuf,
    /// The restored data was left in place.
    pub kept: bool,
    /// Regular files restored.
    pub files: u64,
    /// Regular files read back and found identical.
    pub files_verified: u64,
    /// Directories.
    pub dirs: u64,
    /// Hard links.
    pub links: u64,
    /// Symlinks, fifos and devices.
    pub others: u64,
    /// Bytes of file content.
    pub bytes: u64,
    /// Seconds per phase.
    pub phases: DrillPhases,
    /// Worker seconds in fetch, decrypt and write (summed over workers).
    pub worker: [f64; 3],
    /// Total seconds: the recovery time achieved.
    pub total: f64,
    /// The recovery time objective, in seconds.
    pub rto: Option<f64>,
    /// The health command's outcome, when it ran.
    pub health: Option<HealthOutcome>,
    /// Why the drill failed; empty when it passed.
    pub errors: Vec<String>,
    /// Metadata that could not be applied, and cleanup problems.
    pub warnings: Vec<String>,
    /// Start (ns since the epoch).
    pub start: i64,
    /// End (ns).
    pub end: i64,
}

impl DrillReport {
    pub(super) fn new(id: SnapshotId, snap: &Snapshot, target: PathBuf, start: i64) -> Self {
        Self {
            snapshot: id,
            snapshot_time: snap.time,
            snapshot_host: snap.hostname.clone(),
            snapshot_paths: snap.paths.clone(),
            snapshot_tags: snap.tags.clone(),
            target,
            kept: false,
            files: 0,
            files_verified: 0,
            dirs: 0,
            links: 0,
            others: 0,
            bytes: 0,
            phases: DrillPhases::default(),
            worker: [0.0; 3],
            total: 0.0,
            rto: None,
            health: None,
            errors: Vec::new(),
            warnings: Vec::new(),
            start,
            end: start,
        }
    }

    /// Whether the drill passed: restored, verified, healthy, in time.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.errors.is_empty()
    }

    /// The record to store with [`crate::repo::Repository::save_record`].
    #[must_use]
    pub fn record(&self) -> Record {
        let mut r = new_record(RecordKind::Drill, self.start, self.end, &self.errors);
        r.drill = Some(DrillRecord {
            snapshot: self.snapshot,
            files: self.files,
            bytes: self.bytes,
            phases: self.phases,
            total: self.total,
            rto: self.rto,
            health_exit: self.health.as_ref().map(|h| {
                if h.timed_out {
                    -1
                } else {
                    h.exit_code.unwrap_or(-1)
                }
            }),
        });
        r
    }

    /// The JSON report (docs/drill-report.md).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let p = &self.phases;
        json!({
            "schema": SCHEMA,
            "passed": self.passed(),
            "degraded": self.snapshot_tags.iter().any(|t| t == crate::ops::repair::REPAIRED_TAG),
            "snapshot": {
                "id": self.snapshot.to_hex(),
                "time": rfc3339_ns(self.snapshot_time),
                "host": self.snapshot_host,
                "paths": self.snapshot_paths,
                "tags": self.snapshot_tags,
            },
            "started": rfc3339_ns(self.start),
            "finished": rfc3339_ns(self.end),
            "target": self.target.display().to_string(),
            "kept": self.kept,
            "files": self.files,
            "files_verified": self.files_verified,
            "dirs": self.dirs,
            "links": self.links,
            "others": self.others,
            "bytes": self.bytes,
            "phases_seconds": {
                "load": p.load, "fetch": p.fetch, "decrypt": p.decrypt,
                "write": p.write, "verify": p.verify, "health": p.health,
            },
            "worker_seconds": {
                "fetch": self.worker[0], "decrypt": self.worker[1], "write": self.worker[2],
            },
            "total_seconds": self.total,
            "rto_seconds": self.rto,
            "rto_met": self.rto.map(|r| self.total <= r),
            "health": self.health.as_ref().map(|h| json!({
                "command": h.command,
                "exit_code": h.exit_code,
                "timed_out": h.timed_out,
                "passed": h.passed(),
                "output": h.output,
            })),
            "errors": self.errors,
            "warnings": self.warnings,
        })
    }
}
