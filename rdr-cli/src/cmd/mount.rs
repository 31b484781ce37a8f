//! `rdr mount`: rdr-core's browsable view (`ops::browse`) served read-only
//! through FUSE. This file only translates between fuser and the view.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, INodeNo, LockOwner, MountOption, OpenFlags,
    ReplyAttr, ReplyData, ReplyDirectory, ReplyEntry, Request,
};
use rdr_core::ErrorKind;
use rdr_core::ops::browse::{Attr, Browser, EntryKind};

use super::open;
use crate::cli::{Args, MountArgs};

/// How long the kernel may cache what it was told: the view never changes.
const TTL: Duration = Duration::from_secs(60);

struct View {
    browser: Browser,
}

fn time(ns: i64) -> SystemTime {
    let d = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

fn file_type(k: EntryKind) -> FileType {
    match k {
        EntryKind::Dir => FileType::Directory,
        EntryKind::File => FileType::RegularFile,
        EntryKind::Symlink => FileType::Symlink,
        EntryKind::Fifo => FileType::NamedPipe,
        EntryKind::CharDevice => FileType::CharDevice,
        EntryKind::BlockDevice => FileType::BlockDevice,
        EntryKind::Socket => FileType::Socket,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: time(a.mtime),
        mtime: time(a.mtime),
        ctime: time(a.ctime),
        crtime: time(a.mtime),
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: if a.kind == EntryKind::Dir { 2 } else { 1 },
        uid: a.uid,
        gid: a.gid,
        rdev: u32::try_from(a.rdev).unwrap_or(0),
        flags: 0,
        blksize: 4096,
    }
}

/// An error for the kernel; the ones that are not "no such entry" are
/// also said on stderr, since the reader only sees EIO.
fn errno(e: &rdr_core::Error) -> Errno {
    match e.kind() {
        ErrorKind::NotFound => Errno::ENOENT,
        ErrorKind::InvalidInput => Errno::EINVAL,
        _ => {
            eprintln!("rdr mount: {e}");
            Errno::EIO
        }
    }
}

impl Filesystem for View {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.browser.lookup(parent.0, name.as_bytes()) {
            Ok(Some(a)) => reply.entry(&TTL, &file_attr(&a), fuser::Generation(0)),
            Ok(None) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.browser.attr(ino.0) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.browser.read_link(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.browser.read(ino.0, offset, size) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match self.browser.read_dir(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let dots = [
            (ino.0, FileType::Directory, OsStr::new(".")),
            (
                rdr_core::ops::browse::ROOT,
                FileType::Directory,
                OsStr::new(".."),
            ),
        ];
        let all = dots.into_iter().chain(
            entries
                .iter()
                .map(|(n, a)| (a.ino, file_type(a.kind), OsStr::from_bytes(n))),
        );
        for (i, (child, kind, name)) in all
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        {
            if reply.add(INodeNo(child), i as u64 + 1, kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

pub fn run(args: &Args, a: &MountArgs) -> Result<i32> {
    let repo = open(args)?;
    let browser = Browser::new(&repo)?;
    let mut cfg = fuser::Config::default();
    cfg.mount_options.extend([
        MountOption::RO,
        MountOption::FSName(format!("rdr:{}", repo.config().id.short())),
        MountOption::Subtype("rdr".into()),
        MountOption::DefaultPermissions,
    ]);
    if a.allow_other {
        cfg.acl = fuser::SessionACL::All;
    }
    cfg.n_threads = Some(a.threads.max(1));
    // registered before mounting: a signal that comes as soon as the
    // mount is visible must unmount it, not kill the process
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let session = fuser::spawn_mount(View { browser }, &a.mountpoint, &cfg)
        .with_context(|| format!("mounting at {}", a.mountpoint.display()))?;
    if !super::quiet() {
        eprintln!(
            "repository {} mounted read-only at {}; Ctrl-C or `umount {}` ends it",
            repo.config().id.short(),
            a.mountpoint.display(),
            a.mountpoint.display()
        );
    }
    let mut asked = 0;
    loop {
        if session.guard.is_finished() {
            // unmounted: by us below, or from outside (umount, fusermount -u)
            session.join().context("the FUSE session failed")?;
            return Ok(0);
        }
        if signals.pending().next().is_some() {
            asked += 1;
            if let Err(e) = unmount(&a.mountpoint, asked > 1) {
                eprintln!(
                    "rdr mount: cannot unmount {} yet: {e}; close what uses it, or press \
                     Ctrl-C again to detach it (lazy unmount)",
                    a.mountpoint.display()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Unmounts with the system's tool (`umount` as root, else `fusermount3
/// -u`), lazily when `detach`; the session then ends by itself. A busy
/// mount is refused and stays served.
fn unmount(mountpoint: &std::path::Path, detach: bool) -> Result<()> {
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut cmd = if root {
        let mut c = std::process::Command::new("umount");
        if detach {
            c.arg("-l");
        }
        c
    } else {
        let mut c = std::process::Command::new("fusermount3");
        c.arg(if detach { "-uz" } else { "-u" });
        c
    };
    let out = cmd
        .arg(mountpoint)
        .stdin(std::process::Stdio::null())
        .output()
        .context("running umount")?;
    if out.status.success() {
        Ok(())
    } else {
        anyhow::bail!("{}", String::from_utf8_lossy(&out.stderr).trim())
    }
}
