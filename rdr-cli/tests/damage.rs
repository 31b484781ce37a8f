//! Damage drills: each kind of damage a disk, a sync tool or an operator can
//! do to a repository, applied to a fresh copy; `check` must find it, name
//! what is affected and exit non-zero, and what is not damaged must still
//! restore byte for byte.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Env, random_bytes};

const DAMAGED: i32 = 4;

/// A repository with two snapshots: `src` (three 3 MiB files and a small
/// one in a subdirectory), then the same plus `more/d.bin`, so the second
/// backup writes its own index file.
struct Fixture {
    env: Env,
    files: BTreeMap<String, Vec<u8>>,
    /// The index file written by the second backup.
    second_index: String,
    snapshots: Vec<String>,
}

fn fixture() -> Fixture {
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    let src = env.path("src");
    std::fs::create_dir_all(src.join("etc")).unwrap();
    let mut files = BTreeMap::new();
    for (i, name) in ["a.bin", "b.bin", "c.bin"].iter().enumerate() {
        files.insert((*name).to_owned(), random_bytes(3 << 20, i as u64));
    }
    files.insert("etc/app.conf".to_owned(), b"port = 5432\n".to_vec());
    for (k, v) in &files {
        std::fs::write(src.join(k), v).unwrap();
    }
    let src_s = src.to_str().unwrap();
    env.ok(&["backup", src_s]);
    let before: Vec<String> = index_files(&env);
    std::fs::create_dir_all(src.join("more")).unwrap();
    let d = random_bytes(2 << 20, 9);
    std::fs::write(src.join("more/d.bin"), &d).unwrap();
    files.insert("more/d.bin".to_owned(), d);
    env.ok(&["backup", src_s]);
    let second_index = index_files(&env)
        .into_iter()
        .find(|f| !before.contains(f))
        .expect("the second backup wrote an index file");
    let snapshots = env
        .snapshots()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    let c = env.run(&["check", "--read-data"]);
    assert!(c.status.success(), "the fixture is whole");
    Fixture {
        env,
        files,
        second_index,
        snapshots,
    }
}

fn index_files(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.repo().join("index"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn packs(env: &Env) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for fan in std::fs::read_dir(env.repo().join("data")).unwrap() {
        for p in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            v.push(p.unwrap().path());
        }
    }
    v.sort();
    v
}

/// The pack holding tree blobs (from the index listing).
fn tree_pack(env: &Env) -> PathBuf {
    for idx in index_files(env) {
        let out = env.ok(&["cat", "index", &idx]);
        let mut pack = None;
        for line in out.lines() {
            if let Some(p) = line.strip_prefix("pack ") {
                pack = Some(p.to_owned());
            } else if line.trim_start().starts_with("tree ") {
                let p = pack.unwrap();
                return env.repo().join("data").join(&p[..2]).join(p);
            }
        }
    }
    panic!("no tree pack")
}

/// The largest pack (a data pack, holding one file's chunks).
fn data_pack(env: &Env) -> PathBuf {
    packs(env)
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap()
}

fn flip_byte(p: &Path, at: Option<usize>) {
    let mut b = std::fs::read(p).unwrap();
    let i = at.unwrap_or(b.len() / 2);
    b[i] ^= 0x40;
    make_writable(p);
    std::fs::write(p, b).unwrap();
}

fn make_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
}

struct Found {
    code: Option<i32>,
    /// The report's errors, and stderr.
    stderr: String,
    /// Paths check says are affected (relative to `src`), and the snapshots.
    paths: Vec<String>,
    snapshots: Vec<String>,
}

fn check(f: &Fixture, read_data: bool) -> Found {
    let mut args = vec!["check", "--json"];
    if read_data {
        args.push("--read-data");
    }
    let o = f.env.run(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    // the report is the last line (status lines come before it)
    let v: serde_json::Value = stdout
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("check --json: {stdout}"));
    let src = f.env.path("src");
    let mut paths = Vec::new();
    let mut snapshots = Vec::new();
    for d in v["damaged"].as_array().unwrap() {
        for u in d["used_by"].as_array().unwrap() {
            let p = u["path"].as_str().unwrap();
            let rel = Path::new(p)
                .strip_prefix(&src)
                .map_or_else(|_| p.to_owned(), |r| r.to_string_lossy().into_owned());
            paths.push(rel);
            snapshots.push(u["snapshot"].as_str().unwrap().to_owned());
        }
    }
    paths.sort();
    paths.dedup();
    let errors: Vec<&str> = v["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    Found {
        code: o.status.code(),
        stderr: format!(
            "{}\n{}",
            errors.join("\n"),
            String::from_utf8_lossy(&o.stderr)
        ),
        paths,
        snapshots,
    }
}

/// Check named some of the fixture's files (those with a chunk in the
/// damaged pack), not all of them.
fn assert_named(f: &Fixture, r: &Found) {
    assert!(
        !r.paths.is_empty()
            && r.paths.len() < f.files.len()
            && r.paths.iter().all(|p| f.files.contains_key(p)),
        "affected: {:?}\n{}",
        r.paths,
        r.stderr
    );
}

/// `repair index` (with `--read-data` when asked), then `repair snapshots
/// --forget`: afterwards `check --read-data` passes. Returns the repair
/// snapshots report.
fn repair(f: &Fixture, read_data: bool) -> serde_json::Value {
    let mut args = vec!["repair", "index"];
    if read_data {
        args.push("--read-data");
    }
    f.env.ok(&args);
    let out = f.env.ok(&["repair", "snapshots", "--forget", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let c = check(f, true);
    assert_eq!(c.code, Some(0), "check after repair: {}", c.stderr);
    // each repaired copy is tagged and points to its original
    let snaps = f.env.snapshots();
    for r in v["repaired"].as_array().unwrap() {
        let new = snaps
            .iter()
            .find(|s| s["id"] == r["new"])
            .unwrap_or_else(|| panic!("repaired copy {r} listed"));
        assert!(new["tags"].to_string().contains("repaired"), "{new}");
        assert!(
            !snaps.iter().any(|s| s["id"] == r["original"]),
            "original forgotten"
        );
        // degraded, with the size of what is left
        assert_eq!(new["degraded"], true, "{new}");
        let id = new["id"].as_str().unwrap();
        let stats: serde_json::Value =
            serde_json::from_str(&f.env.ok(&["--json", "stats", id])).unwrap();
        assert_eq!(
            new["summary"]["bytes_total"], stats["restore_size"],
            "{new}"
        );
    }
    if let Some(r) = v["repaired"].as_array().unwrap().first() {
        let id = r["new"].as_str().unwrap();
        let o = f.env.run(&["--json", "status"]);
        assert_eq!(o.status.code(), Some(6));
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            s["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["degraded"] == true),
            "{s}"
        );
        assert!(
            s["problems"]
                .to_string()
                .contains("repaired and is degraded"),
            "{s}"
        );
        let scratch = f.env.path("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let d = f.env.run(&[
            "--json",
            "drill",
            id,
            "--scratch-dir",
            scratch.to_str().unwrap(),
        ]);
        let d: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&d.stdout).lines().last().unwrap())
                .unwrap();
        assert_eq!(d["degraded"], true, "{d}");
    }
    v
}

/// Restores the newest snapshot; every file not in `damaged` must come back
/// byte for byte. Returns how many files did.
fn restore_undamaged(f: &Fixture, damaged: &[String]) -> usize {
    let target = f.env.path("restore");
    let _ = std::fs::remove_dir_all(&target);
    // damaged files make restore exit non-zero; the rest is still written
    let o = f
        .env
        .run(&["restore", "latest", "--target", target.to_str().unwrap()]);
    // a snapshot file that does not read makes `latest` uncertain: exit 3
    let err = String::from_utf8_lossy(&o.stderr);
    let uncertain = o.status.code() == Some(3) && err.contains("could not be read");
    assert!(
        o.status.success() || uncertain || !damaged.is_empty(),
        "restore: {err}"
    );
    let root = target.join(f.env.path("src").strip_prefix("/").unwrap());
    let mut good = 0;
    for (name, want) in &f.files {
        if damaged
            .iter()
            .any(|d| d == name || name.starts_with(&format!("{d}/")))
        {
            continue;
        }
        let got = std::fs::read(root.join(name))
            .unwrap_or_else(|e| panic!("undamaged {name} was not restored: {e}"));
        assert!(got == *want, "undamaged {name} restored with other content");
        good += 1;
    }
    good
}

#[test]
fn a_flipped_byte_inside_a_pack_is_found_by_read_data_and_named() {
    let f = fixture();
    flip_byte(&data_pack(&f.env), None);
    let r = check(&f, true);
    assert_eq!(r.code, Some(DAMAGED), "{}", r.stderr);
    assert_eq!(
        r.paths.len(),
        1,
        "one file holds the damaged chunk: {:?}",
        r.paths
    );
    assert_named(&f, &r);
    assert!(r.stderr.contains("does not match its name"), "{}", r.stderr);
    assert!(restore_undamaged(&f, &r.paths) >= f.files.len() - r.paths.len());
    let v = repair(&f, true);
    assert_truncated(&f, &v, &r.paths);
}

/// The repaired snapshots cut exactly the damaged files, each restored
/// as a prefix of the original, and everything else is whole.
fn assert_truncated(f: &Fixture, v: &serde_json::Value, damaged: &[String]) {
    let src = f.env.path("src");
    let mut cut: Vec<String> = Vec::new();
    for r in v["repaired"].as_array().unwrap() {
        for t in r["truncated"].as_array().unwrap() {
            let p = t["path"].as_str().unwrap();
            cut.push(
                Path::new(p)
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    cut.sort();
    cut.dedup();
    assert_eq!(cut, damaged, "{v}");
    assert_eq!(restore_undamaged(f, damaged), f.files.len() - damaged.len());
    let root = f.env.path("restore").join(src.strip_prefix("/").unwrap());
    for d in damaged {
        let got = std::fs::read(root.join(d)).unwrap();
        assert!(
            got.len() < f.files[d].len() && f.files[d].starts_with(&got),
            "{d}"
        );
    }
}

#[test]
fn a_truncated_pack_is_found_and_named() {
    let f = fixture();
    let p = data_pack(&f.env);
    let len = std::fs::metadata(&p).unwrap().len();
    make_writable(&p);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len / 3)
        .unwrap();
    let r = check(&f, false);
    assert_eq!(r.code, Some(DAMAGED), "{}", r.stderr);
    assert_named(&f, &r);
    assert!(restore_undamaged(&f, &r.paths) >= f.files.len() - r.paths.len());
    // repair index copies the blobs before the cut into a new pack and
    // drops the truncated one: what is left damaged is the same files'
    // missing blobs, and check --read-data finds nothing else
    let dry = f.env.ok(&["repair", "index", "--dry-run"]);
    assert!(dry.contains("1 damaged pack,"), "{dry}");
    assert!(p.exists());
    let out = f.env.ok(&["repair", "index"]);
    assert!(out.contains("1 damaged pack,"), "{out}");
    assert!(!p.exists());
    let after = check(&f, true);
    assert_eq!(after.code, Some(DAMAGED));
    assert_eq!(after.paths, r.paths, "{}", after.stderr);
    assert!(
        after.stderr.contains("is not in the index"),
        "{}",
        after.stderr
    );
    assert!(restore_undamaged(&f, &r.paths) >= f.files.len() - r.paths.len());
}

#[test]
fn a_deleted_pack_is_found_and_named() {
    let f = fixture();
    std::fs::remove_file(data_pack(&f.env)).unwrap();
    let r = check(&f, false);
    assert_eq!(r.code, Some(DAMAGED), "{}", r.stderr);
    assert!(r.stderr.contains("missing from storage"), "{}", r.stderr);
    assert_named(&f, &r);
    assert!(restore_undamaged(&f, &r.paths) >= f.files.len() - r.paths.len());
    let v = repair(&f, false);
    assert_truncated(&f, &v, &r.paths);
}

#[test]
fn a_deleted_index_file_is_found_and_named() {
    let f = fixture();
    std::fs::remove_file(f.env.repo().join("index").join(&f.second_index)).unwrap();
    let r = check(&f, false);
    assert_eq!(r.code, Some(DAMAGED), "{}", r.stderr);
    assert!(r.stderr.contains("is not in the index"), "{}", r.stderr);
    // only the second snapshot's new blobs went with it
    assert!(
        r.snapshots.iter().all(|s| *s == f.snapshots[1]),
        "{:?} vs {:?}",
        r.snapshots,
        f.snapshots
    );
    assert!(!r.paths.is_empty());
    // the packs are all there: rebuilding the index from them loses nothing
    let out = f.env.ok(&["repair", "index"]);
    assert!(out.contains("0 damaged packs"), "{out}");
    assert_eq!(check(&f, true).code, Some(0));
    assert_eq!(restore_undamaged(&f, &[]), f.files.len());
}

#[test]
fn a_damaged_snapshot_is_found_and_named() {
    let f = fixture();
    let snap = f.env.repo().join("snapshots").join(&f.snapshots[0]);
    flip_byte(&snap, Some(40));
    let r = check(&f, false);
    assert_eq!(r.code, Some(DAMAGED), "{}", r.stderr);
    assert!(r.stderr.contains(&f.snapshots[0]), "{}", r.stderr);
    // listing and `latest` name the file that does not read, and exit 3
    // (it could be the newest backup), rather than skip it in silence
    for args in [vec!["snapshots"], vec!["ls", "latest"]] {
        let o = f.env.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains(&format!("snapshots/{}", f.snapshots[0])),
            "{args:?}: {err}"
        );
    }
    // the other snapshot restores in full
    assert_eq!(restore_undamaged(&f, &[]), f.files.len());
    let v = repair(&f, false);
    assert_eq!(v["unreadable"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(f.env.snapshots().len(), 1);
    assert_eq!(restore_undamaged(&f, &[]), f.files.len());
}

#[test]
fn a_damaged_tree_blob_is_found_by_read_data_and_named() {
    let f = fixture();
    flip_byte(&tree_pack(&f.env), Some(20));
    let r = check(&f, true);
    assert_eq!(r.code, Some(DAMAGED), "{}", r.stderr);
    assert!(!r.paths.is_empty(), "{}", r.stderr);
    let v = repair(&f, true);
    let emptied: Vec<&serde_json::Value> = v["repaired"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["emptied"].as_array().unwrap())
        .collect();
    assert!(!emptied.is_empty(), "{v}");
}

/// The latest snapshot is the implicit parent of the next backup; when its
/// trees are gone from the index (a concurrent `forget --prune`, a lost
/// index file) the backup reads everything instead of failing, and the new
/// snapshot is complete and restores.
#[test]
fn a_backup_whose_parent_is_unusable_reads_everything() {
    let f = fixture();
    std::fs::remove_file(f.env.repo().join("index").join(&f.second_index)).unwrap();
    let src = f.env.path("src");
    let o = f.env.run(&["backup", "--json", src.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let warning = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message_type"] == "warning")
        .unwrap_or_else(|| panic!("no warning: {stdout}"));
    let msg = warning["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("parent snapshot") && msg.contains("reading all"),
        "{msg}"
    );
    let summary = common::last_json(&stdout);
    assert_eq!(summary["incomplete"], false, "{summary}");
    assert_eq!(summary["files_unchanged"], 0, "{summary}");
    assert_eq!(restore_undamaged(&f, &[]), f.files.len());
}

/// A damaged index file does not block restore or dump: the file is left
/// out, the packs it listed are read from their own headers, everything is
/// restored, and the damaged file is named (exit 3). Maintenance still
/// refuses it until `repair index`.
#[test]
fn a_damaged_index_file_does_not_block_restore_or_dump() {
    let f = fixture();
    let idx = f.env.repo().join("index").join(&f.second_index);
    flip_byte(&idx, Some(40));
    let target = f.env.path("restore");
    let o = f
        .env
        .run(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{err} {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(err.contains(&f.second_index), "{err}");
    let root = target.join(f.env.path("src").strip_prefix("/").unwrap());
    for (name, want) in &f.files {
        assert!(
            std::fs::read(root.join(name)).unwrap() == *want,
            "{name} differs"
        );
    }
    let d = f.env.path("src/more/d.bin");
    let o = f.env.run(&["dump", "latest", d.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.stdout == f.files["more/d.bin"], "dump differs");
    let o = f.env.run(&["prune"]);
    assert_ne!(o.status.code(), Some(0), "prune ran on a damaged index");
    f.env.ok(&["repair", "index"]);
    f.env.ok(&["check", "--read-data"]);
}
