//! Verifying a whole pack read from storage (`check --read-data`,
//! `repair index --read-data`): its hash, its header, and every blob opened
//! in place in the pack buffer, in parallel.

use rayon::prelude::*;

use super::{Repository, VerifiedPack, blob_error};
use crate::codec;
use crate::error::{Error, Result};
use crate::format::FormatError;
use crate::format::pack::{self, PackEntry};
use crate::id::{Id, PackId};

impl Repository {
    /// Verifies a whole pack read from storage: its bytes hash to its name,
    /// its header opens, and every blob opens and matches its id. Returns
    /// the header entries and, per damaged blob, its entry and the error.
    ///
    /// The blobs are decrypted in place: `bytes` no longer holds the pack
    /// when this returns.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the pack when its name or header is wrong.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn verify_pack(&self, id: &PackId, bytes: &mut [u8]) -> Result<VerifiedPack> {
        let corrupt = |e| Error::corrupt("pack", id, e);
        if Id::hash_of(bytes) != id.0 {
            return Err(corrupt(FormatError::Invalid {
                what: "pack",
                msg: "content does not match its name (hash mismatch)".into(),
            }));
        }
        let size = bytes.len() as u64;
        let tail = bytes.len().checked_sub(pack::TRAILER_LEN).ok_or_else(|| {
            corrupt(FormatError::Truncated {
                what: "pack",
                need: pack::TRAILER_LEN,
                have: bytes.len(),
            })
        })?;
        let (hoff, hlen) = pack::parse_trailer(&bytes[tail..], size).map_err(corrupt)?;
        let header = usize::try_from(hoff)
            .ok()
            .and_then(|h| bytes.get(h..h + hlen as usize))
            .ok_or_else(|| {
                corrupt(FormatError::Invalid {
                    what: "pack",
                    msg: "header out of range".into(),
                })
            })?;
        let entries = codec::open_pack_header(&self.inner.key, header, hoff).map_err(corrupt)?;
        let (blobs, mut bad) = split_blobs(id, &entries, bytes);
        let key = &self.inner.key;
        let opened: Vec<(PackEntry, Error)> = blobs
            .into_par_iter()
            .map_init(Vec::new, |scratch, (e, sealed)| {
                codec::open_blob_in(key, e.blob_type, &e.id, sealed, e.raw_length, scratch)
                    .err()
                    .map(|err| (*e, blob_error(&e.id, id, err)))
            })
            .flatten()
            .collect();
        bad.extend(opened);
        Ok((entries, bad))
    }
}

/// A header entry and its sealed bytes in the pack buffer.
type SealedIn<'e, 'p> = (&'e PackEntry, &'p mut [u8]);

/// The sealed bytes of each header entry, as disjoint slices of `pack`;
/// entries that lie outside the pack or overlap an earlier one are
/// returned as damaged instead.
fn split_blobs<'p, 'e>(
    pack_id: &PackId,
    entries: &'e [PackEntry],
    pack: &'p mut [u8],
) -> (Vec<SealedIn<'e, 'p>>, Vec<(PackEntry, Error)>) {
    let mut order: Vec<&PackEntry> = entries.iter().collect();
    order.sort_by_key(|e| e.offset);
    let mut blobs = Vec::with_capacity(order.len());
    let mut bad = Vec::new();
    let mut rest = pack;
    let mut pos = 0usize; // offset of rest[0] in the pack
    for e in order {
        let start = e.offset as usize;
        let len = e.length as usize;
        if start < pos || start - pos + len > rest.len() {
            let msg = "its header entry overlaps another or lies outside the pack".into();
            let err = FormatError::Invalid { what: "blob", msg };
            bad.push((*e, blob_error(&e.id, pack_id, err)));
            continue;
        }
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(start - pos);
        let (sealed, tail) = tail.split_at_mut(len);
        blobs.push((e, sealed));
        rest = tail;
        pos = start + len;
    }
    (blobs, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::BlobType;
    use crate::id::BlobId;

    #[test]
    fn split_blobs_reports_entries_it_cannot_cut() {
        let entry = |n: u8, offset, length| PackEntry {
            blob_type: BlobType::Data,
            id: BlobId(Id([n; 32])),
            offset,
            length,
            raw_length: 1,
        };
        // listed out of order; 3 overlaps 1, 4 runs past the end
        let entries = [
            entry(2, 10, 5),
            entry(1, 0, 10),
            entry(3, 8, 4),
            entry(4, 15, 9),
        ];
        let mut pack: Vec<u8> = (0..20).collect();
        let (blobs, bad) = split_blobs(&PackId(Id([9; 32])), &entries, &mut pack);
        let cut: Vec<(u8, Vec<u8>)> = blobs
            .iter()
            .map(|(e, b)| (e.id.0.0[0], b.to_vec()))
            .collect();
        assert_eq!(cut, vec![(1, (0..10).collect()), (2, (10..15).collect())]);
        let names: Vec<u8> = bad.iter().map(|(e, _)| e.id.0.0[0]).collect();
        assert_eq!(names, vec![3, 4]);
        assert!(bad[0].1.to_string().contains("overlaps"), "{}", bad[0].1);
    }
}
