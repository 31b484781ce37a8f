//! The shared OpenDAL plumbing: the private Tokio runtime that OpenDAL's
//! blocking API needs, operator construction with retries, and the
//! operations common to every OpenDAL-backed store.

use std::sync::LazyLock;
use std::time::Duration;

use opendal::blocking::Operator;
use opendal::layers::RetryLayer;
use opendal::options::{ListOptions, ReadOptions, WriteOptions};

use super::{Backend, BackendError, BackendResult, FileType};

static RUNTIME: LazyLock<Result<tokio::runtime::Runtime, String>> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("rdr-storage")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
});

/// Wraps an async operator with retries (exponential backoff with jitter on
/// errors OpenDAL marks temporary) and makes it blocking.
pub(crate) fn blocking(op: opendal::Operator) -> BackendResult<Operator> {
    let rt = RUNTIME
        .as_ref()
        .map_err(|e| BackendError::Setup(format!("starting the storage runtime: {e}")))?;
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
    let dir = ft.dir();
    if ft == FileType::Config {
        return match op.stat("config") {
            Ok(_) => Ok(vec!["config".to_owned()]),
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
        .filter_map(|e| e.path().rsplit('/').next().map(str::to_owned))
        .filter(|n| !n.is_empty())
        .collect())
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
    op.delete(&path).map_err(|e| map_err("delete", &path, e))
}

/// A backend that is an OpenDAL operator (memory, S3): implementing this
/// gives every [`Backend`] method, so the stores differ only in how they
/// are set up.
pub trait OnOperator: Send + Sync {
    /// The operator (blocking, with the retry layer).
    fn operator(&self) -> &Operator;
    /// Where it is, for messages.
    fn describe(&self) -> String;
    /// Whether to look an object up before its conditional write: some
    /// servers accept `If-None-Match: *` without enforcing it.
    fn look_before_write(&self) -> bool {
        false
    }
}

impl<T: OnOperator> Backend for T {
    fn location(&self) -> String {
        self.describe()
    }
    fn create_layout(&self) -> BackendResult<()> {
        Ok(())
    }
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        list(self.operator(), ft)
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        stat(self.operator(), ft, name)
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        read(self.operator(), ft, name)
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        read_range(self.operator(), ft, name, offset, len)
    }
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        let op = self.operator();
        let path = ft.path(name);
        if self.look_before_write() {
            match op.stat(&path) {
                Ok(_) => return Err(BackendError::AlreadyExists { path }),
                Err(e) if e.kind() == opendal::ErrorKind::NotFound => {}
                Err(e) => return Err(map_err("stat", &path, e)),
            }
        }
        let options = WriteOptions {
            if_not_exists: true,
            ..WriteOptions::default()
        };
        op.write_options(&path, data.to_vec(), options)
            .map(|_| ())
            .map_err(|e| map_err("write", &path, e))
    }
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        remove(self.operator(), ft, name)
    }
}
