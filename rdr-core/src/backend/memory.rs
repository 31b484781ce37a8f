//! In-memory backend (OpenDAL's memory service): for tests and benches.

use opendal::blocking::Operator;

use super::BackendResult;
use super::opendal_ops::{self, OnOperator};

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

impl OnOperator for MemoryBackend {
    fn operator(&self) -> &Operator {
        &self.op
    }
    fn describe(&self) -> String {
        "memory".to_owned()
    }
}
