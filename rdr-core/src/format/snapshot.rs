//! Snapshot files: what was backed up, when, from where, and how it went
//! (docs/format.md, "Snapshots").

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::{FORMAT_VERSION, FormatError, from_cbor, to_cbor};
use crate::id::{BlobId, SnapshotId};

/// How many warnings a snapshot keeps verbatim.
pub const MAX_RECORDED_WARNINGS: usize = 100;

/// Counters of the backup that wrote a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Start time (ns since the epoch).
    pub start: i64,
    /// End time (ns).
    pub end: i64,
    /// Files not in the parent.
    pub files_new: u64,
    /// Files whose metadata changed and were read again.
    pub files_changed: u64,
    /// Files reused from the parent without reading.
    pub files_unchanged: u64,
    /// Directories not in the parent.
    pub dirs_new: u64,
    /// Directories whose tree changed.
    pub dirs_changed: u64,
    /// Directories whose tree is identical to the parent's.
    pub dirs_unchanged: u64,
    /// Logical bytes of all files in the snapshot.
    pub bytes_total: u64,
    /// Bytes actually read from files or the stream.
    pub bytes_read: u64,
    /// New data blobs stored.
    pub data_blobs: u64,
    /// New tree blobs stored.
    pub tree_blobs: u64,
    /// Plaintext bytes of the new blobs.
    pub bytes_added: u64,
    /// Stored (compressed, sealed) bytes of the new blobs.
    pub bytes_added_stored: u64,
}

/// A backup of a byte stream (stdin or a command's output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// The file name the stream is stored under.
    pub filename: String,
    /// Bytes in the stream.
    pub bytes: u64,
    /// Plain (unkeyed) BLAKE3 of the whole stream, comparable with `b3sum`.
    pub blake3: ByteBuf,
    /// The producing command and its arguments, when one was run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The producing command's exit status (always 0 in a snapshot that
    /// was written: a failed command writes none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
}

/// Why a snapshot is incomplete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incomplete {
    /// Entries that could not be read.
    pub count: u64,
    /// The first `MAX_RECORDED_WARNINGS` messages.
    pub errors: Vec<String>,
}

/// One snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version (`FORMAT_VERSION`, 1).
    pub version: u32,
    /// Snapshot time (ns since the epoch).
    pub time: i64,
    /// Root tree.
    pub tree: BlobId,
    /// Absolute paths backed up (lossy UTF-8 for display and matching).
    pub paths: Vec<String>,
    /// Host name.
    pub hostname: String,
    /// User who ran the backup.
    pub username: String,
    /// Uid of that user.
    pub uid: u32,
    /// Gid of that user.
    pub gid: u32,
    /// Tags, sorted, unique.
    pub tags: Vec<String>,
    /// Parent snapshot used for change detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<SnapshotId>,
    /// The snapshot this one replaced (set when tags are edited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<SnapshotId>,
    /// `rdr <version>` that wrote it.
    pub program_version: String,
    /// Exclude rules in force.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excludes: Vec<String>,
    /// Set for stdin / command backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamInfo>,
    /// Set when some entries could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<Incomplete>,
    /// Counters.
    pub summary: Summary,
}

impl Snapshot {
    /// Whether `repair snapshots` made this snapshot from a damaged one
    /// (it carries the tag `repaired`): what was lost is gone, and a new
    /// backup is due.
    #[must_use]
    pub fn is_degraded(&self) -> bool {
        self.tags.iter().any(|t| t == "repaired")
    }

    /// CBOR encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes a snapshot.
    ///
    /// # Errors
    /// [`FormatError`] for bad CBOR or an unknown version.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let s: Self = from_cbor("snapshot", bytes)?;
        if s.version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "snapshot",
                version: s.version,
            });
        }
        if let Some(st) = &s.stream
            && st.blake3.len() != 32
        {
            return Err(FormatError::Invalid {
                what: "snapshot",
                msg: "stream hash is not 32 bytes".into(),
            });
        }
        Ok(s)
    }

    /// Whether the snapshot carries all of `tags`.
    #[must_use]
    pub fn has_tags(&self, tags: &[String]) -> bool {
        tags.iter().all(|t| self.tags.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    pub(crate) fn sample() -> Snapshot {
        Snapshot {
            version: FORMAT_VERSION,
            time: 1_795_000_000_000_000_000,
            tree: BlobId(Id::hash_of(b"tree")),
            paths: vec!["/srv/data".into()],
            hostname: "db1".into(),
            username: "root".into(),
            uid: 0,
            gid: 0,
            tags: vec!["daily".into()],
            parent: None,
            original: None,
            program_version: "rdr 0.1.0".into(),
            excludes: vec![],
            stream: Some(StreamInfo {
                filename: "appdb.sql".into(),
                bytes: 3,
                blake3: ByteBuf::from(blake3::hash(b"abc").as_bytes().to_vec()),
                command: Some(vec!["pg_dump".into(), "appdb".into()]),
                exit_status: Some(0),
            }),
            incomplete: None,
            summary: Summary::default(),
        }
    }

    #[test]
    fn round_trip_and_version() {
        let s = sample();
        assert_eq!(Snapshot::decode(&s.encode()).unwrap(), s);
        let mut v2 = s.clone();
        v2.version = 2;
        assert!(matches!(
            Snapshot::decode(&v2.encode()),
            Err(FormatError::UnsupportedVersion { .. })
        ));
        let mut bad = s;
        bad.stream.as_mut().unwrap().blake3 = ByteBuf::from(vec![1]);
        assert!(Snapshot::decode(&bad.encode()).is_err());
    }
}
