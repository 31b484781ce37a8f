//! Pack files: `blob₁ ‖ … ‖ blobₙ ‖ padding ‖ sealed header ‖ header length
//! (u32 LE)`.
//!
//! Blobs are stored back to back from offset 0, so an entry's offset is the
//! sum of the lengths before it. The header plaintext is
//! `version (1) ‖ count (u32 LE) ‖ count × entry`, then in version 2 the
//! padding's length `(u32 LE)`; an entry is
//! `type (1) ‖ blob id (32) ‖ sealed length (u32 LE) ‖ raw length (u32 LE)`.
//! Version 1 has no padding. Sealing the header is the codec's job; this
//! module only lays out bytes and chooses the padded size ([`padded_size`]).

use super::{BlobType, FormatError, le_u32};
use crate::id::{BlobId, Id};

/// Header plaintext version without padding (format version 1).
pub const HEADER_VERSION: u8 = 1;
/// Header plaintext version with padding (format version 2).
pub const HEADER_VERSION_PADDED: u8 = 2;
/// Packs are padded to at least this size.
pub const MIN_PADDED_SIZE: u64 = 4096;

/// The size a pack of `len` bytes is padded to: Padmé (Nikitin et al.,
/// "Reducing Metadata Leakage from Encrypted Files and Communication with
/// PURBs", 2019), at least [`MIN_PADDED_SIZE`]. A size of 2^E bytes is
/// rounded up to a multiple of 2^(E − ⌊log2 E⌋ − 1): at most 12 % more
/// (3 % for a 16 MiB pack), and the storage learns about log2(E) bits of a
/// pack's size instead of all of them.
#[must_use]
pub fn padded_size(len: u64) -> u64 {
    if len <= MIN_PADDED_SIZE {
        return MIN_PADDED_SIZE;
    }
    let e = 63 - u64::from(len.leading_zeros()); // floor(log2 len)
    let s = 64 - u64::from(e.leading_zeros()); // floor(log2 e) + 1
    let mask = (1u64 << (e - s)) - 1;
    (len + mask) & !mask
}
/// Bytes per header entry.
pub const ENTRY_LEN: usize = 1 + 32 + 4 + 4;
/// Bytes of the trailer (the sealed header's length).
pub const TRAILER_LEN: usize = 4;
/// Upper bound on a sealed header (enough for 400k entries).
pub const MAX_HEADER_LEN: u32 = 16 << 20;

/// One blob in a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackEntry {
    /// Data or tree.
    pub blob_type: BlobType,
    /// The blob's id.
    pub id: BlobId,
    /// Offset of the sealed blob in the pack.
    pub offset: u32,
    /// Length of the sealed blob.
    pub length: u32,
    /// Length of the plaintext.
    pub raw_length: u32,
}

/// Encodes the version-1 header plaintext for `entries` (offsets are
/// implied by order; no padding).
#[must_use]
pub fn encode_header(entries: &[PackEntry]) -> Vec<u8> {
    encode(HEADER_VERSION, entries)
}

/// Encodes the version-2 header plaintext: `entries`, then `padding`, the
/// bytes between the last blob and the sealed header.
#[must_use]
pub fn encode_header_padded(entries: &[PackEntry], padding: u32) -> Vec<u8> {
    let mut out = encode(HEADER_VERSION_PADDED, entries);
    out.extend_from_slice(&padding.to_le_bytes());
    out
}

fn encode(version: u8, entries: &[PackEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + entries.len() * ENTRY_LEN);
    out.push(version);
    out.extend_from_slice(
        &u32::try_from(entries.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for e in entries {
        out.push(e.blob_type.code());
        out.extend_from_slice(&e.id.0.0);
        out.extend_from_slice(&e.length.to_le_bytes());
        out.extend_from_slice(&e.raw_length.to_le_bytes());
    }
    out
}

/// Decodes a header plaintext; `data_len` is the number of bytes before the
/// sealed header, which the blob lengths must add up to exactly.
///
/// # Errors
/// [`FormatError`] for a bad version, truncation, trailing bytes, an unknown
/// blob type, or blob lengths that do not tile the data region.
pub fn decode_header(plain: &[u8], data_len: u64) -> Result<Vec<PackEntry>, FormatError> {
    const WHAT: &str = "pack header";
    let (&version, rest) = plain.split_first().ok_or(FormatError::Truncated {
        what: WHAT,
        need: 5,
        have: 0,
    })?;
    let tail = match version {
        HEADER_VERSION => 0,
        HEADER_VERSION_PADDED => 4,
        _ => {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT,
                version: u32::from(version),
            });
        }
    };
    let count = le_u32(WHAT, rest, 0)? as usize;
    let body = rest.get(4..).unwrap_or_default();
    let need = count
        .checked_mul(ENTRY_LEN)
        .and_then(|n| n.checked_add(tail))
        .ok_or(FormatError::Invalid {
            what: WHAT,
            msg: "entry count overflows".into(),
        })?;
    if body.len() < need {
        return Err(FormatError::Truncated {
            what: WHAT,
            need: need + 5,
            have: plain.len(),
        });
    }
    if body.len() > need {
        return Err(FormatError::Trailing {
            what: WHAT,
            extra: body.len() - need,
        });
    }
    let (entries, padding) = body.split_at(need - tail);
    let padding = if tail == 0 {
        0
    } else {
        u64::from(le_u32(WHAT, padding, 0)?)
    };
    let mut out = Vec::with_capacity(count);
    let mut offset: u64 = 0;
    for e in entries.chunks_exact(ENTRY_LEN) {
        let blob_type = BlobType::from_code(e[0])?;
        let id = BlobId(Id::from_slice(&e[1..33]).ok_or(FormatError::Truncated {
            what: WHAT,
            need: 33,
            have: e.len(),
        })?);
        let length = le_u32(WHAT, e, 33)?;
        let raw_length = le_u32(WHAT, e, 37)?;
        let off32 = u32::try_from(offset).map_err(|_| FormatError::Invalid {
            what: WHAT,
            msg: "blob offset beyond 4 GiB".into(),
        })?;
        out.push(PackEntry {
            blob_type,
            id,
            offset: off32,
            length,
            raw_length,
        });
        offset += u64::from(length);
    }
    if offset + padding != data_len {
        return Err(FormatError::Invalid {
            what: WHAT,
            msg: format!(
                "blob lengths and padding add up to {} bytes but the pack holds {data_len} bytes \
                 before its header",
                offset + padding
            ),
        });
    }
    Ok(out)
}

/// Reads the trailer: the length of the sealed header, checked against the
/// pack size. Returns `(header_offset, header_len)`.
///
/// # Errors
/// [`FormatError`] when the pack is too short or the length is impossible.
pub fn parse_trailer(trailer: &[u8], pack_size: u64) -> Result<(u64, u32), FormatError> {
    const WHAT: &str = "pack trailer";
    if trailer.len() != TRAILER_LEN || pack_size < TRAILER_LEN as u64 {
        return Err(FormatError::Truncated {
            what: WHAT,
            need: TRAILER_LEN,
            have: trailer.len().min(pack_size as usize),
        });
    }
    let len = le_u32(WHAT, trailer, 0)?;
    if len > MAX_HEADER_LEN {
        return Err(FormatError::TooLarge {
            what: "pack header",
            len: u64::from(len),
            max: u64::from(MAX_HEADER_LEN),
        });
    }
    let total = u64::from(len) + TRAILER_LEN as u64;
    if total > pack_size {
        return Err(FormatError::Invalid {
            what: WHAT,
            msg: format!("header length {len} exceeds pack size {pack_size}"),
        });
    }
    Ok((pack_size - total, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<PackEntry> {
        vec![
            PackEntry {
                blob_type: BlobType::Data,
                id: BlobId(Id([1; 32])),
                offset: 0,
                length: 100,
                raw_length: 59,
            },
            PackEntry {
                blob_type: BlobType::Tree,
                id: BlobId(Id([2; 32])),
                offset: 100,
                length: 50,
                raw_length: 70,
            },
        ]
    }

    #[test]
    fn round_trip() {
        let h = encode_header(&entries());
        assert_eq!(h.len(), 5 + 2 * ENTRY_LEN);
        assert_eq!(decode_header(&h, 150).unwrap(), entries());
        assert!(decode_header(&h, 151).is_err());
        assert!(decode_header(&h[..h.len() - 1], 150).is_err());
        let mut longer = h.clone();
        longer.push(0);
        assert!(decode_header(&longer, 150).is_err());
    }

    #[test]
    fn padded_round_trip() {
        let h = encode_header_padded(&entries(), 1000);
        assert_eq!(h.len(), 9 + 2 * ENTRY_LEN);
        assert_eq!(h[0], HEADER_VERSION_PADDED);
        assert_eq!(decode_header(&h, 1150).unwrap(), entries());
        assert!(decode_header(&h, 150).is_err());
        assert!(decode_header(&h, 1151).is_err());
        assert!(decode_header(&h[..h.len() - 1], 1150).is_err());
        let mut bad = h.clone();
        bad[0] = 3;
        assert!(matches!(
            decode_header(&bad, 1150),
            Err(FormatError::UnsupportedVersion { version: 3, .. })
        ));
    }

    #[test]
    fn padme_sizes() {
        assert_eq!(padded_size(0), MIN_PADDED_SIZE);
        assert_eq!(padded_size(4097), 4352); // E=12, S=4: multiples of 256
        assert_eq!(padded_size(100_000), 100_352); // E=16, S=5: of 2 KiB
        let mib16 = 16 << 20;
        assert_eq!(padded_size(mib16 + 1), mib16 + (512 << 10)); // of 512 KiB
        for len in [
            4097u64,
            65_537,
            1 << 20,
            3_000_001,
            16 << 20,
            (512 << 20) + 7,
        ] {
            let p = padded_size(len);
            assert!(p >= len && p - len <= len / 8, "{len} -> {p}");
            assert_eq!(padded_size(p), p, "padded sizes are fixed points");
        }
    }

    #[test]
    fn trailer() {
        assert_eq!(parse_trailer(&10u32.to_le_bytes(), 100).unwrap(), (86, 10));
        assert!(parse_trailer(&200u32.to_le_bytes(), 100).is_err());
        assert!(parse_trailer(&[1, 2], 100).is_err());
    }
}
