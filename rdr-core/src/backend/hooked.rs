//! A backend that passes everything to another, except writes and
//! removals, which may go through hooks: tests and benches use it to make
//! storage misbehave (lose writes or their answers, crash after N
//! mutations) or to write differently.
#![cfg(any(test, feature = "internals"))]

use std::sync::Arc;

use super::{Backend, BackendResult, FileType};

/// What a write does instead: given the inner backend and the write.
pub type WriteHook = dyn Fn(&dyn Backend, FileType, &str, &[u8]) -> BackendResult<()> + Send + Sync;

/// What a removal does instead: given the inner backend and the removal.
pub type RemoveHook = dyn Fn(&dyn Backend, FileType, &str) -> BackendResult<()> + Send + Sync;

/// `inner` with its writes through `hook`.
pub struct Hooked {
    inner: Arc<dyn Backend>,
    hook: Box<WriteHook>,
    on_remove: Option<Box<RemoveHook>>,
}

impl Hooked {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Backend>, hook: Box<WriteHook>) -> Self {
        Self {
            inner,
            hook,
            on_remove: None,
        }
    }

    /// Removals go through `hook` too.
    #[must_use]
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn on_remove(mut self, hook: Box<RemoveHook>) -> Self {
        self.on_remove = Some(hook);
        self
    }
}

impl Backend for Hooked {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn create_layout(&self) -> BackendResult<()> {
        self.inner.create_layout()
    }
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        self.inner.list(ft)
    }
    fn list_sizes(&self, ft: FileType) -> BackendResult<Vec<(String, Option<u64>)>> {
        self.inner.list_sizes(ft)
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        self.inner.stat(ft, name)
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        self.inner.read(ft, name)
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        self.inner.read_range(ft, name, offset, len)
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        (self.hook)(self.inner.as_ref(), ft, name, data)
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        match &self.on_remove {
            Some(hook) => hook(self.inner.as_ref(), ft, name),
            None => self.inner.remove(ft, name),
        }
    }
    fn remove_stale_tmp(&self, older_than: std::time::Duration) -> BackendResult<usize> {
        self.inner.remove_stale_tmp(older_than)
    }
}
