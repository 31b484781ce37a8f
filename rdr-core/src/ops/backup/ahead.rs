//! Directory listings read ahead of the archiver.
//!
//! A backup's walk spends most of a no-change run in the kernel: `readdir`
//! and one `lstat` per entry. A lister thread walks the same directories
//! in the same order (depth first, names sorted, the same exclusions)
//! and hands each directory's listing, entries and their metadata, to the
//! archiver, which meanwhile compares the previous ones with the parent
//! snapshot and builds the trees. Listings ahead are bounded by their
//! entries ([`AHEAD_ENTRIES`]), so memory stays small whatever the tree.
//!
//! The archiver does not depend on the lister being right: it takes the
//! listing of the directory it is at, drops listings of directories it
//! did not enter, and lists a directory itself when the lister did not
//! (see [`Ahead::take`]). Depth-first order with sorted names is the
//! order of paths compared component by component, which is how it
//! tells the two cases apart.

use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use super::exclude::Excluder;

/// Entries (with their metadata, ~200 bytes each: 1.6 MB) listed ahead of the
/// archiver at most; one larger directory may still go when none is.
const AHEAD_ENTRIES: usize = 8 << 10;

/// One directory, as the archiver walks it.
pub(crate) struct Listing {
    pub dir: PathBuf,
    /// Problems to report on the directory (it could not be listed, or an
    /// entry of it could not be read).
    pub errors: Vec<String>,
    /// Entries in name order, without the excluded ones and, in a tagged
    /// directory, only the tag: name, then metadata or why there is none.
    pub entries: Vec<(Vec<u8>, io::Result<Metadata>)>,
}

impl Listing {
    fn cost(&self) -> usize {
        self.entries.len().max(1)
    }
}

/// Lists `dir` (without following symbolic links).
pub(crate) fn list_dir(dir: &Path, ex: &Excluder) -> Listing {
    let mut errors = Vec::new();
    let mut names: Vec<Vec<u8>> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| match e {
                Ok(e) => Some(e.file_name().into_vec()),
                Err(err) => {
                    errors.push(err.to_string());
                    None
                }
            })
            .collect(),
        Err(e) => {
            errors.push(format!("cannot list directory: {e}"));
            Vec::new()
        }
    };
    names.sort();
    if let Some(keep) = ex.tagged(dir) {
        names.retain(|n| *n == keep);
    }
    let entries = names
        .into_iter()
        .filter_map(|name| {
            let child = dir.join(std::ffi::OsStr::from_bytes(&name));
            let meta = std::fs::symlink_metadata(&child);
            match &meta {
                Ok(m) if ex.excludes(&child, m) => None,
                _ => Some((name, meta)),
            }
        })
        .collect();
    Listing {
        dir: dir.to_path_buf(),
        errors,
        entries,
    }
}

/// Entries handed to the archiver and not yet taken.
struct Budget {
    used: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl Budget {
    /// Waits until `cost` more fits (or nothing is ahead); false when the
    /// archiver is gone.
    fn acquire(&self, cost: usize, stop: &AtomicBool) -> bool {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        while *used > 0 && *used + cost > self.limit {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            used = self
                .freed
                .wait_timeout(used, std::time::Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *used += cost;
        !stop.load(Ordering::Relaxed)
    }

    fn release(&self, cost: usize) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        *used = used.saturating_sub(cost);
        self.freed.notify_all();
    }
}

/// The lister of one top-level directory, and what it has listed.
pub(crate) struct Ahead {
    root: PathBuf,
    rx: Option<Receiver<Listing>>,
    peeked: Option<Listing>,
    budget: Arc<Budget>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ahead {
    /// Starts listing `root` and everything under it that the archiver
    /// will walk (`root_dev`: its device, for `--one-file-system`).
    pub(crate) fn start(root: &Path, ex: &Excluder, root_dev: u64) -> Self {
        Self::with_limit(root, ex, root_dev, AHEAD_ENTRIES)
    }

    fn with_limit(root: &Path, ex: &Excluder, root_dev: u64, limit: usize) -> Self {
        let (tx, rx) = sync_channel(64);
        let budget = Arc::new(Budget {
            used: Mutex::new(0),
            freed: Condvar::new(),
            limit,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let lister = Lister {
            ex: ex.clone(),
            root_dev,
            tx,
            budget: Arc::clone(&budget),
            stop: Arc::clone(&stop),
        };
        let top = root.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("rdr-lister".into())
            .spawn(move || {
                lister.walk(&top);
            })
            .ok();
        Self {
            root: root.to_path_buf(),
            rx: thread.is_some().then_some(rx),
            peeked: None,
            budget,
            stop,
            thread,
        }
    }

    /// Whether `dir` is in what this lister walks.
    pub(crate) fn covers(&self, dir: &Path) -> bool {
        dir.starts_with(&self.root)
    }

    /// The listing of `dir` when the lister made it; `None` when it did
    /// not (the caller lists `dir` itself). Listings of directories before
    /// `dir` in the walk's order were of directories the archiver did not
    /// enter, and are dropped.
    pub(crate) fn take(&mut self, dir: &Path) -> Option<Listing> {
        loop {
            let next = match self.peeked.take() {
                Some(l) => l,
                None => self.rx.as_ref()?.recv().ok()?,
            };
            if next.dir.as_path() > dir {
                self.peeked = Some(next);
                return None;
            }
            self.budget.release(next.cost());
            if next.dir == dir {
                return Some(next);
            }
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.rx = None;
        self.budget.freed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Lister {
    ex: Excluder,
    root_dev: u64,
    tx: SyncSender<Listing>,
    budget: Arc<Budget>,
    stop: Arc<AtomicBool>,
}

impl Lister {
    /// Lists `dir`, hands the listing on, then walks its subdirectories;
    /// false once the archiver is gone.
    fn walk(&self, dir: &Path) -> bool {
        let listing = list_dir(dir, &self.ex);
        let subdirs: Vec<PathBuf> = listing
            .entries
            .iter()
            .filter_map(|(name, meta)| {
                let m = meta.as_ref().ok()?;
                let crosses = self.ex.one_file_system() && m.dev() != self.root_dev;
                (m.is_dir() && !crosses).then(|| dir.join(std::ffi::OsStr::from_bytes(name)))
            })
            .collect();
        if !self.budget.acquire(listing.cost(), &self.stop) || self.tx.send(listing).is_err() {
            return false;
        }
        subdirs.iter().all(|d| self.walk(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::backup::ExcludeOptions;

    fn tree(root: &Path) {
        for d in ["a", "a/x", "a/x/deep", "b", "c", "c/skip", "c/y"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for f in [
            "a/1",
            "a/x/2",
            "a/x/deep/3",
            "b/4",
            "c/skip/5",
            "c/y/6",
            "top",
        ] {
            std::fs::write(root.join(f), f).unwrap();
        }
    }

    fn names(l: &Listing) -> Vec<String> {
        l.entries
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    /// The lister hands out every directory the walk enters, in its order,
    /// with what `list_dir` gives; excluded directories are not entered.
    #[test]
    fn listings_come_in_walk_order() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("r");
        tree(&root);
        let ex = Excluder::new(&ExcludeOptions {
            patterns: vec!["skip".into()],
            ..ExcludeOptions::default()
        })
        .unwrap();
        let dev = std::fs::metadata(&root).unwrap().dev();
        let mut ahead = Ahead::start(&root, &ex, dev);
        let order = ["", "a", "a/x", "a/x/deep", "b", "c", "c/y"];
        for rel in order {
            let dir = if rel.is_empty() {
                root.clone()
            } else {
                root.join(rel)
            };
            let got = ahead
                .take(&dir)
                .unwrap_or_else(|| panic!("{rel} not listed"));
            assert_eq!(names(&got), names(&list_dir(&dir, &ex)), "{rel}");
        }
        assert!(names(&list_dir(&root.join("c"), &ex)) == ["y"]);
        assert!(ahead.take(&root.join("zz")).is_none());
    }

    /// Skipping directories the lister listed drops their listings; asking
    /// for one it did not list returns none and keeps the next.
    #[test]
    fn skipped_and_unknown_directories() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("r");
        tree(&root);
        let ex = Excluder::new(&ExcludeOptions::default()).unwrap();
        let dev = std::fs::metadata(&root).unwrap().dev();
        let mut ahead = Ahead::start(&root, &ex, dev);
        assert!(ahead.take(&root).is_some());
        // the archiver skips a/ entirely: b comes next
        assert_eq!(names(&ahead.take(&root.join("b")).unwrap()), ["4"]);
        // a directory the lister never saw (made since)
        std::fs::create_dir(root.join("bb")).unwrap();
        assert!(ahead.take(&root.join("bb")).is_none());
        assert_eq!(names(&ahead.take(&root.join("c")).unwrap()), ["skip", "y"]);
        // dropped while the lister may still be waiting: no hang
        drop(ahead);
    }

    /// A tree far larger than the budget is listed whole, in order, with
    /// no more than the budget ahead (or one directory).
    #[test]
    fn more_entries_than_the_budget() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().to_path_buf();
        for i in 0..6 {
            let sub = root.join(format!("d{i}"));
            std::fs::create_dir(&sub).unwrap();
            for j in 0..40 {
                std::fs::write(sub.join(format!("{j:03}")), b"").unwrap();
            }
        }
        let ex = Excluder::new(&ExcludeOptions::default()).unwrap();
        let dev = std::fs::metadata(&root).unwrap().dev();
        let mut ahead = Ahead::with_limit(&root, &ex, dev, 100);
        // the root (6 entries) and two directories of 40 go; the third
        // waits (the lister is given up to 10 s to get there)
        let used = || *ahead.budget.used.lock().unwrap();
        let t = std::time::Instant::now();
        while used() < 86 && t.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(used(), 86);
        assert!(ahead.take(&root).is_some());
        for i in 0..6 {
            let l = ahead.take(&root.join(format!("d{i}"))).unwrap();
            assert_eq!(l.entries.len(), 40);
            assert!(*ahead.budget.used.lock().unwrap() <= 100);
        }
        assert!(ahead.take(&root.join("e")).is_none());
    }
}
