//! The kinds of object a repository stores: one vocabulary for storage
//! (where an object lives) and sealing (what it is bound to).

/// The kinds of object in a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// The sealed config (`config`, name ignored).
    Config,
    /// Key files (`keys/`).
    Key,
    /// Pack files (`data/<first two hex digits>/`).
    Pack,
    /// Index files (`index/`).
    Index,
    /// Snapshot files (`snapshots/`).
    Snapshot,
    /// Lock files (`locks/`).
    Lock,
    /// Check and drill records (`records/`).
    Record,
}

impl FileType {
    /// Every type, for listing a whole repository.
    pub const ALL: [Self; 7] = [
        Self::Config,
        Self::Key,
        Self::Pack,
        Self::Index,
        Self::Snapshot,
        Self::Lock,
        Self::Record,
    ];

    /// Lowercase name for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Key => "key",
            Self::Pack => "pack",
            Self::Index => "index",
            Self::Snapshot => "snapshot",
            Self::Lock => "lock",
            Self::Record => "record",
        }
    }
}
