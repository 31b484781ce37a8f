//! The real `rdr` binary on S3-compatible storage (`rclone serve s3` on
//! 127.0.0.1): a repository created, backed up to, restored from and
//! checked there, credentials only from the environment, and a server that
//! dies giving a clear error and losing nothing.

use std::path::Path;
use std::process::{Command, Output};

use rdr_tests::servers::{S3Server, SECRET_KEY};

fn rdr(server: &S3Server, location: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RDR_PASSWORD", "pw")
        .env("RDR_REPOSITORY", location)
        .args(args);
    for (k, v) in server.env() {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(server: &S3Server, location: &str, args: &[&str]) -> String {
    let o = rdr(server, location, args);
    assert!(
        o.status.success(),
        "rdr {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    std::fs::write(root.join("etc/app/app.conf"), "port = 5432\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u64).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(root.join("dump.sql"), &big).unwrap();
    std::os::unix::fs::symlink("etc/app/app.conf", root.join("link")).unwrap();
}

#[test]
fn backup_restore_and_check_on_s3_and_a_dead_server() {
    let mut server = S3Server::start("backups");
    let loc = server.location("hosts/db1");
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    let src_arg = src.path().to_str().unwrap();
    let first = ok(&server, &loc, &["backup", src_arg]);
    assert_eq!(first.trim().len(), 64, "{first}");

    // nothing secret or plain reached the server
    let stored = server.data_dir().join("backups/hosts/db1");
    let mut files = vec![stored.clone()];
    let mut n = 0;
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            assert!(!bytes.windows(11).any(|w| w == b"port = 5432"), "{p:?}");
            assert!(!bytes.windows(8).any(|w| w == b"app.conf"), "{p:?}");
            assert!(
                !bytes
                    .windows(SECRET_KEY.len())
                    .any(|w| w == SECRET_KEY.as_bytes())
            );
            n += 1;
        }
    }
    assert!(n >= 4, "config, key, pack, index and snapshot: {n} objects");

    let target = tempfile::tempdir().unwrap();
    ok(
        &server,
        &loc,
        &[
            "restore",
            "latest",
            "--target",
            target.path().to_str().unwrap(),
            "--verify",
        ],
    );
    let back = target.path().join(src.path().strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(back.join("dump.sql")).unwrap(),
        std::fs::read(src.path().join("dump.sql")).unwrap()
    );
    assert_eq!(
        std::fs::read_link(back.join("link")).unwrap(),
        Path::new("etc/app/app.conf")
    );
    ok(&server, &loc, &["check", "--read-data"]);

    // a second backup of the same tree reads no file and adds no data
    let o = ok(&server, &loc, &["backup", "--json", src_arg]);
    let summary: serde_json::Value = serde_json::from_str(o.lines().last().unwrap()).unwrap();
    assert_eq!(summary["bytes_read"], 0, "{summary}");
    assert_eq!(summary["data_blobs"], 0, "{summary}");

    // the server dies: a clear error naming the object, exit 1, no hang
    server.kill();
    let o = rdr(&server, &loc, &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("config") && err.contains("127.0.0.1"), "{err}");
    let o = rdr(&server, &loc, &["backup", src_arg]);
    assert_eq!(o.status.code(), Some(1));
    // back again: both snapshots are intact and the next backup works
    server.restart();
    let snaps: serde_json::Value =
        serde_json::from_str(&ok(&server, &loc, &["snapshots", "--json"])).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 2);
    ok(&server, &loc, &["backup", src_arg]);
    ok(&server, &loc, &["check", "--read-data"]);
}
