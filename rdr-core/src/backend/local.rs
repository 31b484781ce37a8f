//! Local directory backend: the embedded default.
//!
//! Reads, listings and deletes go through OpenDAL's fs service. Writes are
//! done here, because durability needs more than OpenDAL's fs writer does:
//! the data goes to `tmp/` (mode 0600 for key files), is fsynced, then
//! hard-linked to its final name (which fails atomically if the name
//! exists, so nothing is ever overwritten), and the directory is fsynced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use opendal::blocking::Operator;

use super::opendal_ops;
use super::{Backend, BackendError, BackendResult, FileType};

/// A repository in a local directory.
pub struct LocalBackend {
    root: PathBuf,
    op: Operator,
}

impl LocalBackend {
    /// Opens (without creating) a repository directory.
    ///
    /// # Errors
    /// [`BackendError::Setup`] when the path is not usable.
    pub fn new(root: impl AsRef<Path>) -> BackendResult<Self> {
        let root = std::path::absolute(root.as_ref())
            .map_err(|e| BackendError::Setup(format!("{}: {e}", root.as_ref().display())))?;
        let root_str = root.to_str().ok_or_else(|| {
            BackendError::Setup(format!("{}: repository path is not UTF-8", root.display()))
        })?;
        let builder = opendal::services::Fs::default().root(root_str);
        let op = opendal::Operator::new(builder).map_err(|e| BackendError::Setup(e.to_string()))?;
        Ok(Self {
            root,
            op: opendal_ops::blocking(op)?,
        })
    }

    fn io_err(op: &'static str, path: &Path, e: &io::Error) -> BackendError {
        BackendError::Io {
            op,
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    fn write_tmp(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<PathBuf> {
        let tmp_dir = self.root.join("tmp");
        fs::create_dir_all(&tmp_dir).map_err(|e| Self::io_err("mkdir", &tmp_dir, &e))?;
        let rnd: [u8; 8] = crate::crypto::rng::bytes();
        let tmp = tmp_dir.join(format!(
            "{}-{}.tmp",
            name.get(..16).unwrap_or(name),
            u64::from_le_bytes(rnd)
        ));
        let mode = if ft == FileType::Key { 0o600 } else { 0o644 };
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| Self::io_err("create", &tmp, &e))?;
        let res = f.write_all(data).and_then(|()| f.sync_all());
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(Self::io_err("write", &tmp, &e));
        }
        Ok(tmp)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Backend for LocalBackend {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn create_layout(&self) -> BackendResult<()> {
        fs::create_dir_all(&self.root).map_err(|e| Self::io_err("mkdir", &self.root, &e))?;
        for d in super::layout::directories() {
            let p = self.root.join(&d);
            fs::create_dir_all(&p).map_err(|e| Self::io_err("mkdir", &p, &e))?;
            if d == "keys" || d == "tmp" {
                fs::set_permissions(&p, fs::Permissions::from_mode(0o700))
                    .map_err(|e| Self::io_err("chmod", &p, &e))?;
            }
        }
        for d in ["data", "."] {
            let p = self.root.join(d);
            sync_dir(&p).map_err(|e| Self::io_err("fsync", &p, &e))?;
        }
        Ok(())
    }

    fn list(&self, ft: FileType) -> BackendResult<Vec<String>> {
        opendal_ops::list(&self.op, ft)
    }
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64> {
        opendal_ops::stat(&self.op, ft, name)
    }
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>> {
        opendal_ops::read(&self.op, ft, name)
    }
    fn read_range(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<Vec<u8>> {
        opendal_ops::read_range(&self.op, ft, name, offset, len)
    }

    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()> {
        let rel = ft.path(name);
        if rel.contains("..") || name.contains('/') || name.is_empty() {
            return Err(BackendError::Io {
                op: "write",
                path: rel,
                message: "invalid object name".into(),
            });
        }
        let target = self.root.join(&rel);
        let dir = target
            .parent()
            .map_or_else(|| self.root.clone(), Path::to_path_buf);
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(|e| Self::io_err("mkdir", &dir, &e))?;
        }
        let tmp = self.write_tmp(ft, name, data)?;
        let linked = match fs::hard_link(&tmp, &target) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(BackendError::AlreadyExists { path: rel.clone() })
            }
            // File systems without hard links: check, then rename (not atomic
            // against a concurrent writer of the same name, which for
            // content-addressed names writes the same bytes).
            Err(_) if target.exists() => Err(BackendError::AlreadyExists { path: rel.clone() }),
            Err(_) => match fs::rename(&tmp, &target) {
                Ok(()) => Ok(()),
                Err(e) => Err(Self::io_err("rename", &target, &e)),
            },
        };
        let _ = fs::remove_file(&tmp);
        linked?;
        sync_dir(&dir).map_err(|e| Self::io_err("fsync", &dir, &e))
    }

    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()> {
        opendal_ops::remove(&self.op, ft, name)?;
        let target = self.root.join(ft.path(name));
        if let Some(dir) = target.parent() {
            sync_dir(dir).map_err(|e| Self::io_err("fsync", dir, &e))?;
        }
        Ok(())
    }
}
