//! The S3 backend against a real S3 server (`rclone serve s3` on
//! 127.0.0.1): the backend conformance suite, a repository's life on it,
//! and the errors of a wrong key and of a server that is gone.

use std::collections::HashMap;

use rdr_core::backend::run_conformance;
use rdr_core::{
    Credential, ErrorKind, InitOptions, Location, LockHolder, NewKey, Repository, Storage,
};
use rdr_tests::servers::S3Server;

fn storage(server: &S3Server, prefix: &str, vars: &[(&str, &str)]) -> Storage {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let loc = Location::parse(&server.location(prefix)).unwrap();
    Storage::connect_with(&loc, &|k| vars.get(k).cloned()).unwrap()
}

#[test]
fn s3_passes_the_backend_conformance_suite() {
    let server = S3Server::start("conformance");
    let s = storage(&server, "suite", &server.env());
    run_conformance(s.backend().as_ref());
}

#[test]
fn a_repository_lives_on_s3_and_errors_name_the_object_and_the_server() {
    let mut server = S3Server::start("repos");
    let s = storage(&server, "one/repo", &server.env());
    assert!(!s.has_repository().unwrap());
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    Repository::init(&s, &InitOptions::default(), &key, &LockHolder::current()).unwrap();
    assert!(s.has_repository().unwrap());
    // objects live under the prefix, in the bucket
    assert!(server.data_dir().join("repos/one/repo/config").is_file());
    let repo = Repository::open(&s, &Credential::Passphrase("pw")).unwrap();
    assert_eq!(repo.keys().unwrap().len(), 1);
    let err = Repository::open(&s, &Credential::Passphrase("wrong")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongPassword);

    // a wrong secret: the server's refusal, naming the object
    let bad = [
        ("AWS_ACCESS_KEY_ID", rdr_tests::servers::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ];
    let err = storage(&server, "one/repo", &bad)
        .has_repository()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.to_string().contains("config"), "{err}");
    assert!(!err.to_string().contains("not-the-secret"), "{err}");

    // the server is gone: a clear storage error after the retries, no hang
    server.kill();
    let err = Repository::open(&s, &Credential::Passphrase("pw")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(err.to_string().contains("config"), "{err}");
    // back again: nothing was lost
    server.restart();
    let repo = Repository::open(&s, &Credential::Passphrase("pw")).unwrap();
    assert_eq!(repo.keys().unwrap().len(), 1);
}
