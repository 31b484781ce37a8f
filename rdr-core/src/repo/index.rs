//! The in-memory master index, built for scale.
//!
//! Each blob takes one 37-byte record in a single sorted array:
//! `id prefix (23) ‖ pack number | type bit (u32) ‖ offset (u32) ‖
//! length (u24) ‖ raw length (u24)`, plus a table of pack ids (32 bytes per
//! pack) and a 2^16-entry radix table over the first two id bytes. That is
//! ≤ 40 bytes per blob including the pack table at ≥ 11 blobs per pack.
//! Blobs too large for the 24-bit fields (trees above 16 MiB) live in a
//! small overflow map.
//!
//! Ids are compared on their first 23 bytes (184 bits). Ids are keyed
//! BLAKE3, so without the key nobody can aim at a prefix, and the chance
//! that two of 2^32 blobs share one by accident is about 2^-121.
//!
//! Lookups are lock-free (the structure is immutable once built).

use std::collections::{HashMap, HashSet};

use crate::format::BlobType;
use crate::format::index::{IndexFile, IndexPack};
use crate::id::{BlobId, IndexId, PackId};

use super::id_sets::{PREFIX, SortedTable, prefix};

const RECORD: usize = 37;
const TREE_BIT: u32 = 1 << 31;
const U24_MAX: u32 = (1 << 24) - 1;

/// Where a blob is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLocation {
    /// The pack holding it.
    pub pack: PackId,
    /// Data or tree.
    pub blob_type: BlobType,
    /// Offset of the sealed blob in the pack.
    pub offset: u32,
    /// Sealed length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

type Record = [u8; RECORD];

/// The master index: blob id → [`BlobLocation`] for every blob in every index file.
///
/// A blob stored in several packs keeps one location, a pack not marked
/// obsolete when there is one. Every blob has a dense *position*
/// (`0..len()`), so callers can keep per-blob state in a bitmap.
pub struct MasterIndex {
    table: SortedTable<RECORD>,
    packs: Vec<PackId>,
    /// Obsolete flag by pack number.
    obsolete_no: Vec<bool>,
    /// Sorted by prefix; positions follow the table's.
    overflow: Vec<([u8; PREFIX], u32, BlobLocation)>,
    obsolete: HashMap<PackId, i64>,
    /// The index files it was built from (superseded ones included).
    files: Vec<IndexId>,
    superseded: HashSet<IndexId>,
    /// Entries dropped because another copy of the blob was kept.
    duplicates: usize,
}

impl std::fmt::Debug for MasterIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MasterIndex({} blobs, {} packs)",
            self.len(),
            self.packs.len()
        )
    }
}

/// One index file reduced to what the master index keeps (37 bytes a
/// blob), so that a large repository never holds decoded index files and
/// the master index at once.
pub(crate) struct IndexPart {
    id: IndexId,
    supersedes: Vec<IndexId>,
    builder: Builder,
}

impl IndexPart {
    /// Reduces a decoded index file.
    #[must_use]
    pub(crate) fn new(id: IndexId, file: &IndexFile) -> Self {
        let mut builder = Builder {
            records: Vec::with_capacity(file.blob_count()),
            ..Builder::default()
        };
        for p in &file.packs {
            builder.add_pack(p);
        }
        for o in &file.obsolete {
            builder.mark(o.id, o.marked_at);
        }
        Self {
            id,
            supersedes: file.supersedes.clone(),
            builder,
        }
    }
}

/// Builds a master index from index files merged one at a time, in any
/// order, each as soon as it is reduced: the record array grows in place,
/// and the reduced file is freed, so loading needs the index plus one file
/// per thread, never the reduced files and the index at once.
#[derive(Default)]
pub(crate) struct IndexLoader {
    builder: Builder,
    files: Vec<IndexId>,
    supersedes: HashSet<IndexId>,
}

impl IndexLoader {
    /// Merges one reduced file.
    pub(crate) fn merge(&mut self, part: IndexPart) {
        self.supersedes.extend(part.supersedes);
        self.files.push(part.id);
        self.builder.merge(part.builder);
    }

    /// Adds packs read from their own headers (no index file lists them).
    pub(crate) fn add_packs(&mut self, packs: &[IndexPack]) {
        for p in packs {
            self.builder.add_pack(p);
        }
    }

    /// Every file that a merged file supersedes.
    pub(crate) fn superseded(&self) -> &HashSet<IndexId> {
        &self.supersedes
    }

    /// Whether a merged file is superseded by another merged file (the
    /// index must then be built again without it).
    pub(crate) fn has_stale(&self) -> bool {
        self.files.iter().any(|f| self.supersedes.contains(f))
    }

    /// The index. `skipped`: superseded files left out (they are still
    /// reported by [`MasterIndex::files`], so a prune deletes them).
    pub(crate) fn finish(self, skipped: impl IntoIterator<Item = IndexId>) -> MasterIndex {
        let mut idx = self.builder.finish();
        let mut superseded = self.supersedes;
        idx.files = self.files;
        for id in skipped {
            superseded.insert(id);
            idx.files.push(id);
        }
        idx.superseded = superseded;
        idx
    }
}

impl MasterIndex {
    #[cfg(any(test, feature = "internals"))]
    /// Builds the index from decoded index files. A file that another file
    /// supersedes is skipped (a compaction that crashed before deleting it).
    #[must_use]
    pub fn from_files(files: &[(IndexId, IndexFile)]) -> Self {
        let superseded: HashSet<IndexId> = files
            .iter()
            .flat_map(|(_, f)| f.supersedes.iter().copied())
            .collect();
        let mut loader = IndexLoader::default();
        let mut skipped = Vec::new();
        for (id, f) in files {
            if superseded.contains(id) {
                skipped.push(*id);
            } else {
                loader.merge(IndexPart::new(*id, f));
            }
        }
        loader.finish(skipped)
    }

    /// Index entries left out because the same blob is stored in another
    /// pack too (one copy is used).
    #[must_use]
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// The index files this index was built from, superseded ones included.
    #[must_use]
    pub fn files(&self) -> &[IndexId] {
        &self.files
    }

    /// Whether another index file supersedes this one (it is ignored).
    #[must_use]
    pub fn is_superseded(&self, id: &IndexId) -> bool {
        self.superseded.contains(id)
    }

    #[cfg(any(test, feature = "internals"))]
    /// Builds an index from packs directly (tests, benches).
    #[must_use]
    pub fn from_packs<'a>(packs: impl IntoIterator<Item = &'a IndexPack>) -> Self {
        let mut b = Builder::default();
        for p in packs {
            b.add_pack(p);
        }
        b.finish()
    }

    /// Where a blob is stored.
    #[must_use]
    pub fn lookup(&self, id: &BlobId) -> Option<BlobLocation> {
        self.position(id).and_then(|i| self.location_at(i))
    }

    /// Whether the index holds a blob (in any pack, obsolete or not).
    #[must_use]
    pub fn contains(&self, id: &BlobId) -> bool {
        self.position(id).is_some()
    }

    /// Whether the blob is stored in a pack not marked obsolete: what a
    /// backup may reuse. A blob only in marked packs is stored again.
    #[must_use]
    pub fn contains_live(&self, id: &BlobId) -> bool {
        self.position(id)
            .and_then(|i| self.pack_number_at(i))
            .is_some_and(|no| !self.obsolete_no.get(no as usize).copied().unwrap_or(true))
    }

    /// The dense position (`0..len()`) of a blob.
    #[must_use]
    pub fn position(&self, id: &BlobId) -> Option<usize> {
        let p = prefix(id);
        if let Some(i) = self.table.position(&p) {
            return Some(i);
        }
        self.overflow
            .binary_search_by(|(q, _, _)| q.cmp(&p))
            .ok()
            .map(|i| self.table.records.len() + i)
    }

    /// The location of the blob at a position.
    #[must_use]
    pub fn location_at(&self, pos: usize) -> Option<BlobLocation> {
        match self.table.records.get(pos) {
            Some(r) => self.decode(r),
            None => self
                .overflow
                .get(pos - self.table.records.len())
                .map(|(_, _, l)| *l),
        }
    }

    /// The pack number (index into [`MasterIndex::packs`]) of the blob at a position.
    #[must_use]
    pub fn pack_number_at(&self, pos: usize) -> Option<u32> {
        match self.table.records.get(pos) {
            Some(r) => Some(u32_at(r, 23) & !TREE_BIT),
            None => self
                .overflow
                .get(pos - self.table.records.len())
                .map(|(_, no, _)| *no),
        }
    }

    fn decode(&self, r: &Record) -> Option<BlobLocation> {
        let packword = u32_at(r, 23);
        let pack = *self.packs.get((packword & !TREE_BIT) as usize)?;
        let blob_type = if packword & TREE_BIT == 0 {
            BlobType::Data
        } else {
            BlobType::Tree
        };
        Some(BlobLocation {
            pack,
            blob_type,
            offset: u32_at(r, 27),
            length: u24_at(r, 31),
            raw_length: u24_at(r, 34),
        })
    }

    /// Number of distinct blobs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.records.len() + self.overflow.len()
    }

    #[cfg(feature = "internals")]
    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Packs listed by the index, by pack number (a pack listed by several
    /// files may appear more than once).
    #[must_use]
    pub fn packs(&self) -> &[PackId] {
        &self.packs
    }

    /// Whether a prune marked this pack for deletion.
    #[must_use]
    pub fn is_obsolete(&self, pack: &PackId) -> bool {
        self.obsolete.contains_key(pack)
    }

    /// Packs marked for deletion and when (Unix seconds; the earliest mark).
    #[must_use]
    pub fn obsolete_marks(&self) -> &HashMap<PackId, i64> {
        &self.obsolete
    }

    #[cfg(any(test, feature = "internals"))]
    /// Heap bytes used (records, radix, pack table, overflow).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.table.memory()
            + self.packs.capacity() * 33
            + self.overflow.capacity() * std::mem::size_of::<([u8; PREFIX], u32, BlobLocation)>()
    }
}

fn u32_at(r: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]])
}

fn u24_at(r: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([r[at], r[at + 1], r[at + 2], 0])
}

#[derive(Default)]
struct Builder {
    records: Vec<Record>,
    packs: Vec<PackId>,
    pack_no: HashMap<PackId, u32>,
    overflow: Vec<([u8; PREFIX], u32, BlobLocation)>,
    obsolete: HashMap<PackId, i64>,
}

impl Builder {
    fn pack_number(&mut self, id: PackId) -> u32 {
        let next = u32::try_from(self.packs.len()).unwrap_or(u32::MAX);
        *self.pack_no.entry(id).or_insert_with(|| {
            self.packs.push(id);
            next
        })
    }

    fn mark(&mut self, id: PackId, at: i64) {
        let t = self.obsolete.entry(id).or_insert(at);
        *t = (*t).min(at);
    }

    fn add_pack(&mut self, p: &IndexPack) {
        let no = self.pack_number(p.id);
        self.records.reserve(p.blobs.len());
        for b in &p.blobs {
            let fits = b.length <= U24_MAX && b.raw_length <= U24_MAX && no < TREE_BIT;
            if !fits {
                let loc = BlobLocation {
                    pack: p.id,
                    blob_type: b.blob_type,
                    offset: b.offset,
                    length: b.length,
                    raw_length: b.raw_length,
                };
                self.overflow.push((prefix(&b.id), no, loc));
                continue;
            }
            let mut r = [0u8; RECORD];
            r[..PREFIX].copy_from_slice(&b.id.0.0[..PREFIX]);
            let word = no
                | if b.blob_type == BlobType::Tree {
                    TREE_BIT
                } else {
                    0
                };
            r[23..27].copy_from_slice(&word.to_le_bytes());
            r[27..31].copy_from_slice(&b.offset.to_le_bytes());
            r[31..34].copy_from_slice(&b.length.to_le_bytes()[..3]);
            r[34..37].copy_from_slice(&b.raw_length.to_le_bytes()[..3]);
            self.records.push(r);
        }
    }

    /// Appends another builder's content, renumbering its packs. (Growth
    /// of the record array is amortized; a large array is a single mapping
    /// that grows without copying.)
    fn merge(&mut self, other: Self) {
        let map: Vec<u32> = other.packs.iter().map(|p| self.pack_number(*p)).collect();
        let renumber = |no: u32| map.get(no as usize).copied().unwrap_or(no);
        self.records.reserve(other.records.len());
        for mut r in other.records {
            let word = u32_at(&r, 23);
            let no = renumber(word & !TREE_BIT);
            r[23..27].copy_from_slice(&(no | (word & TREE_BIT)).to_le_bytes());
            self.records.push(r);
        }
        for (p, no, loc) in other.overflow {
            self.overflow.push((p, renumber(no), loc));
        }
        for (id, at) in other.obsolete {
            self.mark(id, at);
        }
    }

    fn finish(mut self) -> MasterIndex {
        self.packs.shrink_to_fit();
        let obsolete_no: Vec<bool> = self
            .packs
            .iter()
            .map(|p| self.obsolete.contains_key(p))
            .collect();
        let dead = |r: &Record| {
            obsolete_no
                .get((u32_at(r, 23) & !TREE_BIT) as usize)
                .copied()
                .unwrap_or(true)
        };
        // Duplicates keep the copy in a live pack when there is one.
        // (the tie-break runs only for equal prefixes, i.e. duplicates)
        self.records.sort_unstable_by(|a, b| {
            a[..PREFIX]
                .cmp(&b[..PREFIX])
                .then_with(|| dead(a).cmp(&dead(b)))
        });
        let entries = self.records.len() + self.overflow.len();
        let table = SortedTable::build_sorted(self.records);
        // A blob stored both compactly and in overflow keeps the compact entry.
        self.overflow
            .retain(|(p, _, _)| table.position(p).is_none());
        let dead_no = |no: u32| obsolete_no.get(no as usize).copied().unwrap_or(true);
        self.overflow
            .sort_by(|a, b| a.0.cmp(&b.0).then_with(|| dead_no(a.1).cmp(&dead_no(b.1))));
        self.overflow.dedup_by(|a, b| a.0 == b.0);
        self.overflow.shrink_to_fit();
        let duplicates = entries - table.records.len() - self.overflow.len();
        MasterIndex {
            duplicates,
            table,
            packs: self.packs,
            obsolete_no,
            overflow: self.overflow,
            obsolete: self.obsolete,
            files: Vec::new(),
            superseded: HashSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::index::{IndexBlob, IndexFile};
    use crate::id::Id;
    use crate::repo::id_sets::BlobIdSet;

    fn bid(i: u64) -> BlobId {
        BlobId(Id::hash_of(&i.to_le_bytes()))
    }

    fn packs(n_packs: u64, per: u64) -> Vec<IndexPack> {
        (0..n_packs)
            .map(|p| IndexPack {
                id: PackId(Id::hash_of(&(p + 1_000_000).to_le_bytes())),
                blobs: (0..per)
                    .map(|j| IndexBlob {
                        blob_type: if j % 7 == 0 {
                            BlobType::Tree
                        } else {
                            BlobType::Data
                        },
                        id: bid(p * per + j),
                        offset: (j * 1000) as u32,
                        length: 1000 + j as u32,
                        raw_length: 2000 + j as u32,
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn lookup_everything() {
        let ps = packs(50, 20);
        let idx = MasterIndex::from_packs(&ps);
        assert_eq!(idx.len(), 1000);
        for p in &ps {
            for b in &p.blobs {
                let l = idx.lookup(&b.id).unwrap();
                assert_eq!(
                    (l.pack, l.blob_type, l.offset, l.length, l.raw_length),
                    (p.id, b.blob_type, b.offset, b.length, b.raw_length)
                );
            }
        }
        assert!(idx.lookup(&bid(999_999)).is_none());
        assert!(!idx.contains(&bid(1_000_001)));
    }

    #[test]
    fn overflow_and_duplicates() {
        let mut ps = packs(2, 3);
        ps[0].blobs[0].length = 20 << 20;
        ps[0].blobs[0].raw_length = 20 << 20;
        let dup = ps[1].blobs[1];
        ps[0].blobs.push(dup);
        let idx = MasterIndex::from_packs(&ps);
        assert_eq!(idx.len(), 6);
        assert_eq!(idx.lookup(&ps[0].blobs[0].id).unwrap().length, 20 << 20);
        assert!(idx.contains(&dup.id));
    }

    #[test]
    fn memory_per_blob_within_budget() {
        let ps = packs(65_536, 16);
        let idx = MasterIndex::from_packs(&ps);
        let per_blob = idx.memory_bytes() as f64 / idx.len() as f64;
        assert!(per_blob <= 40.0, "{per_blob} bytes per blob");
        let set = BlobIdSet::from_ids(ps.iter().flat_map(|p| p.blobs.iter().map(|b| &b.id)));
        let per_id = set.memory_bytes() as f64 / set.len() as f64;
        assert!(per_id <= 32.0, "{per_id} bytes per id");
    }

    #[test]
    fn merged_files_prefer_live_copies_and_give_dense_positions() {
        use crate::format::index::ObsoletePack;
        let ps = packs(4, 10);
        // pack 3 repeats pack 0's blobs; pack 0 is marked obsolete
        let mut copy = ps[0].clone();
        copy.id = PackId(Id([7; 32]));
        let mut a = IndexFile::new();
        a.packs = vec![ps[0].clone(), ps[1].clone()];
        let mut b = IndexFile::new();
        b.packs = vec![ps[2].clone(), ps[3].clone(), copy.clone()];
        b.obsolete.push(ObsoletePack {
            id: ps[0].id,
            marked_at: 5,
        });
        // a superseded file contributes nothing
        let mut old = IndexFile::new();
        old.packs = vec![IndexPack {
            id: PackId(Id([8; 32])),
            blobs: vec![IndexBlob {
                blob_type: BlobType::Data,
                id: bid(123_456),
                offset: 0,
                length: 1,
                raw_length: 1,
            }],
        }];
        let mut c = IndexFile::new();
        c.supersedes.push(IndexId(Id([1; 32])));
        let idx = MasterIndex::from_files(&[
            (IndexId(Id([2; 32])), a),
            (IndexId(Id([3; 32])), b),
            (IndexId(Id([1; 32])), old),
            (IndexId(Id([4; 32])), c),
        ]);
        assert_eq!(idx.len(), 40);
        assert!(!idx.contains(&bid(123_456)));
        assert_eq!(idx.obsolete_marks().get(&ps[0].id), Some(&5));
        for b in &ps[0].blobs {
            assert_eq!(idx.lookup(&b.id).unwrap().pack, copy.id);
            assert!(idx.contains_live(&b.id));
        }
        let mut seen = vec![false; idx.len()];
        for p in &ps {
            for b in &p.blobs {
                let pos = idx.position(&b.id).unwrap();
                assert!(!seen[pos]);
                seen[pos] = true;
                let no = idx.pack_number_at(pos).unwrap();
                assert_eq!(idx.packs()[no as usize], idx.lookup(&b.id).unwrap().pack);
            }
        }
        // with only the obsolete copy, the blob is found but not live
        let mut only = IndexFile::new();
        only.packs = vec![ps[0].clone()];
        only.obsolete.push(ObsoletePack {
            id: ps[0].id,
            marked_at: 5,
        });
        let idx = MasterIndex::from_files(&[(IndexId(Id([5; 32])), only)]);
        assert!(idx.contains(&ps[0].blobs[0].id));
        assert!(!idx.contains_live(&ps[0].blobs[0].id));
    }
}
