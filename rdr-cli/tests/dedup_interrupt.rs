//! Deduplication across backups, and interrupted backups (SIGINT and
//! kill -9): earlier snapshots stay restorable and the next run reuses the
//! data already uploaded.

mod common;

use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

use common::{Env, random_bytes};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const MIB: usize = 1 << 20;

#[test]
fn same_tree_and_appended_file_add_almost_nothing() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    let big = src.join("big.bin");
    fs::write(&big, random_bytes(1024 * MIB, 42)).unwrap();
    for i in 0..50 {
        fs::write(
            src.join(format!("etc/conf{i}")),
            format!("setting = {i}\n").repeat(20),
        )
        .unwrap();
    }
    let s = src.to_str().unwrap();
    let first = env.backup_json(&[s]);
    let size = first["total_bytes_processed"].as_u64().unwrap();
    assert!(size > 1 << 30);

    // Same tree again: nothing read (parent), almost nothing added.
    let before = env.repo_data_bytes();
    let again = env.backup_json(&[s]);
    assert_eq!(again["bytes_read"], 0, "{again}");
    assert_eq!(again["files_unchanged"], 51, "{again}");
    let added = env.repo_data_bytes() - before;
    assert!(
        added * 1000 < size,
        "re-backup added {added} bytes of {size}"
    );

    // --force reads everything but stores nothing new.
    let before = env.repo_data_bytes();
    let forced = env.backup_json(&[s, "--force"]);
    assert_eq!(forced["bytes_read"].as_u64().unwrap(), size);
    assert!(env.repo_data_bytes() - before < (size / 1000));

    // Appending 10 MiB to the 1 GiB file re-stores only the old last chunk
    // (cut at the old end of file; up to the 8 MiB chunk maximum, where it
    // falls depends on the repository's secret chunker key) and the new data.
    let mut f = fs::OpenOptions::new().append(true).open(&big).unwrap();
    f.write_all(&random_bytes(10 * MIB, 43)).unwrap();
    drop(f);
    let before = env.repo_data_bytes();
    let grown = env.backup_json(&[s]);
    assert_eq!(grown["files_changed"], 1, "{grown}");
    let added = env.repo_data_bytes() - before;
    assert!(
        added < (10 + 8 + 1) * MIB as u64,
        "appending 10 MiB added {added} bytes"
    );
}

/// Starts `rdr backup --stdin`, feeding `data` from a thread.
fn start_stdin_backup(
    env: &Env,
    data: Vec<u8>,
) -> (std::process::Child, std::thread::JoinHandle<()>) {
    let mut child = env.spawn_piped(&["backup", "--stdin", "--stdin-filename", "big.bin"]);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    (child, feeder)
}

/// Bytes of all packs in the repository.
fn pack_bytes(env: &Env) -> u64 {
    let mut n = 0;
    for fan in std::fs::read_dir(env.repo().join("data")).unwrap() {
        for p in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            n += p.unwrap().metadata().map_or(0, |m| m.len());
        }
    }
    n
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn restore_matches(env: &Env, name: &str, want: &[u8]) {
    let target = env.path(&format!("restore-{name}"));
    env.ok(&["restore", "latest", "--target", target.to_str().unwrap()]);
    let got = fs::read(target.join(name)).unwrap();
    assert!(got == want, "restored {name} differs");
}

/// A repository with small packs (index files come often) and one snapshot.
fn repo_with_one_snapshot() -> (Env, Vec<u8>) {
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    let early = b"earlier snapshot\n".repeat(100);
    let o = env.run_stdin(
        &["backup", "--stdin", "--stdin-filename", "early.txt"],
        &early,
    );
    common::assert_ok(&o, &["first backup"]);
    (env, early)
}

#[test]
fn sigint_stops_cleanly_and_the_next_run_reuses_the_upload() {
    let (env, early) = repo_with_one_snapshot();
    let indexes = env.count("index");

    let data = random_bytes(80 * MIB, 9);
    let mut child = env.spawn_piped(&["backup", "--stdin", "--stdin-filename", "big.bin"]);
    let mut stdin = child.stdin.take().unwrap();
    // Once this write returns, rdr has consumed all but a pipe buffer of it.
    stdin.write_all(&data[..64 * MIB]).unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let _ = stdin.write_all(&data[64 * MIB..65 * MIB]);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
    assert_eq!(
        env.snapshots().len(),
        1,
        "an interrupted backup writes no snapshot"
    );
    // what was uploaded is indexed by the cancel, or (when the cancel
    // took longer than its 0.9 s) adopted by the next backup: either way
    // the next run reuses it (below)
    let _ = indexes;
    restore_matches(&env, "early.txt", &early);

    let s = common::last_json(&String::from_utf8_lossy(
        &env.run_stdin(
            &["backup", "--json", "--stdin", "--stdin-filename", "big.bin"],
            &data,
        )
        .stdout,
    ));
    let added = s["data_added"].as_u64().unwrap();
    assert!(
        added < (40 * MIB) as u64,
        "next run re-added {added} of {} bytes",
        data.len()
    );
    assert!(env.run(&["dump", "latest", "big.bin"]).stdout == data);
}

#[test]
fn kill_9_leaves_a_usable_repository() {
    let (env, early) = repo_with_one_snapshot();
    let indexes = env.count("index");

    let data = random_bytes(160 * MIB, 11);
    let (mut child, feeder) = start_stdin_backup(&env, data.clone());
    // Wait until the backup has written an index file mid-run, then kill it hard.
    wait_for("a mid-backup index file", || env.count("index") > indexes);
    // and let it upload more packs than that index lists
    let packs_then = pack_bytes(&env);
    wait_for("packs after the index file", || {
        pack_bytes(&env) > packs_then + 8 * MIB as u64
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let _ = feeder.join();
    let uploaded = pack_bytes(&env);
    assert_eq!(env.snapshots().len(), 1);
    restore_matches(&env, "early.txt", &early);

    // The next backup succeeds, adopts the packs no index lists (the
    // killed backup's lock is stale) and uploads only what is missing.
    let o = env.run_stdin(
        &["backup", "--json", "--stdin", "--stdin-filename", "big.bin"],
        &data,
    );
    common::assert_ok(&o, &["backup after kill -9"]);
    let s = common::last_json(&String::from_utf8_lossy(&o.stdout));
    let added = s["data_added"].as_u64().unwrap();
    assert!(s["adopted_packs"].as_u64().unwrap() > 0, "{s}");
    // what was uploaded is not uploaded again (a few chunks in flight
    // when it was killed may be)
    let missing = data.len() as u64 - uploaded.min(data.len() as u64);
    assert!(
        added <= missing + (6 * MIB) as u64,
        "next run re-added {added} bytes; {uploaded} of {} were uploaded",
        data.len()
    );
    assert_eq!(env.count("locks"), 0, "the stale backup lock is left");

    // prune clears the staging area of files untouched for an hour (what
    // killed writers left), and keeps newer ones (a live writer's)
    let tmp = env.repo().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let stale = tmp.join("killed-writer.tmp");
    let fresh = tmp.join("live-writer.tmp");
    std::fs::write(&stale, b"partial pack").unwrap();
    std::fs::write(&fresh, b"partial pack").unwrap();
    let two_hours_ago =
        filetime::FileTime::from_unix_time(filetime::FileTime::now().unix_seconds() - 7200, 0);
    for e in std::fs::read_dir(&tmp).unwrap() {
        let p = e.unwrap().path();
        if p != fresh {
            filetime::set_file_mtime(&p, two_hours_ago).unwrap();
        }
    }
    let out = env.ok(&["prune", "--json"]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(r["tmp_removed"].as_u64().unwrap() >= 1, "{r}");
    assert!(!stale.exists());
    assert!(fresh.exists());
    restore_matches(&env, "big.bin", &data);
}
