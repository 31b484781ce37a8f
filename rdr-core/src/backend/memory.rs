//! In-memory backend (OpenDAL's memory service): for tests and benches.

use opendal::blocking::Operator;
use opendal::options::WriteOptions;

use super::opendal_ops::{self, map_err};
use super::{Backend, BackendResult, FileType};

/// Objects kept in memory; cloning shares the same store.
#[derive(Clone)]
pub struct MemoryBackend {
    op: Operator,
}

impl MemoryBackend {
    /// An empty store.
    ///
    /// # Errors
    /// [`super::BackendError::Setup`] when OpenDAL cannot build the service.
    pub fn new() -> BackendResult<Self> {
        let op = opendal::Operator::new(opendal::services::Memory::default())
            .map_err(|e| super::BackendError::Setup(e.to_string()))?;
        Ok(Self {
            op: opendal_ops::blocking(op)?,
        })
    }
}

impl Backend for MemoryBackend {
    fn location(&self) -> String {
        "memory".to_owned()
    }
    fn create_layout(&self) -> BackendResult<()> {
        Ok(())
    }
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        opendal_ops::list(&self.op, ft)
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        opendal_ops::stat(&self.op, ft, name)
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        opendal_ops::read(&self.op, ft, name)
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        opendal_ops::read_range(&self.op, ft, name, offset, len)
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        let path = ft.path(name);
        self.op
            .write_options(
                &path,
                data.to_vec(),
                WriteOptions {
                    if_not_exists: true,
                    ..WriteOptions::default()
                },
            )
            .map(|_| ())
            .map_err(|e| map_err("write", &path, e))
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        opendal_ops::remove(&self.op, ft, name)
    }
}
