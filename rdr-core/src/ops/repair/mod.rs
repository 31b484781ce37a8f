//! `repair`: bring a damaged repository back to a state `check` passes,
//! losing only what is damaged. `index` rebuilds the index from the packs
//! (salvaging the readable blobs of damaged packs); `snapshots` rewrites
//! snapshots that use blobs the index lacks.

mod index;
mod snapshots;

pub use index::{RepairIndexOptions, RepairIndexReport, repair_index};
pub use snapshots::{
    REPAIRED_TAG, REPAIRED_XATTR, RepairSnapshotsOptions, RepairSnapshotsReport, RepairedSnapshot,
    repair_snapshots,
};
