//! The walker of a file-tree backup: turns paths into nodes and tree blobs,
//! reusing unchanged files from the parent snapshot.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::ahead::{Ahead, list_dir};
use super::exclude::Excluder;
use super::saver::Saver;
use crate::error::{Error, Result};
use crate::format::snapshot::Summary;
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::BlobId;
use crate::ops::fsmeta::{self, Names};
use crate::ops::progress::Progress;
use crate::repo::Repository;

/// The top of a multi-path backup: directories above the given paths are
/// recorded with their own metadata but only the chosen children.
pub(crate) enum Top {
    Real(PathBuf),
    Virtual(PathBuf, BTreeMap<Vec<u8>, Top>),
}

/// Builds the top structure from absolute, normalized paths.
pub(crate) fn build_top(paths: &[PathBuf]) -> Top {
    let mut root = Top::Virtual(PathBuf::from("/"), BTreeMap::new());
    for p in paths {
        if p == Path::new("/") {
            return Top::Real(p.clone());
        }
        let comps: Vec<&std::ffi::OsStr> = p
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        let mut cur = &mut root;
        let mut at = PathBuf::from("/");
        for (i, c) in comps.iter().enumerate() {
            at.push(c);
            let Top::Virtual(_, kids) = cur else { break };
            let last = i + 1 == comps.len();
            let entry = kids
                .entry(c.as_bytes().to_vec())
                .or_insert_with(|| Top::Virtual(at.clone(), BTreeMap::new()));
            if last {
                *entry = Top::Real(at.clone());
            }
            cur = entry;
        }
    }
    root
}

struct LinkInfo {
    size: u64,
    mtime: i64,
    ctime: i64,
    content: Vec<BlobId>,
    holes: Vec<(u64, u64)>,
}

pub(crate) struct Archiver<'a, 's> {
    pub repo: &'a Repository,
    pub saver: &'s mut Saver,
    pub excluder: Excluder,
    pub progress: &'a dyn Progress,
    pub force: bool,
    pub summary: Summary,
    pub warnings: Vec<String>,
    pub names: Names,
    links: HashMap<(u64, u64), LinkInfo>,
    root_dev: u64,
    /// Listings of the directories under the current top-level path,
    /// read ahead on a thread of their own.
    ahead: Option<Ahead>,
}

/// Reads the data regions (the complement of `holes`) of a file in order.
struct Regions<'f> {
    file: &'f File,
    regions: Vec<(u64, u64)>,
    at: usize,
    pos: u64,
}

impl Read for Regions<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(&(off, len)) = self.regions.get(self.at) {
            let end = off + len;
            if self.pos < off {
                self.pos = off;
            }
            if self.pos >= end {
                self.at += 1;
                continue;
            }
            let want = usize::try_from(end - self.pos)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = self.file.read_at(&mut buf[..want], self.pos)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "sparse file shrank while being read",
                ));
            }
            self.pos += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}

fn data_regions(size: u64, holes: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    for &(off, len) in holes {
        if off > pos {
            out.push((pos, off - pos));
        }
        pos = off + len;
    }
    if pos < size {
        out.push((pos, size - pos));
    }
    out
}

fn unchanged(node: &Node, old: &Node) -> bool {
    old.kind == NodeKind::File
        && old.size == node.size
        && old.mtime == node.mtime
        && old.ctime == node.ctime
        && old.inode == node.inode
}

impl<'a, 's> Archiver<'a, 's> {
    pub(crate) fn new(
        repo: &'a Repository,
        saver: &'s mut Saver,
        excluder: Excluder,
        progress: &'a dyn Progress,
        force: bool,
    ) -> Self {
        Self {
            repo,
            saver,
            excluder,
            progress,
            force,
            summary: Summary::default(),
            warnings: Vec::new(),
            names: Names::default(),
            links: HashMap::new(),
            root_dev: 0,
            ahead: None,
        }
    }

    fn warn(&mut self, path: &Path, msg: impl std::fmt::Display) {
        let msg = msg.to_string();
        self.progress.warning(path, &msg);
        self.warnings.push(format!("{}: {msg}", path.display()));
    }

    fn parent_tree(&mut self, path: &Path, old: Option<&Node>) -> Option<Tree> {
        let id = old.filter(|n| n.kind == NodeKind::Dir)?.subtree?;
        match self.repo.load_tree(&id) {
            Ok(t) => Some(t),
            Err(e) => {
                // A damaged parent only costs re-reading; say so and go on.
                self.progress
                    .warning(path, &format!("parent tree unusable, reading all: {e}"));
                None
            }
        }
    }

    /// Archives the top structure; returns the root tree id.
    pub(crate) fn archive_top(&mut self, top: &Top, parent: Option<&Tree>) -> Result<BlobId> {
        match top {
            Top::Real(p) => {
                self.root_dev = std::fs::symlink_metadata(p)
                    .map_err(|e| Error::io(p.display(), e))?
                    .dev();
                // with no parent every file is read: listing ahead saves
                // little there, and its thread's heap costs peak memory
                self.ahead = parent.map(|_| Ahead::start(p, &self.excluder, self.root_dev));
                self.archive_dir(p, parent)
            }
            Top::Virtual(_, kids) => {
                let mut tree = Tree::default();
                for (name, kid) in kids {
                    let old = parent.and_then(|t| t.get(name)).cloned();
                    if let Some(n) = self.archive_kid(name, kid, old.as_ref())? {
                        tree.nodes.push(n);
                    }
                }
                self.saver.save_tree(&tree)
            }
        }
    }

    fn archive_kid(&mut self, name: &[u8], kid: &Top, old: Option<&Node>) -> Result<Option<Node>> {
        match kid {
            Top::Real(p) => {
                let meta = std::fs::symlink_metadata(p).map_err(|e| Error::io(p.display(), e))?;
                self.root_dev = meta.dev();
                let has_parent =
                    old.is_some_and(|o| o.kind == NodeKind::Dir && o.subtree.is_some());
                self.ahead = (meta.is_dir() && has_parent)
                    .then(|| Ahead::start(p, &self.excluder, self.root_dev));
                self.archive_entry(p, name, &meta, old)
            }
            Top::Virtual(p, _) => {
                let meta = std::fs::symlink_metadata(p).map_err(|e| Error::io(p.display(), e))?;
                let (mut node, _) = fsmeta::node_from(name, p, &meta, &self.names, None)
                    .map_err(|e| Error::io(p.display(), e))?;
                let parent = self.parent_tree(p, old);
                node.subtree = Some(self.archive_top(kid, parent.as_ref())?);
                Ok(Some(node))
            }
        }
    }

    fn archive_dir(&mut self, path: &Path, parent: Option<&Tree>) -> Result<BlobId> {
        let listing = self
            .ahead
            .as_mut()
            .filter(|a| a.covers(path))
            .and_then(|a| a.take(path))
            .unwrap_or_else(|| list_dir(path, &self.excluder));
        for e in &listing.errors {
            self.warn(path, e);
        }
        let mut tree = Tree::default();
        for (name, meta) in listing.entries {
            if self.progress.is_cancelled() {
                return Err(Error::Cancelled);
            }
            let child = path.join(std::ffi::OsStr::from_bytes(&name));
            let meta = match meta {
                Ok(m) => m,
                Err(e) => {
                    self.warn(&child, e);
                    continue;
                }
            };
            let old = parent.and_then(|t| t.get(&name));
            if let Some(n) = self.archive_entry(&child, &name, &meta, old)? {
                tree.nodes.push(n);
            }
        }
        self.saver.save_tree(&tree)
    }

    fn archive_entry(
        &mut self,
        path: &Path,
        name: &[u8],
        meta: &Metadata,
        old: Option<&Node>,
    ) -> Result<Option<Node>> {
        self.progress.current(path);
        let before = old.filter(|_| !self.force);
        let (mut node, xwarn) = match fsmeta::node_from(name, path, meta, &self.names, before) {
            Ok(n) => n,
            Err(e) => {
                self.warn(path, e);
                return Ok(None);
            }
        };
        if let Some(w) = xwarn {
            self.warn(path, w);
        }
        match node.kind {
            NodeKind::File => {
                if !self.save_file(path, &mut node, old)? {
                    return Ok(None);
                }
                self.summary.bytes_total += node.size;
                self.progress.advance(1, 0);
            }
            NodeKind::Dir => {
                let crosses = self.excluder.one_file_system() && meta.dev() != self.root_dev;
                let id = if crosses {
                    self.saver.save_tree(&Tree::default())?
                } else {
                    let parent = self.parent_tree(path, old);
                    self.archive_dir(path, parent.as_ref())?
                };
                node.subtree = Some(id);
                match old.and_then(|o| o.subtree) {
                    None => self.summary.dirs_new += 1,
                    Some(o) if o == id => self.summary.dirs_unchanged += 1,
                    Some(_) => self.summary.dirs_changed += 1,
                }
            }
            _ => self.progress.advance(1, 0),
        }
        Ok(Some(node))
    }

    /// Fills a file node's content. Returns false when the file could not
    /// be read (a warning was recorded).
    fn save_file(&mut self, path: &Path, node: &mut Node, old: Option<&Node>) -> Result<bool> {
        if let Some(o) = old.filter(|o| !self.force && unchanged(node, o))
            && self.saver.all_known(&o.content)
        {
            node.content.clone_from(&o.content);
            node.holes.clone_from(&o.holes);
            self.summary.files_unchanged += 1;
            self.progress.advance(0, node.size);
            return Ok(true);
        }
        let key = (node.dev, node.inode);
        if node.links > 1
            && let Some(l) = self.links.get(&key)
            && l.size == node.size
            && l.mtime == node.mtime
            && l.ctime == node.ctime
        {
            node.content.clone_from(&l.content);
            node.holes.clone_from(&l.holes);
            // Another name of a file read in this run.
            if old.is_some() {
                self.summary.files_unchanged += 1;
            } else {
                self.summary.files_new += 1;
            }
            return Ok(true);
        }
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.warn(path, e);
                return Ok(false);
            }
        };
        let fmeta = match file.metadata() {
            Ok(m) => m,
            Err(e) => {
                self.warn(path, e);
                return Ok(false);
            }
        };
        let holes = fsmeta::holes(&file, &fmeta);
        let res = if holes.is_empty() {
            self.saver.save_stream(&file, self.progress)?
        } else {
            let regions = Regions {
                file: &file,
                regions: data_regions(fmeta.len(), &holes),
                at: 0,
                pos: 0,
            };
            self.saver.save_stream(regions, self.progress)?
        };
        match res {
            Ok((ids, n)) => {
                node.content = ids;
                node.size = if holes.is_empty() { n } else { fmeta.len() };
                node.holes = holes;
                self.summary.bytes_read += n;
                if old.is_some() {
                    self.summary.files_changed += 1;
                } else {
                    self.summary.files_new += 1;
                }
                if node.links > 1 {
                    self.links.insert(
                        key,
                        LinkInfo {
                            size: node.size,
                            mtime: node.mtime,
                            ctime: node.ctime,
                            content: node.content.clone(),
                            holes: node.holes.clone(),
                        },
                    );
                }
                Ok(true)
            }
            Err(e) => {
                self.warn(path, format!("read failed: {e}"));
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_complement_holes() {
        assert_eq!(data_regions(10, &[]), vec![(0, 10)]);
        assert_eq!(data_regions(10, &[(0, 4)]), vec![(4, 6)]);
        assert_eq!(data_regions(10, &[(2, 2), (6, 4)]), vec![(0, 2), (4, 2)]);
    }

    #[test]
    fn top_merges_paths() {
        let t = build_top(&[
            PathBuf::from("/srv/a"),
            PathBuf::from("/srv/a/b"),
            PathBuf::from("/etc"),
        ]);
        let Top::Virtual(_, kids) = t else { panic!() };
        assert_eq!(kids.len(), 2);
        let Top::Virtual(_, srv) = &kids[&b"srv".to_vec()] else {
            panic!()
        };
        assert!(matches!(srv[&b"a".to_vec()], Top::Real(_)));
        assert!(matches!(build_top(&[PathBuf::from("/")]), Top::Real(_)));
    }
}
