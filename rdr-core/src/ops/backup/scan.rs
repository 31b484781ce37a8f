//! The scanner: a metadata-only walk beside the backup that gives the
//! progress display its totals (files, bytes) for a percentage and ETA.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::exclude::Excluder;
use crate::ops::progress::Progress;

struct Scan<'a> {
    ex: &'a Excluder,
    progress: &'a dyn Progress,
    stop: &'a AtomicBool,
    files: u64,
    bytes: u64,
}

impl Scan<'_> {
    fn visit(&mut self, path: &Path) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if self.ex.excludes(path, &meta) {
            return;
        }
        if !meta.is_dir() {
            self.files += 1;
        }
        if meta.is_file() {
            self.bytes += meta.len();
        }
        if self.files % 1000 == 999 {
            self.progress.total(self.files, self.bytes);
        }
        if meta.is_dir() {
            let Ok(rd) = std::fs::read_dir(path) else {
                return;
            };
            let keep = self.ex.tagged(path);
            for e in rd.flatten() {
                let name = e.file_name();
                if keep
                    .as_ref()
                    .is_some_and(|k| k.as_slice() != name.as_encoded_bytes())
                {
                    continue;
                }
                self.visit(&e.path());
            }
        }
    }
}

/// Walks `paths`, reporting running totals; stops early when `stop` is set.
pub(crate) fn scan(paths: &[PathBuf], ex: &Excluder, progress: &dyn Progress, stop: &AtomicBool) {
    let mut s = Scan {
        ex,
        progress,
        stop,
        files: 0,
        bytes: 0,
    };
    for p in paths {
        s.visit(p);
    }
    if !stop.load(Ordering::Relaxed) {
        progress.total(s.files, s.bytes);
    }
}
