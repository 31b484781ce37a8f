//! Tests of the browsable view: layout, links, reads at any offset.

use super::*;
use crate::ops::backup::{BackupOptions, BackupSource, backup};
use crate::ops::progress::NoProgress;
use crate::repo::{Credential, InitOptions, LockHolder, NewKey};
use crate::{Location, Storage};

fn walk(b: &Browser, path: &str) -> Attr {
    let mut at = b.attr(ROOT).unwrap();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at = b
            .lookup(at.ino, part.as_bytes())
            .unwrap()
            .unwrap_or_else(|| panic!("{part} of {path}"));
    }
    at
}

#[test]
fn layout_links_and_reads_at_any_offset() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::connect(&Location::local(dir.path().join("repo"))).unwrap();
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    Repository::init(
        &storage,
        &InitOptions::default(),
        &key,
        &LockHolder::current(),
    )
    .unwrap();
    let repo = Repository::open(&storage, &Credential::Passphrase("pw")).unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    // several chunks, so reads cross blob boundaries
    let big: Vec<u8> = (0..3_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(src.join("sub/big"), &big).unwrap();
    std::fs::write(src.join("small"), b"hello").unwrap();
    std::os::unix::fs::symlink("small", src.join("link")).unwrap();
    let opts = BackupOptions {
        host: "h1".into(),
        tags: vec!["db".into()],
        ..BackupOptions::default()
    };
    let r1 = backup(
        &repo,
        BackupSource::Paths(vec![src.clone()]),
        &opts,
        &NoProgress,
    )
    .unwrap();
    let opts2 = BackupOptions {
        host: "h2".into(),
        ..BackupOptions::default()
    };
    let r2 = backup(
        &repo,
        BackupSource::Paths(vec![src.clone()]),
        &opts2,
        &NoProgress,
    )
    .unwrap();
    let (id1, id2) = (r1.id.unwrap().short(), r2.id.unwrap().short());

    let b = Browser::new(&repo).unwrap();
    let names = |ino| -> Vec<String> {
        b.read_dir(ino)
            .unwrap()
            .into_iter()
            .map(|(n, _)| String::from_utf8(n).unwrap())
            .collect()
    };
    assert_eq!(names(ROOT), ["hosts", "ids", "snapshots", "tags"]);
    assert_eq!(names(walk(&b, "hosts").ino), ["h1", "h2"]);
    assert_eq!(names(walk(&b, "tags").ino), ["db"]);
    let latest = walk(&b, "snapshots/latest");
    assert_eq!(latest.kind, EntryKind::Symlink);
    assert_eq!(
        b.read_link(latest.ino).unwrap(),
        format!("../ids/{id2}").into_bytes()
    );
    let h1 = walk(&b, "hosts/h1/latest");
    assert_eq!(
        b.read_link(h1.ino).unwrap(),
        format!("../../ids/{id1}").into_bytes()
    );
    assert_eq!(
        names(walk(&b, "snapshots").ino).len(),
        3,
        "two times and latest"
    );

    let base = format!("ids/{id1}{}", src.display());
    let f = walk(&b, &format!("{base}/sub/big"));
    assert_eq!((f.kind, f.size), (EntryKind::File, big.len() as u64));
    for (off, len) in [
        (0u64, 4096u32),
        (1_048_570, 20_000),
        (2_999_990, 4096),
        (3_000_000, 10),
        (5, 3_000_000),
    ] {
        let got = b.read(f.ino, off, len).unwrap();
        let a = (off as usize).min(big.len());
        let z = (off as usize + len as usize).min(big.len());
        assert_eq!(got, &big[a..z], "read at {off} len {len}");
    }
    let small = walk(&b, &format!("{base}/small"));
    assert_eq!(b.read(small.ino, 0, 100).unwrap(), b"hello");
    let link = walk(&b, &format!("{base}/link"));
    assert_eq!(
        (link.kind, b.read_link(link.ino).unwrap()),
        (EntryKind::Symlink, b"small".to_vec())
    );
    assert!(b.lookup(walk(&b, &base).ino, b"nope").unwrap().is_none());
    assert!(
        b.read(walk(&b, &base).ino, 0, 1).is_err(),
        "a folder is not read"
    );
    assert!(b.attr(1 << 40).is_err());
}
