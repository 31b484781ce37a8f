//! Record files (`records/`): the outcome of a `check` or a `drill`, kept in
//! the repository so that any host can see when the last one ran and
//! whether it passed (docs/format.md, "Records").

use serde::{Deserialize, Serialize};

use super::{FORMAT_VERSION, FormatError, from_cbor, to_cbor};
use crate::id::SnapshotId;

/// How many error messages a record keeps verbatim.
pub const MAX_RECORDED_ERRORS: usize = 20;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// A `check` run.
    Check,
    /// A restore drill.
    Drill,
}

impl RecordKind {
    /// Lowercase name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Check => "check",
            Self::Drill => "drill",
        }
    }
}

/// What a check covered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Which packs were read in full: `none`, `all`, `n/m` or `p%`.
    pub read_data: String,
    /// Snapshots checked.
    pub snapshots: u64,
    /// Packs in storage.
    pub packs: u64,
    /// Blobs in the index.
    pub blobs: u64,
    /// Bytes read in full.
    pub bytes_read: u64,
    /// Damaged blobs that snapshots use.
    pub damaged_blobs: u64,
}

/// Seconds spent in each phase of a drill (see docs/drill-report.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DrillPhases {
    /// Opening the repository, loading the index, snapshot and trees,
    /// creating the directory skeleton and empty files.
    pub load: f64,
    /// Reading packs from storage.
    pub fetch: f64,
    /// Opening blobs (decrypt, decompress, verify the id).
    pub decrypt: f64,
    /// Writing file contents, links and metadata.
    pub write: f64,
    /// Reading every restored file back and comparing with the snapshot.
    pub verify: f64,
    /// The health command.
    pub health: f64,
}

/// What a drill restored and how long it took.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// The snapshot restored.
    pub snapshot: SnapshotId,
    /// Regular files restored.
    pub files: u64,
    /// Bytes of file content restored.
    pub bytes: u64,
    /// Time per phase.
    pub phases: DrillPhases,
    /// Total seconds: the achieved recovery time.
    pub total: f64,
    /// The recovery time objective in force, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rto: Option<f64>,
    /// The health command's exit code (`-1`: killed by a signal or a
    /// timeout), when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_exit: Option<i32>,
}

/// One record file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version (`FORMAT_VERSION`, 1).
    pub version: u32,
    /// Check or drill.
    pub kind: RecordKind,
    /// Start time (ns since the epoch).
    pub start: i64,
    /// End time (ns).
    pub end: i64,
    /// Host that ran it.
    pub hostname: String,
    /// User that ran it.
    pub username: String,
    /// `rdr <version>` that ran it.
    pub program_version: String,
    /// Whether it passed.
    pub ok: bool,
    /// The first `MAX_RECORDED_ERRORS` errors.
    pub errors: Vec<String>,
    /// How many errors there were in all.
    pub error_count: u64,
    /// Set for a check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckRecord>,
    /// Set for a drill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillRecord>,
}

impl Record {
    /// A record of `kind` from `start` to `end`, keeping the first
    /// `MAX_RECORDED_ERRORS` of `errors`; host, user and program are
    /// left empty for the caller.
    #[must_use]
    pub fn new(kind: RecordKind, start: i64, end: i64, errors: &[String]) -> Self {
        Self {
            version: FORMAT_VERSION,
            kind,
            start,
            end,
            hostname: String::new(),
            username: String::new(),
            program_version: String::new(),
            ok: errors.is_empty(),
            errors: errors.iter().take(MAX_RECORDED_ERRORS).cloned().collect(),
            error_count: errors.len() as u64,
            check: None,
            drill: None,
        }
    }

    /// CBOR encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes a record.
    ///
    /// # Errors
    /// [`FormatError`] for bad CBOR, an unknown version, or a record whose
    /// details do not match its kind.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let r: Self = from_cbor("record", bytes)?;
        if r.version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "record",
                version: r.version,
            });
        }
        let matches = match r.kind {
            RecordKind::Check => r.check.is_some() && r.drill.is_none(),
            RecordKind::Drill => r.drill.is_some() && r.check.is_none(),
        };
        if !matches {
            return Err(FormatError::Invalid {
                what: "record",
                msg: format!("a {} record without its details", r.kind.name()),
            });
        }
        if r.errors.len() > MAX_RECORDED_ERRORS {
            return Err(FormatError::Invalid {
                what: "record",
                msg: format!("{} errors (at most {MAX_RECORDED_ERRORS})", r.errors.len()),
            });
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drill() -> Record {
        let mut r = Record::new(RecordKind::Drill, 1, 2, &[]);
        r.drill = Some(DrillRecord {
            snapshot: SnapshotId(crate::id::Id([7; 32])),
            files: 3,
            bytes: 4,
            phases: DrillPhases {
                load: 0.5,
                ..DrillPhases::default()
            },
            total: 1.5,
            rto: Some(900.0),
            health_exit: Some(0),
        });
        r
    }

    #[test]
    fn round_trip() {
        let r = drill();
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
        let mut c = Record::new(RecordKind::Check, 1, 2, &["bad".into()]);
        assert!(!c.ok);
        c.check = Some(CheckRecord::default());
        assert_eq!(Record::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn rejects_mismatched_kind_and_garbage() {
        let mut r = drill();
        r.kind = RecordKind::Check;
        assert!(Record::decode(&r.encode()).is_err());
        let mut r = drill();
        r.version = 2;
        assert!(Record::decode(&r.encode()).is_err());
        assert!(Record::decode(b"\xff\x00").is_err());
        assert!(Record::decode(&[]).is_err());
    }

    #[test]
    fn keeps_only_the_first_errors() {
        let errs: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
        let r = Record::new(RecordKind::Check, 0, 0, &errs);
        assert_eq!(r.errors.len(), MAX_RECORDED_ERRORS);
        assert_eq!(r.error_count, 50);
    }
}
