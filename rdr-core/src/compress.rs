//! zstd compression of blob and file payloads, with an explicit bound on the
//! decompressed size so a hostile blob cannot exhaust memory.
//!
//! Encoded form: `codec (1) ‖ payload`, codec 0 = stored raw, 1 = zstd frame.
//! Pure code; depends on `format` (for its error type) only.

use std::cell::RefCell;
use std::io;

use zstd::bulk::{Compressor, Decompressor};

use crate::format::FormatError;

/// Codec byte: payload stored as is.
pub const CODEC_RAW: u8 = 0;
/// Codec byte: payload is one zstd frame.
pub const CODEC_ZSTD: u8 = 1;

thread_local! {
    /// One compression context per thread and level pair (sample test at
    /// level 1, full pass at the caller's level): creating a context per
    /// chunk cost more than compressing a small file (docs/performance.md).
    static COMPRESSORS: RefCell<Option<(Compressor<'static>, Compressor<'static>, i32)>> =
        const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's (sample, full) compressors, `full` set to `level`.
fn with_compressors<T>(
    level: i32,
    f: impl FnOnce(&mut Compressor<'static>, &mut Compressor<'static>) -> io::Result<T>,
) -> io::Result<T> {
    COMPRESSORS.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some((Compressor::new(1)?, Compressor::new(level)?, level));
        }
        let Some((sample, full, current)) = c.as_mut() else {
            return Err(io::Error::other("no compression context"));
        };
        if *current != level {
            full.set_compression_level(level)?;
            *current = level;
        }
        f(sample, full)
    })
}

/// Bytes of a chunk test-compressed (at level 1) before the full pass.
const SAMPLE: usize = 16 << 10;

/// Encodes `data`: zstd at `level` when that shrinks it, raw otherwise
/// (and always raw for `level == 0`).
#[must_use]
pub fn encode(data: &[u8], level: i32) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(data, level, &mut out);
    out
}

/// The most bytes [`encode`] produces for `len` bytes of input.
#[must_use]
pub fn encoded_bound(len: usize) -> usize {
    1 + zstd::zstd_safe::compress_bound(len).max(len)
}

/// [`encode`], appended to `out`; the zstd frame is written straight into
/// `out`'s spare capacity (reserved here), with no intermediate buffer.
pub fn encode_into(data: &[u8], level: i32, out: &mut Vec<u8>) {
    let start = out.len();
    out.reserve(encoded_bound(data.len()));
    if level != 0 && data.len() >= 64 {
        // Cheap test on a sample first: incompressible data (the common case
        // for media and encrypted inputs) skips the full compression pass.
        // A chunk no larger than the sample is compressed once, not tested
        // first: the test would cost as much as the compression.
        let sample = &data[..data.len().min(SAMPLE)];
        out.push(CODEC_ZSTD);
        let compressed = with_compressors(level, |s, full| {
            let worth_it = data.len() <= SAMPLE
                || s.compress(sample)?.len() < sample.len() - sample.len() / 32;
            if !worth_it {
                return Ok(None);
            }
            let mut dst = io::Cursor::new(&mut *out);
            dst.set_position((start + 1) as u64);
            full.compress_to_buffer(data, &mut dst).map(Some)
        });
        if let Ok(Some(n)) = compressed
            && n < data.len()
        {
            return;
        }
        out.truncate(start);
    }
    out.push(CODEC_RAW);
    out.extend_from_slice(data);
}

/// Decodes what [`encode`] produced; fails if the result would exceed `max_len`.
///
/// # Errors
/// [`FormatError`] on an empty input, an unknown codec byte, a corrupt zstd
/// frame or an output above `max_len`.
pub fn decode(encoded: &[u8], max_len: usize) -> Result<Vec<u8>, FormatError> {
    let mut scratch = Vec::new();
    decode_in(encoded, max_len, &mut scratch)?;
    Ok(match encoded.first() {
        Some(&CODEC_RAW) => encoded[1..].to_vec(),
        _ => scratch,
    })
}

/// [`decode`] without copying a raw payload: returns it where it lies, or
/// decompresses into `scratch` (cleared first, its capacity reused).
///
/// # Errors
/// As [`decode`].
pub fn decode_in<'a>(
    encoded: &'a [u8],
    max_len: usize,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], FormatError> {
    let (&codec, payload) = encoded.split_first().ok_or(FormatError::Truncated {
        what: "compressed payload",
        need: 1,
        have: 0,
    })?;
    match codec {
        CODEC_RAW if payload.len() > max_len => Err(FormatError::TooLarge {
            what: "payload",
            len: payload.len() as u64,
            max: max_len as u64,
        }),
        CODEC_RAW => Ok(payload),
        CODEC_ZSTD => {
            // room for the declared size when the frame has one (checked
            // against the bound), else for the bound
            let room = match zstd::zstd_safe::get_frame_content_size(payload) {
                Ok(Some(n)) if n > max_len as u64 => {
                    return Err(FormatError::TooLarge {
                        what: "zstd frame",
                        len: n,
                        max: max_len as u64,
                    });
                }
                Ok(Some(n)) => n as usize,
                _ => max_len,
            };
            scratch.clear();
            scratch.reserve(room);
            DECOMPRESSOR
                .with(|d| {
                    let mut d = d.borrow_mut();
                    if d.is_none() {
                        *d = Some(Decompressor::new()?);
                    }
                    match d.as_mut() {
                        Some(d) => d.decompress_to_buffer(payload, &mut *scratch),
                        None => Err(io::Error::other("no decompression context")),
                    }
                })
                .map_err(|e| FormatError::Decompress(e.to_string()))?;
            Ok(scratch.as_slice())
        }
        other => Err(FormatError::UnknownCodec(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_into_appends_behind_what_is_there() {
        let text = b"abcdefgh".repeat(1000);
        let mut rnd = vec![0u8; 3000];
        blake3::Hasher::new().finalize_xof().fill(&mut rnd);
        for data in [&text, &rnd] {
            let mut out = b"prefix".to_vec();
            encode_into(data, 3, &mut out);
            assert_eq!(&out[..6], b"prefix");
            assert_eq!(out[6..], encode(data, 3));
            assert!(out.len() - 6 <= encoded_bound(data.len()));
            assert_eq!(&decode(&out[6..], data.len()).unwrap(), data);
        }
    }

    #[test]
    fn compressible_and_incompressible() {
        let text = b"abcdefgh".repeat(1000);
        let e = encode(&text, 3);
        assert_eq!(e[0], CODEC_ZSTD);
        assert!(e.len() < 200);
        assert_eq!(decode(&e, text.len()).unwrap(), text);
        assert!(decode(&e, text.len() - 1).is_err());

        let mut rnd = vec![0u8; 100_000];
        blake3::Hasher::new().finalize_xof().fill(&mut rnd);
        let e = encode(&rnd, 3);
        assert_eq!(e[0], CODEC_RAW);
        assert_eq!(decode(&e, rnd.len()).unwrap(), rnd);
        assert_eq!(encode(&text, 0)[0], CODEC_RAW);
    }

    #[test]
    fn bad_input() {
        assert!(decode(&[], 10).is_err());
        assert!(decode(&[7, 1, 2], 10).is_err());
        assert!(decode(&[CODEC_ZSTD, 1, 2, 3], 10).is_err());
        // the thread's reused contexts still work after a failure and
        // after a level change
        let text = b"reuse the context ".repeat(100);
        for level in [3, 19, 3] {
            let e = encode(&text, level);
            assert!(decode(&e[..e.len() - 3], text.len()).is_err());
            assert_eq!(decode(&e, text.len()).unwrap(), text);
        }
    }
}
