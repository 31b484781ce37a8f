//! `copy`: snapshots from one repository into another, which may have other
//! keys, another chunker secret and another backend.
//!
//! Blobs keep the source's chunking; each is opened with the source's key,
//! identified with the destination's id key, and sealed with the
//! destination's data key. Trees are rewritten bottom-up with the new ids.
//! Only what the destination lacks is read and stored:
//!
//! * When both repositories share their blob identity (a destination made
//!   with `init --copy-chunker-params`), a blob or a whole subtree the
//!   destination already holds is skipped by its id without reading it.
//! * Otherwise the source id → destination id map is learnt from snapshots
//!   copied earlier: the copy of a snapshot has the same tree shape as its
//!   original, so walking both trees side by side pairs every subtree and
//!   every chunk, with no data read. A subtree unchanged since the last
//!   copy of its group then costs one lookup.
//!
//! Each copied snapshot records the id it came from (`original`, or the
//! source's own `original` when it has one), and a snapshot the destination
//! already holds a copy of (same original, time and tags) is skipped.
//! Writes follow backup's order: packs, index files, then the snapshot, and
//! the destination holds a backup lock, so an interrupted copy leaves
//! indexed data that the next copy reuses and no snapshot.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{NodeKind, Tree};
use crate::id::{BlobId, SnapshotId};
use crate::ops::backup::adopt;
use crate::ops::backup::saver::Saver;
use crate::ops::nav::MAX_DEPTH;
use crate::ops::progress::Progress;
use crate::ops::repair::REPAIRED_TAG;
use crate::ops::select::SnapshotFilter;
use crate::repo::{LockHolder, LockKind, Repository};

/// Blobs read ahead of the writer, at most (besides those being read).
const READ_AHEAD: usize = 8;

/// Options of a copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Only these source snapshots (empty: all that pass `filter`).
    pub snapshots: Vec<SnapshotId>,
    /// Which source snapshots to copy.
    pub filter: SnapshotFilter,
    /// Report what would be copied; store nothing.
    pub dry_run: bool,
    /// Seal threads (default: one more than the available cores: a seal
    /// worker waits in the pack writes, and the extra one keeps the cores
    /// busy meanwhile; measured 0.80x -> 0.86x a backup's speed on the
    /// random set, docs/performance.md).
    pub threads: usize,
    /// Write an index file at least this often while uploading.
    pub index_interval: std::time::Duration,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            snapshots: Vec::new(),
            filter: SnapshotFilter::default(),
            dry_run: false,
            threads: std::thread::available_parallelism().map_or(2, std::num::NonZero::get) + 1,
            index_interval: std::time::Duration::from_secs(60),
        }
    }
}

/// One snapshot copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The snapshot in the source.
    pub source: SnapshotId,
    /// Its copy in the destination (`None` in a dry run).
    pub target: Option<SnapshotId>,
}

/// What a copy did.
#[derive(Debug, Clone, Default)]
pub struct CopyReport {
    /// Snapshots copied, oldest first.
    pub copied: Vec<Copied>,
    /// Source snapshots whose copy the destination already holds.
    pub skipped: Vec<SnapshotId>,
    /// Data blobs stored in the destination.
    pub data_blobs: u64,
    /// Tree blobs stored in the destination.
    pub tree_blobs: u64,
    /// Plaintext bytes stored.
    pub bytes_added: u64,
    /// Sealed bytes stored.
    pub bytes_added_stored: u64,
    /// Plaintext bytes read from the source.
    pub bytes_read: u64,
    /// Packs of an interrupted earlier copy or backup that were indexed first.
    pub adopted_packs: usize,
    /// Seconds the copy took.
    pub seconds: f64,
}

impl CopyReport {
    /// The report as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let copied: Vec<_> = self
            .copied
            .iter()
            .map(|c| serde_json::json!({"source": c.source.to_hex(), "target": c.target.map(|t| t.to_hex())}))
            .collect();
        let skipped: Vec<String> = self.skipped.iter().map(SnapshotId::to_hex).collect();
        serde_json::json!({
            "message_type": "summary", "copied": copied, "skipped": skipped,
            "data_blobs": self.data_blobs, "tree_blobs": self.tree_blobs,
            "data_added": self.bytes_added, "data_added_packed": self.bytes_added_stored,
            "bytes_read": self.bytes_read, "adopted_packs": self.adopted_packs,
            "total_duration": self.seconds,
        })
    }
}

impl serde::Serialize for CopyReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

/// What identifies a snapshot across copies: the id of the first snapshot
/// of its line, its time and its tags (a tag edit or a repair makes a new
/// snapshot that is copied again).
fn lineage(id: &SnapshotId, s: &Snapshot) -> (SnapshotId, i64, Vec<String>) {
    (s.original.unwrap_or(*id), s.time, s.tags.clone())
}

/// Copies snapshots of `src` into `dst`.
///
/// # Errors
/// Storage and repository errors of either side; [`Error::Corrupt`] when a
/// source blob does not verify; [`Error::Cancelled`]. The destination then
/// holds indexed data the next copy reuses, and no new snapshot.
pub fn copy(
    src: &Repository,
    dst: &Repository,
    opts: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport> {
    let started = std::time::Instant::now();
    if src.config().id == dst.config().id {
        return Err(Error::InvalidInput(
            "source and destination are the same repository".into(),
        ));
    }
    let holder = LockHolder::current();
    let _src_lock = src.lock(LockKind::Shared, &holder)?;
    let _dst_lock = if opts.dry_run {
        None
    } else {
        Some(dst.lock(LockKind::Backup, &holder)?)
    };
    let mut report = CopyReport::default();
    if !opts.dry_run {
        // afresh under the lock, as a backup does
        dst.reload_index()?;
        report.adopted_packs = adopt::adopt_orphans(dst, &holder)?.packs;
    }
    let wanted: HashSet<SnapshotId> = opts.snapshots.iter().copied().collect();
    let mut todo: Vec<(SnapshotId, Snapshot)> = src
        .snapshots()?
        .into_iter()
        .filter(|(id, s)| (wanted.is_empty() || wanted.contains(id)) && opts.filter.matches(s))
        .collect();
    if let Some(missing) = opts
        .snapshots
        .iter()
        .find(|id| !todo.iter().any(|(t, _)| t == *id))
    {
        return Err(Error::NotFound(format!(
            "snapshot {} is not in the source or does not match the filter",
            missing.short()
        )));
    }
    todo.sort_by_key(|(_, s)| s.time);
    let existing = dst.snapshots()?;
    let present: HashMap<_, SnapshotId> = existing
        .iter()
        .map(|(id, s)| (lineage(id, s), *id))
        .collect();
    let mut copier = Copier::new(src, dst, opts);
    let mut copied_ids: HashMap<SnapshotId, SnapshotId> = HashMap::new();
    let mut outcome = Ok(());
    for (id, snap) in &todo {
        if let Some(d) = present.get(&lineage(id, snap)) {
            report.skipped.push(*id);
            copied_ids.insert(*id, *d);
            continue;
        }
        progress.current(std::path::Path::new(&format!("snapshot {}", id.short())));
        let res = copier
            .learn_from_group(snap, &existing, progress)
            .and_then(|()| copier.start_saver())
            .and_then(|()| copier.snapshot_tree(&snap.tree, progress))
            .and_then(|tree| {
                let mut new = snap.clone();
                new.tree = tree;
                new.original = Some(snap.original.unwrap_or(*id));
                new.parent = snap.parent.and_then(|p| copied_ids.get(&p).copied());
                // data and index first: the snapshot only names what is indexed
                copier.finish_saver(&mut report)?;
                if opts.dry_run {
                    return Ok(None);
                }
                dst.save_snapshot(&new).map(Some)
            });
        match res {
            Ok(target) => {
                if let Some(t) = target {
                    copied_ids.insert(*id, t);
                }
                report.copied.push(Copied {
                    source: *id,
                    target,
                });
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    // what was uploaded is indexed in every case
    let finished = copier.finish_saver(&mut report);
    report.bytes_read = copier.bytes_read;
    outcome?;
    finished?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

struct Copier<'a> {
    src: &'a Repository,
    dst: &'a Repository,
    opts: &'a CopyOptions,
    /// The destination's writer, one per snapshot (finished before the
    /// snapshot is saved).
    saver: Option<Saver>,
    /// Both repositories compute the same blob ids.
    same_ids: bool,
    /// Source blob id → destination blob id (data and trees).
    map: HashMap<BlobId, BlobId>,
    /// Destination snapshots already walked for the map.
    learnt: HashSet<SnapshotId>,
    bytes_read: u64,
}

impl<'a> Copier<'a> {
    fn new(src: &'a Repository, dst: &'a Repository, opts: &'a CopyOptions) -> Self {
        let probe = b"rdr copy: do both repositories compute the same blob ids?";
        Self {
            src,
            dst,
            opts,
            saver: None,
            same_ids: src.blob_id(probe) == dst.blob_id(probe),
            map: HashMap::new(),
            learnt: HashSet::new(),
            bytes_read: 0,
        }
    }

    fn start_saver(&mut self) -> Result<()> {
        if self.saver.is_none() {
            let o = self.opts;
            self.saver = Some(Saver::new(
                self.dst,
                o.threads,
                o.dry_run,
                o.index_interval,
            )?);
        }
        Ok(())
    }

    fn saver(&mut self) -> Result<&mut Saver> {
        self.saver
            .as_mut()
            .ok_or_else(|| Error::InvalidInput("copy writer not started".into()))
    }

    /// The destination id of a source blob, when known without reading it.
    fn known(&self, src_id: &BlobId) -> Option<BlobId> {
        let d = if self.same_ids {
            *src_id
        } else {
            *self.map.get(src_id)?
        };
        self.saver.as_ref()?.knows(&d).then_some(d)
    }

    /// Walks the newest earlier copy of the snapshot's group (same host and
    /// paths; else the same paths; else any) side by side with its
    /// original, to learn their id map.
    fn learn_from_group(
        &mut self,
        snap: &Snapshot,
        existing: &[(SnapshotId, Snapshot)],
        progress: &dyn Progress,
    ) -> Result<()> {
        if self.same_ids {
            return Ok(());
        }
        let Some((copy_id, copy)) = existing
            .iter()
            .filter(|(_, s)| s.original.is_some() && !s.tags.iter().any(|t| t == REPAIRED_TAG))
            .max_by_key(|(_, s)| {
                let paths = s.paths == snap.paths;
                (paths && s.hostname == snap.hostname, paths, s.time)
            })
        else {
            return Ok(());
        };
        if !self.learnt.insert(*copy_id) {
            return Ok(());
        }
        // the original, or the source snapshot that has the same original
        let Some(orig) = copy.original else {
            return Ok(());
        };
        let source_tree = match self.src.load_snapshot(&orig) {
            Ok(s) if s.time == copy.time => Some(s.tree),
            _ => self
                .src
                .snapshots()?
                .into_iter()
                .find(|(id, s)| {
                    lineage(id, s) == (orig, copy.time, copy.tags.clone())
                        && !s.tags.iter().any(|t| t == REPAIRED_TAG)
                })
                .map(|(_, s)| s.tree),
        };
        if let Some(t) = source_tree {
            progress.phase("learning from the last copy");
            self.pair(t, copy.tree, progress)?;
        }
        Ok(())
    }

    /// Pairs two trees of the same shape: their subtrees and chunks.
    fn pair(&mut self, src_root: BlobId, dst_root: BlobId, progress: &dyn Progress) -> Result<()> {
        let mut stack = vec![(src_root, dst_root)];
        while let Some((s, d)) = stack.pop() {
            if progress.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if self.map.insert(s, d).is_some() {
                continue;
            }
            let (Ok(st), Ok(dt)) = (self.src.load_tree(&s), self.dst.load_tree(&d)) else {
                self.map.remove(&s);
                continue;
            };
            if st.nodes.len() != dt.nodes.len() {
                self.map.remove(&s);
                continue;
            }
            for (a, b) in st.nodes.iter().zip(&dt.nodes) {
                if a.name != b.name || a.kind != b.kind {
                    continue;
                }
                match (&a.subtree, &b.subtree) {
                    (Some(x), Some(y)) => stack.push((*x, *y)),
                    _ if a.content.len() == b.content.len() => {
                        for (x, y) in a.content.iter().zip(&b.content) {
                            self.map.insert(*x, *y);
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Copies a snapshot's tree: first every data blob the destination
    /// lacks, read ahead of the writer so reading, sealing and writing
    /// overlap across the whole snapshot, then the trees bottom-up.
    fn snapshot_tree(&mut self, root: &BlobId, progress: &dyn Progress) -> Result<BlobId> {
        let wanted = self.missing_data(root, progress)?;
        self.fetch_all(&wanted, progress)?;
        self.tree(root, 0, progress)
    }

    /// The source data blobs under `root` the destination lacks, in tree
    /// order, each once; subtrees the destination has are skipped.
    fn missing_data(&self, root: &BlobId, progress: &dyn Progress) -> Result<Vec<BlobId>> {
        let mut wanted = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(*root, 0usize)];
        while let Some((id, depth)) = stack.pop() {
            if progress.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if self.known(&id).is_some() || !seen.insert(id) {
                continue;
            }
            if depth > MAX_DEPTH {
                return Err(Error::InvalidInput(format!(
                    "tree {id}: trees nested more than {MAX_DEPTH} levels deep"
                )));
            }
            let tree = self.src.load_tree(&id)?;
            for node in tree.nodes.iter().rev() {
                if let Some(sub) = node.subtree {
                    stack.push((sub, depth + 1));
                }
            }
            for node in &tree.nodes {
                for c in &node.content {
                    if self.known(c).is_none() && seen.insert(*c) {
                        wanted.push(*c);
                    }
                }
            }
        }
        Ok(wanted)
    }

    /// Reads `wanted` on reader threads while this thread hands what was
    /// read to the seal workers. Reads are I/O (a local pack is read with
    /// O_DIRECT, a remote one over the network) and CPU (opening), so there
    /// are as many readers as cores or connections, and always more
    /// than one; the order blobs arrive in does not matter.
    fn fetch_all(&mut self, wanted: &[BlobId], progress: &dyn Progress) -> Result<()> {
        let (src, dst, same) = (self.src, self.dst, self.same_ids);
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        // (more readers than that measured no faster on a local disk, with
        // more memory; a remote source gets one per connection)
        let readers = cores.max(src.connections()).clamp(2, 16).min(wanted.len());
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (tx, rx) =
            crossbeam_channel::bounded::<Result<(BlobId, BlobId, bytes::Bytes)>>(READ_AHEAD);
        std::thread::scope(|s| {
            for _ in 0..readers {
                let (tx, next) = (tx.clone(), &next);
                s.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(id) = wanted.get(i) else { return };
                        // one hash per chunk: the source id verified when it
                        // is also the destination id, else the new id computed
                        // (the AEAD binds the source id either way)
                        let r = src.read_blob_owned(id, same).map(|plain| {
                            let new = if same { *id } else { dst.blob_id(&plain) };
                            (*id, new, plain)
                        });
                        let failed = r.is_err();
                        if tx.send(r).is_err() || failed {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            let res = (|| {
                for r in &rx {
                    if progress.is_cancelled() {
                        return Err(Error::Cancelled);
                    }
                    let (src_id, id, plain) = r?;
                    self.store(src_id, id, plain, progress)?;
                }
                Ok(())
            })();
            // an early return stops the readers: no more ids, no receiver
            next.store(wanted.len(), std::sync::atomic::Ordering::Relaxed);
            drop(rx);
            res
        })
    }

    fn store(
        &mut self,
        src_id: BlobId,
        id: BlobId,
        plain: bytes::Bytes,
        progress: &dyn Progress,
    ) -> Result<()> {
        self.bytes_read += plain.len() as u64;
        progress.advance(0, plain.len() as u64);
        self.saver()?.save_data_as(id, plain)?;
        if !self.same_ids {
            self.map.insert(src_id, id);
        }
        Ok(())
    }

    /// Writes a source tree with its chunks' new ids (all stored by
    /// [`Self::fetch_all`]), its subtrees first; returns its new id.
    fn tree(&mut self, src_id: &BlobId, depth: usize, progress: &dyn Progress) -> Result<BlobId> {
        if let Some(d) = self.known(src_id) {
            return Ok(d);
        }
        if depth > MAX_DEPTH {
            return Err(Error::InvalidInput(format!(
                "tree {src_id}: trees nested more than {MAX_DEPTH} levels deep"
            )));
        }
        let mut tree: Tree = self.src.load_tree(src_id)?;
        for node in &mut tree.nodes {
            if progress.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if let Some(sub) = node.subtree {
                node.subtree = Some(self.tree(&sub, depth + 1, progress)?);
            }
            if node.kind == NodeKind::File {
                progress.advance(1, 0);
            }
            // every chunk was stored by `fetch_all` before the trees
            for c in &mut node.content {
                *c = self
                    .known(c)
                    .ok_or_else(|| Error::InvalidInput(format!("blob {c} was not copied")))?;
            }
        }
        let new = self.saver()?.save_tree(&tree)?;
        if !self.same_ids {
            self.map.insert(*src_id, new);
        }
        Ok(new)
    }

    /// Waits for every upload and writes the index of what was uploaded.
    fn finish_saver(&mut self, report: &mut CopyReport) -> Result<()> {
        let Some(saver) = self.saver.take() else {
            return Ok(());
        };
        let c = std::sync::Arc::clone(&saver.counters);
        let res = saver.finish();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        report.data_blobs += load(&c.data_blobs);
        report.tree_blobs += load(&c.tree_blobs);
        report.bytes_added += load(&c.bytes_added);
        report.bytes_added_stored += load(&c.bytes_added_stored);
        res
    }
}
