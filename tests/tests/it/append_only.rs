//! Immutable copies: storage that refuses deletion, and repositories
//! created append-only. Backup, check and the reads work; everything that
//! deletes fails before it changes anything.

use std::collections::BTreeMap;
use std::sync::Arc;

use rdr_core::backend::{Backend, BackendError, FileType, Hooked, MemoryBackend};
use rdr_core::ops::backup::{BackupOptions, BackupSource, backup};
use rdr_core::ops::check::{CheckOptions, ReadData, check};
use rdr_core::ops::forget::{ForgetOptions, forget, forget_ids};
use rdr_core::ops::policy::{KeepCount, Policy};
use rdr_core::ops::progress::NoProgress;
use rdr_core::ops::prune::{MaxUnused, PruneOptions, prune};
use rdr_core::ops::repair::{RepairIndexOptions, repair_index};
use rdr_core::ops::select::{GroupBy, SnapshotFilter};
use rdr_core::ops::tag::{TagChange, tag};
use rdr_core::{
    Credential, ErrorKind, InitOptions, LockHolder, LockKind, NewKey, Repository, Storage,
};

const KINDS: [FileType; 6] = [
    FileType::Config,
    FileType::Key,
    FileType::Pack,
    FileType::Index,
    FileType::Snapshot,
    FileType::Record,
];

/// Every object but the lock files, with its bytes.
fn contents(b: &dyn Backend) -> BTreeMap<(String, String), Vec<u8>> {
    let mut out = BTreeMap::new();
    for ft in KINDS {
        for name in b.list(ft).unwrap() {
            let bytes = b.read(ft, &name).unwrap();
            out.insert((format!("{ft:?}"), name), bytes);
        }
    }
    out
}

/// `inner`, refusing every deletion as append-only storage does.
fn refusing(inner: Arc<MemoryBackend>) -> Hooked {
    Hooked::new(
        inner,
        Box::new(|inner, ft, name, data| inner.write_new(ft, name, data)),
    )
    .on_remove(Box::new(|_, ft, name| {
        Err(BackendError::DeleteRefused {
            path: ft.path(name),
            message: "permission denied".into(),
        })
    }))
}

fn init(base: &Arc<MemoryBackend>, append_only: bool) {
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let opts = InitOptions {
        append_only,
        ..InitOptions::default()
    };
    let storage = Storage::from_backend(base.clone());
    Repository::init(&storage, &opts, &key, &LockHolder::current()).unwrap();
}

fn open(b: Arc<dyn Backend>) -> Repository {
    Repository::open(&Storage::from_backend(b), &Credential::Passphrase("pw")).unwrap()
}

/// Three backups of a changing file.
fn three_backups(repo: &Repository) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    for round in 0..3u8 {
        std::fs::write(src.path().join("f"), vec![round; 300_000]).unwrap();
        let opts = BackupOptions {
            time: Some(1_800_000_000_000_000_000 + i64::from(round) * 3_600_000_000_000),
            ..BackupOptions::default()
        };
        let source = BackupSource::Paths(vec![src.path().into()]);
        let r = backup(repo, source, &opts, &NoProgress).unwrap();
        assert!(r.id.is_some());
    }
    src
}

fn keep_last_one() -> ForgetOptions {
    ForgetOptions {
        policy: Policy {
            last: KeepCount::N(1),
            ..Policy::default()
        },
        group_by: GroupBy::parse("host,paths").unwrap(),
        filter: SnapshotFilter::default(),
        time_zone: rdr_core::jiff::tz::TimeZone::UTC,
        now: i64::MAX,
        dry_run: false,
        allow_empty: false,
    }
}

fn prune_now() -> PruneOptions {
    PruneOptions {
        max_unused: MaxUnused::Percent(0.0),
        grace: std::time::Duration::ZERO,
        ..PruneOptions::default()
    }
}

/// Every deleting operation fails with `DeletionRefused` and leaves the
/// repository's objects as they were; check still passes.
fn deleting_is_refused(repo: &Repository, base: &MemoryBackend, expect: &str) {
    let before = contents(base);
    let me = LockHolder::current();
    let lock = repo.lock(LockKind::Exclusive, &me).unwrap();
    let snaps = repo.snapshots().unwrap();
    assert_eq!(snaps.len(), 3);
    let refused = |r: rdr_core::Result<()>, what: &str| {
        let e = r.expect_err(what);
        assert_eq!(e.kind(), ErrorKind::DeletionRefused, "{what}: {e}");
        assert!(e.to_string().contains(expect), "{what}: {e}");
        assert_eq!(contents(base), before, "{what} changed the repository");
    };
    refused(forget(repo, &keep_last_one(), &lock).map(drop), "forget");
    let ids = [snaps[0].0];
    refused(forget_ids(repo, &ids, false, &lock).map(drop), "forget ids");
    refused(
        prune(repo, &prune_now(), &NoProgress, &lock).map(drop),
        "prune",
    );
    let ri = RepairIndexOptions::default();
    refused(
        repair_index(repo, &ri, &NoProgress, &lock).map(drop),
        "repair index",
    );
    drop(lock);
    let change = TagChange {
        add: vec!["x".into()],
        ..TagChange::default()
    };
    refused(tag(repo, &snaps[..1], &change, &me).map(drop), "tag");
    // what deletes checks before it locks: no exclusive lock is left
    let exclusive = || {
        repo.locks()
            .unwrap()
            .into_iter()
            .filter(|(_, l)| l.as_ref().is_ok_and(|l| l.exclusive))
            .count()
    };
    let held = exclusive();
    let to_delete = repo.lock_to_delete(LockKind::Exclusive, &me, "prune");
    refused(to_delete.map(drop), "lock to delete");
    assert_eq!(exclusive(), held);
    // what only reads or adds works
    let mut dry = keep_last_one();
    dry.dry_run = true;
    let lock = repo.lock(LockKind::Exclusive, &me).unwrap();
    let plan = forget(repo, &dry, &lock).unwrap();
    let would: usize = plan.groups.iter().map(|g| g.remove.len()).sum();
    assert_eq!((plan.removed, would), (0, 2));
    let dry_prune = PruneOptions {
        dry_run: true,
        ..prune_now()
    };
    prune(repo, &dry_prune, &NoProgress, &lock).unwrap();
    drop(lock);
    let co = CheckOptions {
        read_data: Some(ReadData::All),
    };
    let lock = repo.lock(LockKind::Shared, &me).unwrap();
    let report = check(repo, &co, &NoProgress, &lock).unwrap();
    assert!(report.is_ok(), "{:?}", report.errors);
    drop(lock);
    // records are added, and an append-only repository keeps them all
    for _ in 0..32 {
        repo.save_record(&report.record(&co)).unwrap();
    }
    assert_eq!(contents(base).len(), before.len() + 32);
}

#[test]
fn storage_that_refuses_deletion_takes_backups_and_refuses_prune_cleanly() {
    let base = Arc::new(MemoryBackend::new().unwrap());
    init(&base, false);
    let repo = open(Arc::new(refusing(base.clone())));
    assert!(!repo.append_only());
    let _src = three_backups(&repo);
    deleting_is_refused(&repo, &base, "the storage refused the deletion");
}

#[test]
fn an_append_only_repository_refuses_deletion_itself() {
    let base = Arc::new(MemoryBackend::new().unwrap());
    init(&base, true);
    let repo = open(base.clone());
    assert!(repo.append_only());
    assert_eq!(repo.config().version, 4);
    let _src = three_backups(&repo);
    deleting_is_refused(&repo, &base, "is an append-only repository");
    // key changes would leave the old key valid
    let e = repo
        .change_key(
            &NewKey::Passphrase {
                passphrase: "new".to_owned().into(),
                log_n: 10,
            },
            &LockHolder::current(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeletionRefused, "{e}");
    assert_eq!(base.list(FileType::Key).unwrap().len(), 1);
}
