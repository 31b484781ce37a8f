//! C ABI over rdr-core (first slice): open or create a repository, report
//! its config as JSON, and error codes with a thread-local last-error
//! message. The header is `include/rdr.h`; the Python package in `python/`
//! wraps this ABI with ctypes.
//!
//! Every function checks its pointers, catches panics, makes one rdr-core
//! call, and maps [`rdr_core::ErrorKind`] to an `RDR_*` code.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};

use rdr_core::{
    Credential, ErrorKind, InitOptions, Location, LockHolder, NewKey, Repository, Storage,
};

/// Success.
pub const RDR_OK: c_int = 0;
/// A fatal error without a more specific code.
pub const RDR_ERR_FATAL: c_int = 1;
/// A null pointer, non-UTF-8 string or otherwise invalid argument.
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
/// Local I/O failed.
pub const RDR_ERR_IO: c_int = 23;
/// Deleting was refused: the repository is append-only, or the storage
/// may not delete. Nothing was changed.
pub const RDR_ERR_DELETION_REFUSED: c_int = 24;
/// rdr panicked (a bug); the message says where.
pub const RDR_ERR_PANIC: c_int = 99;

/// An open repository (opaque to C).
pub struct RdrRepo {
    repo: Repository,
}

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
        _ => RDR_ERR_FATAL,
    }
}

type FfiResult<T> = Result<T, (c_int, String)>;

fn core<T>(r: rdr_core::Result<T>) -> FfiResult<T> {
    r.map_err(|e| (code_of(&e), e.to_string()))
}

/// Runs `f`, catching panics, recording any error; returns `fallback` on error.
fn guard<T>(fallback: T, f: impl FnOnce() -> FfiResult<T>) -> T {
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
unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err((RDR_ERR_INVALID_ARGUMENT, format!("{name} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| (RDR_ERR_INVALID_ARGUMENT, format!("{name} is not UTF-8")))
}

/// The storage at a location in rdr's syntax (a path, `local:PATH`, `s3:...`).
fn storage(location: &str) -> FfiResult<Storage> {
    let location = core(Location::parse(location).map_err(rdr_core::Error::from))?;
    core(Storage::connect(&location))
}

fn boxed(repo: Repository) -> *mut RdrRepo {
    Box::into_raw(Box::new(RdrRepo { repo }))
}

/// Opens the repository at `location` (a path, `local:PATH`, or a remote
/// location in rdr's syntax) with a password.
/// Returns NULL on error (see `rdr_last_error_code`). Close with `rdr_close`.
///
/// # Safety
/// `location` and `password` must be NUL-terminated strings.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_open(
    location: *const c_char,
    password: *const c_char,
) -> *mut RdrRepo {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        let (loc, pw) = unsafe {
            (
                str_arg(location, "location")?,
                str_arg(password, "password")?,
            )
        };
        core(Repository::open(
            &storage(loc)?,
            &Credential::Passphrase(pw),
        ))
        .map(boxed)
    })
}

/// Opens the repository at `location` with an age identity file.
/// Returns NULL on error.
///
/// # Safety
/// `location` and `identity_file` must be NUL-terminated strings.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_open_with_identity_file(
    location: *const c_char,
    identity_file: *const c_char,
) -> *mut RdrRepo {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        let (loc, path) = unsafe {
            (
                str_arg(location, "location")?,
                str_arg(identity_file, "identity_file")?,
            )
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| (RDR_ERR_IO, format!("reading {path}: {e}")))?;
        let ids = core(rdr_core::Identities::parse(&text).map_err(rdr_core::Error::from))?;
        core(Repository::open(
            &storage(loc)?,
            &Credential::Identities(&ids),
        ))
        .map(boxed)
    })
}

/// Creates a repository at `location` protected by `password`, with scrypt
/// work factor `kdf_log_n` (0 for the default, 15), and returns it open.
/// Returns NULL on error.
///
/// # Safety
/// `location` and `password` must be NUL-terminated strings.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_init(
    location: *const c_char,
    password: *const c_char,
    kdf_log_n: c_int,
) -> *mut RdrRepo {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        let (loc, pw) = unsafe {
            (
                str_arg(location, "location")?,
                str_arg(password, "password")?,
            )
        };
        let log_n = if kdf_log_n == 0 {
            rdr_core::DEFAULT_LOG_N
        } else {
            u8::try_from(kdf_log_n).unwrap_or(u8::MAX)
        };
        let key = NewKey::Passphrase {
            passphrase: pw.to_owned().into(),
            log_n,
        };
        core(Repository::init(
            &storage(loc)?,
            &InitOptions::default(),
            &key,
            &LockHolder::current(),
        ))
        .map(boxed)
    })
}

/// The repository config as a JSON object (id, version, chunker, compression,
/// pack sizes). Returns NULL on error; free the string with `rdr_string_free`.
///
/// # Safety
/// `repo` must be a handle from `rdr_open`/`rdr_init` not yet closed.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_config_json(repo: *const RdrRepo) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: a live handle per the contract, or null (checked).
        let r = unsafe { repo.as_ref() }
            .ok_or((RDR_ERR_INVALID_ARGUMENT, "repo is NULL".to_owned()))?;
        let json =
            serde_json::to_string(r.repo.config()).map_err(|e| (RDR_ERR_FATAL, e.to_string()))?;
        Ok(CString::new(json)
            .map_err(|e| (RDR_ERR_FATAL, e.to_string()))?
            .into_raw())
    })
}

/// Closes a repository handle. NULL is ignored.
///
/// # Safety
/// `repo` must be NULL or a handle not yet closed.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_close(repo: *mut RdrRepo) {
    if !repo.is_null() {
        // SAFETY: created by Box::into_raw in this crate and not yet freed.
        drop(unsafe { Box::from_raw(repo) });
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

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    fn c(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn last_message() -> String {
        // SAFETY: the pointer is valid until the next call on this thread.
        unsafe { CStr::from_ptr(rdr_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn init_open_config_and_errors() {
        let d = tempfile::tempdir().unwrap();
        let loc = c(d.path().join("repo").to_str().unwrap());
        // SAFETY: valid C strings and handles throughout.
        unsafe {
            let r = rdr_init(loc.as_ptr(), c("pw").as_ptr(), 10);
            assert!(!r.is_null(), "{}", last_message());
            rdr_close(r);

            let r = rdr_open(loc.as_ptr(), c("pw").as_ptr());
            assert!(!r.is_null());
            let s = rdr_config_json(r);
            let json: serde_json::Value =
                serde_json::from_str(CStr::from_ptr(s).to_str().unwrap()).unwrap();
            assert_eq!(json["version"], 2, "init creates format version 2");
            rdr_string_free(s);
            rdr_close(r);

            assert!(rdr_open(loc.as_ptr(), c("bad").as_ptr()).is_null());
            assert_eq!(rdr_last_error_code(), RDR_ERR_WRONG_PASSWORD);
            assert!(last_message().contains("wrong password"));

            let missing = c(d.path().join("none").to_str().unwrap());
            assert!(rdr_open(missing.as_ptr(), c("pw").as_ptr()).is_null());
            assert_eq!(rdr_last_error_code(), RDR_ERR_NO_REPOSITORY);

            assert!(rdr_open(std::ptr::null(), c("pw").as_ptr()).is_null());
            assert_eq!(rdr_last_error_code(), RDR_ERR_INVALID_ARGUMENT);
            assert!(rdr_config_json(std::ptr::null()).is_null());

            assert!(rdr_init(loc.as_ptr(), c("pw").as_ptr(), 10).is_null());
            assert_eq!(rdr_last_error_code(), RDR_ERR_ALREADY_EXISTS);

            // locations parse as in the CLI: a remote one is never a local
            // folder (here: no such host), and one with a password in it is
            // refused unrepeated
            let sftp = c("sftp:user@host:/srv/repo");
            assert!(rdr_init(sftp.as_ptr(), c("pw").as_ptr(), 10).is_null());
            assert_eq!(rdr_last_error_code(), RDR_ERR_STORAGE);
            assert!(
                last_message().contains("sftp:user@host:/srv/repo"),
                "{}",
                last_message()
            );
            let secret = c("webdav:https://me:Sekr1t@dav/x");
            assert!(rdr_open(secret.as_ptr(), c("pw").as_ptr()).is_null());
            assert_eq!(rdr_last_error_code(), RDR_ERR_INVALID_ARGUMENT);
            assert!(!last_message().contains("Sekr1t"));
            let local = c(&format!("local:{}", d.path().join("repo").display()));
            let r = rdr_open(local.as_ptr(), c("pw").as_ptr());
            assert!(!r.is_null(), "{}", last_message());
            rdr_close(r);
        }
    }
}
