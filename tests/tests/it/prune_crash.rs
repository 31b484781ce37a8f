//! Prune killed between every pair of storage operations.
//!
//! A backend wrapper lets the first N writes/removes of a prune through and
//! fails every later one, which is what a kill -9 after the N-th operation
//! leaves behind (reads never change storage). For every N, on a fresh copy
//! of the repository: `check --read-data` passes, every kept snapshot
//! restores byte for byte, and new prunes finish the job (nothing unused
//! left, check still clean).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use rdr_core::backend::{Backend, BackendError, FileType, Hooked, MemoryBackend};
use rdr_core::ops::backup::{BackupOptions, BackupSource, backup};
use rdr_core::ops::check::{CheckOptions, ReadData, check};
use rdr_core::ops::forget::{ForgetOptions, forget};
use rdr_core::ops::policy::{KeepCount, Policy};
use rdr_core::ops::progress::NoProgress;
use rdr_core::ops::prune::{MaxUnused, PruneOptions, prune};
use rdr_core::ops::restore::{RestoreOptions, restore};
use rdr_core::ops::select::{GroupBy, SnapshotFilter};
use rdr_core::{Credential, InitOptions, LockHolder, LockKind, NewKey, Repository, Storage};

/// `inner`, letting `budget` mutations through, then failing all of them.
fn crashing(inner: Arc<MemoryBackend>, budget: i64) -> Hooked {
    let budget = Arc::new(AtomicI64::new(budget));
    let spend = move |op: &'static str, name: &str| {
        if budget.fetch_sub(1, Ordering::SeqCst) > 0 {
            Ok(())
        } else {
            Err(BackendError::Io {
                op,
                path: name.to_owned(),
                message: "killed".into(),
            })
        }
    };
    let spend2 = spend.clone();
    Hooked::new(
        inner,
        Box::new(move |inner, ft, name, data| {
            spend("write", name)?;
            inner.write_new(ft, name, data)
        }),
    )
    .on_remove(Box::new(move |inner, ft, name| {
        spend2("remove", name)?;
        inner.remove(ft, name)
    }))
}

const TYPES: [FileType; 6] = [
    FileType::Config,
    FileType::Key,
    FileType::Pack,
    FileType::Index,
    FileType::Snapshot,
    FileType::Lock,
];

fn copy(src: &MemoryBackend) -> Arc<MemoryBackend> {
    let dst = MemoryBackend::new().unwrap();
    dst.create_layout().unwrap();
    for ft in TYPES {
        for name in src.list(ft).unwrap() {
            dst.write_new(ft, &name, &src.read(ft, &name).unwrap())
                .unwrap();
        }
    }
    Arc::new(dst)
}

fn open(b: Arc<dyn Backend>) -> Repository {
    Repository::open(&Storage::from_backend(b), &Credential::Passphrase("pw")).unwrap()
}

/// A holder whose process is gone, so a lock it leaves behind is stale.
fn dead_holder() -> LockHolder {
    LockHolder {
        pid: u32::MAX - 3,
        ..LockHolder::current()
    }
}

fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.insert(p.file_name().unwrap().into(), std::fs::read(&p).unwrap());
    }
    out
}

fn random(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    blake3::Hasher::new()
        .update(&seed.to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

struct Fixture {
    base: Arc<MemoryBackend>,
    /// Kept snapshots' expected files.
    kept: Vec<(rdr_core::SnapshotId, BTreeMap<PathBuf, Vec<u8>>)>,
    src: tempfile::TempDir,
}

/// Four backups of a changing directory (small packs, so that a prune has
/// many objects to write and delete), then forget all but the last two.
fn fixture() -> Fixture {
    let base = Arc::new(MemoryBackend::new().unwrap());
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let init = InitOptions {
        pack_size: 1 << 20,
        ..InitOptions::default()
    };
    Repository::init(
        &Storage::from_backend(base.clone()),
        &init,
        &key,
        &LockHolder::current(),
    )
    .unwrap();
    let repo = open(base.clone());
    let src = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    for round in 0..4u64 {
        for f in 0..4u64 {
            if round == 0 || f == round {
                let name = src.path().join(format!("f{f}"));
                std::fs::write(&name, random(round * 10 + f, 700_000)).unwrap();
            }
        }
        let opts = BackupOptions {
            time: Some(
                1_800_000_000_000_000_000 + i64::try_from(round).unwrap() * 3_600_000_000_000,
            ),
            ..BackupOptions::default()
        };
        let r = backup(
            &repo,
            BackupSource::Paths(vec![src.path().into()]),
            &opts,
            &NoProgress,
        )
        .unwrap();
        expected.push((r.id.unwrap(), files(src.path())));
    }
    let lock = repo
        .lock(LockKind::Exclusive, &LockHolder::current())
        .unwrap();
    let policy = Policy {
        last: KeepCount::N(2),
        ..Policy::default()
    };
    let fo = ForgetOptions {
        policy,
        group_by: GroupBy::parse("host,paths").unwrap(),
        filter: SnapshotFilter::default(),
        time_zone: rdr_core::jiff::tz::TimeZone::UTC,
        now: i64::MAX,
        dry_run: false,
        allow_empty: false,
    };
    assert_eq!(forget(&repo, &fo, &lock).unwrap().removed, 2);
    drop(lock);
    Fixture {
        base,
        kept: expected.split_off(2),
        src,
    }
}

fn prune_opts(instant: bool) -> PruneOptions {
    PruneOptions {
        max_unused: MaxUnused::Percent(0.0),
        grace: Duration::ZERO,
        instant_delete: instant,
        ..PruneOptions::default()
    }
}

/// Prunes with a crash after `budget` mutations; returns whether it crashed.
fn crashing_prune(b: &Arc<MemoryBackend>, budget: i64, instant: bool) -> bool {
    let crashing = Arc::new(crashing(b.clone(), budget));
    let repo = open(crashing);
    let kind = if instant {
        LockKind::ExclusiveWithBackups
    } else {
        LockKind::Exclusive
    };
    let Ok(lock) = repo.lock(kind, &dead_holder()) else {
        return true;
    };
    let res = prune(&repo, &prune_opts(instant), &NoProgress, &lock);
    std::mem::forget(lock); // a killed process removes nothing
    res.is_err()
}

fn assert_whole(b: &Arc<MemoryBackend>, f: &Fixture, what: &str) {
    let repo = open(b.clone());
    let lock = repo.lock(LockKind::Shared, &LockHolder::current()).unwrap();
    let opts = CheckOptions {
        read_data: Some(ReadData::All),
    };
    let report = check(&repo, &opts, &NoProgress, &lock).unwrap();
    assert!(report.is_ok(), "{what}: check failed: {:?}", report.errors);
    drop(lock);
    for (id, want) in &f.kept {
        let snap = repo.load_snapshot(id).unwrap();
        let target = tempfile::tempdir().unwrap();
        let r = restore(
            &repo,
            &snap,
            "",
            &RestoreOptions::new(target.path()),
            &NoProgress,
        )
        .unwrap();
        assert!(r.errors.is_empty(), "{what}: restore errors {:?}", r.errors);
        let got = files(&target.path().join(f.src.path().strip_prefix("/").unwrap()));
        assert!(
            got == *want,
            "{what}: snapshot {id} restored different content"
        );
    }
}

/// Prunes until nothing is left to do; the repository then holds no
/// unused blob and no marked pack.
fn finish(b: &Arc<MemoryBackend>, f: &Fixture, what: &str) {
    let repo = open(b.clone());
    for _ in 0..3 {
        let lock = repo
            .lock(LockKind::Exclusive, &LockHolder::current())
            .unwrap();
        prune(&repo, &prune_opts(false), &NoProgress, &lock).unwrap();
    }
    assert_nothing_left(b, what);
    assert_whole(b, f, what);
}

/// A dry-run prune finds nothing to delete, mark or repack, and no unused blob.
fn assert_nothing_left(b: &Arc<MemoryBackend>, what: &str) {
    let repo = open(b.clone());
    let lock = repo
        .lock(LockKind::Exclusive, &LockHolder::current())
        .unwrap();
    let dry = PruneOptions {
        dry_run: true,
        ..prune_opts(false)
    };
    let r = prune(&repo, &dry, &NoProgress, &lock).unwrap();
    drop(lock);
    assert_eq!(
        (
            r.deleted.packs,
            r.marked.packs,
            r.waiting.packs,
            r.repacked.packs
        ),
        (0, 0, 0, 0),
        "{what}: prunes did not finish the job: {r:?}"
    );
    assert_eq!(r.blobs, r.blobs_used, "{what}: unused blobs left");
}

fn run(instant: bool) {
    let f = fixture();
    // The two phases: marking (and repacking), then deleting; an instant
    // prune does it all in one run.
    let mut state = f.base.clone();
    let phases = if instant { 1 } else { 2 };
    for phase in 0..phases {
        let mut n = 0;
        loop {
            let b = copy(&state);
            let crashed = crashing_prune(&b, n, instant);
            let what = format!("instant={instant} phase {phase}, killed after {n} operations");
            assert_whole(&b, &f, &what);
            if !crashed {
                state = b;
                break;
            }
            if n % 3 == 0 {
                finish(&b, &f, &what);
            }
            n += 1;
        }
        assert!(n > 3, "phase {phase} made only {n} storage operations");
    }
    if instant {
        assert_nothing_left(&state, "after one instant prune");
    }
    finish(&state, &f, "after both phases");
}

#[test]
fn prune_killed_at_every_step_loses_nothing() {
    run(false);
}

#[test]
fn instant_prune_killed_at_every_step_loses_nothing() {
    run(true);
}
