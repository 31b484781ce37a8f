//! Repository handles: open, create, config, close.

use std::ffi::{c_char, c_int};

use rdr_core::{InitOptions, LockHolder, NewKey, Repository};

use crate::request::{InitRequest, parse};
use crate::{FfiResult, core, guard, invalid, json_out, open_repo, opt_str_arg, storage, str_arg};

/// An open repository (opaque to C).
pub struct RdrRepo {
    pub(crate) repo: Repository,
}

// A handle is shared between threads by embedders; the repository must allow it.
const _: fn() = || {
    fn sync_and_send<T: Sync + Send>() {}
    sync_and_send::<Repository>();
};

fn boxed(repo: Repository) -> *mut RdrRepo {
    Box::into_raw(Box::new(RdrRepo { repo }))
}

/// Borrows a handle.
///
/// # Safety
/// `repo` must be NULL or a live handle.
#[allow(unsafe_code)]
pub(crate) unsafe fn handle<'a>(repo: *const RdrRepo, name: &str) -> FfiResult<&'a Repository> {
    // SAFETY: a live handle per the contract, or null (checked).
    unsafe { repo.as_ref() }
        .map(|r| &r.repo)
        .ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// Opens the repository at `location` (a path, `local:PATH`, or a remote
/// location in rdr's syntax: `s3:`, `sftp:`, `webdav:`, …; storage
/// credentials come from the environment, as for the CLI) with a password.
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
        open_repo(loc, Some(pw), None).map(boxed)
    })
}

/// Opens the repository at `location` with an age identity file
/// (`age-keygen` format). Returns NULL on error.
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
        open_repo(loc, None, Some(path)).map(boxed)
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
        let req = InitRequest {
            password: Some(pw.to_owned()),
            kdf_log_n: u8::try_from(kdf_log_n).map_err(|_| invalid("kdf_log_n out of range"))?,
            ..InitRequest::default()
        };
        init(loc, &req).map(boxed)
    })
}

/// Creates a repository with options given as a JSON object and returns it
/// open. Keys (all optional but one credential):
/// `password` (string), `identity_file` (path: the key slot opens with
/// that age identity), `recipients` (list of `age1…` keys), `kdf_log_n`,
/// `append_only` (bool: rdr will never delete from it), `compression`
/// (zstd level), `pack_size`, `chunk_min`, `chunk_avg`, `chunk_max`
/// (sizes such as "16MiB"). Returns NULL on error.
///
/// # Safety
/// `location` and `options_json` must be NUL-terminated strings
/// (`options_json` may be NULL for none, which fails: a credential is needed).
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_init_with(
    location: *const c_char,
    options_json: *const c_char,
) -> *mut RdrRepo {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        let (loc, opts) = unsafe {
            (
                str_arg(location, "location")?,
                opt_str_arg(options_json, "options_json")?,
            )
        };
        let req: InitRequest = parse(opts)?;
        init(loc, &req).map(boxed)
    })
}

fn init(location: &str, req: &InitRequest) -> FfiResult<Repository> {
    let storage = storage(location)?;
    let defaults = InitOptions::for_storage(&storage);
    let size = |v: &Option<String>, d: u32, what: &str| -> FfiResult<u32> {
        v.as_deref().map_or(Ok(d), |s| {
            let n = rdr_core::parse_size(s).map_err(invalid)?;
            u32::try_from(n).map_err(|_| invalid(format!("{what} {s} is too large")))
        })
    };
    let opts = InitOptions {
        chunker: rdr_core::ChunkerParams {
            min: size(&req.chunk_min, defaults.chunker.min, "chunk_min")?,
            avg: size(&req.chunk_avg, defaults.chunker.avg, "chunk_avg")?,
            max: size(&req.chunk_max, defaults.chunker.max, "chunk_max")?,
        },
        compression: req.compression.unwrap_or(defaults.compression),
        pack_size: size(&req.pack_size, defaults.pack_size, "pack_size")?,
        blob_identity: None,
        append_only: req.append_only,
    };
    let mut recipients = req
        .recipients
        .iter()
        .map(|r| core(rdr_core::parse_recipient(r).map_err(rdr_core::Error::from)))
        .collect::<FfiResult<Vec<_>>>()?;
    if let Some(f) = &req.identity_file {
        let ids = core(rdr_core::secrets::read_identity_file(f.as_ref()))?;
        if ids.recipients().is_empty() {
            return Err(invalid(format!(
                "identity file {f} holds no X25519 identity"
            )));
        }
        recipients.extend_from_slice(ids.recipients());
    }
    let key = match (&req.password, recipients.is_empty()) {
        (Some(pw), true) => NewKey::Passphrase {
            passphrase: pw.clone().into(),
            log_n: if req.kdf_log_n == 0 {
                rdr_core::DEFAULT_LOG_N
            } else {
                req.kdf_log_n
            },
        },
        (None, false) => NewKey::Recipients(recipients),
        (None, true) => return Err(invalid("give a password, an identity_file or recipients")),
        (Some(_), false) => {
            return Err(invalid(
                "give a password or recipients (identity_file), not both",
            ));
        }
    };
    core(Repository::init(
        &storage,
        &opts,
        &key,
        &LockHolder::current(),
    ))
}

/// Writes a new age identity to the file `path` (mode 0600; an existing
/// file is never overwritten) and returns its public key (`age1…`), for
/// `rdr_init_with`'s `identity_file` or `recipients`. The identity opens
/// the repository without a password: keep it off-site. Returns NULL on
/// error; free the string with `rdr_string_free`.
///
/// # Safety
/// `path` must be a NUL-terminated string.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_identity_generate(path: *const c_char) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        let path = unsafe { str_arg(path, "path")? };
        let r = core(rdr_core::secrets::write_new_identity(path.as_ref()))?;
        std::ffi::CString::new(r.to_string())
            .map(std::ffi::CString::into_raw)
            .map_err(|e| invalid(e.to_string()))
    })
}

/// The repository config as a JSON object (id, version, chunker, compression,
/// pack sizes, append_only). Returns NULL on error; free the string with
/// `rdr_string_free`.
///
/// # Safety
/// `repo` must be a handle from `rdr_open`/`rdr_init` not yet closed.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_config_json(repo: *const RdrRepo) -> *mut c_char {
    guard(std::ptr::null_mut(), || {
        // SAFETY: forwarded from this function's contract.
        let r = unsafe { handle(repo, "repo")? };
        let v = serde_json::to_value(r.config()).map_err(|e| invalid(e.to_string()))?;
        json_out(&v)
    })
}

/// Closes a repository handle. NULL is ignored.
///
/// # Safety
/// `repo` must be NULL or a handle not yet closed, used by no other thread.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_close(repo: *mut RdrRepo) {
    if !repo.is_null() {
        // SAFETY: created by Box::into_raw in this crate and not yet freed.
        drop(unsafe { Box::from_raw(repo) });
    }
}
