//! A backend that paces the bytes it moves to a rate: what `--limit-upload`
//! and `--limit-download` mean. Each direction has one clock shared by
//! every thread: a transfer of n bytes books the next n/rate seconds of it,
//! starts when its booking does and returns when the booking ends, so by
//! any time t no more than rate × t bytes have moved. Uploads are paced as
//! they are staged, a write (a blob or less) at a time, so a pack does not
//! leave in one burst. Listings, stats and removals are not counted.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Backend, BackendResult, FileType, Staged};

/// One direction's clock.
pub(crate) struct Pace {
    bytes_per_sec: u64,
    /// When the transfers booked so far are done.
    booked_until: Mutex<Option<Instant>>,
}

impl Pace {
    /// A clock for `bytes_per_sec` (at least 1).
    pub(crate) fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec: bytes_per_sec.max(1),
            booked_until: Mutex::new(None),
        }
    }

    /// Books `n` bytes at `now`: when their transfer may start, and when
    /// it may end.
    fn book(&self, now: Instant, n: u64) -> (Instant, Instant) {
        let mut until = self
            .booked_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let start = until.map_or(now, |u| u.max(now));
        let secs = n as f64 / self.bytes_per_sec as f64;
        let end = start + Duration::from_secs_f64(secs);
        *until = Some(end);
        (start, end)
    }

    /// Moves `n` bytes with `f` within their booking.
    fn paced<T>(&self, n: u64, f: impl FnOnce() -> T) -> T {
        let (start, end) = self.book(Instant::now(), n);
        sleep_until(start);
        let out = f();
        sleep_until(end);
        out
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// `inner` with its uploads and downloads paced.
pub(crate) struct Throttled {
    inner: Arc<dyn Backend>,
    up: Option<Arc<Pace>>,
    down: Option<Pace>,
}

impl Throttled {
    /// Paces uploads to `up` and downloads to `down` bytes per second
    /// (`None`: that direction is not paced).
    pub(crate) fn new(inner: Arc<dyn Backend>, up: Option<u64>, down: Option<u64>) -> Self {
        Self {
            inner,
            up: up.map(|r| Arc::new(Pace::new(r))),
            down: down.map(Pace::new),
        }
    }

    fn upload<T>(&self, n: usize, f: impl FnOnce() -> T) -> T {
        match &self.up {
            Some(p) => p.paced(n as u64, f),
            None => f(),
        }
    }

    fn download<T>(&self, n: u64, f: impl FnOnce() -> T) -> T {
        match &self.down {
            Some(p) => p.paced(n, f),
            None => f(),
        }
    }
}

impl Backend for Throttled {
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
        // the size is known only once read: booked then, so the next
        // transfer waits for this one's share of the rate
        let data = self.inner.read(ft, name)?;
        self.download(data.len() as u64, || ());
        Ok(data)
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        self.download(len, || self.inner.read_range(ft, name, offset, len))
    }
    fn read_range_reusing(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
        spare: Vec<u8>,
    ) -> BackendResult<(Vec<u8>, usize)> {
        self.download(len, || {
            self.inner.read_range_reusing(ft, name, offset, len, spare)
        })
    }
    fn read_range_at(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<(Vec<u8>, usize)> {
        self.download(len, || self.inner.read_range_at(ft, name, offset, len))
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        self.upload(data.len(), || self.inner.write_new(ft, name, data))
    }
    fn write_new_parts(&self, ft: FileType, name: &str, parts: Vec<Vec<u8>>) -> BackendResult<()> {
        let n = parts.iter().map(Vec::len).sum();
        self.upload(n, || self.inner.write_new_parts(ft, name, parts))
    }
    fn stage(&self, ft: FileType) -> BackendResult<Box<dyn Staged>> {
        let staged = self.inner.stage(ft)?;
        Ok(match &self.up {
            Some(p) => Box::new(PacedStaged {
                staged,
                pace: Arc::clone(p),
                inner: Arc::clone(&self.inner),
            }),
            None => Box::new(UnpacedStaged {
                staged,
                inner: Arc::clone(&self.inner),
            }),
        })
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        self.inner.remove(ft, name)
    }
    fn remove_stale_tmp(&self, older_than: Duration) -> BackendResult<usize> {
        self.inner.remove_stale_tmp(older_than)
    }
}

/// A staged object whose writes are paced; its commit goes to the backend
/// below, so its bytes are not counted twice.
struct PacedStaged {
    staged: Box<dyn Staged>,
    pace: Arc<Pace>,
    inner: Arc<dyn Backend>,
}

impl Write for PacedStaged {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.pace
            .paced(data.len() as u64, || self.staged.write_all(data))?;
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.staged.flush()
    }
}

impl Staged for PacedStaged {
    fn commit(self: Box<Self>, _: &dyn Backend, name: &str) -> BackendResult<()> {
        self.staged.commit(self.inner.as_ref(), name)
    }
}

/// A staged object of a backend that paces only downloads: its commit
/// goes to the backend below too.
struct UnpacedStaged {
    staged: Box<dyn Staged>,
    inner: Arc<dyn Backend>,
}

impl Write for UnpacedStaged {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.staged.write(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.staged.flush()
    }
}

impl Staged for UnpacedStaged {
    fn commit(self: Box<Self>, _: &dyn Backend, name: &str) -> BackendResult<()> {
        self.staged.commit(self.inner.as_ref(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    #[test]
    fn bookings_follow_each_other_at_the_rate() {
        let p = Pace::new(1000);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(p.book(t0, 500), (t0, ms(500)), "the first starts at once");
        assert_eq!(p.book(t0, 1000), (ms(500), ms(1500)));
        assert_eq!(p.book(t0, 1), (ms(1500), ms(1501)));
        // after a pause, the clock starts again from now: no credit piles up
        assert_eq!(p.book(ms(10_000), 2000), (ms(10_000), ms(12_000)));
        assert_eq!(p.book(ms(10_000), 0), (ms(12_000), ms(12_000)));
    }

    #[test]
    fn bytes_pass_through_unchanged_both_ways() {
        let t = Throttled::new(
            Arc::new(MemoryBackend::new().unwrap()),
            Some(1 << 30),
            Some(1 << 30),
        );
        t.write_new(FileType::Pack, "a", b"hello").unwrap();
        let mut s = t.stage(FileType::Pack).unwrap();
        s.write_all(b"staged ").unwrap();
        s.write_all(b"bytes").unwrap();
        s.commit(&t, "b").unwrap();
        assert_eq!(t.read(FileType::Pack, "b").unwrap(), b"staged bytes");
        assert_eq!(t.read_range(FileType::Pack, "a", 1, 3).unwrap(), b"ell");
        assert_eq!(t.list(FileType::Pack).unwrap().len(), 2);
        let down_only = Throttled::new(Arc::new(MemoryBackend::new().unwrap()), None, Some(1));
        let mut s = down_only.stage(FileType::Pack).unwrap();
        s.write_all(b"x").unwrap();
        s.commit(&down_only, "c").unwrap();
        assert_eq!(down_only.stat(FileType::Pack, "c").unwrap(), 1);
    }
}
