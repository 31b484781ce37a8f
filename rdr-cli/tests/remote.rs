//! The real `rdr` binary on remote storage: S3 (`rclone serve s3`, and
//! moto's server, which enforces conditional writes) and
//! SFTP (OpenSSH's sshd, reached through a host alias of the client
//! configuration), on 127.0.0.1. A repository is created, backed up to,
//! restored from, pruned and checked there, with credentials only from the
//! environment, and a server that dies gives a clear error and loses
//! nothing.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

use rdr_tests::servers::{FlakyProxy, MotoServer, S3Server, SECRET_KEY, SshServer};

/// The variables that reach a server.
trait Reach {
    fn vars(&self) -> Vec<(&'static str, OsString)>;
}

fn os_vars(env: &[(&'static str, &'static str)]) -> Vec<(&'static str, OsString)> {
    env.iter().map(|(k, v)| (*k, OsString::from(v))).collect()
}

impl Reach for S3Server {
    fn vars(&self) -> Vec<(&'static str, OsString)> {
        os_vars(&self.env())
    }
}

impl Reach for MotoServer {
    fn vars(&self) -> Vec<(&'static str, OsString)> {
        // the CRC32C upload checksum (rclone's server runs the MD5 default)
        let mut v = os_vars(&self.env());
        v.push(("RDR_S3_CHECKSUM", OsString::from("crc32c")));
        v
    }
}

impl Reach for SshServer {
    fn vars(&self) -> Vec<(&'static str, OsString)> {
        vec![("PATH", self.path())]
    }
}

fn rdr(server: &dyn Reach, location: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RDR_PASSWORD", "pw")
        .env("RDR_REPOSITORY", location)
        .args(args);
    for (k, v) in server.vars() {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(server: &dyn Reach, location: &str, args: &[&str]) -> String {
    let o = rdr(server, location, args);
    assert!(
        o.status.success(),
        "rdr {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// The last line of a successful command's output, as JSON (a summary).
fn last_json(server: &dyn Reach, location: &str, args: &[&str]) -> serde_json::Value {
    let o = ok(server, location, args);
    serde_json::from_str(o.lines().last().unwrap_or_default()).unwrap()
}

fn tree(root: &Path) {
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    std::fs::write(root.join("etc/app/app.conf"), "port = 5432\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u64).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(root.join("dump.sql"), &big).unwrap();
    std::os::unix::fs::symlink("etc/app/app.conf", root.join("link")).unwrap();
}

#[test]
fn backup_restore_forget_prune_and_check_on_s3_and_a_dead_server() {
    let mut server = S3Server::start("backups");
    let loc = server.location("hosts/db1");
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    // remote storage gets 8 MiB data packs by default
    let config: serde_json::Value =
        serde_json::from_str(&ok(&server, &loc, &["cat", "config", "--json"])).unwrap();
    assert_eq!(config["data_pack_size"], 8 << 20, "{config}");
    let src_arg = src.path().to_str().unwrap();
    let first = ok(&server, &loc, &["backup", src_arg]);
    assert_eq!(first.trim().len(), 64, "{first}");

    // nothing secret or plain reached the server
    let n = scan_stored(&server.data_dir().join("backups/hosts/db1"));
    assert!(n >= 4, "config, key, pack, index and snapshot: {n} objects");
    restore_and_check(&server, &loc, src.path());

    // a second backup of the same tree reads no file and adds no data
    let summary = last_json(
        &server,
        &loc,
        &["backup", "--json", "--connections", "3", src_arg],
    );
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
    forget_and_prune(&server, &loc, src.path());
}

#[test]
fn backup_restore_forget_prune_and_check_on_an_s3_server_that_enforces_conditional_writes() {
    // moto refuses a second create itself: every write rdr makes is new;
    // uploads carry x-amz-checksum-crc32c here (see `Reach for MotoServer`)
    let server = MotoServer::start("backups");
    let loc = server.location("hosts/db1");
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    let src_arg = src.path().to_str().unwrap();
    ok(&server, &loc, &["backup", src_arg]);
    // one request at a time, uploads and downloads alike
    let summary = last_json(
        &server,
        &loc,
        &["backup", "--json", "--connections", "1", src_arg],
    );
    assert_eq!(summary["data_blobs"], 0, "{summary}");
    restore_and_check(&server, &loc, src.path());
    forget_and_prune(&server, &loc, src.path());
}

/// Counts the objects under `stored`, asserting none holds plaintext or
/// the S3 secret.
fn scan_stored(stored: &Path) -> usize {
    let mut files = vec![stored.to_owned()];
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
    n
}

/// Restores the latest snapshot with verification, compares it with
/// `src`, and checks every pack.
fn restore_and_check(server: &dyn Reach, loc: &str, src: &Path) {
    restore_snapshot_and_check(server, loc, "latest", src);
}

/// [`restore_and_check`] of `snapshot`.
fn restore_snapshot_and_check(server: &dyn Reach, loc: &str, snapshot: &str, src: &Path) {
    let target = tempfile::tempdir().unwrap();
    ok(
        server,
        loc,
        &[
            "restore",
            snapshot,
            "--target",
            target.path().to_str().unwrap(),
            "--verify",
        ],
    );
    let back = target.path().join(src.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(back.join("dump.sql")).unwrap(),
        std::fs::read(src.join("dump.sql")).unwrap()
    );
    assert_eq!(
        std::fs::read_link(back.join("link")).unwrap(),
        Path::new("etc/app/app.conf")
    );
    ok(server, loc, &["check", "--read-data"]);
}

/// A changed file, a new snapshot; forget all but it, prune, and restore.
fn forget_and_prune(server: &dyn Reach, loc: &str, src: &Path) {
    std::fs::write(src.join("etc/app/app.conf"), "port = 6543\n").unwrap();
    ok(server, loc, &["backup", src.to_str().unwrap()]);
    ok(server, loc, &["forget", "--keep-last", "1", "--prune"]);
    let snaps: serde_json::Value =
        serde_json::from_str(&ok(server, loc, &["snapshots", "--json"])).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    restore_and_check(server, loc, src);
    std::fs::write(src.join("etc/app/app.conf"), "port = 5432\n").unwrap();
}

#[test]
fn backup_restore_forget_prune_and_check_over_sftp_and_a_dead_server() {
    let mut server = SshServer::start();
    let loc = server.location("db1");
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    let src_arg = src.path().to_str().unwrap();
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    ok(&server, &loc, &["backup", src_arg]);
    assert!(scan_stored(&server.data_dir().join("db1")) >= 4);
    restore_and_check(&server, &loc, src.path());

    forget_and_prune(&server, &loc, src.path());

    // the server dies: a clear error, exit 1, no hang
    server.kill();
    let o = rdr(&server, &loc, &["snapshots"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config") && err.contains("sftp:rdr-sftp-test:"),
        "{err}"
    );
    assert!(err.contains("failed to connect"), "{err}");
    assert_eq!(
        rdr(&server, &loc, &["backup", src_arg]).status.code(),
        Some(1)
    );
    // back again: the snapshot is intact and the next backup works
    server.restart();
    ok(&server, &loc, &["backup", src_arg]);
    ok(&server, &loc, &["check", "--read-data"]);
    // and no ssh process outlived the commands
    assert_eq!(server.clients_left(), Vec::<String>::new());
    // objects went through tmp/: nothing is left there
    let tmp = server.data_dir().join("db1/tmp");
    assert_eq!(std::fs::read_dir(&tmp).map(Iterator::count).unwrap_or(0), 0);
}

/// `len` bytes that do not compress or deduplicate (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn objects(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(Iterator::count).unwrap_or(0)
}

#[test]
fn a_backup_cut_off_by_a_dead_server_loses_nothing_and_the_next_one_resumes() {
    let mut server = S3Server::start("backups");
    let loc = server.location("cut");
    let stored = server.data_dir().join("backups/cut");
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    let earlier = tempfile::tempdir().unwrap();
    tree(earlier.path());
    let first = ok(&server, &loc, &["backup", earlier.path().to_str().unwrap()]);
    let first = first.trim().to_owned();
    let indexes_before = objects(&stored.join("index"));

    let src = tempfile::tempdir().unwrap();
    const SIZE: usize = 96 << 20;
    std::fs::write(src.path().join("big.bin"), noise(SIZE, 7)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdr"))
        .env_clear()
        .envs(server.vars())
        .env("RDR_PASSWORD", "pw")
        .env("RDR_REPOSITORY", &loc)
        .args(["backup", "--checkpoint-interval", "1s"])
        .arg(src.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // kill the server once a checkpoint indexed part of the upload
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while objects(&stored.join("index")) <= indexes_before {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before its first checkpoint: make the data larger"
        );
        assert!(std::time::Instant::now() < until, "no checkpoint in 120 s");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    server.kill();
    // the backup fails with a clear error within its deadlines, no hang
    let until = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(std::time::Instant::now() < until, "the backup hangs");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("127.0.0.1"), "{err}");

    // back again: the earlier snapshot is intact, the next backup uploads
    // only what the checkpoint did not index, and everything checks
    server.restart();
    let snaps: serde_json::Value =
        serde_json::from_str(&ok(&server, &loc, &["snapshots", "--json"])).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 1);
    let o = ok(
        &server,
        &loc,
        &["backup", "--json", src.path().to_str().unwrap()],
    );
    let summary: serde_json::Value = serde_json::from_str(o.lines().last().unwrap()).unwrap();
    let added = summary["data_added"].as_u64().unwrap();
    assert!(
        added <= SIZE as u64 - (8 << 20),
        "at least one checkpointed pack was reused: {summary}"
    );
    ok(&server, &loc, &["check", "--read-data"]);
    restore_snapshot_and_check(&server, &loc, &first, earlier.path());
}

#[test]
fn backup_check_and_restore_succeed_when_a_tenth_of_the_requests_fail() {
    let server = S3Server::start("backups");
    let proxy = FlakyProxy::start(server.port, 10);
    let loc = format!("s3:http://127.0.0.1:{}/backups/flaky", proxy.port);
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    std::fs::write(src.path().join("big.bin"), noise(40 << 20, 3)).unwrap();
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    ok(&server, &loc, &["backup", src.path().to_str().unwrap()]);
    ok(&server, &loc, &["check", "--read-data"]);
    restore_and_check(&server, &loc, src.path());
    let target = tempfile::tempdir().unwrap();
    ok(
        &server,
        &loc,
        &[
            "restore",
            "latest",
            "--target",
            target.path().to_str().unwrap(),
        ],
    );
    let back = target.path().join(src.path().strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(back.join("big.bin")).unwrap(),
        std::fs::read(src.path().join("big.bin")).unwrap()
    );
    assert!(
        proxy.failed() >= 5 && proxy.failed() * 20 >= proxy.requests(),
        "{} of {} requests failed",
        proxy.failed(),
        proxy.requests()
    );
}

/// A server reached with a cache directory.
struct Cached<'a> {
    server: &'a S3Server,
    dir: &'a Path,
}

impl Reach for Cached<'_> {
    fn vars(&self) -> Vec<(&'static str, OsString)> {
        let mut v = self.server.vars();
        v.push(("RDR_CACHE_DIR", self.dir.into()));
        v
    }
}

/// (requests, pack reads) among request lines.
fn tally(lines: &[String]) -> (usize, usize) {
    let packs = lines
        .iter()
        .filter(|l| l.starts_with("GET ") && l.contains("/data/"))
        .count();
    (lines.len(), packs)
}

#[test]
fn with_a_warm_cache_browsing_and_a_no_change_backup_read_no_pack_data() {
    let server = S3Server::start("backups");
    let proxy = FlakyProxy::start(server.port, 0);
    let loc = format!("s3:http://127.0.0.1:{}/backups/cached", proxy.port);
    let cache_dir = tempfile::tempdir().unwrap();
    let reach = Cached {
        server: &server,
        dir: cache_dir.path(),
    };
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    for d in 0..20 {
        let dir = src.path().join(format!("srv/d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.txt"), format!("file {d}\n")).unwrap();
    }
    let src_arg = src.path().to_str().unwrap();
    ok(&reach, &loc, &["init", "--kdf-log-n", "10"]);
    let a = ok(&reach, &loc, &["backup", src_arg]).trim().to_owned();
    std::fs::write(src.path().join("srv/d3/f.txt"), "changed\n").unwrap();
    let b = ok(&reach, &loc, &["backup", src_arg]).trim().to_owned();
    // every upload carries its checksum (Content-MD5), which S3 verifies
    let puts: Vec<String> = proxy
        .take_lines()
        .into_iter()
        .filter(|h| h.starts_with("PUT "))
        .collect();
    assert!(puts.iter().any(|h| h.contains("/data/")), "{puts:#?}");
    for h in &puts {
        assert!(h.to_ascii_lowercase().contains("\ncontent-md5: "), "{h}");
    }
    let commands: [&[&str]; 5] = [
        &["snapshots"],
        &["ls", "latest"],
        &["diff", &a, &b],
        &["find", "f.txt"],
        &["backup", src_arg],
    ];
    let wipe = || {
        let _ = std::fs::remove_dir_all(cache_dir.path());
    };
    eprintln!("| command | cold cache: requests / pack reads | warm cache | --no-cache |");
    for cmd in commands {
        wipe();
        let _ = proxy.take_lines();
        ok(&reach, &loc, cmd);
        let cold = tally(&proxy.take_lines());
        let out = ok(&reach, &loc, cmd);
        let warm = tally(&proxy.take_lines());
        let mut args = cmd.to_vec();
        args.push("--no-cache");
        let again = ok(&reach, &loc, &args);
        if cmd[0] != "backup" {
            assert_eq!(again, out, "{cmd:?}");
        }
        let none = tally(&proxy.take_lines());
        eprintln!(
            "| `{}` | {} / {} | {} / {} | {} / {} |",
            cmd.join(" ")
                .replace(src_arg, "DIR")
                .replace(&a, "A")
                .replace(&b, "B"),
            cold.0,
            cold.1,
            warm.0,
            warm.1,
            none.0,
            none.1
        );
        assert_eq!(warm.1, 0, "{cmd:?} read packs with a warm cache");
        if cmd[0] != "snapshots" {
            assert!(none.1 > 0, "{cmd:?} without a cache reads tree packs");
        }
    }

    // a damaged cache entry is fetched again, never trusted
    let mut cached_packs = Vec::new();
    let mut dirs = vec![cache_dir.path().to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                dirs.push(e.path());
            } else if e.path().to_str().unwrap().contains("/data/") {
                cached_packs.push(e.path());
            }
        }
    }
    assert!(!cached_packs.is_empty());
    for p in &cached_packs {
        let mut bytes = std::fs::read(p).unwrap();
        for b in bytes.iter_mut().step_by(97) {
            *b ^= 0x55;
        }
        std::fs::write(p, bytes).unwrap();
    }
    let expected = ok(&reach, &loc, &["ls", "latest", "--no-cache"]);
    let _ = proxy.take_lines();
    assert_eq!(ok(&reach, &loc, &["ls", "latest"]), expected);
    assert!(
        tally(&proxy.take_lines()).1 > 0,
        "damaged packs were fetched again"
    );
    assert_eq!(ok(&reach, &loc, &["ls", "latest"]), expected);
    assert_eq!(tally(&proxy.take_lines()).1, 0, "and cached again");
    // check reads around the cache
    ok(&reach, &loc, &["check"]);
    assert!(
        tally(&proxy.take_lines()).1 > 0,
        "check reads the server's trees"
    );
}

#[test]
fn an_upload_damaged_on_the_way_is_refused_by_the_server() {
    let server = S3Server::start("backups");
    let proxy = FlakyProxy::corrupting_pack_uploads(server.port);
    let loc = format!("s3:http://127.0.0.1:{}/backups/damaged", proxy.port);
    let src = tempfile::tempdir().unwrap();
    tree(src.path());
    ok(&server, &loc, &["init", "--kdf-log-n", "10"]);
    let o = rdr(&server, &loc, &["backup", src.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("data/"), "{err}");
    assert!(err.contains("BadDigest"), "{err}");
    // nothing damaged was stored, and no snapshot names it
    let data = server.data_dir().join("backups/damaged/data");
    let stored: usize = std::fs::read_dir(&data)
        .map(|d| d.flatten().map(|e| objects(&e.path())).sum())
        .unwrap_or(0);
    assert_eq!(stored, 0, "{err}");
    assert_eq!(
        objects(&server.data_dir().join("backups/damaged/snapshots")),
        0
    );
}
