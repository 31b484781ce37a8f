//! What a prune does to each pack: the decisions, from the master index,
//! the used-blob bits, the packs in storage and the clock. No I/O.

use std::collections::{HashMap, HashSet};

use super::{MaxUnused, PruneOptions};
use crate::id::PackId;
use crate::ops::usage::BlobBits;
use crate::repo::MasterIndex;

/// The fate of one pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Stays as it is.
    Keep,
    /// Its used blobs are copied to new packs; then it is marked, or with
    /// `--instant-delete` dropped from the index and deleted.
    Repack,
    /// Marked for deletion now (no used blob).
    Mark,
    /// Already marked, grace not over: stays marked.
    Wait,
    /// Was marked, but a snapshot uses a blob only it holds: unmarked.
    Revive,
    /// Deleted in this run.
    Delete,
    /// Listed by the index but gone from storage, holding no used blob:
    /// dropped from the index.
    Drop,
}

/// Byte and pack counts of one kind of decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Packs.
    pub packs: u64,
    /// Bytes (pack sizes).
    pub bytes: u64,
}

impl Tally {
    fn add(&mut self, bytes: u64) {
        self.packs += 1;
        self.bytes += bytes;
    }
}

/// Per-pack accounting from the master index.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PackUse {
    pub used_bytes: u64,
    pub unused_bytes: u64,
    pub used_blobs: u64,
}

pub(crate) struct Plan {
    /// Fate by pack id (indexed or stored).
    pub fates: HashMap<PackId, Fate>,
    /// Marks the new index carries: pack → marked_at.
    pub marks: HashMap<PackId, i64>,
    /// Pack numbers to repack (their used blobs are copied).
    pub repack: HashSet<u32>,
    pub deleted: Tally,
    pub marked: Tally,
    pub waiting: Tally,
    pub revived: Tally,
    pub repacked: Tally,
    /// Used bytes to copy when repacking.
    pub repack_used_bytes: u64,
    /// Sum of pack sizes in storage.
    pub size_before: u64,
    /// Used blob bytes (sealed) across the repository.
    pub used_bytes: u64,
    /// Unused blob bytes left in kept packs after this run.
    pub unused_after: u64,
    /// Packs the index lists that storage lacks, holding used blobs.
    pub missing_used: Vec<PackId>,
    /// `--instant-delete`: repacked packs are deleted in this run.
    pub instant: bool,
}

pub(crate) fn pack_use(index: &MasterIndex, used: &BlobBits) -> Vec<PackUse> {
    let mut out = vec![PackUse::default(); index.packs().len()];
    for pos in 0..index.len() {
        let (Some(no), Some(loc)) = (index.pack_number_at(pos), index.location_at(pos)) else {
            continue;
        };
        let Some(u) = out.get_mut(no as usize) else {
            continue;
        };
        let len = u64::from(loc.length);
        if used.get(pos) {
            u.used_bytes += len;
            u.used_blobs += 1;
        } else {
            u.unused_bytes += len;
        }
    }
    out
}

/// Decides every pack's fate.
pub(crate) fn plan(
    index: &MasterIndex,
    usage: &[PackUse],
    stored: &HashMap<PackId, u64>,
    opts: &PruneOptions,
    now: i64,
) -> Plan {
    let grace = i64::try_from(opts.grace.as_secs()).unwrap_or(i64::MAX);
    let due = |marked_at: i64| opts.instant_delete || now.saturating_sub(marked_at) >= grace;
    let mut p = Plan {
        fates: HashMap::new(),
        marks: HashMap::new(),
        repack: HashSet::new(),
        deleted: Tally::default(),
        marked: Tally::default(),
        waiting: Tally::default(),
        revived: Tally::default(),
        repacked: Tally::default(),
        repack_used_bytes: 0,
        size_before: stored.values().sum(),
        used_bytes: 0,
        unused_after: 0,
        missing_used: Vec::new(),
        instant: opts.instant_delete,
    };
    let marks = index.obsolete_marks();
    // candidates for repacking: (pack number, unused, used, size)
    let mut partly: Vec<(u32, u64, u64, u64)> = Vec::new();
    for (no, id) in index.packs().iter().enumerate() {
        let no = u32::try_from(no).unwrap_or(u32::MAX);
        let u = usage.get(no as usize).copied().unwrap_or_default();
        p.used_bytes += u.used_bytes;
        let Some(&size) = stored.get(id) else {
            if u.used_blobs > 0 {
                p.missing_used.push(*id);
            }
            p.fates.insert(*id, Fate::Drop);
            continue;
        };
        let fate = match marks.get(id) {
            Some(_) if u.used_blobs > 0 => Fate::Revive,
            Some(&at) if due(at) => Fate::Delete,
            Some(_) => Fate::Wait,
            None if u.used_blobs == 0 => {
                if opts.instant_delete {
                    Fate::Delete
                } else {
                    Fate::Mark
                }
            }
            None => Fate::Keep,
        };
        if matches!(fate, Fate::Keep | Fate::Revive) && u.unused_bytes > 0 {
            partly.push((no, u.unused_bytes, u.used_bytes, size));
        }
        p.fates.insert(*id, fate);
    }
    // packs in storage that no index lists: leftovers of a killed backup
    // or prune, or a backup still running
    for id in stored.keys() {
        if !p.fates.contains_key(id) {
            let fate = match marks.get(id) {
                Some(&at) if due(at) => Fate::Delete,
                Some(_) => Fate::Wait,
                None if opts.instant_delete => Fate::Delete,
                None => Fate::Mark,
            };
            p.fates.insert(*id, fate);
        }
    }
    choose_repacks(&mut p, index, partly, opts);
    for (id, fate) in &p.fates {
        let size = stored.get(id).copied().unwrap_or(0);
        match fate {
            Fate::Keep | Fate::Drop => {}
            Fate::Repack => {
                p.repacked.add(size);
                // with instant deletion too: a prune killed before the
                // deletion leaves a mark the next one acts on
                p.marks.insert(*id, now);
            }
            Fate::Mark => {
                p.marked.add(size);
                p.marks.insert(*id, now);
            }
            Fate::Wait => {
                p.waiting.add(size);
                p.marks.insert(*id, marks.get(id).copied().unwrap_or(now));
            }
            Fate::Revive => p.revived.add(size),
            Fate::Delete => {
                p.deleted.add(size);
                // kept until the deletion is done, so that a prune killed
                // before it finishes leaves a mark the next one acts on
                p.marks.insert(*id, marks.get(id).copied().unwrap_or(now));
            }
        }
    }
    p
}

impl Plan {
    /// Whether the new index lists the blobs of a pack with this fate.
    pub(crate) fn indexes(&self, fate: Option<&Fate>) -> bool {
        match fate {
            Some(Fate::Keep | Fate::Mark | Fate::Wait | Fate::Revive) => true,
            Some(Fate::Repack) => !self.instant,
            Some(Fate::Delete | Fate::Drop) | None => false,
        }
    }

    /// Whether this run deletes a pack with this fate (after the new index
    /// is durable).
    pub(crate) fn deletes(&self, fate: Fate) -> bool {
        fate == Fate::Delete || (fate == Fate::Repack && self.instant)
    }
}

/// Repacks the packs with the largest unused share until the unused bytes
/// left are within `max_unused`, copying at most `max_repack_bytes`.
fn choose_repacks(
    p: &mut Plan,
    index: &MasterIndex,
    mut partly: Vec<(u32, u64, u64, u64)>,
    opts: &PruneOptions,
) {
    let mut unused: u64 = partly.iter().map(|c| c.1).sum();
    let allowed = match opts.max_unused {
        MaxUnused::Unlimited => u64::MAX,
        MaxUnused::Bytes(b) => b,
        MaxUnused::Percent(pct) => {
            let pct = pct.clamp(0.0, 99.9);
            // unused / (used + unused) ≤ pct
            (p.used_bytes as f64 * pct / (100.0 - pct)) as u64
        }
    };
    // most unused share first; ties: smaller packs first (cheaper)
    partly.sort_by(|a, b| {
        let share =
            |c: &(u32, u64, u64, u64)| u128::from(c.1) * 1_000_000 / u128::from((c.1 + c.2).max(1));
        share(b).cmp(&share(a)).then(a.3.cmp(&b.3))
    });
    let mut budget = opts.max_repack_bytes.unwrap_or(u64::MAX);
    for (no, un, used, _) in partly {
        if unused <= allowed {
            break;
        }
        if used > budget {
            continue;
        }
        budget -= used;
        unused -= un;
        p.repack.insert(no);
        p.repack_used_bytes += used;
        if let Some(id) = index.packs().get(no as usize) {
            p.fates.insert(*id, Fate::Repack);
        }
    }
    p.unused_after = unused;
}
