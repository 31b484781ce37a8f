//! Path patterns with restic's semantics, one implementation for every
//! operation that selects paths: backup's excludes, restore's include and
//! exclude, find. A pattern with a leading `/` is anchored at the root, any
//! other matches at any depth (`*.tmp`, `node_modules`, `var/cache`); `*`
//! does not cross `/`, `**` does; a trailing `/` is ignored.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};

/// A compiled set of patterns.
#[derive(Debug, Clone)]
pub(crate) struct Patterns {
    set: GlobSet,
}

fn glob_for(pattern: &str) -> String {
    let p = pattern.trim_end_matches('/');
    if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("**/{p}")
    }
}

impl Patterns {
    /// Compiles case-sensitive `patterns` and case-insensitive `ipatterns`;
    /// blank patterns are skipped.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming a pattern that does not compile.
    pub(crate) fn new(patterns: &[String], ipatterns: &[String]) -> Result<Self> {
        let mut b = GlobSetBuilder::new();
        for (list, ci) in [(patterns, false), (ipatterns, true)] {
            for p in list.iter().filter(|p| !p.trim().is_empty()) {
                let g = GlobBuilder::new(&glob_for(p.trim()))
                    .literal_separator(true)
                    .case_insensitive(ci)
                    .backslash_escape(true)
                    .build()
                    .map_err(|e| Error::InvalidInput(format!("bad pattern {p:?}: {e}")))?;
                b.add(g);
            }
        }
        let set = b
            .build()
            .map_err(|e| Error::InvalidInput(format!("bad patterns: {e}")))?;
        Ok(Self { set })
    }

    /// Whether no pattern was given.
    pub(crate) fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Whether an absolute path matches.
    pub(crate) fn matches(&self, path: &Path) -> bool {
        self.set.is_match(path)
    }

    /// Whether an absolute path, as snapshot bytes, matches.
    pub(crate) fn matches_bytes(&self, path: &[u8]) -> bool {
        self.matches(Path::new(OsStr::from_bytes(path)))
    }
}

/// Which snapshot paths an operation takes: those matching no exclude
/// pattern, and (when includes are given) matching an include pattern or
/// lying under a directory that does.
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    include: Patterns,
    exclude: Patterns,
}

impl Selection {
    /// Compiles the include and exclude patterns.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming a bad pattern.
    pub(crate) fn new(include: &[String], exclude: &[String]) -> Result<Self> {
        Ok(Self {
            include: Patterns::new(include, &[])?,
            exclude: Patterns::new(exclude, &[])?,
        })
    }

    /// Whether the path (and everything under it) is left out.
    pub(crate) fn excludes(&self, path: &[u8]) -> bool {
        !self.exclude.is_empty() && self.exclude.matches_bytes(path)
    }

    /// Whether the path is selected: `inherited` when a directory above it is.
    pub(crate) fn includes(&self, path: &[u8], inherited: bool) -> bool {
        inherited || self.include.is_empty() || self.include.matches_bytes(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> Patterns {
        Patterns::new(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(), &[]).unwrap()
    }

    #[test]
    fn restic_like_semantics() {
        let s = set(&["*.tmp", "/srv/cache", "var/log", "node_modules/"]);
        assert!(s.matches_bytes(b"/a/b/c.tmp"));
        assert!(s.matches_bytes(b"/c.tmp"));
        assert!(!s.matches_bytes(b"/a/b/c.tmpx"));
        assert!(s.matches_bytes(b"/srv/cache"));
        assert!(!s.matches_bytes(b"/x/srv/cache"));
        assert!(s.matches_bytes(b"/x/var/log"));
        assert!(s.matches_bytes(b"/p/node_modules"));
        assert!(!s.matches_bytes(b"/p/node_modules_x"));
        let ci = Patterns::new(&[], &["*.JPG".into()]).unwrap();
        assert!(ci.matches(Path::new("/pics/a.jpg")));
        assert!(Patterns::new(&["[".into()], &[]).is_err());
        assert!(set(&["", "  "]).is_empty());
    }

    #[test]
    fn selection_includes_and_excludes() {
        let none = Selection::new(&[], &[]).unwrap();
        assert!(none.includes(b"/any", false) && !none.excludes(b"/any"));
        let s = Selection::new(&["/srv/db".into()], &["*.tmp".into()]).unwrap();
        assert!(s.includes(b"/srv/db", false));
        assert!(!s.includes(b"/srv/www", false));
        assert!(
            s.includes(b"/srv/db/base/1", true),
            "under a selected directory"
        );
        assert!(s.excludes(b"/srv/db/x.tmp"));
        assert!(!s.excludes(b"/srv/db/x"));
    }
}
