//! Property tests: encode/decode round trips, chunking invariants, and every
//! decoder of repository bytes rejecting truncated, extended, bit-flipped and
//! random input with an error, never a panic.

use proptest::prelude::*;
use rdr_core::FileType;
use rdr_core::chunk::{Chunker, ChunkerConfig, ChunkerParams};
use rdr_core::codec;
use rdr_core::crypto::keys::MasterKey;
use rdr_core::crypto::wrap::{self, Unlocker};
use rdr_core::format::config::Config;
use rdr_core::format::index::{IndexBlob, IndexFile, IndexPack, ObsoletePack};
use rdr_core::format::keyfile::{KeyFile, KeyMeta};
use rdr_core::format::lock::LockInfo;
use rdr_core::format::pack::{self, PackEntry};
use rdr_core::format::record::Record;
use rdr_core::format::snapshot::Snapshot;
use rdr_core::format::tree::{Node, NodeKind, Tree};
use rdr_core::{BlobId, BlobType, Id, IndexId, PackId, compress};
use serde_bytes::ByteBuf;

fn key() -> MasterKey {
    MasterKey::from_secret([7; 32])
}

fn id() -> impl Strategy<Value = Id> {
    any::<[u8; 32]>().prop_map(Id)
}

fn blob_type() -> impl Strategy<Value = BlobType> {
    prop_oneof![Just(BlobType::Data), Just(BlobType::Tree)]
}

fn index_file() -> impl Strategy<Value = IndexFile> {
    let blob = (blob_type(), id(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
        |(t, i, o, l, r)| IndexBlob {
            blob_type: t,
            id: BlobId(i),
            offset: o,
            length: l,
            raw_length: r,
        },
    );
    let pack = (id(), prop::collection::vec(blob, 0..8)).prop_map(|(i, blobs)| IndexPack {
        id: PackId(i),
        blobs,
    });
    let obsolete = (id(), any::<i64>()).prop_map(|(i, t)| ObsoletePack {
        id: PackId(i),
        marked_at: t,
    });
    (
        prop::collection::vec(id(), 0..3),
        prop::collection::vec(pack, 0..5),
        prop::collection::vec(obsolete, 0..3),
    )
        .prop_map(|(s, p, o)| IndexFile {
            version: 1,
            supersedes: s.into_iter().map(IndexId).collect(),
            packs: p,
            obsolete: o,
        })
}

/// Every way the stored bytes of a sealed object can be damaged.
fn damaged(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for cut in [0, 1, bytes.len() / 2, bytes.len().saturating_sub(1)] {
        out.push(bytes[..cut.min(bytes.len())].to_vec());
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    out.push(longer);
    for i in (0..bytes.len()).step_by((bytes.len() / 24).max(1)) {
        for bit in [0, 7] {
            let mut f = bytes.to_vec();
            f[i] ^= 1 << bit;
            out.push(f);
        }
    }
    out
}

fn load_index(k: &MasterKey, b: &[u8]) -> Result<IndexFile, String> {
    let p = codec::open_file(k, FileType::Index, b).map_err(|e| e.to_string())?;
    IndexFile::decode(&p).map_err(|e| e.to_string())
}

fn load_config(k: &MasterKey, b: &[u8]) -> Result<Config, String> {
    let p = codec::open_file(k, FileType::Config, b).map_err(|e| e.to_string())?;
    Config::decode(&p).map_err(|e| e.to_string())
}

fn load_lock(k: &MasterKey, b: &[u8]) -> Result<LockInfo, String> {
    let p = codec::open_file(k, FileType::Lock, b).map_err(|e| e.to_string())?;
    LockInfo::decode(&p).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn index_round_trip_and_damage(f in index_file(), level in 0i32..4) {
        let k = key();
        let sealed = codec::seal_file(&k, FileType::Index, &f.encode(), level);
        prop_assert_eq!(load_index(&k, &sealed).unwrap(), f.clone());
        prop_assert_eq!(IndexFile::decode(&f.encode()).unwrap(), f);
        for d in damaged(&sealed) {
            prop_assert!(load_index(&k, &d).is_err());
        }
    }

    #[test]
    fn blobs_round_trip_and_damage(data in prop::collection::vec(any::<u8>(), 0..3000), rep in 1usize..4, t in blob_type()) {
        let k = key();
        let data = data.repeat(rep);
        let bid = rdr_core::crypto::hash::blob_id(&k.id, &data);
        let sealed = codec::seal_blob(&k, t, &bid, &data, 3);
        prop_assert_eq!(codec::open_blob(&k, t, &bid, &sealed, data.len() as u32).unwrap(), data.clone());
        for d in damaged(&sealed) {
            prop_assert!(codec::open_blob(&k, t, &bid, &d, data.len() as u32).is_err());
        }
    }

    #[test]
    fn packs_round_trip_and_damage(blobs in prop::collection::vec((blob_type(), prop::collection::vec(any::<u8>(), 0..200)), 0..6)) {
        let k = key();
        let mut bytes = Vec::new();
        let mut entries = Vec::new();
        for (t, data) in &blobs {
            let bid = rdr_core::crypto::hash::blob_id(&k.id, data);
            let s = codec::seal_blob(&k, *t, &bid, data, 0);
            entries.push(PackEntry { blob_type: *t, id: bid, offset: bytes.len() as u32, length: s.len() as u32, raw_length: data.len() as u32 });
            bytes.extend_from_slice(&s);
        }
        let data_len = bytes.len();
        bytes.extend_from_slice(&codec::seal_pack_header(&k, &entries));
        prop_assert_eq!(codec::parse_pack(&k, &bytes).unwrap(), entries.clone());
        // damage in the header region must be caught by parse_pack; damage in
        // a blob is caught when that blob is opened
        for d in damaged(&bytes[data_len..]) {
            let mut whole = bytes[..data_len].to_vec();
            whole.extend_from_slice(&d);
            prop_assert!(codec::parse_pack(&k, &whole).is_err());
        }
        prop_assert_eq!(pack::decode_header(&pack::encode_header(&entries), data_len as u64).unwrap(), entries);
    }

    #[test]
    fn config_and_lock_damage(comp in -7i32..22, host in "[a-z]{0,20}", pid in any::<u32>()) {
        let k = key();
        let mut c = Config::new(ChunkerParams::default(), comp, 16 << 20);
        c.compression = comp;
        let sealed = codec::seal_file(&k, FileType::Config, &c.encode(), 0);
        prop_assert_eq!(load_config(&k, &sealed).unwrap(), c);
        for d in damaged(&sealed) {
            prop_assert!(load_config(&k, &d).is_err());
        }
        let l = LockInfo { exclusive: pid % 2 == 0, host, pid, user: "u".into(), created: 1, time: 2, token: 3, backup: pid % 3 == 0, excludes_backups: pid % 5 == 0 };
        let sealed = codec::seal_file(&k, FileType::Lock, &l.encode(), 3);
        prop_assert_eq!(load_lock(&k, &sealed).unwrap(), l);
        for d in damaged(&sealed) {
            prop_assert!(load_lock(&k, &d).is_err());
        }
    }

    /// Trees round-trip; damaged encodings decode to an error or to a tree
    /// that still passes validation (never a panic, never an unsafe name).
    #[test]
    fn trees_round_trip_and_damage(
        names in prop::collection::btree_set(prop::collection::vec(1u8..=255, 1..12), 0..8),
        size in 0u64..1 << 40,
        ids in prop::collection::vec(id(), 0..4),
    ) {
        let mut t = Tree::default();
        for (i, name) in names.into_iter().enumerate() {
            if name.contains(&b'/') || name == b"." || name == b".." {
                continue;
            }
            let mut n = Node::new(&name, if i % 3 == 0 { NodeKind::Symlink } else { NodeKind::File });
            if n.kind == NodeKind::Symlink {
                n.target = Some(ByteBuf::from(name.clone()));
            } else {
                n.size = size;
                n.content = ids.iter().map(|i| BlobId(*i)).collect();
            }
            t.nodes.push(n);
        }
        t.sort();
        let enc = t.encode();
        prop_assert_eq!(Tree::decode(&enc).unwrap(), t);
        for d in damaged(&enc) {
            if let Ok(back) = Tree::decode(&d) {
                for n in &back.nodes {
                    prop_assert!(rdr_core::format::tree::check_name(&n.name).is_ok());
                }
            }
        }
    }

    /// Random bytes fed to every decoder: errors, never panics.
    #[test]
    fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..600)) {
        let k = key();
        let _ = load_index(&k, &b);
        let _ = load_config(&k, &b);
        let _ = load_lock(&k, &b);
        let _ = codec::parse_pack(&k, &b);
        let _ = codec::open_blob(&k, BlobType::Data, &BlobId(Id([0; 32])), &b, 100);
        let _ = codec::open_pack_header(&k, &b, 10);
        let _ = pack::decode_header(&b, 0);
        let _ = pack::parse_trailer(&b, b.len() as u64);
        let _ = compress::decode(&b, 1 << 20);
        let _ = Config::decode(&b);
        let _ = IndexFile::decode(&b);
        let _ = LockInfo::decode(&b);
        let _ = Record::decode(&b);
        if let Ok(p) = codec::open_file(&k, FileType::Record, &b) {
            let _ = Record::decode(&p);
        }
        let _ = KeyMeta::decode(&b);
        let _ = Tree::decode(&b);
        let _ = Snapshot::decode(&b);
        if let Ok(kf) = KeyFile::decode(&b) {
            let _ = wrap::unwrap(&kf.age, &Unlocker::Passphrase("x"));
        }
        let _ = wrap::unwrap(&b, &Unlocker::Passphrase("x"));
    }

    /// Streaming with any read pattern cuts exactly where the slice chunker
    /// does, covers the input, and respects min/max; a run of zeros (no
    /// cut point: maximum-size chunks) is placed anywhere in the data.
    #[test]
    fn chunking_invariants(len in 0usize..600_000, seed in any::<u8>(), read in 1usize..70_000,
                           zeros_at in 0usize..600_000, zeros in 0usize..250_000) {
        let params = ChunkerParams { min: 4096, avg: 16384, max: 65536 };
        let cfg = ChunkerConfig::new(params, &rdr_core::crypto::keys::SecretKey::from_bytes([seed; 32])).unwrap();
        let mut data = vec![0u8; len];
        blake3::Hasher::new_derive_key("prop").update(&[seed]).finalize_xof().fill(&mut data);
        let z = zeros_at.min(len);
        data[z..(z + zeros).min(len)].fill(0);
        struct R<'a>(&'a [u8], usize);
        impl std::io::Read for R<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let streamed: Vec<Vec<u8>> = Chunker::new(&cfg, R(&data, read)).map(Result::unwrap).collect();
        let sliced = cfg.split_slice(&data);
        prop_assert_eq!(streamed.len(), sliced.len());
        let mut pos = 0;
        for (i, (c, (o, l))) in streamed.iter().zip(&sliced).enumerate() {
            prop_assert_eq!(pos, *o);
            prop_assert_eq!(c.len(), *l);
            prop_assert_eq!(&data[*o..o + l], c.as_slice());
            prop_assert!(c.len() <= 65536);
            if i + 1 < streamed.len() {
                prop_assert!(c.len() >= 4096);
            }
            pos += l;
        }
        prop_assert_eq!(pos, len);
    }
}
