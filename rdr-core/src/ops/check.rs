//! `check`: is the repository whole? Index files decode; every pack the
//! index lists exists and its header agrees with the index; every snapshot
//! and tree loads and every blob a tree references is indexed. With
//! `read_data`, packs are read in full: each must hash to its name and
//! every blob must open and match its id. Unreferenced packs and unused
//! blobs are warnings (prune removes them), not errors.
//!
//! Each damaged blob is traced to the snapshots and paths that use it
//! ([`CheckReport::damaged`]). A blob is damaged when a tree references it
//! and the index lacks it, when reading it fails verification, or when it
//! sits in a pack that is missing, truncated, or does not match its name
//! and loading it on its own fails.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;

use crate::error::Result;
use crate::format::record::{CheckRecord, Record, RecordKind};
use crate::id::{BlobId, PackId, SnapshotId};
use crate::ops::affected::affected_paths;
use crate::ops::check_read::{PackRead, read_data};
use crate::ops::progress::Progress;
use crate::ops::record::new_record;
use crate::ops::usage::mark_used;
use crate::repo::{LockGuard, MasterIndex, Repository};
use crate::time::now_ns;

/// Which packs `--read-data` reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReadData {
    /// Every pack.
    All,
    /// Part `n` of `m` (1-based): the packs whose id, read as a number,
    /// is `n - 1` modulo `m`. Runs 1..=m together read every pack once.
    Subset {
        /// Which part.
        n: u32,
        /// Of how many.
        m: u32,
    },
    /// A random share of the packs, in percent.
    Percent(f64),
}

impl ReadData {
    /// Parses a subset as `check --read-data-subset` takes it: `N/M`
    /// (part N of M, 1 <= N <= M) or `P%` (0 < P <= 100); `all` is every
    /// pack.
    ///
    /// # Errors
    /// A message naming the text when it is neither.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("read-data subset {s:?}: not a percentage"))?;
            if !(p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "read-data subset {s:?}: the percentage must be in (0, 100]"
                ));
            }
            return Ok(Self::Percent(p));
        }
        let parsed = t.split_once('/').and_then(|(n, m)| {
            Some((n.trim().parse::<u32>().ok()?, m.trim().parse::<u32>().ok()?))
        });
        match parsed {
            Some((n, m)) if n >= 1 && n <= m => Ok(Self::Subset { n, m }),
            Some(_) => Err(format!("read-data subset {s:?}: need 1 <= N <= M")),
            None => Err(format!("read-data subset {s:?}: use N/M or P%")),
        }
    }

    pub(super) fn selects(&self, id: &PackId) -> bool {
        let b = id.0.0;
        let x = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        match *self {
            Self::All => true,
            Self::Subset { n, m } => m > 0 && x % u64::from(m) == u64::from(n.saturating_sub(1)),
            Self::Percent(p) => {
                let r = u64::from_le_bytes(crate::crypto::rng::bytes());
                #[allow(clippy::cast_precision_loss)]
                let v = (r % 1_000_000) as f64 / 10_000.0;
                v < p
            }
        }
    }
}

impl std::fmt::Display for ReadData {
    /// `all`, `n/m` or `p%`, as the command line takes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Subset { n, m } => write!(f, "{n}/{m}"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Check settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Read pack contents too.
    pub read_data: Option<ReadData>,
}

/// What check found. Each message names the object it is about.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Damage: the repository cannot restore everything.
    pub errors: Vec<String>,
    /// Untidiness that prune or repair clears.
    pub warnings: Vec<String>,
    /// Index files read.
    pub index_files: usize,
    /// Packs in storage.
    pub packs: usize,
    /// Snapshots loaded.
    pub snapshots: usize,
    /// Blobs in the index.
    pub blobs: usize,
    /// Blobs the snapshots use.
    pub blobs_used: usize,
    /// Packs read in full.
    pub packs_read: usize,
    /// Bytes read in full.
    pub bytes_read: u64,
    /// Each damaged blob a snapshot uses, with what uses it.
    pub damaged: Vec<DamagedBlob>,
    /// Start time (ns since the epoch).
    pub start: i64,
    /// End time (ns).
    pub end: i64,
}

/// A damaged blob and the snapshot paths that need it.
#[derive(Debug, Clone)]
pub struct DamagedBlob {
    /// The blob.
    pub blob: BlobId,
    /// What is wrong with it.
    pub reason: String,
    /// Snapshots and paths (files, or directories whose tree it is) that
    /// use it; at most [`PATHS_PER_BLOB`] are listed.
    pub used_by: Vec<(SnapshotId, Vec<u8>)>,
}

/// Paths listed per damaged blob.
pub const PATHS_PER_BLOB: usize = 20;

impl CheckReport {
    /// No errors.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The record of this check, for [`Repository::save_record`].
    #[must_use]
    pub fn record(&self, opts: &CheckOptions) -> Record {
        let mut rec = new_record(RecordKind::Check, self.start, self.end, &self.errors);
        rec.check = Some(CheckRecord {
            read_data: opts
                .read_data
                .map_or_else(|| "none".to_owned(), |rd| rd.to_string()),
            snapshots: self.snapshots as u64,
            packs: self.packs as u64,
            blobs: self.blobs as u64,
            bytes_read: self.bytes_read,
            damaged_blobs: self.damaged.len() as u64,
        });
        rec
    }
}

/// Runs a check. `_lock` is a shared lock the caller holds (a prune must
/// not delete packs under a check).
///
/// # Errors
/// Only failures to talk to the storage; damage is reported in the report.
pub fn check(
    repo: &Repository,
    opts: &CheckOptions,
    progress: &dyn Progress,
    _lock: &LockGuard,
) -> Result<CheckReport> {
    // what the storage holds, not the local cache
    let repo = &repo.without_cache();
    let mut r = CheckReport {
        start: now_ns(),
        ..CheckReport::default()
    };
    progress.phase("packs");
    let stored = repo.pack_sizes()?;
    r.packs = stored.len();
    let mut damage = Damage::default();
    // with --read-data the packs are read while the index loads and the
    // rest is checked: the storage and the cores are busy from the start
    // (the progress shows the reading, the longer part); a failure of the
    // rest stops the reading
    let (index, structure, read) = match opts.read_data {
        None => {
            progress.phase("index");
            let index = load_index(repo, &mut r)?;
            let s = structure(repo, &index, &stored, &mut damage, &mut r, progress);
            (index, s, None)
        }
        Some(rd) => {
            progress.phase("read-data");
            let stop = AtomicBool::new(false);
            let reader = Stoppable {
                inner: progress,
                stop: &stop,
            };
            let quiet = Quiet(progress);
            std::thread::scope(|s| {
                let reading = s.spawn(|| read_data(repo, &stored, rd, &reader));
                let rest = load_index(repo, &mut r).map(|index| {
                    let s = structure(repo, &index, &stored, &mut damage, &mut r, &quiet);
                    (index, s)
                });
                if !matches!(rest, Ok((_, Ok(_)))) {
                    stop.store(true, Ordering::Relaxed);
                }
                let read = reading
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p));
                rest.map(|(index, s)| (index, s, Some(read)))
            })?
        }
    };
    r.blobs = index.len();
    let (snapshots, usage) = structure?;
    r.blobs_used = usage.used_count;
    for d in usage.damage {
        r.errors.push(d.error.to_string());
        damage.by_id.insert(d.blob, d.error.to_string());
    }
    let unused = index.len() - usage.used_count;
    if unused > 0 {
        r.warnings.push(format!(
            "{unused} blobs are not used by any snapshot (prune removes them)"
        ));
    }
    if index.duplicates() > 0 {
        r.warnings.push(format!(
            "{} blobs are stored in more than one pack (only one copy is used)",
            index.duplicates()
        ));
    }
    if let Some(read) = read {
        record_reads(read, &stored, repo, &mut damage, &mut r);
    }
    if !damage.is_empty() {
        progress.phase("trace");
        trace(repo, &index, &snapshots, &damage, &mut r);
    }
    r.end = now_ns();
    Ok(r)
}

/// The snapshots and what they use.
type Structure = (
    Vec<(SnapshotId, crate::format::snapshot::Snapshot)>,
    crate::ops::usage::Usage,
);

/// The checks of everything but the packs' contents: the index against
/// the packs' headers, the snapshots, their trees.
fn structure(
    repo: &Repository,
    index: &MasterIndex,
    stored: &HashMap<PackId, u64>,
    damage: &mut Damage,
    r: &mut CheckReport,
    progress: &dyn Progress,
) -> Result<Structure> {
    check_packs(repo, index, stored, damage, r, progress);
    progress.phase("snapshots");
    let snapshots = load_snapshots(repo, r)?;
    r.snapshots = snapshots.len();
    progress.phase("trees");
    let usage = mark_used(repo, index, &snapshots, false)?;
    Ok((snapshots, usage))
}

/// A [`Progress`] that passes on only warnings and cancellation: for work
/// done beside another that shows the progress.
struct Quiet<'a>(&'a dyn Progress);

impl Progress for Quiet<'_> {
    fn warning(&self, path: &std::path::Path, message: &str) {
        self.0.warning(path, message);
    }
    fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// A [`Progress`] passed on whole that also cancels once `stop` is set:
/// the reading of `--read-data` when the rest of the check has failed.
struct Stoppable<'a> {
    inner: &'a dyn Progress,
    stop: &'a AtomicBool,
}

impl Progress for Stoppable<'_> {
    fn phase(&self, name: &str) {
        self.inner.phase(name);
    }
    fn total(&self, files: u64, bytes: u64) {
        self.inner.total(files, bytes);
    }
    fn current(&self, path: &std::path::Path) {
        self.inner.current(path);
    }
    fn advance(&self, files: u64, bytes: u64) {
        self.inner.advance(files, bytes);
    }
    fn warning(&self, path: &std::path::Path, message: &str) {
        self.inner.warning(path, message);
    }
    fn is_cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.inner.is_cancelled()
    }
}

/// What is known to be, or may be, damaged.
#[derive(Default)]
struct Damage {
    /// Blobs known damaged, with the reason.
    by_id: HashMap<BlobId, String>,
    /// Packs whose blobs may be damaged (missing, truncated, not matching
    /// their name): a blob there is damaged if it does not load on its own.
    suspect: HashMap<PackId, String>,
}

impl Damage {
    fn is_empty(&self) -> bool {
        self.by_id.is_empty() && self.suspect.is_empty()
    }
}

/// Names the snapshots and paths that use each damaged blob.
fn trace(
    repo: &Repository,
    index: &MasterIndex,
    snapshots: &[(SnapshotId, crate::format::snapshot::Snapshot)],
    damage: &Damage,
    r: &mut CheckReport,
) {
    // suspects are tried one by one, once each
    let tried: Mutex<HashMap<BlobId, Option<String>>> = Mutex::new(HashMap::new());
    let reason = |id: &BlobId| -> Option<String> {
        if let Some(why) = damage.by_id.get(id) {
            return Some(why.clone());
        }
        let loc = index.lookup(id)?;
        damage.suspect.get(&loc.pack)?;
        let mut tried = tried.lock().unwrap_or_else(PoisonError::into_inner);
        tried
            .entry(*id)
            .or_insert_with(|| repo.load_blob_at(id, &loc).err().map(|e| e.to_string()))
            .clone()
    };
    let found = affected_paths(repo, snapshots, &|id| reason(id).is_some(), PATHS_PER_BLOB);
    let mut order: Vec<BlobId> = Vec::new();
    let mut by_blob: HashMap<BlobId, Vec<(SnapshotId, Vec<u8>)>> = HashMap::new();
    for a in found {
        by_blob
            .entry(a.blob)
            .or_insert_with(|| {
                order.push(a.blob);
                Vec::new()
            })
            .push((a.snapshot, a.path));
    }
    for blob in order {
        let used_by = by_blob.remove(&blob).unwrap_or_default();
        let reason = reason(&blob).unwrap_or_else(|| "tree does not load".into());
        let mut paths: Vec<String> = used_by
            .iter()
            .take(3)
            .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
            .collect();
        if used_by.len() > 3 {
            paths.push("...".into());
        }
        r.errors.push(format!(
            "{reason}; it is used by {} in {} snapshots",
            paths.join(", "),
            used_by.iter().map(|u| u.0).collect::<HashSet<_>>().len()
        ));
        r.damaged.push(DamagedBlob {
            blob,
            reason,
            used_by,
        });
    }
}

/// Canonical blob positions of each pack, by pack number.
fn positions_by_pack(index: &MasterIndex) -> Vec<Vec<u32>> {
    let mut by_pack: Vec<Vec<u32>> = vec![Vec::new(); index.packs().len()];
    for pos in 0..index.len() {
        if let (Some(no), Ok(p)) = (index.pack_number_at(pos), u32::try_from(pos))
            && let Some(v) = by_pack.get_mut(no as usize)
        {
            v.push(p);
        }
    }
    by_pack
}

/// The index without the damaged files, installed as the repository's (so
/// tree loads use it, and it is held once).
fn load_index(repo: &Repository, r: &mut CheckReport) -> Result<Arc<MasterIndex>> {
    let loaded = repo.load_index(true)?;
    r.index_files = loaded.files;
    r.errors
        .extend(loaded.errors.iter().map(ToString::to_string));
    Ok(repo.install_index(loaded.index))
}

fn check_packs(
    repo: &Repository,
    index: &MasterIndex,
    stored: &HashMap<PackId, u64>,
    damage: &mut Damage,
    r: &mut CheckReport,
    progress: &dyn Progress,
) {
    let by_pack = positions_by_pack(index);
    progress.total(index.packs().len() as u64, 0);
    // (error?, message, pack whose blobs are suspect)
    let problems: Vec<(bool, String, Option<PackId>)> = index
        .packs()
        .par_iter()
        .enumerate()
        .flat_map_iter(|(no, id)| {
            progress.advance(1, 0);
            let mut out = Vec::new();
            let marked = index.is_obsolete(id);
            let Some(&size) = stored.get(id) else {
                let held = by_pack.get(no).map_or(0, Vec::len);
                if held > 0 {
                    out.push((
                        !marked,
                        format!("pack {id}: listed in the index ({held} blobs) but missing from storage"),
                        Some(*id),
                    ));
                }
                return out.into_iter();
            };
            let header = match repo.load_pack_header_sized(id, size) {
                Ok(h) => h,
                Err(e) => {
                    out.push((true, e.to_string(), Some(*id)));
                    return out.into_iter();
                }
            };
            let at: HashMap<u32, _> = header.iter().map(|e| (e.offset, e)).collect();
            for pos in by_pack.get(no).into_iter().flatten() {
                let Some(loc) = index.location_at(*pos as usize) else {
                    continue;
                };
                let ok = at.get(&loc.offset).is_some_and(|e| {
                    e.blob_type == loc.blob_type
                        && e.length == loc.length
                        && e.raw_length == loc.raw_length
                        && index.position(&e.id) == Some(*pos as usize)
                });
                if !ok {
                    out.push((
                        true,
                        format!(
                            "pack {id}: the index entry at offset {} does not match the pack header",
                            loc.offset
                        ),
                        Some(*id),
                    ));
                }
            }
            out.into_iter()
        })
        .collect();
    for (is_error, msg, suspect) in problems {
        if let Some(p) = suspect {
            damage.suspect.entry(p).or_insert_with(|| msg.clone());
        }
        if is_error {
            r.errors.push(msg);
        } else {
            r.warnings.push(msg);
        }
    }
    let indexed: std::collections::HashSet<&PackId> = index.packs().iter().collect();
    let loose = stored.keys().filter(|p| !indexed.contains(p)).count();
    if loose > 0 {
        r.warnings.push(format!(
            "{loose} packs are not in any index (left by an interrupted backup or prune, or a \
             backup still running; prune removes them after the grace period)"
        ));
    }
}

/// The snapshots that load; each that does not is an error naming it.
fn load_snapshots(
    repo: &Repository,
    r: &mut CheckReport,
) -> Result<Vec<(SnapshotId, crate::format::snapshot::Snapshot)>> {
    let (ok, bad) = repo.snapshots_readable()?;
    r.errors.extend(bad.iter().map(|(_, e)| e.to_string()));
    Ok(ok)
}

/// Adds what reading the packs found to the report and the damage.
fn record_reads(
    results: Vec<(PackId, PackRead, bool)>,
    stored: &HashMap<PackId, u64>,
    repo: &Repository,
    damage: &mut Damage,
    r: &mut CheckReport,
) {
    for (pack, (pack_error, bad), pieced) in results {
        r.packs_read += 1;
        if pieced {
            r.warnings.push(format!(
                "pack {pack} is {} bytes, more than this repository's packs can be ({}): \
                 verified in pieces",
                stored.get(&pack).copied().unwrap_or(0),
                repo.max_whole_pack()
            ));
        }
        r.bytes_read += stored.get(&pack).copied().unwrap_or(0);
        if let Some(e) = pack_error {
            r.errors.push(e.clone());
            damage.suspect.entry(pack).or_insert(e);
        }
        for (blob, e) in bad {
            r.errors.push(e.clone());
            damage.by_id.insert(blob, e);
        }
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
