//! Block-aligned buffers for direct I/O (`O_DIRECT`), where the buffer's
//! address, the file offset and the length must all be multiples of the
//! device's logical block size. 4096 covers every block size in use.

/// Alignment of direct I/O: buffer address, file offset and length.
pub(crate) const ALIGN: usize = 4096;

/// A block-aligned window into an over-allocated vector.
pub(crate) struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes starting on an [`ALIGN`] boundary.
    pub(crate) fn new(len: usize) -> Self {
        // capacities in whole MiB above 1 MiB: buffers of a few sizes
        // only, so a freed one fits the next request and the allocator's
        // heaps do not fragment (ranged pack reads come in every size)
        let want = len + ALIGN;
        let cap = if want > 1 << 20 {
            want.next_multiple_of(1 << 20)
        } else {
            want
        };
        let mut raw = Vec::with_capacity(cap);
        raw.resize(want, 0u8);
        let start = (ALIGN - raw.as_ptr().addr() % ALIGN) % ALIGN;
        Self { raw, start }
    }

    /// [`AlignedBuf::new`] in `raw`'s memory when it holds enough: its
    /// bytes are neither zeroed nor freed (they are about to be read into).
    pub(crate) fn reuse(mut raw: Vec<u8>, len: usize) -> Self {
        let want = len + ALIGN;
        if raw.capacity() < want {
            return Self::new(len);
        }
        if raw.len() < want {
            raw.resize(want, 0);
        }
        raw.truncate(want);
        let start = (ALIGN - raw.as_ptr().addr() % ALIGN) % ALIGN;
        Self { raw, start }
    }

    /// The aligned bytes.
    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        let end = self.raw.len() - ALIGN + self.start;
        &mut self.raw[self.start..end]
    }

    /// The underlying vector cut after byte `to` of the aligned window, and
    /// where byte `from` of the window is in it (nothing is moved).
    pub(crate) fn into_parts(mut self, from: usize, to: usize) -> (Vec<u8>, usize) {
        let to = to.max(from);
        self.raw.truncate(self.start + to);
        let at = (self.start + from).min(self.raw.len());
        (self.raw, at)
    }
}

/// Whether writes with `O_DIRECT` are the better way to this file system:
/// unless they take half as long again as the same bytes written through
/// the page cache (each followed by `fdatasync`). `buffered` and `direct`
/// are the same file (or two on the same file system) opened each way.
///
/// Each of `rounds` writes `mib` MiB each way, alternating, to fresh
/// offsets; the fastest round of each way counts, so a thread preempted
/// once (the probe may run beside a busy pipeline) does not decide.
///
/// The margin is there because a probe of a few MiB sees the device but
/// not what the page cache costs at volume: on the project's VM, 2 MiB
/// take 3.1-3.4 ms either way, while a backup writing 1 GiB buffered
/// spends 2 s of CPU copying into fresh page-cache pages and takes twice
/// as long as with direct writes (docs/performance.md). Where direct
/// writes are much slower (each one a synchronous round trip, as on
/// network file systems), the probe sees it.
pub(crate) fn direct_is_better(
    buffered: &std::fs::File,
    direct: &std::fs::File,
    rounds: usize,
    mib: usize,
) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    use std::time::{Duration, Instant};
    const PIECE: usize = 1 << 20;
    // 1 MiB pieces: a larger buffer, once freed, moves the allocator's
    // mmap threshold up and fragments its heaps
    let mut buf = AlignedBuf::new(PIECE);
    let bytes = buf.bytes();
    // not zeros: a thin-provisioned disk could skip those
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let mut next = 0u64;
    let mut write = |f: &std::fs::File| -> std::io::Result<Duration> {
        let t = Instant::now();
        for _ in 0..mib {
            f.write_all_at(bytes, next)?;
            next += PIECE as u64;
        }
        f.sync_data()?;
        Ok(t.elapsed())
    };
    let (mut b, mut d) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds.max(1) {
        b = b.min(write(buffered)?);
        d = d.min(write(direct)?);
    }
    Ok(d.as_secs_f64() <= b.as_secs_f64() * 1.5)
}
