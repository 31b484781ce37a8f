//! Unit tests of the handles and error reporting.

#![allow(unsafe_code)]

use std::ffi::{CStr, CString};

use crate::*;

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
