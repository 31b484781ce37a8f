//! Index files in storage: saving and loading them, building the cached
//! master index from them, and writing a compacted set
//! ([`IndexWriter`], used by prune and repair).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;

use super::Repository;
use super::index::{IndexLoader, IndexPart, MasterIndex};
use crate::backend::{BackendError, FileType};
use crate::error::{Error, Result};
use crate::format::index::{IndexBlob, IndexFile, IndexPack, ObsoletePack};
use crate::id::{Id, IndexId, PackId};

/// Index entries per index file that prune and repair write (a file of
/// this size is about 11 MB; large enough to keep the file count low,
/// small enough that loading holds little per thread).
pub const INDEX_FILE_BLOBS: usize = 250_000;

/// The master index as [`Repository::load_index`] built it.
pub(crate) struct LoadedIndex {
    /// The index.
    pub index: MasterIndex,
    /// Index files listed (merged, superseded and damaged ones).
    pub files: usize,
    /// Damaged index files (left out), when loading kept going.
    pub errors: Vec<Error>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Repository {
    /// Stores an index file.
    ///
    /// # Errors
    /// Storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn save_index(&self, index: &IndexFile) -> Result<IndexId> {
        let id = self
            .save_file(FileType::Index, &index.encode())
            .map(IndexId)?;
        *self
            .inner
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        Ok(id)
    }

    /// Loads and decodes one index file.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the file, or storage errors.
    pub fn load_index_file(&self, id: &IndexId) -> Result<IndexFile> {
        let plain = self.load_file(FileType::Index, &id.0)?;
        IndexFile::decode(&plain).map_err(|e| Error::corrupt("index file", id, e))
    }

    /// The master index of every index file, loaded in parallel, each file
    /// reduced and merged as soon as it is decoded (a large repository
    /// never holds every decoded or reduced file at once). With
    /// `keep_going`, a damaged file is reported and left out, so `check`
    /// can go on past it; otherwise its error is returned.
    ///
    /// A file that vanishes between listing and reading was removed by a
    /// prune, which writes the index superseding it first: the listing is
    /// then taken again, so a backup never fails because a prune ran
    /// beside it. A file superseded by another (a prune killed before it
    /// deleted it) is left out; when that is found only after it was
    /// merged, the index is built again without it.
    pub(crate) fn load_index(&self, keep_going: bool) -> Result<LoadedIndex> {
        self.load_index_with(keep_going, &[])
    }

    /// [`Repository::load_index`], with `extra` packs (read from their
    /// headers) added to the index.
    fn load_index_with(&self, keep_going: bool, extra: &[IndexPack]) -> Result<LoadedIndex> {
        let mut skip: HashSet<IndexId> = HashSet::new();
        for _ in 0..10 {
            let listed: Vec<IndexId> = self
                .list_ids(FileType::Index)?
                .into_iter()
                .map(IndexId)
                .collect();
            let loader = Mutex::new(IndexLoader::default());
            let errors = Mutex::new(Vec::new());
            let vanished = AtomicBool::new(false);
            listed
                .par_iter()
                .filter(|id| !skip.contains(id))
                .try_for_each(|id| -> Result<()> {
                    match self.load_index_file(id) {
                        Ok(f) => {
                            let part = IndexPart::new(*id, &f);
                            drop(f);
                            lock(&loader).merge(part);
                        }
                        Err(Error::Backend(BackendError::NotFound { .. })) => {
                            vanished.store(true, Ordering::Relaxed);
                        }
                        Err(e) if keep_going => lock(&errors).push(e),
                        Err(e) => return Err(e),
                    }
                    Ok(())
                })?;
            let mut loader = loader.into_inner().unwrap_or_else(PoisonError::into_inner);
            loader.add_packs(extra);
            if vanished.load(Ordering::Relaxed) || loader.has_stale() {
                skip.extend(loader.superseded().iter().copied());
                continue;
            }
            let skipped: Vec<IndexId> = listed
                .iter()
                .filter(|id| skip.contains(id))
                .copied()
                .collect();
            return Ok(LoadedIndex {
                files: listed.len(),
                index: loader.finish(skipped),
                errors: errors.into_inner().unwrap_or_else(PoisonError::into_inner),
            });
        }
        Err(Error::InvalidInput(
            "index files keep disappearing while they are read (is a prune running \
             without its lock?)"
                .into(),
        ))
    }

    /// Every pack in storage and its size in bytes.
    ///
    /// # Errors
    /// Storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn pack_sizes(&self) -> Result<HashMap<PackId, u64>> {
        // the listing's sizes where it gives them (one request per
        // thousand packs on object storage), a stat for the others
        let listed: Vec<(Id, Option<u64>)> = self
            .inner
            .backend
            .list_sizes(FileType::Pack)?
            .into_iter()
            .filter_map(|(n, size)| Some((n.parse().ok()?, size)))
            .collect();
        listed
            .par_iter()
            .map(|&(id, size)| {
                let size = match size {
                    Some(s) => s,
                    None => self.inner.backend.stat(FileType::Pack, &id.to_hex())?,
                };
                Ok((PackId(id), size))
            })
            .collect()
    }

    /// The master index as storage holds it now (the cache is refreshed).
    ///
    /// # Errors
    /// As [`Repository::index`].
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn reload_index(&self) -> Result<Arc<MasterIndex>> {
        *self
            .inner
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.index()
    }

    /// The master index of all index files, loaded on first use.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming a damaged index file, or storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn index(&self) -> Result<Arc<MasterIndex>> {
        if let Some(i) = &*self
            .inner
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Ok(Arc::clone(i));
        }
        let index = self.install_index(self.load_index(false)?.index);
        self.retain_cached_packs(index.packs());
        Ok(index)
    }

    /// The master index for reading (restore, dump) when index files are
    /// damaged: each damaged file is left out, and every pack that no
    /// readable index file lists is read from its own header. Returns the
    /// index (cached) and a warning per damaged index file and unreadable
    /// pack header; with no damage, the same as [`Repository::index`].
    /// Maintenance keeps refusing a damaged index until `repair index`.
    ///
    /// # Errors
    /// Storage errors.
    pub(crate) fn index_for_reading(&self) -> Result<(Arc<MasterIndex>, Vec<String>)> {
        if let Some(i) = &*self
            .inner
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Ok((Arc::clone(i), Vec::new()));
        }
        let loaded = self.load_index(true)?;
        if loaded.errors.is_empty() {
            return Ok((self.install_index(loaded.index), Vec::new()));
        }
        let mut warnings: Vec<String> = loaded
            .errors
            .iter()
            .map(|e| format!("{e}; left out, its packs are read from their own headers (run `rdr repair index`)"))
            .collect();
        let known: HashSet<PackId> = loaded.index.packs().iter().copied().collect();
        drop(loaded);
        let unlisted: Vec<PackId> = self
            .list_ids(FileType::Pack)?
            .into_iter()
            .map(PackId)
            .filter(|p| !known.contains(p))
            .collect();
        let read: Vec<std::result::Result<IndexPack, String>> = unlisted
            .par_iter()
            .map(|id| {
                self.load_pack_header(id)
                    .map(|h| IndexPack {
                        id: *id,
                        blobs: h.iter().map(IndexBlob::from).collect(),
                    })
                    .map_err(|e| format!("{e}: its blobs are not available"))
            })
            .collect();
        let mut extra = Vec::new();
        for r in read {
            match r {
                Ok(p) => extra.push(p),
                Err(w) => warnings.push(w),
            }
        }
        let loaded = self.load_index_with(true, &extra)?;
        Ok((self.install_index(loaded.index), warnings))
    }

    /// Makes `index` the cached master index (that blob loads use) and
    /// returns it, so an operation that built its own does not hold two.
    pub(crate) fn install_index(&self, index: MasterIndex) -> Arc<MasterIndex> {
        let idx = Arc::new(index);
        *self
            .inner
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&idx));
        idx
    }
}

/// Writes index entries into files of at most [`INDEX_FILE_BLOBS`] blobs.
/// The last file, written by [`IndexWriter::finish`], carries the marks
/// and supersedes the files it replaces, so readers switch to the new set
/// only when it is complete.
pub struct IndexWriter<'a> {
    repo: &'a Repository,
    cur: IndexFile,
    blobs: usize,
    written: Vec<IndexId>,
}

impl<'a> IndexWriter<'a> {
    /// A writer into `repo`.
    #[must_use]
    pub fn new(repo: &'a Repository) -> Self {
        Self {
            repo,
            cur: IndexFile::new(),
            blobs: 0,
            written: Vec::new(),
        }
    }

    /// Adds a pack's entries; writes a file when it is full.
    ///
    /// # Errors
    /// Storage errors.
    pub fn push(&mut self, pack: IndexPack) -> Result<()> {
        self.blobs += pack.blobs.len();
        self.cur.packs.push(pack);
        if self.blobs >= INDEX_FILE_BLOBS {
            let full = std::mem::replace(&mut self.cur, IndexFile::new());
            self.written.push(self.repo.save_index(&full)?);
            self.blobs = 0;
        }
        Ok(())
    }

    /// Writes the last file with `obsolete` marks, superseding
    /// `supersedes`; returns every file written.
    ///
    /// # Errors
    /// Storage errors.
    pub fn finish(
        mut self,
        supersedes: Vec<IndexId>,
        mut obsolete: Vec<ObsoletePack>,
    ) -> Result<Vec<IndexId>> {
        obsolete.sort_by_key(|m| m.id);
        self.cur.obsolete = obsolete;
        self.cur.supersedes = supersedes;
        self.written.push(self.repo.save_index(&self.cur)?);
        Ok(self.written)
    }
}
