//! The local cache of a remote repository: index files, snapshot files and
//! tree packs, kept as stored (encrypted) under `<cache dir>/<repository
//! id>/`, so listing snapshots, browsing trees and a no-change backup read
//! no pack data from the server once the cache is warm.
//!
//! Nothing in the cache is trusted. Index and snapshot files are checked
//! against their names (the hash of their bytes) on every read; a tree
//! blob read from a cached pack is authenticated and checked against its
//! id as any blob is. A damaged entry is removed and fetched again from
//! the repository. Entries the repository no longer lists are removed when
//! it is listed. Writes are atomic (a temporary file, then a rename), and
//! every failure of the cache only means a read from the repository.
//!
//! `check` reads around the cache: it verifies what the server holds.

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::backend::FileType;
use crate::id::Id;

/// The cache of one repository.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
}

const TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by rdr.\n\
# For information about cache directory tags, see https://bford.info/cachedir/\n";

impl Cache {
    /// The cache of repository `repo_id` under `base`, created (mode 0700)
    /// when missing; `None` when it cannot be.
    pub(crate) fn open(base: &Path, repo_id: &str) -> Option<Self> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(base.join(repo_id))
            .ok()?;
        let tag = base.join("CACHEDIR.TAG");
        if !tag.exists() {
            let _ = fs::write(&tag, TAG);
        }
        Some(Self {
            dir: base.join(repo_id),
        })
    }

    /// Whether objects of this type are cached (packs: tree packs only,
    /// which the caller decides).
    pub(crate) fn holds(ft: FileType) -> bool {
        matches!(ft, FileType::Index | FileType::Snapshot | FileType::Pack)
    }

    fn path(&self, ft: FileType, name: &str) -> PathBuf {
        self.dir.join(ft.path(name))
    }

    /// The cached object, if present and its bytes hash to its name.
    pub(crate) fn get(&self, ft: FileType, name: &str) -> Option<Vec<u8>> {
        let path = self.path(ft, name);
        let bytes = fs::read(&path).ok()?;
        if Id::hash_of(&bytes).to_hex() == name {
            Some(bytes)
        } else {
            let _ = fs::remove_file(&path);
            None
        }
    }

    /// `len` bytes at `offset` of a cached object; the caller checks them
    /// (a blob is authenticated) and calls [`Self::remove`] if they fail.
    pub(crate) fn get_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> Option<Vec<u8>> {
        let mut f = fs::File::open(self.path(ft, name)).ok()?;
        f.seek(SeekFrom::Start(offset)).ok()?;
        let mut buf = vec![0; usize::try_from(len).ok()?];
        f.read_exact(&mut buf).ok()?;
        Some(buf)
    }

    /// Stores an object (best effort).
    pub(crate) fn put(&self, ft: FileType, name: &str, bytes: &[u8]) {
        let path = self.path(ft, name);
        let Some(dir) = path.parent() else { return };
        if fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .is_err()
        {
            return;
        }
        let mut r = [0u8; 8];
        let _ = getrandom::getrandom(&mut r);
        let tmp = dir.join(format!(".tmp-{}", u64::from_le_bytes(r)));
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, bytes));
        if written.is_err() || fs::rename(&tmp, &path).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// Drops an object.
    pub(crate) fn remove(&self, ft: FileType, name: &str) {
        let _ = fs::remove_file(self.path(ft, name));
    }

    /// Drops every cached object of type `ft` not in `keep`, and leftover
    /// temporary files.
    pub(crate) fn retain(&self, ft: FileType, keep: &HashSet<String>) {
        let top = self.dir.join(ft.dir());
        let mut dirs = vec![top];
        while let Some(d) = dirs.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(path);
                } else if !e.file_name().to_str().is_some_and(|n| keep.contains(n)) {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

impl super::Repository {
    /// A tree blob through the cache: from the cached pack when it opens
    /// there, else from the whole pack fetched once (and cached when its
    /// bytes hash to its name). Tree packs hold only trees.
    pub(super) fn load_tree_blob_cached(
        &self,
        cache: &Cache,
        id: &crate::id::BlobId,
        loc: &super::BlobLocation,
    ) -> crate::error::Result<Vec<u8>> {
        use crate::error::Error;
        let name = loc.pack.to_hex();
        let (offset, len) = (u64::from(loc.offset), u64::from(loc.length));
        let open = |sealed: &[u8]| {
            crate::codec::open_blob(self.key(), loc.blob_type, id, sealed, loc.raw_length)
        };
        if let Some(sealed) = cache.get_range(FileType::Pack, &name, offset, len) {
            if let Ok(plain) = open(&sealed) {
                return Ok(plain);
            }
            cache.remove(FileType::Pack, &name);
        }
        let pack = self.backend().read(FileType::Pack, &name)?;
        if Id::hash_of(&pack) == loc.pack.0 {
            cache.put(FileType::Pack, &name, &pack);
        }
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(offset + len).ok());
        let sealed = range.and_then(|(a, b)| pack.get(a..b)).ok_or_else(|| {
            crate::backend::BackendError::ShortRead {
                path: FileType::Pack.path(&name),
                offset,
                wanted: len,
                got: (pack.len() as u64).saturating_sub(offset),
            }
        })?;
        open(sealed)
            .map_err(|e| Error::corrupt("blob", format!("{id} (in pack {})", loc.pack.short()), e))
    }

    /// Whether tree packs written through this handle are cached.
    pub(super) fn caches_trees(&self) -> bool {
        self.cache().is_some()
    }

    /// Caches a tree pack just uploaded (a no-change backup after it then
    /// reads its trees locally).
    pub(super) fn cache_tree_pack(&self, id: &crate::id::PackId, bytes: &[u8]) {
        if let Some(c) = self.cache() {
            c.put(FileType::Pack, &id.to_hex(), bytes);
        }
    }

    /// Drops cached packs the index no longer names (after a prune).
    pub(super) fn retain_cached_packs(&self, packs: &[crate::id::PackId]) {
        if let Some(c) = self.cache() {
            c.retain(FileType::Pack, &packs.iter().map(|p| p.to_hex()).collect());
        }
    }
}

/// Where caches live: `RDR_CACHE_DIR`, else `$XDG_CACHE_HOME/rdr`, else
/// `$HOME/.cache/rdr`, with `var` looking up variables.
pub(crate) fn default_dir(var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let nonempty = |n: &str| var(n).filter(|v| !v.is_empty()).map(PathBuf::from);
    nonempty("RDR_CACHE_DIR")
        .or_else(|| nonempty("XDG_CACHE_HOME").map(|d| d.join("rdr")))
        .or_else(|| nonempty("HOME").map(|h| h.join(".cache/rdr")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_checked_and_damaged_ones_dropped() {
        let base = tempfile::tempdir().unwrap();
        let c = Cache::open(base.path(), "repo1").unwrap();
        assert!(base.path().join("CACHEDIR.TAG").is_file());
        let bytes = b"sealed index bytes".to_vec();
        let name = Id::hash_of(&bytes).to_hex();
        assert!(c.get(FileType::Index, &name).is_none());
        c.put(FileType::Index, &name, &bytes);
        assert_eq!(c.get(FileType::Index, &name), Some(bytes.clone()));
        assert_eq!(
            c.get_range(FileType::Index, &name, 7, 5).as_deref(),
            Some(&bytes[7..12])
        );
        // a damaged entry is not returned, and is gone
        let path = c.path(FileType::Index, &name);
        fs::write(&path, b"sealed index bytez").unwrap();
        assert!(c.get(FileType::Index, &name).is_none());
        assert!(!path.exists());
        // retain drops what the repository no longer lists
        c.put(FileType::Index, &name, &bytes);
        let other = Id::hash_of(b"other").to_hex();
        c.put(FileType::Index, &other, b"other");
        c.retain(FileType::Index, &HashSet::from([name.clone()]));
        assert!(c.get(FileType::Index, &name).is_some());
        assert!(c.get(FileType::Index, &other).is_none());
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(base.path().join("repo1"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn the_cache_dir_follows_the_variables() {
        let v = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            default_dir(&v(&[("RDR_CACHE_DIR", "/c"), ("HOME", "/h")])),
            Some(PathBuf::from("/c"))
        );
        assert_eq!(
            default_dir(&v(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/rdr"))
        );
        assert_eq!(
            default_dir(&v(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/rdr"))
        );
        assert_eq!(default_dir(&v(&[])), None);
    }
}
