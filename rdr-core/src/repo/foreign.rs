//! Recognising another tool's repository, so that opening one says what
//! it is instead of "wrong password": restic's key files are plaintext
//! JSON naming their KDF, Borg's config is an INI file.

use crate::backend::{Backend, FileType};

/// The tool whose repository this is, when it is not rdr's.
pub(super) fn foreign_tool(backend: &dyn Backend, config: &[u8]) -> Option<&'static str> {
    if config.starts_with(b"[repository]") {
        return Some("Borg");
    }
    let names = backend.list(FileType::Key).ok()?;
    for name in names.iter().take(3) {
        let Ok(bytes) = backend.read(FileType::Key, name) else {
            continue;
        };
        let text = bytes.trim_ascii_start();
        if text.starts_with(b"{") && bytes.windows(5).any(|w| w == b"\"kdf\"") {
            return Some("restic");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    #[test]
    fn restic_and_borg_are_recognised_and_rdr_is_not() {
        let m = MemoryBackend::new().unwrap();
        m.create_layout().unwrap();
        assert_eq!(foreign_tool(&m, b"\x01\x02sealed"), None);
        assert_eq!(
            foreign_tool(&m, b"[repository]\nversion = 1\n"),
            Some("Borg")
        );
        m.write_new(FileType::Key, "k1", b"\x00binary key").unwrap();
        assert_eq!(foreign_tool(&m, b"x"), None);
        let restic = br#"{"created":"2026-01-01T00:00:00Z","kdf":"scrypt","N":32768,"r":8,"p":1}"#;
        m.write_new(FileType::Key, "k2", restic).unwrap();
        assert_eq!(foreign_tool(&m, b"x"), Some("restic"));
    }
}
