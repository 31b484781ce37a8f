//! Sealing: compression plus XChaCha20-Poly1305 for blobs, repository files
//! and pack headers. Pure code; depends on `crypto`, `compress`, `format`.
//!
//! * A blob is `seal(data key, aad = "rdr/1/blob" ‖ type ‖ id, codec ‖ payload)`;
//!   binding type and id stops one blob being swapped for another.
//! * A file (config, index, snapshot, lock) is
//!   `version (1) ‖ seal(data key, aad = "rdr/1/<kind>", codec ‖ payload)`.
//! * A pack header is `seal(data key, "rdr/1/pack-header", plaintext) ‖ len (u32 LE)`.

use crate::compress;
use crate::crypto::aead::{self, NONCE_LEN};
use crate::crypto::hash::blob_id;
use crate::crypto::keys::MasterKey;
use crate::format::pack::{self, PackEntry};
use crate::format::{BlobType, FormatError};
use crate::id::BlobId;
use crate::kind::FileType;

/// Version byte at the start of every sealed file.
pub const FILE_VERSION: u8 = 1;
/// Largest plaintext of a sealed file (an index of ~10M blobs fits).
pub const MAX_FILE_PLAINTEXT: usize = 1 << 30;

/// The associated data a sealed file of this kind is bound to. Packs are
/// not sealed files (their blobs and header are sealed on their own); a key
/// file's sealed part is its metadata.
fn file_aad(kind: FileType) -> &'static [u8] {
    match kind {
        FileType::Config => b"rdr/1/config",
        FileType::Index => b"rdr/1/index",
        FileType::Snapshot => b"rdr/1/snapshot",
        FileType::Lock => b"rdr/1/lock",
        FileType::Record => b"rdr/1/record",
        FileType::Key => b"rdr/1/key-meta",
        FileType::Pack => b"rdr/1/pack-file",
    }
}

/// What a sealed file of this kind is called in messages.
#[must_use]
pub fn file_noun(kind: FileType) -> &'static str {
    match kind {
        FileType::Index => "index file",
        FileType::Key => "key metadata",
        other => other.name(),
    }
}

fn blob_aad(blob_type: BlobType, id: &BlobId) -> [u8; 43] {
    let mut aad = [0u8; 43];
    aad[..10].copy_from_slice(b"rdr/1/blob");
    aad[10] = blob_type.code();
    aad[11..].copy_from_slice(&id.0.0);
    aad
}

/// Seals a blob whose id the caller computed with [`blob_id`].
#[must_use]
pub fn seal_blob(
    key: &MasterKey,
    blob_type: BlobType,
    id: &BlobId,
    plaintext: &[u8],
    level: i32,
) -> Vec<u8> {
    seal_blob_with_nonce(
        key,
        blob_type,
        id,
        plaintext,
        level,
        &crate::crypto::rng::bytes(),
    )
}

/// [`seal_blob`] with a given nonce (test vectors only).
#[must_use]
pub fn seal_blob_with_nonce(
    key: &MasterKey,
    blob_type: BlobType,
    id: &BlobId,
    plaintext: &[u8],
    level: i32,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let mut out = Vec::new();
    seal_blob_into(key, blob_type, id, plaintext, level, nonce, &mut out);
    out
}

/// [`seal_blob_with_nonce`] into `out` (cleared first): compressed straight
/// behind the nonce and encrypted in place, so a caller reusing `out`
/// seals without allocating or copying the blob more than once.
pub fn seal_blob_into(
    key: &MasterKey,
    blob_type: BlobType,
    id: &BlobId,
    plaintext: &[u8],
    level: i32,
    nonce: &[u8; NONCE_LEN],
    out: &mut Vec<u8>,
) {
    out.clear();
    out.reserve(NONCE_LEN + compress::encoded_bound(plaintext.len()) + aead::TAG_LEN);
    out.extend_from_slice(nonce);
    compress::encode_into(plaintext, level, out);
    aead::seal_in_place(&key.data, &blob_aad(blob_type, id), out);
}

/// Opens a sealed blob and verifies that its plaintext hashes to `id` and
/// has `raw_length` bytes.
///
/// # Errors
/// [`FormatError::Unauthenticated`], a decompression error, a length
/// mismatch, or [`FormatError::IdMismatch`].
pub fn open_blob(
    key: &MasterKey,
    blob_type: BlobType,
    id: &BlobId,
    sealed: &[u8],
    raw_length: u32,
) -> Result<Vec<u8>, FormatError> {
    check_raw_length(blob_type, raw_length)?;
    let encoded = aead::open(&key.data, &blob_aad(blob_type, id), sealed)
        .map_err(|_| FormatError::Unauthenticated { what: "blob" })?;
    let plain = compress::decode(&encoded, raw_length as usize)?;
    check_plain(key, id, &plain, raw_length)?;
    Ok(plain)
}

/// [`open_blob`] without copies: `sealed` is decrypted where it lies, a
/// compressed payload is decompressed into `scratch` (reused between
/// calls), and the verified plaintext is returned from one or the other.
///
/// # Errors
/// As [`open_blob`].
pub fn open_blob_in<'a>(
    key: &MasterKey,
    blob_type: BlobType,
    id: &BlobId,
    sealed: &'a mut [u8],
    raw_length: u32,
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], FormatError> {
    check_raw_length(blob_type, raw_length)?;
    let encoded = aead::open_in_place(&key.data, &blob_aad(blob_type, id), sealed)
        .map_err(|_| FormatError::Unauthenticated { what: "blob" })?;
    let plain = compress::decode_in(encoded, raw_length as usize, scratch)?;
    check_plain(key, id, plain, raw_length)?;
    Ok(plain)
}

/// [`open_blob`] of the sealed blob that is `buf[start..]`, taking the
/// buffer: a blob stored raw is decrypted where it lies and returned as a
/// view of `buf` (no copy at all, whatever the offset). With `verify`
/// false the plaintext is not hashed against `id`: the AEAD, whose
/// associated data binds the id, still authenticates it (what `copy` uses
/// when it computes another id from the plaintext anyway).
///
/// # Errors
/// As [`open_blob`].
pub fn open_blob_at(
    key: &MasterKey,
    blob_type: BlobType,
    id: &BlobId,
    mut buf: Vec<u8>,
    start: usize,
    raw_length: u32,
    verify: bool,
) -> Result<bytes::Bytes, FormatError> {
    check_raw_length(blob_type, raw_length)?;
    let have = buf.len();
    let sealed = buf.get_mut(start..).ok_or(FormatError::Truncated {
        what: "blob",
        need: start,
        have,
    })?;
    let n = aead::open_in_place(&key.data, &blob_aad(blob_type, id), sealed)
        .map_err(|_| FormatError::Unauthenticated { what: "blob" })?
        .len();
    let at = start + NONCE_LEN;
    let encoded = &buf[at..at + n];
    let plain = if encoded.first() == Some(&compress::CODEC_RAW) {
        compress::decode_in(encoded, raw_length as usize, &mut Vec::new())?;
        bytes::Bytes::from(buf).slice(at + 1..at + n)
    } else {
        bytes::Bytes::from(compress::decode(encoded, raw_length as usize)?)
    };
    if verify {
        check_plain(key, id, &plain, raw_length)?;
    } else if plain.len() != raw_length as usize {
        return Err(FormatError::Invalid {
            what: "blob",
            msg: format!(
                "plaintext is {} bytes, index says {raw_length}",
                plain.len()
            ),
        });
    }
    Ok(plain)
}

/// A data blob is a chunk, and no chunk is longer than the chunker's cap
/// (docs/format.md, limits): a hostile index naming a 1 GiB blob that
/// compresses to a few KB must not make a reader allocate 1 GiB.
fn check_raw_length(blob_type: BlobType, raw_length: u32) -> Result<(), FormatError> {
    if blob_type == BlobType::Data && raw_length > crate::chunk::MAX_CHUNK_LIMIT {
        return Err(FormatError::TooLarge {
            what: "data blob",
            len: u64::from(raw_length),
            max: u64::from(crate::chunk::MAX_CHUNK_LIMIT),
        });
    }
    Ok(())
}

/// A blob's plaintext has the indexed length and hashes to its id.
fn check_plain(
    key: &MasterKey,
    id: &BlobId,
    plain: &[u8],
    raw_length: u32,
) -> Result<(), FormatError> {
    if plain.len() != raw_length as usize {
        return Err(FormatError::Invalid {
            what: "blob",
            msg: format!(
                "plaintext is {} bytes, index says {raw_length}",
                plain.len()
            ),
        });
    }
    if blob_id(&key.id, plain) != *id {
        return Err(FormatError::IdMismatch);
    }
    Ok(())
}

/// Seals a repository file.
#[must_use]
pub fn seal_file(key: &MasterKey, kind: FileType, payload: &[u8], level: i32) -> Vec<u8> {
    seal_file_with_nonce(key, kind, payload, level, &crate::crypto::rng::bytes())
}

/// [`seal_file`] with a given nonce (test vectors only).
#[must_use]
pub fn seal_file_with_nonce(
    key: &MasterKey,
    kind: FileType,
    payload: &[u8],
    level: i32,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let encoded = compress::encode(payload, level);
    let sealed = aead::seal_with_nonce(&key.data, nonce, file_aad(kind), &encoded);
    if kind == FileType::Key {
        return sealed;
    }
    let mut out = Vec::with_capacity(sealed.len() + 1);
    out.push(FILE_VERSION);
    out.extend_from_slice(&sealed);
    out
}

/// Opens a sealed repository file and returns its payload.
///
/// # Errors
/// [`FormatError`] for an unknown version, failed authentication or a bad
/// compressed payload.
pub fn open_file(key: &MasterKey, kind: FileType, bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    let sealed = if kind == FileType::Key {
        bytes
    } else {
        let (&v, rest) = bytes.split_first().ok_or(FormatError::Truncated {
            what: file_noun(kind),
            need: 1,
            have: 0,
        })?;
        if v != FILE_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: file_noun(kind),
                version: u32::from(v),
            });
        }
        rest
    };
    let encoded = aead::open(&key.data, file_aad(kind), sealed).map_err(|_| {
        FormatError::Unauthenticated {
            what: file_noun(kind),
        }
    })?;
    compress::decode(&encoded, MAX_FILE_PLAINTEXT)
}

const PACK_HEADER_AAD: &[u8] = b"rdr/1/pack-header";

/// Seals a pack header and appends the trailer: the bytes that follow the blobs.
#[must_use]
pub fn seal_pack_header(key: &MasterKey, entries: &[PackEntry]) -> Vec<u8> {
    seal_pack_header_with_nonce(key, entries, &crate::crypto::rng::bytes())
}

/// Seals a version-2 pack header for `entries` preceded by `padding`
/// bytes, followed by its 4-byte length trailer.
#[must_use]
pub fn seal_pack_header_padded(key: &MasterKey, entries: &[PackEntry], padding: u32) -> Vec<u8> {
    seal_pack_header_padded_with_nonce(key, entries, padding, &crate::crypto::rng::bytes())
}

/// [`seal_pack_header_padded`] with a given nonce (test vectors only).
#[must_use]
pub fn seal_pack_header_padded_with_nonce(
    key: &MasterKey,
    entries: &[PackEntry],
    padding: u32,
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let plain = pack::encode_header_padded(entries, padding);
    let mut out = aead::seal_with_nonce(&key.data, nonce, PACK_HEADER_AAD, &plain);
    let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// The sealed size of a version-2 header of `entries` with its trailer.
#[must_use]
pub fn padded_header_len(entries: usize) -> u64 {
    (9 + entries * pack::ENTRY_LEN + NONCE_LEN + aead::TAG_LEN + pack::TRAILER_LEN) as u64
}

/// [`seal_pack_header`] with a given nonce (test vectors only).
#[must_use]
pub fn seal_pack_header_with_nonce(
    key: &MasterKey,
    entries: &[PackEntry],
    nonce: &[u8; NONCE_LEN],
) -> Vec<u8> {
    let mut out = aead::seal_with_nonce(
        &key.data,
        nonce,
        PACK_HEADER_AAD,
        &pack::encode_header(entries),
    );
    let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// Opens a sealed pack header (without its trailer); `data_len` is the
/// number of blob bytes before it.
///
/// # Errors
/// [`FormatError`] when authentication fails or the header is malformed.
pub fn open_pack_header(
    key: &MasterKey,
    sealed: &[u8],
    data_len: u64,
) -> Result<Vec<PackEntry>, FormatError> {
    let plain = aead::open(&key.data, PACK_HEADER_AAD, sealed).map_err(|_| {
        FormatError::Unauthenticated {
            what: "pack header",
        }
    })?;
    pack::decode_header(&plain, data_len)
}

#[cfg(any(test, feature = "internals"))]
/// Parses a whole pack held in memory: trailer, header, and entries.
///
/// # Errors
/// [`FormatError`] when any part is malformed.
pub fn parse_pack(key: &MasterKey, pack_bytes: &[u8]) -> Result<Vec<PackEntry>, FormatError> {
    let size = pack_bytes.len() as u64;
    let tail = pack_bytes
        .len()
        .checked_sub(pack::TRAILER_LEN)
        .and_then(|s| pack_bytes.get(s..))
        .ok_or(FormatError::Truncated {
            what: "pack",
            need: pack::TRAILER_LEN,
            have: pack_bytes.len(),
        })?;
    let (hoff, hlen) = pack::parse_trailer(tail, size)?;
    let start = usize::try_from(hoff).map_err(|_| FormatError::TooLarge {
        what: "pack",
        len: size,
        max: usize::MAX as u64,
    })?;
    let header = pack_bytes
        .get(start..start + hlen as usize)
        .ok_or(FormatError::Truncated {
            what: "pack header",
            need: start + hlen as usize,
            have: pack_bytes.len(),
        })?;
    open_pack_header(key, header, hoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> MasterKey {
        MasterKey::from_secret([42; 32])
    }

    #[test]
    fn open_at_matches_open_and_still_authenticates() {
        let k = key();
        let raw: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let text = b"compressible ".repeat(400);
        for (data, level) in [(&raw, 0), (&text, 3), (&raw, 3)] {
            let id = blob_id(&k.id, data);
            let s = seal_blob(&k, BlobType::Data, &id, data, level);
            let n = data.len() as u32;
            for (verify, start) in [(true, 0), (false, 0), (true, 4096), (false, 17)] {
                let mut buf = vec![0xAA; start];
                buf.extend_from_slice(&s);
                let got = open_blob_at(&k, BlobType::Data, &id, buf, start, n, verify).unwrap();
                assert_eq!(&got[..], &data[..]);
            }
            let open_whole = |k, t, id, s, n, v| open_blob_at(k, t, id, s, 0, n, v);
            // a flipped byte fails the AEAD even without the hash check
            let mut bad = s.clone();
            bad[30] ^= 1;
            assert!(open_whole(&k, BlobType::Data, &id, bad, n, false).is_err());
            // so does another id, and another length
            let other = blob_id(&k.id, b"other");
            assert!(open_whole(&k, BlobType::Data, &other, s.clone(), n, false).is_err());
            assert!(open_whole(&k, BlobType::Data, &id, s.clone(), n + 1, false).is_err());
        }
    }

    #[test]
    fn blob_round_trip_and_binding() {
        let k = key();
        let data = b"hello world, hello world, hello world".repeat(10);
        let id = blob_id(&k.id, &data);
        let s = seal_blob(&k, BlobType::Data, &id, &data, 3);
        assert_eq!(
            open_blob(&k, BlobType::Data, &id, &s, data.len() as u32).unwrap(),
            data
        );
        assert!(open_blob(&k, BlobType::Tree, &id, &s, data.len() as u32).is_err());
        let other = blob_id(&k.id, b"x");
        assert!(open_blob(&k, BlobType::Data, &other, &s, data.len() as u32).is_err());
        assert!(open_blob(&k, BlobType::Data, &id, &s, 5).is_err());
        // a data blob longer than any chunk is refused before decoding
        let big = crate::chunk::MAX_CHUNK_LIMIT + 1;
        assert!(matches!(
            open_blob(&k, BlobType::Data, &id, &s, big),
            Err(FormatError::TooLarge {
                what: "data blob",
                ..
            })
        ));
    }

    #[test]
    fn sealing_into_a_reused_buffer_gives_the_same_bytes() {
        let k = key();
        let nonce = [7u8; NONCE_LEN];
        let text = b"compressible text ".repeat(500);
        let mut noise = vec![0u8; 5000];
        blake3::Hasher::new().finalize_xof().fill(&mut noise);
        // a buffer left longer and then shorter by earlier blobs
        let mut out = vec![0xEE; 20_000];
        for (data, level) in [(&text, 3), (&noise, 3), (&text, 0), (&noise, 1)] {
            let id = blob_id(&k.id, data);
            seal_blob_into(&k, BlobType::Data, &id, data, level, &nonce, &mut out);
            let fresh = seal_blob_with_nonce(&k, BlobType::Data, &id, data, level, &nonce);
            assert_eq!(out, fresh);
            let opened = open_blob(&k, BlobType::Data, &id, &out, data.len() as u32).unwrap();
            assert_eq!(&opened, data);
        }
    }

    #[test]
    fn opening_in_place_matches_opening_a_copy() {
        let k = key();
        let text = b"compressible text ".repeat(500);
        let mut noise = vec![0u8; 5000];
        blake3::Hasher::new().finalize_xof().fill(&mut noise);
        let mut scratch = vec![1, 2, 3];
        for data in [&text, &noise] {
            let id = blob_id(&k.id, data);
            let raw = data.len() as u32;
            let sealed = seal_blob(&k, BlobType::Data, &id, data, 3);
            let mut buf = sealed.clone();
            let plain = open_blob_in(&k, BlobType::Data, &id, &mut buf, raw, &mut scratch);
            assert_eq!(plain.unwrap(), &data[..]);
            // wrong type, id, length, or a flipped bit: an error, never a panic
            let other = blob_id(&k.id, b"x");
            for (t, i, len, flip) in [
                (BlobType::Tree, id, raw, false),
                (BlobType::Data, other, raw, false),
                (BlobType::Data, id, raw - 1, false),
                (BlobType::Data, id, raw, true),
            ] {
                let mut buf = sealed.clone();
                if flip {
                    buf[30] ^= 4;
                }
                assert!(open_blob_in(&k, t, &i, &mut buf, len, &mut scratch).is_err());
            }
            let mut short = sealed[..10].to_vec();
            assert!(open_blob_in(&k, BlobType::Data, &id, &mut short, raw, &mut scratch).is_err());
        }
    }

    #[test]
    fn file_round_trip() {
        let k = key();
        for kind in [FileType::Config, FileType::Index, FileType::Key] {
            let s = seal_file(&k, kind, b"payload", 3);
            assert_eq!(open_file(&k, kind, &s).unwrap(), b"payload");
        }
        let s = seal_file(&k, FileType::Config, b"payload", 3);
        assert!(open_file(&k, FileType::Index, &s).is_err());
        assert!(open_file(&MasterKey::from_secret([1; 32]), FileType::Config, &s).is_err());
    }

    #[test]
    fn pack_round_trip() {
        let k = key();
        let mut pack = Vec::new();
        let mut entries = Vec::new();
        for i in 0..3u8 {
            let data = vec![i; 1000];
            let id = blob_id(&k.id, &data);
            let s = seal_blob(&k, BlobType::Data, &id, &data, 3);
            entries.push(PackEntry {
                blob_type: BlobType::Data,
                id,
                offset: pack.len() as u32,
                length: s.len() as u32,
                raw_length: 1000,
            });
            pack.extend_from_slice(&s);
        }
        pack.extend_from_slice(&seal_pack_header(&k, &entries));
        assert_eq!(parse_pack(&k, &pack).unwrap(), entries);
        for cut in [0, 3, pack.len() / 2, pack.len() - 1] {
            assert!(parse_pack(&k, &pack[..cut]).is_err());
        }
    }
}
