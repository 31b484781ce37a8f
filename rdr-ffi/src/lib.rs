//! C ABI over rdr-core: every operation the CLI offers, for C programs and
//! the Python package in `python/` (ctypes over this ABI).
//!
//! The layer is thin: each function checks its pointers, parses its JSON
//! options into rdr-core's option structs ([`request`]), makes the same
//! rdr-core calls the CLI makes, and returns rdr-core's serialized report.
//! Progress events are rdr-core's [`rdr_core::JsonProgress`] events, the
//! ones `rdr --json` prints. No panic crosses the boundary: each call
//! catches them and reports `RDR_ERR_PANIC`.
//!
//! The header `include/rdr.h` is generated from this crate by cbindgen
//! (`RDR_UPDATE_HEADER=1 cargo test -p rdr-ffi --test abi header`); a test
//! fails when it is stale. docs/ffi.md is the guide.
//!
//! Thread safety: every function may be called from any thread. A
//! repository handle may be used by several threads at once (rdr-core's
//! `Repository` is `Sync`; its repository locks order writers exactly as
//! between processes), but `rdr_close` must not race with other calls on
//! the same handle. The last error is per thread.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rdr_core::{Credential, ErrorKind, Location, Repository, Storage};

/// The common frame of an operation: arguments borrowed, panics caught,
/// the report turned into a C string.
macro_rules! op {
    (|| $body:block) => {
        guard(std::ptr::null_mut(), || -> FfiResult<*mut c_char> {
            let v: Value = $body;
            json_out(&v)
        })
    };
}

mod hooks;
mod maintain;
mod ops;
mod repo;
mod request;

pub use hooks::{RdrCallbacks, RdrCancel, RdrProgressFn, RdrReadFn, RdrWriteFn};
pub use hooks::{rdr_cancel_free, rdr_cancel_new, rdr_cancel_request, rdr_cancel_reset};
pub use maintain::*;
pub use ops::*;
pub use repo::*;

/// Success.
pub const RDR_OK: c_int = 0;
/// A fatal error without a more specific code.
pub const RDR_ERR_FATAL: c_int = 1;
/// A null pointer, non-UTF-8 string, bad JSON options or another invalid
/// argument.
pub const RDR_ERR_INVALID_ARGUMENT: c_int = 2;
/// No repository at the location.
pub const RDR_ERR_NO_REPOSITORY: c_int = 10;
/// The repository is locked.
pub const RDR_ERR_LOCKED: c_int = 11;
/// Wrong password or identity.
pub const RDR_ERR_WRONG_PASSWORD: c_int = 12;
/// A repository already exists at the location.
pub const RDR_ERR_ALREADY_EXISTS: c_int = 13;
/// Repository data is corrupt.
pub const RDR_ERR_CORRUPT: c_int = 20;
/// The storage failed.
pub const RDR_ERR_STORAGE: c_int = 21;
/// Something named does not exist.
pub const RDR_ERR_NOT_FOUND: c_int = 22;
/// Local I/O failed (including a read or write callback that failed).
pub const RDR_ERR_IO: c_int = 23;
/// Deleting was refused: the repository is append-only, or the storage
/// may not delete. Nothing was changed.
pub const RDR_ERR_DELETION_REFUSED: c_int = 24;
/// The operation was cancelled (`rdr_cancel_request`). What was stored
/// before stays valid; nothing half-written is referenced.
pub const RDR_ERR_INTERRUPTED: c_int = 25;
/// The data source failed: a backup command exited non-zero.
pub const RDR_ERR_SOURCE_FAILED: c_int = 26;
/// rdr panicked (a bug); the message says where.
pub const RDR_ERR_PANIC: c_int = 99;

thread_local! {
    static LAST_ERROR: RefCell<(c_int, CString)> = RefCell::new((RDR_OK, CString::default()));
}

fn set_error(code: c_int, msg: &str) {
    let msg = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = (code, msg));
}

fn code_of(e: &rdr_core::Error) -> c_int {
    match e.kind() {
        ErrorKind::NoRepository => RDR_ERR_NO_REPOSITORY,
        ErrorKind::AlreadyExists => RDR_ERR_ALREADY_EXISTS,
        ErrorKind::WrongPassword => RDR_ERR_WRONG_PASSWORD,
        ErrorKind::Locked => RDR_ERR_LOCKED,
        ErrorKind::Corrupt => RDR_ERR_CORRUPT,
        ErrorKind::Storage => RDR_ERR_STORAGE,
        ErrorKind::InvalidInput => RDR_ERR_INVALID_ARGUMENT,
        ErrorKind::NotFound => RDR_ERR_NOT_FOUND,
        ErrorKind::Io => RDR_ERR_IO,
        ErrorKind::DeletionRefused => RDR_ERR_DELETION_REFUSED,
        ErrorKind::Cancelled => RDR_ERR_INTERRUPTED,
        ErrorKind::SourceFailed => RDR_ERR_SOURCE_FAILED,
        _ => RDR_ERR_FATAL,
    }
}

/// An error on its way to C: its code and message.
pub(crate) type FfiError = (c_int, String);
pub(crate) type FfiResult<T> = Result<T, FfiError>;

/// Converts an rdr-core result, keeping the error's code and message.
pub(crate) fn core<T>(r: rdr_core::Result<T>) -> FfiResult<T> {
    r.map_err(|e| (code_of(&e), message(&e)))
}

/// An error's message with each cause said once.
fn message(e: &rdr_core::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = s.source();
    }
    text
}

/// An invalid-argument error.
pub(crate) fn invalid(msg: impl Into<String>) -> FfiError {
    (RDR_ERR_INVALID_ARGUMENT, msg.into())
}

/// Runs `f`, catching panics, recording any error; returns `fallback` on error.
pub(crate) fn guard<T>(fallback: T, f: impl FnOnce() -> FfiResult<T>) -> T {
    set_error(RDR_OK, "");
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err((code, msg))) => {
            set_error(code, &msg);
            fallback
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_error(RDR_ERR_PANIC, &format!("internal error (panic): {msg}"));
            fallback
        }
    }
}

/// Borrows a C string as UTF-8.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string valid for `'a`.
#[allow(unsafe_code)]
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| invalid(format!("{name} is not UTF-8")))
}

/// Borrows an optional C string: NULL is `None`.
///
/// # Safety
/// As [`str_arg`].
#[allow(unsafe_code)]
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from this function's contract.
    unsafe { str_arg(p, name) }.map(Some)
}

/// A JSON value as a string the caller frees with `rdr_string_free`.
pub(crate) fn json_out(v: &serde_json::Value) -> FfiResult<*mut c_char> {
    let text = serde_json::to_string(v).map_err(|e| (RDR_ERR_FATAL, e.to_string()))?;
    Ok(CString::new(text)
        .map_err(|e| (RDR_ERR_FATAL, e.to_string()))?
        .into_raw())
}

/// The storage at a location in rdr's syntax (a path, `local:PATH`, `s3:...`).
pub(crate) fn storage(location: &str) -> FfiResult<Storage> {
    let location = core(Location::parse(location).map_err(rdr_core::Error::from))?;
    core(Storage::connect(&location))
}

/// Opens a repository with a password or an identity file.
pub(crate) fn open_repo(
    location: &str,
    password: Option<&str>,
    identity_file: Option<&str>,
) -> FfiResult<Repository> {
    let storage = storage(location)?;
    match (password, identity_file) {
        (Some(pw), None) => core(Repository::open(&storage, &Credential::Passphrase(pw))),
        (None, Some(path)) => {
            let ids = core(rdr_core::secrets::read_identity_file(path.as_ref()))?;
            core(Repository::open(&storage, &Credential::Identities(&ids)))
        }
        _ => Err(invalid("give a password or an identity file, not both")),
    }
}

/// The arguments most operations share: the handle, the parsed options
/// and the callbacks of one call.
///
/// # Safety
/// `repo` NULL or a live handle; `options_json` NULL or NUL-terminated;
/// `cb` NULL or valid callbacks (as each operation's contract says).
#[allow(unsafe_code)]
pub(crate) unsafe fn common<'a, T: serde::de::DeserializeOwned + Default>(
    repo: *const repo::RdrRepo,
    options_json: *const c_char,
    cb: *const RdrCallbacks,
    operation: &str,
) -> FfiResult<(&'a Repository, T, hooks::Hooks)> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        Ok((
            repo::handle(repo, "repo")?,
            request::parse(opt_str_arg(options_json, "options_json")?)?,
            hooks::Hooks::new(cb, operation),
        ))
    }
}

/// Frees a string returned by this library. NULL is ignored.
///
/// # Safety
/// `s` must be NULL or a string returned by this library, not yet freed.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: created by CString::into_raw in this crate and not yet freed.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// The code of the last error on this thread (`RDR_OK` after a success).
// SAFETY: `no_mangle` exports a unique symbol name; nothing else is unsafe here.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn rdr_last_error_code() -> c_int {
    LAST_ERROR.with(|e| e.borrow().0)
}

/// The message of the last error on this thread ("" after a success).
/// Valid until the next rdr call on this thread; do not free.
// SAFETY: `no_mangle` exports a unique symbol name; nothing else is unsafe here.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn rdr_last_error_message() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().1.as_ptr())
}

/// The library's version ("0.1.0"); a static string, do not free.
// SAFETY: `no_mangle` exports a unique symbol name; nothing else is unsafe here.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn rdr_version() -> *const c_char {
    static V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    V.as_ptr()
}

#[cfg(test)]
mod tests;
