//! The local file system side of backup and restore: reading a node's
//! metadata (owner names, xattrs, sparse extents) and applying it back
//! (owner, mode, xattrs, times, special files). Unix only.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Mutex;

use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Group, Uid, User, Whence};
use serde_bytes::ByteBuf;

use crate::format::tree::{Node, NodeKind, Xattr};

const NS: i64 = 1_000_000_000;

/// Caches uid/gid → name lookups (NSS calls are slow).
#[derive(Default)]
pub(crate) struct Names {
    users: Mutex<HashMap<u32, Option<String>>>,
    groups: Mutex<HashMap<u32, Option<String>>>,
}

impl Names {
    fn user(&self, uid: u32) -> Option<String> {
        let mut m = self
            .users
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(uid)
            .or_insert_with(|| {
                User::from_uid(Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }

    fn group(&self, gid: u32) -> Option<String> {
        let mut m = self
            .groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(gid)
            .or_insert_with(|| {
                Group::from_gid(Gid::from_raw(gid))
                    .ok()
                    .flatten()
                    .map(|g| g.name)
            })
            .clone()
    }
}

/// The node kind of a file type, or `None` for something unknown.
pub(crate) fn kind_of(meta: &Metadata) -> Option<NodeKind> {
    let ft = meta.file_type();
    Some(if ft.is_file() {
        NodeKind::File
    } else if ft.is_dir() {
        NodeKind::Dir
    } else if ft.is_symlink() {
        NodeKind::Symlink
    } else if ft.is_fifo() {
        NodeKind::Fifo
    } else if ft.is_char_device() {
        NodeKind::Chardev
    } else if ft.is_block_device() {
        NodeKind::Blockdev
    } else if ft.is_socket() {
        NodeKind::Socket
    } else {
        return None;
    })
}

/// A node with the metadata of `path` (lstat'ed as `meta`); content and
/// subtree are left for the caller. Xattr read errors come back as a warning.
///
/// `before` is the entry's node in the parent snapshot, if any. When it is
/// the same inode of the same kind with the same change time, its extended
/// attributes and symlink target are taken from it instead of being read
/// again: setting an attribute changes the change time, and a symlink's
/// target cannot change without a new inode. On a backup where nothing
/// changed this halves the system calls (one `llistxattr` per entry, as
/// many as the `lstat`s).
pub(crate) fn node_from(
    name: &[u8],
    path: &Path,
    meta: &Metadata,
    names: &Names,
    before: Option<&Node>,
) -> io::Result<(Node, Option<String>)> {
    let kind = kind_of(meta)
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "unknown file type"))?;
    let mut n = Node::new(name, kind);
    n.mode = meta.mode() & 0o7777;
    n.uid = meta.uid();
    n.gid = meta.gid();
    n.user = names.user(n.uid);
    n.group = names.group(n.gid);
    n.mtime = meta.mtime() * NS + meta.mtime_nsec();
    n.ctime = meta.ctime() * NS + meta.ctime_nsec();
    n.dev = meta.dev();
    n.inode = meta.ino();
    n.links = meta.nlink();
    let same = before
        .filter(|b| b.kind == kind && b.inode == n.inode && b.dev == n.dev && b.ctime == n.ctime);
    match kind {
        NodeKind::File => n.size = meta.len(),
        NodeKind::Symlink if same.is_some_and(|b| b.target.is_some()) => {
            n.target = same.and_then(|b| b.target.clone());
            n.size = meta.len();
        }
        NodeKind::Symlink => {
            let t = std::fs::read_link(path)?;
            n.size = t.as_os_str().len() as u64;
            n.target = Some(ByteBuf::from(t.into_os_string().into_encoded_bytes()));
        }
        NodeKind::Chardev | NodeKind::Blockdev => n.rdev = meta.rdev(),
        _ => {}
    }
    let mut warning = None;
    if let Some(b) = same {
        n.xattrs.clone_from(&b.xattrs);
        return Ok((n, warning));
    }
    match read_xattrs(path) {
        Ok(x) => n.xattrs = x,
        Err(e) => warning = Some(format!("extended attributes: {e}")),
    }
    Ok((n, warning))
}

fn read_xattrs(path: &Path) -> io::Result<Vec<Xattr>> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for name in names {
        if let Some(value) = xattr::get(path, &name)? {
            out.push(Xattr {
                name: ByteBuf::from(name.as_bytes().to_vec()),
                value: ByteBuf::from(value),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Holes of a file as (offset, length), found with SEEK_DATA/SEEK_HOLE.
/// Only asked for files whose allocated blocks are fewer than their size.
pub(crate) fn holes(file: &File, meta: &Metadata) -> Vec<(u64, u64)> {
    let size = meta.len();
    if size == 0 || meta.blocks().saturating_mul(512) >= size {
        return Vec::new();
    }
    let mut holes = Vec::new();
    let mut pos: u64 = 0;
    while pos < size {
        let Ok(off) = i64::try_from(pos) else { break };
        let data = match nix::unistd::lseek(file, off, Whence::SeekData) {
            Ok(d) => u64::try_from(d).unwrap_or(size).min(size),
            // ENXIO: no data after pos, the rest is a hole.
            Err(nix::errno::Errno::ENXIO) => size,
            Err(_) => return Vec::new(),
        };
        if data > pos {
            holes.push((pos, data - pos));
        }
        if data >= size {
            break;
        }
        let Ok(doff) = i64::try_from(data) else { break };
        pos = match nix::unistd::lseek(file, doff, Whence::SeekHole) {
            Ok(h) => u64::try_from(h).unwrap_or(size).min(size),
            Err(_) => return Vec::new(),
        };
    }
    holes
}

/// Whether `[offset, offset + len)` of a file is entirely a hole (no data
/// extent starts inside it), so it reads as zeros without reading it.
pub(crate) fn is_hole(file: &File, offset: u64, len: u64) -> bool {
    let Ok(off) = i64::try_from(offset) else {
        return false;
    };
    match nix::unistd::lseek(file, off, Whence::SeekData) {
        Ok(d) => u64::try_from(d).is_ok_and(|d| d >= offset + len),
        Err(nix::errno::Errno::ENXIO) => true,
        Err(_) => false,
    }
}

/// Creates a fifo or device node `name` in the directory `dir`.
pub(crate) fn make_special_at(dir: BorrowedFd<'_>, name: &OsStr, node: &Node) -> io::Result<()> {
    let perm = Mode::from_bits_truncate(node.mode & 0o777);
    let res = match node.kind {
        NodeKind::Fifo => nix::unistd::mkfifoat(dir, name, perm),
        NodeKind::Chardev => nix::sys::stat::mknodat(dir, name, SFlag::S_IFCHR, perm, node.rdev),
        NodeKind::Blockdev => nix::sys::stat::mknodat(dir, name, SFlag::S_IFBLK, perm, node.rdev),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "not a special file",
            ));
        }
    };
    res.map_err(io::Error::from)
}

fn time_spec(ns: i64) -> nix::sys::time::TimeSpec {
    nix::sys::time::TimeSpec::new(ns.div_euclid(NS), ns.rem_euclid(NS))
}

/// The metadata [`apply`] sets, borrowed from a node or a restore plan.
pub(crate) struct Meta<'a> {
    pub kind: NodeKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub xattrs: &'a [Xattr],
}

impl<'a> From<&'a Node> for Meta<'a> {
    fn from(node: &'a Node) -> Self {
        Self {
            kind: node.kind,
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
            mtime: node.mtime,
            xattrs: &node.xattrs,
        }
    }
}

/// Applies owner (when `owners`), mode, xattrs and times to the entry
/// `name` of the directory `dir`, in that order (chown clears setuid bits,
/// so mode comes after). Never through a symlink: one planted where restore
/// expected a file would carry the mode (setuid, world-writable) to a file
/// outside the target, so each call is the no-follow form and a symlink is
/// changed itself or refused. Returns warnings.
pub(crate) fn apply_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    node: &Meta<'_>,
    owners: bool,
) -> Vec<String> {
    use nix::fcntl::AtFlags;
    use nix::sys::stat::{UtimensatFlags, utimensat};
    let mut warnings = Vec::new();
    let link = node.kind == NodeKind::Symlink;
    if owners {
        let (uid, gid) = (Uid::from_raw(node.uid), Gid::from_raw(node.gid));
        if let Err(e) = nix::unistd::fchownat(
            dir,
            name,
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            warnings.push(format!("owner: {}", io::Error::from(e)));
        }
    }
    if !link {
        let mode = Mode::from_bits_truncate(node.mode & 0o7777);
        let res = nix::sys::stat::fchmodat(
            dir,
            name,
            mode,
            nix::sys::stat::FchmodatFlags::NoFollowSymlink,
        );
        if let Err(e) = res {
            warnings.push(format!("mode: {}", io::Error::from(e)));
        }
    }
    if !node.xattrs.is_empty() {
        // lsetxattr through the directory handle's /proc entry: the
        // directory is the one held, and the entry itself is not followed
        let at = Path::new("/proc/self/fd")
            .join(dir.as_raw_fd().to_string())
            .join(name);
        for x in node.xattrs {
            let xname = OsStr::from_bytes(&x.name);
            if let Err(e) = xattr::set(&at, xname, &x.value) {
                // user.* attributes are not allowed on symlinks by Linux.
                if !link {
                    warnings.push(format!(
                        "extended attribute {}: {e}",
                        String::from_utf8_lossy(&x.name)
                    ));
                }
            }
        }
    }
    let t = time_spec(node.mtime);
    if let Err(e) = utimensat(dir, name, &t, &t, UtimensatFlags::NoFollowSymlink) {
        warnings.push(format!("times: {}", io::Error::from(e)));
    }
    warnings
}

/// Whether this process may set owners (it runs as root).
#[must_use]
pub(crate) fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The current user's name, uid and gid.
pub(crate) fn current_user() -> (String, u32, u32) {
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    let name = User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name);
    (name, uid.as_raw(), gid.as_raw())
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A symlink planted where restore expects a file must not pass the
    /// snapshot's mode on to the file it points at (issue 19).
    #[test]
    fn metadata_is_never_applied_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"root's file").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
        let planted = dir.path().join("target-file");
        std::os::unix::fs::symlink(&outside, &planted).unwrap();
        let node = Meta {
            kind: NodeKind::File,
            mode: 0o4777,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: &[],
        };
        let dirfd = File::open(dir.path()).unwrap();
        let apply = |p: &Path, node: &Meta<'_>| {
            apply_at(dirfd.as_fd(), p.file_name().unwrap(), node, false)
        };
        let warnings = apply(&planted, &node);
        let mode = std::fs::metadata(&outside).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "the mode went through the symlink");
        assert!(
            warnings.iter().any(|w| w.starts_with("mode:")),
            "{warnings:?}"
        );
        // on the file itself the mode is applied
        let real = dir.path().join("real");
        std::fs::write(&real, b"x").unwrap();
        let node = Meta {
            mode: 0o640,
            ..node
        };
        assert!(apply(&real, &node).is_empty());
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
    }
}
