//! Packs staged in a local repository's `tmp/` (see [`Backend::stage`]).
//!
//! Pack bytes are written with `O_DIRECT` where the file system supports
//! it: from a 4 KiB-aligned 1 MiB buffer straight to the device, without
//! copying them into the page cache. On this project's machines the copy
//! into fresh page-cache pages cost more CPU than sealing the data
//! (docs/performance.md), and a backup has no use for those pages. The
//! last partial block is written padded and the file then cut to its
//! length. File systems without `O_DIRECT` (tmpfs) get a buffered writer.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::local::LocalBackend;
use super::{Backend, BackendResult, FileType, Staged};
use crate::aligned::{ALIGN, AlignedBuf};

/// Bytes gathered before one direct write.
const DIRECT_BUFFER: usize = 1 << 20;
/// Buffer of the buffered fallback.
const BUFFERED: usize = 256 << 10;

enum Sink {
    Direct {
        file: File,
        buf: AlignedBuf,
        filled: usize,
        /// Bytes already on disk (a multiple of the buffer size).
        flushed: u64,
    },
    Buffered(BufWriter<File>),
}

impl Sink {
    fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        match self {
            Self::Buffered(w) => w.write_all(data),
            Self::Direct {
                file,
                buf,
                filled,
                flushed,
            } => {
                while !data.is_empty() {
                    let room = DIRECT_BUFFER - *filled;
                    let n = room.min(data.len());
                    buf.bytes()[*filled..*filled + n].copy_from_slice(&data[..n]);
                    *filled += n;
                    data = &data[n..];
                    if *filled == DIRECT_BUFFER {
                        file.write_all_at(buf.bytes(), *flushed)?;
                        *flushed += DIRECT_BUFFER as u64;
                        *filled = 0;
                    }
                }
                Ok(())
            }
        }
    }

    /// Writes what is buffered and makes the data durable.
    fn finish(self) -> io::Result<()> {
        match self {
            Self::Buffered(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?,
            Self::Direct {
                file,
                mut buf,
                filled,
                flushed,
            } => {
                if filled > 0 {
                    let padded = filled.div_ceil(ALIGN) * ALIGN;
                    let bytes = buf.bytes();
                    bytes[filled..padded].fill(0);
                    file.write_all_at(&bytes[..padded], flushed)?;
                    file.set_len(flushed + filled as u64)?;
                }
                file
            }
        }
        .sync_data()
    }
}

/// A pack being written to `tmp/`, published under its name at commit.
pub(super) struct LocalStaged {
    root: PathBuf,
    ft: FileType,
    tmp: PathBuf,
    sink: Option<Sink>,
}

impl LocalStaged {
    pub(super) fn new(backend: &LocalBackend, ft: FileType) -> BackendResult<Self> {
        let direct = nix::fcntl::OFlag::O_DIRECT.bits();
        let (tmp, sink) = match backend.create_tmp_with(ft, "staged", direct) {
            Ok((tmp, file)) => (
                tmp,
                Sink::Direct {
                    file,
                    buf: AlignedBuf::new(DIRECT_BUFFER),
                    filled: 0,
                    flushed: 0,
                },
            ),
            // Retried without O_DIRECT: EINVAL means the file system does
            // not do direct I/O (tmpfs); any other failure fails again here.
            Err(_) => {
                let (tmp, file) = backend.create_tmp_with(ft, "staged", 0)?;
                (
                    tmp,
                    Sink::Buffered(BufWriter::with_capacity(BUFFERED, file)),
                )
            }
        };
        Ok(Self {
            root: backend.root().to_path_buf(),
            ft,
            tmp,
            sink: Some(sink),
        })
    }
}

fn committed() -> io::Error {
    io::Error::other("staged file already committed")
}

impl Write for LocalStaged {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.sink.as_mut().ok_or_else(committed)?.write(data)?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Staged for LocalStaged {
    fn commit(mut self: Box<Self>, _: &dyn Backend, name: &str) -> BackendResult<()> {
        let done = self
            .sink
            .take()
            .ok_or_else(committed)
            .and_then(Sink::finish);
        if let Err(e) = done {
            return Err(LocalBackend::io_err("write", &self.tmp, &e));
        }
        LocalBackend::publish(&self.root, self.ft, name, &self.tmp)
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        // Not committed (an error or a cancelled backup): discard the bytes.
        // After a commit the file is already gone and this is a no-op.
        let _ = fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_and_buffered_staging_write_the_same_bytes() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path()).unwrap();
        b.create_layout().unwrap();
        // lengths around the buffer and block boundaries
        for (i, len) in [
            0usize,
            1,
            4095,
            4096,
            4097,
            DIRECT_BUFFER,
            DIRECT_BUFFER + 5,
            3 << 20,
        ]
        .into_iter()
        .enumerate()
        {
            let data: Vec<u8> = (0..len).map(|j| (j * 7 + i) as u8).collect();
            let mut s = LocalStaged::new(&b, FileType::Pack).unwrap();
            for piece in data.chunks(333_333) {
                s.write_all(piece).unwrap();
            }
            let name = format!("{i:02}{}", "a".repeat(62));
            Box::new(s).commit(&b, &name).unwrap();
            assert_eq!(b.read(FileType::Pack, &name).unwrap(), data, "length {len}");
            if len > 2 << 20 {
                // ranged reads of 1 MiB or more go around the page cache
                let r = b.read_range(FileType::Pack, &name, 4097, 2 << 20).unwrap();
                assert_eq!(r, &data[4097..4097 + (2 << 20)]);
                let past = b.read_range(FileType::Pack, &name, 1 << 20, 3 << 20);
                assert!(
                    matches!(past, Err(crate::backend::BackendError::ShortRead { .. })),
                    "{past:?}"
                );
            }
        }
        let mut s = LocalStaged::new(&b, FileType::Pack).unwrap();
        fs::remove_file(&s.tmp).unwrap();
        s.sink = Some(Sink::Buffered(BufWriter::new(
            File::create(d.path().join("tmp/buffered")).unwrap(),
        )));
        s.tmp = d.path().join("tmp/buffered");
        s.write_all(b"buffered bytes").unwrap();
        Box::new(s).commit(&b, &"b".repeat(64)).unwrap();
        assert_eq!(
            b.read(FileType::Pack, &"b".repeat(64)).unwrap(),
            b"buffered bytes"
        );
        assert!(fs::read_dir(d.path().join("tmp")).unwrap().next().is_none());
    }
}
