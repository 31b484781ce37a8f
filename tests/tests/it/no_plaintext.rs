//! The storage sees no plaintext: after a real backup of a known 1 MiB file
//! (uncompressed, so only encryption can hide it) and of a command's output,
//! no stored object contains the content, any chunk's or the file's plain
//! BLAKE3 hash, the file or stream name, or the host name, and no object is
//! named after a chunk hash.

use rdr_core::chunk::{Chunker, ChunkerParams};
use rdr_core::ops::backup::{BackupOptions, BackupSource, backup};
use rdr_core::ops::progress::NoProgress;
use rdr_core::{Credential, InitOptions, Location, LockHolder, NewKey, Repository, Storage};

/// Every 16-byte window of a stored object, for fast membership tests.
fn windows(bytes: &[u8]) -> std::collections::HashSet<[u8; 16]> {
    bytes.windows(16).map(|w| w.try_into().unwrap()).collect()
}

fn has(set: &std::collections::HashSet<[u8; 16]>, needle: &[u8]) -> bool {
    set.contains(&<[u8; 16]>::try_from(&needle[..16]).unwrap())
}

#[test]
fn storage_sees_no_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let opts = InitOptions {
        chunker: ChunkerParams {
            min: 16 << 10,
            avg: 64 << 10,
            max: 256 << 10,
        },
        compression: 0,
        pack_size: 1 << 20,
        append_only: false,
        blob_identity: None,
    };
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let storage = Storage::connect(&Location::local(&root)).unwrap();
    Repository::init(&storage, &opts, &key, &LockHolder::current()).unwrap();
    let repo = Repository::open(&storage, &Credential::Passphrase("pw")).unwrap();

    // a known 1 MiB file: readable text with a unique marker in every line
    let mut file = Vec::new();
    let mut i = 0;
    while file.len() < 1 << 20 {
        file.extend_from_slice(
            format!("line {i:07} of the customer ledger: account balance confidential\n")
                .as_bytes(),
        );
        i += 1;
    }
    file.truncate(1 << 20);
    let name = b"payroll-2026-secret.csv";

    let mut chunk_hashes = Vec::new();
    for chunk in Chunker::new(repo.chunker(), &file[..]) {
        chunk_hashes.push(*blake3::hash(&chunk.unwrap()).as_bytes());
    }
    assert!(
        chunk_hashes.len() > 4,
        "the file should span several chunks"
    );
    // A real backup of a directory holding the file, and of a command's
    // output under another secret name.
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let path = src.join(std::str::from_utf8(name).unwrap());
    std::fs::write(&path, &file).unwrap();
    let opts = BackupOptions {
        host: "host-secret-name-01".into(),
        ..BackupOptions::default()
    };
    backup(
        &repo,
        BackupSource::Paths(vec![src.clone()]),
        &opts,
        &NoProgress,
    )
    .unwrap();
    let command = BackupSource::Command {
        filename: "appdb-secret.sql".into(),
        argv: vec!["cat".into(), path.to_str().unwrap().into()],
    };
    backup(&repo, command, &opts, &NoProgress).unwrap();
    assert_eq!(repo.snapshots().unwrap().len(), 2);

    let file_hash = *blake3::hash(&file).as_bytes();
    let mut objects = 0;
    for entry in walk(&root) {
        let bytes = std::fs::read(&entry).unwrap();
        objects += 1;
        let what = entry.display().to_string();
        let set = windows(&bytes);
        assert!(!has(&set, name), "{what} contains the file name");
        assert!(
            !has(&set, b"appdb-secret.sql"),
            "{what} contains the stream name"
        );
        assert!(
            !has(&set, b"host-secret-name-01"),
            "{what} contains the host name"
        );
        assert!(
            !has(&set, b"of the customer ledger"),
            "{what} contains plaintext"
        );
        for off in (0..file.len() - 16).step_by(61) {
            assert!(
                !has(&set, &file[off..]),
                "{what} contains plaintext at {off}"
            );
        }
        assert!(!has(&set, &file_hash), "{what} contains the file's BLAKE3");
        for h in &chunk_hashes {
            assert!(!has(&set, h), "{what} contains a chunk's plain BLAKE3");
        }
        let name_str = entry.file_name().unwrap().to_string_lossy().into_owned();
        for h in &chunk_hashes {
            assert!(
                !name_str.contains(&rdr_core::Id(*h).to_hex()[..16]),
                "{what} is named after a chunk hash"
            );
        }
    }
    assert!(
        objects >= 4,
        "expected config, key, index and packs, found {objects}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}
