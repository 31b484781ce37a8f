//! Direct I/O (`O_DIRECT`) for pack files of the local backend: block-aligned
//! buffers, and ranged reads that bypass the page cache.
//!
//! On this project's machines a cold buffered read of a pack runs at ~500 MB/s
//! (the kernel's readahead issues small requests), a direct read of the same
//! range at ~1.5 GB/s; restore and `check --read-data` read packs that are
//! usually not cached (docs/performance.md).

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
    let (mut buf, at) = read_range_at(f, offset, len, Vec::new())?;
    buf.drain(..at);
    Ok(buf)
}

/// [`read_range`] without copying the range out: the buffer the aligned
/// blocks were read into (cut after the range) and where the range
/// starts in it. `spare` is used when it is large enough (nothing is
/// allocated or zeroed then).
pub(super) fn read_range_at(
    f: &File,
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
    let mut got = 0;
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
            let (buf, at) = read_range_at(&f, off as u64, len, spare).unwrap();
            assert_eq!(&buf[at..], &data[off..off + len], "spare {off}+{len}");
            spare = buf;
        }
        // past the end: short, not an error
        assert_eq!(read_range(&f, 2_999_990, 100).unwrap(), &data[2_999_990..]);
        assert!(read_range(&f, 3_100_000, 100).unwrap().is_empty());
    }
}
