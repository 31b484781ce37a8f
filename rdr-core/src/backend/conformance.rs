//! The conformance suite every backend must pass.
#![cfg(any(test, feature = "internals"))]

use super::{Backend, BackendError, FileType};

/// Runs every conformance check against an empty backend; panics with a
/// message naming the failed check.
pub fn run_conformance(b: &dyn Backend) {
    b.create_layout().expect("create_layout");
    for ft in FileType::ALL {
        assert!(
            b.list(ft).expect("list empty").is_empty(),
            "{ft:?} not empty at start"
        );
    }
    let name = "ab".to_owned() + &"0".repeat(62);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();

    // not-found behaviour
    assert!(
        matches!(
            b.read(FileType::Pack, &name),
            Err(BackendError::NotFound { .. })
        ),
        "read missing"
    );
    assert!(
        matches!(
            b.stat(FileType::Pack, &name),
            Err(BackendError::NotFound { .. })
        ),
        "stat missing"
    );
    assert!(
        matches!(
            b.read_range(FileType::Pack, &name, 0, 10),
            Err(BackendError::NotFound { .. })
        ),
        "range missing"
    );

    // write, stat, read, ranged read
    b.write_new(FileType::Pack, &name, &data).expect("write");
    assert_eq!(
        b.stat(FileType::Pack, &name).expect("stat"),
        data.len() as u64
    );
    assert_eq!(b.read(FileType::Pack, &name).expect("read"), data);
    assert_eq!(
        b.read_range(FileType::Pack, &name, 1000, 500)
            .expect("range"),
        &data[1000..1500]
    );
    assert_eq!(
        b.read_range(FileType::Pack, &name, 99_996, 4)
            .expect("tail"),
        &data[99_996..]
    );
    assert!(
        b.read_range(FileType::Pack, &name, 99_990, 20).is_err(),
        "range past end must fail"
    );

    // no overwrite
    assert!(
        matches!(
            b.write_new(FileType::Pack, &name, b"other"),
            Err(BackendError::AlreadyExists { .. })
        ),
        "overwrite must fail"
    );
    assert_eq!(
        b.read(FileType::Pack, &name)
            .expect("read after refused overwrite"),
        data
    );

    // list per type
    b.write_new(FileType::Index, "i1", b"x")
        .expect("write index");
    b.write_new(FileType::Index, "i2", b"")
        .expect("write empty");
    b.write_new(FileType::Config, "config", b"cfg")
        .expect("write config");
    b.write_new(FileType::Key, "k1", b"key").expect("write key");
    let mut idx = b.list(FileType::Index).expect("list index");
    idx.sort();
    assert_eq!(idx, vec!["i1".to_owned(), "i2".to_owned()]);
    assert_eq!(
        b.list(FileType::Pack).expect("list packs"),
        vec![name.clone()]
    );
    assert_eq!(
        b.list(FileType::Config).expect("list config"),
        vec!["config".to_owned()]
    );
    assert_eq!(
        b.read(FileType::Config, "config").expect("read config"),
        b"cfg"
    );
    assert_eq!(b.stat(FileType::Index, "i2").expect("stat empty"), 0);
    sizes_match(b, FileType::Index, &[("i1", 1), ("i2", 0)]);
    sizes_match(b, FileType::Pack, &[(&name, data.len() as u64)]);
    sizes_match(b, FileType::Config, &[("config", 3)]);
    assert!(
        b.list(FileType::Snapshot)
            .expect("list snapshots")
            .is_empty()
    );

    // delete
    b.remove(FileType::Index, "i1").expect("remove");
    assert!(
        matches!(
            b.read(FileType::Index, "i1"),
            Err(BackendError::NotFound { .. })
        ),
        "read removed"
    );
    b.remove(FileType::Index, "i1")
        .expect("remove twice is fine");
    assert_eq!(
        b.list(FileType::Index).expect("list after remove"),
        vec!["i2".to_owned()]
    );
    b.write_new(FileType::Index, "i1", b"again")
        .expect("write after remove");

    // staged objects: written in pieces, named at commit
    let staged_name = "cd".to_owned() + &"1".repeat(62);
    let mut s = b.stage(FileType::Pack).expect("stage");
    for piece in data.chunks(7_000) {
        std::io::Write::write_all(&mut s, piece).expect("staged write");
    }
    assert!(
        !b.list(FileType::Pack)
            .expect("list while staging")
            .contains(&staged_name),
        "staged object visible before commit"
    );
    s.commit(b, &staged_name).expect("commit staged");
    assert_eq!(
        b.read(FileType::Pack, &staged_name)
            .expect("read committed"),
        data
    );
    let mut again = b.stage(FileType::Pack).expect("stage again");
    std::io::Write::write_all(&mut again, b"other").expect("staged write");
    assert!(
        matches!(
            again.commit(b, &staged_name),
            Err(BackendError::AlreadyExists { .. })
        ),
        "a commit must not overwrite"
    );
    assert_eq!(
        b.read(FileType::Pack, &staged_name)
            .expect("read after refused commit"),
        data
    );
    let mut dropped = b.stage(FileType::Pack).expect("stage dropped");
    std::io::Write::write_all(&mut dropped, b"never").expect("staged write");
    drop(dropped);
    let mut packs = b.list(FileType::Pack).expect("list after drop");
    packs.sort();
    assert_eq!(packs, vec![name.clone(), staged_name.clone()]);
    let len = data.len() as u64;
    sizes_match(b, FileType::Pack, &[(&name, len), (&staged_name, len)]);
}

/// `list_sizes` names exactly `want`, and each size it gives is right
/// (an unknown size is allowed: the caller asks `stat`).
fn sizes_match(b: &dyn Backend, ft: FileType, want: &[(&str, u64)]) {
    let mut got = b.list_sizes(ft).expect("list_sizes");
    got.sort();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let mut want = want.to_vec();
    want.sort_unstable();
    let want_names: Vec<&str> = want.iter().map(|w| w.0).collect();
    assert_eq!(names, want_names, "list_sizes({ft:?}) names");
    for ((n, size), (_, real)) in got.iter().zip(&want) {
        if let Some(size) = size {
            assert_eq!(size, real, "list_sizes({ft:?}) size of {n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_conforms() {
        run_conformance(&crate::backend::MemoryBackend::new().unwrap());
    }

    #[test]
    fn local_conforms() {
        let d = tempfile::tempdir().unwrap();
        let b = crate::backend::LocalBackend::new(d.path().join("repo")).unwrap();
        run_conformance(&b);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("repo/keys/k1"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(
            std::fs::read_dir(d.path().join("repo/tmp"))
                .unwrap()
                .next()
                .is_none(),
            "tmp left behind"
        );
    }
}
