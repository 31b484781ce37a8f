//! `rdr copy` with the real binary: between local repositories with other
//! passwords and keys, into S3 (`rclone serve s3`) and from there to SFTP
//! (OpenSSH), again (nothing copied twice), after kill -9 (the next copy
//! completes and reuses what was uploaded), and into a destination that
//! shares the source's chunker and blob ids (`init --copy-chunker-params`),
//! where copies and direct backups deduplicate each other.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{dir_bytes, random_bytes};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rdr_tests::servers::{S3Server, SshServer, WebDavServer};

/// A repository: its location, password and the variables that reach it.
struct Repo {
    loc: String,
    password: &'static str,
    vars: Vec<(&'static str, OsString)>,
}

impl Repo {
    fn local(dir: &Path, name: &str, password: &'static str) -> Self {
        Self {
            loc: dir.join(name).to_str().unwrap().to_owned(),
            password,
            vars: Vec::new(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RDR_PASSWORD", self.password)
            .env("RDR_REPOSITORY", &self.loc)
            .env(
                "RDR_CACHE_DIR",
                std::env::temp_dir().join("rdr-copy-test-cache"),
            )
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "rdr {args:?} on {} exited {:?}: {}",
            self.loc,
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn init(&self, extra: &[&str]) {
        let mut a = vec!["init", "--kdf-log-n", "10"];
        a.extend_from_slice(extra);
        self.ok(&a);
    }

    /// `copy --json` from `src`, whose password comes from a file (and its
    /// storage variables from the environment); the summary.
    fn copy_from(&self, src: &Self, pw_dir: &Path, extra: &[&str]) -> serde_json::Value {
        let mut c = self.copy_cmd(src, pw_dir, extra);
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "copy {} -> {} exited {:?}: {}",
            src.loc,
            self.loc,
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        common::last_json(&String::from_utf8_lossy(&o.stdout))
    }

    fn copy_cmd(&self, src: &Self, pw_dir: &Path, extra: &[&str]) -> Command {
        let pw_file = pw_dir.join(format!("from-{}", src.password));
        std::fs::write(&pw_file, format!("{}\n", src.password)).unwrap();
        let mut c = self.cmd(&["copy", "--json", "--from-repo", &src.loc]);
        c.arg("--from-password-file").arg(&pw_file).args(extra);
        for (k, v) in &src.vars {
            c.env(k, v);
        }
        c
    }

    fn snapshots(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["snapshots", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn backup(&self, path: &Path, extra: &[&str]) -> serde_json::Value {
        let mut a = vec!["backup", "--json", path.to_str().unwrap()];
        a.extend_from_slice(extra);
        common::last_json(&self.ok(&a))
    }

    /// Restores `latest` and compares it with `src`, byte for byte.
    fn restores(&self, src: &Path, scratch: &Path) {
        let target = scratch.join(format!("restore-{}", rand_suffix()));
        self.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
        let got = target.join(src.strip_prefix("/").unwrap());
        assert_same_tree(src, &got);
        self.ok(&["check", "--read-data"]);
    }
}

fn rand_suffix() -> u32 {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn assert_same_tree(want: &Path, got: &Path) {
    for e in walk(want) {
        let rel = e.strip_prefix(want).unwrap();
        let g = got.join(rel);
        if e.is_file() {
            assert!(
                std::fs::read(&e).unwrap() == std::fs::read(&g).unwrap(),
                "{} differs",
                rel.display()
            );
        } else {
            assert!(g.is_dir(), "{} missing", rel.display());
        }
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = vec![p.to_path_buf()];
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            out.extend(walk(&e.unwrap().path()));
        }
    }
    out
}

fn source_tree(root: &Path, seed: u64) {
    std::fs::create_dir_all(root.join("etc/app")).unwrap();
    std::fs::write(root.join("etc/app/app.conf"), "port = 5432\n").unwrap();
    std::fs::write(root.join("dump.sql"), random_bytes(3 << 20, seed)).unwrap();
    for i in 0..20 {
        std::fs::write(root.join(format!("etc/f{i}")), format!("file {i}\n")).unwrap();
    }
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn copy_between_local_repositories_with_other_keys_copies_each_snapshot_once() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    source_tree(&data, 1);
    let src = Repo::local(tmp.path(), "src", "source pw");
    let dst = Repo::local(tmp.path(), "dst", "other pw");
    src.init(&[]);
    dst.init(&["--chunk-min", "256KiB", "--chunk-avg", "512KiB"]);
    src.backup(&data, &["--tag", "first"]);
    std::fs::write(data.join("etc/new"), "new file\n").unwrap();
    src.backup(&data, &[]);

    let r = dst.copy_from(&src, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 2, "{r}");
    assert!(n(&r, "bytes_read") >= 3 << 20, "{r}");
    let snaps = dst.snapshots();
    let originals: Vec<_> = src.snapshots().iter().map(|s| s["id"].clone()).collect();
    for s in &snaps {
        assert!(originals.contains(&s["original"]), "{s}");
    }
    assert_eq!(snaps[0]["tags"], serde_json::json!(["first"]));
    dst.restores(&data, tmp.path());

    // again: nothing is copied, read or stored
    let before = dir_bytes(&PathBuf::from(&dst.loc).join("data"));
    let r = dst.copy_from(&src, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["skipped"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(n(&r, "bytes_read") + n(&r, "data_blobs"), 0, "{r}");
    assert_eq!(dir_bytes(&PathBuf::from(&dst.loc).join("data")), before);
    assert_eq!(dst.snapshots().len(), 2);

    // a new backup: only its new chunk is read from the source (the id map
    // is learnt from the last copy's trees), and filters and ids select
    std::fs::write(data.join("etc/newer"), "newer file\n").unwrap();
    let third = src.backup(&data, &["--host", "other"]);
    let r = dst.copy_from(&src, tmp.path(), &["--host", "nobody"]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 0, "{r}");
    let third_id = third["snapshot_id"].as_str().unwrap();
    let r = dst.copy_from(&src, tmp.path(), &[&third_id[..8]]);
    assert_eq!(r["copied"][0]["source"], third["snapshot_id"], "{r}");
    assert!(n(&r, "bytes_read") < 1 << 20, "{r}");
    assert_eq!(n(&r, "data_blobs"), 1, "{r}");
    dst.restores(&data, tmp.path());

    // a wrong source password says so, naming the source, exit 12
    let o = dst
        .cmd(&["copy", "--from-repo", &src.loc])
        .env("RDR_FROM_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(12));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("source repository") && err.contains("wrong password"),
        "{err}"
    );
    assert!(
        !err.contains("source pw") && !err.contains("other pw"),
        "{err}"
    );
}

#[test]
fn a_destination_with_the_source_chunker_deduplicates_copies_and_backups() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    source_tree(&data, 2);
    let src = Repo::local(tmp.path(), "src", "source pw");
    let dst = Repo::local(tmp.path(), "dst", "other pw");
    src.init(&[]);
    let pw_file = tmp.path().join("src-pw");
    std::fs::write(&pw_file, "source pw\n").unwrap();
    dst.init(&[
        "--from-repo",
        &src.loc,
        "--from-password-file",
        pw_file.to_str().unwrap(),
        "--copy-chunker-params",
    ]);
    let config: serde_json::Value =
        serde_json::from_str(&dst.ok(&["cat", "config", "--json"])).unwrap();
    assert_eq!(config["version"], 3, "{config}");
    assert!(config.get("blob_keys").is_none(), "{config}");

    src.backup(&data, &[]);
    let r = dst.copy_from(&src, tmp.path(), &[]);
    assert!(n(&r, "data_blobs") >= 3, "{r}");
    // a direct backup of the same data into the destination stores nothing new
    let b = dst.backup(&data, &["--force"]);
    assert_eq!(n(&b, "data_blobs"), 0, "{b}");
    // and a copy of a direct source backup reads and stores no data
    std::fs::write(data.join("etc/f0"), "changed\n").unwrap();
    src.backup(&data, &["--force"]);
    let r = dst.copy_from(&src, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(n(&r, "data_blobs"), 1, "{r}");
    assert!(n(&r, "bytes_read") < 1 << 10, "{r}");
    dst.restores(&data, tmp.path());
    // the source's data key is not shared: its password opens nothing here
    let o = dst
        .cmd(&["snapshots"])
        .env("RDR_PASSWORD", "source pw")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(12));
}

fn pack_bytes(repo: &Path) -> u64 {
    dir_bytes(&repo.join("data"))
}

#[test]
fn a_copy_killed_with_kill_9_completes_on_the_next_run() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    const MIB: usize = 1 << 20;
    std::fs::write(data.join("big.bin"), random_bytes(160 * MIB, 5)).unwrap();
    let src = Repo::local(tmp.path(), "src", "source pw");
    let dst = Repo::local(tmp.path(), "dst", "other pw");
    src.init(&[]);
    dst.init(&[]);
    src.backup(&data, &[]);

    let mut child = dst
        .copy_cmd(&src, tmp.path(), &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dst_dir = PathBuf::from(&dst.loc);
    let start = Instant::now();
    while pack_bytes(&dst_dir) < 24 * MIB as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no packs uploaded"
        );
        assert!(child.try_wait().unwrap().is_none(), "copy ended too soon");
        std::thread::sleep(Duration::from_millis(10));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    assert!(!child.wait().unwrap().success());
    assert_eq!(dst.snapshots().len(), 0, "a killed copy wrote a snapshot");
    let uploaded = pack_bytes(&dst_dir);

    let r = dst.copy_from(&src, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    assert!(n(&r, "adopted_packs") > 0, "{r}");
    let missing = (160 * MIB) as u64 - uploaded.min((160 * MIB) as u64);
    assert!(
        n(&r, "data_added") <= missing + (6 * MIB) as u64,
        "{r}: {uploaded} bytes were uploaded before the kill"
    );
    dst.restores(&data, tmp.path());
}

#[test]
fn copy_local_to_s3_and_s3_to_sftp_with_other_passwords() {
    let s3 = S3Server::start("copies");
    let ssh = SshServer::start();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    source_tree(&data, 3);
    let local = Repo::local(tmp.path(), "local", "local pw");
    let s3_vars: Vec<_> = s3
        .env()
        .iter()
        .map(|(k, v)| (*k, OsString::from(v)))
        .collect();
    let on_s3 = Repo {
        loc: s3.location("offsite"),
        password: "s3 pw",
        vars: s3_vars,
    };
    let on_sftp = Repo {
        loc: ssh.location("third"),
        password: "sftp pw",
        vars: vec![("PATH", ssh.path())],
    };
    local.init(&[]);
    on_s3.init(&[]);
    on_sftp.init(&[]);
    local.backup(&data, &[]);

    let r = on_s3.copy_from(&local, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    on_s3.restores(&data, tmp.path());
    // the third copy comes from the off-site one, not from production
    let r = on_sftp.copy_from(&on_s3, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 1, "{r}");
    on_sftp.restores(&data, tmp.path());
    // its snapshot names the production original, so copying from there
    // too adds nothing
    let prod = local.snapshots()[0]["id"].clone();
    assert_eq!(on_sftp.snapshots()[0]["original"], prod);
    let r = on_sftp.copy_from(&local, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(n(&r, "bytes_read") + n(&r, "data_blobs"), 0, "{r}");
}

/// The repository's files that are not transient (locks, `tmp/`), with
/// their sizes.
fn stored_files(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<_> = walk(root)
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| p.strip_prefix(root).unwrap().to_path_buf())
        .filter(|p| !p.starts_with("locks") && !p.starts_with("tmp"))
        .map(|p| {
            let len = std::fs::metadata(root.join(&p)).unwrap().len();
            (p, len)
        })
        .collect();
    out.sort();
    out
}

/// `args` fails with exit 1 and `says`, changing nothing stored.
fn refused(repo: &Repo, root: &Path, args: &[&str], says: &str) {
    let before = stored_files(root);
    let o = repo.run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "rdr {args:?}: {err}");
    assert!(err.contains(says), "rdr {args:?}: {err}");
    assert!(err.contains("nothing was changed"), "rdr {args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        stored_files(root),
        before,
        "rdr {args:?} changed the repository"
    );
}

#[test]
fn an_append_only_sftp_server_takes_backups_and_copies_and_refuses_prune_cleanly() {
    let ssh = SshServer::append_only();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    source_tree(&data, 4);
    let prod = Repo::local(tmp.path(), "prod", "prod pw");
    let vault = Repo {
        loc: ssh.location("vault"),
        password: "vault pw",
        vars: vec![("PATH", ssh.path())],
    };
    let root = ssh.data_dir().join("vault");
    prod.init(&[]);
    vault.init(&[]);
    prod.backup(&data, &[]);
    vault.backup(&data, &["--tag", "direct"]);
    std::fs::write(data.join("etc/new"), "new file\n").unwrap();
    prod.backup(&data, &[]);
    let r = vault.copy_from(&prod, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 2, "{r}");
    vault.restores(&data, tmp.path());

    let says = "the storage refused the deletion";
    refused(&vault, &root, &["forget", "--keep-last", "1"], says);
    refused(
        &vault,
        &root,
        &["forget", "--keep-last", "1", "--prune"],
        says,
    );
    refused(&vault, &root, &["prune"], says);
    assert_eq!(vault.snapshots().len(), 3);
    vault.ok(&["forget", "--keep-last", "1", "--dry-run"]);
    vault.ok(&["prune", "--dry-run"]);
    vault.ok(&["check", "--read-data"]);
    let r = vault.copy_from(&prod, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 0, "{r}");
    vault.restores(&data, tmp.path());
}

#[test]
fn a_repository_created_append_only_refuses_to_delete_anything() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    source_tree(&data, 5);
    let vault = Repo::local(tmp.path(), "vault", "vault pw");
    let root = PathBuf::from(&vault.loc);
    vault.init(&["--append-only"]);
    assert!(vault.ok(&["cat", "config"]).contains("append-only     yes"));
    vault.backup(&data, &[]);
    std::fs::write(data.join("etc/new"), "new file\n").unwrap();
    vault.backup(&data, &[]);
    let says = "is an append-only repository";
    refused(&vault, &root, &["forget", "--keep-last", "1"], says);
    refused(&vault, &root, &["prune"], says);
    refused(&vault, &root, &["repair", "index"], says);
    refused(&vault, &root, &["tag", "--add", "x", "latest"], says);
    let pw = tmp.path().join("new-pw");
    std::fs::write(&pw, "new pw\n").unwrap();
    let pw = pw.to_str().unwrap();
    refused(
        &vault,
        &root,
        &["key", "passwd", "--new-password-file", pw],
        says,
    );
    assert_eq!(vault.snapshots().len(), 2);
    vault.ok(&["forget", "--keep-last", "1", "--dry-run"]);
    vault.restores(&data, tmp.path());
}

#[test]
fn an_append_only_webdav_server_takes_copies_and_refuses_prune_cleanly() {
    let dav = WebDavServer::nginx_append_only();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let data = tmp.path().join("data");
    source_tree(&data, 6);
    let prod = Repo::local(tmp.path(), "prod", "prod pw");
    let vault = Repo {
        loc: dav.location("vault"),
        password: "vault pw",
        vars: Vec::new(),
    };
    let root = dav.data_dir().join("vault");
    prod.init(&[]);
    vault.init(&[]);
    prod.backup(&data, &[]);
    std::fs::write(data.join("etc/new"), "new file\n").unwrap();
    prod.backup(&data, &[]);
    let r = vault.copy_from(&prod, tmp.path(), &[]);
    assert_eq!(r["copied"].as_array().unwrap().len(), 2, "{r}");
    vault.backup(&data, &["--tag", "direct"]);
    vault.restores(&data, tmp.path());
    let says = "the storage refused the deletion";
    refused(&vault, &root, &["forget", "--keep-last", "1"], says);
    refused(&vault, &root, &["prune"], says);
    assert_eq!(vault.snapshots().len(), 3);
    vault.ok(&["check", "--read-data"]);
}
