//! What C hands to long operations: a progress callback, a cancel token,
//! and read or write callbacks for streams; and file descriptors.

use std::ffi::{CString, c_char, c_int, c_void};
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rdr_core::{JsonProgress, Progress};

use crate::{FfiResult, invalid};

/// Receives each progress event as a JSON object (UTF-8, NUL-terminated,
/// valid during the call only): the events `rdr --json` prints
/// (`message_type` "phase", "status" or "warning"). Called from rdr's
/// worker threads, one call at a time.
pub type RdrProgressFn =
    Option<unsafe extern "C" fn(event_json: *const c_char, user_data: *mut c_void)>;

/// Reads up to `len` bytes into `buf`. Returns the number read, 0 at the
/// end of the stream, or -1 on error (the backup then fails).
pub type RdrReadFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, buf: *mut u8, len: usize) -> isize>;

/// Writes all `len` bytes of `buf`. Returns 0 on success, non-zero on error
/// (the dump then stops and fails).
pub type RdrWriteFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, buf: *const u8, len: usize) -> c_int>;

/// What a long operation reports to and listens to; pass NULL for none.
#[repr(C)]
pub struct RdrCallbacks {
    /// Called with each progress event, or NULL.
    pub progress: RdrProgressFn,
    /// Passed to `progress` unchanged.
    pub user_data: *mut c_void,
    /// Checked often: once `rdr_cancel_request` is called on it, the
    /// operation stops cleanly with `RDR_ERR_INTERRUPTED`. May be NULL.
    pub cancel: *const RdrCancel,
}

/// A cancellation token (opaque to C), shared between the thread running
/// an operation and any thread that may cancel it.
pub struct RdrCancel {
    flag: Arc<AtomicBool>,
}

/// A new cancellation token, not cancelled. Free it with
/// `rdr_cancel_free` once no operation uses it.
// SAFETY: `no_mangle` exports a unique symbol name; nothing else is unsafe here.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub extern "C" fn rdr_cancel_new() -> *mut RdrCancel {
    Box::into_raw(Box::new(RdrCancel {
        flag: Arc::new(AtomicBool::new(false)),
    }))
}

/// Asks every operation using `cancel` to stop. Safe to call from any
/// thread (and from a signal handler: it only stores to an atomic).
///
/// # Safety
/// `cancel` must be NULL or a live token.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_cancel_request(cancel: *const RdrCancel) {
    // SAFETY: a live token per the contract, or null (checked).
    if let Some(c) = unsafe { cancel.as_ref() } {
        c.flag.store(true, Ordering::SeqCst);
    }
}

/// Makes the token usable again after a cancelled operation ended.
///
/// # Safety
/// `cancel` must be NULL or a live token.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_cancel_reset(cancel: *const RdrCancel) {
    // SAFETY: a live token per the contract, or null (checked).
    if let Some(c) = unsafe { cancel.as_ref() } {
        c.flag.store(false, Ordering::SeqCst);
    }
}

/// Frees a token. NULL is ignored.
///
/// # Safety
/// `cancel` must be NULL or a live token that no running operation uses.
#[allow(unsafe_code)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rdr_cancel_free(cancel: *mut RdrCancel) {
    if !cancel.is_null() {
        // SAFETY: created by Box::into_raw in rdr_cancel_new, not yet freed.
        drop(unsafe { Box::from_raw(cancel) });
    }
}

/// A C pointer that C promised may be used from any thread.
struct SendPtr(*mut c_void);
// SAFETY: the embedder's contract (documented on RdrCallbacks and the read
// and write callbacks) is that user data may be used from rdr's threads.
#[allow(unsafe_code)]
unsafe impl Send for SendPtr {}
// SAFETY: as above; rdr calls the callback one call at a time.
#[allow(unsafe_code)]
unsafe impl Sync for SendPtr {}

/// The rdr-core `Progress` of one call: JSON events to the C callback (if
/// any) and the cancel token.
pub(crate) struct Hooks {
    json: Option<JsonProgress>,
    cancel: Arc<AtomicBool>,
}

impl Hooks {
    /// Reads the callbacks of one call (NULL: none).
    ///
    /// # Safety
    /// `cb` must be NULL or point to valid callbacks whose token (if any)
    /// outlives the call.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn new(cb: *const RdrCallbacks, operation: &str) -> Self {
        // SAFETY: valid or null per the contract.
        let Some(cb) = (unsafe { cb.as_ref() }) else {
            return Self::none();
        };
        // SAFETY: valid or null per the contract.
        let cancel = unsafe { cb.cancel.as_ref() }
            .map_or_else(|| Arc::new(AtomicBool::new(false)), |c| Arc::clone(&c.flag));
        let json = cb.progress.map(|f| {
            let data = SendPtr(cb.user_data);
            JsonProgress::new(
                operation,
                Box::new(move |v| {
                    let data = &data;
                    if let Ok(text) = CString::new(v.to_string()) {
                        // SAFETY: the embedder's callback, given its own data.
                        unsafe { f(text.as_ptr(), data.0) };
                    }
                }),
            )
            .with_cancel(Arc::clone(&cancel))
        });
        Self { json, cancel }
    }

    /// No progress, no cancellation.
    pub(crate) fn none() -> Self {
        Self {
            json: None,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The shared cancel flag.
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }
}

impl Progress for Hooks {
    fn wants_totals(&self) -> bool {
        self.json.is_some()
    }
    fn phase(&self, name: &str) {
        if let Some(j) = &self.json {
            j.phase(name);
        }
    }
    fn total(&self, files: u64, bytes: u64) {
        if let Some(j) = &self.json {
            j.total(files, bytes);
        }
    }
    fn current(&self, path: &Path) {
        if let Some(j) = &self.json {
            j.current(path);
        }
    }
    fn advance(&self, files: u64, bytes: u64) {
        if let Some(j) = &self.json {
            j.advance(files, bytes);
        }
    }
    fn warning(&self, path: &Path, message: &str) {
        if let Some(j) = &self.json {
            j.warning(path, message);
        }
    }
    fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A reader over a C read callback.
pub(crate) struct CReader {
    f: unsafe extern "C" fn(*mut c_void, *mut u8, usize) -> isize,
    data: SendPtr,
}

impl CReader {
    pub(crate) fn new(f: RdrReadFn, data: *mut c_void) -> FfiResult<Self> {
        let f = f.ok_or_else(|| invalid("read callback is NULL"))?;
        Ok(Self {
            f,
            data: SendPtr(data),
        })
    }
}

impl Read for CReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: the embedder's callback writes at most buf.len() bytes to buf.
        #[allow(unsafe_code)]
        let n = unsafe { (self.f)(self.data.0, buf.as_mut_ptr(), buf.len()) };
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= buf.len())
            .ok_or_else(|| std::io::Error::other("the read callback reported an error"))
    }
}

/// A writer over a C write callback that also stops on cancellation.
pub(crate) struct CWriter {
    f: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_int,
    data: SendPtr,
    cancel: Arc<AtomicBool>,
}

impl CWriter {
    pub(crate) fn new(
        f: RdrWriteFn,
        data: *mut c_void,
        cancel: Arc<AtomicBool>,
    ) -> FfiResult<Self> {
        let f = f.ok_or_else(|| invalid("write callback is NULL"))?;
        Ok(Self {
            f,
            data: SendPtr(data),
            cancel,
        })
    }
}

impl Write for CWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            // (not ErrorKind::Interrupted: write_all would retry it)
            return Err(std::io::Error::other("cancelled"));
        }
        // SAFETY: the embedder's callback reads buf.len() bytes from buf.
        #[allow(unsafe_code)]
        let rc = unsafe { (self.f)(self.data.0, buf.as_ptr(), buf.len()) };
        if rc == 0 {
            Ok(buf.len())
        } else {
            Err(std::io::Error::other(
                "the write callback reported an error",
            ))
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A file of the caller's descriptor, duplicated: rdr closes its copy, the
/// caller keeps (and closes) its own.
pub(crate) fn dup_fd(fd: RawFd) -> FfiResult<std::fs::File> {
    if fd < 0 {
        return Err(invalid("fd is negative"));
    }
    // SAFETY: the caller promises `fd` is open for the duration of the call;
    // it is only borrowed here to duplicate it.
    #[allow(unsafe_code)]
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    borrowed
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|e| (crate::RDR_ERR_IO, format!("duplicating fd {fd}: {e}")))
}
