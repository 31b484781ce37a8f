//! A read-only, browsable view of a repository: what `rdr mount` shows
//! through FUSE, kept free of FUSE so any front end can serve it.
//!
//! Layout (as restic's mount):
//!
//! ```text
//! /ids/<short id>/…             each snapshot's files
//! /snapshots/<time>             -> ../ids/<short id>; and `latest`
//! /hosts/<host>/<time>          -> ../../ids/<short id>; and `latest` per host
//! /tags/<tag>/<time>            -> ../../ids/<short id>; and `latest` per tag
//! ```
//!
//! Entries get inode numbers as they are first listed or looked up, so
//! memory grows with what is browsed, not with the repository. File
//! contents are read on demand: a read decrypts only the blobs it
//! overlaps, through a small cache of recent blobs bounded in bytes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::id::{BlobId, SnapshotId};
use crate::ops::content::{Layout, Piece, layout};
use crate::repo::Repository;

/// The inode number of the root.
pub const ROOT: u64 = 1;

/// Bytes of decrypted blobs kept for reads.
const BLOB_CACHE_BYTES: usize = 32 << 20;
/// File layouts kept for reads.
const LAYOUTS_KEPT: usize = 256;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A unix socket.
    Socket,
}

/// An entry's attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// Inode number in this view.
    pub ino: u64,
    /// What it is.
    pub kind: EntryKind,
    /// Size in bytes (a link: its target's length).
    pub size: u64,
    /// Permission bits.
    pub perm: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, ns since the Unix epoch.
    pub mtime: i64,
    /// Change time, ns since the Unix epoch.
    pub ctime: i64,
    /// Device number of a device node.
    pub rdev: u64,
}

enum Body {
    /// A folder of the layout, its entries known.
    Virtual(Vec<(Vec<u8>, u64)>),
    /// A link of the layout.
    Link(Vec<u8>),
    /// An entry of a snapshot; a folder's entries once listed.
    Node(Arc<Node>, Option<Vec<(Vec<u8>, u64)>>),
}

struct Inode {
    attr: Attr,
    body: Body,
}

struct Cache {
    blobs: HashMap<BlobId, Arc<Vec<u8>>>,
    order: VecDeque<BlobId>,
    bytes: usize,
    layouts: HashMap<u64, Arc<Layout>>,
}

/// The browsable view of a repository (see the module docs).
pub struct Browser {
    repo: Repository,
    inodes: Mutex<Vec<Inode>>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

fn dir_attr(ino: u64, mtime: i64) -> Attr {
    Attr {
        ino,
        kind: EntryKind::Dir,
        size: 0,
        perm: 0o555,
        uid: 0,
        gid: 0,
        mtime,
        ctime: mtime,
        rdev: 0,
    }
}

fn node_attr(ino: u64, n: &Node) -> Attr {
    let kind = match n.kind {
        NodeKind::File => EntryKind::File,
        NodeKind::Dir => EntryKind::Dir,
        NodeKind::Symlink => EntryKind::Symlink,
        NodeKind::Fifo => EntryKind::Fifo,
        NodeKind::Chardev => EntryKind::CharDevice,
        NodeKind::Blockdev => EntryKind::BlockDevice,
        NodeKind::Socket => EntryKind::Socket,
    };
    let size = match n.kind {
        NodeKind::File => n.size,
        NodeKind::Symlink => n.target.as_ref().map_or(0, |t| t.len() as u64),
        _ => 0,
    };
    Attr {
        ino,
        kind,
        size,
        perm: u16::try_from(n.mode & 0o7777).unwrap_or(0o444),
        uid: n.uid,
        gid: n.gid,
        mtime: n.mtime,
        ctime: n.ctime,
        rdev: n.rdev,
    }
}

/// A snapshot's name in time-ordered folders: its UTC time, made unique.
fn time_name(s: &Snapshot, taken: &mut HashMap<String, usize>) -> String {
    let base = crate::time::format_ns(s.time).replace(' ', "T") + "Z";
    let n = taken.entry(base.clone()).or_insert(0);
    *n += 1;
    if *n == 1 { base } else { format!("{base}-{n}") }
}

impl Browser {
    /// The view of `repo`'s snapshots as they are now.
    ///
    /// # Errors
    /// Storage errors listing or reading the snapshots.
    pub fn new(repo: &Repository) -> Result<Self> {
        let mut snaps = repo.snapshots()?;
        snaps.sort_by_key(|(id, s)| (s.time, *id));
        let b = Self {
            repo: repo.clone(),
            inodes: Mutex::new(Vec::new()),
            cache: Mutex::new(Cache {
                blobs: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
                layouts: HashMap::new(),
            }),
        };
        b.build(&snaps);
        Ok(b)
    }

    fn push(inodes: &mut Vec<Inode>, attr: impl FnOnce(u64) -> Attr, body: Body) -> u64 {
        let ino = inodes.len() as u64 + 1;
        inodes.push(Inode {
            attr: attr(ino),
            body,
        });
        ino
    }

    fn build(&self, snaps: &[(SnapshotId, Snapshot)]) {
        let mut inodes = self.inodes.lock().unwrap_or_else(PoisonError::into_inner);
        let newest = snaps.last().map_or(0, |(_, s)| s.time);
        Self::push(
            &mut inodes,
            |i| dir_attr(i, newest),
            Body::Virtual(Vec::new()),
        );
        // one real folder per snapshot
        let mut ids = Vec::new();
        for (id, s) in snaps {
            let root = Node {
                subtree: Some(s.tree),
                mtime: s.time,
                ctime: s.time,
                mode: 0o755,
                ..Node::new(id.short().as_bytes(), NodeKind::Dir)
            };
            let root = Arc::new(root);
            let ino = Self::push(
                &mut inodes,
                |i| node_attr(i, &root),
                Body::Node(Arc::clone(&root), None),
            );
            ids.push((id.short().into_bytes(), ino));
        }
        let link = |inodes: &mut Vec<Inode>, target: String, time: i64| {
            let t = target.into_bytes();
            let len = t.len() as u64;
            Self::push(
                inodes,
                |i| Attr {
                    kind: EntryKind::Symlink,
                    size: len,
                    perm: 0o777,
                    ..dir_attr(i, time)
                },
                Body::Link(t),
            )
        };
        // a folder of time-named links to the snapshots in `members`
        let timeline = |inodes: &mut Vec<Inode>, members: &[usize], up: &str| {
            let mut taken = HashMap::new();
            let mut entries = Vec::new();
            for &m in members {
                let (id, s) = &snaps[m];
                let name = time_name(s, &mut taken);
                let ino = link(inodes, format!("{up}ids/{}", id.short()), s.time);
                entries.push((name.into_bytes(), ino));
            }
            if let Some(&last) = members.last() {
                let (id, s) = &snaps[last];
                let ino = link(inodes, format!("{up}ids/{}", id.short()), s.time);
                entries.push((b"latest".to_vec(), ino));
            }
            let time = members.last().map_or(0, |&m| snaps[m].1.time);
            Self::push(inodes, |i| dir_attr(i, time), Body::Virtual(entries))
        };
        let all: Vec<usize> = (0..snaps.len()).collect();
        let snapshots = timeline(&mut inodes, &all, "../");
        let mut by_host: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut by_tag: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, (_, s)) in snaps.iter().enumerate() {
            by_host.entry(s.hostname.as_str()).or_default().push(i);
            for t in &s.tags {
                by_tag.entry(t.as_str()).or_default().push(i);
            }
        }
        let group = |inodes: &mut Vec<Inode>, groups: BTreeMap<&str, Vec<usize>>| {
            let entries: Vec<(Vec<u8>, u64)> = groups
                .into_iter()
                .map(|(name, members)| {
                    let name = if name.is_empty() { "(none)" } else { name };
                    (
                        name.replace('/', "_").into_bytes(),
                        timeline(inodes, &members, "../../"),
                    )
                })
                .collect();
            Self::push(inodes, |i| dir_attr(i, newest), Body::Virtual(entries))
        };
        let hosts = group(&mut inodes, by_host);
        let tags = group(&mut inodes, by_tag);
        let ids_dir = Self::push(&mut inodes, |i| dir_attr(i, newest), Body::Virtual(ids));
        inodes[0].body = Body::Virtual(vec![
            (b"hosts".to_vec(), hosts),
            (b"ids".to_vec(), ids_dir),
            (b"snapshots".to_vec(), snapshots),
            (b"tags".to_vec(), tags),
        ]);
    }

    /// The attributes of an entry.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown inode.
    pub fn attr(&self, ino: u64) -> Result<Attr> {
        let inodes = self.inodes.lock().unwrap_or_else(PoisonError::into_inner);
        Self::get(&inodes, ino).map(|i| i.attr)
    }

    fn get(inodes: &[Inode], ino: u64) -> Result<&Inode> {
        usize::try_from(ino)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| inodes.get(i))
            .ok_or_else(|| Error::NotFound(format!("inode {ino}")))
    }

    /// The entries of a folder, in order, with their attributes.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown inode, [`Error::InvalidInput`]
    /// for one that is not a folder; errors loading the folder's tree.
    pub fn read_dir(&self, ino: u64) -> Result<Vec<(Vec<u8>, Attr)>> {
        let subtree = {
            let inodes = self.inodes.lock().unwrap_or_else(PoisonError::into_inner);
            match &Self::get(&inodes, ino)?.body {
                Body::Virtual(e) | Body::Node(_, Some(e)) => {
                    return Ok(e
                        .iter()
                        .map(|(n, i)| (n.clone(), inodes[(*i - 1) as usize].attr))
                        .collect());
                }
                Body::Node(n, None) if n.kind == NodeKind::Dir => n.subtree,
                _ => return Err(Error::InvalidInput(format!("inode {ino} is not a folder"))),
            }
        };
        // loaded outside the lock: other requests go on meanwhile
        let tree = match subtree {
            Some(id) => self.repo.load_tree(&id)?.nodes,
            None => Vec::new(),
        };
        let mut inodes = self.inodes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Body::Node(_, Some(_)) = &Self::get(&inodes, ino)?.body {
            drop(inodes);
            return self.read_dir(ino); // listed by another request meanwhile
        }
        let mut entries = Vec::with_capacity(tree.len());
        for n in tree {
            let name = n.name.to_vec();
            let n = Arc::new(n);
            let child = Self::push(
                &mut inodes,
                |i| node_attr(i, &n),
                Body::Node(Arc::clone(&n), None),
            );
            entries.push((name, child));
        }
        let out = entries
            .iter()
            .map(|(n, i)| (n.clone(), inodes[(*i - 1) as usize].attr))
            .collect();
        if let Some(inode) = usize::try_from(ino - 1)
            .ok()
            .and_then(|i| inodes.get_mut(i))
            && let Body::Node(_, listed) = &mut inode.body
        {
            *listed = Some(entries);
        }
        Ok(out)
    }

    /// The entry `name` in the folder `parent`, if there is one.
    ///
    /// # Errors
    /// As [`Self::read_dir`].
    pub fn lookup(&self, parent: u64, name: &[u8]) -> Result<Option<Attr>> {
        Ok(self
            .read_dir(parent)?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a))
    }

    /// A link's target.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown inode, [`Error::InvalidInput`]
    /// for one that is not a link.
    pub fn read_link(&self, ino: u64) -> Result<Vec<u8>> {
        let inodes = self.inodes.lock().unwrap_or_else(PoisonError::into_inner);
        match &Self::get(&inodes, ino)?.body {
            Body::Link(t) => Ok(t.clone()),
            Body::Node(n, _) if n.kind == NodeKind::Symlink => {
                Ok(n.target.as_ref().map(|t| t.to_vec()).unwrap_or_default())
            }
            _ => Err(Error::InvalidInput(format!("inode {ino} is not a link"))),
        }
    }

    /// Up to `size` bytes of a file from `offset` (fewer at its end).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown inode, [`Error::InvalidInput`]
    /// for one that is not a file; [`Error::Corrupt`] and storage errors
    /// reading its blobs.
    pub fn read(&self, ino: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let layout = self.layout(ino)?;
        let end = offset.saturating_add(u64::from(size));
        let file_end = layout.pieces.last().map_or(0, |p| match *p {
            Piece::Hole { offset, len } | Piece::Data { offset, len, .. } => offset + len,
        });
        let end = end.min(file_end);
        let mut out = Vec::with_capacity(usize::try_from(end.saturating_sub(offset)).unwrap_or(0));
        let first = layout.pieces.partition_point(|p| match *p {
            Piece::Hole { offset: o, len } | Piece::Data { offset: o, len, .. } => {
                o + len <= offset
            }
        });
        for p in &layout.pieces[first..] {
            let (p_off, p_len) = match *p {
                Piece::Hole { offset, len } | Piece::Data { offset, len, .. } => (offset, len),
            };
            if p_off >= end {
                break;
            }
            let from = offset.max(p_off);
            let to = end.min(p_off + p_len);
            match *p {
                Piece::Hole { .. } => out.resize(out.len() + (to - from) as usize, 0),
                Piece::Data { blob, start, .. } => {
                    let data = self.blob(&layout.blobs[blob].0)?;
                    let a = usize::try_from(start + (from - p_off)).unwrap_or(usize::MAX);
                    let b = usize::try_from(start + (to - p_off)).unwrap_or(usize::MAX);
                    let slice = data.get(a..b).ok_or_else(|| {
                        let source = crate::format::FormatError::Truncated {
                            what: "blob",
                            need: b,
                            have: data.len(),
                        };
                        Error::corrupt("blob", layout.blobs[blob].0, source)
                    })?;
                    out.extend_from_slice(slice);
                }
            }
        }
        Ok(out)
    }

    fn layout(&self, ino: u64) -> Result<Arc<Layout>> {
        if let Some(l) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .layouts
            .get(&ino)
        {
            return Ok(Arc::clone(l));
        }
        let node = {
            let inodes = self.inodes.lock().unwrap_or_else(PoisonError::into_inner);
            match &Self::get(&inodes, ino)?.body {
                Body::Node(n, _) if n.kind == NodeKind::File => Arc::clone(n),
                _ => return Err(Error::InvalidInput(format!("inode {ino} is not a file"))),
            }
        };
        let index = self.repo.index()?;
        let l = Arc::new(layout(&index, &node, &String::from_utf8_lossy(&node.name))?);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.layouts.len() >= LAYOUTS_KEPT {
            cache.layouts.clear();
        }
        cache.layouts.insert(ino, Arc::clone(&l));
        Ok(l)
    }

    fn blob(&self, id: &BlobId) -> Result<Arc<Vec<u8>>> {
        if let Some(b) = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blobs
            .get(id)
        {
            return Ok(Arc::clone(b));
        }
        let data = Arc::new(self.repo.read_blob(id)?);
        let mut c = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if c.blobs.insert(*id, Arc::clone(&data)).is_none() {
            c.order.push_back(*id);
            c.bytes += data.len();
        }
        while c.bytes > BLOB_CACHE_BYTES && c.order.len() > 1 {
            if let Some(old) = c.order.pop_front()
                && let Some(b) = c.blobs.remove(&old)
            {
                c.bytes -= b.len();
            }
        }
        Ok(data)
    }
}

#[cfg(test)]
#[path = "browse_tests.rs"]
mod tests;
