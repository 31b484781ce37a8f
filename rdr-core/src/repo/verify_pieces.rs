//! Verifying a pack too large to read whole: the sizes of stored objects
//! come from the storage, and a hostile or damaged pack of 20 GB must not
//! make `check --read-data` or `repair index --read-data` allocate 20 GB.
//! A pack up to [`Repository::max_whole_pack`] (the configured pack size
//! plus one blob and a header) is read whole as before; a larger one is
//! flagged and verified in pieces of [`PIECE`] bytes: its hash over every
//! piece, its header from the trailer, and each blob once its bytes are in.
//! Memory is then one piece plus the largest blob the format allows.

use rayon::prelude::*;

use super::{Repository, VerifiedPack, blob_error};
use crate::chunk::MAX_CHUNK_LIMIT;
use crate::codec;
use crate::error::{Error, Result};
use crate::format::pack::{self, MAX_HEADER_LEN, PackEntry};
use crate::format::{BlobType, FormatError};
use crate::id::{Id, PackId};

/// Bytes of a large pack read at once.
const PIECE: u64 = 8 << 20;
/// Sealing overhead of a blob (nonce, codec byte, tag) with room to spare.
const BLOB_OVERHEAD: u64 = 64 << 10;
/// Largest sealed tree blob read (the format's limit on sealed plaintext).
const MAX_TREE_BLOB: u64 = 1 << 30;

impl Repository {
    /// The largest pack read whole: the larger target pack size, one more
    /// data blob, and the largest header.
    pub(crate) fn max_whole_pack(&self) -> u64 {
        let c = self.config();
        u64::from(c.data_pack_size.max(c.tree_pack_size))
            + u64::from(MAX_CHUNK_LIMIT)
            + BLOB_OVERHEAD
            + u64::from(MAX_HEADER_LEN)
            + pack::TRAILER_LEN as u64
    }

    /// Reads and verifies the pack `id` of `size` bytes (as
    /// [`Repository::verify_pack`]); a pack larger than
    /// [`Repository::max_whole_pack`] is verified in pieces, and the second
    /// value then says so, for the caller to flag.
    ///
    /// # Errors
    /// As [`Repository::verify_pack`], and storage errors.
    pub(crate) fn read_verify_pack(&self, id: &PackId, size: u64) -> Result<(VerifiedPack, bool)> {
        let mut fetched = self.fetch_pack(id, size, Vec::new())?;
        let bytes = fetched
            .as_mut()
            .map(|(b, at)| b.get_mut(*at..).unwrap_or_default());
        self.verify_fetched(id, size, bytes)
    }

    /// The first half of [`Self::read_verify_pack`], for a caller that
    /// reads packs on some threads and verifies them on others: the pack's
    /// bytes (a buffer and where they start in it), or `None` for a pack
    /// too large to read whole, which [`Self::verify_fetched`] then reads
    /// in pieces. The pack is read into `spare` where the storage can.
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) fn fetch_pack(
        &self,
        id: &PackId,
        size: u64,
        spare: Vec<u8>,
    ) -> Result<Option<(Vec<u8>, usize)>> {
        if size <= self.max_whole_pack() {
            let read = self.inner.backend.read_range_reusing(
                crate::backend::FileType::Pack,
                &id.to_hex(),
                0,
                size,
                spare,
            )?;
            return Ok(Some(read));
        }
        Ok(None)
    }

    /// The second half of [`Self::read_verify_pack`].
    ///
    /// # Errors
    /// As [`Self::read_verify_pack`].
    pub(crate) fn verify_fetched(
        &self,
        id: &PackId,
        size: u64,
        bytes: Option<&mut [u8]>,
    ) -> Result<(VerifiedPack, bool)> {
        match bytes {
            Some(bytes) => Ok((self.verify_pack(id, bytes)?, false)),
            None => Ok((self.verify_pack_in_pieces(id, size)?, true)),
        }
    }

    fn verify_pack_in_pieces(&self, id: &PackId, size: u64) -> Result<VerifiedPack> {
        let corrupt = |e| Error::corrupt("pack", id, e);
        let tail = size.checked_sub(pack::TRAILER_LEN as u64).ok_or_else(|| {
            corrupt(FormatError::Truncated {
                what: "pack",
                need: pack::TRAILER_LEN,
                have: usize::try_from(size).unwrap_or(usize::MAX),
            })
        })?;
        let trailer = self.read_pack_range(id, tail, pack::TRAILER_LEN as u64)?;
        let (hoff, hlen) = pack::parse_trailer(&trailer, size).map_err(corrupt)?;
        let header = self.read_pack_range(id, hoff, u64::from(hlen))?;
        let entries = codec::open_pack_header(&self.inner.key, &header, hoff).map_err(corrupt)?;
        let (valid, mut bad) = usable_entries(id, &entries, hoff);

        let mut hasher = blake3::Hasher::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut buf_start = 0u64;
        let mut next = 0;
        let mut off = 0u64;
        while off < size {
            let n = PIECE.min(size - off);
            let piece = self.read_pack_range(id, off, n)?;
            hasher.update(&piece);
            buf.extend_from_slice(&piece);
            drop(piece);
            off += n;
            let first = next;
            while next < valid.len() && valid[next].offset_end() <= off {
                next += 1;
            }
            let key = &self.inner.key;
            let opened: Vec<(PackEntry, Error)> = valid[first..next]
                .par_iter()
                .filter_map(|e| {
                    let at = usize::try_from(u64::from(e.offset) - buf_start).ok()?;
                    let sealed = buf.get(at..at + e.length as usize)?;
                    codec::open_blob(key, e.blob_type, &e.id, sealed, e.raw_length)
                        .err()
                        .map(|err| (*e, blob_error(&e.id, id, err)))
                })
                .collect();
            bad.extend(opened);
            // keep only what the next blob needs
            let keep_from = valid
                .get(next)
                .map_or(off, |e| u64::from(e.offset).min(off));
            let drop_len =
                usize::try_from(keep_from.saturating_sub(buf_start)).unwrap_or(buf.len());
            buf.drain(..drop_len.min(buf.len()));
            buf_start = keep_from.max(buf_start);
        }
        if Id(*hasher.finalize().as_bytes()) != id.0 {
            return Err(corrupt(FormatError::Invalid {
                what: "pack",
                msg: "content does not match its name (hash mismatch)".into(),
            }));
        }
        Ok((entries, bad))
    }
}

trait End {
    fn offset_end(&self) -> u64;
}

impl End for PackEntry {
    fn offset_end(&self) -> u64 {
        u64::from(self.offset) + u64::from(self.length)
    }
}

/// The entries to read, in offset order: inside the data part, not
/// overlapping, and no longer than a blob of their type can be; the others
/// are returned as damaged.
fn usable_entries(
    pack_id: &PackId,
    entries: &[PackEntry],
    data_len: u64,
) -> (Vec<PackEntry>, Vec<(PackEntry, Error)>) {
    let mut order: Vec<PackEntry> = entries.to_vec();
    order.sort_by_key(|e| e.offset);
    let mut valid = Vec::with_capacity(order.len());
    let mut bad = Vec::new();
    let mut pos = 0u64;
    for e in order {
        let limit = match e.blob_type {
            BlobType::Data => u64::from(MAX_CHUNK_LIMIT) + BLOB_OVERHEAD,
            BlobType::Tree => MAX_TREE_BLOB,
        };
        let msg = if u64::from(e.offset) < pos || e.offset_end() > data_len {
            Some("its header entry overlaps another or lies outside the pack".to_owned())
        } else if u64::from(e.length) > limit {
            Some(format!(
                "its header entry says {} bytes, more than a blob can be",
                e.length
            ))
        } else {
            None
        };
        match msg {
            Some(msg) => {
                let err = FormatError::Invalid { what: "blob", msg };
                bad.push((e, blob_error(&e.id, pack_id, err)));
            }
            None => {
                pos = e.offset_end();
                valid.push(e);
            }
        }
    }
    (valid, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::FileType;
    use crate::repo::{InitOptions, PackerOptions, test_repo};

    /// A pack verified in pieces (blobs straddling the pieces) finds what
    /// reading it whole finds, and a flipped byte is found either way.
    #[test]
    fn pieces_verify_like_the_whole() {
        let repo = test_repo(&InitOptions::default());
        let packer = repo.packer(PackerOptions::default());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..40u32 {
            let data: Vec<u8> = (0..300_000 + i * 9_000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let id = repo.blob_id(&data);
            let sealed = repo.seal_blob(BlobType::Data, &id, &data);
            packer
                .add(BlobType::Data, id, &sealed, data.len() as u32)
                .unwrap();
        }
        let packs = packer.finish().unwrap();
        let sizes = repo.pack_sizes().unwrap();
        assert!(sizes.values().any(|&s| s > PIECE), "{sizes:?}");
        for p in &packs {
            let size = sizes[&p.id];
            let (whole, pieced) = repo.read_verify_pack(&p.id, size).unwrap();
            assert!(!pieced);
            let (entries, bad) = repo.verify_pack_in_pieces(&p.id, size).unwrap();
            assert_eq!(whole.0, entries);
            assert!(bad.is_empty() && whole.1.is_empty(), "{bad:?}");
        }
        // one flipped byte inside a blob: that blob, and the pack's hash
        let p = packs.iter().max_by_key(|p| sizes[&p.id]).unwrap();
        let name = p.id.to_hex();
        let mut bytes = repo.backend().read(FileType::Pack, &name).unwrap();
        bytes[PIECE as usize + 5] ^= 1;
        repo.backend().remove(FileType::Pack, &name).unwrap();
        repo.backend()
            .write_new(FileType::Pack, &name, &bytes)
            .unwrap();
        let err = repo.verify_pack_in_pieces(&p.id, sizes[&p.id]).unwrap_err();
        assert!(err.to_string().contains("hash mismatch"), "{err}");
    }
}
