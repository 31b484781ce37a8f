//! Sets of blob ids, and the sorted table with a radix index that they
//! share with the master index (`index.rs`): records are compared on the
//! first [`PREFIX`] bytes of an id (see `index.rs` for why that is safe).

use std::collections::HashSet;
use std::sync::Mutex;

use crate::id::BlobId;

/// Bytes of an id that the tables keep and compare.
pub(super) const PREFIX: usize = 23;

pub(super) fn prefix(id: &BlobId) -> [u8; PREFIX] {
    let mut p = [0u8; PREFIX];
    p.copy_from_slice(&id.0.0[..PREFIX]);
    p
}

fn radix_key(p: &[u8]) -> usize {
    (usize::from(p[0]) << 8) | usize::from(p[1])
}

/// Sorted records with a radix table; shared by the master index and [`BlobIdSet`].
pub(super) struct SortedTable<const N: usize> {
    pub(super) records: Vec<[u8; N]>,
    radix: Vec<u32>,
}

impl<const N: usize> SortedTable<N> {
    #[cfg(any(test, feature = "internals"))]
    pub(super) fn build(mut records: Vec<[u8; N]>) -> Self {
        records.sort_unstable_by(|a, b| a[..PREFIX].cmp(&b[..PREFIX]));
        Self::build_sorted(records)
    }

    /// Records sorted by prefix; the first of equal prefixes is kept.
    pub(super) fn build_sorted(mut records: Vec<[u8; N]>) -> Self {
        records.dedup_by(|a, b| a[..PREFIX] == b[..PREFIX]);
        records.shrink_to_fit();
        let mut radix = vec![0u32; (1 << 16) + 1];
        for r in &records {
            radix[radix_key(r) + 1] += 1;
        }
        for i in 1..radix.len() {
            radix[i] += radix[i - 1];
        }
        Self { records, radix }
    }

    pub(super) fn position(&self, p: &[u8; PREFIX]) -> Option<usize> {
        let k = radix_key(p);
        let lo = self.radix[k] as usize;
        let hi = self.radix[k + 1] as usize;
        let bucket = self.records.get(lo..hi)?;
        bucket
            .binary_search_by(|r| r[..PREFIX].cmp(p))
            .ok()
            .map(|i| lo + i)
    }

    #[cfg(any(test, feature = "internals"))]
    pub(super) fn memory(&self) -> usize {
        self.records.capacity() * N + self.radix.capacity() * 4
    }
}

#[cfg(any(test, feature = "internals"))]
/// Only the ids of indexed blobs: 23 bytes per blob. What a backup needs to
/// decide whether a chunk is new.
pub struct BlobIdSet {
    table: SortedTable<PREFIX>,
}

#[cfg(any(test, feature = "internals"))]
impl BlobIdSet {
    /// The ids of these blobs.
    #[must_use]
    pub fn from_ids<'a>(ids: impl IntoIterator<Item = &'a BlobId>) -> Self {
        Self {
            table: SortedTable::build(ids.into_iter().map(prefix).collect()),
        }
    }

    /// Whether the set holds `id`.
    #[must_use]
    pub fn contains(&self, id: &BlobId) -> bool {
        self.table.position(&prefix(id)).is_some()
    }

    /// Number of ids.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.records.len()
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table.records.is_empty()
    }

    /// Heap bytes used.
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.table.memory()
    }
}

/// Blobs claimed during one session (e.g. a backup), so that two threads
/// never store the same new blob twice. Sharded to keep contention low.
pub struct DedupSet {
    shards: Vec<Mutex<HashSet<[u8; PREFIX]>>>,
}

impl Default for DedupSet {
    fn default() -> Self {
        Self {
            shards: (0..64).map(|_| Mutex::new(HashSet::new())).collect(),
        }
    }
}

impl DedupSet {
    /// Claims `id`; true when this call is the first to claim it.
    pub fn claim(&self, id: &BlobId) -> bool {
        let p = prefix(id);
        let shard = &self.shards[usize::from(p[0]) % self.shards.len()];
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(p)
    }

    /// Whether `id` was claimed.
    pub fn contains(&self, id: &BlobId) -> bool {
        let p = prefix(id);
        let shard = &self.shards[usize::from(p[0]) % self.shards.len()];
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&p)
    }

    #[cfg(any(test, feature = "internals"))]
    /// Releases a claim (the blob could not be stored after all).
    pub fn release(&self, id: &BlobId) {
        let p = prefix(id);
        let shard = &self.shards[usize::from(p[0]) % self.shards.len()];
        shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn bid(i: u64) -> BlobId {
        BlobId(Id::hash_of(&i.to_le_bytes()))
    }

    #[test]
    fn id_set_holds_exactly_its_ids() {
        let ids: Vec<BlobId> = (0..1000).map(bid).collect();
        let set = BlobIdSet::from_ids(&ids);
        assert_eq!(set.len(), 1000);
        assert!(ids.iter().all(|id| set.contains(id)));
        assert!(!(1000..2000).any(|i| set.contains(&bid(i))));
        assert!(BlobIdSet::from_ids(&[]).is_empty());
    }

    #[test]
    fn dedup_claims_once() {
        let d = DedupSet::default();
        assert!(d.claim(&bid(1)));
        assert!(!d.claim(&bid(1)));
        d.release(&bid(1));
        assert!(d.claim(&bid(1)));
    }
}
