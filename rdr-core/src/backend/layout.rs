//! Where each kind of object lives in storage: `config`, `keys/`, `data/ab/…`, `index/`,
//! `snapshots/`, `locks/`, `records/`.

use crate::kind::FileType;

impl FileType {
    /// The directory of this type, with a trailing slash (`""` for config).
    #[must_use]
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn dir(self) -> &'static str {
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

    /// The object path of `name` relative to the repository root.
    #[must_use]
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn path(self, name: &str) -> String {
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
