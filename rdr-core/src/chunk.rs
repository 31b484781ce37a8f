//! Content-defined chunking: FastCDC (v2020) driven through its public
//! `cut_gear` with a secret gear table derived from the repository's chunker
//! key, so chunk boundaries do not fingerprint known files.
//!
//! Pure code over `impl Read`; depends on `crypto::keys` only.

use std::io::{self, Read};

use fastcdc::v2020::{Normalization, cut_gear, select_masks};
use serde::{Deserialize, Serialize};

use crate::crypto::keys::SecretKey;

/// Context mixed into the gear-table derivation.
const GEAR_CONTEXT: &[u8] = b"rdr gear table v1";
/// The largest maximum chunk size rdr accepts (8 MiB): it keeps every sealed
/// chunk below 2^24 bytes, which the compact master index relies on.
pub const MAX_CHUNK_LIMIT: u32 = 8 << 20;

/// Chunk size parameters, fixed at `init` and stored in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Minimum chunk size in bytes.
    pub min: u32,
    /// Target average chunk size in bytes.
    pub avg: u32,
    /// Maximum chunk size in bytes.
    pub max: u32,
}

impl Default for ChunkerParams {
    /// 512 KiB / 1 MiB / 8 MiB: see docs/chunking.md for the measurements.
    fn default() -> Self {
        Self {
            min: 512 << 10,
            avg: 1 << 20,
            max: 8 << 20,
        }
    }
}

impl ChunkerParams {
    /// Checks the parameters against FastCDC's limits and rdr's own.
    ///
    /// # Errors
    /// A message naming the offending value.
    pub fn validate(&self) -> Result<(), String> {
        let Self { min, avg, max } = *self;
        if !(64..=1 << 20).contains(&min) {
            return Err(format!("minimum chunk size {min} outside 64 B..1 MiB"));
        }
        if !(256..=4 << 20).contains(&avg) {
            return Err(format!("average chunk size {avg} outside 256 B..4 MiB"));
        }
        if !(1024..=MAX_CHUNK_LIMIT).contains(&max) {
            return Err(format!("maximum chunk size {max} outside 1 KiB..8 MiB"));
        }
        if min % 2 != 0 || avg % 2 != 0 || max % 2 != 0 {
            return Err("chunk sizes must be even".into());
        }
        if !(min < avg && avg < max) {
            return Err(format!("need min < avg < max, got {min} / {avg} / {max}"));
        }
        Ok(())
    }
}

/// A chunker's secret configuration: parameters, masks and gear tables.
pub struct ChunkerConfig {
    params: ChunkerParams,
    mask_s: u64,
    mask_l: u64,
    gear: Box<[u64; 256]>,
    gear_ls: Box<[u64; 256]>,
}

impl ChunkerConfig {
    /// Derives the gear table from the chunker key.
    ///
    /// # Errors
    /// A message when the parameters are invalid.
    pub fn new(params: ChunkerParams, key: &SecretKey) -> Result<Self, String> {
        params.validate()?;
        let mut xof = blake3::Hasher::new_keyed(key.expose())
            .update(GEAR_CONTEXT)
            .finalize_xof();
        let mut bytes = [0u8; 256 * 8];
        xof.fill(&mut bytes);
        let mut gear = Box::new([0u64; 256]);
        for (g, b) in gear.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            *g = u64::from_le_bytes(w);
        }
        let gear_ls = Box::new(gear.map(|g| g << 1));
        let (mask_s, mask_l) = select_masks(params.avg as usize, Normalization::Level1);
        Ok(Self {
            params,
            mask_s,
            mask_l,
            gear,
            gear_ls,
        })
    }

    #[cfg(feature = "internals")]
    /// The parameters.
    #[must_use]
    pub fn params(&self) -> ChunkerParams {
        self.params
    }

    /// Length of the first chunk of `data`. `eof` says whether `data` ends
    /// the stream; when it does not, a cut is only final if `data` holds at
    /// least `max` bytes, so callers must supply that much.
    #[must_use]
    pub fn cut(&self, data: &[u8]) -> usize {
        let p = self.params;
        let (_, len) = cut_gear(
            data,
            p.min as usize,
            p.avg as usize,
            p.max as usize,
            self.mask_s,
            self.mask_l,
            self.mask_s << 1,
            self.mask_l << 1,
            self.gear.as_slice(),
            self.gear_ls.as_slice(),
        );
        len
    }

    #[cfg(any(test, feature = "internals"))]
    /// Chunk boundaries of a whole in-memory buffer (e.g. a mapped file),
    /// as `(offset, length)` pairs.
    #[must_use]
    pub fn split_slice(&self, data: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::with_capacity(data.len() / self.params.avg as usize + 1);
        let mut pos = 0;
        while pos < data.len() {
            let len = self.cut(&data[pos..]).max(1);
            out.push((pos, len));
            pos += len;
        }
        out
    }
}

/// Streams chunks out of a reader, reusing one buffer of the maximum chunk
/// size; memory stays bounded whatever the stream's length.
///
/// A cut found before the end of the buffered window is final (a cut
/// depends only on the bytes before it), so the buffer is refilled only
/// when the window holds no cut: the bytes moved to its front are then
/// the short tail of the window, not most of the buffer.
pub struct Chunker<'c, R> {
    cfg: &'c ChunkerConfig,
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl<'c, R: Read> Chunker<'c, R> {
    #[cfg(any(test, feature = "internals"))]
    /// A chunker over `reader`.
    pub fn new(cfg: &'c ChunkerConfig, reader: R) -> Self {
        Self::with_buffer(cfg, reader, Vec::new())
    }

    /// A chunker over `reader` that works in `buf` (replaced by one of the
    /// maximum chunk size if smaller), so that a caller chunking many
    /// files allocates the buffer once. Get it back with [`Self::into_buffer`].
    pub fn with_buffer(cfg: &'c ChunkerConfig, reader: R, mut buf: Vec<u8>) -> Self {
        let cap = cfg.params.max as usize;
        if buf.len() < cap {
            // zeroed by the allocator: pages are only touched as data arrives
            buf = vec![0; cap];
        }
        Self {
            cfg,
            reader,
            buf,
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// The working buffer, for the next stream.
    #[must_use]
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }

    /// Moves the window to the front of the buffer and reads until the
    /// buffer is full or the stream ends.
    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < self.buf.len() && !self.eof {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The next chunk, or `None` at the end of the stream.
    ///
    /// # Errors
    /// Any error of the underlying reader.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        let max = self.cfg.params.max as usize;
        loop {
            let window = &self.buf[self.start..self.end];
            let len = self.cfg.cut(window);
            // a cut inside the window is final; one at its end only when
            // nothing more can come or the window is a whole maximum chunk
            if len < window.len() || self.eof || window.len() >= max {
                if window.is_empty() {
                    return Ok(None);
                }
                let len = len.clamp(1, window.len());
                let chunk = window[..len].to_vec();
                self.start += len;
                return Ok(Some(chunk));
            }
            self.fill()?;
        }
    }
}

impl<R: Read> Iterator for Chunker<'_, R> {
    type Item = io::Result<Vec<u8>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(seed: u8) -> ChunkerConfig {
        ChunkerConfig::new(
            ChunkerParams {
                min: 2048,
                avg: 8192,
                max: 32768,
            },
            &SecretKey::from_bytes([seed; 32]),
        )
        .unwrap()
    }

    fn data(n: usize) -> Vec<u8> {
        let mut x = blake3::Hasher::new().update(b"seed").finalize_xof();
        let mut v = vec![0; n];
        x.fill(&mut v);
        v
    }

    /// A reader that returns at most 1000 bytes per call.
    struct Dribble<'a>(&'a [u8]);
    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1000).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reused_buffer_gives_the_same_chunks() {
        let c = cfg(3);
        let (a, b) = (data(200_000), data(70_000));
        let fresh: Vec<Vec<u8>> = Chunker::new(&c, &b[..]).map(Result::unwrap).collect();
        let mut first = Chunker::new(&c, &a[..]);
        while first.next_chunk().unwrap().is_some() {}
        let mut again = Chunker::with_buffer(&c, &b[..], first.into_buffer());
        let mut reused = Vec::new();
        while let Some(ch) = again.next_chunk().unwrap() {
            reused.push(ch);
        }
        assert_eq!(reused, fresh);
    }

    #[test]
    fn stream_equals_slice_and_respects_bounds() {
        let c = cfg(1);
        let d = data(1 << 20);
        let slice: Vec<usize> = c.split_slice(&d).into_iter().map(|(_, l)| l).collect();
        let stream: Vec<usize> = Chunker::new(&c, Dribble(&d))
            .map(|r| r.unwrap().len())
            .collect();
        assert_eq!(slice, stream);
        assert_eq!(stream.iter().sum::<usize>(), d.len());
        for l in &stream[..stream.len() - 1] {
            assert!((2048..=32768).contains(l), "{l}");
        }
    }

    #[test]
    fn key_changes_boundaries() {
        let d = data(1 << 20);
        assert_ne!(cfg(1).split_slice(&d), cfg(2).split_slice(&d));
    }

    #[test]
    fn shift_resistance() {
        let c = cfg(1);
        let d = data(1 << 20);
        let mut shifted = vec![0xAB; 100];
        shifted.extend_from_slice(&d);
        let a: std::collections::HashSet<Vec<u8>> = c
            .split_slice(&d)
            .into_iter()
            .map(|(o, l)| d[o..o + l].to_vec())
            .collect();
        let b = c.split_slice(&shifted);
        let common = b
            .iter()
            .filter(|(o, l)| a.contains(&shifted[*o..*o + *l]))
            .count();
        assert!(common * 10 >= b.len() * 8, "{common} of {}", b.len());
    }

    #[test]
    fn invalid_params() {
        for p in [
            ChunkerParams {
                min: 10,
                avg: 8192,
                max: 32768,
            },
            ChunkerParams {
                min: 2048,
                avg: 8192,
                max: 16 << 20,
            },
            ChunkerParams {
                min: 8192,
                avg: 8192,
                max: 32768,
            },
            ChunkerParams {
                min: 2049,
                avg: 8192,
                max: 32768,
            },
        ] {
            assert!(p.validate().is_err(), "{p:?}");
        }
        ChunkerParams::default().validate().unwrap();
    }

    #[test]
    fn empty_stream() {
        let c = cfg(1);
        assert!(Chunker::new(&c, &b""[..]).next().is_none());
    }
}
