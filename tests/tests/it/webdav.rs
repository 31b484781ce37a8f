//! The WebDAV backend against two real servers on 127.0.0.1 (nginx's dav
//! modules, and rclone): the backend conformance suite. Neither offers
//! create-if-absent, which the suite checks rdr provides all the same.

use rdr_core::backend::run_conformance;
use rdr_core::{Location, Storage};
use rdr_tests::servers::WebDavServer;

fn conforms(server: &WebDavServer) {
    let loc = Location::parse(&server.location("suite/repo")).unwrap();
    let s = Storage::connect_with(&loc, &|_| None).unwrap();
    run_conformance(s.backend().as_ref());
    assert!(server.data_dir().join("suite/repo").is_dir());
    let tmp = server.data_dir().join("suite/repo/tmp");
    let left = std::fs::read_dir(&tmp).map(Iterator::count).unwrap_or(0);
    assert_eq!(left, 0, "leftovers in {}", tmp.display());
}

#[test]
fn webdav_on_nginx_passes_the_backend_conformance_suite() {
    conforms(&WebDavServer::nginx());
}

#[test]
fn webdav_on_rclone_passes_the_backend_conformance_suite() {
    conforms(&WebDavServer::rclone());
}
