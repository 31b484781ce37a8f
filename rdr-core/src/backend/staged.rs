//! Objects written before their name is known: see [`Backend::stage`].

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};

use super::{Backend, BackendResult, FileType};

/// An object being written. Bytes go in through [`Write`]; nothing is
/// visible in the repository until [`Staged::commit`]. Dropping it
/// uncommitted discards the bytes.
pub trait Staged: Write + Send {
    /// Stores the staged bytes durably as the new object `name` of the
    /// type given to [`Backend::stage`], through `backend` (the one that
    /// staged it), with the semantics of [`Backend::write_new`].
    ///
    /// # Errors
    /// As [`Backend::write_new`], or a failed flush of the staged bytes.
    fn commit(self: Box<Self>, backend: &dyn Backend, name: &str) -> BackendResult<()>;
}

/// Staging in memory: the default of [`Backend::stage`].
#[derive(Debug)]
pub struct MemoryStaged {
    ft: FileType,
    buf: Vec<u8>,
}

impl MemoryStaged {
    /// An empty object of type `ft`.
    #[must_use]
    pub fn new(ft: FileType) -> Self {
        Self {
            ft,
            buf: Vec::new(),
        }
    }
}

impl Write for MemoryStaged {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Staged for MemoryStaged {
    fn commit(self: Box<Self>, backend: &dyn Backend, name: &str) -> BackendResult<()> {
        backend.write_new_parts(self.ft, name, vec![self.buf])
    }
}

/// Size of the parts a file-staged object is read back in.
const PART: usize = 1 << 20;

/// Staging in an unnamed temporary file (in `$TMPDIR`), for remote stores:
/// a pack being filled costs a write buffer, not its size, and its bytes
/// are read back only to be uploaded.
#[derive(Debug)]
pub struct FileStaged {
    ft: FileType,
    file: BufWriter<File>,
    len: u64,
}

impl FileStaged {
    /// An empty object of type `ft`.
    ///
    /// # Errors
    /// [`super::BackendError::Io`] when no temporary file can be made.
    pub fn new(ft: FileType) -> BackendResult<Self> {
        let dir = std::env::temp_dir();
        let file = tempfile::tempfile_in(&dir).map_err(|e| super::BackendError::Io {
            op: "create",
            path: format!("a staging file in {}", dir.display()),
            message: e.to_string(),
        })?;
        Ok(Self {
            ft,
            file: BufWriter::with_capacity(256 << 10, file),
            len: 0,
        })
    }

    /// The staged bytes, in parts of [`PART`].
    fn into_parts(self) -> io::Result<Vec<Vec<u8>>> {
        let mut file = self
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        file.rewind()?;
        let mut left = self.len;
        let mut parts = Vec::new();
        while left > 0 {
            let n = left.min(PART as u64);
            let mut part = vec![0; n as usize];
            file.read_exact(&mut part)?;
            parts.push(part);
            left -= n;
        }
        Ok(parts)
    }
}

impl Write for FileStaged {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Staged for FileStaged {
    fn commit(self: Box<Self>, backend: &dyn Backend, name: &str) -> BackendResult<()> {
        let ft = self.ft;
        let parts = self.into_parts().map_err(|e| super::BackendError::Io {
            op: "read",
            path: "a staging file".into(),
            message: e.to_string(),
        })?;
        backend.write_new_parts(ft, name, parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    #[test]
    fn file_staging_stores_what_was_written() {
        let b = MemoryBackend::new().unwrap();
        let mut s = Box::new(FileStaged::new(FileType::Pack).unwrap());
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        for part in data.chunks(7777) {
            s.write_all(part).unwrap();
        }
        s.commit(&b, "p").unwrap();
        assert_eq!(b.read(FileType::Pack, "p").unwrap(), data);
        let s = Box::new(FileStaged::new(FileType::Pack).unwrap());
        assert!(matches!(
            s.commit(&b, "p"),
            Err(crate::backend::BackendError::AlreadyExists { .. })
        ));
    }
}
