//! Backup, listing, restore and dump. Each operation takes a handle, its JSON options (NULL for the
//! defaults) and, when it runs long, callbacks (NULL for none); each
//! returns its report as JSON (the report `rdr --json` prints; free it
//! with `rdr_string_free`) or NULL on error (see `rdr_last_error_code`).

use std::ffi::{c_char, c_int, c_void};
use std::os::fd::RawFd;
use std::path::PathBuf;

use rdr_core::Repository;
use rdr_core::ops::backup::{BackupSource, backup};
use rdr_core::ops::dump::dump;
use rdr_core::ops::ls::{ls, node_json};
use rdr_core::ops::restore::{RestoreOptions, restore};
use rdr_core::ops::select::{GroupBy, choose_snapshot, snapshot_groups_json, split_reference};
use serde_json::{Value, json};

use crate::hooks::{CReader, CWriter, Hooks, dup_fd};
use crate::repo::{RdrRepo, handle};
use crate::request::{BackupRequest, Filtered, LsRequest, RestoreRequest, SnapshotsRequest, parse};
use crate::{FfiResult, RdrCallbacks, RdrReadFn, RdrWriteFn, core, guard, invalid, json_out};
use crate::{common, opt_str_arg, str_arg};

fn backup_report(
    repo: &Repository,
    source: BackupSource,
    req: &BackupRequest,
    hooks: &Hooks,
) -> FfiResult<Value> {
    let opts = req.options(repo)?;
    Ok(core(backup(repo, source, &opts, hooks))?.to_json())
}

/// Backs up files and directories, or the output of a command.
/// Options: `paths` (list) or `command` (argv list, with `filename`: the
/// name its output gets in the snapshot); `tags`, `host`, `time`
/// ("2026-01-31 02:00:00" UTC), `parent` (snapshot id), `force`,
/// `dry_run`, `exclude`, `iexclude` (patterns), `exclude_caches`,
/// `exclude_if_present` (file names), `exclude_larger_than` ("1GiB"),
/// `one_file_system`. Returns the summary (`snapshot_id` is null in a
/// dry run; `incomplete` is true when entries could not be read).
///
/// # Safety
/// `repo` a live handle; `options_json` NULL or a NUL-terminated string;
/// `cb` NULL or valid callbacks.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_backup(
    repo: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, req, hooks) =
            unsafe { common::<BackupRequest>(repo, options_json, cb, "backup")? };
        let source = match (req.paths.is_empty(), req.command.is_empty()) {
            (false, true) => BackupSource::Paths(req.paths.iter().map(PathBuf::from).collect()),
            (true, false) => BackupSource::Command {
                filename: req.filename(),
                argv: req.command.clone(),
            },
            (true, true) => return Err(invalid("nothing to back up: give paths or a command")),
            (false, false) => return Err(invalid("give paths or a command, not both")),
        };
        backup_report(repo, source, &req, &hooks)?
    })
}

/// Backs up a stream read through `read` (called with `reader_data`) as
/// one file named by the option `filename` (default "stdin"); the other
/// options are those of `rdr_backup`.
///
/// # Safety
/// As `rdr_backup`; `read` must be callable from rdr's threads with
/// `reader_data` until this returns.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_backup_read(
    repo: *const RdrRepo,
    read: RdrReadFn,
    reader_data: *mut c_void,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, req, hooks) =
            unsafe { common::<BackupRequest>(repo, options_json, cb, "backup")? };
        let reader = Box::new(CReader::new(read, reader_data)?);
        let source = BackupSource::Stream {
            filename: req.filename(),
            reader,
        };
        backup_report(repo, source, &req, &hooks)?
    })
}

/// Backs up what can be read from the file descriptor `fd` (a pipe, a
/// file, a socket) until its end, as `rdr_backup_read` does. rdr reads a
/// duplicate of `fd`; the caller still closes `fd`.
///
/// # Safety
/// As `rdr_backup`; `fd` must stay open until this returns.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_backup_fd(
    repo: *const RdrRepo,
    fd: c_int,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, req, hooks) =
            unsafe { common::<BackupRequest>(repo, options_json, cb, "backup")? };
        let reader = Box::new(dup_fd(RawFd::from(fd))?);
        let source = BackupSource::Stream {
            filename: req.filename(),
            reader,
        };
        backup_report(repo, source, &req, &hooks)?
    })
}

/// The snapshots as a JSON list (newest last), as `rdr snapshots --json`.
/// Options: `host`, `tags`, `path` (filters), `group_by`
/// ("host,paths,tags": then a list of `{group_key, snapshots}`), `latest`
/// (the newest N per group).
///
/// # Safety
/// `repo` a live handle; `options_json` NULL or a NUL-terminated string.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_snapshots(
    repo: *const RdrRepo,
    options_json: *const c_char,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, opts) = unsafe {
            (
                handle(repo, "repo")?,
                opt_str_arg(options_json, "options_json")?,
            )
        };
        let req: SnapshotsRequest = parse(opts)?;
        let by = core(GroupBy::parse(req.group_by.as_deref().unwrap_or("")))?;
        let filter = req.filter();
        let (all, _unreadable) = core(repo.snapshots_readable())?;
        let chosen = all.into_iter().filter(|(_, s)| filter.matches(s)).collect();
        let groups = by.group_latest(chosen, req.latest);
        snapshot_groups_json(&groups, by != GroupBy::default())
    })
}

/// The entries of a snapshot (`"latest"`, an id or a prefix, optionally
/// `ID:subfolder`) as a JSON list, as `rdr ls --json`. Options: `path`
/// (default "/"), `recursive` (default true).
///
/// # Safety
/// `repo` a live handle; `snapshot` NUL-terminated; `options_json` NULL
/// or NUL-terminated.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_ls(
    repo: *const RdrRepo,
    snapshot: *const c_char,
    options_json: *const c_char,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, snap, opts) = unsafe {
            (
                handle(repo, "repo")?,
                str_arg(snapshot, "snapshot")?,
                opt_str_arg(options_json, "options_json")?,
            )
        };
        let req: LsRequest = parse(opts)?;
        let (reference, sub) = split_reference(snap);
        let chosen = core(choose_snapshot(repo, reference, &Default::default()))?;
        let path = if sub.is_empty() {
            req.path.clone()
        } else {
            format!("{sub}/{}", req.path)
        };
        let mut out = Vec::new();
        core(ls(
            repo,
            &chosen.snapshot,
            &path,
            req.recursive,
            &mut |p, n| out.push(node_json(p, n)),
        ))?;
        Value::Array(out)
    })
}

/// Restores a snapshot (`"latest"`, an id, or `ID:subfolder`) into
/// `target`. Options: `include`, `exclude` (patterns), `verify` (read
/// every restored file back and compare), `overwrite` ("always",
/// "if-changed", "if-newer", "never"), `delete` (remove what the snapshot
/// does not have), `dry_run` (change nothing; report what would happen),
/// `write_method` ("auto", "buffered", "direct": past the page cache).
/// Returns the report with
/// `snapshot_id`; entries that could not be restored make it fail with
/// `RDR_ERR_IO`, naming them.
///
/// # Safety
/// `repo` a live handle; strings NUL-terminated (`options_json` may be
/// NULL); `cb` NULL or valid callbacks.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_restore(
    repo: *const RdrRepo,
    snapshot: *const c_char,
    target: *const c_char,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, snap, target, opts, hooks) = unsafe {
            (
                handle(repo, "repo")?,
                str_arg(snapshot, "snapshot")?,
                str_arg(target, "target")?,
                opt_str_arg(options_json, "options_json")?,
                Hooks::new(cb, "restore"),
            )
        };
        let req: RestoreRequest = parse(opts)?;
        let (reference, subpath) = split_reference(snap);
        let chosen = core(choose_snapshot(repo, reference, &Default::default()))?;
        let mut o = RestoreOptions::new(target);
        o.include = req.include;
        o.exclude = req.exclude;
        o.verify = req.verify;
        if let Some(w) = &req.overwrite {
            o.overwrite = rdr_core::ops::restore::Overwrite::parse(w).map_err(invalid)?;
        }
        o.delete = req.delete;
        o.dry_run = req.dry_run;
        if let Some(m) = &req.write_method {
            o.write_method = rdr_core::ops::restore::WriteMethod::parse(m).map_err(invalid)?;
        }
        let r = core(restore(repo, &chosen.snapshot, subpath, &o, &hooks))?;
        if !r.errors.is_empty() {
            let first: Vec<&str> = r.errors.iter().take(3).map(String::as_str).collect();
            return Err((
                crate::RDR_ERR_IO,
                format!(
                    "{} entries could not be restored or verified: {}",
                    r.errors.len(),
                    first.join("; ")
                ),
            ));
        }
        let mut v = r.to_json();
        v["snapshot_id"] = chosen.id.to_hex().into();
        v["warnings"] = json!(
            r.warnings
                .iter()
                .chain(&chosen.warnings())
                .collect::<Vec<_>>()
        );
        v
    })
}

fn dump_to(
    repo: &Repository,
    snap: &str,
    path: &str,
    out: &mut dyn std::io::Write,
    hooks: &Hooks,
) -> FfiResult<Value> {
    let (reference, sub) = split_reference(snap);
    let chosen = core(choose_snapshot(repo, reference, &Default::default()))?;
    let path = if sub.is_empty() {
        path.to_owned()
    } else {
        format!("{sub}/{path}")
    };
    let res = dump(repo, &chosen.snapshot, &path, out);
    if res.is_err() && rdr_core::Progress::is_cancelled(hooks) {
        return Err((crate::RDR_ERR_INTERRUPTED, "the dump was cancelled".into()));
    }
    let outcome = core(res)?;
    Ok(json!({
        "snapshot_id": chosen.id.to_hex(),
        "path": path,
        "warnings": outcome.warnings.iter().chain(&chosen.warnings()).collect::<Vec<_>>(),
    }))
}

/// Writes a file of a snapshot (or a folder, as a tar stream) through
/// `write` (called with `writer_data`), as `rdr dump`. Returns
/// `{snapshot_id, path, warnings}`. Cancelling stops it before the next
/// write with `RDR_ERR_INTERRUPTED`.
///
/// # Safety
/// `repo` a live handle; strings NUL-terminated; `write` callable with
/// `writer_data` until this returns; `cb` NULL or valid callbacks.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_dump(
    repo: *const RdrRepo,
    snapshot: *const c_char,
    path: *const c_char,
    write: RdrWriteFn,
    writer_data: *mut c_void,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, snap, path, hooks) = unsafe {
            (
                handle(repo, "repo")?,
                str_arg(snapshot, "snapshot")?,
                str_arg(path, "path")?,
                Hooks::new(cb, "dump"),
            )
        };
        let mut w = std::io::BufWriter::with_capacity(
            1 << 20,
            CWriter::new(write, writer_data, hooks.cancel_flag())?,
        );
        let v = dump_to(repo, snap, path, &mut w, &hooks)?;
        std::io::Write::flush(&mut w).map_err(|e| (crate::RDR_ERR_IO, e.to_string()))?;
        v
    })
}

/// As `rdr_dump`, writing to the file descriptor `fd` (a duplicate of it;
/// the caller still closes `fd`).
///
/// # Safety
/// As `rdr_dump`; `fd` must stay open until this returns.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_dump_fd(
    repo: *const RdrRepo,
    snapshot: *const c_char,
    path: *const c_char,
    fd: c_int,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, snap, path, hooks) = unsafe {
            (
                handle(repo, "repo")?,
                str_arg(snapshot, "snapshot")?,
                str_arg(path, "path")?,
                Hooks::new(cb, "dump"),
            )
        };
        let mut w = std::io::BufWriter::with_capacity(1 << 20, dup_fd(RawFd::from(fd))?);
        let v = dump_to(repo, snap, path, &mut w, &hooks)?;
        std::io::Write::flush(&mut w).map_err(|e| (crate::RDR_ERR_IO, e.to_string()))?;
        v
    })
}
