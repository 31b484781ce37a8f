//! What a restore will create: the selected entries of a snapshot with
//! their target paths, found in one walk of the trees.
//!
//! The plan is the restore's largest structure (one entry per file of the
//! snapshot), so it keeps only what the later steps use: a file is a
//! [`FileEntry`] (path, size, mode, owner ids, mtime, blobs, holes,
//! xattrs), other entries drop their names and owner names, and the
//! vectors are cut to their length.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde_bytes::ByteBuf;

use super::RestoreOptions;
use crate::error::Result;
use crate::format::tree::{Node, NodeKind, Xattr};
use crate::id::BlobId;
use crate::ops::content::{Layout, layout_of};
use crate::ops::filter::Selection;
use crate::ops::fsmeta::Meta;
use crate::ops::nav::{self, Trees};
use crate::repo::MasterIndex;

/// One entry to restore.
pub(super) struct Entry {
    /// Where it goes.
    pub(super) path: PathBuf,
    /// What it holds, without the fields a restore does not read.
    pub(super) node: Node,
}

impl Entry {
    fn new(path: PathBuf, mut node: Node) -> Self {
        node.name = ByteBuf::new();
        node.user = None;
        node.group = None;
        Self { path, node }
    }
}

/// A regular file to restore: a third of a [`Node`]'s size, as a restore
/// of a large tree holds one per file until the end.
pub(super) struct FileEntry {
    /// Where it goes.
    pub(super) path: PathBuf,
    /// Logical size.
    pub(super) size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    content: Box<[BlobId]>,
    holes: Box<[(u64, u64)]>,
    xattrs: Box<[Xattr]>,
}

impl FileEntry {
    pub(super) fn new(path: PathBuf, node: Node) -> Self {
        Self {
            path,
            size: node.size,
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
            mtime: node.mtime,
            content: node.content.into_boxed_slice(),
            holes: node.holes.into_boxed_slice(),
            xattrs: node.xattrs.into_boxed_slice(),
        }
    }

    /// What `fsmeta::apply` sets.
    pub(super) fn meta(&self) -> Meta<'_> {
        Meta {
            kind: NodeKind::File,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            mtime: self.mtime,
            xattrs: &self.xattrs,
        }
    }

    /// Its blobs and pieces; `shown` names it in errors.
    /// The snapshot's modification time of the file (ns).
    pub(super) fn mtime(&self) -> i64 {
        self.mtime
    }

    pub(super) fn layout(&self, index: &MasterIndex, shown: &str) -> Result<Layout> {
        layout_of(index, &self.content, &self.holes, self.size, shown)
    }
}

/// Every entry a restore creates, by kind.
pub(super) struct Plan {
    /// Directories, parents before children.
    pub(super) dirs: Vec<Entry>,
    /// Symlinks, fifos, devices and sockets.
    pub(super) others: Vec<Entry>,
    /// Regular files (the first path of each hard-linked inode).
    pub(super) files: Vec<FileEntry>,
    /// Further paths of hard-linked files: (first path, this path).
    pub(super) links: Vec<(PathBuf, PathBuf)>,
}

fn rel_path(base: &[u8], path: &[u8]) -> PathBuf {
    let rel = path.strip_prefix(base).unwrap_or(path);
    let rel: Vec<u8> = rel.iter().copied().skip_while(|&b| b == b'/').collect();
    PathBuf::from(std::ffi::OsStr::from_bytes(&rel))
}

/// A directory open during the walk.
struct Open {
    depth: usize,
    selected: bool,
    /// Its index in `Plan::dirs`.
    at: usize,
}

/// Builder state of one walk.
struct Planner<'a> {
    opts: &'a RestoreOptions,
    base: Vec<u8>,
    plan: Plan,
    /// Per entry of `plan.dirs`: selected itself, or leads to a selected entry.
    keep_dir: Vec<bool>,
    primaries: HashMap<(u64, u64), PathBuf>,
}

impl Planner<'_> {
    /// Adds an entry; a directory is added with whether it is selected
    /// itself, and its index in `Plan::dirs` is returned.
    fn add(&mut self, path: &[u8], node: Node, selected: bool) -> Option<usize> {
        let target = self.opts.target.join(rel_path(&self.base, path));
        match node.kind {
            NodeKind::Dir => {
                self.plan.dirs.push(Entry::new(target, node));
                self.keep_dir.push(selected);
                return Some(self.plan.dirs.len() - 1);
            }
            NodeKind::File => {
                if node.links > 1 {
                    let key = (node.dev, node.inode);
                    if let Some(first) = self.primaries.get(&key) {
                        self.plan.links.push((first.clone(), target));
                        return None;
                    }
                    self.primaries.insert(key, target.clone());
                }
                self.plan.files.push(FileEntry::new(target, node));
            }
            _ => self.plan.others.push(Entry::new(target, node)),
        }
        None
    }

    fn finish(mut self) -> Plan {
        let mut keep = self.keep_dir.into_iter();
        self.plan.dirs.retain(|_| keep.next().unwrap_or(false));
        self.plan.dirs.shrink_to_fit();
        self.plan.files.shrink_to_fit();
        self.plan.others.shrink_to_fit();
        self.plan.links.shrink_to_fit();
        self.plan
    }
}

/// Plans the restore of `subpath` of the snapshot whose root tree is
/// `root`: the entries selected by the include and exclude patterns, and
/// the directories leading to them, with their target paths. Reads trees
/// only, through `trees`; writes nothing.
pub(super) fn plan<T: Trees + ?Sized>(
    trees: &T,
    root: BlobId,
    subpath: &str,
    opts: &RestoreOptions,
) -> Result<Plan> {
    let selection = Selection::new(&opts.include, &opts.exclude)?;
    let mut base = nav::normalize(subpath.as_bytes());
    let start = nav::lookup(trees, root, &base)?;
    let selected = |path: &[u8], inherited: bool| selection.includes(path, inherited);
    let mut p = Planner {
        opts,
        base: Vec::new(),
        plan: Plan {
            dirs: Vec::new(),
            others: Vec::new(),
            files: Vec::new(),
            links: Vec::new(),
        },
        keep_dir: Vec::new(),
        primaries: HashMap::new(),
    };
    if start.kind == NodeKind::Dir && start.subtree.is_some() {
        p.base.clone_from(&base);
        let mut stack: Vec<Open> = Vec::new();
        let top = start.subtree.unwrap_or_default();
        let depth_of = |p: &[u8]| p.iter().filter(|&&b| b == b'/').count();
        let base_depth = depth_of(&base);
        nav::walk(trees, top, &base, &mut |path, node| {
            if selection.excludes(path) {
                return Ok(false);
            }
            let depth = depth_of(path) - base_depth;
            while stack.last().is_some_and(|o| o.depth >= depth) {
                stack.pop();
            }
            let sel = selected(path, stack.last().is_some_and(|o| o.selected));
            if sel {
                // the open directories lead here: keep them
                for o in stack.iter().rev() {
                    if p.keep_dir[o.at] {
                        break;
                    }
                    p.keep_dir[o.at] = true;
                }
            }
            if (node.kind == NodeKind::Dir || sel)
                && let Some(at) = p.add(path, node.clone(), sel)
            {
                stack.push(Open {
                    depth,
                    selected: sel,
                    at,
                });
            }
            Ok(true)
        })?;
    } else {
        // A single entry: restore it under its own name.
        let path = base.clone();
        let cut = base.iter().rposition(|&b| b == b'/').unwrap_or(0);
        base.truncate(cut);
        p.base = base;
        let sel = selected(&path, false);
        if start.kind == NodeKind::Dir || sel {
            p.add(&path, start, sel);
        }
    }
    Ok(p.finish())
}
