//! Tests of the repository locks (`lock.rs`).
use super::*;

fn repo() -> Repository {
    crate::repo::test_repo(&crate::repo::InitOptions::default())
}

fn other_host() -> LockHolder {
    LockHolder {
        host: "elsewhere".into(),
        user: "op".into(),
        pid: 1,
    }
}

#[test]
fn exclusive_excludes_everyone_shared_share() {
    let r = repo();
    let me = LockHolder::current();
    let s1 = r.lock(LockKind::Shared, &me).unwrap();
    let s2 = r.lock(LockKind::Shared, &other_host()).unwrap();
    let e = r.lock(LockKind::Exclusive, &other_host());
    assert!(matches!(e, Err(Error::Locked { .. })));
    drop((s1, s2));
    assert!(
        r.locks().unwrap().is_empty(),
        "dropping a guard removes its lock"
    );
    let ex = r.lock(LockKind::Exclusive, &me).unwrap();
    match r.lock(LockKind::Shared, &other_host()) {
        Err(Error::Locked { holder }) => assert!(holder.contains("exclusive"), "{holder}"),
        other => panic!("expected Locked, got {:?}", other.map(|g| g.id())),
    }
    assert_eq!(
        r.remove_stale_locks(&me).unwrap().len(),
        0,
        "a live lock is not stale"
    );
    drop(ex);
}

/// Backups and the normal (two-phase) prune never wait on each other;
/// what deletes at once excludes backups, and backups exclude it.
#[test]
fn backup_locks_exclude_only_instant_deletion() {
    let r = repo();
    let me = LockHolder::current();
    let b1 = r.lock(LockKind::Backup, &me).unwrap();
    let b2 = r.lock(LockKind::Backup, &other_host()).unwrap();
    let ex = r.lock(LockKind::Exclusive, &other_host()).unwrap();
    let b3 = r.lock(LockKind::Backup, &me).unwrap();
    assert!(matches!(
        r.lock(LockKind::Shared, &me),
        Err(Error::Locked { .. })
    ));
    drop(ex);
    match r.lock(LockKind::ExclusiveWithBackups, &other_host()) {
        Err(Error::Locked { holder }) => assert!(holder.starts_with("backup"), "{holder}"),
        other => panic!("expected Locked, got {:?}", other.map(|g| g.id())),
    }
    drop((b1, b2, b3));
    let instant = r.lock(LockKind::ExclusiveWithBackups, &me).unwrap();
    let no_wait = r.clone().with_lock_retry(Duration::ZERO);
    assert!(matches!(
        no_wait.lock(LockKind::Backup, &other_host()),
        Err(Error::Locked { .. })
    ));
    // a backup waits for what deletes at once to finish
    let waiting = std::thread::spawn({
        let r = r.clone().with_lock_retry(Duration::from_secs(30));
        move || r.lock(LockKind::Backup, &other_host()).map(|g| g.kind())
    });
    std::thread::sleep(Duration::from_millis(400));
    assert!(!waiting.is_finished(), "the backup did not wait");
    drop(instant);
    assert_eq!(waiting.join().unwrap().unwrap(), LockKind::Backup);
}

#[test]
fn a_lock_the_storage_did_not_keep_is_not_held() {
    use crate::backend::Backend;
    let mem = crate::backend::MemoryBackend::new().unwrap();
    let key = crate::NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let me = LockHolder::current();
    let store = crate::Storage::from_backend(Arc::new(mem.clone()));
    Repository::init(&store, &crate::InitOptions::default(), &key, &me).unwrap();
    // storage that acknowledges lock writes without keeping them
    let forgetful = crate::backend::Hooked::new(
        Arc::new(mem.clone()),
        Box::new(|inner, ft, name, data| {
            if ft == FileType::Lock {
                return Ok(());
            }
            inner.write_new(ft, name, data)
        }),
    );
    let forgetful = crate::Storage::from_backend(Arc::new(forgetful));
    let r = Repository::open(&forgetful, &crate::Credential::Passphrase("pw")).unwrap();
    let err = r
        .lock(LockKind::Exclusive, &me)
        .map(|g| g.id())
        .unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Storage, "{err}");
    assert!(err.to_string().contains("did not read back"), "{err}");
    assert!(err.to_string().contains("memory"), "{err}");
    assert!(mem.list(FileType::Lock).unwrap().is_empty());
    // on storage that keeps them, the same lock is held and verified
    let r = Repository::open(&store, &crate::Credential::Passphrase("pw")).unwrap();
    let g = r.lock(LockKind::Exclusive, &me).unwrap();
    assert_eq!(mem.list(FileType::Lock).unwrap(), vec![g.id().to_hex()]);
}

#[test]
fn stale_locks_are_ignored_and_removed() {
    let r = repo();
    let me = LockHolder::current();
    let t = now();
    // a dead process on this host
    let dead = LockInfo {
        exclusive: true,
        host: me.host.clone(),
        pid: u32::MAX - 7,
        user: "x".into(),
        created: t,
        time: t,
        token: 1,
        backup: false,
        excludes_backups: false,
    };
    // a lock from another host not refreshed for too long
    let old = LockInfo {
        exclusive: true,
        host: "elsewhere".into(),
        pid: 1,
        user: "y".into(),
        created: 0,
        time: t - STALE_AFTER_SECS - 1,
        token: 2,
        backup: false,
        excludes_backups: false,
    };
    // a live lock from another host
    let live = LockInfo {
        exclusive: false,
        host: "elsewhere".into(),
        pid: 1,
        user: "z".into(),
        created: t,
        time: t,
        token: 3,
        backup: false,
        excludes_backups: false,
    };
    for l in [&dead, &old] {
        assert!(is_stale(l, &me.host, t));
        r.write_lock(l).unwrap();
    }
    assert!(!is_stale(&live, &me.host, t));
    let live_id = r.write_lock(&live).unwrap();
    // stale exclusive locks do not block a shared lock
    drop(r.lock(LockKind::Shared, &me).unwrap());
    // but the live shared lock blocks an exclusive one
    assert!(r.lock(LockKind::Exclusive, &me).is_err());
    let removed = r.remove_stale_locks(&me).unwrap();
    assert_eq!(removed.len(), 2);
    let left: Vec<LockId> = r.locks().unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, vec![LockId(live_id.0)]);
}
