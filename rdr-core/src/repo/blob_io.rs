//! Reading packs and blobs: a pack's header, ranged reads, and blobs
//! opened and verified against their ids (through the index, or at a
//! known location).

use super::{BlobLocation, Repository, blob_error};
use crate::backend::FileType;
use crate::codec;
use crate::error::{Error, Result};
use crate::format::pack::{self, PackEntry};
use crate::format::{BlobType, FormatError};
use crate::id::{BlobId, PackId};

impl Repository {
    /// Reads a pack's header with two ranged reads (after a size lookup).
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the pack, or storage errors.
    pub fn load_pack_header(&self, id: &PackId) -> Result<Vec<PackEntry>> {
        let size = self.inner.backend.stat(FileType::Pack, &id.to_hex())?;
        self.load_pack_header_sized(id, size)
    }

    /// [`Self::load_pack_header`] of a pack whose size is known (from
    /// [`Self::pack_sizes`]): no size lookup, which on object storage is
    /// one request per pack.
    ///
    /// # Errors
    /// As [`Self::load_pack_header`].
    pub(crate) fn load_pack_header_sized(&self, id: &PackId, size: u64) -> Result<Vec<PackEntry>> {
        let name = id.to_hex();
        let b = &self.inner.backend;
        let corrupt = |e| Error::corrupt("pack", id, e);
        if size < pack::TRAILER_LEN as u64 {
            return Err(corrupt(FormatError::Truncated {
                what: "pack",
                need: pack::TRAILER_LEN,
                have: size as usize,
            }));
        }
        let trailer = b.read_range(
            FileType::Pack,
            &name,
            size - pack::TRAILER_LEN as u64,
            pack::TRAILER_LEN as u64,
        )?;
        let (hoff, hlen) = pack::parse_trailer(&trailer, size).map_err(corrupt)?;
        let header = b.read_range(FileType::Pack, &name, hoff, u64::from(hlen))?;
        codec::open_pack_header(&self.inner.key, &header, hoff).map_err(corrupt)
    }

    /// Loads a blob through the index and verifies it against its id.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no index lists it, [`Error::Corrupt`] when it
    /// fails to open or verify.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn load_blob(&self, blob_type: BlobType, id: &BlobId) -> Result<Vec<u8>> {
        let index = self.index()?;
        let loc = index
            .lookup(id)
            .filter(|l| l.blob_type == blob_type)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{} blob {id} is not in the index",
                    blob_type.name()
                ))
            })?;
        self.load_blob_at(id, &loc)
    }

    /// Loads a blob from a known location.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the blob and its pack, or storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn load_blob_at(&self, id: &BlobId, loc: &BlobLocation) -> Result<Vec<u8>> {
        if let Some(c) = self.cache().filter(|_| loc.blob_type == BlobType::Tree) {
            return self.load_tree_blob_cached(c, id, loc);
        }
        let sealed = self.read_sealed(loc)?;
        codec::open_blob(&self.inner.key, loc.blob_type, id, &sealed, loc.raw_length)
            .map_err(|e| Error::corrupt("blob", format!("{id} (in pack {})", loc.pack.short()), e))
    }

    /// A data blob's plaintext for `copy`: no cache, no copy of a raw
    /// payload, and (`verify` false) no hash against the id, which the AEAD
    /// binds anyway.
    ///
    /// # Errors
    /// As [`Self::read_blob`].
    pub(crate) fn read_blob_owned(&self, id: &BlobId, verify: bool) -> Result<bytes::Bytes> {
        let loc = self
            .index()?
            .lookup(id)
            .ok_or_else(|| Error::NotFound(format!("blob {id} is not in the index")))?;
        let (buf, start) = self.inner.backend.read_range_at(
            FileType::Pack,
            &loc.pack.to_hex(),
            u64::from(loc.offset),
            u64::from(loc.length),
        )?;
        codec::open_blob_at(
            &self.inner.key,
            loc.blob_type,
            id,
            buf,
            start,
            loc.raw_length,
            verify,
        )
        .map_err(|e| Error::corrupt("blob", format!("{id} (in pack {})", loc.pack.short()), e))
    }

    /// A blob's sealed bytes.
    fn read_sealed(&self, loc: &BlobLocation) -> Result<Vec<u8>> {
        Ok(self.inner.backend.read_range(
            FileType::Pack,
            &loc.pack.to_hex(),
            u64::from(loc.offset),
            u64::from(loc.length),
        )?)
    }

    /// [`Self::read_pack_range`] without moving the range to the front of
    /// its buffer: the buffer and where the range starts in it.
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) fn read_pack_range_at(
        &self,
        pack: &PackId,
        offset: u64,
        length: u64,
    ) -> Result<(Vec<u8>, usize)> {
        Ok(self
            .inner
            .backend
            .read_range_at(FileType::Pack, &pack.to_hex(), offset, length)?)
    }

    /// Reads a byte range of a pack (several blobs at once).
    ///
    /// # Errors
    /// Storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn read_pack_range(
        &self,
        pack: &PackId,
        offset: u64,
        length: u64,
    ) -> Result<Vec<u8>> {
        Ok(self
            .inner
            .backend
            .read_range(FileType::Pack, &pack.to_hex(), offset, length)?)
    }

    /// Opens a sealed blob read at `loc` and verifies it against its id.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the blob and its pack.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn open_blob(
        &self,
        id: &BlobId,
        loc: &BlobLocation,
        sealed: &[u8],
    ) -> Result<Vec<u8>> {
        codec::open_blob(&self.inner.key, loc.blob_type, id, sealed, loc.raw_length)
            .map_err(|e| blob_error(id, &loc.pack, e))
    }

    /// [`Self::open_blob`] without copies: `sealed` is decrypted where it
    /// lies and the plaintext returned from it, or from `scratch` (reused
    /// between calls) when it was compressed.
    ///
    /// # Errors
    /// As [`Self::open_blob`].
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn open_blob_in<'a>(
        &self,
        id: &BlobId,
        loc: &BlobLocation,
        sealed: &'a mut [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let key = &self.inner.key;
        codec::open_blob_in(key, loc.blob_type, id, sealed, loc.raw_length, scratch)
            .map_err(|e| blob_error(id, &loc.pack, e))
    }
}
