//! The SFTP backend against OpenSSH's sshd on 127.0.0.1, reached through a
//! host alias of the client configuration (see `rdr_tests::servers`): the
//! backend conformance suite. The CLI's tests (rdr-cli/tests/remote.rs)
//! run a repository's life on it, with the server going away.

use rdr_core::backend::run_conformance;
use rdr_core::{Location, Storage};
use rdr_tests::servers::{SshServer, in_child_with_env};

const LOCATION: &str = "RDR_TEST_SFTP_LOCATION";

#[test]
fn sftp_passes_the_backend_conformance_suite() {
    if let Ok(location) = std::env::var(LOCATION) {
        // the child, with the ssh wrapper on its PATH
        let s = Storage::connect(&Location::parse(&location).unwrap()).unwrap();
        run_conformance(s.backend().as_ref());
        return;
    }
    let server = SshServer::start();
    let env = [
        ("PATH", server.path()),
        (LOCATION, server.location("suite").into()),
    ];
    assert!(!in_child_with_env(
        "sftp::sftp_passes_the_backend_conformance_suite",
        &env
    ));
    // objects went through tmp/ and were renamed: nothing is left there
    let tmp = server.data_dir().join("suite/tmp");
    let left = std::fs::read_dir(&tmp).map(Iterator::count).unwrap_or(0);
    assert_eq!(left, 0, "leftovers in {}", tmp.display());
    assert!(server.data_dir().join("suite").is_dir());
    // the ssh processes ended with the storage
    assert_eq!(server.clients_left(), Vec::<String>::new());
}
