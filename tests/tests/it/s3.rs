//! The S3 backend against real S3 servers on 127.0.0.1 (`rclone serve s3`,
//! which accepts a conditional create without enforcing it, and moto's
//! server, which enforces it): the backend conformance suite, racing
//! creates, a repository's life on it, and the errors of a wrong key and of
//! a server that is gone.

use std::collections::HashMap;

use rdr_core::backend::{BackendError, FileType, run_conformance};
use rdr_core::{
    Credential, ErrorKind, InitOptions, Location, LockHolder, NewKey, Repository, Storage,
};
use rdr_tests::servers::{MotoServer, S3Server};

fn storage(server: &S3Server, prefix: &str, vars: &[(&str, &str)]) -> Storage {
    connect(&server.location(prefix), vars)
}

fn connect(location: &str, vars: &[(&str, &str)]) -> Storage {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let loc = Location::parse(location).unwrap();
    Storage::connect_with(&loc, &|k| vars.get(k).cloned()).unwrap()
}

/// S3 lists sizes: a check or prune needs no request per pack to learn
/// them.
fn sizes_are_listed(s: &Storage) {
    let listed = s.backend().list_sizes(FileType::Pack).unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().all(|(_, size)| size.is_some()), "{listed:?}");
}

#[test]
fn s3_passes_the_backend_conformance_suite() {
    let server = S3Server::start("conformance");
    let s = storage(&server, "suite", &server.env());
    run_conformance(s.backend().as_ref());
    sizes_are_listed(&s);
}

#[test]
fn moto_passes_the_backend_conformance_suite() {
    let server = MotoServer::start("conformance");
    let s = connect(&server.location("suite"), &server.env());
    run_conformance(s.backend().as_ref());
    sizes_are_listed(&s);
}

/// Writers racing to create the same objects with different contents:
/// whatever the timing between rdr's look-up and its write, the server's
/// enforced `If-None-Match: *` lets exactly one win, and what is stored is
/// the winner's.
#[test]
fn racing_creates_on_a_server_that_enforces_them_store_exactly_one() {
    const WRITERS: usize = 6;
    let server = MotoServer::start("race");
    let s = connect(&server.location("r"), &server.env());
    let b = s.backend();
    for round in 0..10 {
        let name = format!("{round:064x}");
        let gate = std::sync::Barrier::new(WRITERS);
        let won: Vec<(usize, bool)> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..WRITERS)
                .map(|w| {
                    let (gate, name, b) = (&gate, &name, &b);
                    sc.spawn(move || {
                        gate.wait();
                        let r = b.write_new(FileType::Pack, name, format!("writer {w}").as_bytes());
                        match r {
                            Ok(()) => (w, true),
                            Err(BackendError::AlreadyExists { .. }) => (w, false),
                            Err(e) => panic!("writer {w}: {e}"),
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners: Vec<usize> = won.iter().filter(|(_, ok)| *ok).map(|(w, _)| *w).collect();
        assert_eq!(winners.len(), 1, "round {round}: {won:?}");
        let stored = b.read(FileType::Pack, &name).unwrap();
        assert_eq!(stored, format!("writer {}", winners[0]).as_bytes());
    }
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
