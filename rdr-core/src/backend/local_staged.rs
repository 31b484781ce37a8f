//! Packs staged in a local repository's `tmp/` (see [`Backend::stage`]).
//!
//! Bytes are gathered in a 4 KiB-aligned 1 MiB buffer and written when it
//! is full, by the thread adding the blob. That thread is one of several
//! sealing threads and holds only its own pack's slot, so the others go
//! on sealing while it writes: with the device throttled to 450 MB/s, a
//! 1 GiB backup takes the device's time, not the sum of the device's and
//! the pipeline's (docs/performance.md). A writer thread per pack was
//! tried and gained nothing measurable, for more memory.
//!
//! How the bytes reach the file is chosen once per repository by
//! measuring, when the first pack fills its buffer (smaller backups never
//! ask): a probe file in `tmp/` gets 2 MiB through the page cache and
//! 2 MiB with `O_DIRECT`, each followed by `fdatasync`, three times over
//! ([`crate::aligned::direct_is_better`]; about 15 ms). Where direct
//! writes win, each pack file is switched to `O_DIRECT` (`fcntl`) before
//! its first write, so its bytes go to the device without being copied
//! into the page cache: on this project's machines that copy cost more
//! CPU than sealing the data, and a backup has no use for those pages.
//! The last partial block is then written padded and the file cut to its
//! length. Otherwise (a slower direct path, or a file system without
//! `O_DIRECT`, such as tmpfs) packs are written through the page cache,
//! as are packs that never fill a buffer. Either way the commit ends with
//! `fdatasync`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::local::LocalBackend;
use super::{Backend, BackendResult, FileType, Staged};
use crate::aligned::{ALIGN, AlignedBuf};

/// Bytes gathered before one write.
const BUFFER: usize = 1 << 20;
/// Rounds of the probe, and MiB it writes each way per round.
const PROBE: (usize, usize) = (3, 2);

/// How a repository's staged packs are written, once measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StageMethod {
    /// `O_DIRECT`, around the page cache.
    Direct,
    /// Through the page cache.
    Buffered,
}

/// The method of one repository, shared by its staged packs.
pub(super) type MethodCell = Arc<OnceLock<StageMethod>>;

/// Measures the method in `dir` (a probe file, removed again).
fn probe(dir: &Path) -> StageMethod {
    let rnd: [u8; 8] = crate::crypto::rng::bytes();
    let path = dir.join(format!("probe-{}.tmp", u64::from_le_bytes(rnd)));
    let faster = (|| -> io::Result<bool> {
        let buffered = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let direct = OpenOptions::new()
            .write(true)
            .custom_flags(OFlag::O_DIRECT.bits())
            .open(&path)?;
        crate::aligned::direct_is_better(&buffered, &direct, PROBE.0, PROBE.1)
    })();
    let _ = fs::remove_file(&path);
    if faster.unwrap_or(false) {
        StageMethod::Direct
    } else {
        StageMethod::Buffered
    }
}

/// Switches `file` to `O_DIRECT`; false where the file system refuses.
fn set_direct(file: &File) -> bool {
    fcntl(file, FcntlArg::F_GETFL)
        .map(OFlag::from_bits_retain)
        .and_then(|flags| fcntl(file, FcntlArg::F_SETFL(flags | OFlag::O_DIRECT)))
        .is_ok()
}

/// A pack being written to `tmp/`, published under its name at commit.
pub(super) struct LocalStaged {
    root: PathBuf,
    ft: FileType,
    tmp: PathBuf,
    file: File,
    method: MethodCell,
    buf: AlignedBuf,
    filled: usize,
    /// Bytes already written (a multiple of the buffer size).
    flushed: u64,
    /// Whether the file is `O_DIRECT`; decided at the first full buffer.
    direct: Option<bool>,
}

impl LocalStaged {
    pub(super) fn new(
        backend: &LocalBackend,
        ft: FileType,
        method: MethodCell,
    ) -> BackendResult<Self> {
        let (tmp, file) = backend.create_tmp_with(ft, "staged", 0)?;
        Ok(Self {
            root: backend.root().to_path_buf(),
            ft,
            tmp,
            file,
            method,
            buf: AlignedBuf::new(BUFFER),
            filled: 0,
            flushed: 0,
            direct: None,
        })
    }

    /// Writes the full buffer (the first one after choosing the method).
    fn write_buffer(&mut self) -> io::Result<()> {
        self.direct.get_or_insert_with(|| {
            let dir = self.root.join("tmp");
            *self.method.get_or_init(|| probe(&dir)) == StageMethod::Direct
                && set_direct(&self.file)
        });
        self.file.write_all_at(self.buf.bytes(), self.flushed)?;
        self.flushed += BUFFER as u64;
        self.filled = 0;
        Ok(())
    }

    /// Writes what is buffered and makes the data durable.
    fn finish(&mut self) -> io::Result<()> {
        let (filled, at) = (self.filled, self.flushed);
        let bytes = self.buf.bytes();
        if self.direct == Some(true) && filled > 0 {
            let padded = filled.div_ceil(ALIGN) * ALIGN;
            bytes[filled..padded].fill(0);
            self.file.write_all_at(&bytes[..padded], at)?;
            self.file.set_len(at + filled as u64)?;
        } else {
            self.file.write_all_at(&bytes[..filled], at)?;
        }
        self.file.sync_data()
    }
}

impl Write for LocalStaged {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let len = data.len();
        while !data.is_empty() {
            let n = (BUFFER - self.filled).min(data.len());
            self.buf.bytes()[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled == BUFFER {
                self.write_buffer()?;
            }
        }
        Ok(len)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Staged for LocalStaged {
    fn commit(mut self: Box<Self>, _: &dyn Backend, name: &str) -> BackendResult<()> {
        if let Err(e) = self.finish() {
            return Err(LocalBackend::io_err("write", &self.tmp, &e));
        }
        LocalBackend::publish(&self.root, self.ft, name, &self.tmp)
    }
}

impl Drop for LocalStaged {
    fn drop(&mut self) {
        // Not committed (an error or a cancelled backup): discard the
        // bytes. After a commit the file is already gone and this is a no-op.
        let _ = fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(b: &LocalBackend, method: Option<StageMethod>) -> LocalStaged {
        let cell = MethodCell::default();
        if let Some(m) = method {
            cell.set(m).unwrap();
        }
        LocalStaged::new(b, FileType::Pack, cell).unwrap()
    }

    #[test]
    fn direct_buffered_and_probed_staging_write_the_same_bytes() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path()).unwrap();
        b.create_layout().unwrap();
        let methods = [Some(StageMethod::Direct), Some(StageMethod::Buffered), None];
        // lengths around the buffer and block boundaries
        let lengths = [0usize, 1, 4095, 4096, 4097, BUFFER, BUFFER + 5, 3 << 20];
        for (m, method) in methods.into_iter().enumerate() {
            for (i, len) in lengths.into_iter().enumerate() {
                let data: Vec<u8> = (0..len).map(|j| (j * 7 + i + m) as u8).collect();
                let mut s = staged(&b, method);
                for piece in data.chunks(333_333) {
                    s.write_all(piece).unwrap();
                }
                let name = format!("{m}{i}{}", "a".repeat(62));
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
        }
        // nothing left behind: no staged file, no probe file
        assert!(fs::read_dir(d.path().join("tmp")).unwrap().next().is_none());
    }

    /// The probe answers and removes its file; the method it picks holds
    /// for every later pack of the repository.
    #[test]
    fn the_probe_runs_once_and_cleans_up() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path()).unwrap();
        b.create_layout().unwrap();
        let cell = MethodCell::default();
        let mut s = LocalStaged::new(&b, FileType::Pack, Arc::clone(&cell)).unwrap();
        s.write_all(&vec![7u8; BUFFER + 1]).unwrap();
        Box::new(s).commit(&b, &"c".repeat(64)).unwrap();
        let picked = *cell.get().expect("a writer probed");
        assert!(fs::read_dir(d.path().join("tmp")).unwrap().next().is_none());
        let direct = set_direct(&File::create(d.path().join("tmp/x")).unwrap());
        if !direct {
            assert_eq!(picked, StageMethod::Buffered, "no O_DIRECT here");
        }
    }

    /// A failed write is returned by the write, or by the commit when
    /// it was still buffered.
    #[test]
    fn a_write_error_is_returned_not_lost() {
        let d = tempfile::tempdir().unwrap();
        let b = LocalBackend::new(d.path()).unwrap();
        b.create_layout().unwrap();
        for method in [StageMethod::Direct, StageMethod::Buffered] {
            // a device where every write fails with ENOSPC
            let full = || OpenOptions::new().write(true).open("/dev/full").unwrap();
            let mut s = staged(&b, Some(method));
            s.file = full();
            let err = s.write_all(&vec![1u8; BUFFER + 1]).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(nix::libc::ENOSPC), "{err}");
            let mut s = staged(&b, Some(method));
            s.file = full();
            s.write_all(&[1u8; 1000]).unwrap();
            let e = Box::new(s).commit(&b, &"d".repeat(64)).unwrap_err();
            assert!(e.to_string().contains("No space left"), "{e}");
        }
        assert!(b.read(FileType::Pack, &"d".repeat(64)).is_err());
        assert!(fs::read_dir(d.path().join("tmp")).unwrap().next().is_none());
    }
}
