//! Unit tests of the repository: damaged objects are named, index races.
use super::*;
use crate::backend::MemoryBackend;
use crate::chunk::ChunkerParams;

use crate::format::index::IndexFile;
use crate::id::IndexId;

fn setup() -> (Arc<MemoryBackend>, Repository, BlobId, PackId) {
    let backend = Arc::new(MemoryBackend::new().unwrap());
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let r = Repository::init(
        &Storage::from_backend(backend.clone()),
        &InitOptions::default(),
        &key,
        &LockHolder::current(),
    )
    .unwrap();
    let data = b"some data".repeat(100);
    let id = r.blob_id(&data);
    let p = r.packer(PackerOptions::default());
    p.add(
        BlobType::Data,
        id,
        &r.seal_blob(BlobType::Data, &id, &data),
        data.len() as u32,
    )
    .unwrap();
    let mut f = IndexFile::new();
    f.packs = p.finish().unwrap();
    let pack = f.packs[0].id;
    r.save_index(&f).unwrap();
    (backend, r, id, pack)
}

fn reopen(b: &Arc<MemoryBackend>) -> Repository {
    Repository::open(
        &Storage::from_backend(b.clone()),
        &Credential::Passphrase("pw"),
    )
    .unwrap()
}

#[test]
fn damaged_pack_is_named() {
    let (b, _r, id, pack) = setup();
    let mut bytes = b.read(FileType::Pack, &pack.to_hex()).unwrap();
    bytes[5] ^= 0x40;
    b.remove(FileType::Pack, &pack.to_hex()).unwrap();
    b.write_new(FileType::Pack, &pack.to_hex(), &bytes).unwrap();
    let err = reopen(&b).load_blob(BlobType::Data, &id).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Corrupt);
    assert!(err.to_string().contains(&pack.short()), "{err}");
    // the header is intact, so it still lists the blob
    assert_eq!(reopen(&b).load_pack_header(&pack).unwrap().len(), 1);
    // truncated pack: header unreadable, error names the pack
    b.remove(FileType::Pack, &pack.to_hex()).unwrap();
    b.write_new(FileType::Pack, &pack.to_hex(), &bytes[..bytes.len() - 3])
        .unwrap();
    let err = reopen(&b).load_pack_header(&pack).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("pack {pack}")),
        "{err}"
    );
}

#[test]
fn damaged_index_and_config_are_named() {
    let (b, r, _id, _pack) = setup();
    let idx = r.list_ids(FileType::Index).unwrap()[0];
    let mut bytes = b.read(FileType::Index, &idx.to_hex()).unwrap();
    bytes[30] ^= 1;
    b.remove(FileType::Index, &idx.to_hex()).unwrap();
    b.write_new(FileType::Index, &idx.to_hex(), &bytes).unwrap();
    let err = reopen(&b).index().unwrap_err();
    assert!(err.to_string().contains(&idx.to_hex()), "{err}");
    assert!(err.to_string().contains("hash mismatch"), "{err}");

    let mut cfg = b.read(FileType::Config, "config").unwrap();
    let last = cfg.len() - 1;
    cfg[last] ^= 1;
    b.remove(FileType::Config, "config").unwrap();
    b.write_new(FileType::Config, "config", &cfg).unwrap();
    let err = Repository::open(
        &Storage::from_backend(b.clone()),
        &Credential::Passphrase("pw"),
    )
    .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Corrupt);
    assert!(
        err.to_string().starts_with("config: authentication failed"),
        "{err}"
    );
}

/// Storage that lists with sizes (as object storage does) and counts the
/// size lookups of packs asked of it; and with `swap`, on which reading
/// one index file first replaces it with the file superseding it: what a
/// reader sees when a prune compacts the index between the reader's
/// listing and its read.
struct Spy {
    inner: Arc<MemoryBackend>,
    swap: std::sync::Mutex<Option<(String, String, Vec<u8>)>>,
    pack_stats: std::sync::atomic::AtomicUsize,
}

impl Backend for Spy {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn create_layout(&self) -> crate::backend::BackendResult<()> {
        self.inner.create_layout()
    }
    fn list(&self, ft: FileType) -> crate::backend::BackendResult<Vec<String>> {
        self.inner.list(ft)
    }
    fn list_sizes(
        &self,
        ft: FileType,
    ) -> crate::backend::BackendResult<Vec<(String, Option<u64>)>> {
        let names = self.inner.list(ft)?;
        (names.into_iter())
            .map(|n| Ok((n.clone(), Some(self.inner.stat(ft, &n)?))))
            .collect()
    }
    fn stat(&self, ft: FileType, name: &str) -> crate::backend::BackendResult<u64> {
        if ft == FileType::Pack {
            (self.pack_stats).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.stat(ft, name)
    }
    fn read(&self, ft: FileType, name: &str) -> crate::backend::BackendResult<Vec<u8>> {
        let mut swap = self.swap.lock().unwrap();
        if let Some((old, _, _)) = swap.as_ref()
            && ft == FileType::Index
            && old == name
        {
            let (old, new, bytes) = swap.take().unwrap();
            self.inner.write_new(FileType::Index, &new, &bytes).unwrap();
            self.inner.remove(FileType::Index, &old).unwrap();
        }
        drop(swap);
        self.inner.read(ft, name)
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        off: u64,
        len: u64,
    ) -> crate::backend::BackendResult<Vec<u8>> {
        self.inner.read_range(ft, name, off, len)
    }
    fn write_new(
        &self,
        ft: FileType,
        name: &str,
        data: &[u8],
    ) -> crate::backend::BackendResult<()> {
        self.inner.write_new(ft, name, data)
    }
    fn remove(&self, ft: FileType, name: &str) -> crate::backend::BackendResult<()> {
        self.inner.remove(ft, name)
    }
}

#[test]
fn an_index_file_removed_by_a_prune_mid_read_is_not_an_error() {
    let (b, r, id, _pack) = setup();
    let old = r.list_ids(FileType::Index).unwrap()[0];
    // the compacted file a prune would write: same packs, supersedes `old`
    let mut f = r.load_index_file(&IndexId(old)).unwrap();
    f.supersedes = vec![IndexId(old)];
    let new = r.save_index(&f).unwrap();
    let bytes = b.read(FileType::Index, &new.to_hex()).unwrap();
    b.remove(FileType::Index, &new.to_hex()).unwrap();
    let racy = Arc::new(Spy {
        inner: b.clone(),
        swap: std::sync::Mutex::new(Some((old.to_hex(), new.to_hex(), bytes))),
        pack_stats: 0.into(),
    });
    let repo = Repository::open(
        &Storage::from_backend(racy.clone()),
        &Credential::Passphrase("pw"),
    )
    .unwrap();
    let idx = repo.index().unwrap();
    assert!(idx.contains_live(&id));
    assert_eq!(idx.files(), &[new]);
    assert!(racy.swap.lock().unwrap().is_none(), "the race happened");
}

#[test]
fn a_superseded_index_file_is_left_out_but_listed() {
    let (_b, r, id, _pack) = setup();
    let old = IndexId(r.list_ids(FileType::Index).unwrap()[0]);
    assert!(r.reload_index().unwrap().contains_live(&id));
    // a compaction that dropped the pack, killed before deleting `old`
    let mut f = IndexFile::new();
    f.supersedes = vec![old];
    let new = r.save_index(&f).unwrap();
    for keep_going in [false, true] {
        let loaded = r.load_index(keep_going).unwrap();
        assert_eq!(loaded.files, 2);
        assert!(loaded.errors.is_empty());
        assert_eq!(loaded.index.len(), 0, "the superseded file's blob is gone");
        let mut files = loaded.index.files().to_vec();
        files.sort();
        let mut want = vec![old, new];
        want.sort();
        assert_eq!(
            files, want,
            "both files are reported, so a prune deletes the old one"
        );
        assert!(loaded.index.is_superseded(&old));
    }
}

#[test]
fn find_id_prefixes() {
    let (_b, r, _id, pack) = setup();
    assert_eq!(
        r.find_id(FileType::Pack, &pack.to_hex()[..6]).unwrap(),
        pack.0
    );
    assert_eq!(
        r.find_id(FileType::Pack, "0000000000")
            .map_err(|e| e.kind()),
        Err(crate::ErrorKind::NotFound)
    );
    assert_eq!(
        r.find_id(FileType::Pack, "xyz").map_err(|e| e.kind()),
        Err(crate::ErrorKind::InvalidInput)
    );
    let missing = r
        .load_blob(BlobType::Data, &BlobId(Id([1; 32])))
        .unwrap_err();
    assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
}

#[test]
fn a_write_whose_answer_was_lost_is_not_an_error_when_retried() {
    let (b, _, _, _) = setup();
    // a store that enforces create-if-absent, where the answer to each
    // index write is lost and the retry finds the object there
    let lossy = crate::backend::Hooked::new(
        b.clone(),
        Box::new(|inner, ft, name, data| {
            inner.write_new(ft, name, data)?;
            inner.write_new(ft, name, data)
        }),
    );
    let r = Repository::open(
        &Storage::from_backend(Arc::new(lossy)),
        &Credential::Passphrase("pw"),
    )
    .unwrap();
    let id = r.save_index(&IndexFile::new()).unwrap();
    assert!(
        reopen(&b)
            .list_ids(FileType::Index)
            .unwrap()
            .contains(&id.0)
    );
    // a different object under the name is still an error
    let liar = crate::backend::Hooked::new(
        b.clone(),
        Box::new(|inner, ft, name, data| {
            inner.write_new(ft, name, &data[1..])?;
            inner.write_new(ft, name, data)
        }),
    );
    let r = Repository::open(
        &Storage::from_backend(Arc::new(liar)),
        &Credential::Passphrase("pw"),
    )
    .unwrap();
    let err = r.save_index(&IndexFile::new()).unwrap_err();
    assert!(
        matches!(err, Error::Backend(BackendError::AlreadyExists { .. })),
        "{err}"
    );
}

#[test]
fn a_shared_blob_identity_names_and_chunks_as_the_source_but_seals_with_its_own_key() {
    let src = test_repo(&InitOptions {
        chunker: ChunkerParams {
            min: 64 << 10,
            avg: 256 << 10,
            max: 1 << 20,
        },
        ..InitOptions::default()
    });
    let backend = Arc::new(MemoryBackend::new().unwrap());
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let opts = InitOptions {
        blob_identity: Some(src.blob_identity()),
        ..InitOptions::default()
    };
    let storage = Storage::from_backend(backend.clone());
    Repository::init(&storage, &opts, &key, &LockHolder::current()).unwrap();
    let dst = reopen(&backend);
    assert_eq!(dst.config().version, crate::format::SHARED_IDS_VERSION);
    assert_eq!(dst.config().chunker, src.config().chunker);
    // the keys never show in the config a caller sees
    assert!(dst.config().blob_keys.is_none());
    assert_eq!(dst.blob_id(b"x"), src.blob_id(b"x"));
    let data = crate::crypto::rng::bytes::<4096>().repeat(200);
    let cut = |r: &Repository| {
        let mut c = crate::chunk::Chunker::new(r.chunker(), &data[..]);
        let mut lens = Vec::new();
        while let Some(chunk) = c.next_chunk().unwrap() {
            lens.push(chunk.len());
        }
        lens
    };
    assert_eq!(cut(&dst), cut(&src));
    // the data key is its own: a blob sealed by one does not open in the other
    let id = src.blob_id(&data[..100]);
    let sealed = src.seal_blob(BlobType::Data, &id, &data[..100]);
    assert!(codec::open_blob(dst.key(), BlobType::Data, &id, &sealed, 100).is_err());
    // and an unrelated repository names blobs otherwise
    let other = test_repo(&InitOptions::default());
    assert_ne!(other.blob_id(b"x"), src.blob_id(b"x"));
}

/// check and repair index take pack sizes from the listing: no size
/// lookup per pack (one request per pack on object storage).
#[test]
fn check_and_repair_index_ask_no_pack_sizes_the_listing_gave() {
    let (b, _, _, _) = setup();
    let counting = Arc::new(Spy {
        inner: b,
        swap: std::sync::Mutex::default(),
        pack_stats: 0.into(),
    });
    let r = Repository::open(
        &Storage::from_backend(counting.clone()),
        &Credential::Passphrase("pw"),
    )
    .unwrap();
    let holder = LockHolder::current();
    let progress = crate::ops::progress::NoProgress;
    let lock = r.lock(LockKind::Shared, &holder).unwrap();
    let report = crate::ops::check::check(&r, &Default::default(), &progress, &lock).unwrap();
    assert!(report.errors.is_empty() && report.packs == 1, "{report:?}");
    drop(lock);
    let lock = r.lock(LockKind::Exclusive, &holder).unwrap();
    let opts = crate::ops::repair::RepairIndexOptions {
        dry_run: true,
        ..Default::default()
    };
    crate::ops::repair::repair_index(&r, &opts, &progress, &lock).unwrap();
    let stats = counting
        .pack_stats
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(stats, 0, "size lookups of packs");
}
