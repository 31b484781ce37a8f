//! forget, prune and check through the real binary.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::{Env, random_bytes};

const MIB: usize = 1 << 20;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn forget_policy_ids_and_refusals() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir(&src).unwrap();
    let s = src.to_str().unwrap();
    // hourly snapshots over two days, one tagged
    for h in 0..48 {
        fs::write(src.join("f"), format!("version {h}")).unwrap();
        let time = format!("2026-03-0{} {:02}:30:00", 1 + h / 24, h % 24);
        let mut args = vec!["--time", time.as_str(), "-q", s];
        if h == 5 {
            args.extend(["--tag", "prod"]);
        }
        env.backup_json(&args);
    }
    let f = |args: &[&str]| {
        let mut a = vec!["forget", "--json"];
        a.extend_from_slice(args);
        let mut c = env.cmd(&a);
        c.env("TZ", "UTC");
        let o = c.output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // dry run: keep 3 last + 2 daily + the tagged one, with reasons
    let (code, out, _) = f(&[
        "--dry-run",
        "--keep-last",
        "3",
        "--keep-daily",
        "2",
        "--keep-tag",
        "prod",
    ]);
    assert_eq!(code, Some(0));
    let v = json(&out);
    let g = &v["groups"][0];
    let keep = g["keep"].as_array().unwrap();
    assert_eq!(keep.len(), 5, "{g}");
    assert_eq!(g["remove"].as_array().unwrap().len(), 43);
    let reasons: Vec<String> = keep
        .iter()
        .flat_map(|k| {
            k["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
        })
        .collect();
    for r in ["last snapshot", "daily snapshot", "tag prod"] {
        assert!(reasons.iter().any(|x| x == r), "{reasons:?}");
    }
    assert_eq!(env.snapshots().len(), 48, "a dry run removes nothing");

    // a policy that empties the group is refused, and removes nothing
    let (code, _, err) = f(&["--keep-tag", "nosuchtag"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--allow-empty"), "{err}");
    assert_eq!(env.snapshots().len(), 48);
    // neither policy nor ids
    let (code, _, err) = f(&[]);
    assert_ne!(code, Some(0));
    assert!(err.contains("nothing to forget"), "{err}");

    // explicit ids
    let first = env.snapshots()[0]["id"].as_str().unwrap().to_owned();
    let (code, out, _) = f(&[&first[..8]]);
    assert_eq!(code, Some(0));
    assert_eq!(json(&out)["removed"][0], first.as_str());
    assert_eq!(env.snapshots().len(), 47);

    // within 6h of the newest (03-02 23:30): 6 snapshots
    let (code, _, _) = f(&["--keep-within", "6h"]);
    assert_eq!(code, Some(0));
    assert_eq!(env.snapshots().len(), 6);
    // what is kept restores the newest content
    env.ok(&[
        "restore",
        "latest",
        "--target",
        env.path("out").to_str().unwrap(),
    ]);
    let restored = env.path("out").join(s.trim_start_matches('/')).join("f");
    assert_eq!(fs::read_to_string(restored).unwrap(), "version 47");
    let c = env.run(&["check"]);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
}

/// The acceptance case: 1 GiB of random data backed up 5 times with 20%
/// changed each time; after forgetting all but the newest, prune brings the
/// repository within 10% of a fresh backup's size.
#[test]
fn prune_after_forget_shrinks_to_a_fresh_backup() {
    let env = Env::new();
    let src = env.path("src");
    fs::create_dir(&src).unwrap();
    let s = src.to_str().unwrap();
    let files = 10;
    for round in 0..5u64 {
        for i in 0..files {
            // 20% of the data changes each round: 2 of 10 files
            if round == 0 || i as u64 % 5 == round % 5 {
                fs::write(
                    src.join(format!("f{i}")),
                    random_bytes(1024 * MIB / files, round * 100 + i as u64),
                )
                .unwrap();
            }
        }
        env.backup_json(&["-q", s]);
    }
    let before = env.repo_data_bytes();
    assert!(before > 1800 * MIB as u64, "five rounds stored {before}");
    let out = env.ok(&[
        "forget",
        "--keep-last",
        "1",
        "--prune",
        "--instant-delete",
        "--json",
    ]);
    let prune_report = out
        .lines()
        .rfind(|l| l.contains("size_before"))
        .map(json)
        .unwrap();
    assert!(
        prune_report["deleted"]["packs"].as_u64().unwrap() > 0,
        "{prune_report}"
    );
    let after = env.repo_data_bytes();

    let fresh = Env::new();
    fresh.ok(&["backup", "-q", s]);
    let fresh_size = fresh.repo_data_bytes();
    assert!(
        (after as f64) <= fresh_size as f64 * 1.10,
        "after prune {after} bytes, a fresh backup {fresh_size} bytes (before prune {before})"
    );
    let c = env.run(&["check", "--read-data"]);
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    env.ok(&[
        "restore",
        "latest",
        "--target",
        env.path("out").to_str().unwrap(),
    ]);
    let out = env.path("out").join(s.trim_start_matches('/'));
    for i in 0..files {
        assert!(
            fs::read(out.join(format!("f{i}"))).unwrap()
                == fs::read(src.join(format!("f{i}"))).unwrap()
        );
    }
}

/// Backups never wait for maintenance, and no interleaving of backups and
/// prunes loses a blob a snapshot references: backups run back to back
/// while prunes with a short grace period run beside them.
#[test]
fn backups_and_prunes_run_concurrently() {
    let env = Env::with_init(&["--pack-size", "1MiB"]);
    let src = env.path("src");
    fs::create_dir(&src).unwrap();
    for i in 0..6 {
        fs::write(src.join(format!("f{i}")), random_bytes(2 * MIB, 500 + i)).unwrap();
    }
    let s = src.to_str().unwrap().to_owned();
    let stop = Instant::now() + Duration::from_secs(25);
    std::thread::scope(|scope| {
        let env = &env;
        let src = &src;
        let s = &s;
        let backups = scope.spawn(move || {
            let mut round = 0u64;
            while Instant::now() < stop {
                // one file changes each round; the rest is reused from
                // packs that prunes may be marking meanwhile
                fs::write(
                    src.join(format!("f{}", round % 6)),
                    random_bytes(2 * MIB, 1000 + round),
                )
                .unwrap();
                let o = env.run(&["backup", "-q", s]);
                assert!(
                    o.status.success(),
                    "backup {round}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                round += 1;
            }
            round
        });
        let prunes = scope.spawn(move || {
            let mut n = 0;
            while Instant::now() < stop {
                let o = env.run(&[
                    "forget",
                    "-q",
                    "--keep-last",
                    "2",
                    "--prune",
                    "--grace",
                    "4s",
                    "--max-unused",
                    "0%",
                ]);
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    o.status.success() || err.contains("nothing to forget"),
                    "prune {n}: {err}"
                );
                n += 1;
                std::thread::sleep(Duration::from_millis(300));
            }
            n
        });
        let (b, p) = (backups.join().unwrap(), prunes.join().unwrap());
        assert!(b >= 5 && p >= 5, "{b} backups, {p} prunes");
    });
    let c = env.run(&["check", "--read-data"]);
    assert!(
        c.status.success(),
        "{}{}",
        String::from_utf8_lossy(&c.stdout),
        String::from_utf8_lossy(&c.stderr)
    );
    for snap in env.snapshots() {
        let id = snap["id"].as_str().unwrap();
        let target = env.path(&format!("out-{}", &id[..8]));
        let o = env.run(&[
            "restore",
            id,
            "--target",
            target.to_str().unwrap(),
            "--verify",
        ]);
        assert!(
            o.status.success(),
            "restore {id}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
