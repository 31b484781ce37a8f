//! `check --read-data` reads the packs beside the rest of the check, and
//! stops reading when the rest fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::backend::{Backend, BackendError, BackendResult, FileType, MemoryBackend, Storage};
use crate::format::BlobType;
use crate::ops::progress::NoProgress;
use crate::repo::{InitOptions, LockHolder, LockKind, NewKey, PackerOptions};

/// Memory storage whose pack reads are slow and counted, and whose index
/// listing fails once `fail_index` is set.
struct Slow {
    inner: MemoryBackend,
    fail_index: AtomicBool,
    pack_reads: AtomicUsize,
}

impl Backend for Slow {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn create_layout(&self) -> BackendResult<()> {
        self.inner.create_layout()
    }
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        if ft == FileType::Index && self.fail_index.load(Ordering::SeqCst) {
            return Err(BackendError::Io {
                op: "list",
                path: "index/".into(),
                message: "the storage went away".into(),
            });
        }
        self.inner.list(ft)
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        self.inner.stat(ft, name)
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        self.inner.read(ft, name)
    }
    fn read_range(&self, ft: FileType, name: &str, off: u64, len: u64) -> BackendResult<Vec<u8>> {
        if ft == FileType::Pack {
            self.pack_reads.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
        }
        self.inner.read_range(ft, name, off, len)
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        self.inner.write_new(ft, name, data)
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        self.inner.remove(ft, name)
    }
}

/// A repository on `Slow` storage with `packs` small packs, one blob each.
fn repo_with_packs(packs: usize) -> (Arc<Slow>, Repository) {
    let slow = Arc::new(Slow {
        inner: MemoryBackend::new().unwrap(),
        fail_index: AtomicBool::new(false),
        pack_reads: AtomicUsize::new(0),
    });
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let storage = Storage::from_backend(slow.clone());
    let opts = InitOptions::default();
    let repo = Repository::init(&storage, &opts, &key, &LockHolder::current()).unwrap();
    for i in 0..packs {
        let packer = repo.packer(PackerOptions::default());
        let data = format!("blob {i}").repeat(100).into_bytes();
        let id = repo.blob_id(&data);
        let sealed = repo.seal_blob(BlobType::Data, &id, &data);
        packer
            .add(BlobType::Data, id, &sealed, data.len() as u32)
            .unwrap();
        packer.finish().unwrap();
    }
    (slow, repo)
}

#[test]
fn read_data_reads_every_pack() {
    let (slow, repo) = repo_with_packs(6);
    let lock = repo.lock(LockKind::Shared, &LockHolder::current()).unwrap();
    let opts = CheckOptions {
        read_data: Some(ReadData::All),
    };
    let r = check(&repo, &opts, &NoProgress, &lock).unwrap();
    assert_eq!(r.packs, 6);
    assert_eq!(slow.pack_reads.load(Ordering::SeqCst), 6);
    // no index lists the packs: untidy (a warning), not damage, and the
    // reads found nothing wrong with them
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(!r.warnings.is_empty());
}

/// When the rest of the check fails (here: the index cannot be listed),
/// the reading stops instead of reading the whole repository first.
#[test]
fn a_failure_stops_the_reading() {
    let (slow, repo) = repo_with_packs(40);
    let lock = repo.lock(LockKind::Shared, &LockHolder::current()).unwrap();
    slow.fail_index.store(true, Ordering::SeqCst);
    let opts = CheckOptions {
        read_data: Some(ReadData::All),
    };
    let err = check(&repo, &opts, &NoProgress, &lock).unwrap_err();
    assert!(err.to_string().contains("the storage went away"), "{err}");
    let reads = slow.pack_reads.load(Ordering::SeqCst);
    assert!(reads < 40, "{reads} of 40 packs read after the failure");
}
