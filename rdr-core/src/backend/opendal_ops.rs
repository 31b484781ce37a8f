//! The shared OpenDAL plumbing: the private Tokio runtime that OpenDAL's
//! blocking API needs, operator construction with retries, and the
//! operations common to every OpenDAL-backed store.

use std::sync::LazyLock;
use std::time::Duration;

use opendal::blocking::Operator;
use opendal::layers::RetryLayer;
use opendal::options::{ListOptions, ReadOptions, WriteOptions};

use super::{Backend, BackendError, BackendResult, FileType};

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rdr-storage")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// The runtime of the stores that live as long as the process (memory).
static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(runtime);

/// Wraps an async operator with retries (exponential backoff with jitter on
/// errors OpenDAL marks temporary) and makes it blocking on `rt`.
pub(super) fn blocking_on(
    op: opendal::Operator,
    rt: &tokio::runtime::Runtime,
) -> BackendResult<Operator> {
    let _guard = rt.enter();
    let op = op.layer(
        RetryLayer::new()
            .with_max_times(5)
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(10))
            .with_jitter(),
    );
    Operator::new(op).map_err(|e| BackendError::Setup(e.to_string()))
}

/// [`blocking_on`] the process-wide runtime.
pub(crate) fn blocking(op: opendal::Operator) -> BackendResult<Operator> {
    let rt = RUNTIME
        .as_ref()
        .map_err(|e| BackendError::Setup(format!("starting the storage runtime: {e}")))?;
    blocking_on(op, rt)
}

pub(crate) fn map_err(op: &'static str, path: &str, e: opendal::Error) -> BackendError {
    match e.kind() {
        opendal::ErrorKind::NotFound => BackendError::NotFound {
            path: path.to_owned(),
        },
        opendal::ErrorKind::ConditionNotMatch | opendal::ErrorKind::AlreadyExists => {
            BackendError::AlreadyExists {
                path: path.to_owned(),
            }
        }
        _ => BackendError::Io {
            op,
            path: path.to_owned(),
            message: e.to_string(),
        },
    }
}

pub(crate) fn list(op: &Operator, ft: FileType) -> BackendResult<Vec<String>> {
    Ok(list_sizes(op, ft)?.into_iter().map(|(n, _)| n).collect())
}

/// [`list`] with each object's size where the listing gives it: object
/// stores (S3's `ListObjectsV2`, WebDAV's `PROPFIND`, SFTP's `readdir`)
/// and the fs service do. Zero is OpenDAL's "unknown" as well as an empty
/// object's size, so it is returned as `None` (the caller asks `stat`).
pub(crate) fn list_sizes(op: &Operator, ft: FileType) -> BackendResult<Vec<(String, Option<u64>)>> {
    let dir = ft.dir();
    if ft == FileType::Config {
        return match op.stat("config") {
            Ok(m) => Ok(vec![("config".to_owned(), known(m.content_length()))]),
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(map_err("stat", "config", e)),
        };
    }
    let entries = match op.list_options(
        dir,
        ListOptions {
            recursive: ft == FileType::Pack,
            ..ListOptions::default()
        },
    ) {
        Ok(e) => e,
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(map_err("list", dir, e)),
    };
    Ok(entries
        .into_iter()
        .filter(|e| e.metadata().mode().is_file())
        .filter_map(|e| {
            let name = e.path().rsplit('/').next()?;
            (!name.is_empty()).then(|| (name.to_owned(), known(e.metadata().content_length())))
        })
        .collect())
}

fn known(size: u64) -> Option<u64> {
    (size > 0).then_some(size)
}

pub(crate) fn stat(op: &Operator, ft: FileType, name: &str) -> BackendResult<u64> {
    let path = ft.path(name);
    op.stat(&path)
        .map(|m| m.content_length())
        .map_err(|e| map_err("stat", &path, e))
}

pub(crate) fn read(op: &Operator, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
    let path = ft.path(name);
    op.read(&path)
        .map(|b| b.to_vec())
        .map_err(|e| map_err("read", &path, e))
}

pub(crate) fn read_range(
    op: &Operator,
    ft: FileType,
    name: &str,
    offset: u64,
    len: u64,
) -> BackendResult<Vec<u8>> {
    let path = ft.path(name);
    if len == 0 {
        return Ok(Vec::new());
    }
    let end = offset.checked_add(len).ok_or_else(|| BackendError::Io {
        op: "read",
        path: path.clone(),
        message: "range overflows".into(),
    })?;
    let buf = op
        .read_options(
            &path,
            ReadOptions {
                range: (offset..end).into(),
                ..ReadOptions::default()
            },
        )
        .map_err(|e| map_err("read", &path, e))?;
    let got = buf.len() as u64;
    if got != len {
        return Err(BackendError::ShortRead {
            path,
            offset,
            wanted: len,
            got,
        });
    }
    Ok(buf.to_vec())
}

pub(crate) fn remove(op: &Operator, ft: FileType, name: &str) -> BackendResult<()> {
    let path = ft.path(name);
    op.delete(&path).map_err(|e| match e.kind() {
        opendal::ErrorKind::PermissionDenied => BackendError::DeleteRefused {
            path: path.clone(),
            message: e.to_string(),
        },
        _ => map_err("delete", &path, e),
    })
}

/// How a backend makes a new object appear without overwriting one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// One conditional write (`If-None-Match: *`, `O_EXCL`), enforced by
    /// the store.
    Conditional,
    /// Look the object up, then write it conditionally: for servers that
    /// accept the condition without enforcing it (rclone's S3).
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    LookThenConditional,
    /// Look the object up, then write it: for stores whose uploads are
    /// atomic but cannot be conditional (B2's native API).
    #[cfg_attr(not(feature = "b2"), allow(dead_code))]
    LookThenWrite,
    /// The bytes go to `tmp/` under a random name, then are renamed into
    /// place once the object is known to be absent: for protocols whose
    /// writes are neither conditional nor atomic (SFTP writes in place,
    /// WebDAV lacks create-if-absent), so a write cut off never leaves a
    /// partial object under its real name.
    #[cfg_attr(not(any(feature = "sftp", feature = "webdav")), allow(dead_code))]
    ViaTmp,
}

/// A backend that is an OpenDAL operator (memory, S3, SFTP, WebDAV):
/// implementing this gives every [`Backend`] method, so the stores differ
/// only in how they are set up.
pub trait OnOperator: Send + Sync {
    /// The operator (blocking, with the retry layer).
    fn operator(&self) -> &Operator;
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// How new objects are written.
    fn write_mode(&self) -> WriteMode {
        WriteMode::Conditional
    }
    /// Whether packs being filled wait in a temporary file rather than in
    /// memory (see [`Backend::stage`]).
    fn stage_in_file(&self) -> bool {
        false
    }
}

/// Fails with [`BackendError::AlreadyExists`] when `path` is there.
fn absent(op: &Operator, path: &str) -> BackendResult<()> {
    match op.stat(path) {
        Ok(_) => Err(BackendError::AlreadyExists {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(map_err("stat", path, e)),
    }
}

fn tmp_name() -> String {
    let mut r = [0u8; 16];
    // a failing OS random source gives a fixed name: the rename then
    // still never overwrites (the target is looked up first)
    let _ = getrandom::getrandom(&mut r);
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("tmp/{hex}")
}

pub(crate) fn write_new(
    op: &Operator,
    mode: WriteMode,
    ft: FileType,
    name: &str,
    data: opendal::Buffer,
) -> BackendResult<()> {
    let path = ft.path(name);
    match mode {
        WriteMode::Conditional | WriteMode::LookThenConditional | WriteMode::LookThenWrite => {
            if mode != WriteMode::Conditional {
                absent(op, &path)?;
            }
            let options = WriteOptions {
                if_not_exists: mode != WriteMode::LookThenWrite,
                ..WriteOptions::default()
            };
            op.write_options(&path, data, options)
                .map(|_| ())
                .map_err(|e| map_err("write", &path, e))
        }
        WriteMode::ViaTmp => {
            absent(op, &path)?;
            let tmp = tmp_name();
            let res = op
                .write(&tmp, data)
                .map_err(|e| map_err("write", &path, e))
                .and_then(|_| absent(op, &path))
                .and_then(|()| {
                    op.rename(&tmp, &path)
                        .map_err(|e| map_err("rename", &path, e))
                });
            if res.is_err() {
                // best effort: a leftover in tmp/ is never read
                let _ = op.delete(&tmp);
            }
            res
        }
    }
}

/// Names the store in an I/O error's message (a location never holds
/// credentials).
fn at<T>(b: &impl OnOperator, r: BackendResult<T>) -> BackendResult<T> {
    r.map_err(|e| match e {
        BackendError::Io { op, path, message } => BackendError::Io {
            op,
            path,
            message: format!("on {}: {message}", b.describe()),
        },
        other => other,
    })
}

impl<T: OnOperator> Backend for T {
    fn location(&self) -> String {
        self.describe()
    }
    fn create_layout(&self) -> BackendResult<()> {
        Ok(())
    }
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        at(self, list(self.operator(), ft))
    }
    fn list_sizes(&self, ft: FileType) -> BackendResult<Vec<(String, Option<u64>)>> {
        at(self, list_sizes(self.operator(), ft))
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        at(self, stat(self.operator(), ft, name))
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        at(self, read(self.operator(), ft, name))
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        at(self, read_range(self.operator(), ft, name, offset, len))
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        self.write_new_parts(ft, name, vec![data.to_vec()])
    }
    fn write_new_parts(&self, ft: FileType, name: &str, parts: Vec<Vec<u8>>) -> BackendResult<()> {
        let data: Vec<bytes::Bytes> = parts.into_iter().map(bytes::Bytes::from).collect();
        at(
            self,
            write_new(self.operator(), self.write_mode(), ft, name, data.into()),
        )
    }
    fn stage(&self, ft: FileType) -> BackendResult<Box<dyn super::Staged>> {
        Ok(if self.stage_in_file() {
            Box::new(super::FileStaged::new(ft)?)
        } else {
            Box::new(super::MemoryStaged::new(ft))
        })
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        at(self, remove(self.operator(), ft, name))
    }
}
