//! Object types and their paths: `config`, `keys/`, `data/ab/…`, `index/`,
//! `snapshots/`, `locks/`, `records/`.

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

    /// The directory of this type, with a trailing slash (`""` for config).
    #[must_use]
    pub fn dir(self) -> &'static str {
        match self {
            Self::Config => "",
            Self::Key => "keys/",
            Self::Pack => "data/",
            Self::Index => "index/",
            Self::Snapshot => "snapshots/",
            Self::Lock => "locks/",
            Self::Record => "records/",
        }
    }

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

    /// The object path of `name` relative to the repository root.
    #[must_use]
    pub fn path(self, name: &str) -> String {
        match self {
            Self::Config => "config".to_owned(),
            Self::Pack => {
                let fan = name.get(..2).unwrap_or("00");
                format!("data/{fan}/{name}")
            }
            _ => format!("{}{name}", self.dir()),
        }
    }
}

/// Directories a fresh local repository needs.
pub(crate) fn directories() -> Vec<String> {
    let mut dirs: Vec<String> = [
        "keys",
        "data",
        "index",
        "snapshots",
        "locks",
        "records",
        "tmp",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for i in 0..=255u8 {
        dirs.push(format!("data/{i:02x}"));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(FileType::Pack.path("abcd"), "data/ab/abcd");
        assert_eq!(FileType::Config.path("x"), "config");
        assert_eq!(FileType::Key.path("k"), "keys/k");
    }
}
