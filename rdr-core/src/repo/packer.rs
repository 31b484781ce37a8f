//! The packer: takes sealed blobs from many threads, fills packs, and
//! uploads finished packs on background threads while others fill.
//!
//! * Each blob goes to one of several open packs of its type, chosen by a
//!   keyed hash of its id, so a pack's blob sizes do not reveal a file's
//!   chunk-size sequence.
//! * Bytes of finished packs waiting for or in upload are bounded; `add`
//!   blocks while the bound is reached.
//! * Data and tree blobs never share a pack.
//! * Packs are staged ([`Backend::stage`](crate::backend::Backend::stage)):
//!   each blob is written out as it is added and the pack's hash computed
//!   as the bytes pass, so on a local repository an open pack costs a
//!   1 MiB write buffer, not its 16 MiB. The upload threads commit
//!   finished packs (fsync and publish) while others fill.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::Repository;
use crate::backend::{BackendError, FileType, Staged};
use crate::codec;
use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::index::{IndexBlob, IndexPack};
use crate::format::pack::{self, PackEntry};
use crate::id::{BlobId, Id, PackId};

/// Packer tuning.
#[derive(Debug, Clone)]
pub struct PackerOptions {
    /// Open data packs that blobs are spread across.
    pub open_data_packs: usize,
    /// Upload threads; 0 takes the repository's connections
    /// ([`crate::Storage::with_connections`]).
    pub uploaders: usize,
    /// Bound on bytes of finished packs queued or uploading.
    pub max_bytes_in_flight: u64,
}

impl Default for PackerOptions {
    fn default() -> Self {
        Self {
            open_data_packs: 2,
            uploaders: 0,
            max_bytes_in_flight: 32 << 20,
        }
    }
}

#[derive(Default)]
struct OpenPack {
    /// Created with the first blob.
    sink: Option<Box<dyn Staged>>,
    hasher: blake3::Hasher,
    len: u64,
    entries: Vec<PackEntry>,
    /// A copy of a tree pack's bytes, for the local cache.
    copy: Option<Vec<u8>>,
}

struct FinishedPack {
    id: PackId,
    sink: Box<dyn Staged>,
    len: u64,
    index: IndexPack,
    copy: Option<Vec<u8>>,
}

fn write_err(e: &std::io::Error) -> Error {
    Error::Backend(BackendError::Io {
        op: "write",
        path: "a staged pack".into(),
        message: e.to_string(),
    })
}

#[derive(Default)]
struct Shared {
    error: Mutex<Option<Error>>,
    done: Mutex<Vec<IndexPack>>,
    inflight: Mutex<u64>,
    inflight_cv: Condvar,
    stats: Mutex<PackerStats>,
}

/// Counters of a packer.
#[derive(Debug, Clone, Copy, Default)]
pub struct PackerStats {
    /// Blobs added.
    pub blobs: u64,
    /// Packs uploaded.
    pub packs: u64,
    /// Bytes of packs uploaded.
    pub bytes: u64,
}

/// Fills and uploads packs. See the module docs.
pub struct Packer {
    repo: Repository,
    opts: PackerOptions,
    data: Vec<Mutex<OpenPack>>,
    tree: Mutex<OpenPack>,
    tx: Option<Sender<FinishedPack>>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Packer {
    pub(super) fn new(repo: Repository, mut opts: PackerOptions) -> Self {
        opts.open_data_packs = opts.open_data_packs.max(1);
        if opts.uploaders == 0 {
            opts.uploaders = repo.connections();
        }
        opts.uploaders = opts.uploaders.max(1);
        // every upload thread can have a pack waiting for it
        let packs = opts.uploaders as u64 * u64::from(repo.config().data_pack_size);
        opts.max_bytes_in_flight = opts.max_bytes_in_flight.max(packs);
        let (tx, rx) = crossbeam_channel::unbounded::<FinishedPack>();
        let shared = Arc::new(Shared::default());
        let workers = (0..opts.uploaders)
            .map(|i| {
                let rx: Receiver<FinishedPack> = rx.clone();
                let shared = Arc::clone(&shared);
                let backend = Arc::clone(repo.backend());
                let repo = repo.clone();
                std::thread::Builder::new()
                    .name(format!("rdr-upload-{i}"))
                    .spawn(move || {
                        for p in rx {
                            let len = p.len;
                            let res = p.sink.commit(&*backend, &p.id.to_hex());
                            match res {
                                // Same name means same bytes: a retry after a crash.
                                Ok(()) | Err(BackendError::AlreadyExists { .. }) => {
                                    if let Some(bytes) = &p.copy {
                                        repo.cache_tree_pack(&p.id, bytes);
                                    }
                                    lock(&shared.done).push(p.index);
                                    let mut s = lock(&shared.stats);
                                    s.packs += 1;
                                    s.bytes += len;
                                }
                                Err(e) => {
                                    lock(&shared.error).get_or_insert(Error::Backend(e));
                                }
                            }
                            *lock(&shared.inflight) -= len;
                            shared.inflight_cv.notify_all();
                        }
                    })
                    .ok()
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        let data = (0..opts.open_data_packs)
            .map(|_| Mutex::new(OpenPack::default()))
            .collect();
        Self {
            repo,
            opts,
            data,
            tree: Mutex::new(OpenPack::default()),
            tx: Some(tx),
            workers,
            shared,
        }
    }

    fn check_error(&self) -> Result<()> {
        match lock(&self.shared.error).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn slot(&self, id: &BlobId) -> &Mutex<OpenPack> {
        let h = blake3::keyed_hash(self.repo.key().pack_order.expose(), &id.0.0);
        let i = usize::from(h.as_bytes()[0]) % self.data.len();
        &self.data[i]
    }

    /// Adds a sealed blob. Blocks while too many bytes are waiting for upload.
    ///
    /// # Errors
    /// The first upload error of any background upload, or
    /// [`Error::InvalidInput`] for a blob above 4 GiB.
    pub fn add(
        &self,
        blob_type: BlobType,
        id: BlobId,
        sealed: &[u8],
        raw_length: u32,
    ) -> Result<()> {
        self.check_error()?;
        let length = u32::try_from(sealed.len())
            .map_err(|_| Error::InvalidInput("blob larger than 4 GiB".into()))?;
        let (slot, target) = match blob_type {
            BlobType::Data => (self.slot(&id), self.repo.config().data_pack_size),
            BlobType::Tree => (&self.tree, self.repo.config().tree_pack_size),
        };
        let full = {
            let mut p = lock(slot);
            let offset = u32::try_from(p.len)
                .map_err(|_| Error::InvalidInput("pack beyond 4 GiB".into()))?;
            if p.sink.is_none() {
                p.sink = Some(self.repo.backend().stage(FileType::Pack)?);
                if blob_type == BlobType::Tree && self.repo.caches_trees() {
                    p.copy = Some(Vec::new());
                }
            }
            let p = &mut *p;
            if let Some(Err(e)) = p.sink.as_mut().map(|s| s.write_all(sealed)) {
                // The pack's bytes no longer match its entries: discard it
                // whole (its blobs are in no index, so nothing refers to it).
                *p = OpenPack::default();
                return Err(write_err(&e));
            }
            p.hasher.update(sealed);
            if let Some(c) = &mut p.copy {
                c.extend_from_slice(sealed);
            }
            p.len += u64::from(length);
            p.entries.push(PackEntry {
                blob_type,
                id,
                offset,
                length,
                raw_length,
            });
            if p.len >= u64::from(target) {
                Some(std::mem::take(p))
            } else {
                None
            }
        };
        lock(&self.shared.stats).blobs += 1;
        if let Some(p) = full {
            self.ship(p)?;
        }
        Ok(())
    }

    fn ship(&self, mut p: OpenPack) -> Result<()> {
        let Some(mut sink) = p.sink.take() else {
            return Ok(());
        };
        if p.entries.is_empty() {
            return Ok(());
        }
        let header = if self.repo.config().version >= 2 {
            // random bytes up to the padded size (format version 2): the
            // storage no longer learns a small backup's exact size
            let plain = p.len + codec::padded_header_len(p.entries.len());
            let padding = pack::padded_size(plain) - plain;
            let mut pad = vec![0u8; usize::try_from(padding).unwrap_or(0)];
            crate::crypto::rng::fill(&mut pad);
            sink.write_all(&pad).map_err(|e| write_err(&e))?;
            p.hasher.update(&pad);
            if let Some(c) = &mut p.copy {
                c.extend_from_slice(&pad);
            }
            p.len += padding;
            let padding = u32::try_from(padding).unwrap_or(u32::MAX);
            codec::seal_pack_header_padded(self.repo.key(), &p.entries, padding)
        } else {
            codec::seal_pack_header(self.repo.key(), &p.entries)
        };
        sink.write_all(&header).map_err(|e| write_err(&e))?;
        p.hasher.update(&header);
        if let Some(c) = &mut p.copy {
            c.extend_from_slice(&header);
        }
        let len = p.len + header.len() as u64;
        let id = PackId(Id(*p.hasher.finalize().as_bytes()));
        let index = IndexPack {
            id,
            blobs: p.entries.iter().map(IndexBlob::from).collect(),
        };
        {
            let mut inflight = lock(&self.shared.inflight);
            while *inflight > 0 && *inflight + len > self.opts.max_bytes_in_flight {
                inflight = self
                    .shared
                    .inflight_cv
                    .wait(inflight)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            *inflight += len;
        }
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| Error::InvalidInput("packer already finished".into()))?;
        tx.send(FinishedPack {
            id,
            sink,
            len,
            index,
            copy: p.copy,
        })
        .map_err(|_| Error::InvalidInput("upload threads stopped".into()))?;
        self.check_error()
    }

    /// Index entries of the packs uploaded so far (taken out of the packer),
    /// so a long backup can write index files as it goes.
    pub fn drain_uploaded(&self) -> Vec<IndexPack> {
        std::mem::take(&mut *lock(&self.shared.done))
    }

    #[cfg(any(test, feature = "internals"))]
    /// Counters so far.
    pub fn stats(&self) -> PackerStats {
        *lock(&self.shared.stats)
    }

    /// Ships the partly filled packs, waits for every upload, and returns
    /// the index entries of all packs not yet drained.
    ///
    /// # Errors
    /// The first upload error.
    pub fn finish(mut self) -> Result<Vec<IndexPack>> {
        let mut pending: Vec<OpenPack> = self
            .data
            .iter()
            .map(|m| std::mem::take(&mut *lock(m)))
            .collect();
        pending.push(std::mem::take(&mut *lock(&self.tree)));
        let mut first_err = None;
        for p in pending {
            if let Err(e) = self.ship(p) {
                first_err.get_or_insert(e);
            }
        }
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        self.check_error()?;
        Ok(self.drain_uploaded())
    }
}

impl Drop for Packer {
    fn drop(&mut self) {
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::format::index::IndexFile;
    use crate::repo::{InitOptions, LockHolder, NewKey};

    fn repo() -> Repository {
        crate::repo::test_repo(&InitOptions {
            pack_size: 1 << 20,
            compression: 0,
            ..InitOptions::default()
        })
    }

    fn blob(i: u32, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        blake3::Hasher::new()
            .update(&i.to_le_bytes())
            .finalize_xof()
            .fill(&mut v);
        v
    }

    #[test]
    fn many_threads_types_apart_everything_readable() {
        let r = repo();
        let packer = r.packer(PackerOptions {
            open_data_packs: 3,
            uploaders: 2,
            max_bytes_in_flight: 2 << 20,
        });
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let (packer, r) = (&packer, &r);
                s.spawn(move || {
                    for i in 0..60u32 {
                        let n = t * 1000 + i;
                        let (bt, data) = if i % 10 == 0 {
                            (BlobType::Tree, blob(n, 3000))
                        } else {
                            (BlobType::Data, blob(n, 20_000 + (n as usize * 37) % 50_000))
                        };
                        let id = r.blob_id(&data);
                        packer
                            .add(bt, id, &r.seal_blob(bt, &id, &data), data.len() as u32)
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(packer.stats().blobs, 240);
        let packs = packer.finish().unwrap();
        assert!(packs.len() >= 4, "{} packs", packs.len());
        let mut index = IndexFile::new();
        index.packs = packs.clone();
        r.save_index(&index).unwrap();
        let r = Repository::open(
            &crate::backend::Storage::from_backend(Arc::clone(r.backend())),
            &crate::repo::Credential::Passphrase("pw"),
        )
        .unwrap();
        let mut seen = 0;
        for p in &packs {
            let header = r.load_pack_header(&p.id).unwrap();
            let types: HashSet<BlobType> = header.iter().map(|e| e.blob_type).collect();
            assert_eq!(types.len(), 1, "pack {} mixes data and tree blobs", p.id);
            for e in header {
                let data = r.load_blob(e.blob_type, &e.id).unwrap();
                assert_eq!(data.len() as u32, e.raw_length);
                seen += 1;
            }
        }
        assert_eq!(seen, 240);
    }

    #[test]
    fn one_files_chunks_are_spread_over_packs() {
        let r = repo();
        let packer = r.packer(PackerOptions {
            open_data_packs: 4,
            ..PackerOptions::default()
        });
        for i in 0..40 {
            let data = blob(i, 10_000);
            let id = r.blob_id(&data);
            packer
                .add(
                    BlobType::Data,
                    id,
                    &r.seal_blob(BlobType::Data, &id, &data),
                    10_000,
                )
                .unwrap();
        }
        let packs = packer.finish().unwrap();
        assert!(
            packs.len() >= 3,
            "40 chunks of one file should land in several packs, got {}",
            packs.len()
        );
    }

    #[test]
    fn upload_error_is_reported() {
        struct Failing;
        impl crate::backend::Backend for Failing {
            fn location(&self) -> String {
                "failing".into()
            }
            fn create_layout(&self) -> crate::backend::BackendResult<()> {
                Ok(())
            }
            fn list(&self, _: FileType) -> crate::backend::BackendResult<Vec<String>> {
                Ok(vec![])
            }
            fn stat(&self, _: FileType, n: &str) -> crate::backend::BackendResult<u64> {
                Err(BackendError::NotFound { path: n.into() })
            }
            fn read(&self, _: FileType, n: &str) -> crate::backend::BackendResult<Vec<u8>> {
                Err(BackendError::NotFound { path: n.into() })
            }
            fn read_range(
                &self,
                _: FileType,
                n: &str,
                _: u64,
                _: u64,
            ) -> crate::backend::BackendResult<Vec<u8>> {
                Err(BackendError::NotFound { path: n.into() })
            }
            fn write_new(
                &self,
                ft: FileType,
                n: &str,
                _: &[u8],
            ) -> crate::backend::BackendResult<()> {
                if ft == FileType::Pack {
                    Err(BackendError::Io {
                        op: "write",
                        path: n.into(),
                        message: "disk full".into(),
                    })
                } else {
                    Ok(())
                }
            }
            fn remove(&self, _: FileType, _: &str) -> crate::backend::BackendResult<()> {
                Ok(())
            }
        }
        let key = NewKey::Passphrase {
            passphrase: "pw".to_owned().into(),
            log_n: 10,
        };
        let r = Repository::init(
            &crate::backend::Storage::from_backend(Arc::new(Failing)),
            &InitOptions::default(),
            &key,
            &LockHolder::current(),
        )
        .unwrap();
        let p = r.packer(PackerOptions::default());
        let data = blob(1, 1000);
        let id = r.blob_id(&data);
        p.add(
            BlobType::Data,
            id,
            &r.seal_blob(BlobType::Data, &id, &data),
            1000,
        )
        .unwrap();
        let err = p.finish().unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
