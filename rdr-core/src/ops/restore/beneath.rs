//! The restore target as a directory handle: every file restore creates,
//! writes, links, removes or changes is reached from the handle of the
//! target directory, one component at a time, and never through a symlink.
//!
//! A local user who can write inside the target may swap a directory for a
//! symlink while a restore runs; a path-based restore would then write
//! snapshot data, modes and times to files outside the target. Here:
//! * Lookups use `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` where the
//!   kernel has it (Linux 5.6), else a walk of `openat(O_NOFOLLOW |
//!   O_DIRECTORY)` per component; either way a symlink anywhere in the path
//!   fails the operation (ELOOP, ENOTDIR) instead of being followed.
//! * Changes to an entry go through the handle of its parent directory and
//!   its name, with the no-follow form of each call (`fchownat`,
//!   `fchmodat`, `utimensat` with `AT_SYMLINK_NOFOLLOW`, `linkat` without
//!   `AT_SYMLINK_FOLLOW`, `unlinkat`), so a planted symlink is changed
//!   itself or refused, never followed.
//! * Existing files are opened `O_NONBLOCK` and must be regular: a FIFO
//!   placed where a file goes cannot block the restore.
//!
//! The target directory itself is resolved once, as given (it may be a
//! symlink the user chose).

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};
use nix::unistd::{UnlinkatFlags, linkat, symlinkat, unlinkat};

/// The restore target, held open.
pub(super) struct Beneath {
    root: OwnedFd,
    path: PathBuf,
    /// Whether openat2 is worth trying (cleared on ENOSYS).
    openat2: AtomicBool,
    /// The last parent directory looked up, for runs of siblings.
    last_parent: Mutex<Option<(PathBuf, OwnedFd)>>,
}

fn not_beneath(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is not inside the restore target", p.display()),
    )
}

const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_RDONLY);

impl Beneath {
    /// Creates the target directory if missing and opens it.
    pub(super) fn open(target: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(target)?;
        let root = nix::fcntl::open(
            target,
            OFlag::O_DIRECTORY | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
            Mode::empty(),
        )?;
        Ok(Self {
            root,
            path: target.to_path_buf(),
            openat2: AtomicBool::new(true),
            last_parent: Mutex::new(None),
        })
    }

    /// The target directory, as given.
    pub(super) fn root(&self) -> &Path {
        &self.path
    }

    /// `path` (absolute, under the target) relative to the target; `.`,
    /// `..` and anything outside are refused.
    fn rel<'a>(&self, path: &'a Path) -> io::Result<&'a Path> {
        let rel = path
            .strip_prefix(&self.path)
            .map_err(|_| not_beneath(path))?;
        if rel.components().all(|c| matches!(c, Component::Normal(_))) {
            Ok(rel)
        } else {
            Err(not_beneath(path))
        }
    }

    /// Opens `rel` below the root with `flags`, never through a symlink.
    fn open_rel(&self, rel: &Path, flags: OFlag, mode: Mode) -> io::Result<OwnedFd> {
        let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        if rel.as_os_str().is_empty() {
            return Ok(openat(&self.root, ".", flags, mode)?);
        }
        if self.openat2.load(Ordering::Relaxed) {
            let how = OpenHow::new().flags(flags).mode(mode).resolve(
                ResolveFlag::RESOLVE_BENEATH
                    | ResolveFlag::RESOLVE_NO_SYMLINKS
                    | ResolveFlag::RESOLVE_NO_MAGICLINKS,
            );
            match openat2(&self.root, rel, how) {
                Err(Errno::ENOSYS | Errno::EPERM) => self.openat2.store(false, Ordering::Relaxed),
                // EAGAIN: a rename raced the lookup; the walk below settles it
                Err(Errno::EAGAIN) => {}
                res => return Ok(res?),
            }
        }
        // the walk: each directory opened from the one before, no symlinks
        let mut names: Vec<&OsStr> = rel.iter().collect();
        let last = names.pop().ok_or_else(|| not_beneath(rel))?;
        let mut dir: Option<OwnedFd> = None;
        for name in names {
            let from = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
            dir = Some(openat(from, name, DIR_FLAGS, Mode::empty())?);
        }
        let from = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
        Ok(openat(from, last, flags, mode)?)
    }

    /// Runs `f` with the handle of `path`'s parent directory and its name.
    pub(super) fn at<T>(
        &self,
        path: &Path,
        f: impl FnOnce(BorrowedFd<'_>, &OsStr) -> io::Result<T>,
    ) -> io::Result<T> {
        let rel = self.rel(path)?;
        if rel.as_os_str().is_empty() {
            // the target itself: through its parent, as the user named it
            let name = self.path.file_name().ok_or_else(|| not_beneath(path))?;
            let parent = self.path.parent().filter(|p| !p.as_os_str().is_empty());
            let dir = nix::fcntl::open(parent.unwrap_or(Path::new(".")), DIR_FLAGS, Mode::empty())?;
            return f(dir.as_fd(), name);
        }
        let name = rel.file_name().ok_or_else(|| not_beneath(path))?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let mut cache = self
            .last_parent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match cache.as_ref() {
            Some((p, fd)) if p == parent => f(fd.as_fd(), name),
            _ => {
                let fd = self.open_rel(parent, DIR_FLAGS, Mode::empty())?;
                let out = f(fd.as_fd(), name);
                *cache = Some((parent.to_path_buf(), fd));
                out
            }
        }
    }

    /// lstat of `path`, relative to its parent's handle.
    pub(super) fn lstat(&self, path: &Path) -> io::Result<FileStat> {
        self.at(path, |dir, name| {
            Ok(fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?)
        })
    }

    /// Opens the target if it exists, creating nothing.
    pub(super) fn open_existing(target: &Path) -> io::Result<Option<Self>> {
        if std::fs::symlink_metadata(target).is_err() {
            return Ok(None);
        }
        Self::open(target).map(Some)
    }

    /// The names in the directory `path` (the target, or under it).
    pub(super) fn list(&self, path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        let rel = if path == self.path {
            Path::new("")
        } else {
            self.rel(path)?
        };
        let fd = self.open_rel(rel, DIR_FLAGS, Mode::empty())?;
        let mut dir = nix::dir::Dir::from_fd(fd)?;
        let mut names = Vec::new();
        for entry in dir.iter() {
            let n = entry?.file_name().to_bytes().to_vec();
            if n != b"." && n != b".." {
                names.push(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&n).to_owned());
            }
        }
        Ok(names)
    }

    /// Creates `path` and the directories leading to it (mode 0700 until
    /// the metadata step); existing directories are kept.
    pub(super) fn mkdir_all(&self, path: &Path) -> io::Result<()> {
        let rel = self.rel(path)?;
        let mut dir: Option<OwnedFd> = None;
        for name in rel {
            let from = dir.as_ref().map_or(self.root.as_fd(), AsFd::as_fd);
            match mkdirat(from, name, Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e.into()),
            }
            dir = Some(openat(from, name, DIR_FLAGS, Mode::empty())?);
        }
        Ok(())
    }

    /// Removes whatever is at `path` unless it is a directory and
    /// `keep_dir`; a directory is removed with all it holds.
    pub(super) fn clear(&self, path: &Path, keep_dir: bool) -> io::Result<()> {
        self.at(path, |dir, name| {
            match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if is_dir(&st) && keep_dir => Ok(()),
                Ok(st) if is_dir(&st) => remove_tree(dir, name),
                Ok(_) => Ok(unlinkat(dir, name, UnlinkatFlags::NoRemoveDir)?),
                Err(Errno::ENOENT) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// Creates the regular file `path` (which must not exist), mode 0600.
    pub(super) fn create_file(&self, path: &Path) -> io::Result<File> {
        self.at(path, |dir, name| {
            let flags = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            Ok(File::from(openat(
                dir,
                name,
                flags,
                Mode::from_bits_truncate(0o600),
            )?))
        })
    }

    /// Opens the existing file `path` for writing.
    pub(super) fn open_write(&self, path: &Path) -> io::Result<File> {
        let fd = self.open_rel(
            self.rel(path)?,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )?;
        regular(File::from(fd))
    }

    /// Opens the existing file `path` for direct writing (`O_DIRECT`);
    /// EINVAL where the file system refuses it.
    pub(super) fn open_write_direct(&self, path: &Path) -> io::Result<File> {
        let fd = self.open_rel(
            self.rel(path)?,
            OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_DIRECT,
            Mode::empty(),
        )?;
        regular(File::from(fd))
    }

    /// Opens the existing regular file `path` for reading; anything else
    /// (a FIFO, a device, a directory) is refused without blocking.
    pub(super) fn open_read(&self, path: &Path) -> io::Result<File> {
        let fd = self.open_rel(
            self.rel(path)?,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )?;
        regular(File::from(fd))
    }

    /// Creates the symlink `path` pointing to `target`.
    pub(super) fn symlink(&self, target: &OsStr, path: &Path) -> io::Result<()> {
        self.at(path, |dir, name| Ok(symlinkat(target, dir, name)?))
    }

    /// Makes `path` a hard link of `first` (neither followed if a symlink).
    pub(super) fn hard_link(&self, first: &Path, path: &Path) -> io::Result<()> {
        let rel = self.rel(first)?;
        let from_name = rel.file_name().ok_or_else(|| not_beneath(first))?;
        let from_dir = self.open_rel(
            rel.parent().unwrap_or(Path::new("")),
            DIR_FLAGS,
            Mode::empty(),
        )?;
        self.at(path, |dir, name| {
            Ok(linkat(&from_dir, from_name, dir, name, AtFlags::empty())?)
        })
    }

    /// The target of the symlink `path`.
    pub(super) fn read_link(&self, path: &Path) -> io::Result<std::ffi::OsString> {
        self.at(path, |dir, name| Ok(nix::fcntl::readlinkat(dir, name)?))
    }
}

fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

fn regular(f: File) -> io::Result<File> {
    let st = fstat(&f)?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG {
        Ok(f)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Removes the directory `name` in `parent` and everything below it,
/// each level through the handle of the one above.
fn remove_tree(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let fd = openat(parent, name, DIR_FLAGS, Mode::empty())?;
    let mut dir = nix::dir::Dir::from_fd(fd)?;
    let mut children = Vec::new();
    for entry in dir.iter() {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            children.push(std::ffi::OsString::from(
                <OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n),
            ));
        }
    }
    let dfd = dir.as_fd();
    for child in &children {
        match fstatat(dfd, child.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if is_dir(&st) => remove_tree(dfd, child)?,
            Ok(_) => unlinkat(dfd, child.as_os_str(), UnlinkatFlags::NoRemoveDir)?,
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(unlinkat(parent, name, UnlinkatFlags::RemoveDir)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory swapped for a symlink is never followed: creating,
    /// opening, linking and removing through it all fail, and nothing
    /// outside the target changes.
    #[test]
    fn a_symlinked_directory_is_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("victim"), b"root's").unwrap();
        let b = Beneath::open(&target).unwrap();
        b.mkdir_all(&target.join("d/e")).unwrap();
        std::fs::write(target.join("d/e/f"), b"x").unwrap();
        // the attacker swaps d for a symlink to outside
        std::fs::rename(target.join("d"), target.join("d.old")).unwrap();
        std::os::unix::fs::symlink(&outside, target.join("d")).unwrap();
        let via = target.join("d/victim");
        for use_openat2 in [true, false] {
            let b = Beneath::open(&target).unwrap();
            b.openat2.store(use_openat2, Ordering::Relaxed);
            assert!(b.open_write(&via).is_err());
            assert!(b.open_read(&via).is_err());
            assert!(b.create_file(&target.join("d/new")).is_err());
            assert!(b.clear(&via, false).is_err());
            assert!(b.symlink(OsStr::new("x"), &target.join("d/link")).is_err());
            assert!(b.mkdir_all(&target.join("d/sub")).is_err());
            assert!(b.hard_link(&via, &target.join("stolen")).is_err());
        }
        assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"root's");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
        assert!(!target.join("stolen").exists());
        // a symlink as the last component is removed, not followed
        b.clear(&target.join("d"), false).unwrap();
        assert!(outside.join("victim").exists());
        assert!(std::fs::symlink_metadata(target.join("d")).is_err());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let b = Beneath::open(tmp.path()).unwrap();
        let fifo = tmp.path().join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).unwrap();
        assert!(b.open_read(&fifo).is_err());
        assert!(b.open_write(&fifo).is_err());
    }

    #[test]
    fn directories_are_removed_with_their_contents_only() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("t");
        let keep = tmp.path().join("keep");
        std::fs::create_dir_all(target.join("a/b/c")).unwrap();
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::write(keep.join("k"), b"k").unwrap();
        std::fs::write(target.join("a/b/file"), b"f").unwrap();
        std::os::unix::fs::symlink(&keep, target.join("a/b/c/link")).unwrap();
        let b = Beneath::open(&target).unwrap();
        b.clear(&target.join("a"), true).unwrap();
        assert!(target.join("a/b/file").exists());
        b.clear(&target.join("a"), false).unwrap();
        assert!(!target.join("a").exists());
        assert!(keep.join("k").exists());
        assert!(b.rel(&tmp.path().join("elsewhere")).is_err());
        assert!(b.rel(&target.join("../t/x")).is_err());
    }
}
