//! Objects written before their name is known: see [`Backend::stage`].

use std::io::{self, Write};

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
        backend.write_new(self.ft, name, &self.buf)
    }
}
