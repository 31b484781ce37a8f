//! Exclude rules of a backup: glob patterns (restic's semantics, in
//! `ops::filter`), cache directory tags, marker files, size limits.

use std::fs::Metadata;
use std::path::Path;

use crate::error::Result;
use crate::ops::filter::Patterns;

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
    set: Patterns,
    opts: ExcludeOptions,
}

impl Excluder {
    pub(crate) fn new(opts: &ExcludeOptions) -> Result<Self> {
        Ok(Self {
            set: Patterns::new(&opts.patterns, &opts.ipatterns)?,
            opts: opts.clone(),
        })
    }

    /// Whether a path is excluded by pattern or size.
    pub(crate) fn excludes(&self, path: &Path, meta: &Metadata) -> bool {
        if self.set.matches(path) {
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
