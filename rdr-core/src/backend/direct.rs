//! Direct I/O (`O_DIRECT`) for pack files of the local backend: block-aligned
//! buffers, and ranged reads that take from the page cache what it holds
//! and read the rest directly from the device.
//!
//! On this project's machines a cold buffered read of a pack runs at ~500 MB/s
//! (the kernel's readahead issues small requests), a direct read of the same
//! range at ~1.5 GB/s; but a pack still in the page cache (just written, or
//! read before) is copied from memory at several GB/s, faster than any
//! device. So a read first asks the page cache without waiting
//! (`preadv2` with `RWF_NOWAIT`, which stops at the first page it does not
//! hold) and reads only what is missing directly (docs/architecture.md).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use crate::aligned::{ALIGN, AlignedBuf};

/// Ranges at least this long are read directly; shorter ones (pack
/// headers, single tree blobs) are better served by the page cache.
pub(super) const DIRECT_READ_MIN: u64 = 1 << 20;

/// Direct reads are issued in pieces of this size: on the project's
/// virtio disks 1 MiB requests read a GiB of packs in 0.66 s, one 16 MiB
/// request per pack in 1.02 s (docs/performance.md).
const DIRECT_READ_PIECE: usize = 1 << 20;

/// Bytes asked of the page cache at once (after a first page).
const CACHED_PIECE: usize = 1 << 20;

/// Opens `path` for direct reading; `None` when the file system refuses
/// `O_DIRECT` (the caller reads through the page cache instead).
pub(super) fn open_direct(path: &Path) -> io::Result<Option<File>> {
    match OpenOptions::new()
        .read(true)
        .custom_flags(nix::fcntl::OFlag::O_DIRECT.bits())
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads `len` bytes at `offset` from a file opened with [`open_direct`]:
/// the enclosing aligned blocks are read, the range copied out. Returns
/// fewer bytes than asked for when the file ends first.
#[cfg(test)]
pub(super) fn read_range(f: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let (mut buf, at) = read_range_at(f, None, offset, len, Vec::new())?;
    buf.drain(..at);
    Ok(buf)
}

/// [`read_range`] without copying the range out: the buffer the aligned
/// blocks were read into (cut after the range) and where the range
/// starts in it. `spare` is used when it is large enough (nothing is
/// allocated or zeroed then). With `cached` (the same file opened
/// without `O_DIRECT`), what the page cache holds from the start of the
/// range is copied from it first, and only the rest is read directly.
pub(super) fn read_range_at(
    f: &File,
    cached: Option<&File>,
    offset: u64,
    len: usize,
    spare: Vec<u8>,
) -> io::Result<(Vec<u8>, usize)> {
    let align = ALIGN as u64;
    let start = offset / align * align;
    let skip = usize::try_from(offset - start).map_err(io::Error::other)?;
    let span = (skip + len).div_ceil(ALIGN) * ALIGN;
    let mut buf = AlignedBuf::reuse(spare, span);
    let bytes = buf.bytes();
    if let Some(c) = cached {
        let (n, eof) = read_from_cache(c, &mut bytes[skip..skip + len], offset)?;
        if eof || n == len {
            return Ok(buf.into_parts(skip, skip + n));
        }
        // the direct reads go on from the block the cache stopped in
        let got = (skip + n) / ALIGN * ALIGN;
        return read_direct(f, buf, start, got, skip, len);
    }
    read_direct(f, buf, start, 0, skip, len)
}

/// Copies into `dst` what the page cache holds of the file from
/// `offset` on, without waiting for the device: the bytes copied, and
/// whether the file ended. A kernel or file system without `RWF_NOWAIT`
/// has nothing copied (the caller reads directly).
///
/// A `RWF_NOWAIT` read that meets a page the cache does not hold still
/// starts the kernel's readahead for the rest of its request (the device
/// would then read those bytes twice), so the first read asks for one
/// page only, and the later ones for a piece of [`CACHED_PIECE`].
fn read_from_cache(f: &File, dst: &mut [u8], offset: u64) -> io::Result<(usize, bool)> {
    use rustix::io::{Errno, ReadWriteFlags, preadv2};
    let mut got = 0;
    while got < dst.len() {
        let at = offset + got as u64;
        let ask = if got == 0 {
            ALIGN - (at % ALIGN as u64) as usize
        } else {
            CACHED_PIECE
        };
        let end = dst.len().min(got + ask);
        let mut slice = [io::IoSliceMut::new(&mut dst[got..end])];
        match preadv2(f, &mut slice, at, ReadWriteFlags::NOWAIT) {
            Ok(0) => return Ok((got, true)),
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            // EAGAIN: the next page is not cached; EOPNOTSUPP, EINVAL,
            // ENOSYS: no NOWAIT here; anything else shows in the direct read
            Err(_) => break,
        }
    }
    Ok((got, false))
}

/// Reads `buf`'s blocks from `got` on directly (`buf` starts at file
/// offset `start`), and cuts the buffer to the range `skip..skip + len`
/// (shorter when the file ends first).
fn read_direct(
    f: &File,
    mut buf: AlignedBuf,
    start: u64,
    mut got: usize,
    skip: usize,
    len: usize,
) -> io::Result<(Vec<u8>, usize)> {
    let span = (skip + len).div_ceil(ALIGN) * ALIGN;
    let bytes = buf.bytes();
    while got < span {
        let piece = (span - got).min(DIRECT_READ_PIECE);
        match f.read_at(&mut bytes[got..got + piece], start + got as u64) {
            Ok(0) => break,
            // a read that ends mid-block is the end of the file
            Ok(n) if n % ALIGN != 0 => {
                got += n;
                break;
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let end = got.min(skip + len);
    Ok(buf.into_parts(skip, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_ranges_match_the_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let Some(f) = open_direct(&path).unwrap() else {
            return; // no O_DIRECT here: nothing to test
        };
        for (off, len) in [
            (0usize, 10usize),
            (1, 4096),
            (4095, 2),
            (4096, 1 << 20),
            (123_457, 1_500_000),
            (2_999_990, 10),
            (0, 3_000_000),
        ] {
            assert_eq!(
                read_range(&f, off as u64, len).unwrap(),
                &data[off..off + len],
                "{off}+{len}"
            );
        }
        // into a spare buffer: too small (replaced), large enough (reused,
        // old bytes overwritten), and the same buffer again
        let mut spare = vec![7u8; 10];
        for (off, len) in [
            (5usize, 100_000usize),
            (4096, 2_000_000),
            (1, 10),
            (123_457, 1_500_000),
        ] {
            let (buf, at) = read_range_at(&f, None, off as u64, len, spare).unwrap();
            assert_eq!(&buf[at..], &data[off..off + len], "spare {off}+{len}");
            spare = buf;
        }
        // past the end: short, not an error
        assert_eq!(read_range(&f, 2_999_990, 100).unwrap(), &data[2_999_990..]);
        assert!(read_range(&f, 3_100_000, 100).unwrap().is_empty());
    }

    /// Reads that take what the page cache holds and read the rest
    /// directly return the file's bytes whatever is cached: all of it,
    /// none, or all but a hole (the cache copy stops there and the
    /// direct reads go on from the block it stopped in).
    #[test]
    fn cached_then_direct_ranges_match_the_file() {
        use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("f");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 17 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let Some(f) = open_direct(&path).unwrap() else {
            return; // no O_DIRECT here: nothing to test
        };
        let cached = File::open(&path).unwrap();
        cached.sync_all().unwrap();
        let evict = |from: i64, len: i64| {
            posix_fadvise(&cached, from, len, PosixFadviseAdvice::POSIX_FADV_DONTNEED).unwrap();
        };
        let cache_all = || std::fs::read(&path).unwrap();
        let ranges = [
            (0usize, 3_000_000usize),
            (123_457, 1_500_000),
            (4096, 2_000_000),
            (2_999_990, 10),
            (2_999_990, 100),
        ];
        let hole = (1 << 20) + 4096 * 100;
        for state in ["all", "none", "hole"] {
            match state {
                "all" => drop(cache_all()),
                "none" => evict(0, 0),
                _ => {
                    drop(cache_all());
                    evict(hole, 200_000);
                }
            }
            if state == "hole" {
                // the cache copy stops at the hole
                let mut dst = vec![0u8; 2_000_000];
                let (n, eof) = read_from_cache(&cached, &mut dst, 0).unwrap();
                assert!(!eof && n > 0 && n <= hole as usize, "{n}");
                assert_eq!(dst[..n], data[..n]);
            }
            let mut spare = Vec::new();
            for (off, len) in ranges {
                let (buf, at) = read_range_at(&f, Some(&cached), off as u64, len, spare).unwrap();
                let end = (off + len).min(data.len());
                assert_eq!(&buf[at..], &data[off..end], "{state} {off}+{len}");
                spare = buf;
            }
        }
    }
}
