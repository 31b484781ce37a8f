//! Synthetic repositories at scale, for benches of whole-repository
//! operations (prune, check) that real data would take hours to reach.
//!
//! [`build`] writes, through rdr-core's public API, `blobs` tiny data blobs
//! (each a distinct 16-byte plaintext, sealed like any chunk) in packs of
//! `blobs_per_pack`, index files of at most [`INDEX_FILE_BLOBS`] entries (as prune writes them), and
//! two snapshots of a directory tree whose files list those blobs:
//!
//! * `old` (two days ago) references every blob;
//! * `new` (a day ago) keeps the first 70% of the directories unchanged (the
//!   same tree blobs, as a real backup deduplicates them), references every
//!   4th blob of the next 10% through new directory trees, and drops the
//!   last 20%.
//!
//! Forgetting `old` then leaves, for prune: 20% of the data packs with no
//! used blob (deleted), 10% at a quarter used (repack candidates), the rest
//! fully used, and the old directory trees of the changed part unused.

use rayon::prelude::*;
use rdr_core::format::index::{IndexFile, IndexPack};
use rdr_core::format::snapshot::{Snapshot, Summary};
use rdr_core::format::tree::{Node, NodeKind, Tree};
use rdr_core::format::{BlobType, FORMAT_VERSION};
use rdr_core::repo::INDEX_FILE_BLOBS;
use rdr_core::repo::{Packer, PackerOptions};
use rdr_core::{BlobId, Repository, Result, SnapshotId};

/// Plaintext bytes per synthetic data blob.
const BLOB_BYTES: usize = 16;

/// The shape of a synthetic repository.
#[derive(Debug, Clone, Copy)]
pub struct SynthSpec {
    /// Data blobs in total.
    pub blobs: u64,
    /// Data blobs per pack (the pack count is `blobs / blobs_per_pack`).
    pub blobs_per_pack: u32,
    /// Data blobs listed by each file node.
    pub blobs_per_file: u32,
    /// File nodes per directory tree.
    pub files_per_dir: u32,
}

impl Default for SynthSpec {
    /// Ten million blobs, 64 per pack (156,250 packs), 1,000 per file,
    /// 100 files per directory (100 directories).
    fn default() -> Self {
        Self {
            blobs: 10_000_000,
            blobs_per_pack: 64,
            blobs_per_file: 1_000,
            files_per_dir: 100,
        }
    }
}

impl SynthSpec {
    fn blobs_per_dir(&self) -> u64 {
        u64::from(self.blobs_per_file) * u64::from(self.files_per_dir)
    }

    /// Number of directories (the last may be partial).
    #[must_use]
    pub fn dirs(&self) -> u64 {
        self.blobs.div_ceil(self.blobs_per_dir())
    }

    /// Directories `new` keeps unchanged, and the end of the sparse ones.
    fn cuts(&self) -> (u64, u64) {
        let d = self.dirs();
        (d * 7 / 10, d * 8 / 10)
    }

    /// Data blobs the `new` snapshot references.
    #[must_use]
    pub fn blobs_kept(&self) -> u64 {
        let (keep, sparse) = self.cuts();
        let range = |from: u64, to: u64| {
            let per = self.blobs_per_dir();
            (from * per).min(self.blobs)..(to * per).min(self.blobs)
        };
        let full = range(0, keep);
        let part = range(keep, sparse);
        (full.end - full.start) + part.filter(|i| i % 4 == 0).count() as u64
    }
}

/// What [`build`] wrote.
#[derive(Debug, Clone, Default)]
pub struct SynthReport {
    /// Data blobs.
    pub data_blobs: u64,
    /// Tree blobs (both snapshots).
    pub tree_blobs: u64,
    /// Packs (data and tree).
    pub packs: u64,
    /// Bytes of packs.
    pub pack_bytes: u64,
    /// Index files.
    pub index_files: u64,
    /// The snapshot referencing every blob.
    pub old: SnapshotId,
    /// The snapshot referencing the kept part.
    pub new: SnapshotId,
}

/// The plaintext of data blob `i`.
fn plaintext(i: u64) -> [u8; BLOB_BYTES] {
    let mut p = [0u8; BLOB_BYTES];
    p[..8].copy_from_slice(&i.to_le_bytes());
    p[8..].copy_from_slice(b"synthblb");
    p
}

/// Writes one pack holding data blobs `range`; returns its index entries.
fn write_pack(repo: &Repository, range: std::ops::Range<u64>) -> Result<Vec<IndexPack>> {
    let packer = repo.packer(PackerOptions {
        open_data_packs: 1,
        uploaders: 1,
        max_bytes_in_flight: 64 << 20,
    });
    for i in range {
        let p = plaintext(i);
        let id = repo.blob_id(&p);
        let sealed = repo.seal_blob(BlobType::Data, &id, &p);
        packer.add(BlobType::Data, id, &sealed, BLOB_BYTES as u32)?;
    }
    packer.finish()
}

fn save_index(repo: &Repository, packs: Vec<IndexPack>, report: &mut SynthReport) -> Result<()> {
    report.packs += packs.len() as u64;
    let mut f = IndexFile::new();
    f.packs = packs;
    repo.save_index(&f)?;
    report.index_files += 1;
    Ok(())
}

/// Tree blobs of one snapshot under construction, packed as they come.
struct Trees<'a> {
    repo: &'a Repository,
    packer: Packer,
    written: std::collections::HashSet<BlobId>,
}

impl Trees<'_> {
    fn save(&mut self, mut tree: Tree) -> Result<BlobId> {
        tree.sort();
        let bytes = tree.encode();
        let id = self.repo.blob_id(&bytes);
        if self.written.insert(id) {
            let sealed = self.repo.seal_blob(BlobType::Tree, &id, &bytes);
            let raw = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            self.packer.add(BlobType::Tree, id, &sealed, raw)?;
        }
        Ok(id)
    }

    /// A directory of files listing the blobs of `blobs` that `keep` selects.
    fn dir(&mut self, spec: &SynthSpec, d: u64, keep: impl Fn(u64) -> bool) -> Result<BlobId> {
        let per_dir = spec.blobs_per_dir();
        let per_file = u64::from(spec.blobs_per_file);
        let start = d * per_dir;
        let end = (start + per_dir).min(spec.blobs);
        let mut tree = Tree::default();
        let mut first = start;
        while first < end {
            let last = (first + per_file).min(end);
            let mut node = Node::new(format!("file-{first:010}").as_bytes(), NodeKind::File);
            node.mode = 0o644;
            node.content = (first..last)
                .filter(|&i| keep(i))
                .map(|i| self.repo.blob_id(&plaintext(i)))
                .collect();
            node.size = node.content.len() as u64 * BLOB_BYTES as u64;
            tree.nodes.push(node);
            first = last;
        }
        self.save(tree)
    }
}

fn dir_node(d: u64, subtree: BlobId) -> Node {
    let mut node = Node::new(format!("dir-{d:06}").as_bytes(), NodeKind::Dir);
    node.mode = 0o755;
    node.subtree = Some(subtree);
    node
}

fn snapshot(tree: BlobId, age_days: i64) -> Snapshot {
    let now = rdr_core::time::now_ns() / 1_000_000_000;
    Snapshot {
        version: FORMAT_VERSION,
        time: (now - age_days * 86_400) * 1_000_000_000,
        tree,
        paths: vec!["/synthetic".to_owned()],
        hostname: "synth".to_owned(),
        username: "bench".to_owned(),
        uid: 0,
        gid: 0,
        tags: Vec::new(),
        parent: None,
        original: None,
        program_version: format!("rdr-benches synth {}", env!("CARGO_PKG_VERSION")),
        excludes: Vec::new(),
        stream: None,
        incomplete: None,
        summary: Summary::default(),
    }
}

/// Builds the synthetic repository described in the module docs into `repo`
/// (which should be empty: the caller is its only writer). `progress` is
/// called with the number of data blobs written so far.
///
/// # Errors
/// Storage errors.
pub fn build(
    repo: &Repository,
    spec: &SynthSpec,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SynthReport> {
    assert!(spec.blobs_per_pack > 0 && spec.blobs_per_file > 0 && spec.files_per_dir > 0);
    let mut report = SynthReport::default();
    let per_pack = u64::from(spec.blobs_per_pack);
    let packs_per_file = (INDEX_FILE_BLOBS as u64 / per_pack).max(1);
    let total_packs = spec.blobs.div_ceil(per_pack);
    // Data packs, built in parallel, one index file per batch.
    let mut p = 0;
    while p < total_packs {
        let batch = p..(p + packs_per_file).min(total_packs);
        let packs: Vec<Vec<IndexPack>> = batch
            .clone()
            .into_par_iter()
            .map(|n| write_pack(repo, n * per_pack..((n + 1) * per_pack).min(spec.blobs)))
            .collect::<Result<_>>()?;
        save_index(repo, packs.into_iter().flatten().collect(), &mut report)?;
        p = batch.end;
        progress((p * per_pack).min(spec.blobs));
    }
    report.data_blobs = spec.blobs;

    // Trees: old references everything, new the kept part (module docs).
    let mut trees = Trees {
        repo,
        packer: repo.packer(PackerOptions::default()),
        written: std::collections::HashSet::new(),
    };
    let (keep, sparse) = spec.cuts();
    let mut old_root = Tree::default();
    let mut new_root = Tree::default();
    for d in 0..spec.dirs() {
        let all = trees.dir(spec, d, |_| true)?;
        old_root.nodes.push(dir_node(d, all));
        if d < keep {
            new_root.nodes.push(dir_node(d, all));
        } else if d < sparse {
            let quarter = trees.dir(spec, d, |i| i % 4 == 0)?;
            new_root.nodes.push(dir_node(d, quarter));
        }
    }
    let old_tree = trees.save(old_root)?;
    let new_tree = trees.save(new_root)?;
    report.tree_blobs = trees.written.len() as u64;
    let tree_packs = trees.packer.finish()?;
    save_index(repo, tree_packs, &mut report)?;
    report.old = repo.save_snapshot(&snapshot(old_tree, 2))?;
    report.new = repo.save_snapshot(&snapshot(new_tree, 1))?;
    report.pack_bytes = repo.pack_sizes()?.values().sum();
    Ok(report)
}

#[cfg(test)]
mod tests {

    use rdr_core::ops::check::{CheckOptions, ReadData, check};
    use rdr_core::ops::forget::forget_ids;
    use rdr_core::ops::progress::NoProgress;
    use rdr_core::ops::prune::{PruneOptions, prune};
    use rdr_core::{Credential, InitOptions, LockHolder, LockKind, NewKey, Storage};

    use super::*;

    fn repo() -> Repository {
        let b = Storage::memory().unwrap();
        let key = NewKey::Passphrase {
            passphrase: "synth".to_owned().into(),
            log_n: 10,
        };
        let opts = InitOptions::default();
        Repository::init(&b, &opts, &key, &LockHolder::current()).unwrap();
        Repository::open(&b, &Credential::Passphrase("synth")).unwrap()
    }

    /// The bench's repository is valid, and pruning it after forgetting the
    /// old snapshot deletes, repacks and keeps exactly what the docs say.
    #[test]
    fn a_synthetic_repository_checks_and_prunes_as_designed() {
        let repo = repo();
        let spec = SynthSpec {
            blobs: 20_050,
            blobs_per_pack: 50,
            blobs_per_file: 100,
            files_per_dir: 20,
        };
        assert_eq!(spec.dirs(), 11);
        let r = build(&repo, &spec, &|_| {}).unwrap();
        assert_eq!(r.packs, 401 + 1);
        assert_eq!(r.index_files, 2);
        // 11 full directory trees, 1 sparse one (dirs 7..8), two roots.
        assert_eq!(r.tree_blobs, 11 + 1 + 2);
        let lock = repo
            .lock(LockKind::ExclusiveWithBackups, &LockHolder::current())
            .unwrap();
        let read_all = CheckOptions {
            read_data: Some(ReadData::All),
        };
        let c = check(&repo, &read_all, &NoProgress, &lock).unwrap();
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.blobs_used, 20_050 + 14);

        forget_ids(&repo, &[r.old], false, &lock).unwrap();
        let opts = PruneOptions {
            instant_delete: true,
            ..PruneOptions::default()
        };
        let p = prune(&repo, &opts, &NoProgress, &lock).unwrap();
        // Dirs 0..7 kept (14,000 blobs), every 4th of dir 7 (500).
        assert_eq!(spec.blobs_kept(), 14_500);
        assert_eq!(p.blobs_used as u64, 14_500 + 7 + 1 + 1);
        // Dirs 8..11: 4,050 blobs in 81 packs with nothing used; dir 7's
        // 40 packs are a quarter used, and so is the tree pack: repacked.
        assert_eq!((p.deleted.packs, p.repacked.packs), (81, 41), "{p:?}");
        let c = check(&repo, &read_all, &NoProgress, &lock).unwrap();
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert_eq!(c.blobs, c.blobs_used, "{c:?}");
    }
}
