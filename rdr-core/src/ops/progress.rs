//! The progress trait that long operations report through. The CLI draws a
//! bar or prints JSON lines; the library and FFI default to silence.

use std::path::Path;

/// Receives progress of a backup, restore or dump. Every method has a no-op
/// default; implementations must be cheap (they are called per file and per
/// chunk) and thread-safe.
pub trait Progress: Send + Sync {
    /// Whether the operation should compute totals up front (a backup then
    /// runs a metadata-only scan beside the real work).
    fn wants_totals(&self) -> bool {
        false
    }
    /// A new phase of a multi-phase operation starts (`check`: index,
    /// packs, snapshots, trees, read-data; `drill`: load, restore, verify,
    /// health). Counters and totals start again from zero.
    fn phase(&self, _name: &str) {}
    /// Running totals of the work (cumulative values).
    fn total(&self, _files: u64, _bytes: u64) {}
    /// The entry now being worked on.
    fn current(&self, _path: &Path) {}
    /// Work done since the last call (increments).
    fn advance(&self, _files: u64, _bytes: u64) {}
    /// An entry that could not be processed; the operation continues.
    fn warning(&self, _path: &Path, _message: &str) {}
    /// Polled often; returning true stops the operation cleanly.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
