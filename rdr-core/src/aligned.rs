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
