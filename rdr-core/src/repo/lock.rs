//! Repository locks: shared and exclusive lock files, refreshed while held,
//! stale ones detected.
//!
//! Locks guard maintenance (prune, repair, check). A backup holds a backup
//! lock, which excludes only what deletes at once (`prune
//! --instant-delete`): the normal prune is two-phase, so a backup never
//! waits on it and it never waits on a backup. A lock is stale when its holder's process is gone
//! (same host, no such pid) or when it was not refreshed for
//! [`STALE_AFTER_SECS`]; holders refresh every [`REFRESH_SECS`].

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

use super::Repository;
use crate::backend::FileType;
use crate::error::{Error, Result};
use crate::format::lock::LockInfo;
use crate::id::LockId;

/// Seconds between refreshes of a held lock.
pub const REFRESH_SECS: u64 = 300;
/// A lock not refreshed for this long is stale.
pub const STALE_AFTER_SECS: i64 = 1800;

/// What a lock excludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Many holders; excludes exclusive holders.
    Shared,
    /// One holder; excludes everyone but backups.
    Exclusive,
    /// Held by a backup: excludes only [`LockKind::ExclusiveWithBackups`].
    /// Taking it waits up to [`BACKUP_WAITS_FOR`] for such a lock to go
    /// (a prune deleting at once: it takes one only when no backup runs).
    Backup,
    /// One holder; excludes everyone, backups included (what deletes data
    /// at once, which a running backup may be about to reference).
    ExclusiveWithBackups,
}

impl LockKind {
    fn conflicts_with(self, other: &LockInfo) -> bool {
        match self {
            Self::Shared => other.exclusive,
            Self::Exclusive => !other.backup,
            Self::Backup => other.exclusive && other.excludes_backups,
            Self::ExclusiveWithBackups => true,
        }
    }
}

/// How long a backup waits for a lock that excludes backups (held by a
/// prune that deletes at once) before it fails with [`Error::Locked`].
pub const BACKUP_WAITS_FOR: Duration = Duration::from_secs(30 * 60);

/// Who takes a lock or adds a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Host name.
    pub host: String,
    /// User name.
    pub user: String,
    /// Process id.
    pub pid: u32,
}

impl LockHolder {
    /// This process: host name, user name (from /etc/passwd, else the uid) and pid.
    #[must_use]
    pub fn current() -> Self {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        Self {
            host,
            user: current_user(),
            pid: std::process::id(),
        }
    }
}

fn current_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                let id: u32 = f.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn pid_alive(pid: u32) -> bool {
    let proc_root = std::path::Path::new("/proc");
    if !proc_root.join("self").exists() {
        return true; // cannot tell: assume alive
    }
    proc_root.join(pid.to_string()).exists()
}

/// Whether a lock is stale, seen from `host` at time `now`.
#[must_use]
pub fn is_stale(info: &LockInfo, host: &str, now: i64) -> bool {
    now - info.time > STALE_AFTER_SECS || (info.host == host && !pid_alive(info.pid))
}

fn describe(info: &LockInfo) -> String {
    format!(
        "{} lock held by {}@{} (pid {}) since {} UTC",
        if info.backup {
            "backup"
        } else if info.exclusive {
            "exclusive"
        } else {
            "shared"
        },
        info.user,
        info.host,
        info.pid,
        crate::time::format_ns(info.created.saturating_mul(1_000_000_000))
    )
}

/// A held lock; released (its file removed) on drop.
pub struct LockGuard {
    repo: Repository,
    kind: LockKind,
    current: Arc<Mutex<Held>>,
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
    /// The storage was seen to delete just before this lock was taken.
    deletes: bool,
}

/// Lock files this process released that the storage kept (it refused
/// their deletion): they hold nothing, so they never conflict with this
/// process's locks. Other processes see them go stale as usual.
static RELEASED: Mutex<Vec<LockId>> = Mutex::new(Vec::new());

fn released(id: LockId) {
    RELEASED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(id);
}

fn is_released(id: LockId) -> bool {
    RELEASED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains(&id)
}

/// Removes a lock file this process no longer holds.
fn release(repo: &Repository, id: LockId) -> crate::backend::BackendResult<()> {
    match repo.backend().remove(FileType::Lock, &id.to_hex()) {
        Ok(()) | Err(crate::backend::BackendError::NotFound { .. }) => Ok(()),
        Err(e) => {
            released(id);
            Err(e)
        }
    }
}

/// A fresh lock file of `kind` for `holder`.
fn new_lock_info(kind: LockKind, holder: &LockHolder) -> LockInfo {
    let created = now();
    LockInfo {
        exclusive: matches!(kind, LockKind::Exclusive | LockKind::ExclusiveWithBackups),
        host: holder.host.clone(),
        pid: holder.pid,
        user: holder.user.clone(),
        created,
        time: created,
        token: u64::from_le_bytes(crate::crypto::rng::bytes()),
        backup: kind == LockKind::Backup,
        excludes_backups: kind == LockKind::ExclusiveWithBackups,
    }
}

/// The lock file a guard holds now, and what it says.
struct Held {
    id: LockId,
    info: LockInfo,
}

/// Writes a newer copy of the held lock file and makes it the current
/// one; returns the old one's id, which the caller removes.
fn renew(repo: &Repository, held: &Mutex<Held>) -> Result<LockId> {
    let mut h = held.lock().unwrap_or_else(PoisonError::into_inner);
    let mut info = h.info.clone();
    info.time = now();
    info.token = u64::from_le_bytes(crate::crypto::rng::bytes());
    let new_id = repo.write_lock(&info)?;
    h.info = info;
    Ok(std::mem::replace(&mut h.id, new_id))
}

impl LockGuard {
    /// What this lock excludes.
    #[must_use]
    pub fn kind(&self) -> LockKind {
        self.kind
    }

    /// The current lock file.
    #[must_use]
    pub fn id(&self) -> LockId {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .id
    }

    /// Fails before anything is changed when `what` (forget, prune, ...)
    /// could not delete: with [`Error::AppendOnly`] when the repository is
    /// append-only, and with the storage's refusal
    /// ([`BackendError::DeleteRefused`](crate::BackendError)) when it
    /// keeps what is written (append-only or object-locked storage,
    /// credentials without delete permission). A lock taken with
    /// [`Repository::lock_to_delete`] was probed already; for any other
    /// the probe renews this lock's file and removes the old one.
    ///
    /// # Errors
    /// As above, or the storage's error writing the lock file.
    pub fn ensure_deletable(&self, what: &str) -> Result<()> {
        self.repo.refuse_if_append_only(what)?;
        if self.deletes {
            return Ok(());
        }
        let old = renew(&self.repo, &self.current)?;
        Ok(release(&self.repo, old)?)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let _ = release(&self.repo, self.id());
    }
}

impl Repository {
    /// Every lock file, decoded where possible.
    ///
    /// # Errors
    /// Storage errors while listing.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn locks(&self) -> Result<Vec<(LockId, Result<LockInfo>)>> {
        let ids = self.list_ids(FileType::Lock)?;
        Ok(ids
            .into_iter()
            .map(|id| {
                let info = self
                    .load_file(FileType::Lock, &id)
                    .and_then(|p| LockInfo::decode(&p).map_err(|e| Error::corrupt("lock", id, e)));
                (LockId(id), info)
            })
            .collect())
    }

    fn conflicts(
        &self,
        kind: LockKind,
        holder: &LockHolder,
        own: Option<LockId>,
    ) -> Result<Option<String>> {
        let t = now();
        for (id, info) in self.locks()? {
            if Some(id) == own || is_released(id) {
                continue;
            }
            // A lock file that does not decode protects nothing: ignore it
            // (`rdr unlock` removes it).
            let Ok(info) = info else { continue };
            if is_stale(&info, &holder.host, t) {
                continue;
            }
            if kind.conflicts_with(&info) {
                return Ok(Some(describe(&info)));
            }
        }
        Ok(None)
    }

    /// Writes a lock file, then reads it back: a store that acknowledges a
    /// write it did not keep (or that another writer replaced) must not
    /// leave us believing we hold a lock.
    fn write_lock(&self, info: &LockInfo) -> Result<LockId> {
        let id = LockId(self.save_file(FileType::Lock, &info.encode())?);
        let kept = self
            .load_file(FileType::Lock, &id.0)
            .ok()
            .and_then(|p| LockInfo::decode(&p).ok());
        if kept.as_ref() != Some(info) {
            let _ = self.backend().remove(FileType::Lock, &id.to_hex());
            return Err(crate::backend::BackendError::Io {
                op: "verify",
                path: FileType::Lock.path(&id.to_hex()),
                message: format!(
                    "the lock file did not read back as written on {}: the storage does not \
                     keep what it acknowledges",
                    self.backend().location()
                ),
            }
            .into());
        }
        Ok(id)
    }

    /// Takes a lock, refreshed in the background until the guard is dropped.
    /// A conflicting live lock is waited for up to the retry time set with
    /// [`Repository::with_lock_retry`].
    ///
    /// # Errors
    /// [`Error::Locked`] naming the holder of a conflicting live lock.
    pub fn lock(&self, kind: LockKind, holder: &LockHolder) -> Result<LockGuard> {
        let retry = match (self.lock_retry, kind) {
            (Some(r), _) => r,
            (None, LockKind::Backup) => BACKUP_WAITS_FOR,
            (None, _) => Duration::ZERO,
        };
        let deadline = std::time::Instant::now() + retry;
        let mut pause = Duration::from_millis(250);
        loop {
            match self.try_lock(kind, holder) {
                Err(Error::Locked { .. }) if std::time::Instant::now() < deadline => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_secs(10));
                }
                other => return other,
            }
        }
    }

    fn try_lock(&self, kind: LockKind, holder: &LockHolder) -> Result<LockGuard> {
        if let Some(h) = self.conflicts(kind, holder, None)? {
            return Err(Error::Locked { holder: h });
        }
        let info = new_lock_info(kind, holder);
        let id = self.write_lock(&info)?;
        // Someone may have locked between our check and our write: check
        // again, and back off if so.
        if let Some(h) = self.conflicts(kind, holder, Some(id))? {
            let _ = release(self, id);
            return Err(Error::Locked { holder: h });
        }
        let current = Arc::new(Mutex::new(Held { id, info }));
        let (stop, rx) = crossbeam_channel::bounded::<()>(0);
        let repo = self.clone();
        let cur = Arc::clone(&current);
        let refresher = std::thread::Builder::new()
            .name("rdr-lock-refresh".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) =
                    rx.recv_timeout(Duration::from_secs(REFRESH_SECS))
                {
                    if let Ok(old) = renew(&repo, &cur) {
                        let _ = release(&repo, old);
                    }
                }
            })
            .map_err(|e| Error::Io {
                context: "starting the lock refresher".into(),
                source: e,
            })?;
        Ok(LockGuard {
            repo: self.clone(),
            kind,
            current,
            stop: Some(stop),
            refresher: Some(refresher),
            deletes: false,
        })
    }

    /// Takes a lock for work that deletes (`what`: forget, prune, ...),
    /// having made sure first that it can: [`Error::AppendOnly`] when the
    /// repository is append-only; the storage's refusal
    /// ([`BackendError::DeleteRefused`](crate::BackendError)) when a
    /// throwaway lock file of `holder` (of the backup kind, which hinders
    /// only instant deletion) cannot be removed. Either way nothing was
    /// changed and no exclusive lock is left behind.
    ///
    /// # Errors
    /// As above, and as [`Repository::lock`].
    pub fn lock_to_delete(
        &self,
        kind: LockKind,
        holder: &LockHolder,
        what: &str,
    ) -> Result<LockGuard> {
        self.refuse_if_append_only(what)?;
        let id = self.write_lock(&new_lock_info(LockKind::Backup, holder))?;
        release(self, id)?;
        let mut guard = self.lock(kind, holder)?;
        guard.deletes = true;
        Ok(guard)
    }

    /// Removes stale and undecodable lock files; live locks are kept.
    /// Returns the removed lock ids.
    ///
    /// # Errors
    /// Storage errors.
    pub fn remove_stale_locks(&self, holder: &LockHolder) -> Result<Vec<LockId>> {
        let t = now();
        let mut removed = Vec::new();
        for (id, info) in self.locks()? {
            let stale = info.as_ref().map_or(true, |i| is_stale(i, &holder.host, t));
            if stale {
                self.backend().remove(FileType::Lock, &id.to_hex())?;
                removed.push(id);
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
