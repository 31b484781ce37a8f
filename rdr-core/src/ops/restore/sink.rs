//! Where the data phase's bytes go: the regular files of the plan, written
//! through the page cache or past it (`O_DIRECT`).
//!
//! Buffered writes of a large restore fill the page cache with dirty pages
//! until the kernel throttles the writers to the disk's writeback rate, and
//! writes to one file serialize on its inode lock (docs/performance.md).
//! Direct writes go to the device from the writing thread, several at a
//! time, and leave the page cache alone.
//!
//! Direct I/O needs block-aligned offsets, lengths and buffers, and blobs
//! end anywhere. So every piece of a blob bound for a direct file is split
//! at block boundaries: the whole blocks inside it are copied to an aligned
//! buffer and written directly; the partial blocks at its edges are held
//! in memory until the rest of each block arrives from its neighbouring
//! blob, and then written directly as whole blocks. Past a budget of held
//! blocks, and for whatever is still held when the data phase ends (blocks
//! next to a hole, or next to a blob that failed), the held bytes are
//! written through the page cache. A file's short last block always is.
//! Every byte is written once, by one of the two paths, so the two never
//! overlap within a block.
//!
//! Before direct writes start, the ranges large files get written in are
//! allocated (`fallocate`; holes stay holes). On ext4 a direct write into
//! a hole allocates blocks, and allocating writes take the file's inode
//! lock exclusively, so the workers' writes to one file went one at a
//! time; into allocated extents they run side by side (a 652 MiB dump
//! restored in 0.63-0.66 s instead of 0.83-0.87 s, docs/performance.md).
//! It also reserves the space before anything is written. A file system
//! that cannot allocate ahead is written as before.
//!
//! Small files are always written through the page cache: they are too
//! short to gain, and holding their edges would hold whole files.
//!
//! Which is faster depends on the machine, so [`WriteMethod::Auto`]
//! measures it at the start of a restore that writes at least
//! [`PROBE_MIN`] bytes to large files: a probe file in the target gets
//! 2 MiB through the page cache, then 2 MiB direct, each followed by
//! `fdatasync` (a restored file is only safe once it is on the device),
//! four times over; direct writes are used unless their best round takes
//! half as long again as the buffered one's
//! ([`crate::aligned::direct_is_better`] says why the margin). About 20 ms on the project's VM, where the
//! direct writes win (1.4 GB/s against 0.6 GB/s buffered with a sync; and
//! without a sync, buffered restores were throttled or, with the previous
//! restores still in the page cache, slower than direct ones:
//! docs/performance.md). A file system that refuses `O_DIRECT` gets
//! buffered writes.
//!
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::beneath::Beneath;
use super::jobs::PackJobs;
use super::plan::FileEntry;
use crate::aligned::{ALIGN, AlignedBuf};

/// How a restore writes file contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMethod {
    /// Direct writes for large files when a probe of the target finds
    /// them faster (restores of 64 MiB or more), buffered otherwise.
    #[default]
    Auto,
    /// Through the page cache only.
    Buffered,
    /// Past the page cache for large files; an error where the file
    /// system refuses it.
    Direct,
}

impl WriteMethod {
    /// Parses `auto`, `buffered` or `direct`.
    ///
    /// # Errors
    /// A message naming the text for anything else.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "buffered" => Ok(Self::Buffered),
            "direct" => Ok(Self::Direct),
            _ => Err(format!("write method {s:?}: use auto, buffered or direct")),
        }
    }
}

/// Files at least this large are written directly.
pub(super) const DIRECT_MIN: u64 = 1 << 20;
/// Held partial blocks, at most (bytes): 4 MiB is 1024 blob edges.
/// Packs are restored in backup order (`jobs.rs`), so the edges between
/// neighbouring blobs are met within a few packs: at most 64 blocks were
/// held at once restoring the bench's 1 GiB file and 1.5 GB tree.
const HELD_MAX: u64 = 4 << 20;
/// Shards of the held blocks' map.
const SHARDS: usize = 64;
/// Stripes of the per-file write locks. Buffered writes to one file are
/// serialized by the kernel anyway (the inode lock), where waiting threads
/// spin: 27 % of a single-file restore's samples. Waiting on a user-space
/// lock instead leaves the CPU to the threads that decrypt.
const FILE_LOCKS: usize = 256;
/// Whole blocks are copied to the aligned buffer and written this many
/// bytes at a time.
const DIRECT_PIECE: usize = 512 << 10;

/// A block being assembled: its bytes so far, and which.
struct Held {
    bytes: Vec<u8>,
    ranges: Vec<(usize, usize)>,
    filled: usize,
}

thread_local! {
    /// The thread's aligned buffer for direct writes, made once per thread.
    static ALIGNED: RefCell<Option<AlignedBuf>> = const { RefCell::new(None) };
}

/// The files of a restore, open to the data phase's workers.
pub(super) struct Sink<'a> {
    /// Bytes written directly.
    pub(super) direct_bytes: AtomicU64,
    fs: &'a Beneath,
    files: &'a [FileEntry],
    /// Direct writes are in use (cleared if the file system refuses them
    /// under [`WriteMethod::Auto`]).
    direct: AtomicBool,
    /// Refusal is an error ([`WriteMethod::Direct`]).
    must_direct: bool,
    held: Vec<Mutex<HashMap<(usize, u64), Held>>>,
    held_bytes: AtomicU64,
    held_max: u64,
    file_locks: Vec<Mutex<()>>,
}

type Res = std::result::Result<(), String>;

impl<'a> Sink<'a> {
    /// The sink for `files`, of which the large ones, `large_bytes` in
    /// all, are to be written.
    pub(super) fn new(
        fs: &'a Beneath,
        files: &'a [FileEntry],
        method: WriteMethod,
        large_bytes: u64,
    ) -> Self {
        let direct = match method {
            WriteMethod::Buffered => false,
            WriteMethod::Direct => true,
            WriteMethod::Auto => large_bytes >= PROBE_MIN && direct_is_better(fs),
        };
        Self {
            direct_bytes: AtomicU64::new(0),
            fs,
            files,
            direct: AtomicBool::new(direct),
            must_direct: method == WriteMethod::Direct,
            held: (0..SHARDS).map(|_| Mutex::default()).collect(),
            held_bytes: AtomicU64::new(0),
            held_max: HELD_MAX,
            file_locks: (0..FILE_LOCKS).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Allocates the ranges that direct writes will fill in the large
    /// files (module docs). Best effort: where it fails, the writes
    /// allocate as they go and report their own errors.
    pub(super) fn preallocate(&self, packs: &[PackJobs]) {
        if !self.direct.load(Ordering::Relaxed) {
            return;
        }
        let mut ranges: Vec<(usize, u64, u64)> = (packs.iter())
            .flat_map(|(_, blobs)| blobs)
            .flat_map(|b| &b.targets)
            .filter(|t| self.files[t.file].size >= DIRECT_MIN)
            .map(|t| (t.file, t.offset, t.offset + t.len))
            .collect();
        ranges.sort_unstable();
        let mut open: Option<(usize, File)> = None;
        let mut i = 0;
        while let Some(&(file, start, mut end)) = ranges.get(i) {
            i += 1;
            while let Some(&(f, s, e)) = ranges.get(i) {
                if f != file || s > end {
                    break;
                }
                end = end.max(e);
                i += 1;
            }
            if open.as_ref().is_none_or(|(f, _)| *f != file) {
                open = (self.fs.open_write(&self.files[file].path).ok()).map(|h| (file, h));
            }
            let (Some((_, h)), Ok(off), Ok(len)) =
                (&open, i64::try_from(start), i64::try_from(end - start))
            else {
                continue;
            };
            let keep = nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE;
            if nix::fcntl::fallocate(h, keep, off, len).is_err() {
                // not here (EOPNOTSUPP), or no room: leave this file alone
                while ranges.get(i).is_some_and(|r| r.0 == file) {
                    i += 1;
                }
            }
        }
    }

    fn err(&self, file: usize, e: impl std::fmt::Display) -> String {
        format!("{}: {e}", self.files[file].path.display())
    }

    /// Writes `piece` at `offset` of the file at index `file`.
    pub(super) fn write(&self, file: usize, piece: &[u8], offset: u64) -> Res {
        let size = self.files[file].size;
        if size < DIRECT_MIN || !self.direct.load(Ordering::Relaxed) {
            return self.buffered(file, piece, offset);
        }
        let align = ALIGN as u64;
        let end = offset + piece.len() as u64;
        let mut pos = offset;
        // the head: up to the first block boundary
        if !pos.is_multiple_of(align) {
            let stop = (pos.next_multiple_of(align)).min(end);
            self.hold(file, &piece[..(stop - offset) as usize], pos)?;
            pos = stop;
        }
        // whole blocks
        let whole_end = end / align * align;
        if whole_end > pos {
            let from = (pos - offset) as usize;
            let to = (whole_end - offset) as usize;
            match self.direct_write(file, &piece[from..to], pos) {
                Ok(true) => {}
                Ok(false) => self.buffered(file, &piece[from..to], pos)?,
                Err(e) => return Err(e),
            }
            pos = whole_end;
        }
        // the tail: after the last block boundary
        if pos < end {
            self.hold(file, &piece[(pos - offset) as usize..], pos)?;
        }
        Ok(())
    }

    /// Writes block-aligned `bytes` at the block-aligned `offset` directly;
    /// false when the file system refuses direct I/O (and it may not be).
    fn direct_write(&self, file: usize, bytes: &[u8], offset: u64) -> Result<bool, String> {
        let path = &self.files[file].path;
        let f = match self.fs.open_write_direct(path) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {
                if self.must_direct {
                    return Err(self.err(
                        file,
                        "the file system refuses direct writes (O_DIRECT): \
                         restore with --write-method auto or buffered",
                    ));
                }
                self.direct.store(false, Ordering::Relaxed);
                return Ok(false);
            }
            Err(e) => return Err(self.err(file, e)),
        };
        ALIGNED.with_borrow_mut(|buf| {
            let buf = buf
                .get_or_insert_with(|| AlignedBuf::new(DIRECT_PIECE))
                .bytes();
            let mut done = 0;
            while done < bytes.len() {
                let n = (bytes.len() - done).min(DIRECT_PIECE);
                buf[..n].copy_from_slice(&bytes[done..done + n]);
                f.write_all_at(&buf[..n], offset + done as u64)
                    .map_err(|e| self.err(file, e))?;
                done += n;
            }
            Ok::<(), String>(())
        })?;
        self.direct_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(true)
    }

    /// Writes `bytes` at `offset` through the page cache.
    fn buffered(&self, file: usize, bytes: &[u8], offset: u64) -> Res {
        let f: File = (self.fs)
            .open_write(&self.files[file].path)
            .map_err(|e| self.err(file, e))?;
        let _turn = self.file_locks[file % FILE_LOCKS]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.write_all_at(bytes, offset).map_err(|e| self.err(file, e))
    }

    /// Adds `bytes` (within one block) at `offset` to the held block; a
    /// block complete with them is written.
    fn hold(&self, file: usize, bytes: &[u8], offset: u64) -> Res {
        let align = ALIGN as u64;
        let block = offset / align;
        let block_start = block * align;
        // a piece past the end (inconsistent data) gets 0 and the error below
        let block_len = (self.files[file].size.saturating_sub(block_start)).min(align) as usize;
        let at = (offset - block_start) as usize;
        if at + bytes.len() > block_len {
            return Err(self.err(file, "a blob's piece runs past the end of the file"));
        }
        let shard = &self.held[(file.wrapping_mul(31) + block as usize) % SHARDS];
        let mut map = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let complete = match map.get_mut(&(file, block)) {
            Some(h) => {
                h.bytes[at..at + bytes.len()].copy_from_slice(bytes);
                h.ranges.push((at, at + bytes.len()));
                h.filled += bytes.len();
                h.filled >= block_len
            }
            None if bytes.len() >= block_len => true,
            None if self.held_bytes.load(Ordering::Relaxed) >= self.held_max => {
                drop(map);
                return self.buffered(file, bytes, offset);
            }
            None => {
                let mut b = vec![0u8; block_len];
                b[at..at + bytes.len()].copy_from_slice(bytes);
                map.insert(
                    (file, block),
                    Held {
                        bytes: b,
                        ranges: vec![(at, at + bytes.len())],
                        filled: bytes.len(),
                    },
                );
                self.held_bytes
                    .fetch_add(block_len as u64, Ordering::Relaxed);
                false
            }
        };
        if !complete {
            return Ok(());
        }
        let whole = match map.remove(&(file, block)) {
            Some(h) => {
                self.held_bytes
                    .fetch_sub(h.bytes.len() as u64, Ordering::Relaxed);
                h.bytes
            }
            None => bytes.to_vec(),
        };
        drop(map);
        if whole.len() == ALIGN && self.direct_write(file, &whole, block_start)? {
            return Ok(());
        }
        self.buffered(file, &whole, block_start)
    }

    /// Writes what is still held, through the page cache; returns a
    /// message per failure.
    pub(super) fn finish(self) -> Vec<String> {
        let mut errors = Vec::new();
        for shard in &self.held {
            let map = std::mem::take(
                &mut *shard
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            );
            for ((file, block), h) in map {
                let start = block * ALIGN as u64;
                for &(a, b) in &h.ranges {
                    if let Err(e) = self.buffered(file, &h.bytes[a..b], start + a as u64) {
                        errors.push(e);
                    }
                }
            }
        }
        errors
    }
}

/// Restores writing less than this to large files are written through
/// the page cache without a probe.
pub(super) const PROBE_MIN: u64 = 64 << 20;
/// Rounds of the probe, and MiB it writes each way per round.
const PROBE: (usize, usize) = (4, 2);

/// Whether direct writes followed by `fdatasync` beat buffered ones into
/// the restore target, measured with a probe file at its top (removed
/// again). Any failure (no `O_DIRECT` there, no space) answers no.
fn direct_is_better(fs: &Beneath) -> bool {
    let path = fs
        .root()
        .join(format!(".rdr-write-probe-{}", std::process::id()));
    let probe = || -> std::io::Result<bool> {
        crate::aligned::direct_is_better(
            &fs.create_file(&path)?,
            &fs.open_write_direct(&path)?,
            PROBE.0,
            PROBE.1,
        )
    };
    let faster = probe();
    let _ = fs.clear(&path, false);
    faster.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tree::NodeKind;

    /// The probe answers, and leaves nothing behind.
    #[test]
    fn the_probe_answers_and_cleans_up() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = Beneath::open(tmp.path()).unwrap();
        let _ = direct_is_better(&fs);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    /// Files written piece by piece in a scrambled order, with pieces cut
    /// anywhere and a hole left unwritten, read back identical, whatever
    /// the method and however few edges may be held.
    #[test]
    fn every_byte_lands_once_whatever_the_order() {
        let tmp = tempfile::tempdir().unwrap();
        let fs = Beneath::open(tmp.path()).unwrap();
        let sizes = [
            3 * DIRECT_MIN + 123,
            DIRECT_MIN,
            2 * DIRECT_MIN + 4096,
            5000,
        ];
        // splitmix64: deterministic, good enough to scramble
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        for (round, (method, held_max)) in [
            (WriteMethod::Direct, HELD_MAX),
            (WriteMethod::Direct, 0),
            (WriteMethod::Direct, 3 * ALIGN as u64),
            (WriteMethod::Auto, HELD_MAX),
            (WriteMethod::Buffered, HELD_MAX),
        ]
        .into_iter()
        .enumerate()
        {
            let mut files = Vec::new();
            let mut want = Vec::new();
            let mut pieces = Vec::new();
            for (i, &size) in sizes.iter().enumerate() {
                let path = tmp.path().join(format!("f{round}-{i}"));
                std::fs::File::create(&path).unwrap().set_len(size).unwrap();
                let mut node = crate::format::tree::Node::new(b"f", NodeKind::File);
                node.size = size;
                files.push(FileEntry::new(path, node));
                let mut data = vec![0u8; size as usize];
                data.iter_mut().for_each(|b| *b = next() as u8);
                // a hole of 10000 bytes in the second file stays zero
                let mut at = 0u64;
                while at < size {
                    let len = (1 + next() % 300_000).min(size - at);
                    if i == 1 && at > 0 && at < 500_000 {
                        data[at as usize..(at + len) as usize].fill(0);
                    } else {
                        pieces.push((i, at, len));
                    }
                    at += len;
                }
                want.push(data);
            }
            for k in (1..pieces.len()).rev() {
                pieces.swap(k, (next() % (k as u64 + 1)) as usize);
            }
            let mut sink = Sink::new(&fs, &files, method, 0);
            sink.held_max = held_max;
            for &(i, at, len) in &pieces {
                let bytes = &want[i][at as usize..(at + len) as usize];
                sink.write(i, bytes, at).unwrap();
            }
            let direct = sink.direct_bytes.load(Ordering::Relaxed);
            assert!(sink.finish().is_empty());
            for (f, data) in files.iter().zip(&want) {
                assert!(
                    std::fs::read(&f.path).unwrap() == *data,
                    "{round}: {}",
                    f.path.display()
                );
            }
            // Direct writes happen unless the file system refuses them
            // (tmpfs before Linux 6.6), and never when asked not to.
            if method == WriteMethod::Direct {
                assert!(direct > 0 || !fs_takes_direct(tmp.path()), "{round}");
            } else {
                assert_eq!(direct, 0, "{round}: auto with nothing to write");
            }
        }
    }

    /// Preallocation covers the data ranges of large files, merged, and
    /// leaves holes and small files alone.
    #[test]
    fn preallocation_covers_the_data_and_keeps_holes() {
        use super::super::jobs::{BlobJob, Target};
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let fs = Beneath::open(tmp.path()).unwrap();
        let mib = 1u64 << 20;
        let mut files = Vec::new();
        for (name, size) in [("big", 8 * mib), ("small", 4096)] {
            let path = tmp.path().join(name);
            std::fs::File::create(&path).unwrap().set_len(size).unwrap();
            let mut node = crate::format::tree::Node::new(b"f", NodeKind::File);
            node.size = size;
            files.push(FileEntry::new(path, node));
        }
        // big: [0, 2 MiB) in two touching pieces, [6, 7 MiB); the rest a hole
        let t = |file, offset, len| Target {
            file,
            start: 0,
            len,
            offset,
        };
        let targets = [
            t(0, mib, mib),
            t(0, 0, mib),
            t(0, 6 * mib, mib),
            t(1, 0, 4096),
        ];
        let blob = BlobJob {
            id: crate::id::BlobId(crate::id::Id([1; 32])),
            loc: crate::repo::BlobLocation {
                pack: crate::id::PackId(crate::id::Id([2; 32])),
                blob_type: crate::format::BlobType::Data,
                offset: 0,
                length: 0,
                raw_length: 0,
            },
            targets: targets.to_vec(),
        };
        let sink = Sink::new(&fs, &files, WriteMethod::Direct, 0);
        sink.preallocate(&[(blob.loc.pack, vec![blob])]);
        let used = |i: usize| std::fs::metadata(&files[i].path).unwrap().blocks() * 512;
        assert_eq!(std::fs::metadata(&files[0].path).unwrap().len(), 8 * mib);
        assert_eq!(used(1), 0, "small files are not preallocated");
        // where the file system takes both direct writes and fallocate
        let probe = std::fs::File::create(tmp.path().join("p")).unwrap();
        let keep = nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE;
        if fs_takes_direct(tmp.path()) && nix::fcntl::fallocate(&probe, keep, 0, 4096).is_ok() {
            // 3 MiB of data (and the file system's extent blocks), not 8
            assert!((3 * mib..4 * mib).contains(&used(0)), "{}", used(0));
        }
    }

    fn fs_takes_direct(dir: &std::path::Path) -> bool {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(nix::fcntl::OFlag::O_DIRECT.bits())
            .open(dir.join("probe"))
            .is_ok()
    }

    #[test]
    fn methods_parse() {
        assert_eq!(WriteMethod::parse("auto"), Ok(WriteMethod::Auto));
        assert_eq!(WriteMethod::parse("buffered"), Ok(WriteMethod::Buffered));
        assert_eq!(WriteMethod::parse("direct"), Ok(WriteMethod::Direct));
        assert!(
            WriteMethod::parse("io_uring")
                .unwrap_err()
                .contains("auto, buffered or direct")
        );
    }
}
