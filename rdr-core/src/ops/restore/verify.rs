//! Reading a restore back: file contents blob by blob against the
//! snapshot's ids (holes must read as zeros), and the structure (directory
//! types, symlink targets, hard-link inodes).

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rayon::prelude::*;

use super::beneath::Beneath;
use super::plan::Plan;
use crate::format::tree::NodeKind;
use crate::ops::content::{Layout, Piece};
use crate::ops::fsmeta;
use crate::repo::{MasterIndex, Repository};

/// Verifies every planned entry, in parallel on the current thread pool:
/// the regular files found identical, and a message per failure.
pub(super) fn verify(
    repo: &Repository,
    fs: &Beneath,
    index: &MasterIndex,
    plan: &Plan,
) -> (u64, Vec<String>) {
    let results: Vec<(bool, String)> = plan
        .files
        .par_iter()
        .map(|f| {
            let shown = f.path.display().to_string();
            let ok = f
                .layout(index, &shown)
                .ok()
                .and_then(|l| file_matches(repo, fs, &f.path, f.size, &l).ok())
                .unwrap_or(false);
            (ok, shown)
        })
        .collect();
    let mut verified = 0;
    let mut errors = Vec::new();
    for (ok, path) in results {
        if ok {
            verified += 1;
        } else {
            errors.push(format!("{path}: verification failed: content differs"));
        }
    }
    errors.extend(verify_structure(fs, plan));
    (verified, errors)
}

/// Whether the file at `path` holds exactly the content of `layout`.
pub(super) fn file_matches(
    repo: &Repository,
    fs: &Beneath,
    path: &Path,
    size: u64,
    layout: &Layout,
) -> io::Result<bool> {
    let f = fs.open_read(path)?;
    if f.metadata()?.len() != size {
        return Ok(false);
    }
    let mut buf = Vec::new();
    let mut zeros = vec![0u8; 1 << 20];
    let mut cur_blob = usize::MAX;
    let finish = |blob: usize, buf: &mut Vec<u8>| -> bool {
        let ok = repo.blob_id(buf) == layout.blobs[blob].0;
        buf.clear();
        ok
    };
    for p in &layout.pieces {
        match *p {
            Piece::Hole { offset, len } => {
                if fsmeta::is_hole(&f, offset, len) {
                    continue;
                }
                let mut done = 0;
                while done < len {
                    let n = usize::try_from(len - done)
                        .unwrap_or(usize::MAX)
                        .min(zeros.len());
                    f.read_exact_at(&mut zeros[..n], offset + done)?;
                    if zeros[..n].iter().any(|&b| b != 0) {
                        return Ok(false);
                    }
                    done += n as u64;
                }
            }
            Piece::Data {
                blob, len, offset, ..
            } => {
                if blob != cur_blob {
                    if cur_blob != usize::MAX && !finish(cur_blob, &mut buf) {
                        return Ok(false);
                    }
                    cur_blob = blob;
                }
                let at = buf.len();
                buf.resize(at + usize::try_from(len).map_err(io::Error::other)?, 0);
                f.read_exact_at(&mut buf[at..], offset)?;
            }
        }
    }
    Ok(cur_blob == usize::MAX || finish(cur_blob, &mut buf))
}

/// Checks what is not file content: directories are directories, symlinks
/// point where the snapshot says, hard links share their inode.
fn verify_structure(fs: &Beneath, plan: &Plan) -> Vec<String> {
    use nix::sys::stat::SFlag;
    let mut errors = Vec::new();
    for d in &plan.dirs {
        let kind =
            |st: nix::sys::stat::FileStat| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        if !fs.lstat(&d.path).is_ok_and(|st| kind(st) == SFlag::S_IFDIR) {
            errors.push(format!(
                "{}: verification failed: not a directory",
                d.path.display()
            ));
        }
    }
    for o in &plan.others {
        if o.node.kind != NodeKind::Symlink {
            continue;
        }
        let want = o.node.target.as_deref().map_or(&[][..], |t| &t[..]);
        match fs.read_link(&o.path) {
            Ok(t) if t.as_bytes() == want => {}
            _ => errors.push(format!(
                "{}: verification failed: symlink target differs",
                o.path.display()
            )),
        }
    }
    for (first, path) in &plan.links {
        let same = match (fs.lstat(first), fs.lstat(path)) {
            (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
            _ => false,
        };
        if !same {
            errors.push(format!(
                "{}: verification failed: not a hard link of {}",
                path.display(),
                first.display()
            ));
        }
    }
    errors
}
