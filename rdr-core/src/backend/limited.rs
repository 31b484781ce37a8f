//! A backend that lets at most N requests reach another at once: what
//! `--connections N` means for remote storage. Uploads, downloads,
//! listings and removals share the one bound, so the bytes in flight are at
//! most N objects (or ranges) whatever the number of threads above.

use std::sync::{Arc, Condvar, Mutex, PoisonError};

use super::{Backend, BackendResult, FileType, Staged};

/// A counting semaphore: `acquire` waits while `limit` permits are out.
struct Permits {
    out: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

/// A held permit; dropping it frees it (also when the request panics).
struct Permit<'a>(&'a Permits);

impl Permits {
    fn acquire(&self) -> Permit<'_> {
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        while *out >= self.limit {
            out = self.freed.wait(out).unwrap_or_else(PoisonError::into_inner);
        }
        *out += 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut out = self.0.out.lock().unwrap_or_else(PoisonError::into_inner);
        *out -= 1;
        self.0.freed.notify_one();
    }
}

/// `inner` with at most `limit` requests in flight.
pub(crate) struct Limited {
    inner: Arc<dyn Backend>,
    permits: Permits,
}

impl Limited {
    /// Wraps `inner`; a `limit` of 0 counts as 1.
    pub(crate) fn new(inner: Arc<dyn Backend>, limit: usize) -> Self {
        Self {
            inner,
            permits: Permits {
                out: Mutex::new(0),
                freed: Condvar::new(),
                limit: limit.max(1),
            },
        }
    }

    fn with<T>(&self, f: impl FnOnce(&dyn Backend) -> T) -> T {
        let _permit = self.permits.acquire();
        f(self.inner.as_ref())
    }
}

impl Backend for Limited {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn create_layout(&self) -> BackendResult<()> {
        self.with(|b| b.create_layout())
    }
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        self.with(|b| b.list(ft))
    }
    fn list_sizes(&self, ft: FileType) -> BackendResult<Vec<(String, Option<u64>)>> {
        self.with(|b| b.list_sizes(ft))
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        self.with(|b| b.stat(ft, name))
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        self.with(|b| b.read(ft, name))
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        self.with(|b| b.read_range(ft, name, offset, len))
    }
    fn read_range_reusing(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
        spare: Vec<u8>,
    ) -> BackendResult<(Vec<u8>, usize)> {
        self.with(|b| b.read_range_reusing(ft, name, offset, len, spare))
    }
    fn read_range_at(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<(Vec<u8>, usize)> {
        self.with(|b| b.read_range_at(ft, name, offset, len))
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        self.with(|b| b.write_new(ft, name, data))
    }
    fn write_new_parts(&self, ft: FileType, name: &str, parts: Vec<Vec<u8>>) -> BackendResult<()> {
        self.with(|b| b.write_new_parts(ft, name, parts))
    }
    fn stage(&self, ft: FileType) -> BackendResult<Box<dyn Staged>> {
        // staging is local; the commit comes back through write_new_parts
        self.inner.stage(ft)
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        self.with(|b| b.remove(ft, name))
    }
    fn remove_stale_tmp(&self, older_than: std::time::Duration) -> BackendResult<usize> {
        self.with(|b| b.remove_stale_tmp(older_than))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::backend::{Hooked, MemoryBackend};

    #[test]
    fn no_more_than_the_limit_reach_the_inner_backend() {
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (n, m) = (Arc::clone(&now), Arc::clone(&most));
        let slow = Hooked::new(
            Arc::new(MemoryBackend::new().unwrap()),
            Box::new(move |inner, ft, name, data| {
                let here = n.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(here, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                n.fetch_sub(1, Ordering::SeqCst);
                inner.write_new(ft, name, data)
            }),
        );
        let limited = Limited::new(Arc::new(slow), 3);
        std::thread::scope(|s| {
            for t in 0..12 {
                let l = &limited;
                s.spawn(move || {
                    l.write_new(FileType::Pack, &format!("p{t}"), b"x").unwrap();
                });
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!((2..=3).contains(&most), "{most} at once");
        assert_eq!(limited.list(FileType::Pack).unwrap().len(), 12);
        // a failed request gives its permit back
        assert!(limited.read(FileType::Pack, "absent").is_err());
        assert!(limited.read(FileType::Pack, "absent").is_err());
        assert!(limited.read(FileType::Pack, "absent").is_err());
        assert_eq!(limited.read(FileType::Pack, "p0").unwrap(), b"x");
    }
}
