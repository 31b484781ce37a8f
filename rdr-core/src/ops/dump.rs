//! `dump`: one file of a snapshot to a writer (`rdr dump latest
//! appdb.sql | psql`), or a directory as a tar or zip stream.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tar::{EntryType, Header};

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::ops::content;
use crate::ops::nav;
use crate::ops::zip::ZipWriter;
use crate::repo::Repository;

/// What `dump` wrote, and what it could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct DumpOutcome {
    /// The form of the output.
    pub format: DumpFormat,
    /// Damaged index files left out and packs whose headers did not read
    /// (the dump went on with the rest; non-empty means it may be short of
    /// what the repository once held).
    pub warnings: Vec<String>,
}

/// The form of `dump`'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// The raw content of one file.
    File,
    /// A tar stream of a directory.
    Tar,
    /// A zip archive of a directory.
    Zip,
}

/// The archive a directory is dumped as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Archive {
    /// tar (GNU format): every kind of entry, owners, hard links.
    #[default]
    Tar,
    /// zip (stored entries, ZIP64 when needed): files, folders and
    /// symlinks with their modes and times; hard-linked files are stored
    /// once per path; devices, fifos and sockets are left out (each is
    /// named in the warnings).
    Zip,
}

impl Archive {
    /// Parses `tar` or `zip`.
    ///
    /// # Errors
    /// A message naming the text for anything else.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "tar" => Ok(Self::Tar),
            "zip" => Ok(Self::Zip),
            _ => Err(format!("archive {s:?}: use tar or zip")),
        }
    }
}

fn write_err(e: io::Error) -> Error {
    Error::io("writing the dump", e)
}

/// Writes `path` of `snap` to `out`: a file's bytes, or a directory (the
/// snapshot root for `/`) as a tar stream (GNU format, paths relative to
/// the snapshot root). Every blob is verified before it is written. A
/// damaged index file does not stop it: see [`DumpOutcome::warnings`].
///
/// # Errors
/// [`Error::NotFound`] for a missing path, repository errors, write errors.
pub fn dump(
    repo: &Repository,
    snap: &Snapshot,
    path: &str,
    out: &mut dyn Write,
) -> Result<DumpOutcome> {
    dump_archive(repo, snap, path, Archive::Tar, out)
}

/// [`dump`], with a directory written as `archive`.
///
/// # Errors
/// As [`dump`].
pub fn dump_archive(
    repo: &Repository,
    snap: &Snapshot,
    path: &str,
    archive: Archive,
    out: &mut dyn Write,
) -> Result<DumpOutcome> {
    let (_, mut warnings) = repo.index_for_reading()?;
    let format = write_dump(repo, snap, path, archive, out, &mut warnings)?;
    Ok(DumpOutcome { format, warnings })
}

fn write_dump(
    repo: &Repository,
    snap: &Snapshot,
    path: &str,
    archive: Archive,
    out: &mut dyn Write,
    warnings: &mut Vec<String>,
) -> Result<DumpFormat> {
    let node = nav::lookup(repo, snap.tree, path.as_bytes())?;
    match node.kind {
        NodeKind::File => {
            let mut r = content::reader(repo, &node, path)?;
            io::copy(&mut r, out).map_err(|e| {
                // Content errors arrive as io::Error wrapping our Error.
                match e.downcast::<Error>() {
                    Ok(inner) => inner,
                    Err(e) => write_err(e),
                }
            })?;
            out.flush().map_err(write_err)?;
            Ok(DumpFormat::File)
        }
        NodeKind::Dir if archive == Archive::Zip => {
            let base = nav::normalize(path.as_bytes());
            let mut zip = ZipWriter::new(out);
            if !base.is_empty() {
                append_zip(repo, &mut zip, &base, &node, warnings)?;
            }
            let sub = node.subtree.unwrap_or_default();
            nav::walk(repo, sub, &base, &mut |p, n| {
                append_zip(repo, &mut zip, p, n, warnings)?;
                Ok(true)
            })?;
            zip.finish().map_err(write_err)?;
            Ok(DumpFormat::Zip)
        }
        NodeKind::Dir => {
            let base = nav::normalize(path.as_bytes());
            let mut tar = tar::Builder::new(out);
            tar.mode(tar::HeaderMode::Complete);
            if !base.is_empty() {
                append(repo, &mut tar, &base, &node, &mut HashMap::new())?;
            }
            let mut links = HashMap::new();
            let sub = node.subtree.unwrap_or_default();
            nav::walk(repo, sub, &base, &mut |p, n| {
                append(repo, &mut tar, p, n, &mut links)?;
                Ok(true)
            })?;
            tar.into_inner()
                .map_err(write_err)?
                .flush()
                .map_err(write_err)?;
            Ok(DumpFormat::Tar)
        }
        k => Err(Error::InvalidInput(format!(
            "{path} is a {k:?}, not a file or directory; nothing to dump"
        ))),
    }
}

fn append_zip(
    repo: &Repository,
    zip: &mut ZipWriter<&mut dyn Write>,
    path: &[u8],
    n: &Node,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let rel = path.strip_prefix(b"/").unwrap_or(path);
    let res = match n.kind {
        NodeKind::File => {
            let shown = String::from_utf8_lossy(path).into_owned();
            let mut r = content::reader(repo, n, &shown)?;
            zip.add_file(rel, n.mode, n.mtime, &mut r)
        }
        NodeKind::Dir => zip.add_dir(rel, n.mode, n.mtime),
        NodeKind::Symlink => {
            let t = n.target.as_ref().map(|t| t.to_vec()).unwrap_or_default();
            zip.add_symlink(rel, &t, n.mtime)
        }
        k => {
            warnings.push(format!(
                "{}: a {k:?} cannot be stored in a zip archive; left out",
                String::from_utf8_lossy(path)
            ));
            return Ok(());
        }
    };
    res.map_err(|e| match e.downcast::<Error>() {
        Ok(inner) => inner,
        Err(e) => write_err(e),
    })
}

fn append(
    repo: &Repository,
    tar: &mut tar::Builder<&mut dyn Write>,
    path: &[u8],
    n: &Node,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let rel = Path::new(std::ffi::OsStr::from_bytes(
        path.strip_prefix(b"/").unwrap_or(path),
    ));
    let mut h = Header::new_gnu();
    h.set_mode(n.mode);
    h.set_uid(u64::from(n.uid));
    h.set_gid(u64::from(n.gid));
    h.set_mtime(u64::try_from(n.mtime.div_euclid(1_000_000_000)).unwrap_or(0));
    if let Some(u) = &n.user {
        let _ = h.set_username(u);
    }
    if let Some(g) = &n.group {
        let _ = h.set_groupname(g);
    }
    h.set_size(0);
    let res = match n.kind {
        NodeKind::File => {
            if n.links > 1 {
                if let Some(first) = links.get(&(n.dev, n.inode)) {
                    h.set_entry_type(EntryType::Link);
                    let target = Path::new(std::ffi::OsStr::from_bytes(first));
                    return tar.append_link(&mut h, rel, target).map_err(write_err);
                }
                links.insert((n.dev, n.inode), rel.as_os_str().as_bytes().to_vec());
            }
            h.set_entry_type(EntryType::Regular);
            h.set_size(n.size);
            let shown = String::from_utf8_lossy(path).into_owned();
            let r = content::reader(repo, n, &shown)?;
            tar.append_data(&mut h, rel, r)
        }
        NodeKind::Dir => {
            h.set_entry_type(EntryType::Directory);
            tar.append_data(&mut h, rel, io::empty())
        }
        NodeKind::Symlink => {
            h.set_entry_type(EntryType::Symlink);
            let t = n.target.as_ref().map(|t| t.to_vec()).unwrap_or_default();
            tar.append_link(&mut h, rel, Path::new(std::ffi::OsStr::from_bytes(&t)))
        }
        NodeKind::Fifo | NodeKind::Chardev | NodeKind::Blockdev => {
            h.set_entry_type(match n.kind {
                NodeKind::Fifo => EntryType::Fifo,
                NodeKind::Chardev => EntryType::Char,
                _ => EntryType::Block,
            });
            let dev = n.rdev;
            let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
            let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
            let _ = h.set_device_major(u32::try_from(major).unwrap_or(0));
            let _ = h.set_device_minor(u32::try_from(minor).unwrap_or(0));
            tar.append_data(&mut h, rel, io::empty())
        }
        NodeKind::Socket => return Ok(()),
    };
    res.map_err(|e| match e.downcast::<Error>() {
        Ok(inner) => inner,
        Err(e) => write_err(e),
    })
}
