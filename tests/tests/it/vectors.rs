//! Format v1 test vectors: a fixed master key and fixed nonces give exact
//! bytes, pinned by files in tests/vectors/. Each test builds the object and
//! compares, then decodes the stored bytes and re-encodes them byte for byte.
//!
//! Regenerate only with a format version bump: `RDR_UPDATE_VECTORS=1`.

use std::path::PathBuf;

use rdr_core::FileType;
use rdr_core::chunk::{ChunkerConfig, ChunkerParams};
use rdr_core::codec;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::crypto::wrap::{self, Unlocker};
use rdr_core::format::config::Config;
use rdr_core::format::index::{IndexBlob, IndexFile, IndexPack, ObsoletePack};
use rdr_core::format::keyfile::{KeyFile, KeyKind, KeyMeta};
use rdr_core::format::lock::LockInfo;
use rdr_core::format::pack::PackEntry;
use rdr_core::format::record::{DrillPhases, DrillRecord, Record, RecordKind};
use rdr_core::format::snapshot::{Incomplete, Snapshot, StreamInfo, Summary};
use rdr_core::format::tree::{Node, NodeKind, Tree, Xattr};
use rdr_core::{BlobId, BlobType, Id, IndexId, PackId, SnapshotId};
use serde_bytes::ByteBuf;

const MASTER: [u8; 32] = [0x42; 32];
const NONCE_A: [u8; 24] = [0xA0; 24];
const NONCE_B: [u8; 24] = [0xB0; 24];
const NONCE_C: [u8; 24] = [0xC0; 24];

fn key() -> MasterKey {
    MasterKey::from_secret(MASTER)
}

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(name)
}

/// Compares with the stored vector (or writes it when updating).
fn pin(name: &str, bytes: &[u8]) -> Vec<u8> {
    let p = path(name);
    if std::env::var_os("RDR_UPDATE_VECTORS").is_some() {
        std::fs::write(&p, bytes).unwrap();
    }
    let stored = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(
        stored, bytes,
        "{name}: encoding differs from the pinned vector (format change?)"
    );
    stored
}

fn nonce_of(sealed: &[u8]) -> [u8; 24] {
    sealed[..24].try_into().unwrap()
}

/// A format-2 pack: the blobs of `pack.bin`, 0xEE bytes up to the padded
/// size (random in real packs), and a version-2 header.
#[test]
fn padded_pack_file() {
    let k = key();
    let (v1, entries) = pack_bytes(&k);
    let blobs: usize = entries.iter().map(|e| e.length as usize).sum();
    let plain = blobs as u64 + codec::padded_header_len(entries.len());
    let size = rdr_core::format::pack::padded_size(plain);
    assert_eq!(size, 4096);
    let padding = (size - plain) as u32;
    let mut pack = v1[..blobs].to_vec();
    pack.resize(blobs + padding as usize, 0xEE);
    pack.extend_from_slice(&codec::seal_pack_header_padded_with_nonce(
        &k, &entries, padding, &NONCE_C,
    ));
    assert_eq!(pack.len() as u64, size);
    let stored = pin("pack-v2.bin", &pack);
    assert_eq!(codec::parse_pack(&k, &stored).unwrap(), entries);
}

fn config() -> Config {
    Config {
        version: 1,
        id: Id([0x11; 32]),
        chunker: ChunkerParams {
            min: 512 << 10,
            avg: 1 << 20,
            max: 8 << 20,
        },
        compression: 3,
        data_pack_size: 16 << 20,
        tree_pack_size: 4 << 20,
        blob_keys: None,
        append_only: false,
    }
}

/// A version-4 (append-only) config: `append_only` true, no `blob_keys`.
#[test]
fn append_only_config_file() {
    let k = key();
    let c = Config {
        version: rdr_core::format::APPEND_ONLY_VERSION,
        append_only: true,
        ..config()
    };
    let sealed = codec::seal_file_with_nonce(&k, FileType::Config, &c.encode(), 0, &NONCE_A);
    let stored = pin("config-v4.bin", &sealed);
    let decoded =
        Config::decode(&codec::open_file(&k, FileType::Config, &stored).unwrap()).unwrap();
    assert_eq!(decoded, c);
}

#[test]
fn subkeys() {
    let k = key();
    let hex = |b: &[u8; 32]| Id(*b).to_hex();
    let text = format!(
        "data {}\nid {}\nchunker {}\npack_order {}\nblob_id(\"abc\") {}\n",
        hex(k.data.expose()),
        hex(k.id.expose()),
        hex(k.chunker.expose()),
        hex(k.pack_order.expose()),
        rdr_core::crypto::hash::blob_id(&k.id, b"abc")
    );
    pin("subkeys.txt", text.as_bytes());
}

#[test]
fn config_file() {
    let k = key();
    let sealed = codec::seal_file_with_nonce(&k, FileType::Config, &config().encode(), 0, &NONCE_A);
    let stored = pin("config.bin", &sealed);
    let decoded =
        Config::decode(&codec::open_file(&k, FileType::Config, &stored).unwrap()).unwrap();
    assert_eq!(decoded, config());
    assert_eq!(
        codec::seal_file_with_nonce(
            &k,
            FileType::Config,
            &decoded.encode(),
            0,
            &nonce_of(&stored[1..])
        ),
        stored
    );
}

fn blob_plain() -> Vec<u8> {
    b"COPY public.pgbench_accounts (aid, bid, abalance, filler) FROM stdin;\n".repeat(20)
}

#[test]
fn sealed_blob() {
    let k = key();
    let data = blob_plain();
    let id = rdr_core::crypto::hash::blob_id(&k.id, &data);
    let sealed = codec::seal_blob_with_nonce(&k, BlobType::Data, &id, &data, 3, &NONCE_B);
    let stored = pin("blob-data-zstd.bin", &sealed);
    let opened = codec::open_blob(&k, BlobType::Data, &id, &stored, data.len() as u32).unwrap();
    assert_eq!(opened, data);
    assert_eq!(
        codec::seal_blob_with_nonce(&k, BlobType::Data, &id, &opened, 3, &nonce_of(&stored)),
        stored
    );
}

fn pack_bytes(k: &MasterKey) -> (Vec<u8>, Vec<PackEntry>) {
    let mut pack = Vec::new();
    let mut entries = Vec::new();
    for (i, (t, data)) in [
        (BlobType::Data, b"first blob".to_vec()),
        (BlobType::Data, b"second blob".to_vec()),
    ]
    .into_iter()
    .enumerate()
    {
        let id = rdr_core::crypto::hash::blob_id(&k.id, &data);
        let nonce = [0x50 + i as u8; 24];
        let s = codec::seal_blob_with_nonce(k, t, &id, &data, 0, &nonce);
        entries.push(PackEntry {
            blob_type: t,
            id,
            offset: pack.len() as u32,
            length: s.len() as u32,
            raw_length: data.len() as u32,
        });
        pack.extend_from_slice(&s);
    }
    pack.extend_from_slice(&codec::seal_pack_header_with_nonce(k, &entries, &NONCE_C));
    (pack, entries)
}

#[test]
fn pack_file() {
    let k = key();
    let (pack, entries) = pack_bytes(&k);
    let stored = pin("pack.bin", &pack);
    assert_eq!(codec::parse_pack(&k, &stored).unwrap(), entries);
    // re-encode: each blob re-sealed with its own nonce, header with its nonce
    let mut again = Vec::new();
    for e in &entries {
        let sealed = &stored[e.offset as usize..(e.offset + e.length) as usize];
        let plain = codec::open_blob(&k, e.blob_type, &e.id, sealed, e.raw_length).unwrap();
        again.extend_from_slice(&codec::seal_blob_with_nonce(
            &k,
            e.blob_type,
            &e.id,
            &plain,
            0,
            &nonce_of(sealed),
        ));
    }
    let header_start = again.len();
    again.extend_from_slice(&codec::seal_pack_header_with_nonce(
        &k,
        &entries,
        &nonce_of(&stored[header_start..]),
    ));
    assert_eq!(again, stored);
    assert_eq!(
        PackId(Id::hash_of(&stored)).to_hex(),
        Id::hash_of(&again).to_hex()
    );
}

fn index() -> IndexFile {
    let k = key();
    let (pack, entries) = pack_bytes(&k);
    let mut f = IndexFile::new();
    f.supersedes.push(IndexId(Id([0x22; 32])));
    f.packs.push(IndexPack {
        id: PackId(Id::hash_of(&pack)),
        blobs: entries.iter().map(IndexBlob::from).collect(),
    });
    f.obsolete.push(ObsoletePack {
        id: PackId(Id([0x33; 32])),
        marked_at: 1_795_000_000,
    });
    f
}

#[test]
fn index_file() {
    let k = key();
    let sealed = codec::seal_file_with_nonce(&k, FileType::Index, &index().encode(), 0, &NONCE_A);
    let stored = pin("index.bin", &sealed);
    let decoded =
        IndexFile::decode(&codec::open_file(&k, FileType::Index, &stored).unwrap()).unwrap();
    assert_eq!(decoded, index());
    assert_eq!(
        codec::seal_file_with_nonce(
            &k,
            FileType::Index,
            &decoded.encode(),
            0,
            &nonce_of(&stored[1..])
        ),
        stored
    );
}

#[test]
fn lock_file() {
    let k = key();
    let info = LockInfo {
        exclusive: true,
        host: "db1".into(),
        pid: 4242,
        user: "postgres".into(),
        created: 1_795_000_000,
        time: 1_795_000_300,
        token: 7,
        backup: false,
        excludes_backups: false,
    };
    let sealed = codec::seal_file_with_nonce(&k, FileType::Lock, &info.encode(), 0, &NONCE_B);
    let stored = pin("lock.bin", &sealed);
    let decoded =
        LockInfo::decode(&codec::open_file(&k, FileType::Lock, &stored).unwrap()).unwrap();
    assert_eq!(decoded, info);
    assert_eq!(
        codec::seal_file_with_nonce(
            &k,
            FileType::Lock,
            &decoded.encode(),
            0,
            &nonce_of(&stored[1..])
        ),
        stored
    );
}

#[test]
fn record_file() {
    let k = key();
    let mut rec = Record::new(
        RecordKind::Drill,
        1_795_000_000_000_000_000,
        1_795_000_042_500_000_000,
        &[],
    );
    rec.hostname = "db1".into();
    rec.username = "postgres".into();
    rec.program_version = "rdr 0.1.0".into();
    rec.drill = Some(DrillRecord {
        snapshot: SnapshotId(Id([0x44; 32])),
        files: 1,
        bytes: 684_000_000,
        phases: DrillPhases {
            load: 0.5,
            fetch: 4.25,
            decrypt: 6.0,
            write: 2.75,
            verify: 3.0,
            health: 26.0,
        },
        total: 42.5,
        rto: Some(900.0),
        health_exit: Some(0),
    });
    let sealed = codec::seal_file_with_nonce(&k, FileType::Record, &rec.encode(), 3, &NONCE_C);
    let stored = pin("record.bin", &sealed);
    let decoded =
        Record::decode(&codec::open_file(&k, FileType::Record, &stored).unwrap()).unwrap();
    assert_eq!(decoded, rec);
    assert_eq!(
        codec::seal_file_with_nonce(
            &k,
            FileType::Record,
            &decoded.encode(),
            3,
            &nonce_of(&stored[1..])
        ),
        stored
    );
    // the same bytes under another kind's associated data do not open
    assert!(codec::open_file(&k, FileType::Snapshot, &stored).is_err());
}

/// The age part of a key file is randomized by age itself, so this vector
/// was generated once (passphrase "vector password", scrypt log_n 10) and is
/// checked by decoding: it must open to the fixed master secret, its
/// metadata must authenticate, and the container must re-encode exactly.
#[test]
fn key_file() {
    let k = key();
    let meta = KeyMeta {
        kind: KeyKind::Passphrase,
        created: 1_795_000_000,
        host: "db1".into(),
        user: "root".into(),
        recipients: vec![],
    };
    let p = path("key.bin");
    if std::env::var_os("RDR_UPDATE_VECTORS").is_some() {
        let age = wrap::wrap_passphrase(&MASTER, "vector password", 10).unwrap();
        let sealed_meta =
            codec::seal_file_with_nonce(&k, FileType::Key, &meta.encode(), 0, &NONCE_C);
        std::fs::write(&p, KeyFile { age, sealed_meta }.encode()).unwrap();
    }
    let stored = std::fs::read(&p).unwrap();
    let kf = KeyFile::decode(&stored).unwrap();
    assert_eq!(kf.encode(), stored);
    let secret = wrap::unwrap(&kf.age, &Unlocker::Passphrase("vector password")).unwrap();
    assert_eq!(*secret, MASTER);
    assert!(wrap::unwrap(&kf.age, &Unlocker::Passphrase("other")).is_err());
    let decoded =
        KeyMeta::decode(&codec::open_file(&k, FileType::Key, &kf.sealed_meta).unwrap()).unwrap();
    assert_eq!(decoded, meta);
    assert_eq!(
        codec::seal_file_with_nonce(
            &k,
            FileType::Key,
            &decoded.encode(),
            0,
            &nonce_of(&kf.sealed_meta)
        ),
        kf.sealed_meta
    );
}

/// Chunk boundaries are part of the contract: changing them breaks dedup
/// against existing repositories.
#[test]
fn chunk_boundaries() {
    let k = key();
    let cfg = ChunkerConfig::new(
        ChunkerParams {
            min: 16 << 10,
            avg: 64 << 10,
            max: 256 << 10,
        },
        &k.chunker,
    )
    .unwrap();
    let mut data = vec![0u8; 4 << 20];
    blake3::Hasher::new_derive_key("rdr test vector data")
        .finalize_xof()
        .fill(&mut data);
    let lens: Vec<String> = cfg
        .split_slice(&data)
        .into_iter()
        .map(|(_, l)| l.to_string())
        .collect();
    pin("chunks.txt", (lens.join("\n") + "\n").as_bytes());
}

fn tree() -> Tree {
    let mut file = Node::new(b"app\xffdb.sql", NodeKind::File);
    file.mode = 0o640;
    file.uid = 70;
    file.gid = 70;
    file.user = Some("postgres".into());
    file.group = Some("postgres".into());
    file.mtime = 1_795_000_000_123_456_789;
    file.ctime = 1_795_000_002_000_000_000;
    file.size = 3 << 20;
    file.dev = 2049;
    file.inode = 131_074;
    file.links = 2;
    file.content = vec![BlobId(Id([0x44; 32])), BlobId(Id([0x45; 32]))];
    file.holes = vec![(1 << 20, 1 << 20)];
    file.xattrs = vec![Xattr {
        name: ByteBuf::from(b"user.origin".to_vec()),
        value: ByteBuf::from(vec![0, 1, 2]),
    }];
    let mut dir = Node::new(b"data", NodeKind::Dir);
    dir.mode = 0o2750;
    dir.subtree = Some(BlobId(Id([0x46; 32])));
    let mut link = Node::new(b"latest", NodeKind::Symlink);
    link.mode = 0o777;
    link.target = Some(ByteBuf::from(b"app\xffdb.sql".to_vec()));
    link.size = 10;
    let mut dev = Node::new(b"null", NodeKind::Chardev);
    dev.rdev = 259;
    let mut t = Tree {
        nodes: vec![file, dir, link, dev],
    };
    t.sort();
    t
}

#[test]
fn tree_blob() {
    let k = key();
    let plain = tree().encode();
    pin("tree.cbor", &plain);
    assert_eq!(Tree::decode(&plain).unwrap(), tree());
    let id = rdr_core::crypto::hash::blob_id(&k.id, &plain);
    let sealed = codec::seal_blob_with_nonce(&k, BlobType::Tree, &id, &plain, 3, &NONCE_C);
    let stored = pin("blob-tree.bin", &sealed);
    let opened = codec::open_blob(&k, BlobType::Tree, &id, &stored, plain.len() as u32).unwrap();
    assert_eq!(Tree::decode(&opened).unwrap(), tree());
    // A tree sealed as a data blob does not open as a tree.
    assert!(codec::open_blob(&k, BlobType::Data, &id, &stored, plain.len() as u32).is_err());
}

fn snapshot() -> Snapshot {
    Snapshot {
        version: 1,
        time: 1_795_000_000_000_000_000,
        tree: BlobId(Id([0x47; 32])),
        paths: vec!["/appdb.sql".into()],
        hostname: "db1".into(),
        username: "postgres".into(),
        uid: 70,
        gid: 70,
        tags: vec!["nightly".into()],
        parent: Some(SnapshotId(Id([0x48; 32]))),
        original: None,
        program_version: "rdr 0.1.0".into(),
        excludes: vec!["*.tmp".into()],
        stream: Some(StreamInfo {
            filename: "appdb.sql".into(),
            bytes: 684_000_877,
            blake3: ByteBuf::from(vec![0x49; 32]),
            command: Some(vec!["pg_dump".into(), "appdb".into()]),
            exit_status: Some(0),
        }),
        incomplete: Some(Incomplete {
            count: 1,
            errors: vec!["/proc/1/mem: read failed".into()],
        }),
        summary: Summary {
            start: 1_795_000_000_000_000_000,
            end: 1_795_000_002_500_000_000,
            files_new: 1,
            bytes_total: 684_000_877,
            bytes_read: 684_000_877,
            data_blobs: 234,
            tree_blobs: 1,
            bytes_added: 684_000_877,
            bytes_added_stored: 5_950_000,
            ..Summary::default()
        },
    }
}

#[test]
fn snapshot_file() {
    let k = key();
    let sealed =
        codec::seal_file_with_nonce(&k, FileType::Snapshot, &snapshot().encode(), 0, &NONCE_B);
    let stored = pin("snapshot.bin", &sealed);
    let decoded =
        Snapshot::decode(&codec::open_file(&k, FileType::Snapshot, &stored).unwrap()).unwrap();
    assert_eq!(decoded, snapshot());
    // A snapshot does not open as another kind of file.
    assert!(codec::open_file(&k, FileType::Index, &stored).is_err());
}

/// Writes the fuzz targets' seed corpus (fuzz/seeds/TARGET/) from the
/// vectors when RDR_WRITE_FUZZ_SEEDS is set: each sealed vector as stored
/// (the fuzz targets use the vectors' master key, so it opens) and its
/// plaintext, which the mutations of the plaintext decoders start from.
#[test]
fn fuzz_seeds() {
    let k = key();
    let sealed = [
        ("config", "config.bin", FileType::Config),
        ("config", "config-v4.bin", FileType::Config),
        ("index", "index.bin", FileType::Index),
        ("lock", "lock.bin", FileType::Lock),
        ("record", "record.bin", FileType::Record),
        ("snapshot", "snapshot.bin", FileType::Snapshot),
    ];
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (target, file, kind) in sealed {
        let stored = std::fs::read(path(file)).unwrap();
        let plain = codec::open_file(&k, kind, &stored).unwrap();
        seeds.push((target, format!("{file}.plain"), plain));
        seeds.push((target, file.to_owned(), stored));
    }
    let raw = [
        ("pack", "pack.bin"),
        ("pack", "pack-v2.bin"),
        ("keyfile", "key.bin"),
        ("blob", "blob-data-zstd.bin"),
        ("blob", "blob-tree.bin"),
        ("tree", "tree.cbor"),
    ];
    for (target, file) in raw {
        seeds.push((target, file.to_owned(), std::fs::read(path(file)).unwrap()));
    }
    let texts: &[(&str, &[&str])] = &[
        (
            "location",
            &[
                "/srv/backup",
                "local:relative/dir",
                "s3:https://s3.eu-west-1.amazonaws.com/bucket/prefix",
                "s3:http://127.0.0.1:9000/bucket",
                "sftp:user@host:/srv/repo",
                "sftp://user@[::1]:2222/srv/repo",
                "webdav:https://dav.example.com/remote.php/dav/files/u/repo",
            ],
        ),
        (
            "text",
            &[
                "24h",
                "1h30m",
                "7d",
                "2w",
                "1y6m",
                "unlimited",
                "2026-12-03 10:00:00",
                "2026-12-03T10:00:00Z",
                "host,paths,tags",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
                "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX",
            ],
        ),
    ];
    for (target, list) in texts {
        for (i, t) in list.iter().enumerate() {
            seeds.push((target, format!("seed-{i}"), t.as_bytes().to_vec()));
        }
    }
    seeds.push((
        "policy",
        "seed-0".into(),
        (0u8..=255).cycle().take(2048).collect(),
    ));
    let Some(dir) = std::env::var_os("RDR_WRITE_FUZZ_SEEDS") else {
        assert!(seeds.len() > 20);
        return;
    };
    for (target, name, bytes) in seeds {
        let d = PathBuf::from(&dir).join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    }
}
