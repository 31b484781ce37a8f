//! zstd compression of blob and file payloads, with an explicit bound on the
//! decompressed size so a hostile blob cannot exhaust memory.
//!
//! Encoded form: `codec (1) ‖ payload`, codec 0 = stored raw, 1 = zstd frame.
//! Pure code; depends on `format` (for its error type) only.

use crate::format::FormatError;

/// Codec byte: payload stored as is.
pub const CODEC_RAW: u8 = 0;
/// Codec byte: payload is one zstd frame.
pub const CODEC_ZSTD: u8 = 1;

/// Encodes `data`: zstd at `level` when that shrinks it, raw otherwise
/// (and always raw for `level == 0`).
#[must_use]
pub fn encode(data: &[u8], level: i32) -> Vec<u8> {
    if level != 0 && data.len() >= 64 {
        // Cheap test on a sample first: incompressible data (the common case
        // for media and encrypted inputs) skips the full compression pass.
        let sample = &data[..data.len().min(16 << 10)];
        let worth_it = match zstd::bulk::compress(sample, 1) {
            Ok(c) => c.len() < sample.len() - sample.len() / 32,
            Err(_) => false,
        };
        if worth_it
            && let Ok(c) = zstd::bulk::compress(data, level)
            && c.len() < data.len()
        {
            let mut out = Vec::with_capacity(c.len() + 1);
            out.push(CODEC_ZSTD);
            out.extend_from_slice(&c);
            return out;
        }
    }
    let mut out = Vec::with_capacity(data.len() + 1);
    out.push(CODEC_RAW);
    out.extend_from_slice(data);
    out
}

/// Decodes what [`encode`] produced; fails if the result would exceed `max_len`.
///
/// # Errors
/// [`FormatError`] on an empty input, an unknown codec byte, a corrupt zstd
/// frame or an output above `max_len`.
pub fn decode(encoded: &[u8], max_len: usize) -> Result<Vec<u8>, FormatError> {
    let (&codec, payload) = encoded.split_first().ok_or(FormatError::Truncated {
        what: "compressed payload",
        need: 1,
        have: 0,
    })?;
    match codec {
        CODEC_RAW => {
            if payload.len() > max_len {
                return Err(FormatError::TooLarge {
                    what: "payload",
                    len: payload.len() as u64,
                    max: max_len as u64,
                });
            }
            Ok(payload.to_vec())
        }
        CODEC_ZSTD => {
            if let Ok(Some(n)) = zstd::zstd_safe::get_frame_content_size(payload)
                && n > max_len as u64
            {
                return Err(FormatError::TooLarge {
                    what: "zstd frame",
                    len: n,
                    max: max_len as u64,
                });
            }
            zstd::bulk::decompress(payload, max_len)
                .map_err(|e| FormatError::Decompress(e.to_string()))
        }
        other => Err(FormatError::UnknownCodec(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
