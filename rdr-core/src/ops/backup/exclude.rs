//! Exclude rules of a backup: glob patterns (restic's semantics), cache
//! directory tags, marker files, size limits.

use std::fs::Metadata;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};

/// The CACHEDIR.TAG signature (<https://bford.info/cachedir/>).
const CACHEDIR_SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";

/// Exclude rules. Patterns are matched against absolute paths: a pattern
/// with a leading `/` is anchored at the root, any other pattern matches at
/// any depth (`*.tmp`, `node_modules`, `var/cache`). `*` does not cross `/`,
/// `**` does. A matching directory is skipped with everything under it.
#[derive(Debug, Clone, Default)]
pub struct ExcludeOptions {
    /// Case-sensitive patterns.
    pub patterns: Vec<String>,
    /// Case-insensitive patterns.
    pub ipatterns: Vec<String>,
    /// Skip the contents of directories holding a valid CACHEDIR.TAG.
    pub caches: bool,
    /// Skip the contents of directories holding a file of one of these names.
    pub if_present: Vec<String>,
    /// Skip files larger than this many bytes.
    pub larger_than: Option<u64>,
    /// Do not cross into other file systems.
    pub one_file_system: bool,
}

impl ExcludeOptions {
    /// The rules as text, for the snapshot record.
    #[must_use]
    pub fn describe(&self) -> Vec<String> {
        let mut out = self.patterns.clone();
        out.extend(self.ipatterns.iter().map(|p| format!("(i){p}")));
        if self.caches {
            out.push("CACHEDIR.TAG".into());
        }
        out.extend(self.if_present.iter().map(|n| format!("if-present:{n}")));
        if let Some(s) = self.larger_than {
            out.push(format!("larger-than:{s}"));
        }
        if self.one_file_system {
            out.push("one-file-system".into());
        }
        out
    }
}

/// Compiled rules.
#[derive(Debug, Clone)]
pub(crate) struct Excluder {
    set: GlobSet,
    opts: ExcludeOptions,
}

fn glob_for(pattern: &str) -> String {
    let p = pattern.trim_end_matches('/');
    if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("**/{p}")
    }
}

/// Compiles patterns into a set (`ci` = case-insensitive).
pub(crate) fn build_set(patterns: &[String], ipatterns: &[String]) -> Result<GlobSet> {
    let mut b = GlobSetBuilder::new();
    for (list, ci) in [(patterns, false), (ipatterns, true)] {
        for p in list.iter().filter(|p| !p.trim().is_empty()) {
            let g = GlobBuilder::new(&glob_for(p.trim()))
                .literal_separator(true)
                .case_insensitive(ci)
                .backslash_escape(true)
                .build()
                .map_err(|e| Error::InvalidInput(format!("bad exclude pattern {p:?}: {e}")))?;
            b.add(g);
        }
    }
    b.build()
        .map_err(|e| Error::InvalidInput(format!("bad exclude patterns: {e}")))
}

impl Excluder {
    pub(crate) fn new(opts: &ExcludeOptions) -> Result<Self> {
        Ok(Self {
            set: build_set(&opts.patterns, &opts.ipatterns)?,
            opts: opts.clone(),
        })
    }

    /// Whether a path is excluded by pattern or size.
    pub(crate) fn excludes(&self, path: &Path, meta: &Metadata) -> bool {
        if self.set.is_match(path) {
            return true;
        }
        matches!(self.opts.larger_than, Some(limit) if meta.is_file() && meta.len() > limit)
    }

    /// For a directory: `Some(name)` of the one entry to keep when its
    /// contents are excluded (the tag or marker file itself), else `None`.
    pub(crate) fn tagged(&self, dir: &Path) -> Option<Vec<u8>> {
        if self.opts.caches {
            let tag = dir.join("CACHEDIR.TAG");
            if let Ok(mut f) = std::fs::File::open(&tag) {
                let mut head = [0u8; CACHEDIR_SIGNATURE.len()];
                if std::io::Read::read_exact(&mut f, &mut head).is_ok()
                    && head == CACHEDIR_SIGNATURE
                {
                    return Some(b"CACHEDIR.TAG".to_vec());
                }
            }
        }
        self.opts
            .if_present
            .iter()
            .find(|n| dir.join(n).symlink_metadata().is_ok())
            .map(|n| n.as_bytes().to_vec())
    }

    pub(crate) fn one_file_system(&self) -> bool {
        self.opts.one_file_system
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> GlobSet {
        build_set(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), &[]).unwrap()
    }

    #[test]
    fn restic_like_semantics() {
        let s = set(&["*.tmp", "/srv/cache", "var/log", "node_modules/"]);
        assert!(s.is_match("/a/b/c.tmp"));
        assert!(s.is_match("/c.tmp"));
        assert!(!s.is_match("/a/b/c.tmpx"));
        assert!(s.is_match("/srv/cache"));
        assert!(!s.is_match("/x/srv/cache"));
        assert!(s.is_match("/x/var/log"));
        assert!(s.is_match("/p/node_modules"));
        assert!(!s.is_match("/p/node_modules_x"));
        let ci = build_set(&[], &["*.JPG".into()]).unwrap();
        assert!(ci.is_match("/pics/a.jpg"));
        assert!(build_set(&["[".into()], &[]).is_err());
    }
}
