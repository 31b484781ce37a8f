//! Retention, maintenance and recovery readiness: forget, prune, check,
//! copy, drill and status. Same conventions as [`crate::ops`].

use std::ffi::c_char;
use std::path::PathBuf;
use std::time::Instant;

use rdr_core::ops::check::{CheckOptions, check};
use rdr_core::ops::copy::{CopyOptions, copy};
use rdr_core::ops::drill::{DrillOptions, drill};
use rdr_core::ops::forget::{ForgetOptions, forget, forget_ids, removed_json};
use rdr_core::ops::prune::prune;
use rdr_core::ops::rewrite::{RewriteOptions, rewrite};
use rdr_core::ops::select::{choose_snapshot, find_snapshot};
use rdr_core::ops::status::status;
use rdr_core::time::now_ns;
use rdr_core::{FileType, LockHolder, LockKind, SnapshotId};
use serde_json::Value;

use crate::hooks::Hooks;
use crate::repo::{RdrRepo, handle};
use crate::request::{
    CheckRequest, CopyRequest, DrillRequest, Filtered, ForgetRequest, PruneRequest, RewriteRequest,
    StatusRequest, parse,
};
use crate::{FfiResult, RdrCallbacks, common, core, guard, invalid, json_out, opt_str_arg};

/// Removes snapshots by id (option `snapshots`) or by a retention policy
/// (`keep_last`, `keep_hourly`, `keep_daily`, `keep_weekly`,
/// `keep_monthly`, `keep_yearly`: a number or "unlimited";
/// `keep_within[_hourly|_daily|…]`: "7d", "1y6m"; `keep_tag`), grouped by
/// `group_by` (default "host,paths") among the snapshots matching `host`,
/// `tags`, `path`; `dry_run`, `allow_empty`. With `prune` (and
/// `max_unused`, `max_repack_size`, `grace`, `instant_delete`) the data
/// no snapshot needs is pruned in the same run. Returns the forget report
/// with a `prune` member (null without).
///
/// # Safety
/// As `rdr_backup`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_forget(
    repo: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, req, hooks) =
            unsafe { common::<ForgetRequest>(repo, options_json, cb, "prune")? };
        let policy = req.policy()?;
        if req.snapshots.is_empty() == policy.is_empty() {
            return Err(invalid(
                "give either snapshot ids or a policy (keep_last, keep_daily, …)",
            ));
        }
        let prune_opts = req.prune_options()?;
        let me = LockHolder::current();
        let lock = if req.dry_run {
            core(repo.lock(LockKind::Shared, &me))?
        } else if let Some(o) = &prune_opts {
            core(o.lock(repo, &me))?
        } else {
            core(repo.lock_to_delete(LockKind::Exclusive, &me, "forget"))?
        };
        let mut v = if req.snapshots.is_empty() {
            let o = ForgetOptions {
                policy,
                group_by: req.group_by()?,
                filter: req.filter(),
                time_zone: rdr_core::jiff::tz::TimeZone::system(),
                now: now_ns(),
                dry_run: req.dry_run,
                allow_empty: req.allow_empty,
            };
            core(forget(repo, &o, &lock))?.to_json()
        } else {
            let ids = req
                .snapshots
                .iter()
                .map(|r| core(repo.find_id(FileType::Snapshot, r)).map(SnapshotId))
                .collect::<FfiResult<Vec<_>>>()?;
            removed_json(
                &core(forget_ids(repo, &ids, req.dry_run, &lock))?,
                req.dry_run,
            )
        };
        v["prune"] = match prune_opts {
            Some(o) => core(prune(repo, &o, &hooks, &lock))?.to_json(),
            None => Value::Null,
        };
        v
    })
}

/// Deletes data no snapshot needs. Options: `max_unused` ("5%", "100MiB",
/// "unlimited"), `max_repack_size`, `grace` ("24h"), `instant_delete`,
/// `dry_run`. Returns the prune report.
///
/// # Safety
/// As `rdr_backup`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_prune(
    repo: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, opts, hooks) = unsafe {
            (
                handle(repo, "repo")?,
                opt_str_arg(options_json, "options_json")?,
                Hooks::new(cb, "prune"),
            )
        };
        let o = parse::<PruneRequest>(opts)?.options()?;
        let lock = core(o.lock(repo, &LockHolder::current()))?;
        core(prune(repo, &o, &hooks, &lock))?.to_json()
    })
}

/// Checks the repository's structure and, with `read_data` (true, or a
/// subset "N/M" or "P%"), the data. Returns the report: `ok` is false
/// when damage was found (that is not an error of the call), `damaged`
/// lists each damaged blob with the snapshots and paths that need it. The
/// outcome is recorded in the repository for `status`.
///
/// # Safety
/// As `rdr_backup`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_check(
    repo: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, opts, hooks) = unsafe {
            (
                handle(repo, "repo")?,
                opt_str_arg(options_json, "options_json")?,
                Hooks::new(cb, "check"),
            )
        };
        let o = CheckOptions {
            read_data: parse::<CheckRequest>(opts)?.read_data()?,
        };
        let lock = core(repo.lock(LockKind::Shared, &LockHolder::current()))?;
        let report = core(check(repo, &o, &hooks, &lock))?;
        let mut v = report.to_json();
        if let Err(e) = repo.save_record(&report.record(&o))
            && let Some(w) = v["warnings"].as_array_mut()
        {
            w.push(format!("the check record could not be stored: {e}").into());
        }
        v
    })
}

/// Copies snapshots from `src` into `dst` (options: `snapshots` ids, or
/// the filters `host`, `tags`, `path`; `dry_run`). Snapshots already in
/// `dst` are skipped. Returns the copy report.
///
/// # Safety
/// `dst` and `src` live handles; otherwise as `rdr_backup`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_copy(
    dst: *const RdrRepo,
    src: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (dst, src, opts, hooks) = unsafe {
            (
                handle(dst, "dst")?,
                handle(src, "src")?,
                opt_str_arg(options_json, "options_json")?,
                Hooks::new(cb, "copy"),
            )
        };
        let req: CopyRequest = parse(opts)?;
        let filter = req.filter();
        let snapshots = req
            .snapshots
            .iter()
            .map(|s| core(find_snapshot(src, s, &filter)).map(|f| f.0))
            .collect::<FfiResult<Vec<_>>>()?;
        let o = CopyOptions {
            snapshots,
            filter,
            dry_run: req.dry_run,
            ..CopyOptions::default()
        };
        core(copy(src, dst, &o, &hooks))?.to_json()
    })
}

/// Drops paths from existing snapshots (`rdr rewrite`): the snapshots in
/// option `snapshots` (ids, prefixes or "latest"), else all that match
/// `host`, `tags`, `path`, lose the paths matching `exclude` (backup's
/// pattern syntax) and `iexclude` (ignoring case), and get `new_host`
/// and `new_time` ("YYYY-MM-DD HH:MM:SS", UTC) when given. Each changed
/// snapshot is saved anew with the tag "rewrite"; with `forget` the
/// original is removed (then `rdr_prune` frees the dropped data);
/// `dry_run` reports only. Returns the rewrite report.
///
/// # Safety
/// As `rdr_backup`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_rewrite(
    repo: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        // SAFETY: forwarded from this function's contract.
        let (repo, req, _hooks) =
            unsafe { common::<RewriteRequest>(repo, options_json, cb, "rewrite")? };
        let new_time = req
            .new_time
            .as_deref()
            .map(rdr_core::time::parse_utc)
            .transpose()
            .map_err(invalid)?;
        if req.exclude.is_empty()
            && req.iexclude.is_empty()
            && req.new_host.is_none()
            && new_time.is_none()
        {
            return Err(invalid(
                "nothing to do: give exclude, iexclude, new_host or new_time",
            ));
        }
        let filter = req.filter();
        let snapshots = if req.snapshots.is_empty() {
            let (all, _unreadable) = core(repo.snapshots_readable())?;
            all.into_iter().filter(|(_, s)| filter.matches(s)).collect()
        } else {
            req.snapshots
                .iter()
                .map(|s| core(find_snapshot(repo, s, &filter)))
                .collect::<FfiResult<Vec<_>>>()?
        };
        let o = RewriteOptions {
            exclude: req.exclude,
            iexclude: req.iexclude,
            new_host: req.new_host,
            new_time,
            forget: req.forget,
            dry_run: req.dry_run,
        };
        core(rewrite(repo, &snapshots, &o, &LockHolder::current()))?.to_json()
    })
}

/// A restore drill: restores a snapshot (option `snapshot`, default
/// "latest", with the filters `host`, `tags`, `path`) into scratch space
/// (`scratch_dir`, or `target`), verifies it, runs `health_cmd` (with
/// `health_timeout`), measures the time against `rto` ("4h"), records the
/// drill in the repository and removes the scratch copy unless `keep`.
/// Returns the drill report; `passed` is false when the drill failed
/// (that is not an error of the call).
///
/// # Safety
/// As `rdr_backup`.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_drill(
    repo: *const RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
) -> *mut c_char {
    op!(|| {
        let started = (Instant::now(), now_ns());
        // SAFETY: forwarded from this function's contract.
        let (repo, req, hooks) =
            unsafe { common::<DrillRequest>(repo, options_json, cb, "drill")? };
        let chosen = core(choose_snapshot(
            repo,
            req.snapshot.as_deref().unwrap_or("latest"),
            &req.filter(),
        ))?;
        let (health_timeout, rto) = req.durations()?;
        let mut o = DrillOptions {
            target: req.target.as_ref().map(PathBuf::from),
            keep: req.keep,
            health_cmd: req.health_cmd.clone(),
            health_timeout,
            rto,
            started: Some(started),
            ..DrillOptions::default()
        };
        if let Some(d) = &req.scratch_dir {
            o.scratch_parent = PathBuf::from(d);
        }
        let r = core(drill(repo, chosen.id, &chosen.snapshot, &o, &hooks))?;
        let mut v = r.to_json();
        if let Err(e) = repo.save_record(&r.record()) {
            v["record_error"] = format!("the drill record could not be stored: {e}").into();
        }
        v
    })
}

/// Freshness against the RPO, and the last check and drill, per group
/// (options: `rpo`, `check_max_age`, `drill_max_age` as "24h";
/// `group_by`, default "host,paths,tags"; the filters `host`, `tags`,
/// `path`), as `rdr status --json`. `healthy` is false when a group is
/// stale or a check or drill failed or is too old.
///
/// # Safety
/// `repo` a live handle; `options_json` NULL or NUL-terminated.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_status(
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
        let o = parse::<StatusRequest>(opts)?.options()?;
        core(status(repo, &o))?.to_json()
    })
}
