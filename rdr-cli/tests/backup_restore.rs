//! Backup and restore through the real `rdr` binary: a tree with every kind
//! of entry restores identical, attribute by attribute; the commands that
//! look into snapshots work on it.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{Env, is_root, random_bytes};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn write(p: &Path, data: &[u8]) {
    fs::write(p, data).unwrap();
}

fn set_mode(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Builds the source tree; returns its root.
fn build_tree(root: &Path) -> PathBuf {
    let src = root.join("src");
    fs::create_dir_all(src.join("dir/deeper")).unwrap();
    write(&src.join("regular.txt"), b"hello, disaster recovery\n");
    write(&src.join("empty"), b"");
    write(
        &src.join("dir/random.bin"),
        &random_bytes(3 * MIB as usize + 17, 7),
    );
    write(
        &src.join("dir/deeper/text.sql"),
        "INSERT INTO t VALUES (1);\n".repeat(50_000).as_bytes(),
    );
    // Large sparse file: 2 GiB with 10 MiB of data in two places.
    let sparse = src.join("sparse.img");
    let f = fs::File::create(&sparse).unwrap();
    f.set_len(2 * GIB).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&random_bytes(5 * MIB as usize, 1), GIB)
        .unwrap();
    f.write_all_at(&random_bytes(5 * MIB as usize, 2), 2 * GIB - 5 * MIB)
        .unwrap();
    drop(f);
    // Names: unicode and not UTF-8.
    write(&src.join("données-ünïcödé-日本.txt"), b"unicode");
    write(
        &src.join(OsStr::from_bytes(b"raw-\xff\xfe-name")),
        b"latin1",
    );
    fs::create_dir(src.join(OsStr::from_bytes(b"dir-\xe9"))).unwrap();
    write(&src.join(OsStr::from_bytes(b"dir-\xe9/inner")), b"inner");
    // Symlinks, one dangling, one to a directory.
    std::os::unix::fs::symlink("regular.txt", src.join("link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/target", src.join("dangling")).unwrap();
    std::os::unix::fs::symlink("dir", src.join("dirlink")).unwrap();
    // Hard links (three names, one inode).
    write(&src.join("hl-a"), b"linked content");
    fs::hard_link(src.join("hl-a"), src.join("hl-b")).unwrap();
    fs::hard_link(src.join("hl-a"), src.join("dir/hl-c")).unwrap();
    // Fifo and (as root) a device node.
    nix::unistd::mkfifo(
        &src.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    if is_root() {
        nix::sys::stat::mknod(
            &src.join("null-dev"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
    }
    // Extended attributes, binary values too.
    xattr::set(src.join("regular.txt"), "user.comment", b"backed up").unwrap();
    xattr::set(src.join("dir"), "user.bin", &[0u8, 1, 2, 255]).unwrap();
    // Odd modes.
    write(&src.join("setuid"), b"#!/bin/sh\n");
    set_mode(&src.join("setuid"), 0o4755);
    write(&src.join("no-perms"), b"secret");
    set_mode(&src.join("no-perms"), 0o000);
    fs::create_dir(src.join("sticky")).unwrap();
    set_mode(&src.join("sticky"), 0o1777);
    fs::create_dir(src.join("setgid-dir")).unwrap();
    set_mode(&src.join("setgid-dir"), 0o2750);
    write(&src.join("group-only"), b"g");
    set_mode(&src.join("group-only"), 0o060);
    if is_root() {
        std::os::unix::fs::lchown(src.join("group-only"), Some(1234), Some(5678)).unwrap();
        std::os::unix::fs::lchown(src.join("link"), Some(4321), Some(8765)).unwrap();
    }
    // Distinct times, with nanoseconds, set last (children first).
    for (i, rel) in [
        "regular.txt",
        "empty",
        "dir/random.bin",
        "link",
        "sticky",
        "dir/deeper",
        "dir",
    ]
    .iter()
    .enumerate()
    {
        let t = filetime::FileTime::from_unix_time(1_600_000_000 + i as i64 * 1000, 123_456_789);
        filetime::set_symlink_file_times(src.join(rel), t, t).unwrap();
    }
    src
}

#[derive(Debug, PartialEq, Eq)]
struct Attrs {
    kind: String,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    size: u64,
    rdev: u64,
    target: Option<Vec<u8>>,
    hash: Option<String>,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn file_hash(p: &Path) -> String {
    let mut f = fs::File::open(p).unwrap();
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().to_hex().to_string()
}

/// Every entry under `root` with its attributes, and the hard-link groups.
/// Hard-link groups: the sorted paths of each multiply linked inode.
type LinkGroups = Vec<Vec<Vec<u8>>>;

fn snapshot_fs(root: &Path) -> (BTreeMap<Vec<u8>, Attrs>, LinkGroups) {
    let mut out = BTreeMap::new();
    let mut inodes: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec();
            let ft = m.file_type();
            use std::os::unix::fs::FileTypeExt;
            let kind = if ft.is_file() {
                "file"
            } else if ft.is_dir() {
                stack.push(p.clone());
                "dir"
            } else if ft.is_symlink() {
                "symlink"
            } else if ft.is_fifo() {
                "fifo"
            } else if ft.is_char_device() {
                "chardev"
            } else {
                "other"
            };
            let mut xattrs = BTreeMap::new();
            if !ft.is_symlink() {
                for n in xattr::list(&p).unwrap() {
                    let v = xattr::get(&p, &n).unwrap().unwrap_or_default();
                    xattrs.insert(n.as_bytes().to_vec(), v);
                }
            }
            if ft.is_file() && m.nlink() > 1 {
                inodes.entry(m.ino()).or_default().push(rel.clone());
            }
            out.insert(
                rel,
                Attrs {
                    kind: kind.into(),
                    mode: m.mode() & 0o7777,
                    uid: m.uid(),
                    gid: m.gid(),
                    mtime: (m.mtime(), m.mtime_nsec()),
                    size: if ft.is_dir() { 0 } else { m.len() },
                    rdev: m.rdev(),
                    target: ft
                        .is_symlink()
                        .then(|| fs::read_link(&p).unwrap().as_os_str().as_bytes().to_vec()),
                    hash: ft.is_file().then(|| file_hash(&p)),
                    xattrs,
                },
            );
        }
    }
    let mut groups: LinkGroups = inodes
        .into_values()
        .map(|mut v| {
            v.sort();
            v
        })
        .collect();
    groups.sort();
    (out, groups)
}

#[test]
fn tree_round_trip_is_identical_attribute_by_attribute() {
    let env = Env::new();
    let src = build_tree(env.dir.path());
    let summary = env.backup_json(&[src.to_str().unwrap(), "--host", "it"]);
    assert_eq!(summary["incomplete"], false, "{summary}");
    // The sparse file's holes were not read or stored.
    let stored = env.repo_data_bytes();
    assert!(
        stored < 40 * MIB,
        "repository holds {stored} bytes for ~15 MiB of data"
    );

    let target = env.path("restore");
    env.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let restored = target.join(src.strip_prefix("/").unwrap());
    let (want, want_links) = snapshot_fs(&src);
    let (got, got_links) = snapshot_fs(&restored);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>()
    );
    for (path, w) in &want {
        let g = &got[path];
        let name = String::from_utf8_lossy(path);
        assert_eq!(w.kind, g.kind, "{name}: kind");
        assert_eq!(w.mode, g.mode, "{name}: mode");
        assert_eq!(w.mtime, g.mtime, "{name}: mtime");
        assert_eq!(w.size, g.size, "{name}: size");
        assert_eq!(w.rdev, g.rdev, "{name}: device");
        assert_eq!(w.target, g.target, "{name}: symlink target");
        assert_eq!(w.hash, g.hash, "{name}: content");
        assert_eq!(w.xattrs, g.xattrs, "{name}: xattrs");
        if is_root() {
            assert_eq!((w.uid, w.gid), (g.uid, g.gid), "{name}: owner");
        }
    }
    assert_eq!(want_links, got_links, "hard link groups");
    assert_eq!(want_links.len(), 1);
    assert_eq!(want_links[0].len(), 3);
    let blocks = fs::metadata(restored.join("sparse.img")).unwrap().blocks() * 512;
    assert!(
        blocks < 64 * MIB,
        "restored sparse file allocates {blocks} bytes"
    );

    // A second restore finds everything identical and writes nothing; --verify passes.
    let o = env.ok(&[
        "restore",
        "latest",
        "--target",
        target.to_str().unwrap(),
        "--verify",
        "--json",
    ]);
    let r = common::last_json(&o);
    assert_eq!(r["bytes_written"], 0, "{r}");
    assert_eq!(r["files_skipped"], r["files"], "{r}");
    assert_eq!(r["files_verified"], r["files"], "{r}");

    // A damaged file on disk is rewritten by the next restore.
    let victim = restored.join("dir/random.bin");
    let mut f = fs::OpenOptions::new().write(true).open(&victim).unwrap();
    f.write_all(b"XXXX").unwrap();
    drop(f);
    let r = common::last_json(&env.ok(&[
        "restore",
        "latest",
        "--target",
        target.to_str().unwrap(),
        "--json",
    ]));
    assert!(r["bytes_written"].as_u64().unwrap() > 0);
    assert_eq!(
        file_hash(&victim),
        want[&b"dir/random.bin".to_vec()].hash.clone().unwrap()
    );
}

#[test]
fn subpath_include_exclude_and_dump() {
    let env = Env::new();
    let src = env.path("data");
    fs::create_dir_all(src.join("a/b")).unwrap();
    write(&src.join("a/b/keep.sql"), b"select 1;\n");
    write(&src.join(OsStr::from_bytes(b"a/raw-\xff")), b"latin1");
    write(&src.join("a/skip.log"), b"log");
    write(&src.join("top.txt"), b"top");
    fs::create_dir_all(src.join("logs/old")).unwrap();
    write(&src.join("logs/old/x.log"), b"old log");
    env.ok(&["backup", src.to_str().unwrap()]);
    let s = src.to_str().unwrap();

    let t1 = env.path("t1");
    env.ok(&[
        "restore",
        &format!("latest:{s}/a"),
        "--target",
        t1.to_str().unwrap(),
    ]);
    assert_eq!(fs::read(t1.join("b/keep.sql")).unwrap(), b"select 1;\n");
    assert!(t1.join("skip.log").exists());
    assert!(!t1.join("top.txt").exists());

    // Restores the whole snapshot with one pattern option; returns the restored source dir.
    let restore_with = |dir: &str, option: &str, pattern: &str| {
        let t = env.path(dir);
        let target = t.to_str().unwrap();
        env.ok(&["restore", "latest", "--target", target, option, pattern]);
        t.join(src.strip_prefix("/").unwrap())
    };
    let base = restore_with("t2", "--include", "*.sql");
    assert!(base.join("a/b/keep.sql").exists());
    assert!(!base.join("a/skip.log").exists());
    assert!(!base.join("top.txt").exists());
    // directories leading to nothing selected are not created
    assert!(!base.join("logs").exists());
    // a selected directory brings everything below it
    let base = restore_with("t4", "--include", "*/logs");
    assert_eq!(fs::read(base.join("logs/old/x.log")).unwrap(), b"old log");
    assert!(!base.join("a").exists());
    assert!(!base.join("top.txt").exists());

    let base = restore_with("t3", "--exclude", "*.log");
    assert!(base.join("a/b/keep.sql").exists());
    assert!(base.join("top.txt").exists());
    assert!(!base.join("a/skip.log").exists());

    assert_eq!(
        env.ok(&["dump", "latest", &format!("{s}/a/b/keep.sql")]),
        "select 1;\n"
    );
    // A directory dumps as a tar stream that tar can list.
    let o = env.run(&["dump", "latest", &format!("{s}/a")]);
    assert!(o.status.success());
    let listing = std::process::Command::new("tar")
        .arg("tf")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&o.stdout)?;
            c.wait_with_output()
        })
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        names.contains("a/b/keep.sql") && names.contains("a/raw-"),
        "{names}"
    );
    let raw: &[u8] = b"a/raw-\xff";
    assert!(
        o.stdout.windows(raw.len()).any(|w| w == raw),
        "tar keeps non-UTF-8 names byte-exact: {names}"
    );
    let missing = env.run(&["dump", "latest", "/no/such/file"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file"));
}

#[test]
fn excludes_dry_run_and_incomplete() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("cache")).unwrap();
    fs::create_dir_all(src.join("marked")).unwrap();
    fs::create_dir_all(src.join("Build")).unwrap();
    write(
        &src.join("cache/CACHEDIR.TAG"),
        b"Signature: 8a477f597d28d172789f06886806bc55\n",
    );
    write(&src.join("cache/blob"), b"cached");
    write(&src.join("marked/.nobackup"), b"");
    write(&src.join("marked/data"), b"data");
    write(&src.join("Build/out.o"), b"obj");
    write(&src.join("x.tmp"), b"tmp");
    write(&src.join("big"), &vec![1u8; 100_000]);
    write(&src.join("keep"), b"keep");
    let excl = env.path("excludes.txt");
    write(&excl, b"# comment\n*.tmp\n");
    let s = src.to_str().unwrap();

    let dry = env.backup_json(&[s, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert!(dry["snapshot_id"].is_null());
    assert!(dry["data_added"].as_u64().unwrap() > 100_000);
    assert_eq!(env.snapshots().len(), 0);
    assert_eq!(env.repo_data_bytes(), 0, "dry run stored data");

    env.ok(&[
        "backup",
        s,
        "--exclude-file",
        excl.to_str().unwrap(),
        "--exclude-caches",
        "--exclude-if-present",
        ".nobackup",
        "--iexclude",
        "build",
        "--exclude-larger-than",
        "50KiB",
    ]);
    let ls = env.ok(&["ls", "latest"]);
    let has = |p: &str| ls.lines().any(|l| l == format!("{s}/{p}"));
    assert!(has("keep"));
    assert!(has("cache/CACHEDIR.TAG") && !has("cache/blob"), "{ls}");
    assert!(has("marked/.nobackup") && !has("marked/data"), "{ls}");
    assert!(!has("Build") && !has("x.tmp") && !has("big"), "{ls}");

    // An unreadable file: warning naming it, snapshot saved, marked incomplete, exit 3.
    let o = env.run(&["backup", "/proc/1/mem", s]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("/proc/1/mem"));
    let snaps = env.snapshots();
    let last = snaps.last().unwrap();
    assert_eq!(last["incomplete"]["count"], 1, "{last}");
    let ls = env.ok(&["ls", "latest"]);
    assert!(ls.lines().any(|l| l == format!("{s}/keep")));
}

#[test]
fn snapshots_ls_diff_find_stats_tag() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    write(&src.join("a.txt"), b"one");
    write(&src.join("b.txt"), b"two");
    let s = src.to_str().unwrap();
    env.ok(&[
        "backup",
        s,
        "--host",
        "h1",
        "--tag",
        "daily",
        "--time",
        "2026-01-01 00:00:00",
    ]);
    write(&src.join("a.txt"), b"one changed");
    fs::remove_file(src.join("b.txt")).unwrap();
    write(&src.join("c.txt"), b"three");
    set_mode(&src, 0o700);
    env.ok(&[
        "backup",
        s,
        "--host",
        "h1",
        "--tag",
        "weekly",
        "--time",
        "2026-01-02 00:00:00",
    ]);
    env.ok(&["backup", s, "--host", "h2", "--time", "2026-01-03 00:00:00"]);

    let snaps = env.snapshots();
    assert_eq!(snaps.len(), 3);
    assert_eq!(snaps[0]["time"], "2026-01-01T00:00:00.000000000Z");
    assert_eq!(
        snaps[1]["parent"], snaps[0]["id"],
        "parent is the latest of the same host and paths"
    );
    assert!(
        snaps[2]["parent"].is_null(),
        "another host does not share a parent"
    );
    let (first, second) = (
        snaps[0]["short_id"].as_str().unwrap(),
        snaps[1]["short_id"].as_str().unwrap(),
    );

    // latest honours filters.
    let out = env.ok(&["ls", "latest", "--host", "h1", "--json"]);
    assert!(out.contains("c.txt"));
    let filtered = env.ok(&["snapshots", "--tag", "daily", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&filtered)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let grouped = env.ok(&["snapshots", "--group-by", "host"]);
    assert!(grouped.contains("host [h1]") && grouped.contains("host [h2]"));
    let long = env.ok(&["ls", "-l", first]);
    assert!(long.contains("-rw-") && long.contains("b.txt"));

    let diff = env.ok(&["diff", first, second]);
    assert!(diff.contains(&format!("M    {s}/a.txt")), "{diff}");
    assert!(diff.contains(&format!("-    {s}/b.txt")), "{diff}");
    assert!(diff.contains(&format!("+    {s}/c.txt")), "{diff}");
    assert!(
        diff.contains(&format!("U    {s}/")),
        "mode change is metadata-only: {diff}"
    );
    // SNAPSHOT:SUBPATH compares below the directory itself.
    let sub = env.ok(&["diff", &format!("{first}:{s}"), &format!("{second}:{s}")]);
    assert!(sub.contains(&format!("M    {s}/a.txt")), "{sub}");
    assert!(!sub.contains("U    "), "{sub}");

    let found = env.ok(&["find", "b.txt", "--json"]);
    assert_eq!(
        found.lines().count(),
        1,
        "only the first snapshot has b.txt: {found}"
    );
    assert!(found.contains(snaps[0]["id"].as_str().unwrap()));

    let stats: serde_json::Value = serde_json::from_str(&env.ok(&["stats", "--json"])).unwrap();
    assert_eq!(stats["snapshots"], 3);
    assert_eq!(stats["restore_size"], 3 + 3 + 11 + 5 + 11 + 5);
    assert!(stats["unique_stored"].as_u64().unwrap() > 0);

    env.ok(&["tag", first, "--add", "keep,audit", "--remove", "daily"]);
    let snaps = env.snapshots();
    assert_eq!(snaps[0]["tags"], serde_json::json!(["audit", "keep"]));
    assert_eq!(
        snaps[0]["original"],
        serde_json::json!(first_full(&snaps, first))
    );
    // Ambiguity and bad references are clear errors.
    let o = env.run(&["ls", "zzzz"]);
    assert_ne!(o.status.code(), Some(0));
}

fn first_full(snaps: &[serde_json::Value], short: &str) -> String {
    // The original id starts with the short id we tagged.
    let o = snaps[0]["original"].as_str().unwrap().to_owned();
    assert!(o.starts_with(short));
    o
}

/// A backup with a parent takes an unchanged entry's extended attributes
/// and symlink target from the parent, and still sees them change: a new
/// attribute value (which changes the change time) and a retargeted link
/// (a new inode) are both in the next snapshot.
#[test]
fn attributes_and_link_targets_follow_changes_across_backups() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(&src).unwrap();
    let file = src.join("f.txt");
    write(&file, b"content");
    xattr::set(&file, "user.v", b"one").unwrap();
    std::os::unix::fs::symlink("one", src.join("link")).unwrap();
    let s = src.to_str().unwrap();
    let restored = |n: &str| -> (Vec<u8>, PathBuf) {
        let out = env.path(n);
        env.ok(&["restore", "latest", "--target", out.to_str().unwrap()]);
        let inner = out.join(src.strip_prefix("/").unwrap());
        let v = xattr::get(inner.join("f.txt"), "user.v")
            .unwrap()
            .unwrap_or_default();
        (v, fs::read_link(inner.join("link")).unwrap())
    };
    env.ok(&["backup", s]);
    env.ok(&["backup", s]);
    assert_eq!(restored("r2"), (b"one".to_vec(), PathBuf::from("one")));

    xattr::set(&file, "user.v", b"two").unwrap();
    fs::remove_file(src.join("link")).unwrap();
    std::os::unix::fs::symlink("two", src.join("link")).unwrap();
    let summary = env.backup_json(&[s]);
    // the new change time makes the file count as changed (read again)
    assert_eq!(summary["files_changed"].as_u64(), Some(1), "{summary}");
    assert_eq!(restored("r3"), (b"two".to_vec(), PathBuf::from("two")));
}
