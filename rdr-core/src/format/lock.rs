//! Lock files (`locks/`): who holds a shared or exclusive lock, since when.

use serde::{Deserialize, Serialize};

use super::{FormatError, from_cbor, to_cbor};

/// A lock file's plaintext. A holder refreshes its lock by writing a new
/// file with a newer `time` and then removing the old one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    /// Exclusive (maintenance) or shared.
    pub exclusive: bool,
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder on that host.
    pub pid: u32,
    /// User name of the holder.
    pub user: String,
    /// Unix time at which the lock was first taken.
    pub created: i64,
    /// Unix time of this refresh.
    pub time: i64,
    /// Random value, so two refreshes in one second differ in name.
    pub token: u64,
    /// Held by a backup: excludes only locks that delete at once
    /// (absent in older files: false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub backup: bool,
    /// An exclusive lock that also excludes backups (`prune
    /// --instant-delete`; absent in older files: false).
    #[serde(default, skip_serializing_if = "is_false")]
    pub excludes_backups: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn is_false(b: &bool) -> bool {
    !*b
}

impl LockInfo {
    /// CBOR encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes a lock.
    ///
    /// # Errors
    /// [`FormatError`] for malformed CBOR.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        from_cbor("lock", bytes)
    }
}
